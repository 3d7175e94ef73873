//! Quality measures and the curve stored with every asset.

use alloc::vec::Vec;

/// `x * x` (`f64::powi` is not in `core`).
pub(crate) fn sq(x: f64) -> f64 {
    x * x
}

/// PSNR in dB of 8-bit samples against the original (infinite when identical).
pub fn psnr(original: &[u8], approx: &[u8]) -> f64 {
    let mse = original.iter().zip(approx).map(|(&a, &b)| sq(f64::from(a) - f64::from(b))).sum::<f64>()
        / original.len().max(1) as f64;
    if mse == 0.0 { f64::INFINITY } else { 10.0 * libm::log10(255.0 * 255.0 / mse) }
}

/// Cosine similarity of two vectors (1 for identical directions; 1 when both are zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 && nb == 0.0 {
        1.0
    } else if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (libm::sqrt(na) * libm::sqrt(nb))
    }
}

/// Relative L2 error `|a - b| / |a|` (0 for identical; `|b|` when `a` is zero).
pub fn relative_l2(a: &[f32], b: &[f32]) -> f64 {
    let (mut diff, mut norm) = (0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        diff += sq(f64::from(x) - f64::from(y));
        norm += sq(f64::from(x));
    }
    if norm == 0.0 { libm::sqrt(diff) } else { libm::sqrt(diff / norm) }
}

/// Quality after the first `fragments` fragments (in index order), measured at encode time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityPoint {
    /// Fragments received.
    pub fragments: u16,
    /// Their total size in bytes.
    pub bytes: u64,
    /// PSNR in dB for images (infinite when exact), cosine similarity for tensors (stored
    /// with f32 precision).
    pub quality: f64,
    /// Relative L2 error of the reconstruction (stored with f32 precision).
    pub relative_l2: f64,
}

/// Quality against fragments received, one point per prefix of the fragments.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualityCurve {
    /// Points for 1, 2, ..., N fragments.
    pub points: Vec<QualityPoint>,
    /// Largest absolute error per sample with every fragment (0: exact).
    pub max_error: f64,
}

impl QualityCurve {
    /// The measured quality with `k` fragments (0 before the first).
    pub fn at(&self, k: usize) -> Option<&QualityPoint> {
        k.checked_sub(1).and_then(|i| self.points.get(i))
    }
}
