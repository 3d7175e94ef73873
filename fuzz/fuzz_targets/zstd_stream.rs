//! Streaming in pieces agrees with one-shot decoding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n % 16).min(rest.len());
    let (splits, frame) = rest.split_at(n);
    if let Err(e) = haagenti_fuzz::zstd_streaming_agrees(frame, splits, 8 << 20) {
        panic!("{e}");
    }
});
