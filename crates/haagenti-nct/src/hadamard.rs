//! The randomized Hadamard rotation. Each stage codes `y = H S e / n` of its input `e` in
//! groups of `n` weights along a row (`H` the Walsh-Hadamard matrix of order `n`, `S` the
//! stage's seeded signs), which makes any weights near-Gaussian; decoding applies `S H` to
//! integers, which is exact.

use crate::rng::SplitMix64;
use alloc::vec::Vec;

/// In-place Walsh-Hadamard transform of integers (exact: no overflow is possible within the
/// format's limits; wrapping arithmetic keeps a hostile file from panicking). The decoder does
/// its first three levels its own way (`decode::stage_rotated`); this is the whole transform,
/// its reference in tests.
#[cfg(test)]
pub(crate) fn wht_i32(x: &mut [i32]) {
    let n = x.len();
    let mut h = 1;
    if n >= 4 {
        // The first two levels at once, four values at a time.
        for c in x.chunks_exact_mut(4) {
            let (a, b) = (c[0].wrapping_add(c[1]), c[0].wrapping_sub(c[1]));
            let (d, e) = (c[2].wrapping_add(c[3]), c[2].wrapping_sub(c[3]));
            c[0] = a.wrapping_add(d);
            c[1] = b.wrapping_add(e);
            c[2] = a.wrapping_sub(d);
            c[3] = b.wrapping_sub(e);
        }
        h = 4;
    }
    wht_i32_from(x, h);
}

/// The levels of [`wht_i32`] from butterflies `h` apart up (the levels commute, so the ones
/// below `h` may be done before, by another route).
#[inline(always)]
pub(crate) fn wht_i32_from(x: &mut [i32], mut h: usize) {
    let n = x.len();
    while h < n {
        for block in x.chunks_exact_mut(2 * h) {
            let (a, b) = block.split_at_mut(h);
            for (p, q) in a.iter_mut().zip(b.iter_mut()) {
                let (u, v) = (*p, *q);
                *p = u.wrapping_add(v);
                *q = u.wrapping_sub(v);
            }
        }
        h *= 2;
    }
}

/// The same transform in `f64`, for the encoder.
pub(crate) fn wht_f64(x: &mut [f64]) {
    let n = x.len();
    let mut h = 1;
    while h < n {
        for block in x.chunks_exact_mut(2 * h) {
            let (a, b) = block.split_at_mut(h);
            for (p, q) in a.iter_mut().zip(b.iter_mut()) {
                let (u, v) = (*p, *q);
                *p = u + v;
                *q = u - v;
            }
        }
        h *= 2;
    }
}

/// The signs of stage `stage` (0-based) of a tensor with `seed`, for groups of `n`: `true`
/// flips. Bit `i` of the `i / 64`-th SplitMix64 output of `seed + (stage + 1) * 0x9E3779B97F4A7C15`.
pub(crate) fn signs(seed: u64, stage: usize, n: usize) -> Vec<bool> {
    let words = sign_words(seed, stage, n.div_ceil(64));
    (0..n).map(|i| words[i / 64] >> (i % 64) & 1 == 1).collect()
}

/// The words the signs of [`signs`] are drawn from: `words` outputs of the stage's generator.
pub(crate) fn sign_words(seed: u64, stage: usize, words: usize) -> Vec<u64> {
    let mut rng = SplitMix64::new(seed.wrapping_add((stage as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    (0..words).map(|_| rng.next_u64()).collect()
}

/// [`signs`] as masks for the decoder: 0 keeps a value, -1 negates it (`(v ^ m) - m`).
pub(crate) fn sign_masks(seed: u64, stage: usize, n: usize) -> Vec<i32> {
    signs(seed, stage, n).into_iter().map(|s| -(s as i32)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_twice_is_n_times_identity() {
        let orig: Vec<i32> = (0..64).map(|i| (i * 37 % 23) - 11).collect();
        let mut x = orig.clone();
        wht_i32(&mut x);
        wht_i32(&mut x);
        assert!(x.iter().zip(&orig).all(|(a, b)| *a == 64 * b));
        let mut f: Vec<f64> = orig.iter().map(|&v| v as f64).collect();
        wht_f64(&mut f);
        let mut i = orig.clone();
        wht_i32(&mut i);
        assert!(f.iter().zip(&i).all(|(a, b)| *a == *b as f64));
    }
}
