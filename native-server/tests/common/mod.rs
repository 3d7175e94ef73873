//! Helpers shared by the server's integration tests: a test PKI, TLS clients, starting a server.
#![allow(dead_code, unreachable_pub)]

pub mod load;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use haagenti_server::{Server, ServerConfig, TlsSource};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;

pub struct Pki {
    pub dir: PathBuf,
    pub ca: CertificateDer<'static>,
    pub client_chain: Vec<CertificateDer<'static>>,
    pub client_key: PrivateKeyDer<'static>,
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all written as PEM.
pub fn pki(tag: &str) -> Pki {
    let dir = std::env::temp_dir().join(format!("haagenti-server-test-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["client".into()]).unwrap().signed_by(&client_key, &ca).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("client.pem"), client.pem()).unwrap();
    std::fs::write(dir.join("client.key"), client_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
    std::fs::create_dir_all(dir.join("web")).unwrap();
    std::fs::write(dir.join("web/index.html"), "<h1>haagenti test page</h1>").unwrap();
    Pki {
        ca: ca.der().clone(),
        client_chain: vec![client.der().clone()],
        client_key: PrivateKeyDer::Pkcs8(client_key.serialize_der().into()),
        dir,
    }
}

/// The embedded demo assets over the test PKI's server certificate, on a free port.
pub fn config(dir: &Path, mtls: bool) -> ServerConfig {
    ServerConfig {
        web_root: Some(dir.join("web")),
        tls: TlsSource::Files { cert: dir.join("server.pem"), key: dir.join("server.key") },
        client_ca: mtls.then(|| dir.join("ca.pem")),
        ..ServerConfig::new("127.0.0.1:0".parse().unwrap())
    }
}

pub fn client_tls(pki: &Pki, alpn: &[u8], with_cert: bool) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = if with_cert {
        builder.with_client_auth_cert(pki.client_chain.clone(), pki.client_key.clone_key()).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    config.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(config)
}

pub async fn tls_connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(config).connect(ServerName::try_from("127.0.0.1").unwrap(), tcp).await
}

pub async fn start(config: ServerConfig) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    (addr, stop, task)
}

/// One HTTP/1.1 request over TLS; returns status, content type and body.
pub async fn http1(
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    req: http::Request<Full<hyper::body::Bytes>>,
) -> std::io::Result<(http::StatusCode, String, Vec<u8>)> {
    let stream = tls_connect(addr, tls).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let res = sender.send_request(req).await.unwrap();
    let status = res.status();
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    Ok((status, ct, body))
}
