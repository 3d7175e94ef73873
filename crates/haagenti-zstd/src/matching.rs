//! Match finders: they cut a block into sequences (literals, then a match) for the block writer.
//!
//! Strategies, by level (the table is [`LevelParams::for_level`]):
//! - `Fast` (levels -7..=2): one candidate per hash of the next `min_match` bytes, two
//!   positions probed per step, skipping faster through data that does not match (negative
//!   levels skip faster still).
//! - `DFast` (3..=4): two hash tables, 8-byte and `min_match`-byte; the long match wins when
//!   there is one.
//! - `Greedy`, `Lazy`, `Lazy2` (5..=12): hash chains searched `2^search_log` deep; lazy parsing
//!   looks one (two) positions ahead and moves when the match there is worth more (longer, or
//!   nearly as long with a cheaper offset).
//! - `BtLazy2` (13..=15): lazy2 parsing over binary trees: per hash bucket, a tree of earlier positions
//!   ordered by their suffixes, searched and rebuilt at once as each position is inserted (the
//!   reference's `ZSTD_insertBt1` scheme), so deep searches visit few candidates.
//! - `Opt` (16..=22): price-based parsing over the binary-tree candidates (the `optimal`
//!   module).
//!
//! Every strategy tries the repeat offsets first: a repeat match costs almost nothing to code.
//! Matches never reach further back than the window (`1 << window_log`), so a decoder needs no
//! more memory than the frame header says.

use alloc::vec::Vec;

use crate::cpu::multiversion;

/// One sequence: literals to copy, then a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seq {
    pub lit_len: u32,
    /// Offset + 3, or 1..=3 for a repeat offset (RFC 8878 3.1.1.5).
    pub off_base: u32,
    pub match_len: u32,
}

/// How a level parses its input, as the reference names its strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Strategy {
    /// No match search: every byte is a literal, so a block is only entropy coded (Huffman).
    /// For data whose bytes are skewed but whose repeats are chance, like the exponent bytes
    /// of float weights, where short matches cost more than the literals they replace.
    Literals,
    /// One hash probe per position, greedy.
    Fast,
    /// Long (8-byte) and short hash probes, greedy.
    DFast,
    /// Hash-chain search, greedy.
    Greedy,
    /// Hash-chain search, one position of lookahead.
    Lazy,
    /// Hash-chain search, two positions of lookahead.
    Lazy2,
    /// Binary-tree search, two positions of lookahead.
    BtLazy2,
    /// Price-based optimal parsing over binary-tree candidates.
    Opt,
}

/// The parameters a level stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelParams {
    /// Parsing strategy.
    pub strategy: Strategy,
    /// log2 of the window: the furthest a match reaches back, and what the frame header asks a
    /// decoder to keep.
    pub window_log: u8,
    /// log2 of the hash table's entries.
    pub hash_log: u8,
    /// log2 of the hash chain's entries (how far back chains reach), or of the short table for
    /// `DFast`.
    pub chain_log: u8,
    /// log2 of the chain candidates tried per position.
    pub search_log: u8,
    /// Shortest match searched for (4 to 7 bytes).
    pub min_match: u8,
    /// A match this long ends the search early.
    pub target_length: u32,
    /// For `Fast` and `DFast`: how quickly the search skips data that does not match (the step
    /// grows by one every `2^skip_shift` bytes without a match; larger is slower and finds
    /// more); negative levels lower it.
    pub skip_shift: u8,
}

impl LevelParams {
    /// The parameters of `level` (clamped to -7..=22; 0 means the default, 3).
    pub fn for_level(level: i32) -> Self {
        use Strategy::*;
        let level = if level == 0 { 3 } else { level.clamp(-7, 22) };
        let p = |strategy, window_log, hash_log, chain_log, search_log, min_match, target_length| LevelParams {
            strategy,
            window_log,
            hash_log,
            chain_log,
            search_log,
            min_match,
            target_length,
            skip_shift: 6,
        };
        match level {
            ..=-1 => LevelParams { skip_shift: (5 + level).max(1) as u8, ..p(Fast, 19, 13, 0, 0, 5, 0) },
            1 => LevelParams { skip_shift: 7, ..p(Fast, 19, 14, 0, 0, 6, 0) },
            2 => LevelParams { skip_shift: 7, ..p(Fast, 20, 16, 0, 0, 6, 0) },
            3 => LevelParams { skip_shift: 7, ..p(DFast, 21, 17, 16, 0, 5, 0) },
            4 => LevelParams { skip_shift: 7, ..p(DFast, 21, 18, 17, 0, 5, 0) },
            5 => p(Greedy, 21, 18, 18, 2, 5, 16),
            6 => p(Lazy, 21, 18, 18, 3, 5, 16),
            7 => p(Lazy, 21, 19, 19, 4, 5, 32),
            8 => p(Lazy2, 21, 19, 19, 4, 5, 32),
            9 => p(Lazy2, 22, 20, 20, 5, 5, 48),
            10 => p(Lazy2, 22, 20, 20, 6, 5, 64),
            11 => p(Lazy2, 22, 21, 21, 6, 5, 96),
            12 => p(Lazy2, 22, 21, 21, 7, 5, 128),
            13 => p(BtLazy2, 22, 21, 22, 5, 5, 64),
            14 => p(BtLazy2, 22, 22, 22, 6, 5, 96),
            15 => p(BtLazy2, 22, 22, 23, 7, 5, 128),
            16 => p(Opt, 22, 22, 22, 6, 4, 128),
            17 => p(Opt, 23, 22, 23, 7, 4, 192),
            18 => p(Opt, 23, 22, 23, 7, 4, 256),
            19 => p(Opt, 23, 23, 24, 8, 4, 512),
            20 => p(Opt, 25, 23, 25, 9, 4, 999),
            21 => p(Opt, 26, 24, 26, 9, 4, 999),
            _ => p(Opt, 27, 25, 27, 10, 4, 999),
        }
    }
}

impl LevelParams {
    /// Entropy coding only ([`Strategy::Literals`]), with a window of `2^window_log`.
    pub fn literals_only(window_log: u8) -> Self {
        LevelParams { strategy: Strategy::Literals, ..Self::for_level(1) }.with_window_log(window_log)
    }

    fn with_window_log(mut self, window_log: u8) -> Self {
        self.window_log = window_log;
        self
    }

    /// These parameters shrunk to what an input of `size` bytes can use: no window, hash table
    /// or chain larger than the input needs (so small inputs do not allocate the tables of a
    /// large window).
    pub fn adjusted_for(mut self, size: u64) -> Self {
        let need = (64 - size.max(1).saturating_sub(1).leading_zeros()).max(10) as u8;
        self.window_log = self.window_log.min(need);
        self.hash_log = self.hash_log.min(need + 1);
        self.chain_log = self.chain_log.min(need + 1);
        self
    }
}

/// Marks an empty table slot.
const EMPTY: u32 = u32::MAX;

/// Finds the sequences of successive blocks of one input. Positions are indexes into the whole
/// input (below 2^32 - 1; the frame writer splits larger inputs into frames).
pub(crate) struct MatchFinder {
    pub(crate) p: LevelParams,
    /// First table: `min_match`-byte hashes (or 8-byte ones for `DFast`).
    head: Vec<u32>,
    /// `DFast`: the short table. Hash chains: previous position with the same hash, by
    /// `position & chain_mask`.
    chain: Vec<u32>,
    /// Next position to add to the hash chains.
    next_to_update: usize,
    /// The repeat offsets as the decoder will hold them.
    pub(crate) rep: [u32; 3],
}

impl MatchFinder {
    pub(crate) fn new(p: LevelParams) -> Self {
        let chain = match p.strategy {
            Strategy::Literals | Strategy::Fast => Vec::new(),
            _ => alloc::vec![EMPTY; 1 << p.chain_log],
        };
        let head = match p.strategy {
            Strategy::Literals => Vec::new(),
            _ => alloc::vec![EMPTY; 1 << p.hash_log],
        };
        MatchFinder { p, head, chain, next_to_update: 0, rep: [1, 4, 8] }
    }

    fn window(&self) -> usize {
        1 << self.p.window_log
    }

    /// Hash of the `n` bytes at `i` (needs 8 readable bytes), `log` bits.
    #[inline(always)]
    fn hash(data: &[u8], i: usize, n: u8, log: u8) -> usize {
        hash_bytes(read64(data, i), u32::from(n), log)
    }

    /// Forgets the first `by` bytes of the input: positions move down by `by`, entries before
    /// them are dropped (a streaming encoder slides its buffer this way). `by` must be a
    /// multiple of the chain size, so chain slots keep their place.
    pub(crate) fn rebase(&mut self, by: usize) {
        debug_assert!(
            self.chain.is_empty() || self.p.strategy == Strategy::DFast || by.is_multiple_of(self.chain.len())
        );
        let by32 = by as u32;
        for v in self.head.iter_mut().chain(self.chain.iter_mut()) {
            *v = if *v == EMPTY || *v < by32 { EMPTY } else { *v - by32 };
        }
        self.next_to_update = self.next_to_update.saturating_sub(by);
    }

    /// Indexes `data[..end]` (a dictionary's content) so the first block can refer to it.
    pub(crate) fn prime(&mut self, data: &[u8], end: usize) {
        match self.p.strategy {
            Strategy::Literals => {}
            Strategy::Fast | Strategy::DFast => {
                let n = if self.p.strategy == Strategy::DFast { 8 } else { self.p.min_match };
                for i in 0..end.saturating_sub(8) {
                    self.head[Self::hash(data, i, n, self.p.hash_log)] = i as u32;
                    if self.p.strategy == Strategy::DFast {
                        self.chain[Self::hash(data, i, self.p.min_match, self.p.chain_log)] = i as u32;
                    }
                }
            }
            Strategy::BtLazy2 | Strategy::Opt => self.tree_update(data, end.saturating_sub(8)),
            _ => self.insert_until(data, end.saturating_sub(8)),
        }
    }

    /// Indexes a block stored without searching it (an RLE block), so later blocks can refer
    /// to it.
    pub(crate) fn skip(&mut self, data: &[u8], start: usize, end: usize) {
        match self.p.strategy {
            Strategy::Literals => {}
            Strategy::Fast | Strategy::DFast => {
                let n = if self.p.strategy == Strategy::DFast { 8 } else { self.p.min_match };
                let mut i = start;
                while i + 8 <= end {
                    self.head[Self::hash(data, i, n, self.p.hash_log)] = i as u32;
                    i += 16;
                }
            }
            // A run is not worth indexing position by position in a tree.
            Strategy::BtLazy2 | Strategy::Opt => self.next_to_update = self.next_to_update.max(end.saturating_sub(8)),
            _ => {
                // The chains index every position; the run is cheap to insert.
                let upto = end.saturating_sub(8);
                self.insert_until(data, upto);
            }
        }
    }

    /// Cuts `data[start..end]` into sequences (`seqs`) and the literals they copy (`lits`),
    /// matching anywhere in the window before `end`.
    pub(crate) fn find(&mut self, data: &[u8], start: usize, end: usize, seqs: &mut Vec<Seq>, lits: &mut Vec<u8>) {
        match self.p.strategy {
            Strategy::Literals => lits.extend_from_slice(&data[start..end]),
            Strategy::Fast => self.fast(data, start, end, seqs, lits),
            Strategy::DFast => self.dfast(data, start, end, seqs, lits),
            Strategy::Greedy => self.lazy(data, start, end, 0, seqs, lits),
            Strategy::Lazy => self.lazy(data, start, end, 1, seqs, lits),
            Strategy::Lazy2 | Strategy::BtLazy2 => self.lazy(data, start, end, 2, seqs, lits),
            Strategy::Opt => crate::optimal::parse(self, data, start, end, seqs, lits),
        }
    }

    /// The length of a match at `ip` with `offset` (0 when the offset is out of the window or
    /// fewer than `min` bytes match).
    #[inline(always)]
    pub(crate) fn match_at(&self, data: &[u8], ip: usize, offset: usize, end: usize, min: usize) -> usize {
        if offset == 0 || offset > ip || offset > self.window() || ip + min.max(4) > end {
            return 0;
        }
        // Most candidates fail in their first bytes: test four before extending.
        if read32(data, ip) != read32(data, ip - offset) {
            return 0;
        }
        let len = 4 + common(data, ip - offset + 4, ip + 4, end);
        if len >= min { len } else { 0 }
    }

    fn fast(&mut self, data: &[u8], start: usize, end: usize, seqs: &mut Vec<Seq>, lits: &mut Vec<u8>) {
        hash_search(self, data, start, end, seqs, lits);
    }

    fn dfast(&mut self, data: &[u8], start: usize, end: usize, seqs: &mut Vec<Seq>, lits: &mut Vec<u8>) {
        hash_search(self, data, start, end, seqs, lits);
    }

    /// Adds every position before `target` to the hash chains.
    #[inline(always)]
    pub(crate) fn insert_until(&mut self, data: &[u8], target: usize) {
        let (mm, log) = (self.p.min_match, self.p.hash_log);
        let mask = (1usize << self.p.chain_log) - 1;
        while self.next_to_update < target {
            let i = self.next_to_update;
            let h = Self::hash(data, i, mm, log);
            self.chain[i & mask] = self.head[h];
            self.head[h] = i as u32;
            self.next_to_update += 1;
        }
    }

    /// Walks the hash chain of `ip`, calling `found(offset, length)` for each candidate that is
    /// longer than every one before it (at least `min_match`). Stops at `target_length`.
    #[inline(always)]
    pub(crate) fn chain_matches(&mut self, data: &[u8], ip: usize, end: usize, mut found: impl FnMut(usize, usize)) {
        if ip + 8 > end {
            return;
        }
        self.insert_until(data, ip);
        let mask = (1usize << self.p.chain_log) - 1;
        let lowest = ip.saturating_sub(self.window().min(mask));
        let mut best = usize::from(self.p.min_match) - 1;
        let mut cand = self.head[Self::hash(data, ip, self.p.min_match, self.p.hash_log)];
        let mut attempts = 1u32 << self.p.search_log;
        while cand != EMPTY && (cand as usize) >= lowest && (cand as usize) < ip && attempts > 0 {
            let c = cand as usize;
            // Cheap test first: a longer match must agree at the byte after the best length.
            if ip + best < end && data[c + best] == data[ip + best] {
                let len = common(data, c, ip, end);
                if len > best {
                    best = len;
                    found(ip - c, len);
                    if ip + len == end || len >= self.p.target_length as usize {
                        break;
                    }
                }
            }
            cand = self.chain[c & mask];
            attempts -= 1;
        }
    }

    /// The longest match at `ip` from the chains or the tree: (offset, length), length 0 if none.
    fn best_chain_match(&mut self, data: &[u8], ip: usize, end: usize) -> (usize, usize) {
        let mut best = (0, 0);
        self.matches(data, ip, end, |o, l| best = (o, l));
        best
    }

    /// Calls `found(offset, length)` for the matches at `ip`, each longer than the ones before
    /// (at least `min_match`, ending by `end`), from the binary tree or the hash chain.
    #[inline(always)]
    pub(crate) fn matches(&mut self, data: &[u8], ip: usize, end: usize, found: impl FnMut(usize, usize)) {
        match self.p.strategy {
            Strategy::BtLazy2 | Strategy::Opt => {
                if ip + 8 > end || ip < self.next_to_update {
                    return;
                }
                self.tree_update(data, ip);
                self.tree_insert(data, ip, end, found);
                self.next_to_update = self.next_to_update.max(ip + 1);
            }
            _ => self.chain_matches(data, ip, end, found),
        }
    }

    /// Inserts every position before `target` into the binary trees. After a very long match
    /// the positions inside it are skipped (a run would otherwise cost its length squared).
    fn tree_update(&mut self, data: &[u8], target: usize) {
        let target = target.min(data.len().saturating_sub(8));
        while self.next_to_update < target {
            let i = self.next_to_update;
            let longest = self.tree_insert(data, i, data.len(), |_, _| {});
            self.next_to_update = if longest > 384 { i + (longest - 8).min(192) } else { i + 1 };
        }
    }

    /// Inserts `ip` as the new root of its bucket's tree, searching the old tree on the way
    /// (RFC-independent: this is the reference encoder's `ZSTD_insertBt1` idea). Each node has
    /// two links in `chain` (smaller and larger suffix); walking from the old root, every node
    /// goes to the new root's smaller or larger side by comparing suffixes, starting from the
    /// prefix already known to be shared. Reports improving matches (cut at `end`) to `found`
    /// and returns the longest common length seen.
    fn tree_insert(&mut self, data: &[u8], ip: usize, end: usize, mut found: impl FnMut(usize, usize)) -> usize {
        let tree_mask = (1usize << (self.p.chain_log - 1)) - 1;
        let h = Self::hash(data, ip, self.p.min_match, self.p.hash_log);
        let mut m = self.head[h];
        self.head[h] = ip as u32;
        let lowest = ip.saturating_sub(self.window().min(tree_mask));
        let limit = data.len();
        let node = 2 * (ip & tree_mask);
        let (mut smaller_slot, mut larger_slot) = (node, node + 1);
        let (mut common_smaller, mut common_larger) = (0usize, 0usize);
        let mut best = usize::from(self.p.min_match) - 1;
        let mut longest = 0;
        let mut attempts = 1u32 << self.p.search_log;
        let target = self.p.target_length as usize;
        while m != EMPTY && (m as usize) >= lowest && (m as usize) < ip && attempts > 0 {
            attempts -= 1;
            let c = m as usize;
            let known = common_smaller.min(common_larger);
            let len = known + common(data, c + known, ip + known, limit);
            longest = longest.max(len);
            let reported = len.min(end.saturating_sub(ip));
            if reported > best {
                best = reported;
                found(ip - c, reported);
            }
            // Past the data's end the order is unknown, and very long matches end the search:
            // the rest of the tree is dropped, which only loses candidates.
            if ip + len == limit || len >= target.max(384) {
                break;
            }
            let c_node = 2 * (c & tree_mask);
            if data[c + len] < data[ip + len] {
                self.chain[smaller_slot] = m;
                common_smaller = len;
                smaller_slot = c_node + 1;
                m = self.chain[c_node + 1];
            } else {
                self.chain[larger_slot] = m;
                common_larger = len;
                larger_slot = c_node;
                m = self.chain[c_node];
            }
        }
        self.chain[smaller_slot] = EMPTY;
        self.chain[larger_slot] = EMPTY;
        longest
    }

    /// Greedy (`depth` 0) and lazy parsing over the hash chains.
    fn lazy(&mut self, data: &[u8], start: usize, end: usize, depth: u32, seqs: &mut Vec<Seq>, lits: &mut Vec<u8>) {
        let mut anchor = start;
        let mut ip = start;
        // A match's worth: 4 per byte, less the bits its offset costs (repeat codes are 1..=3).
        let gain = |len: usize, off_base: u32| 4 * len as i64 - i64::from(32 - off_base.leading_zeros());
        while ip + 8 <= end {
            // Candidates at ip: the first repeat offset one byte later (its literal keeps the
            // repeat code valid), then the chain.
            let (mut at, mut offset, mut len, mut off_base) = (ip, 0usize, 0usize, 0u32);
            let r0 = self.rep[0] as usize;
            let rl = self.match_at(data, ip + 1, r0, end, 4);
            if rl > 0 && ip + 1 > anchor {
                (at, offset, len, off_base) = (ip + 1, r0, rl, 1);
            }
            if !(depth == 0 && len > 0) {
                let (o, l) = self.best_chain_match(data, ip, end);
                if l > 0 && gain(l, o as u32 + 3) > gain(len, off_base.max(1)) + i64::from(len > 0) * 4 {
                    (at, offset, len, off_base) = (ip, o, l, o as u32 + 3);
                }
            }
            if len == 0 {
                ip += 1 + ((ip - anchor) >> 8);
                continue;
            }
            // Lookahead: a better match one (two) bytes on wins.
            let mut steps = 0;
            while steps < depth && at + 1 + 8 <= end {
                let next = at + 1;
                let bonus = if steps == 0 { 4 } else { 7 };
                let current = gain(len, off_base) + bonus;
                let rl = self.match_at(data, next, self.rep[0] as usize, end, 4);
                if rl > 0 && gain(rl, 1) > current {
                    (at, offset, len, off_base) = (next, self.rep[0] as usize, rl, 1);
                    steps += 1;
                    continue;
                }
                let (o, l) = self.best_chain_match(data, next, end);
                if l > 0 && gain(l, o as u32 + 3) > current {
                    (at, offset, len, off_base) = (next, o, l, o as u32 + 3);
                    steps += 1;
                    continue;
                }
                break;
            }
            let (at, offset, len) =
                if off_base > 3 { catch_up(data, anchor, at, offset, len) } else { (at, offset, len) };
            emit(&mut self.rep, data, &mut anchor, at, offset, len, seqs, lits);
            ip = at + len;
            // Matches right after a match, with no literals: the second repeat offset.
            loop {
                let r1 = self.rep[1] as usize;
                let l = self.match_at(data, ip, r1, end, 4);
                if l == 0 || ip + 8 > end {
                    break;
                }
                emit(&mut self.rep, data, &mut anchor, ip, r1, l, seqs, lits);
                ip += l;
            }
        }
        lits.extend_from_slice(&data[anchor..end]);
    }
}

/// Calls `$parse::<MM>(args)` for the minimum match `$mm` (4 to 7): with the hash width a
/// constant, its shifts become immediates.
macro_rules! by_min_match {
    ($parse:ident, $mm:expr, $($arg:expr),* $(,)?) => {
        match $mm {
            ..=4 => $parse::<4>($($arg),*),
            5 => $parse::<5>($($arg),*),
            6 => $parse::<6>($($arg),*),
            _ => $parse::<7>($($arg),*),
        }
    };
}

multiversion! {
    /// The `Fast` or `DFast` parse of `data[start..end]`, per minimum match.
    fn hash_search(
        mf: &mut MatchFinder,
        data: &[u8],
        start: usize,
        end: usize,
        seqs: &mut Vec<Seq>,
        lits: &mut Vec<u8>,
    ) -> () {
        if mf.p.strategy == Strategy::DFast {
            by_min_match!(dfast_parse, mf.p.min_match, mf, data, start, end, seqs, lits)
        } else {
            by_min_match!(fast_parse, mf.p.min_match, mf, data, start, end, seqs, lits)
        }
    }
}

/// The `Fast` parse ([`hash_search`]) for a minimum match of `MM` bytes (4 to 7).
#[inline(always)]
fn fast_parse<const MM: u32>(
    mf: &mut MatchFinder,
    data: &[u8],
    start: usize,
    end: usize,
    seqs: &mut Vec<Seq>,
    lits: &mut Vec<u8>,
) {
    // Bounds checks against `end` cover every read below.
    let data = &data[..end];
    let (log, skip) = (mf.p.hash_log, mf.p.skip_shift);
    let window = mf.window();
    let hash_of = |v: u64| hash_bytes(v, MM, log);
    let in_window = |i: usize, c: usize| in_window(i, c, window);
    let head = &mut mf.head[..];
    let mask = head.len() - 1;
    let mut anchor = start;
    let mut ip = start;
    'blocks: while ip + 8 <= end {
        // The search, two positions per step: their table and data loads are independent,
        // so their memory latencies overlap. One 8-byte load per position gives the hash
        // and the bytes to compare.
        let rep = mf.rep[0] as usize;
        let rep_ok = rep <= window;
        let (at, offset, repeat) = loop {
            if ip + 9 > end {
                break 'blocks;
            }
            let (cur0, cur1) = (read64(data, ip), read64(data, ip + 1));
            let (h0, h1) = (hash_of(cur0) & mask, hash_of(cur1) & mask);
            let cand0 = head[h0] as usize;
            head[h0] = ip as u32;
            let cand1 = head[h1] as usize;
            head[h1] = (ip + 1) as u32;
            // The repeat offset one byte on first, as the reference does: the byte before
            // it stays a literal, which keeps the match a cheap repeat code.
            if rep_ok && rep <= ip + 1 && read32(data, ip + 1 - rep) == (cur0 >> 8) as u32 {
                break (ip + 1, rep, true);
            }
            if in_window(ip, cand0) && read32(data, cand0) == cur0 as u32 {
                break (ip, ip - cand0, false);
            }
            if in_window(ip + 1, cand1) && read32(data, cand1) == cur1 as u32 {
                break (ip + 1, ip + 1 - cand1, false);
            }
            ip += 2 + ((ip - anchor) >> skip);
        };
        let len = 4 + common(data, at - offset + 4, at + 4, end);
        let (at, offset, len) = if repeat { (at, offset, len) } else { catch_up(data, anchor, at, offset, len) };
        emit(&mut mf.rep, data, &mut anchor, at, offset, len, seqs, lits);
        ip = at + len;
        // Index two positions of the match, as the reference does.
        if ip + 6 <= end {
            head[hash_of(read64(data, at + 2)) & mask] = (at + 2) as u32;
            head[hash_of(read64(data, ip - 2)) & mask] = (ip - 2) as u32;
        }
        // The second repeat offset right after the match (no literals between): the
        // reference's "immediate repcode" check.
        loop {
            let rep = mf.rep[1] as usize;
            if ip + 9 > end || rep > ip || rep > window || read32(data, ip) != read32(data, ip - rep) {
                break;
            }
            let len = 4 + common(data, ip - rep + 4, ip + 4, end);
            head[hash_of(read64(data, ip)) & mask] = ip as u32;
            emit(&mut mf.rep, data, &mut anchor, ip, rep, len, seqs, lits);
            ip += len;
        }
    }
    lits.extend_from_slice(&data[anchor..end]);
}

/// The `DFast` parse ([`hash_search`]) for a short hash of `MM` bytes (4 to 7): two tables,
/// 8-byte hashes (`head`) and `MM`-byte ones (`chain`); the long match wins when there is one.
#[inline(always)]
fn dfast_parse<const MM: u32>(
    mf: &mut MatchFinder,
    data: &[u8],
    start: usize,
    end: usize,
    seqs: &mut Vec<Seq>,
    lits: &mut Vec<u8>,
) {
    // Bounds checks against `end` cover every read below.
    let data = &data[..end];
    let (hlog, slog, skip) = (mf.p.hash_log, mf.p.chain_log, mf.p.skip_shift);
    let window = mf.window();
    let hash = hash_bytes;
    let in_window = |i: usize, c: usize| in_window(i, c, window);
    let (long_t, short_t, rep) = (&mut mf.head[..], &mut mf.chain[..], &mut mf.rep);
    let (lmask, smask) = (long_t.len() - 1, short_t.len() - 1);
    let mut anchor = start;
    let mut ip = start;
    while ip + 9 <= end {
        let cur = read64(data, ip);
        // The repeat offset one byte on first (the byte before stays a literal).
        let r = rep[0] as usize;
        if r <= window && r <= ip + 1 && read32(data, ip + 1 - r) == (cur >> 8) as u32 {
            let len = 4 + common(data, ip + 5 - r, ip + 5, end);
            emit(rep, data, &mut anchor, ip + 1, r, len, seqs, lits);
            ip += 1 + len;
            continue;
        }
        let (hl, hs) = (hash(cur, 8, hlog) & lmask, hash(cur, MM, slog) & smask);
        let (cl, cs) = (long_t[hl] as usize, short_t[hs] as usize);
        long_t[hl] = ip as u32;
        short_t[hs] = ip as u32;
        let (at, offset, len) = if in_window(ip, cl) && read64(data, cl) == cur {
            (ip, ip - cl, 8 + common(data, cl + 8, ip + 8, end))
        } else if in_window(ip, cs) && read32(data, cs) == cur as u32 {
            let short = 4 + common(data, cs + 4, ip + 4, end);
            // A long match one byte later beats a short one here.
            let cur1 = read64(data, ip + 1);
            let hl1 = hash(cur1, 8, hlog) & lmask;
            let cl1 = long_t[hl1] as usize;
            long_t[hl1] = (ip + 1) as u32;
            let long1 = if in_window(ip + 1, cl1) && read64(data, cl1) == cur1 {
                8 + common(data, cl1 + 8, ip + 9, end)
            } else {
                0
            };
            if long1 > short { (ip + 1, ip + 1 - cl1, long1) } else { (ip, ip - cs, short) }
        } else {
            ip += 1 + ((ip - anchor) >> skip);
            continue;
        };
        let (at, offset, len) = catch_up(data, anchor, at, offset, len);
        emit(rep, data, &mut anchor, at, offset, len, seqs, lits);
        ip = at + len;
        // Index a couple of positions inside the match, as the reference does.
        for i in [at + 2, ip.saturating_sub(2)] {
            if i + 8 <= end && i > at {
                let v = read64(data, i);
                long_t[hash(v, 8, hlog) & lmask] = i as u32;
                short_t[hash(v, MM, slog) & smask] = i as u32;
            }
        }
        // The second repeat offset right after the match (no literals between): the
        // reference's "immediate repcode" check.
        loop {
            let r = rep[1] as usize;
            if ip + 9 > end || r > ip || r > window || read32(data, ip) != read32(data, ip - r) {
                break;
            }
            let len = 4 + common(data, ip - r + 4, ip + 4, end);
            let v = read64(data, ip);
            long_t[hash(v, 8, hlog) & lmask] = ip as u32;
            short_t[hash(v, MM, slog) & smask] = ip as u32;
            emit(rep, data, &mut anchor, ip, r, len, seqs, lits);
            ip += len;
        }
    }
    lits.extend_from_slice(&data[anchor..end]);
}

/// Extends a match at `at` backward over literals that match too.
#[inline(always)]
fn catch_up(data: &[u8], anchor: usize, mut at: usize, offset: usize, mut len: usize) -> (usize, usize, usize) {
    while at > anchor && at > offset && data[at - 1] == data[at - 1 - offset] {
        at -= 1;
        len += 1;
    }
    (at, offset, len)
}

/// Records a sequence: the literals from `anchor` to `ip`, then `len` bytes from `offset` back.
/// The offset is coded as a repeat when it equals one the decoder holds, and the repeat history
/// is kept exactly as the decoder keeps it (RFC 8878 3.1.1.5, with the literal-length-0 rules).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn emit(
    rep: &mut [u32; 3],
    data: &[u8],
    anchor: &mut usize,
    ip: usize,
    offset: usize,
    len: usize,
    seqs: &mut Vec<Seq>,
    lits: &mut Vec<u8>,
) {
    let lit_len = ip - *anchor;
    // Short runs are copied as one fixed 16-byte chunk and cut back (no `memcpy` call).
    if lit_len <= 16 && *anchor + 16 <= data.len() {
        let len = lits.len();
        lits.extend_from_slice(&data[*anchor..*anchor + 16]);
        lits.truncate(len + lit_len);
    } else {
        lits.extend_from_slice(&data[*anchor..ip]);
    }
    let off_base = code_offset(rep, offset as u32, lit_len == 0);
    seqs.push(Seq { lit_len: lit_len as u32, off_base, match_len: len as u32 });
    *anchor = ip + len;
}

/// The offset code for `o` (1..=3 for repeats, else `o + 3`), updating the repeat history.
#[inline(always)]
pub(crate) fn code_offset(rep: &mut [u32; 3], o: u32, ll0: bool) -> u32 {
    let [r0, r1, r2] = *rep;
    if !ll0 {
        if o == r0 {
            return 1;
        }
        if o == r1 {
            *rep = [r1, r0, r2];
            return 2;
        }
        if o == r2 {
            *rep = [r2, r0, r1];
            return 3;
        }
    } else {
        if o == r1 {
            *rep = [r1, r0, r2];
            return 1;
        }
        if o == r2 {
            *rep = [r2, r0, r1];
            return 2;
        }
        if r0 > 1 && o == r0 - 1 {
            *rep = [o, r0, r1];
            return 3;
        }
    }
    *rep = [o, r0, r1];
    o + 3
}

/// Length of the common run of `data[a..]` and `data[b..]` (`a < b`), bounded by `end`.
#[inline(always)]
pub(crate) fn common(data: &[u8], a: usize, b: usize, end: usize) -> usize {
    let n = end - b;
    let (x, y) = (&data[a..a + n], &data[b..end]);
    let mut i = 0;
    while i + 8 <= n {
        let d = read64(x, i) ^ read64(y, i);
        if d != 0 {
            return i + (d.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && x[i] == y[i] {
        i += 1;
    }
    i
}

/// Hash, `log` bits, of the low `n` bytes (1 to 8) of `v` (little-endian bytes from the input).
#[inline(always)]
fn hash_bytes(v: u64, n: u32, log: u8) -> usize {
    ((v << (64 - 8 * n)).wrapping_mul(0xCF1B_BCDC_B7A5_6463) >> (64 - u32::from(log))) as usize
}

/// Whether candidate position `c` (a table slot: a position, or `EMPTY`) is usable from `i`:
/// `c < i` and `i - c <= window`, in one comparison done in 64 bits, so that `EMPTY`
/// (`u32::MAX`) is a huge distance on 32-bit targets too, where it is `usize::MAX`.
#[inline(always)]
fn in_window(i: usize, c: usize, window: usize) -> bool {
    (i as u64).wrapping_sub(c as u64).wrapping_sub(1) < window as u64
}

#[inline(always)]
fn read64(data: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(data[i..i + 8].try_into().expect("8 bytes"))
}

#[inline(always)]
fn read32(data: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(data[i..i + 4].try_into().expect("4 bytes"))
}

#[cfg(test)]
mod tests {

    #[test]
    fn empty_slots_are_never_in_the_window() {
        // EMPTY as a usize is u32::MAX here and usize::MAX on 32-bit targets: both far.
        let empty = EMPTY as usize;
        for i in [0usize, 1, 5, 1 << 20, (u32::MAX - 1) as usize] {
            assert!(!in_window(i, empty, 1 << 27), "{i}");
        }
        assert!(in_window(10, 9, 1) && !in_window(10, 10, 1) && !in_window(10, 8, 1));
    }
    use super::*;

    /// Text-like data: words from a small vocabulary, picked by a fixed generator.
    fn words(len: usize) -> Vec<u8> {
        let vocab = ["the ", "tree ", "holds ", "every ", "suffix ", "in ", "order, ", "and ", "chains ", "do not. "];
        let mut x = 0x9E37_79B9u32;
        let mut out = Vec::new();
        while out.len() < len {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            out.extend_from_slice(vocab[(x >> 24) as usize % vocab.len()].as_bytes());
        }
        out.truncate(len);
        out
    }

    #[test]
    fn binary_tree_finds_the_longest_match_an_exhaustive_chain_finds() {
        let data = words(20_000);
        let mut p = LevelParams::for_level(19).adjusted_for(data.len() as u64);
        p.search_log = 14;
        p.target_length = 1 << 20;
        let mut tree = MatchFinder::new(p);
        let mut chain = MatchFinder::new(LevelParams { strategy: Strategy::Lazy2, ..p });
        for ip in 0..data.len() - 8 {
            let (mut t, mut c) = ((0, 0), (0, 0));
            tree.matches(&data, ip, data.len(), |o, l| t = (o, l));
            chain.matches(&data, ip, data.len(), |o, l| c = (o, l));
            assert_eq!(t.1, c.1, "longest match at {ip}");
            if t.1 > 0 {
                assert_eq!(data[ip..ip + t.1], data[ip - t.0..ip - t.0 + t.1], "tree match at {ip} is real");
            }
        }
    }
}
