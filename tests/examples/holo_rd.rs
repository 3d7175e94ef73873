//! Quick rate-distortion checks while tuning (the full tables are the `holo` benchmark's):
//! - `photos [FRAGMENTS] [QUALITY]`: the spectral encoding's curve on every photo against
//!   one-shot JPEG at the same bytes;
//! - `weights`: the residual profile on MiniLM matrices against plain int4 and int8 of the same
//!   size (signal-to-noise ratio in dB, interpolated linearly in bytes between fragments).
//!
//! `cargo run --release -p haagenti-tests --example holo_rd -- photos|weights`

use haagenti_hct::{DType, QuantScheme, safetensors};
use haagenti_holo::{Asset, EncodeOptions, Encoding, encode, relative_l2};
use haagenti_tests::{
    PHOTOS, curve_at, jpeg_curve, linear_at, minilm_safetensors, photo_asset, quantized_reference, residual_snr_curve,
    snr,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("weights") => weights(),
        _ => photos(
            args.get(1).map_or(8, |a| a.parse().expect("a fragment count")),
            args.get(2).map_or(75.0, |a| a.parse().expect("a quality")),
        ),
    }
}

fn photos(fragments: u16, quality: f32) {
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

fn weights() {
    let file = minilm_safetensors();
    let st = safetensors::parse(&file).expect("safetensors");
    for name in [
        "encoder.layer.0.attention.self.query.weight",
        "encoder.layer.3.intermediate.dense.weight",
        "encoder.layer.4.attention.output.dense.weight",
    ] {
        let t = st.tensors.iter().find(|t| t.name == name).expect("tensor");
        let values: Vec<f32> = t.data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        let asset = Asset::tensor(DType::F32, t.shape.clone(), t.data.to_vec()).expect("tensor");
        let pts = residual_snr_curve(&asset);
        println!("{name}: {}", pts.iter().map(|(b, s)| format!("{b:.0} {s:.2}")).collect::<Vec<_>>().join(" | "));
        for s in [QuantScheme::Int4 { group: 64 }, QuantScheme::Int8 { group: 64 }] {
            let (bytes, back) = quantized_reference(&values, s);
            let rel = relative_l2(&values, &back);
            let ours = linear_at(&pts, bytes);
            println!(
                "  {s:?}: {bytes:.0} bytes, {:.2} dB; ours at that size: {}",
                snr(rel),
                ours.map_or("-".into(), |o| format!("{o:.2} dB ({:+.2})", o - snr(rel)))
            );
        }
    }
}
