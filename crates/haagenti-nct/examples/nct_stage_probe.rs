//! What each stage of a plan loses against the Gaussian rate-distortion bound, on 1024 x 1024
//! seeded Gaussian weights: `cargo run --release -p haagenti-nct --example nct_stage_probe --
//! 2 2+1 1.5+1.5 2+2` (each argument a plan, stage rates in bits a weight joined by `+`). For
//! each stage it prints the SNR of the file's prefix, the stage's own loss (6.02 dB times its
//! bits less what it added) and the gap of the prefix to the bound over the coded bits (the
//! codebook and scales left out, so that the trellis alone is measured).
use haagenti_hct::DType;
use haagenti_nct::{EncodeOptions, NctEncoder, NctFile};

fn main() {
    let (rows, cols) = (1024usize, 1024usize);
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
    let energy: f64 = w.iter().map(|&x| x as f64 * x as f64).sum();
    for arg in std::env::args().skip(1) {
        let plan: Vec<f64> = arg.split('+').map(|x| x.parse().expect("a plan such as 2+1")).collect();
        // The codebook (65,536 bits) and the row scales, on top of the coded bits.
        let total: f64 = plan.iter().sum::<f64>() + 0.075;
        let mut enc = NctEncoder::new(EncodeOptions { bits: total, stages: Some(plan.clone()), ..Default::default() });
        enc.add_tensor("w", DType::F32, &[rows as u64, cols as u64], &raw).unwrap();
        let bytes = enc.finish(&mut |_, _| {}).unwrap();
        let file = NctFile::parse(&bytes).unwrap();
        let sb = file.tensors()[0].stage_bits();
        print!("plan {arg}: stages {sb:?};");
        let (mut prev, mut bits) = (0.0, 0.0);
        for k in 1..=file.stages() {
            let d = file.decode_tensor("w", k).unwrap();
            let err: f64 = w.iter().zip(&d).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
            let snr = 10.0 * (energy / err).log10();
            bits += sb[k - 1];
            print!(" k{k} {snr:.2} dB (stage loss {:.2}, total gap {:.2})", 6.0206 * sb[k - 1] - (snr - prev), 6.0206 * bits - snr);
            prev = snr;
        }
        println!();
    }
}
