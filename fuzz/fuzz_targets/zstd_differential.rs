//! Ours and libzstd agree on every input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = haagenti_fuzz::zstd_agrees_with_libzstd(data, 8 << 20) {
        panic!("{e}");
    }
});
