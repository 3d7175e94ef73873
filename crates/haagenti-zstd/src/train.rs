//! Dictionary training: a fastCover-style content selection and the standard formatted
//! dictionary around it (RFC 8878 section 5).
//!
//! Content: the samples are cut into epochs; in each, the `k`-byte segment whose distinct
//! `d`-byte substrings are most frequent across all samples is picked, and the substrings it
//! covers stop counting, so later picks bring something new. Picks go from the end of the
//! content backward (the most useful strings end up closest to the data, at the cheapest
//! offsets). A few `k` are tried and the one that compresses the samples smallest is kept.
//!
//! Tables: the samples are compressed against the content, and the literal bytes and sequence
//! codes they produce become the dictionary's Huffman and FSE tables (every symbol kept
//! possible), so small frames can use them without sending their own.

use alloc::vec::Vec;
use core::fmt;

use crate::dict::ZstdDict;
use crate::dictionary::DICT_MAGIC;
use crate::fse::{FseTable, TableLog};
use crate::huff0::HuffmanEncoder;
use crate::matching::{LevelParams, MatchFinder};
use crate::sequences::{ll_code, ml_code};

/// Why training failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrainError {
    /// Not enough sample bytes to learn from (at least 8 samples and 1 KiB in all).
    TooFewSamples {
        /// Samples given.
        samples: usize,
        /// Their total size.
        bytes: usize,
    },
    /// `max_size` is below the smallest useful dictionary (256 bytes).
    MaxSizeTooSmall {
        /// The size asked for.
        max_size: usize,
    },
    /// An entropy table could not be built (should not happen with real samples).
    Tables,
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::TooFewSamples { samples, bytes } => {
                write!(f, "too few samples to train on ({samples} samples, {bytes} bytes; need 8 samples and 1 KiB)")
            }
            TrainError::MaxSizeTooSmall { max_size } => write!(f, "dictionary size {max_size} is below 256 bytes"),
            TrainError::Tables => f.write_str("could not build the dictionary's entropy tables"),
        }
    }
}

impl core::error::Error for TrainError {}

/// Size of the d-mer frequency table (log2).
const FREQ_LOG: u32 = 20;

/// Trains a dictionary of at most `max_size` bytes on `samples`.
pub(crate) fn train(samples: &[&[u8]], max_size: usize) -> Result<ZstdDict, TrainError> {
    let bytes: usize = samples.iter().map(|s| s.len()).sum();
    if samples.len() < 8 || bytes < 1024 {
        return Err(TrainError::TooFewSamples { samples: samples.len(), bytes });
    }
    if max_size < 256 {
        return Err(TrainError::MaxSizeTooSmall { max_size });
    }
    // Room for the header and tables (they take a few hundred bytes; if they take more, the
    // content is trimmed from its front, its least useful end).
    let content_max = max_size - 320.min(max_size / 4);
    let joined: Vec<u8> = samples.concat();
    // Evaluate candidates on a subset of the samples, to keep training fast.
    let step = (samples.len() / 32).max(1);
    let eval: Vec<&[u8]> = samples.iter().step_by(step).copied().collect();
    let mut best: Option<(usize, ZstdDict)> = None;
    for (k, d) in [(64usize, 6usize), (64, 8), (256, 8), (1024, 8)] {
        let mut content = select_content(&joined, content_max, k, d);
        let mut dict = build(samples, &content)?;
        let over = dict.to_bytes().len().saturating_sub(max_size);
        if over > 0 {
            content.drain(..over.min(content.len()));
            dict = build(samples, &content)?;
        }
        let size: usize =
            eval.iter().map(|s| crate::ZstdDictCompressor::new(&dict).checksum(false).compress(s).len()).sum();
        if best.as_ref().is_none_or(|(b, _)| size < *b) {
            best = Some((size, dict));
        }
    }
    Ok(best.expect("at least one candidate").1)
}

#[inline(always)]
fn dmer_hash(data: &[u8], i: usize, d: usize) -> usize {
    let mut v = [0u8; 8];
    v[..d].copy_from_slice(&data[i..i + d]);
    (u64::from_le_bytes(v).wrapping_mul(0x9E37_79B1_85EB_CA87) >> (64 - FREQ_LOG)) as usize
}

/// Picks up to `max` bytes of `data` in segments of `k`, by the fastCover score.
fn select_content(data: &[u8], max: usize, k: usize, d: usize) -> Vec<u8> {
    let n = data.len();
    if n <= max || n < k + d {
        return data[n.saturating_sub(max)..].to_vec();
    }
    let mut freq = alloc::vec![0u32; 1 << FREQ_LOG];
    for i in 0..=n - d {
        let h = dmer_hash(data, i, d);
        freq[h] = freq[h].saturating_add(1);
    }
    let segments = max.div_ceil(k);
    let epoch = (n / segments).max(k + d);
    let mut seg_count = alloc::vec![0u16; 1 << FREQ_LOG];
    let mut picks: Vec<(usize, usize)> = Vec::with_capacity(segments);
    let mut total = 0;
    let mut start = 0;
    while total < max && start + k + d <= n {
        let end = (start + epoch).min(n);
        // Slide a k-byte window over the epoch, scoring its distinct d-mers.
        let (mut score, mut best, mut best_at) = (0u64, 0u64, start);
        let last = end.saturating_sub(d);
        let mut i = start;
        while i <= last {
            let h = dmer_hash(data, i, d);
            if seg_count[h] == 0 {
                score += u64::from(freq[h]);
            }
            seg_count[h] += 1;
            if i + 1 >= start + k {
                let first = i + 1 - k;
                if score > best {
                    (best, best_at) = (score, first);
                }
                let h0 = dmer_hash(data, first, d);
                seg_count[h0] -= 1;
                if seg_count[h0] == 0 {
                    score -= u64::from(freq[h0]);
                }
            }
            i += 1;
        }
        // Clear the window counts still held.
        let from = (last + 1).saturating_sub(k - 1).max(start);
        for j in from..=last.min(n - d) {
            if j >= start && seg_count[dmer_hash(data, j, d)] > 0 {
                seg_count[dmer_hash(data, j, d)] = 0;
            }
        }
        if best > 0 {
            let len = k.min(max - total).min(n - best_at);
            for j in best_at..(best_at + len).min(n - d + 1) {
                freq[dmer_hash(data, j, d)] = 0;
            }
            picks.push((best_at, len));
            total += len;
        }
        start = end;
        if start + k + d > n && total < max {
            break;
        }
    }
    // The first picks are the best: put them last.
    let mut content = Vec::with_capacity(total);
    for &(at, len) in picks.iter().rev() {
        content.extend_from_slice(&data[at..at + len]);
    }
    content
}

/// The formatted dictionary for `content`, with tables learned from compressing `samples`.
fn build(samples: &[&[u8]], content: &[u8]) -> Result<ZstdDict, TrainError> {
    let mut lit = [1u32; 256];
    let (mut ll, mut of, mut ml) = ([1u32; 36], [1u32; 32], [1u32; 53]);
    let params = LevelParams::for_level(3);
    let mut seqs = Vec::new();
    let mut lits = Vec::new();
    for s in samples.iter().take(256) {
        let buf = [content, s].concat();
        let mut mf = MatchFinder::new(params.adjusted_for(buf.len() as u64));
        mf.prime(&buf, content.len());
        seqs.clear();
        lits.clear();
        mf.find(&buf, content.len(), buf.len(), &mut seqs, &mut lits);
        for &b in &lits {
            lit[usize::from(b)] += 1;
        }
        for q in &seqs {
            ll[usize::from(ll_code(q.lit_len))] += 1;
            ml[usize::from(ml_code(q.match_len))] += 1;
            of[(31 - q.off_base.leading_zeros()) as usize] += 1;
        }
    }
    // The samples' own bytes weigh in too, so the literal table is useful even when matching
    // left few literals.
    for s in samples.iter().take(256) {
        for &b in s.iter().step_by(4) {
            lit[usize::from(b)] += 1;
        }
    }
    let huffman = HuffmanEncoder::from_frequencies(&lit, 11).map_err(|_| TrainError::Tables)?;
    // 256 equal weights have no description the format can hold (128 bytes direct, and FSE
    // needs two symbols): make one symbol more likely then.
    let huffman = if huffman.description().is_ok() {
        huffman
    } else {
        lit[0] += lit.iter().sum::<u32>();
        HuffmanEncoder::from_frequencies(&lit, 11).map_err(|_| TrainError::Tables)?
    };
    let table = |freqs: &[u32], log: u8| -> Result<Vec<u8>, TrainError> {
        let log = TableLog::new(log).ok_or(TrainError::Tables)?;
        Ok(FseTable::from_frequencies(freqs, log).map_err(|_| TrainError::Tables)?.serialize())
    };
    let mut out = Vec::with_capacity(content.len() + 512);
    out.extend_from_slice(&DICT_MAGIC.to_le_bytes());
    // IDs of "private" dictionaries live in [2^15, 2^31): derive one from the content.
    let id = (xxhash_rust::xxh64::xxh64(content, 0) as u32 % ((1 << 31) - (1 << 15))) + (1 << 15);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&huffman.description().map_err(|_| TrainError::Tables)?);
    out.extend_from_slice(&table(&of, 8)?);
    out.extend_from_slice(&table(&ml, 9)?);
    out.extend_from_slice(&table(&ll, 9)?);
    for r in [1u32, 4, 8] {
        out.extend_from_slice(&r.to_le_bytes());
    }
    // Repeat offsets must reach inside the content.
    if content.len() < 8 {
        out.extend_from_slice(&[0u8; 8][..8 - content.len()]);
    }
    out.extend_from_slice(content);
    ZstdDict::from_bytes(&out).map_err(|_| TrainError::Tables)
}
