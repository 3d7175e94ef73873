//! A load generator for the fragment server, and nginx serving the same fragment files as its
//! peer: N clients, each on its own TLS connection, fetch whole assets over and over for a
//! while, verify every fragment by its BLAKE3 id and count errors. Shared by the CI-sized test
//! (`tests/load.rs`) and the full benchmark (`benches/serve.rs`).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use haagenti_proto::v1 as pb;
use haagenti_server::TlsConfig;
use haagenti_server::client::GrpcClientBuilder;
use haagenti_server::ingest::{AddOptions, encode_file, store_asset};
use haagenti_server::store::{self, fragment_id};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use pb::stream_fragments_response::Event;

use super::tls_connect;

/// Kills the child process on drop, so that a failed assertion leaves nothing running.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // SIGTERM first: nginx's master then stops its workers, which SIGKILL would orphan.
        let pid = self.0.id().to_string();
        if Command::new("kill").args(["-TERM", &pid]).status().is_ok_and(|s| s.success()) {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port (free when asked; a race with other programs is possible).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One stored asset as the load generator needs it: fragment ids in index order.
#[derive(Debug, Clone)]
pub struct AssetIds {
    pub name: String,
    pub ids: Vec<String>,
    pub bytes: u64,
}

/// The repo's photos and real tensor, ingested into the directory store `dir`.
pub async fn corpus(dir: &Path) -> Vec<AssetIds> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let files = [
        ("tests/data/images/astronaut.png", "photos/astronaut"),
        ("tests/data/images/camera.png", "photos/camera"),
        ("tests/data/images/chelsea.png", "photos/chelsea"),
        ("tests/data/images/coffee.png", "photos/coffee"),
        ("tests/data/images/hubble_deep_field.jpg", "photos/hubble"),
        ("tests/data/minilm-l0-query.safetensors", "minilm"),
    ];
    let store = store::open(dir.to_str().unwrap()).unwrap();
    let mut out = Vec::new();
    for (path, name) in files {
        let bytes = std::fs::read(root.join(path)).unwrap();
        let assets = tokio::task::spawn_blocking(move || {
            encode_file(name, &bytes, &AddOptions::default(), |_, _, _| {}).unwrap()
        })
        .await
        .unwrap();
        for asset in assets {
            store_asset(&store, &asset).await.unwrap();
            out.push(AssetIds {
                name: asset.name.clone(),
                ids: asset.encoded.fragments.iter().map(|f| fragment_id(f)).collect(),
                bytes: asset.encoded.fragments.iter().map(|f| f.len() as u64).sum(),
            });
        }
    }
    out
}

/// How much load to make.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Concurrent clients, each on its own connection.
    pub clients: usize,
    /// No client starts a new asset after this long.
    pub duration: Duration,
    /// Most assets one client fetches (the test's count limit).
    pub max_assets_per_client: u64,
}

/// What one run measured. Latencies are microseconds, sorted.
#[derive(Debug, Default)]
pub struct Report {
    pub label: String,
    pub clients: usize,
    pub elapsed: Duration,
    /// Assets fetched whole, every fragment verified.
    pub assets: u64,
    /// Fragments received and verified.
    pub fragments: u64,
    pub bytes: u64,
    pub errors: u64,
    pub first_errors: Vec<String>,
    /// Per fragment: gRPC, the gap since the previous message of the stream (or since the
    /// call, for the first); HTTP, one GET from request to whole body.
    pub fragment_us: Vec<u32>,
    /// Per asset: gRPC, the whole `StreamFragments` call; HTTP, GETs of its fragments in turn.
    pub asset_us: Vec<u32>,
}

fn quantile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

impl Report {
    pub fn secs(&self) -> f64 {
        self.elapsed.as_secs_f64()
    }
    pub fn fragments_per_s(&self) -> f64 {
        self.fragments as f64 / self.secs()
    }
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.secs()
    }
    /// Milliseconds.
    pub fn fragment_ms(&self, q: f64) -> f64 {
        quantile(&self.fragment_us, q)
    }
    /// Milliseconds.
    pub fn asset_ms(&self, q: f64) -> f64 {
        quantile(&self.asset_us, q)
    }

    pub fn table_header() -> &'static str {
        "| run | clients | s | assets | fragments/s | MB/s | frag p50 ms | frag p99 ms | asset p50 ms | asset p99 ms | errors |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    }

    pub fn table_row(&self) -> String {
        format!(
            "| {} | {} | {:.1} | {} | {:.0} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            self.label,
            self.clients,
            self.secs(),
            self.assets,
            self.fragments_per_s(),
            self.mb_per_s(),
            self.fragment_ms(0.5),
            self.fragment_ms(0.99),
            self.asset_ms(0.5),
            self.asset_ms(0.99),
            self.errors
        )
    }

    /// Adds another run of the same kind (the benchmark's interleaved slices).
    pub fn absorb(&mut self, other: Report) {
        self.elapsed += other.elapsed;
        self.assets += other.assets;
        self.fragments += other.fragments;
        self.bytes += other.bytes;
        self.errors += other.errors;
        self.first_errors.extend(other.first_errors);
        self.first_errors.truncate(8);
        self.fragment_us.extend(other.fragment_us);
        self.fragment_us.sort_unstable();
        self.asset_us.extend(other.asset_us);
        self.asset_us.sort_unstable();
    }

    fn merge(&mut self, other: ClientReport) {
        self.assets += other.assets;
        self.fragments += other.fragments;
        self.bytes += other.bytes;
        self.errors += other.errors;
        for e in other.first_errors {
            if self.first_errors.len() < 8 {
                self.first_errors.push(e);
            }
        }
        self.fragment_us.extend(other.fragment_us);
        self.asset_us.extend(other.asset_us);
    }
}

#[derive(Debug, Default)]
struct ClientReport {
    assets: u64,
    fragments: u64,
    bytes: u64,
    errors: u64,
    first_errors: Vec<String>,
    fragment_us: Vec<u32>,
    asset_us: Vec<u32>,
}

impl ClientReport {
    fn error(&mut self, e: String) {
        self.errors += 1;
        if self.first_errors.len() < 4 {
            self.first_errors.push(e);
        }
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// Most errors one client tolerates before it gives up (a dead server should not spin).
const MAX_CLIENT_ERRORS: u64 = 50;

async fn run_clients<F, Fut>(label: &str, load: Load, client: F) -> Report
where
    F: Fn(usize, Instant) -> Fut,
    Fut: std::future::Future<Output = ClientReport> + Send + 'static,
{
    let start = Instant::now();
    let deadline = start + load.duration;
    let tasks: Vec<_> = (0..load.clients).map(|i| tokio::spawn(client(i, deadline))).collect();
    let mut report = Report { label: label.to_string(), clients: load.clients, ..Report::default() };
    for t in tasks {
        match t.await {
            Ok(r) => report.merge(r),
            Err(e) => report.merge(ClientReport { errors: 1, first_errors: vec![e.to_string()], ..Default::default() }),
        }
    }
    report.elapsed = start.elapsed();
    report.fragment_us.sort_unstable();
    report.asset_us.sort_unstable();
    report
}

/// Clients streaming whole assets with `StreamFragments` over gRPC (HTTP/2, TLS).
pub async fn grpc_load(label: &str, addr: SocketAddr, ca_pem: &[u8], assets: &[AssetIds], load: Load) -> Report {
    let assets = Arc::new(assets.to_vec());
    let ca = ca_pem.to_vec();
    run_clients(label, load, move |i, deadline| {
        let (assets, ca) = (assets.clone(), ca.clone());
        async move {
            let mut r = ClientReport::default();
            let builder =
                GrpcClientBuilder::new(format!("https://{addr}")).with_tls(TlsConfig::default().with_ca_cert(ca));
            let mut client = match builder.connect().await {
                Ok(c) => c,
                Err(e) => {
                    r.error(format!("client {i}: connect: {e}"));
                    return r;
                }
            };
            let mut round = 0u64;
            while Instant::now() < deadline && round < load.max_assets_per_client && r.errors < MAX_CLIENT_ERRORS {
                let asset = &assets[(i + round as usize) % assets.len()];
                round += 1;
                if let Err(e) = grpc_asset(client.raw(), asset, &mut r).await {
                    r.error(format!("client {i}, {}: {e}", asset.name));
                }
            }
            r
        }
    })
    .await
}

async fn grpc_asset(
    raw: &mut haagenti_proto::v1::fragment_service_client::FragmentServiceClient<tonic::transport::Channel>,
    asset: &AssetIds,
    r: &mut ClientReport,
) -> Result<(), String> {
    let request = pb::StreamFragmentsRequest { assets: vec![asset.name.clone()], ..Default::default() };
    let start = Instant::now();
    let mut last = start;
    let mut stream = raw.stream_fragments(request).await.map_err(|e| e.to_string())?.into_inner();
    let mut held = vec![false; asset.ids.len()];
    let mut ended = false;
    let (mut fragments, mut bytes, mut gaps) = (0u64, 0u64, Vec::with_capacity(asset.ids.len()));
    while let Some(msg) = stream.message().await.map_err(|e| e.to_string())? {
        match msg.event {
            Some(Event::Fragment(f)) => {
                let now = Instant::now();
                gaps.push(micros(now - last));
                last = now;
                let index = f.index as usize;
                if asset.ids.get(index) != Some(&f.id) {
                    return Err(format!("fragment {index} is not the manifest's"));
                }
                if fragment_id(&f.data) != f.id {
                    return Err(format!("fragment {index}'s bytes do not hash to its id"));
                }
                if std::mem::replace(&mut held[index], true) {
                    return Err(format!("fragment {index} sent twice"));
                }
                fragments += 1;
                bytes += f.data.len() as u64;
            }
            Some(Event::End(_)) => ended = true,
            _ => {}
        }
    }
    if !ended || !held.iter().all(|h| *h) {
        return Err(format!("stream ended with {fragments} of {} fragments", asset.ids.len()));
    }
    r.asset_us.push(micros(start.elapsed()));
    r.fragment_us.extend(gaps);
    r.assets += 1;
    r.fragments += fragments;
    r.bytes += bytes;
    Ok(())
}

type Http1 = hyper::client::conn::http1::SendRequest<Empty<hyper::body::Bytes>>;

async fn http_connect(addr: SocketAddr, tls: Arc<rustls::ClientConfig>) -> Result<Http1, String> {
    let stream = tls_connect(addr, tls).await.map_err(|e| e.to_string())?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Where a fragment is on an HTTP server.
#[derive(Debug, Clone, Copy)]
pub enum Layout {
    /// Our HTTP API: `/fragments/{id}`.
    Api,
    /// The store's files as they are: `/fragments/{id[..2]}/{id}`.
    Files,
}

impl Layout {
    fn path(self, id: &str) -> String {
        match self {
            Layout::Api => format!("/fragments/{id}"),
            Layout::Files => format!("/fragments/{}/{id}", &id[..2]),
        }
    }
}

/// Clients GETting the fragments of whole assets, one after another, over HTTP/1.1
/// keep-alive (TLS): what a browser or CDN does against nginx, or against our HTTP API.
pub async fn http_load(
    label: &str,
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    layout: Layout,
    assets: &[AssetIds],
    load: Load,
) -> Report {
    let assets = Arc::new(assets.to_vec());
    run_clients(label, load, move |i, deadline| {
        let (assets, tls) = (assets.clone(), tls.clone());
        async move {
            let mut r = ClientReport::default();
            let mut sender = None;
            let mut round = 0u64;
            while Instant::now() < deadline && round < load.max_assets_per_client && r.errors < MAX_CLIENT_ERRORS {
                let asset = &assets[(i + round as usize) % assets.len()];
                round += 1;
                if sender.is_none() {
                    match http_connect(addr, tls.clone()).await {
                        Ok(s) => sender = Some(s),
                        Err(e) => {
                            r.error(format!("client {i}: connect: {e}"));
                            continue;
                        }
                    }
                }
                let s = sender.as_mut().expect("connected above");
                if let Err(e) = http_asset(s, layout, asset, &mut r).await {
                    r.error(format!("client {i}, {}: {e}", asset.name));
                    sender = None;
                }
            }
            r
        }
    })
    .await
}

async fn http_asset(sender: &mut Http1, layout: Layout, asset: &AssetIds, r: &mut ClientReport) -> Result<(), String> {
    let start = Instant::now();
    let (mut bytes, mut times) = (0u64, Vec::with_capacity(asset.ids.len()));
    for id in &asset.ids {
        let t = Instant::now();
        sender.ready().await.map_err(|e| e.to_string())?;
        let req = http::Request::get(layout.path(id)).header("host", "127.0.0.1").body(Empty::new()).unwrap();
        let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = res.status();
        let body = res.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        if status != http::StatusCode::OK {
            return Err(format!("GET {id}: {status}"));
        }
        if fragment_id(&body) != *id {
            return Err(format!("GET {id}: the bytes do not hash to the id"));
        }
        times.push(micros(t.elapsed()));
        bytes += body.len() as u64;
    }
    r.asset_us.push(micros(start.elapsed()));
    r.fragment_us.extend(times);
    r.assets += 1;
    r.fragments += asset.ids.len() as u64;
    r.bytes += bytes;
    Ok(())
}

fn wait_for_port(addr: SocketAddr, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}) before listening on {addr}");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {addr} within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts the `haagenti-server` binary serving the directory store `store` with the test
/// PKI's certificate, without the per-client rate limits (all load comes from one address).
pub fn start_server(store: &Path, pki_dir: &Path) -> (Killed, SocketAddr) {
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let child = Command::new(env!("CARGO_BIN_EXE_haagenti-server"))
        .arg("--addr")
        .arg(addr.to_string())
        .arg("--store")
        .arg(store)
        .arg("--cert")
        .arg(pki_dir.join("server.pem"))
        .arg("--key")
        .arg(pki_dir.join("server.key"))
        .args(["--rate", "0", "--max-streams-per-client", "100000", "--max-connections-per-client", "100000"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start haagenti-server");
    let mut child = Killed(child);
    wait_for_port(addr, "haagenti-server", &mut child.0);
    (child, addr)
}

/// nginx from `$HAAGENTI_NGINX`, `/usr/sbin/nginx` or `PATH`.
pub fn find_nginx() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HAAGENTI_NGINX") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("nginx"));
    std::iter::once(PathBuf::from("/usr/sbin/nginx")).chain(on_path).find(|p| p.is_file())
}

/// Starts nginx in the foreground with its own configuration, logs and temp files under
/// `work`, serving the directory store `root` over HTTPS (HTTP/1.1 keep-alive) with the test
/// PKI's certificate, set up as one would for immutable files: sendfile, open-file cache, no
/// access log.
pub fn start_nginx(nginx: &Path, root: &Path, pki_dir: &Path, work: &Path) -> (Killed, SocketAddr) {
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    std::fs::create_dir_all(work.join("temp")).unwrap();
    let w = work.display();
    let conf = format!(
        "worker_processes auto;
daemon off;
pid {w}/nginx.pid;
error_log {w}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {w}/temp/body;
  proxy_temp_path {w}/temp/proxy;
  fastcgi_temp_path {w}/temp/fastcgi;
  uwsgi_temp_path {w}/temp/uwsgi;
  scgi_temp_path {w}/temp/scgi;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  open_file_cache max=10000 inactive=60s;
  types {{ }}
  default_type application/octet-stream;
  server {{
    listen {addr} ssl reuseport;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:1m;
    root {root};
    location /fragments/ {{
      add_header Cache-Control \"public, max-age=31536000, immutable\";
    }}
  }}
}}
",
        cert = pki_dir.join("server.pem").display(),
        key = pki_dir.join("server.key").display(),
        root = root.display(),
    );
    let path = work.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new(nginx)
        .arg("-p")
        .arg(work)
        .arg("-e")
        .arg(work.join("error.log"))
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", nginx.display()));
    let mut child = Killed(child);
    wait_for_port(addr, "nginx", &mut child.0);
    (child, addr)
}
