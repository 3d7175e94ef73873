//! Row scales: one byte a row. Code 0 is an all-zero row; code `c` from 1 to 255 is the ratio
//! `MANT[c % 16] * 2^(c / 16 - 12)` (sixteen steps an octave) times the tensor's base scale,
//! computed as one `f32` multiply, so every reader gets the same scale.

/// `2^(i / 16)` for `i` in `0..16`, as `f32` bits (correctly rounded).
pub(crate) const MANT: [u32; 16] = [
    0x3F80_0000,
    0x3F85_AAC3,
    0x3F8B_95C2,
    0x3F91_C3D3,
    0x3F98_37F0,
    0x3F9E_F532,
    0x3FA5_FED7,
    0x3FAD_583F,
    0x3FB5_04F3,
    0x3FBD_08A4,
    0x3FC5_672A,
    0x3FCE_248C,
    0x3FD7_44FD,
    0x3FE0_CCDF,
    0x3FEA_C0C7,
    0x3FF5_257D,
];

/// The ratio of code `c` (1 to 255) to the base scale; exact (a mantissa times a power of two).
pub(crate) fn ratio(c: u8) -> f32 {
    let m = f32::from_bits(MANT[(c & 15) as usize]);
    let e = (c >> 4) as i32 - 12;
    m * f32::from_bits(((127 + e) as u32) << 23)
}

/// The scale of a row with code `c`: 0 for code 0, else `ratio(c) * base`.
pub(crate) fn row_scale(c: u8, base: f32) -> f32 {
    if c == 0 { 0.0 } else { ratio(c) * base }
}

/// The code whose ratio is nearest `r` in log terms, clamped to 1..=255 (`r > 0`).
pub(crate) fn nearest_code(r: f64) -> u8 {
    let steps = libm::round(libm::log2(r) * 16.0) + 12.0 * 16.0;
    steps.clamp(1.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_sixteen_steps_an_octave() {
        assert_eq!(ratio(12 * 16), 1.0);
        assert_eq!(ratio(13 * 16), 2.0);
        for (i, &m) in MANT.iter().enumerate() {
            let want = libm::pow(2.0, i as f64 / 16.0) as f32;
            assert_eq!(f32::from_bits(m), want, "entry {i}");
        }
        for c in 1..255u8 {
            assert!(ratio(c + 1) > ratio(c));
            assert_eq!(nearest_code(ratio(c) as f64), c);
        }
        assert_eq!(nearest_code(1e-9), 1);
        assert_eq!(nearest_code(1e9), 255);
    }
}
