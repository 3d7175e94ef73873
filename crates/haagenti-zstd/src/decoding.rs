//! Decoding driver: frames in, bytes out.

use alloc::vec::Vec;

use xxhash_rust::xxh64::Xxh64;

use crate::blocks;
use crate::error::{Error, FrameError};
use crate::frame::{self, BlockHeader, FrameHeader, FrameKind, SkippableFrame};

/// Limits that bound what untrusted input can make the decoder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Largest window a frame may request. Default 2^27 bytes (128 MiB), as the reference decoder
    /// accepts by default; frames that need more are rejected before any allocation.
    pub max_window_size: u64,
    /// Largest total output. Default `usize::MAX` (bounded by memory the caller has).
    pub max_output_size: usize,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig { max_window_size: 1 << 27, max_output_size: usize::MAX }
    }
}

/// Decodes every frame in `src` (zstd and skippable, concatenated) with default limits.
pub fn decompress(src: &[u8]) -> Result<Vec<u8>, Error> {
    decompress_with(src, &DecoderConfig::default())
}

/// Decodes every frame in `src` under the given limits.
pub fn decompress_with(src: &[u8], config: &DecoderConfig) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < src.len() {
        pos += decode_frame(&src[pos..], config, &mut out)?;
    }
    Ok(out)
}

/// Decodes every frame in `src` into `dst`; returns the number of bytes written.
pub fn decompress_into(src: &[u8], dst: &mut [u8]) -> Result<usize, Error> {
    let config = DecoderConfig { max_output_size: dst.len(), ..DecoderConfig::default() };
    let out = decompress_with(src, &config).map_err(|e| match e {
        Error::OutputLimit { .. } => Error::OutputTooSmall { needed: dst.len() + 1, capacity: dst.len() },
        e => e,
    })?;
    dst[..out.len()].copy_from_slice(&out);
    Ok(out.len())
}

/// Decodes the one frame at the start of `src`, appending its content to `out`.
/// Returns the number of input bytes the frame used. Skippable frames produce nothing.
pub fn decode_frame(src: &[u8], config: &DecoderConfig, out: &mut Vec<u8>) -> Result<usize, Error> {
    if let FrameKind::Skippable { .. } = frame::frame_kind(src)? {
        return Ok(SkippableFrame::parse(src)?.1);
    }
    let header = FrameHeader::parse(src)?;
    if header.window_size > config.max_window_size {
        return Err(FrameError::WindowTooLarge { requested: header.window_size, limit: config.max_window_size }.into());
    }
    if let Some(id) = header.dictionary_id {
        return Err(FrameError::DictionaryRequired { id }.into());
    }
    let start = out.len();
    let limit = header.block_size_limit();
    let mut pos = header.header_len;
    loop {
        let block = BlockHeader::parse(&src[pos..])?;
        pos += BlockHeader::LEN;
        let len = blocks::stored_len(&block);
        let body = src.get(pos..pos + len).ok_or(FrameError::Truncated {
            what: "block",
            needed: len,
            available: src.len() - pos,
        })?;
        blocks::decode_block(&block, body, limit, out, config.max_output_size)?;
        pos += len;
        if block.last {
            break;
        }
    }
    let produced = (out.len() - start) as u64;
    if let Some(declared) = header.content_size
        && declared != produced
    {
        return Err(FrameError::ContentSizeMismatch { declared, actual: produced }.into());
    }
    if header.has_checksum {
        let expected = frame::read_u32(src, pos, "content checksum")?;
        let mut hasher = Xxh64::new(0);
        hasher.update(&out[start..]);
        let actual = hasher.digest() as u32;
        if actual != expected {
            return Err(FrameError::ChecksumMismatch { expected, actual }.into());
        }
        pos += 4;
    }
    Ok(pos)
}
