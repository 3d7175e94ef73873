//! Adaptive streaming and prefetch policy for HoloTensor fragments.
//!
//! Sans-IO: the caller (the gRPC server, the browser client, the trace benchmark) passes in
//! transfers, accesses and clocks, and gets back the fragments to send and the assets to
//! prefetch, so all of them run the same policy deterministically.
//!
//! - [`AdaptiveStreamManager::schedule`]: which fragments of which assets to send within a
//!   byte, time or quality budget ([`schedule`] explains the rule).
//! - [`PrefetchManager`]: which assets a session will want next ([`prefetch`]).
//! - [`eval`]: trace-driven evaluation of both, against baselines and an oracle.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod curve;
pub mod eval;
pub mod manager;
pub mod network;
pub mod prefetch;
pub mod schedule;

pub use curve::{AssetCurve, PSNR_CAP_DB};
pub use manager::{AdaptiveStreamManager, QualityPolicy, QualityRecommendation};
pub use network::{NetworkConditions, ThroughputEstimator};
pub use prefetch::{IntentPredictor, PrefetchConfig, PrefetchManager, SessionHistory};
pub use schedule::{Budget, Pick};
