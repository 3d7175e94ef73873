//! Streaming compression: [`ZstdStreamEncoder`] takes input in pieces of any size and writes one
//! frame, block by block, keeping only the window of history its matches may use.

use alloc::vec::Vec;

use xxhash_rust::xxh64::Xxh64;

use crate::encoding::{BlockState, FrameHeader, ZstdCompressor};
use crate::frame::MAX_BLOCK_SIZE;
use crate::matching::{LevelParams, Strategy};

/// A push-style compressor for one frame whose size is not known in advance.
///
/// Memory is bounded by the window: at most about twice `1 << window_log` bytes of input are
/// held, plus the match finder's tables. The frame header has a window descriptor and no
/// content size (unless given with [`ZstdStreamEncoder::with_size`]).
///
/// ```
/// use haagenti_zstd::{ZstdCompressor, ZstdStreamEncoder};
/// let mut enc = ZstdStreamEncoder::new(&ZstdCompressor::new());
/// let mut frame = Vec::new();
/// for piece in [&b"streamed "[..], b"in ", b"pieces, streamed in pieces"] {
///     enc.push(piece, &mut frame);
/// }
/// enc.finish(&mut frame);
/// assert_eq!(haagenti_zstd::decompress(&frame)?, b"streamed in pieces, streamed in pieces");
/// # Ok::<(), haagenti_zstd::Error>(())
/// ```
pub struct ZstdStreamEncoder {
    params: LevelParams,
    checksum: bool,
    size: Option<u64>,
    blocks: BlockState,
    /// History (up to the window) followed by input not yet compressed.
    buf: Vec<u8>,
    /// Start of the input not yet compressed, in `buf`.
    pending: usize,
    hasher: Xxh64,
    header_written: bool,
    /// Input seen, to check a declared size.
    total: u64,
}

impl ZstdStreamEncoder {
    /// A streaming encoder with `compressor`'s level, window and checksum setting.
    pub fn new(compressor: &ZstdCompressor) -> Self {
        let mut params = compressor.params();
        // Chains no longer than the window, so the buffer slides by at most a window.
        params.chain_log = params.chain_log.min(params.window_log);
        ZstdStreamEncoder {
            params,
            checksum: compressor.has_checksum(),
            size: None,
            blocks: BlockState::new(params, [1, 4, 8], None),
            buf: Vec::new(),
            pending: 0,
            hasher: Xxh64::new(0),
            header_written: false,
            total: 0,
        }
    }

    /// Declares the total input size, written into the frame header (decoders can then size
    /// their output in one go). [`finish`](Self::finish) panics if a different amount was pushed.
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    /// Input bytes held now (history and the block being filled): at most about twice the
    /// window.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn window(&self) -> usize {
        1 << self.params.window_log
    }

    /// Blocks may not be larger than the window (RFC 8878 3.1.1.2.4).
    fn block_size(&self) -> usize {
        MAX_BLOCK_SIZE.min(self.window())
    }

    /// Adds `input`; appends to `out` every block that is now complete.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.write_header(out);
        self.hasher.update(input);
        self.total += input.len() as u64;
        let mut input = input;
        while !input.is_empty() {
            // Take at most one block's worth at a time so the buffer never holds more than
            // the window, one block and the slide unit.
            let block = self.block_size();
            let room = (self.pending + block).saturating_sub(self.buf.len()).max(1);
            let (now, rest) = input.split_at(room.min(input.len()));
            self.buf.extend_from_slice(now);
            input = rest;
            // A block is written once a byte beyond it has arrived, so the last block is
            // always left for `finish`.
            if self.buf.len() - self.pending > block {
                let end = self.pending + block;
                self.blocks.write(&self.buf, self.pending, end, false, out);
                self.pending = end;
                self.slide();
            }
        }
    }

    /// Drops history the window no longer reaches, in whole slide units.
    fn slide(&mut self) {
        let unit = match self.params.strategy {
            Strategy::Literals | Strategy::Fast | Strategy::DFast => 1 << 16,
            _ => 1usize << self.params.chain_log,
        };
        let keep = self.window();
        if self.pending > keep + unit {
            let by = (self.pending - keep) / unit * unit;
            self.blocks.finder.rebase(by);
            self.buf.drain(..by);
            self.pending -= by;
        }
    }

    fn write_header(&mut self, out: &mut Vec<u8>) {
        if !self.header_written {
            let header = FrameHeader {
                size: self.size,
                checksum: self.checksum,
                window_log: Some(self.params.window_log),
                dict_id: 0,
            };
            header.write(out);
            self.header_written = true;
        }
    }

    /// Writes the last block and the checksum.
    ///
    /// # Panics
    /// If a size was declared with [`with_size`](Self::with_size) and a different amount of
    /// input was pushed.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        self.write_header(out);
        if let Some(size) = self.size {
            assert_eq!(size, self.total, "the declared size differs from the input pushed");
        }
        let end = self.buf.len();
        self.blocks.write(&self.buf, self.pending, end, true, out);
        if self.checksum {
            out.extend_from_slice(&(self.hasher.digest() as u32).to_le_bytes());
        }
    }
}
