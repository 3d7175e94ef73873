//! The schedule's guarantees, on random inputs: budgets, held prefixes, index order, bounds.

use haagenti_stream::{AdaptiveStreamManager, AssetCurve, Budget, Pick, QualityPolicy};
use proptest::prelude::*;

fn curve_strategy() -> impl Strategy<Value = AssetCurve> {
    (0usize..10).prop_flat_map(|n| {
        (
            prop::collection::vec(prop_oneof![Just(0u64), 1u64..5_000, Just(u64::MAX / 3)], n),
            prop::collection::vec(
                prop_oneof![-10.0f64..60.0, Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
                n,
            ),
        )
            .prop_map(|(sizes, q)| AssetCurve::new("a", &sizes, &q))
    })
}

fn budget_strategy() -> impl Strategy<Value = Budget> {
    (
        prop::option::of(prop_oneof![0u64..100_000, Just(u64::MAX)]),
        prop::option::of(prop_oneof![0u32..5_000, Just(u32::MAX)]),
        prop::option::of(prop_oneof![0.0f64..50.0, Just(f64::NAN), Just(f64::INFINITY)]),
    )
        .prop_map(|(max_bytes, max_time_ms, target_quality)| Budget { max_bytes, max_time_ms, target_quality })
}

/// Checks the invariants every schedule keeps; returns the bytes scheduled.
fn check(assets: &[AssetCurve], held: &[usize], picks: &[Pick]) -> u64 {
    let mut next: Vec<usize> =
        (0..assets.len()).map(|i| held.get(i).copied().unwrap_or(0).min(assets[i].len())).collect();
    let not_held: usize = assets.iter().zip(&next).map(|(c, &k)| c.len() - k).sum();
    assert!(picks.len() <= not_held, "{} picks, {not_held} fragments not held", picks.len());
    let mut bytes = 0u64;
    for p in picks {
        assert!(p.asset < assets.len());
        // Index order within each asset, starting right after the held prefix: no repeats.
        assert_eq!(usize::from(p.index), next[p.asset], "asset {} out of order", p.asset);
        next[p.asset] += 1;
        bytes = bytes.saturating_add(assets[p.asset].sizes()[usize::from(p.index)]);
    }
    bytes
}

proptest! {
    #[test]
    fn schedules_keep_their_invariants(
        assets in prop::collection::vec(curve_strategy(), 0..6),
        held in prop::collection::vec(0usize..12, 0..8),
        budget in budget_strategy(),
        transfers in prop::collection::vec((0u64..1_000_000, prop_oneof![0.0f64..2_000.0, Just(f64::NAN), Just(0.0)]), 0..6),
    ) {
        let mut m = AdaptiveStreamManager::new(QualityPolicy::default());
        for (b, ms) in transfers {
            m.record_transfer(b, ms);
        }
        let picks = m.schedule(&assets, &held, &budget);
        let bytes = check(&assets, &held, &picks);
        if let Some(max) = budget.max_bytes {
            prop_assert!(bytes <= max, "{bytes} bytes over {max}");
        }
        if let Some(t) = budget.target_quality.filter(|t| !t.is_nan()) {
            // No fragment is sent to an asset that already reached the target.
            let mut k: Vec<usize> = (0..assets.len()).map(|i| held.get(i).copied().unwrap_or(0).min(assets[i].len())).collect();
            for p in &picks {
                prop_assert!(assets[p.asset].quality(k[p.asset]) < t);
                k[p.asset] += 1;
            }
        }
        if budget == Budget::default() {
            // No limit at all: everything not held is sent.
            let not_held: usize = assets.iter().enumerate().map(|(i, c)| c.len() - held.get(i).copied().unwrap_or(0).min(c.len())).sum();
            prop_assert_eq!(picks.len(), not_held);
        }
    }

    #[test]
    fn a_time_budget_is_kept_at_a_steady_measured_throughput(
        assets in prop::collection::vec(curve_strategy(), 1..5),
        ms in 0u32..3_000,
    ) {
        let mut m = AdaptiveStreamManager::new(QualityPolicy::default());
        for _ in 0..6 {
            m.record_transfer(12_500, 100.0); // 1 Mbps, no error
        }
        let picks = m.schedule(&assets, &[], &Budget { max_time_ms: Some(ms), ..Default::default() });
        let bytes = check(&assets, &[], &picks);
        // Within the time, or the one fragment sent when nothing fits.
        prop_assert!(bytes <= m.bytes_in(f64::from(ms)) || picks.len() == 1, "{bytes} > {}", m.bytes_in(f64::from(ms)));
    }
}

fn concave(name: &str) -> AssetCurve {
    AssetCurve::new(name, &[1000, 1000, 1000, 1000], &[30.0, 34.0, 36.0, 37.0])
}

#[test]
fn assets_are_interleaved_by_gain_per_byte() {
    let m = AdaptiveStreamManager::new(QualityPolicy::default());
    let assets = [concave("a"), concave("b"), concave("c")];
    let picks = m.schedule(&assets, &[], &Budget { max_bytes: Some(3000), ..Default::default() });
    assert_eq!(picks, (0..3).map(|a| Pick { asset: a, index: 0 }).collect::<Vec<_>>());
    // Held prefixes are skipped: asset 0 holds two, so its third fragment competes.
    let picks = m.schedule(&assets, &[2, 0, 0], &Budget { max_bytes: Some(2000), ..Default::default() });
    assert_eq!(picks, [Pick { asset: 1, index: 0 }, Pick { asset: 2, index: 0 }]);
}

#[test]
fn a_small_gain_before_a_large_one_is_taken_as_one_step() {
    let m = AdaptiveStreamManager::new(QualityPolicy::default());
    // b's first fragment gains little, its second a lot: the hull sees 40 dB for 2000 bytes.
    let a = AssetCurve::new("a", &[1000, 1000], &[20.0, 21.0]);
    let b = AssetCurve::new("b", &[1000, 1000], &[1.0, 60.0]);
    let picks = m.schedule(&[a, b], &[1, 0], &Budget { max_bytes: Some(2000), ..Default::default() });
    assert_eq!(picks, [Pick { asset: 1, index: 0 }, Pick { asset: 1, index: 1 }]);
}

#[test]
fn the_target_quality_stops_each_asset() {
    let m = AdaptiveStreamManager::new(QualityPolicy::default());
    let picks =
        m.schedule(&[concave("a"), concave("b")], &[], &Budget { target_quality: Some(35.0), ..Default::default() });
    assert_eq!(picks.len(), 6, "{picks:?}");
}

#[test]
fn the_recommendation_follows_the_deadline() {
    let c = concave("a");
    let mut m = AdaptiveStreamManager::new(QualityPolicy { deadline_ms: 100_000, ..Default::default() });
    m.record_transfer(125_000, 1000.0);
    let r = m.recommended_quality(&c);
    assert_eq!((r.fragments_to_load, r.expected_bytes), (4, 4000));
    let mut m = AdaptiveStreamManager::new(QualityPolicy { deadline_ms: 1, ..Default::default() });
    m.record_transfer(125_000, 1000.0);
    let r = m.recommended_quality(&c);
    assert_eq!(r.fragments_to_load, 1, "a preview is always recommended");
    assert_eq!(m.optimal_fragment_order(4), [0, 1, 2, 3]);
}

#[test]
fn throughput_estimates() {
    let mut t = haagenti_stream::ThroughputEstimator::default();
    assert_eq!(t.robust_bps(), None);
    t.record(0, 10.0);
    t.record(10, f64::NAN);
    t.record(10, 0.0);
    assert_eq!(t.samples(), 0);
    for _ in 0..5 {
        t.record(1000, 8.0); // 1 Mbps
    }
    assert!((t.harmonic_bps().unwrap() - 1e6).abs() < 1.0);
    assert!((t.ewma_bps().unwrap() - 1e6).abs() < 1.0);
    // A slow transfer: the harmonic mean drops more than the mean would, and the robust
    // estimate discounts by the prediction error.
    t.record(1000, 80.0);
    let h = t.harmonic_bps().unwrap();
    // The window holds four transfers at 1 Mbps and one at 0.1 Mbps: 5 / (4/1e6 + 1/1e5).
    assert!((h - 5.0 / 1.4e-5).abs() < 1.0, "{h}");
    assert!(t.robust_bps().unwrap() < h);
}

#[test]
fn curves_from_manifests_use_the_given_sizes_and_cap_exact() {
    use haagenti_holo::{AssetKind, Encoding, Manifest, QualityCurve, QualityPoint};
    let point = |k: u16, bytes: u64, q: f64| QualityPoint { fragments: k, bytes, quality: q, relative_l2: 0.0 };
    let m = Manifest {
        name: "x".into(),
        asset_id: "0".repeat(64),
        encoding: Encoding::Residual,
        kind: AssetKind::Image { width: 1, height: 1, channels: 1 },
        fragments: vec!["a".repeat(64), "b".repeat(64)],
        curve: QualityCurve { points: vec![point(1, 100, 20.0), point(2, 250, f64::INFINITY)], max_error: 0.0 },
    };
    let c = AssetCurve::from_manifest(&m, &[]);
    assert_eq!(c.sizes(), [100, 150]);
    assert_eq!(c.quality(2), haagenti_stream::PSNR_CAP_DB);
    let c = AssetCurve::from_manifest(&m, &[90, 160]);
    assert_eq!(c.sizes(), [90, 160]);
}

#[test]
fn with_no_time_left_nothing_is_sent_and_with_too_little_one_fragment_is() {
    let mut m = AdaptiveStreamManager::new(QualityPolicy::default());
    m.record_transfer(1_000, 1000.0); // 8 kbps: nothing fits in 150 ms
    let assets = [concave("a"), concave("b")];
    assert!(m.schedule(&assets, &[], &Budget { max_time_ms: Some(0), ..Default::default() }).is_empty());
    let probe = m.schedule(&assets, &[], &Budget { max_time_ms: Some(150), ..Default::default() });
    assert_eq!(probe, [Pick { asset: 0, index: 0 }]);
    // A byte limit is never exceeded, probe or not.
    let none = m.schedule(&assets, &[], &Budget { max_time_ms: Some(150), max_bytes: Some(999), target_quality: None });
    assert!(none.is_empty());
}

#[test]
fn empty_inputs_give_empty_schedules() {
    let m = AdaptiveStreamManager::new(QualityPolicy::default());
    assert!(m.schedule(&[], &[3, 4], &Budget::default()).is_empty());
    let empty = AssetCurve::new("e", &[], &[]);
    assert!(m.schedule(std::slice::from_ref(&empty), &[], &Budget::default()).is_empty());
    assert_eq!(m.recommended_quality(&empty).fragments_to_load, 0);
    let trace = haagenti_stream::eval::adaptive::BandwidthTrace::parse("1\n").unwrap();
    assert!(haagenti_stream::eval::adaptive::run_all(&[], &trace, &Default::default()).is_empty());
}
