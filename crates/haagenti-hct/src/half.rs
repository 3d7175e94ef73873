//! Half-precision floats (IEEE binary16 and bfloat16) to and from f32: the one conversion
//! the workspace uses, here because this is the lowest crate that knows dtypes.

use alloc::vec::Vec;

use crate::DType;

/// f32 to bfloat16, rounded to nearest even (NaN stays a quiet NaN).
pub fn f32_to_bf16(v: f32) -> u16 {
    let b = v.to_bits();
    if v.is_nan() {
        return (b >> 16) as u16 | 0x40;
    }
    ((b + 0x7fff + (b >> 16 & 1)) >> 16) as u16
}

/// A bfloat16 value as f32 (exact: bfloat16 is the top half of a binary32).
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// f32 to IEEE binary16, rounded to nearest even, with subnormals, overflow to infinity and
/// NaN.
pub fn f32_to_f16(v: f32) -> u16 {
    let b = v.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let man = b & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 31 {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        // Subnormal: the mantissa with its implicit bit, shifted into place and rounded.
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1 << (shift - 1);
        return sign | ((m + half - 1 + ((m >> shift) & 1)) >> shift) as u16;
    }
    // A carry out of the mantissa rounds up into the exponent (and to infinity past 65504).
    let rounded = (((e as u32) << 10) | (man >> 13)) + (((man & 0x1fff) + 0xfff + ((man >> 13) & 1)) >> 13);
    sign | rounded as u16
}

/// An IEEE binary16 value as f32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from(h >> 10 & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: normalize.
            let shift = m.leading_zeros() - 21;
            sign | (113 - shift) << 23 | (m << shift & 0x3ff) << 13
        }
        (31, m) => sign | 0xff << 23 | m << 13,
        (e, m) => sign | (e + 112) << 23 | m << 13,
    };
    f32::from_bits(bits)
}

/// The values of little-endian [`DType::F32`], [`DType::F16`] or [`DType::BF16`] bytes as
/// f32, exactly; `None` for any other dtype. A trailing partial element is ignored.
pub fn f32_values(dtype: DType, bytes: &[u8]) -> Option<Vec<f32>> {
    let pairs = || bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    Some(match dtype {
        DType::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        DType::BF16 => pairs().map(bf16_to_f32).collect(),
        DType::F16 => pairs().map(f16_to_f32).collect(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_matches_known_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
    }

    #[test]
    fn bf16_is_the_top_half_and_rounds_to_nearest_even() {
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
        assert_eq!(bf16_to_f32(0xc000), -2.0);
        // 1 + 2^-8 is halfway between two bf16 values: it rounds to the even one, 1.0.
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f80_8000)), 0x3f80);
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f81_8000)), 0x3f82);
        assert!(bf16_to_f32(f32_to_bf16(f32::NAN)).is_nan());
    }

    #[test]
    fn f32_values_reads_each_float_dtype_and_nothing_else() {
        let one_and_minus_two = |d: DType, b: &[u8]| f32_values(d, b).unwrap() == [1.0, -2.0];
        assert!(one_and_minus_two(DType::F32, &[0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]));
        assert!(one_and_minus_two(DType::F16, &[0, 0x3c, 0, 0xc0]));
        assert!(one_and_minus_two(DType::BF16, &[0x80, 0x3f, 0, 0xc0]));
        assert_eq!(f32_values(DType::I16, &[0, 0]), None);
    }
}
