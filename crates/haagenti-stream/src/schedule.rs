//! Which fragments to send, in which order, within a budget: marginal quality per byte.
//!
//! Within an asset the order is fixed (any prefix decodes, nothing else adds quality), so a
//! schedule is a choice of how far to take each asset and how to interleave them. Each step
//! takes, over all assets, the run of next fragments with the largest quality gained per byte
//! that still fits the budget (the upper convex hull of each curve, so that a fragment of
//! little gain followed by one of large gain is taken as one step). This is the classic
//! rate-distortion allocation; on concave curves it is optimal at every budget on the hull,
//! and its send order puts the largest gains first, so every asset shows something early.

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::curve::AssetCurve;

/// Limits of one schedule. `None` is no limit; the smallest of the byte limits wins.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    /// Bytes that may be sent.
    pub max_bytes: Option<u64>,
    /// Milliseconds the transfer may take (converted to bytes with the throughput estimate).
    pub max_time_ms: Option<u32>,
    /// Stop each asset once it reaches this quality (PSNR dB or cosine).
    pub target_quality: Option<f64>,
}

/// One fragment to send: fragment `index` of asset `asset` (indexes into the slice given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pick {
    /// Which asset.
    pub asset: usize,
    /// Which fragment (the prefix grows in index order).
    pub index: u16,
}

/// How many fragments ahead one step may look (bounds the work on assets of thousands of
/// fragments; holo assets have at most 64).
pub const LOOKAHEAD: usize = 64;

/// A step: take asset `asset` from its current prefix to `to` fragments.
#[derive(Debug, Clone, Copy)]
struct Step {
    /// 1: gains quality; 0: adds nothing (sent last, to complete assets).
    class: u8,
    slope: f64,
    asset: usize,
    to: usize,
    bytes: u64,
}

impl PartialEq for Step {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Step {}
impl PartialOrd for Step {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Step {
    /// Max-heap order: gaining class, then slope, then the lower asset index.
    fn cmp(&self, other: &Self) -> Ordering {
        self.class
            .cmp(&other.class)
            .then(self.slope.total_cmp(&other.slope))
            .then(other.asset.cmp(&self.asset))
            .then(other.to.cmp(&self.to))
    }
}

/// The best step for asset `a` from prefix `k` within `remaining` bytes, not past `cap`
/// fragments, stopping at the first prefix that reaches `target`.
fn best_step(
    c: &AssetCurve,
    a: usize,
    k: usize,
    cap: usize,
    remaining: Option<u64>,
    target: Option<f64>,
) -> Option<Step> {
    let q0 = c.quality(k);
    if target.is_some_and(|t| q0 >= t) {
        return None;
    }
    let mut best: Option<Step> = None;
    for j in k + 1..=cap.min(k.saturating_add(LOOKAHEAD)) {
        let bytes = c.bytes_between(k, j);
        if remaining.is_some_and(|r| bytes > r) {
            break;
        }
        let gain = c.quality(j) - q0;
        if gain > 0.0 {
            let slope = gain / bytes.max(1) as f64;
            if best.is_none_or(|b| b.class == 0 || slope > b.slope) {
                best = Some(Step { class: 1, slope, asset: a, to: j, bytes });
            }
        } else if best.is_none() && target.is_none() && j == k + 1 {
            // Completes the asset when nothing better is left (the exact fragments past
            // the PSNR cap); never when a target says enough.
            best = Some(Step { class: 0, slope: 0.0, asset: a, to: j, bytes });
        }
        if target.is_some_and(|t| c.quality(j) >= t) {
            break;
        }
    }
    best
}

/// The fragments to send within `max_bytes` (`None`: no limit), in send order. `held[i]` fragments of asset
/// `i` are held already (missing entries are 0); `caps[i]`, where given, is the most
/// fragments asset `i` may reach. Never repeats a held fragment, keeps index order within
/// each asset, and returns at most the fragments not held.
pub(crate) fn plan(
    assets: &[AssetCurve],
    held: &[usize],
    max_bytes: Option<u64>,
    target: Option<f64>,
    caps: Option<&[usize]>,
) -> Vec<Pick> {
    let target = target.filter(|t| !t.is_nan());
    let mut k: Vec<usize> = (0..assets.len()).map(|i| held.get(i).copied().unwrap_or(0).min(assets[i].len())).collect();
    let cap = |i: usize| caps.and_then(|c| c.get(i)).copied().unwrap_or(usize::MAX).min(assets[i].len());
    let mut remaining = max_bytes;
    let mut heap = BinaryHeap::with_capacity(assets.len());
    for (i, c) in assets.iter().enumerate() {
        if let Some(s) = best_step(c, i, k[i], cap(i), remaining, target) {
            heap.push(s);
        }
    }
    let mut out = Vec::new();
    while let Some(s) = heap.pop() {
        let i = s.asset;
        if remaining.is_some_and(|r| s.bytes > r) {
            // The budget shrank since this step was found: find the best that still fits.
            // (A smaller budget only removes choices, so steps that fit stay the best.)
            if let Some(s) = best_step(&assets[i], i, k[i], cap(i), remaining, target) {
                heap.push(s);
            }
            continue;
        }
        out.extend((k[i]..s.to).map(|index| Pick { asset: i, index: index as u16 }));
        k[i] = s.to;
        remaining = remaining.map(|r| r - s.bytes);
        if let Some(s) = best_step(&assets[i], i, k[i], cap(i), remaining, target) {
            heap.push(s);
        }
    }
    out
}
