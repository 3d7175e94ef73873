//! Haagenti's fragment server.
//!
//! One port speaks gRPC (HTTP/2), gRPC-web (HTTP/1.1 or HTTP/2) and plain HTTPS:
//!
//! - `haagenti.v1.FragmentService`: list assets, manifests, adaptive fragment streams;
//! - `haagenti.v1.CompressionService`: every codec Haagenti has;
//! - `grpc.health.v1.Health` and server reflection, so grpcurl, Kubernetes probes and load
//!   balancers work unchanged; the older `haagenti.v1.Fragments/Health` stays for old clients;
//! - `GET /fragments/{id}` (immutable, cacheable by any CDN), `GET /assets/{name}/manifest.json`,
//!   `GET /metrics` (Prometheus), and the browser demo at `/`.
//!
//! TLS is rustls with ALPN `h2` and `http/1.1`; with a client CA it requires client
//! certificates (mTLS). Assets come from a [`Storage`]: the embedded demo, a directory, or an
//! S3-compatible bucket. Every client is held to the [`Limits`].
#![forbid(unsafe_code)]

mod assets;
mod cache;
pub mod client;
pub mod compression;
mod demo;
mod fragments;
mod health;
mod http_api;
pub mod ingest;
mod limits;
mod metrics;
mod policy;
pub mod store;
mod tls;
mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use haagenti_proto::v1::fragment_service_server::FragmentServiceServer;
use haagenti_proto::v1::fragments_server::FragmentsServer;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower_http::services::{ServeDir, ServeFile};

pub use assets::{AssetEntry, Library, MANIFEST_TTL, MAX_MANIFEST_BYTES};
pub use cache::FragmentCache;
pub use compression::{CompressionLimits, CompressionServer};
pub use demo::CREDITS as DEMO_CREDITS;
pub use fragments::{MAX_HAVE, MAX_PAGE, MAX_STREAM_ASSETS};
pub use health::{HealthService, Protocol};
pub use limits::{ClientLimits, Limits, PeerAddr};
pub use metrics::Metrics;
pub use policy::{PREFETCH_NAMES, PREFETCH_SESSIONS};
pub use store::{Storage, StoreError};
pub use tls::{TlsConfig, TlsError, TlsSource, self_signed, self_signed_pem};

pub mod cli;

/// Default size of the fragment cache: 256 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 256 << 20;

/// Where the served assets come from.
#[derive(Debug, Clone)]
pub enum StoreSource {
    /// The demo assets built into the server (the repo's photos and a real weight tensor),
    /// encoded at start.
    Embedded,
    /// A location [`store::open`] takes: a directory, `file://…` or `s3://BUCKET/PREFIX`.
    Location(String),
    /// A store opened by the caller.
    Opened(Arc<dyn Storage>),
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Folder of the built web app served at `/` (its `index.html` for unknown paths); without
    /// it, the web app built into the binary, if `web/dist` existed when it was compiled.
    pub web_root: Option<PathBuf>,
    /// Where the server certificate comes from.
    pub tls: TlsSource,
    /// PEM file of CA certificates; when set, clients must present a certificate it signed.
    pub client_ca: Option<PathBuf>,
    /// Serve plain HTTP instead of TLS; refused unless `addr` is a loopback address.
    pub plain_http: bool,
    /// The assets.
    pub store: StoreSource,
    /// Bytes of hot fragments kept in memory.
    pub cache_bytes: u64,
    /// Origins allowed by CORS (`*` for any); none: no CORS headers (same-origin only).
    pub cors_origins: Vec<String>,
    /// What each client may take.
    pub limits: Limits,
}

impl ServerConfig {
    /// The defaults: the embedded demo over a self-signed certificate on `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        ServerConfig {
            addr,
            web_root: None,
            tls: TlsSource::SelfSigned,
            client_ca: None,
            plain_http: false,
            store: StoreSource::Embedded,
            cache_bytes: DEFAULT_CACHE_BYTES,
            cors_origins: Vec::new(),
            limits: Limits::default(),
        }
    }
}

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Binding the listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TLS configuration is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The web root does not exist.
    #[error("web root {0} does not exist (build the web app first: scripts/run.sh does)")]
    MissingWebRoot(PathBuf),
    /// The store cannot be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something else in the configuration is wrong.
    #[error("{0}")]
    Config(String),
}

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    router: Router,
    limits: Arc<ClientLimits>,
    metrics: Arc<Metrics>,
    library: Arc<Library>,
    shutdown_tx: watch::Sender<bool>,
    self_signed: Option<PathBuf>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.listener.local_addr().ok()).finish_non_exhaustive()
    }
}

/// The design's name for starting a server with explicit TLS: `GrpcServerBuilder::new(addr)
/// .with_tls(TlsConfig::from_pem(cert, key)?.with_client_ca(ca)).bind()`.
#[derive(Debug, Clone)]
pub struct GrpcServerBuilder {
    config: ServerConfig,
}

impl GrpcServerBuilder {
    /// A server on `addr` with [`ServerConfig::new`]'s defaults.
    pub fn new(addr: SocketAddr) -> Self {
        GrpcServerBuilder { config: ServerConfig::new(addr) }
    }

    /// Serves with this certificate (and client CA, if it has one).
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.config.tls = TlsSource::Pem(tls);
        self
    }

    /// Serves these assets.
    pub fn with_store(mut self, store: StoreSource) -> Self {
        self.config.store = store;
        self
    }

    /// Holds clients to these limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// The configuration so far, to adjust anything else.
    pub fn config_mut(&mut self) -> &mut ServerConfig {
        &mut self.config
    }

    /// Binds the server.
    pub async fn bind(self) -> Result<Server, ServerError> {
        Server::bind(self.config).await
    }
}

impl Server {
    /// Opens the store, binds the socket and prepares TLS and routes; nothing is served until
    /// [`Server::run`].
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        let mut self_signed = None;
        let mut tls_source = config.tls.clone();
        if matches!(tls_source, TlsSource::SelfSigned) && !config.plain_http {
            // Made now and written out, so that clients can be told to trust it.
            let pem = tls::self_signed_pem()?;
            let path = std::env::temp_dir().join(format!("haagenti-localhost-{}.pem", std::process::id()));
            std::fs::write(&path, &pem.cert_pem).map_err(|source| TlsError::Read { path: path.clone(), source })?;
            self_signed = Some(path);
            tls_source = TlsSource::Pem(pem);
        }
        let acceptor = if config.plain_http {
            if !config.addr.ip().is_loopback() {
                return Err(ServerError::Config(format!(
                    "plain HTTP is only served on loopback addresses, not {}",
                    config.addr
                )));
            }
            None
        } else {
            Some(TlsAcceptor::from(Arc::new(tls::server_config(&tls_source, config.client_ca.as_deref())?)))
        };
        let store = match &config.store {
            StoreSource::Embedded => demo::store().await?,
            StoreSource::Location(location) => store::open(location)?,
            StoreSource::Opened(store) => store.clone(),
        };
        let metrics = Arc::new(Metrics::default());
        let library = Arc::new(Library::new(store, config.cache_bytes, metrics.clone()));
        // Fail at start, not at the first request, when the store cannot be listed.
        library.names().await?;
        let listener =
            TcpListener::bind(config.addr).await.map_err(|source| ServerError::Bind { addr: config.addr, source })?;
        let limits = ClientLimits::new(config.limits.clone());
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let router = router(&config, library.clone(), metrics.clone(), limits.clone(), shutdown_rx).await?;
        Ok(Server { listener, acceptor, router, limits, metrics, library, shutdown_tx, self_signed })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound TCP listener has an address")
    }

    /// Where the self-signed certificate made at start was written (clients pass it as
    /// their CA); `None` when the certificate came from the configuration.
    pub fn self_signed_cert(&self) -> Option<&std::path::Path> {
        self.self_signed.as_deref()
    }

    /// Whether a web app is built into this binary (served when no web root is given).
    pub fn has_embedded_web() -> bool {
        web::embedded()
    }

    /// Whether the server speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.acceptor.is_some()
    }

    /// The server's counters.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The served assets.
    pub fn library(&self) -> Arc<Library> {
        self.library.clone()
    }

    /// Serves until `shutdown` completes; then stops accepting, ends running fragment streams
    /// cleanly (`REASON_SHUTDOWN`) and gives open requests [`Limits::shutdown_grace`] to finish.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let graceful = GracefulShutdown::new();
        let limits = self.limits.limits().clone();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.max_streams_per_connection)
            .keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(20));
        let connections = Arc::new(Semaphore::new(limits.max_connections));
        let mut backoff = Duration::from_millis(5);
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(conn) => {
                        backoff = Duration::from_millis(5);
                        conn
                    }
                    Err(e) => {
                        // Out of file descriptors, say: wait instead of spinning on the error.
                        tracing::warn!(error = %e, "accept failed; retrying in {backoff:?}");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            Metrics::inc(&self.metrics.connections_accepted);
            let (Ok(permit), Ok(slot)) =
                (connections.clone().try_acquire_owned(), self.limits.open_connection(peer.ip()))
            else {
                Metrics::inc(&self.metrics.connections_refused);
                tracing::warn!(%peer, "connection refused: connection cap reached");
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = self.acceptor.clone();
            let router = self.router.clone();
            let service = TowerToHyperService::new(tower::ServiceExt::map_request(
                router,
                move |mut req: http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(PeerAddr(peer));
                    req
                },
            ));
            let builder = builder.clone();
            let watcher = graceful.watcher();
            let metrics = self.metrics.clone();
            tokio::spawn(async move {
                let _held = (permit, slot);
                let result = match acceptor {
                    None => {
                        watcher
                            .watch(builder.serve_connection_with_upgrades(TokioIo::new(tcp), service).into_owned())
                            .await
                    }
                    Some(acceptor) => {
                        let tls = match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(tls)) => tls,
                            Ok(Err(e)) => {
                                Metrics::inc(&metrics.tls_handshake_failures);
                                tracing::info!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                Metrics::inc(&metrics.tls_handshake_failures);
                                tracing::info!(%peer, "TLS handshake timed out");
                                return;
                            }
                        };
                        let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                        watcher.watch(conn.into_owned()).await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            });
        }
        let _ = self.shutdown_tx.send(true);
        if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await.is_err() {
            tracing::warn!("connections still open after {:?}; closing them", limits.shutdown_grace);
        }
    }
}

/// Refuses requests over the client's rate, counts gRPC calls.
async fn admit(
    axum::extract::State(limits): axum::extract::State<(Arc<ClientLimits>, Arc<Metrics>)>,
    req: Request,
    next: Next,
) -> Response {
    let (limits, metrics) = limits;
    let grpc = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"));
    if grpc {
        Metrics::inc(&metrics.grpc_requests);
    }
    let peer = req.extensions().get::<PeerAddr>().map(|p| p.0.ip());
    if let Some(ip) = peer
        && !limits.allow_request(ip)
    {
        Metrics::inc(&metrics.requests_rate_limited);
        let message = "request rate limit reached; slow down";
        if grpc {
            let ct = req.headers().get(http::header::CONTENT_TYPE).cloned();
            let mut r = http::StatusCode::OK.into_response();
            let h = r.headers_mut();
            h.insert(http::header::CONTENT_TYPE, ct.unwrap_or(http::HeaderValue::from_static("application/grpc")));
            h.insert("grpc-status", http::HeaderValue::from_static("8"));
            h.insert("grpc-message", http::HeaderValue::from_static("request%20rate%20limit%20reached"));
            return r;
        }
        return (http::StatusCode::TOO_MANY_REQUESTS, [(http::header::RETRY_AFTER, "1")], message).into_response();
    }
    next.run(req).await
}

async fn router(
    config: &ServerConfig,
    library: Arc<Library>,
    metrics: Arc<Metrics>,
    limits: Arc<ClientLimits>,
    shutdown: watch::Receiver<bool>,
) -> Result<Router, ServerError> {
    let max_message = limits.limits().max_message_bytes;
    let stall = limits.limits().stall_timeout;
    let fragments = fragments::Fragments::new(
        library.clone(),
        metrics.clone(),
        Arc::new(policy::Prefetcher::default()),
        limits.clone(),
        shutdown,
        stall,
    );
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<FragmentServiceServer<fragments::Fragments>>().await;
    reporter
        .set_serving::<haagenti_proto::v1::compression_service_server::CompressionServiceServer<CompressionServer>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(haagenti_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServerError::Config(format!("reflection: {e}")))?;
    let compression =
        CompressionServer::new(CompressionLimits { max_message_bytes: max_message, ..CompressionLimits::default() });
    let grpc = tonic::service::Routes::new(
        FragmentServiceServer::new(fragments)
            .max_decoding_message_size(max_message)
            .max_encoding_message_size(max_message),
    )
    .add_service(compression.into_service())
    .add_service(FragmentsServer::new(HealthService::new(Instant::now())))
    .add_service(health)
    .add_service(reflection)
    .into_axum_router()
    .layer(tonic_web::GrpcWebLayer::new())
    .layer(axum::middleware::map_request(|req: Request| async move { health::tag_protocol(req) }));

    let state = http_api::HttpState { library, metrics: metrics.clone() };
    let mut router = Router::new()
        .route("/fragments/{id}", get(http_api::fragment))
        .route("/assets/{*path}", get(http_api::manifest))
        .route("/metrics", get(http_api::metrics))
        .with_state(state)
        .merge(grpc);
    router = match &config.web_root {
        Some(root) => {
            if !root.is_dir() {
                return Err(ServerError::MissingWebRoot(root.to_path_buf()));
            }
            router.fallback_service(ServeDir::new(root).fallback(ServeFile::new(root.join("index.html"))))
        }
        None => router.fallback(web::serve),
    };
    if !config.cors_origins.is_empty() {
        router = router.layer(cors(&config.cors_origins)?);
    }
    Ok(router.layer(axum::middleware::from_fn_with_state((limits, metrics), admit)))
}

fn cors(origins: &[String]) -> Result<tower_http::cors::CorsLayer, ServerError> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let list = origins
            .iter()
            .map(|o| http::HeaderValue::from_str(o).map_err(|_| ServerError::Config(format!("bad CORS origin {o:?}"))))
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(list)
    };
    let h = |s: &'static str| http::HeaderName::from_static(s);
    Ok(CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([http::Method::GET, http::Method::POST, http::Method::OPTIONS])
        .allow_headers([
            http::header::CONTENT_TYPE,
            http::header::RANGE,
            http::header::IF_NONE_MATCH,
            h("x-grpc-web"),
            h("x-user-agent"),
            h("grpc-timeout"),
        ])
        .expose_headers([
            h("grpc-status"),
            h("grpc-message"),
            http::header::ETAG,
            http::header::CONTENT_RANGE,
            http::header::CONTENT_LENGTH,
        ])
        .max_age(Duration::from_secs(86_400)))
}
