// Test cases shared by the Node and browser suites; included by node.rs and browser.rs.



use haagenti_wasm::{compress, decode_health_response, decompress, decompress_format, detect_format};
use wasm_bindgen_test::*;

/// The embedded sample: a real text from the Canterbury corpus.
const SAMPLE: &[u8] = include_bytes!("../../../../tests/data/corpus/alice29.txt");
/// Reference zstd output with an RLE first block (from the reference test vectors).
const RLE_FRAME: &[u8] = include_bytes!("../../../../tests/data/zstd/golden-decompression/rle-first-block.zst");

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

fn get(o: &wasm_bindgen::JsValue, key: &str) -> wasm_bindgen::JsValue {
    js_sys::Reflect::get(o, &key.into()).expect("a property")
}

#[wasm_bindgen_test]
fn hct_file_reads_tensors_blocks_and_refuses_corruption() {
    use haagenti_hct::{DType, HctWriterV2, WriterOptions};
    use haagenti_wasm::HctFile;
    // The sample text as bytes and as f32 values, in 4 KiB blocks.
    let values: Vec<f32> = SAMPLE.iter().map(|&b| f32::from(b) / 7.0).collect();
    let f32_bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut w = HctWriterV2::new(WriterOptions { block_size: 4096, ..WriterOptions::default() });
    w.add_tensor("text", DType::U8, &[SAMPLE.len() as u64], SAMPLE).unwrap();
    w.add_tensor("values", DType::F32, &[values.len() as u64], &f32_bytes).unwrap();
    let file = w.finish();
    let h = HctFile::new(&file).ok().unwrap();
    let list = h.tensors();
    assert_eq!(list.length(), 2);
    let first = list.get(0);
    assert_eq!(get(&first, "name").as_string().unwrap(), "text");
    assert_eq!(get(&first, "dtype").as_string().unwrap(), "U8");
    assert_eq!(get(&first, "rawLength").as_f64().unwrap(), SAMPLE.len() as f64);
    assert!(get(&first, "storedLength").as_f64().unwrap() < SAMPLE.len() as f64);
    assert!(h.read_tensor("text").ok().unwrap() == SAMPLE);
    assert!(h.read_f32("values").ok().unwrap() == values);
    assert!(h.read_block("text", 1.0).ok().unwrap() == SAMPLE[4096..8192]);
    assert!(h.read_tensor("missing").is_err());
    // Indices that are no block throw; 2^32 + 1 is not block 1 on wasm32.
    for index in [4294967297.0, 2f64.powi(53), 1.5, -1.0, f64::NAN, f64::INFINITY, 38.0] {
        assert!(h.read_block("text", index).is_err(), "block {index}");
    }
    assert!(h.read_block("text", 37.0).ok().unwrap() == SAMPLE[37 * 4096..]);
    // A flipped byte in the first block's data is caught by its checksum when read.
    let mut bad = file.clone();
    bad[100] ^= 1;
    let opened = HctFile::new(&bad);
    assert!(opened.is_err() || opened.ok().unwrap().read_tensor("text").is_err());
    assert!(HctFile::new(&file[..file.len() - 1]).is_err());
}

#[wasm_bindgen_test]
fn holo_stream_previews_every_fragment_and_reconstructs() {
    use haagenti_wasm::{HoloStream, fragment_id, holo_encode_image};
    // The sample's bytes as a 128-pixel-wide gray picture.
    let (w, h) = (128u32, (SAMPLE.len() / 128).min(256) as u32);
    let pixels = &SAMPLE[..(w * h) as usize];
    let opts = js_sys::Object::new();
    js_sys::Reflect::set(&opts, &"fragments".into(), &4.into()).unwrap();
    js_sys::Reflect::set(&opts, &"encoding".into(), &"residual".into()).unwrap();
    let fragments = holo_encode_image(pixels, w, h, 1, opts.into()).ok().unwrap();
    assert_eq!(fragments.length(), 4);
    let mut s = HoloStream::new(None, None, Some(64), None);
    for i in 0..4 {
        let f = js_sys::Uint8Array::from(fragments.get(i)).to_vec();
        assert_eq!(fragment_id(&f).len(), 64);
        let frame = s.push(&f, f64::from(i)).ok().unwrap();
        assert!(!frame.is_undefined(), "a preview for fragment {i}");
        assert!(get(&frame, "width").as_f64().unwrap() <= 64.0);
        assert_eq!(get(&frame, "fragments").as_f64().unwrap(), f64::from(i + 1));
    }
    assert!(s.complete());
    assert_eq!(s.fragment_count(), Some(4));
    // The residual encoding is exact with every fragment.
    let rec = s.reconstruct().ok().unwrap();
    assert_eq!(get(&rec, "kind").as_string().unwrap(), "image");
    assert!(js_sys::Uint8Array::from(get(&rec, "pixels")).to_vec() == pixels);
    let mut bad = js_sys::Uint8Array::from(fragments.get(0)).to_vec();
    bad[40] ^= 0x10;
    assert!(HoloStream::new(None, None, None, None).push(&bad, 0.0).is_err());
    let first = js_sys::Uint8Array::from(fragments.get(0)).to_vec();
    assert!(HoloStream::new(None, None, None, Some(100.0)).push(&first, 0.0).is_err());
}

mod client {
    include!("client.rs");
}
