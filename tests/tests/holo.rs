//! HoloTensor on real photos and real weights: quality never falls as fragments arrive, any one
//! fragment lost still reconstructs, all fragments give the original (exactly, or within the
//! stored bound), and corrupted, duplicated or foreign fragments are detected and ignored.

use haagenti_hct::{DType, safetensors};
use haagenti_holo::{
    Asset, EncodeOptions, Encoded, Encoding, FragmentStore, HoloDecoder, HoloError, Manifest, MemStore, PreviewConfig,
    Pushed, Reconstruction, StreamingDecoder, cosine, encode, psnr, relative_l2,
};
use haagenti_tests::{
    PHOTOS, curve_at, jpeg_curve, linear_at, minilm_safetensors, photo_asset, quantized_reference, residual_snr_curve,
    snr,
};
use proptest::prelude::*;

fn photo(name: &str) -> Asset {
    photo_asset(name)
}

fn opts(encoding: Encoding, fragments: u16) -> EncodeOptions {
    EncodeOptions { encoding, fragments, ..EncodeOptions::default() }
}

/// Quality of a reconstruction against the asset: PSNR for images, cosine for tensors.
fn quality(asset: &Asset, rec: &Reconstruction) -> f64 {
    match (asset, rec) {
        (Asset::Image { pixels, .. }, Reconstruction::Image { pixels: p, .. }) => psnr(pixels, p),
        (Asset::Tensor { dtype, data, .. }, Reconstruction::Tensor { values, .. }) => {
            let orig = to_f32(*dtype, data);
            cosine(&orig, values)
        }
        _ => panic!("reconstruction of another kind"),
    }
}

fn to_f32(dtype: DType, data: &[u8]) -> Vec<f32> {
    haagenti_hct::f32_values(dtype, data).expect("a float dtype")
}

fn decode(fragments: &[&[u8]]) -> Reconstruction {
    let mut d = HoloDecoder::new();
    for f in fragments {
        d.push(f).expect("valid fragment");
    }
    d.reconstruct().expect("reconstruction")
}

/// The properties every encoding must have on `asset`.
fn check(name: &str, asset: &Asset, enc: &Encoded, exact: bool) {
    let e = enc.header.encoding;
    let n = enc.fragments.len();
    let curve = &enc.header.curve;
    assert_eq!(curve.points.len(), n, "{name} {e:?}");
    // The stored curve is what a decoder gets, and it never falls.
    let mut last = f64::NEG_INFINITY;
    for k in 1..=n {
        let refs: Vec<&[u8]> = enc.fragments[..k].iter().map(Vec::as_slice).collect();
        let q = quality(asset, &decode(&refs));
        let stored = curve.points[k - 1].quality;
        // The header stores f32.
        assert!(
            q == stored || (q - stored).abs() <= 1e-6 * q.abs().max(1.0),
            "{name} {e:?} k={k}: measured {q}, stored {stored}"
        );
        assert!(q >= last - 1e-6, "{name} {e:?}: quality fell from {last} to {q} at {k} fragments");
        assert_eq!(curve.points[k - 1].bytes, enc.fragments[..k].iter().map(|f| f.len() as u64).sum::<u64>());
        last = q;
    }
    // Every fragment lost in turn: the rest still reconstruct, in any order.
    for lost in 0..n {
        let mut refs: Vec<&[u8]> =
            enc.fragments.iter().enumerate().filter(|&(i, _)| i != lost).map(|(_, f)| f.as_slice()).collect();
        refs.reverse();
        if refs.is_empty() {
            continue;
        }
        let q = quality(asset, &decode(&refs));
        if matches!(e, Encoding::Spectral | Encoding::RandomProjection) && lost > 0 {
            // Fragment-tolerant encodings: the fragments after a lost one still add to the
            // ones before it.
            assert!(q >= curve.points[lost - 1].quality - 1e-5, "{name} {e:?}: losing {lost} gives {q}");
        }
        if e == Encoding::Spectral && lost == 0 && matches!(asset, Asset::Image { .. }) {
            // The core every fragment repeats keeps the picture without the first one.
            assert!(q > 15.0, "{name}: {q} dB without fragment 0");
        }
    }
    // All fragments: the original, exactly or within the stated bound.
    let refs: Vec<&[u8]> = enc.fragments.iter().map(Vec::as_slice).collect();
    let full = decode(&refs);
    match (asset, &full) {
        (Asset::Image { pixels, .. }, Reconstruction::Image { pixels: p, .. }) => {
            let err = pixels.iter().zip(p).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
            assert!(f64::from(err) <= curve.max_error, "{name} {e:?}: error {err} over the bound {}", curve.max_error);
            if exact {
                assert!(p == pixels, "{name} {e:?}: not exact");
            }
        }
        (Asset::Tensor { data, dtype, .. }, Reconstruction::Tensor { data: d, values, .. }) => {
            let orig = to_f32(*dtype, data);
            let err = orig.iter().zip(values).map(|(a, b)| f64::from((a - b).abs())).fold(0.0, f64::max);
            assert!(err <= curve.max_error, "{name} {e:?}: error {err} over the bound {}", curve.max_error);
            if exact {
                assert!(d == data, "{name} {e:?}: not bit-exact");
            }
        }
        _ => unreachable!(),
    }
}

#[test]
fn every_encoding_on_every_photo() {
    for name in PHOTOS {
        let asset = photo(name);
        for (e, n) in
            [(Encoding::Spectral, 8), (Encoding::RandomProjection, 6), (Encoding::LowRank, 4), (Encoding::Residual, 8)]
        {
            let enc = encode(&asset, &opts(e, n)).unwrap();
            check(name, &asset, &enc, matches!(e, Encoding::LowRank | Encoding::Residual));
        }
    }
}

#[test]
fn spectral_is_within_a_decibel_of_one_shot_jpeg_at_every_point() {
    // Every prefix of the fragments against a JPEG file of the same size (the `image` crate's
    // encoder, interpolated between qualities): the progressive stream costs next to nothing
    // over a one-shot file (docs/holo.md has the whole curves).
    for name in PHOTOS {
        let asset = photo(name);
        let jpeg = jpeg_curve(&asset);
        let enc = encode(&asset, &opts(Encoding::Spectral, 8)).unwrap();
        for p in &enc.header.curve.points {
            let (j, outside) = curve_at(&jpeg, p.bytes as f64);
            assert_eq!(outside, 0, "{name}: {} bytes is outside JPEG's range", p.bytes);
            assert!(
                p.quality > j - 1.0,
                "{name} k={}: {:.2} dB in {} bytes, JPEG {j:.2} dB",
                p.fragments,
                p.quality,
                p.bytes
            );
        }
    }
}

#[test]
fn spectral_photos_reach_jpeg_like_quality_with_every_fragment() {
    // Quality 75 tables: every photo above 30 dB with all fragments, and the first fragment
    // alone (the DC core and the first band) already a recognizable image.
    for name in PHOTOS {
        let enc = encode(&photo(name), &opts(Encoding::Spectral, 8)).unwrap();
        let c = &enc.header.curve;
        assert!(c.points[7].quality > 30.0, "{name}: {}", c.points[7].quality);
        assert!(c.points[0].quality > 18.0, "{name}: {}", c.points[0].quality);
    }
}

fn weights() -> Vec<(String, Asset)> {
    let f32_file = minilm_safetensors();
    let st = safetensors::parse(&f32_file).unwrap();
    let mut out = Vec::new();
    for t in st.tensors.iter().filter(|t| t.name.starts_with("encoder.layer.2.") && t.dtype == DType::F32) {
        if t.name.ends_with("query.weight")
            || t.name.ends_with("output.dense.weight")
            || t.name.ends_with("LayerNorm.bias")
        {
            out.push((t.name.clone(), Asset::tensor(DType::F32, t.shape.clone(), t.data.to_vec()).unwrap()));
            let bf: Vec<u8> = t
                .data
                .chunks_exact(4)
                .flat_map(|b| haagenti_hct::f32_to_bf16(f32::from_le_bytes(b.try_into().unwrap())).to_le_bytes())
                .collect();
            out.push((format!("{} bf16", t.name), Asset::tensor(DType::BF16, t.shape.clone(), bf).unwrap()));
        }
    }
    assert!(out.len() >= 6, "MiniLM tensors missing");
    out
}

#[test]
fn every_encoding_on_real_weights() {
    for (name, asset) in weights() {
        for (e, n) in
            [(Encoding::Spectral, 8), (Encoding::RandomProjection, 8), (Encoding::LowRank, 5), (Encoding::Residual, 4)]
        {
            let enc = encode(&asset, &opts(e, n)).unwrap();
            check(&name, &asset, &enc, matches!(e, Encoding::LowRank | Encoding::Residual));
            // The lossy encodings end close to the original: cosine over 0.999 at quality 75.
            let last = enc.header.curve.points.last().unwrap().quality;
            assert!(last > 0.999, "{name} {e:?}: cosine {last}");
        }
    }
}

fn astronaut_small() -> Asset {
    // A 128x128 crop keeps the corruption tests fast.
    let Asset::Image { pixels, width, .. } = photo("astronaut.png") else { unreachable!() };
    let crop: Vec<u8> =
        (0..128).flat_map(|y| pixels[(y * width as usize) * 3..(y * width as usize + 128) * 3].to_vec()).collect();
    Asset::image(128, 128, 3, crop).unwrap()
}

#[test]
fn corrupted_duplicated_and_foreign_fragments_are_ignored() {
    let asset = astronaut_small();
    let enc = encode(&asset, &opts(Encoding::Spectral, 4)).unwrap();
    let other = encode(&asset, &opts(Encoding::Spectral, 5)).unwrap();
    let mut d = HoloDecoder::new();
    assert_eq!(d.push(&enc.fragments[1]).unwrap(), Pushed::Accepted { index: 1 });
    let before = d.reconstruct().unwrap();
    // Truncated, bit-flipped at every 7th byte, emptied: errors, and the decoder is unchanged.
    let f = &enc.fragments[2];
    for len in [0, 3, 4, 10, f.len() / 2, f.len() - 1] {
        assert!(d.push(&f[..len]).is_err(), "truncated to {len}");
    }
    for pos in (0..f.len()).step_by(7) {
        let mut bad = f.clone();
        bad[pos] ^= 0x10;
        assert!(d.push(&bad).is_err(), "flip at {pos}");
    }
    assert_eq!(d.push(&other.fragments[0]), Err(HoloError::OtherAsset));
    assert_eq!(d.push(&enc.fragments[1]).unwrap(), Pushed::Duplicate { index: 1 });
    assert_eq!(d.received_count(), 1);
    assert_eq!(d.reconstruct().unwrap(), before);
    for f in &enc.fragments {
        d.push(f).unwrap();
    }
    assert!(d.is_complete());
    assert!(HoloDecoder::new().reconstruct().is_err());
}

/// A named change to a file's or fragment's header bytes.
type Edit = Box<dyn Fn(&mut Vec<u8>)>;

/// Rebuilds a fragment with its header edited (and a valid checksum).
fn with_header(fragment: &[u8], edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let body = &fragment[..fragment.len() - 32];
    let hlen = u32::from_le_bytes(body[7..11].try_into().unwrap()) as usize;
    let mut header = body[11..11 + hlen].to_vec();
    edit(&mut header);
    let mut out = body[..7].to_vec();
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&body[11 + hlen..]);
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    out
}

#[test]
fn absurd_headers_with_valid_checksums_are_refused() {
    let asset = astronaut_small();
    let enc = encode(&asset, &opts(Encoding::RandomProjection, 4)).unwrap();
    let f = &enc.fragments[0];
    // Header layout: asset id (32), encoding (1), count (2), kind (1), width (4), height (4),
    // channels (1), params...
    let edits: Vec<(&str, Edit)> = vec![
        ("huge image", Box::new(|h: &mut Vec<u8>| h[36..40].copy_from_slice(&u32::MAX.to_le_bytes()))),
        ("zero width", Box::new(|h: &mut Vec<u8>| h[36..40].copy_from_slice(&0u32.to_le_bytes()))),
        ("seven channels", Box::new(|h: &mut Vec<u8>| h[44] = 7)),
        ("unknown encoding", Box::new(|h: &mut Vec<u8>| h[32] = 9)),
        ("zero fragments", Box::new(|h: &mut Vec<u8>| h[33..35].copy_from_slice(&0u16.to_le_bytes()))),
        ("unknown asset kind", Box::new(|h: &mut Vec<u8>| h[35] = 5)),
        (
            "params cut",
            Box::new(|h: &mut Vec<u8>| {
                let n = u32::from_le_bytes(h[45..49].try_into().unwrap());
                h[45..49].copy_from_slice(&(n + 1_000_000).to_le_bytes());
            }),
        ),
        ("block size 3", Box::new(|h: &mut Vec<u8>| h[49..53].copy_from_slice(&3u32.to_le_bytes()))),
        ("infinite step", Box::new(|h: &mut Vec<u8>| h[66..70].copy_from_slice(&f32::INFINITY.to_le_bytes()))),
    ];
    for (what, edit) in edits {
        let bad = with_header(f, edit);
        let mut d = HoloDecoder::new();
        assert!(d.push(&bad).is_err(), "{what} accepted");
        assert!(d.reconstruct().is_err());
    }
    // The unedited rebuild is accepted: the edits, not the rebuilding, are refused.
    assert!(HoloDecoder::new().push(&with_header(f, |_| {})).is_ok());
}

#[test]
fn store_keeps_identical_fragments_once_and_checks_bytes() {
    let asset = astronaut_small();
    let enc = encode(&asset, &opts(Encoding::Residual, 4)).unwrap();
    let mut store = MemStore::default();
    let m1 = Manifest::store(&enc, &mut store).unwrap();
    let m2 = Manifest::store(&enc, &mut store).unwrap();
    assert_eq!(m1, m2);
    assert_eq!(store.fragments.len(), 4);
    for (id, f) in m1.fragments.iter().zip(&enc.fragments) {
        assert_eq!(id, &haagenti_holo::Fragment::id(f));
        assert_eq!(&haagenti_holo::shard_path(id).unwrap()[..3], &format!("{}/", &id[..2]));
    }
    // A stored fragment whose bytes changed is not silently reused.
    let id = m1.fragments[0].clone();
    store.fragments.get_mut(&id).unwrap()[10] ^= 1;
    assert!(store.put(&enc.fragments[0]).is_err());
    // The manifest survives JSON, infinite PSNR (exact) included.
    let back = Manifest::from_json(&m1.to_json()).unwrap();
    assert_eq!(back.fragments, m1.fragments);
    assert_eq!(back.kind, m1.kind);
    assert!(back.curve.points.last().unwrap().quality.is_infinite());
    assert!(Manifest::from_json("{}").is_err());
}

#[test]
fn streaming_previews_follow_the_config() {
    let asset = photo("astronaut.png");
    let enc = encode(&asset, &opts(Encoding::Spectral, 8)).unwrap();
    // Every fragment a preview, RGBA, scaled to 128 on the long side.
    let mut s = StreamingDecoder::with_preview(PreviewConfig {
        preview_interval_ms: 0,
        min_quality: 0.0,
        max_preview_resolution: 128,
    });
    let mut frames = Vec::new();
    let rec = s.decode_with_previews(enc.fragments.iter().map(Vec::as_slice), |p| frames.push(p.clone())).unwrap();
    assert_eq!(frames.len(), 8);
    assert!(frames.iter().all(|f| (f.width, f.height, f.channels) == (128, 128, 4) && f.data.len() == 128 * 128 * 4));
    assert!(frames.windows(2).all(|w| w[1].quality >= w[0].quality && w[1].bytes_processed > w[0].bytes_processed));
    assert_eq!(rec, decode(&enc.fragments.iter().map(Vec::as_slice).collect::<Vec<_>>()));
    // A minimum quality and an interval hold previews back; the last fragment always makes one.
    let min = enc.header.curve.points[3].quality;
    let mut s = StreamingDecoder::with_preview(PreviewConfig {
        preview_interval_ms: 100,
        min_quality: min,
        max_preview_resolution: 512,
    });
    let mut got = Vec::new();
    for (i, f) in enc.fragments.iter().enumerate() {
        if let Some(p) = s.push(f, i as u64 * 40).unwrap() {
            got.push((i, p.quality));
        }
    }
    assert!(got.iter().all(|&(i, q)| i == 7 || q >= min), "{got:?}");
    assert!(got.windows(2).all(|w| w[1].0 * 40 - w[0].0 * 40 >= 100 || w[1].0 == 7), "{got:?}");
    assert_eq!(got.last().unwrap().0, 7);
    // A duplicate makes no preview.
    assert_eq!(s.push(&enc.fragments[0], 10_000).unwrap(), None);
}

#[test]
fn decoders_refuse_assets_over_their_limit() {
    let asset = astronaut_small();
    let enc = encode(&asset, &opts(Encoding::Spectral, 2)).unwrap();
    let Asset::Image { width, height, .. } = asset else { unreachable!() };
    let samples = u64::from(width) * u64::from(height) * 3;
    let mut d = HoloDecoder::new().with_max_samples(samples - 1);
    assert_eq!(d.push(&enc.fragments[0]), Err(HoloError::TooLarge { samples, limit: samples - 1 }));
    assert!(d.header().is_none());
    let mut d = HoloDecoder::new().with_max_samples(samples);
    assert!(d.push(&enc.fragments[0]).is_ok());
    let mut s = StreamingDecoder::with_preview(PreviewConfig::default()).with_max_samples(10);
    assert!(matches!(s.push(&enc.fragments[1], 0), Err(HoloError::TooLarge { .. })));
}

#[test]
fn empty_and_tiny_tensors_never_panic() {
    // An empty tensor is a valid asset; every encoding either encodes it (and decodes it back)
    // or says why not. So are single values and a shape of zeros.
    for shape in [vec![0u64], vec![3, 0], vec![1], vec![2, 3]] {
        let n: u64 = shape.iter().product();
        let data: Vec<u8> = (0..n).flat_map(|i| (i as f32 * 0.5 - 1.0).to_le_bytes()).collect();
        let asset = Asset::tensor(DType::F32, shape.clone(), data.clone()).unwrap();
        for e in Encoding::ALL {
            for fragments in [1, 2, 3] {
                let Ok(enc) = encode(&asset, &opts(e, fragments)) else { continue };
                let refs: Vec<&[u8]> = enc.fragments.iter().map(Vec::as_slice).collect();
                let Reconstruction::Tensor { values, shape: s, .. } = decode(&refs) else {
                    panic!("{e:?}: not a tensor")
                };
                assert_eq!((values.len() as u64, &s), (n, &shape), "{e:?} {fragments}");
            }
        }
    }
}

#[test]
fn bad_options_are_refused() {
    let asset = astronaut_small();
    assert!(encode(&asset, &opts(Encoding::Spectral, 65)).is_err());
    // 64 is the most: the coarse picture and one AC cell each.
    let enc = encode(&asset, &opts(Encoding::Spectral, 64)).unwrap();
    let refs: Vec<&[u8]> = enc.fragments.iter().map(Vec::as_slice).collect();
    assert!(quality(&asset, &decode(&refs)) >= enc.header.curve.points[0].quality);
    assert!(encode(&asset, &opts(Encoding::Residual, 9)).is_err());
    assert!(encode(&asset, &opts(Encoding::LowRank, 1)).is_err());
    assert!(encode(&asset, &opts(Encoding::Spectral, 0)).is_err());
    assert!(Asset::image(2, 2, 3, vec![0; 5]).is_err());
    assert!(Asset::image(2, 2, 2, vec![0; 8]).is_err());
    assert!(Asset::tensor(DType::I8, vec![2], vec![0; 2]).is_err());
    assert!(Asset::tensor(DType::F32, vec![1], f32::NAN.to_le_bytes().to_vec()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_corruption_is_refused_without_panics(edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..5), which in 0usize..4) {
        let enc = SMALL.with(|e| e.clone());
        let mut bad = enc.fragments[which].clone();
        for (pos, v) in &edits {
            let i = pos % bad.len();
            bad[i] = bad[i].wrapping_add(v | 1);
        }
        let mut d = HoloDecoder::new();
        prop_assert!(d.push(&bad).is_err());
    }
}

thread_local! {
    static SMALL: Encoded = encode(&astronaut_small(), &opts(Encoding::Spectral, 4)).unwrap();
}

#[test]
fn residual_weights_beat_one_shot_int4_and_int8_at_their_sizes() {
    let f32_file = minilm_safetensors();
    let st = safetensors::parse(&f32_file).unwrap();
    for name in ["encoder.layer.4.attention.output.dense.weight", "encoder.layer.1.intermediate.dense.weight"] {
        let t = st.tensors.iter().find(|t| t.name == name).unwrap();
        let values: Vec<f32> = t.data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        let asset = Asset::tensor(DType::F32, t.shape.clone(), t.data.to_vec()).unwrap();
        let enc = encode(&asset, &opts(Encoding::Residual, 8)).unwrap();
        let pts = residual_snr_curve(&asset);
        // Plain int4 (asymmetric) and int8 (symmetric), groups of 64, compressed by libzstd at
        // level 19: the one-shot reference points. Ours at the same size, linear in bytes
        // between fragments (each refinement is a bit per weight, 6 dB).
        for s in [haagenti_hct::QuantScheme::Int4 { group: 64 }, haagenti_hct::QuantScheme::Int8 { group: 64 }] {
            let (bytes, back) = quantized_reference(&values, s);
            let reference = snr(relative_l2(&values, &back));
            assert!(pts[0].0 < bytes, "{name}: the first fragment ({} bytes) is larger than {s:?} ({bytes})", pts[0].0);
            let ours = linear_at(&pts, bytes).unwrap();
            assert!(ours >= reference + 0.5, "{name}: {ours:.2} dB at {bytes} bytes, {s:?} {reference:.2} dB");
        }
        // The first fragment is the int4 quantizer (its scales rounded up to 11 bits).
        let (_, back) = quantized_reference(&values, haagenti_hct::QuantScheme::Int4 { group: 64 });
        let int4_snr = snr(relative_l2(&values, &back));
        assert!((pts[0].1 - int4_snr).abs() < 0.02, "{name}: first fragment {} dB, int4 {int4_snr} dB", pts[0].1);
        // Each refinement halves the error and costs one bit per weight.
        for w in enc.header.curve.points[..7].windows(2) {
            let ratio = w[1].relative_l2 / w[0].relative_l2;
            assert!((0.45..0.56).contains(&ratio), "error ratio {ratio}");
            let bits = (w[1].bytes - w[0].bytes) as f64 * 8.0 / values.len() as f64;
            assert!((0.99..1.05).contains(&bits), "{bits} bits per weight");
        }
    }
}

/// `push_spectral`'s updates, applied to zeros by the rule `SpectralUpdate` documents, give the
/// decoder's own coefficients after every fragment, in any order; other pushes give none.
#[test]
fn spectral_updates_rebuild_the_decoders_coefficients() {
    let asset = photo(PHOTOS[0]);
    let enc = encode(&asset, &opts(Encoding::Spectral, 6)).unwrap();
    for order in [[0usize, 1, 2, 3, 4, 5], [3, 5, 0, 1, 4, 2], [5, 4, 3, 2, 1, 0]] {
        let mut d = HoloDecoder::new();
        let mut planes: Vec<Vec<i32>> = Vec::new();
        for &i in &order {
            let (pushed, update) = d.push_spectral(&enc.fragments[i]).unwrap();
            assert_eq!(pushed, Pushed::Accepted { index: i as u16 });
            let u = update.expect("a spectral fragment gives an update");
            assert_eq!(usize::from(u.index), i);
            let parts = d.spectral_parts().unwrap();
            if planes.is_empty() {
                planes = parts.planes.iter().map(|p| vec![0; p.coefs.len()]).collect();
            }
            let mut b = 0;
            for plane in &mut planes {
                for blk in plane.chunks_exact_mut(64) {
                    if !u.dc.is_empty() {
                        blk[0] = u.dc[b];
                    }
                    for (j, &cell) in u.cells.iter().enumerate() {
                        let v = u.values[b * u.cells.len() + j];
                        blk[usize::from(cell)] = blk[usize::from(cell)].wrapping_add(v.wrapping_mul(u.scale));
                    }
                    b += 1;
                }
            }
            for (mine, p) in planes.iter().zip(&parts.planes) {
                assert_eq!(mine.as_slice(), p.coefs, "order {order:?}, after fragment {i}");
            }
        }
        let (pushed, update) = d.push_spectral(&enc.fragments[order[0]]).unwrap();
        assert!(matches!(pushed, Pushed::Duplicate { .. }) && update.is_none());
    }
    // Other encodings push as before and give no update.
    let enc = encode(&asset, &opts(Encoding::Residual, 3)).unwrap();
    let mut d = HoloDecoder::new();
    assert!(d.push_spectral(&enc.fragments[0]).unwrap().1.is_none());
}
