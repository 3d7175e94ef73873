//! Network conditions and the throughput estimate learned from real transfers.
//!
//! The estimate follows dash.js's throughput rule (two exponentially weighted moving averages
//! with half-lives in time, the smaller one wins) and RobustMPC's discount: the harmonic mean
//! of the last transfers divided by one plus the largest recent relative prediction error.

/// What the caller knows about the link, e.g. from the browser's Network Information API or
/// from the server's transport. Used as the prior until transfers are measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetworkConditions {
    /// Bandwidth in bits per second.
    pub bandwidth_bps: f64,
    /// One round trip, in milliseconds (the time before the first byte of a transfer).
    pub latency_ms: f64,
    /// Fraction of packets lost, 0 to 1 (the goodput is the bandwidth times one minus it).
    pub packet_loss: f64,
}

impl Default for NetworkConditions {
    /// 1 Mbps, 100 ms, no loss: dash.js's cautious start when nothing is known.
    fn default() -> Self {
        NetworkConditions { bandwidth_bps: 1_000_000.0, latency_ms: 100.0, packet_loss: 0.0 }
    }
}

impl NetworkConditions {
    /// The conditions with every field made usable: NaN, infinite or negative values become
    /// the defaults, the loss is clamped to `0..=0.99`.
    pub fn sanitized(self) -> Self {
        let d = NetworkConditions::default();
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        NetworkConditions {
            bandwidth_bps: if ok(self.bandwidth_bps) && self.bandwidth_bps > 0.0 {
                self.bandwidth_bps
            } else {
                d.bandwidth_bps
            },
            latency_ms: if ok(self.latency_ms) { self.latency_ms } else { d.latency_ms },
            packet_loss: if ok(self.packet_loss) { self.packet_loss.min(0.99) } else { 0.0 },
        }
    }

    /// The goodput these conditions promise, in bits per second.
    pub fn goodput_bps(&self) -> f64 {
        self.bandwidth_bps * (1.0 - self.packet_loss)
    }
}

/// Transfers remembered for the harmonic mean and the prediction error.
pub const THROUGHPUT_WINDOW: usize = 5;
/// Half-life of the fast moving average, in milliseconds of transfer time (dash.js: 3 s).
pub const FAST_HALF_LIFE_MS: f64 = 3_000.0;
/// Half-life of the slow moving average (dash.js: 8 s).
pub const SLOW_HALF_LIFE_MS: f64 = 8_000.0;

/// Throughput learned from transfers: `record` each one, read `ewma_bps` (dash.js) or
/// `robust_bps` (RobustMPC). Fixed size, no allocation.
#[derive(Debug, Clone, Default)]
pub struct ThroughputEstimator {
    fast: Ewma,
    slow: Ewma,
    samples: [f64; THROUGHPUT_WINDOW],
    errors: [f64; THROUGHPUT_WINDOW],
    count: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Ewma {
    value: f64,
    weight: f64,
}

impl Ewma {
    fn add(&mut self, x: f64, elapsed_ms: f64, half_life_ms: f64) {
        let a = libm::pow(0.5, elapsed_ms / half_life_ms);
        self.value = a * self.value + (1.0 - a) * x;
        self.weight = a * self.weight + (1.0 - a);
    }

    /// Corrected for the zero start, as dash.js does.
    fn get(&self) -> Option<f64> {
        (self.weight > 0.0).then(|| self.value / self.weight)
    }
}

impl ThroughputEstimator {
    /// A transfer of `bytes` that took `elapsed_ms` from its request to its last byte.
    /// Transfers of no bytes or no time (or NaN) say nothing and are ignored.
    pub fn record(&mut self, bytes: u64, elapsed_ms: f64) {
        if bytes == 0 || elapsed_ms.is_nan() || elapsed_ms <= 0.0 || elapsed_ms.is_infinite() {
            return;
        }
        let bps = bytes as f64 * 8000.0 / elapsed_ms;
        if let Some(predicted) = self.harmonic_bps() {
            let err = libm::fabs(predicted - bps) / bps.max(1.0);
            self.errors[self.count % THROUGHPUT_WINDOW] = err.min(10.0);
        }
        self.samples[self.count % THROUGHPUT_WINDOW] = bps;
        self.count += 1;
        self.fast.add(bps, elapsed_ms, FAST_HALF_LIFE_MS);
        self.slow.add(bps, elapsed_ms, SLOW_HALF_LIFE_MS);
    }

    /// Transfers recorded so far.
    pub fn samples(&self) -> usize {
        self.count
    }

    /// dash.js's estimate: the smaller of the fast and slow moving averages.
    pub fn ewma_bps(&self) -> Option<f64> {
        Some(self.fast.get()?.min(self.slow.get()?))
    }

    /// Harmonic mean of the last transfers (robust to one fast outlier).
    pub fn harmonic_bps(&self) -> Option<f64> {
        let n = self.count.min(THROUGHPUT_WINDOW);
        if n == 0 {
            return None;
        }
        let inv: f64 = self.samples[..n].iter().map(|&s| 1.0 / s.max(1.0)).sum();
        Some(n as f64 / inv)
    }

    /// RobustMPC's estimate: the harmonic mean over one plus the largest relative error of
    /// the last predictions.
    pub fn robust_bps(&self) -> Option<f64> {
        // Unwritten errors are zero, so the whole window can be read.
        let max_err = self.errors.iter().copied().fold(0.0, f64::max);
        Some(self.harmonic_bps()? / (1.0 + max_err))
    }
}
