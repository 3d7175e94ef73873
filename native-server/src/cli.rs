//! The command line of `haagenti serve` and `haagenti-server` (the same flags in both).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::{Limits, Server, ServerConfig, StoreSource, TlsSource};

/// Serves assets as fragments over gRPC, gRPC-web and HTTPS, and the browser demo.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub addr: SocketAddr,
    /// PEM certificate chain; without it a self-signed certificate for localhost is made and
    /// its path printed.
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key for --cert.
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// PEM CA certificates; clients must then present a certificate signed by one (mTLS).
    #[arg(long)]
    pub client_ca: Option<PathBuf>,
    /// Where assets are: a directory, file:///DIR or s3://BUCKET/PREFIX (S3 settings from the
    /// AWS_* environment variables). Without it: the embedded demo assets.
    #[arg(long)]
    pub store: Option<String>,
    /// Folder of the built web app to serve at / (default: the one built into the binary).
    #[arg(long)]
    pub web: Option<PathBuf>,
    /// Serve plain HTTP, no TLS (loopback addresses only).
    #[arg(long)]
    pub plain_http: bool,
    /// Memory cache of hot fragments, in MiB.
    #[arg(long, default_value_t = 256)]
    pub cache_mb: u64,
    /// An origin allowed to call from a browser page (CORS); repeat it, or `*` for any.
    #[arg(long = "cors-origin")]
    pub cors_origins: Vec<String>,
    /// Open connections in all.
    #[arg(long, default_value_t = Limits::default().max_connections)]
    pub max_connections: usize,
    /// Open connections from one IP address.
    #[arg(long, default_value_t = Limits::default().max_connections_per_client)]
    pub max_connections_per_client: u32,
    /// Running fragment streams from one IP address.
    #[arg(long, default_value_t = Limits::default().max_streams_per_client)]
    pub max_streams_per_client: u32,
    /// Concurrent HTTP/2 streams on one connection.
    #[arg(long, default_value_t = Limits::default().max_streams_per_connection)]
    pub max_streams_per_connection: u32,
    /// Requests a second from one IP address (0: no limit).
    #[arg(long, default_value_t = Limits::default().requests_per_second)]
    pub rate: u32,
    /// Requests one IP address may burst above the rate.
    #[arg(long, default_value_t = Limits::default().request_burst)]
    pub burst: u32,
    /// Largest gRPC message, in bytes.
    #[arg(long, default_value_t = Limits::default().max_message_bytes)]
    pub max_message_bytes: usize,
    /// Seconds allowed for a TLS handshake.
    #[arg(long, default_value_t = 10)]
    pub handshake_timeout_s: u64,
    /// Seconds allowed to send request headers, and for an idle keep-alive connection.
    #[arg(long, default_value_t = 30)]
    pub header_timeout_s: u64,
    /// Seconds a stream may wait on a client that reads nothing before it is ended.
    #[arg(long, default_value_t = 30)]
    pub stall_timeout_s: u64,
    /// Seconds running requests get to finish on shutdown (Ctrl-C, SIGTERM).
    #[arg(long, default_value_t = 10)]
    pub shutdown_grace_s: u64,
}

impl ServeArgs {
    /// The server configuration these flags describe.
    pub fn config(&self) -> ServerConfig {
        let tls = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => TlsSource::Files { cert: cert.clone(), key: key.clone() },
            _ => TlsSource::SelfSigned,
        };
        let web_root = self.web.clone();
        ServerConfig {
            addr: self.addr,
            web_root,
            tls,
            client_ca: self.client_ca.clone(),
            plain_http: self.plain_http,
            store: self.store.clone().map_or(StoreSource::Embedded, StoreSource::Location),
            cache_bytes: self.cache_mb << 20,
            cors_origins: self.cors_origins.clone(),
            limits: Limits {
                max_connections: self.max_connections,
                max_connections_per_client: self.max_connections_per_client,
                max_streams_per_client: self.max_streams_per_client,
                max_streams_per_connection: self.max_streams_per_connection,
                requests_per_second: self.rate,
                request_burst: self.burst,
                max_message_bytes: self.max_message_bytes,
                handshake_timeout: Duration::from_secs(self.handshake_timeout_s),
                header_read_timeout: Duration::from_secs(self.header_timeout_s),
                stall_timeout: Duration::from_secs(self.stall_timeout_s),
                shutdown_grace: Duration::from_secs(self.shutdown_grace_s),
            },
        }
    }
}

/// Logs to standard error: `info` unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Runs the server until Ctrl-C or SIGTERM; `program` names it in messages.
pub async fn serve(program: &str, args: &ServeArgs) -> Result<(), String> {
    // Standard output may be a pipe nobody reads any more: a lost line must not stop a server.
    let say = |line: String| {
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), "{line}");
    };
    init_logging();
    let config = args.config();
    let what = match &config.store {
        StoreSource::Embedded => "the embedded demo assets".to_string(),
        StoreSource::Location(l) => l.clone(),
        StoreSource::Opened(s) => format!("{s:?}"),
    };
    let web = config.web_root.clone();
    let server = match Server::bind(config).await {
        Ok(server) => server,
        Err(e) => return Err(e.to_string()),
    };
    let scheme = if server.is_tls() { "https" } else { "http" };
    let assets = server.library().names().await.map(|n| n.len()).unwrap_or(0);
    say(format!("{program} listening on {scheme}://{}/ ({assets} assets from {what})", server.local_addr()));
    if let Some(cert) = server.self_signed_cert() {
        say(format!("self-signed certificate for localhost: {} (clients trust it with --ca)", cert.display()));
    }
    match web {
        Some(dir) => say(format!("web app from {}", dir.display())),
        None if Server::has_embedded_web() => say("web app built into the server".to_string()),
        None => say("no web app (scripts/run.sh builds it into the server, or pass --web DIR)".to_string()),
    }
    server.run(shutdown_signal()).await;
    say(format!("{program}: stopped"));
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
}
