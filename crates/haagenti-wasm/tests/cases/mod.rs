// Test cases shared by the Node and browser suites; included by node.rs and browser.rs.



use haagenti_wasm::{compress, decode_health_response, decompress, decompress_format, detect_format};
use wasm_bindgen_test::*;

/// The embedded sample: a real text from the Canterbury corpus.
const SAMPLE: &[u8] = include_bytes!("../../../../../shared/testdata/corpus/alice29.txt");
/// Reference zstd output with an RLE first block (from the reference test vectors).
const RLE_FRAME: &[u8] = include_bytes!("../../../../../shared/testdata/zstd/golden-decompression/rle-first-block.zst");

#[wasm_bindgen_test]
fn sample_round_trips_through_every_writable_format() {
    for format in ["zstd", "lz4", "lz4-block", "gzip", "zlib", "deflate", "brotli"] {
        let packed = compress(format, SAMPLE, None).unwrap_or_else(|_| panic!("{format} compress"));
        assert!(packed.len() < SAMPLE.len() * 3 / 4, "{format} did not compress");
        let unpacked = decompress_format(format, &packed, None).unwrap_or_else(|_| panic!("{format} decompress"));
        assert!(unpacked == SAMPLE, "{format} round trip differs");
    }
}

#[wasm_bindgen_test]
fn detection_and_auto_decompression() {
    let gz = compress("gzip", SAMPLE, Some(9)).ok().unwrap();
    assert_eq!(detect_format(&gz).as_deref(), Some("gzip"));
    assert!(decompress(&gz, None).ok().unwrap() == SAMPLE);
    assert_eq!(detect_format(b"not compressed"), None);
}

#[wasm_bindgen_test]
fn reference_zstd_frame_decodes() {
    assert_eq!(detect_format(RLE_FRAME).as_deref(), Some("zstd"));
    let out = decompress(RLE_FRAME, None).ok().unwrap();
    assert_eq!(out.len(), 1 << 20);
    assert!(out.iter().all(|&b| b == 0));
}

#[wasm_bindgen_test]
fn limits_and_bad_input_throw() {
    let gz = compress("gzip", SAMPLE, None).ok().unwrap();
    assert!(decompress(&gz, Some(100.0)).is_err());
    assert!(decompress(&gz[..gz.len() / 2], None).is_err());
    assert!(decompress_format("nope", &gz, None).is_err());
    assert!(compress("gzip", SAMPLE, Some(99)).is_err());
    assert!(decode_health_response(&[0, 0, 0, 0, 9]).is_err());
}

mod vectors {
    include!(concat!(env!("OUT_DIR"), "/vectors.rs"));
}

#[wasm_bindgen_test]
fn reference_zstd_vectors_decode_exactly() {
    assert_eq!(vectors::VECTORS.len(), 154, "expected 150 decodecorpus and 4 golden vectors");
    for (name, frame, original) in vectors::VECTORS {
        let out = decompress_format("zstd", frame, None).unwrap_or_else(|_| panic!("{name}: rejected"));
        assert!(out == *original, "{name}: wrong output");
    }
}
