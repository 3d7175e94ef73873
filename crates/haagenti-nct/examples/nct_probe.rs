//! Encodes synthetic Gaussian weights at a few rates and prints SNR per stage, the Gaussian
//! bound, encode time and decode speed: `cargo run --release -p haagenti-nct --example nct_probe`.
use haagenti_hct::DType;
use haagenti_nct::{EncodeOptions, NctEncoder, NctFile};
use std::time::Instant;

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
    let rates: Vec<f64> = match std::env::args().nth(2) {
        Some(b) => vec![b.parse().unwrap()],
        None => vec![2.0, 3.0, 4.0],
    };
    let reps: usize = std::env::args().nth(3).and_then(|a| a.parse().ok()).unwrap_or(5);
    for bits in rates {
        let mut enc = NctEncoder::new(EncodeOptions { bits, ..Default::default() });
        enc.add_tensor("w", DType::F32, &[rows as u64, cols as u64], &raw).unwrap();
        let t = Instant::now();
        let bytes = enc.finish(&mut |_, _| {}).unwrap();
        let enc_s = t.elapsed().as_secs_f64();
        let file = NctFile::parse(&bytes).unwrap();
        let rate = bytes.len() as f64 * 8.0 / w.len() as f64;
        let energy: f64 = w.iter().map(|&x| x as f64 * x as f64).sum();
        print!("bits {bits}: rate {rate:.4}, stages {:?}, encode {enc_s:.2}s;", file.tensors()[0].stage_bits());
        for k in 1..=file.stages() {
            let d = file.decode_tensor("w", k).unwrap();
            let err: f64 = w.iter().zip(&d).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
            print!(" k{k} {:.2} dB", 10.0 * (energy / err).log10());
        }
        let mut out = vec![0f32; w.len()];
        let t = Instant::now();
        for _ in 0..reps {
            file.decode_tensor_into("w", file.stages(), &mut out).unwrap();
        }
        let gbs = (reps * out.len() * 4) as f64 / t.elapsed().as_secs_f64() / 1e9;
        println!(" | bound {:.2} dB | decode {gbs:.2} GB/s", 6.0206 * rate);
    }
}
