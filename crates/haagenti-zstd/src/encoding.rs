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

use crate::frame::{MAX_BLOCK_SIZE, ZSTD_MAGIC};
use crate::fse::{self, BitWriter, FseEncoder, FseTable};
use crate::huff0::HuffmanEncoder;
pub use crate::matching::{LevelParams, Strategy};
use crate::matching::{MatchFinder, Seq};
use crate::sequences::{LL_BASE, LL_BITS, ML_BASE, ML_BITS};

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

    /// The parameters in use.
    pub fn params(&self) -> LevelParams {
        self.params
    }

    /// Compresses `data`. Inputs of 2^31 bytes or more become several frames, which decoders
    /// read back as one stream.
    pub fn compress(&self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        const MAX_FRAME: usize = 1 << 31;
        let mut pieces = data.chunks(MAX_FRAME);
        let first = pieces.next().unwrap_or(&[]);
        self.compress_frame(first, &mut out);
        for piece in pieces {
            self.compress_frame(piece, &mut out);
        }
        out
    }

    fn compress_frame(&self, data: &[u8], out: &mut Vec<u8>) {
        let params = self.params.adjusted_for(data.len() as u64);
        let window = 1usize << params.window_log;
        write_frame_header(out, data.len() as u64, self.checksum, (data.len() > window).then_some(params.window_log));
        let mut finder = MatchFinder::new(params);
        let tables = SequenceEncoders::predefined();
        let mut seqs = Vec::new();
        let mut lits = Vec::new();
        let mut start = 0;
        loop {
            let end = (start + MAX_BLOCK_SIZE).min(data.len());
            let last = end == data.len();
            let block = &data[start..end];
            let header_at = out.len();
            out.extend_from_slice(&[0, 0, 0]);
            let (block_type, size) = if !block.is_empty() && block.iter().all(|&b| b == block[0]) {
                out.push(block[0]);
                finder.skip(data, start, end);
                (1, block.len())
            } else {
                seqs.clear();
                lits.clear();
                // Repeat offsets change only through compressed blocks; a block stored raw must
                // not move the encoder's copy of them either.
                let rep_before = finder.rep;
                finder.find(data, start, end, &mut seqs, &mut lits);
                let body_at = out.len();
                if block.len() >= 32
                    && write_compressed_block(out, &lits, &seqs, &tables)
                    && out.len() - body_at < block.len()
                {
                    (2, out.len() - body_at)
                } else {
                    finder.rep = rep_before;
                    out.truncate(body_at);
                    out.extend_from_slice(block);
                    (0, block.len())
                }
            };
            let v = u32::from(last) | block_type << 1 | (size as u32) << 3;
            out[header_at..header_at + 3].copy_from_slice(&v.to_le_bytes()[..3]);
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

/// Frame header with the content size; single-segment unless a window log is given.
fn write_frame_header(out: &mut Vec<u8>, size: u64, checksum: bool, window_log: Option<u8>) {
    out.extend_from_slice(&ZSTD_MAGIC.to_le_bytes());
    let single = window_log.is_none();
    let (flag, bytes): (u8, Vec<u8>) = if size < 256 && single {
        (0, alloc::vec![size as u8])
    } else if (256..65536 + 256).contains(&size) {
        (1, ((size - 256) as u16).to_le_bytes().to_vec())
    } else if size <= u64::from(u32::MAX) {
        (2, (size as u32).to_le_bytes().to_vec())
    } else {
        (3, size.to_le_bytes().to_vec())
    };
    out.push(flag << 6 | u8::from(single) << 5 | u8::from(checksum) << 2);
    if let Some(log) = window_log {
        // Exponent only: the window is exactly 2^log.
        out.push((log - 10) << 3);
    }
    out.extend_from_slice(&bytes);
}

/// FSE encoders for the three sequence codes.
struct SequenceEncoders {
    ll: FseEncoder,
    of: FseEncoder,
    ml: FseEncoder,
}

impl SequenceEncoders {
    fn predefined() -> Self {
        let enc = |(log, counts): (u8, &[i16])| {
            let dist = fse::Distribution { accuracy_log: log, counts: counts.to_vec() };
            FseEncoder::new(&FseTable::from_distribution(dist).expect("predefined tables are valid"))
        };
        SequenceEncoders {
            ll: enc((fse::LL_DEFAULT.0, &fse::LL_DEFAULT.1)),
            of: enc((fse::OF_DEFAULT.0, &fse::OF_DEFAULT.1)),
            ml: enc((fse::ML_DEFAULT.0, &fse::ML_DEFAULT.1)),
        }
    }
}

/// Literal-length codes of lengths below 64, from `LL_BASE`.
const LL_CODE: [u8; 64] = {
    let mut t = [0u8; 64];
    let mut ll = 0;
    while ll < 64 {
        let mut c = 0;
        while c + 1 < LL_BASE.len() && LL_BASE[c + 1] <= ll as u32 {
            c += 1;
        }
        t[ll] = c as u8;
        ll += 1;
    }
    t
};

/// Match-length codes of lengths 3..=130, from `ML_BASE`.
const ML_CODE: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        let mut c = 0;
        while c + 1 < ML_BASE.len() && ML_BASE[c + 1] <= i as u32 + 3 {
            c += 1;
        }
        t[i] = c as u8;
        i += 1;
    }
    t
};

/// The literal-length code of `ll`: a table below 64, the highest bit (+ 19) above.
#[inline(always)]
pub(crate) fn ll_code(ll: u32) -> u8 {
    if ll < 64 { LL_CODE[ll as usize] } else { (31 - ll.leading_zeros()) as u8 + 19 }
}

/// The match-length code of `ml` (at least 3): a table up to 130, the highest bit (+ 36) of
/// `ml - 3` above.
#[inline(always)]
pub(crate) fn ml_code(ml: u32) -> u8 {
    let m = ml - 3;
    if m < 128 { ML_CODE[m as usize] } else { (31 - m.leading_zeros()) as u8 + 36 }
}

/// Writes the literals and sequences sections; false if something does not fit (the caller
/// then stores the block raw).
fn write_compressed_block(out: &mut Vec<u8>, lits: &[u8], seqs: &[Seq], enc: &SequenceEncoders) -> bool {
    write_literals(out, lits);
    // Sequences section header.
    let n = seqs.len();
    if n < 128 {
        out.push(n as u8);
    } else if n < 0x7F00 {
        out.extend_from_slice(&[((n >> 8) + 128) as u8, n as u8]);
    } else {
        out.push(255);
        out.extend_from_slice(&((n - 0x7F00) as u16).to_le_bytes());
    }
    if n == 0 {
        return true;
    }
    let codes = |s: &Seq| (ll_code(s.lit_len), ml_code(s.match_len), 31 - s.off_base.leading_zeros());
    // Tables fitted to this block's codes when there are enough sequences to pay for their
    // descriptions; the predefined ones otherwise.
    let custom;
    let enc = if n >= 32 {
        let (mut llh, mut mlh, mut ofh) = ([0u32; 36], [0u32; 53], [0u32; 32]);
        for s in seqs {
            let (l, m, o) = codes(s);
            llh[usize::from(l)] += 1;
            mlh[usize::from(m)] += 1;
            ofh[o as usize] += 1;
        }
        let log_for = |max: u8, hist: &[u32]| {
            // Enough cells for every symbol, no more than the format allows or the data needs.
            let present = hist.iter().filter(|&&h| h > 0).count().max(2);
            let need = (usize::BITS - (present - 1).leading_zeros()) as u8 + 1;
            let by_count = (usize::BITS - n.leading_zeros()) as u8;
            fse::TableLog::new(need.max(by_count.min(max)).clamp(5, max))
        };
        let tables = (
            log_for(9, &llh).and_then(|l| FseTable::from_frequencies(&llh, l).ok()),
            log_for(8, &ofh).and_then(|l| FseTable::from_frequencies(&ofh, l).ok()),
            log_for(9, &mlh).and_then(|l| FseTable::from_frequencies(&mlh, l).ok()),
        );
        match tables {
            (Some(ll), Some(of), Some(ml)) => {
                out.push(2 << 6 | 2 << 4 | 2 << 2);
                out.extend_from_slice(&ll.serialize());
                out.extend_from_slice(&of.serialize());
                out.extend_from_slice(&ml.serialize());
                custom =
                    SequenceEncoders { ll: FseEncoder::new(&ll), of: FseEncoder::new(&of), ml: FseEncoder::new(&ml) };
                &custom
            }
            _ => {
                out.push(0);
                enc
            }
        }
    } else {
        out.push(0); // all three codes use the predefined tables
        enc
    };
    let mut w = BitWriter::default();
    let write_extras = |w: &mut BitWriter, s: &Seq, (llc, mlc, ofc): (u8, u8, u32)| {
        w.write(u64::from(s.lit_len - LL_BASE[usize::from(llc)]), u32::from(LL_BITS[usize::from(llc)]));
        w.write(u64::from(s.match_len - ML_BASE[usize::from(mlc)]), u32::from(ML_BITS[usize::from(mlc)]));
        w.write(u64::from(s.off_base - (1 << ofc)), ofc);
    };
    let last = &seqs[n - 1];
    let (llc, mlc, ofc) = codes(last);
    let (Some(mut ml_s), Some(mut of_s), Some(mut ll_s)) =
        (enc.ml.init_state(mlc), enc.of.init_state(ofc as u8), enc.ll.init_state(llc))
    else {
        return false;
    };
    write_extras(&mut w, last, (llc, mlc, ofc));
    for s in seqs[..n - 1].iter().rev() {
        let (llc, mlc, ofc) = codes(s);
        if enc.of.encode_symbol(&mut w, &mut of_s, ofc as u8).is_none()
            || enc.ml.encode_symbol(&mut w, &mut ml_s, mlc).is_none()
            || enc.ll.encode_symbol(&mut w, &mut ll_s, llc).is_none()
        {
            return false;
        }
        write_extras(&mut w, s, (llc, mlc, ofc));
    }
    enc.ml.flush(&mut w, ml_s);
    enc.of.flush(&mut w, of_s);
    enc.ll.flush(&mut w, ll_s);
    w.write(1, 1);
    out.extend_from_slice(&w.finish());
    true
}

/// Literals section: Huffman-coded (1 or 4 streams) when smaller, else raw.
fn write_literals(out: &mut Vec<u8>, lits: &[u8]) {
    if lits.len() >= 64
        && let Some(section) = huffman_literals(lits)
        && section.len() < lits.len() + 3
    {
        out.extend_from_slice(&section);
        return;
    }
    let n = lits.len();
    if n < 32 {
        out.push((n as u8) << 3);
    } else if n < 4096 {
        out.extend_from_slice(&((1 << 2 | (n as u16) << 4).to_le_bytes()));
    } else {
        out.extend_from_slice(&((3 << 2 | (n as u32) << 4).to_le_bytes()[..3]));
    }
    out.extend_from_slice(lits);
}

fn huffman_literals(lits: &[u8]) -> Option<Vec<u8>> {
    let mut freqs = [0u32; 256];
    for &b in lits {
        freqs[usize::from(b)] += 1;
    }
    let enc = HuffmanEncoder::from_frequencies(&freqs, 11).ok()?;
    let mut body = enc.description().ok()?;
    let single = lits.len() <= 1023;
    if single {
        body.extend_from_slice(&enc.encode_1(lits));
    } else {
        body.extend_from_slice(&enc.encode_4(lits).ok()?);
    }
    let (regen, comp) = (lits.len() as u64, body.len() as u64);
    let (size_format, bits, header_len) = match regen.max(comp) {
        m if single => {
            if m > 1023 {
                return None;
            }
            (0u64, 10, 3)
        }
        m if m <= 1023 => (1, 10, 3),
        m if m <= 16383 => (2, 14, 4),
        m if m <= 262_143 => (3, 18, 5),
        _ => return None,
    };
    let v = 2 | size_format << 2 | regen << 4 | comp << (4 + bits);
    let mut out = v.to_le_bytes()[..header_len].to_vec();
    out.extend_from_slice(&body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_codes_match_the_base_tables() {
        for v in 0..(1u32 << 17) {
            let ll = LL_BASE.partition_point(|&b| b <= v) - 1;
            assert_eq!(usize::from(ll_code(v)), ll, "literal length {v}");
            if v >= 3 {
                let ml = ML_BASE.partition_point(|&b| b <= v) - 1;
                assert_eq!(usize::from(ml_code(v)), ml, "match length {v}");
            }
        }
    }
}
