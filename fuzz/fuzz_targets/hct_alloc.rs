//! Allocation bombs: any bytes as an HCT file (as they are, and with the preamble and index
//! checksums fixed), opened, every block, tensor and f32 view read and the file exported to
//! safetensors, never hold more heap than the bound in docs/hct.md ("Memory"): for a file of
//! `N` bytes, `1 MiB + 16 N + 24 P`, where `P` sums over the tensors what their stored bytes
//! can decode to, `min(raw_len, e × stored bytes)` with `e` 1 (store), 255 (lz4) or 2^19
//! (zstd). A counting global allocator measures the peak.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use haagenti_hct::{BlockCodec, HctReaderV2, Limits, TensorInfo, safetensors};
use libfuzzer_sys::fuzz_target;

/// Only the checksum fixing is used here.
#[allow(dead_code)]
mod common {
    include!("hct_common.rs");
}

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counters are plain atomics and never affect what is returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: forwarded as received; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc`/`realloc` above, which got it from `System`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Both blocks are live while the bytes move.
        grew(new_size);
        // SAFETY: as for `dealloc`; `new_size` is the caller's, passed on unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        LIVE.fetch_sub(if p.is_null() { new_size } else { layout.size() }, Ordering::Relaxed);
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What the stored blocks of `t` can decode to, from the expansion bounds of docs/hct.md.
fn decodable(t: &TensorInfo) -> u64 {
    let e = match t.codec {
        BlockCodec::Store => 1,
        BlockCodec::Lz4 => 255,
        _ => 1 << 19,
    };
    t.raw_len.min(t.blocks.iter().map(|b| b.stored_len.saturating_mul(e)).fold(0, u64::saturating_add))
}

/// Declared sizes may be far past what the stored bytes hold (a tensor of 16 MiB over a few
/// bytes); only real bytes may cost memory.
fn limits() -> Limits {
    Limits { max_tensor_bytes: 16 << 20, max_block_size: 4 << 20, ..Limits::default() }
}

fn read_all(file: &[u8]) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let Ok(r) = HctReaderV2::open_with_limits(file, limits()) else { return };
    for t in r.tensors() {
        for i in 0..t.blocks.len() as u64 {
            let _ = r.read_block(&t.name, i);
        }
        let _ = r.read_tensor(&t.name);
        let _ = r.read_f32(&t.name);
    }
    let _ = safetensors::unpack(&r);
    let p = r.tensors().iter().map(decodable).fold(0, u64::saturating_add);
    let bound = (1u64 << 20).saturating_add(16 * file.len() as u64).saturating_add(p.saturating_mul(24));
    let peak = (PEAK.load(Ordering::Relaxed) - base) as u64;
    assert!(peak <= bound, "{} bytes held {peak} bytes, over the bound of {bound} (P = {p})", file.len());
}

fuzz_target!(|data: &[u8]| {
    read_all(data);
    if let Some(fixed) = common::hct_with_checksums_fixed(data) {
        read_all(&fixed);
    }
});
