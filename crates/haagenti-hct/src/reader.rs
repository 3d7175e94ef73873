//! Reading HCT files: the index at open, blocks on demand, every checksum checked.

use alloc::string::String;
use alloc::vec::Vec;

use xxhash_rust::xxh3::xxh3_64;

use crate::format::{self, Index, Limits, PREAMBLE_LEN, Preamble, TensorInfo};
use crate::{BlockCodec, DType, HctError};

/// Random-access bytes: a slice in memory, or a file behind `read_at` (the CLI's).
pub trait ByteSource {
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Whether there are no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fills `buf` from `offset`; the range is within [`len`](Self::len).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), HctError>;
    /// The bytes at `offset..offset + len` without copying, for sources held in memory;
    /// `None` (the default) makes the reader copy them out with [`read_at`](Self::read_at).
    fn slice(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let _ = (offset, len);
        None
    }
}

impl ByteSource for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), HctError> {
        let start = usize::try_from(offset).map_err(|_| HctError::Truncated { what: "data" })?;
        let src = self.get(start..start + buf.len()).ok_or(HctError::Truncated { what: "data" })?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn slice(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let start = usize::try_from(offset).ok()?;
        self.get(start..start.checked_add(usize::try_from(len).ok()?)?)
    }
}

impl<S: ByteSource + ?Sized> ByteSource for &S {
    fn len(&self) -> u64 {
        (**self).len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), HctError> {
        (**self).read_at(offset, buf)
    }

    fn slice(&self, offset: u64, len: u64) -> Option<&[u8]> {
        (**self).slice(offset, len)
    }
}

impl ByteSource for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), HctError> {
        self.as_slice().read_at(offset, buf)
    }

    fn slice(&self, offset: u64, len: u64) -> Option<&[u8]> {
        self.as_slice().slice(offset, len)
    }
}

/// Buffers reused from block to block while a tensor is read.
struct Scratch {
    zstd: haagenti_zstd::Decompressor,
    stored: Vec<u8>,
    decoded: Vec<u8>,
}

impl Scratch {
    /// Buffers for the blocks of `t`. Our writer's frames never ask for a window past their
    /// content (rounded up to a power of two, at least 1 KiB) and no block decodes to more
    /// than the block size: larger requests are refused before anything is allocated.
    fn new(t: &TensorInfo) -> Self {
        let config = haagenti_zstd::DecoderConfig {
            max_output_size: t.block_size as usize,
            max_window_size: t.block_size.next_power_of_two().max(1 << 10),
        };
        Scratch { zstd: haagenti_zstd::Decompressor::new(config), stored: Vec::new(), decoded: Vec::new() }
    }
}

/// Payload bytes reserved up front for a tensor; past this the output grows as blocks decode
/// (an index may claim any size up to the limits, so the claim alone never allocates more).
const RESERVE_CAP: u64 = 1 << 30;

/// An open HCT file: the index is read and checked at [`open`](Self::open); tensor data is
/// read, checked and decompressed when asked for.
#[derive(Debug)]
pub struct HctReaderV2<S> {
    src: S,
    index: Index,
    limits: Limits,
}

impl<S: ByteSource> HctReaderV2<S> {
    /// Opens `src` under the default [`Limits`].
    pub fn open(src: S) -> Result<Self, HctError> {
        Self::open_with_limits(src, Limits::default())
    }

    /// Opens `src`: reads the preamble and the index, checks both checksums and every
    /// index field, within `limits`.
    pub fn open_with_limits(src: S, limits: Limits) -> Result<Self, HctError> {
        let len = src.len();
        let mut pre = [0u8; PREAMBLE_LEN];
        let n = (len.min(PREAMBLE_LEN as u64)) as usize;
        src.read_at(0, &mut pre[..n])?;
        let p = Preamble::parse(&pre[..n], len, &limits)?;
        let mut index_bytes = alloc::vec![0u8; p.index_len as usize];
        src.read_at(p.index_offset, &mut index_bytes)?;
        if xxh3_64(&index_bytes) != p.index_xxh3 {
            return Err(HctError::Checksum { what: "index" });
        }
        let index = format::read_index(&index_bytes, p.index_offset, &limits)?;
        Ok(HctReaderV2 { src, index, limits })
    }

    /// The tensors, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.index.tensors
    }

    /// The tensor called `name`.
    pub fn tensor(&self, name: &str) -> Result<&TensorInfo, HctError> {
        self.index.tensors.iter().find(|t| t.name == name).ok_or_else(|| HctError::NoSuchTensor(String::from(name)))
    }

    /// The metadata entries, in file order.
    pub fn metadata(&self) -> &[(String, Vec<u8>)] {
        &self.index.metadata
    }

    /// The metadata value of `key`.
    pub fn metadata_value(&self, key: &str) -> Option<&[u8]> {
        self.index.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_slice())
    }

    /// The byte source.
    pub fn source(&self) -> &S {
        &self.src
    }

    /// The payload bytes of block `i` of tensor `name`, checked against the block's checksum.
    pub fn read_block(&self, name: &str, i: u64) -> Result<Vec<u8>, HctError> {
        let t = self.tensor(name)?;
        let mut out = Vec::new();
        self.read_block_into(t, i, &mut out)?;
        Ok(out)
    }

    /// The whole payload of tensor `name`, every block and the tensor's checksum checked.
    pub fn read_tensor(&self, name: &str) -> Result<Vec<u8>, HctError> {
        let mut out = Vec::new();
        self.read_tensor_into(name, &mut out)?;
        Ok(out)
    }

    /// [`read_tensor`](Self::read_tensor) into `out` (cleared first), reusing its allocation:
    /// a caller reading many tensors keeps one buffer.
    pub fn read_tensor_into(&self, name: &str, out: &mut Vec<u8>) -> Result<(), HctError> {
        let t = self.tensor(name)?;
        out.clear();
        out.reserve(t.raw_len.min(RESERVE_CAP) as usize);
        let mut scratch = Scratch::new(t);
        for i in 0..t.blocks.len() as u64 {
            self.decode_block(t, i, &mut scratch, out)?;
        }
        if xxh3_64(out) != t.raw_xxh3 {
            out.clear();
            return Err(HctError::Checksum { what: "tensor" });
        }
        Ok(())
    }

    /// Tensor `name` as f32 values: f32, f16 and bf16 converted exactly, quantized tensors
    /// dequantized.
    pub fn read_f32(&self, name: &str) -> Result<Vec<f32>, HctError> {
        let t = self.tensor(name)?;
        let raw = self.read_tensor(name)?;
        Ok(match (t.dtype, t.quant) {
            (DType::F32, _) => raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            (DType::BF16, _) => {
                raw.chunks_exact(2).map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16)).collect()
            }
            (DType::F16, _) => raw.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect(),
            (_, Some(q)) => q.dequantize(&raw, t.element_count())?,
            (d, None) => return Err(HctError::InvalidInput(alloc::format!("{} has no f32 view", d.name()))),
        })
    }

    /// Appends the payload of block `i` of `t` to `out`.
    pub fn read_block_into(&self, t: &TensorInfo, i: u64, out: &mut Vec<u8>) -> Result<(), HctError> {
        self.decode_block(t, i, &mut Scratch::new(t), out)
    }

    fn decode_block(&self, t: &TensorInfo, i: u64, scratch: &mut Scratch, out: &mut Vec<u8>) -> Result<(), HctError> {
        let count = t.blocks.len() as u64;
        let b = *t.blocks.get(i as usize).ok_or(HctError::NoSuchBlock { index: i, count })?;
        let (start, end) = t.block_range(i as usize);
        let raw_len = (end - start) as usize;
        // The index check bounded stored lengths by the file; a block larger than its raw
        // size plus any codec's worst-case overhead is refused before reading.
        let max_stored = raw_len as u64 + raw_len as u64 / 128 + 1024;
        if b.stored_len > max_stored.min(self.limits.max_block_size + 1024) {
            return Err(HctError::Corrupt { what: "stored block larger than its payload can need" });
        }
        let stored = match self.src.slice(b.offset, b.stored_len) {
            Some(s) => s,
            None => {
                scratch.stored.clear();
                scratch.stored.resize(b.stored_len as usize, 0);
                self.src.read_at(b.offset, &mut scratch.stored)?;
                &scratch.stored
            }
        };
        if xxh3_64(stored) != b.xxh3 {
            return Err(HctError::Checksum { what: "block" });
        }
        let decoded: &[u8] = match t.codec {
            BlockCodec::Store => stored,
            BlockCodec::Zstd => {
                scratch.decoded.clear();
                let mut pos = 0;
                while pos < stored.len() {
                    pos += scratch
                        .zstd
                        .decode_frame(&stored[pos..], &mut scratch.decoded)
                        .map_err(|e| HctError::Codec(alloc::format!("zstd: {e}")))?;
                }
                &scratch.decoded
            }
            BlockCodec::Lz4 => {
                scratch.decoded.clear();
                scratch.decoded.resize(raw_len, 0);
                let n = lz4_flex::block::decompress_into(stored, &mut scratch.decoded)
                    .map_err(|e| HctError::Codec(alloc::format!("lz4: {e}")))?;
                scratch.decoded.truncate(n);
                &scratch.decoded
            }
        };
        if decoded.len() != raw_len {
            return Err(HctError::Codec(alloc::format!("{} bytes decoded, {raw_len} expected", decoded.len())));
        }
        t.transform.inverse(t.width(), decoded, out);
        Ok(())
    }
}

/// f32 to bfloat16, rounded to nearest even (NaN stays a quiet NaN).
pub fn f32_to_bf16(v: f32) -> u16 {
    let b = v.to_bits();
    if v.is_nan() {
        return (b >> 16) as u16 | 0x40;
    }
    ((b + 0x7fff + (b >> 16 & 1)) >> 16) as u16
}

/// f32 to IEEE binary16, rounded to nearest even, with subnormals, overflow to infinity and
/// NaN.
pub fn f32_to_f16(v: f32) -> u16 {
    let b = v.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let man = b & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 31 {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        // Subnormal: the mantissa with its implicit bit, shifted into place and rounded.
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1 << (shift - 1);
        return sign | ((m + half - 1 + ((m >> shift) & 1)) >> shift) as u16;
    }
    // A carry out of the mantissa rounds up into the exponent (and to infinity past 65504).
    let rounded = (((e as u32) << 10) | (man >> 13)) + (((man & 0x1fff) + 0xfff + ((man >> 13) & 1)) >> 13);
    sign | rounded as u16
}

/// An IEEE binary16 value as f32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from(h >> 10 & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: normalize.
            let shift = m.leading_zeros() - 21;
            sign | (113 - shift) << 23 | (m << shift & 0x3ff) << 13
        }
        (31, m) => sign | 0xff << 23 | m << 13,
        (e, m) => sign | (e + 112) << 23 | m << 13,
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_matches_known_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
    }
}
