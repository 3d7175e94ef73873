//! Replaying a bandwidth trace: how well each policy shows assets by a deadline.
//!
//! The link model: the sender starts one round trip after the page asks, then sends its
//! picks back to back as one byte stream; the trace says when each 1500-byte packet can be
//! delivered. A policy decides its next fragment when the previous one has arrived, knowing
//! only the transfers made so far (the oracle alone knows the trace).
//!
//! Definitions (every number is the mean over [`AdaptiveConfig::runs`] replays that start at
//! evenly spaced offsets of the trace):
//! - `mean_quality`: the mean over the assets of the quality each shows at the deadline (that
//!   of the prefix fully received by then; 0 for none; exact counts as [`PSNR_CAP_DB`]).
//! - `first_preview_ms`: time from the request to the first complete fragment of any asset
//!   (the deadline when none arrives).
//! - `over_budget_bytes`: bytes the policy had sent that arrived after the deadline.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::curve::{AssetCurve, PSNR_CAP_DB};
use crate::manager::{AdaptiveStreamManager, QualityPolicy};
use crate::network::NetworkConditions;
use crate::schedule::Pick;

/// Bytes one line of a mahimahi trace can deliver.
pub const PACKET_BYTES: u64 = 1500;

/// Errors reading a bandwidth trace.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceError {
    /// A line is not a whole number of milliseconds.
    NotANumber {
        /// The line, from 1.
        line: usize,
    },
    /// The times go backwards.
    NotInOrder {
        /// The line, from 1.
        line: usize,
    },
    /// No delivery opportunity at all.
    Empty,
}

impl core::fmt::Display for TraceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TraceError::NotANumber { line } => write!(f, "line {line}: not a time in milliseconds"),
            TraceError::NotInOrder { line } => write!(f, "line {line}: time goes backwards"),
            TraceError::Empty => write!(f, "no delivery opportunities"),
        }
    }
}

impl core::error::Error for TraceError {}

/// A mahimahi trace: the times (ms) at which a 1500-byte packet can be delivered, repeating
/// with the last time as its period (times equal to the period count as time 0 of each
/// period).
#[derive(Debug, Clone, PartialEq)]
pub struct BandwidthTrace {
    times: Vec<u64>,
    period: u64,
}

impl BandwidthTrace {
    /// Reads a trace: one time per line; blank lines are skipped.
    pub fn parse(text: &str) -> Result<Self, TraceError> {
        let mut times = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let t: u64 = line.parse().map_err(|_| TraceError::NotANumber { line: i + 1 })?;
            if times.last().is_some_and(|&p| t < p) {
                return Err(TraceError::NotInOrder { line: i + 1 });
            }
            times.push(t);
        }
        let period = times.last().copied().ok_or(TraceError::Empty)?.max(1);
        // An opportunity at the period is the next period's at 0.
        let at_end = times.iter().rev().take_while(|&&t| t >= period).count();
        times.truncate(times.len() - at_end);
        times.splice(0..0, core::iter::repeat_n(0, at_end));
        Ok(BandwidthTrace { times, period })
    }

    /// The trace's period in milliseconds.
    pub fn period_ms(&self) -> u64 {
        self.period
    }

    /// Mean bandwidth over one period, bits per second.
    pub fn mean_bps(&self) -> f64 {
        self.times.len() as f64 * PACKET_BYTES as f64 * 8000.0 / self.period as f64
    }

    /// Index of the first opportunity at or after `t`.
    fn first_at(&self, t: u64) -> u64 {
        let n = self.times.len() as u64;
        let (q, r) = (t / self.period, t % self.period);
        q * n + self.times.partition_point(|&x| x < r) as u64
    }

    /// Time of opportunity `j`.
    fn time_of(&self, j: u64) -> u64 {
        let n = self.times.len() as u64;
        self.times[(j % n) as usize] + (j / n) * self.period
    }

    /// Bytes a stream starting at `start` has delivered by `end` (inclusive).
    pub fn bytes_between(&self, start: u64, end: u64) -> u64 {
        if end < start {
            return 0;
        }
        (self.first_at(end + 1) - self.first_at(start)) * PACKET_BYTES
    }

    /// When byte `offset` (from 1) of a stream starting at `start` arrives.
    pub fn arrival(&self, start: u64, offset: u64) -> u64 {
        let packets = offset.div_ceil(PACKET_BYTES).max(1);
        self.time_of(self.first_at(start) + packets - 1)
    }
}

/// The policies compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// [`AdaptiveStreamManager::schedule`], replanned after every fragment.
    Ours,
    /// Every fragment in index order, asset after asset.
    Fixed,
    /// dash.js's throughput rule: for each asset, the most fragments whose bytes fit in its
    /// share of the remaining time at 0.9 times the moving-average throughput.
    Throughput,
    /// The best fragments to have at the deadline given the whole trace (an exact knapsack
    /// over the bytes the link delivers by then).
    Oracle,
}

impl Policy {
    /// All policies, in the order printed.
    pub const ALL: [Policy; 4] = [Policy::Ours, Policy::Fixed, Policy::Throughput, Policy::Oracle];

    /// The name printed.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Ours => "ours",
            Policy::Fixed => "fixed",
            Policy::Throughput => "throughput",
            Policy::Oracle => "oracle",
        }
    }
}

/// The replay's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveConfig {
    /// Time to show the assets by, from the request.
    pub deadline_ms: u32,
    /// Round trip before the first byte.
    pub rtt_ms: u32,
    /// Replays, starting at evenly spaced offsets of the trace.
    pub runs: u32,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        AdaptiveConfig { deadline_ms: 2_000, rtt_ms: 80, runs: 16 }
    }
}

/// One policy's results on one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The scenario's name.
    pub scenario: String,
    /// The policy.
    pub policy: Policy,
    /// Mean time to the first complete fragment.
    pub first_preview_ms: f64,
    /// Mean quality at the deadline (see the module's definitions).
    pub mean_quality: f64,
    /// Mean bytes arriving after the deadline.
    pub over_budget_bytes: f64,
}

impl core::fmt::Display for Outcome {
    /// The benchmark's line: `scenario=S policy=NAME first_preview_ms=X mean_quality=Y over_budget_bytes=Z`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "scenario={} policy={} first_preview_ms={:.0} mean_quality={:.3} over_budget_bytes={:.0}",
            self.scenario,
            self.policy.name(),
            self.first_preview_ms,
            self.mean_quality,
            self.over_budget_bytes
        )
    }
}

/// The scenarios for `assets`: `single` (the first asset alone) and `page` (all of them, or
/// twelve copies of a lone one).
pub fn scenarios(assets: &[AssetCurve]) -> Vec<(String, Vec<AssetCurve>)> {
    let Some(first) = assets.first() else { return Vec::new() };
    let page = if assets.len() == 1 { vec![first.clone(); 12] } else { assets.to_vec() };
    vec![("single".into(), vec![first.clone()]), ("page".into(), page)]
}

/// Every scenario under every policy.
pub fn run_all(assets: &[AssetCurve], trace: &BandwidthTrace, config: &AdaptiveConfig) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (name, set) in scenarios(assets) {
        for policy in Policy::ALL {
            out.push(evaluate(&name, &set, trace, policy, config));
        }
    }
    out
}

/// One policy on one set of assets, averaged over the runs.
pub fn evaluate(
    scenario: &str,
    assets: &[AssetCurve],
    trace: &BandwidthTrace,
    policy: Policy,
    config: &AdaptiveConfig,
) -> Outcome {
    let runs = config.runs.max(1);
    let (mut first, mut quality, mut over) = (0.0, 0.0, 0.0);
    for r in 0..runs {
        let start = trace.period_ms() * u64::from(r) / u64::from(runs);
        let res = replay(assets, trace, policy, config, start);
        first += res.0;
        quality += res.1;
        over += res.2;
    }
    let n = f64::from(runs);
    Outcome {
        scenario: scenario.into(),
        policy,
        first_preview_ms: first / n,
        mean_quality: quality / n,
        over_budget_bytes: over / n,
    }
}

/// Quality as the metric counts it (infinity is already the cap in [`AssetCurve`]).
fn shown(c: &AssetCurve, k: usize) -> f64 {
    c.quality(k).min(PSNR_CAP_DB)
}

/// One replay from `start`: (first preview ms, mean quality, bytes after the deadline).
fn replay(
    assets: &[AssetCurve],
    trace: &BandwidthTrace,
    policy: Policy,
    cfg: &AdaptiveConfig,
    start: u64,
) -> (f64, f64, f64) {
    let deadline = start + u64::from(cfg.deadline_ms);
    let stream_start = start + u64::from(cfg.rtt_ms);
    let mut held = vec![0usize; assets.len()];
    let mut shown_k = vec![0usize; assets.len()];
    let mut sent = 0u64;
    let mut now = stream_start;
    let mut first: Option<u64> = None;
    let mut mgr = AdaptiveStreamManager::new(QualityPolicy { deadline_ms: cfg.deadline_ms, ..Default::default() });
    mgr.update_network_conditions(NetworkConditions { latency_ms: 0.0, ..Default::default() });
    let oracle_plan = (policy == Policy::Oracle).then(|| oracle(assets, trace.bytes_between(stream_start, deadline)));
    let mut oracle_next = 0;
    // The asset the throughput rule is sending, and its level.
    let mut cur = (0, None);
    let total: usize = assets.iter().map(AssetCurve::len).sum();
    for _ in 0..total {
        let next: Option<Pick> = match policy {
            Policy::Fixed => next_fixed(assets, &held),
            Policy::Oracle => {
                let p = oracle_plan.as_ref().and_then(|p| p.get(oracle_next)).copied();
                oracle_next += 1;
                p
            }
            Policy::Ours | Policy::Throughput if now >= deadline => None,
            Policy::Ours => {
                let left = (deadline - now).min(u64::from(u32::MAX)) as u32;
                let budget = crate::Budget { max_time_ms: Some(left), ..Default::default() };
                mgr.schedule(assets, &held, &budget).first().copied()
            }
            Policy::Throughput => next_throughput(assets, &held, &mut cur, &mgr, (deadline - now) as f64),
        };
        let Some(p) = next else { break };
        let size = assets[p.asset].sizes()[usize::from(p.index)];
        sent += size;
        let arrived = trace.arrival(stream_start, sent).max(now);
        mgr.record_transfer(size, (arrived - now) as f64);
        now = arrived;
        held[p.asset] = usize::from(p.index) + 1;
        if arrived <= deadline {
            shown_k[p.asset] = held[p.asset];
            first.get_or_insert(arrived);
        }
    }
    let over = sent.saturating_sub(trace.bytes_between(stream_start, deadline));
    let q = if assets.is_empty() {
        0.0
    } else {
        assets.iter().zip(&shown_k).map(|(c, &k)| shown(c, k)).sum::<f64>() / assets.len() as f64
    };
    let first = first.unwrap_or(deadline) - start;
    (first as f64, q, over as f64)
}

fn next_fixed(assets: &[AssetCurve], held: &[usize]) -> Option<Pick> {
    let a = (0..assets.len()).find(|&a| held[a] < assets[a].len())?;
    Some(Pick { asset: a, index: held[a] as u16 })
}

/// dash.js's throughput rule with assets as segments and prefixes as bitrates: when an
/// asset starts, its level is the most fragments whose bytes fit in its share of the
/// remaining time (the time left over the assets left) at 0.9 times the moving-average
/// throughput, at least one; it is sent to that level, then the next asset.
fn next_throughput(
    assets: &[AssetCurve],
    held: &[usize],
    cur: &mut (usize, Option<usize>),
    mgr: &AdaptiveStreamManager,
    left_ms: f64,
) -> Option<Pick> {
    let bps = mgr.throughput().ewma_bps().unwrap_or(NetworkConditions::default().goodput_bps());
    while cur.0 < assets.len() {
        let (c, k) = (&assets[cur.0], held[cur.0]);
        let level = *cur.1.get_or_insert_with(|| {
            let share = left_ms / (assets.len() - cur.0) as f64;
            let bytes = (0.9 * bps * share / 8000.0) as u64;
            let fit = (k + 1..=c.len()).take_while(|&j| c.bytes_between(k, j) <= bytes).last();
            fit.unwrap_or((k + 1).min(c.len()))
        });
        if k < level {
            return Some(Pick { asset: cur.0, index: k as u16 });
        }
        *cur = (cur.0 + 1, None);
    }
    None
}

/// The oracle: the prefix lengths of the highest total quality whose bytes fit in
/// `capacity` (exact: dynamic programming over each asset's Pareto frontier of bytes and
/// quality), sent in the schedule's order.
fn oracle(assets: &[AssetCurve], capacity: u64) -> Vec<Pick> {
    // frontier: (bytes, value, back-pointer into the previous stage, k)
    let mut stages: Vec<Vec<(u64, f64, usize, usize)>> = Vec::with_capacity(assets.len());
    let mut prev: Vec<(u64, f64, usize, usize)> = vec![(0, 0.0, 0, 0)];
    for c in assets {
        let mut next = Vec::with_capacity(prev.len() * (c.len() + 1));
        for (pi, &(b, v, _, _)) in prev.iter().enumerate() {
            for k in 0..=c.len() {
                let nb = b.saturating_add(c.bytes(k));
                if nb > capacity {
                    break;
                }
                next.push((nb, v + shown(c, k), pi, k));
            }
        }
        next.sort_by(|x, y| x.0.cmp(&y.0).then(y.1.total_cmp(&x.1)));
        let mut pruned: Vec<(u64, f64, usize, usize)> = Vec::with_capacity(next.len());
        for e in next {
            if pruned.last().is_none_or(|l| e.1 > l.1) {
                pruned.push(e);
            }
        }
        stages.push(core::mem::replace(&mut prev, pruned));
    }
    stages.push(prev);
    // Best final entry, then walk back.
    let last = &stages[stages.len() - 1];
    let Some(mut idx) = (0..last.len()).max_by(|&a, &b| last[a].1.total_cmp(&last[b].1)) else { return Vec::new() };
    let mut caps = vec![0usize; assets.len()];
    for s in (1..stages.len()).rev() {
        let (_, _, pi, k) = stages[s][idx];
        caps[s - 1] = k;
        idx = pi;
    }
    let order = AdaptiveStreamManager::new(QualityPolicy::default());
    order.schedule_capped(assets, &[], None, &caps)
}
