//! Finite State Entropy tables (RFC 8878 section 4.1): reading table descriptions, building
//! decoding tables, and the predefined distributions.

use alloc::vec::Vec;

use crate::bit_io::{BackwardReader, ForwardReader};
use crate::error::BlockError;

/// Largest accuracy log the format allows for any FSE table.
pub const MAX_ACCURACY_LOG: u8 = 9;

/// A normalized distribution: per-symbol counts summing to `1 << accuracy_log`, where `-1`
/// marks a "less than one" probability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    /// log2 of the table size.
    pub accuracy_log: u8,
    /// Count per symbol, `-1` for low-probability symbols.
    pub counts: Vec<i16>,
}

impl Distribution {
    /// Reads a table description (RFC 8878 4.1.1) from the start of `src`.
    ///
    /// Returns the distribution and the bytes it used. `max_log` and `max_symbol` are the limits
    /// of the table's context (e.g. 9 and 35 for literal lengths).
    pub fn read(src: &[u8], max_log: u8, max_symbol: u8) -> Result<(Self, usize), BlockError> {
        let corrupt = |what| BlockError::Corrupt { what };
        let mut bits = ForwardReader::new(src);
        let accuracy_log = bits.read(4) as u8 + 5;
        if accuracy_log > max_log {
            return Err(corrupt("FSE accuracy log too large"));
        }
        let table_size = 1i32 << accuracy_log;
        let mut remaining = table_size + 1;
        let mut threshold = table_size;
        let mut nb_bits = u32::from(accuracy_log) + 1;
        let mut counts = Vec::with_capacity(usize::from(max_symbol) + 1);
        let mut previous_zero = false;
        while remaining > 1 {
            if previous_zero {
                // Runs of zero-probability symbols: 2-bit repeat counts, 3 meaning "and more".
                loop {
                    let repeat = bits.read(2);
                    counts.resize(counts.len() + repeat as usize, 0);
                    if counts.len() > usize::from(max_symbol) + 1 {
                        return Err(corrupt("FSE table has too many symbols"));
                    }
                    if repeat != 3 {
                        break;
                    }
                    if bits.overran() {
                        return Err(corrupt("FSE table description truncated"));
                    }
                }
            }
            if counts.len() > usize::from(max_symbol) {
                return Err(corrupt("FSE table has too many symbols"));
            }
            let max = (2 * threshold - 1) - remaining;
            let low = bits.peek(nb_bits - 1) as i32;
            let value = if low < max {
                bits.read(nb_bits - 1);
                low
            } else {
                let v = bits.read(nb_bits) as i32;
                if v >= threshold { v - max } else { v }
            };
            let count = value - 1;
            remaining -= count.abs();
            counts.push(count as i16);
            previous_zero = count == 0;
            while remaining < threshold {
                nb_bits -= 1;
                threshold >>= 1;
            }
            if bits.overran() {
                return Err(corrupt("FSE table description truncated"));
            }
        }
        if remaining != 1 {
            return Err(corrupt("FSE probabilities do not sum to the table size"));
        }
        Ok((Distribution { accuracy_log, counts }, bits.bytes_used()))
    }
}

/// One decoding-table cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Entry {
    /// Added to the bits read to form the next state.
    pub base: u16,
    /// The symbol this state decodes to.
    pub symbol: u8,
    /// Bits to read for the next state.
    pub nb_bits: u8,
}

/// An FSE decoding table built from a [`Distribution`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodingTable {
    /// log2 of the number of states.
    pub accuracy_log: u8,
    /// One entry per state.
    pub entries: Vec<Entry>,
}

impl DecodingTable {
    /// Builds the table (RFC 8878 4.1.1, "FSE table construction").
    pub fn build(dist: &Distribution) -> Result<Self, BlockError> {
        let sum: i64 = dist.counts.iter().map(|&c| i64::from(c).abs()).sum();
        if dist.accuracy_log > 15
            || dist.counts.len() > 256
            || sum != 1i64 << dist.accuracy_log
            || dist.counts.iter().any(|&c| c < -1)
        {
            return Err(BlockError::Corrupt { what: "invalid FSE distribution" });
        }
        let size = 1usize << dist.accuracy_log;
        let mut entries = alloc::vec![Entry::default(); size];
        let mut next = [0u16; 256];
        let mut high = size - 1;
        for (s, &c) in dist.counts.iter().enumerate() {
            if c == -1 {
                entries[high].symbol = s as u8;
                high = high.wrapping_sub(1);
                next[s] = 1;
            } else {
                next[s] = c as u16;
            }
        }
        let step = (size >> 1) + (size >> 3) + 3;
        let mask = size - 1;
        let mut pos = 0usize;
        for (s, &c) in dist.counts.iter().enumerate() {
            for _ in 0..c.max(0) {
                entries[pos].symbol = s as u8;
                loop {
                    pos = (pos + step) & mask;
                    if pos <= high || high == usize::MAX {
                        break;
                    }
                }
            }
        }
        if pos != 0 {
            return Err(BlockError::Corrupt { what: "FSE distribution does not fill its table" });
        }
        for e in entries.iter_mut() {
            let s = usize::from(e.symbol);
            let state = next[s];
            next[s] += 1;
            let nb_bits = dist.accuracy_log - (15 - state.leading_zeros() as u8);
            e.nb_bits = nb_bits;
            e.base = ((u32::from(state) << nb_bits) - size as u32) as u16;
        }
        Ok(DecodingTable { accuracy_log: dist.accuracy_log, entries })
    }

    /// A table that always decodes `symbol` and reads no bits (RLE mode).
    pub fn rle(symbol: u8) -> Self {
        DecodingTable { accuracy_log: 0, entries: alloc::vec![Entry { base: 0, symbol, nb_bits: 0 }] }
    }
}

/// The state of one FSE decoder walking a table.
#[derive(Debug, Clone, Copy)]
pub struct State {
    /// The current state (an index into the table).
    pub index: usize,
}

impl State {
    /// Reads the initial state.
    #[inline(always)]
    pub fn init(table: &DecodingTable, bits: &mut BackwardReader<'_>) -> Self {
        State { index: bits.read(u32::from(table.accuracy_log)) as usize }
    }

    /// The symbol of the current state.
    #[inline(always)]
    pub fn symbol(&self, table: &DecodingTable) -> u8 {
        table.entries[self.index].symbol
    }

    /// Moves to the next state.
    #[inline(always)]
    pub fn update(&mut self, table: &DecodingTable, bits: &mut BackwardReader<'_>) {
        let e = table.entries[self.index];
        self.index = usize::from(e.base) + bits.read(u32::from(e.nb_bits)) as usize;
    }
}

/// Predefined literal-length distribution (RFC 8878 3.1.1.3.2.2.1).
pub const LL_DEFAULT: (u8, [i16; 36]) = (
    6,
    [4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1],
);
/// Predefined match-length distribution (RFC 8878 3.1.1.3.2.2.2).
pub const ML_DEFAULT: (u8, [i16; 53]) = (
    6,
    [
        1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1,
    ],
);
/// Predefined offset-code distribution (RFC 8878 3.1.1.3.2.2.3).
pub const OF_DEFAULT: (u8, [i16; 29]) =
    (5, [1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1]);

/// Builds the decoding table of a predefined distribution.
pub fn predefined(dist: (u8, &[i16])) -> DecodingTable {
    // Not `expect`: that would format the error with `Debug`, whose code (every error's
    // derived `Debug`, `str` escaping) the decoder-only wasm build otherwise does without.
    DecodingTable::build(&Distribution { accuracy_log: dist.0, counts: dist.1.to_vec() })
        .unwrap_or_else(|_| panic!("the predefined distributions are valid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predefined_tables_build() {
        for (log, counts) in
            [(LL_DEFAULT.0, &LL_DEFAULT.1[..]), (ML_DEFAULT.0, &ML_DEFAULT.1[..]), (OF_DEFAULT.0, &OF_DEFAULT.1[..])]
        {
            let sum: i32 = counts.iter().map(|&c| i32::from(c.abs())).sum();
            assert_eq!(sum, 1 << log);
            let t = predefined((log, counts));
            assert_eq!(t.entries.len(), 1 << log);
        }
        // RFC 8878 Appendix A: the first states of the literal-length table.
        let t = predefined((LL_DEFAULT.0, &LL_DEFAULT.1));
        assert_eq!((t.entries[0].symbol, t.entries[0].nb_bits, t.entries[0].base), (0, 4, 0));
        assert_eq!((t.entries[1].symbol, t.entries[1].nb_bits, t.entries[1].base), (0, 4, 16));
        assert_eq!((t.entries[2].symbol, t.entries[2].nb_bits, t.entries[2].base), (1, 5, 32));
        assert_eq!((t.entries[63].symbol, t.entries[63].nb_bits, t.entries[63].base), (32, 6, 0));
    }

    #[test]
    fn bad_descriptions_are_errors() {
        // Accuracy log 5 + 15 = 20 exceeds every limit.
        assert!(Distribution::read(&[0x0F, 0, 0, 0], 9, 35).is_err());
        assert!(Distribution::read(&[], 9, 35).is_err());
    }
}

/// An accuracy (table) log: log2 of an FSE table's size, 5 to 15.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TableLog(u8);

impl TableLog {
    /// Smallest table log a table description can express.
    pub const MIN: u8 = 5;
    /// Largest table log this crate builds.
    pub const MAX: u8 = 15;

    /// A table log, if `log` is in `5..=15`.
    pub fn new(log: u8) -> Option<Self> {
        (Self::MIN..=Self::MAX).contains(&log).then_some(TableLog(log))
    }

    /// The log as a number.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// Why frequencies could not become an FSE table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FseError {
    /// All frequencies are zero.
    NoSymbols,
    /// More than 256 symbols.
    TooManySymbols {
        /// Symbols given.
        count: usize,
    },
    /// More symbols occur than the table has cells.
    TableTooSmall {
        /// Symbols that occur.
        symbols: usize,
        /// The table log asked for.
        log: u8,
    },
    /// A table description did not parse.
    Corrupt(BlockError),
}

impl core::fmt::Display for FseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FseError::NoSymbols => f.write_str("all frequencies are zero"),
            FseError::TooManySymbols { count } => write!(f, "{count} symbols, at most 256"),
            FseError::TableTooSmall { symbols, log } => {
                write!(f, "{symbols} symbols do not fit a table of 2^{log} cells")
            }
            FseError::Corrupt(e) => write!(f, "bad FSE table description: {e}"),
        }
    }
}

impl core::error::Error for FseError {}

/// An FSE table as an encoder or a decoder needs it: a normalized distribution with its table
/// log. Build one from symbol frequencies, write it as an RFC 8878 table description, read one
/// back, and get its decoding table.
///
/// ```
/// use haagenti_zstd::fse::{FseTable, TableLog};
///
/// let table = FseTable::from_frequencies(&[90, 30, 0, 5, 1], TableLog::new(6).unwrap())?;
/// let bytes = table.serialize();
/// let (back, used) = FseTable::deserialize(&bytes, 6, 4)?;
/// assert_eq!((back, used), (table, bytes.len()));
/// # Ok::<(), haagenti_zstd::fse::FseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FseTable {
    dist: Distribution,
}

impl FseTable {
    /// Normalizes `freqs` (one per symbol, symbol = index) to a table of `2^log` cells.
    ///
    /// Every symbol that occurs keeps a cell; symbols too rare for a whole cell get the
    /// "less than one" probability (-1). Counts are rounded from the exact shares, and the
    /// rounding error goes to the most frequent symbols.
    pub fn from_frequencies(freqs: &[u32], log: TableLog) -> Result<Self, FseError> {
        if freqs.len() > 256 {
            return Err(FseError::TooManySymbols { count: freqs.len() });
        }
        let total: u64 = freqs.iter().map(|&f| u64::from(f)).sum();
        let present = freqs.iter().filter(|&&f| f > 0).count();
        if total == 0 {
            return Err(FseError::NoSymbols);
        }
        let size = 1i64 << log.0;
        if present as i64 > size {
            return Err(FseError::TableTooSmall { symbols: present, log: log.0 });
        }
        let last = freqs.iter().rposition(|&f| f > 0).unwrap_or(0);
        let mut counts: Vec<i16> = freqs[..=last]
            .iter()
            .map(|&f| {
                if f == 0 {
                    0
                } else {
                    let share = (u64::from(f) * size as u64 + total / 2) / total;
                    if share == 0 { -1 } else { share as i16 }
                }
            })
            .collect();
        let mut sum: i64 = counts.iter().map(|&c| i64::from(c.abs())).sum();
        // Hand the rounding error to (or take it from) the largest counts, one cell at a time.
        while sum != size {
            let (i, _) =
                counts.iter().enumerate().max_by_key(|&(i, &c)| (c, core::cmp::Reverse(i))).expect("non-empty");
            if sum > size {
                // Take from the largest count that can lose a cell.
                let Some((j, _)) = counts.iter().enumerate().filter(|&(_, &c)| c > 1).max_by_key(|&(_, &c)| c) else {
                    // Only ones and "less than one" left: demote a one to "less than one" does
                    // not change the sum, so the table is too small (checked above; unreachable).
                    return Err(FseError::TableTooSmall { symbols: present, log: log.0 });
                };
                counts[j] -= 1;
                sum -= 1;
            } else if counts[i] < 1 {
                // Only "less than one" counts: promote one to a whole cell (the sum stays).
                counts[i] = 1;
            } else {
                counts[i] += 1;
                sum += 1;
            }
        }
        Ok(FseTable { dist: Distribution { accuracy_log: log.0, counts } })
    }

    /// Wraps a distribution that already sums to its table size.
    pub fn from_distribution(dist: Distribution) -> Result<Self, FseError> {
        DecodingTable::build(&dist).map_err(FseError::Corrupt)?;
        Ok(FseTable { dist })
    }

    /// The normalized counts.
    pub fn distribution(&self) -> &Distribution {
        &self.dist
    }

    /// The table log.
    pub fn table_log(&self) -> u8 {
        self.dist.accuracy_log
    }

    /// Writes the table description (RFC 8878 4.1.1), the inverse of [`FseTable::deserialize`].
    pub fn serialize(&self) -> Vec<u8> {
        let mut w = BitWriter::default();
        let log = self.dist.accuracy_log;
        w.write(u64::from(log - 5), 4);
        let size = 1i32 << log;
        let mut remaining = size + 1;
        let mut threshold = size;
        let mut nb_bits = u32::from(log) + 1;
        let counts = &self.dist.counts;
        let mut s = 0;
        let mut previous_zero = false;
        while remaining > 1 && s < counts.len() {
            if previous_zero {
                let mut zeros = counts[s..].iter().take_while(|&&c| c == 0).count();
                s += zeros;
                while zeros >= 3 {
                    w.write(3, 2);
                    zeros -= 3;
                }
                w.write(zeros as u64, 2);
            }
            let count = i32::from(counts[s]);
            s += 1;
            let max = (2 * threshold - 1) - remaining;
            remaining -= count.abs();
            let mut value = count + 1;
            if value >= threshold {
                value += max;
            }
            w.write(value as u64, if value < max { nb_bits - 1 } else { nb_bits });
            previous_zero = count == 0;
            while remaining < threshold {
                nb_bits -= 1;
                threshold >>= 1;
            }
        }
        w.finish()
    }

    /// Reads a table description; `max_log` (at most 15) and `max_symbol` bound what is
    /// accepted. Returns the table and the bytes used.
    pub fn deserialize(src: &[u8], max_log: u8, max_symbol: u8) -> Result<(Self, usize), FseError> {
        let max_log = max_log.min(TableLog::MAX);
        let (mut dist, used) = Distribution::read(src, max_log, max_symbol).map_err(FseError::Corrupt)?;
        while dist.counts.last() == Some(&0) {
            dist.counts.pop();
        }
        Ok((FseTable { dist }, used))
    }

    /// The decoding table.
    pub fn decoding_table(&self) -> DecodingTable {
        DecodingTable::build(&self.dist).unwrap_or_else(|_| panic!("FseTable holds only valid distributions"))
    }
}

/// Writes bits forward, least significant first, keeping at least 8 bytes of spare capacity
/// past what it has written: a flush is one unconditional 8-byte store, after which the length
/// moves by the whole bytes in the accumulator (the reference's `BIT_flushBits`).
///
/// Invariants, cited by the `SAFETY` comment in [`flush`](Self::flush):
/// - F1. Fewer than 64 bits wait in `acc` (`n < 64`; checked at every flush), and after a flush
///   fewer than 8.
/// - F2. A store of 8 bytes at `buf.len()` is made only after checking that 8 bytes of capacity
///   follow it.
#[derive(Debug, Default)]
pub(crate) struct BitWriter {
    buf: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    /// A writer appending to `buf`, with room for `capacity` bytes before it has to grow.
    pub(crate) fn appending(mut buf: Vec<u8>, capacity: usize) -> Self {
        buf.reserve(capacity + 8);
        BitWriter { buf, acc: 0, n: 0 }
    }

    /// Appends the low `bits` bits of `value` (at most 56), flushing first when needed.
    #[inline(always)]
    pub(crate) fn write(&mut self, value: u64, bits: u32) {
        debug_assert!(bits <= 56);
        if self.n + bits >= 64 {
            self.flush();
        }
        self.add(value & ((1u64 << bits) - 1), bits);
    }

    /// [`write`](Self::write) for values known to fit in `bits` bits (no masking).
    #[inline(always)]
    pub(crate) fn write_fitting(&mut self, value: u64, bits: u32) {
        debug_assert!(bits <= 56);
        if self.n + bits >= 64 {
            self.flush();
        }
        self.add(value, bits);
    }

    /// Appends `value`, which fits in `bits` bits, without flushing: the caller knows that the
    /// bits waiting and these stay under 64 (a hot loop flushes at fixed points instead).
    #[inline(always)]
    pub(crate) fn add(&mut self, value: u64, bits: u32) {
        debug_assert!(self.n + bits < 64 && value >> bits == 0);
        self.acc |= value << self.n;
        self.n += bits;
    }

    /// Moves the whole bytes of the accumulator to the buffer: one 8-byte store, then the
    /// length moved by the bytes that were whole. Afterwards fewer than 8 bits wait.
    #[inline(always)]
    #[allow(unsafe_code)]
    pub(crate) fn flush(&mut self) {
        let len = self.buf.len();
        if self.buf.capacity() - len < 8 {
            // By value, so the writer's fields can stay in registers across the loop around.
            self.buf = grow(core::mem::take(&mut self.buf));
        }
        let bytes = self.n >> 3;
        // The bit budget of the callers of `add` is only debug-checked; this check (one compare
        // per flush) is what the `set_len` below relies on.
        assert!(bytes < 8, "BitWriter: more than 63 bits waiting");
        // SAFETY: F2 - at least 8 bytes of capacity follow `len` (checked just above), so the
        // store stays inside the allocation; F1 - the new length covers only bytes this store
        // initialized (`bytes <= 7`, asserted above).
        unsafe {
            self.buf.as_mut_ptr().add(len).cast::<[u8; 8]>().write_unaligned(self.acc.to_le_bytes());
            self.buf.set_len(len + bytes as usize);
        }
        // `bytes <= 7`: the shift stays below 64.
        self.acc >>= bytes * 8;
        self.n &= 7;
    }

    /// The buffer, ending with the last partial byte (its unused high bits zero).
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.flush();
        if self.n > 0 {
            self.buf.push(self.acc as u8);
        }
        self.buf
    }
}

/// `buf` with room for as many bytes again (at least 64).
#[cold]
#[inline(never)]
fn grow(mut buf: Vec<u8>) -> Vec<u8> {
    buf.reserve(buf.len().max(64));
    buf
}

/// Per-symbol encoding parameters (the reference's `symbolTT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SymbolTransform {
    delta_nb_bits: u32,
    delta_find_state: i32,
}

/// An FSE encoder for one [`FseTable`]: the inverse of [`DecodingTable`] with [`State`].
///
/// Symbols are encoded last to first, so that a decoder reading the stream backward gets them
/// first to last.
///
/// ```
/// use haagenti_zstd::fse::{FseEncoder, FseTable, TableLog};
///
/// let data = b"abracadabra, abracadabra";
/// let mut freqs = [0u32; 256];
/// data.iter().for_each(|&b| freqs[usize::from(b)] += 1);
/// let table = FseTable::from_frequencies(&freqs, TableLog::new(6).unwrap())?;
/// let stream = FseEncoder::new(&table).encode(data).expect("symbols of the table");
/// assert_eq!(table.decode(&stream, data.len()).unwrap(), data);
/// # Ok::<(), haagenti_zstd::fse::FseError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FseEncoder {
    log: u32,
    state_table: Vec<u16>,
    symbols: Vec<SymbolTransform>,
    present: Vec<bool>,
}

impl FseEncoder {
    /// Builds the encoding tables (the reference's `FSE_buildCTable`).
    pub fn new(table: &FseTable) -> Self {
        let log = u32::from(table.dist.accuracy_log);
        let size = 1usize << log;
        let counts = &table.dist.counts;
        // The same spread as the decoding table: cell -> symbol.
        let decoding = table.decoding_table();
        let mut cumul = alloc::vec![0usize; counts.len() + 1];
        for (s, &c) in counts.iter().enumerate() {
            cumul[s + 1] = cumul[s] + usize::from(c.unsigned_abs());
        }
        let mut state_table = alloc::vec![0u16; size];
        let mut next = cumul.clone();
        for (u, e) in decoding.entries.iter().enumerate() {
            let s = usize::from(e.symbol);
            state_table[next[s]] = (size + u) as u16;
            next[s] += 1;
        }
        let mut symbols = alloc::vec![SymbolTransform::default(); counts.len()];
        let mut total = 0i32;
        for (s, &c) in counts.iter().enumerate() {
            symbols[s] = match c {
                0 => SymbolTransform { delta_nb_bits: ((log + 1) << 16) - (1 << log), delta_find_state: 0 },
                -1 | 1 => {
                    let t = SymbolTransform { delta_nb_bits: (log << 16) - (1 << log), delta_find_state: total - 1 };
                    total += 1;
                    t
                }
                c => {
                    let c = i32::from(c);
                    let max_bits_out = log - (31 - (c as u32 - 1).leading_zeros());
                    let min_state_plus = (c as u32) << max_bits_out;
                    let t = SymbolTransform {
                        delta_nb_bits: (max_bits_out << 16).wrapping_sub(min_state_plus),
                        delta_find_state: total - c,
                    };
                    total += c;
                    t
                }
            };
        }
        let present = counts.iter().map(|&c| c != 0).collect();
        FseEncoder { log, state_table, symbols, present }
    }

    /// The encoder of an RLE "table" (RFC 8878 3.1.1.3.2.1, mode 1): `symbol` only, in zero
    /// bits, the state always 0.
    pub(crate) fn rle(symbol: u8) -> Self {
        let n = usize::from(symbol) + 1;
        let mut present = alloc::vec![false; n];
        present[n - 1] = true;
        FseEncoder { log: 0, state_table: alloc::vec![0], symbols: alloc::vec![SymbolTransform::default(); n], present }
    }

    /// Encodes `symbols` into a backward bitstream with its end marker: the initial decoder
    /// state is read first, then the symbols in order. `None` if a symbol has no cell.
    pub fn encode(&self, symbols: &[u8]) -> Option<Vec<u8>> {
        let mut w = BitWriter::default();
        let Some((&last, rest)) = symbols.split_last() else {
            // Nothing to encode: just the marker.
            w.write(1, 1);
            return Some(w.finish());
        };
        let mut state = self.init_state(last)?;
        for &s in rest.iter().rev() {
            self.encode_symbol(&mut w, &mut state, s)?;
        }
        w.write(u64::from(state), self.log);
        w.write(1, 1);
        Some(w.finish())
    }

    /// Encodes `symbols` with two interleaved states, the layout of FSE-compressed Huffman
    /// weights (RFC 8878 4.2.1.2): the decoder alternates between the states, starting with the
    /// one it reads first, and stops when the stream runs out. Needs at least two symbols.
    pub(crate) fn encode_interleaved(&self, symbols: &[u8]) -> Option<Vec<u8>> {
        let n = symbols.len();
        if n < 2 {
            return None;
        }
        let mut w = BitWriter::default();
        let (mut s1, mut s2);
        let mut rest = if n % 2 == 1 {
            s1 = self.init_state(symbols[n - 1])?;
            s2 = self.init_state(symbols[n - 2])?;
            if n >= 3 {
                self.encode_symbol(&mut w, &mut s1, symbols[n - 3])?;
            }
            &symbols[..n.saturating_sub(3)]
        } else {
            s2 = self.init_state(symbols[n - 1])?;
            s1 = self.init_state(symbols[n - 2])?;
            &symbols[..n - 2]
        };
        while let [head @ .., a, b] = rest {
            self.encode_symbol(&mut w, &mut s2, *b)?;
            self.encode_symbol(&mut w, &mut s1, *a)?;
            rest = head;
        }
        w.write(u64::from(s2), self.log);
        w.write(u64::from(s1), self.log);
        w.write(1, 1);
        Some(w.finish())
    }

    #[inline(always)]
    pub(crate) fn encode_symbol(&self, w: &mut BitWriter, state: &mut u32, s: u8) -> Option<()> {
        let t = self.transform(s)?;
        let nb_bits = (*state + t.delta_nb_bits) >> 16;
        w.write(u64::from(*state), nb_bits);
        *state = u32::from(self.state_table[((*state >> nb_bits) as i32 + t.delta_find_state) as usize]);
        Some(())
    }

    #[inline(always)]
    fn transform(&self, s: u8) -> Option<SymbolTransform> {
        (*self.present.get(usize::from(s))?).then(|| self.symbols[usize::from(s)])
    }

    pub(crate) fn init_state(&self, s: u8) -> Option<u32> {
        let t = self.transform(s)?;
        let nb_bits = (t.delta_nb_bits + (1 << 15)) >> 16;
        let value = (nb_bits << 16).wrapping_sub(t.delta_nb_bits);
        Some(u32::from(self.state_table[((value >> nb_bits) as i32 + t.delta_find_state) as usize]))
    }
}

/// An [`FseEncoder`] copied into fixed-size arrays (symbols below 64, at most 512 cells),
/// indexed through masks: the sequence codes' tables, for a loop without bounds checks.
#[derive(Debug, Clone)]
pub(crate) struct SmallFseEncoder {
    log: u32,
    symbols: [SymbolTransform; 64],
    states: [u16; 512],
}

impl SmallFseEncoder {
    /// `None` when `enc` has more than 64 symbols or 512 cells.
    pub(crate) fn new(enc: &FseEncoder) -> Option<Self> {
        if enc.symbols.len() > 64 || enc.state_table.len() > 512 {
            return None;
        }
        let mut t = SmallFseEncoder { log: enc.log, symbols: [SymbolTransform::default(); 64], states: [0; 512] };
        t.symbols[..enc.symbols.len()].copy_from_slice(&enc.symbols);
        t.states[..enc.state_table.len()].copy_from_slice(&enc.state_table);
        Some(t)
    }

    /// [`FseEncoder::encode_present`] on these arrays.
    #[inline(always)]
    pub(crate) fn encode_present(&self, w: &mut BitWriter, state: &mut u32, s: u8) {
        let t = self.symbols[usize::from(s) & 63];
        let nb_bits = (*state + t.delta_nb_bits) >> 16;
        w.add(u64::from(*state) & ((1u64 << nb_bits) - 1), nb_bits);
        *state = u32::from(self.states[((*state >> nb_bits) as i32 + t.delta_find_state) as usize & 511]);
    }

    /// Writes a final state for the decoder to start from.
    pub(crate) fn flush(&self, w: &mut BitWriter, state: u32) {
        w.write(u64::from(state), self.log);
    }
}

impl FseTable {
    /// Decodes `count` symbols from a stream written by [`FseEncoder::encode`]; the stream must
    /// end exactly after them.
    pub fn decode(&self, stream: &[u8], count: usize) -> Result<Vec<u8>, FseError> {
        let table = self.decoding_table();
        let mut out = Vec::with_capacity(count);
        let mut bits = BackwardReader::new(stream).map_err(FseError::Corrupt)?;
        if count > 0 {
            let mut state = State::init(&table, &mut bits);
            for i in 0..count {
                bits.refill();
                out.push(state.symbol(&table));
                if i + 1 < count {
                    state.update(&table, &mut bits);
                }
            }
        }
        bits.refill();
        if !bits.is_exactly_done() {
            return Err(FseError::Corrupt(BlockError::Corrupt { what: "FSE stream does not end with its symbols" }));
        }
        Ok(out)
    }
}
