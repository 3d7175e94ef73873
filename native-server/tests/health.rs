//! The server over real TLS sockets: gRPC over HTTP/2, gRPC-web over HTTP/1.1, the web root,
//! mTLS, and shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

mod common;

use common::{client_tls, config, http1, pki, start, tls_connect};
use haagenti_proto::grpc_web;
use haagenti_proto::v1::fragments_client::FragmentsClient;
use haagenti_proto::v1::{HealthRequest, HealthResponse, health_response};
use haagenti_server::{Server, TlsSource};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

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
    let err = Server::bind(cfg).await.expect_err("missing web root accepted").to_string();
    assert!(err.contains("nope"), "{err}");

    let mut cfg = config(&pki.dir, false);
    cfg.tls = TlsSource::Files { cert: pki.dir.join("server.key"), key: pki.dir.join("server.key") };
    let err = Server::bind(cfg).await.expect_err("a key file as certificate accepted").to_string();
    assert!(err.contains("no certificate"), "{err}");
}
