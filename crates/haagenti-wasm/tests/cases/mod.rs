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

/// A small deterministic PRNG (xorshift32), so a failing piece size reproduces.
struct Rng(u32);

impl Rng {
    fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0 % n
    }
}

/// Decodes `data` through a `StreamDecoder`, written in pieces of 1 to `max_piece` bytes and
/// read in pieces of random size; `Err` with the number of output bytes before the error.
fn stream_decode(format: &str, data: &[u8], seed: u32, max_piece: u32) -> Result<Vec<u8>, usize> {
    use haagenti_wasm::StreamDecoder;
    let mut d = StreamDecoder::new(format, None, None).map_err(|_| 0usize)?;
    let mut rng = Rng(seed.max(1));
    let mut out = Vec::new();
    let mut drain = |d: &mut StreamDecoder, out: &mut Vec<u8>| -> Result<(), usize> {
        loop {
            let piece = d.read(1 + rng.below(70_000) as usize).map_err(|_| out.len())?;
            if piece.is_empty() {
                return Ok(());
            }
            out.extend_from_slice(&piece);
        }
    };
    let mut pieces = Rng(seed.wrapping_mul(7919).max(1));
    let mut pos = 0;
    while pos < data.len() {
        let end = (pos + 1 + pieces.below(max_piece) as usize).min(data.len());
        d.write(&data[pos..end]).map_err(|_| out.len())?;
        pos = end;
        drain(&mut d, &mut out)?;
    }
    d.end();
    drain(&mut d, &mut out)?;
    Ok(out)
}

const STREAM_FORMATS: [&str; 6] = ["zstd", "lz4", "gzip", "zlib", "deflate", "brotli"];

#[wasm_bindgen_test]
fn stream_decoders_take_random_pieces() {
    for format in STREAM_FORMATS {
        let packed = compress(format, SAMPLE, None).ok().unwrap();
        for (seed, max) in [(2, 9), (3, 700), (4, 100_000)] {
            let out = stream_decode(format, &packed, seed, max);
            assert!(out.as_deref() == Ok(SAMPLE), "{format}, seed {seed}: wrong output or rejected");
        }
        let part = &SAMPLE[..20_000];
        let one_by_one = stream_decode(format, &compress(format, part, None).ok().unwrap(), 5, 1);
        assert!(one_by_one.as_deref() == Ok(part), "{format} byte by byte");
    }
}

#[wasm_bindgen_test]
fn reference_zstd_vectors_stream_exactly() {
    for (i, (name, frame, original)) in vectors::VECTORS.iter().enumerate() {
        let out = stream_decode("zstd", frame, i as u32 + 1, 1 + (i as u32 * 37) % 5000);
        assert!(out.as_deref() == Ok(*original), "{name}: wrong output or rejected");
    }
}

#[wasm_bindgen_test]
fn stream_decoders_reject_corrupt_and_truncated_input() {
    for format in STREAM_FORMATS {
        let packed = compress(format, SAMPLE, None).ok().unwrap();
        // A flipped byte in the middle; the formats without a checksum over the data get a
        // corruption they detect: LZ4 (frames of `compress` carry no checksums) in the frame
        // descriptor's checksum byte, brotli in its header, raw deflate a reserved block type.
        let mut bad = packed.clone();
        match format {
            "lz4" => bad[6] ^= 0x5a,
            "brotli" => bad[10] ^= 0x5a,
            "deflate" => bad[0] |= 0b110,
            _ => bad[packed.len() / 2] ^= 0x5a,
        }
        assert!(stream_decode(format, &bad, 7, 300).is_err(), "{format}: corrupt input accepted");
        for cut in [1, 5, packed.len() / 3, packed.len() - 1] {
            assert!(stream_decode(format, &packed[..cut], 8, 300).is_err(), "{format}: cut at {cut} accepted");
        }
        assert!(stream_decode(format, &[0x42; 100], 9, 10).is_err(), "{format}: garbage accepted");
    }
    // Once failed, a decoder keeps failing.
    let mut d = haagenti_wasm::StreamDecoder::new("zstd", None, None).ok().unwrap();
    d.write(&[1, 2, 3, 4, 5, 6, 7, 8]).ok().unwrap();
    assert!(d.read(100).is_err());
    assert!(d.read(100).is_err());
    assert!(d.write(RLE_FRAME).is_err());
    assert!(haagenti_wasm::StreamDecoder::new("zip", None, None).is_err());
}

#[wasm_bindgen_test]
fn stream_decoder_limits() {
    use haagenti_wasm::StreamDecoder;
    let mut d = StreamDecoder::new("zstd", Some(1000.0), None).ok().unwrap();
    d.write(RLE_FRAME).ok().unwrap();
    d.end();
    let mut total = 0;
    let failed = loop {
        match d.read(300) {
            Ok(piece) if piece.is_empty() => break false,
            Ok(piece) => total += piece.len(),
            Err(_) => break true,
        }
    };
    assert!(failed && total <= 1000, "the limit let {total} bytes through");
    // A frame whose window is larger than allowed is refused.
    let packed = compress("zstd", SAMPLE, None).ok().unwrap();
    let mut d = StreamDecoder::new("zstd", None, Some(1024.0)).ok().unwrap();
    d.write(&packed).ok().unwrap();
    assert!(d.read(100).is_err());
    // Reads never return more than asked.
    let mut d = StreamDecoder::new("zstd", None, None).ok().unwrap();
    d.write(RLE_FRAME).ok().unwrap();
    let piece = d.read(4096).ok().unwrap();
    assert_eq!(piece.len(), 4096);
}

mod client {
    include!("client.rs");
}
