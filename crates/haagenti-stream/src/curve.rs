//! An asset as the policy sees it: the size of each fragment and the quality after each
//! prefix of them.

use alloc::string::String;
use alloc::vec::Vec;

use haagenti_holo::{AssetKind, Manifest};

/// The PSNR that stands for an exact reconstruction (the curve stores infinity). 60 dB is
/// beyond what a viewer tells apart from the original.
pub const PSNR_CAP_DB: f64 = 60.0;

/// The most fragments of one asset the policy considers (indexes are `u16`).
pub const MAX_FRAGMENTS: usize = 1 << 16;

/// The largest fragment size kept (larger ones are clamped): 2^47 bytes, so that the sizes
/// of [`MAX_FRAGMENTS`] fragments sum without overflow.
pub const MAX_FRAGMENT_BYTES: u64 = 1 << 47;

/// Fragment sizes and the quality after each prefix, cleaned so that every value is usable:
/// quality before any fragment is 0, NaN takes the previous prefix's value, +infinity is
/// [`PSNR_CAP_DB`], -infinity is 0.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetCurve {
    /// The asset's name.
    pub name: String,
    sizes: Vec<u64>,
    /// `cum[k]`: bytes of the first `k` fragments (`cum[0] = 0`).
    cum: Vec<u64>,
    /// `quality[k]`: quality with the first `k` fragments (`quality[0] = 0`).
    quality: Vec<f64>,
}

impl AssetCurve {
    /// An asset of `sizes.len().min(quality.len())` fragments (at most [`MAX_FRAGMENTS`]):
    /// `quality[k - 1]` is the quality after the first `k`.
    pub fn new(name: impl Into<String>, sizes: &[u64], quality: &[f64]) -> Self {
        let n = sizes.len().min(quality.len()).min(MAX_FRAGMENTS);
        // Clamped so that the sums never overflow.
        let sizes: Vec<u64> = sizes[..n].iter().map(|&s| s.min(MAX_FRAGMENT_BYTES)).collect();
        let mut cum = Vec::with_capacity(n + 1);
        cum.push(0u64);
        for &s in &sizes {
            cum.push(cum[cum.len() - 1] + s);
        }
        let mut q = Vec::with_capacity(n + 1);
        q.push(0.0);
        for &v in &quality[..n] {
            let prev = q[q.len() - 1];
            q.push(if v.is_nan() {
                prev
            } else if v == f64::INFINITY {
                PSNR_CAP_DB
            } else if v == f64::NEG_INFINITY {
                0.0
            } else {
                v
            });
        }
        AssetCurve { name: name.into(), sizes, cum, quality: q }
    }

    /// The asset of a manifest: its curve's qualities, and `sizes` (the stored fragments'
    /// lengths) where given, else the differences of the curve's cumulative bytes. For
    /// tensors an infinite value (not written by the encoder) is taken as cosine 1.
    pub fn from_manifest(manifest: &Manifest, sizes: &[u64]) -> Self {
        let points = &manifest.curve.points;
        let n = points.len().max(sizes.len().min(manifest.fragments.len()));
        let mut all = Vec::with_capacity(n);
        let mut quality = Vec::with_capacity(n);
        let mut prev_bytes = 0u64;
        let tensor = matches!(manifest.kind, AssetKind::Tensor { .. });
        for k in 0..n {
            let p = points.get(k);
            let from_curve = p.map_or(0, |p| p.bytes.saturating_sub(prev_bytes));
            prev_bytes = p.map_or(prev_bytes, |p| p.bytes);
            all.push(sizes.get(k).copied().unwrap_or(from_curve));
            let q = p.map_or(f64::NAN, |p| p.quality);
            quality.push(if tensor && q == f64::INFINITY { 1.0 } else { q });
        }
        AssetCurve::new(manifest.name.clone(), &all, &quality)
    }

    /// Number of fragments.
    pub fn len(&self) -> usize {
        self.sizes.len()
    }

    /// Whether there are no fragments.
    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }

    /// Fragment sizes, in index order.
    pub fn sizes(&self) -> &[u64] {
        &self.sizes
    }

    /// Quality with the first `k` fragments (0 for none; the full quality past the end).
    pub fn quality(&self, k: usize) -> f64 {
        self.quality[k.min(self.len())]
    }

    /// Bytes of the first `k` fragments (all of them past the end).
    pub fn bytes(&self, k: usize) -> u64 {
        self.cum[k.min(self.len())]
    }

    /// Bytes of fragments `from..to` (0 when empty).
    pub fn bytes_between(&self, from: usize, to: usize) -> u64 {
        self.bytes(to).saturating_sub(self.bytes(from))
    }

    /// The best quality of any prefix.
    pub fn max_quality(&self) -> f64 {
        self.quality.iter().copied().fold(0.0, f64::max)
    }
}
