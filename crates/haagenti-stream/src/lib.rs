#![doc = include_str!("../README.md")]
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
