// The holo_alloc target's allocator and check, shared with the replay of its findings
// (crates/haagenti-holo/tests/alloc.rs includes this file; each includer makes `Counting` its
// global allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use haagenti_holo::{Fragment, HoloDecoder, PreviewConfig, StreamingDecoder};

/// The system allocator, counting the bytes live and their peak.
pub(crate) struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every call forwards to `System` with the caller's arguments, so `System`'s
// guarantees are the caller's; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (so from `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, with the caller's new size.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            grew(new_size);
        }
        p
    }
}

/// The decoder's limit, as the browser's default.
const MAX_SAMPLES: u64 = 1 << 24;

/// Peak bytes allocated while `f` runs, above what was live before (with [`Counting`] as the
/// global allocator; one measurement at a time).
pub(crate) fn peak_of(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    f();
    PEAK.load(Relaxed).saturating_sub(base)
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

