//! Compression: frames any RFC 8878 decoder reads.
//!
//! One strategy so far: a greedy match finder (one candidate per 4-byte hash, the last offset
//! tried first, one byte of lookahead from level 3), Huffman-coded literals when they pay, and
//! per-block FSE tables for the sequence codes. Levels tune the hash table size, how fast the
//! search skips incompressible data, and the lookahead; the reference's per-level strategies
//! (binary-tree and optimal parsing) are not written yet.

use alloc::vec::Vec;

use xxhash_rust::xxh64::Xxh64;

use crate::frame::{MAX_BLOCK_SIZE, ZSTD_MAGIC};
use crate::fse::{self, BitWriter, FseEncoder, FseTable};
use crate::huff0::HuffmanEncoder;
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
    compress_with(data, &CompressorConfig { level, ..Default::default() })
}

/// Compresses `data` into one zstd frame.
pub fn compress_with(data: &[u8], config: &CompressorConfig) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    write_frame_header(&mut out, data.len() as u64, config.checksum);
    let mut finder = MatchFinder::new(config.level);
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
            // Repeat offsets change only through compressed blocks; a block stored raw must not
            // move the encoder's copy of them either.
            let rep_before = finder.rep;
            finder.find(data, start, end, &mut seqs, &mut lits);
            let body_at = out.len();
            if block.len() >= 32
                && write_compressed_block(&mut out, &lits, &seqs, &tables)
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
    if config.checksum {
        let mut h = Xxh64::new(0);
        h.update(data);
        out.extend_from_slice(&(h.digest() as u32).to_le_bytes());
    }
    out
}

fn write_frame_header(out: &mut Vec<u8>, size: u64, checksum: bool) {
    out.extend_from_slice(&ZSTD_MAGIC.to_le_bytes());
    // Single segment: the window is the whole content, whose size the header records.
    let (flag, bytes): (u8, Vec<u8>) = if size < 256 {
        (0, alloc::vec![size as u8])
    } else if size < 65536 + 256 {
        (1, ((size - 256) as u16).to_le_bytes().to_vec())
    } else if size <= u64::from(u32::MAX) {
        (2, (size as u32).to_le_bytes().to_vec())
    } else {
        (3, size.to_le_bytes().to_vec())
    };
    out.push(flag << 6 | 1 << 5 | u8::from(checksum) << 2);
    out.extend_from_slice(&bytes);
}

/// One sequence: literals to copy, then a match.
#[derive(Debug, Clone, Copy)]
struct Seq {
    lit_len: u32,
    /// Offset + 3, or 1..=3 for a repeat offset (RFC 8878 3.1.1.5).
    off_base: u32,
    match_len: u32,
}

/// Greedy match finder over the whole input (frames are single-segment: matches may reach
/// anywhere back).
struct MatchFinder {
    table: Vec<u32>,
    log: u32,
    skip_shift: u32,
    lazy: bool,
    /// The repeat offsets as the decoder will hold them.
    rep: [u32; 3],
}

impl MatchFinder {
    fn new(level: i32) -> Self {
        let (log, skip_shift) = match level {
            ..=0 => (14, 4),
            1..=2 => (15, 5),
            3..=5 => (16, 6),
            _ => (17, 8),
        };
        MatchFinder { table: alloc::vec![u32::MAX; 1 << log], log, skip_shift, lazy: level >= 3, rep: [1, 4, 8] }
    }

    #[inline(always)]
    fn hash(&self, v: u32) -> usize {
        (v.wrapping_mul(2_654_435_761) >> (32 - self.log)) as usize
    }

    /// Indexes a block that was stored without searching it (an RLE block).
    fn skip(&mut self, data: &[u8], start: usize, end: usize) {
        let mut i = start;
        while i + 4 <= end {
            let h = self.hash(read32(data, i));
            self.table[h] = i as u32;
            i += 16;
        }
    }

    fn find(&mut self, data: &[u8], start: usize, end: usize, seqs: &mut Vec<Seq>, lits: &mut Vec<u8>) {
        let mut anchor = start;
        let mut ip = start;
        while ip + 8 <= end {
            // The last offset first: a repeat costs almost nothing to code.
            let rep = self.rep[0] as usize;
            if ip > anchor && rep <= ip && read32(data, ip) == read32(data, ip - rep) {
                let len = 4 + common(data, ip - rep + 4, ip + 4, end);
                self.emit(data, &mut anchor, ip, rep, len, seqs, lits);
                ip += len;
                continue;
            }
            let Some((cand, len)) = self.candidate(data, ip, end) else {
                ip += 1 + ((ip - anchor) >> self.skip_shift);
                continue;
            };
            // Lazy step: a longer match one byte later wins over this one.
            let (mut at, mut cand, mut len) = (ip, cand, len);
            if self.lazy
                && ip + 9 <= end
                && let Some((c1, l1)) = self.candidate(data, ip + 1, end)
                && l1 > len + 1
            {
                (at, cand, len) = (ip + 1, c1, l1);
            }
            // Extend backward over literals that match too.
            while at > anchor && cand > 0 && data[at - 1] == data[cand - 1] {
                at -= 1;
                cand -= 1;
                len += 1;
            }
            self.emit(data, &mut anchor, at, at - cand, len, seqs, lits);
            ip = at + len;
            if ip >= 2 && ip + 4 <= end {
                let h = self.hash(read32(data, ip - 2));
                self.table[h] = (ip - 2) as u32;
            }
        }
        lits.extend_from_slice(&data[anchor..end]);
    }

    /// The hash table's candidate for `ip`, if its first 4 bytes match; records `ip`.
    #[inline(always)]
    fn candidate(&mut self, data: &[u8], ip: usize, end: usize) -> Option<(usize, usize)> {
        let v = read32(data, ip);
        let h = self.hash(v);
        let cand = self.table[h];
        self.table[h] = ip as u32;
        if cand == u32::MAX || read32(data, cand as usize) != v {
            return None;
        }
        let cand = cand as usize;
        Some((cand, 4 + common(data, cand + 4, ip + 4, end)))
    }

    /// Records a sequence, coding the offset as a repeat when it equals one the decoder holds,
    /// and keeps the repeat history exactly as the decoder will (RFC 8878 3.1.1.5).
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        data: &[u8],
        anchor: &mut usize,
        ip: usize,
        offset: usize,
        len: usize,
        seqs: &mut Vec<Seq>,
        lits: &mut Vec<u8>,
    ) {
        let lit_len = ip - *anchor;
        lits.extend_from_slice(&data[*anchor..ip]);
        let o = offset as u32;
        let [r0, r1, r2] = self.rep;
        let off_base = if lit_len > 0 && o == r0 {
            1
        } else if lit_len > 0 && o == r1 {
            self.rep = [r1, r0, r2];
            2
        } else if lit_len > 0 && o == r2 {
            self.rep = [r2, r0, r1];
            3
        } else {
            self.rep = [o, r0, r1];
            o + 3
        };
        seqs.push(Seq { lit_len: lit_len as u32, off_base, match_len: len as u32 });
        *anchor = ip + len;
    }
}

/// Length of the common run of `data[a..]` and `data[b..]`, with `b` bounded by `end`.
#[inline(always)]
fn common(data: &[u8], a: usize, b: usize, end: usize) -> usize {
    let mut n = 0;
    while b + n + 8 <= end {
        let x = u64::from_le_bytes(data[a + n..a + n + 8].try_into().expect("8 bytes"))
            ^ u64::from_le_bytes(data[b + n..b + n + 8].try_into().expect("8 bytes"));
        if x != 0 {
            return n + (x.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while b + n < end && data[a + n] == data[b + n] {
        n += 1;
    }
    n
}

#[inline(always)]
fn read32(data: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]])
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

fn ll_code(ll: u32) -> u8 {
    (LL_BASE.partition_point(|&b| b <= ll) - 1) as u8
}

fn ml_code(ml: u32) -> u8 {
    (ML_BASE.partition_point(|&b| b <= ml) - 1) as u8
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
