//! Compression: frames any RFC 8878 decoder reads.
//!
//! [`ZstdCompressor`] picks a level's parameters ([`LevelParams`]) and writes one frame per
//! input: blocks of up to 128 KiB, each cut into sequences by the level's match finder
//! ([`crate::matching`]), literals Huffman-coded when that pays, sequence codes with per-block
//! FSE tables (predefined ones for small blocks), and RLE or raw blocks where they are smaller.
//! Inputs no larger than the level's window get a single-segment frame; larger ones a window
//! descriptor, with matches kept inside the window.

use alloc::vec::Vec;

use xxhash_rust::xxh64::Xxh64;

use crate::block_writer::{EntropyState, Predefined, write_compressed_block};
use crate::dict::ZstdDict;
use crate::frame::{MAX_BLOCK_SIZE, ZSTD_MAGIC};
pub use crate::matching::{LevelParams, Strategy};
use crate::matching::{MatchFinder, Seq};

/// How to compress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressorConfig {
    /// Compression level, -7..=22 (3 by default). See the module docs for what it changes.
    pub level: i32,
    /// Whether to end the frame with the XXH64 content checksum (on by default).
    pub checksum: bool,
}

impl Default for CompressorConfig {
    fn default() -> Self {
        CompressorConfig { level: 3, checksum: true }
    }
}

/// Compresses `data` into one zstd frame at `level`, with a content checksum.
pub fn compress(data: &[u8], level: i32) -> Vec<u8> {
    ZstdCompressor::with_level(level).compress(data)
}

/// Compresses `data` into one zstd frame.
pub fn compress_with(data: &[u8], config: &CompressorConfig) -> Vec<u8> {
    ZstdCompressor::with_level(config.level).checksum(config.checksum).compress(data)
}

/// A compression level: a number from -7 (fastest) to 22 (smallest output), or one of the
/// named ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Level -7: the fastest, largest output.
    Fastest,
    /// Level 3, the reference's default.
    Default,
    /// Level 19: the smallest output at the usual window (8 MiB).
    Best,
    /// Level 22: the smallest output, with a 128 MiB window.
    Ultra,
    /// A numbered level; 0 means the default, out-of-range numbers are clamped to -7..=22.
    Number(i32),
}

impl Level {
    /// The level's number.
    pub fn number(self) -> i32 {
        match self {
            Level::Fastest => -7,
            Level::Default => 3,
            Level::Best => 19,
            Level::Ultra => 22,
            Level::Number(0) => 3,
            Level::Number(n) => n.clamp(-7, 22),
        }
    }
}

impl From<i32> for Level {
    fn from(n: i32) -> Self {
        Level::Number(n)
    }
}

/// A configured compressor; reusable, and cheap to build (tables are allocated per call).
///
/// ```
/// use haagenti_zstd::{Level, ZstdCompressor};
/// let text = b"a frame of text, a frame of text, a frame of text";
/// let frame = ZstdCompressor::with_level(Level::Best).compress(text);
/// assert_eq!(haagenti_zstd::decompress(&frame)?, text);
/// # Ok::<(), haagenti_zstd::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZstdCompressor {
    params: LevelParams,
    checksum: bool,
}

impl Default for ZstdCompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl ZstdCompressor {
    /// Level 3, with a content checksum.
    pub fn new() -> Self {
        Self::with_level(Level::Default)
    }

    /// The given level (a [`Level`] or a number), with a content checksum.
    pub fn with_level(level: impl Into<Level>) -> Self {
        ZstdCompressor { params: LevelParams::for_level(level.into().number()), checksum: true }
    }

    /// Entropy coding only: every block's bytes are Huffman-coded literals, no match search
    /// ([`Strategy::Literals`]); with a content checksum. Smaller than any level for data whose
    /// bytes are skewed but whose repeats are chance, and fast to decode.
    pub fn entropy_only() -> Self {
        Self::with_params(LevelParams::literals_only(27))
    }

    /// Custom parameters (see [`LevelParams::for_level`] for a starting point). Logs are
    /// clamped to what the format and a default decoder accept.
    pub fn with_params(params: LevelParams) -> Self {
        let mut p = params;
        p.window_log = p.window_log.clamp(10, 27);
        p.hash_log = p.hash_log.clamp(6, 27);
        p.chain_log = p.chain_log.clamp(6, 28);
        p.search_log = p.search_log.min(16);
        p.min_match = p.min_match.clamp(3, 7);
        ZstdCompressor { params: p, checksum: true }
    }

    /// Whether to end frames with the XXH64 content checksum (on by default).
    pub fn checksum(mut self, on: bool) -> Self {
        self.checksum = on;
        self
    }

    /// Overrides the window: the furthest a match reaches back and what a decoder must keep
    /// (2^10 to 2^27 bytes; the reference decoder refuses more than 2^27 unless told).
    pub fn window_log(mut self, log: u8) -> Self {
        self.params.window_log = log.clamp(10, 27);
        self
    }

    /// Whether frames end with the content checksum.
    pub fn has_checksum(&self) -> bool {
        self.checksum
    }

    /// The parameters in use.
    pub fn params(&self) -> LevelParams {
        self.params
    }

    /// Compresses `data`. Inputs of 2^31 bytes or more become several frames, which decoders
    /// read back as one stream.
    pub fn compress(&self, data: &[u8]) -> Vec<u8> {
        self.compress_frames(data, None)
    }

    pub(crate) fn compress_frames(&self, data: &[u8], dict: Option<&ZstdDict>) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        const MAX_FRAME: usize = 1 << 31;
        let mut pieces = data.chunks(MAX_FRAME);
        let first = pieces.next().unwrap_or(&[]);
        self.compress_frame(first, dict, &mut out);
        for piece in pieces {
            self.compress_frame(piece, dict, &mut out);
        }
        out
    }

    fn compress_frame(&self, data: &[u8], dict: Option<&ZstdDict>, out: &mut Vec<u8>) {
        // With a dictionary, its content sits before the data as history the matches reach.
        let (buf, prefix, dict_id, rep);
        let joined: Vec<u8>;
        match dict {
            Some(d) if !d.content().is_empty() => {
                joined = [d.content(), data].concat();
                (buf, prefix, dict_id, rep) = (&joined[..], d.content().len(), d.id(), d.rep());
            }
            Some(d) => (buf, prefix, dict_id, rep) = (data, 0, d.id(), [1, 4, 8]),
            None => (buf, prefix, dict_id, rep) = (data, 0, 0, [1, 4, 8]),
        }
        let params = self.params.adjusted_for(buf.len() as u64);
        let window = 1usize << params.window_log;
        let header = FrameHeader {
            size: Some(data.len() as u64),
            checksum: self.checksum,
            window_log: (data.len() > window).then_some(params.window_log),
            dict_id,
        };
        header.write(out);
        let mut blocks = BlockState::new(params, rep, dict);
        blocks.finder.prime(buf, prefix);
        // Blocks may not be larger than the window (RFC 8878 3.1.1.2.4).
        let block_size = MAX_BLOCK_SIZE.min(window);
        let mut start = prefix;
        loop {
            let end = (start + block_size).min(buf.len());
            let last = end == buf.len();
            blocks.write(buf, start, end, last, out);
            start = end;
            if last {
                break;
            }
        }
        if self.checksum {
            let mut h = Xxh64::new(0);
            h.update(data);
            out.extend_from_slice(&(h.digest() as u32).to_le_bytes());
        }
    }
}

/// What carries from block to block within a frame: the match finder (its tables and repeat
/// offsets) and the entropy tables the next block may reuse.
pub(crate) struct BlockState {
    pub(crate) finder: MatchFinder,
    entropy: EntropyState,
    predefined: Predefined,
    seqs: Vec<Seq>,
    lits: Vec<u8>,
}

impl BlockState {
    pub(crate) fn new(params: LevelParams, rep: [u32; 3], dict: Option<&ZstdDict>) -> Self {
        let mut finder = MatchFinder::new(params);
        finder.rep = rep;
        BlockState {
            finder,
            entropy: dict.and_then(ZstdDict::entropy).unwrap_or_default(),
            predefined: Predefined::new(),
            seqs: Vec::new(),
            lits: Vec::new(),
        }
    }

    /// Writes `buf[start..end]` as one block (RLE, compressed or raw, whichever is smallest);
    /// earlier bytes of `buf` are history its matches may use.
    pub(crate) fn write(&mut self, buf: &[u8], start: usize, end: usize, last: bool, out: &mut Vec<u8>) {
        // High levels: a block whose halves hold different kinds of bytes is parsed and written
        // as two blocks, so each half's parse is priced and its tables fitted on its own (the
        // reference's pre-splitter compares byte fingerprints the same way).
        if self.finder.p.strategy >= Strategy::BtLazy2 && halves_differ(&buf[start..end]) {
            let mid = start + (end - start) / 2;
            self.write(buf, start, mid, false, out);
            self.write(buf, mid, end, last, out);
            return;
        }
        let block = &buf[start..end];
        let header_at = out.len();
        out.extend_from_slice(&[0, 0, 0]);
        let (block_type, size) = if !block.is_empty() && block.iter().all(|&b| b == block[0]) {
            out.push(block[0]);
            self.finder.skip(buf, start, end);
            (1, block.len())
        } else {
            self.seqs.clear();
            self.lits.clear();
            // Repeat offsets and tables change only through compressed blocks: a block stored
            // raw must not move the encoder's copy of them either.
            let rep_before = self.finder.rep;
            let entropy_before = self.entropy.clone();
            self.finder.find(buf, start, end, &mut self.seqs, &mut self.lits);
            if self.finder.p.strategy >= Strategy::BtLazy2
                && self.seqs.len() >= 32
                && self.write_split(block.len(), last, out, header_at, &entropy_before)
            {
                return;
            }
            let body_at = out.len();
            if block.len() >= 8
                && write_compressed_block(out, &self.lits, &self.seqs, &mut self.entropy, &self.predefined)
                && out.len() - body_at < block.len()
            {
                (2, out.len() - body_at)
            } else {
                self.finder.rep = rep_before;
                self.entropy = entropy_before;
                out.truncate(body_at);
                out.extend_from_slice(block);
                (0, block.len())
            }
        };
        let v = u32::from(last) | block_type << 1 | (size as u32) << 3;
        out[header_at..header_at + 3].copy_from_slice(&v.to_le_bytes()[..3]);
    }

    /// Block splitting (high levels): writes the block's sequences as two compressed blocks,
    /// cut at the sequence nearest its middle, when that is smaller than one block (each half
    /// then gets entropy tables fitted to it). `out` ends with the block's 3 placeholder header
    /// bytes at `header_at`. Returns false, writing nothing, when one block is as small.
    fn write_split(
        &mut self,
        len: usize,
        last: bool,
        out: &mut Vec<u8>,
        header_at: usize,
        before: &EntropyState,
    ) -> bool {
        let (mut bytes_a, mut lits_a, mut k) = (0usize, 0usize, 0usize);
        while k < self.seqs.len() && bytes_a < len / 2 {
            let s = self.seqs[k];
            bytes_a += (s.lit_len + s.match_len) as usize;
            lits_a += s.lit_len as usize;
            k += 1;
        }
        // The second half may have few sequences or none (only literals): it still gets its
        // own literal table.
        if k < 8 {
            return false;
        }
        let mut whole_state = before.clone();
        let mut whole = Vec::new();
        let whole_size =
            if write_compressed_block(&mut whole, &self.lits, &self.seqs, &mut whole_state, &self.predefined) {
                whole.len().min(len)
            } else {
                len
            };
        let mut state = before.clone();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let fits = write_compressed_block(&mut a, &self.lits[..lits_a], &self.seqs[..k], &mut state, &self.predefined)
            && write_compressed_block(&mut b, &self.lits[lits_a..], &self.seqs[k..], &mut state, &self.predefined)
            && a.len() < bytes_a
            && b.len() < len - bytes_a;
        if !fits || a.len() + 3 + b.len() >= whole_size {
            return false;
        }
        let header = |last: bool, size: usize| (u32::from(last) | 2 << 1 | (size as u32) << 3).to_le_bytes();
        out[header_at..header_at + 3].copy_from_slice(&header(false, a.len())[..3]);
        out.extend_from_slice(&a);
        out.extend_from_slice(&header(last, b.len())[..3]);
        out.extend_from_slice(&b);
        self.entropy = state;
        true
    }
}

/// Whether the two halves of `block` (at least 16 KiB) have clearly different byte
/// distributions: their normalized histograms are more than 0.75 apart (L1 distance, 0 to 2).
fn halves_differ(block: &[u8]) -> bool {
    if block.len() < 16 << 10 {
        return false;
    }
    let (a, b) = block.split_at(block.len() / 2);
    let (mut ha, mut hb) = ([0u32; 256], [0u32; 256]);
    for &x in a {
        ha[usize::from(x)] += 1;
    }
    for &x in b {
        hb[usize::from(x)] += 1;
    }
    let (na, nb) = (a.len() as u64, b.len() as u64);
    let distance: u64 = ha.iter().zip(&hb).map(|(&x, &y)| (u64::from(x) * nb).abs_diff(u64::from(y) * na)).sum();
    // distance / (na * nb) > 0.75
    distance * 4 > 3 * na * nb
}

/// What a frame header records.
pub(crate) struct FrameHeader {
    /// The content size, when known.
    pub size: Option<u64>,
    pub checksum: bool,
    /// A window descriptor; `None` for a single-segment frame (the window is the content).
    pub window_log: Option<u8>,
    /// 0 for none.
    pub dict_id: u32,
}

impl FrameHeader {
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&ZSTD_MAGIC.to_le_bytes());
        let single = self.window_log.is_none();
        let (fcs_flag, fcs): (u8, Vec<u8>) = match self.size {
            None => (0, Vec::new()),
            Some(size) => Self::content_size(size, single),
        };
        let (did_flag, did): (u8, Vec<u8>) = match self.dict_id {
            0 => (0, Vec::new()),
            1..=255 => (1, alloc::vec![self.dict_id as u8]),
            256..=65535 => (2, (self.dict_id as u16).to_le_bytes().to_vec()),
            _ => (3, self.dict_id.to_le_bytes().to_vec()),
        };
        out.push(fcs_flag << 6 | u8::from(single) << 5 | u8::from(self.checksum) << 2 | did_flag);
        if let Some(log) = self.window_log {
            // Exponent only: the window is exactly 2^log.
            out.push((log - 10) << 3);
        }
        out.extend_from_slice(&did);
        out.extend_from_slice(&fcs);
    }

    /// The content-size flag and field for `size`.
    fn content_size(size: u64, single: bool) -> (u8, Vec<u8>) {
        if size < 256 && single {
            (0, alloc::vec![size as u8])
        } else if (256..65536 + 256).contains(&size) {
            (1, ((size - 256) as u16).to_le_bytes().to_vec())
        } else if size <= u64::from(u32::MAX) {
            (2, (size as u32).to_le_bytes().to_vec())
        } else {
            (3, size.to_le_bytes().to_vec())
        }
    }
}
