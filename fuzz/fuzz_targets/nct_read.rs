//! Any bytes as an NCT file: as they are, and spliced around the default codebook (8 KiB,
//! more than the fuzzer's inputs) with the header and directory checksums fixed, so mutations
//! reach every directory field. Parsing and decoding every tensor at every stage count never
//! panics or hangs, and holds at most `1 MiB + 16 N + 4 E (2 + S)` bytes of heap for a file of
//! `N` bytes, tensors of up to `E` elements (the limit set here) and `S` stages.
#![no_main]

use haagenti_nct::{Codebook, EncodeOptions, Limits, NctFile};
use libfuzzer_sys::fuzz_target;
use xxhash_rust::xxh3::xxh3_64;

include!("../src/counting.rs");

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MAX_ELEMENTS: u64 = 1 << 18;

fn splice(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 64 {
        return None;
    }
    let field = u64::from_le_bytes(data[16..24].try_into().ok()?);
    let dir = (field.min((data.len() - 64) as u64)) as usize;
    let cb_at = (64 + dir).div_ceil(8) * 8;
    let mut out = data[..64 + dir].to_vec();
    out[16..24].copy_from_slice(&(dir as u64).to_le_bytes());
    out.resize(cb_at, 0);
    for e in Codebook::gaussian(EncodeOptions::default().seed).entries() {
        out.extend_from_slice(&e.to_le_bytes());
    }
    let table = xxh3_64(&out[64..]);
    out.extend_from_slice(&data[64 + dir..]);
    out[40..48].copy_from_slice(&table.to_le_bytes());
    let h = xxh3_64(&out[..56]);
    out[56..64].copy_from_slice(&h.to_le_bytes());
    Some(out)
}

fn check(file: &[u8]) {
    let limits = Limits { max_tensor_elements: MAX_ELEMENTS, ..Limits::default() };
    let (stages, peak) = peak_during(|| {
        let Ok(f) = NctFile::parse_with_limits(file, limits) else { return 0 };
        for t in f.tensors() {
            for k in 0..=f.stages() {
                let _ = f.decode_tensor(t.name(), k);
                let mut row = vec![0f32; t.cols() as usize];
                if t.rows() > 0 {
                    let _ = f.decode_rows(t.name(), k, t.rows() - 1..t.rows(), &mut row);
                }
            }
            let _ = f.exact_bytes(t.name());
        }
        f.stage_count() as u64
    });
    let bound = (1 << 20) + 16 * file.len() as u64 + 4 * MAX_ELEMENTS * (2 + stages);
    assert!(peak as u64 <= bound, "{peak} bytes of heap for a file of {} bytes (bound {bound})", file.len());
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(s) = splice(data) {
        check(&s);
    }
});
