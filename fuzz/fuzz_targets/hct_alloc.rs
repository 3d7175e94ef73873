//! Allocation bombs: any bytes as an HCT file (as they are, and with the preamble and index
//! checksums fixed), opened, every block, tensor and f32 view read and the file exported to
//! safetensors, never hold more heap than the bound in docs/hct.md ("Memory"): for a file of
//! `N` bytes, `1 MiB + 16 N + 24 P`, where `P` sums over the tensors what their stored bytes
//! can decode to, `min(raw_len, e × stored bytes)` with `e` 1 (store), 255 (lz4) or 2^19
//! (zstd). A counting global allocator measures the peak.
#![no_main]

use haagenti_hct::{BlockCodec, HctReaderV2, Limits, TensorInfo, safetensors};
use libfuzzer_sys::fuzz_target;

/// Only the checksum fixing is used here.
#[allow(dead_code)]
mod common {
    include!("hct_common.rs");
}

include!("../src/counting.rs");

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
    let (p, peak) = peak_during(|| {
        let Ok(r) = HctReaderV2::open_with_limits(file, limits()) else { return 0 };
        for t in r.tensors() {
            for i in 0..t.blocks.len() as u64 {
                let _ = r.read_block(&t.name, i);
            }
            let _ = r.read_tensor(&t.name);
            let _ = r.read_f32(&t.name);
        }
        let _ = safetensors::unpack(&r);
        r.tensors().iter().map(decodable).fold(0, u64::saturating_add)
    });
    let bound = (1u64 << 20).saturating_add(16 * file.len() as u64).saturating_add(p.saturating_mul(24));
    let peak = peak as u64;
    assert!(peak <= bound, "{} bytes held {peak} bytes, over the bound of {bound} (P = {p})", file.len());
}

fuzz_target!(|data: &[u8]| {
    read_all(data);
    if let Some(fixed) = common::hct_with_checksums_fixed(data) {
        read_all(&fixed);
    }
});
