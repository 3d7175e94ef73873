//! A dictionary and a frame from the same input: reading and using the dictionary never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else { return };
    let cut = (usize::from(cut) * 8).min(rest.len());
    let (dict, frame) = rest.split_at(cut);
    let config = haagenti_zstd::DecoderConfig { max_output_size: 8 << 20, max_window_size: 8 << 20 };
    if let Ok(dict) = haagenti_zstd::Dictionary::from_bytes(dict) {
        let _ = haagenti_zstd::Decompressor::with_dictionary(config, dict).decompress(frame);
    }
});
