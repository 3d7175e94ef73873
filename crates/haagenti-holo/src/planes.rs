//! f32 planes, the ground the encodings share: quantizing them, and turning them back into a
//! reconstruction.

use alloc::vec;
use alloc::vec::Vec;

use crate::asset::{AssetKind, Reconstruction, f32_to_element, tensor_from_elements};

/// Parameters and payloads of an encoded asset.
pub(crate) type Encoded = (Vec<u8>, Vec<Vec<u8>>);

/// The reconstruction of f32 planes: images rounded and clamped, tensors converted.
pub(crate) fn from_planes(kind: &AssetKind, planes: &[Vec<f32>]) -> Reconstruction {
    match kind {
        AssetKind::Image { width, height, channels } => {
            let pixels = match planes {
                [r, g, b] => {
                    let mut pixels = vec![0u8; r.len() * 3];
                    for (((p, &r), &g), &b) in pixels.chunks_exact_mut(3).zip(r).zip(g).zip(b) {
                        p.copy_from_slice(&[to_u8(r), to_u8(g), to_u8(b)]);
                    }
                    pixels
                }
                _ => planes[0].iter().map(|&v| to_u8(v)).collect(),
            };
            debug_assert_eq!(pixels.len() as u64, u64::from(*width) * u64::from(*height) * u64::from(*channels));
            Reconstruction::Image { width: *width, height: *height, channels: *channels, pixels }
        }
        AssetKind::Tensor { dtype, shape } => {
            let elements: Vec<u32> = planes[0].iter().map(|&v| f32_to_element(*dtype, v)).collect();
            tensor_from_elements(*dtype, shape, &elements)
        }
    }
}

/// A sample rounded to the nearest 8-bit value (halves up), clamped (`as` saturates, and
/// takes NaN to 0).
#[inline(always)]
pub(crate) fn to_u8(v: f32) -> u8 {
    (v + 0.5) as u8
}

fn rms(v: &[f32]) -> f32 {
    let s: f64 = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    (libm::sqrt(s / v.len().max(1) as f64) as f32).max(f32::MIN_POSITIVE)
}

/// Uniform quantization step for tensor values at `quality` (1..=100): a quarter of the RMS at
/// 50, halving every 10 points above.
pub(crate) fn tensor_step(values: &[f32], quality: f32) -> f32 {
    rms(values) * 0.25 * libm::powf(2.0, -(quality - 50.0) / 10.0)
}

/// `v` in steps of `step`, rounded, within the +-1e9 the coders are exact for.
pub(crate) fn quantize(v: f32, step: f32) -> i32 {
    libm::roundf(v / step).clamp(-1e9, 1e9) as i32
}
