//! Forged files that declare huge tensors over a few stored bytes: reading them fails, and
//! allocates from the bytes present, never from the sizes the index declares. A counting
//! global allocator measures the peak of live heap bytes around each read.

use haagenti_hct::{DType, HctReaderV2, HctWriterV2, WriterOptions, safetensors};
use xxhash_rust::xxh3::xxh3_64;

include!("../../../fuzz/src/counting.rs");

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One tensor of a forged index, written field by field as docs/hct.md lays them out.
struct Forged {
    name: &'static str,
    dtype: DType,
    codec: u8,
    shape: Vec<u64>,
    raw_len: u64,
    block_size: u64,
    /// (offset, stored bytes) of each block.
    blocks: Vec<(u64, Vec<u8>)>,
}

/// A file of `data` at offset 40, then an index of `metadata` and `tensors`, checksums right.
fn forge(metadata: &[(&str, &[u8])], tensors: &[Forged], data: &[u8]) -> Vec<u8> {
    let put = |ix: &mut Vec<u8>, b: &[u8]| {
        ix.extend_from_slice(&(b.len() as u64).to_le_bytes());
        ix.extend_from_slice(b);
    };
    let mut ix = Vec::new();
    ix.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
    for (k, v) in metadata {
        put(&mut ix, k.as_bytes());
        put(&mut ix, v);
    }
    ix.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    for t in tensors {
        put(&mut ix, t.name.as_bytes());
        ix.extend_from_slice(&[t.dtype.code(), t.codec, 0, 0, 0, 0, 0, 0, t.shape.len() as u8]);
        t.shape.iter().for_each(|d| ix.extend_from_slice(&d.to_le_bytes()));
        for v in [t.raw_len, 0, t.block_size, t.blocks.len() as u64] {
            ix.extend_from_slice(&v.to_le_bytes());
        }
        for (offset, stored) in &t.blocks {
            for v in [*offset, stored.len() as u64, xxh3_64(stored)] {
                ix.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    let mut file = vec![0u8; 40];
    file.extend_from_slice(data);
    let index_offset = file.len() as u64;
    file.extend_from_slice(&ix);
    file[..4].copy_from_slice(&haagenti_hct::MAGIC);
    file[4..6].copy_from_slice(&haagenti_hct::VERSION.to_le_bytes());
    file[8..16].copy_from_slice(&index_offset.to_le_bytes());
    file[16..24].copy_from_slice(&(ix.len() as u64).to_le_bytes());
    file[24..32].copy_from_slice(&xxh3_64(&ix).to_le_bytes());
    let sum = xxh3_64(&file[..32]);
    file[32..40].copy_from_slice(&sum.to_le_bytes());
    file
}

const GIB: u64 = 1 << 30;
const BLOCK: u64 = 256 << 20;

/// A U8 tensor `name` of 1 GiB in four 256 MiB blocks of `codec`, each stored as `stored`,
/// placed one after another from `at` (a file offset).
fn gigabyte_tensor(name: &'static str, codec: u8, stored: &[u8], at: u64) -> Forged {
    let blocks = (0..4).map(|i| (at + i * stored.len() as u64, stored.to_vec())).collect();
    Forged { name, dtype: DType::U8, codec, shape: vec![GIB], raw_len: GIB, block_size: BLOCK, blocks }
}

/// Reads stay below this many bytes: the stored bytes here are a few hundred.
const SMALL: usize = 2 << 20;

#[test]
fn a_stored_tensor_declaring_a_gigabyte_over_a_few_bytes_allocates_little() {
    let stored = [7u8; 64];
    let file = forge(&[], &[gigabyte_tensor("t", 0, &stored, 40)], &stored.repeat(4));
    let r = HctReaderV2::open(&file[..]).expect("the index is valid");
    let (read, peak) = peak_during(|| r.read_tensor("t"));
    assert!(read.is_err(), "64 stored bytes cannot be a 1 GiB tensor");
    assert!(peak < SMALL, "reading 256 stored bytes held {peak} bytes");
}

#[test]
fn an_lz4_block_declaring_256_mib_over_a_few_bytes_allocates_little() {
    let stored = lz4_flex::block::compress(&[0u8; 4096]);
    let n = stored.len();
    let file = forge(&[], &[gigabyte_tensor("t", 2, &stored, 40)], &stored.repeat(4));
    let r = HctReaderV2::open(&file[..]).expect("the index is valid");
    let (read, peak) = peak_during(|| r.read_block("t", 0));
    assert!(read.is_err(), "{n} lz4 bytes cannot hold 256 MiB");
    assert!(peak < SMALL, "decoding {n} stored bytes held {peak} bytes");
    let (read, peak) = peak_during(|| r.read_tensor("t"));
    assert!(read.is_err());
    assert!(peak < SMALL, "reading {} stored bytes held {peak} bytes", 4 * n);
}

/// A zstd frame that declares 256 MiB of content and holds one RLE block of 1000 bytes.
fn lying_zstd_frame() -> Vec<u8> {
    let mut f = vec![0x28, 0xb5, 0x2f, 0xfd];
    // Single segment, 4-byte content size.
    f.push(0xa0);
    f.extend_from_slice(&(BLOCK as u32).to_le_bytes());
    // Last block, RLE, 1000 bytes of 0x55.
    let header = 1 | 1 << 1 | 1000 << 3;
    f.extend_from_slice(&(header as u32).to_le_bytes()[..3]);
    f.push(0x55);
    f
}

#[test]
fn a_zstd_frame_declaring_256_mib_allocates_from_its_stored_bytes() {
    let stored = lying_zstd_frame();
    let file = forge(&[], &[gigabyte_tensor("t", 1, &stored, 40)], &stored.repeat(4));
    let r = HctReaderV2::open(&file[..]).expect("the index is valid");
    // Zstd may expand 512 Ki-fold (a 4-byte RLE block gives up to 2 MiB): the reader reserves
    // that much for the frames present, and no more.
    let honest = |frames: usize| (frames * stored.len()) << 19;
    let (read, peak) = peak_during(|| r.read_block("t", 0));
    assert!(read.is_err(), "the frame holds 1000 bytes, not 256 MiB");
    assert!(peak < honest(1) + SMALL, "decoding a {}-byte frame held {peak} bytes", stored.len());
    let (read, peak) = peak_during(|| r.read_tensor("t"));
    assert!(read.is_err());
    assert!(peak < honest(4) + SMALL, "reading four {}-byte frames held {peak} bytes", stored.len());
}

#[test]
fn safetensors_export_of_a_forged_gigabyte_allocates_little() {
    let stored = [7u8; 64];
    let header = br#"{"t":{"dtype":"U8","shape":[1073741824],"data_offsets":[0,1073741824]}}"#;
    let file = forge(&[(safetensors::HEADER_KEY, header)], &[gigabyte_tensor("t", 0, &stored, 40)], &stored.repeat(4));
    let r = HctReaderV2::open(&file[..]).expect("the index is valid");
    let (out, peak) = peak_during(|| safetensors::unpack(&r));
    assert!(out.is_err(), "the tensor does not read");
    assert!(peak < SMALL, "exporting 256 stored bytes held {peak} bytes");
}

#[test]
fn an_honest_file_still_reads_and_exports_with_one_copy_of_its_data() {
    let data: Vec<u8> = (0..1u32 << 20).flat_map(|i| ((i as f32).sin()).to_le_bytes()).collect();
    let mut w = HctWriterV2::new(WriterOptions { block_size: 64 << 10, ..WriterOptions::default() });
    w.add_tensor("w", DType::F32, &[1 << 20], &data).unwrap();
    let file = w.finish();
    let r = HctReaderV2::open(&file[..]).unwrap();
    let (read, peak) = peak_during(|| r.read_tensor("w").unwrap());
    assert!(read == data);
    assert!(peak < data.len() + SMALL, "reading {} bytes held {peak}", data.len());
    let (out, peak) = peak_during(|| safetensors::unpack(&r).unwrap());
    assert!(out.ends_with(&data));
    assert!(peak < out.len() + data.len() + SMALL, "exporting {} bytes held {peak}", out.len());
}
