//! The spectral encoding's curve on every photo against one-shot JPEG at the same bytes: a
//! quick look while tuning (the full table is the `holo` benchmark's).
//!
//! `cargo run --release -p haagenti-tests --example holo_rd [FRAGMENTS] [QUALITY]`

use haagenti_holo::{EncodeOptions, Encoding, encode};
use haagenti_tests::{PHOTOS, curve_at, jpeg_curve, photo_asset};

fn main() {
    let mut args = std::env::args().skip(1);
    let fragments = args.next().map_or(8, |a| a.parse().expect("a fragment count"));
    let quality = args.next().map_or(75.0, |a| a.parse().expect("a quality"));
    let opts = EncodeOptions { encoding: Encoding::Spectral, fragments, quality, ..EncodeOptions::default() };
    let mut worst = f64::MAX;
    for name in PHOTOS {
        let asset = photo_asset(name);
        let jpeg = jpeg_curve(&asset);
        let enc = encode(&asset, &opts).expect("encodable");
        let row: Vec<String> = enc
            .header
            .curve
            .points
            .iter()
            .map(|p| {
                let (j, _) = curve_at(&jpeg, p.bytes as f64);
                worst = worst.min(p.quality - j);
                format!("{} {:.2} ({:+.2})", p.bytes, p.quality, p.quality - j)
            })
            .collect();
        println!("{name:24} {}", row.join(" | "));
    }
    println!("worst difference to JPEG: {worst:+.2} dB");
}
