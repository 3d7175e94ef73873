//! Sequences section (RFC 8878 section 3.1.1.3.2) and sequence execution (3.1.1.4).

use alloc::vec::Vec;

use crate::bit_io::BackwardReader;
use crate::error::{BlockError, Error};
use crate::fse::{self, DecodingTable, Distribution, State};

fn corrupt(what: &'static str) -> BlockError {
    BlockError::Corrupt { what }
}

const LL_BASE: [u32; 36] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024,
    2048, 4096, 8192, 16384, 32768, 65536,
];
const LL_BITS: [u8; 36] =
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
const ML_BASE: [u32; 53] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
    33, 34, 35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051, 4099, 8195, 16387, 32771, 65539,
];
const ML_BITS: [u8; 53] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2,
    3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
];

/// Largest symbol and accuracy log of each table kind.
const LL_MAX: (u8, u8) = (35, 9);
const OF_MAX: (u8, u8) = (31, 8);
const ML_MAX: (u8, u8) = (52, 9);

/// Entropy state that carries from block to block within a frame.
#[derive(Debug, Clone)]
pub(crate) struct SequenceTables {
    /// The last literal-length, offset and match-length tables, for repeat mode.
    pub ll: Option<DecodingTable>,
    pub of: Option<DecodingTable>,
    pub ml: Option<DecodingTable>,
    /// The three repeat offsets.
    pub rep: [u32; 3],
}

impl Default for SequenceTables {
    fn default() -> Self {
        SequenceTables { ll: None, of: None, ml: None, rep: [1, 4, 8] }
    }
}

/// The predefined tables, built once per decoder.
#[derive(Debug, Clone)]
pub(crate) struct Predefined {
    ll: DecodingTable,
    of: DecodingTable,
    ml: DecodingTable,
}

impl Predefined {
    pub(crate) fn new() -> Self {
        Predefined {
            ll: fse::predefined((fse::LL_DEFAULT.0, &fse::LL_DEFAULT.1)),
            of: fse::predefined((fse::OF_DEFAULT.0, &fse::OF_DEFAULT.1)),
            ml: fse::predefined((fse::ML_DEFAULT.0, &fse::ML_DEFAULT.1)),
        }
    }
}

/// Reads one table's mode and, for FSE mode, its description; stores the table in `slot`.
fn read_table(
    mode: u8,
    src: &[u8],
    pos: &mut usize,
    slot: &mut Option<DecodingTable>,
    predefined: &DecodingTable,
    (max_symbol, max_log): (u8, u8),
) -> Result<(), BlockError> {
    match mode {
        0 => *slot = Some(predefined.clone()),
        1 => {
            let symbol = *src.get(*pos).ok_or(corrupt("RLE sequence symbol missing"))?;
            if symbol > max_symbol {
                return Err(corrupt("RLE sequence symbol out of range"));
            }
            *pos += 1;
            *slot = Some(DecodingTable::rle(symbol));
        }
        2 => {
            let (dist, used) = Distribution::read(&src[*pos..], max_log, max_symbol)?;
            *pos += used;
            *slot = Some(DecodingTable::build(&dist)?);
        }
        _ => {
            if slot.is_none() {
                return Err(corrupt("repeat mode without a previous table"));
            }
        }
    }
    Ok(())
}

/// Where sequences copy from and to.
pub(crate) struct Output<'a> {
    /// The decoded bytes; new bytes are appended.
    pub out: &'a mut Vec<u8>,
    /// Index in `out` of the oldest byte matches may reach.
    pub history_start: usize,
    /// Dictionary content, virtually before `history_start`.
    pub dict: &'a [u8],
    /// `out.len()` may not pass this.
    pub limit: usize,
    /// Reported when `limit` is passed: the caller's output limit, or the block limit.
    pub limit_error: Error,
}

/// Decodes the sequences section `src` and executes it against `literals`, appending to `out`.
pub(crate) fn decode_and_execute(
    src: &[u8],
    literals: &[u8],
    tables: &mut SequenceTables,
    predefined: &Predefined,
    dst: &mut Output<'_>,
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
        return push_literals(dst, literals);
    }
    let modes = byte(pos)? as u8;
    pos += 1;
    if modes & 3 != 0 {
        return Err(corrupt("reserved bits set in sequence modes").into());
    }
    read_table(modes >> 6, src, &mut pos, &mut tables.ll, &predefined.ll, LL_MAX)?;
    read_table((modes >> 4) & 3, src, &mut pos, &mut tables.of, &predefined.of, OF_MAX)?;
    read_table((modes >> 2) & 3, src, &mut pos, &mut tables.ml, &predefined.ml, ML_MAX)?;
    let (Some(ll_t), Some(of_t), Some(ml_t)) = (&tables.ll, &tables.of, &tables.ml) else {
        unreachable!("read_table fills every slot or fails");
    };

    let mut bits = BackwardReader::new(&src[pos..])?;
    let mut ll_s = State::init(ll_t, &mut bits);
    let mut of_s = State::init(of_t, &mut bits);
    let mut ml_s = State::init(ml_t, &mut bits);
    let mut rep = tables.rep;
    let mut lit_pos = 0usize;
    for i in 0..count {
        bits.refill();
        let of_code = u32::from(of_s.symbol(of_t));
        let ll_code = usize::from(ll_s.symbol(ll_t));
        let ml_code = usize::from(ml_s.symbol(ml_t));
        let offset_value = (1u32 << of_code) + bits.read(of_code) as u32;
        bits.refill();
        let ml = ML_BASE[ml_code] + bits.read(u32::from(ML_BITS[ml_code])) as u32;
        let ll = LL_BASE[ll_code] + bits.read(u32::from(LL_BITS[ll_code])) as u32;
        if i + 1 < count {
            bits.refill();
            ll_s.update(ll_t, &mut bits);
            ml_s.update(ml_t, &mut bits);
            of_s.update(of_t, &mut bits);
        }

        let offset = if offset_value > 3 {
            let o = offset_value - 3;
            rep = [o, rep[0], rep[1]];
            o
        } else {
            let idx = offset_value - 1 + u32::from(ll == 0);
            match idx {
                0 => rep[0],
                1 => {
                    rep = [rep[1], rep[0], rep[2]];
                    rep[0]
                }
                2 => {
                    rep = [rep[2], rep[0], rep[1]];
                    rep[0]
                }
                _ => {
                    let o = rep[0].wrapping_sub(1);
                    if o == 0 {
                        return Err(corrupt("repeat offset of zero").into());
                    }
                    rep = [o, rep[0], rep[1]];
                    o
                }
            }
        };

        let ll = ll as usize;
        let lits = literals.get(lit_pos..lit_pos + ll).ok_or(corrupt("sequences use more literals than decoded"))?;
        lit_pos += ll;
        execute(dst, lits, offset as usize, ml as usize)?;
    }
    bits.refill();
    if !bits.is_exactly_done() {
        return Err(corrupt("sequence bitstream does not end with the last sequence").into());
    }
    tables.rep = rep;
    push_literals(dst, &literals[lit_pos..])
}

fn push_literals(dst: &mut Output<'_>, lits: &[u8]) -> Result<(), Error> {
    if dst.out.len() + lits.len() > dst.limit {
        return Err(dst.limit_error.clone());
    }
    dst.out.extend_from_slice(lits);
    Ok(())
}

/// Appends `lits`, then copies `len` bytes from `offset` bytes back.
#[inline]
fn execute(dst: &mut Output<'_>, lits: &[u8], offset: usize, mut len: usize) -> Result<(), Error> {
    if dst.out.len() + lits.len() + len > dst.limit {
        return Err(dst.limit_error.clone());
    }
    dst.out.extend_from_slice(lits);
    let available = dst.out.len() - dst.history_start;
    if offset > available {
        let back = offset - available;
        if back > dst.dict.len() {
            return Err(corrupt("match offset reaches before the start of the data").into());
        }
        let start = dst.dict.len() - back;
        let n = len.min(back);
        dst.out.extend_from_slice(&dst.dict[start..start + n]);
        len -= n;
        if len == 0 {
            return Ok(());
        }
    }
    let start = dst.out.len() - offset;
    if offset >= len {
        dst.out.extend_from_within(start..start + len);
    } else {
        // Overlapping copy: the source is periodic with period `offset`, so each pass may copy
        // everything written since `start`, doubling the span.
        while len > 0 {
            let n = len.min(dst.out.len() - start);
            dst.out.extend_from_within(start..start + n);
            len -= n;
        }
    }
    Ok(())
}
