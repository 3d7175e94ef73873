//! Streaming compression: any input, any level, a small window and input pushed in pieces cut
//! where the fuzzer says; libzstd and our decoder (held to the window) read the frame back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = haagenti_fuzz::zstd_stream_compression_round_trips(data) {
        panic!("{e}");
    }
});
