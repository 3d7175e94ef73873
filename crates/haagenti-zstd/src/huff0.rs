//! Huffman coding of literals (RFC 8878 section 4.2): tree descriptions, decoding tables and
//! 1- or 4-stream decoding.

use alloc::vec::Vec;

use crate::bit_io::BackwardReader;
use crate::error::BlockError;
use crate::fse::{DecodingTable, Distribution, State};

/// Longest Huffman code accepted. RFC 8878 says 11; the reference decoder accepts 12 (its
/// `HUF_TABLELOG_MAX`), and dictionaries in the wild use it, so we do too.
pub const MAX_BITS: u8 = 12;

fn corrupt(what: &'static str) -> BlockError {
    BlockError::Corrupt { what }
}

/// Cells in every decoding table: enough for [`MAX_BITS`].
const CELLS: usize = 1 << MAX_BITS;

/// A Huffman decoding table: `1 << max_bits` cells, each a symbol and its code length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HuffmanTable {
    max_bits: u8,
    /// `symbol | nb_bits << 8` per cell; only the first `1 << max_bits` are used.
    cells: alloc::boxed::Box<[u16; CELLS]>,
}

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
        let mut table = HuffmanTable { max_bits: 0, cells: alloc::boxed::Box::new([0u16; CELLS]) };
        table.rebuild(weights)?;
        Ok(table)
    }

    /// Refills this table from new weights. On error the table is unusable; callers drop it.
    fn rebuild(&mut self, weights: &[u8]) -> Result<(), BlockError> {
        self.max_bits = 0;
        if weights.len() > 255 {
            return Err(corrupt("too many Huffman weights"));
        }
        let mut total = 0u32;
        for &w in weights {
            if w > MAX_BITS {
                return Err(corrupt("Huffman weight too large"));
            }
            if w > 0 {
                total += 1 << (w - 1);
            }
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

        let mut rank_count = [0u32; MAX_BITS as usize + 2];
        let symbol_weight = |s: usize| if s < weights.len() { weights[s] } else { last_weight };
        let n_symbols = weights.len() + 1;
        for s in 0..n_symbols {
            rank_count[usize::from(symbol_weight(s))] += 1;
        }
        let mut rank_start = [0u32; MAX_BITS as usize + 2];
        let mut next = 0;
        for w in 1..=usize::from(max_bits) {
            rank_start[w] = next;
            next += rank_count[w] << (w - 1);
        }
        // Every cell below `1 << max_bits` is written: the weights complete the tree.
        let cells = &mut self.cells;
        for s in 0..n_symbols {
            let w = symbol_weight(s);
            if w == 0 {
                continue;
            }
            let len = 1u32 << (w - 1);
            let start = rank_start[usize::from(w)];
            let cell = s as u16 | u16::from(max_bits + 1 - w) << 8;
            cells[start as usize..(start + len) as usize].fill(cell);
            rank_start[usize::from(w)] += len;
        }
        self.max_bits = max_bits;
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

        // Interleaved main loop: after a refill each stream holds at least 56 bits, enough for
        // four codes of up to 12 bits; fixed-size chunks let the compiler drop bounds checks.
        let done = od.len() / 4 * 4;
        let chunks = oa[..done]
            .chunks_exact_mut(4)
            .zip(ob[..done].chunks_exact_mut(4))
            .zip(oc[..done].chunks_exact_mut(4).zip(od[..done].chunks_exact_mut(4)));
        let shift = 64 - u32::from(self.max_bits);
        let cells = &*self.cells;
        // One step: the next code sits at the top of the pre-shifted word `w`.
        let step = |w: &mut u64, used: &mut u32| {
            let cell = cells[(*w >> shift) as usize & (CELLS - 1)];
            let n = u32::from(cell >> 8);
            *w <<= n;
            *used += n;
            cell as u8
        };
        let [s0, s1, s2, s3] = &mut streams;
        for ((a, b), (c, d)) in chunks {
            s0.refill();
            s1.refill();
            s2.refill();
            s3.refill();
            let (mut w0, mut w1, mut w2, mut w3) = (s0.window(), s1.window(), s2.window(), s3.window());
            let (mut u0, mut u1, mut u2, mut u3) = (0, 0, 0, 0);
            for k in 0..4 {
                a[k] = step(&mut w0, &mut u0);
                b[k] = step(&mut w1, &mut u1);
                c[k] = step(&mut w2, &mut u2);
                d[k] = step(&mut w3, &mut u3);
            }
            s0.skip(u0);
            s1.skip(u1);
            s2.skip(u2);
            s3.skip(u3);
        }
        for (s, o) in streams.iter_mut().zip([oa, ob, oc, od]) {
            self.decode_stream(s, &mut o[done..]);
            if !s.is_exactly_done() {
                return Err(corrupt("Huffman stream does not end where its literals do"));
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn decode_symbol(&self, bits: &mut BackwardReader<'_>) -> u8 {
        // The table always has 4096 cells (the largest table), so the masked index needs no
        // bounds check; smaller tables fill only their first `1 << max_bits` cells.
        let cell = self.cells[bits.peek(u32::from(self.max_bits)) as usize & (CELLS - 1)];
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

    #[test]
    fn table_from_weights_matches_rfc_example() {
        // Weights 4, 3, 2, 0, 1 for literals 0..=4; literal 5's weight (1) is implied.
        let t = HuffmanTable::from_weights(&[4, 3, 2, 0, 1]).unwrap();
        assert_eq!(t.max_bits(), 4);
        // Literal 0 has weight 4 -> 1 bit; it owns the upper half of the table.
        assert!(t.cells[8..16].iter().all(|&c| c == 1 << 8), "symbol 0, one bit");
        // Literal 4 has weight 1 -> 4 bits, the lowest cell.
        assert_eq!(t.cells[0], 4 | 4 << 8);
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
