//! The S3 backend against a real S3-compatible server (moto's `moto_server`, a separate
//! process speaking the S3 REST protocol), never an in-process mock: assets are ingested into
//! `s3://BUCKET/some/prefix`, then two replicas serve that one bucket: this process's server
//! (store opened here) and the `haagenti-server` binary (store opened from `s3://…` and the
//! `AWS_*` environment, as a deployment does).
//!
//! `moto_server` is looked for in `$HAAGENTI_MOTO_SERVER`, on `PATH`, then in the venv
//! `scripts/setup.sh test` makes (`~/.cache/haagenti/moto/bin`). Without it the test fails
//! when `CI` is set and is skipped, loudly, otherwise.

mod common;

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::load::{Killed, free_port};
use common::{client_tls, http1, pki, start};
use haagenti_proto::v1 as pb;
use haagenti_server::client::{FetchOptions, FragmentClient, GrpcClientBuilder};
use haagenti_server::ingest::{AddOptions, EncodedAsset, encode_file, store_asset};
use haagenti_server::store::{ObjectStorage, Storage, fragment_id};
use haagenti_server::{ServerConfig, StoreSource, TlsConfig, TlsSource};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use object_store::ObjectStoreExt;
use object_store::aws::AmazonS3Builder;

const BUCKET: &str = "haagenti-test";
const PREFIX: &str = "some/prefix";
const INSTALL: &str = "run `scripts/setup.sh test` (it installs moto into ~/.cache/haagenti/moto), or \
                       `pip install \"moto[server]\"`, or point HAAGENTI_MOTO_SERVER at a moto_server binary";

fn find_moto() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HAAGENTI_MOTO_SERVER") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("moto_server"));
    let venv = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/haagenti/moto/bin/moto_server"));
    on_path.chain(venv).find(|p| p.is_file())
}

/// One plain, unsigned HTTP/1.1 request to the S3 server (moto lets anyone create a bucket).
async fn s3_request(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .body(Full::<hyper::body::Bytes>::default())
        .unwrap();
    let res = sender.send_request(req).await.map_err(std::io::Error::other)?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.map_err(std::io::Error::other)?.to_bytes().to_vec();
    Ok((status, body))
}

/// Starts moto on a free loopback port and waits until it answers.
async fn start_moto(bin: &Path) -> (Killed, SocketAddr) {
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let moto = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while s3_request(addr, "GET", "/").await.is_err() {
        assert!(Instant::now() < deadline, "moto_server did not answer on {addr} within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (moto, addr)
}

/// The AWS_* settings a replica reads from its environment to reach the moto server.
fn aws_env(endpoint: &str) -> [(&'static str, String); 5] {
    [
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
    ]
}

/// Starts the `haagenti-server` binary on `s3://BUCKET/PREFIX` and returns it with its address.
fn start_replica(endpoint: &str, dir: &Path) -> (Killed, SocketAddr) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_haagenti-server"));
    cmd.args(["--addr", "127.0.0.1:0", "--store", &format!("s3://{BUCKET}/{PREFIX}")])
        .arg("--cert")
        .arg(dir.join("server.pem"))
        .arg("--key")
        .arg(dir.join("server.key"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in aws_env(endpoint) {
        cmd.env(k, v);
    }
    for k in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] {
        cmd.env_remove(k);
    }
    let mut child = cmd.spawn().expect("start haagenti-server");
    let stdout = child.stdout.take().unwrap();
    let child = Killed(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let line = lines.next().expect("haagenti-server printed nothing").unwrap();
    // "haagenti-server listening on https://127.0.0.1:PORT/ (N assets from s3://…)"
    let addr = line
        .split("https://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line from haagenti-server: {line}"));
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

async fn encode(path: &str, name: &str) -> Vec<EncodedAsset> {
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)).unwrap();
    let name = name.to_string();
    let opts = AddOptions::default();
    tokio::task::spawn_blocking(move || encode_file(&name, &bytes, &opts, |_, _, _| {}).unwrap()).await.unwrap()
}

async fn client(addr: SocketAddr, ca: &[u8]) -> FragmentClient {
    GrpcClientBuilder::new(format!("https://{addr}"))
        .with_tls(TlsConfig::default().with_ca_cert(ca.to_vec()))
        .connect()
        .await
        .unwrap()
}

/// Streams `asset` from a replica (the client checks each fragment's hash against its id) and
/// checks its ids and bytes are the ingested ones; returns the manifest.
async fn check_streamed(client: &mut FragmentClient, asset: &EncodedAsset) -> pb::AssetManifest {
    let mut got = Vec::new();
    let fetched = client.fetch(&asset.name, &FetchOptions::default(), |p| got.push(p.bytes)).await.unwrap();
    let ids: Vec<String> = fetched.manifest.fragments.iter().map(|f| f.id.clone()).collect();
    let expected: Vec<String> = asset.encoded.fragments.iter().map(|f| fragment_id(f)).collect();
    assert_eq!(ids, expected, "{}: the manifest's fragment ids are not the ingested ones", asset.name);
    assert_eq!(got.len(), expected.len(), "{}: not every fragment was streamed", asset.name);
    let total: usize = asset.encoded.fragments.iter().map(Vec::len).sum();
    assert_eq!(got.last().copied(), Some(total as u64), "{}: streamed bytes", asset.name);
    fetched.decoder.reconstruct().unwrap();
    fetched.manifest
}

/// GETs every fragment of `asset` over HTTPS and compares the bytes with the ingested ones.
async fn check_http(addr: SocketAddr, tls: &Arc<rustls::ClientConfig>, asset: &EncodedAsset) {
    for f in &asset.encoded.fragments {
        let id = fragment_id(f);
        let req = http::Request::get(format!("/fragments/{id}")).header("host", "127.0.0.1").body(Full::default());
        let (status, _, body) = http1(addr, tls.clone(), req.unwrap()).await.unwrap();
        assert_eq!(status, 200, "GET /fragments/{id} on {addr}");
        assert_eq!(fragment_id(&body), id, "GET /fragments/{id} on {addr}: bytes do not hash to the id");
        assert_eq!(&body, f, "GET /fragments/{id} on {addr}: not the ingested bytes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_serve_one_s3_bucket() {
    let Some(moto) = find_moto() else {
        if std::env::var_os("CI").is_some() {
            panic!("moto_server is not installed, and CI is set so this test may not be skipped: {INSTALL}");
        }
        eprintln!("SKIPPED: replicas_serve_one_s3_bucket needs moto_server, which is not installed: {INSTALL}");
        return;
    };
    let (_moto, s3_addr) = start_moto(&moto).await;
    let endpoint = format!("http://{s3_addr}");
    let (status, body) = s3_request(s3_addr, "PUT", &format!("/{BUCKET}")).await.unwrap();
    assert_eq!(status, 200, "creating the bucket: {}", String::from_utf8_lossy(&body));

    // This process's store: the same settings a replica takes from its environment.
    let mut s3 = AmazonS3Builder::new().with_bucket_name(BUCKET);
    for (k, v) in aws_env(&endpoint) {
        s3 = s3.with_config(k.to_ascii_lowercase().parse().unwrap(), v);
    }
    let label = format!("s3://{BUCKET}/{PREFIX}");
    let bucket = Arc::new(s3.build().unwrap());
    let store: Arc<dyn Storage> = Arc::new(ObjectStorage::new(bucket.clone(), PREFIX, &label));

    let mut assets = encode("tests/data/images/camera.png", "photos/camera").await;
    assets.extend(encode("tests/data/minilm-l0-query.safetensors", "minilm").await);
    for asset in &assets {
        store_asset(&store, asset).await.unwrap();
    }
    // The objects are in the bucket under the documented layout.
    let first = &assets[0].encoded.fragments[0];
    let id = fragment_id(first);
    for key in [format!("{PREFIX}/fragments/{}/{id}", &id[..2]), format!("{PREFIX}/manifests/{}.json", assets[0].name)]
    {
        let object = bucket.get(&object_store::path::Path::from(key.as_str())).await;
        let bytes = object.unwrap_or_else(|e| panic!("{key} is not in the bucket: {e}")).bytes().await.unwrap();
        if key.contains("/fragments/") {
            assert!(bytes == first.as_slice(), "{key} holds other bytes than the fragment");
        }
    }

    let pki = pki("s3");
    let ca = std::fs::read(pki.dir.join("ca.pem")).unwrap();
    let config = ServerConfig {
        tls: TlsSource::Files { cert: pki.dir.join("server.pem"), key: pki.dir.join("server.key") },
        store: StoreSource::Opened(store.clone()),
        ..ServerConfig::new("127.0.0.1:0".parse().unwrap())
    };
    let (addr_a, stop, _task) = start(config).await;
    let (_replica, addr_b) = start_replica(&endpoint, &pki.dir);
    let tls = client_tls(&pki, b"http/1.1", false);
    let mut a = client(addr_a, &ca).await;
    let mut b = client(addr_b, &ca).await;

    let mut names: Vec<String> = assets.iter().map(|a| a.name.clone()).collect();
    names.sort();
    for replica in [&mut a, &mut b] {
        let listed: Vec<String> = replica.list_assets("").await.unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(listed, names, "both replicas list the bucket's assets");
    }
    for asset in &assets {
        let from_a = check_streamed(&mut a, asset).await;
        let from_b = check_streamed(&mut b, asset).await;
        assert_eq!(from_a, from_b, "{}: the replicas' manifests differ", asset.name);
        check_http(addr_a, &tls, asset).await;
        check_http(addr_b, &tls, asset).await;
    }

    // Added while both replicas run: an unknown name goes to the store, so it is served at once.
    let late = encode("tests/data/images/chelsea.png", "photos/chelsea").await.remove(0);
    store_asset(&store, &late).await.unwrap();
    for (replica, addr) in [(&mut a, addr_a), (&mut b, addr_b)] {
        check_streamed(replica, &late).await;
        check_http(addr, &tls, &late).await;
    }
    stop.send(()).unwrap();
}
