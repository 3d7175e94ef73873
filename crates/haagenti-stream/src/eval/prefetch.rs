//! Replaying an access trace through a prefetcher.
//!
//! Each session is a client with its own least-recently-used cache of
//! [`PrefetchEvalConfig::cache`] assets, holding what it fetched on demand and what was
//! prefetched for it. Definitions:
//! - `hit_rate`: accesses whose asset was in the session's cache, over all accesses (a
//!   prefetched asset counts while it is still cached; so does one fetched before).
//! - `wasted_per_access`: prefetches never used (evicted before their access, still unused at
//!   the end, or of an asset already cached), over all accesses.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::prefetch::{IntentPredictor, PrefetchConfig, PrefetchManager};

/// One access of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The session (a client, a page load, a model load).
    pub session: String,
    /// When, in milliseconds.
    pub time_ms: u64,
    /// The asset's name.
    pub name: String,
}

/// Errors reading an access trace.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessTraceError {
    /// The first line is not `session,time_ms,name`.
    Header,
    /// A row is not `session,time_ms,name` with a whole number of milliseconds.
    Row {
        /// The line, from 1.
        line: usize,
    },
}

impl core::fmt::Display for AccessTraceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AccessTraceError::Header => write!(f, "the header is not session,time_ms,name"),
            AccessTraceError::Row { line } => write!(f, "line {line}: not session,time_ms,name"),
        }
    }
}

impl core::error::Error for AccessTraceError {}

/// Reads a CSV access trace with the header `session,time_ms,name` (names may contain
/// commas: everything after the second comma is the name).
pub fn parse_accesses(text: &str) -> Result<Vec<Access>, AccessTraceError> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l.trim());
    if header != Some("session,time_ms,name") {
        return Err(AccessTraceError::Header);
    }
    let mut out = Vec::new();
    for (i, line) in lines {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ',');
        let row = (|| {
            let session = parts.next()?.to_string();
            let time_ms = parts.next()?.trim().parse().ok()?;
            let name = parts.next()?.to_string();
            Some(Access { session, time_ms, name })
        })();
        out.push(row.ok_or(AccessTraceError::Row { line: i + 1 })?);
    }
    Ok(out)
}

/// The replay's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefetchEvalConfig {
    /// Assets each session's cache holds.
    pub cache: usize,
    /// The prefetcher's caps (at most `max_predictions` prefetches per access).
    pub prefetch: PrefetchConfig,
}

impl Default for PrefetchEvalConfig {
    fn default() -> Self {
        PrefetchEvalConfig { cache: 16, prefetch: PrefetchConfig::default() }
    }
}

/// A replay's results.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrefetchOutcome {
    /// Accesses replayed.
    pub accesses: usize,
    /// Hits over accesses.
    pub hit_rate: f64,
    /// Unused prefetches over accesses.
    pub wasted_per_access: f64,
}

impl PrefetchOutcome {
    /// The benchmark's line, `hit_rate=X wasted_per_access=Y predict_us=Z`, after `label`.
    pub fn line(&self, label: Option<&str>, predict_us: f64) -> String {
        alloc::format!(
            "{}hit_rate={:.4} wasted_per_access={:.4} predict_us={:.2}",
            label.map(|l| alloc::format!("{l} ")).unwrap_or_default(),
            self.hit_rate,
            self.wasted_per_access,
            predict_us
        )
    }
}

/// Which predictor to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Predictor {
    /// [`IntentPredictor::new`].
    Ours,
    /// [`IntentPredictor::markov1`].
    Markov1,
}

/// A least-recently-used cache: (name, prefetched and not used yet), most recent last.
#[derive(Debug, Default)]
struct Cache {
    items: Vec<(String, bool)>,
}

impl Cache {
    /// Inserts or refreshes `name`; returns whether an unused prefetch was evicted.
    fn put(&mut self, name: &str, prefetched: bool, cap: usize) -> bool {
        if let Some(i) = self.items.iter().position(|(n, _)| n == name) {
            let (n, p) = self.items.remove(i);
            self.items.push((n, p && prefetched));
            return false;
        }
        self.items.push((name.to_string(), prefetched));
        if self.items.len() > cap.max(1) {
            return self.items.remove(0).1;
        }
        false
    }
}

/// Replays `accesses` (in order) with a fresh prefetcher.
pub fn replay(accesses: &[Access], predictor: Predictor, config: &PrefetchEvalConfig) -> PrefetchOutcome {
    let p = match predictor {
        Predictor::Ours => IntentPredictor::new(config.prefetch),
        Predictor::Markov1 => IntentPredictor::markov1(config.prefetch),
    };
    let mut mgr = PrefetchManager::new(p);
    let mut caches: BTreeMap<&str, Cache> = BTreeMap::new();
    let (mut hits, mut wasted) = (0usize, 0usize);
    for a in accesses {
        let cache = caches.entry(a.session.as_str()).or_default();
        if cache.items.iter().any(|(n, _)| *n == a.name) {
            hits += 1;
        }
        wasted += usize::from(cache.put(&a.name, false, config.cache));
        for name in mgr.notify_access(&a.session, &a.name, a.time_ms).iter().take(config.prefetch.max_predictions) {
            if cache.items.iter().any(|(n, _)| n == name) {
                wasted += 1;
            } else {
                wasted += usize::from(cache.put(name, true, config.cache));
            }
        }
    }
    wasted += caches.values().flat_map(|c| &c.items).filter(|(_, p)| *p).count();
    let n = accesses.len().max(1) as f64;
    PrefetchOutcome { accesses: accesses.len(), hit_rate: hits as f64 / n, wasted_per_access: wasted as f64 / n }
}
