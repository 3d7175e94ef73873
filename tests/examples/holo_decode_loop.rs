//! Decodes a photo's spectral fragments in a loop, timing the push (verification and entropy
//! decoding) apart from the reconstruction: a target for profilers (`valgrind --tool=callgrind`).
//!
//! `cargo run --release -p haagenti-tests --example holo_decode_loop [PHOTO] [ROUNDS]`

use std::time::Instant;

use haagenti_holo::{EncodeOptions, HoloDecoder, encode};
use haagenti_tests::photo_asset;

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "astronaut.png".into());
    let rounds: usize = args.next().map_or(20, |a| a.parse().expect("a round count"));
    let enc = encode(&photo_asset(&name), &EncodeOptions::default()).expect("encodable");
    let (mut push, mut rec) = (vec![0f64; enc.fragments.len()], vec![0f64; enc.fragments.len()]);
    for _ in 0..rounds {
        let mut d = HoloDecoder::new();
        for (i, f) in enc.fragments.iter().enumerate() {
            let t = Instant::now();
            d.push(f).expect("valid");
            push[i] += t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            std::hint::black_box(d.reconstruct().expect("reconstruction"));
            rec[i] += t.elapsed().as_secs_f64() * 1e3;
        }
    }
    let avg = |v: &[f64]| v.iter().map(|t| format!("{:.2}", t / rounds as f64)).collect::<Vec<_>>().join(" ");
    println!("{name}: push ms per fragment: {}", avg(&push));
    println!("{name}: reconstruct ms per fragment: {}", avg(&rec));
}
