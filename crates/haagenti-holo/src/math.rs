//! Transforms: the orthonormal 8x8 DCT, the randomized Hadamard rotation, and a truncated SVD.

use alloc::vec;
use alloc::vec::Vec;

/// The JPEG zigzag order of an 8x8 block: position `k` of the scan is cell `ZIGZAG[k]`.
pub(crate) const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63,
];

/// The orthonormal DCT-II of size 8, applied separably to 8x8 blocks (rows, then columns).
#[derive(Debug, Clone)]
pub(crate) struct Dct8 {
    /// `c[k][n] = a(k) cos(pi (2n + 1) k / 16)`, `a(0) = sqrt(1/8)`, else `sqrt(2/8)`.
    c: [[f32; 8]; 8],
}

/// The basis of [`Dct8`] as `f32` bits: `c[k][n] = a(k) cos(pi (2n + 1) k / 16)` computed in `f64`
/// and rounded once to `f32` (`dct_basis_is_the_formula` checks every entry against `libm`). A
/// table rather than `cos` at run time: the decoder-only wasm module then carries no `cos` and
/// its argument reduction, some 6 KB of code.
const DCT8_BASIS: [[u32; 8]; 8] = [
    [0x3EB504F3, 0x3EB504F3, 0x3EB504F3, 0x3EB504F3, 0x3EB504F3, 0x3EB504F3, 0x3EB504F3, 0x3EB504F3],
    [0x3EFB14BE, 0x3ED4DB31, 0x3E8E39DA, 0x3DC7C5C2, 0xBDC7C5C2, 0xBE8E39DA, 0xBED4DB31, 0xBEFB14BE],
    [0x3EEC835E, 0x3E43EF15, 0xBE43EF15, 0xBEEC835E, 0xBEEC835E, 0xBE43EF15, 0x3E43EF15, 0x3EEC835E],
    [0x3ED4DB31, 0xBDC7C5C2, 0xBEFB14BE, 0xBE8E39DA, 0x3E8E39DA, 0x3EFB14BE, 0x3DC7C5C2, 0xBED4DB31],
    [0x3EB504F3, 0xBEB504F3, 0xBEB504F3, 0x3EB504F3, 0x3EB504F3, 0xBEB504F3, 0xBEB504F3, 0x3EB504F3],
    [0x3E8E39DA, 0xBEFB14BE, 0x3DC7C5C2, 0x3ED4DB31, 0xBED4DB31, 0xBDC7C5C2, 0x3EFB14BE, 0xBE8E39DA],
    [0x3E43EF15, 0xBEEC835E, 0x3EEC835E, 0xBE43EF15, 0xBE43EF15, 0x3EEC835E, 0xBEEC835E, 0x3E43EF15],
    [0x3DC7C5C2, 0xBE8E39DA, 0x3ED4DB31, 0xBEFB14BE, 0x3EFB14BE, 0xBED4DB31, 0x3E8E39DA, 0xBDC7C5C2],
];

impl Dct8 {
    pub(crate) fn new() -> Self {
        Dct8 { c: DCT8_BASIS.map(|row| row.map(f32::from_bits)) }
    }

    /// A transform with the basis `c` (`c[k][n]`).
    pub(crate) fn from_basis(c: [[f32; 8]; 8]) -> Self {
        Dct8 { c }
    }

    /// The basis: `c[k][n]`.
    pub(crate) fn basis(&self) -> [[f32; 8]; 8] {
        self.c
    }

    /// Forward transform of a row-major 8x8 block, in place.
    pub(crate) fn forward(&self, b: &mut [f32; 64]) {
        let mut t = [0f32; 64];
        // Rows, then columns.
        for r in 0..8 {
            for k in 0..8 {
                t[r * 8 + k] = (0..8).map(|n| b[r * 8 + n] * self.c[k][n]).sum();
            }
        }
        for c in 0..8 {
            for k in 0..8 {
                b[k * 8 + c] = (0..8).map(|n| t[n * 8 + c] * self.c[k][n]).sum();
            }
        }
    }

    /// Inverse transform, in place. Coefficient blocks are sparse (most of a JPEG-like block is
    /// zero): each non-zero coefficient adds its row of the basis, and only the rows that
    /// received any are carried through the second pass.
    pub(crate) fn inverse(&self, b: &mut [f32; 64]) {
        let mut t = [[0f32; 8]; 8];
        let mut rows = 0u8;
        for (r, (row, t)) in b.chunks_exact(8).zip(&mut t).enumerate() {
            for (n, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    rows |= 1 << r;
                    for (t, &c) in t.iter_mut().zip(&self.c[n]) {
                        *t += v * c;
                    }
                }
            }
        }
        let mut out = [[0f32; 8]; 8];
        for (n, (t, c)) in t.iter().zip(&self.c).enumerate() {
            if rows >> n & 1 == 1 {
                for (out, &c) in out.iter_mut().zip(c) {
                    for col in 0..8 {
                        out[col] += c * t[col];
                    }
                }
            }
        }
        b.copy_from_slice(out.as_flattened());
    }
}

/// A small fast generator (SplitMix64): seeded signs and permutations, the same on every
/// platform.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A permutation of `0..n` (Fisher-Yates).
    pub(crate) fn permutation(&mut self, n: usize) -> Vec<u32> {
        let mut p: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            p.swap(i, j);
        }
        p
    }
}

/// The randomized Hadamard rotation `y = H D x / sqrt(n)` of one block (`n` a power of two),
/// in place; `signs` holds D. Orthonormal, so its inverse is `x = D H y / sqrt(n)`.
pub(crate) fn hadamard_forward(x: &mut [f32], signs: &[bool]) {
    for (v, &neg) in x.iter_mut().zip(signs) {
        if neg {
            *v = -*v;
        }
    }
    fwht(x);
}

/// The inverse of [`hadamard_forward`].
pub(crate) fn hadamard_inverse(y: &mut [f32], signs: &[bool]) {
    fwht(y);
    for (v, &neg) in y.iter_mut().zip(signs) {
        if neg {
            *v = -*v;
        }
    }
}

/// The normalized fast Walsh-Hadamard transform (its own inverse).
fn fwht(x: &mut [f32]) {
    let n = x.len();
    debug_assert!(n.is_power_of_two());
    let mut h = 1;
    while h < n {
        for i in (0..n).step_by(2 * h) {
            for j in i..i + h {
                let (a, b) = (x[j], x[j + h]);
                x[j] = a + b;
                x[j + h] = a - b;
            }
        }
        h *= 2;
    }
    let s = 1.0 / libm::sqrtf(n as f32);
    x.iter_mut().for_each(|v| *v *= s);
}

/// The top `rank` singular triplets of the row-major `rows x cols` matrix `a`, by randomized
/// subspace iteration (Halko, Martinsson, Tropp): `(sigma, u, v)` with `u` of `rows` and `v` of
/// `cols` values each, largest first. Deterministic for a given `seed`.
pub(crate) fn truncated_svd(
    a: &[f32],
    rows: usize,
    cols: usize,
    rank: usize,
    seed: u64,
) -> Vec<(f64, Vec<f64>, Vec<f64>)> {
    let rank = rank.min(rows).min(cols);
    if rank == 0 {
        return Vec::new();
    }
    let k = (rank + 8).min(rows).min(cols);
    let mut rng = SplitMix(seed);
    // Y = A * Omega (rows x k), Omega random +-1.
    let omega: Vec<f64> = (0..cols * k).map(|_| if rng.next() & 1 == 0 { 1.0 } else { -1.0 }).collect();
    let mut y = mat_mul(a, rows, cols, &omega, k);
    orthonormalize(&mut y, rows, k);
    for _ in 0..2 {
        // Power iterations: Z = A^T Y (cols x k), Y = A Z.
        let mut z = mat_t_mul(a, rows, cols, &y, k);
        orthonormalize(&mut z, cols, k);
        y = mat_mul(a, rows, cols, &z, k);
        orthonormalize(&mut y, rows, k);
    }
    // B = Q^T A (k x cols); eigen-decompose B B^T (k x k) by Jacobi.
    let bt = mat_t_mul(a, rows, cols, &y, k); // cols x k, column j = A^T q_j
    let mut g = vec![0f64; k * k];
    for i in 0..k {
        for j in i..k {
            let s: f64 = (0..cols).map(|c| bt[c * k + i] * bt[c * k + j]).sum();
            g[i * k + j] = s;
            g[j * k + i] = s;
        }
    }
    let (evals, evecs) = jacobi_eigen(g, k);
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&i, &j| evals[j].total_cmp(&evals[i]));
    order
        .into_iter()
        .take(rank)
        .filter(|&e| evals[e] > 1e-18)
        .map(|e| {
            let sigma = libm::sqrt(evals[e]);
            // u = Q w, v = B^T w / sigma.
            let u: Vec<f64> = (0..rows).map(|r| (0..k).map(|j| y[r * k + j] * evecs[j * k + e]).sum()).collect();
            let v: Vec<f64> =
                (0..cols).map(|c| (0..k).map(|j| bt[c * k + j] * evecs[j * k + e]).sum::<f64>() / sigma).collect();
            (sigma, u, v)
        })
        .collect()
}

/// `a` (rows x cols, f32) times `b` (cols x k).
fn mat_mul(a: &[f32], rows: usize, cols: usize, b: &[f64], k: usize) -> Vec<f64> {
    let mut out = vec![0f64; rows * k];
    for r in 0..rows {
        let o = &mut out[r * k..(r + 1) * k];
        for c in 0..cols {
            let x = f64::from(a[r * cols + c]);
            if x != 0.0 {
                for (o, &bv) in o.iter_mut().zip(&b[c * k..(c + 1) * k]) {
                    *o += x * bv;
                }
            }
        }
    }
    out
}

/// `a^T` (cols x rows) times `y` (rows x k).
fn mat_t_mul(a: &[f32], rows: usize, cols: usize, y: &[f64], k: usize) -> Vec<f64> {
    let mut out = vec![0f64; cols * k];
    for r in 0..rows {
        let yr = &y[r * k..(r + 1) * k];
        for c in 0..cols {
            let x = f64::from(a[r * cols + c]);
            if x != 0.0 {
                for (o, &yv) in out[c * k..(c + 1) * k].iter_mut().zip(yr) {
                    *o += x * yv;
                }
            }
        }
    }
    out
}

/// Modified Gram-Schmidt on the `k` columns of the row-major `n x k` matrix `m`.
fn orthonormalize(m: &mut [f64], n: usize, k: usize) {
    for j in 0..k {
        for i in 0..j {
            let d: f64 = (0..n).map(|r| m[r * k + i] * m[r * k + j]).sum();
            for r in 0..n {
                m[r * k + j] -= d * m[r * k + i];
            }
        }
        let norm = libm::sqrt((0..n).map(|r| m[r * k + j] * m[r * k + j]).sum::<f64>());
        for r in 0..n {
            m[r * k + j] = if norm > 1e-300 { m[r * k + j] / norm } else { 0.0 };
        }
    }
}

/// Eigenvalues and eigenvectors (columns) of a symmetric `k x k` matrix, cyclic Jacobi.
fn jacobi_eigen(mut a: Vec<f64>, k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0f64; k * k];
    (0..k).for_each(|i| v[i * k + i] = 1.0);
    for _sweep in 0..50 {
        let off: f64 = (0..k)
            .flat_map(|i| (0..k).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * k + j] * a[i * k + j])
            .sum();
        if off < 1e-22 {
            break;
        }
        for p in 0..k {
            for q in p + 1..k {
                let apq = a[p * k + q];
                if libm::fabs(apq) < 1e-300 {
                    continue;
                }
                let theta = (a[q * k + q] - a[p * k + p]) / (2.0 * apq);
                let t = libm::copysign(1.0, theta) / (libm::fabs(theta) + libm::sqrt(theta * theta + 1.0));
                let c = 1.0 / libm::sqrt(t * t + 1.0);
                let s = t * c;
                for r in 0..k {
                    let (arp, arq) = (a[r * k + p], a[r * k + q]);
                    a[r * k + p] = c * arp - s * arq;
                    a[r * k + q] = s * arp + c * arq;
                }
                for r in 0..k {
                    let (apr, aqr) = (a[p * k + r], a[q * k + r]);
                    a[p * k + r] = c * apr - s * aqr;
                    a[q * k + r] = s * apr + c * aqr;
                }
                for r in 0..k {
                    let (vrp, vrq) = (v[r * k + p], v[r * k + q]);
                    v[r * k + p] = c * vrp - s * vrq;
                    v[r * k + q] = s * vrp + c * vrq;
                }
            }
        }
    }
    ((0..k).map(|i| a[i * k + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dct_basis_is_the_formula() {
        let d = Dct8::new().basis();
        for (k, row) in d.iter().enumerate() {
            let a = if k == 0 { libm::sqrt(1.0 / 8.0) } else { libm::sqrt(2.0 / 8.0) };
            for (n, &v) in row.iter().enumerate() {
                let want = (a * libm::cos(core::f64::consts::PI * (2 * n + 1) as f64 * k as f64 / 16.0)) as f32;
                assert_eq!(v.to_bits(), want.to_bits(), "c[{k}][{n}]: {v} against {want}");
            }
        }
    }

    #[test]
    fn dct_is_orthonormal_and_inverts() {
        let d = Dct8::new();
        let mut b = [0f32; 64];
        b.iter_mut().enumerate().for_each(|(i, v)| *v = ((i * 37) % 19) as f32 - 9.0);
        let orig = b;
        d.forward(&mut b);
        let e0: f32 = orig.iter().map(|v| v * v).sum();
        let e1: f32 = b.iter().map(|v| v * v).sum();
        assert!((e0 - e1).abs() < 1e-2 * e0, "energy {e0} vs {e1}");
        d.inverse(&mut b);
        assert!(orig.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-4));
    }

    #[test]
    fn hadamard_inverts_and_keeps_energy() {
        let mut rng = SplitMix(7);
        let signs: Vec<bool> = (0..256).map(|_| rng.next() & 1 == 1).collect();
        let x: Vec<f32> = (0..256).map(|i| (i as f32 * 0.3).sin()).collect();
        let mut y = x.clone();
        hadamard_forward(&mut y, &signs);
        let (ex, ey): (f32, f32) = (x.iter().map(|v| v * v).sum(), y.iter().map(|v| v * v).sum());
        assert!((ex - ey).abs() < 1e-3 * ex);
        hadamard_inverse(&mut y, &signs);
        assert!(x.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-5));
    }

    #[test]
    fn svd_recovers_a_low_rank_matrix() {
        let (rows, cols) = (40, 30);
        let a: Vec<f32> = (0..rows * cols)
            .map(|i| {
                let (r, c) = ((i / cols) as f32, (i % cols) as f32);
                3.0 * (r * 0.1).sin() * (c * 0.2).cos() + 0.5 * (r * 0.05) * (c * 0.01 + 1.0)
            })
            .collect();
        let svd = truncated_svd(&a, rows, cols, 2, 1);
        assert_eq!(svd.len(), 2);
        let mut err = 0f64;
        for r in 0..rows {
            for c in 0..cols {
                let rec: f64 = svd.iter().map(|(s, u, v)| s * u[r] * v[c]).sum();
                err = err.max((rec - f64::from(a[r * cols + c])).abs());
            }
        }
        assert!(err < 1e-3, "max error {err}");
    }
}
