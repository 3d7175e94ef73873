//! Any bytes as an HCT file, and as a safetensors file: opening and reading every tensor
//! never panics, hangs or allocates past the limits, and whatever reads back passes its
//! checksums (so it is what was written).
#![no_main]

use haagenti_hct::{HctReaderV2, Limits, WriterOptions, safetensors};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Tight limits keep each run small; the checks are the same at any size.
    let limits = Limits { max_tensor_bytes: 16 << 20, max_block_size: 1 << 20, ..Limits::default() };
    if let Ok(r) = HctReaderV2::open_with_limits(data, limits) {
        for t in r.tensors() {
            for i in 0..t.blocks.len() as u64 {
                let _ = r.read_block(&t.name, i);
            }
            let _ = r.read_f32(&t.name);
        }
        let _ = safetensors::unpack(&r);
    }
    if data.len() < 1 << 16 {
        let _ = safetensors::pack(data, WriterOptions { block_size: 4096, ..WriterOptions::default() });
    }
});
