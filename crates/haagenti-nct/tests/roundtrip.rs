//! Round trips on synthetic weights, an independent reference decoder written from
//! docs/nct.md, progressive prefixes, and hostile files.

use haagenti_hct::DType;
use haagenti_nct::{EncodeOptions, Limits, NctEncoder, NctError, NctFile};

mod common;
use common::Rng;

fn gaussian(n: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng(seed);
    (0..n).map(|_| r.gaussian() as f32).collect()
}

fn laplacian(n: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng(seed);
    (0..n)
        .map(|_| {
            let u = r.uniform() - 0.5;
            (-u.signum() * (1.0 - 2.0 * u.abs()).max(1e-300).ln()) as f32
        })
        .collect()
}

/// Gaussian with rows of very different scales and a few huge weights.
fn outliers(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng(seed);
    let mut w = Vec::with_capacity(rows * cols);
    for i in 0..rows {
        let scale = 10f64.powf((i % 7) as f64 - 3.0);
        for _ in 0..cols {
            let big = r.uniform() < 0.002;
            w.push((r.gaussian() * scale * if big { 40.0 } else { 1.0 }) as f32);
        }
    }
    w
}

fn bytes_f32(w: &[f32]) -> Vec<u8> {
    w.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn snr(w: &[f32], d: &[f32]) -> f64 {
    let e: f64 = w.iter().map(|&x| x as f64 * x as f64).sum();
    let n: f64 = w.iter().zip(d).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
    10.0 * (e / n).log10()
}

fn encode(tensors: &[(&str, DType, Vec<u64>, Vec<u8>)], opts: EncodeOptions) -> Vec<u8> {
    let mut enc = NctEncoder::new(opts);
    for (name, dtype, shape, raw) in tensors {
        enc.add_tensor(name, *dtype, shape, raw).unwrap();
    }
    let mut last = (0, 0);
    let out = enc.finish(&mut |d, t| {
        assert!(d >= last.0 && d <= t, "progress {d} of {t} after {last:?}");
        last = (d, t);
    });
    assert_eq!(last.0, last.1, "progress ends at its total");
    out.unwrap()
}

/// The decoder of docs/nct.md, written without the crate's code: windows read bit by bit, the
/// Hadamard transform as its matrix, signs from SplitMix64.
fn reference_decode(file: &NctFile<'_>, name: &str, k: usize) -> Vec<f32> {
    let e = file.entry(name).unwrap();
    let t = file.tensor(name, k).unwrap();
    let (rows, cols, g) = (e.rows() as usize, e.cols() as usize, e.group());
    let entries = file.codebook().entries();
    let mut out = vec![0f32; rows * cols];
    let codes = t.base();
    for (s, (stage, data)) in e.stage_entries().iter().zip(t.stage_data()).enumerate().take(k) {
        let mut rng = Rng(e.seed().wrapping_add((s as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        let mut sign = Vec::new();
        while sign.len() < cols {
            let w = rng.next_u64();
            for i in 0..64.min(cols - sign.len()) {
                sign.push(if w >> i & 1 == 1 { -1i64 } else { 1 });
            }
        }
        let bits = stage.block_bits as usize;
        let bb = bits / 8;
        for r in 0..rows {
            for j in 0..cols / g {
                let block = &data[(r * (cols / g) + j) * bb..][..bb];
                let bit = |i: usize| (block[(i % bits) / 8] >> ((i % bits) % 8)) & 1;
                let q: Vec<i64> = (0..g)
                    .map(|t| {
                        let p = t * bits / g;
                        let w: usize = (0..12).map(|i| (bit(p + i) as usize) << i).sum();
                        (entries[w] as i64 * stage.multiplier as i64) >> 11
                    })
                    .collect();
                for i in 0..g {
                    let h: i64 = (0..g).map(|t| if (i & t).count_ones() % 2 == 0 { q[t] } else { -q[t] }).sum();
                    let at = r * cols + j * g + i;
                    // Accumulate the integer in the f32 slot's bits for now.
                    let prev = out[at].to_bits() as i32;
                    out[at] = f32::from_bits(prev.wrapping_add((sign[j * g + i] * h) as i32) as u32);
                }
            }
        }
    }
    for r in 0..rows {
        let c = codes[r];
        let rs = if c == 0 {
            0.0
        } else {
            let m = 2f64.powf((c & 15) as f64 / 16.0) as f32;
            m * 2f32.powi((c >> 4) as i32 - 12) * e.scale()
        };
        for v in &mut out[r * cols..(r + 1) * cols] {
            *v = if c == 0 { 0.0 } else { v.to_bits() as i32 as f32 * rs };
        }
    }
    out
}

#[test]
fn gaussian_reaches_its_rate_and_stages_improve() {
    let (rows, cols) = (512usize, 512usize);
    let w = gaussian(rows * cols, 1);
    for bits in [2.0, 3.0, 4.0] {
        let bytes = encode(
            &[("w", DType::F32, vec![rows as u64, cols as u64], bytes_f32(&w))],
            EncodeOptions { bits, ..Default::default() },
        );
        let rate = bytes.len() as f64 * 8.0 / w.len() as f64;
        assert!(rate <= bits && rate > bits - 0.1, "rate {rate} for {bits}");
        let file = NctFile::parse(&bytes).unwrap();
        let mut prev = 0.0;
        for k in 1..=file.stages() {
            let s = snr(&w, &file.decode_tensor("w", k).unwrap());
            assert!(s > prev + 3.0, "stage {k} at {bits} bits: {s} dB after {prev}");
            prev = s;
        }
        // Measured: 10.0, 15.8, 21.5 dB (the codebook's 8 KiB is 0.25 bits a weight here).
        let floor = [8.8, 14.5, 20.0][bits as usize - 2];
        assert!(prev > floor, "{bits} bits: {prev} dB");
    }
}

#[test]
fn decoder_matches_the_reference_bit_for_bit() {
    let (rows, cols) = (64usize, 384usize);
    let tensors = [
        ("gauss", DType::F32, vec![rows as u64, cols as u64], bytes_f32(&gaussian(rows * cols, 2))),
        ("laplace", DType::F32, vec![rows as u64, cols as u64], bytes_f32(&laplacian(rows * cols, 3))),
        ("outliers", DType::F32, vec![rows as u64 * 2, cols as u64 / 2], bytes_f32(&outliers(rows * 2, cols / 2, 4))),
    ];
    let bytes = encode(&tensors, EncodeOptions { bits: 6.0, stages: Some(vec![2.0, 1.5, 1.0]), ..Default::default() });
    let file = NctFile::parse(&bytes).unwrap();
    assert_eq!(file.stages(), 3);
    for (name, ..) in &tensors {
        assert!(file.entry(name).unwrap().is_quantized());
        for k in 0..=3 {
            let ours = file.decode_tensor(name, k).unwrap();
            let theirs = reference_decode(&file, name, k);
            let a: Vec<u32> = ours.iter().map(|v| v.to_bits()).collect();
            let b: Vec<u32> = theirs.iter().map(|v| v.to_bits()).collect();
            assert!(a == b, "{name} at {k} stages differs from the reference");
        }
    }
}

#[test]
fn hard_shapes_keep_their_quality_and_exact_tensors_stay_exact() {
    let lap = laplacian(512 * 512, 5);
    let out = outliers(512, 256, 6);
    let bf: Vec<u8> = gaussian(64 * 128, 7).iter().flat_map(|&v| haagenti_hct::f32_to_bf16(v).to_le_bytes()).collect();
    let bias: Vec<u8> = bytes_f32(&gaussian(256, 8));
    let odd = bytes_f32(&gaussian(100 * 90, 9));
    let ints: Vec<u8> = (0..4096i32).flat_map(|i| (i * 31 - 7).to_le_bytes()).collect();
    let mut with_nan = gaussian(64 * 64, 10);
    with_nan[17] = f32::NAN;
    let tensors = [
        ("laplace", DType::F32, vec![512, 512], bytes_f32(&lap)),
        ("outliers", DType::F32, vec![512, 256], bytes_f32(&out)),
        ("bf16", DType::BF16, vec![64, 128], bf.clone()),
        ("bias", DType::F32, vec![256], bias.clone()),
        ("odd", DType::F32, vec![100, 90], odd.clone()),
        ("ints", DType::I32, vec![64, 64], ints.clone()),
        ("nan", DType::F32, vec![64, 64], bytes_f32(&with_nan)),
    ];
    // Even rates: each tensor's own quality is the point here (spread by energy, the
    // outliers' rows of up to 1000 times the scale take the bits; see the next test).
    let bytes = encode(&tensors, EncodeOptions { bits: 4.0, allocate: false, ..Default::default() });
    let file = NctFile::parse(&bytes).unwrap();
    let rate = bytes.len() as f64 * 8.0 / tensors.iter().map(|t| t.2.iter().product::<u64>()).sum::<u64>() as f64;
    assert!(rate <= 4.0, "rate {rate}");
    for (name, raw) in [("bias", &bias), ("odd", &odd), ("ints", &ints)] {
        assert!(!file.entry(name).unwrap().is_quantized(), "{name}");
        assert_eq!(file.exact_bytes(name).unwrap().unwrap(), &raw[..]);
    }
    assert_eq!(file.decode_tensor("ints", 0).unwrap()[3], (3 * 31 - 7) as f32);
    assert!(file.decode_tensor("nan", 2).unwrap()[17].is_nan(), "a tensor with a NaN is kept exactly");
    let k = file.stages();
    let s_lap = snr(&lap, &file.decode_tensor("laplace", k).unwrap());
    let s_out = snr(&out, &file.decode_tensor("outliers", k).unwrap());
    let bf_w: Vec<f32> =
        bf.chunks_exact(2).map(|b| haagenti_hct::bf16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect();
    let s_bf = snr(&bf_w, &file.decode_tensor("bf16", k).unwrap());
    // The rotation makes Laplacian weights Gaussian; row scales absorb the row spread.
    assert!(s_lap > 14.0 && s_out > 14.0 && s_bf > 14.0, "laplace {s_lap} outliers {s_out} bf16 {s_bf}");
}

#[test]
fn spreading_by_energy_lowers_the_weighted_error_at_the_same_rate() {
    // Three tensors whose RMS differ by 4x steps: the spread gives the loud ones stage-1 bits
    // the quiet ones give up, every prefix included.
    let scales = [0.25f32, 1.0, 4.0];
    let ws: Vec<Vec<f32>> = scales
        .iter()
        .enumerate()
        .map(|(i, &s)| gaussian(256 * 256, 20 + i as u64).iter().map(|x| x * s).collect())
        .collect();
    let names = ["quiet", "mid", "loud"];
    let tensors: Vec<_> = ws.iter().zip(names).map(|(w, n)| (n, DType::F32, vec![256u64, 256], bytes_f32(w))).collect();
    let run = |allocate: bool| {
        let bytes = encode(&tensors, EncodeOptions { bits: 4.0, allocate, ..Default::default() });
        let file = NctFile::parse(&bytes).unwrap();
        let rates: Vec<Vec<f64>> = names.iter().map(|n| file.entry(n).unwrap().stage_bits()).collect();
        // The sum over tensors of squared error over RMS, the quantity the spread minimises,
        // and the plain squared error, after each stage.
        let errs: Vec<(f64, f64)> = (1..=file.stages())
            .map(|k| {
                ws.iter().zip(names).zip(scales).fold((0.0, 0.0), |(a, b), ((w, n), s)| {
                    let d = file.decode_tensor(n, k).unwrap();
                    let e: f64 = w.iter().zip(&d).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum();
                    (a + e / s as f64, b + e)
                })
            })
            .collect();
        (bytes.len(), rates, errs)
    };
    let (len_a, rates_a, err_a) = run(true);
    let (len_e, rates_e, err_e) = run(false);
    assert!(len_a.abs_diff(len_e) <= 64, "{len_a} bytes against {len_e}");
    // Four times the RMS: one bit more in stage 1 (16x the mean square, log2 / 4), later
    // stages alike; whole bytes a block of 256 round it.
    for k in 0..2 {
        assert!((rates_a[k + 1][0] - rates_a[k][0] - 1.0).abs() < 0.05, "{rates_a:?}");
    }
    assert!((rates_a[1][0] - rates_e[1][0]).abs() < 0.05, "{rates_a:?} against {rates_e:?}");
    for k in 0..rates_a[0].len() {
        if k > 0 {
            assert!(rates_a.iter().all(|r| (r[k] - rates_e[0][k]).abs() < 0.05), "stage {k}: {rates_a:?}");
        }
    }
    for (k, (a, e)) in err_a.iter().zip(&err_e).enumerate() {
        assert!(a.0 < e.0 * 0.9, "stage {}: weighted error {} spread against {} even", k + 1, a.0, e.0);
        assert!(a.1 < e.1, "stage {}: squared error {} spread against {} even", k + 1, a.1, e.1);
    }
}

#[test]
fn a_prefix_decodes_as_the_whole_file_at_that_stage() {
    let w = gaussian(128 * 256, 11);
    let bytes = encode(
        &[
            ("a", DType::F32, vec![128, 256], bytes_f32(&w)),
            ("b", DType::F32, vec![64, 512], bytes_f32(&gaussian(64 * 512, 12))),
        ],
        EncodeOptions { bits: 7.0, ..Default::default() },
    );
    let full = NctFile::parse(&bytes).unwrap();
    assert_eq!(full.stages(), full.stage_count());
    for k in 0..=full.stage_count() {
        let cut = full.prefix_len(k) as usize;
        let prefix = NctFile::parse(&bytes[..cut]).unwrap();
        assert_eq!(prefix.stages(), k);
        for name in ["a", "b"] {
            assert_eq!(prefix.decode_tensor(name, k).unwrap(), full.decode_tensor(name, k).unwrap());
        }
        assert!(matches!(prefix.decode_tensor("a", k + 1), Err(NctError::MissingStages { .. })));
        if k < full.stage_count() {
            // Inside the next stage: still k stages.
            let mid = (cut + full.prefix_len(k + 1) as usize) / 2;
            assert_eq!(NctFile::parse(&bytes[..mid]).unwrap().stages(), k);
        }
    }
    let mut rows = vec![0f32; 5 * 256];
    full.decode_rows("a", 2, 40..45, &mut rows).unwrap();
    assert_eq!(&rows[..], &full.decode_tensor("a", 2).unwrap()[40 * 256..45 * 256]);
    assert!(full.decode_rows("a", 2, 127..129, &mut rows[..512]).is_err());
}

#[test]
fn damaged_files_are_refused() {
    let bytes = encode(
        &[
            ("w", DType::F32, vec![128, 256], bytes_f32(&gaussian(128 * 256, 13))),
            ("b", DType::F32, vec![7], bytes_f32(&gaussian(7, 14))),
        ],
        EncodeOptions { bits: 5.0, ..Default::default() },
    );
    let file = NctFile::parse(&bytes).unwrap();
    let meta_end = file.prefix_len(0) as usize;
    // A flip anywhere in the metadata and base section is refused, or (padding between
    // sections) changes nothing decoded.
    let clean: Vec<Vec<f32>> =
        file.tensors().iter().map(|t| file.decode_tensor(t.name(), file.stages()).unwrap()).collect();
    for at in 0..meta_end {
        let mut bad = bytes.clone();
        bad[at] ^= 0x20;
        let Ok(f) = NctFile::parse(&bad) else { continue };
        let decoded: Result<Vec<Vec<f32>>, _> =
            f.tensors().iter().map(|t| f.decode_tensor(t.name(), f.stages())).collect();
        if let Ok(d) = decoded {
            let same = d.len() == clean.len()
                && d.iter().zip(&clean).all(|(a, b)| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
            assert!(same, "flip at byte {at} changed the decoded weights unnoticed");
        }
    }
    // Stage bytes: caught by the tensor's checksum.
    let mut bad = bytes.clone();
    let last = bad.len() - 3;
    bad[last] ^= 1;
    let f = NctFile::parse(&bad).unwrap();
    assert!(matches!(f.decode_tensor("w", f.stages()), Err(NctError::Checksum { .. })));
    // Every truncation parses to fewer stages or is refused; none panics.
    for cut in 0..bytes.len() {
        if let Ok(f) = NctFile::parse(&bytes[..cut]) {
            assert!(f.stages() < file.stages());
            for t in f.tensors() {
                f.decode_tensor(t.name(), f.stages()).unwrap();
            }
        }
    }
    assert_eq!(NctFile::parse(b"PK\x03\x04 not nct at all, a zip").unwrap_err(), NctError::NotNct);
}

/// A header whose fields ask for absurd sizes, with valid checksums.
fn forged(tensor_count: u32, stage_count: u32, directory_len: u64) -> Vec<u8> {
    let mut h = vec![0u8; 64 + 8192];
    h[..4].copy_from_slice(b"NCT\x1a");
    h[4..6].copy_from_slice(&1u16.to_le_bytes());
    h[6] = 12;
    h[7] = 11;
    h[8..12].copy_from_slice(&tensor_count.to_le_bytes());
    h[12..16].copy_from_slice(&stage_count.to_le_bytes());
    h[16..24].copy_from_slice(&directory_len.to_le_bytes());
    let table = xxhash_rust::xxh3::xxh3_64(&h[64..]);
    h[40..48].copy_from_slice(&table.to_le_bytes());
    let hh = xxhash_rust::xxh3::xxh3_64(&h[..56]);
    h[56..64].copy_from_slice(&hh.to_le_bytes());
    h
}

#[test]
fn absurd_sizes_are_refused_before_allocating() {
    assert!(matches!(NctFile::parse(&forged(u32::MAX, 1, 0)), Err(NctError::Limit { what: "tensor count", .. })));
    assert!(matches!(NctFile::parse(&forged(1, 1000, 0)), Err(NctError::Limit { what: "stage count", .. })));
    assert!(matches!(NctFile::parse(&forged(1, 1, u64::MAX)), Err(NctError::Limit { what: "directory length", .. })));
    assert!(matches!(NctFile::parse(&forged(1000, 0, 0)), Err(NctError::Corrupt { .. })));
    assert!(NctFile::parse(&forged(0, 0, 0)).is_ok(), "an empty file is valid");
    let small = Limits { max_tensor_elements: 1000, ..Limits::default() };
    let bytes =
        encode(&[("w", DType::F32, vec![256, 256], bytes_f32(&gaussian(256 * 256, 15)))], EncodeOptions::default());
    assert!(matches!(NctFile::parse_with_limits(&bytes, small), Err(NctError::Limit { what: "tensor elements", .. })));
}

#[test]
fn encoder_refuses_what_it_cannot_do() {
    let w = bytes_f32(&gaussian(64 * 128, 16));
    let mut enc = NctEncoder::new(EncodeOptions::default());
    enc.add_tensor("w", DType::F32, &[64, 128], &w).unwrap();
    assert!(enc.add_tensor("w", DType::F32, &[64, 128], &w).is_err(), "duplicate name");
    assert!(enc.add_tensor("x", DType::F32, &[64, 64], &w).is_err(), "wrong length");
    assert!(enc.add_tensor("", DType::F32, &[64, 128], &w).is_err(), "empty name");
    let mut enc = NctEncoder::new(EncodeOptions { bits: 12.0, ..Default::default() });
    enc.add_tensor("w", DType::F32, &[64, 128], &w).unwrap();
    let bytes = enc.finish(&mut |_, _| {}).unwrap();
    assert!(bytes.len() as f64 * 8.0 / 8192.0 <= 12.0);
    assert_eq!(NctFile::parse(&bytes).unwrap().stages(), 2, "12 bits less 8 for the codebook: two stages of 2");
    let mut enc = NctEncoder::new(EncodeOptions { bits: 1.0, ..Default::default() });
    enc.add_tensor("w", DType::F32, &[64, 128], &w).unwrap();
    assert!(
        matches!(enc.finish(&mut |_, _| {}), Err(NctError::Encode(_))),
        "the codebook alone is 8 bits a weight here"
    );
    let mut enc = NctEncoder::new(EncodeOptions { bits: 20.0, stages: Some(vec![2.0, 0.5]), ..Default::default() });
    enc.add_tensor("w", DType::F32, &[64, 128], &w).unwrap();
    assert!(enc.finish(&mut |_, _| {}).is_err(), "a stage below 1 bit");
}

#[cfg(feature = "candle")]
#[test]
fn decodes_to_a_candle_tensor_of_the_same_values() {
    let w = gaussian(64 * 2 * 128, 17);
    let bytes = encode(
        &[("w", DType::F32, vec![64, 2, 128], bytes_f32(&w))],
        EncodeOptions { bits: 12.0, ..Default::default() },
    );
    let file = NctFile::parse(&bytes).unwrap();
    let t = file.decode_to_candle("w", 2, &candle_core::Device::Cpu).unwrap();
    assert_eq!(t.dims(), &[64, 2, 128]);
    let flat: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(flat, file.decode_tensor("w", 2).unwrap());
    assert!(matches!(file.decode_to_candle("nope", 1, &candle_core::Device::Cpu), Err(NctError::NoSuchTensor(_))));
}
