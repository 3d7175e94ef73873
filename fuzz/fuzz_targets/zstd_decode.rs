//! Any bytes: the decoder returns, without panicking, within its limits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let config = haagenti_zstd::DecoderConfig { max_output_size: 8 << 20, max_window_size: 8 << 20 };
    let _ = haagenti_zstd::decompress_with(data, &config);
});
