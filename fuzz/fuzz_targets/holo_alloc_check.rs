// The holo_alloc target's allocator and check, shared with the replay of its findings
// (crates/haagenti-holo/tests/alloc.rs includes this file; each includer makes `Counting` its
// global allocator).

include!("../src/counting.rs");

use haagenti_holo::{Fragment, HoloDecoder, PreviewConfig, StreamingDecoder};

/// The decoder's limit, as the browser's default.
const MAX_SAMPLES: u64 = 1 << 24;

/// Peak bytes allocated while `f` runs, above what was live before (with [`Counting`] as the
/// global allocator).
pub(crate) fn peak_of(f: impl FnOnce()) -> usize {
    peak_during(f).1
}

/// The check: any bytes as fragments, pushed and reconstructed within the bound.
pub(crate) fn holo_alloc(data: &[u8]) {
    // Every fragment built before counting starts: the caller's bytes are not the decoder's.
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for part in data.split(|&b| b == 0xFF) {
        parts.push(part.to_vec());
        if part.len() > 32 {
            let mut f = part[..part.len() - 32].to_vec();
            let sum = blake3::hash(&f);
            f.extend_from_slice(sum.as_bytes());
            parts.push(f);
        }
    }
    let samples = parts
        .iter()
        .filter_map(|p| Fragment::parse(p).ok())
        .map(|f| f.header.kind.samples())
        .filter(|&s| s <= MAX_SAMPLES)
        .max()
        .unwrap_or(0);
    let longest = parts.iter().map(Vec::len).max().unwrap_or(0) as u64;
    let bound = HoloDecoder::memory_bound(samples, longest);

    let peak = peak_of(|| {
        let mut s = StreamingDecoder::with_preview(PreviewConfig { max_preview_resolution: 64, ..Default::default() })
            .with_max_samples(MAX_SAMPLES);
        for (i, p) in parts.iter().enumerate() {
            let _ = s.push(p, i as u64);
        }
        let _ = s.decoder().reconstruct();
    }) as u64;
    assert!(peak <= bound, "peak heap {peak} bytes passes the bound {bound} ({samples} samples, {longest}-byte parts)");
}
