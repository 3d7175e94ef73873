//! The adaptive policy: a throughput estimate from real transfers and the schedule it
//! allows. Sans-IO: the caller passes transfers and budgets in, picks come out.

use alloc::vec::Vec;

use crate::curve::AssetCurve;
use crate::network::{NetworkConditions, ThroughputEstimator};
use crate::schedule::{Budget, Pick, plan};

/// What the policy aims for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityPolicy {
    /// Stop an asset once it reaches this quality (PSNR dB or cosine); `None`: the best
    /// the deadline allows.
    pub target_quality: Option<f64>,
    /// Time allowed to show an asset, in milliseconds (used by
    /// [`AdaptiveStreamManager::recommended_quality`]).
    pub deadline_ms: u32,
    /// The throughput estimate is multiplied by this before bytes are planned (below 1 leaves
    /// room for estimation errors; the estimate itself is already discounted by them).
    pub safety_factor: f64,
}

impl Default for QualityPolicy {
    fn default() -> Self {
        QualityPolicy { target_quality: None, deadline_ms: 2_000, safety_factor: 1.0 }
    }
}

/// How much of one asset to load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityRecommendation {
    /// Fragments to load, a prefix in index order (at least one when the asset has any: a
    /// preview is always worth its first fragment).
    pub fragments_to_load: usize,
    /// The quality they give.
    pub expected_quality: f64,
    /// Their bytes.
    pub expected_bytes: u64,
    /// The expected time to load them, with one round trip.
    pub expected_ms: f64,
}

/// The adaptive streaming policy of one client connection.
#[derive(Debug, Clone, Default)]
pub struct AdaptiveStreamManager {
    policy: QualityPolicy,
    conditions: NetworkConditions,
    throughput: ThroughputEstimator,
}

impl AdaptiveStreamManager {
    /// A manager with the default network prior (1 Mbps, 100 ms).
    pub fn new(policy: QualityPolicy) -> Self {
        AdaptiveStreamManager { policy, conditions: NetworkConditions::default(), throughput: Default::default() }
    }

    /// The policy.
    pub fn policy(&self) -> &QualityPolicy {
        &self.policy
    }

    /// Conditions reported by the transport or the browser: the prior until transfers are
    /// measured, and the round trip added to every planned time.
    pub fn update_network_conditions(&mut self, conditions: NetworkConditions) {
        self.conditions = conditions.sanitized();
    }

    /// A completed transfer of `bytes` in `elapsed_ms` (request to last byte).
    pub fn record_transfer(&mut self, bytes: u64, elapsed_ms: f64) {
        self.throughput.record(bytes, elapsed_ms);
    }

    /// The throughput estimator.
    pub fn throughput(&self) -> &ThroughputEstimator {
        &self.throughput
    }

    /// The throughput to plan with, bits per second: the harmonic mean of the last measured
    /// transfers (RobustMPC's predictor), else the reported conditions. RobustMPC's further
    /// discount by the recent prediction error ([`ThroughputEstimator::robust_bps`]) was
    /// tried and lost quality on every bursty trace: the schedule is replanned after every
    /// fragment, so an optimistic step is corrected at the next one.
    pub fn estimated_bps(&self) -> f64 {
        self.throughput.harmonic_bps().unwrap_or_else(|| self.conditions.goodput_bps())
    }

    /// Bytes that fit in `ms` at the planned throughput, after one round trip.
    pub fn bytes_in(&self, ms: f64) -> u64 {
        self.bytes_at(self.estimated_bps(), ms)
    }

    fn bytes_at(&self, bps: f64, ms: f64) -> u64 {
        let ms = (ms - self.conditions.latency_ms).max(0.0);
        let safety =
            if self.policy.safety_factor.is_finite() { self.policy.safety_factor.clamp(0.0, 1.0) } else { 1.0 };
        let b = bps * safety * ms / 8000.0;
        if b.is_nan() { 0 } else { b.min(u64::MAX as f64) as u64 }
    }

    /// Expected time to load `bytes`, with one round trip.
    pub fn ms_for(&self, bytes: u64) -> f64 {
        self.conditions.latency_ms + bytes as f64 * 8000.0 / self.estimated_bps().max(1.0)
    }

    /// How many fragments of `curve` to load within the policy's deadline: the best prefix
    /// whose expected time fits, or the first that reaches the target quality.
    pub fn recommended_quality(&self, curve: &AssetCurve) -> QualityRecommendation {
        let budget = Budget {
            max_bytes: None,
            max_time_ms: Some(self.policy.deadline_ms),
            target_quality: self.policy.target_quality,
        };
        let picks = self.schedule(core::slice::from_ref(curve), &[0], &budget);
        let k = picks.len().max(usize::from(!curve.is_empty()));
        QualityRecommendation {
            fragments_to_load: k,
            expected_quality: curve.quality(k),
            expected_bytes: curve.bytes(k),
            expected_ms: self.ms_for(curve.bytes(k)),
        }
    }

    /// The order to load the fragments of one asset in: index order, since any prefix
    /// decodes and the encoder puts the largest gains first.
    pub fn optimal_fragment_order(&self, total: usize) -> Vec<usize> {
        (0..total).collect()
    }

    /// The fragments to send, in send order, within `budget`: its time is converted to bytes
    /// with [`bytes_in`](Self::bytes_in), and when time is left but no fragment fits, the
    /// single best next fragment is returned (see the comment inside); the policy's target
    /// quality applies where the budget has none. `held[i]` is the prefix of asset `i` the
    /// client holds already (missing entries are 0). Never panics; never more than the
    /// fragments not held; `max_bytes` is never exceeded.
    pub fn schedule(&self, assets: &[AssetCurve], held: &[usize], budget: &Budget) -> Vec<Pick> {
        let target = budget.target_quality.or(self.policy.target_quality);
        let limit = |by_time: Option<u64>| match (budget.max_bytes, by_time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let ms = budget.max_time_ms.map(f64::from);
        let picks = plan(assets, held, limit(ms.map(|ms| self.bytes_in(ms))), target, None);
        if !picks.is_empty() || ms.is_none_or(|ms| ms <= 0.0) {
            return picks;
        }
        // Time is left but nothing fits the estimate: one fragment anyway, the best next one.
        // A fragment that arrives late costs bytes, never quality, and its transfer measures
        // the link again (after an outage the estimate would otherwise never recover).
        let mut probe = plan(assets, held, budget.max_bytes, target, None);
        probe.truncate(1);
        probe
    }

    /// [`schedule`](Self::schedule) with a byte limit and a most-fragments limit per asset.
    pub fn schedule_capped(
        &self,
        assets: &[AssetCurve],
        held: &[usize],
        max_bytes: Option<u64>,
        caps: &[usize],
    ) -> Vec<Pick> {
        plan(assets, held, max_bytes, self.policy.target_quality, Some(caps))
    }
}
