//! Prototype bindings for measuring output strategies (not shipped):
//! - `decompressZstd(data)`: a `Vec` returned (copied into a fresh `Uint8Array` by the glue),
//!   as `decompressFormat` does today, but with one decoder reused across calls;
//! - `decodeRetained(data)`: decodes into a buffer kept in wasm memory (sized from the frame
//!   headers, allocated once and reused), returning its length; the bytes stay at
//!   `retainedPtr()` until the next call, for JavaScript to view or copy.
#![forbid(unsafe_code)]

use std::cell::RefCell;

use haagenti_zstd::{DecoderConfig, Decompressor};
use wasm_bindgen::prelude::*;

struct State {
    decoder: Decompressor,
    out: Vec<u8>,
}

thread_local! {
    static STATE: RefCell<State> =
        RefCell::new(State { decoder: Decompressor::new(DecoderConfig::default()), out: Vec::new() });
}

fn js(e: haagenti_zstd::Error) -> JsError {
    JsError::new(&e.to_string())
}

/// Decodes `data`, returned as a new array (one decoder reused across calls).
#[wasm_bindgen(js_name = decompressZstd)]
pub fn decompress_zstd(data: &[u8]) -> Result<Vec<u8>, JsError> {
    STATE.with_borrow_mut(|s| s.decoder.decompress(data).map_err(js))
}

/// Decodes `data` into the retained buffer; returns the number of bytes, which stay at
/// [`retained_ptr`] until the next call.
#[wasm_bindgen(js_name = decodeRetained)]
pub fn decode_retained(data: &[u8]) -> Result<u32, JsError> {
    STATE.with_borrow_mut(|s| {
        let n = match haagenti_zstd::decompressed_size(data).map_err(js)? {
            Some(size) => {
                let size = usize::try_from(size).map_err(|_| JsError::new("too large"))?;
                if s.out.len() < size {
                    s.out.resize(size, 0);
                }
                s.decoder.decompress_into(data, &mut s.out[..size]).map_err(js)?
            }
            None => {
                s.out = s.decoder.decompress(data).map_err(js)?;
                s.out.len()
            }
        };
        Ok(n as u32)
    })
}

/// Where the retained buffer starts in wasm memory.
#[wasm_bindgen(js_name = retainedPtr)]
pub fn retained_ptr() -> u32 {
    STATE.with_borrow(|s| s.out.as_ptr() as usize as u32)
}
