//! Haagenti in the browser: the codecs, HCT tensor files, HoloTensor fragments with previews,
//! and the gRPC-web client, exported through wasm-bindgen.
//!
//! Errors become thrown JavaScript `Error`s with the decoder's message. Names are camelCase.
//! The npm package in `npm/` wraps this module with TypeScript types.
//!
//! Features: `full` (default) has every codec, the encoders, HCT files and the gRPC-web calls;
//! `client` (default) adds the streaming gRPC-web client. Without default features the module
//! is decoder-only (zstd and HoloTensor decoding), the small build behind `haagenti/decode`.
#![forbid(unsafe_code)]

#[cfg(feature = "client")]
mod client;
mod streams;
mod tensor;
#[cfg(all(feature = "webgpu", target_arch = "wasm32"))]
mod webgpu;

#[cfg(feature = "client")]
pub use client::{client_stats, get_manifest, list_assets, prefetch_assets, reset_client, stream_asset, warm_up};
pub use streams::StreamDecoder;
#[cfg(feature = "full")]
pub use tensor::{HctFile, holo_encode_image};
pub use tensor::{HoloStream, fragment_id};
#[cfg(all(feature = "webgpu", target_arch = "wasm32"))]
pub use webgpu::{enable_webgpu, read_webgpu_pixels, webgpu_enabled};

#[cfg(feature = "full")]
use haagenti_codec::{Codec, Format, Level, Limits};
#[cfg(feature = "full")]
use haagenti_proto::grpc_web;
#[cfg(feature = "full")]
use haagenti_proto::v1::{HealthRequest, HealthResponse, health_response};
#[cfg(feature = "full")]
use js_sys::{Promise, Uint8Array};
#[cfg(feature = "full")]
use serde::Serialize;
use wasm_bindgen::prelude::*;
#[cfg(feature = "full")]
use wasm_bindgen_futures::JsFuture;

/// The allocator: talc instead of Rust's default dlmalloc, about 4 KB smaller before gzip (2 KB
/// after) at the same speed (npm/README.md). It grows the module's memory as dlmalloc does and never
/// shrinks it.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// The default bound on a decompression's output: 1 GiB.
pub(crate) const DEFAULT_MAX_OUTPUT: u64 = 1 << 30;

/// `maxOutput` from JavaScript: a non-negative number of bytes, or the default.
pub(crate) fn max_output_bytes(max_output: Option<f64>) -> u64 {
    match max_output {
        Some(n) if n >= 0.0 => n as u64,
        _ => DEFAULT_MAX_OUTPUT,
    }
}

#[cfg(feature = "full")]
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** The fragment server's answer to a health check. */
export interface HealthInfo {
  /** "serving" when the server is up. */
  status: string;
  /** The server's version. */
  version: string;
  /** Seconds since the server started. */
  uptimeSeconds: number;
  /** The `client` string sent with the request. */
  echo: string;
  /** How the request arrived: "grpc" or "grpc-web". */
  protocol: string;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

/// Runs when the module is instantiated: a panic (a bug: bad input is an `Error`, never a
/// panic) is logged to the console with its message and place before the module traps, so the
/// `RuntimeError: unreachable` that follows can be reported usefully.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        console_error(&format!(
            "haagenti: internal error (please report it): {info}; the module is unusable until reloaded"
        ));
    }));
}

/// The version of these bindings.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Which build this is: "full" (every codec) or "decode" (zstd and HoloTensor decoding only).
#[wasm_bindgen]
pub fn variant() -> String {
    if cfg!(feature = "full") { "full" } else { "decode" }.to_string()
}

#[cfg(feature = "full")]
fn parse_format(name: &str) -> Result<Format, JsError> {
    name.parse::<Format>().map_err(|e| JsError::new(&e))
}

#[cfg(feature = "full")]
fn limits(max_output: Option<f64>) -> Limits {
    Limits { max_output: max_output_bytes(max_output) }
}

#[cfg(feature = "full")]
/// Names the format of `data` by its magic number ("zstd", "lz4", "gzip", "zlib"), or undefined.
#[wasm_bindgen(js_name = detectFormat)]
pub fn detect_format(data: &[u8]) -> Option<String> {
    Format::detect(data).map(|f| f.name().to_string())
}

/// Decompresses `data`, detecting its format by magic number. `maxOutput` bounds the output
/// (default 1 GiB).
#[cfg(feature = "full")]
#[wasm_bindgen(js_name = decompress)]
pub fn decompress(data: &[u8], max_output: Option<f64>) -> Result<Vec<u8>, JsError> {
    Ok(haagenti_codec::decompress_auto_with(data, &limits(max_output))?)
}

/// Decompresses `data`, zstd frames (the decoder-only build reads no other format).
/// `maxOutput` bounds the output (default 1 GiB).
#[cfg(not(feature = "full"))]
#[wasm_bindgen(js_name = decompress)]
pub fn decompress(data: &[u8], max_output: Option<f64>) -> Result<Vec<u8>, JsError> {
    let config = haagenti_zstd::DecoderConfig {
        max_output_size: usize::try_from(max_output_bytes(max_output)).unwrap_or(usize::MAX),
        ..Default::default()
    };
    haagenti_zstd::decompress_with(data, &config).map_err(|e| JsError::new(&format!("zstd: {e}")))
}

/// A zstd decoder kept between calls: its tables, and one output buffer that every call
/// reuses, so that JavaScript can read the bytes where they are instead of receiving a copy.
///
/// `decodeRetained(data)` decodes every frame of `data` into the buffer and returns the number of
/// bytes; they start at `retainedPtr()` in the module's memory and stay there until the next call
/// on this decoder. The buffer keeps the size of the largest output so far (bounded by
/// `maxOutput`, default 1 GiB) until `releaseBuffer()` or `free()`.
#[wasm_bindgen]
pub struct ZstdDecoder {
    decoder: haagenti_zstd::Decompressor,
    out: Vec<u8>,
}

#[wasm_bindgen]
impl ZstdDecoder {
    /// A decoder whose outputs may total at most `maxOutput` bytes a call (default 1 GiB).
    #[wasm_bindgen(constructor)]
    pub fn new(max_output: Option<f64>) -> ZstdDecoder {
        let config = haagenti_zstd::DecoderConfig {
            max_output_size: usize::try_from(max_output_bytes(max_output)).unwrap_or(usize::MAX),
            ..Default::default()
        };
        ZstdDecoder { decoder: haagenti_zstd::Decompressor::new(config), out: Vec::new() }
    }

    /// Decodes every frame of `data` into the retained buffer; returns its length in bytes.
    #[wasm_bindgen(js_name = decodeRetained)]
    pub fn decode_retained(&mut self, data: &[u8]) -> Result<u32, JsError> {
        self.out.clear();
        let mut pos = 0;
        while pos < data.len() {
            match self.decoder.decode_frame(&data[pos..], &mut self.out) {
                Ok(used) => pos += used,
                Err(e) => {
                    self.out.clear();
                    return Err(JsError::new(&format!("zstd: {e}")));
                }
            }
        }
        // wasm32 memory is at most 4 GiB, so a length always fits.
        Ok(self.out.len() as u32)
    }

    /// Where the retained output starts in the module's memory.
    #[wasm_bindgen(js_name = retainedPtr)]
    pub fn retained_ptr(&self) -> u32 {
        self.out.as_ptr() as usize as u32
    }

    /// Frees the retained buffer (the next call allocates a new one).
    #[wasm_bindgen(js_name = releaseBuffer)]
    pub fn release_buffer(&mut self) {
        self.out = Vec::new();
    }
}

#[cfg(feature = "full")]
/// Decompresses `data` as the named format ("zstd", "lz4", "lz4-block", "gzip", "zlib",
/// "deflate", "brotli").
#[wasm_bindgen(js_name = decompressFormat)]
pub fn decompress_format(format: &str, data: &[u8], max_output: Option<f64>) -> Result<Vec<u8>, JsError> {
    Ok(parse_format(format)?.codec().decompress_with(data, &limits(max_output))?)
}

#[cfg(feature = "full")]
/// Compresses `data` as the named format at `level` (the format's default when omitted).
#[wasm_bindgen(js_name = compress)]
pub fn compress(format: &str, data: &[u8], level: Option<i32>) -> Result<Vec<u8>, JsError> {
    let format = parse_format(format)?;
    let codec = match level {
        Some(level) => format.codec_with_level(Level(level))?,
        None => format.codec(),
    };
    Ok(codec.compress(data)?)
}

#[cfg(feature = "full")]
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HealthInfo {
    status: &'static str,
    version: String,
    uptime_seconds: f64,
    echo: String,
    protocol: String,
}

#[cfg(feature = "full")]
impl From<HealthResponse> for HealthInfo {
    fn from(r: HealthResponse) -> Self {
        let status = match health_response::Status::try_from(r.status) {
            Ok(health_response::Status::Serving) => "serving",
            _ => "unknown",
        };
        HealthInfo {
            status,
            version: r.version,
            uptime_seconds: r.uptime_seconds as f64,
            echo: r.echo,
            protocol: r.protocol,
        }
    }
}

#[cfg(feature = "full")]
/// The gRPC-web request body of a health check.
#[wasm_bindgen(js_name = encodeHealthRequest)]
pub fn encode_health_request(client: &str) -> Vec<u8> {
    grpc_web::encode_request(&HealthRequest { client: client.to_string() })
}

#[cfg(feature = "full")]
/// Reads a gRPC-web health response body into a `HealthInfo`.
#[wasm_bindgen(js_name = decodeHealthResponse, unchecked_return_type = "HealthInfo")]
pub fn decode_health_response(body: &[u8]) -> Result<JsValue, JsError> {
    let response: HealthResponse = grpc_web::decode_unary_response(body)?;
    Ok(serde_wasm_bindgen::to_value(&HealthInfo::from(response))?)
}

#[cfg(feature = "full")]
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &web_sys::Request) -> Promise;
}

#[cfg(feature = "full")]
/// Calls the server's `Health` RPC over gRPC-web at `baseUrl` (e.g. `https://127.0.0.1:8443`).
#[wasm_bindgen(js_name = healthCheck, unchecked_return_type = "HealthInfo")]
pub async fn health_check(base_url: &str, client: &str) -> Result<JsValue, JsError> {
    let url = format!("{}/haagenti.v1.Fragments/Health", base_url.trim_end_matches('/'));
    let body = Uint8Array::from(encode_health_request(client).as_slice());
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&body);
    let headers = web_sys::Headers::new().map_err(js_error)?;
    headers.set("content-type", "application/grpc-web+proto").map_err(js_error)?;
    headers.set("x-grpc-web", "1").map_err(js_error)?;
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(&url, &init).map_err(js_error)?;
    let response: web_sys::Response = JsFuture::from(global_fetch(&request)).await.map_err(js_error)?.unchecked_into();
    if !response.ok() {
        return Err(JsError::new(&format!("health check to {url} failed: HTTP {}", response.status())));
    }
    if let Ok(Some(status)) = response.headers().get("grpc-status")
        && status != "0"
    {
        let message = response.headers().get("grpc-message").ok().flatten().unwrap_or_default();
        return Err(JsError::new(&format!("gRPC status {status}: {message}")));
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(js_error)?).await.map_err(js_error)?;
    decode_health_response(&Uint8Array::new(&buffer).to_vec())
}

#[cfg(feature = "full")]
fn js_error(value: JsValue) -> JsError {
    let message = value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "JavaScript error".to_string());
    JsError::new(&message)
}
