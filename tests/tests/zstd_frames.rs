//! Frame-level interoperability with the reference zstd: raw and RLE blocks, checksums,
//! skippable and concatenated frames, and malformed input.

use haagenti_tests::{incompressible, libzstd_compress, read};
use haagenti_zstd::{DecoderConfig, Error, FrameError, decompress, decompress_into, decompress_with};

#[test]
fn libzstd_raw_blocks_at_several_levels() {
    for (len, seed) in [(1, 1), (1000, 2), (131_072, 3), (400_000, 4)] {
        let data = incompressible(len, seed);
        for level in [-5, 1, 3, 19] {
            for checksum in [false, true] {
                let frame = libzstd_compress(&data, level, checksum);
                let ours = decompress(&frame).unwrap_or_else(|e| panic!("len {len} level {level}: {e}"));
                assert!(ours == data, "len {len} level {level} checksum {checksum}");
            }
        }
    }
}

#[test]
fn golden_rle_frame() {
    let out = decompress(&read("zstd/golden-decompression/rle-first-block.zst")).unwrap();
    assert_eq!(out, read("zstd/golden-decompression/rle-first-block"));
}

#[test]
fn skippable_and_concatenated_frames() {
    let a = incompressible(5000, 7);
    let b = incompressible(7000, 8);
    let mut stream = libzstd_compress(&a, 3, true);
    stream.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4]);
    stream.extend_from_slice(&libzstd_compress(&b, 3, false));
    let out = decompress(&stream).unwrap();
    assert_eq!(out.len(), a.len() + b.len());
    assert!(out[..a.len()] == a && out[a.len()..] == b);
    // libzstd agrees on the same stream.
    assert_eq!(zstd::stream::decode_all(&stream[..]).unwrap(), out);
}

#[test]
fn checksum_mismatch_is_detected() {
    let data = incompressible(3000, 9);
    let mut frame = libzstd_compress(&data, 3, true);
    let n = frame.len();
    frame[n - 10] ^= 0x40; // inside the raw block's content
    assert!(matches!(decompress(&frame), Err(Error::Frame(FrameError::ChecksumMismatch { .. }))));
    assert!(zstd::stream::decode_all(&frame[..]).is_err(), "libzstd should reject it too");
}

#[test]
fn every_truncation_is_an_error() {
    let data = incompressible(2000, 10);
    let frame = libzstd_compress(&data, 1, true);
    for cut in 0..frame.len() {
        if cut == 0 {
            assert_eq!(decompress(&frame[..0]).unwrap(), Vec::<u8>::new());
            continue;
        }
        assert!(decompress(&frame[..cut]).is_err(), "prefix of {cut} bytes accepted");
    }
}

#[test]
fn limits_are_enforced() {
    let frame = read("zstd/golden-decompression/rle-first-block.zst");
    let small = DecoderConfig { max_output_size: 4096, ..Default::default() };
    assert_eq!(decompress_with(&frame, &small), Err(Error::OutputLimit { limit: 4096 }));
    let tiny_window = DecoderConfig { max_window_size: 1024, ..Default::default() };
    assert!(matches!(decompress_with(&frame, &tiny_window), Err(Error::Frame(FrameError::WindowTooLarge { .. }))));
    let mut buf = vec![0u8; 100];
    assert!(matches!(decompress_into(&frame, &mut buf), Err(Error::OutputTooSmall { .. })));
    let mut big = vec![0u8; 1 << 20];
    assert_eq!(decompress_into(&frame, &mut big).unwrap(), 1 << 20);
}
