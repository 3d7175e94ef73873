//! Reading HCT files: the index at open, blocks on demand, every checksum checked.

use alloc::string::String;
use alloc::vec::Vec;

use xxhash_rust::xxh3::xxh3_64;

use crate::format::{self, Index, Limits, Lookup, PREAMBLE_LEN, Preamble, TensorInfo};
use crate::{BlockCodec, HctError, f32_values};

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
#[derive(Default)]
struct Scratch {
    zstd: ZstdSlot,
    stored: Vec<u8>,
    decoded: Vec<u8>,
}

/// A zstd decoder kept while the output limit it was made with stays the same.
#[derive(Default)]
struct ZstdSlot {
    decoder: Option<haagenti_zstd::Decompressor>,
    limit: usize,
}

impl ZstdSlot {
    /// A zstd decoder for blocks of `t` that may decode to at most `limit` bytes. Our writer's
    /// frames never ask for a window past their content (rounded up to a power of two, at
    /// least 1 KiB), and the decoder reserves no more than `limit` for a frame's declared
    /// size: larger requests are refused before anything is allocated.
    fn get(&mut self, t: &TensorInfo, limit: usize) -> &mut haagenti_zstd::Decompressor {
        if self.limit != limit {
            self.decoder = None;
            self.limit = limit;
        }
        self.decoder.get_or_insert_with(|| {
            haagenti_zstd::Decompressor::new(haagenti_zstd::DecoderConfig {
                max_output_size: limit,
                max_window_size: t.block_size.next_power_of_two().max(1 << 10),
            })
        })
    }
}

/// The most bytes `stored_len` stored bytes of `codec` can decode to, so that what a reader
/// allocates follows the bytes present, not the sizes an index declares. A stored block is its
/// payload. An LZ4 sequence of `k` match-length bytes (3 + `k` input bytes) gives at most
/// 19 + 255 `k` bytes, never more than 255 per input byte. A zstd RLE block of 4 bytes (a
/// 3-byte header and its byte) gives up to 2 MiB (its 21-bit size; the decoder takes RLE
/// blocks past the 128 KiB block maximum, as the reference decoder does), the most of any
/// block: 512 Ki bytes per input byte.
pub(crate) fn max_decoded_len(codec: BlockCodec, stored_len: u64) -> u64 {
    stored_len.saturating_mul(match codec {
        BlockCodec::Store => 1,
        BlockCodec::Lz4 => 255,
        BlockCodec::Zstd => ZSTD_EXPANSION,
    })
}

/// [`max_decoded_len`] of one zstd byte.
pub(crate) const ZSTD_EXPANSION: u64 = 1 << 19;

/// The most payload bytes the stored blocks of `t` can decode to: its declared length when
/// they can hold it, less when they cannot (a forged index, which decoding then refuses).
pub(crate) fn payload_bound(t: &TensorInfo) -> u64 {
    let present = t.blocks.iter().fold(0u64, |n, b| n.saturating_add(max_decoded_len(t.codec, b.stored_len)));
    t.raw_len.min(present)
}

/// Reserves room for `additional` more bytes in `out`, as an error when memory is short
/// (a wasm32 module has 4 GiB at most).
pub(crate) fn try_reserve(out: &mut Vec<u8>, additional: u64) -> Result<(), HctError> {
    usize::try_from(additional)
        .ok()
        .and_then(|n| out.try_reserve(n).ok())
        .ok_or(HctError::OutOfMemory { bytes: additional })
}

/// An open HCT file: the index is read and checked at [`open`](Self::open); tensor data is
/// read, checked and decompressed when asked for.
#[derive(Debug)]
pub struct HctReaderV2<S> {
    src: S,
    index: Index,
    lookup: Lookup,
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
        // The index lies inside the source (checked above): this is bytes present.
        let mut index_bytes = Vec::new();
        try_reserve(&mut index_bytes, p.index_len)?;
        index_bytes.resize(p.index_len as usize, 0);
        src.read_at(p.index_offset, &mut index_bytes)?;
        if xxh3_64(&index_bytes) != p.index_xxh3 {
            return Err(HctError::Checksum { what: "index" });
        }
        let (index, lookup) = format::read_index(&index_bytes, p.index_offset, &limits)?;
        Ok(HctReaderV2 { src, index, lookup, limits })
    }

    /// The tensors, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.index.tensors
    }

    /// The tensor called `name`.
    pub fn tensor(&self, name: &str) -> Result<&TensorInfo, HctError> {
        let tensors = &self.index.tensors;
        match self.lookup.tensors.binary_search_by(|&i| tensors[i].name.as_str().cmp(name)) {
            Ok(at) => Ok(&tensors[self.lookup.tensors[at]]),
            Err(_) => Err(HctError::NoSuchTensor(String::from(name))),
        }
    }

    /// The metadata entries, in file order.
    pub fn metadata(&self) -> &[(String, Vec<u8>)] {
        &self.index.metadata
    }

    /// The metadata value of `key`.
    pub fn metadata_value(&self, key: &str) -> Option<&[u8]> {
        let entries = &self.index.metadata;
        let at = self.lookup.metadata.binary_search_by(|&i| entries[i].0.as_str().cmp(key)).ok()?;
        Some(&entries[self.lookup.metadata[at]].1)
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
        out.clear();
        self.append_tensor(self.tensor(name)?, out)
    }

    /// Appends the payload of `t` to `out`, checked; on an error `out` is as it was. Room is
    /// reserved for what the stored blocks can hold, never for more than the index declares;
    /// past that, `out` grows with the bytes actually decoded.
    pub(crate) fn append_tensor(&self, t: &TensorInfo, out: &mut Vec<u8>) -> Result<(), HctError> {
        let start = out.len();
        try_reserve(out, payload_bound(t))?;
        let mut scratch = Scratch::default();
        let mut result = Ok(());
        for i in 0..t.blocks.len() as u64 {
            result = self.decode_block(t, i, &mut scratch, out);
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() && xxh3_64(&out[start..]) != t.raw_xxh3 {
            result = Err(HctError::Checksum { what: "tensor" });
        }
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Tensor `name` as f32 values: f32, f16 and bf16 converted exactly, quantized tensors
    /// dequantized.
    pub fn read_f32(&self, name: &str) -> Result<Vec<f32>, HctError> {
        let t = self.tensor(name)?;
        let raw = self.read_tensor(name)?;
        if let Some(q) = t.quant {
            return q.dequantize(&raw, t.element_count());
        }
        f32_values(t.dtype, &raw)
            .ok_or_else(|| HctError::InvalidInput(alloc::format!("{} has no f32 view", t.dtype.name())))
    }

    /// Appends the payload of block `i` of `t` to `out`.
    pub fn read_block_into(&self, t: &TensorInfo, i: u64, out: &mut Vec<u8>) -> Result<(), HctError> {
        self.decode_block(t, i, &mut Scratch::default(), out)
    }

    fn decode_block(&self, t: &TensorInfo, i: u64, scratch: &mut Scratch, out: &mut Vec<u8>) -> Result<(), HctError> {
        let count = t.blocks.len() as u64;
        // Through `usize::try_from`, so that on wasm32 block 2^32 + 1 is no block, not block 1.
        let at = usize::try_from(i)
            .ok()
            .filter(|&at| at < t.blocks.len())
            .ok_or(HctError::NoSuchBlock { index: i, count })?;
        let b = t.blocks[at];
        let (start, end) = t.block_range(at);
        let raw_len = usize::try_from(end - start).map_err(|_| HctError::OutOfMemory { bytes: end - start })?;
        // The index check bounded stored lengths by the file; a block larger than its raw
        // size plus any codec's worst-case overhead is refused before reading.
        let max_stored = raw_len as u64 + raw_len as u64 / 128 + 1024;
        if b.stored_len > max_stored.min(self.limits.max_block_size + 1024) {
            return Err(HctError::Corrupt { what: "stored block larger than its payload can need" });
        }
        // What the stored bytes can decode to, when less than the block claims: decoding
        // past it is an error anyway, so no buffer is sized beyond it.
        let room = raw_len.min(usize::try_from(max_decoded_len(t.codec, b.stored_len)).unwrap_or(usize::MAX));
        let stored = match self.src.slice(b.offset, b.stored_len) {
            Some(s) => s,
            None => {
                // Bytes present: the block lies inside the source.
                scratch.stored.clear();
                try_reserve(&mut scratch.stored, b.stored_len)?;
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
                let zstd = scratch.zstd.get(t, room);
                let mut pos = 0;
                while pos < stored.len() {
                    pos += zstd
                        .decode_frame(&stored[pos..], &mut scratch.decoded)
                        .map_err(|e| HctError::Codec(alloc::format!("zstd: {e}")))?;
                }
                &scratch.decoded
            }
            BlockCodec::Lz4 => {
                scratch.decoded.clear();
                scratch.decoded.resize(room, 0);
                let n = lz4_flex::block::decompress_into(stored, &mut scratch.decoded)
                    .map_err(|e| HctError::Codec(alloc::format!("lz4: {e}")))?;
                scratch.decoded.truncate(n);
                &scratch.decoded
            }
        };
        if decoded.len() != raw_len {
            return Err(HctError::Codec(alloc::format!("{} bytes decoded, {raw_len} expected", decoded.len())));
        }
        try_reserve(out, raw_len as u64)?;
        t.transform.inverse(t.width(), decoded, out);
        Ok(())
    }
}
