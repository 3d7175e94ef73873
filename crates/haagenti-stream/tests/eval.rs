//! The trace replays: trace parsing, the link model, and the oracle bounding every policy.

use haagenti_stream::AssetCurve;
use haagenti_stream::eval::adaptive::{self, AdaptiveConfig, BandwidthTrace, Policy, TraceError};
use haagenti_stream::eval::prefetch::{self, AccessTraceError, Predictor, PrefetchEvalConfig};
use proptest::prelude::*;

#[test]
fn mahimahi_traces_parse_and_repeat() {
    assert_eq!(BandwidthTrace::parse(""), Err(TraceError::Empty));
    assert_eq!(BandwidthTrace::parse("1\nx\n"), Err(TraceError::NotANumber { line: 2 }));
    assert_eq!(BandwidthTrace::parse("5\n3\n"), Err(TraceError::NotInOrder { line: 2 }));
    // Two packets at 1 ms, one at 10 ms = 0 ms of each period of 10.
    let t = BandwidthTrace::parse("1\n1\n10\n").unwrap();
    assert_eq!(t.period_ms(), 10);
    assert_eq!(t.bytes_between(0, 9), 4500);
    assert_eq!(t.bytes_between(2, 9), 0);
    assert_eq!(t.bytes_between(2, 10), 1500);
    assert_eq!(t.bytes_between(0, 19), 9000);
    assert_eq!(t.arrival(0, 1), 0);
    assert_eq!(t.arrival(0, 1501), 1);
    assert_eq!(t.arrival(0, 4501), 10, "the trace repeats");
    assert_eq!(t.arrival(2, 1), 10);
    assert!((t.mean_bps() - 3.0 * 12_000.0 * 100.0).abs() < 1e-6);
}

#[test]
fn access_traces_parse() {
    assert_eq!(prefetch::parse_accesses("a,b,c\n"), Err(AccessTraceError::Header));
    assert_eq!(prefetch::parse_accesses("session,time_ms,name\ns,x,n\n"), Err(AccessTraceError::Row { line: 2 }));
    let a = prefetch::parse_accesses("session,time_ms,name\ns1,5,a,b\n\n").unwrap();
    assert_eq!((a.len(), a[0].name.as_str(), a[0].time_ms), (1, "a,b", 5));
    let out = prefetch::replay(&a, Predictor::Ours, &PrefetchEvalConfig::default());
    assert_eq!(out.hit_rate, 0.0);
}

fn curve() -> impl Strategy<Value = AssetCurve> {
    prop::collection::vec((100u64..40_000, 0.0f64..5.0), 1..8).prop_map(|steps| {
        let mut q = 20.0;
        let (sizes, quality): (Vec<u64>, Vec<f64>) = steps
            .into_iter()
            .map(|(s, g)| {
                q += g;
                (s, q)
            })
            .unzip();
        AssetCurve::new("r", &sizes, &quality)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn no_policy_beats_the_oracle(
        assets in prop::collection::vec(curve(), 1..6),
        gaps in prop::collection::vec(0u64..30, 20..200),
        deadline in 100u32..3_000,
    ) {
        let mut t = 0;
        let text: String = gaps.iter().map(|g| { t += g; format!("{t}\n") }).collect();
        let trace = BandwidthTrace::parse(&text).unwrap();
        let config = AdaptiveConfig { deadline_ms: deadline, runs: 3, ..Default::default() };
        let oracle = adaptive::evaluate("x", &assets, &trace, Policy::Oracle, &config);
        prop_assert_eq!(oracle.over_budget_bytes, 0.0);
        for p in [Policy::Ours, Policy::Fixed, Policy::Throughput] {
            let o = adaptive::evaluate("x", &assets, &trace, p, &config);
            prop_assert!(o.mean_quality <= oracle.mean_quality + 1e-9, "{} {} > {}", p.name(), o.mean_quality, oracle.mean_quality);
        }
    }
}

#[test]
fn outcome_lines_have_the_benchmark_format() {
    let c = AssetCurve::new("a", &[1000, 1000], &[30.0, 35.0]);
    let trace = BandwidthTrace::parse("1\n2\n3\n").unwrap();
    let out = adaptive::run_all(&[c], &trace, &AdaptiveConfig::default());
    assert_eq!(out.len(), 8);
    let line = out[0].to_string();
    assert!(line.starts_with("scenario=single policy=ours first_preview_ms="), "{line}");
    assert!(line.contains(" mean_quality=") && line.contains(" over_budget_bytes="), "{line}");
}
