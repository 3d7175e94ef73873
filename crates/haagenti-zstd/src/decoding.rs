//! Decoding: one-shot functions over whole buffers and a streaming decoder fed in pieces.

use alloc::vec::Vec;

use xxhash_rust::xxh64::Xxh64;

use crate::blocks::{self, BlockDecoder, Target};
use crate::dictionary::Dictionary;
use crate::error::{Error, FrameError};
use crate::frame::{self, BlockHeader, FrameHeader, FrameKind, MAX_BLOCK_SIZE, SkippableFrame};
use crate::wildcopy::{Sink, WILD};

/// Limits that bound what untrusted input can make the decoder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Largest window a frame may request. Default 2^27 bytes (128 MiB), the reference decoder's
    /// default limit; frames that need more are rejected before anything is allocated for them.
    pub max_window_size: u64,
    /// Largest total output. Default `usize::MAX` (bounded by the memory the caller has).
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
    Decompressor::new(*config).decompress(src)
}

/// Decodes every frame in `src` into `dst`; returns the number of bytes written.
pub fn decompress_into(src: &[u8], dst: &mut [u8]) -> Result<usize, Error> {
    Decompressor::new(DecoderConfig::default()).decompress_into(src, dst)
}

/// A reusable one-shot decoder with limits and an optional dictionary.
///
/// Reusing one across calls keeps its tables and buffers allocated.
#[derive(Debug, Clone)]
pub struct Decompressor {
    config: DecoderConfig,
    dict: Option<Dictionary>,
    blocks: BlockDecoder,
}

impl Decompressor {
    /// A decoder with the given limits and no dictionary.
    pub fn new(config: DecoderConfig) -> Self {
        Decompressor { config, dict: None, blocks: BlockDecoder::new() }
    }

    /// A decoder that uses `dict` for frames that name it (or name no dictionary).
    pub fn with_dictionary(config: DecoderConfig, dict: Dictionary) -> Self {
        Decompressor { config, dict: Some(dict), blocks: BlockDecoder::new() }
    }

    /// Decodes every frame in `src`.
    pub fn decompress(&mut self, src: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        let mut sink = Sink::Vec(&mut out);
        let mut pos = 0;
        while pos < src.len() {
            pos += self.decode_frame_to(&src[pos..], &mut sink)?;
        }
        Ok(out)
    }

    /// Decodes every frame in `src` into `dst`, in place; returns the number of bytes written.
    /// The bytes of `dst` past them may have been written too.
    pub fn decompress_into(&mut self, src: &[u8], dst: &mut [u8]) -> Result<usize, Error> {
        let saved = self.config;
        self.config.max_output_size = self.config.max_output_size.min(dst.len());
        let capacity = dst.len();
        let mut sink = Sink::Slice { buf: dst, len: 0 };
        let mut pos = 0;
        let mut result = Ok(());
        while pos < src.len() {
            match self.decode_frame_to(&src[pos..], &mut sink) {
                Ok(used) => pos += used,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.config = saved;
        result.map_err(|e| match e {
            Error::OutputLimit { .. } if capacity < saved.max_output_size => {
                Error::OutputTooSmall { needed: capacity + 1, capacity }
            }
            e => e,
        })?;
        Ok(sink.len())
    }

    /// Decodes the one frame at the start of `src`, appending its content to `out`; returns the
    /// input bytes the frame used. Skippable frames produce nothing.
    pub fn decode_frame(&mut self, src: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
        self.decode_frame_to(src, &mut Sink::Vec(out))
    }

    fn decode_frame_to(&mut self, src: &[u8], out: &mut Sink<'_>) -> Result<usize, Error> {
        if let FrameKind::Skippable { .. } = frame::frame_kind(src)? {
            return Ok(SkippableFrame::parse(src)?.1);
        }
        let header = FrameHeader::parse(src)?;
        let dict = begin_frame(&header, &self.config, self.dict.as_ref())?;
        self.blocks.reset(dict);
        let dict_content = dict.map(Dictionary::content).unwrap_or(&[]);
        let start = out.len();
        if let Some(size) = header.content_size {
            // The whole frame at once, so the output never moves or grows by doubling. The
            // declared size is trusted only as far as the limits and the input allow: every block
            // (at least 4 bytes with its header) makes at most 2 MiB (an RLE block's largest).
            let room = self.config.max_output_size.saturating_sub(start) as u64;
            let producible = (src.len() as u64 / 4 + 1).saturating_mul(1 << 21);
            let cap = size.min(room).min(producible);
            // Room for the last block's limit and wild-copy slack too, so it does not reallocate.
            out.reserve((cap as usize).saturating_add(MAX_BLOCK_SIZE + WILD));
        }
        let block_limit = header.block_size_limit();
        let mut hasher = header.has_checksum.then(|| Xxh64::new(0));
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
            let block_start = out.len();
            let target = Target {
                out: &mut *out,
                history_start: start,
                dict: dict_content,
                output_limit: self.config.max_output_size,
                configured_limit: self.config.max_output_size,
            };
            self.blocks.decode(&block, body, block_limit, target)?;
            // Hashed while the block is still in cache, not in a second pass over the frame.
            if let Some(h) = &mut hasher {
                h.update(&out.bytes()[block_start..]);
            }
            pos += len;
            if block.last {
                break;
            }
        }
        end_frame(&header, (out.len() - start) as u64)?;
        if let Some(h) = &hasher {
            let expected = frame::read_u32(src, pos, "content checksum")?;
            check_sum(expected, h)?;
            pos += 4;
        }
        Ok(pos)
    }
}

/// Checks a new frame against the limits and picks its dictionary.
fn begin_frame<'d>(
    header: &FrameHeader,
    config: &DecoderConfig,
    dict: Option<&'d Dictionary>,
) -> Result<Option<&'d Dictionary>, Error> {
    if header.window_size > config.max_window_size {
        return Err(FrameError::WindowTooLarge { requested: header.window_size, limit: config.max_window_size }.into());
    }
    if let Some(size) = header.content_size
        && size > config.max_output_size as u64
    {
        return Err(Error::OutputLimit { limit: config.max_output_size });
    }
    match (header.dictionary_id, dict) {
        (Some(id), None) => Err(FrameError::DictionaryRequired { id }.into()),
        (Some(id), Some(d)) if d.id() != 0 && d.id() != id => {
            Err(FrameError::DictionaryMismatch { frame: id, given: d.id() }.into())
        }
        (_, d) => Ok(d),
    }
}

fn end_frame(header: &FrameHeader, produced: u64) -> Result<(), Error> {
    match header.content_size {
        Some(declared) if declared != produced => {
            Err(FrameError::ContentSizeMismatch { declared, actual: produced }.into())
        }
        _ => Ok(()),
    }
}

fn check_sum(expected: u32, hasher: &Xxh64) -> Result<(), Error> {
    let actual = hasher.digest() as u32;
    if actual != expected {
        return Err(FrameError::ChecksumMismatch { expected, actual }.into());
    }
    Ok(())
}

/// What the streaming decoder expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// A frame's magic number (or the end of the input).
    Magic,
    /// The rest of a zstd frame header.
    Header,
    /// A block header and its body.
    Block,
    /// The 4-byte content checksum.
    Checksum,
    /// The payload of a skippable frame, this many bytes still to skip.
    Skip(u64),
}

/// A streaming decoder: feed compressed bytes in pieces of any size, take decoded bytes as they
/// become available.
///
/// Memory stays bounded by the frame's window: the decoder keeps at most about twice the window
/// plus one block of history, and at most one block of input.
///
/// ```
/// # fn main() -> Result<(), haagenti_zstd::Error> {
/// # let frame = [0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x45, 0x00, 0x00, 0x10, 0x61, 0x61,
/// #              0x01, 0x00, 0x39, 0x01, 0x16, 0x07, 0x96, 0xcd, 0xc0];
/// let mut decoder = haagenti_zstd::StreamDecoder::new(Default::default());
/// let mut out = Vec::new();
/// for byte in frame.chunks(1) {
///     decoder.feed(byte, &mut out)?;
/// }
/// decoder.finish()?;
/// assert_eq!(out, vec![b'a'; 54]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct StreamDecoder {
    config: DecoderConfig,
    dict: Option<Dictionary>,
    blocks: BlockDecoder,
    stage: Stage,
    /// Input not yet used: at most one block and its header.
    input: Vec<u8>,
    header: Option<FrameHeader>,
    /// The frame's retained history followed by output not yet handed out.
    window: Vec<u8>,
    /// `window[..delivered]` has been handed out.
    delivered: usize,
    /// Whether history was dropped from the front of `window` (the dictionary is then out of reach).
    trimmed: bool,
    frame_output: u64,
    total_output: u64,
    hasher: Xxh64,
    /// The first error: once the input proved bad, every later call reports it again.
    failed: Option<Error>,
}

impl core::fmt::Debug for StreamDecoder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamDecoder")
            .field("config", &self.config)
            .field("stage", &self.stage)
            .field("buffered_input", &self.input.len())
            .field("window", &self.window.len())
            .field("total_output", &self.total_output)
            .finish_non_exhaustive()
    }
}

impl StreamDecoder {
    /// A streaming decoder with the given limits and no dictionary.
    pub fn new(config: DecoderConfig) -> Self {
        StreamDecoder {
            config,
            dict: None,
            blocks: BlockDecoder::new(),
            stage: Stage::Magic,
            input: Vec::new(),
            header: None,
            window: Vec::new(),
            delivered: 0,
            trimmed: false,
            frame_output: 0,
            total_output: 0,
            hasher: Xxh64::new(0),
            failed: None,
        }
    }

    /// A streaming decoder that uses `dict`.
    pub fn with_dictionary(config: DecoderConfig, dict: Dictionary) -> Self {
        StreamDecoder { dict: Some(dict), ..Self::new(config) }
    }

    /// Takes `input` (all of it) and appends whatever can be decoded so far to `out`.
    /// Returns the number of bytes appended.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let before = out.len();
        // Feed in slices so the internal input buffer stays near one block.
        for chunk in input.chunks(MAX_BLOCK_SIZE) {
            self.input.extend_from_slice(chunk);
            match self.run(out) {
                Ok(used) => {
                    self.input.drain(..used);
                }
                Err(e) => {
                    self.failed = Some(e.clone());
                    return Err(e);
                }
            }
        }
        Ok(out.len() - before)
    }

    /// Checks that the input ended between frames.
    pub fn finish(&self) -> Result<(), Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.stage == Stage::Magic && self.input.is_empty() { Ok(()) } else { Err(FrameError::Incomplete.into()) }
    }

    /// Whether the decoder is between frames (all input so far formed whole frames).
    pub fn is_between_frames(&self) -> bool {
        self.finish().is_ok()
    }

    /// Decodes as many whole units (headers, blocks, checksums) of `self.input` as are there;
    /// returns the bytes used.
    fn run(&mut self, out: &mut Vec<u8>) -> Result<usize, Error> {
        let mut pos = 0;
        loop {
            let src = &self.input[pos..];
            match self.stage {
                Stage::Magic => {
                    if src.len() < 4 {
                        return Ok(pos);
                    }
                    match frame::frame_kind(src)? {
                        FrameKind::Zstd => self.stage = Stage::Header,
                        FrameKind::Skippable { .. } => {
                            if src.len() < 8 {
                                return Ok(pos);
                            }
                            self.stage = Stage::Skip(u64::from(frame::read_u32(src, 4, "skippable frame size")?));
                            pos += 8;
                        }
                    }
                }
                Stage::Skip(left) => {
                    let n = left.min(src.len() as u64);
                    pos += n as usize;
                    self.stage = if n == left { Stage::Magic } else { Stage::Skip(left - n) };
                    if n < left {
                        return Ok(pos);
                    }
                }
                Stage::Header => {
                    let header = match FrameHeader::parse(src) {
                        Ok(h) => h,
                        Err(FrameError::Truncated { .. }) => return Ok(pos),
                        Err(e) => return Err(e.into()),
                    };
                    let dict = begin_frame(&header, &self.config, self.dict.as_ref())?;
                    self.blocks.reset(dict);
                    pos += header.header_len;
                    self.header = Some(header);
                    self.window.clear();
                    self.delivered = 0;
                    self.trimmed = false;
                    self.frame_output = 0;
                    self.hasher = Xxh64::new(0);
                    self.stage = Stage::Block;
                }
                Stage::Block => {
                    let Some(header) = self.header else { unreachable!("a frame header precedes blocks") };
                    if src.len() < BlockHeader::LEN {
                        return Ok(pos);
                    }
                    let block = BlockHeader::parse(src)?;
                    let len = blocks::stored_len(&block);
                    if block.block_type != blocks::RLE && len > header.block_size_limit() {
                        return Err(crate::error::BlockError::BlockTooLarge {
                            size: len,
                            limit: header.block_size_limit(),
                        }
                        .into());
                    }
                    if src.len() < BlockHeader::LEN + len {
                        return Ok(pos);
                    }
                    let body = &src[BlockHeader::LEN..BlockHeader::LEN + len];
                    let start = self.window.len();
                    let remaining = (self.config.max_output_size as u64).saturating_sub(self.total_output);
                    let mut sink = Sink::Vec(&mut self.window);
                    let target = Target {
                        out: &mut sink,
                        history_start: 0,
                        dict: match (&self.dict, self.trimmed) {
                            (Some(d), false) => d.content(),
                            _ => &[],
                        },
                        output_limit: start.saturating_add(remaining.min(usize::MAX as u64) as usize),
                        configured_limit: self.config.max_output_size,
                    };
                    self.blocks.decode(&block, body, header.block_size_limit(), target)?;
                    pos += BlockHeader::LEN + len;
                    let produced = &self.window[start..];
                    self.hasher.update(produced);
                    self.frame_output += produced.len() as u64;
                    self.total_output += produced.len() as u64;
                    out.extend_from_slice(&self.window[self.delivered..]);
                    self.delivered = self.window.len();
                    self.trim(header.window_size);
                    if block.last {
                        end_frame(&header, self.frame_output)?;
                        self.stage = if header.has_checksum { Stage::Checksum } else { Stage::Magic };
                    }
                }
                Stage::Checksum => {
                    if src.len() < 4 {
                        return Ok(pos);
                    }
                    check_sum(frame::read_u32(src, 0, "content checksum")?, &self.hasher)?;
                    pos += 4;
                    self.stage = Stage::Magic;
                }
            }
        }
    }

    /// Drops history older than the window once the buffer holds about two windows.
    fn trim(&mut self, window_size: u64) {
        let keep = usize::try_from(window_size).unwrap_or(usize::MAX);
        if self.window.len() > keep.saturating_mul(2).saturating_add(MAX_BLOCK_SIZE) {
            let drop = self.window.len() - keep;
            self.window.drain(..drop);
            self.delivered -= drop;
            self.trimmed = true;
        }
    }
}
