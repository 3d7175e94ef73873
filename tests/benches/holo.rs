//! HoloTensor rate-distortion and preview latency, in one run:
//! - photos: PSNR against bytes received for each encoding, next to one-shot JPEG (the `image`
//!   crate's encoder) at the same size, interpolated between JPEG qualities;
//! - weights: cosine similarity against bytes, next to plain int8 / int4 quantization (groups of
//!   64, libzstd -19 compressed) as reference points, and the residual profile at their sizes;
//! - the time from a fragment's arrival to its preview frame (512x512 RGB).
//!
//! `cargo bench -p haagenti-tests --bench holo`

use std::time::Instant;

use haagenti_hct::{DType, QuantScheme, safetensors};
use haagenti_holo::{Asset, EncodeOptions, Encoding, PreviewConfig, StreamingDecoder, cosine, encode, relative_l2};
use haagenti_tests::{
    PHOTOS, Report, bench_stamp, curve_at, jpeg_curve, linear_at, minilm_safetensors, photo_asset, quantized_reference,
    report, residual_snr_curve, snr,
};

fn main() {
    let mut r = Report::new("holo");
    report!(r, "HoloTensor rate-distortion, {}, one thread", bench_stamp());
    report!(r);
    report!(
        r,
        "Photos: PSNR (dB) after k of 8 fragments, and one-shot JPEG at the same size (image crate, qualities 5-95, interpolated in log bytes; \"below\" and \"above\" mean outside JPEG's range, compared with its smallest or largest file)."
    );
    report!(r);
    let opts = |e: Encoding| EncodeOptions { encoding: e, fragments: 8, ..EncodeOptions::default() };
    for name in PHOTOS {
        let asset = photo_asset(name);
        let Asset::Image { width: w, height: h, channels: c, .. } = asset else { unreachable!() };
        let jpeg = jpeg_curve(&asset);
        report!(r, "{name} ({w}x{h}, {c} channel(s); JPEG q75: {:.0} bytes, {:.2} dB)", jpeg[14].0, jpeg[14].1);
        report!(r);
        report!(r, "| encoding | k | bytes | PSNR | JPEG at same bytes | difference |");
        report!(r, "|---|---:|---:|---:|---:|---:|");
        for e in Encoding::ALL.into_iter().filter(|e| e.applies_to(&asset.kind())) {
            let enc = encode(&asset, &opts(e)).unwrap();
            for p in &enc.header.curve.points {
                let (j, outside) = curve_at(&jpeg, p.bytes as f64);
                let q = if p.quality.is_finite() { format!("{:.2}", p.quality) } else { "exact".into() };
                let d = if p.quality.is_finite() { format!("{:+.2}", p.quality - j) } else { "-".into() };
                let mark = match outside {
                    -1 => " (below)",
                    1 => " (above)",
                    _ => "",
                };
                report!(r, "| {} | {} | {} | {q} | {j:.2}{mark} | {d} |", e.name(), p.fragments, p.bytes);
            }
        }
        report!(r);
    }

    report!(
        r,
        "Weights (MiniLM, f32): cosine similarity after k fragments, and plain quantization (groups of 64, libzstd -19) at its size."
    );
    report!(r);
    let f32_file = minilm_safetensors();
    let st = safetensors::parse(&f32_file).unwrap();
    for tname in ["encoder.layer.0.attention.self.query.weight", "encoder.layer.3.intermediate.dense.weight"] {
        let t = st.tensors.iter().find(|t| t.name == tname).unwrap();
        let values: Vec<f32> = t.data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        let asset = Asset::tensor(DType::F32, t.shape.clone(), t.data.to_vec()).unwrap();
        let mut refs = Vec::new();
        for s in [QuantScheme::Int8 { group: 64 }, QuantScheme::Int4 { group: 64 }] {
            let (bytes, back) = quantized_reference(&values, s);
            refs.push((format!("{s:?}"), bytes, cosine(&values, &back), relative_l2(&values, &back)));
        }
        report!(r, "{tname} {:?}, {} bytes", t.shape, t.data.len());
        report!(r);
        report!(r, "| encoding | k | bytes | cosine | relative L2 |");
        report!(r, "|---|---:|---:|---:|---:|");
        // NCT at 6 bits a weight: three stages of 2 bits.
        for (e, n) in [
            (Encoding::Residual, 8),
            (Encoding::Spectral, 8),
            (Encoding::RandomProjection, 8),
            (Encoding::LowRank, 8),
            (Encoding::Nct, 8),
        ] {
            let o = EncodeOptions { encoding: e, fragments: n, bits: 6.0, ..EncodeOptions::default() };
            let enc = encode(&asset, &o).unwrap();
            for p in &enc.header.curve.points {
                report!(
                    r,
                    "| {} | {} | {} | {:.6} | {:.5} |",
                    e.name(),
                    p.fragments,
                    p.bytes,
                    p.quality,
                    p.relative_l2
                );
            }
        }
        for (name, bytes, cos, _) in &refs {
            report!(r, "| {name} (one shot) | - | {bytes:.0} | {cos:.6} | - |");
        }
        report!(r);
        // The residual profile at the references' sizes: signal-to-noise ratio, linear in
        // bytes between fragments (each refinement is a bit per weight, 6 dB).
        let pts = residual_snr_curve(&asset);
        for (name, bytes, _, rel) in &refs {
            let ours = linear_at(&pts, *bytes).unwrap();
            report!(
                r,
                "At {name}'s {bytes:.0} bytes: {name} {:.2} dB, residual {ours:.2} dB ({:+.2} dB)",
                snr(*rel),
                ours - snr(*rel)
            );
        }
        report!(r);
    }

    report!(
        r,
        "Preview latency: a fragment's arrival to its preview frame, astronaut.png 512x512 RGB, spectral, 8 fragments, full-size RGBA previews (median of 5 runs per fragment)."
    );
    report!(r);
    let asset = photo_asset("astronaut.png");
    let enc = encode(&asset, &opts(Encoding::Spectral)).unwrap();
    let mut per_fragment = vec![Vec::new(); 8];
    for _ in 0..5 {
        let mut s = StreamingDecoder::with_preview(PreviewConfig {
            preview_interval_ms: 0,
            min_quality: 0.0,
            max_preview_resolution: 512,
        });
        for (i, f) in enc.fragments.iter().enumerate() {
            let t = Instant::now();
            let p = s.push(f, i as u64).unwrap().expect("a preview per fragment");
            per_fragment[i].push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!((p.width, p.height), (512, 512));
        }
    }
    let med: Vec<f64> = per_fragment
        .iter_mut()
        .map(|v| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
        .collect();
    report!(r, "| fragment | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 |");
    report!(r, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    report!(r, "| ms | {} |", med.iter().map(|m| format!("{m:.1}")).collect::<Vec<_>>().join(" | "));
    r.save();
}
