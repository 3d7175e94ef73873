//! Lossless byte transforms applied to a block before entropy coding.
//!
//! Float weights compress poorly as they are: each element interleaves a low-entropy exponent
//! with near-random mantissa bits. Grouping the bytes by their position in the element puts
//! the exponents together, where an entropy coder finds their skew, and leaves the mantissa
//! bytes together, where the coder can store them as they are.

use alloc::vec::Vec;

/// A reversible rearrangement of a block of `width`-byte elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transform {
    /// Bytes as they are.
    None,
    /// Byte planes: byte 0 of every element, then byte 1 of every element, and so on.
    BytePlanes,
    /// Each element rotated left by one bit (the sign moves to the bottom, so the exponent
    /// fills the top byte exactly for f32, bf16 and f64), then byte planes.
    SignExpPlanes,
}

impl Transform {
    /// Every transform, in code order.
    pub const ALL: [Transform; 3] = [Transform::None, Transform::BytePlanes, Transform::SignExpPlanes];

    /// The code stored in the index.
    pub fn code(self) -> u8 {
        match self {
            Transform::None => 0,
            Transform::BytePlanes => 1,
            Transform::SignExpPlanes => 2,
        }
    }

    /// The transform of an index code, if it is one.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    /// Applies the transform to `src`, whose length is a multiple of `width` (1, 2, 4 or 8).
    pub fn forward(self, width: usize, src: &[u8]) -> Vec<u8> {
        debug_assert!(src.len().is_multiple_of(width.max(1)));
        match (self, width) {
            (Transform::None, _) | (_, 0 | 1) => src.to_vec(),
            (Transform::BytePlanes, w) => planes(w, src, false),
            (Transform::SignExpPlanes, w) => planes(w, src, true),
        }
    }

    /// Undoes [`forward`](Self::forward), appending the original bytes to `dst`.
    pub fn inverse(self, width: usize, src: &[u8], dst: &mut Vec<u8>) {
        match (self, width) {
            (Transform::None, _) | (_, 0 | 1) => dst.extend_from_slice(src),
            (Transform::BytePlanes, w) => unplanes(w, src, false, dst),
            (Transform::SignExpPlanes, w) => unplanes(w, src, true, dst),
        }
    }
}

/// Byte planes of `src`, each element first rotated left by one bit when `rotate`.
fn planes(width: usize, src: &[u8], rotate: bool) -> Vec<u8> {
    let n = src.len() / width;
    let mut out = alloc::vec![0u8; n * width];
    match width {
        2 => {
            let (p0, p1) = out.split_at_mut(n);
            for ((e, a), b) in src.chunks_exact(2).zip(p0).zip(p1) {
                let mut v = u16::from_le_bytes([e[0], e[1]]);
                if rotate {
                    v = v.rotate_left(1);
                }
                [*a, *b] = v.to_le_bytes();
            }
        }
        4 => {
            let (p0, rest) = out.split_at_mut(n);
            let (p1, rest) = rest.split_at_mut(n);
            let (p2, p3) = rest.split_at_mut(n);
            for (i, e) in src.chunks_exact(4).enumerate() {
                let mut v = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
                if rotate {
                    v = v.rotate_left(1);
                }
                [p0[i], p1[i], p2[i], p3[i]] = v.to_le_bytes();
            }
        }
        _ => {
            for (i, e) in src.chunks_exact(width).enumerate() {
                let mut bytes = [0u8; 8];
                bytes[..width].copy_from_slice(e);
                let mut v = u64::from_le_bytes(bytes);
                if rotate {
                    let bits = 8 * width as u32;
                    v = (v << 1 | v >> (bits - 1)) & (u64::MAX >> (64 - bits));
                }
                for (p, b) in v.to_le_bytes()[..width].iter().enumerate() {
                    out[p * n + i] = *b;
                }
            }
        }
    }
    out
}

/// The inverse of [`planes`], appended to `dst`.
fn unplanes(width: usize, src: &[u8], rotate: bool, dst: &mut Vec<u8>) {
    let n = src.len() / width;
    dst.reserve(n * width);
    match (width, rotate) {
        (2, false) => unplanes2::<false>(src, n, dst),
        (2, true) => unplanes2::<true>(src, n, dst),
        (4, false) => unplanes4::<false>(src, n, dst),
        (4, true) => unplanes4::<true>(src, n, dst),
        _ => {
            for i in 0..n {
                let mut bytes = [0u8; 8];
                for (p, b) in bytes[..width].iter_mut().enumerate() {
                    *b = src[p * n + i];
                }
                let mut v = u64::from_le_bytes(bytes);
                if rotate {
                    let bits = 8 * width as u32;
                    v = (v >> 1 | v << (bits - 1)) & (u64::MAX >> (64 - bits));
                }
                dst.extend_from_slice(&v.to_le_bytes()[..width]);
            }
        }
    }
}

/// Elements interleaved per step of the vector loops.
const GROUP: usize = 16;

fn unplanes2<const ROTATE: bool>(src: &[u8], n: usize, dst: &mut Vec<u8>) {
    let (p0, p1) = src.split_at(n);
    let full = n / GROUP * GROUP;
    let mut buf = [0u8; 2 * GROUP];
    for (a, b) in p0[..full].chunks_exact(GROUP).zip(p1[..full].chunks_exact(GROUP)) {
        simd::interleave2::<ROTATE>(a.try_into().expect("group"), b.try_into().expect("group"), &mut buf);
        dst.extend_from_slice(&buf);
    }
    for i in full..n {
        let mut v = u16::from_le_bytes([p0[i], p1[i]]);
        if ROTATE {
            v = v.rotate_right(1);
        }
        dst.extend_from_slice(&v.to_le_bytes());
    }
}

fn unplanes4<const ROTATE: bool>(src: &[u8], n: usize, dst: &mut Vec<u8>) {
    let (p0, rest) = src.split_at(n);
    let (p1, rest) = rest.split_at(n);
    let (p2, p3) = rest.split_at(n);
    let full = n / GROUP * GROUP;
    let mut buf = [0u8; 4 * GROUP];
    let groups = p0[..full]
        .chunks_exact(GROUP)
        .zip(p1[..full].chunks_exact(GROUP))
        .zip(p2[..full].chunks_exact(GROUP).zip(p3[..full].chunks_exact(GROUP)));
    for ((a, b), (c, d)) in groups {
        let g = |s: &[u8]| -> [u8; GROUP] { s.try_into().expect("group") };
        simd::interleave4::<ROTATE>(&[g(a), g(b), g(c), g(d)], &mut buf);
        dst.extend_from_slice(&buf);
    }
    for i in full..n {
        let mut v = u32::from_le_bytes([p0[i], p1[i], p2[i], p3[i]]);
        if ROTATE {
            v = v.rotate_right(1);
        }
        dst.extend_from_slice(&v.to_le_bytes());
    }
}

/// Byte interleaving of 16 elements at a time: SSE2 on x86-64 (every x86-64 CPU has it),
/// portable code elsewhere.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod simd {
    use core::arch::x86_64::*;

    use super::GROUP;

    /// `out` = the 16 elements whose low bytes are `a` and high bytes `b`, each rotated right
    /// by one bit when `ROTATE`.
    #[inline(always)]
    pub(super) fn interleave2<const ROTATE: bool>(a: &[u8; GROUP], b: &[u8; GROUP], out: &mut [u8; 2 * GROUP]) {
        // SAFETY: SSE2 is part of the x86-64 baseline; loads read exactly the 16 bytes of `a`
        // and `b` and stores write exactly the 32 bytes of `out` (unaligned forms).
        unsafe {
            let (a, b) = (_mm_loadu_si128(a.as_ptr().cast()), _mm_loadu_si128(b.as_ptr().cast()));
            let mut lo = _mm_unpacklo_epi8(a, b);
            let mut hi = _mm_unpackhi_epi8(a, b);
            if ROTATE {
                lo = _mm_or_si128(_mm_srli_epi16(lo, 1), _mm_slli_epi16(lo, 15));
                hi = _mm_or_si128(_mm_srli_epi16(hi, 1), _mm_slli_epi16(hi, 15));
            }
            _mm_storeu_si128(out.as_mut_ptr().cast(), lo);
            _mm_storeu_si128(out.as_mut_ptr().add(16).cast(), hi);
        }
    }

    /// `out` = the 16 elements whose bytes 0..4 are `planes[0..4]`, each rotated right by one
    /// bit when `ROTATE`.
    #[inline(always)]
    pub(super) fn interleave4<const ROTATE: bool>(planes: &[[u8; GROUP]; 4], out: &mut [u8; 4 * GROUP]) {
        // SAFETY: SSE2 is part of the x86-64 baseline; each load reads one 16-byte plane array
        // and the four stores write the 64 bytes of `out` (unaligned forms).
        unsafe {
            let l = |p: &[u8; GROUP]| _mm_loadu_si128(p.as_ptr().cast());
            let (a, b, c, d) = (l(&planes[0]), l(&planes[1]), l(&planes[2]), l(&planes[3]));
            let (ab_lo, ab_hi) = (_mm_unpacklo_epi8(a, b), _mm_unpackhi_epi8(a, b));
            let (cd_lo, cd_hi) = (_mm_unpacklo_epi8(c, d), _mm_unpackhi_epi8(c, d));
            let words = [
                _mm_unpacklo_epi16(ab_lo, cd_lo),
                _mm_unpackhi_epi16(ab_lo, cd_lo),
                _mm_unpacklo_epi16(ab_hi, cd_hi),
                _mm_unpackhi_epi16(ab_hi, cd_hi),
            ];
            for (k, mut w) in words.into_iter().enumerate() {
                if ROTATE {
                    w = _mm_or_si128(_mm_srli_epi32(w, 1), _mm_slli_epi32(w, 31));
                }
                _mm_storeu_si128(out.as_mut_ptr().add(16 * k).cast(), w);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod simd {
    use super::GROUP;

    #[inline(always)]
    pub(super) fn interleave2<const ROTATE: bool>(a: &[u8; GROUP], b: &[u8; GROUP], out: &mut [u8; 2 * GROUP]) {
        for j in 0..GROUP {
            let mut v = u16::from_le_bytes([a[j], b[j]]);
            if ROTATE {
                v = v.rotate_right(1);
            }
            out[2 * j..2 * j + 2].copy_from_slice(&v.to_le_bytes());
        }
    }

    #[inline(always)]
    pub(super) fn interleave4<const ROTATE: bool>(planes: &[[u8; GROUP]; 4], out: &mut [u8; 4 * GROUP]) {
        let [a, b, c, d] = planes;
        for j in 0..GROUP {
            let mut v = u32::from_le_bytes([a[j], b[j], c[j], d[j]]);
            if ROTATE {
                v = v.rotate_right(1);
            }
            out[4 * j..4 * j + 4].copy_from_slice(&v.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transform_inverts_at_every_width() {
        let all: Vec<u8> = (0..4096u32 + 40).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        // Whole vector groups, tails of every length, and nothing.
        for len in [0, 8, 64, 136, 4096 + 40] {
            let src = &all[..len];
            for t in Transform::ALL {
                for w in [1, 2, 4, 8] {
                    let f = t.forward(w, src);
                    assert_eq!(f.len(), src.len());
                    let mut back = alloc::vec![7u8];
                    t.inverse(w, &f, &mut back);
                    assert_eq!(&back[1..], src, "{t:?} width {w} length {len}");
                }
            }
        }
    }

    #[test]
    fn sign_exponent_planes_put_the_f32_exponent_in_the_top_plane() {
        let values = [1.0f32, -2.0, 0.5, -0.25];
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let f = Transform::SignExpPlanes.forward(4, &bytes);
        let top = &f[12..16];
        let exps: Vec<u8> = values.iter().map(|v| (v.to_bits() >> 23) as u8).collect();
        assert_eq!(top, &exps[..]);
        // The sign is the lowest bit of the bottom plane.
        assert_eq!(f[..4].iter().map(|b| b & 1).collect::<Vec<_>>(), [0, 1, 0, 1]);
    }
}
