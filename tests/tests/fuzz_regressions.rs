//! Replays every input the fuzzers ever found (fuzz/regressions/TARGET/*) through the same
//! checks the fuzz targets make.

use std::path::PathBuf;

/// The targets whose findings this file replays; a folder for any other target fails
/// `every_regression_folder_is_replayed`, so no finding sits unreplayed.
const REPLAYED: [&str; 4] = ["zstd_differential", "zstd_compress_stream", "holo_fragments", "nct_read"];

/// Targets whose findings a test elsewhere replays (it needs its own process, e.g. a counting
/// allocator): the target and that test file, which must name the folder.
const REPLAYED_ELSEWHERE: [(&str, &str); 1] = [("holo_alloc", "crates/haagenti-holo/tests/alloc.rs")];

fn regressions() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions")
}

/// The findings saved for `target`, at least one (an empty folder would replay nothing).
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = regressions().join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    assert!(!out.is_empty(), "{}: no findings to replay", dir.display());
    out.sort();
    out
}

#[test]
fn every_regression_folder_is_replayed() {
    for e in std::fs::read_dir(regressions()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if let Some((_, file)) = REPLAYED_ELSEWHERE.iter().find(|(t, _)| *t == name) {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(file);
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(text.contains(&format!("regressions/{name}")), "{file} does not replay fuzz/regressions/{name}");
            continue;
        }
        assert!(REPLAYED.contains(&name.as_str()), "fuzz/regressions/{name} has no replay test");
    }
}

#[test]
fn decode_regressions() {
    for (name, data) in inputs("zstd_differential") {
        let config = haagenti_zstd::DecoderConfig { max_output_size: 8 << 20, max_window_size: 8 << 20 };
        let _ = haagenti_zstd::decompress_with(&data, &config);
        haagenti_tests::zstd_agrees_with_libzstd(&data, 8 << 20).unwrap_or_else(|e| panic!("{name}: {e}"));
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

mod nct {
    include!("../../fuzz/fuzz_targets/common/nct.rs");
}

/// The nct_read target's findings: parsed and decoded as the target does, as they are and
/// spliced around the default codebook. (The target's heap bound needs its counting allocator
/// and is not replayed here; the findings so far were panics.)
#[test]
fn nct_read_regressions() {
    for (_name, data) in inputs("nct_read") {
        nct::exercise(&data);
        if let Some(s) = nct::splice(&data) {
            nct::exercise(&s);
        }
    }
}
