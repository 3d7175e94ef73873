//! Any input at any level: our frame decodes back exactly with libzstd and with our decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&level, input)) = data.split_first() else { return };
    let level = i32::from(level % 30) - 7;
    let frame = haagenti_zstd::compress(input, level);
    let theirs = zstd::stream::decode_all(&frame[..]).expect("libzstd reads our frame");
    assert!(theirs == input, "libzstd decodes different bytes");
    let ours = haagenti_zstd::decompress(&frame).expect("we read our frame");
    assert!(ours == input, "our decoder disagrees");
});
