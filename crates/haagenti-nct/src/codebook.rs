//! The codebook: the value of every trellis window, shared by all tensors and stages of a file.
//!
//! Entries are `i16` in units of 1/2048 of the (unit-variance) stage scale. The default table
//! holds the 4096 quantiles of the standard normal distribution at `(i + 0.5) / 4096`, in an
//! order shuffled by a seeded generator, so that windows sharing bits get unrelated values: a
//! random Gaussian codebook, which after the Hadamard rotation matches the weights' shape. The
//! table travels in the file, so readers never compute it.

use crate::rng::SplitMix64;
use crate::trellis::STATE_BITS;
use alloc::vec::Vec;

/// Fixed-point scale of codebook entries: an entry of 2048 is one stage scale.
pub const TABLE_SHIFT: u32 = 11;
/// Largest magnitude an entry may have (4 stage scales).
pub const MAX_ENTRY: i16 = 4 << TABLE_SHIFT;

/// The window-to-value table of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codebook {
    entries: Vec<i16>,
}

impl Codebook {
    /// Number of entries (`2^12`).
    pub const LEN: usize = 1 << STATE_BITS;

    /// The shuffled Gaussian table for `seed`.
    pub fn gaussian(seed: u64) -> Self {
        let n = Self::LEN;
        let scale = (1u32 << TABLE_SHIFT) as f64;
        let mut entries: Vec<i16> = (0..n)
            .map(|i| {
                let z = inverse_normal((i as f64 + 0.5) / n as f64) * scale;
                libm::round(z).clamp(-(MAX_ENTRY as f64), MAX_ENTRY as f64) as i16
            })
            .collect();
        let mut rng = SplitMix64::new(seed);
        for i in (1..n).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            entries.swap(i, j);
        }
        Self { entries }
    }

    /// A table read from a file; `None` unless it has [`Self::LEN`] entries within range.
    pub fn from_entries(entries: Vec<i16>) -> Option<Self> {
        (entries.len() == Self::LEN && entries.iter().all(|e| e.unsigned_abs() <= MAX_ENTRY as u16))
            .then_some(Self { entries })
    }

    /// The entries, indexed by window.
    pub fn entries(&self) -> &[i16] {
        &self.entries
    }

    /// A stage's integer value of every window for the stage multiplier `m`:
    /// `(entry * m) >> 11` (arithmetic shift).
    pub(crate) fn stage_values(&self, m: u32) -> Vec<i32> {
        self.entries.iter().map(|&e| (e as i32 * m as i32) >> TABLE_SHIFT).collect()
    }
}

/// The standard normal quantile function (Acklam's rational approximation refined by one
/// Halley step; relative error far below the table's resolution).
#[allow(clippy::excessive_precision)]
fn inverse_normal(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383577518672690e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] =
        [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let low = 0.02425;
    let x = if p < low {
        let q = libm::sqrt(-2.0 * libm::log(p));
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = libm::sqrt(-2.0 * libm::log(1.0 - p));
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let e = 0.5 * libm::erfc(-x / core::f64::consts::SQRT_2) - p;
    let u = e * libm::sqrt(core::f64::consts::TAU) * libm::exp(x * x / 2.0);
    x - u / (1.0 + x * u / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_symmetric_and_unit_variance() {
        let t = Codebook::gaussian(0);
        let mut sorted = t.entries().to_vec();
        sorted.sort_unstable();
        for i in 0..sorted.len() / 2 {
            assert_eq!(sorted[i], -sorted[sorted.len() - 1 - i]);
        }
        let var: f64 = sorted.iter().map(|&e| (e as f64 / 2048.0).powi(2)).sum::<f64>() / sorted.len() as f64;
        assert!((var - 1.0).abs() < 0.01, "variance {var}");
        assert!((inverse_normal(0.975) - 1.959964).abs() < 1e-6);
    }
}
