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

/// libzstd's frame of `data` at `level` with a window of 2^`window_log` bytes, with or without
/// the content size in the header.
fn libzstd_windowed(data: &[u8], level: i32, window_log: u32, content_size: bool) -> Vec<u8> {
    use zstd::zstd_safe::CParameter;
    let mut c = zstd::bulk::Compressor::new(level).unwrap();
    c.set_parameter(CParameter::WindowLog(window_log)).unwrap();
    c.set_parameter(CParameter::ChecksumFlag(true)).unwrap();
    c.set_parameter(CParameter::ContentSizeFlag(content_size)).unwrap();
    c.compress(data).unwrap()
}

#[test]
fn decompress_into_writes_in_place_up_to_the_last_byte() {
    let corpus = haagenti_tests::corpus();
    let text = &corpus[..300_000];
    let mut frames = libzstd_compress(text, 19, true);
    frames.extend_from_slice(&libzstd_windowed(text, 3, 10, false));
    let both = [text, text].concat();
    // Exactly the size: the last sequences are copied exactly, not in wild chunks.
    let mut exact = vec![0u8; both.len()];
    assert_eq!(decompress_into(&frames, &mut exact).unwrap(), both.len());
    assert!(exact == both);
    // Larger, with garbage after: only the output is written.
    let mut larger = vec![0xAAu8; both.len() + 100];
    assert_eq!(decompress_into(&frames, &mut larger).unwrap(), both.len());
    assert!(larger[..both.len()] == both[..]);
    // One byte short, with and without a content size in the header: an error, not a panic.
    let mut short = vec![0u8; both.len() - 1];
    assert!(matches!(decompress_into(&frames, &mut short), Err(Error::OutputTooSmall { .. })));
    let unsized_frame = libzstd_windowed(text, 3, 10, false);
    let mut short = vec![0u8; text.len() - 1];
    assert!(matches!(decompress_into(&unsized_frame, &mut short), Err(Error::OutputTooSmall { .. })));
    // Every output size near a short sequence's end.
    let small = &text[..5000];
    let frame = libzstd_compress(small, 3, false);
    for len in small.len() - 40..=small.len() {
        let mut buf = vec![0u8; len];
        match decompress_into(&frame, &mut buf) {
            Ok(n) => assert!(n == small.len() && buf == small),
            Err(e) => assert!(len < small.len() && matches!(e, Error::OutputTooSmall { .. }), "{len}: {e}"),
        }
    }
}

/// The allocating call asks for exactly the declared content size (as libzstd's own does): no
/// block of slack for wild copies, which made the buffer larger than any freed one of the
/// content's size and cost fresh pages every call. Frames without a size, several frames, and
/// every length near the end of a short one still decode.
#[test]
fn allocating_decode_reserves_exactly_the_declared_size() {
    let corpus = haagenti_tests::corpus();
    let text = &corpus[..300_000];
    for level in [1, 3, 19] {
        let out = decompress(&libzstd_compress(text, level, true)).unwrap();
        assert!(out == text, "level {level}");
        assert_eq!(out.capacity(), text.len(), "level {level}");
    }
    for len in 4960..=5000 {
        let out = decompress(&libzstd_compress(&text[..len], 19, false)).unwrap();
        assert!(out == text[..len] && out.capacity() == len, "{len}");
    }
    let mut frames = libzstd_windowed(text, 3, 10, false);
    frames.extend_from_slice(&libzstd_compress(text, 19, true));
    frames.extend_from_slice(&libzstd_windowed(text, 19, 17, false));
    assert!(decompress(&frames).unwrap() == [text, text, text].concat());
}

/// An output limit below the size of the caller's buffer holds for sequences far from the
/// buffer's end too (those are copied in wild chunks; the limit is part of that check).
#[test]
fn decompress_into_keeps_the_output_limit_below_the_buffer_size() {
    let corpus = haagenti_tests::corpus();
    let text = &corpus[..200_000];
    for content_size in [false, true] {
        let frame = libzstd_windowed(text, 3, 20, content_size);
        for limit in [1000, 100_000, text.len() - 1] {
            let config = DecoderConfig { max_output_size: limit, ..Default::default() };
            let mut buf = vec![0u8; text.len() + 1000];
            let mut d = haagenti_zstd::Decompressor::new(config);
            assert_eq!(d.decompress_into(&frame, &mut buf), Err(Error::OutputLimit { limit }), "{limit}");
            assert_eq!(decompress_with(&frame, &config), Err(Error::OutputLimit { limit }), "{limit}");
        }
    }
}

#[test]
fn streaming_through_a_small_window_ring() {
    use std::io::Read;
    let corpus = haagenti_tests::corpus();
    for (level, window_log) in [(3, 10), (19, 17), (1, 20)] {
        for content_size in [false, true] {
            let frame = libzstd_windowed(&corpus, level, window_log, content_size);
            let what = format!("level {level}, window 2^{window_log}, content size {content_size}");
            // io::Read in odd pieces.
            let mut d = haagenti_zstd::io::Decoder::new(&frame[..]);
            let mut out = Vec::new();
            let mut piece = vec![0u8; 7777];
            loop {
                let n = d.read(&mut piece).unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&piece[..n]);
            }
            assert!(out == corpus, "io::Decoder, {what}");
            // Fed in uneven pieces.
            let mut s = haagenti_zstd::StreamDecoder::new(DecoderConfig::default());
            let mut fed = Vec::new();
            let (mut pos, mut step) = (0, 1);
            while pos < frame.len() {
                let end = (pos + step).min(frame.len());
                s.feed(&frame[pos..end], &mut fed).unwrap();
                (pos, step) = (end, step * 31 % 200_003 + 1);
            }
            s.finish().unwrap();
            assert!(fed == corpus, "StreamDecoder, {what}");
        }
    }
}

#[test]
fn streaming_an_rle_block_larger_than_the_window() {
    use std::io::Read;
    // Window descriptor 0 (1 KiB), then one last RLE block of 5000 bytes: larger than the block
    // maximum, which libzstd's one-shot decoder decodes anyway (its streaming decoder does not).
    // Our streaming decoder agrees with our one-shot one, making it in pieces of a block.
    let size: u32 = 5000;
    let header = (size << 3) | (1 << 1) | 1;
    let frame = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, header as u8, (header >> 8) as u8, (header >> 16) as u8, b'z'];
    let expected = vec![b'z'; size as usize];
    assert_eq!(zstd::bulk::decompress(&frame, 10_000).unwrap(), expected);
    assert_eq!(decompress(&frame).unwrap(), expected);
    let mut d = haagenti_zstd::io::Decoder::new(&frame[..]);
    let mut out = Vec::new();
    d.read_to_end(&mut out).unwrap();
    assert!(out == expected);
    let mut s = haagenti_zstd::StreamDecoder::new(DecoderConfig::default());
    let mut fed = Vec::new();
    for b in frame.chunks(3) {
        s.feed(b, &mut fed).unwrap();
    }
    s.finish().unwrap();
    assert!(fed == expected);
}

/// A single-segment frame declaring 0 bytes, then RLE blocks of 937,550 bytes each (found by the
/// `codec_alloc` fuzz target as a slow unit: the window of 0 made the streaming decoder hand
/// out its RLE blocks a byte at a time, 23 MB in 2 s before the size check at the frame's end).
/// Both decoders now fail at the first block past the declared size, as libzstd does.
#[test]
fn output_past_the_declared_content_size_fails_at_once() {
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0xa4, 0, 0, 0, 0];
    for _ in 0..30 {
        frame.extend_from_slice(&[0x72, 0x72, 0x72, 0x72]);
    }
    frame.extend_from_slice(&[0x01, 0x00, 0x00]);
    let expected = haagenti_zstd::FrameError::ContentSizeMismatch { declared: 0, actual: 937_550 };
    assert_eq!(haagenti_zstd::decompress(&frame), Err(expected.clone().into()));
    let mut decoder = haagenti_zstd::StreamDecoder::new(Default::default());
    let mut out = Vec::new();
    assert_eq!(decoder.feed(&frame, &mut out), Err(expected.into()));
    assert!(out.is_empty(), "{} bytes handed out past a declared size of 0", out.len());
    assert!(zstd::stream::decode_all(&frame[..]).is_err(), "libzstd accepts it");
}
