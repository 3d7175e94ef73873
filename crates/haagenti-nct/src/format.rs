//! The byte layout (docs/nct.md is the specification): a 64-byte header, the tensor
//! directory, the codebook, the base section (exact tensors and row scales), then one section
//! a stage. All integers little-endian; sections start at multiples of 8.

use crate::codebook::Codebook;
use crate::error::NctError;
use crate::trellis::STATE_BITS;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use haagenti_hct::DType;
use xxhash_rust::xxh3::xxh3_64;

/// The first four bytes of every NCT file.
pub const MAGIC: [u8; 4] = *b"NCT\x1a";
/// The format version this crate reads and writes.
pub const VERSION: u16 = 1;
/// Bytes in the header.
pub const HEADER_LEN: usize = 64;
/// Bytes of the codebook section.
pub(crate) const CODEBOOK_BYTES: usize = Codebook::LEN * 2;
/// Smallest and largest group (Hadamard and trellis block) sizes, as powers of two.
pub(crate) const GROUP_LOG2: core::ops::RangeInclusive<u8> = 3..=8;
/// Largest stage multiplier.
pub(crate) const MAX_MULTIPLIER: u32 = 1 << 15;
/// Longest tensor name, in bytes.
pub const MAX_NAME_LEN: usize = 1024;
/// Most dimensions a tensor may have.
pub const MAX_NDIM: usize = 8;

pub(crate) const KIND_EXACT: u8 = 0;
pub(crate) const KIND_TRELLIS: u8 = 1;

/// Rounds up to a multiple of 8.
pub(crate) fn align8(n: u64) -> u64 {
    n.div_ceil(8) * 8
}

/// What a reader accepts; every size is checked against these before anything is allocated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most tensors in a file.
    pub max_tensors: u32,
    /// Most stages in a file.
    pub max_stages: u32,
    /// Largest directory, in bytes.
    pub max_directory_bytes: u64,
    /// Most elements one decoded tensor may have (its `Vec<f32>` is 4 bytes each).
    pub max_tensor_elements: u64,
}

impl Default for Limits {
    /// 2^20 tensors, 16 stages, a 256 MiB directory, 2^31 elements a tensor (8 GiB of f32).
    fn default() -> Self {
        Self { max_tensors: 1 << 20, max_stages: 16, max_directory_bytes: 256 << 20, max_tensor_elements: 1 << 31 }
    }
}

/// One stage of a quantized tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageEntry {
    /// Bits of one block (a multiple of 8, from the group size to three times it).
    pub block_bits: u32,
    /// The stage multiplier `M`: window values are `(entry * M) >> 11`.
    pub multiplier: u32,
    /// Offset of the tensor's blocks in the file.
    pub offset: u64,
    /// xxh3-64 of those blocks.
    pub hash: u64,
}

/// A tensor's directory entry.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorEntry {
    pub(crate) name: String,
    pub(crate) dtype: DType,
    pub(crate) kind: u8,
    pub(crate) group_log2: u8,
    pub(crate) shape: Vec<u64>,
    pub(crate) base_offset: u64,
    pub(crate) base_len: u64,
    pub(crate) base_hash: u64,
    pub(crate) seed: u64,
    pub(crate) scale: f32,
    pub(crate) stages: Vec<StageEntry>,
}

impl TensorEntry {
    /// The tensor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The dtype of the source tensor.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The shape of the source tensor.
    pub fn shape(&self) -> &[u64] {
        &self.shape
    }

    /// Number of elements.
    pub fn numel(&self) -> u64 {
        self.shape.iter().product()
    }

    /// Whether the tensor is trellis-coded (otherwise it is stored exactly).
    pub fn is_quantized(&self) -> bool {
        self.kind == KIND_TRELLIS
    }

    /// Rows of the 2-D view the codes use (the first dimension).
    pub fn rows(&self) -> u64 {
        self.shape.first().copied().unwrap_or(1)
    }

    /// Columns of the 2-D view (the product of the other dimensions).
    pub fn cols(&self) -> u64 {
        self.shape.iter().skip(1).product()
    }

    /// Weights in a Hadamard group and trellis block (quantized tensors only; else 0).
    pub fn group(&self) -> usize {
        if self.is_quantized() { 1 << self.group_log2 } else { 0 }
    }

    /// Bits a weight of each stage (empty for exact tensors).
    pub fn stage_bits(&self) -> Vec<f64> {
        let g = self.group() as f64;
        self.stages.iter().map(|s| s.block_bits as f64 / g).collect()
    }

    /// The stages' directory entries.
    pub fn stage_entries(&self) -> &[StageEntry] {
        &self.stages
    }

    /// The tensor's per-stage seed of the rotation signs.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The base scale of its rows.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// Bytes of one stage's blocks.
    pub(crate) fn stage_len(&self, s: &StageEntry) -> u64 {
        let blocks = self.rows() * (self.cols() >> self.group_log2);
        blocks * (s.block_bits as u64 / 8)
    }

    /// Bytes this tensor takes in a file decoded to `k` stages: its base bytes and its blocks
    /// of the first `k` stages (directory and codebook not included).
    pub fn stored_bytes(&self, k: usize) -> u64 {
        self.base_len + self.stages.iter().take(k).map(|s| self.stage_len(s)).sum::<u64>()
    }

    /// Bytes of this tensor's directory entry.
    pub(crate) fn directory_len(&self, stage_count: usize) -> usize {
        let fixed = 2 + self.name.len() + 4 + 8 * self.shape.len() + 24;
        if self.is_quantized() { fixed + 12 + 24 * stage_count } else { fixed }
    }

    pub(crate) fn write_directory(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.name.len() as u16).to_le_bytes());
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(&[self.dtype.code(), self.kind, self.shape.len() as u8, self.group_log2]);
        for d in &self.shape {
            out.extend_from_slice(&d.to_le_bytes());
        }
        for v in [self.base_offset, self.base_len, self.base_hash] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        if self.is_quantized() {
            out.extend_from_slice(&self.seed.to_le_bytes());
            out.extend_from_slice(&self.scale.to_bits().to_le_bytes());
            for s in &self.stages {
                out.extend_from_slice(&s.block_bits.to_le_bytes());
                out.extend_from_slice(&s.multiplier.to_le_bytes());
                out.extend_from_slice(&s.offset.to_le_bytes());
                out.extend_from_slice(&s.hash.to_le_bytes());
            }
        }
    }
}

/// A little-endian cursor over the directory.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], NctError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(NctError::Corrupt { what: "directory ends inside an entry" })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, NctError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, NctError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, NctError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, NctError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The header fields.
pub(crate) struct Header {
    pub(crate) tensor_count: u32,
    pub(crate) stage_count: u32,
    pub(crate) directory_len: u64,
    pub(crate) base_len: u64,
    pub(crate) table_hash: u64,
}

impl Header {
    pub(crate) fn write(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC);
        h[4..6].copy_from_slice(&VERSION.to_le_bytes());
        h[6] = STATE_BITS as u8;
        h[7] = crate::codebook::TABLE_SHIFT as u8;
        h[8..12].copy_from_slice(&self.tensor_count.to_le_bytes());
        h[12..16].copy_from_slice(&self.stage_count.to_le_bytes());
        h[16..24].copy_from_slice(&self.directory_len.to_le_bytes());
        h[24..32].copy_from_slice(&self.base_len.to_le_bytes());
        h[40..48].copy_from_slice(&self.table_hash.to_le_bytes());
        let hash = xxh3_64(&h[..56]);
        h[56..64].copy_from_slice(&hash.to_le_bytes());
        h
    }
}

/// Where the sections of a file with these header fields and stage lengths start.
pub(crate) struct Layout {
    pub(crate) codebook: u64,
    pub(crate) base: u64,
    /// Start and length of each stage section.
    pub(crate) stages: Vec<(u64, u64)>,
}

impl Layout {
    pub(crate) fn new(directory_len: u64, base_len: u64, stage_lens: &[u64]) -> Option<Self> {
        let codebook = align8((HEADER_LEN as u64).checked_add(directory_len)?);
        let base = codebook + CODEBOOK_BYTES as u64;
        let mut at = align8(base.checked_add(base_len)?);
        let mut stages = Vec::with_capacity(stage_lens.len());
        for &len in stage_lens {
            stages.push((at, len));
            at = align8(at.checked_add(len)?);
        }
        Some(Self { codebook, base, stages })
    }
}

/// An NCT file (or a prefix of one that holds at least its metadata) over borrowed bytes.
#[derive(Debug, Clone)]
pub struct NctFile<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) codebook: Codebook,
    pub(crate) tensors: Vec<TensorEntry>,
    pub(crate) by_name: BTreeMap<String, usize>,
    pub(crate) stage_sections: Vec<(u64, u64)>,
    pub(crate) present: usize,
    pub(crate) limits: Limits,
}

impl<'a> NctFile<'a> {
    /// Parses a file, or a prefix of one cut after any stage (or inside one: that stage and
    /// those after it are then absent), with the default [`Limits`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, NctError> {
        Self::parse_with_limits(bytes, Limits::default())
    }

    /// [`Self::parse`] with a reader's own limits.
    pub fn parse_with_limits(bytes: &'a [u8], limits: Limits) -> Result<Self, NctError> {
        if bytes.len() < 4 || bytes[..4] != MAGIC {
            return Err(if bytes.len() < 4 && MAGIC.starts_with(bytes) {
                NctError::Truncated { what: "header" }
            } else {
                NctError::NotNct
            });
        }
        if bytes.len() < HEADER_LEN {
            return Err(NctError::Truncated { what: "header" });
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if read_u64(bytes, 56) != xxh3_64(&bytes[..56]) {
            return Err(NctError::Checksum { what: "header" });
        }
        if version != VERSION {
            return Err(NctError::UnsupportedVersion(version));
        }
        if bytes[6] as u32 != STATE_BITS || bytes[7] as u32 != crate::codebook::TABLE_SHIFT {
            return Err(NctError::Corrupt { what: "trellis window or table shift" });
        }
        if bytes[32..40].iter().chain(&bytes[48..56]).any(|&b| b != 0) {
            return Err(NctError::Corrupt { what: "reserved header bytes" });
        }
        let tensor_count = read_u32(bytes, 8);
        let stage_count = read_u32(bytes, 12);
        let directory_len = read_u64(bytes, 16);
        let base_len = read_u64(bytes, 24);
        let table_hash = read_u64(bytes, 40);
        let limit = |what, value: u64, limit: u64| {
            if value > limit { Err(NctError::Limit { what, value, limit }) } else { Ok(()) }
        };
        limit("tensor count", tensor_count as u64, limits.max_tensors as u64)?;
        limit("stage count", stage_count as u64, limits.max_stages as u64)?;
        limit("directory length", directory_len, limits.max_directory_bytes)?;
        let stage_count = stage_count as usize;

        let dir_end = HEADER_LEN + directory_len as usize;
        let codebook_at = align8(dir_end as u64) as usize;
        let codebook_end = codebook_at + CODEBOOK_BYTES;
        if bytes.len() < codebook_end {
            return Err(NctError::Truncated { what: "directory and codebook" });
        }
        if xxh3_64(&bytes[HEADER_LEN..codebook_end]) != table_hash {
            return Err(NctError::Checksum { what: "directory and codebook" });
        }
        if bytes[dir_end..codebook_at].iter().any(|&b| b != 0) {
            return Err(NctError::Corrupt { what: "padding after the directory" });
        }
        let entries: Vec<i16> =
            bytes[codebook_at..codebook_end].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
        let codebook =
            Codebook::from_entries(entries).ok_or(NctError::Corrupt { what: "codebook entry out of range" })?;

        let mut cur = Cursor { bytes: &bytes[HEADER_LEN..dir_end], at: 0 };
        let mut stage_lens = Vec::with_capacity(stage_count);
        for _ in 0..stage_count {
            stage_lens.push(cur.u64()?);
        }
        let layout = Layout::new(directory_len, base_len, &stage_lens)
            .ok_or(NctError::Corrupt { what: "section lengths overflow" })?;
        // Each entry takes at least 30 bytes, which bounds the count before the allocation.
        if tensor_count as u64 * 30 > directory_len {
            return Err(NctError::Corrupt { what: "tensor count larger than the directory holds" });
        }
        let mut tensors = Vec::with_capacity(tensor_count as usize);
        let mut by_name = BTreeMap::new();
        for i in 0..tensor_count as usize {
            let t = read_entry(&mut cur, stage_count, &layout, base_len, &limits)?;
            if by_name.insert(t.name.clone(), i).is_some() {
                return Err(NctError::Corrupt { what: "two tensors with one name" });
            }
            tensors.push(t);
        }
        if cur.at != cur.bytes.len() {
            return Err(NctError::Corrupt { what: "bytes after the last directory entry" });
        }
        if (bytes.len() as u64) < layout.base + base_len {
            return Err(NctError::Truncated { what: "base section" });
        }
        let present = layout.stages.iter().take_while(|&&(start, len)| start + len <= bytes.len() as u64).count();
        Ok(Self { bytes, codebook, tensors, by_name, stage_sections: layout.stages, present, limits })
    }

    /// Stages whose every byte is present.
    pub fn stages(&self) -> usize {
        self.present
    }

    /// Stages the complete file has.
    pub fn stage_count(&self) -> usize {
        self.stage_sections.len()
    }

    /// Bytes of the file up to the end of stage `k` (0: the metadata and base section only):
    /// the prefix a reader needs to decode `k` stages.
    pub fn prefix_len(&self, k: usize) -> u64 {
        match k {
            0 => self.stage_sections.first().map_or(self.bytes.len() as u64, |s| s.0),
            k => self.stage_sections.get(k - 1).map_or(self.bytes.len() as u64, |s| s.0 + s.1),
        }
    }

    /// The directory, in file order.
    pub fn tensors(&self) -> &[TensorEntry] {
        &self.tensors
    }

    /// The shared codebook.
    pub fn codebook(&self) -> &Codebook {
        &self.codebook
    }

    /// The entry of tensor `name`.
    pub fn entry(&self, name: &str) -> Result<&TensorEntry, NctError> {
        self.by_name.get(name).map(|&i| &self.tensors[i]).ok_or_else(|| NctError::NoSuchTensor(name.into()))
    }

    /// The limits this file was parsed with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

fn read_entry(
    cur: &mut Cursor<'_>,
    stage_count: usize,
    layout: &Layout,
    base_len: u64,
    limits: &Limits,
) -> Result<TensorEntry, NctError> {
    let name_len = cur.u16()? as usize;
    if name_len == 0 || name_len > MAX_NAME_LEN {
        return Err(NctError::Corrupt { what: "tensor name length" });
    }
    let name = core::str::from_utf8(cur.take(name_len)?)
        .map_err(|_| NctError::Corrupt { what: "tensor name is not UTF-8" })?
        .into();
    let dtype = DType::from_code(cur.u8()?).filter(|d| d.size() > 0).ok_or(NctError::Corrupt { what: "dtype" })?;
    let kind = cur.u8()?;
    let ndim = cur.u8()? as usize;
    let group_log2 = cur.u8()?;
    if ndim > MAX_NDIM {
        return Err(NctError::Corrupt { what: "more than 8 dimensions" });
    }
    let mut shape = Vec::with_capacity(ndim);
    let mut numel = 1u64;
    for _ in 0..ndim {
        let d = cur.u64()?;
        numel = numel.checked_mul(d).ok_or(NctError::Corrupt { what: "element count overflows" })?;
        shape.push(d);
    }
    if numel > limits.max_tensor_elements {
        return Err(NctError::Limit { what: "tensor elements", value: numel, limit: limits.max_tensor_elements });
    }
    let (base_offset, base_len_t, base_hash) = (cur.u64()?, cur.u64()?, cur.u64()?);
    let base_end = base_offset.checked_add(base_len_t).ok_or(NctError::Corrupt { what: "base range overflows" })?;
    if base_offset < layout.base || base_end > layout.base + base_len {
        return Err(NctError::Corrupt { what: "tensor bytes outside the base section" });
    }
    let mut t = TensorEntry {
        name,
        dtype,
        kind,
        group_log2,
        shape,
        base_offset,
        base_len: base_len_t,
        base_hash,
        seed: 0,
        scale: 0.0,
        stages: Vec::new(),
    };
    match kind {
        KIND_EXACT => {
            if group_log2 != 0 || base_len_t != numel * dtype.size() as u64 {
                return Err(NctError::Corrupt { what: "exact tensor length" });
            }
        }
        KIND_TRELLIS => {
            if !matches!(dtype, DType::F32 | DType::F16 | DType::BF16) || ndim < 2 || !GROUP_LOG2.contains(&group_log2)
            {
                return Err(NctError::Corrupt { what: "quantized tensor dtype, rank or group" });
            }
            // No columns would be no blocks, and a decoder walks a row a `cols` at a time.
            if t.cols() == 0 || !t.cols().is_multiple_of(1u64 << group_log2) || base_len_t != t.rows() {
                return Err(NctError::Corrupt { what: "quantized tensor shape" });
            }
            t.seed = cur.u64()?;
            t.scale = f32::from_bits(cur.u32()?);
            if !(t.scale.is_finite() && t.scale > 0.0) {
                return Err(NctError::Corrupt { what: "base scale" });
            }
            let g = 1u32 << group_log2;
            t.stages.reserve_exact(stage_count);
            for &(start, len) in &layout.stages {
                let s =
                    StageEntry { block_bits: cur.u32()?, multiplier: cur.u32()?, offset: cur.u64()?, hash: cur.u64()? };
                if !s.block_bits.is_multiple_of(8) || s.block_bits < g || s.block_bits > 3 * g {
                    return Err(NctError::Corrupt { what: "block bits" });
                }
                if s.multiplier == 0 || s.multiplier > MAX_MULTIPLIER {
                    return Err(NctError::Corrupt { what: "stage multiplier" });
                }
                let end =
                    s.offset.checked_add(t.stage_len(&s)).ok_or(NctError::Corrupt { what: "stage range overflows" })?;
                if s.offset < start || end > start + len {
                    return Err(NctError::Corrupt { what: "tensor blocks outside their stage section" });
                }
                t.stages.push(s);
            }
        }
        _ => return Err(NctError::Corrupt { what: "tensor kind" }),
    }
    Ok(t)
}
