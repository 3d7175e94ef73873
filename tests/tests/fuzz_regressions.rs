//! Replays every input the fuzzers ever found (fuzz/regressions/TARGET/*) through the same
//! checks the fuzz targets make.

use std::path::PathBuf;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions").join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".keep"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn decode_regressions() {
    for (name, data) in inputs("zstd_decode").into_iter().chain(inputs("zstd_differential")) {
        let config = haagenti_zstd::DecoderConfig { max_output_size: 8 << 20, max_window_size: 8 << 20 };
        let _ = haagenti_zstd::decompress_with(&data, &config);
        haagenti_tests::zstd_agrees_with_libzstd(&data, 8 << 20).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn stream_regressions() {
    for (name, data) in inputs("zstd_stream") {
        let Some((&n, rest)) = data.split_first() else { continue };
        let n = usize::from(n % 16).min(rest.len());
        let (splits, frame) = rest.split_at(n);
        haagenti_tests::zstd_streaming_agrees(frame, splits, 8 << 20).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn dictionary_regressions() {
    for (_, data) in inputs("zstd_decode_dict") {
        let Some((&cut, rest)) = data.split_first() else { continue };
        let cut = (usize::from(cut) * 8).min(rest.len());
        let (dict, frame) = rest.split_at(cut);
        if let Ok(dict) = haagenti_zstd::Dictionary::from_bytes(dict) {
            let _ = haagenti_zstd::Decompressor::with_dictionary(Default::default(), dict).decompress(frame);
        }
    }
}

/// The reference vectors and every golden error file go through the differential oracle too.
#[test]
fn oracle_agrees_on_reference_vectors() {
    let root = haagenti_tests::testdata().join("zstd");
    for sub in ["decodecorpus", "golden-decompression", "golden-decompression-errors"] {
        for e in std::fs::read_dir(root.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "zst") {
                let data = std::fs::read(&p).unwrap();
                haagenti_tests::zstd_agrees_with_libzstd(&data, 64 << 20)
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            }
        }
    }
}

#[test]
fn fse_table_regressions() {
    for (name, data) in inputs("fse_deserialize") {
        if let Ok((table, _)) = haagenti_zstd::fse::FseTable::deserialize(&data, 9, 255) {
            let again = haagenti_zstd::fse::FseTable::deserialize(&table.serialize(), 9, 255)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(again.0, table, "{name}");
        }
    }
}

#[test]
fn compress_regressions() {
    for (name, data) in inputs("zstd_compress") {
        let Some((&level, input)) = data.split_first() else { continue };
        let frame = haagenti_zstd::compress(input, i32::from(level % 30) - 7);
        assert!(zstd::stream::decode_all(&frame[..]).unwrap_or_else(|e| panic!("{name}: {e}")) == input, "{name}");
    }
}

#[test]
fn stream_compression_regressions() {
    for (name, data) in inputs("zstd_compress_stream") {
        haagenti_tests::zstd_stream_compression_round_trips(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

mod holo {
    include!("../../fuzz/fuzz_targets/common/holo.rs");
}

#[test]
fn holo_fragment_regressions() {
    for (_name, data) in inputs("holo_fragments") {
        holo::holo_fragments(&data);
    }
}
