//! The byte layout: preamble, index and their checks (`docs/hct.md` has the tables).

use alloc::string::String;
use alloc::vec::Vec;

use xxhash_rust::xxh3::xxh3_64;

use crate::{DType, HctError, QuantScheme, Transform};

/// The first four bytes of every HCT file.
pub const MAGIC: [u8; 4] = [0x89, b'H', b'C', b'T'];
/// The format version this crate writes and reads.
pub const VERSION: u16 = 2;
/// Bytes of the fixed preamble at the start of the file.
pub const PREAMBLE_LEN: usize = 40;

/// How a block's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlockCodec {
    /// Stored as they are.
    Store,
    /// One zstd frame (Haagenti's own encoder and decoder).
    Zstd,
    /// One LZ4 block (no frame).
    Lz4,
}

impl BlockCodec {
    /// The code stored in the index.
    pub fn code(self) -> u8 {
        match self {
            BlockCodec::Store => 0,
            BlockCodec::Zstd => 1,
            BlockCodec::Lz4 => 2,
        }
    }

    /// The codec of an index code.
    pub fn from_code(code: u8) -> Option<Self> {
        [BlockCodec::Store, BlockCodec::Zstd, BlockCodec::Lz4].into_iter().find(|c| c.code() == code)
    }

    /// A short name, for tables.
    pub fn name(self) -> &'static str {
        match self {
            BlockCodec::Store => "store",
            BlockCodec::Zstd => "zstd",
            BlockCodec::Lz4 => "lz4",
        }
    }
}

/// Bounds a reader enforces before it allocates or reads anything they cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest index, in bytes (64 MiB by default).
    pub max_index_len: u64,
    /// Most tensors (1 M).
    pub max_tensors: u64,
    /// Most dimensions per tensor (16).
    pub max_rank: u8,
    /// Longest tensor name or metadata key, in bytes (4096).
    pub max_name_len: u64,
    /// Largest metadata value, in bytes (16 MiB).
    pub max_metadata_len: u64,
    /// Largest tensor payload, in bytes (64 GiB).
    pub max_tensor_bytes: u64,
    /// Largest block before compression, in bytes (256 MiB).
    pub max_block_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_index_len: 64 << 20,
            max_tensors: 1 << 20,
            max_rank: 16,
            max_name_len: 4096,
            max_metadata_len: 16 << 20,
            max_tensor_bytes: 64 << 30,
            max_block_size: 256 << 20,
        }
    }
}

/// Where one block lies in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockEntry {
    /// Offset of its stored bytes from the start of the file.
    pub offset: u64,
    /// Stored (compressed) length.
    pub stored_len: u64,
    /// XXH3-64 of the stored bytes.
    pub xxh3: u64,
}

/// One tensor's index entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Its name, unique in the file.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Dimensions, outermost first.
    pub shape: Vec<u64>,
    /// Codec of every block.
    pub codec: BlockCodec,
    /// Transform of every block.
    pub transform: Transform,
    /// The quantization of a [`DType::Q8`] or [`DType::Q4`] tensor.
    pub quant: Option<QuantScheme>,
    /// Payload bytes (plain: elements times element size; quantized: [`QuantScheme::payload_len`]).
    pub raw_len: u64,
    /// XXH3-64 of the whole payload.
    pub raw_xxh3: u64,
    /// Payload bytes per block (the last block may be shorter).
    pub block_size: u64,
    /// The blocks, in payload order.
    pub blocks: Vec<BlockEntry>,
}

impl TensorInfo {
    /// Number of elements (the product of the shape; 1 for a scalar).
    pub fn element_count(&self) -> u64 {
        self.shape.iter().product()
    }

    /// Stored bytes of all blocks.
    pub fn stored_len(&self) -> u64 {
        self.blocks.iter().map(|b| b.stored_len).sum()
    }

    /// Bytes per element the transform works on (1 for quantized payloads).
    pub fn width(&self) -> usize {
        self.dtype.size().max(1)
    }

    /// The payload byte range of block `i`.
    pub fn block_range(&self, i: usize) -> (u64, u64) {
        let start = i as u64 * self.block_size;
        (start, (start + self.block_size).min(self.raw_len))
    }
}

/// The decoded index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Index {
    pub metadata: Vec<(String, Vec<u8>)>,
    pub tensors: Vec<TensorInfo>,
}

/// The preamble: where the index is, and checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Preamble {
    pub index_offset: u64,
    pub index_len: u64,
    pub index_xxh3: u64,
}

impl Preamble {
    pub(crate) fn to_bytes(self) -> [u8; PREAMBLE_LEN] {
        let mut b = [0u8; PREAMBLE_LEN];
        b[..4].copy_from_slice(&MAGIC);
        b[4..6].copy_from_slice(&VERSION.to_le_bytes());
        // 6..8: flags, zero in version 2.
        b[8..16].copy_from_slice(&self.index_offset.to_le_bytes());
        b[16..24].copy_from_slice(&self.index_len.to_le_bytes());
        b[24..32].copy_from_slice(&self.index_xxh3.to_le_bytes());
        let sum = xxh3_64(&b[..32]);
        b[32..40].copy_from_slice(&sum.to_le_bytes());
        b
    }

    pub(crate) fn parse(b: &[u8], file_len: u64, limits: &Limits) -> Result<Self, HctError> {
        if b.len() < 4 || b[..4] != MAGIC {
            return Err(HctError::NotHct);
        }
        if b.len() < PREAMBLE_LEN {
            return Err(HctError::Truncated { what: "preamble" });
        }
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let version = u16::from_le_bytes([b[4], b[5]]);
        if version != VERSION {
            return Err(HctError::UnsupportedVersion(version));
        }
        if xxh3_64(&b[..32]) != u64_at(32) {
            return Err(HctError::Checksum { what: "preamble" });
        }
        if b[6..8] != [0, 0] {
            return Err(HctError::Corrupt { what: "preamble flags must be zero" });
        }
        let p = Preamble { index_offset: u64_at(8), index_len: u64_at(16), index_xxh3: u64_at(24) };
        if p.index_len > limits.max_index_len {
            return Err(HctError::Limit { what: "index length", value: p.index_len, limit: limits.max_index_len });
        }
        if p.index_offset < PREAMBLE_LEN as u64 {
            return Err(HctError::Corrupt { what: "index offset inside the preamble" });
        }
        match p.index_offset.checked_add(p.index_len) {
            Some(end) if end <= file_len => Ok(p),
            _ => Err(HctError::Truncated { what: "index" }),
        }
    }
}

/// Appends the index encoding of `index` to `out`.
pub(crate) fn write_index(index: &Index, out: &mut Vec<u8>) {
    let put_bytes = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        out.extend_from_slice(b);
    };
    out.extend_from_slice(&(index.metadata.len() as u64).to_le_bytes());
    for (k, v) in &index.metadata {
        put_bytes(out, k.as_bytes());
        put_bytes(out, v);
    }
    out.extend_from_slice(&(index.tensors.len() as u64).to_le_bytes());
    for t in &index.tensors {
        put_bytes(out, t.name.as_bytes());
        out.push(t.dtype.code());
        out.push(t.codec.code());
        out.push(t.transform.code());
        out.push(t.quant.map_or(0, QuantScheme::code));
        out.extend_from_slice(&t.quant.map_or(0, QuantScheme::group).to_le_bytes());
        out.push(t.shape.len() as u8);
        for d in &t.shape {
            out.extend_from_slice(&d.to_le_bytes());
        }
        out.extend_from_slice(&t.raw_len.to_le_bytes());
        out.extend_from_slice(&t.raw_xxh3.to_le_bytes());
        out.extend_from_slice(&t.block_size.to_le_bytes());
        out.extend_from_slice(&(t.blocks.len() as u64).to_le_bytes());
        for b in &t.blocks {
            out.extend_from_slice(&b.offset.to_le_bytes());
            out.extend_from_slice(&b.stored_len.to_le_bytes());
            out.extend_from_slice(&b.xxh3.to_le_bytes());
        }
    }
}

/// Reads fields from the index bytes, every read checked.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8], HctError> {
        let rest = (self.b.len() - self.pos) as u64;
        if n > rest {
            return Err(HctError::Truncated { what: "index" });
        }
        let s = &self.b[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, HctError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, HctError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64, HctError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    /// A length-prefixed byte string no longer than `limit`.
    fn bytes(&mut self, what: &'static str, limit: u64) -> Result<&'a [u8], HctError> {
        let n = self.u64()?;
        if n > limit {
            return Err(HctError::Limit { what, value: n, limit });
        }
        self.take(n)
    }

    fn string(&mut self, what: &'static str, limit: u64) -> Result<String, HctError> {
        let b = self.bytes(what, limit)?;
        core::str::from_utf8(b).map(String::from).map_err(|_| HctError::Corrupt { what: "name is not UTF-8" })
    }

    /// A count of items of at least `item_len` bytes each, checked against what is left.
    fn count(&mut self, what: &'static str, limit: u64, item_len: u64) -> Result<u64, HctError> {
        let n = self.u64()?;
        if n > limit {
            return Err(HctError::Limit { what, value: n, limit });
        }
        if n.saturating_mul(item_len) > (self.b.len() - self.pos) as u64 {
            return Err(HctError::Truncated { what: "index" });
        }
        Ok(n)
    }
}

/// Positions of the index entries in name order, for lookups by binary search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Lookup {
    pub tensors: Vec<usize>,
    pub metadata: Vec<usize>,
}

/// The positions `0..n` ordered by `key`, or `None` if two keys are equal. Sorting keeps
/// this O(n log n): an index may hold a million names.
pub(crate) fn sorted_unique<'a>(n: usize, key: impl Fn(usize) -> &'a str) -> Option<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| key(a).cmp(key(b)));
    order.windows(2).all(|w| key(w[0]) != key(w[1])).then_some(order)
}

/// Decodes and validates the index of a file whose data lies in
/// `PREAMBLE_LEN..index_offset`.
pub(crate) fn read_index(b: &[u8], index_offset: u64, limits: &Limits) -> Result<(Index, Lookup), HctError> {
    let mut c = Cursor { b, pos: 0 };
    // Counts are checked against the bytes left, so these reserves are bounded by the index.
    let meta_count = c.count("metadata entries", limits.max_tensors, 16)?;
    let mut metadata = Vec::with_capacity(meta_count as usize);
    for _ in 0..meta_count {
        let k = c.string("metadata key length", limits.max_name_len)?;
        let v = c.bytes("metadata value length", limits.max_metadata_len)?.to_vec();
        metadata.push((k, v));
    }
    let tensor_count = c.count("tensor count", limits.max_tensors, 8 + 8 + 1 + 8 + 8 + 8 + 8)?;
    let mut tensors = Vec::with_capacity(tensor_count as usize);
    for _ in 0..tensor_count {
        tensors.push(read_tensor(&mut c, limits)?);
    }
    if c.pos != b.len() {
        return Err(HctError::Corrupt { what: "bytes after the index's last tensor" });
    }
    let lookup = Lookup {
        metadata: sorted_unique(metadata.len(), |i| metadata[i].0.as_str())
            .ok_or(HctError::Corrupt { what: "duplicate metadata key" })?,
        tensors: sorted_unique(tensors.len(), |i| tensors[i].name.as_str())
            .ok_or(HctError::Corrupt { what: "duplicate tensor name" })?,
    };
    check_blocks(&tensors, index_offset)?;
    Ok((Index { metadata, tensors }, lookup))
}

fn read_tensor(c: &mut Cursor<'_>, limits: &Limits) -> Result<TensorInfo, HctError> {
    let name = c.string("tensor name length", limits.max_name_len)?;
    let dtype = DType::from_code(c.u8()?).ok_or(HctError::Corrupt { what: "unknown dtype" })?;
    let codec = BlockCodec::from_code(c.u8()?).ok_or(HctError::Corrupt { what: "unknown codec" })?;
    let transform = Transform::from_code(c.u8()?).ok_or(HctError::Corrupt { what: "unknown transform" })?;
    let (quant_code, group) = (c.u8()?, c.u32()?);
    let quant = match quant_code {
        0 if group == 0 => None,
        0 => return Err(HctError::Corrupt { what: "group size without quantization" }),
        code => Some(QuantScheme::from_code(code, group).ok_or(HctError::Corrupt { what: "unknown quantization" })?),
    };
    if quant.map(QuantScheme::dtype) != dtype.is_quantized().then_some(dtype) {
        return Err(HctError::Corrupt { what: "quantization does not match the dtype" });
    }
    let rank = c.u8()?;
    if rank > limits.max_rank {
        return Err(HctError::Limit { what: "rank", value: u64::from(rank), limit: u64::from(limits.max_rank) });
    }
    let mut shape = Vec::with_capacity(usize::from(rank));
    for _ in 0..rank {
        shape.push(c.u64()?);
    }
    let elements = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or(HctError::Corrupt { what: "shape's element count overflows" })?;
    let expected = match quant {
        Some(q) => q.payload_len(elements),
        None => elements.checked_mul(dtype.size() as u64),
    }
    .ok_or(HctError::Corrupt { what: "tensor size overflows" })?;
    let raw_len = c.u64()?;
    if raw_len != expected {
        return Err(HctError::Corrupt { what: "payload length does not match dtype and shape" });
    }
    if raw_len > limits.max_tensor_bytes {
        return Err(HctError::Limit { what: "tensor bytes", value: raw_len, limit: limits.max_tensor_bytes });
    }
    let raw_xxh3 = c.u64()?;
    let block_size = c.u64()?;
    if block_size == 0 || block_size > limits.max_block_size {
        return Err(HctError::Limit { what: "block size", value: block_size, limit: limits.max_block_size });
    }
    let width = dtype.size().max(1) as u64;
    if !block_size.is_multiple_of(width) {
        return Err(HctError::Corrupt { what: "block size is not a whole number of elements" });
    }
    let block_count = c.count("block count", raw_len.div_ceil(block_size), 24)?;
    if block_count != raw_len.div_ceil(block_size) {
        return Err(HctError::Corrupt { what: "block count does not cover the payload" });
    }
    let mut blocks = Vec::with_capacity(block_count as usize);
    for _ in 0..block_count {
        blocks.push(BlockEntry { offset: c.u64()?, stored_len: c.u64()?, xxh3: c.u64()? });
    }
    Ok(TensorInfo { name, dtype, shape, codec, transform, quant, raw_len, raw_xxh3, block_size, blocks })
}

/// Every block lies between the preamble and the index, and no two overlap.
fn check_blocks(tensors: &[TensorInfo], index_offset: u64) -> Result<(), HctError> {
    let mut spans: Vec<(u64, u64)> = Vec::new();
    for b in tensors.iter().flat_map(|t| &t.blocks) {
        let end = b.offset.checked_add(b.stored_len).ok_or(HctError::Corrupt { what: "block offset overflows" })?;
        if b.offset < PREAMBLE_LEN as u64 || end > index_offset {
            return Err(HctError::Corrupt { what: "block outside the data region" });
        }
        spans.push((b.offset, end));
    }
    spans.sort_unstable();
    if spans.windows(2).any(|w| w[1].0 < w[0].1) {
        return Err(HctError::Corrupt { what: "blocks overlap" });
    }
    Ok(())
}
