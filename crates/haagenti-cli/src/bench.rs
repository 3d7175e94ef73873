//! `haagenti bench`: the trace-driven evaluations of `haagenti_stream::eval`, on assets
//! written by `haagenti holo encode` and committed traces.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Subcommand;
use haagenti::holo::{Manifest, shard_path};
use haagenti_stream::AssetCurve;
use haagenti_stream::eval::adaptive::{self, AdaptiveConfig, BandwidthTrace};
use haagenti_stream::eval::prefetch::{self, Predictor, PrefetchEvalConfig};

use crate::files::{Failure, fail};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Replay a mahimahi bandwidth trace: scenarios `single` and `page` under the policies
    /// ours, fixed, throughput and oracle; one line per scenario and policy.
    Adaptive {
        /// A directory written by `holo encode` (repeat for a page of several assets).
        #[arg(long = "asset", required = true)]
        assets: Vec<PathBuf>,
        /// A mahimahi trace: one line per 1500-byte delivery opportunity, its time in ms.
        #[arg(long)]
        trace: PathBuf,
        /// Time to show the assets by, in milliseconds from the request.
        #[arg(long, default_value_t = 2000)]
        deadline_ms: u32,
    },
    /// Replay an access trace (CSV `session,time_ms,name`) through the prefetcher and a
    /// first-order Markov baseline.
    Prefetch {
        /// The access trace.
        #[arg(long)]
        trace: PathBuf,
    },
}

pub(crate) fn run(command: BenchCommand) -> Result<(), Failure> {
    match command {
        BenchCommand::Adaptive { assets, trace, deadline_ms } => {
            let curves = assets.iter().map(|d| read_asset(d)).collect::<Result<Vec<_>, _>>()?;
            let text = fs::read_to_string(&trace).map_err(|e| fail(&trace, e))?;
            let trace_data = BandwidthTrace::parse(&text).map_err(|e| fail(&trace, e))?;
            let config = AdaptiveConfig { deadline_ms, ..AdaptiveConfig::default() };
            for outcome in adaptive::run_all(&curves, &trace_data, &config) {
                println!("{outcome}");
            }
            Ok(())
        }
        BenchCommand::Prefetch { trace } => prefetch(&trace),
    }
}

/// The curve of an asset directory, with the sizes of its stored fragment files (the
/// curve's byte counts for any file missing).
fn read_asset(dir: &Path) -> Result<AssetCurve, Failure> {
    let path = dir.join("manifest.json");
    let text = fs::read_to_string(&path).map_err(|e| fail(&path, e))?;
    let m = Manifest::from_json(&text).map_err(|e| fail(&path, e))?;
    let mut sizes = Vec::with_capacity(m.fragments.len());
    for (k, id) in m.fragments.iter().enumerate() {
        let file = dir.join("fragments").join(shard_path(id).map_err(|e| fail(&path, e))?);
        let from_curve = || {
            let p = m.curve.at(k + 1).map_or(0, |p| p.bytes);
            p.saturating_sub(m.curve.at(k).map_or(0, |p| p.bytes))
        };
        sizes.push(fs::metadata(&file).map_or_else(|_| from_curve(), |md| md.len()));
    }
    let mut curve = AssetCurve::from_manifest(&m, &sizes);
    if curve.name.is_empty() {
        curve.name = dir.display().to_string();
    }
    Ok(curve)
}

/// Replays the access trace through our predictor, then the Markov baseline. `predict_us`
/// is the wall time of a whole replay (learning, predicting and the cache simulation) over
/// its accesses: an upper bound of one prediction's cost.
fn prefetch(trace: &Path) -> Result<(), Failure> {
    let text = fs::read_to_string(trace).map_err(|e| fail(trace, e))?;
    let accesses = prefetch::parse_accesses(&text).map_err(|e| fail(trace, e))?;
    let config = PrefetchEvalConfig::default();
    for (label, predictor) in [(None, Predictor::Ours), (Some("baseline=markov1"), Predictor::Markov1)] {
        let start = Instant::now();
        let outcome = prefetch::replay(&accesses, predictor, &config);
        let us = start.elapsed().as_secs_f64() * 1e6 / accesses.len().max(1) as f64;
        println!("{}", outcome.line(label, us));
    }
    Ok(())
}
