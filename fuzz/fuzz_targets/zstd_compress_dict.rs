//! Any input at any level with a dictionary (raw content cut from the input, or the golden
//! formatted dictionary with missing symbols): libzstd and our decoder read the frame back.
#![no_main]

use libfuzzer_sys::fuzz_target;

static GOLDEN: &[u8] = include_bytes!("../../tests/data/zstd/golden-dictionaries/http-dict-missing-symbols");

fuzz_target!(|data: &[u8]| {
    let [level, split, rest @ ..] = data else { return };
    let level = i32::from(level % 30) - 7;
    let (dict_bytes, input) = if split & 1 == 0 {
        rest.split_at((usize::from(*split) * 8).min(rest.len()))
    } else {
        (GOLDEN, rest)
    };
    // Raw content that happens to start like a formatted dictionary is not this test's case.
    let Ok(dict) = haagenti_zstd::ZstdDict::from_bytes(dict_bytes) else { return };
    if dict_bytes.starts_with(&0xEC30_A437u32.to_le_bytes()) && split & 1 == 0 {
        return;
    }
    let frame = haagenti_zstd::ZstdDictCompressor::new(&dict).with_level(level).compress(input);
    let mut theirs = zstd::bulk::Decompressor::with_dictionary(dict_bytes).expect("libzstd loads the dictionary");
    let back = theirs.decompress(&frame, input.len()).expect("libzstd reads our frame");
    assert!(back == input, "libzstd decodes different bytes");
    let ours = haagenti_zstd::ZstdDictDecompressor::new(&dict).decompress(&frame).expect("we read our frame");
    assert!(ours == input, "our decoder disagrees");
});
