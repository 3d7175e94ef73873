//! The fragment server's client for web pages and Node: gRPC-web over `fetch`, the client half
//! of adaptive streaming, and previews painted as fragments arrive.
//!
//! The client measures its own transfers (time to the response's headers as latency, bytes
//! over time as throughput) and plans each request with the same policy crate the server
//! uses ([`haagenti_stream`]): the first request of an asset asks only for what a short time
//! at the cautious prior carries, so a preview comes quickly on any link, and later requests
//! grow with the measured throughput. Fragments come as a `StreamFragments` server stream or,
//! where gRPC-web is refused (a CDN, a static host) or asked for, as plain
//! `GET /fragments/{id}` requests that browsers and CDNs cache. Every fragment is checked
//! against its BLAKE3 id and its place in the manifest before it is used.
//!
//! State shared by every call (the throughput estimate, the fragment cache that prefetches
//! fill) lives in this module: wasm is single-threaded, and no borrow of it is held across an
//! `await`.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use haagenti_holo::{Fragment as HoloFragment, PreviewConfig, StreamingDecoder};
use haagenti_proto::grpc_web::{self, Frame, FrameDecoder};
use haagenti_proto::v1::{
    AssetManifest, GetManifestRequest, ListAssetsRequest, ListAssetsResponse, StreamFragmentsRequest,
    StreamFragmentsResponse, asset_kind, stream_end, stream_fragments_response,
};
use haagenti_stream::{AdaptiveStreamManager, AssetCurve, Budget, NetworkConditions, QualityPolicy};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use prost::Message;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::tensor::{frame, set};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** An asset the server holds. */
export interface AssetSummary {
  name: string;
  /** "image" or "tensor". */
  kind: string;
  encoding: string;
  fragmentCount: number;
  totalBytes: number;
}

/** One asset's manifest: its fragments and the quality the encoder measured after each. */
export interface AssetManifest {
  name: string;
  assetId: string;
  encoding: string;
  /** "image" or "tensor". */
  kind: string;
  width?: number;
  height?: number;
  channels?: number;
  dtype?: string;
  shape?: number[];
  fragments: { id: string; index: number; size: number }[];
  curve: QualityPoint[];
  maxError: number;
  /** "psnr_db" for images, "cosine" for tensors. */
  qualityMetric: string;
}

/** Progress of `streamAsset`, after every fragment and at every request. */
export interface StreamProgress {
  asset: string;
  fragmentsLoaded: number;
  totalFragments: number;
  bytesLoaded: number;
  /** The encoder's measured quality for the fragments held (PSNR dB or cosine). */
  quality: number;
  /** The client's throughput estimate, bits per second. */
  bandwidthBps: number;
  /** The last measured time to a response's headers. */
  latencyMs: number;
  /** "grpc-web" or "http". */
  transport: string;
  /** Requests made for this asset so far. */
  requests: number;
  /** Bytes the policy asked for in the current request. */
  plannedBytes: number;
  /** Fragments taken from the cache that prefetching filled. */
  fromCache: number;
}

/** What `streamAsset` reached. */
export interface StreamResult extends StreamProgress {
  /** Every fragment is held. */
  complete: boolean;
  /** Why it stopped: "complete", "quality", "bytes", "deadline". */
  reason: string;
  /** Milliseconds from the call to the first preview (undefined when none was made). */
  firstPreviewMs?: number;
  /** Milliseconds from the first fragment request to the first preview. */
  firstPreviewAfterRequestMs?: number;
  elapsedMs: number;
  /** Assets the server expects this client to ask for next. */
  prefetchHints: string[];
}

/** Limits of one `streamAsset` call. */
export interface StreamBudget {
  /** Stop after this many bytes of fragments. */
  maxBytes?: number;
  /**
   * Time allowed for this asset, in milliseconds: after the first fragment (always fetched, for
   * a preview) only what the time left carries at the measured throughput is asked for.
   */
  maxTimeMs?: number;
  /** Stop once the asset reaches this quality (PSNR dB or cosine). */
  targetQuality?: number;
  /** Stop at a "good enough" quality (32 dB, cosine 0.99) unless targetQuality says otherwise. */
  dataSaver?: boolean;
}

/** Options of `streamAsset`. */
export interface StreamAssetOptions {
  onPreview?: (preview: PreviewFrame & StreamProgress & { values?: Float32Array }) => void;
  onProgress?: (progress: StreamProgress) => void;
  onPrefetchHint?: (assets: string[]) => void;
  budget?: StreamBudget;
  signal?: AbortSignal;
  /** "auto" (gRPC-web, plain GETs where it is refused), "grpc-web" or "http". */
  transport?: string;
  /** Name of the browsing session, for the server's prefetch hints. */
  session?: string;
  /** Fetch the first fragments of hinted assets into the cache after this one (default true). */
  prefetch?: boolean;
  /** Simulate a link of this many bits per second (delays reading; 0: off). */
  throttleBps?: number;
  previewIntervalMs?: number;
  maxPreviewResolution?: number;
  /** Largest asset accepted, in samples (default 2^24). */
  maxSamples?: number;
  /**
   * Reconstruct `spectral` images on WebGPU and draw them onto the canvas given to
   * `enableWebGpu` (previews then carry `gpu: true` and no pixels; copy that canvas with
   * `drawImage`). Other assets, or a failure on the GPU, use the CPU path.
   */
  webgpu?: boolean;
  /** Time the server may leave a request without an answer, or a body without a byte (default 30 000). */
  stallTimeoutMs?: number;
}

/** The client's view of the network and its cache. */
export interface ClientStats {
  bandwidthBps: number;
  latencyMs: number;
  samples: number;
  cachedFragments: number;
  cachedBytes: number;
  /** Assets whose first fragments prefetching put in the cache. */
  prefetched: string[];
  /** Whether gRPC-web was refused and plain GETs are used. */
  preferHttp: boolean;
}
"#;

/// Largest manifest or list answer read (a manifest of 4096 fragments is about 400 KB).
const MAX_UNARY_BYTES: usize = 4 << 20;
/// Time the first request of an asset may take at the planned throughput: with the 1 Mbps
/// prior before anything is measured, about 6 KB, enough for a first preview.
const FIRST_REQUEST_MS: u32 = 150;
/// Time each later request may take at the measured throughput.
const REQUEST_MS: u32 = 1_000;
/// Bytes of fragments the cache keeps (least recently used go first).
const CACHE_BYTES: usize = 64 << 20;
/// Time a prefetch may take at the measured throughput.
const PREFETCH_MS: u32 = 300;
/// Data-saver targets: PSNR for images, cosine for tensors.
const DATA_SAVER_PSNR: f64 = 32.0;
const DATA_SAVER_COSINE: f64 = 0.99;
/// Requests made for one asset at most (each is planned to bring at least one fragment).
const MAX_REQUESTS: u32 = 4_096;
/// Time a server may leave a call without an answer or a body without a byte (30 s unless
/// `stallTimeoutMs` says otherwise).
const STALL_MS: f64 = 30_000.0;
/// Shortest transfer time a throughput sample is given (the clock's grain in browsers).
const MIN_SAMPLE_MS: f64 = 0.5;
/// How long a manifest read by `getManifest` or a prefetch serves `streamAsset` of the same
/// asset, which otherwise asks for it again: a page that shows the manifest, then streams the
/// asset, saves a round trip before its first fragment request (60 ms at 40 ms of latency).
const MANIFEST_REUSE_MS: f64 = 30_000.0;
/// Manifests kept for that.
const MANIFESTS_KEPT: usize = 32;

/// Waits for `promise`, or `ms` milliseconds: `Ok(None)` when the time ran out first.
async fn within(promise: Promise, ms: f64) -> Result<Option<JsValue>, JsValue> {
    // A value nothing else resolves with marks the timer's win.
    let marker = Object::new();
    let m = marker.clone();
    let mut handle = JsValue::UNDEFINED;
    let timer = Promise::new(&mut |resolve, _| {
        let bound: Function = resolve.bind1(&JsValue::NULL, &m).unchecked_into();
        handle = set_timeout(&bound, ms);
    });
    let winner = JsFuture::from(Promise::race(&Array::of2(&promise, &timer))).await;
    // One timer a read: cleared at once, so none outlives its read (in Node a pending timer
    // also keeps the process alive).
    clear_timeout(&handle);
    let winner = winner?;
    Ok(if winner == JsValue::from(marker) { None } else { Some(winner) })
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &web_sys::Request) -> Promise;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// Fragments by id, bounded in bytes.
#[derive(Default)]
struct Cache {
    map: HashMap<String, Vec<u8>>,
    order: VecDeque<String>,
    bytes: usize,
}

impl Cache {
    fn get(&self, id: &str) -> Option<&[u8]> {
        self.map.get(id).map(Vec::as_slice)
    }

    fn put(&mut self, id: &str, data: &[u8]) {
        if self.map.contains_key(id) || data.len() > CACHE_BYTES {
            return;
        }
        while self.bytes + data.len() > CACHE_BYTES {
            let Some(old) = self.order.pop_front() else { break };
            if let Some(v) = self.map.remove(&old) {
                self.bytes -= v.len();
            }
        }
        self.bytes += data.len();
        self.map.insert(id.to_string(), data.to_vec());
        self.order.push_back(id.to_string());
    }
}

#[derive(Default)]
struct State {
    policy: AdaptiveStreamManager,
    latency_ms: f64,
    cache: Cache,
    prefetched: Vec<String>,
    prefer_http: bool,
    /// Manifests read lately: (server, asset name, when, the manifest), newest last.
    manifests: VecDeque<(String, String, f64, AssetManifest)>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        policy: AdaptiveStreamManager::new(QualityPolicy::default()),
        ..State::default()
    });
}

fn with_state<T>(f: impl FnOnce(&mut State) -> T) -> T {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

fn err(message: impl AsRef<str>) -> JsError {
    JsError::new(message.as_ref())
}

fn js_message(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "JavaScript error".to_string())
}

fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// Why a call failed: whether plain GETs might still work (the gRPC-web endpoint was refused
/// or unreachable), or not (bad data, a gRPC status, an abort).
enum CallError {
    Refused(String),
    Fatal(String),
}

impl From<CallError> for JsError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Refused(m) | CallError::Fatal(m) => JsError::new(&m),
        }
    }
}

fn check_abort(signal: Option<&web_sys::AbortSignal>) -> Result<(), CallError> {
    match signal {
        Some(s) if s.aborted() => Err(CallError::Fatal("haagenti: the stream was aborted".into())),
        _ => Ok(()),
    }
}

async fn send(request: &web_sys::Request, what: &str, stall_ms: f64) -> Result<web_sys::Response, CallError> {
    let response = within(global_fetch(request), stall_ms)
        .await
        .map_err(|e| CallError::Refused(format!("{what}: {}", js_message(&e))))?
        .ok_or_else(|| CallError::Refused(format!("{what}: no answer in {:.0} ms", stall_ms)))?;
    Ok(response.unchecked_into())
}

fn grpc_request(url: &str, body: &[u8], signal: Option<&web_sys::AbortSignal>) -> Result<web_sys::Request, CallError> {
    let fatal = |e: JsValue| CallError::Fatal(js_message(&e));
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&Uint8Array::from(body));
    let headers = web_sys::Headers::new().map_err(fatal)?;
    headers.set("content-type", "application/grpc-web+proto").map_err(fatal)?;
    headers.set("x-grpc-web", "1").map_err(fatal)?;
    init.set_headers(&headers);
    init.set_signal(signal);
    web_sys::Request::new_with_str_and_init(url, &init).map_err(fatal)
}

/// Checks a gRPC-web response's HTTP status and, for trailers-only answers, its `grpc-status`.
fn check_grpc_response(response: &web_sys::Response, what: &str) -> Result<(), CallError> {
    if !response.ok() {
        return Err(CallError::Refused(format!("{what}: HTTP {}", response.status())));
    }
    let content_type = response.headers().get("content-type").ok().flatten().unwrap_or_default();
    if !content_type.starts_with("application/grpc-web") {
        return Err(CallError::Refused(format!("{what}: not a gRPC-web answer (content-type {content_type:?})")));
    }
    if let Ok(Some(status)) = response.headers().get("grpc-status")
        && status != "0"
    {
        let message = response.headers().get("grpc-message").ok().flatten().unwrap_or_default();
        return Err(CallError::Fatal(format!("{what}: gRPC status {status}: {message}")));
    }
    Ok(())
}

/// Reads a response body piece by piece, with a bound on the whole.
struct Body {
    reader: web_sys::ReadableStreamDefaultReader,
    stall_ms: f64,
}

impl Body {
    fn of(response: &web_sys::Response, what: &str, stall_ms: f64) -> Result<Body, CallError> {
        let stream = response.body().ok_or_else(|| CallError::Fatal(format!("{what}: the answer has no body")))?;
        Ok(Body { reader: stream.get_reader().unchecked_into(), stall_ms })
    }

    /// The next piece, or `None` at the end; an error when none comes within the stall time.
    async fn next(&self, what: &str) -> Result<Option<Uint8Array>, CallError> {
        let result = within(self.reader.read(), self.stall_ms)
            .await
            .map_err(|e| CallError::Fatal(format!("{what}: {}", js_message(&e))))?;
        let Some(result) = result else {
            self.cancel();
            return Err(CallError::Fatal(format!("{what}: the server sent nothing for {:.0} ms", self.stall_ms)));
        };
        let done = Reflect::get(&result, &"done".into()).map(|v| v.is_truthy()).unwrap_or(true);
        if done {
            return Ok(None);
        }
        let value = Reflect::get(&result, &"value".into()).unwrap_or(JsValue::UNDEFINED);
        Ok(Some(value.dyn_into::<Uint8Array>().map_err(|_| CallError::Fatal(format!("{what}: body is not bytes")))?))
    }

    fn cancel(&self) {
        // Cancelling a reader that already ended resolves at once; nothing to wait for.
        let _ = self.reader.cancel();
    }
}

/// A unary gRPC-web call.
async fn unary<Req: Message, Resp: Message + Default>(
    server: &str,
    method: &str,
    request: &Req,
    signal: Option<&web_sys::AbortSignal>,
    stall_ms: f64,
) -> Result<Resp, CallError> {
    let url = format!("{}/haagenti.v1.FragmentService/{method}", base(server));
    let what = format!("{method} at {}", base(server));
    let response = send(&grpc_request(&url, &grpc_web::encode_request(request), signal)?, &what, stall_ms).await?;
    check_grpc_response(&response, &what)?;
    let body = Body::of(&response, &what, stall_ms)?;
    let mut bytes = Vec::new();
    while let Some(piece) = body.next(&what).await? {
        if bytes.len() + piece.length() as usize > MAX_UNARY_BYTES {
            body.cancel();
            return Err(CallError::Fatal(format!("{what}: answer larger than {MAX_UNARY_BYTES} bytes")));
        }
        let start = bytes.len();
        bytes.resize(start + piece.length() as usize, 0);
        piece.copy_to(&mut bytes[start..]);
    }
    grpc_web::decode_unary_response(&bytes).map_err(|e| CallError::Fatal(format!("{what}: {e}")))
}

fn kind_name(kind: &Option<haagenti_proto::v1::AssetKind>) -> &'static str {
    match kind.as_ref().and_then(|k| k.kind.as_ref()) {
        Some(asset_kind::Kind::Image(_)) => "image",
        Some(asset_kind::Kind::Tensor(_)) => "tensor",
        None => "unknown",
    }
}

/// The assets on the server whose names start with `prefix`, every page of them (at most
/// 10 000).
#[wasm_bindgen(js_name = listAssets, unchecked_return_type = "AssetSummary[]")]
pub async fn list_assets(server_url: &str, prefix: Option<String>) -> Result<JsValue, JsError> {
    let out = Array::new();
    let mut token = String::new();
    for _ in 0..10 {
        let request =
            ListAssetsRequest { prefix: prefix.clone().unwrap_or_default(), page_size: 1000, page_token: token };
        let page: ListAssetsResponse = unary(server_url, "ListAssets", &request, None, STALL_MS).await?;
        for a in &page.assets {
            let o = Object::new();
            set(&o, "name", a.name.as_str());
            set(&o, "kind", kind_name(&a.kind));
            set(&o, "encoding", a.encoding.as_str());
            set(&o, "fragmentCount", a.fragment_count);
            set(&o, "totalBytes", a.total_bytes as f64);
            out.push(&o);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    Ok(out.into())
}

/// A manifest checked for what the client relies on: fragments numbered 0..n in order.
struct Manifest {
    proto: AssetManifest,
    curve: AssetCurve,
}

impl Manifest {
    fn new(proto: AssetManifest) -> Result<Manifest, CallError> {
        let mut proto = proto;
        proto.fragments.sort_by_key(|f| f.index);
        if proto.fragments.is_empty() || proto.fragments.len() > usize::from(u16::MAX) {
            return Err(CallError::Fatal(format!(
                "manifest of {:?} lists {} fragments",
                proto.name,
                proto.fragments.len()
            )));
        }
        for (i, f) in proto.fragments.iter().enumerate() {
            if f.index as usize != i || f.id.len() != 64 || !f.id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(CallError::Fatal(format!("manifest of {:?}: bad fragment entry {i}", proto.name)));
            }
        }
        let mut points = proto.curve.clone();
        points.sort_by_key(|p| p.fragments);
        let sizes: Vec<u64> = proto.fragments.iter().map(|f| f.size).collect();
        let quality: Vec<f64> = (1..=sizes.len())
            .map(|k| points.iter().find(|p| p.fragments as usize == k).map_or(f64::NAN, |p| p.quality))
            .collect();
        let curve = AssetCurve::new(proto.name.clone(), &sizes, &quality);
        Ok(Manifest { proto, curve })
    }

    fn len(&self) -> usize {
        self.proto.fragments.len()
    }

    fn to_js(&self) -> Object {
        let m = &self.proto;
        let o = Object::new();
        set(&o, "name", m.name.as_str());
        set(&o, "assetId", m.asset_id.as_str());
        set(&o, "encoding", m.encoding.as_str());
        set(&o, "kind", kind_name(&m.kind));
        match m.kind.as_ref().and_then(|k| k.kind.as_ref()) {
            Some(asset_kind::Kind::Image(i)) => {
                set(&o, "width", i.width);
                set(&o, "height", i.height);
                set(&o, "channels", i.channels);
            }
            Some(asset_kind::Kind::Tensor(t)) => {
                set(&o, "dtype", t.dtype.as_str());
                set(&o, "shape", t.shape.iter().map(|&d| JsValue::from_f64(d as f64)).collect::<Array>());
            }
            None => {}
        }
        let fragments: Array = m
            .fragments
            .iter()
            .map(|f| {
                let e = Object::new();
                set(&e, "id", f.id.as_str());
                set(&e, "index", f.index);
                set(&e, "size", f.size as f64);
                JsValue::from(e)
            })
            .collect();
        set(&o, "fragments", fragments);
        let curve: Array = m
            .curve
            .iter()
            .map(|p| {
                let e = Object::new();
                set(&e, "fragments", p.fragments);
                set(&e, "bytes", p.bytes as f64);
                set(&e, "quality", p.quality);
                set(&e, "relativeL2", p.relative_l2);
                JsValue::from(e)
            })
            .collect();
        set(&o, "curve", curve);
        set(&o, "maxError", m.max_error);
        set(&o, "qualityMetric", m.quality_metric.as_str());
        o
    }
}

/// Reads `name`'s manifest from the server, and keeps it for [`reused_manifest`].
async fn manifest(
    server: &str,
    name: &str,
    signal: Option<&web_sys::AbortSignal>,
    stall_ms: f64,
) -> Result<Manifest, CallError> {
    let proto: AssetManifest =
        unary(server, "GetManifest", &GetManifestRequest { asset: name.to_string() }, signal, stall_ms).await?;
    let manifest = Manifest::new(proto)?;
    with_state(|s| {
        forget(&mut s.manifests, server, name);
        if s.manifests.len() == MANIFESTS_KEPT {
            s.manifests.pop_front();
        }
        s.manifests.push_back((base(server).to_string(), name.to_string(), performance_now(), manifest.proto.clone()));
    });
    Ok(manifest)
}

/// `name`'s manifest as read within the last [`MANIFEST_REUSE_MS`], else from the server.
async fn reused_manifest(
    server: &str,
    name: &str,
    signal: Option<&web_sys::AbortSignal>,
    stall_ms: f64,
) -> Result<Manifest, CallError> {
    let now = performance_now();
    let kept = with_state(|s| {
        s.manifests
            .iter()
            .find(|(at, n, when, _)| at == base(server) && n == name && now - when < MANIFEST_REUSE_MS)
            .map(|(.., m)| m.clone())
    });
    match kept {
        Some(proto) => Manifest::new(proto),
        None => manifest(server, name, signal, stall_ms).await,
    }
}

fn forget(manifests: &mut VecDeque<(String, String, f64, AssetManifest)>, server: &str, name: &str) {
    manifests.retain(|(at, n, ..)| !(at == base(server) && n == name));
}

/// One asset's manifest.
#[wasm_bindgen(js_name = getManifest, unchecked_return_type = "AssetManifest")]
pub async fn get_manifest(server_url: &str, name: &str) -> Result<JsValue, JsError> {
    Ok(manifest(server_url, name, None, STALL_MS).await?.to_js().into())
}

/// The client's throughput estimate, latency and cache.
#[wasm_bindgen(js_name = clientStats, unchecked_return_type = "ClientStats")]
pub fn client_stats() -> JsValue {
    with_state(|s| {
        let o = Object::new();
        set(&o, "bandwidthBps", s.policy.estimated_bps());
        set(&o, "latencyMs", s.latency_ms);
        set(&o, "samples", s.policy.throughput().samples() as f64);
        set(&o, "cachedFragments", s.cache.map.len() as f64);
        set(&o, "cachedBytes", s.cache.bytes as f64);
        set(&o, "prefetched", s.prefetched.iter().map(|n| JsValue::from_str(n)).collect::<Array>());
        set(&o, "preferHttp", s.prefer_http);
        o.into()
    })
}

/// Forgets the measured network, the cache and the transport choice (for tests and for a
/// page that knows its network changed).
#[wasm_bindgen(js_name = resetClient)]
pub fn reset_client() {
    with_state(|s| *s = State { policy: AdaptiveStreamManager::new(QualityPolicy::default()), ..State::default() });
}

fn record(bytes: u64, elapsed_ms: f64, latency_ms: f64) {
    with_state(|s| {
        if latency_ms.is_finite() && latency_ms >= 0.0 {
            s.latency_ms = latency_ms;
            let bps = s.policy.estimated_bps();
            s.policy.update_network_conditions(NetworkConditions { bandwidth_bps: bps, latency_ms, packet_loss: 0.0 });
        }
        if bytes > 0 && elapsed_ms > 0.0 {
            s.policy.record_transfer(bytes, elapsed_ms);
        }
    });
}

async fn sleep(ms: f64) {
    let promise = Promise::new(&mut |resolve, _| {
        let _ = set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(promise).await;
}

fn opt<T>(options: &JsValue, key: &str, f: impl FnOnce(JsValue) -> Option<T>) -> Option<T> {
    if options.is_undefined() || options.is_null() {
        return None;
    }
    Reflect::get(options, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined() && !v.is_null()).and_then(f)
}

#[derive(Clone, Copy, PartialEq)]
enum Transport {
    Auto,
    GrpcWeb,
    Http,
}

struct Options {
    on_preview: Option<Function>,
    on_progress: Option<Function>,
    on_hint: Option<Function>,
    max_bytes: Option<u64>,
    max_time_ms: Option<f64>,
    target_quality: Option<f64>,
    data_saver: bool,
    signal: Option<web_sys::AbortSignal>,
    transport: Transport,
    session: String,
    prefetch: bool,
    throttle_bps: f64,
    preview: PreviewConfig,
    max_samples: u64,
    stall_ms: f64,
    /// Previews of spectral images on WebGPU (the browser build only).
    #[cfg_attr(not(all(feature = "webgpu", target_arch = "wasm32")), allow(dead_code))]
    webgpu: bool,
}

impl Options {
    fn parse(o: &JsValue) -> Result<Options, JsError> {
        let func = |key: &str| opt(o, key, |v| v.dyn_into::<Function>().ok());
        let num = |from: &JsValue, key: &str| opt(from, key, |v| v.as_f64()).filter(|v| v.is_finite() && *v >= 0.0);
        let budget = opt(o, "budget", Some).unwrap_or(JsValue::UNDEFINED);
        let transport = match opt(o, "transport", |v| v.as_string()).as_deref() {
            None | Some("auto") => Transport::Auto,
            Some("grpc-web") => Transport::GrpcWeb,
            Some("http") => Transport::Http,
            Some(other) => return Err(err(format!("unknown transport {other:?} (auto, grpc-web or http)"))),
        };
        let signal = match opt(o, "signal", Some) {
            Some(v) => Some(v.dyn_into::<web_sys::AbortSignal>().map_err(|_| err("signal must be an AbortSignal"))?),
            None => None,
        };
        Ok(Options {
            on_preview: func("onPreview"),
            on_progress: func("onProgress"),
            on_hint: func("onPrefetchHint"),
            max_bytes: num(&budget, "maxBytes").map(|v| v as u64),
            max_time_ms: num(&budget, "maxTimeMs"),
            target_quality: opt(&budget, "targetQuality", |v| v.as_f64()).filter(|v| v.is_finite()),
            data_saver: opt(&budget, "dataSaver", |v| Some(v.is_truthy())).unwrap_or(false),
            signal,
            transport,
            session: opt(o, "session", |v| v.as_string()).unwrap_or_default(),
            prefetch: opt(o, "prefetch", |v| Some(v.is_truthy())).unwrap_or(true),
            throttle_bps: num(o, "throttleBps").unwrap_or(0.0),
            preview: PreviewConfig {
                preview_interval_ms: num(o, "previewIntervalMs").unwrap_or(0.0) as u64,
                min_quality: 0.0,
                max_preview_resolution: num(o, "maxPreviewResolution").map_or(512, |v| v.clamp(1.0, 16384.0) as u32),
            },
            max_samples: num(o, "maxSamples").map_or(1 << 24, |v| v as u64),
            stall_ms: num(o, "stallTimeoutMs").filter(|&v| v > 0.0).unwrap_or(STALL_MS),
            webgpu: opt(o, "webgpu", |v| Some(v.is_truthy())).unwrap_or(false),
        })
    }
}

/// One asset being streamed: its manifest, decoder and counters.
struct Session<'a> {
    server: &'a str,
    name: &'a str,
    options: &'a Options,
    manifest: Manifest,
    decoder: StreamingDecoder,
    /// `held[i]`: fragment `i` has been pushed into the decoder.
    held: Vec<bool>,
    bytes: u64,
    from_cache: u32,
    requests: u32,
    planned: u64,
    transport: Transport,
    started: f64,
    first_request: Option<f64>,
    first_preview: Option<f64>,
    hints: Vec<String>,
    /// This session's number: the GPU keeps one image's coefficients for one session.
    #[cfg_attr(not(all(feature = "webgpu", target_arch = "wasm32")), allow(dead_code))]
    serial: u64,
}

/// Sessions started so far (their `serial`s).
static SESSIONS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

impl Session<'_> {
    fn count(&self) -> usize {
        self.held.iter().filter(|&&h| h).count()
    }

    /// Fragments held as a prefix in index order (what the curve's quality is measured for).
    fn prefix(&self) -> usize {
        self.held.iter().take_while(|&&h| h).count()
    }

    fn quality(&self) -> f64 {
        let k = self.prefix();
        if k == 0 {
            0.0
        } else {
            self.manifest.proto.curve.iter().find(|p| p.fragments as usize == k).map_or(0.0, |p| p.quality)
        }
    }

    fn transport_name(&self) -> &'static str {
        if self.transport == Transport::Http { "http" } else { "grpc-web" }
    }

    fn progress(&self) -> Object {
        let o = Object::new();
        let (bps, latency) = with_state(|s| (s.policy.estimated_bps(), s.latency_ms));
        set(&o, "asset", self.name);
        set(&o, "fragmentsLoaded", self.count() as f64);
        set(&o, "totalFragments", self.manifest.len() as f64);
        set(&o, "bytesLoaded", self.bytes as f64);
        set(&o, "quality", self.quality());
        set(&o, "bandwidthBps", bps);
        set(&o, "latencyMs", latency);
        set(&o, "transport", self.transport_name());
        set(&o, "requests", self.requests);
        set(&o, "plannedBytes", self.planned as f64);
        set(&o, "fromCache", self.from_cache);
        o
    }

    fn report(&self) {
        if let Some(f) = &self.options.on_progress {
            // A throwing callback is the page's bug; the stream goes on.
            let _ = f.call1(&JsValue::NULL, &self.progress());
        }
    }

    /// Verifies a fragment against the manifest and its id, then decodes it and hands the
    /// preview to the page.
    fn accept(&mut self, id: &str, data: &[u8], cached: bool) -> Result<(), CallError> {
        let Some(index) = self.manifest.proto.fragments.iter().position(|f| f.id == id) else {
            return Err(CallError::Fatal(format!("{}: fragment {id} is not in the manifest", self.name)));
        };
        if HoloFragment::id(data) != id {
            return Err(CallError::Fatal(format!("{}: fragment {index} does not match its id {id}", self.name)));
        }
        if self.held[index] {
            return Ok(());
        }
        let now = performance_now();
        let at = (now - self.started).max(0.0) as u64;
        let fatal = |e: haagenti_holo::HoloError| CallError::Fatal(format!("{}: fragment {index}: {e}", self.name));
        #[cfg(all(feature = "webgpu", target_arch = "wasm32"))]
        if self.options.webgpu && crate::webgpu::webgpu_enabled() {
            let (due, update) = self.decoder.push_due_spectral(data, at).map_err(fatal)?;
            let drawn = crate::webgpu::update_and_draw(self.serial, self.decoder.decoder(), update.as_ref(), due);
            if due && let Some(Ok((width, height))) = drawn {
                self.held[index] = true;
                self.bytes += data.len() as u64;
                with_state(|s| s.cache.put(id, data));
                self.from_cache += u32::from(cached);
                if self.first_preview.is_none() {
                    self.first_preview = Some(performance_now());
                }
                if let Some(f) = &self.options.on_preview {
                    let d = self.decoder.decoder();
                    let o = Object::new();
                    set(&o, "width", width);
                    set(&o, "height", height);
                    set(&o, "channels", 4);
                    set(&o, "quality", d.expected_quality().unwrap_or(0.0));
                    set(&o, "bytesProcessed", d.bytes_received() as f64);
                    set(&o, "fragments", d.received_count() as f64);
                    set(&o, "gpu", true);
                    let _ = Object::assign(&o, &self.progress());
                    let _ = f.call1(&JsValue::NULL, &o);
                }
                self.report();
                return Ok(());
            }
            // Not a spectral image, or the GPU failed: the CPU makes this preview.
            let preview = if due { Some(self.decoder.preview().map_err(fatal)?) } else { None };
            return self.accepted(index, id, data, cached, preview);
        }
        let preview = self.decoder.push(data, at).map_err(fatal)?;
        self.accepted(index, id, data, cached, preview)
    }

    /// Counts a fragment pushed into the decoder and hands its CPU preview (if any) to the page.
    fn accepted(
        &mut self,
        index: usize,
        id: &str,
        data: &[u8],
        cached: bool,
        preview: Option<haagenti_holo::PreviewFrame>,
    ) -> Result<(), CallError> {
        self.held[index] = true;
        self.bytes += data.len() as u64;
        with_state(|s| s.cache.put(id, data));
        if cached {
            self.from_cache += 1;
        }
        if let Some(p) = preview {
            if self.first_preview.is_none() {
                self.first_preview = Some(performance_now());
            }
            if let Some(f) = &self.options.on_preview {
                let o: Object = frame(&p);
                let progress = self.progress();
                // Copying fresh properties onto a plain object cannot fail.
                let _ = Object::assign(&o, &progress);
                if kind_name(&self.manifest.proto.kind) == "tensor"
                    && let Ok(haagenti_holo::Reconstruction::Tensor { values, .. }) =
                        self.decoder.decoder().reconstruct()
                {
                    set(&o, "values", js_sys::Float32Array::from(values.as_slice()));
                }
                let _ = f.call1(&JsValue::NULL, &o);
            }
        }
        self.report();
        Ok(())
    }

    /// Sleeps as a link of `throttle_bps` would have taken for `bytes` since `since`.
    async fn throttle(&self, bytes: u64, since: f64) {
        let bps = self.options.throttle_bps;
        if bps > 0.0 {
            let due = since + bytes as f64 * 8000.0 / bps;
            let now = performance_now();
            if due > now {
                sleep(due - now).await;
            }
        }
    }

    fn target(&self) -> Option<f64> {
        let tensor = kind_name(&self.manifest.proto.kind) == "tensor";
        self.options.target_quality.or(self.options.data_saver.then_some(if tensor {
            DATA_SAVER_COSINE
        } else {
            DATA_SAVER_PSNR
        }))
    }

    /// The fragments to ask for next, by the policy: none when done.
    fn plan(&self) -> Vec<usize> {
        let round = if self.requests == 0 { FIRST_REQUEST_MS } else { REQUEST_MS };
        let mut max_bytes = self.options.max_bytes.map(|m| m.saturating_sub(self.bytes));
        let left = self.options.max_time_ms.map(|d| (d - (performance_now() - self.started)).max(0.0));
        // The first request fits the deadline too, and still brings one fragment at least.
        let mut max_time_ms = Some(left.map_or(round, |l| (l as u32).clamp(1, round)));
        if let Some(deadline) = self.options.max_time_ms
            && self.requests > 0
        {
            // After the first preview a deadline is planned exactly: only what the time left
            // carries at the measured throughput, no fragment beyond it.
            let left = (deadline - (performance_now() - self.started)).max(0.0).min(f64::from(round));
            let fits = with_state(|s| s.policy.bytes_in(left));
            max_bytes = Some(max_bytes.map_or(fits, |m| m.min(fits)));
            max_time_ms = None;
        }
        let budget = Budget { max_bytes, max_time_ms, target_quality: self.target() };
        // The policy plans prefixes; a fragment held out of order is skipped, not re-sent.
        let picks =
            with_state(|s| s.policy.schedule(core::slice::from_ref(&self.manifest.curve), &[self.prefix()], &budget));
        picks.iter().map(|p| usize::from(p.index)).filter(|&i| i < self.held.len() && !self.held[i]).collect()
    }

    /// Asks the server's stream for `wanted`; returns whether the server says nothing is left.
    async fn stream_round(&mut self, wanted: &[usize]) -> Result<bool, CallError> {
        let planned: u64 = wanted.iter().map(|&i| self.manifest.proto.fragments[i].size).sum();
        let (bps, latency) = with_state(|s| (s.policy.estimated_bps(), s.latency_ms));
        let request = StreamFragmentsRequest {
            assets: vec![self.name.to_string()],
            have: self
                .manifest
                .proto
                .fragments
                .iter()
                .filter(|f| self.held[f.index as usize])
                .map(|f| f.id.clone())
                .collect(),
            network: Some(haagenti_proto::v1::NetworkConditions {
                bandwidth_bps: bps,
                latency_ms: latency,
                packet_loss: 0.0,
            }),
            max_bytes: planned.max(1),
            max_time_ms: 0,
            target_quality: self.target().unwrap_or(0.0),
            session: self.options.session.clone(),
        };
        let url = format!("{}/haagenti.v1.FragmentService/StreamFragments", base(self.server));
        let what = format!("StreamFragments at {}", base(self.server));
        let signal = self.options.signal.as_ref();
        let sent = performance_now();
        let stall = self.options.stall_ms;
        let response = send(&grpc_request(&url, &grpc_web::encode_request(&request), signal)?, &what, stall).await?;
        check_grpc_response(&response, &what)?;
        let latency = performance_now() - sent;
        let body = Body::of(&response, &what, stall)?;
        let mut frames = FrameDecoder::new();
        let mut received = 0u64;
        // The throughput sample: the bytes that came before this side first stopped reading to
        // decode, over the time from the headers to then. Later bytes may have waited on the
        // decoder, so their timing says nothing about the network.
        let mut sample: Option<(u64, f64)> = None;
        let mut nothing_left = false;
        let result = async {
            while let Some(piece) = body.next(&what).await? {
                received += u64::from(piece.length());
                self.throttle(received, sent).await;
                frames.push(&piece.to_vec());
                while let Some(frame) = frames.next_frame().map_err(|e| CallError::Fatal(format!("{what}: {e}")))? {
                    let Frame::Message(bytes) = frame else { continue };
                    let event = StreamFragmentsResponse::decode(bytes.as_slice())
                        .map_err(|e| CallError::Fatal(format!("{what}: bad message: {e}")))?;
                    match event.event {
                        Some(stream_fragments_response::Event::Fragment(f)) => {
                            if f.asset != self.name {
                                return Err(CallError::Fatal(format!(
                                    "{what}: fragment of another asset {:?}",
                                    f.asset
                                )));
                            }
                            sample.get_or_insert((received, performance_now()));
                            self.accept(&f.id, &f.data, false)?;
                        }
                        Some(stream_fragments_response::Event::Prefetch(h)) => {
                            if let Some(f) = &self.options.on_hint {
                                let names: Array = h.assets.iter().map(|n| JsValue::from_str(n)).collect();
                                let _ = f.call1(&JsValue::NULL, &names);
                            }
                            self.hints = h.assets;
                        }
                        Some(stream_fragments_response::Event::End(end)) => {
                            nothing_left = matches!(
                                stream_end::Reason::try_from(end.reason),
                                Ok(stream_end::Reason::Complete | stream_end::Reason::QualityReached)
                            );
                        }
                        None => {}
                    }
                }
                check_abort(signal)?;
            }
            frames.finish().map_err(|e| CallError::Fatal(format!("{what}: {e}")))?;
            if !frames.ended() {
                return Err(CallError::Fatal(format!("{what}: the stream ended without a status")));
            }
            Ok(())
        }
        .await;
        if result.is_err() {
            body.cancel();
        }
        let (bytes, at) = sample.unwrap_or((received, performance_now()));
        record(bytes, (at - sent - latency).max(MIN_SAMPLE_MS), latency);
        result.map(|()| nothing_left)
    }

    /// Fetches `wanted` as plain GETs, all at once.
    async fn http_round(&mut self, wanted: &[usize]) -> Result<(), CallError> {
        let sent = performance_now();
        let mut pending = Vec::new();
        for &i in wanted {
            let id = self.manifest.proto.fragments[i].id.clone();
            pending.push((
                id.clone(),
                fetch_fragment(self.server, &id, self.options.signal.as_ref(), self.options.stall_ms),
            ));
        }
        let mut received = 0u64;
        let mut sample = None;
        for (id, future) in pending {
            let data = future.await?;
            received += data.len() as u64;
            self.throttle(received, sent).await;
            // As for streams: only what came before the first decode is timed (here with the
            // round trip in it, which makes the sample cautious).
            sample.get_or_insert((received, performance_now() - sent));
            self.accept(&id, &data, false)?;
        }
        if let Some((bytes, ms)) = sample {
            record(bytes, ms.max(MIN_SAMPLE_MS), f64::NAN);
        }
        Ok(())
    }
}

/// Starts a GET of one fragment (the request goes out now) and returns its bytes when awaited.
fn fetch_fragment(
    server: &str,
    id: &str,
    signal: Option<&web_sys::AbortSignal>,
    stall_ms: f64,
) -> impl Future<Output = Result<Vec<u8>, CallError>> + use<> {
    let url = format!("{}/fragments/{id}", base(server));
    let init = web_sys::RequestInit::new();
    init.set_method("GET");
    init.set_signal(signal);
    let request = web_sys::Request::new_with_str_and_init(&url, &init);
    let started = request.as_ref().ok().map(global_fetch);
    async move {
        let fetched = started.ok_or_else(|| CallError::Fatal(format!("bad fragment URL {url}")))?;
        let response: web_sys::Response = within(fetched, stall_ms)
            .await
            .map_err(|e| CallError::Fatal(format!("GET {url}: {}", js_message(&e))))?
            .ok_or_else(|| CallError::Fatal(format!("GET {url}: no answer in {stall_ms:.0} ms")))?
            .unchecked_into();
        if !response.ok() {
            return Err(CallError::Fatal(format!("GET {url}: HTTP {}", response.status())));
        }
        let body = Body::of(&response, &url, stall_ms)?;
        let mut bytes = Vec::new();
        while let Some(piece) = body.next(&url).await? {
            if bytes.len() + piece.length() as usize > grpc_web::MAX_FRAME_LEN {
                body.cancel();
                return Err(CallError::Fatal(format!(
                    "GET {url}: fragment larger than {} bytes",
                    grpc_web::MAX_FRAME_LEN
                )));
            }
            let start = bytes.len();
            bytes.resize(start + piece.length() as usize, 0);
            piece.copy_to(&mut bytes[start..]);
        }
        Ok(bytes)
    }
}

/// Streams one asset from the fragment server at `serverUrl`, painting previews through
/// `options.onPreview` as fragments arrive, until the budget, the target quality or the
/// whole asset is reached. Resolves to what was reached; rejects on a bad server answer, a
/// fragment that does not match its id, or an abort. A manifest that `getManifest` or a
/// prefetch read in the last 30 s is used as it is, without asking the server again.
#[wasm_bindgen(js_name = streamAsset, unchecked_return_type = "StreamResult")]
pub async fn stream_asset(
    server_url: String,
    name: String,
    #[wasm_bindgen(unchecked_param_type = "StreamAssetOptions | undefined")] options: JsValue,
) -> Result<JsValue, JsError> {
    let result = stream(&server_url, &name, &options).await;
    if result.is_err() {
        // The asset may have changed since its manifest was read: the next call asks again.
        with_state(|s| forget(&mut s.manifests, &server_url, &name));
    }
    result
}

async fn stream(server_url: &str, name: &str, options: &JsValue) -> Result<JsValue, JsError> {
    let (server_url, name) = (server_url.to_string(), name.to_string());
    let options = Options::parse(options)?;
    let started = performance_now();
    let signal = options.signal.as_ref();
    check_abort(signal)?;
    let manifest = reused_manifest(&server_url, &name, signal, options.stall_ms).await?;
    let preview = options.preview;
    let held = vec![false; manifest.len()];
    let transport = match options.transport {
        Transport::Auto if with_state(|s| s.prefer_http) => Transport::Http,
        t => t,
    };
    let mut session = Session {
        server: &server_url,
        name: &name,
        options: &options,
        manifest,
        decoder: StreamingDecoder::with_preview(preview).with_max_samples(options.max_samples),
        held,
        bytes: 0,
        from_cache: 0,
        requests: 0,
        planned: 0,
        transport,
        started,
        first_request: None,
        first_preview: None,
        hints: Vec::new(),
        serial: SESSIONS.fetch_add(1, core::sync::atomic::Ordering::Relaxed),
    };

    // Fragments already here (prefetched, or from an earlier call) first: a preview at once.
    let cached: Vec<(String, Vec<u8>)> = with_state(|s| {
        session
            .manifest
            .proto
            .fragments
            .iter()
            .filter_map(|f| s.cache.get(&f.id).map(|d| (f.id.clone(), d.to_vec())))
            .collect()
    });
    for (id, data) in cached {
        session.accept(&id, &data, true)?;
    }

    let reason = loop {
        check_abort(signal)?;
        if session.count() == session.manifest.len() {
            break "complete";
        }
        if session.target().is_some_and(|t| session.quality() >= t) {
            break "quality";
        }
        if options.max_bytes.is_some_and(|m| session.bytes >= m) {
            break "bytes";
        }
        if options.max_time_ms.is_some_and(|t| performance_now() - started >= t) || session.requests >= MAX_REQUESTS {
            break "deadline";
        }
        let wanted = session.plan();
        if wanted.is_empty() {
            // Nothing fits: the deadline, the byte budget or the target stops here.
            break if options.max_time_ms.is_some() && session.requests > 0 {
                "deadline"
            } else if options.max_bytes.is_some() {
                "bytes"
            } else {
                "quality"
            };
        }
        session.planned = wanted.iter().map(|&i| session.manifest.proto.fragments[i].size).sum();
        session.requests += 1;
        session.first_request.get_or_insert_with(performance_now);
        session.report();
        if session.transport == Transport::Http {
            session.http_round(&wanted).await?;
            continue;
        }
        let before = session.count();
        match session.stream_round(&wanted).await {
            Ok(nothing_left) => {
                if session.count() == before && !nothing_left {
                    return Err(err(format!("{name}: the server sent none of the fragments asked for")));
                }
            }
            Err(CallError::Refused(_)) if options.transport == Transport::Auto && session.count() == before => {
                // gRPC-web refused (a static host or CDN in front): plain GETs from now on.
                with_state(|s| s.prefer_http = true);
                session.transport = Transport::Http;
                session.requests -= 1;
            }
            Err(e) => return Err(e.into()),
        }
    };

    let result = session.progress();
    set(&result, "complete", session.count() == session.manifest.len());
    set(&result, "reason", reason);
    if let Some(t) = session.first_preview {
        set(&result, "firstPreviewMs", t - started);
        if let Some(r) = session.first_request {
            set(&result, "firstPreviewAfterRequestMs", (t - r).max(0.0));
        }
    }
    set(&result, "elapsedMs", performance_now() - started);
    set(&result, "prefetchHints", session.hints.iter().map(|n| JsValue::from_str(n)).collect::<Array>());

    if options.prefetch && !session.hints.is_empty() {
        let server = server_url.clone();
        let hints = session.hints.clone();
        wasm_bindgen_futures::spawn_local(async move {
            for hint in hints.iter().take(2) {
                // A prefetch that fails costs nothing: the asset is fetched when asked for.
                let _ = prefetch(&server, hint).await;
            }
        });
    }
    Ok(result.into())
}

/// Fetches the first fragments of `name` (what [`PREFETCH_MS`] at the measured throughput
/// carries, at least one) into the cache with plain GETs, which the browser's cache keeps too.
async fn prefetch(server: &str, name: &str) -> Result<(), CallError> {
    if with_state(|s| s.prefetched.iter().any(|n| n == name)) {
        return Ok(());
    }
    let manifest = manifest(server, name, None, STALL_MS).await?;
    let budget = Budget { max_bytes: None, max_time_ms: Some(PREFETCH_MS), target_quality: None };
    let picks = with_state(|s| s.policy.schedule(core::slice::from_ref(&manifest.curve), &[0], &budget));
    for pick in picks.iter().take(manifest.len()) {
        let f = &manifest.proto.fragments[usize::from(pick.index)];
        if with_state(|s| s.cache.get(&f.id).is_some()) {
            continue;
        }
        let data = fetch_fragment(server, &f.id, None, STALL_MS).await?;
        if HoloFragment::id(&data) != f.id {
            return Err(CallError::Fatal(format!("{name}: prefetched fragment does not match its id")));
        }
        with_state(|s| s.cache.put(&f.id, &data));
    }
    // No throughput sample: prefetches run beside the page's other work.
    with_state(|s| s.prefetched.push(name.to_string()));
    Ok(())
}

/// Fetches the first fragments of each named asset into the client's cache now (what the
/// server's prefetch hints name is fetched this way after each `streamAsset`).
#[wasm_bindgen(js_name = prefetchAssets)]
pub async fn prefetch_assets(server_url: &str, names: Vec<String>) -> Result<(), JsError> {
    for name in &names {
        prefetch(server_url, name).await?;
    }
    Ok(())
}

/// Fragment 0 of a 256 x 256 picture (`haagenti holo encode`, spectral, the default quality;
/// npm/scripts/warm-up-picture.mjs draws it and says how to make it again).
const WARM_UP_FRAGMENT: &[u8] = include_bytes!("warm-up.holo");
/// Decodes of it a warm-up makes.
const WARM_UP_ROUNDS: usize = 2;
/// Bytes of memory a warm-up allocates, writes and frees, so that the first real photo's
/// decode neither waits on `memory.grow` nor takes the page faults of fresh pages: fragment 0 of
/// a 512 x 512 colour photo holds about 7.4 MB at once (its coefficients as decoded, 3.1 MB,
/// the coefficient planes, 3.1 MB, and the RGBA preview, 1 MB). Measured in headless Chromium
/// on the demo page at 10 Mbit/s and 40 ms (`web/scripts/first-preview-phases.mjs`, 12 runs
/// each, alternated): the page's share of the first preview 23.3 ms (median; 15.4-27.5)
/// before, 17.4 ms (13.9-18.7) with it (2026-12-07).
const WARM_UP_MEMORY: usize = 10 << 20;

/// Runs the image decoder on a small photo-like fragment built into the module, so that the
/// engine has compiled its code, and begun to optimize it, before the first real fragment
/// arrives; then it allocates [`WARM_UP_MEMORY`] (10 MiB), writes every page of it and frees
/// it, growing the module's memory as needed, so that the first real photo's decode finds its
/// memory ready. Call it while the page waits on the network. Returns the milliseconds it
/// took.
///
/// (Measured in Chromium on the demo page, 10 Mbit/s and 40 ms: the earlier warm-up, which
/// encoded a 96 x 96 picture first, took 108-169 ms of the page's start; see npm/README.md.)
#[wasm_bindgen(js_name = warmUp)]
pub fn warm_up() -> Result<f64, JsError> {
    let started = performance_now();
    for _ in 0..WARM_UP_ROUNDS {
        let mut decoder = StreamingDecoder::with_preview(PreviewConfig::default());
        if decoder.push(WARM_UP_FRAGMENT, 0)?.is_none() {
            return Err(err("warm-up: the built-in fragment made no preview"));
        }
    }
    // The module's memory grown, and every page of it written once, for the first photo; freed
    // at once, so the allocator hands these pages out again.
    let mut room = vec![0u8; WARM_UP_MEMORY];
    for page in room.chunks_mut(4096) {
        page[0] = 1;
    }
    core::hint::black_box(&room);
    drop(room);
    Ok(performance_now() - started)
}
