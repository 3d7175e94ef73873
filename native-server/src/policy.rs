//! The server's side of the adaptive policy, which lives in `haagenti-stream` (the same code
//! the browser client runs): manifests become curves, requests become budgets, and one
//! prefetch predictor learns from every session.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use haagenti_proto::v1::stream_end::Reason;
use haagenti_stream::{
    AdaptiveStreamManager, AssetCurve, IntentPredictor, NetworkConditions, PrefetchConfig, PrefetchManager,
    QualityPolicy,
};
pub(crate) use haagenti_stream::{Budget, Pick};

use crate::assets::AssetEntry;

/// The fragments to send for one request, in order (see `AdaptiveStreamManager::schedule`):
/// index order within an asset, assets interleaved by the quality each next run of fragments
/// buys per byte, stopping at the budget.
pub(crate) fn schedule(
    entries: &[Arc<AssetEntry>],
    held: &[usize],
    budget: &Budget,
    net: NetworkConditions,
) -> Vec<Pick> {
    let mut manager = AdaptiveStreamManager::new(QualityPolicy::default());
    manager.update_network_conditions(net);
    let curves: Vec<AssetCurve> = entries.iter().map(|e| e.curve.clone()).collect();
    manager.schedule(&curves, held, budget)
}

/// Why a schedule stops where it does.
pub(crate) fn end_reason(entries: &[Arc<AssetEntry>], held: &[usize], picks: &[Pick], budget: &Budget) -> Reason {
    let remaining: usize = entries.iter().zip(held).map(|(e, &h)| e.sizes().len().saturating_sub(h)).sum();
    if picks.len() >= remaining {
        return Reason::Complete;
    }
    let mut after = held.to_vec();
    for p in picks {
        after[p.asset] = after[p.asset].max(usize::from(p.index) + 1);
    }
    if let Some(target) = budget.target_quality
        && entries.iter().zip(&after).all(|(e, &k)| k >= e.sizes().len() || (k > 0 && e.curve.quality(k) >= target))
    {
        return Reason::QualityReached;
    }
    let sent: u64 = picks.iter().map(|p| entries[p.asset].sizes()[usize::from(p.index)]).sum();
    match (budget.max_bytes, budget.max_time_ms) {
        (Some(max), Some(_)) if sent < max => Reason::TimeBudget,
        (Some(_), _) => Reason::ByteBudget,
        _ => Reason::TimeBudget,
    }
}

/// Sessions tracked by the server's predictor (the least recently active forgotten beyond).
pub const PREFETCH_SESSIONS: usize = 16_384;
/// Asset names tracked by the server's predictor.
pub const PREFETCH_NAMES: usize = 65_536;

/// One predictor for the whole server, learning from every session.
#[derive(Debug)]
pub(crate) struct Prefetcher {
    manager: Mutex<PrefetchManager>,
    started: Instant,
}

impl Default for Prefetcher {
    fn default() -> Self {
        let config = PrefetchConfig {
            max_sessions: PREFETCH_SESSIONS,
            max_names: PREFETCH_NAMES,
            max_templates: 4096,
            ..PrefetchConfig::default()
        };
        Prefetcher { manager: Mutex::new(PrefetchManager::new(IntentPredictor::new(config))), started: Instant::now() }
    }
}

impl Prefetcher {
    /// Records that `session` asked for `assets` (in order) and returns the assets it will
    /// probably ask for next (at most two).
    pub(crate) fn notify(&self, session: &str, assets: &[String]) -> Vec<String> {
        let now = self.started.elapsed().as_millis() as u64;
        let mut m = self.manager.lock().expect("prefetch lock");
        let mut hints = Vec::new();
        for a in assets {
            hints = m.notify_access(session, a, now);
        }
        hints
    }
}
