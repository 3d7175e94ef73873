//! Sequences section (RFC 8878 section 3.1.1.3.2) and sequence execution (3.1.1.4).

use alloc::boxed::Box;

use crate::bit_io::BackwardReader;
use crate::cpu::multiversion;
use crate::error::{BlockError, Error};
use crate::fse::{self, DecodingTable, Distribution};
use crate::wildcopy::{SequenceError, Sink, Writer};

fn corrupt(what: &'static str) -> BlockError {
    BlockError::Corrupt { what }
}

pub(crate) const LL_BASE: [u32; 36] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024,
    2048, 4096, 8192, 16384, 32768, 65536,
];
pub(crate) const LL_BITS: [u8; 36] =
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
pub(crate) const ML_BASE: [u32; 53] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
    33, 34, 35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051, 4099, 8195, 16387, 32771, 65539,
];
pub(crate) const ML_BITS: [u8; 53] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2,
    3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
];

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

/// Largest symbol and accuracy log of each table kind.
const LL_MAX: (u8, u8) = (35, 9);
const OF_MAX: (u8, u8) = (31, 8);
const ML_MAX: (u8, u8) = (52, 9);

/// One state of a sequence decoding table, with the code's base value and extra bits folded in
/// (the reference decoder's layout): one lookup per code.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SeqCell {
    /// Value of the code before its extra bits are added.
    base: u32,
    /// Base of the next state.
    next: u16,
    /// Bits to read for the next state.
    nb_bits: u8,
    /// Extra bits of the value.
    extra: u8,
}

/// Which code a sequence table decodes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Code {
    LiteralLength,
    Offset,
    MatchLength,
}

/// Cells in every sequence table's region: enough for the largest accuracy log (9).
const SEQ_CELLS: usize = 1 << 9;

/// The three tables (literal lengths, offsets, match lengths) lie one after another in one
/// array of four regions (the fourth is padding), and every state is an index into the whole
/// array: the decoding loop reads all three from one base, and a mask (a no-op) spares the
/// bounds checks. The one array is allocated once per decoder rather than three tables a
/// frame; no change in decoding speed was measured from the single base.
const ALL_CELLS: usize = 4 * SEQ_CELLS;

impl Code {
    /// The region of this code's table.
    fn region(self) -> usize {
        match self {
            Code::LiteralLength => 0,
            Code::Offset => 1,
            Code::MatchLength => 2,
        }
    }
}

/// Builds the cells of one table from `t` into its region of `cells`; its states then point
/// into the same region.
fn fill(cells: &mut [SeqCell; ALL_CELLS], t: &DecodingTable, code: Code) {
    debug_assert!(t.entries.len() <= SEQ_CELLS, "sequence tables have at most 2^9 states");
    let offset = code.region() * SEQ_CELLS;
    for (cell, e) in cells[offset..offset + SEQ_CELLS].iter_mut().zip(&t.entries) {
        let s = usize::from(e.symbol);
        let (base, extra) = match code {
            Code::LiteralLength => (LL_BASE[s], LL_BITS[s]),
            Code::MatchLength => (ML_BASE[s], ML_BITS[s]),
            Code::Offset => (1u32 << s, e.symbol),
        };
        // `e.base + 2^nb_bits <= 2^log <= SEQ_CELLS`, so `next` plus the bits read stays inside
        // the region.
        *cell = SeqCell { base, next: e.base + offset as u16, nb_bits: e.nb_bits, extra };
    }
}

/// Entropy state that carries from block to block within a frame: the last table of each kind
/// (for repeat mode) and the three repeat offsets.
#[derive(Debug, Clone)]
pub(crate) struct SequenceTables {
    cells: Box<[SeqCell; ALL_CELLS]>,
    /// Accuracy log of each region's table.
    logs: [u8; 3],
    /// Whether each region holds a table yet.
    present: [bool; 3],
    /// The three repeat offsets.
    pub rep: [u32; 3],
}

impl Default for SequenceTables {
    fn default() -> Self {
        SequenceTables {
            cells: Box::new([SeqCell::default(); ALL_CELLS]),
            logs: [0; 3],
            present: [false; 3],
            rep: [1, 4, 8],
        }
    }
}

impl SequenceTables {
    /// Forgets every table and the repeat offsets (a new frame), keeping the allocation.
    pub(crate) fn clear(&mut self) {
        self.present = [false; 3];
        self.rep = [1, 4, 8];
    }

    /// Makes `t` the current table of its kind.
    pub(crate) fn set(&mut self, t: &DecodingTable, code: Code) {
        fill(&mut self.cells, t, code);
        self.logs[code.region()] = t.accuracy_log;
        self.present[code.region()] = true;
    }

    /// Copies the table of kind `code` from `other`.
    fn copy_from(&mut self, other: &SequenceTables, code: Code) {
        let r = code.region();
        let range = r * SEQ_CELLS..r * SEQ_CELLS + SEQ_CELLS.min(1 << other.logs[r]);
        self.cells[range.clone()].copy_from_slice(&other.cells[range]);
        self.logs[r] = other.logs[r];
        self.present[r] = other.present[r];
    }
}

/// The predefined tables, built once per decoder.
#[derive(Debug, Clone)]
pub(crate) struct Predefined(SequenceTables);

impl Predefined {
    pub(crate) fn new() -> Self {
        let mut t = SequenceTables::default();
        t.set(&fse::predefined((fse::LL_DEFAULT.0, &fse::LL_DEFAULT.1)), Code::LiteralLength);
        t.set(&fse::predefined((fse::OF_DEFAULT.0, &fse::OF_DEFAULT.1)), Code::Offset);
        t.set(&fse::predefined((fse::ML_DEFAULT.0, &fse::ML_DEFAULT.1)), Code::MatchLength);
        Predefined(t)
    }
}

/// Reads one table's mode and, for FSE mode, its description; makes it the current table of
/// its kind.
fn read_table(
    mode: u8,
    src: &[u8],
    pos: &mut usize,
    tables: &mut SequenceTables,
    predefined: &Predefined,
    (max_symbol, max_log): (u8, u8),
    code: Code,
) -> Result<(), BlockError> {
    match mode {
        0 => tables.copy_from(&predefined.0, code),
        1 => {
            let symbol = *src.get(*pos).ok_or(corrupt("RLE sequence symbol missing"))?;
            if symbol > max_symbol {
                return Err(corrupt("RLE sequence symbol out of range"));
            }
            *pos += 1;
            tables.set(&DecodingTable::rle(symbol), code);
        }
        2 => {
            let (dist, used) = Distribution::read(&src[*pos..], max_log, max_symbol)?;
            *pos += used;
            let built = DecodingTable::build(&dist)?;
            tables.set(&built, code);
        }
        _ => {
            if !tables.present[code.region()] {
                return Err(corrupt("repeat mode without a previous table"));
            }
        }
    }
    Ok(())
}

/// Where sequences copy from and to.
pub(crate) struct Output<'a, 'b> {
    /// The decoded bytes; new bytes are appended.
    pub out: &'a mut Sink<'b>,
    /// Index in `out` of the oldest byte matches may reach.
    pub history_start: usize,
    /// Dictionary content, virtually before `history_start`.
    pub dict: &'a [u8],
    /// `out.len()` may not pass this.
    pub limit: usize,
    /// Reported when `limit` is passed: the caller's output limit, or the block limit.
    pub limit_error: Error,
}

multiversion! {
    /// Decodes the sequences section `src` and executes it against the first `lit_count` bytes
    /// of `literals` (which has slack after them for wild copies), appending to `out`.
    pub(crate) fn decode_and_execute(
        src: &[u8],
        literals: &[u8],
        lit_count: usize,
        tables: &mut SequenceTables,
        predefined: &Predefined,
        dst: &mut Output<'_, '_>,
    ) -> Result<(), Error> {
        let b0 = usize::from(*src.first().ok_or(corrupt("sequences section missing"))?);
        let byte = |i: usize| src.get(i).copied().map(usize::from).ok_or(corrupt("sequences header truncated"));
        let (count, mut pos) = match b0 {
            0..=127 => (b0, 1),
            128..=254 => (((b0 - 128) << 8) + byte(1)?, 2),
            _ => (byte(1)? + (byte(2)? << 8) + 0x7F00, 3),
        };
        if count == 0 {
            if pos != src.len() {
                return Err(corrupt("bytes after a zero-sequence header").into());
            }
            return push_literals(dst, &literals[..lit_count]);
        }
        let modes = byte(pos)? as u8;
        pos += 1;
        if modes & 3 != 0 {
            return Err(corrupt("reserved bits set in sequence modes").into());
        }
        read_table(modes >> 6, src, &mut pos, tables, predefined, LL_MAX, Code::LiteralLength)?;
        read_table((modes >> 4) & 3, src, &mut pos, tables, predefined, OF_MAX, Code::Offset)?;
        read_table((modes >> 2) & 3, src, &mut pos, tables, predefined, ML_MAX, Code::MatchLength)?;

        let mut bits = BackwardReader::new(&src[pos..])?;
        let [ll_log, of_log, ml_log] = tables.logs.map(u32::from);
        let mut ll_state = bits.read(ll_log) as usize;
        let mut of_state = SEQ_CELLS + bits.read(of_log) as usize;
        let mut ml_state = 2 * SEQ_CELLS + bits.read(ml_log) as usize;
        let [mut r0, mut r1, mut r2] = tables.rep;
        let mut lit_pos = 0usize;
        let mut w = Writer::new(&mut *dst.out, dst.limit);
        // The block's literals and 16 bytes of slack: the bound `Writer::sequence` checks against.
        let lits = &literals[..lit_count + 16];
        let cells = &*tables.cells;
        let mut last_update = 0;
        for _ in 0..count {
            // States are always inside their table's region: each is a cell's `next` plus fewer
            // than 2^nb_bits, which the table construction bounds.
            // The mask is a no-op that spares the bounds checks.
            let llc = cells[ll_state & (ALL_CELLS - 1)];
            let ofc = cells[of_state & (ALL_CELLS - 1)];
            let mlc = cells[ml_state & (ALL_CELLS - 1)];
            // After a refill 56 bits are ready: enough for the offset and match-length extra bits
            // (at most 31 + 16), and, unless all extra bits pass 30, for everything. Otherwise a
            // second refill covers the literal-length extra bits and the state updates (16 + 26).
            bits.refill();
            let offset_value = ofc.base + bits.read_fast(u32::from(ofc.extra)) as u32;
            let ml = mlc.base + bits.read_fast(u32::from(mlc.extra)) as u32;
            if u32::from(ofc.extra) + u32::from(mlc.extra) + u32::from(llc.extra) > 30 {
                bits.refill();
            }
            let ll = llc.base + bits.read_fast(u32::from(llc.extra)) as u32;
            // The last sequence updates the states too (reading bits past the stream's end, which
            // are garbage and given back after the loop): one branch less per sequence. In a valid
            // stream nothing else reads past the end, so `read_fast` serves.
            ll_state = usize::from(llc.next) + bits.read_fast(u32::from(llc.nb_bits)) as usize;
            ml_state = usize::from(mlc.next) + bits.read_fast(u32::from(mlc.nb_bits)) as usize;
            of_state = usize::from(ofc.next) + bits.read_fast(u32::from(ofc.nb_bits)) as usize;
            last_update = u32::from(llc.nb_bits) + u32::from(mlc.nb_bits) + u32::from(ofc.nb_bits);

            // Repeat offsets (RFC 8878 3.1.1.5): values 1..=3 pick from the history, shifted by one
            // when the literal length is zero; index 3 then means "the last offset minus one". Three
            // variables rather than an indexed array keep them in registers.
            let offset = if offset_value > 3 {
                (r0, r1, r2) = (offset_value - 3, r0, r1);
                r0
            } else {
                match offset_value - 1 + u32::from(ll == 0) {
                    0 => r0,
                    1 => {
                        (r0, r1) = (r1, r0);
                        r0
                    }
                    2 => {
                        (r0, r1, r2) = (r2, r0, r1);
                        r0
                    }
                    _ => {
                        let o = r0.wrapping_sub(1);
                        if o == 0 {
                            return Err(corrupt("repeat offset of zero").into());
                        }
                        (r0, r1, r2) = (o, r0, r1);
                        o
                    }
                }
            };

            let (ll, ml, offset) = (ll as usize, ml as usize, offset as usize);
            w.sequence(lits, lit_pos, ll, offset, ml, dst.history_start, dst.dict).map_err(|e| match e {
                SequenceError::Limit => dst.limit_error.clone(),
                SequenceError::Literals => corrupt("sequences use more literals than decoded").into(),
                SequenceError::Offset => corrupt("match offset reaches before the start of the data").into(),
            })?;
            lit_pos += ll;
        }
        bits.unread(last_update);
        bits.refill();
        if !bits.is_exactly_done() {
            return Err(corrupt("sequence bitstream does not end with the last sequence").into());
        }
        w.finish();
        tables.rep = [r0, r1, r2];
        push_literals(dst, &literals[lit_pos..lit_count])
    }
}

fn push_literals(dst: &mut Output<'_, '_>, lits: &[u8]) -> Result<(), Error> {
    if dst.out.len() + lits.len() > dst.limit {
        return Err(dst.limit_error.clone());
    }
    dst.out.extend_from_slice(lits);
    Ok(())
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
