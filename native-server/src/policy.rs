//! The server's side of the adaptive policy: turns manifests and a request into the
//! scheduler's inputs, and learns which assets follow which for prefetch hints.

use std::collections::HashMap;
use std::sync::Mutex;

use haagenti_proto::v1::stream_end::Reason;

use crate::assets::AssetEntry;

/// The client's network, as it reported it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Network {
    /// Bits per second (0: unknown).
    pub bandwidth_bps: f64,
    /// Round trip, milliseconds.
    pub latency_ms: f64,
    /// Fraction lost, 0..=1.
    pub packet_loss: f64,
}

/// Where a stream stops.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Budget {
    /// Bytes of fragments.
    pub max_bytes: Option<u64>,
    /// Milliseconds of transfer at the measured bandwidth.
    pub max_time_ms: Option<u32>,
    /// Stop once every asset reaches this quality.
    pub target_quality: Option<f64>,
}

/// One fragment to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pick {
    /// Index into the assets asked for.
    pub asset: usize,
    /// The fragment's index in its asset.
    pub index: u16,
}

/// The fragments to send, in order: index order within an asset, assets interleaved by the
/// quality each next fragment buys per byte, stopping at the budget.
pub(crate) fn schedule(
    entries: &[std::sync::Arc<AssetEntry>],
    held: &[usize],
    budget: &Budget,
    net: &Network,
) -> Vec<Pick> {
    let byte_cap = budget_bytes(budget, net);
    let mut next: Vec<usize> = held.to_vec();
    let mut picks = Vec::new();
    let mut spent = 0u64;
    loop {
        let mut best: Option<(usize, f64)> = None;
        for (a, e) in entries.iter().enumerate() {
            let k = next[a];
            if k >= e.sizes.len() || reached(e, k, budget) {
                continue;
            }
            let gain = quality(e, k + 1) - quality(e, k);
            let per_byte = gain.max(0.0) / e.sizes[k].max(1) as f64;
            if best.is_none_or(|(_, b)| per_byte > b) {
                best = Some((a, per_byte));
            }
        }
        let Some((a, _)) = best else { break };
        let size = entries[a].sizes[next[a]];
        if byte_cap.is_some_and(|cap| spent + size > cap) {
            break;
        }
        spent += size;
        picks.push(Pick { asset: a, index: next[a] as u16 });
        next[a] += 1;
    }
    picks
}

fn budget_bytes(budget: &Budget, net: &Network) -> Option<u64> {
    let by_time = budget.max_time_ms.map(|ms| {
        let usable_ms = (f64::from(ms) - net.latency_ms).max(0.0);
        (net.bandwidth_bps / 8.0 * usable_ms / 1000.0 * (1.0 - net.packet_loss)) as u64
    });
    match (budget.max_bytes, by_time) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Measured quality after `k` fragments, images capped at 60 dB (exact is infinite).
fn quality(e: &AssetEntry, k: usize) -> f64 {
    let q = e.manifest.curve.at(k).map_or(0.0, |p| p.quality);
    if q.is_nan() { 0.0 } else { q.min(60.0) }
}

fn reached(e: &AssetEntry, k: usize, budget: &Budget) -> bool {
    budget.target_quality.is_some_and(|t| k > 0 && quality(e, k) >= t)
}

/// Why a schedule stops where it does.
pub(crate) fn end_reason(
    entries: &[std::sync::Arc<AssetEntry>],
    held: &[usize],
    picks: &[Pick],
    budget: &Budget,
) -> Reason {
    let remaining: usize = entries.iter().zip(held).map(|(e, &h)| e.sizes.len().saturating_sub(h)).sum();
    if picks.len() >= remaining {
        return Reason::Complete;
    }
    let mut after = held.to_vec();
    for p in picks {
        after[p.asset] = after[p.asset].max(usize::from(p.index) + 1);
    }
    if budget.target_quality.is_some()
        && entries.iter().zip(&after).all(|(e, &k)| k >= e.sizes.len() || reached(e, k, budget))
    {
        return Reason::QualityReached;
    }
    if budget.max_bytes.is_some() { Reason::ByteBudget } else { Reason::TimeBudget }
}

/// Learns, per session, which asset follows which, and predicts the next ones.
#[derive(Debug, Default)]
pub(crate) struct Prefetcher {
    inner: Mutex<PrefetchState>,
}

#[derive(Debug, Default)]
struct PrefetchState {
    last: HashMap<String, String>,
    follows: HashMap<String, HashMap<String, u32>>,
}

const MAX_SESSIONS: usize = 100_000;
const MAX_NAMES: usize = 100_000;

impl Prefetcher {
    /// Records that `session` asked for `assets` and returns up to two likely next assets.
    pub(crate) fn notify(&self, session: &str, assets: &[String]) -> Vec<String> {
        let mut s = self.inner.lock().expect("prefetch lock");
        let Some(last_asked) = assets.last() else { return Vec::new() };
        if s.last.len() >= MAX_SESSIONS {
            s.last.clear();
        }
        if s.follows.len() >= MAX_NAMES {
            s.follows.clear();
        }
        if let Some(prev) = s.last.insert(session.to_string(), last_asked.clone()) {
            *s.follows.entry(prev).or_default().entry(assets[0].clone()).or_default() += 1;
        }
        let mut next: Vec<(&String, &u32)> = s.follows.get(last_asked).map(|m| m.iter().collect()).unwrap_or_default();
        next.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        next.into_iter().take(2).map(|(n, _)| n.clone()).collect()
    }
}
