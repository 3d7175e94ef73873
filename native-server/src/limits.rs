//! What one client may take: connections, concurrent streams and requests per second, plus
//! the timeouts that keep a slow or silent client from holding resources.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The peer of a request, put in its extensions by the connection that carried it.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The server's limits. Defaults are in [`Limits::default`]; `--help` lists the flags.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections in all (more are closed at once): 4096.
    pub max_connections: usize,
    /// Open connections from one IP address: 256.
    pub max_connections_per_client: u32,
    /// Running `StreamFragments` calls from one IP address: 128.
    pub max_streams_per_client: u32,
    /// Concurrent HTTP/2 streams on one connection: 256.
    pub max_streams_per_connection: u32,
    /// Requests a second from one IP address, sustained: 2000 (0: no limit).
    pub requests_per_second: u32,
    /// Requests one IP address may make in a burst above the rate: 4000.
    pub request_burst: u32,
    /// Largest gRPC message accepted or sent: 16 MiB.
    pub max_message_bytes: usize,
    /// Time allowed for the TLS handshake: 10 s.
    pub handshake_timeout: Duration,
    /// Time allowed to send a request's headers (HTTP/1.1), and for a keep-alive connection
    /// to start its next request: 30 s.
    pub header_read_timeout: Duration,
    /// A stream whose client takes nothing for this long is ended: 30 s.
    pub stall_timeout: Duration,
    /// On shutdown, how long running requests get to finish: 10 s.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            max_connections_per_client: 256,
            max_streams_per_client: 128,
            max_streams_per_connection: 256,
            requests_per_second: 2000,
            request_burst: 4000,
            max_message_bytes: 16 << 20,
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Most distinct client addresses tracked for rate limiting; past it, idle ones are forgotten.
const MAX_TRACKED_CLIENTS: usize = 65_536;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Per-client counts, shared by every connection.
#[derive(Debug)]
pub struct ClientLimits {
    limits: Limits,
    connections: Mutex<HashMap<IpAddr, u32>>,
    streams: Mutex<HashMap<IpAddr, u32>>,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

/// Held while a connection or stream is open; dropping it frees the place.
#[derive(Debug)]
pub struct Slot {
    owner: Arc<ClientLimits>,
    ip: Option<IpAddr>,
    stream: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let map = if self.stream { &self.owner.streams } else { &self.owner.connections };
        let mut map = map.lock().expect("limits lock");
        if let Some(n) = map.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&ip);
            }
        }
    }
}

impl ClientLimits {
    /// Counts under `limits`.
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(ClientLimits {
            limits,
            connections: Mutex::new(HashMap::new()),
            streams: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn open(self: &Arc<Self>, ip: Option<IpAddr>, stream: bool) -> Result<Slot, String> {
        let (map, cap, what) = if stream {
            (&self.streams, self.limits.max_streams_per_client, "fragment streams")
        } else {
            (&self.connections, self.limits.max_connections_per_client, "connections")
        };
        if let Some(ip) = ip {
            let mut map = map.lock().expect("limits lock");
            let n = map.entry(ip).or_default();
            if *n >= cap {
                return Err(format!("{ip} already has {cap} open {what}, the most one client may"));
            }
            *n += 1;
        }
        Ok(Slot { owner: self.clone(), ip, stream })
    }

    /// A place for one more `StreamFragments` call from `ip`.
    pub fn open_stream(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Slot, String> {
        self.open(ip, true)
    }

    /// A place for one more connection from `ip`.
    pub fn open_connection(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, String> {
        self.open(Some(ip), false)
    }

    /// Takes a token from `ip`'s bucket; false when the client is over its rate.
    pub fn allow_request(&self, ip: IpAddr) -> bool {
        let rate = f64::from(self.limits.requests_per_second);
        if rate == 0.0 {
            return true;
        }
        let burst = f64::from(self.limits.request_burst.max(1));
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("limits lock");
        if buckets.len() >= MAX_TRACKED_CLIENTS && !buckets.contains_key(&ip) {
            // Forget clients whose buckets have refilled: they lose nothing by it.
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
            if buckets.len() >= MAX_TRACKED_CLIENTS {
                buckets.clear();
            }
        }
        let b = buckets.entry(ip).or_insert(Bucket { tokens: burst, at: now });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_client_and_freed_on_drop() {
        let limits = ClientLimits::new(Limits { max_streams_per_client: 2, ..Limits::default() });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = limits.open_stream(Some(a)).unwrap();
        let _s2 = limits.open_stream(Some(a)).unwrap();
        assert!(limits.open_stream(Some(a)).unwrap_err().contains("2 open fragment streams"));
        let _other = limits.open_stream(Some(b)).unwrap();
        drop(s1);
        assert!(limits.open_stream(Some(a)).is_ok());
    }

    #[test]
    fn the_rate_limit_allows_the_burst_then_refuses() {
        let limits = ClientLimits::new(Limits { requests_per_second: 1, request_burst: 5, ..Limits::default() });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let allowed = (0..20).filter(|_| limits.allow_request(ip)).count();
        assert!((5..=6).contains(&allowed), "{allowed}");
        assert!(limits.allow_request("10.0.0.9".parse().unwrap()));
    }
}
