//! `haagenti-server`: the fragment server with the browser demo.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use haagenti_server::{Server, ServerConfig, TlsSource};

/// Serves gRPC and gRPC-web over TLS, and the browser demo at `/`.
#[derive(Debug, Parser)]
#[command(name = "haagenti-server", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    addr: SocketAddr,
    /// Folder of the built web app.
    #[arg(long, default_value = "web/dist")]
    web: PathBuf,
    /// PEM certificate chain; without it a self-signed certificate for localhost is made.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key for --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// PEM CA certificates; clients must then present a certificate signed by one (mTLS).
    #[arg(long)]
    client_ca: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let tls = match (args.cert, args.key) {
        (Some(cert), Some(key)) => TlsSource::Files { cert, key },
        _ => TlsSource::SelfSigned,
    };
    let config = ServerConfig { addr: args.addr, web_root: Some(args.web), tls, client_ca: args.client_ca };
    let server = match Server::bind(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("haagenti-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("haagenti-server listening on https://{}/", server.local_addr());
    server
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
            println!("haagenti-server: shutting down");
        })
        .await;
    ExitCode::SUCCESS
}
