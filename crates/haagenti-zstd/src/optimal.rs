//! Price-based ("optimal") parsing for the high levels, in the manner of the reference's
//! btopt/btultra (candidates from the binary trees of [`crate::matching`]): a shortest-path
//! search over the block where every position can be reached by a literal or by any length of
//! any candidate match, each step priced in estimated bits.
//!
//! Prices come from the block itself: literals by their order-0 entropy, matches by the extra
//! bits of their offset and length codes plus an estimate of the codes' own cost. The repeat
//! offsets along the best path to each position are carried with it, so repeat matches are
//! found and priced as the cheap codes they are.

use alloc::vec::Vec;

use crate::block_writer::log2_16;
use crate::matching::{MatchFinder, Seq, code_offset, emit};
use crate::sequences::{LL_BITS, ML_BITS};

/// Prices are in 1/16 bit.
const ONE_BIT: u32 = 16;

/// Per-symbol prices for one block.
struct Prices {
    literal: [u32; 256],
    ll_code: [u32; 36],
    ml_code: [u32; 53],
    of_code: [u32; 32],
}

/// `ONE_BIT * log2(total / count)`, with unseen symbols priced as if seen once in twice the
/// total.
fn price_table<const N: usize>(counts: &[u32; N]) -> [u32; N] {
    let total: u32 = counts.iter().sum::<u32>().max(1);
    let mut out = [0u32; N];
    for (p, &c) in out.iter_mut().zip(counts) {
        let c = if c == 0 { 1 } else { c * 2 };
        *p = log2_16(2 * total) - log2_16(c).min(log2_16(2 * total));
    }
    out
}

fn ll_code(ll: u32) -> usize {
    usize::from(crate::sequences::ll_code(ll))
}

fn ml_code(ml: u32) -> usize {
    usize::from(crate::sequences::ml_code(ml))
}

impl Prices {
    fn from_sequences(seqs: &[Seq], lits: &[u8]) -> Self {
        let mut lit = [0u32; 256];
        for &b in lits {
            lit[usize::from(b)] += 1;
        }
        let (mut ll, mut ml, mut of) = ([0u32; 36], [0u32; 53], [0u32; 32]);
        for s in seqs {
            ll[ll_code(s.lit_len)] += 1;
            ml[ml_code(s.match_len)] += 1;
            of[(31 - s.off_base.leading_zeros()) as usize] += 1;
        }
        Prices {
            literal: price_table(&lit),
            ll_code: price_table(&ll),
            ml_code: price_table(&ml),
            of_code: price_table(&of),
        }
    }

    fn initial(block: &[u8]) -> Self {
        let mut lit = [0u32; 256];
        for &b in block {
            lit[usize::from(b)] += 1;
        }
        // Before any statistics: short lengths and small offsets are the common ones.
        let mut ll = [0u32; 36];
        let mut ml = [0u32; 53];
        let mut of = [0u32; 32];
        for (i, c) in ll.iter_mut().enumerate() {
            *c = 64 >> i.min(6);
        }
        for (i, c) in ml.iter_mut().enumerate() {
            *c = 64 >> (i / 4).min(6);
        }
        for c in of.iter_mut() {
            *c = 4;
        }
        of[1] = 16; // repeat codes
        of[0] = 8;
        Prices {
            literal: price_table(&lit),
            ll_code: price_table(&ll),
            ml_code: price_table(&ml),
            of_code: price_table(&of),
        }
    }

    #[inline(always)]
    fn match_price(&self, off_base: u32, len: u32, lit_len: u32) -> u32 {
        let of = (31 - off_base.leading_zeros()) as usize;
        let ml = ml_code(len);
        let ll = ll_code(lit_len);
        self.of_code[of]
            + of as u32 * ONE_BIT
            + self.ml_code[ml]
            + u32::from(ML_BITS[ml]) * ONE_BIT
            + self.ll_code[ll]
            + u32::from(LL_BITS[ll]) * ONE_BIT
    }
}

/// One position of the search: the cheapest known way to reach it.
#[derive(Clone, Copy)]
struct Node {
    price: u32,
    /// Length of the step that reaches here: 0 for a literal.
    len: u32,
    offset: u32,
    /// Literals since the last match on the path.
    lit_run: u32,
    rep: [u32; 3],
}

/// Parses `data[start..end]` into sequences with the price search: a first pass priced from
/// the block's literals, a second priced by the statistics of the first pass's sequences (the
/// chain candidates of the first pass are kept, so the second costs no searching).
pub(crate) fn parse(
    mf: &mut MatchFinder,
    data: &[u8],
    start: usize,
    end: usize,
    seqs: &mut Vec<Seq>,
    lits: &mut Vec<u8>,
) {
    let mut cache = Cache { starts: alloc::vec![u32::MAX; end - start + 1], items: Vec::new(), recording: true };
    let prices = Prices::initial(&data[start..end]);
    let path = search(mf, data, start, end, &prices, mf.rep, &mut cache);
    let (mut s1, mut l1, mut rep) = (Vec::new(), Vec::new(), mf.rep);
    replay(&path, &mut rep, data, start, end, &mut s1, &mut l1);
    cache.recording = false;
    let prices = Prices::from_sequences(&s1, &l1);
    let path = search(mf, data, start, end, &prices, mf.rep, &mut cache);
    let mut rep = mf.rep;
    replay(&path, &mut rep, data, start, end, seqs, lits);
    mf.rep = rep;
}

/// The chain candidates of each position the first pass expanded.
struct Cache {
    /// Index in `items` of each position's first candidate; `u32::MAX` where none were kept.
    starts: Vec<u32>,
    /// (offset, length) runs, each ended by a (0, 0).
    items: Vec<(u32, u32)>,
    recording: bool,
}

/// Emits the matches of `path` (position, offset, length, in order).
fn replay(
    path: &[(usize, u32, u32)],
    rep: &mut [u32; 3],
    data: &[u8],
    start: usize,
    end: usize,
    seqs: &mut Vec<Seq>,
    lits: &mut Vec<u8>,
) {
    let mut anchor = start;
    for &(at, offset, len) in path {
        emit(rep, data, &mut anchor, at, offset as usize, len as usize, seqs, lits);
    }
    lits.extend_from_slice(&data[anchor..end]);
}

/// The cheapest path through `data[start..end]`, as its matches in order.
fn search(
    mf: &mut MatchFinder,
    data: &[u8],
    start: usize,
    end: usize,
    prices: &Prices,
    rep: [u32; 3],
    cache: &mut Cache,
) -> Vec<(usize, u32, u32)> {
    let n = end - start;
    let unreached = Node { price: u32::MAX, len: 0, offset: 0, lit_run: 0, rep };
    let mut nodes = alloc::vec![unreached; n + 1];
    nodes[0] = Node { price: 0, len: 0, offset: 0, lit_run: 0, rep };
    let min_len = u32::from(mf.p.min_match).max(3);
    let sufficient = mf.p.target_length.max(min_len);
    let mut candidates: Vec<(u32, u32)> = Vec::with_capacity(64);
    let mut i = 0usize;
    while i < n {
        let node = nodes[i];
        if node.price == u32::MAX {
            i += 1;
            continue;
        }
        let ip = start + i;
        // A literal step.
        let lit_price = node.price + prices.literal[usize::from(data[ip])] + ONE_BIT / 4;
        let next = &mut nodes[i + 1];
        if lit_price < next.price {
            *next = Node { price: lit_price, len: 0, offset: 0, lit_run: node.lit_run + 1, rep: node.rep };
        }
        if ip + 8 > end {
            i += 1;
            continue;
        }
        // Candidates: the repeat offsets valid here, then the hash chain.
        candidates.clear();
        let ll0 = node.lit_run == 0;
        let reps = if ll0 { [node.rep[1], node.rep[2], node.rep[0].wrapping_sub(1)] } else { node.rep };
        for r in reps {
            let l = mf.match_at(data, ip, r as usize, end, min_len as usize);
            if l > 0 {
                candidates.push((r, l as u32));
            }
        }
        let mut longest = candidates.iter().map(|c| c.1).max().unwrap_or(0);
        if longest < sufficient {
            let reps_found = candidates.len();
            if cache.recording {
                mf.matches(data, ip, end, |o, l| candidates.push((o as u32, l as u32)));
                cache.starts[i] = cache.items.len() as u32;
                cache.items.extend_from_slice(&candidates[reps_found..]);
                cache.items.push((0, 0));
            } else if cache.starts[i] != u32::MAX {
                let from = cache.starts[i] as usize;
                candidates.extend(cache.items[from..].iter().take_while(|c| c.1 != 0));
            }
            longest = candidates.iter().map(|c| c.1).max().unwrap_or(0);
        }
        if longest >= sufficient {
            // Long enough to take as it is: jump over it, as the reference does.
            let &(offset, len) = candidates.iter().find(|c| c.1 == longest).expect("the longest is a candidate");
            let mut r = node.rep;
            let off_base = code_offset(&mut r, offset, ll0);
            let price = node.price + prices.match_price(off_base, len, node.lit_run);
            let j = i + len as usize;
            if price < nodes[j].price {
                nodes[j] = Node { price, len, offset, lit_run: 0, rep: r };
            }
            // Positions inside the match are left unexpanded.
            i = j;
            continue;
        }
        let mut covered = min_len - 1;
        for &(offset, max_len) in candidates.iter() {
            let mut r = node.rep;
            let off_base = code_offset(&mut r, offset, ll0);
            // Lengths a closer candidate already covers are not worth pricing again, except
            // for repeats (cheaper offsets).
            let from = if off_base <= 3 { min_len } else { covered + 1 };
            for len in from..=max_len {
                let price = node.price + prices.match_price(off_base, len, node.lit_run);
                let j = i + len as usize;
                if price < nodes[j].price {
                    nodes[j] = Node { price, len, offset, lit_run: 0, rep: r };
                }
            }
            covered = covered.max(max_len);
        }
        i += 1;
    }
    // Walk back from the end.
    let mut path = Vec::new();
    let mut j = n;
    while j > 0 {
        let node = nodes[j];
        if node.len == 0 {
            j -= 1;
        } else {
            j -= node.len as usize;
            path.push((start + j, node.offset, node.len));
        }
    }
    path.reverse();
    path
}
