//! Huffman coding of literals (RFC 8878 section 4.2): tree descriptions, decoding tables and
//! 1- or 4-stream decoding.

use alloc::vec::Vec;

use crate::bit_io::BackwardReader;
use crate::cpu::multiversion;
use crate::error::BlockError;
use crate::fse::{DecodingTable, Distribution, State};

mod fast;

/// Longest Huffman code accepted. RFC 8878 says 11; the reference decoder accepts 12 (its
/// `HUF_TABLELOG_MAX`), and dictionaries in the wild use it, so we do too.
pub const MAX_BITS: u8 = 12;

fn corrupt(what: &'static str) -> BlockError {
    BlockError::Corrupt { what }
}

/// Cells in every decoding table: enough for [`MAX_BITS`].
const CELLS: usize = 1 << MAX_BITS;

/// Smallest table log: shorter codes are spread over `1 << FAST_LOG` cells so that the fast
/// loop indexes every table with the same shift.
const FAST_LOG: u8 = 11;

/// A Huffman decoding table: `1 << log` cells, each a symbol and its code length, where `log` is
/// the longest code length or 11, whichever is larger.
#[derive(Debug, Clone)]
pub struct HuffmanTable {
    max_bits: u8,
    log: u8,
    /// `symbol | nb_bits << 8` per cell; only the first `1 << log` are used.
    cells: alloc::boxed::Box<[u16; CELLS]>,
    /// Cells of symbol pairs derived from `cells` ([`Self::build_pairs`]), made on the first
    /// large section that uses this table, and whether they pay (`None` until then).
    pairs: Option<(alloc::boxed::Box<[u32; CELLS]>, bool)>,
}

/// The same codes: the pair cells are derived data.
impl PartialEq for HuffmanTable {
    fn eq(&self, other: &Self) -> bool {
        (self.max_bits, self.log) == (other.max_bits, other.log) && self.cells[..] == other.cells[..]
    }
}

impl Eq for HuffmanTable {}

/// Literal sections at least this long get the pair table (building it costs about as much
/// as decoding a few thousand symbols).
const PAIRS_MIN: usize = 16 << 10;

impl HuffmanTable {
    /// Reads a Huffman tree description (RFC 8878 4.2.1) from the start of `src`; returns the
    /// table and the bytes the description used.
    pub fn read(src: &[u8]) -> Result<(Self, usize), BlockError> {
        let mut slot = None;
        let used = Self::read_into(&mut slot, src)?;
        Ok((slot.expect("read_into fills the slot on success"), used))
    }

    /// Reads a tree description into `slot`, reusing the table already there, so that blocks
    /// with new tables do not allocate.
    pub(crate) fn read_into(slot: &mut Option<Self>, src: &[u8]) -> Result<usize, BlockError> {
        let header = *src.first().ok_or(corrupt("missing Huffman tree description"))?;
        let mut weights = Vec::with_capacity(256);
        let used = if header < 128 {
            let len = usize::from(header);
            let data = src.get(1..1 + len).ok_or(corrupt("Huffman weights truncated"))?;
            read_fse_weights(data, &mut weights)?;
            1 + len
        } else {
            let count = usize::from(header) - 127;
            let bytes = count.div_ceil(2);
            let data = src.get(1..1 + bytes).ok_or(corrupt("Huffman weights truncated"))?;
            for i in 0..count {
                let b = data[i / 2];
                weights.push(if i % 2 == 0 { b >> 4 } else { b & 15 });
            }
            1 + bytes
        };
        match slot {
            Some(table) => {
                if let Err(e) = table.rebuild(&weights) {
                    *slot = None;
                    return Err(e);
                }
            }
            None => *slot = Some(Self::from_weights(&weights)?),
        }
        Ok(used)
    }

    /// Builds the table from the weights of every symbol but the last, whose weight is implied.
    pub fn from_weights(weights: &[u8]) -> Result<Self, BlockError> {
        let mut table = HuffmanTable { max_bits: 0, log: 0, cells: alloc::boxed::Box::new([0u16; CELLS]), pairs: None };
        table.rebuild(weights)?;
        Ok(table)
    }

    /// Refills this table from new weights. On error the table is unusable; callers drop it.
    fn rebuild(&mut self, weights: &[u8]) -> Result<(), BlockError> {
        self.max_bits = 0;
        self.pairs = None;
        if weights.len() > 255 {
            return Err(corrupt("too many Huffman weights"));
        }
        // One pass: validate, sum the tree and count symbols per weight.
        let mut total = 0u32;
        let mut rank_count = [0u16; MAX_BITS as usize + 1];
        for &w in weights {
            if w > MAX_BITS {
                return Err(corrupt("Huffman weight too large"));
            }
            total += (1u32 << w) >> 1;
            rank_count[usize::from(w)] += 1;
        }
        if total == 0 {
            return Err(corrupt("Huffman weights are all zero"));
        }
        let max_bits = (32 - total.leading_zeros()) as u8;
        if max_bits > MAX_BITS {
            return Err(corrupt("Huffman codes too long"));
        }
        let rest = (1u32 << max_bits) - total;
        if !rest.is_power_of_two() {
            return Err(corrupt("Huffman weights do not complete a tree"));
        }
        let last_weight = rest.trailing_zeros() as u8 + 1;
        rank_count[usize::from(last_weight)] += 1;

        // Counting sort of the symbols by weight (stable, so symbols ascend within a weight).
        let mut rank_index = [0u16; MAX_BITS as usize + 2];
        for w in 1..=usize::from(MAX_BITS) {
            rank_index[w + 1] = rank_index[w] + rank_count[w];
        }
        let bounds = rank_index;
        let mut sorted = [0u8; 256];
        let n_symbols = weights.len() + 1;
        for (s, &w) in weights.iter().chain(core::iter::once(&last_weight)).enumerate() {
            if w > 0 {
                sorted[usize::from(rank_index[usize::from(w)])] = s as u8;
                rank_index[usize::from(w)] += 1;
            }
        }
        debug_assert!(usize::from(bounds[usize::from(MAX_BITS) + 1]) <= n_symbols);

        // Codes shorter than `log` bits fill `2^(log - length)` cells each, lightest weights
        // first, as the reference lays them out. Every cell below `1 << log` is written: the
        // weights complete the tree.
        let log = max_bits.max(FAST_LOG);
        let scale = u32::from(log - max_bits);
        let mut pos = 0usize;
        for w in 1..=max_bits {
            let symbols = &sorted[usize::from(bounds[usize::from(w)])..usize::from(bounds[usize::from(w) + 1])];
            let len = 1usize << (u32::from(w) - 1 + scale);
            let nb_bits = u16::from(max_bits + 1 - w) << 8;
            let cells = &mut self.cells[pos..pos + symbols.len() * len];
            fill_rank(cells, symbols, len, nb_bits);
            pos += symbols.len() * len;
        }
        debug_assert_eq!(pos, 1 << log);
        self.max_bits = max_bits;
        self.log = log;
        Ok(())
    }

    /// The longest code length in the table.
    pub fn max_bits(&self) -> u8 {
        self.max_bits
    }

    /// Decodes one stream filling `out`; the stream must end exactly.
    pub fn decode_1(&self, src: &[u8], out: &mut [u8]) -> Result<(), BlockError> {
        let mut bits = BackwardReader::new(src)?;
        self.decode_stream(&mut bits, out);
        if !bits.is_exactly_done() {
            return Err(corrupt("Huffman stream does not end where its literals do"));
        }
        Ok(())
    }

    /// Decodes four streams (after their 6-byte jump table) filling `out`.
    pub fn decode_4(&self, src: &[u8], out: &mut [u8]) -> Result<(), BlockError> {
        if src.len() < 10 {
            return Err(corrupt("4-stream literals too short"));
        }
        let s1 = usize::from(u16::from_le_bytes([src[0], src[1]]));
        let s2 = usize::from(u16::from_le_bytes([src[2], src[3]]));
        let s3 = usize::from(u16::from_le_bytes([src[4], src[5]]));
        let body = &src[6..];
        if s1 + s2 + s3 >= body.len() {
            return Err(corrupt("Huffman jump table points past the literals"));
        }
        let (a, rest) = body.split_at(s1);
        let (b, rest) = rest.split_at(s2);
        let (c, d) = rest.split_at(s3);
        let seg = out.len().div_ceil(4);
        if 3 * seg > out.len() {
            return Err(corrupt("too few literals for four streams"));
        }
        let (oa, orest) = out.split_at_mut(seg);
        let (ob, orest) = orest.split_at_mut(seg);
        let (oc, od) = orest.split_at_mut(seg);
        let mut streams =
            [BackwardReader::new(a)?, BackwardReader::new(b)?, BackwardReader::new(c)?, BackwardReader::new(d)?];

        // The fast loop takes all but the last few symbols of each stream; five codes of up to
        // 11 bits fit its budget per step, 12-bit tables take four. With a pair table that
        // pays, a lookup gives two symbols where both codes fit its window.
        let outs = [&mut *oa, &mut *ob, &mut *oc, &mut *od];
        let done = match &self.pairs {
            Some((pairs, true)) => fast_4_pairs(pairs, self.log, &mut streams, outs),
            _ => [fast_4(&self.cells, self.log, &mut streams, outs); 4],
        };
        for ((s, o), done) in streams.iter_mut().zip([oa, ob, oc, od]).zip(done) {
            self.decode_stream(s, &mut o[done..]);
            if !s.is_exactly_done() {
                return Err(corrupt("Huffman stream does not end where its literals do"));
            }
        }
        Ok(())
    }

    /// [`decode_4`](Self::decode_4), first deriving the pair table when `out` is large enough
    /// for it to pay and it is not there yet (kept for later sections that reuse this table).
    pub(crate) fn decode_4_cached(&mut self, src: &[u8], out: &mut [u8]) -> Result<(), BlockError> {
        if self.pairs.is_none() && out.len() >= PAIRS_MIN {
            self.pairs = Some(self.build_pairs());
        }
        self.decode_4(src, out)
    }

    /// Cells of up to two symbols: where the first code leaves room in the `log`-bit window
    /// for the whole of the next one, both (sequential decoding would find the same second
    /// symbol whatever the unknown low bits). Pays when at least a quarter of the lookups
    /// (weighted as the code weights them) give two symbols.
    fn build_pairs(&self) -> (alloc::boxed::Box<[u32; CELLS]>, bool) {
        let log = u32::from(self.log);
        let mask = (1usize << log) - 1;
        let mut pairs = alloc::boxed::Box::new([0u32; CELLS]);
        let mut doubles = 0usize;
        for (i, p) in pairs[..=mask].iter_mut().enumerate() {
            let first = self.cells[i];
            let n1 = u32::from(first >> 8);
            let second = self.cells[(i << n1) & mask];
            let n2 = u32::from(second >> 8);
            *p = if n1 + n2 <= log {
                doubles += 1;
                u32::from(first as u8) | u32::from(second as u8) << 8 | (n1 + n2) << 16 | 2 << 24
            } else {
                u32::from(first as u8) | n1 << 16 | 1 << 24
            };
        }
        (pairs, doubles * 4 > mask)
    }

    #[inline(always)]
    fn decode_symbol(&self, bits: &mut BackwardReader<'_>) -> u8 {
        // The table always has 4096 cells (the largest table), so the masked index needs no
        // bounds check; smaller tables fill only their first `1 << log` cells.
        let cell = self.cells[bits.peek(u32::from(self.log)) as usize & (CELLS - 1)];
        bits.skip(u32::from(cell >> 8));
        cell as u8
    }

    fn decode_stream(&self, bits: &mut BackwardReader<'_>, out: &mut [u8]) {
        let per_refill = 56 / usize::from(self.max_bits.max(1));
        for chunk in out.chunks_mut(per_refill) {
            bits.refill();
            for o in chunk {
                *o = self.decode_symbol(bits);
            }
        }
        bits.refill();
    }
}

multiversion! {
    /// The fast loop for a table of log `log` ([`FAST_LOG`] or [`MAX_BITS`]).
    fn fast_4(cells: &[u16; CELLS], log: u8, streams: &mut [BackwardReader<'_>; 4], outs: [&mut [u8]; 4]) -> usize {
        if log == FAST_LOG {
            fast::decode_4::<5, { FAST_LOG as u32 }>(cells, streams, outs)
        } else {
            fast::decode_4::<4, { MAX_BITS as u32 }>(cells, streams, outs)
        }
    }
}

multiversion! {
    /// [`fast_4`] over a pair table.
    fn fast_4_pairs(pairs: &[u32; CELLS], log: u8, streams: &mut [BackwardReader<'_>; 4], outs: [&mut [u8]; 4]) -> [usize; 4] {
        if log == FAST_LOG {
            fast::decode_4_pairs::<5, { FAST_LOG as u32 }>(pairs, streams, outs)
        } else {
            fast::decode_4_pairs::<4, { MAX_BITS as u32 }>(pairs, streams, outs)
        }
    }
}

/// Fills `cells` with `len` cells per symbol of `symbols`, each `symbol | nb_bits`; `len` is a
/// power of two. Short runs get fixed-size stores, long ones 8-cell chunks.
#[inline(always)]
fn fill_rank(cells: &mut [u16], symbols: &[u8], len: usize, nb_bits: u16) {
    macro_rules! runs {
        ($n:literal) => {
            for (run, &s) in cells.chunks_exact_mut($n).zip(symbols) {
                run.copy_from_slice(&[u16::from(s) | nb_bits; $n]);
            }
        };
    }
    match len {
        1 => runs!(1),
        2 => runs!(2),
        4 => runs!(4),
        8 => runs!(8),
        _ => {
            for (run, &s) in cells.chunks_exact_mut(len).zip(symbols) {
                for chunk in run.chunks_exact_mut(8) {
                    chunk.copy_from_slice(&[u16::from(s) | nb_bits; 8]);
                }
            }
        }
    }
}

/// Decodes FSE-compressed Huffman weights (RFC 8878 4.2.1.2): two interleaved states sharing
/// one backward bitstream, until the stream is exhausted.
fn read_fse_weights(data: &[u8], weights: &mut Vec<u8>) -> Result<(), BlockError> {
    let (dist, used) = Distribution::read(data, 6, 255)?;
    let table = DecodingTable::build(&dist)?;
    let mut bits = BackwardReader::new(&data[used..])?;
    let mut s1 = State::init(&table, &mut bits);
    let mut s2 = State::init(&table, &mut bits);
    loop {
        bits.refill();
        weights.push(s1.symbol(&table));
        s1.update(&table, &mut bits);
        if bits.overflowed() {
            weights.push(s2.symbol(&table));
            break;
        }
        weights.push(s2.symbol(&table));
        s2.update(&table, &mut bits);
        if bits.overflowed() {
            weights.push(s1.symbol(&table));
            break;
        }
        if weights.len() > 255 {
            return Err(corrupt("too many Huffman weights"));
        }
    }
    if weights.len() > 255 {
        return Err(corrupt("too many Huffman weights"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A little xorshift generator for the tests.
    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn pair_tables_decode_exactly_what_single_symbol_tables_do() {
        // Skewed alphabets (where pairs pay), a flat one (where they do not), and long codes
        // (12-bit tables); each coded in four streams, decoded both ways. (Symbols below 128:
        // the encoder's descriptions use direct weights.)
        for (seed, symbols, skew, max_bits) in [
            (1, 4, 0.7, 11),
            (2, 16, 0.5, 11),
            (3, 40, 0.3, 11),
            (4, 127, 0.0, 11),
            (5, 120, 0.05, 11),
            (6, 2, 0.9, 11),
            (7, 13, 0.5, 12),
        ] {
            let mut next = rng(seed);
            let data: Vec<u8> = (0..PAIRS_MIN * 3 + 17)
                .map(|_| {
                    // Geometric over `symbols` with ratio 1 - skew (uniform when 0).
                    let mut s = 0;
                    while s + 1 < symbols && (next() % 1000) as f64 >= skew * 1000.0 {
                        s += 1;
                        if skew == 0.0 {
                            s = (next() % symbols as u64) as usize;
                            break;
                        }
                    }
                    (s * 7 % 127) as u8
                })
                .collect();
            let mut freqs = [0u32; 256];
            data.iter().for_each(|&b| freqs[usize::from(b)] += 1);
            // Our encoder stops at 11 bits; a 12-bit table (as the reference writes) comes
            // from weights: 1 to 12 bits for symbols 0, 7, ..., 77, and 12 for 84 (implied).
            let (enc, description) = if max_bits == 12 {
                let mut weights = [0u8; 84];
                (0..12).for_each(|k| weights[7 * k] = 12 - k as u8);
                let table = HuffmanTable::from_weights(&weights).unwrap();
                (HuffmanEncoder::from_table(&table), weights)
            } else {
                let enc = HuffmanEncoder::from_frequencies(&freqs, max_bits).unwrap();
                (enc, [0; 84])
            };
            let mut table = if max_bits == 12 {
                HuffmanTable::from_weights(&description).unwrap()
            } else {
                HuffmanTable::read(&enc.description().unwrap()).unwrap().0
            };
            assert!(table.max_bits() <= max_bits && (max_bits < 12 || table.max_bits() == 12), "seed {seed}");
            let fresh = table.clone();
            let four = enc.encode_4(&data).unwrap();
            let mut plain = vec![0u8; data.len()];
            table.decode_4(&four, &mut plain).unwrap();
            assert!(plain == data, "seed {seed}: single-symbol decoding differs");
            let mut paired = vec![0u8; data.len()];
            table.decode_4_cached(&four, &mut paired).unwrap();
            let pays = table.pairs.as_ref().unwrap().1;
            // Short codes pair up; 7-bit codes in an 11-bit window never do.
            assert!(pays == (skew >= 0.3) || (0.0..0.3).contains(&skew) && skew > 0.0, "seed {seed}: pairs pay {pays}");
            assert!(paired == data, "seed {seed}: pair decoding differs");
            // Damaged streams: both ways give the same result, error or bytes.
            for k in 0..40 {
                let mut bad = four.clone();
                let at = 6 + (next() as usize) % (bad.len() - 6);
                bad[at] ^= 1 << (k % 8);
                let mut a = vec![0u8; data.len()];
                let mut b = vec![0u8; data.len()];
                let ra = fresh.decode_4(&bad, &mut a);
                let rb = table.decode_4(&bad, &mut b);
                assert_eq!(ra.is_ok(), rb.is_ok(), "seed {seed} flip {at}");
                if ra.is_ok() {
                    assert!(a == b, "seed {seed} flip {at}: outputs differ");
                }
            }
        }
    }

    #[test]
    fn table_from_weights_matches_rfc_example() {
        // Weights 4, 3, 2, 0, 1 for literals 0..=4; literal 5's weight (1) is implied.
        let t = HuffmanTable::from_weights(&[4, 3, 2, 0, 1]).unwrap();
        assert_eq!(t.max_bits(), 4);
        // The 4-bit tree is spread over 2^11 cells, 128 per 4-bit code.
        assert_eq!(t.log, FAST_LOG);
        // Literal 0 has weight 4 -> 1 bit; it owns the upper half of the table.
        assert!(t.cells[1024..2048].iter().all(|&c| c == 1 << 8), "symbol 0, one bit");
        // Literals 4 and 5 have weight 1 -> 4 bits, the lowest cells, in symbol order.
        assert!(t.cells[..128].iter().all(|&c| c == 4 | 4 << 8), "symbol 4, four bits");
        assert!(t.cells[128..256].iter().all(|&c| c == 5 | 4 << 8), "symbol 5, four bits");
    }

    #[test]
    fn incomplete_trees_are_errors() {
        assert!(HuffmanTable::from_weights(&[]).is_err());
        assert!(HuffmanTable::from_weights(&[13]).is_err());
        // 2 + 1 = 3: the rest (1) makes 4, fine; 2 + 2 + 1 = 5, rest 3 is not a power of two.
        assert!(HuffmanTable::from_weights(&[2, 1]).is_ok());
        assert!(HuffmanTable::from_weights(&[2, 2, 1]).is_err());
    }
}

/// Why a Huffman encoder could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HuffmanError {
    /// Fewer than two symbols occur (zstd stores such literals as RLE instead).
    TooFewSymbols,
    /// More than 256 frequencies, or more symbols than codes of `max_bits` can tell apart.
    TooManySymbols,
    /// `max_bits` is outside `1..=11`.
    BadMaxBits(u8),
    /// The weights fit neither the direct form (at most 128 of them) nor 127 bytes of
    /// FSE-compressed form. The reference encoder then stores the literals raw, and so should
    /// callers: such codes save next to nothing.
    WeightsNeedCompression,
    /// A stream of a 4-stream block would pass the 64 KiB its jump table can express.
    StreamTooLarge,
}

impl core::fmt::Display for HuffmanError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HuffmanError::TooFewSymbols => f.write_str("fewer than two symbols occur"),
            HuffmanError::TooManySymbols => f.write_str("more symbols than 256 or than the code lengths allow"),
            HuffmanError::BadMaxBits(b) => write!(f, "maximum code length {b} is outside 1..=11"),
            HuffmanError::WeightsNeedCompression => {
                f.write_str("the Huffman weights fit neither direct nor FSE-compressed descriptions")
            }
            HuffmanError::StreamTooLarge => f.write_str("a Huffman stream passes 64 KiB"),
        }
    }
}

impl core::error::Error for HuffmanError {}

/// A Huffman encoder: length-limited canonical codes laid out exactly as [`HuffmanTable`]
/// decodes them, the tree description, and 1- or 4-stream encoding.
///
/// ```
/// use haagenti_zstd::huff0::{HuffmanEncoder, HuffmanTable};
///
/// let text = b"so it goes, so it goes, so it goes";
/// let mut freqs = [0u32; 256];
/// text.iter().for_each(|&b| freqs[usize::from(b)] += 1);
/// let enc = HuffmanEncoder::from_frequencies(&freqs, 11)?;
/// let (table, _) = HuffmanTable::read(&enc.description()?).expect("valid description");
/// let stream = enc.encode_1(text);
/// let mut out = vec![0; text.len()];
/// table.decode_1(&stream, &mut out).expect("decodes");
/// assert_eq!(&out, text);
/// # Ok::<(), haagenti_zstd::huff0::HuffmanError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HuffmanEncoder {
    max_bits: u8,
    /// Code length per symbol (0: absent).
    lengths: Vec<u8>,
    /// Code per symbol, `lengths[s]` bits.
    codes: Vec<u16>,
}

impl HuffmanEncoder {
    /// Builds codes no longer than `max_bits` (at most 11) for `freqs` (index = symbol).
    pub fn from_frequencies(freqs: &[u32], max_bits: u8) -> Result<Self, HuffmanError> {
        if freqs.len() > 256 {
            return Err(HuffmanError::TooManySymbols);
        }
        if !(1..=11).contains(&max_bits) {
            return Err(HuffmanError::BadMaxBits(max_bits));
        }
        let symbols: Vec<usize> = (0..freqs.len()).filter(|&s| freqs[s] > 0).collect();
        if symbols.len() < 2 {
            return Err(HuffmanError::TooFewSymbols);
        }
        if symbols.len() > 1 << max_bits {
            return Err(HuffmanError::TooManySymbols);
        }
        let mut lengths = alloc::vec![0u8; freqs.len()];
        huffman_lengths(freqs, &symbols, &mut lengths);
        limit_lengths(freqs, &symbols, &mut lengths, max_bits);
        Ok(Self::with_lengths(lengths))
    }

    /// Canonical codes for the given code lengths (0: absent), in the decoder's layout: cells by
    /// weight ascending (longest codes first), symbols ascending within a weight; a code is its
    /// first cell >> (weight - 1).
    fn with_lengths(lengths: Vec<u8>) -> Self {
        let max_bits = lengths.iter().copied().max().unwrap_or(1).max(1);
        let weight = |s: usize| if lengths[s] == 0 { 0 } else { max_bits + 1 - lengths[s] };
        let mut next_cell = [0u32; MAX_BITS as usize + 1];
        let mut cell = 0u32;
        for w in 1..=max_bits {
            next_cell[usize::from(w)] = cell;
            cell += (0..lengths.len()).filter(|&s| weight(s) == w).count() as u32 * (1 << (w - 1));
        }
        let mut codes = alloc::vec![0u16; lengths.len()];
        for (s, code) in codes.iter_mut().enumerate() {
            let w = weight(s);
            if w > 0 {
                *code = (next_cell[usize::from(w)] >> (w - 1)) as u16;
                next_cell[usize::from(w)] += 1 << (w - 1);
            }
        }
        HuffmanEncoder { max_bits, lengths, codes }
    }

    /// The encoder for the codes a decoding table holds (a dictionary's, or a previous block's),
    /// for treeless literals.
    pub(crate) fn from_table(table: &HuffmanTable) -> Self {
        let mut lengths = alloc::vec![0u8; 256];
        for &cell in &table.cells[..1 << table.log] {
            lengths[usize::from(cell as u8)] = (cell >> 8) as u8;
        }
        Self::with_lengths(lengths)
    }

    /// Bits to code literals with these symbol counts; `None` if one of them has no code.
    pub(crate) fn cost(&self, freqs: &[u32; 256]) -> Option<u64> {
        let mut bits = 0u64;
        for (s, &f) in freqs.iter().enumerate() {
            if f > 0 {
                let len = *self.lengths.get(s)?;
                if len == 0 {
                    return None;
                }
                bits += u64::from(f) * u64::from(len);
            }
        }
        Some(bits)
    }

    /// The longest code.
    pub fn max_bits(&self) -> u8 {
        self.max_bits
    }

    /// Code length of `symbol`, 0 if it has no code.
    pub fn code_length(&self, symbol: u8) -> u8 {
        self.lengths.get(usize::from(symbol)).copied().unwrap_or(0)
    }

    /// The tree description (RFC 8878 4.2.1): the weights FSE-compressed when that is smaller
    /// (and always past 128 weights), else written directly, 4 bits each.
    pub fn description(&self) -> Result<Vec<u8>, HuffmanError> {
        let last = self.lengths.iter().rposition(|&l| l > 0).unwrap_or(0);
        let weights: Vec<u8> =
            self.lengths[..last].iter().map(|&l| if l == 0 { 0 } else { self.max_bits + 1 - l }).collect();
        let direct = (weights.len() <= 128).then(|| {
            let mut out = alloc::vec![127 + weights.len() as u8];
            for pair in weights.chunks(2) {
                out.push(pair[0] << 4 | pair.get(1).copied().unwrap_or(0));
            }
            out
        });
        let compressed = compress_weights(&weights);
        match (direct, compressed) {
            (Some(d), Some(c)) if c.len() < d.len() => Ok(c),
            (Some(d), _) => Ok(d),
            (None, Some(c)) => Ok(c),
            (None, None) => Err(HuffmanError::WeightsNeedCompression),
        }
    }

    /// Encodes `data` as one stream. Symbols without a code are encoded as if absent (callers
    /// build the encoder from `data`'s own frequencies).
    pub fn encode_1(&self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_1_into(data, &mut out);
        out
    }

    /// Encodes `data` as four streams behind their 6-byte jump table.
    pub fn encode_4(&self, data: &[u8]) -> Result<Vec<u8>, HuffmanError> {
        let mut out = Vec::new();
        self.encode_4_into(data, &mut out)?;
        Ok(out)
    }

    /// Code and length per byte value (0, 0 for bytes without a code).
    fn code_table(&self) -> [(u64, u32); 256] {
        let mut table = [(0u64, 0u32); 256];
        for (s, t) in table.iter_mut().enumerate() {
            *t = (
                u64::from(self.codes.get(s).copied().unwrap_or(0)),
                u32::from(self.lengths.get(s).copied().unwrap_or(0)),
            );
        }
        table
    }

    /// [`encode_1`](Self::encode_1), appending to `out`.
    pub(crate) fn encode_1_into(&self, data: &[u8], out: &mut Vec<u8>) {
        self.stream_into(&self.code_table(), data, out);
    }

    /// [`encode_4`](Self::encode_4), appending to `out`.
    pub(crate) fn encode_4_into(&self, data: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
        let table = self.code_table();
        let seg = data.len().div_ceil(4);
        let jump = out.len();
        out.extend_from_slice(&[0; 6]);
        for i in 0..4 {
            let start = out.len();
            self.stream_into(&table, &data[(i * seg).min(data.len())..((i + 1) * seg).min(data.len())], out);
            if i < 3 {
                let size = u16::try_from(out.len() - start).map_err(|_| HuffmanError::StreamTooLarge)?;
                out[jump + 2 * i..jump + 2 * i + 2].copy_from_slice(&size.to_le_bytes());
            }
        }
        Ok(())
    }

    /// One stream: the codes of `data` last to first (so a backward reader meets them first to
    /// last), then the end marker.
    fn stream_into(&self, table: &[(u64, u32); 256], data: &[u8], out: &mut Vec<u8>) {
        let room = data.len() * usize::from(self.max_bits) / 8 + 8;
        let mut w = crate::fse::BitWriter::appending(core::mem::take(out), room);
        write_codes(&mut w, table, data);
        w.write(1, 1);
        *out = w.finish();
    }
}

multiversion! {
    /// The codes of `data`, last to first (codes at most 11 bits).
    fn write_codes(w0: &mut crate::fse::BitWriter, table: &[(u64, u32); 256], data: &[u8]) -> () {
        // A local writer, kept in registers; four codes (at most 44 bits) per flush.
        let mut lw = core::mem::take(w0);
        let w = &mut lw;
        let mut chunks = data.rchunks_exact(4);
        for c in &mut chunks {
            let (c3, l3) = table[usize::from(c[3])];
            let (c2, l2) = table[usize::from(c[2])];
            let (c1, l1) = table[usize::from(c[1])];
            let (c0, l0) = table[usize::from(c[0])];
            let v = c3 | c2 << l3 | c1 << (l3 + l2) | c0 << (l3 + l2 + l1);
            w.add(v, l3 + l2 + l1 + l0);
            w.flush();
        }
        for &b in chunks.remainder().iter().rev() {
            let (code, len) = table[usize::from(b)];
            w.write_fitting(code, len);
        }
        *w0 = lw;
    }
}

/// FSE-compresses Huffman weights: a table description then two interleaved states (table log
/// 6 or 5). Each candidate is decoded back before it is used, so an encoding the decoder's
/// end-of-stream rule would misread is never written. `None` when nothing fits 127 bytes.
fn compress_weights(weights: &[u8]) -> Option<Vec<u8>> {
    use crate::fse::{FseEncoder, FseTable, TableLog};
    if weights.len() < 2 {
        return None;
    }
    let mut hist = [0u32; MAX_BITS as usize + 1];
    for &w in weights {
        hist[usize::from(w)] += 1;
    }
    for log in [6, 5] {
        let Ok(table) = FseTable::from_frequencies(&hist, TableLog::new(log)?) else { continue };
        let Some(stream) = FseEncoder::new(&table).encode_interleaved(weights) else { continue };
        let mut body = table.serialize();
        body.extend_from_slice(&stream);
        if body.len() >= 128 {
            continue;
        }
        let mut check = Vec::with_capacity(256);
        if read_fse_weights(&body, &mut check).is_ok() && check == weights {
            let mut out = alloc::vec![body.len() as u8];
            out.extend_from_slice(&body);
            return Some(out);
        }
    }
    None
}

/// Plain Huffman code lengths (two-queue construction over symbols sorted by frequency).
fn huffman_lengths(freqs: &[u32], symbols: &[usize], lengths: &mut [u8]) {
    let mut leaves: Vec<(u64, usize)> = symbols.iter().map(|&s| (u64::from(freqs[s]), s)).collect();
    leaves.sort_unstable();
    // Nodes: leaves are 0..n, internal nodes follow; parent links give depths.
    let n = leaves.len();
    let mut parent = alloc::vec![0usize; 2 * n - 1];
    let mut weight: Vec<u64> = leaves.iter().map(|&(f, _)| f).collect();
    let (mut leaf, mut internal) = (0usize, n);
    let pick = |weight: &Vec<u64>, leaf: &mut usize, internal: &mut usize| {
        if *leaf < n && (*internal >= weight.len() || weight[*leaf] <= weight[*internal]) {
            *leaf += 1;
            *leaf - 1
        } else {
            *internal += 1;
            *internal - 1
        }
    };
    for _ in 0..n - 1 {
        let a = pick(&weight, &mut leaf, &mut internal);
        let b = pick(&weight, &mut leaf, &mut internal);
        let id = weight.len();
        weight.push(weight[a] + weight[b]);
        parent[a] = id;
        parent[b] = id;
    }
    let mut depth = alloc::vec![0u8; 2 * n - 1];
    for id in (0..2 * n - 2).rev() {
        depth[id] = depth[parent[id]].saturating_add(1);
    }
    for (i, &(_, s)) in leaves.iter().enumerate() {
        lengths[s] = depth[i];
    }
}

/// Caps lengths at `max_bits`, then restores a complete code (Kraft sum exactly 1): lengthen
/// the cheapest codes while over, shorten the longest while under.
fn limit_lengths(freqs: &[u32], symbols: &[usize], lengths: &mut [u8], max_bits: u8) {
    let unit = |l: u8| 1u64 << (max_bits - l);
    for &s in symbols {
        lengths[s] = lengths[s].min(max_bits);
    }
    let full = 1u64 << max_bits;
    let mut sum: u64 = symbols.iter().map(|&s| unit(lengths[s])).sum();
    while sum > full {
        // Lengthening the least frequent code that can still grow costs the fewest bits.
        let &s = symbols
            .iter()
            .filter(|&&s| lengths[s] < max_bits)
            .min_by_key(|&&s| (freqs[s], core::cmp::Reverse(lengths[s])))
            .expect("a code can grow while the sum is over");
        sum -= unit(lengths[s]) / 2;
        lengths[s] += 1;
    }
    while sum < full {
        let deficit = full - sum;
        // Shorten the most frequent among the codes whose shortening still fits.
        let &s = symbols
            .iter()
            .filter(|&&s| lengths[s] > 1 && unit(lengths[s]) <= deficit)
            .max_by_key(|&&s| (freqs[s], lengths[s]))
            .expect("the longest code always fits the deficit");
        sum += unit(lengths[s]);
        lengths[s] -= 1;
    }
}
