// The HCT fuzz oracles, shared by fuzz/fuzz_targets/hct_read.rs, hct_alloc.rs and the seed
// replay in tests/tests/hct.rs (all through `include!`, so this file has no inner attributes).

use haagenti_hct::{
    BlockCodec, DType, HctReaderV2, HctWriterV2, Limits, MAGIC, Transform, VERSION, WriterOptions, f32_values,
    safetensors,
};
use xxhash_rust::xxh3::xxh3_64;

/// Limits small enough that one run stays fast; the checks are the same at any size.
pub(crate) fn hct_fuzz_limits() -> Limits {
    Limits { max_tensor_bytes: 1 << 20, max_block_size: 256 << 10, ..Limits::default() }
}

/// `data` with a right magic, version, flags and both checksums of the preamble and index, so
/// that mutations get past them to the index fields and the blocks; `None` without a
/// preamble or with index bounds outside the data.
pub(crate) fn hct_with_checksums_fixed(data: &[u8]) -> Option<Vec<u8>> {
    let u64_at = |i: usize| u64::from_le_bytes(data[i..i + 8].try_into().unwrap());
    if data.len() < 40 {
        return None;
    }
    let (offset, len) = (u64_at(8), u64_at(16));
    let end = offset.checked_add(len)?;
    if offset < 40 || end > data.len() as u64 {
        return None;
    }
    let mut out = data.to_vec();
    out[..4].copy_from_slice(&MAGIC);
    out[4..6].copy_from_slice(&VERSION.to_le_bytes());
    out[6..8].fill(0);
    let sum = xxh3_64(&data[offset as usize..end as usize]);
    out[24..32].copy_from_slice(&sum.to_le_bytes());
    let sum = xxh3_64(&out[..32]);
    out[32..40].copy_from_slice(&sum.to_le_bytes());
    Some(out)
}

/// Bit patterns, so that NaNs compare by their bits.
pub(crate) fn hct_bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// Whatever opens under `limits` and reads back passes its checksums, and is what a writer
/// puts in a second file: every tensor that reads is re-written (quantized ones as their f32
/// values), the second file re-read, and each tensor, its f32 view, the metadata and the
/// safetensors export compared. Blocks read alone agree with the whole tensor.
pub(crate) fn hct_round_trip(file: &[u8], limits: Limits) {
    let Ok(r) = HctReaderV2::open_with_limits(file, limits) else { return };
    let codec = [BlockCodec::Store, BlockCodec::Zstd, BlockCodec::Lz4][file.len() % 3];
    let mut w = HctWriterV2::new(WriterOptions { codec, block_size: 4096, ..WriterOptions::default() });
    for (k, v) in r.metadata() {
        w.set_metadata(k, v);
    }
    let (mut all_read, mut quantized, mut written) = (true, false, Vec::new());
    for t in r.tensors() {
        let blocks: Vec<_> = (0..t.blocks.len() as u64).map(|i| r.read_block(&t.name, i)).collect();
        let Ok(bytes) = r.read_tensor(&t.name) else {
            all_read = false;
            continue;
        };
        assert_eq!(bytes.len() as u64, t.raw_len, "{}: a tensor read back at another length", t.name);
        assert_eq!(xxh3_64(&bytes), t.raw_xxh3, "{}: a tensor read back without its checksum", t.name);
        for (i, block) in blocks.iter().enumerate() {
            let (a, b) = t.block_range(i);
            let block = block.as_ref().expect("every block of a tensor that reads reads alone");
            assert!(block[..] == bytes[a as usize..b as usize], "{}: block {i} differs from the tensor's", t.name);
        }
        let f32s = r.read_f32(&t.name);
        if let Some(q) = t.quant {
            quantized = true;
            let values = f32s.expect("a quantized tensor that reads dequantizes");
            assert_eq!(values.len() as u64, t.element_count(), "{}: {q:?}", t.name);
            let f32_bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            w.add_tensor(&t.name, DType::F32, &t.shape, &f32_bytes).expect("its values are writable");
            written.push((t, DType::F32, f32_bytes, Some(values)));
        } else {
            let values = f32_values(t.dtype, &bytes);
            assert_eq!(f32s.ok().map(|v| hct_bits(&v)), values.as_deref().map(hct_bits), "{}", t.name);
            w.add_tensor(&t.name, t.dtype, &t.shape, &bytes).expect("a tensor that reads is writable");
            written.push((t, t.dtype, bytes, values));
        }
    }
    let second = w.finish();
    // Quantized tensors come back as f32, up to 8 times their payload.
    let wider = Limits { max_tensor_bytes: limits.max_tensor_bytes.saturating_mul(8), ..limits };
    let r2 = HctReaderV2::open_with_limits(&second[..], wider).expect("the writer's file opens");
    assert_eq!(r2.metadata(), r.metadata());
    assert_eq!(r2.tensors().len(), written.len());
    for ((t, dtype, bytes, values), t2) in written.iter().zip(r2.tensors()) {
        assert_eq!((&t2.name, t2.dtype, &t2.shape), (&t.name, *dtype, &t.shape));
        assert!(r2.read_tensor(&t.name).expect("re-read") == *bytes, "{}: re-written bytes differ", t.name);
        let again = r2.read_f32(&t.name).ok().map(|v| hct_bits(&v));
        assert_eq!(again, values.as_deref().map(hct_bits), "{}: re-written values differ", t.name);
    }
    if all_read && !quantized {
        let (a, b) = (safetensors::unpack(&r), safetensors::unpack(&r2));
        assert!(a.is_ok() && a == b, "the two files export differently");
    }
}

/// A safetensors file that parses packs into an HCT file that gives its tensors back and
/// exports to the same bytes (when the packed file is within the reader's limits).
pub(crate) fn hct_safetensors_round_trip(data: &[u8]) {
    let Ok(st) = safetensors::parse(data) else { return };
    let Ok(hct) = safetensors::pack(data, WriterOptions { block_size: 4096, ..WriterOptions::default() }) else {
        return;
    };
    let Ok(r) = HctReaderV2::open(&hct[..]) else { return };
    assert_eq!(r.tensors().len(), st.tensors.len());
    for t in &st.tensors {
        assert!(r.read_tensor(&t.name).expect("a packed tensor reads") == t.data, "{}", t.name);
    }
    assert!(safetensors::unpack(&r).expect("a packed file exports") == data, "export differs from the input");
}

/// Every transform inverts at every element width, on any bytes, both ways (the SSE2
/// interleaving loops run on blocks of 16 elements and scalar code on the tails).
pub(crate) fn hct_transforms_invert(data: &[u8]) {
    let Some((&sel, bytes)) = data.split_first() else { return };
    let t = Transform::ALL[usize::from(sel % 3)];
    let width = [1, 2, 4, 8][usize::from(sel / 3 % 4)];
    let bytes = &bytes[..bytes.len() / width * width];
    let planes = t.forward(width, bytes);
    let mut back = vec![sel];
    t.inverse(width, &planes, &mut back);
    assert!(back[1..] == *bytes, "{t:?} width {width}: inverse(forward(x)) != x");
    let mut inverse = Vec::new();
    t.inverse(width, bytes, &mut inverse);
    assert!(t.forward(width, &inverse) == bytes, "{t:?} width {width}: forward(inverse(x)) != x");
}

/// The `hct_read` target: `data` as a transform input, as an HCT file as it is and with its
/// checksums fixed, and (when small) as a safetensors file.
pub(crate) fn hct_read(data: &[u8]) {
    hct_transforms_invert(data);
    hct_round_trip(data, hct_fuzz_limits());
    if let Some(fixed) = hct_with_checksums_fixed(data) {
        hct_round_trip(&fixed, hct_fuzz_limits());
    }
    if data.len() < 1 << 16 {
        hct_safetensors_round_trip(data);
    }
}
