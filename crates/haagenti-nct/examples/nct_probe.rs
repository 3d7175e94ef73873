//! Encodes synthetic Gaussian weights (ROWS x 1024, seeded) and prints, for each stage, the SNR
//! of the file's prefix against the Gaussian bound, with encode time and decode speed:
//! `cargo run --release -p haagenti-nct --example nct_probe -- [ROWS] [RATES] [REPS]`.
//!
//! RATES is a comma-separated list (default `2,3,4`). A plain rate is the file's bits a
//! weight, every byte counted, staged by the default plan. A plan such as `2+1` or `1.5+1.5`
//! (`2+` for one stage) gives each stage's bits a coded weight; then each stage's own loss is
//! printed too (6.02 dB times its bits less what it added) and the gap over the coded bits
//! alone (codebook and row scales left out), which is what the trellis loses (docs/nct.md,
//! "What this says").
use haagenti_hct::DType;
use haagenti_nct::{EncodeOptions, NctEncoder, NctFile};
use std::time::Instant;

/// Bits a weight of the codebook (65,536 bits) and row scales at 1024 columns, above the
/// coded bits, with room: the first stage of a plan takes what is left.
const PLAN_OVERHEAD: f64 = 0.075;

fn main() {
    let rows = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(256usize);
    let cols = 1024usize;
    let mut s = 0x1234_5678u64;
    let mut next = || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let w: Vec<f32> = (0..rows * cols)
        .map(|_| {
            let (u, v) = (1.0 - next(), next());
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        })
        .collect();
    let raw: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
    let rates = std::env::args().nth(2).unwrap_or_else(|| "2,3,4".into());
    let reps: usize = std::env::args().nth(3).and_then(|a| a.parse().ok()).unwrap_or(5);
    let energy: f64 = w.iter().map(|&x| x as f64 * x as f64).sum();
    for rate in rates.split(',') {
        let plan: Option<Vec<f64>> = rate.contains('+').then(|| {
            rate.split('+').filter(|x| !x.is_empty()).map(|x| x.parse().expect("a plan such as 2+1")).collect()
        });
        let options = match &plan {
            Some(p) => EncodeOptions {
                bits: p.iter().sum::<f64>() + PLAN_OVERHEAD,
                stages: Some(p.clone()),
                ..Default::default()
            },
            None => EncodeOptions { bits: rate.parse().expect("a rate such as 2.5"), ..Default::default() },
        };
        let mut enc = NctEncoder::new(options);
        enc.add_tensor("w", DType::F32, &[rows as u64, cols as u64], &raw).unwrap();
        let t = Instant::now();
        let bytes = enc.finish(&mut |_, _| {}).unwrap();
        let enc_s = t.elapsed().as_secs_f64();
        let file = NctFile::parse(&bytes).unwrap();
        let file_rate = bytes.len() as f64 * 8.0 / w.len() as f64;
        let stage_bits = file.tensors()[0].stage_bits();
        print!("{rate}: rate {file_rate:.4}, stages {stage_bits:?}, encode {enc_s:.2}s;");
        let (mut prev, mut coded) = (0.0, 0.0);
        for k in 1..=file.stages() {
            let d = file.decode_tensor("w", k).unwrap();
            let err: f64 = w.iter().zip(&d).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
            let snr = 10.0 * (energy / err).log10();
            print!(" k{k} {snr:.2} dB");
            if plan.is_some() {
                coded += stage_bits[k - 1];
                print!(
                    " (stage loss {:.2}, gap over coded bits {:.2})",
                    6.0206 * stage_bits[k - 1] - (snr - prev),
                    6.0206 * coded - snr
                );
            }
            prev = snr;
        }
        let mut out = vec![0f32; w.len()];
        let t = Instant::now();
        for _ in 0..reps {
            file.decode_tensor_into("w", file.stages(), &mut out).unwrap();
        }
        let gbs = (reps * out.len() * 4) as f64 / t.elapsed().as_secs_f64() / 1e9;
        println!(" | bound {:.2} dB | decode {gbs:.2} GB/s", 6.0206 * file_rate);
    }
}
