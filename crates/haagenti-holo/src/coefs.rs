//! Context-modelled coding of quantized DCT coefficients (on the range coder of
//! [`crate::arith`]), in the manner of H.264's CABAC and Lepton: a flag per block for "any
//! non-zero", a significance flag per cell and a "last" flag after each non-zero one, then
//! the magnitude in steps; contexts from the cell's position and from the same cell in the
//! blocks above and to the left, which the decoder already has.
//!
//! One function per section codes both ways ([`Coder`]): the encoder passes the values, the
//! decoder zeros that it fills in.

use alloc::vec;
use alloc::vec::Vec;

use crate::HoloError;
use crate::arith::{Bit, Coder, Decoder, Encoder, IntModel, UintModel};

/// A plane's block grid: `wide` blocks to a row, `blocks` in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grid {
    pub(crate) wide: usize,
    pub(crate) blocks: usize,
}

/// Position buckets for the magnitude contexts.
fn bucket(i: usize) -> usize {
    match i {
        0 => 0,
        1 => 1,
        2 => 2,
        3..=5 => 3,
        6..=9 => 4,
        10..=14 => 5,
        15..=27 => 6,
        _ => 7,
    }
}

/// The section coder's models for sections of `per` cells a block.
struct Models {
    nonempty: [Bit; 3],
    sig: Vec<[Bit; 5]>,
    last: Vec<[Bit; 3]>,
    gt1: [[Bit; 5]; 8],
    gt2: [[Bit; 5]; 8],
    rest: [UintModel; 8],
}

impl Models {
    fn new(per: usize) -> Self {
        // Arrays of models as `const` items (see `Bit::NEW`).
        const GT: [[Bit; 5]; 8] = [[Bit::NEW; 5]; 8];
        const REST: [UintModel; 8] = [UintModel::NEW; 8];
        Models {
            nonempty: [Bit::NEW; 3],
            sig: vec![[Bit::NEW; 5]; per],
            last: vec![[Bit::NEW; 3]; per],
            gt1: GT,
            gt2: GT,
            rest: REST,
        }
    }
}

/// Codes a section: `per` values a block (the cells in the section's order), blocks in each
/// plane's raster order, planes one after another. `max1`: every value is -1, 0 or 1.
///
/// The decoder's `values` are filled in block by block as they decode ([`decode`] reserves the
/// whole section at once: at most 4 bytes a sample, which the coefficients the section adds
/// to take anyway, so the decoder's memory bound is unchanged).
fn code_section<C: Coder>(c: &mut C, values: &mut Vec<i32>, per: usize, grids: &[Grid], max1: bool) {
    let mut m = Models::new(per);
    let mut base = 0;
    // The last non-zero cell of each block of the current plane (-1: none).
    let mut lasts: Vec<i32> = Vec::new();
    for g in grids {
        lasts.clear();
        for b in 0..g.blocks {
            if c.exhausted() {
                return;
            }
            lasts.push(-1);
            if values.len() < (base + b + 1) * per {
                values.resize((base + b + 1) * per, 0);
            }
            let (bx, by) = (b % g.wide, b / g.wide);
            let left = (bx > 0).then(|| b - 1);
            let above = (by > 0).then(|| b - g.wide);
            let at = |n: Option<usize>, i: usize, values: &[i32]| {
                n.map_or(0, |n| values[(base + n) * per + i].unsigned_abs())
            };
            let last_of = |n: Option<usize>| n.map_or(-1, |n| lasts[n]);
            let blk = (base + b) * per;
            // The encoder's last non-zero cell (the decoder learns it from the flags).
            let last = if C::ENCODES {
                values[blk..blk + per].iter().rposition(|&v| v != 0).map_or(-1, |i| i as i32)
            } else {
                0
            };
            let ctx = usize::from(last_of(left) >= 0) + usize::from(last_of(above) >= 0);
            if !c.bit(&mut m.nonempty[ctx], last >= 0) {
                lasts[b] = -1;
                continue;
            }
            let mut coded_last = per as i32 - 1;
            for i in 0..per {
                let (a, l) = (at(above, i, values), at(left, i, values));
                let v = values[blk + i];
                // The last cell of a block not yet ended is non-zero.
                if i + 1 < per && !c.bit(&mut m.sig[i][(a.min(2) + l.min(2)) as usize], v != 0) {
                    continue;
                }
                let mag = if max1 {
                    1
                } else {
                    let (k, ctx) = (bucket(i), (a + l).min(4) as usize);
                    let mag = v.unsigned_abs();
                    if !c.bit(&mut m.gt1[k][ctx], mag > 1) {
                        1
                    } else if !c.bit(&mut m.gt2[k][ctx], mag > 2) {
                        2
                    } else {
                        m.rest[k].code(c, mag.saturating_sub(3)).saturating_add(3)
                    }
                };
                let neg = c.raw(u32::from(v < 0), 1) == 1;
                let mag = i32::try_from(mag).unwrap_or(i32::MAX);
                values[blk + i] = if neg { -mag } else { mag };
                if i + 1 < per {
                    let ctx = usize::from(last_of(left) > i as i32) + usize::from(last_of(above) > i as i32);
                    if c.bit(&mut m.last[i][ctx], last == i as i32) {
                        coded_last = i as i32;
                        break;
                    }
                }
            }
            lasts[b] = coded_last;
        }
        base += g.blocks;
    }
}

/// Codes one value a block (a DC coefficient, or a thumbnail sample) as its difference from
/// the median predictor of its left, upper and upper-left neighbours (LOCO-I's), in contexts
/// by the local gradient. Exact for values within +-1e9 (the quantizer's bound; larger
/// differences saturate, the same way on both sides).
fn code_dc<C: Coder>(c: &mut C, values: &mut Vec<i32>, grids: &[Grid]) {
    const FRESH: [IntModel; 5] = [IntModel::NEW; 5];
    let mut models = FRESH;
    let mut base = 0;
    for g in grids {
        for b in 0..g.blocks {
            if c.exhausted() {
                return;
            }
            if values.len() <= base + b {
                values.push(0);
            }
            let (bx, by) = (b % g.wide, b / g.wide);
            let v = |b: usize| i64::from(values[base + b]);
            let (pred, grad) = match (bx > 0, by > 0) {
                (false, false) => (0, 0),
                (true, false) => (v(b - 1), 0),
                (false, true) => (v(b - g.wide), 0),
                (true, true) => {
                    let (l, a, al) = (v(b - 1), v(b - g.wide), v(b - g.wide - 1));
                    let pred = if al >= l.max(a) {
                        l.min(a)
                    } else if al <= l.min(a) {
                        l.max(a)
                    } else {
                        l + a - al
                    };
                    (pred, (a - al).abs() + (l - al).abs())
                }
            };
            let ctx = match grad {
                0 => 0,
                1..=2 => 1,
                3..=6 => 2,
                7..=14 => 3,
                _ => 4,
            };
            let diff = (i64::from(values[base + b]) - pred).clamp(-i64::from(i32::MAX), i64::from(i32::MAX)) as i32;
            let diff = models[ctx].code(c, diff);
            values[base + b] = (pred + i64::from(diff)).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        }
        base += g.blocks;
    }
}

fn total(grids: &[Grid]) -> usize {
    grids.iter().map(|g| g.blocks).sum()
}

/// The bytes of a section of `per` cells a block ([`code_section`]), led by one value a
/// block ([`code_dc`]) when `dc` is given.
pub(crate) fn encode(dc: Option<&[i32]>, values: &[i32], per: usize, grids: &[Grid], max1: bool) -> Vec<u8> {
    debug_assert_eq!(values.len(), total(grids) * per);
    let mut e = Encoder::default();
    if let Some(dc) = dc {
        code_dc(&mut e, &mut dc.to_vec(), grids);
    }
    if per > 0 {
        code_section(&mut e, &mut values.to_vec(), per, grids, max1);
    }
    e.finish()
}

/// Decodes what [`encode`] wrote: (one value a block if `dc`, the section's values).
pub(crate) fn decode(
    bytes: &[u8],
    dc: bool,
    per: usize,
    grids: &[Grid],
    max1: bool,
) -> Result<(Vec<i32>, Vec<i32>), HoloError> {
    let mut d = Decoder::new(bytes);
    // Sized at once: the geometry (checked against the limits) sets how many values a whole
    // section has. Growing them as they decoded (1.5 MB for fragment 0 of a 512 x 512 photo,
    // every AC cell) cost 6 ms of reallocation in Chromium's first preview.
    let mut first = Vec::with_capacity(if dc { total(grids) } else { 0 });
    if dc {
        code_dc(&mut d, &mut first, grids);
    }
    let mut values = Vec::with_capacity(total(grids) * per);
    if per > 0 {
        code_section(&mut d, &mut values, per, grids, max1);
    }
    d.finish()?;
    // A section read to its end without running out has every block.
    debug_assert!(first.len() == if dc { total(grids) } else { 0 } && values.len() == total(grids) * per);
    Ok((first, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_round_trip() {
        let grids = [Grid { wide: 7, blocks: 35 }, Grid { wide: 3, blocks: 6 }, Grid { wide: 1, blocks: 1 }];
        let n = total(&grids);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for per in [1, 5, 63, 64] {
            for max1 in [false, true] {
                let values: Vec<i32> = (0..n * per)
                    .map(|i| match next() % 10 {
                        0..=5 => 0,
                        6 | 7 => 1 - 2 * (next() % 2) as i32,
                        _ if max1 => -1,
                        8 => (next() % 40) as i32 - 20,
                        _ => [i32::MAX, -i32::MAX, 1 << 20, (i % 3) as i32][i % 4],
                    })
                    .collect();
                let dc: Vec<i32> =
                    (0..n).map(|i| (i as i32 * 37) % 101 - 50 + [0, 1_000_000_000, -1_000_000_000][i % 3]).collect();
                let bytes = encode(Some(&dc), &values, per, &grids, max1);
                let (d, v) = decode(&bytes, true, per, &grids, max1).unwrap();
                assert_eq!((d, v), (dc.clone(), values.clone()), "per {per} max1 {max1}");
                // Every truncation is an error, never a panic.
                for cut in 0..bytes.len() {
                    assert!(decode(&bytes[..cut], true, per, &grids, max1).is_err());
                }
                assert!(decode(&[bytes.as_slice(), &[0]].concat(), true, per, &grids, max1).is_err());
            }
        }
        // All zeros: a flag a block.
        let bytes = encode(None, &vec![0; n * 64], 64, &grids, false);
        assert!(bytes.len() < 8, "{}", bytes.len());
    }
}
