// The nct_read target's checks, shared with the replay of its findings
// (tests/tests/fuzz_regressions.rs includes this file).

/// Elements a tensor may have (`Limits::max_tensor_elements` of every parse here).
pub(crate) const MAX_ELEMENTS: u64 = 1 << 18;

/// The input spliced around the default codebook (8 KiB, more than the fuzzer's inputs), with
/// the header and directory checksums made valid, so mutations reach every directory field.
pub(crate) fn splice(data: &[u8]) -> Option<Vec<u8>> {
    use haagenti_nct::{Codebook, EncodeOptions};
    use xxhash_rust::xxh3::xxh3_64;
    if data.len() < 64 {
        return None;
    }
    let field = u64::from_le_bytes(data[16..24].try_into().ok()?);
    let dir = (field.min((data.len() - 64) as u64)) as usize;
    let cb_at = (64 + dir).div_ceil(8) * 8;
    let mut out = data[..64 + dir].to_vec();
    out[16..24].copy_from_slice(&(dir as u64).to_le_bytes());
    out.resize(cb_at, 0);
    for e in Codebook::gaussian(EncodeOptions::default().seed).entries() {
        out.extend_from_slice(&e.to_le_bytes());
    }
    let table = xxh3_64(&out[64..]);
    out.extend_from_slice(&data[64 + dir..]);
    out[40..48].copy_from_slice(&table.to_le_bytes());
    let h = xxh3_64(&out[..56]);
    out[56..64].copy_from_slice(&h.to_le_bytes());
    Some(out)
}

/// Parses `file` and decodes every tensor at every stage count, whole and its last row, and
/// reads every exact tensor's bytes; returns the file's stage count (0 if it is refused).
/// Nothing here may panic.
pub(crate) fn exercise(file: &[u8]) -> u64 {
    use haagenti_nct::{Limits, NctFile};
    let limits = Limits { max_tensor_elements: MAX_ELEMENTS, ..Limits::default() };
    let Ok(f) = NctFile::parse_with_limits(file, limits) else { return 0 };
    for t in f.tensors() {
        for k in 0..=f.stages() {
            let _ = f.decode_tensor(t.name(), k);
            let mut row = vec![0f32; t.cols() as usize];
            if t.rows() > 0 {
                let _ = f.decode_rows(t.name(), k, t.rows() - 1..t.rows(), &mut row);
            }
        }
        let _ = f.exact_bytes(t.name());
    }
    f.stage_count() as u64
}
