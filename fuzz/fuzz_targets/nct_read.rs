//! Any bytes as an NCT file: as they are, and spliced around the default codebook (8 KiB,
//! more than the fuzzer's inputs) with the header and directory checksums fixed, so mutations
//! reach every directory field. Parsing and decoding every tensor at every stage count never
//! panics or hangs, and holds at most `1 MiB + 16 N + 4 E (2 + S)` bytes of heap for a file of
//! `N` bytes, tensors of up to `E` elements (the limit set here) and `S` stages.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../src/counting.rs");
include!("common/nct.rs");

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn check(file: &[u8]) {
    let (stages, peak) = peak_during(|| exercise(file));
    let bound = (1 << 20) + 16 * file.len() as u64 + 4 * MAX_ELEMENTS * (2 + stages);
    assert!(peak as u64 <= bound, "{peak} bytes of heap for a file of {} bytes (bound {bound})", file.len());
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if let Some(s) = splice(data) {
        check(&s);
    }
});
