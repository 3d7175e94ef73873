//! WebGPU previews: `enableWebGpu(canvas)` opens the browser's WebGPU adapter (through
//! haagenti-gpu) and keeps it with a presenter for `canvas`; `streamAsset(.., { webgpu: true })`
//! then reconstructs `spectral` images on the GPU and draws them onto that canvas, so their
//! pixels never pass through JavaScript. The coefficients stay on the GPU too: each fragment's
//! decoded values are added there (`haagenti_gpu::SpectralAccumulator`), not all of them
//! uploaded for every preview. Everything else stays on the CPU path.

use std::cell::RefCell;

use haagenti_gpu::{GpuDecoder, Presenter, SpectralAccumulator};
use haagenti_holo::{HoloDecoder, SpectralUpdate};
use wasm_bindgen::prelude::*;

/// The decoder, the canvas's presenter, the last texture drawn, and the coefficients of the
/// image being streamed (with the streaming session's serial number).
struct WebGpu {
    gpu: GpuDecoder,
    presenter: Presenter,
    last: Option<haagenti_gpu::wgpu::Texture>,
    coefs: Option<(u64, SpectralAccumulator)>,
}

thread_local! {
    static WEBGPU: RefCell<Option<WebGpu>> = const { RefCell::new(None) };
}

/// Opens the browser's WebGPU adapter for previews drawn onto `canvas` (whose `webgpu` context
/// it takes). Resolves to the adapter's description; rejects with an `Error` where the browser
/// has no WebGPU (the CPU path then stays in use).
#[wasm_bindgen(js_name = enableWebGpu)]
pub async fn enable_webgpu(canvas: web_sys::HtmlCanvasElement) -> Result<String, JsError> {
    let (gpu, presenter) = GpuDecoder::for_canvas(canvas).await.map_err(|e| JsError::new(&format!("WebGPU: {e}")))?;
    let name = match gpu.adapter_info() {
        Some(i) if !i.name.is_empty() => i.name.clone(),
        Some(i) => format!("{} {}", i.driver, i.driver_info).trim().to_string(),
        None => String::new(),
    };
    WEBGPU.with(|w| *w.borrow_mut() = Some(WebGpu { gpu, presenter, last: None, coefs: None }));
    Ok(if name.is_empty() { "WebGPU adapter".into() } else { name })
}

/// Whether [`enable_webgpu`] succeeded.
#[wasm_bindgen(js_name = webGpuEnabled)]
pub fn webgpu_enabled() -> bool {
    WEBGPU.with(|w| w.borrow().is_some())
}

/// Brings the GPU's coefficients of a `spectral` image up to date with a fragment just pushed
/// (`update`, from `push_due_spectral`) and, when `due`, draws the image onto the enabled
/// canvas: `None` where WebGPU is not enabled or the asset is not a spectral image, else its
/// size or why it failed. `session` names the streaming session the decoder belongs to: its
/// first fragment (or one after a GPU error) uploads the decoder's coefficients; every later
/// one adds only what it decoded.
pub(crate) fn update_and_draw(
    session: u64,
    decoder: &HoloDecoder,
    update: Option<&SpectralUpdate>,
    due: bool,
) -> Option<Result<(u32, u32), String>> {
    WEBGPU.with(|w| {
        let mut w = w.borrow_mut();
        let w = w.as_mut()?;
        let parts = decoder.spectral_parts()?;
        let fresh = match (&mut w.coefs, update) {
            (Some((held, acc)), Some(u)) if *held == session => w.gpu.accumulate(acc, u).is_err(),
            (Some((held, _)), None) if *held == session => false,
            _ => true,
        };
        if fresh {
            match w.gpu.spectral_accumulator(&parts) {
                Ok(acc) => w.coefs = Some((session, acc)),
                Err(e) => {
                    w.coefs = None;
                    return Some(Err(e.to_string()));
                }
            }
        }
        if !due {
            return None;
        }
        let (_, acc) = w.coefs.as_ref()?;
        let drawn = w.gpu.spectral_texture_from(acc, &parts).and_then(|t| {
            w.presenter.present(&w.gpu, &t)?;
            w.last = Some(t);
            Ok((parts.width, parts.height))
        });
        Some(drawn.map_err(|e| e.to_string()))
    })
}

/// The RGBA pixels of the last image drawn on WebGPU, read back from the GPU (for thumbnails
/// and tests: previews themselves never come back). Rejects when nothing was drawn.
#[wasm_bindgen(js_name = readWebGpuPixels)]
pub async fn read_webgpu_pixels() -> Result<js_sys::Uint8Array, JsError> {
    // No borrow of the thread-local across the await: the (shared) handles are cloned out.
    let (gpu, texture) = WEBGPU
        .with(|w| {
            let w = w.borrow();
            let w = w.as_ref()?;
            Some((w.gpu.clone(), w.last.clone()?))
        })
        .ok_or_else(|| JsError::new("WebGPU: no image drawn yet"))?;
    let pixels = gpu.read_texture_rgba(&texture).await.map_err(|e| JsError::new(&format!("WebGPU: {e}")))?;
    Ok(js_sys::Uint8Array::from(pixels.as_slice()))
}
