//! Counters exported at `GET /metrics` in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident: $help:literal),* $(,)?) => {
        /// The server's counters; every field counts up from start.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $(#[doc = $help] pub $name: AtomicU64,)*
        }

        impl Metrics {
            fn counters(&self) -> impl Iterator<Item = (&'static str, &'static str, u64)> + '_ {
                [$((stringify!($name), $help, self.$name.load(Ordering::Relaxed)),)*].into_iter()
            }
        }
    };
}

counters! {
    connections_accepted: "TCP connections accepted.",
    connections_refused: "Connections closed at once because a connection cap was reached.",
    tls_handshake_failures: "TLS handshakes that failed or timed out.",
    grpc_requests: "gRPC and gRPC-web calls received.",
    http_requests: "Plain HTTP requests for fragments and manifests.",
    requests_rate_limited: "Requests refused by the per-client rate limit.",
    streams_refused: "Fragment streams refused by the per-client stream limit.",
    fragments_sent: "Fragments sent, over gRPC or HTTP.",
    fragment_bytes_sent: "Bytes of fragments sent.",
    http_not_modified: "HTTP requests answered 304 Not Modified.",
    cache_hits: "Fragment reads served from the memory cache.",
    cache_misses: "Fragment reads that went to the store.",
    store_errors: "Store reads that failed, or returned bytes that do not match their id.",
    prefetch_hints: "Assets named in prefetch hints sent to clients.",
    prefetch_warmed: "Fragments loaded into the cache ahead of a request.",
    prefetch_hits: "Fragment reads served from the cache that a prefetch had filled.",
    policy_streams: "StreamFragments calls scheduled by the adaptive policy.",
    policy_end_complete: "Streams that sent everything asked.",
    policy_end_byte_budget: "Streams stopped by their byte budget.",
    policy_end_time_budget: "Streams stopped by their time budget.",
    policy_end_quality: "Streams stopped on reaching their target quality.",
    policy_end_shutdown: "Streams ended by server shutdown.",
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters, with `gauges` (name, help, value) after them, in the Prometheus text
    /// exposition format (version 0.0.4).
    pub fn render(&self, gauges: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        for (name, help, value) in self.counters() {
            let _ = writeln!(out, "# HELP haagenti_{name}_total {help}\n# TYPE haagenti_{name}_total counter");
            let _ = writeln!(out, "haagenti_{name}_total {value}");
        }
        for (name, help, value) in gauges {
            let _ =
                writeln!(out, "# HELP haagenti_{name} {help}\n# TYPE haagenti_{name} gauge\nhaagenti_{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_in_the_prometheus_text_format() {
        let m = Metrics::default();
        Metrics::add(&m.fragment_bytes_sent, 42);
        Metrics::inc(&m.cache_hits);
        let text = m.render(&[("cache_bytes", "Bytes in the fragment cache.", 7)]);
        assert!(
            text.contains("# TYPE haagenti_fragment_bytes_sent_total counter\nhaagenti_fragment_bytes_sent_total 42\n")
        );
        assert!(text.contains("haagenti_cache_hits_total 1\n"));
        assert!(text.contains("# TYPE haagenti_cache_bytes gauge\nhaagenti_cache_bytes 7\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.split_once(' ').unwrap();
            assert!(name.starts_with("haagenti_") && value.parse::<u64>().is_ok(), "{line}");
        }
    }
}
