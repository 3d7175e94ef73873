//! Push-based decompression for JavaScript streams: write compressed pieces of any size, read
//! the output in pieces of a bounded size. The npm package builds `ZstdDecompressionStream` and
//! friends on this class.
//!
//! Memory stays bounded whatever the input: the zstd decoder keeps its frame's window (refused
//! above `maxWindow`) plus two blocks; deflate keeps 32 KiB; brotli its window (at most 16 MiB);
//! LZ4 one block (at most 4 MiB) and 64 KiB of history. Input is taken one written piece at a
//! time, and output is handed out at most `max` bytes per `read`.

use std::cell::RefCell;
#[cfg(feature = "full")]
use std::io::{self, Read};
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use crate::max_output_bytes;

/// Input written but not yet used, shared between the class and the reader it feeds.
#[derive(Default)]
struct Input {
    data: Vec<u8>,
    pos: usize,
    ended: bool,
}

/// The input side, shared with the engine; seen by `Read`-based decoders (gzip) as a reader: `WouldBlock` when everything written has been
/// used and more may come, the end of the stream once `end()` was called.
#[derive(Clone, Default)]
struct Feed(Rc<RefCell<Input>>);

#[cfg(feature = "full")]
impl Read for Feed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut input = self.0.borrow_mut();
        let rest = &input.data[input.pos..];
        if rest.is_empty() {
            return if input.ended { Ok(0) } else { Err(io::ErrorKind::WouldBlock.into()) };
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        input.pos += n;
        Ok(n)
    }
}

/// Largest piece of unused input a decoder may hold; more means it stopped using its input.
const MAX_UNUSED_INPUT: usize = 8 << 20;

/// The default largest zstd window accepted: 2^27 bytes (128 MiB), the reference decoder's.
const DEFAULT_MAX_WINDOW: u64 = 1 << 27;

/// One format's decoder. `read` returns output, or 0 when it needs more input (before the end)
/// or the stream is complete (after it); an error when the input is corrupt, or ends early.
enum Engine {
    /// zstd: the crate's push decoder, fed from the feed directly (not through `std::io`, whose
    /// boxed errors would bring the errors' `Debug` code into the decoder-only build).
    Zstd(Box<Zstd>),
    /// gzip: a `Read` over the feed, resumed after `WouldBlock`.
    #[cfg(feature = "full")]
    Reader(Box<dyn Read>),
    #[cfg(feature = "full")]
    Inflate { inner: Box<flate2::Decompress>, done: bool },
    #[cfg(feature = "full")]
    Brotli { state: Box<BrotliState>, done: bool },
    #[cfg(feature = "full")]
    Lz4(Box<lz4::Frames>),
}

#[cfg(feature = "full")]
type BrotliState =
    brotli::BrotliState<brotli::enc::StandardAlloc, brotli::enc::StandardAlloc, brotli::enc::StandardAlloc>;

/// A streaming decoder of one compressed stream: `write` pieces of input, `read` output until it
/// comes back empty, `write` again; after the last piece call `end`, then `read` until empty.
/// An empty `read` after `end` means the stream was complete; corrupt input, input that ends
/// early, and output beyond `maxOutput` throw (and keep throwing).
#[wasm_bindgen(js_name = StreamDecoder)]
pub struct StreamDecoder {
    format: &'static str,
    feed: Feed,
    engine: Engine,
    produced: u64,
    max_output: u64,
    failed: Option<String>,
    /// Where `read` decodes to: as large as the largest `max` asked for.
    buf: Vec<u8>,
}

#[wasm_bindgen(js_class = StreamDecoder)]
impl StreamDecoder {
    /// A decoder of `format`: "zstd" in every build; "gzip", "zlib", "deflate", "brotli" and
    /// "lz4" (frames) in the full one. `maxOutput` bounds the total output (default 1 GiB);
    /// `maxWindow` the zstd window a frame may ask for (default 2^27 bytes).
    #[wasm_bindgen(constructor)]
    pub fn new(format: &str, max_output: Option<f64>, max_window: Option<f64>) -> Result<StreamDecoder, JsError> {
        let feed = Feed::default();
        let max_output = max_output_bytes(max_output);
        let (format, engine) = match format {
            "zstd" => {
                let config = haagenti_zstd::DecoderConfig {
                    max_window_size: match max_window {
                        Some(n) if n >= 0.0 => n as u64,
                        _ => DEFAULT_MAX_WINDOW,
                    },
                    max_output_size: usize::try_from(max_output).unwrap_or(usize::MAX),
                };
                let decoder = haagenti_zstd::decoding::StreamDecoder::new(config);
                ("zstd", Engine::Zstd(Box::new(Zstd { decoder, eof: false })))
            }
            #[cfg(feature = "full")]
            "gzip" => ("gzip", Engine::Reader(Box::new(flate2::read::MultiGzDecoder::new(feed.clone())))),
            #[cfg(feature = "full")]
            "zlib" | "deflate" => (
                if format == "zlib" { "zlib" } else { "deflate" },
                Engine::Inflate { inner: Box::new(flate2::Decompress::new(format == "zlib")), done: false },
            ),
            #[cfg(feature = "full")]
            "brotli" => {
                let a = brotli::enc::StandardAlloc::default;
                ("brotli", Engine::Brotli { state: Box::new(BrotliState::new(a(), a(), a())), done: false })
            }
            #[cfg(feature = "full")]
            "lz4" => ("lz4", Engine::Lz4(Box::default())),
            other => {
                let known = if cfg!(feature = "full") {
                    "zstd, gzip, zlib, deflate, brotli or lz4"
                } else {
                    "zstd (this is the decoder-only build)"
                };
                return Err(JsError::new(&format!("unknown stream format \"{other}\": expected {known}")));
            }
        };
        Ok(StreamDecoder { format, feed, engine, produced: 0, max_output, failed: None, buf: Vec::new() })
    }

    /// Hands over the next piece of compressed input (copied). Call `read` until it returns an
    /// empty array before writing again.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), JsError> {
        self.check()?;
        let mut input = self.feed.0.borrow_mut();
        if input.ended {
            return Err(JsError::new(&format!("{} stream: write after end", self.format)));
        }
        let used = input.pos;
        input.data.drain(..used);
        input.pos = 0;
        if input.data.len() + chunk.len() > MAX_UNUSED_INPUT {
            drop(input);
            return Err(self.fail("the decoder stopped using its input".to_string()));
        }
        input.data.extend_from_slice(chunk);
        Ok(())
    }

    /// Marks the end of the input.
    pub fn end(&mut self) {
        self.feed.0.borrow_mut().ended = true;
    }

    /// Up to `max` bytes of output (at least 1, at most 1 MiB a call). Empty when the decoder
    /// needs more input, or, after `end`, when the stream is complete.
    pub fn read(&mut self, max: usize) -> Result<Vec<u8>, JsError> {
        self.check()?;
        let max = max.clamp(1, 1 << 20);
        if self.buf.len() < max {
            self.buf.resize(max, 0);
        }
        let n = match self.engine.read(&self.feed, &mut self.buf[..max]) {
            Ok(n) => n,
            Err(message) => return Err(self.fail(message)),
        };
        self.produced += n as u64;
        if self.produced > self.max_output {
            return Err(self.fail(format!("output exceeds the limit of {} bytes", self.max_output)));
        }
        Ok(self.buf[..n].to_vec())
    }

    /// Bytes of output so far.
    #[wasm_bindgen(getter)]
    pub fn produced(&self) -> f64 {
        self.produced as f64
    }

    /// The stream's format.
    #[wasm_bindgen(getter)]
    pub fn format(&self) -> String {
        self.format.to_string()
    }
}

impl StreamDecoder {
    fn check(&self) -> Result<(), JsError> {
        match &self.failed {
            Some(message) => Err(JsError::new(message)),
            None => Ok(()),
        }
    }

    fn fail(&mut self, message: String) -> JsError {
        let message = format!("{} stream: {message}", self.format);
        let error = JsError::new(&message);
        self.failed = Some(message);
        error
    }
}

/// Input given to the zstd decoder at a time: one block and its header (as `zstd -d` reads).
const ZSTD_INPUT: usize = haagenti_zstd::frame::MAX_BLOCK_SIZE + 3;

/// The zstd engine: what `haagenti_zstd::io::Decoder` does, on the feed's bytes in place.
struct Zstd {
    decoder: haagenti_zstd::decoding::StreamDecoder,
    /// The input has ended and the decoder was told so.
    eof: bool,
}

impl Zstd {
    fn read(&mut self, feed: &Feed, buf: &mut [u8]) -> Result<usize, String> {
        loop {
            let pending = self.decoder.pending();
            if !pending.is_empty() {
                let n = buf.len().min(pending.len());
                buf[..n].copy_from_slice(&pending[..n]);
                self.decoder.consume(n);
                return Ok(n);
            }
            let mut input = feed.0.borrow_mut();
            if input.pos == input.data.len() {
                // A long RLE block may still have pieces to make without more input.
                self.decoder.advance_pending(&[]).map_err(|e| e.to_string())?;
                if !self.decoder.pending().is_empty() {
                    continue;
                }
                if self.eof || !input.ended {
                    return Ok(0);
                }
                self.eof = true;
                self.decoder.finish().map_err(|e| format!("the input ends early ({e})"))?;
                return Ok(0);
            }
            let end = input.data.len().min(input.pos + ZSTD_INPUT);
            let used = self.decoder.advance_pending(&input.data[input.pos..end]).map_err(|e| e.to_string())?;
            input.pos += used;
        }
    }
}

impl Engine {
    fn read(&mut self, feed: &Feed, buf: &mut [u8]) -> Result<usize, String> {
        match self {
            Engine::Zstd(zstd) => zstd.read(feed, buf),
            #[cfg(feature = "full")]
            Engine::Reader(reader) => loop {
                match reader.read(buf) {
                    Ok(n) => {
                        if n == 0 {
                            let input = feed.0.borrow();
                            if input.pos < input.data.len() {
                                return Err("data after the end of the stream".to_string());
                            }
                        }
                        return Ok(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        return Err(format!("the input ends early ({e})"));
                    }
                    Err(e) => return Err(e.to_string()),
                }
            },
            #[cfg(feature = "full")]
            Engine::Inflate { inner, done } => inflate(inner, done, feed, buf),
            #[cfg(feature = "full")]
            Engine::Brotli { state, done } => unbrotli(state, done, feed, buf),
            #[cfg(feature = "full")]
            Engine::Lz4(frames) => frames.read(feed, buf),
        }
    }
}

/// What is left of the input once a stream is complete: nothing, or an error.
#[cfg(feature = "full")]
fn after_end(input: &Input) -> Result<usize, String> {
    if input.pos < input.data.len() { Err("data after the end of the stream".to_string()) } else { Ok(0) }
}

#[cfg(feature = "full")]
fn inflate(d: &mut flate2::Decompress, done: &mut bool, feed: &Feed, buf: &mut [u8]) -> Result<usize, String> {
    let mut input = feed.0.borrow_mut();
    loop {
        if *done {
            return after_end(&input);
        }
        let avail = &input.data[input.pos..];
        if avail.is_empty() && !input.ended {
            return Ok(0);
        }
        let (before_in, before_out) = (d.total_in(), d.total_out());
        let status = d.decompress(avail, buf, flate2::FlushDecompress::None).map_err(|e| e.to_string())?;
        let used = (d.total_in() - before_in) as usize;
        let n = (d.total_out() - before_out) as usize;
        input.pos += used;
        if status == flate2::Status::StreamEnd {
            *done = true;
        }
        if n > 0 {
            return Ok(n);
        }
        if *done {
            continue;
        }
        if used == 0 {
            if input.ended {
                return Err("the input ends early".to_string());
            }
            if input.pos == input.data.len() {
                return Ok(0);
            }
            return Err("the decoder made no progress".to_string());
        }
    }
}

#[cfg(feature = "full")]
fn unbrotli(state: &mut BrotliState, done: &mut bool, feed: &Feed, buf: &mut [u8]) -> Result<usize, String> {
    use brotli::BrotliResult;
    let mut input = feed.0.borrow_mut();
    loop {
        if *done {
            return after_end(&input);
        }
        let avail = &input.data[input.pos..];
        let (mut avail_in, mut in_off) = (avail.len(), 0);
        let (mut avail_out, mut out_off, mut total) = (buf.len(), 0, 0);
        let result = brotli::BrotliDecompressStream(
            &mut avail_in,
            &mut in_off,
            avail,
            &mut avail_out,
            &mut out_off,
            buf,
            &mut total,
            state,
        );
        input.pos += in_off;
        match result {
            BrotliResult::ResultSuccess => *done = true,
            BrotliResult::ResultFailure => return Err(format!("corrupt input ({:?})", state.error_code)),
            BrotliResult::NeedsMoreInput if out_off == 0 => {
                return if input.ended { Err("the input ends early".to_string()) } else { Ok(0) };
            }
            BrotliResult::NeedsMoreInput | BrotliResult::NeedsMoreOutput => {}
        }
        if out_off > 0 {
            return Ok(out_off);
        }
    }
}

/// LZ4 frames (the format's frame spec), decoded a whole block at a time.
#[cfg(feature = "full")]
mod lz4 {
    use xxhash_rust::xxh32::{Xxh32, xxh32};

    use super::Feed;

    const MAGIC: u32 = 0x184D_2204;
    /// History linked blocks may reach back into.
    const HISTORY: usize = 64 * 1024;

    #[derive(Default, Clone, Copy, PartialEq, Eq)]
    enum Stage {
        #[default]
        Magic,
        Header,
        Block,
        Checksum,
        Skip(u64),
    }

    #[derive(Default)]
    pub(super) struct Frames {
        stage: Stage,
        /// Input taken from the feed and not yet decoded: less than one unit (header, block with
        /// its checksum) plus one written piece.
        buf: Vec<u8>,
        block_max: usize,
        independent: bool,
        block_checksum: bool,
        content_checksum: bool,
        content_size: Option<u64>,
        frame_output: u64,
        hasher: Option<Xxh32>,
        history: Vec<u8>,
        out: Vec<u8>,
        out_pos: usize,
    }

    fn le32(b: &[u8]) -> u32 {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    impl Frames {
        pub(super) fn read(&mut self, feed: &Feed, buf: &mut [u8]) -> Result<usize, String> {
            loop {
                if self.out_pos < self.out.len() {
                    let n = buf.len().min(self.out.len() - self.out_pos);
                    buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                    self.out_pos += n;
                    return Ok(n);
                }
                if self.step()? {
                    continue;
                }
                let mut input = feed.0.borrow_mut();
                if input.pos < input.data.len() {
                    self.buf.extend_from_slice(&input.data[input.pos..]);
                    input.pos = input.data.len();
                    continue;
                }
                if !input.ended {
                    return Ok(0);
                }
                return if self.stage == Stage::Magic && self.buf.is_empty() {
                    Ok(0)
                } else {
                    Err("the input ends early".to_string())
                };
            }
        }

        /// Decodes one unit from `buf` if it is all there; false when more input is needed.
        fn step(&mut self) -> Result<bool, String> {
            let b = &self.buf;
            let used = match self.stage {
                Stage::Magic => {
                    if b.len() < 4 {
                        return Ok(false);
                    }
                    match le32(b) {
                        MAGIC => {
                            self.stage = Stage::Header;
                            4
                        }
                        m if m & 0xFFFF_FFF0 == 0x184D_2A50 => {
                            if b.len() < 8 {
                                return Ok(false);
                            }
                            self.stage = Stage::Skip(u64::from(le32(&b[4..])));
                            8
                        }
                        m => return Err(format!("not an LZ4 frame (magic number {m:#010x})")),
                    }
                }
                Stage::Skip(left) => {
                    if b.is_empty() && left > 0 {
                        return Ok(false);
                    }
                    let n = left.min(b.len() as u64);
                    self.stage = if n == left { Stage::Magic } else { Stage::Skip(left - n) };
                    n as usize
                }
                Stage::Header => {
                    if b.len() < 2 {
                        return Ok(false);
                    }
                    let (flg, bd) = (b[0], b[1]);
                    if flg >> 6 != 1 {
                        return Err(format!("unsupported frame version {}", flg >> 6));
                    }
                    if flg & 0b10 != 0 || bd & 0x8F != 0 {
                        return Err("reserved bits set in the frame descriptor".to_string());
                    }
                    if flg & 1 != 0 {
                        return Err("frames that need a dictionary are not supported".to_string());
                    }
                    let has_size = flg & 0b1000 != 0;
                    let len = 2 + if has_size { 8 } else { 0 } + 1;
                    if b.len() < len {
                        return Ok(false);
                    }
                    let check = (xxh32(&b[..len - 1], 0) >> 8) as u8;
                    if check != b[len - 1] {
                        return Err("frame descriptor checksum mismatch".to_string());
                    }
                    self.block_max = match (bd >> 4) & 7 {
                        4 => 64 << 10,
                        5 => 256 << 10,
                        6 => 1 << 20,
                        7 => 4 << 20,
                        n => return Err(format!("invalid block size code {n}")),
                    };
                    self.independent = flg & 0b10_0000 != 0;
                    self.block_checksum = flg & 0b1_0000 != 0;
                    self.content_checksum = flg & 0b100 != 0;
                    self.content_size = has_size.then(|| u64::from_le_bytes(b[2..10].try_into().expect("8 bytes")));
                    self.frame_output = 0;
                    self.hasher = self.content_checksum.then(|| Xxh32::new(0));
                    self.history.clear();
                    self.stage = Stage::Block;
                    len
                }
                Stage::Block => {
                    if b.len() < 4 {
                        return Ok(false);
                    }
                    let word = le32(b);
                    if word == 0 {
                        if let Some(size) = self.content_size
                            && size != self.frame_output
                        {
                            return Err(format!("frame has {} bytes, its header says {size}", self.frame_output));
                        }
                        self.stage = if self.content_checksum { Stage::Checksum } else { Stage::Magic };
                        4
                    } else {
                        let stored = word & 0x8000_0000 != 0;
                        let len = (word & 0x7FFF_FFFF) as usize;
                        if len > self.block_max {
                            return Err(format!("block of {len} bytes exceeds the frame's {}", self.block_max));
                        }
                        let total = 4 + len + if self.block_checksum { 4 } else { 0 };
                        if b.len() < total {
                            return Ok(false);
                        }
                        let data = &b[4..4 + len];
                        if self.block_checksum && xxh32(data, 0) != le32(&b[4 + len..]) {
                            return Err("block checksum mismatch".to_string());
                        }
                        self.out.clear();
                        self.out_pos = 0;
                        if stored {
                            self.out.extend_from_slice(data);
                        } else {
                            self.out.resize(self.block_max, 0);
                            let dict: &[u8] = if self.independent { &[] } else { &self.history };
                            let n = lz4_flex::block::decompress_into_with_dict(data, &mut self.out, dict)
                                .map_err(|e| format!("corrupt block ({e})"))?;
                            self.out.truncate(n);
                        }
                        self.frame_output += self.out.len() as u64;
                        if let Some(h) = &mut self.hasher {
                            h.update(&self.out);
                        }
                        if !self.independent {
                            self.history.extend_from_slice(&self.out);
                            let excess = self.history.len().saturating_sub(HISTORY);
                            self.history.drain(..excess);
                        }
                        total
                    }
                }
                Stage::Checksum => {
                    if b.len() < 4 {
                        return Ok(false);
                    }
                    let expected = le32(b);
                    let actual = self.hasher.take().map_or(0, |h| h.digest());
                    if expected != actual {
                        return Err("content checksum mismatch".to_string());
                    }
                    self.stage = Stage::Magic;
                    4
                }
            };
            self.buf.drain(..used);
            Ok(true)
        }
    }
}
