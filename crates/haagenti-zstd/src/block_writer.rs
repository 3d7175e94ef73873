//! The compressed-block writer: literals and sequences sections, with each entropy table chosen
//! by estimated cost among the ones the format offers. Literals: raw, RLE, Huffman with a new
//! table, or "treeless" (the previous block's or the dictionary's table). Each sequence code:
//! the predefined table, a new table fitted to the block, or "repeat" (the previous block's or
//! the dictionary's). [`EntropyState`] carries the reusable tables from block to block.

use alloc::vec::Vec;

use crate::cpu::multiversion;
use crate::fse::{self, BitWriter, Distribution, FseEncoder, FseTable, SmallFseEncoder};
use crate::huff0::{HuffmanEncoder, HuffmanTable};
use crate::matching::Seq;
use crate::sequences::{LL_BITS, ML_BITS, ll_code, ml_code};

/// Costs are in 1/16 bit.
const BIT: u64 = 16;

/// `16 * log2(x)` for `x >= 1`, to within 1/16 (the fraction interpolated linearly between
/// powers of two). Shared with the optimal parser's prices.
pub(crate) fn log2_16(x: u32) -> u32 {
    let hb = 31 - x.leading_zeros();
    let frac = if hb >= 4 { (x >> (hb - 4)) & 15 } else { (x << (4 - hb)) & 15 };
    hb * 16 + frac
}

/// One sequence code's table, as the encoder and the cost estimate need it: FSE, or RLE (one
/// symbol, no bits; its encoder is a one-cell table).
#[derive(Debug, Clone)]
pub(crate) enum SeqCoder {
    Fse { enc: FseEncoder, log: u8, counts: Vec<i16> },
    Rle { symbol: u8, enc: FseEncoder },
}

impl SeqCoder {
    fn new(table: &FseTable) -> Self {
        let d = table.distribution();
        SeqCoder::Fse { enc: FseEncoder::new(table), log: d.accuracy_log, counts: d.counts.clone() }
    }

    fn rle(symbol: u8) -> Self {
        SeqCoder::Rle { symbol, enc: FseEncoder::rle(symbol) }
    }

    pub(crate) fn from_distribution(dist: &Distribution) -> Option<Self> {
        FseTable::from_distribution(dist.clone()).ok().map(|t| Self::new(&t))
    }

    /// Estimated cost of coding symbols with counts `hist` (1/16 bits); `None` if one has no
    /// cell in this table. The encoding loop relies on this check: it codes only symbols that
    /// passed it.
    fn cost(&self, hist: &[u32]) -> Option<u64> {
        let (log, counts) = match self {
            SeqCoder::Rle { symbol, .. } => {
                return hist.iter().enumerate().all(|(s, &h)| h == 0 || s == usize::from(*symbol)).then_some(0);
            }
            SeqCoder::Fse { log, counts, .. } => (u64::from(*log) * BIT, counts),
        };
        let mut total = 0u64;
        for (s, &h) in hist.iter().enumerate() {
            if h == 0 {
                continue;
            }
            let c = *counts.get(s)?;
            if c == 0 {
                return None;
            }
            let c = c.max(1) as u32;
            total += u64::from(h) * (log - u64::from(log2_16(c)).min(log));
        }
        Some(total)
    }

    fn encoder(&self) -> &FseEncoder {
        match self {
            SeqCoder::Fse { enc, .. } | SeqCoder::Rle { enc, .. } => enc,
        }
    }
}

/// Tables a block may reuse: the last ones sent, or the dictionary's.
#[derive(Debug, Clone, Default)]
pub(crate) struct EntropyState {
    pub huffman: Option<HuffmanEncoder>,
    /// Literal-length, offset and match-length tables.
    pub seq: [Option<SeqCoder>; 3],
}

impl EntropyState {
    /// The tables of a formatted dictionary.
    pub(crate) fn from_dictionary(huffman: &HuffmanTable, dists: &[Distribution; 3]) -> Self {
        EntropyState {
            huffman: Some(HuffmanEncoder::from_table(huffman)),
            seq: [
                SeqCoder::from_distribution(&dists[0]),
                SeqCoder::from_distribution(&dists[1]),
                SeqCoder::from_distribution(&dists[2]),
            ],
        }
    }
}

/// The predefined tables, built once per frame.
pub(crate) struct Predefined([SeqCoder; 3]);

impl Predefined {
    pub(crate) fn new() -> Self {
        let coder = |(log, counts): (u8, &[i16])| {
            let dist = Distribution { accuracy_log: log, counts: counts.to_vec() };
            SeqCoder::new(&FseTable::from_distribution(dist).expect("predefined tables are valid"))
        };
        Predefined([
            coder((fse::LL_DEFAULT.0, &fse::LL_DEFAULT.1)),
            coder((fse::OF_DEFAULT.0, &fse::OF_DEFAULT.1)),
            coder((fse::ML_DEFAULT.0, &fse::ML_DEFAULT.1)),
        ])
    }
}

/// Writes the literals and sequences sections; false if something does not fit (the caller
/// then stores the block raw and restores `state`).
pub(crate) fn write_compressed_block(
    out: &mut Vec<u8>,
    lits: &[u8],
    seqs: &[Seq],
    state: &mut EntropyState,
    predefined: &Predefined,
) -> bool {
    write_literals(out, lits, &mut state.huffman);
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
    let codes: Vec<[u8; 3]> = seqs
        .iter()
        .map(|s| [ll_code(s.lit_len), (31 - s.off_base.leading_zeros()) as u8, ml_code(s.match_len)])
        .collect();
    // Codes are below 64 (at most 35, 31 and 52): the masks only spare bounds checks.
    let mut counts = [[0u32; 64]; 3];
    for c in &codes {
        for k in 0..3 {
            counts[k][usize::from(c[k]) & 63] += 1;
        }
    }
    let hists = [&counts[0][..36], &counts[1][..32], &counts[2][..53]];
    // Per code: predefined (mode 0), RLE (mode 1, when one symbol is used), a new table (mode
    // 2) or the previous one (mode 3), whichever is estimated smallest with its description.
    let max_logs = [9u8, 8, 9];
    let mut modes = 0u8;
    let mut coders: [Option<SeqCoder>; 3] = [None, None, None];
    let mut descs: [Vec<u8>; 3] = Default::default();
    for k in 0..3 {
        let hist = hists[k];
        let mut best: (u64, u8, Option<(SeqCoder, Vec<u8>)>) =
            (predefined.0[k].cost(hist).unwrap_or(u64::MAX), 0, None);
        if let Some(prev) = &state.seq[k]
            && let Some(c) = prev.cost(hist)
            && c < best.0
        {
            best = (c, 3, None);
        }
        let mut used = hist.iter().enumerate().filter(|&(_, &h)| h > 0);
        if let (Some((sym, _)), None) = (used.next(), used.next())
            && 8 * BIT < best.0
        {
            best = (8 * BIT, 1, Some((SeqCoder::rle(sym as u8), alloc::vec![sym as u8])));
        }
        if let Some(table) = fitted_table(hist, n, max_logs[k]) {
            let desc = table.serialize();
            let coder = SeqCoder::new(&table);
            if let Some(c) = coder.cost(hist) {
                let c = c + desc.len() as u64 * 8 * BIT;
                if c < best.0 {
                    best = (c, 2, Some((coder, desc)));
                }
            }
        }
        if best.0 == u64::MAX {
            return false;
        }
        modes |= best.1 << (6 - 2 * k);
        coders[k] = match (best.1, best.2) {
            (0, _) => Some(predefined.0[k].clone()),
            (3, _) => state.seq[k].clone(),
            (_, Some((coder, desc))) => {
                descs[k] = desc;
                Some(coder)
            }
            _ => unreachable!("modes 1 and 2 always come with their table"),
        };
    }
    out.push(modes);
    for desc in &descs {
        out.extend_from_slice(desc);
    }
    let [Some(ll), Some(of), Some(ml)] = &coders else { return false };
    let small = |c: &SeqCoder| SmallFseEncoder::new(c.encoder());
    let (Some(ll), Some(of), Some(ml)) = (small(ll), small(of), small(ml)) else { return false };
    let tables = [ll, of, ml];
    // Every code passed its table's cost check above, so each has cells. Per sequence at most
    // 8 + 9 + 9 state bits, 16 + 16 length bits and 31 offset bits: flushes at fixed points
    // keep the accumulator under 64 bits.
    let mut w = BitWriter::appending(core::mem::take(out), n * 12);
    let last = &codes[n - 1];
    let (Some(ll_s), Some(of_s), Some(ml_s)) =
        (coders_init(&coders[0], last[0]), coders_init(&coders[1], last[1]), coders_init(&coders[2], last[2]))
    else {
        *out = w.finish();
        return false;
    };
    let mut states = [ll_s, of_s, ml_s];
    write_extras(&mut w, &seqs[n - 1], last);
    encode_sequences(&mut w, &tables, &mut states, &seqs[..n - 1], &codes[..n - 1]);
    let [ll_s, of_s, ml_s] = states;
    tables[2].flush(&mut w, ml_s);
    tables[1].flush(&mut w, of_s);
    tables[0].flush(&mut w, ll_s);
    w.write(1, 1);
    *out = w.finish();
    state.seq = coders;
    true
}

/// The initial state of `coder` for its last symbol `s`.
fn coders_init(coder: &Option<SeqCoder>, s: u8) -> Option<u32> {
    coder.as_ref()?.encoder().init_state(s)
}

/// Extra bits per literal-length and match-length code, padded to 64 so a masked code needs no
/// bounds check.
const LL_BITS64: [u8; 64] = pad64(&LL_BITS);
const ML_BITS64: [u8; 64] = pad64(&ML_BITS);

const fn pad64(bits: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    let mut i = 0;
    while i < bits.len() {
        out[i] = bits[i];
        i += 1;
    }
    out
}

multiversion! {
    /// Codes `seqs` (with their `codes`) last to first, after the last sequence's extra bits.
    /// Every code passed its table's cost check, so each has cells.
    fn encode_sequences(
        w: &mut BitWriter,
        tables: &[SmallFseEncoder; 3],
        states: &mut [u32; 3],
        seqs: &[Seq],
        codes: &[[u8; 3]],
    ) -> () {
        // A local writer and states: nothing the loop touches is behind a pointer.
        let mut lw = core::mem::take(w);
        let [mut lls, mut ofs, mut mls] = *states;
        let [ll, of, ml] = tables;
        for (s, c) in seqs.iter().zip(codes).rev() {
            of.encode_present(&mut lw, &mut ofs, c[1]);
            ml.encode_present(&mut lw, &mut mls, c[2]);
            ll.encode_present(&mut lw, &mut lls, c[0]);
            write_extras(&mut lw, s, c);
        }
        *states = [lls, ofs, mls];
        *w = lw;
    }
}

/// Writes a sequence's extra bits, literal length and match length together (at most 32
/// bits), then the offset's (at most 31), and flushes. Needs fewer than 34 bits waiting (fewer
/// than 8 after a flush, plus the three states' at most 26): with fewer than 30 extra bits, as
/// most sequences have, everything fits before one flush (the reference's choice too).
/// Every code's base is a multiple of its extra bits' range, so the extra bits are the value's
/// low bits.
#[inline(always)]
fn write_extras(w: &mut BitWriter, s: &Seq, c: &[u8; 3]) {
    let ll_bits = u32::from(LL_BITS64[usize::from(c[0]) & 63]);
    let ml_bits = u32::from(ML_BITS64[usize::from(c[2]) & 63]);
    let ofc = u32::from(c[1]);
    let low = |v: u32, bits: u32| u64::from(v) & ((1u64 << bits) - 1);
    let lengths = low(s.lit_len, ll_bits) | low(s.match_len - 3, ml_bits) << ll_bits;
    if ll_bits + ml_bits + ofc >= 30 {
        w.flush();
        w.add(lengths, ll_bits + ml_bits);
        w.flush();
    } else {
        w.add(lengths, ll_bits + ml_bits);
    }
    w.add(low(s.off_base, ofc), ofc);
    w.flush();
}

/// A table fitted to `hist` (from `n` symbols): enough cells for every symbol present, no more
/// than the format allows or the data needs.
fn fitted_table(hist: &[u32], n: usize, max: u8) -> Option<FseTable> {
    let present = hist.iter().filter(|&&h| h > 0).count().max(2);
    let need = (usize::BITS - (present - 1).leading_zeros()) as u8 + 1;
    let by_count = (usize::BITS - n.leading_zeros()) as u8;
    let log = fse::TableLog::new(need.max(by_count.min(max)).clamp(5, max))?;
    FseTable::from_frequencies(hist, log).ok()
}

/// Literals section: raw, RLE, Huffman with a new table or treeless with `huffman` (the
/// previous table), whichever is smallest; `huffman` becomes the table sent, if one was.
fn write_literals(out: &mut Vec<u8>, lits: &[u8], huffman: &mut Option<HuffmanEncoder>) {
    let n = lits.len();
    if n >= 8 && lits.iter().all(|&b| b == lits[0]) {
        write_lit_header(out, 1, n);
        out.push(lits[0]);
        return;
    }
    if n >= 32 {
        let mut freqs = [0u32; 256];
        for &b in lits {
            freqs[usize::from(b)] += 1;
        }
        let streams = if n <= 1023 { 0 } else { 6 };
        // Treeless: no description, but the old codes.
        let old = huffman.as_ref().and_then(|h| h.cost(&freqs).map(|bits| (bits.div_ceil(8) as usize + streams, h)));
        let new = HuffmanEncoder::from_frequencies(&freqs, 11).ok().and_then(|enc| {
            let desc = enc.description().ok()?;
            let bits = enc.cost(&freqs)?;
            Some((bits.div_ceil(8) as usize + streams + desc.len(), enc, desc))
        });
        let old_size = old.as_ref().map_or(usize::MAX, |o| o.0);
        let new_size = new.as_ref().map_or(usize::MAX, |o| o.0);
        if old_size.min(new_size).saturating_add(5) < n {
            if old_size <= new_size {
                let enc = old.expect("cheaper than something").1;
                if huffman_section(out, 3, lits, enc, &[]) {
                    return;
                }
            } else {
                let (_, enc, desc) = new.expect("cheaper than something");
                if huffman_section(out, 2, lits, &enc, &desc) {
                    *huffman = Some(enc);
                    return;
                }
            }
        }
    }
    write_lit_header(out, 0, n);
    out.extend_from_slice(lits);
}

/// Header of a raw (0) or RLE (1) literals section of `n` bytes.
fn write_lit_header(out: &mut Vec<u8>, kind: u8, n: usize) {
    if n < 32 {
        out.push(kind | (n as u8) << 3);
    } else if n < 4096 {
        out.extend_from_slice(&((u16::from(kind) | 1 << 2 | (n as u16) << 4).to_le_bytes()));
    } else {
        out.extend_from_slice(&((u32::from(kind) | 3 << 2 | (n as u32) << 4).to_le_bytes()[..3]));
    }
}

/// Appends a Huffman-coded literals section of type 2 (with `desc`) or 3 (treeless) to
/// `out`; false (and `out` as it was) when the streams come out too large for the header.
fn huffman_section(out: &mut Vec<u8>, kind: u64, lits: &[u8], enc: &HuffmanEncoder, desc: &[u8]) -> bool {
    let single = lits.len() <= 1023;
    let regen = lits.len() as u64;
    // The header's size format follows the larger of the two sizes; the literals were chosen
    // to be coded because they shrink, so it is picked by the regenerated size and checked
    // against the compressed one after.
    let (size_format, bits, header_len) = match regen {
        _ if single => (0u64, 10, 3),
        m if m <= 1023 => (1, 10, 3),
        m if m <= 16383 => (2, 14, 4),
        m if m <= 262_143 => (3, 18, 5),
        _ => return false,
    };
    let start = out.len();
    out.extend_from_slice(&[0; 5][..header_len]);
    out.extend_from_slice(desc);
    if single {
        enc.encode_1_into(lits, out);
    } else if enc.encode_4_into(lits, out).is_err() {
        out.truncate(start);
        return false;
    }
    let comp = (out.len() - start - header_len) as u64;
    if comp >= 1 << bits {
        out.truncate(start);
        return false;
    }
    let v = kind | size_format << 2 | regen << 4 | comp << (4 + bits);
    out[start..start + header_len].copy_from_slice(&v.to_le_bytes()[..header_len]);
    true
}
