//! A byte-limited cache of hot fragments, least recently used out first.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use bytes::Bytes;

/// Fragments by id, holding at most `limit` bytes of them.
#[derive(Debug)]
pub struct FragmentCache {
    limit: u64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    bytes: u64,
    tick: u64,
    entries: HashMap<String, (Bytes, u64)>,
    by_use: BTreeMap<u64, String>,
}

impl FragmentCache {
    /// A cache of at most `limit` bytes (0 disables it).
    pub fn new(limit: u64) -> Self {
        FragmentCache { limit, inner: Mutex::new(Inner::default()) }
    }

    /// The fragment, if cached; marks it used.
    pub fn get(&self, id: &str) -> Option<Bytes> {
        let mut g = self.inner.lock().expect("cache lock");
        let inner = &mut *g;
        inner.tick += 1;
        let tick = inner.tick;
        let (bytes, used) = inner.entries.get_mut(id)?;
        inner.by_use.remove(used);
        *used = tick;
        inner.by_use.insert(tick, id.to_string());
        Some(bytes.clone())
    }

    /// Whether the fragment is cached (without marking it used).
    pub fn contains(&self, id: &str) -> bool {
        self.inner.lock().expect("cache lock").entries.contains_key(id)
    }

    /// Caches a fragment, evicting the least recently used ones to stay under the limit. A
    /// fragment larger than the whole limit is not cached.
    pub fn insert(&self, id: &str, bytes: Bytes) {
        let size = bytes.len() as u64;
        if size > self.limit {
            return;
        }
        let mut g = self.inner.lock().expect("cache lock");
        let inner = &mut *g;
        inner.tick += 1;
        let tick = inner.tick;
        if let Some((old, used)) = inner.entries.insert(id.to_string(), (bytes, tick)) {
            inner.by_use.remove(&used);
            inner.bytes -= old.len() as u64;
        }
        inner.by_use.insert(tick, id.to_string());
        inner.bytes += size;
        while inner.bytes > self.limit {
            let Some((_, victim)) = inner.by_use.pop_first() else { break };
            if let Some((b, _)) = inner.entries.remove(&victim) {
                inner.bytes -= b.len() as u64;
            }
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> u64 {
        self.inner.lock().expect("cache lock").bytes
    }

    /// Fragments held now.
    pub fn len(&self) -> usize {
        self.inner.lock().expect("cache lock").entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_stays_under_its_limit_and_evicts_the_least_recently_used() {
        let cache = FragmentCache::new(100);
        cache.insert("a", Bytes::from(vec![0; 40]));
        cache.insert("b", Bytes::from(vec![0; 40]));
        assert!(cache.get("a").is_some()); // b is now the least recently used
        cache.insert("c", Bytes::from(vec![0; 40]));
        assert!(cache.contains("a") && cache.contains("c") && !cache.contains("b"));
        assert_eq!(cache.bytes(), 80);
        cache.insert("huge", Bytes::from(vec![0; 101]));
        assert!(!cache.contains("huge"));
        cache.insert("a", Bytes::from(vec![0; 10])); // replacing keeps the count right
        assert_eq!(cache.bytes(), 50);
        assert_eq!(cache.len(), 2);
        let off = FragmentCache::new(0);
        off.insert("a", Bytes::from_static(b"x"));
        assert!(off.is_empty());
    }
}
