//! The bitshift trellis code of one stage (after QTIP, Tseng et al. 2024): the value of every
//! weight is a table entry picked by an `L`-bit window of the stage's bit stream, and
//! consecutive windows overlap, so a block of `n` weights costs exactly its `B` bits, any weight
//! decodes from its own window, and the encoder chooses the whole bit stream at once by the
//! Viterbi algorithm, which is what buys the gain over scalar rounding.
//!
//! Bits are numbered least significant first within each byte. Weight `t` of a block reads the
//! window of `L` bits starting at bit `p(t) = t * B / n` (rounded down), least significant bit
//! first; windows past the block's end wrap to its start (a tail-biting trellis), so no bits go
//! to a starting state and every block decodes on its own. Steps advance by one to three bits,
//! so a stage's rate is any multiple of `8 / n` bits a weight between 1 and 3.
//!
//! The Viterbi search runs on the bit-reversed window `s = rev(w)`, where the predecessors of a
//! state are `2^d` contiguous runs of the cost array (`d` the step), which vectorizes.

use alloc::vec::Vec;

/// Window width of every stage (`L`): 4096 table entries.
pub const STATE_BITS: u32 = 12;
const STATES: usize = 1 << STATE_BITS;

/// Bit position of weight `t` in a block of `n` weights (a power of two) and `bits` bits.
#[inline]
pub(crate) fn position(t: usize, bits: usize, n_log2: u32) -> usize {
    (t * bits) >> n_log2
}

/// Reusable buffers of the Viterbi search.
#[derive(Default)]
pub(crate) struct Search {
    cost: Vec<f32>,
    next: Vec<f32>,
    best: Vec<f32>,
    back: Vec<u8>,
    path: Vec<u32>,
    values_rev: Vec<f32>,
    x: Vec<f32>,
    steps: Vec<u32>,
    block_steps: Vec<u32>,
}

impl Search {
    /// Sets the decoded value of every window (`values[w]`, `2^L` entries) for later blocks.
    pub(crate) fn set_values(&mut self, values: &[f32]) {
        debug_assert_eq!(values.len(), STATES);
        self.values_rev.clear();
        self.values_rev.extend((0..STATES).map(|s| values[reverse(s as u32) as usize]));
    }
}

#[inline]
fn reverse(s: u32) -> u32 {
    s.reverse_bits() >> (32 - STATE_BITS)
}

/// Weights before and after the wrap that the first, unconstrained pass looks at to choose the
/// bits a block's end shares with its start.
const LEAD_BEFORE: usize = 32;
const LEAD_AFTER: usize = 16;

/// Chooses the `bits` bits of a block that minimise the squared error between `x` and the
/// decoded values, writes them into `out` (`bits / 8` bytes) and returns the windows of the
/// chosen path in `windows`.
///
/// `x.len()` is a power of two `n`, and `n <= bits <= 3n`, `bits % 8 == 0`.
pub(crate) fn encode_block(x: &[f32], bits: usize, out: &mut [u8], windows: &mut [u32], search: &mut Search) {
    let n = x.len();
    let n_log2 = n.trailing_zeros();
    debug_assert!(n.is_power_of_two() && bits >= n && bits <= 3 * n && bits.is_multiple_of(8));
    let mut steps = core::mem::take(&mut search.block_steps);
    steps.clear();
    steps.extend((0..n).map(|t| (position(t + 1, bits, n_log2) - position(t, bits, n_log2)) as u32));
    let last = steps[n - 1];

    // Pass 1 leaves the start free and finds the best state at weight 0: on the weights around
    // the wrap only (the trellis forgets its start within a few windows), or the whole block
    // when it is short. Pass 2 fixes the bits the wrap shares to that state's and keeps only
    // paths that close the loop.
    let shared = if n >= 2 * (LEAD_BEFORE + LEAD_AFTER) {
        let mut xs = core::mem::take(&mut search.x);
        let mut st = core::mem::take(&mut search.steps);
        xs.clear();
        st.clear();
        xs.extend_from_slice(&x[n - LEAD_BEFORE..]);
        xs.extend_from_slice(&x[..LEAD_AFTER]);
        st.extend_from_slice(&steps[n - LEAD_BEFORE..]);
        st.extend_from_slice(&steps[..LEAD_AFTER]);
        viterbi(&xs, &st, None, search);
        search.x = xs;
        search.steps = st;
        search.path[LEAD_BEFORE] >> last
    } else {
        viterbi(x, &steps, None, search);
        search.path[0] >> last
    };
    viterbi(x, &steps, Some((shared, last)), search);

    out.iter_mut().for_each(|b| *b = 0);
    for t in 0..n {
        let w = reverse(search.path[t]);
        windows[t] = w;
        let p = position(t, bits, n_log2);
        for i in 0..steps[t] as usize {
            if w >> i & 1 == 1 {
                let at = p + i;
                out[at / 8] |= 1 << (at % 8);
            }
        }
    }
    search.block_steps = steps;
}

crate::simd::multiversion! {
/// One pass over `x`. `steps[t]` is the shift from weight `t` to `t + 1`. With
/// `shared = (p, last)`, start states have the high bits `p` (`s >> last == p`) and end states
/// the low bits `p`. Compiled for AVX2 and AVX-512 too ([`crate::simd`]): the search is 85% of
/// encoding.
fn viterbi(x: &[f32], steps: &[u32], shared: Option<(u32, u32)>, search: &mut Search) {
    let n = x.len();
    let Search { cost, next, best, back, path, values_rev, .. } = search;
    cost.resize(STATES, 0.0);
    next.resize(STATES, 0.0);
    best.resize(STATES, 0.0);
    back.resize(n * STATES / 2, 0);
    path.resize(n, 0);

    // Asked once a pass, not once a step.
    let avx2 = crate::simd::avx2();
    let x0 = x[0];
    for (c, &v) in cost.iter_mut().zip(values_rev.iter()) {
        let d = x0 - v;
        *c = d * d;
    }
    if let Some((p, last)) = shared {
        for (s, c) in cost.iter_mut().enumerate() {
            if (s as u32) >> last != p {
                *c = f32::INFINITY;
            }
        }
    }

    for t in 1..n {
        let back_t = &mut back[t * (STATES / 2)..(t + 1) * (STATES / 2)];
        match steps[t - 1] {
            1 => step::<1, 2>(x[t], cost, next, best, back_t, values_rev, avx2),
            2 => step::<2, 4>(x[t], cost, next, best, back_t, values_rev, avx2),
            _ => step::<3, 8>(x[t], cost, next, best, back_t, values_rev, avx2),
        }
        core::mem::swap(cost, next);
    }

    let mut end = None;
    let mut best_cost = f32::INFINITY;
    for (s, &c) in cost.iter().enumerate() {
        if let Some((p, last)) = shared
            && s as u32 & ((1u32 << (STATE_BITS - last)) - 1) != p
        {
            continue;
        }
        if end.is_none() || c < best_cost {
            best_cost = c;
            end = Some(s);
        }
    }
    let mut s = end.unwrap_or(0) as u32;
    for t in (0..n).rev() {
        path[t] = s;
        if t > 0 {
            let d = steps[t - 1];
            let u = s >> d;
            let j = back[t * (STATES / 2) + u as usize] as u32;
            s = u | (j << (STATE_BITS - d));
        }
    }
}
}

/// One trellis step of shift `D`: the predecessors of state `s` are `(s >> D) | j << (L - D)`,
/// the same index `s >> D` in each of the `2^D` runs of `cost`.
#[inline(always)]
fn step<const D: usize, const F: usize>(
    xt: f32,
    cost: &[f32],
    next: &mut [f32],
    best: &mut [f32],
    back_t: &mut [u8],
    values_rev: &[f32],
    avx2: bool,
) {
    let preds = STATES >> D;
    let best = &mut best[..preds];
    // Costs are never negative, so their bits order as integers do. Each state's runs are
    // compared in registers and stored once: a loop over the runs with the best so far and its
    // run in memory became masked stores, which AMD's cores run slowly (encoding took 1.8 times
    // as long: `nct_probe 512 2+ 1`, 1.7 s against 0.91). The first of equal costs wins, as it
    // always has.
    for (i, (b, o)) in best.iter_mut().zip(back_t[..preds].iter_mut()).enumerate() {
        let mut bb = cost[i].to_bits() as i32;
        let mut k = 0i32;
        for j in 1..F {
            let c = cost[j * preds + i].to_bits() as i32;
            let m = -((c < bb) as i32);
            bb = (bb & !m) | (c & m);
            k = (k & !m) | (j as i32 & m);
        }
        *b = f32::from_bits(bb as u32);
        *o = k as u8;
    }
    fill_next::<D>(xt, next, best, values_rev, avx2);
}

/// `next[s] = best[s >> D] + (xt - values_rev[s])^2` for every state. With AVX2 (the builds of
/// [`viterbi`] that run where [`crate::simd::level`] finds it) eight states a vector, their
/// predecessors' costs spread by one permute: compiled from the portable loop, the compiler
/// interleaved whole runs with shuffles and encoding took 1.8 times as long (`nct_probe 512 2+
/// 1`, 0.91 s against 0.51 on an AMD EPYC).
#[inline(always)]
fn fill_next<const D: usize>(xt: f32, next: &mut [f32], best: &[f32], values_rev: &[f32], avx2: bool) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if avx2 {
        // SAFETY: V1 (crate::simd) - `avx2` is `simd::avx2()`: `level` found AVX2 on this CPU.
        #[allow(unsafe_code)]
        return unsafe { x86::fill_next::<D>(xt, next, best, values_rev) };
    }
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    let _ = avx2;
    for ((chunk, vals), &m) in next.chunks_exact_mut(1 << D).zip(values_rev.chunks_exact(1 << D)).zip(best.iter()) {
        for (o, &v) in chunk.iter_mut().zip(vals) {
            let e = xt - v;
            *o = m + e * e;
        }
    }
}

#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[allow(unsafe_code)]
mod x86 {
    use core::arch::x86_64::*;

    /// [`super::fill_next`] with AVX2: the same `m + e * e` in `f32`, a multiply then an add
    /// (no fused multiply-add), so the same bits.
    ///
    /// # Safety
    /// The CPU must have AVX2 (invariant V1 of [`crate::simd`]).
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn fill_next<const D: usize>(xt: f32, next: &mut [f32], best: &[f32], values_rev: &[f32]) {
        let x = _mm256_set1_ps(xt);
        // Lane `i` takes the predecessor `i >> D` of the eight states' first.
        let spread = match D {
            1 => _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3),
            2 => _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1),
            _ => _mm256_setzero_si256(),
        };
        let mut from = [0f32; 8];
        for ((out, vals), b) in next.chunks_exact_mut(8).zip(values_rev.chunks_exact(8)).zip(best.chunks_exact(8 >> D))
        {
            from[..b.len()].copy_from_slice(b);
            // SAFETY: `from`, `vals` and `out` are eight f32 each: 32 bytes to read or write.
            unsafe {
                let m = _mm256_permutevar8x32_ps(_mm256_loadu_ps(from.as_ptr()), spread);
                let e = _mm256_sub_ps(x, _mm256_loadu_ps(vals.as_ptr()));
                _mm256_storeu_ps(out.as_mut_ptr(), _mm256_add_ps(m, _mm256_mul_ps(e, e)));
            }
        }
    }
}

/// The window of every weight of a block of `n` weights stored in `bits` (whole bytes).
#[cfg(test)]
pub(crate) fn block_windows(bits: &[u8], n: usize, out: &mut [u32]) {
    let total = bits.len() * 8;
    let n_log2 = n.trailing_zeros();
    let mask = (1u32 << STATE_BITS) - 1;
    // The bytes a window may read past the end are the block's first ones.
    let safe = bits.len().saturating_sub(3);
    let mut tail = [0u8; 8];
    for (t, o) in out[..n].iter_mut().enumerate() {
        let p = position(t, total, n_log2);
        let byte = p / 8;
        let word = if byte < safe {
            u32::from_le_bytes([bits[byte], bits[byte + 1], bits[byte + 2], bits[byte + 3]])
        } else {
            for (i, b) in tail[..4].iter_mut().enumerate() {
                *b = bits[(byte + i) % bits.len()];
            }
            u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]])
        };
        *o = (word >> (p % 8)) & mask;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use alloc::vec;

    fn random_values(seed: u64) -> Vec<f32> {
        let mut r = SplitMix64::new(seed);
        (0..STATES).map(|_| r.gaussian() as f32).collect()
    }

    #[test]
    fn encoded_windows_are_the_decoded_ones_at_every_rate() {
        let values = random_values(1);
        let mut search = Search::default();
        search.set_values(&values);
        let mut r = SplitMix64::new(2);
        for &(n, bits) in &[(64usize, 64usize), (64, 128), (64, 192), (128, 200), (256, 488), (128, 384)] {
            let x: Vec<f32> = (0..n).map(|_| r.gaussian() as f32).collect();
            let mut out = vec![0u8; bits / 8];
            let mut w = vec![0u32; n];
            encode_block(&x, bits, &mut out, &mut w, &mut search);
            let mut decoded = vec![0u32; n];
            block_windows(&out, n, &mut decoded);
            assert_eq!(w, decoded, "n {n} bits {bits}");
        }
    }

    #[test]
    fn viterbi_beats_independent_rounding_to_the_table() {
        // Greedy: each weight's best window given the previous one. Viterbi must do better.
        let values = random_values(3);
        let mut search = Search::default();
        search.set_values(&values);
        let mut r = SplitMix64::new(4);
        let n = 256;
        let x: Vec<f32> = (0..n).map(|_| r.gaussian() as f32).collect();
        let mut out = vec![0u8; 2 * n / 8];
        let mut w = vec![0u32; n];
        encode_block(&x, 2 * n, &mut out, &mut w, &mut search);
        let err: f32 = x.iter().zip(&w).map(|(a, &s)| (a - values[s as usize]).powi(2)).sum();
        let energy: f32 = x.iter().map(|a| a * a).sum();
        let snr = 10.0 * (energy / err).log10();
        // Lloyd-Max scalar quantization of a Gaussian at 2 bits reaches 9.3 dB.
        assert!(snr > 9.8, "snr {snr}");
    }

    /// Every vector build the CPU has finds the same path as the portable one, at every step
    /// size, constrained (tail-biting) or not, including ties (a table with repeated values).
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[test]
    fn every_vector_build_finds_the_portable_path() {
        use crate::simd::{self, Level};
        let have = simd::detected();
        if have == Level::Baseline {
            std::eprintln!("SKIPPED every_vector_build_finds_the_portable_path: this CPU has no AVX2");
            return;
        }
        if have < Level::Avx512 {
            std::eprintln!("every_vector_build_finds_the_portable_path: no AVX-512 here, AVX2 only");
        }
        let mut r = SplitMix64::new(5);
        for (table_seed, coarse) in [(6u64, false), (7, true)] {
            let mut values = random_values(table_seed);
            if coarse {
                // Few distinct values: many equal costs, so the tie-breaking must agree too.
                values.iter_mut().for_each(|v| *v = (*v * 2.0).round() / 2.0);
            }
            for &(n, bits) in &[(64usize, 64usize), (64, 128), (64, 192), (128, 200), (256, 488), (256, 512)] {
                let x: Vec<f32> = (0..n).map(|_| (r.gaussian() as f32 * 4.0).round() / 4.0).collect();
                let steps: Vec<u32> = (0..n)
                    .map(|t| (position(t + 1, bits, n.trailing_zeros()) - position(t, bits, n.trailing_zeros())) as u32)
                    .collect();
                for shared in [None, Some((5u32, steps[n - 1]))] {
                    let mut want = Search::default();
                    want.set_values(&values);
                    simd::with_level(Level::Baseline, || viterbi(&x, &steps, shared, &mut want));
                    for level in [Level::Avx2, Level::Avx512].into_iter().filter(|&l| l <= have) {
                        let mut got = Search::default();
                        got.set_values(&values);
                        simd::with_level(level, || viterbi(&x, &steps, shared, &mut got));
                        assert_eq!(got.path, want.path, "{level:?}, n {n} bits {bits} {shared:?}");
                    }
                }
            }
        }
    }
}
