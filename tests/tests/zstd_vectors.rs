//! The reference implementation's test vectors (tests/data/zstd), one-shot and streamed.

use haagenti_tests::testdata;
use haagenti_zstd::{DecoderConfig, StreamDecoder, decompress};

fn pairs(dir: &str) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let dir = testdata().join("zstd").join(dir);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "zst") {
            let original = std::fs::read(path.with_extension("")).unwrap();
            out.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
                original,
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn golden_decompression() {
    let vectors = pairs("golden-decompression");
    assert_eq!(vectors.len(), 4);
    for (name, frame, original) in vectors {
        let out = decompress(&frame).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(out == original, "{name}: wrong output");
    }
}

#[test]
fn golden_decompression_errors() {
    let dir = testdata().join("zstd/golden-decompression-errors");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let frame = std::fs::read(&path).unwrap();
        assert!(decompress(&frame).is_err(), "{} was accepted", path.display());
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn decodecorpus_all_frames() {
    let vectors = pairs("decodecorpus");
    assert_eq!(vectors.len(), 150);
    let mut failures = Vec::new();
    for (name, frame, original) in &vectors {
        match decompress(frame) {
            Ok(out) if out == *original => {}
            Ok(out) => failures.push(format!("{name}: wrong output ({} bytes, want {})", out.len(), original.len())),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{} of 150 failed:\n{}", failures.len(), failures.join("\n"));
}

/// Splits every vector at pseudo-random points (including 1-byte pieces) and streams it.
#[test]
fn decodecorpus_streamed_with_random_splits() {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound as u64) as usize
    };
    let mut vectors = pairs("decodecorpus");
    vectors.extend(pairs("golden-decompression"));
    for (name, frame, original) in &vectors {
        for round in 0..3 {
            let mut decoder = StreamDecoder::new(DecoderConfig::default());
            let mut out = Vec::new();
            let mut pos = 0;
            while pos < frame.len() {
                let piece = match round {
                    2 => 1,
                    _ => 1 + next(frame.len().min(70_000)),
                };
                let end = (pos + piece).min(frame.len());
                decoder.feed(&frame[pos..end], &mut out).unwrap_or_else(|e| panic!("{name} round {round}: {e}"));
                pos = end;
            }
            decoder.finish().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(out == *original, "{name} round {round}: streamed output differs");
            if round == 1 && frame.len() > 20_000 {
                break; // one-byte feeding of large frames is slow in debug builds
            }
        }
    }
}
