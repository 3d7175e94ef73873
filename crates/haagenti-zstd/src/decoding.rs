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

/// The size `src` decodes to, read from its frames' headers without decoding: the sum of every
/// zstd frame's declared content size (skippable frames add nothing), or `None` when a frame
/// does not declare one. Walks the block headers, so a truncated frame is an error.
///
/// For sizing the buffer [`decompress_into`] fills, e.g. one that a binding allocates outside
/// its own memory, so that the output is written once and never grows. A declared size is what
/// the input claims: check it against a limit before allocating that much
/// (`decompress_into` fails on a frame that makes more or less than it declared).
///
/// ```
/// let data = b"a few words, a few words, a few words".repeat(10);
/// let mut frames = haagenti_zstd::compress(&data, 3);
/// frames.extend_from_slice(&haagenti_zstd::compress(b"and more", 3));
/// let size = haagenti_zstd::decompressed_size(&frames)?.expect("declared");
/// let mut out = vec![0u8; size as usize];
/// let n = haagenti_zstd::decompress_into(&frames, &mut out)?;
/// assert_eq!(&out[..n], [&data[..], b"and more"].concat());
/// # Ok::<(), haagenti_zstd::Error>(())
/// ```
pub fn decompressed_size(src: &[u8]) -> Result<Option<u64>, Error> {
    let mut total = 0u64;
    for found in frame::frames(src) {
        if let frame::RawFrame::Zstd { header, .. } = found? {
            match header.content_size {
                Some(n) => total = total.saturating_add(n),
                None => return Ok(None),
            }
        }
    }
    Ok(Some(total))
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
            // after the header (at least 4 bytes with its own header) makes at most 2 MiB (an RLE
            // block's largest), so a bare header reserves nothing.
            let room = self.config.max_output_size.saturating_sub(start) as u64;
            let blocks = (src.len() - header.header_len) as u64 / 4;
            let producible = blocks.saturating_mul(1 << 21);
            let cap = size.min(room).min(producible);
            // Exactly the content, as libzstd's own allocating call asks for: the last sequences
            // are copied exactly instead of into slack, and a buffer the size of the content
            // fits where the allocator freed one of that size (one larger takes fresh pages,
            // every one of them a page fault).
            out.reserve(usize::try_from(cap).unwrap_or(usize::MAX));
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
            within_declared(&header, (out.len() - start) as u64)?;
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

/// Fails as soon as a frame has made more than the content size its header declares (the
/// reference decoder writes such frames into a buffer of exactly that size, and fails too),
/// rather than at its end: a tiny declared frame cannot make gigabytes first.
fn within_declared(header: &FrameHeader, produced: u64) -> Result<(), Error> {
    match header.content_size {
        Some(declared) if produced > declared => {
            Err(FrameError::ContentSizeMismatch { declared, actual: produced }.into())
        }
        _ => Ok(()),
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
    /// The rest of an RLE block, produced in pieces of at most one block size: `left` copies of
    /// `byte`, then the frame ends if `last`.
    Rle { byte: u8, left: usize, last: bool },
    /// The 4-byte content checksum.
    Checksum,
    /// The payload of a skippable frame, this many bytes still to skip.
    Skip(u64),
}

/// The largest unit the streaming decoder waits for whole: a block header and its body (frame
/// headers and checksums are smaller; skippable payloads are skipped piece by piece).
const UNIT: usize = BlockHeader::LEN + MAX_BLOCK_SIZE;

/// A streaming decoder: feed compressed bytes in pieces of any size, take decoded bytes as they
/// become available.
///
/// Memory stays bounded by the frame's window: decoded bytes go to a buffer of the window plus
/// two blocks, used as a ring (when the next block does not fit at its end, it is written at the
/// front, and matches reach back into what is left of the previous pass, as libzstd's streaming
/// decoder does), so nothing is moved to make room. At most one block of input is buffered.
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
    /// Input not yet used: less than one unit (see [`UNIT`]).
    input: Vec<u8>,
    header: Option<FrameHeader>,
    /// The ring of decoded bytes: during a frame's first pass a vector of exactly the bytes
    /// decoded; after a wrap, initialized past every front used.
    ring: Vec<u8>,
    /// The ring's size for this frame: the window (or the content size, if smaller) plus two
    /// blocks with their wild-copy slack.
    ring_size: usize,
    /// End of the decoded bytes of the current pass.
    pos: usize,
    /// End of the previous pass (0 before the first wrap).
    prev_end: usize,
    /// `ring[..delivered]` of the current pass has been handed out.
    delivered: usize,
    /// Whether the ring wrapped in this frame (the dictionary is then out of reach).
    wrapped: bool,
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
            .field("ring", &self.ring.len())
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
            ring: Vec::new(),
            ring_size: 0,
            pos: 0,
            prev_end: 0,
            delivered: 0,
            wrapped: false,
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
        let before = out.len();
        let used = self.advance(input, Some(out))?;
        debug_assert_eq!(used, input.len());
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

    /// Decoded bytes not yet handed out (after [`advance_pending`](Self::advance_pending)).
    pub fn pending(&self) -> &[u8] {
        &self.ring[self.delivered..self.pos]
    }

    /// Marks the first `n` [`pending`](Self::pending) bytes as handed out (at most all of them).
    pub fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.pos - self.delivered);
        self.delivered += n.min(self.pos - self.delivered);
    }

    /// Uses `input` until a block leaves bytes [`pending`](Self::pending) (which must be empty
    /// on entry: hand them out with [`consume`](Self::consume) first), so memory stays bounded
    /// however much one piece of input decodes to. Incomplete units are buffered. Returns the
    /// input bytes used; call again with the rest once the pending bytes are handed out. An
    /// empty `input` makes the pieces a long RLE block still has to make.
    pub fn advance_pending(&mut self, input: &[u8]) -> Result<usize, Error> {
        self.advance(input, None)
    }

    /// Uses `input`: with `out`, all of it, appending every decoded byte to `out`; without,
    /// until a block leaves bytes [`pending`](Self::pending) (which must be empty on entry).
    /// Incomplete units are buffered. Returns the input bytes used.
    pub(crate) fn advance(&mut self, input: &[u8], mut out: Option<&mut Vec<u8>>) -> Result<usize, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.advance_inner(input, &mut out);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    fn advance_inner(&mut self, input: &[u8], out: &mut Option<&mut Vec<u8>>) -> Result<usize, Error> {
        let mut src = input;
        // First complete the unit that is buffered, a piece of `src` at a time.
        while !self.input.is_empty() && !src.is_empty() {
            let held = self.input.len();
            let take = src.len().min(UNIT.saturating_sub(held).max(1));
            self.input.extend_from_slice(&src[..take]);
            let buffered = core::mem::take(&mut self.input);
            let run = self.run(&buffered, out);
            self.input = buffered;
            let used = run?;
            if used >= held {
                // What is left came from `src`: give it back, and go on from `src` directly.
                self.input.clear();
                src = &src[used - held..];
            } else {
                self.input.drain(..used);
                src = &src[take..];
            }
            if out.is_none() && !self.pending().is_empty() {
                return Ok(input.len() - src.len());
            }
        }
        if !src.is_empty() {
            let used = self.run(src, out)?;
            src = &src[used..];
            if out.is_none() && !self.pending().is_empty() {
                return Ok(input.len() - src.len());
            }
            // Less than one unit is left.
            self.input.extend_from_slice(src);
        } else if out.is_none() && self.pending().is_empty() {
            // Input ended, but an RLE block in pieces may still have output to make.
            self.run(&[], out)?;
        }
        Ok(input.len())
    }

    /// Decodes the whole units at the start of `src` (headers, blocks, checksums); returns the
    /// bytes used. Without `out`, stops after the first block that leaves bytes pending.
    fn run(&mut self, src: &[u8], out: &mut Option<&mut Vec<u8>>) -> Result<usize, Error> {
        let mut pos = 0;
        loop {
            if self.pos > self.delivered {
                match out {
                    Some(out) => {
                        out.extend_from_slice(&self.ring[self.delivered..self.pos]);
                        self.delivered = self.pos;
                    }
                    None => return Ok(pos),
                }
            }
            let rest = &src[pos..];
            match self.stage {
                Stage::Magic => {
                    if rest.len() < 4 {
                        return Ok(pos);
                    }
                    match frame::frame_kind(rest)? {
                        FrameKind::Zstd => self.stage = Stage::Header,
                        FrameKind::Skippable { .. } => {
                            if rest.len() < 8 {
                                return Ok(pos);
                            }
                            self.stage = Stage::Skip(u64::from(frame::read_u32(rest, 4, "skippable frame size")?));
                            pos += 8;
                        }
                    }
                }
                Stage::Skip(left) => {
                    let n = left.min(rest.len() as u64);
                    pos += n as usize;
                    self.stage = if n == left { Stage::Magic } else { Stage::Skip(left - n) };
                    if n < left {
                        return Ok(pos);
                    }
                }
                Stage::Header => {
                    let header = match FrameHeader::parse(rest) {
                        Ok(h) => h,
                        Err(FrameError::Truncated { .. }) => return Ok(pos),
                        Err(e) => return Err(e.into()),
                    };
                    let dict = begin_frame(&header, &self.config, self.dict.as_ref())?;
                    self.blocks.reset(dict);
                    pos += header.header_len;
                    self.start_frame(&header);
                    self.header = Some(header);
                    self.stage = Stage::Block;
                }
                Stage::Block => {
                    let Some(header) = self.header else { unreachable!("a frame header precedes blocks") };
                    if rest.len() < BlockHeader::LEN {
                        return Ok(pos);
                    }
                    let block = BlockHeader::parse(rest)?;
                    let len = blocks::stored_len(&block);
                    if block.block_type != blocks::RLE && len > header.block_size_limit() {
                        return Err(crate::error::BlockError::BlockTooLarge {
                            size: len,
                            limit: header.block_size_limit(),
                        }
                        .into());
                    }
                    if rest.len() < BlockHeader::LEN + len {
                        return Ok(pos);
                    }
                    let body = &rest[BlockHeader::LEN..BlockHeader::LEN + len];
                    pos += BlockHeader::LEN + len;
                    if block.block_type == blocks::RLE {
                        if self.total_output.saturating_add(block.size as u64) > self.config.max_output_size as u64 {
                            return Err(Error::OutputLimit { limit: self.config.max_output_size });
                        }
                        within_declared(&header, self.frame_output.saturating_add(block.size as u64))?;
                        self.stage = Stage::Rle { byte: body[0], left: block.size, last: block.last };
                        continue;
                    }
                    self.decode_block(&header, &block, body)?;
                    within_declared(&header, self.frame_output)?;
                    if block.last {
                        self.end_frame(&header)?;
                    }
                }
                Stage::Rle { byte, left, last } => {
                    let Some(header) = self.header else { unreachable!("a frame header precedes blocks") };
                    let n = left.min(header.block_size_limit().max(1));
                    self.make_room();
                    if self.wrapped {
                        self.ring[self.pos..self.pos + n].fill(byte);
                    } else {
                        self.ring.resize(self.pos + n, byte);
                    }
                    self.produced(self.pos, self.pos + n);
                    self.stage = Stage::Rle { byte, left: left - n, last };
                    if left == n {
                        self.stage = Stage::Block;
                        if last {
                            self.end_frame(&header)?;
                        }
                    }
                }
                Stage::Checksum => {
                    if rest.len() < 4 {
                        return Ok(pos);
                    }
                    check_sum(frame::read_u32(rest, 0, "content checksum")?, &self.hasher)?;
                    pos += 4;
                    self.stage = Stage::Magic;
                }
            }
        }
    }

    /// Sizes the ring for a new frame and starts its first pass.
    fn start_frame(&mut self, header: &FrameHeader) {
        let history = header.content_size.map_or(header.window_size, |c| c.min(header.window_size));
        let room = header.block_size_limit() + WILD;
        self.ring_size = usize::try_from(history).unwrap_or(usize::MAX).saturating_add(2 * room);
        // The first pass appends to the vector (nothing to zero); its allocation is made once
        // here when it can be (untouched pages cost nothing), else it grows as a vector does.
        self.ring.clear();
        let _ = self.ring.try_reserve(self.ring_size);
        self.pos = 0;
        self.prev_end = 0;
        self.delivered = 0;
        self.wrapped = false;
        self.frame_output = 0;
        self.hasher = Xxh64::new(0);
    }

    /// Makes room for one block at `pos`: wraps to the front of the ring when the block would
    /// pass its size. After a wrap the ring is used as a slice, initialized up to the front's
    /// end.
    fn make_room(&mut self) {
        let Some(header) = self.header else { unreachable!("a frame header precedes blocks") };
        let room = header.block_size_limit() + WILD;
        debug_assert_eq!(self.delivered, self.pos, "output is handed out before the next block");
        if self.pos + room > self.ring_size {
            // `ring_size` is the window plus two rooms, so what the previous pass leaves past the
            // front (`pos + room` onward) holds at least the window before `pos`.
            self.prev_end = self.pos;
            self.pos = 0;
            self.delivered = 0;
            self.wrapped = true;
        }
        if self.wrapped && self.pos + room > self.ring.len() {
            // At most `room` bytes past the end of the first pass.
            self.ring.resize(self.pos + room, 0);
        }
    }

    /// Decodes a raw or compressed block into the ring.
    fn decode_block(&mut self, header: &FrameHeader, block: &BlockHeader, body: &[u8]) -> Result<(), Error> {
        self.make_room();
        let room = header.block_size_limit() + WILD;
        let front_end = self.pos + room;
        let start = self.pos;
        let (mut sink, dict): (Sink<'_>, &[u8]) = if self.wrapped {
            let (front, back) = self.ring.split_at_mut(front_end);
            let rest_of_previous_pass = back.get(..self.prev_end.saturating_sub(front_end)).unwrap_or(&[]);
            (Sink::Slice { buf: front, len: start }, rest_of_previous_pass)
        } else {
            (Sink::Vec(&mut self.ring), self.dict.as_ref().map_or(&[], Dictionary::content))
        };
        let remaining = (self.config.max_output_size as u64).saturating_sub(self.total_output);
        let target = Target {
            out: &mut sink,
            history_start: 0,
            dict,
            output_limit: start.saturating_add(remaining.min(room as u64) as usize),
            configured_limit: self.config.max_output_size,
        };
        self.blocks.decode(block, body, header.block_size_limit(), target)?;
        let end = sink.len();
        self.produced(start, end);
        Ok(())
    }

    /// Accounts for `ring[start..end]`, just decoded.
    fn produced(&mut self, start: usize, end: usize) {
        self.hasher.update(&self.ring[start..end]);
        let n = (end - start) as u64;
        self.frame_output += n;
        self.total_output += n;
        self.pos = end;
    }

    fn end_frame(&mut self, header: &FrameHeader) -> Result<(), Error> {
        end_frame(header, self.frame_output)?;
        self.stage = if header.has_checksum { Stage::Checksum } else { Stage::Magic };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompressed_size_sums_the_declared_sizes() {
        let a = crate::compress(&[7u8; 1000], 3);
        let b = crate::compress(b"", 3);
        let skippable = [0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, b'h', b'i'];
        let all = [&a[..], &skippable, &b, &a].concat();
        assert_eq!(decompressed_size(&all), Ok(Some(2000)));
        assert_eq!(decompressed_size(&[]), Ok(Some(0)));
        assert_eq!(decompress(&all).map(|v| v.len()), Ok(2000));
        // Written by the reference CLI from a pipe: no content size in the header.
        let undeclared = [
            0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x68, 0x79, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x68, 0x61, 0x61,
            0x67, 0x65, 0x6e, 0x74, 0x69, 0x0a, 0x15, 0x48, 0x27, 0xb4,
        ];
        assert_eq!(decompressed_size(&[&a[..], &undeclared].concat()), Ok(None));
        assert!(decompressed_size(&a[..a.len() - 5]).is_err(), "a truncated frame");
    }
}
