//! HCT on real weights: bit-exact round trips of MiniLM in f32, bf16 and f16, random access,
//! quantization bounds, and corrupted files (truncated, bit-flipped, wrong checksums, absurd
//! shapes) that give errors, never panics or wrong data.

use haagenti_hct::{
    BlockCodec, DType, HctError, HctReaderV2, HctWriterV2, Limits, QuantScheme, Transform, WriterOptions, safetensors,
};
use haagenti_tests::{minilm_safetensors, safetensors_converted};
use proptest::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

/// Packs, checks every tensor and block against the source, and unpacks to the same bytes.
fn round_trip(file: &[u8], opts: WriterOptions) -> Vec<u8> {
    let hct = safetensors::pack(file, opts).expect("pack");
    let r = HctReaderV2::open(&hct[..]).expect("open");
    let st = safetensors::parse(file).expect("source");
    assert_eq!(r.tensors().len(), st.tensors.len());
    for t in &st.tensors {
        let info = r.tensor(&t.name).expect("tensor");
        assert_eq!((info.dtype, &info.shape), (t.dtype, &t.shape), "{}", t.name);
        assert!(r.read_tensor(&t.name).expect("read") == t.data, "{}: payload differs", t.name);
        // Random access: the last block alone.
        let last = info.blocks.len() as u64 - 1;
        let (a, b) = info.block_range(last as usize);
        assert!(r.read_block(&t.name, last).expect("block") == t.data[a as usize..b as usize], "{}", t.name);
    }
    let back = safetensors::unpack(&r).expect("unpack");
    assert!(back == file, "unpacked file differs from the original");
    hct
}

#[test]
fn minilm_round_trips_bit_exactly_in_f32_bf16_and_f16() {
    let f32_file = minilm_safetensors();
    let total: usize = 90_856_960;
    for (name, file) in [
        ("f32", f32_file.clone()),
        ("bf16", safetensors_converted(&f32_file, "BF16")),
        ("f16", safetensors_converted(&f32_file, "F16")),
    ] {
        let hct = round_trip(&file, WriterOptions::default());
        // Lossless and smaller than the input: the transforms pay on real weights.
        assert!(hct.len() < file.len() * 9 / 10, "{name}: {} of {}", hct.len(), file.len());
        let r = HctReaderV2::open(&hct[..]).unwrap();
        assert!(r.tensors().iter().any(|t| t.transform == Transform::SignExpPlanes), "{name}");
        let raw: u64 = r.tensors().iter().map(|t| t.raw_len).sum();
        let source: usize = safetensors::parse(&file).unwrap().tensors.iter().map(|t| t.data.len()).sum();
        assert_eq!(raw as usize, source, "{name}");
        if name == "f32" {
            assert_eq!(source, total);
        }
    }
}

#[test]
fn every_codec_and_transform_round_trips() {
    // One large matrix and the small tensors around it, in bf16, with small blocks.
    let f32_file = minilm_safetensors();
    let st = safetensors::parse(&f32_file).unwrap();
    let mut w = HctWriterV2::new(WriterOptions::default());
    for t in st.tensors.iter().filter(|t| t.name.starts_with("encoder.layer.0.")) {
        w.add_tensor(&t.name, t.dtype, &t.shape, t.data).unwrap();
    }
    let small = safetensors::unpack(&HctReaderV2::open(&w.finish()[..]).unwrap()).unwrap();
    for file in [small.clone(), safetensors_converted(&small, "BF16")] {
        for codec in [BlockCodec::Zstd, BlockCodec::Lz4, BlockCodec::Store] {
            for transform in [None, Some(Transform::None), Some(Transform::BytePlanes), Some(Transform::SignExpPlanes)]
            {
                round_trip(&file, WriterOptions { codec, level: 1, block_size: 100_000, transform });
            }
        }
    }
}

#[test]
fn read_f32_converts_bf16_and_f16_exactly() {
    let f32_file = minilm_safetensors();
    let st = safetensors::parse(&f32_file).unwrap();
    let t = st.tensors.iter().find(|t| t.name.ends_with("attention.self.query.weight")).unwrap();
    let values: Vec<f32> = t.data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    for (dtype, conv) in
        [(DType::BF16, haagenti_tests::f32_to_bf16 as fn(f32) -> u16), (DType::F16, haagenti_tests::f32_to_f16)]
    {
        let bytes: Vec<u8> = values.iter().flat_map(|&v| conv(v).to_le_bytes()).collect();
        let mut w = HctWriterV2::new(WriterOptions::default());
        w.add_tensor("q", dtype, &t.shape, &bytes).unwrap();
        let file = w.finish();
        let back = HctReaderV2::open(&file[..]).unwrap().read_f32("q").unwrap();
        for (v, b) in values.iter().zip(&back) {
            // Exactly the converted value: round trip through the 16-bit form is the identity.
            assert_eq!(conv(*b), conv(*v));
            let tol = if dtype == DType::BF16 { 2f32.powi(-8) } else { 2f32.powi(-11) };
            assert!((v - b).abs() <= v.abs() * tol + 6e-8, "{dtype:?}: {v} -> {b}");
        }
    }
}

#[test]
fn half_precision_conversions_invert_the_reader() {
    for h in 0..=u16::MAX {
        let f = haagenti_hct::f16_to_f32(h);
        if f.is_nan() {
            assert!(haagenti_tests::f32_to_f16(f) & 0x7c00 == 0x7c00);
        } else {
            assert_eq!(haagenti_tests::f32_to_f16(f), h, "{h:#06x}");
        }
        let b = f32::from_bits(u32::from(h) << 16);
        if !b.is_nan() {
            assert_eq!(haagenti_tests::f32_to_bf16(b), h);
        }
    }
}

#[test]
fn quantized_weights_stay_within_their_group_bounds() {
    let f32_file = minilm_safetensors();
    let st = safetensors::parse(&f32_file).unwrap();
    let t = st.tensors.iter().find(|t| t.name.ends_with("intermediate.dense.weight")).unwrap();
    let values: Vec<f32> = t.data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    for scheme in [QuantScheme::Int8 { group: 64 }, QuantScheme::Int4 { group: 32 }] {
        let mut w = HctWriterV2::new(WriterOptions::default());
        w.add_quantized("w", &t.shape, &values, scheme).unwrap();
        let file = w.finish();
        let r = HctReaderV2::open(&file[..]).unwrap();
        let info = r.tensor("w").unwrap();
        assert_eq!((info.dtype, info.quant), (scheme.dtype(), Some(scheme)));
        let back = r.read_f32("w").unwrap();
        let g = scheme.group() as usize;
        let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
        for (a, b) in values.chunks(g).zip(back.chunks(g)) {
            let (lo, hi) = a.iter().fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
            let bound = match scheme {
                QuantScheme::Int8 { .. } => lo.abs().max(hi.abs()) / 127.0 / 2.0,
                QuantScheme::Int4 { .. } => (hi - lo) / 15.0,
            };
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() <= bound * 1.0001 + 1e-9, "{scheme:?}: {x} -> {y} (bound {bound})");
                dot += f64::from(*x) * f64::from(*y);
                na += f64::from(*x).powi(2);
                nb += f64::from(*y).powi(2);
            }
        }
        let cosine = dot / (na.sqrt() * nb.sqrt());
        let floor = if matches!(scheme, QuantScheme::Int8 { .. }) { 0.9999 } else { 0.99 };
        assert!(cosine > floor, "{scheme:?}: cosine {cosine}");
    }
}

/// A small real file with many blocks: two MiniLM tensors in 16 KiB blocks.
fn small_file() -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let f32_file = minilm_safetensors();
    let st = safetensors::parse(&f32_file).unwrap();
    let mut w = HctWriterV2::new(WriterOptions { block_size: 16 << 10, ..WriterOptions::default() });
    w.set_metadata("note", b"test");
    let mut originals = Vec::new();
    for t in st.tensors.iter().filter(|t| t.name.starts_with("encoder.layer.1.attention.self.query")) {
        w.add_tensor(&t.name, t.dtype, &t.shape, t.data).unwrap();
        originals.push((t.name.clone(), t.data.to_vec()));
    }
    (w.finish(), originals)
}

/// Opens and reads everything; any success must give the original bytes.
fn read_everything(file: &[u8], originals: &[(String, Vec<u8>)]) -> Result<(), HctError> {
    let r = HctReaderV2::open(file)?;
    for (name, data) in originals {
        let got = r.read_tensor(name)?;
        assert!(&got == data, "{name}: a corrupted file decoded to different bytes without an error");
        let _ = r.read_f32(name)?;
    }
    Ok(())
}

#[test]
fn truncated_files_are_refused() {
    let (file, originals) = small_file();
    read_everything(&file, &originals).expect("the intact file reads");
    for len in (0..file.len()).step_by(97).chain([1, 3, 4, 39, 40, 41, file.len() - 1]) {
        assert!(read_everything(&file[..len], &originals).is_err(), "truncated to {len} bytes and still read");
    }
}

#[test]
fn bit_flips_are_detected() {
    let (file, originals) = small_file();
    // Every bit of the preamble and the index, and a spread of bits in the blocks.
    let index_offset = u64::from_le_bytes(file[8..16].try_into().unwrap()) as usize;
    let positions = (0..40).chain(index_offset..file.len()).chain((40..index_offset).step_by(331));
    for pos in positions {
        for bit in 0..8 {
            let mut bad = file.clone();
            bad[pos] ^= 1 << bit;
            assert!(read_everything(&bad, &originals).is_err(), "flip of bit {bit} at {pos} went unnoticed");
        }
    }
}

/// A named change to a file's index bytes.
type Edit = Box<dyn Fn(&mut Vec<u8>)>;

/// Rewrites the index through `edit` and fixes both checksums, so only the validation of
/// the fields themselves stands between the reader and the edited values.
fn with_index(file: &[u8], edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let index_offset = u64::from_le_bytes(file[8..16].try_into().unwrap()) as usize;
    let mut index = file[index_offset..].to_vec();
    edit(&mut index);
    let mut out = file[..index_offset].to_vec();
    out.extend_from_slice(&index);
    out[16..24].copy_from_slice(&(index.len() as u64).to_le_bytes());
    out[24..32].copy_from_slice(&xxh3_64(&index).to_le_bytes());
    let sum = xxh3_64(&out[..32]);
    out[32..40].copy_from_slice(&sum.to_le_bytes());
    out
}

/// Offset in the index of the first tensor's fields after its shape: raw length, then raw
/// checksum (+8), block size (+16), block count (+24), first block's offset (+32), stored
/// length (+40) and checksum (+48).
fn after_shape(index: &[u8]) -> usize {
    let at = first_rank_offset(index);
    at + 1 + 8 * usize::from(index[at])
}

/// Offset in the index of the first tensor's rank byte (after metadata "note" = "test").
fn first_rank_offset(index: &[u8]) -> usize {
    // metadata count, key, value, tensor count, name, dtype/codec/transform/quant, group.
    let mut at = 8 + 8 + 4 + 8 + 4 + 8;
    let name_len = u64::from_le_bytes(index[at..at + 8].try_into().unwrap()) as usize;
    at += 8 + name_len + 4 + 4;
    at
}

#[test]
fn absurd_fields_with_valid_checksums_are_refused() {
    let (file, originals) = small_file();
    let edits: Vec<(&str, Edit)> = vec![
        (
            "rank 255",
            Box::new(|ix: &mut Vec<u8>| {
                let at = first_rank_offset(ix);
                ix[at] = 255;
            }),
        ),
        (
            "huge dimension",
            Box::new(|ix: &mut Vec<u8>| {
                let at = first_rank_offset(ix) + 1;
                ix[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
            }),
        ),
        (
            "dimension zero",
            Box::new(|ix: &mut Vec<u8>| {
                let at = first_rank_offset(ix) + 1;
                ix[at..at + 8].copy_from_slice(&0u64.to_le_bytes());
            }),
        ),
        (
            "unknown dtype",
            Box::new(|ix: &mut Vec<u8>| {
                let at = first_rank_offset(ix) - 8;
                ix[at] = 200;
            }),
        ),
        (
            "tensor count 2^40",
            Box::new(|ix: &mut Vec<u8>| {
                let at = 8 + 8 + 4 + 8 + 4;
                ix[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
            }),
        ),
        (
            "metadata key length 2^60",
            Box::new(|ix: &mut Vec<u8>| ix[8..16].copy_from_slice(&(1u64 << 60).to_le_bytes())),
        ),
        (
            "block size 0",
            Box::new(|ix: &mut Vec<u8>| {
                let at = after_shape(ix) + 16;
                ix[at..at + 8].copy_from_slice(&0u64.to_le_bytes());
            }),
        ),
        (
            "block count 0",
            Box::new(|ix: &mut Vec<u8>| {
                let at = after_shape(ix) + 24;
                ix[at..at + 8].copy_from_slice(&0u64.to_le_bytes());
            }),
        ),
        (
            "raw length off by one",
            Box::new(|ix: &mut Vec<u8>| {
                let at = after_shape(ix);
                ix[at] ^= 1;
            }),
        ),
        (
            "block outside the file",
            Box::new(|ix: &mut Vec<u8>| {
                let at = after_shape(ix) + 32;
                ix[at..at + 8].copy_from_slice(&(u64::MAX - 4).to_le_bytes());
            }),
        ),
        ("trailing bytes", Box::new(|ix: &mut Vec<u8>| ix.push(0))),
    ];
    for (what, edit) in edits {
        let bad = with_index(&file, edit);
        let err = read_everything(&bad, &originals).expect_err(what);
        assert!(
            matches!(err, HctError::Corrupt { .. } | HctError::Limit { .. } | HctError::Truncated { .. }),
            "{what}: {err}"
        );
    }
    // Wrong checksums, each on its own.
    let mut bad = file.clone();
    bad[24] ^= 1;
    let sum = xxh3_64(&bad[..32]);
    bad[32..40].copy_from_slice(&sum.to_le_bytes());
    assert_eq!(HctReaderV2::open(&bad[..]).unwrap_err(), HctError::Checksum { what: "index" });
    let edited = with_index(&file, |ix| {
        // The first block's stored checksum.
        let at = after_shape(ix) + 48;
        ix[at] ^= 0xff;
    });
    assert_eq!(read_everything(&edited, &originals).unwrap_err(), HctError::Checksum { what: "block" });
    // Limits are applied before anything is allocated.
    let tight = Limits { max_tensors: 1, ..Limits::default() };
    assert!(matches!(HctReaderV2::open_with_limits(&file[..], tight), Err(HctError::Limit { .. })));
    assert_eq!(HctReaderV2::open(&b"not an hct file at all, just text........"[..]).unwrap_err(), HctError::NotHct);
}

#[test]
fn writer_refuses_bad_input() {
    let mut w = HctWriterV2::new(WriterOptions::default());
    assert!(w.add_tensor("a", DType::F32, &[3], &[0; 8]).is_err(), "wrong length");
    assert!(w.add_tensor("q", DType::Q8, &[1], &[0; 5]).is_err(), "quantized through add_tensor");
    assert!(w.add_quantized("n", &[2], &[1.0, f32::INFINITY], QuantScheme::Int8 { group: 8 }).is_err());
    w.add_tensor("a", DType::U8, &[2], &[1, 2]).unwrap();
    assert!(w.add_tensor("a", DType::U8, &[2], &[1, 2]).is_err(), "duplicate name");
    // Scalars and empty tensors are fine.
    w.add_tensor("scalar", DType::F32, &[], &1.5f32.to_le_bytes()).unwrap();
    w.add_tensor("empty", DType::F32, &[0, 5], &[]).unwrap();
    let file = w.finish();
    let r = HctReaderV2::open(&file[..]).unwrap();
    assert_eq!(r.read_f32("scalar").unwrap(), [1.5]);
    assert!(r.read_tensor("empty").unwrap().is_empty());
    assert!(matches!(r.read_tensor("missing"), Err(HctError::NoSuchTensor(_))));
    assert!(matches!(r.read_block("a", 1), Err(HctError::NoSuchBlock { .. })));
}

#[test]
fn safetensors_that_break_the_format_are_refused() {
    let header = |h: &str| {
        let mut f = (h.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(h.as_bytes());
        f
    };
    let mut holey = header(r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#);
    holey.extend_from_slice(&[0, 1, 2]);
    let mut bad_len = header(r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#);
    bad_len.extend_from_slice(&[0; 4]);
    for (what, f) in [
        ("empty", Vec::new()),
        ("huge header", u64::MAX.to_le_bytes().to_vec()),
        ("not json", header("{nope")),
        ("unknown dtype", header(r#"{"a":{"dtype":"F128","shape":[],"data_offsets":[0,0]}}"#)),
        ("hole", holey),
        ("length", bad_len),
    ] {
        assert!(safetensors::pack(&f, WriterOptions::default()).is_err(), "{what}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_corruption_never_panics_or_lies(edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let (file, originals) = SMALL.with(|s| s.clone());
        let mut bad = file.clone();
        for (pos, v) in &edits {
            let i = pos % bad.len();
            bad[i] = bad[i].wrapping_add(v | 1);
        }
        prop_assert!(read_everything(&bad, &originals).is_err());
    }
}

thread_local! {
    static SMALL: (Vec<u8>, Vec<(String, Vec<u8>)>) = small_file();
}

/// The oracles of the `hct_read` and `hct_alloc` fuzz targets.
mod fuzz_oracles {
    include!("../../fuzz/fuzz_targets/hct_common.rs");
}

#[test]
fn fuzz_oracles_hold_on_the_seeds_and_their_mutations() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/hct_read");
    let mut seeds: Vec<_> =
        std::fs::read_dir(&dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
    seeds.push(small_file().0);
    for seed in &seeds {
        fuzz_oracles::hct_read(seed);
        // Byte changes everywhere (the oracle also tries each with its checksums fixed, so
        // the changes reach the index fields and blocks), and truncations.
        for pos in (0..seed.len()).step_by(seed.len() / 256 + 1) {
            let mut bad = seed.clone();
            bad[pos] = bad[pos].wrapping_add(0x35);
            fuzz_oracles::hct_read(&bad);
            fuzz_oracles::hct_read(&seed[..pos]);
        }
    }
    // Tails of every length after whole 16-element vector groups, at every width.
    for len in 0..200 {
        for sel in 0..12u8 {
            let data: Vec<u8> = std::iter::once(sel).chain((0..len).map(|i| (i * 37 % 251) as u8)).collect();
            fuzz_oracles::hct_transforms_invert(&data);
        }
    }
}
