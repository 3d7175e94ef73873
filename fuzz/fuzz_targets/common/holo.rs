// The holo_fragments target's checks, shared with the replay of its findings
// (tests/tests/fuzz_regressions.rs includes this file).

/// Any bytes as HoloTensor fragments (the input cut at 0xFF), pushed into one decoder and into
/// a streaming decoder: verification never panics, and reconstruction from whatever was
/// accepted never panics either. Each part is also pushed with a valid checksum appended, so
/// mutations reach the header and payload checks behind it. The manifest reader gets the
/// bytes as JSON too.
pub(crate) fn holo_fragments(data: &[u8]) {
    use haagenti_holo::{HoloDecoder, Manifest, PreviewConfig, StreamingDecoder};
    // Assets of up to 2^24 samples (the browser's default): past that a decoder only allocates
    // more, and a fuzzer's memory limit would stop it.
    let mut d = HoloDecoder::new().with_max_samples(1 << 24);
    let mut s = StreamingDecoder::with_preview(PreviewConfig { max_preview_resolution: 64, ..Default::default() })
        .with_max_samples(1 << 24);
    for (i, part) in data.split(|&b| b == 0xFF).enumerate() {
        let _ = d.push(part);
        let _ = s.push(part, i as u64);
        // The same bytes with their checksum made valid (the last 32 bytes replaced).
        if part.len() > 32 {
            let mut f = part[..part.len() - 32].to_vec();
            let sum = blake3::hash(&f);
            f.extend_from_slice(sum.as_bytes());
            let _ = d.push(&f);
            let _ = s.push(&f, i as u64);
        }
    }
    let _ = d.reconstruct();
    if let Ok(text) = core::str::from_utf8(data) {
        let _ = Manifest::from_json(text);
    }
}
