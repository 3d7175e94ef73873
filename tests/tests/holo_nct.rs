//! NCT stages as a HoloTensor encoding: the fragments carry exactly the NCT file the NCT
//! encoder writes (less its codebook), a prefix of fragments decodes as that file's first
//! stages, in any arrival order, and forged or broken fragments are refused.

use haagenti_hct::{DType, f32_to_bf16, safetensors};
use haagenti_holo::{
    Asset, EncodeOptions, Encoded, Encoding, Fragment, HoloDecoder, HoloError, PreviewConfig, Reconstruction,
    StreamingDecoder, encode,
};
use haagenti_nct::{NctEncoder, NctFile};
use haagenti_tests::{TestRng, read};

/// MiniLM's first query projection (384 x 384 f32), committed in tests/data.
fn minilm_query() -> (Vec<u64>, Vec<f32>) {
    let file = read("minilm-l0-query.safetensors");
    let st = safetensors::parse(&file).unwrap();
    let t = &st.tensors[0];
    assert_eq!(t.dtype, DType::F32);
    let values = t.data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    (t.shape.clone(), values)
}

fn f32_asset(shape: &[u64], values: &[f32]) -> Asset {
    Asset::tensor(DType::F32, shape.to_vec(), values.iter().flat_map(|v| v.to_le_bytes()).collect()).unwrap()
}

fn nct(bits: f32, fragments: u16) -> EncodeOptions {
    EncodeOptions { encoding: Encoding::Nct, fragments, bits, ..Default::default() }
}

fn values_of(r: &Reconstruction) -> &[f32] {
    match r {
        Reconstruction::Tensor { values, .. } => values,
        Reconstruction::Image { .. } => panic!("an image from a tensor"),
    }
}

fn snr_db(original: &[f32], approx: &[f32]) -> f64 {
    let (mut s, mut e) = (0.0f64, 0.0f64);
    for (&a, &b) in original.iter().zip(approx) {
        s += f64::from(a) * f64::from(a);
        e += f64::from(a - b) * f64::from(a - b);
    }
    10.0 * (s / e).log10()
}

fn payload_bytes(enc: &Encoded) -> usize {
    enc.fragments.iter().map(|f| Fragment::parse(f).unwrap().payload.len()).sum()
}

/// The NCT file the NCT encoder writes for the same tensor: the encoding's rule is `bits` plus
/// the codebook's 65536 bits spread over the weights, the tensor named "t", the asset's seed.
fn direct_file(shape: &[u64], values: &[f32], o: &EncodeOptions) -> Vec<u8> {
    let n: u64 = shape.iter().product();
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut enc = NctEncoder::new(haagenti_nct::EncodeOptions {
        bits: f64::from(o.bits) + 65536.0 / n as f64,
        seed: o.seed,
        ..Default::default()
    });
    enc.add_tensor("t", DType::F32, shape, &raw).unwrap();
    enc.finish(&mut |_, _| {}).unwrap()
}

#[test]
fn fragments_carry_the_nct_file_and_each_prefix_decodes_as_its_stages() {
    let (shape, values) = minilm_query();
    let n = values.len();
    let asset = f32_asset(&shape, &values);
    for bits in [2.0f32, 3.0, 4.0, 6.0] {
        let o = nct(bits, 8);
        let enc = encode(&asset, &o).unwrap();
        let direct = direct_file(&shape, &values, &o);
        let file = NctFile::parse(&direct).unwrap();
        assert_eq!(enc.fragments.len(), file.stage_count(), "{bits} b/w: a fragment a stage");
        // Every payload byte counted, the codebook left out: at or just under the rate.
        let rate = payload_bytes(&enc) as f64 * 8.0 / n as f64;
        assert!(rate <= f64::from(bits) + 1e-9 && rate > f64::from(bits) - 0.05, "{bits} b/w: payloads take {rate:.4}");

        let mut d = HoloDecoder::new();
        let mut last = f64::NEG_INFINITY;
        for (k, f) in enc.fragments.iter().enumerate() {
            d.push(f).unwrap();
            let got = d.reconstruct().unwrap();
            let want = file.decode_tensor("t", k + 1).unwrap();
            let got = values_of(&got);
            assert!(got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "{bits} b/w, {} stage(s)", k + 1);
            let snr = snr_db(&values, got);
            assert!(snr > last + 1.0, "{bits} b/w: stage {} at {snr:.2} dB after {last:.2}", k + 1);
            last = snr;
            // The curve stored at encode time is what this decoder gives.
            let cos = enc.header.curve.points[k].quality;
            assert!((cos - haagenti_holo::cosine(&values, got)).abs() < 1e-6, "{bits} b/w: curve point {k}");
            let parts = d.nct_parts().unwrap();
            assert_eq!(parts.stages, k + 1);
            assert_eq!(
                parts.file,
                &direct[..file.prefix_len(k + 1) as usize],
                "{bits} b/w: the file through stage {}",
                k + 1
            );
        }
        // Near what NCT reaches at that rate: 6.02 dB a bit less about 1-2 dB (docs/nct.md).
        let bound = 6.02 * f64::from(bits);
        assert!(last > bound - 3.0 && last < bound, "{bits} b/w: {last:.2} dB, bound {bound:.2}");
        eprintln!(
            "{bits} b/w: {} fragments, payloads {rate:.4} b/w, {last:.2} dB (bound {bound:.2})",
            enc.fragments.len()
        );
    }
}

#[test]
fn any_arrival_order_gives_the_in_order_result() {
    let (shape, values) = minilm_query();
    let asset = f32_asset(&shape, &values);
    // 5 bits: stages of 2, 2 and 1 bits.
    let enc = encode(&asset, &nct(5.0, 8)).unwrap();
    assert_eq!(enc.fragments.len(), 3);
    // At most `fragments` stages: 5 bits in 2 fragments take 2 and 3 bits.
    assert_eq!(encode(&asset, &nct(5.0, 2)).unwrap().fragments.len(), 2);
    let mut in_order = HoloDecoder::new();
    let mut prefixes = Vec::new();
    for f in &enc.fragments {
        in_order.push(f).unwrap();
        prefixes.push(values_of(&in_order.reconstruct().unwrap()).to_vec());
    }
    // Last first: nothing before fragment 0; then everything its run reaches.
    let mut d = HoloDecoder::new();
    d.push(&enc.fragments[2]).unwrap();
    assert!(values_of(&d.reconstruct().unwrap()).iter().all(|&v| v == 0.0));
    assert!(d.nct_parts().is_none());
    d.push(&enc.fragments[0]).unwrap();
    assert_eq!(values_of(&d.reconstruct().unwrap()), prefixes[0].as_slice(), "stage 2 missing: one stage");
    d.push(&enc.fragments[1]).unwrap();
    assert_eq!(values_of(&d.reconstruct().unwrap()), prefixes[2].as_slice(), "the waiting stage 3 joins");
    assert!(d.is_complete());
    // Duplicates change nothing.
    assert!(matches!(d.push(&enc.fragments[1]), Ok(haagenti_holo::Pushed::Duplicate { .. })));
}

#[test]
fn bf16_and_f16_tensors_come_back_in_their_dtype() {
    let mut rng = TestRng(7);
    let shape = vec![128u64, 256];
    let values: Vec<f32> = (0..128 * 256).map(|_| rng.gaussian() * 0.02).collect();
    for dtype in [DType::BF16, DType::F16] {
        let data: Vec<u8> = values
            .iter()
            .flat_map(|&v| match dtype {
                DType::BF16 => f32_to_bf16(v).to_le_bytes(),
                _ => haagenti_hct::f32_to_f16(v).to_le_bytes(),
            })
            .collect();
        let asset = Asset::tensor(dtype, shape.clone(), data).unwrap();
        let enc = encode(&asset, &nct(3.0, 8)).unwrap();
        let mut d = HoloDecoder::new();
        for f in &enc.fragments {
            d.push(f).unwrap();
        }
        let Reconstruction::Tensor { dtype: got, values: v, data, .. } = d.reconstruct().unwrap() else { panic!() };
        assert_eq!((got, data.len()), (dtype, values.len() * 2));
        let snr = snr_db(&values, &v);
        assert!(snr > 14.0, "{dtype:?}: {snr:.2} dB at 3 b/w");
    }
}

#[test]
fn previews_stream_stage_by_stage() {
    let (shape, values) = minilm_query();
    let enc = encode(&f32_asset(&shape, &values), &nct(4.0, 8)).unwrap();
    let mut s = StreamingDecoder::with_preview(PreviewConfig { max_preview_resolution: 64, ..Default::default() });
    let mut previews = Vec::new();
    let rec = s
        .decode_with_previews(enc.fragments.iter().map(Vec::as_slice), |p| previews.push((p.fragments, p.quality)))
        .unwrap();
    assert_eq!(previews.len(), enc.fragments.len());
    assert!(previews.windows(2).all(|w| w[1].1 > w[0].1), "{previews:?}");
    assert_eq!(values_of(&rec).len(), values.len());
}

#[test]
fn what_nct_cannot_take_is_refused_with_a_reason() {
    let (shape, values) = minilm_query();
    let asset = f32_asset(&shape, &values);
    let refused = |a: &Asset, o: &EncodeOptions| match encode(a, o) {
        Err(HoloError::InvalidInput(why)) => why,
        other => panic!("{o:?}: {other:?}"),
    };
    let image = Asset::image(64, 64, 1, vec![7; 64 * 64]).unwrap();
    assert!(refused(&image, &nct(4.0, 4)).contains("tensors"));
    assert!(!Encoding::Nct.applies_to(&image.kind()));
    let small = f32_asset(&[32, 64], &values[..2048]);
    assert!(refused(&small, &nct(4.0, 4)).contains("4096"));
    assert!(!Encoding::Nct.applies_to(&small.kind()));
    let odd = f32_asset(&[96, 100], &values[..9600]);
    assert!(refused(&odd, &nct(4.0, 4)).contains("multiple of 64"));
    assert!(Encoding::Nct.applies_to(&asset.kind()));
    for bits in [0.5, 8.5, f32::NAN] {
        assert!(refused(&asset, &nct(bits, 4)).contains("bits"), "{bits}");
    }
    // 8 bits in two stages would need 6 bits in the second.
    assert!(refused(&asset, &nct(8.0, 2)).contains("fragment"));
    // One fragment: one stage of the whole rate.
    let one = encode(&asset, &nct(2.5, 1)).unwrap();
    assert_eq!(one.fragments.len(), 1);
}

/// Fragment `i` rebuilt with a changed payload and a valid checksum (a forgery, not noise).
fn forged(fragment: &[u8], change: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let f = Fragment::parse(fragment).unwrap();
    let mut payload = f.payload.clone();
    change(&mut payload);
    // Same layout as Fragment::build: magic, version, index, header, payload, BLAKE3.
    let mut out = b"HOLO".to_vec();
    out.push(fragment[4]);
    out.extend_from_slice(&f.index.to_le_bytes());
    let put = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b);
    };
    let header_len = u32::from_le_bytes(fragment[7..11].try_into().unwrap()) as usize;
    put(&mut out, &fragment[11..11 + header_len]);
    put(&mut out, &payload);
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    assert!(Fragment::parse(&out).is_ok(), "the forgery parses");
    out
}

#[test]
fn forged_stages_are_refused_and_change_nothing() {
    let mut rng = TestRng(11);
    let shape = vec![64u64, 128];
    let values: Vec<f32> = (0..64 * 128).map(|_| rng.gaussian()).collect();
    let asset = f32_asset(&shape, &values);
    let enc = encode(&asset, &nct(5.0, 3)).unwrap();
    assert_eq!(enc.fragments.len(), 3);
    let len0 = Fragment::parse(&enc.fragments[0]).unwrap().payload.len();
    let len1 = Fragment::parse(&enc.fragments[1]).unwrap().payload.len();
    let mut bad_first = vec![
        forged(&enc.fragments[0], |p| p.truncate(p.len() - 1)),
        forged(&enc.fragments[0], |p| p.push(0)),
        forged(&enc.fragments[0], |p| p.truncate(20)),
        forged(&enc.fragments[0], |p| p.clear()),
    ];
    for at in (0..len0).step_by(7) {
        bad_first.push(forged(&enc.fragments[0], |p| p[at] ^= 0x10));
    }
    for f in &bad_first {
        let mut d = HoloDecoder::new();
        let fresh = format!("{d:?}");
        assert!(d.push(f).is_err());
        assert_eq!(format!("{d:?}"), fresh, "a refused first fragment left state behind");
    }
    let mut d = HoloDecoder::new();
    d.push(&enc.fragments[0]).unwrap();
    let before = format!("{d:?}");
    for at in (0..len1).step_by(5) {
        assert!(d.push(&forged(&enc.fragments[1], |p| p[at] ^= 1)).is_err(), "byte {at}");
    }
    assert!(d.push(&forged(&enc.fragments[1], |p| p.truncate(p.len() - 3))).is_err());
    assert!(d.push(&forged(&enc.fragments[1], |p| p.resize(1 << 20, 0))).is_err());
    assert_eq!(format!("{d:?}"), before);
    // Stage 3 before stage 2: checked against the directory on arrival.
    assert!(d.push(&forged(&enc.fragments[2], |p| p[0] ^= 1)).is_err());
    assert_eq!(format!("{d:?}"), before);
    d.push(&enc.fragments[2]).unwrap();
    d.push(&enc.fragments[1]).unwrap();
    assert_eq!(d.nct_parts().unwrap().stages, 3);
    // A forged stage 3 that came before fragment 0 could not be checked then: fragment 0's
    // directory finds it out, it is dropped and forgotten, and the genuine one is taken.
    let total: u64 = enc.fragments.iter().map(|f| f.len() as u64).sum();
    let mut d = HoloDecoder::new();
    let fake = forged(&enc.fragments[2], |p| p[0] ^= 1);
    assert_eq!(d.push(&fake).unwrap(), haagenti_holo::Pushed::Accepted { index: 2 });
    d.push(&enc.fragments[0]).unwrap();
    assert_eq!(d.received(), &[true, false, false], "the forgery is forgotten once fragment 0 exposes it");
    assert_eq!(d.bytes_received(), enc.fragments[0].len() as u64);
    d.push(&enc.fragments[1]).unwrap();
    assert_eq!(d.nct_parts().unwrap().stages, 2);
    assert_eq!(d.push(&enc.fragments[2]).unwrap(), haagenti_holo::Pushed::Accepted { index: 2 });
    assert_eq!(d.nct_parts().unwrap().stages, 3);
    assert!(d.is_complete());
    assert_eq!(d.bytes_received(), total);
    let mut whole = HoloDecoder::new();
    for f in &enc.fragments {
        whole.push(f).unwrap();
    }
    assert_eq!(values_of(&d.reconstruct().unwrap()), values_of(&whole.reconstruct().unwrap()));
}

/// Random bytes in place of a payload, with a valid checksum: refused or harmless, never a panic.
#[test]
fn random_payloads_never_panic() {
    let mut rng = TestRng(5);
    let shape = vec![64u64, 64];
    let values: Vec<f32> = (0..4096).map(|_| rng.gaussian()).collect();
    let enc = encode(&f32_asset(&shape, &values), &nct(5.0, 3)).unwrap();
    for round in 0..300 {
        let i = round % enc.fragments.len();
        let len = (rng.next_u64() % 4000) as usize;
        let junk: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        let f = forged(&enc.fragments[i], |p| *p = junk);
        let mut d = HoloDecoder::new();
        if i > 0 {
            d.push(&enc.fragments[0]).unwrap();
        }
        let pushed = d.push(&f);
        match d.reconstruct() {
            Ok(r) => assert_eq!(values_of(&r).len(), 4096),
            Err(e) => assert!(i == 0 && pushed.is_err() && e == HoloError::NoFragments, "{e}"),
        }
    }
}
