//! The server over real TLS sockets: gRPC over HTTP/2, gRPC-web over HTTP/1.1, the web root,
//! mTLS, and shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use haagenti_proto::grpc_web;
use haagenti_proto::v1::fragments_client::FragmentsClient;
use haagenti_proto::v1::{HealthRequest, HealthResponse, health_response};
use haagenti_server::{Server, ServerConfig, TlsSource};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;

struct Pki {
    dir: PathBuf,
    ca: CertificateDer<'static>,
    client_chain: Vec<CertificateDer<'static>>,
    client_key: PrivateKeyDer<'static>,
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all written as PEM.
fn pki(tag: &str) -> Pki {
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

fn config(dir: &Path, mtls: bool) -> ServerConfig {
    ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        web_root: Some(dir.join("web")),
        tls: TlsSource::Files { cert: dir.join("server.pem"), key: dir.join("server.key") },
        client_ca: mtls.then(|| dir.join("ca.pem")),
    }
}

fn client_tls(pki: &Pki, alpn: &[u8], with_cert: bool) -> Arc<rustls::ClientConfig> {
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

async fn tls_connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(config).connect(ServerName::try_from("127.0.0.1").unwrap(), tcp).await
}

async fn start(config: ServerConfig) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    (addr, stop, task)
}

async fn grpc_health(addr: SocketAddr, tls: Arc<rustls::ClientConfig>) -> Result<HealthResponse, String> {
    let connector = tower::service_fn(move |_uri: http::Uri| {
        let tls = tls.clone();
        async move { tls_connect(addr, tls).await.map(TokioIo::new) }
    });
    let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1")
        .connect_with_connector(connector)
        .await
        .map_err(|e| e.to_string())?;
    let mut client = FragmentsClient::new(channel);
    let reply = client.health(HealthRequest { client: "native".into() }).await.map_err(|e| e.to_string())?;
    Ok(reply.into_inner())
}

/// One HTTP/1.1 request over TLS; returns status, content type and body.
async fn http1(
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

fn grpc_web_request(client: &str) -> http::Request<Full<hyper::body::Bytes>> {
    let body = grpc_web::encode_request(&HealthRequest { client: client.into() });
    http::Request::post("/haagenti.v1.Fragments/Health")
        .header("host", "127.0.0.1")
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(Full::new(body.into()))
        .unwrap()
}

#[tokio::test]
async fn grpc_and_grpc_web_and_static_files_on_one_tls_port() {
    let pki = pki("plain");
    let (addr, stop, task) = start(config(&pki.dir, false)).await;

    let reply = grpc_health(addr, client_tls(&pki, b"h2", false)).await.unwrap();
    assert_eq!(reply.status, health_response::Status::Serving as i32);
    assert_eq!(reply.version, env!("CARGO_PKG_VERSION"));
    assert_eq!((reply.echo.as_str(), reply.protocol.as_str()), ("native", "grpc"));

    let (status, ct, body) =
        http1(addr, client_tls(&pki, b"http/1.1", false), grpc_web_request("browser")).await.unwrap();
    assert_eq!(status, 200);
    assert!(ct.starts_with("application/grpc-web"), "content type {ct}");
    let reply: HealthResponse = grpc_web::decode_unary_response(&body).unwrap();
    assert_eq!((reply.echo.as_str(), reply.protocol.as_str()), ("browser", "grpc-web"));

    let page = http::Request::get("/").header("host", "127.0.0.1").body(Full::default()).unwrap();
    let (status, ct, body) = http1(addr, client_tls(&pki, b"http/1.1", false), page).await.unwrap();
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/html"), "content type {ct}");
    assert_eq!(body, b"<h1>haagenti test page</h1>");

    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), task).await.expect("server stops").unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "listener still open after shutdown");
}

#[tokio::test]
async fn mtls_requires_a_client_certificate() {
    let pki = pki("mtls");
    let (addr, stop, _task) = start(config(&pki.dir, true)).await;

    let reply = grpc_health(addr, client_tls(&pki, b"h2", true)).await.unwrap();
    assert_eq!(reply.protocol, "grpc");
    let (status, _, _) = http1(addr, client_tls(&pki, b"http/1.1", true), grpc_web_request("m")).await.unwrap();
    assert_eq!(status, 200);

    assert!(grpc_health(addr, client_tls(&pki, b"h2", false)).await.is_err(), "no client cert was accepted");
    stop.send(()).unwrap();
}

#[tokio::test]
async fn missing_web_root_and_bad_pem_are_clear_errors() {
    let pki = pki("errors");
    let mut cfg = config(&pki.dir, false);
    cfg.web_root = Some(pki.dir.join("nope"));
    let err = Server::bind(cfg).await.err().expect("missing web root accepted").to_string();
    assert!(err.contains("nope"), "{err}");

    let mut cfg = config(&pki.dir, false);
    cfg.tls = TlsSource::Files { cert: pki.dir.join("server.key"), key: pki.dir.join("server.key") };
    let err = Server::bind(cfg).await.err().expect("a key file as certificate accepted").to_string();
    assert!(err.contains("no certificate"), "{err}");
}
