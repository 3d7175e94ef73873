//! Which assets a session will ask for next, learned from the order of accesses within
//! sessions, and shared across them.
//!
//! [`IntentPredictor`] mixes four sources, each one separately testable:
//! - the session's own links: what followed the current name the last times in this session
//!   (a model's decoding passes reuse their experts; a gallery user retraces steps);
//! - a second-order context over all sessions: what followed (previous, current);
//! - first-order transitions over all sessions (the Markov baseline, on its own, is
//!   [`IntentPredictor::markov1`]);
//! - name strides: names that differ only in their last number (`blk.5.ffn` -> `blk.6.attn`,
//!   `img-0042` -> `img-0043`) generalize to names whose transitions were never seen.
//!
//! The best candidate's own likely successor is looked at too (one step ahead), so that a
//! run of hits keeps a prefetch ahead of the session. Names held already (the session's last
//! accesses and its pending prefetches) are never predicted.
//!
//! Memory is bounded by explicit caps ([`PrefetchConfig`]): names tracked (least recently
//! seen evicted, its links dropped), sessions tracked (least recently active evicted), and a
//! fixed number of links per name, per context, per session and per name template.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Caps and counts of the prefetcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefetchConfig {
    /// Predictions returned per access.
    pub max_predictions: usize,
    /// Sessions tracked at once; the least recently active is forgotten beyond.
    pub max_sessions: usize,
    /// Names tracked at once; the least recently seen is forgotten beyond.
    pub max_names: usize,
    /// Name templates (names with their last number taken out) tracked at once.
    pub max_templates: usize,
    /// Assets a session's client is assumed to cache (least recently used out): what it
    /// fetched and what was prefetched for it. Held names are never predicted.
    pub client_cache: usize,
}

impl Default for PrefetchConfig {
    fn default() -> Self {
        PrefetchConfig { max_predictions: 2, max_sessions: 256, max_names: 4096, max_templates: 512, client_cache: 16 }
    }
}

/// Successors kept per name (weakest replaced).
pub const MAX_EDGES: usize = 8;
/// Second-order contexts kept per name.
pub const MAX_CONTEXTS: usize = 16;
/// Links remembered per session.
pub const MAX_SESSION_LINKS: usize = 64;
/// Transitions kept per name template.
pub const MAX_TEMPLATE_EDGES: usize = 8;

/// Candidates scoring less are not worth a prefetch (the sources' weights sum to about 3.7
/// for a certain successor).
pub const MIN_SCORE: f32 = 0.1;

/// A name slot, valid while its generation matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NameRef {
    id: u32,
    generation: u32,
}

#[derive(Debug, Clone)]
struct Edge {
    to: NameRef,
    weight: f32,
}

#[derive(Debug, Clone)]
struct Context {
    prev: NameRef,
    to: NameRef,
    weight: f32,
}

#[derive(Debug, Clone, Default)]
struct NameSlot {
    name: String,
    generation: u32,
    last_seen: u64,
    edges: Vec<Edge>,
    contexts: Vec<Context>,
}

/// A name split at its last run of digits: `blk.12.ffn` is (`blk.`, 12, 2, `.ffn`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Numbered<'a> {
    prefix: &'a str,
    number: u64,
    width: usize,
    suffix: &'a str,
}

fn numbered(name: &str) -> Option<Numbered<'_>> {
    let b = name.as_bytes();
    let end = b.iter().rposition(u8::is_ascii_digit)? + 1;
    let start = b[..end].iter().rposition(|c| !c.is_ascii_digit()).map_or(0, |i| i + 1);
    if end - start > 18 {
        return None;
    }
    let number = name[start..end].parse().ok()?;
    Some(Numbered { prefix: &name[..start], number, width: end - start, suffix: &name[end..] })
}

fn template_key(n: &Numbered<'_>) -> String {
    let mut k = String::with_capacity(n.prefix.len() + n.suffix.len() + 1);
    k.push_str(n.prefix);
    k.push('\u{0}');
    k.push_str(n.suffix);
    k
}

#[derive(Debug, Clone)]
struct TemplateEdge {
    /// The step that led to the current name (clamped to -2..=2; 0: none or other).
    came_by: i8,
    to_prefix: String,
    to_suffix: String,
    delta: i64,
    weight: f32,
}

#[derive(Debug, Clone, Default)]
struct Template {
    last_seen: u64,
    edges: Vec<TemplateEdge>,
}

/// One session's recent past: its last two accesses, its links, and a model of its
/// client's cache (names held, each flagged while it is a prefetch not yet used).
#[derive(Debug, Clone, Default)]
pub struct SessionHistory {
    last_ms: u64,
    recent: Vec<NameRef>,
    links: Vec<(NameRef, NameRef)>,
    held: Vec<(Candidate, bool)>,
}

impl SessionHistory {
    /// When the session was last active (the `time_ms` of its last access).
    pub fn last_access_ms(&self) -> u64 {
        self.last_ms
    }

    /// Entries in the model of the session's client cache.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    fn holds(&self, c: &Candidate) -> bool {
        self.held.iter().any(|(h, _)| h == c)
    }

    /// Puts `c` in the cache model as the most recent; `prefetched` marks an unused prefetch.
    fn hold(&mut self, c: Candidate, prefetched: bool, cap: usize) {
        if let Some(i) = self.held.iter().position(|(h, _)| *h == c) {
            self.held.remove(i);
        }
        self.held.push((c, prefetched));
        let excess = self.held.len().saturating_sub(cap.max(1));
        self.held.drain(..excess);
    }

    /// The previous access, if any.
    fn last(&self) -> Option<NameRef> {
        self.recent.last().copied()
    }
}

/// Adds `w` to the edge to `to` in a bounded list, replacing the weakest when full; weights
/// are halved when one grows large, so old habits fade.
fn bump<T>(
    list: &mut Vec<T>,
    cap: usize,
    is: impl Fn(&T) -> bool,
    weight: impl Fn(&mut T) -> &mut f32,
    new: impl FnOnce() -> T,
) {
    if let Some(e) = list.iter_mut().find(|e| is(e)) {
        *weight(e) += 1.0;
        if *weight(e) > 1000.0 {
            list.iter_mut().for_each(|e| *weight(e) *= 0.5);
        }
        return;
    }
    if list.len() >= cap {
        let mut weakest = 0;
        let mut least = f32::INFINITY;
        for (i, e) in list.iter_mut().enumerate() {
            if *weight(e) < least {
                least = *weight(e);
                weakest = i;
            }
        }
        list.swap_remove(weakest);
    }
    list.push(new());
}

/// A candidate: a tracked name, or a name built from a template.
#[derive(Debug, Clone, PartialEq)]
enum Candidate {
    Known(NameRef),
    New(String),
}

/// The learned model: names, their links, contexts and templates. See the module docs.
#[derive(Debug, Clone)]
pub struct IntentPredictor {
    config: PrefetchConfig,
    full: bool,
    slots: Vec<NameSlot>,
    index: BTreeMap<String, u32>,
    templates: BTreeMap<String, Template>,
    tick: u64,
}

impl IntentPredictor {
    /// The full predictor.
    pub fn new(config: PrefetchConfig) -> Self {
        IntentPredictor {
            config,
            full: true,
            slots: Vec::new(),
            index: BTreeMap::new(),
            templates: BTreeMap::new(),
            tick: 0,
        }
    }

    /// The first-order Markov baseline: the most frequent successors over all sessions.
    pub fn markov1(config: PrefetchConfig) -> Self {
        IntentPredictor { full: false, ..Self::new(config) }
    }

    /// Names tracked now (at most `max_names`).
    pub fn names_tracked(&self) -> usize {
        self.index.len()
    }

    /// Templates tracked now (at most `max_templates`).
    pub fn templates_tracked(&self) -> usize {
        self.templates.len()
    }

    fn name_of<'a>(&'a self, c: &'a Candidate) -> Option<&'a str> {
        match c {
            Candidate::Known(r) => self.valid(*r).then(|| self.slots[r.id as usize].name.as_str()),
            Candidate::New(n) => Some(n),
        }
    }

    fn valid(&self, r: NameRef) -> bool {
        self.slots.get(r.id as usize).is_some_and(|s| s.generation == r.generation)
    }

    fn lookup(&self, name: &str) -> Option<NameRef> {
        let id = *self.index.get(name)?;
        Some(NameRef { id, generation: self.slots[id as usize].generation })
    }

    /// The slot of `name`, tracking it (evicting the least recently seen name when full).
    fn intern(&mut self, name: &str) -> NameRef {
        self.tick += 1;
        if let Some(r) = self.lookup(name) {
            self.slots[r.id as usize].last_seen = self.tick;
            return r;
        }
        let id = if self.slots.len() < self.config.max_names.max(1) {
            self.slots.push(NameSlot::default());
            self.slots.len() - 1
        } else {
            let old = (0..self.slots.len()).min_by_key(|&i| self.slots[i].last_seen).unwrap_or(0);
            let name = core::mem::take(&mut self.slots[old].name);
            self.index.remove(&name);
            old
        };
        let slot = &mut self.slots[id];
        slot.generation = slot.generation.wrapping_add(1);
        slot.name = name.to_string();
        slot.last_seen = self.tick;
        slot.edges.clear();
        slot.contexts.clear();
        self.index.insert(name.to_string(), id as u32);
        NameRef { id: id as u32, generation: slot.generation }
    }

    /// Learns that `cur` followed `prev` (which followed `prev2`, where known).
    fn learn(&mut self, prev2: Option<NameRef>, prev: NameRef, cur: NameRef) {
        if !self.valid(prev) {
            return;
        }
        let slot = &mut self.slots[prev.id as usize];
        bump(&mut slot.edges, MAX_EDGES, |e| e.to == cur, |e| &mut e.weight, || Edge { to: cur, weight: 1.0 });
        if !self.full {
            return;
        }
        if let Some(p2) = prev2 {
            let is = |c: &Context| c.prev == p2 && c.to == cur;
            bump(
                &mut slot.contexts,
                MAX_CONTEXTS,
                is,
                |c| &mut c.weight,
                || Context { prev: p2, to: cur, weight: 1.0 },
            );
        }
        let (from, to) = (self.slots[prev.id as usize].name.clone(), self.slots[cur.id as usize].name.clone());
        let came_by = prev2.filter(|&r| self.valid(r)).map_or(0, |r| step(&self.slots[r.id as usize].name, &from));
        // Strides only between names with the same stem before the number.
        if let (Some(a), Some(b)) = (numbered(&from), numbered(&to))
            && a.prefix == b.prefix
        {
            let delta = b.number as i64 - a.number as i64;
            let key = template_key(&a);
            self.tick += 1;
            if !self.templates.contains_key(&key) && self.templates.len() >= self.config.max_templates.max(1) {
                let oldest = self.templates.iter().min_by_key(|(_, t)| t.last_seen).map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.templates.remove(&k);
                }
            }
            let t = self.templates.entry(key).or_default();
            t.last_seen = self.tick;
            let is = |e: &TemplateEdge| {
                e.came_by == came_by && e.delta == delta && e.to_prefix == b.prefix && e.to_suffix == b.suffix
            };
            let new = || TemplateEdge {
                came_by,
                to_prefix: b.prefix.to_string(),
                to_suffix: b.suffix.to_string(),
                delta,
                weight: 1.0,
            };
            bump(&mut t.edges, MAX_TEMPLATE_EDGES, is, |e| &mut e.weight, new);
        }
    }

    /// Scores the successors of `cur` into `out`, each source's weights normalized and scaled.
    fn successors(
        &self,
        s: &SessionHistory,
        prev: Option<NameRef>,
        cur: NameRef,
        scale: f32,
        out: &mut Vec<(Candidate, f32)>,
    ) {
        fn add(out: &mut Vec<(Candidate, f32)>, c: Candidate, w: f32) {
            match out.iter_mut().find(|(x, _)| *x == c) {
                Some(e) => e.1 += w,
                None => out.push((c, w)),
            }
        }
        let Some(slot) = self.slots.get(cur.id as usize).filter(|sl| sl.generation == cur.generation) else { return };
        let total: f32 = slot.edges.iter().filter(|e| self.valid(e.to)).map(|e| e.weight).sum();
        for e in slot.edges.iter().filter(|e| self.valid(e.to)) {
            add(out, Candidate::Known(e.to), scale * 0.8 * e.weight / total);
        }
        if !self.full {
            return;
        }
        // The session's own links, the most recent first.
        let mut seen = 0;
        for &(from, to) in s.links.iter().rev() {
            if from == cur && self.valid(to) && seen < 2 {
                add(out, Candidate::Known(to), scale * if seen == 0 { 1.2 } else { 0.6 });
                seen += 1;
            }
        }
        if let Some(p) = prev {
            let ctx = slot.contexts.iter().filter(|c| c.prev == p && self.valid(c.to));
            let total: f32 = ctx.clone().map(|c| c.weight).sum();
            if total >= 2.0 {
                for c in ctx {
                    add(out, Candidate::Known(c.to), scale * c.weight / total);
                }
            }
        }
        if let Some(n) = numbered(&slot.name)
            && let Some(t) = self.templates.get(&template_key(&n))
        {
            let came_by =
                prev.filter(|&r| self.valid(r)).map_or(0, |r| step(&self.slots[r.id as usize].name, &slot.name));
            let edges = t.edges.iter().filter(|e| e.came_by == came_by);
            let total: f32 = edges.clone().map(|e| e.weight).sum();
            for e in edges {
                let Some(num) = n.number.checked_add_signed(e.delta) else { continue };
                let mut name = String::with_capacity(e.to_prefix.len() + n.width + e.to_suffix.len());
                name.push_str(&e.to_prefix);
                let digits = num.to_string();
                (digits.len()..n.width).for_each(|_| name.push('0'));
                name.push_str(&digits);
                name.push_str(&e.to_suffix);
                let c = self.lookup(&name).map_or(Candidate::New(name), Candidate::Known);
                add(out, c, scale * 0.7 * e.weight / total);
            }
        }
    }

    /// The names most likely next after `cur` in session `s`, best first, none it holds.
    fn predict(&self, s: &SessionHistory, cur: NameRef, limit: usize) -> Vec<String> {
        let mut cands = Vec::with_capacity(16);
        let prev = s.recent.iter().rev().nth(1).copied();
        self.successors(s, prev, cur, 1.0, &mut cands);
        if self.full {
            // One step ahead along the best candidate.
            let best = cands.iter().filter_map(|(c, w)| match c {
                Candidate::Known(r) => Some((*r, *w)),
                Candidate::New(_) => None,
            });
            if let Some((b, w)) = best.max_by(|a, b| a.1.total_cmp(&b.1)) {
                let total: f32 = cands.iter().map(|c| c.1).sum();
                let mut ahead = Vec::with_capacity(8);
                self.successors(s, Some(cur), b, 1.0, &mut ahead);
                // Scaled below the candidate they follow, so the send order stays next first.
                let top = ahead.iter().map(|c| c.1).fold(0.0, f32::max).max(1e-6);
                let scale = 0.6 * w * (w / total.max(1e-6)) / top;
                for (c, v) in ahead {
                    match cands.iter_mut().find(|(x, _)| *x == c) {
                        Some(e) => e.1 += v * scale,
                        None => cands.push((c, v * scale)),
                    }
                }
            }
        }
        cands.retain(|c| c.0 != Candidate::Known(cur) && !s.holds(&c.0) && c.1 >= MIN_SCORE);
        cands.sort_by(|a, b| b.1.total_cmp(&a.1));
        cands
            .into_iter()
            .take(limit)
            .map(|(c, _)| match c {
                Candidate::Known(r) => self.slots[r.id as usize].name.clone(),
                Candidate::New(n) => n,
            })
            .collect()
    }
}

/// The step between the last numbers of two names of one template, clamped to -2..=2 (0:
/// other templates).
fn step(from: &str, to: &str) -> i8 {
    match (numbered(from), numbered(to)) {
        (Some(a), Some(b)) if a.prefix == b.prefix && a.suffix == b.suffix => {
            (b.number as i64 - a.number as i64).clamp(-2, 2) as i8
        }
        _ => 0,
    }
}

/// Sessions, the predictor and the prefetches issued. The server holds one behind a mutex;
/// the browser one per page. `Send` (plain data).
#[derive(Debug, Clone)]
pub struct PrefetchManager {
    predictor: IntentPredictor,
    sessions: BTreeMap<String, SessionHistory>,
}

impl Default for PrefetchManager {
    fn default() -> Self {
        PrefetchManager::new(IntentPredictor::new(PrefetchConfig::default()))
    }
}

impl PrefetchManager {
    /// A manager using `predictor` (its config's caps).
    pub fn new(predictor: IntentPredictor) -> Self {
        PrefetchManager { predictor, sessions: BTreeMap::new() }
    }

    /// The predictor.
    pub fn predictor(&self) -> &IntentPredictor {
        &self.predictor
    }

    /// What is remembered of `session`, if it is tracked.
    pub fn session(&self, session: &str) -> Option<&SessionHistory> {
        self.sessions.get(session)
    }

    /// Sessions tracked now (at most `max_sessions`).
    pub fn sessions_tracked(&self) -> usize {
        self.sessions.len()
    }

    /// Session `session` accessed `name` at `time_ms`: learns from it and returns the names
    /// to prefetch (at most `max_predictions`), which become pending.
    pub fn notify_access(&mut self, session: &str, name: &str, time_ms: u64) -> Vec<String> {
        let cfg = self.predictor.config;
        if !self.sessions.contains_key(session) && self.sessions.len() >= cfg.max_sessions.max(1) {
            let oldest = self.sessions.iter().min_by_key(|(_, s)| s.last_ms).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.sessions.remove(&k);
            }
        }
        let cur = self.predictor.intern(name);
        if !self.sessions.contains_key(session) {
            self.sessions.insert(session.to_string(), SessionHistory::default());
        }
        let s = self.sessions.get_mut(session).expect("inserted above");
        s.last_ms = time_ms;
        let prev = s.last().filter(|&r| self.predictor.valid(r));
        let prev2 = s.recent.iter().rev().nth(1).copied().filter(|&r| self.predictor.valid(r));
        if let Some(p) = prev {
            self.predictor.learn(prev2, p, cur);
            if s.links.len() >= MAX_SESSION_LINKS {
                s.links.remove(0);
            }
            s.links.push((p, cur));
        }
        s.recent.retain(|&r| r != cur);
        if s.recent.len() >= 2 {
            s.recent.remove(0);
        }
        s.recent.push(cur);
        s.hold(Candidate::Known(cur), false, cfg.client_cache);
        let s = &self.sessions[session];
        let out = self.predictor.predict(s, cur, cfg.max_predictions);
        let s = self.sessions.get_mut(session).expect("inserted above");
        for n in &out {
            let c = self.predictor.lookup(n).map_or_else(|| Candidate::New(n.clone()), Candidate::Known);
            s.hold(c, true, cfg.client_cache);
        }
        out
    }

    /// Names prefetched and not accessed yet (as far as the cache model knows), over all
    /// sessions.
    pub fn pending_prefetches(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in self.sessions.values() {
            for (c, prefetched) in &s.held {
                if *prefetched && let Some(n) = self.predictor.name_of(c) {
                    out.push(n.to_string());
                }
            }
        }
        out
    }

    /// Whether `name` is pending: prefetched for some session and not accessed by it yet.
    pub fn was_prefetched(&self, name: &str) -> bool {
        self.sessions.values().any(|s| s.held.iter().any(|(c, p)| *p && self.predictor.name_of(c) == Some(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_their_last_number() {
        let n = numbered("llama-3b/blk.12.ffn").unwrap();
        assert_eq!((n.prefix, n.number, n.width, n.suffix), ("llama-3b/blk.", 12, 2, ".ffn"));
        let n = numbered("img-0042.jpg").unwrap();
        assert_eq!((n.prefix, n.number, n.width, n.suffix), ("img-", 42, 4, ".jpg"));
        assert_eq!(numbered("output"), None);
        assert_eq!(numbered("x99999999999999999999"), None, "too long for a u64 step");
        assert_eq!(step("img-0001", "img-0002"), 1);
        assert_eq!(step("img-0009", "img-0001"), -2);
        assert_eq!(step("blk.1.attn", "blk.1.ffn"), 0);
    }

    #[test]
    fn the_cache_model_is_bounded_and_tracks_prefetches() {
        let mut s = SessionHistory::default();
        for i in 0..10 {
            s.hold(Candidate::New(alloc::format!("n{i}")), i % 2 == 0, 4);
        }
        assert_eq!(s.held(), 4);
        assert!(s.holds(&Candidate::New("n9".into())) && !s.holds(&Candidate::New("n5".into())));
        s.hold(Candidate::New("n8".into()), false, 4);
        assert_eq!(s.held.last(), Some(&(Candidate::New("n8".into()), false)));
    }
}
