//! Calibrated rounding (block LDLQ, after GPTQ and QuIP#/QTIP). Without calibration every
//! stage minimises the plain squared error of each block. With the second moments of a
//! tensor's inputs, `Σ = E[x xᵀ]` over its columns (what a layer `y = W x` multiplies), the
//! error that matters for a row is `δeᵀ Σ δe`, and the encoder codes the blocks of a row one
//! after another, each aimed at a target that compensates the errors already made.
//!
//! In the stage's rotated basis (`e = A y`, `A` block-diagonal of `S_j H` per group) the loss
//! is `δyᵀ Σ' δy` with `Σ' = Aᵀ Σ A`. Factor `Σ' = Mᵀ D M`, `M` unit lower block-triangular
//! (blocks of the group size), `D` block-diagonal: the loss is `Σ_j z_jᵀ D_j z_j` with
//! `z_j = δy_j + Σ_{i<j} M_ji δy_i`, so block `j`'s trellis aims at
//! `y_j + Σ_{i<j} M_ji δy_i`. Only the encoder changes: the file is read as any other.

use crate::hadamard::wht_f64;
use alloc::vec;
use alloc::vec::Vec;

/// Most columns a calibrated tensor may have: the factorization holds `cols²` `f64` values
/// a few times over (at 8192 columns, 512 MiB each).
pub const MAX_CALIBRATED_COLS: usize = 8192;

/// Damping added to the diagonal, relative to its mean (as GPTQ, whose default is 0.01):
/// keeps the factorization stable where inputs are nearly dependent or some never vary.
/// Chosen on MiniLM at 2 bits a weight (benches/nct-eval, docs/nct.md): 0.1, 0.03, 0.01,
/// 0.003 and 0.001 gave mean embedding cosines 0.705, 0.733, 0.750, 0.782 and 0.778.
pub const DAMPING: f64 = 0.003;

/// The input second moments of one tensor, `cols x cols` (row-major, symmetric, damped).
#[derive(Debug, Clone)]
pub(crate) struct Moments {
    cols: usize,
    sigma: Vec<f64>,
}

impl Moments {
    /// From the `cols x cols` matrix (row-major; symmetrized). A diagonal alone is refused:
    /// the rotation keeps it block-diagonal, so it would change no choice. `Err` says what is
    /// wrong with them.
    pub(crate) fn new(cols: usize, values: &[f32]) -> Result<Self, &'static str> {
        if cols > MAX_CALIBRATED_COLS {
            return Err("more columns than calibration takes (MAX_CALIBRATED_COLS, 8192)");
        }
        if Some(values.len()) != cols.checked_mul(cols) {
            return Err(if values.len() == cols {
                "a diagonal is not enough (in the rotated groups it changes nothing): give the whole cols x cols matrix"
            } else {
                "the moments must be a cols x cols matrix"
            });
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err("the moments are not all finite");
        }
        let mut sigma = vec![0f64; cols * cols];
        for i in 0..cols {
            for j in 0..cols {
                sigma[i * cols + j] = (values[i * cols + j] as f64 + values[j * cols + i] as f64) / 2.0;
            }
        }
        let diag: Vec<f64> = (0..cols).map(|i| sigma[i * cols + i]).collect();
        if diag.iter().any(|&d| d < 0.0) {
            return Err("a diagonal moment is negative");
        }
        let mean = diag.iter().sum::<f64>() / cols.max(1) as f64;
        if mean <= 0.0 || !mean.is_finite() {
            return Err("the moments are all zero");
        }
        for i in 0..cols {
            sigma[i * cols + i] += DAMPING * mean;
        }
        let m = Self { cols, sigma };
        // Positive definite (after damping) or refused now, not after minutes of encoding.
        if !cholesky_in_place(&mut m.sigma.clone(), cols) {
            return Err("the moments are not positive semi-definite");
        }
        Ok(m)
    }
}

/// The feedback of one tensor's stage: for group `j`, the `g x (j g)` matrix `M_j,<j`.
pub(crate) struct Feedback {
    g: usize,
    blocks: Vec<Vec<f64>>,
}

impl Feedback {
    /// For a stage with signs `signs` (±1 a column) and groups of `g`; `None` if the rotated
    /// moments turn out not positive definite (rounding), when the stage goes uncalibrated.
    pub(crate) fn new(moments: &Moments, signs: &[f64], g: usize) -> Option<Self> {
        let n = moments.cols;
        debug_assert!(n.is_multiple_of(g) && signs.len() == n);
        // Σ' = Aᵀ Σ A: the rotation applied to rows, a transpose, and again.
        let mut s = moments.sigma.clone();
        rotate_rows(&mut s, n, signs, g);
        transpose(&mut s, n);
        rotate_rows(&mut s, n, signs, g);

        // Σ' = U D Uᵀ (U = Mᵀ unit upper) from the last block up: D_j is the current
        // diagonal block, M_j,<j = D_j⁻¹ Σ'_j,<j, then the leading part loses its projection.
        let m = n / g;
        let mut blocks = vec![Vec::new(); m];
        let mut d = vec![0f64; g * g];
        for j in (1..m).rev() {
            let jb = j * g;
            for a in 0..g {
                d[a * g..(a + 1) * g].copy_from_slice(&s[(jb + a) * n + jb..(jb + a) * n + jb + g]);
            }
            if !cholesky_in_place(&mut d, g) {
                return None;
            }
            // X = D⁻¹ Σ'_j,<j, solved column by column of the g x jb right-hand side.
            let mut x = vec![0f64; g * jb];
            for a in 0..g {
                x[a * jb..(a + 1) * jb].copy_from_slice(&s[(jb + a) * n..(jb + a) * n + jb]);
            }
            solve_cholesky(&d, g, &mut x, jb);
            // Σ'_<j,<j -= Σ'_<j,j X.
            for r in 0..jb {
                let (lead, rest) = s[r * n..(r + 1) * n].split_at_mut(jb);
                let coupling = &rest[..g];
                for (c, &w) in coupling.iter().enumerate() {
                    if w != 0.0 {
                        for (t, &xv) in lead.iter_mut().zip(&x[c * jb..(c + 1) * jb]) {
                            *t -= w * xv;
                        }
                    }
                }
            }
            blocks[j] = x;
        }
        Some(Self { g, blocks })
    }

    /// The target of group `j`: its rotated residual `y` plus the feedback of the errors
    /// `err` (`y - q`) of the groups before it.
    pub(crate) fn target(&self, j: usize, y: &[f32], err: &[f64], out: &mut [f32]) {
        let jb = j * self.g;
        let x = &self.blocks[j];
        for (a, (o, &yv)) in out.iter_mut().zip(y).enumerate() {
            let row = if jb == 0 { &[][..] } else { &x[a * jb..(a + 1) * jb] };
            let fb: f64 = row.iter().zip(&err[..jb]).map(|(m, e)| m * e).sum();
            *o = (yv as f64 + fb) as f32;
        }
    }
}

/// Right-multiplies an `n x n` matrix by `A` (block-diagonal `S_j H`): per row and group,
/// signs then the Hadamard transform.
fn rotate_rows(s: &mut [f64], n: usize, signs: &[f64], g: usize) {
    for row in s.chunks_exact_mut(n) {
        for (v, &sg) in row.iter_mut().zip(signs) {
            *v *= sg;
        }
        for grp in row.chunks_exact_mut(g) {
            wht_f64(grp);
        }
    }
}

fn transpose(s: &mut [f64], n: usize) {
    for i in 0..n {
        for j in i + 1..n {
            s.swap(i * n + j, j * n + i);
        }
    }
}

/// Lower Cholesky factor of a symmetric `n x n` matrix in place (the upper part is left as
/// it was); `false` if it is not positive definite.
fn cholesky_in_place(a: &mut [f64], n: usize) -> bool {
    for j in 0..n {
        let mut dj = a[j * n + j];
        for k in 0..j {
            dj -= a[j * n + k] * a[j * n + k];
        }
        if dj <= 0.0 || !dj.is_finite() {
            return false;
        }
        let dj = libm::sqrt(dj);
        a[j * n + j] = dj;
        for i in j + 1..n {
            let mut v = a[i * n + j];
            for k in 0..j {
                v -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = v / dj;
        }
    }
    true
}

/// Solves `L Lᵀ X = B` for the `n x w` right-hand side `b` (row-major) in place, `L` the
/// lower factor from [`cholesky_in_place`].
fn solve_cholesky(l: &[f64], n: usize, b: &mut [f64], w: usize) {
    // Forward: L Z = B, row by row of B.
    for i in 0..n {
        for k in 0..i {
            let f = l[i * n + k];
            let (done, cur) = b.split_at_mut(i * w);
            for (t, &z) in cur[..w].iter_mut().zip(&done[k * w..(k + 1) * w]) {
                *t -= f * z;
            }
        }
        let d = l[i * n + i];
        b[i * w..(i + 1) * w].iter_mut().for_each(|t| *t /= d);
    }
    // Backward: Lᵀ X = Z.
    for i in (0..n).rev() {
        for k in i + 1..n {
            let f = l[k * n + i];
            let (head, tail) = b.split_at_mut(k * w);
            for (t, &z) in head[i * w..(i + 1) * w].iter_mut().zip(&tail[..w]) {
                *t -= f * z;
            }
        }
        let d = l[i * n + i];
        b[i * w..(i + 1) * w].iter_mut().for_each(|t| *t /= d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn gauss(rng: &mut SplitMix64) -> f64 {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        libm::sqrt(-2.0 * libm::log(u.max(1e-300))) * libm::cos(core::f64::consts::TAU * v)
    }

    /// A 64-column problem in groups of 16: moments of `rank`-dimensional inputs plus
    /// `noise`, random signs, their feedback and the rotated moments `Σ'` it factors.
    fn problem(rng: &mut SplitMix64, rank: usize, noise: f64) -> (usize, usize, Feedback, Vec<f64>) {
        let (n, g) = (64usize, 16usize);
        let f: Vec<f64> = (0..n * rank).map(|_| gauss(rng)).collect();
        let mut sigma = vec![0f32; n * n];
        for i in 0..n {
            for j in 0..n {
                let v: f64 = (0..rank).map(|k| f[i * rank + k] * f[j * rank + k]).sum::<f64>();
                sigma[i * n + j] = (v + if i == j { noise } else { 0.0 }) as f32;
            }
        }
        let mom = Moments::new(n, &sigma).unwrap();
        let signs: Vec<f64> = (0..n).map(|_| if rng.next_u64() & 1 == 1 { -1.0 } else { 1.0 }).collect();
        let fb = Feedback::new(&mom, &signs, g).unwrap();
        let mut sp = mom.sigma.clone();
        rotate_rows(&mut sp, n, &signs, g);
        transpose(&mut sp, n);
        rotate_rows(&mut sp, n, &signs, g);
        (n, g, fb, sp)
    }

    /// The factorization is what the feedback assumes: with `z = M δy` the loss
    /// `δyᵀ Σ' δy` equals `Σ_j z_jᵀ D_j z_j`, and the greedy target for the last block is
    /// the exact minimiser of the loss given the others.
    #[test]
    fn feedback_minimises_the_last_block() {
        let mut rng = SplitMix64::new(7);
        // Correlated inputs: x = F u with a random 64 x 8 factor plus noise.
        let (n, g, fb, sp) = problem(&mut rng, 8, 0.1);
        let loss =
            |d: &[f64]| -> f64 { (0..n).map(|i| (0..n).map(|j| d[i] * sp[i * n + j] * d[j]).sum::<f64>()).sum() };
        // Errors of the first three blocks fixed; the fourth chosen by the feedback.
        let mut err: Vec<f64> = (0..n).map(|_| gauss(&mut rng)).collect();
        let y = vec![0f32; g];
        let mut t = vec![0f32; g];
        fb.target(3, &y, &err, &mut t);
        // q = t means δy_3 = y - q = -t.
        for a in 0..g {
            err[3 * g + a] = -(t[a] as f64);
        }
        let best = loss(&err);
        for trial in 0..20 {
            let mut e2 = err.clone();
            for a in 0..g {
                e2[3 * g + a] += 0.05 * gauss(&mut rng) * (1 + trial % 3) as f64;
            }
            assert!(loss(&e2) >= best * (1.0 - 1e-9), "a perturbation lowered the loss");
        }
        // And without feedback (q = y) the loss is higher.
        let mut plain = err.clone();
        plain[3 * g..].iter_mut().for_each(|v| *v = 0.0);
        assert!(loss(&plain) > best * 1.01);
    }

    /// Greedy feedback from block 1 on, with block 0's error fixed, reaches the global
    /// minimum over all later blocks (the Schur complement): no perturbation of any later
    /// block lowers the loss.
    #[test]
    fn feedback_is_optimal_for_every_later_block() {
        let mut rng = SplitMix64::new(11);
        let (n, g, fb, sp) = problem(&mut rng, 6, 0.3);
        let loss =
            |d: &[f64]| -> f64 { (0..n).map(|i| (0..n).map(|j| d[i] * sp[i * n + j] * d[j]).sum::<f64>()).sum() };
        let mut err = vec![0f64; n];
        for v in &mut err[..g] {
            *v = gauss(&mut rng);
        }
        let y = vec![0f32; g];
        let mut t = vec![0f32; g];
        for j in 1..n / g {
            fb.target(j, &y, &err, &mut t);
            for a in 0..g {
                err[j * g + a] = -(t[a] as f64);
            }
        }
        let best = loss(&err);
        for trial in 0..40 {
            let mut e2 = err.clone();
            let j = 1 + trial % (n / g - 1);
            for a in 0..g {
                e2[j * g + a] += 0.01 * gauss(&mut rng);
            }
            assert!(loss(&e2) >= best * (1.0 - 1e-6), "perturbing block {j} lowered the loss");
        }
    }

    #[test]
    fn bad_moments_are_refused() {
        assert!(Moments::new(4, &[1.0, 2.0, 3.0]).is_err());
        assert!(Moments::new(2, &[1.0, 1.0]).is_err(), "a diagonal");
        assert!(Moments::new(2, &[1.0, 0.0, 0.0, f32::NAN]).is_err());
        assert!(Moments::new(2, &[1.0, 0.0, 0.0, -1.0]).is_err());
        assert!(Moments::new(2, &[0.0; 4]).is_err());
        // A matrix that is not positive semi-definite even after damping.
        assert!(Moments::new(2, &[1.0, 5.0, 5.0, 1.0]).is_err());
        assert!(Moments::new(MAX_CALIBRATED_COLS + 64, &[]).is_err());
        assert!(Moments::new(2, &[1.0, 0.5, 0.5, 1.0]).is_ok());
    }
}
