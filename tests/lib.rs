//! Shared helpers for Haagenti's integration tests: test data paths and reference oracles.

use std::path::PathBuf;

/// The shared test data folder (`../shared/testdata` beside the clone).
///
/// # Panics
/// With a clear message when the folder is missing.
pub fn testdata() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata");
    assert!(dir.is_dir(), "test data missing at {}: lay shared/ beside the clone", dir.display());
    dir
}

/// Reads a file under [`testdata`].
pub fn read(rel: &str) -> Vec<u8> {
    let path = testdata().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The oracle: libzstd's compression of `data` at `level`, with or without a checksum.
pub fn libzstd_compress(data: &[u8], level: i32, checksum: bool) -> Vec<u8> {
    let mut c = zstd::bulk::Compressor::new(level).expect("libzstd level");
    c.include_checksum(checksum).expect("libzstd parameter");
    c.compress(data).expect("libzstd compress")
}

/// Bytes a compressor cannot shrink, from a fixed-seed xorshift generator.
pub fn incompressible(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
