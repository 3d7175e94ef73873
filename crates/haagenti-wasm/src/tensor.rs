//! HCT files and HoloTensor fragments in JavaScript: read tensors from an HCT file, push
//! fragments as they arrive and paint the previews, encode images into fragments.

#[cfg(feature = "full")]
use haagenti_hct::{HctReaderV2, TensorInfo};
#[cfg(feature = "full")]
use haagenti_holo::{Asset, EncodeOptions, Encoding};
use haagenti_holo::{Fragment, PreviewConfig, PreviewFrame, QualityCurve, Reconstruction, StreamingDecoder};
use js_sys::{Array, Float32Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** One tensor of an HCT file, as its index describes it. */
export interface TensorEntry {
  name: string;
  /** "F32", "F16", "BF16", "I8", "U8", "Q8", "Q4", ... */
  dtype: string;
  shape: number[];
  /** Bytes of the payload once decoded. */
  rawLength: number;
  /** Bytes stored in the file. */
  storedLength: number;
  /** "zstd", "lz4" or "store". */
  codec: string;
  blocks: number;
}

/** A preview of a HoloTensor asset from the fragments received so far. */
export interface PreviewFrame {
  width: number;
  height: number;
  /** 4 (RGBA, ready for `ImageData`) for colour images, 1 (gray) for gray images and tensors. */
  channels: number;
  /** The quality the encoder measured for this many fragments (PSNR in dB for images, cosine similarity for tensors). */
  quality: number;
  bytesProcessed: number;
  fragments: number;
  data: Uint8Array;
}

/** One point of an asset's quality curve, measured by the encoder. */
export interface QualityPoint {
  fragments: number;
  bytes: number;
  quality: number;
  relativeL2: number;
}

/** A reconstructed image (`channels` 1 or 3, row-major, 8 bits a sample). */
export interface ImageReconstruction {
  kind: "image";
  width: number;
  height: number;
  channels: number;
  pixels: Uint8Array;
}

/** A reconstructed tensor: its values, and its bytes in its own dtype. */
export interface TensorReconstruction {
  kind: "tensor";
  dtype: string;
  shape: number[];
  values: Float32Array;
  data: Uint8Array;
}

/** Options of `holoEncodeImage`. */
export interface HoloEncodeOptions {
  /** "spectral" (default), "projection", "lowrank" or "residual". */
  encoding?: string;
  /** Number of fragments (default 8). */
  fragments?: number;
  /** JPEG-like quality of the lossy encodings, 1-100 (default 75). */
  quality?: number;
}
"#;

pub(crate) fn set(o: &Object, key: &str, v: impl Into<JsValue>) {
    set_value(o, key, &v.into());
}

/// [`set`]'s work, compiled once rather than for every type of value.
#[inline(never)]
fn set_value(o: &Object, key: &str, v: &JsValue) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(o, &JsValue::from_str(key), v);
}

fn shape(s: &[u64]) -> Array {
    s.iter().map(|&d| JsValue::from_f64(d as f64)).collect()
}

#[cfg(feature = "full")]
fn entry(t: &TensorInfo) -> Object {
    let o = Object::new();
    set(&o, "name", t.name.as_str());
    set(&o, "dtype", t.dtype.name());
    set(&o, "shape", shape(&t.shape));
    set(&o, "rawLength", t.raw_len as f64);
    set(&o, "storedLength", t.stored_len() as f64);
    set(&o, "codec", t.codec.name());
    set(&o, "blocks", t.blocks.len() as f64);
    o
}

#[cfg(feature = "full")]
/// An HCT file held in WebAssembly memory; tensors and blocks are decoded (and their
/// checksums verified) when read.
#[wasm_bindgen(js_name = HctFile)]
pub struct HctFile {
    reader: HctReaderV2<Vec<u8>>,
}

#[cfg(feature = "full")]
#[wasm_bindgen(js_class = HctFile)]
impl HctFile {
    /// Opens `bytes` (copied): checks the preamble and the index, with their checksums.
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8]) -> Result<HctFile, JsError> {
        Ok(HctFile { reader: HctReaderV2::open(bytes.to_vec())? })
    }

    /// The tensors, in file order.
    #[wasm_bindgen(unchecked_return_type = "TensorEntry[]")]
    pub fn tensors(&self) -> Array {
        self.reader.tensors().iter().map(entry).collect()
    }

    /// The payload of tensor `name` (its bytes as stored in safetensors, little-endian).
    #[wasm_bindgen(js_name = readTensor)]
    pub fn read_tensor(&self, name: &str) -> Result<Vec<u8>, JsError> {
        Ok(self.reader.read_tensor(name)?)
    }

    /// Tensor `name` as f32 values (f16 and bf16 widened, quantized tensors dequantized).
    #[wasm_bindgen(js_name = readF32)]
    pub fn read_f32(&self, name: &str) -> Result<Vec<f32>, JsError> {
        Ok(self.reader.read_f32(name)?)
    }

    /// Block `index` of tensor `name` alone; `index` is a whole number (anything else throws,
    /// rather than being truncated to some other block).
    #[wasm_bindgen(js_name = readBlock)]
    pub fn read_block(&self, name: &str, index: f64) -> Result<Vec<u8>, JsError> {
        Ok(self.reader.read_block(name, whole_number("block index", index)?)?)
    }
}

#[cfg(feature = "full")]
/// The largest integer a JavaScript number holds exactly, 2^53 - 1.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

#[cfg(feature = "full")]
/// An index from JavaScript as a `u64`: a whole number from 0 to 2^53 - 1, else an error
/// naming `what` (`as` would quietly turn NaN, -1 or 1.5 into some block that exists).
fn whole_number(what: &str, v: f64) -> Result<u64, JsError> {
    if v.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&v) {
        Ok(v as u64)
    } else {
        Err(JsError::new(&format!("{what} must be a whole number from 0 to 2^53 - 1, not {v}")))
    }
}

pub(crate) fn frame(p: &PreviewFrame) -> Object {
    let o = Object::new();
    set(&o, "width", p.width);
    set(&o, "height", p.height);
    set(&o, "channels", p.channels);
    set(&o, "quality", p.quality);
    set(&o, "bytesProcessed", p.bytes_processed as f64);
    set(&o, "fragments", p.fragments as f64);
    set(&o, "data", Uint8Array::from(p.data.as_slice()));
    o
}

fn curve(c: &QualityCurve) -> Array {
    c.points
        .iter()
        .map(|p| {
            let o = Object::new();
            set(&o, "fragments", p.fragments);
            set(&o, "bytes", p.bytes as f64);
            set(&o, "quality", p.quality);
            set(&o, "relativeL2", p.relative_l2);
            JsValue::from(o)
        })
        .collect()
}

/// The browser's default limit on an asset's samples: 2^24 (a 2048 x 2048 RGB image is 3 x 2^22;
/// the decoder's heap stays under `HoloDecoder::memory_bound`, 48 bytes a sample: 768 MiB).
const DEFAULT_MAX_SAMPLES: u64 = 1 << 24;

/// Collects the fragments of one HoloTensor asset in any order and makes previews as they
/// arrive. A corrupted fragment, or one of another asset, throws and changes nothing (the
/// first one included: its header is adopted only once its payload decodes); a duplicate is
/// ignored. All state is the `StreamingDecoder`'s.
#[wasm_bindgen(js_name = HoloStream)]
pub struct HoloStream {
    inner: StreamingDecoder,
}

#[wasm_bindgen(js_class = HoloStream)]
impl HoloStream {
    /// A decoder that previews at most every `previewIntervalMs` (default 0), once the
    /// curve's quality reaches `minQuality` (default 0), at most `maxPreviewResolution`
    /// pixels on the longer side (default 512); the last fragment always makes a preview.
    /// Assets of more than `maxSamples` samples (default 2^24) are refused before anything is
    /// allocated for them.
    #[wasm_bindgen(constructor)]
    pub fn new(
        preview_interval_ms: Option<f64>,
        min_quality: Option<f64>,
        max_preview_resolution: Option<u32>,
        max_samples: Option<f64>,
    ) -> Self {
        HoloStream {
            inner: StreamingDecoder::with_preview(PreviewConfig {
                preview_interval_ms: preview_interval_ms.unwrap_or(0.0).max(0.0) as u64,
                min_quality: min_quality.unwrap_or(0.0),
                max_preview_resolution: max_preview_resolution.unwrap_or(512),
            })
            .with_max_samples(max_samples.map_or(DEFAULT_MAX_SAMPLES, |n| n.max(0.0) as u64)),
        }
    }

    /// Adds a fragment that arrived at `nowMs` (e.g. `performance.now()`); returns a preview
    /// when one is due.
    #[wasm_bindgen(unchecked_return_type = "PreviewFrame | undefined")]
    pub fn push(&mut self, fragment: &[u8], now_ms: f64) -> Result<JsValue, JsError> {
        Ok(match self.inner.push(fragment, now_ms.max(0.0) as u64)? {
            Some(p) => frame(&p).into(),
            None => JsValue::UNDEFINED,
        })
    }

    /// A preview of what has arrived, now.
    #[wasm_bindgen(unchecked_return_type = "PreviewFrame")]
    pub fn preview(&self) -> Result<JsValue, JsError> {
        Ok(frame(&self.inner.preview()?).into())
    }

    /// The asset's fragment count, once a fragment has arrived.
    #[wasm_bindgen(getter, js_name = fragmentCount)]
    pub fn fragment_count(&self) -> Option<u16> {
        self.inner.decoder().header().map(|h| h.fragment_count)
    }

    /// Fragments received.
    #[wasm_bindgen(getter)]
    pub fn received(&self) -> usize {
        self.inner.decoder().received_count()
    }

    /// Bytes of the fragments received.
    #[wasm_bindgen(getter, js_name = bytesReceived)]
    pub fn bytes_received(&self) -> f64 {
        self.inner.decoder().bytes_received() as f64
    }

    /// Whether every fragment has arrived.
    #[wasm_bindgen(getter)]
    pub fn complete(&self) -> bool {
        self.inner.decoder().is_complete()
    }

    /// The quality curve the encoder measured, once a fragment has arrived.
    #[wasm_bindgen(unchecked_return_type = "QualityPoint[] | undefined")]
    pub fn curve(&self) -> JsValue {
        self.inner.decoder().header().map_or(JsValue::UNDEFINED, |h| curve(&h.curve).into())
    }

    /// The reconstruction from the fragments received.
    #[wasm_bindgen(unchecked_return_type = "ImageReconstruction | TensorReconstruction")]
    pub fn reconstruct(&self) -> Result<JsValue, JsError> {
        let o = Object::new();
        match self.inner.decoder().reconstruct()? {
            Reconstruction::Image { width, height, channels, pixels } => {
                set(&o, "kind", "image");
                set(&o, "width", width);
                set(&o, "height", height);
                set(&o, "channels", channels);
                set(&o, "pixels", Uint8Array::from(pixels.as_slice()));
            }
            Reconstruction::Tensor { dtype, shape: s, values, data } => {
                set(&o, "kind", "tensor");
                set(&o, "dtype", dtype.name());
                set(&o, "shape", shape(&s));
                set(&o, "values", Float32Array::from(values.as_slice()));
                set(&o, "data", Uint8Array::from(data.as_slice()));
            }
        }
        Ok(o.into())
    }
}

#[cfg(feature = "full")]
/// Encodes an 8-bit image (`channels` 1 or 3, row-major) into HoloTensor fragments.
#[wasm_bindgen(js_name = holoEncodeImage, unchecked_return_type = "Uint8Array[]")]
pub fn holo_encode_image(
    pixels: &[u8],
    width: u32,
    height: u32,
    channels: u8,
    #[wasm_bindgen(unchecked_param_type = "HoloEncodeOptions | undefined")] options: JsValue,
) -> Result<Array, JsError> {
    let get = |key: &str| Reflect::get(&options, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined());
    let mut opts = EncodeOptions::default();
    if !options.is_undefined() && !options.is_null() {
        if let Some(v) = get("encoding") {
            let name = v.as_string().unwrap_or_default();
            opts.encoding =
                Encoding::from_name(&name).ok_or_else(|| JsError::new(&format!("unknown encoding {name:?}")))?;
        }
        if let Some(v) = get("fragments").and_then(|v| v.as_f64()) {
            opts.fragments = v.clamp(0.0, f64::from(u16::MAX)) as u16;
        }
        if let Some(v) = get("quality").and_then(|v| v.as_f64()) {
            opts.quality = v as f32;
        }
    }
    let asset = Asset::image(width, height, channels, pixels.to_vec())?;
    let enc = haagenti_holo::encode(&asset, &opts)?;
    Ok(enc.fragments.iter().map(|f| JsValue::from(Uint8Array::from(f.as_slice()))).collect())
}

/// A fragment's id: the BLAKE3 hash of its bytes, 64 hex digits (its name in a fragment store).
#[wasm_bindgen(js_name = fragmentId)]
pub fn fragment_id(fragment: &[u8]) -> String {
    Fragment::id(fragment)
}
