//! Haagenti's fragment server.
//!
//! One TLS port speaks gRPC (HTTP/2) and gRPC-web (HTTP/1.1 or HTTP/2) and serves the browser
//! demo. TLS is rustls with our own acceptor advertising ALPN `h2` and `http/1.1`, so browsers
//! can reach gRPC-web over HTTP/1.1; with a client CA it requires client certificates (mTLS).
#![forbid(unsafe_code)]

pub mod compression;
mod health;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use haagenti_proto::v1::fragments_server::FragmentsServer;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower_http::services::{ServeDir, ServeFile};

pub use health::{HealthService, Protocol};
pub use tls::{TlsError, TlsSource, self_signed};

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Folder of the built web app served at `/` (its `index.html` for unknown paths).
    pub web_root: Option<PathBuf>,
    /// Where the server certificate comes from.
    pub tls: TlsSource,
    /// PEM file of CA certificates; when set, clients must present a certificate it signed.
    pub client_ca: Option<PathBuf>,
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
}

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    router: Router,
}

impl Server {
    /// Binds the socket and prepares TLS and routes; nothing is served until [`Server::run`].
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        let tls = tls::server_config(&config.tls, config.client_ca.as_deref())?;
        let listener =
            TcpListener::bind(config.addr).await.map_err(|source| ServerError::Bind { addr: config.addr, source })?;
        let router = router(config.web_root.as_deref(), Instant::now())?;
        Ok(Server { listener, acceptor: TlsAcceptor::from(Arc::new(tls)), router })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound TCP listener has an address")
    }

    /// Serves until `shutdown` completes, then lets open connections finish their requests.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let graceful = GracefulShutdown::new();
        let builder = auto::Builder::new(TokioExecutor::new());
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        eprintln!("accept failed: {e}");
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let acceptor = self.acceptor.clone();
            let service = TowerToHyperService::new(self.router.clone());
            let builder = builder.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let tls = match acceptor.accept(tcp).await {
                    Ok(tls) => tls,
                    Err(e) => {
                        eprintln!("TLS handshake with {peer} failed: {e}");
                        return;
                    }
                };
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                if let Err(e) = watcher.watch(conn.into_owned()).await {
                    eprintln!("connection with {peer} ended with an error: {e}");
                }
            });
        }
        graceful.shutdown().await;
    }
}

fn router(web_root: Option<&std::path::Path>, started: Instant) -> Result<Router, ServerError> {
    let grpc = tower::ServiceBuilder::new()
        .map_request(health::tag_protocol)
        .layer(tonic_web::GrpcWebLayer::new())
        .service(FragmentsServer::new(HealthService::new(started)));
    let router = Router::new().route_service("/haagenti.v1.Fragments/{method}", grpc);
    Ok(match web_root {
        Some(root) => {
            if !root.is_dir() {
                return Err(ServerError::MissingWebRoot(root.to_path_buf()));
            }
            router.fallback_service(ServeDir::new(root).fallback(ServeFile::new(root.join("index.html"))))
        }
        None => router,
    })
}
