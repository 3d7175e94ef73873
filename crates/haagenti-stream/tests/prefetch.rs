//! The prefetcher: what it learns, its memory caps, no panics on random accesses.

use haagenti_stream::{IntentPredictor, PrefetchConfig, PrefetchManager};
use proptest::prelude::*;

fn walk(m: &mut PrefetchManager, session: &str, names: &[&str]) -> Vec<Vec<String>> {
    names.iter().enumerate().map(|(t, n)| m.notify_access(session, n, t as u64)).collect()
}

#[test]
fn sequences_seen_in_other_sessions_are_predicted() {
    let mut m = PrefetchManager::default();
    for s in ["a", "b", "c"] {
        walk(&mut m, s, &["emb", "attn", "ffn", "out"]);
    }
    let p = m.notify_access("d", "emb", 0);
    assert_eq!(p[0], "attn", "{p:?}");
    assert!(p.contains(&"ffn".to_string()), "one step ahead: {p:?}");
    assert!(m.was_prefetched("attn") && m.pending_prefetches().contains(&"attn".to_string()));
    // Accessed: no longer pending; held names are not offered again.
    let p = m.notify_access("d", "attn", 1);
    assert!(!m.was_prefetched("attn"));
    assert!(!p.contains(&"ffn".to_string()), "ffn is pending already: {p:?}");
}

#[test]
fn name_strides_generalize_to_unseen_names() {
    let mut m = PrefetchManager::default();
    let names: Vec<String> = (1..=12).map(|i| format!("img-{i:04}.jpg")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    walk(&mut m, "a", &refs);
    m.notify_access("b", "img-0100.jpg", 0);
    let p = m.notify_access("b", "img-0101.jpg", 1);
    assert!(p.contains(&"img-0102.jpg".to_string()), "{p:?}");
    // The Markov baseline has never seen 0101 -> 0102.
    let mut base = PrefetchManager::new(IntentPredictor::markov1(PrefetchConfig::default()));
    walk(&mut base, "a", &refs);
    base.notify_access("b", "img-0100.jpg", 0);
    assert!(base.notify_access("b", "img-0101.jpg", 1).is_empty());
}

#[test]
fn the_session_own_links_win_over_the_crowd() {
    let mut m = PrefetchManager::default();
    for s in 0..5 {
        walk(&mut m, &format!("crowd{s}"), &["attn", "e1", "x", "attn", "e1", "x"]);
    }
    // Its own past, long enough ago that e6 has left the client's cache.
    let mut mine = vec!["attn", "e6", "x"];
    let filler: Vec<String> = (0..20).map(|i| format!("y{i}")).collect();
    mine.extend(filler.iter().map(String::as_str));
    walk(&mut m, "me", &mine);
    let p = m.notify_access("me", "attn", 10);
    assert_eq!(p[0], "e6", "{p:?}");
}

#[test]
fn memory_stays_within_the_caps() {
    let config =
        PrefetchConfig { max_sessions: 4, max_names: 32, max_templates: 8, client_cache: 4, ..Default::default() };
    let mut m = PrefetchManager::new(IntentPredictor::new(config));
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for t in 0..20_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let session = format!("s{}", x % 100);
        let name = format!("t{}/n{}", (x >> 8) % 50, (x >> 16) % 1000);
        let p = m.notify_access(&session, &name, t);
        assert!(p.len() <= 2);
        assert!(m.sessions_tracked() <= 4);
        assert!(m.predictor().names_tracked() <= 32);
        assert!(m.predictor().templates_tracked() <= 8);
        assert!(m.pending_prefetches().len() <= 4 * 4);
    }
}

#[test]
fn managers_can_be_shared_across_threads() {
    fn send<T: Send + Sync>() {}
    send::<PrefetchManager>();
    send::<haagenti_stream::AdaptiveStreamManager>();
}

proptest! {
    #[test]
    fn random_accesses_never_panic(
        rows in prop::collection::vec(("[a-c]{0,2}", any::<u64>(), "[a-z0-9.]{0,6}"), 0..200),
        max in 0usize..4,
    ) {
        let config = PrefetchConfig { max_predictions: max, max_sessions: 2, max_names: 8, max_templates: 2, client_cache: 3 };
        let mut m = PrefetchManager::new(IntentPredictor::new(config));
        for (s, t, n) in &rows {
            let p = m.notify_access(s, n, *t);
            prop_assert!(p.len() <= max);
            prop_assert!(!p.contains(n));
        }
    }
}
