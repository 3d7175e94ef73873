//! Per-group quantization of f32 tensors to int8 and int4.
//!
//! Payload layouts (all little-endian), for `n` values in `g = ceil(n / group)` groups:
//!
//! | scheme | bytes |
//! |---|---|
//! | int8, symmetric | `g` f32 scales, then `n` i8 values |
//! | int4, asymmetric | `g` f32 scales, then `g` u8 zero points (0..=15), then `ceil(n / 2)` bytes of 4-bit values, element `2k` in the low nibble of byte `k` |
//!
//! int8: `scale = max|x| / 127` over the group, `q = round(x / scale)`, `x' = q * scale`
//! (error at most `scale / 2`). int4: `scale = (max - min) / 15`, `zero = round(-min / scale)`
//! clamped to 0..=15, `q = clamp(round(x / scale) + zero, 0, 15)`, `x' = (q - zero) * scale`
//! (error at most `scale`: the zero point's rounding shifts the grid by up to half a step).

use alloc::vec::Vec;

use crate::HctError;

/// A quantization scheme and its group size (values per scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuantScheme {
    /// int8, symmetric: one f32 scale per group.
    Int8 {
        /// Values per group (at least 1).
        group: u32,
    },
    /// int4, asymmetric: one f32 scale and one zero point per group.
    Int4 {
        /// Values per group (at least 1).
        group: u32,
    },
}

impl QuantScheme {
    /// The code stored in the index.
    pub fn code(self) -> u8 {
        match self {
            QuantScheme::Int8 { .. } => 1,
            QuantScheme::Int4 { .. } => 2,
        }
    }

    /// The scheme of an index code and group size.
    pub fn from_code(code: u8, group: u32) -> Option<Self> {
        match (code, group) {
            (_, 0) => None,
            (1, group) => Some(QuantScheme::Int8 { group }),
            (2, group) => Some(QuantScheme::Int4 { group }),
            _ => None,
        }
    }

    /// Values per group.
    pub fn group(self) -> u32 {
        match self {
            QuantScheme::Int8 { group } | QuantScheme::Int4 { group } => group,
        }
    }

    /// The dtype a tensor stored with this scheme has.
    pub fn dtype(self) -> crate::DType {
        match self {
            QuantScheme::Int8 { .. } => crate::DType::Q8,
            QuantScheme::Int4 { .. } => crate::DType::Q4,
        }
    }

    /// Payload bytes for `n` values; `None` on overflow.
    pub fn payload_len(self, n: u64) -> Option<u64> {
        let groups = n.div_ceil(u64::from(self.group().max(1)));
        match self {
            QuantScheme::Int8 { .. } => groups.checked_mul(4)?.checked_add(n),
            QuantScheme::Int4 { .. } => groups.checked_mul(5)?.checked_add(n.div_ceil(2)),
        }
    }

    /// Quantizes `values`; they must all be finite.
    pub fn quantize(self, values: &[f32]) -> Result<Vec<u8>, HctError> {
        if self.group() == 0 {
            return Err(HctError::InvalidInput("quantization group size 0".into()));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(HctError::InvalidInput(alloc::format!("value {i} is not finite; it cannot be quantized")));
        }
        let group = self.group() as usize;
        let n = values.len();
        let len = self.payload_len(n as u64).expect("fits: the values are in memory") as usize;
        let mut out = Vec::with_capacity(len);
        match self {
            QuantScheme::Int8 { .. } => {
                let scales: Vec<f32> =
                    values.chunks(group).map(|g| g.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0).collect();
                scales.iter().for_each(|s| out.extend_from_slice(&s.to_le_bytes()));
                for (g, &s) in values.chunks(group).zip(&scales) {
                    let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
                    out.extend(g.iter().map(|v| round(v * inv).clamp(-127.0, 127.0) as i8 as u8));
                }
            }
            QuantScheme::Int4 { .. } => {
                let params: Vec<(f32, u8)> = values
                    .chunks(group)
                    .map(|g| {
                        let (lo, hi) = g.iter().fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
                        let scale = (hi - lo) / 15.0;
                        let zero = if scale > 0.0 { round(-lo / scale).clamp(0.0, 15.0) as u8 } else { 0 };
                        (scale, zero)
                    })
                    .collect();
                params.iter().for_each(|p| out.extend_from_slice(&p.0.to_le_bytes()));
                params.iter().for_each(|p| out.push(p.1));
                let q = |i: usize| {
                    let (scale, zero) = params[i / group];
                    if scale > 0.0 { (round(values[i] / scale) + f32::from(zero)).clamp(0.0, 15.0) as u8 } else { zero }
                };
                for k in 0..n.div_ceil(2) {
                    let hi = if 2 * k + 1 < n { q(2 * k + 1) } else { 0 };
                    out.push(q(2 * k) | hi << 4);
                }
            }
        }
        debug_assert_eq!(out.len(), len);
        Ok(out)
    }

    /// Dequantizes a payload of `n` values.
    pub fn dequantize(self, payload: &[u8], n: u64) -> Result<Vec<f32>, HctError> {
        if self.payload_len(n) != Some(payload.len() as u64) {
            return Err(HctError::Corrupt { what: "quantized payload size" });
        }
        let (n, group) = (n as usize, self.group() as usize);
        let groups = n.div_ceil(group);
        let f32_at = |i: usize| f32::from_le_bytes([payload[i], payload[i + 1], payload[i + 2], payload[i + 3]]);
        let mut out = Vec::with_capacity(n);
        match self {
            QuantScheme::Int8 { .. } => {
                let values = &payload[4 * groups..];
                for (gi, g) in values.chunks(group).enumerate() {
                    let s = f32_at(4 * gi);
                    out.extend(g.iter().map(|&q| f32::from(q as i8) * s));
                }
            }
            QuantScheme::Int4 { .. } => {
                let zeros = &payload[4 * groups..5 * groups];
                let packed = &payload[5 * groups..];
                for i in 0..n {
                    let q = packed[i / 2] >> (4 * (i % 2)) & 15;
                    let gi = i / group;
                    out.push((f32::from(q) - f32::from(zeros[gi])) * f32_at(4 * gi));
                }
            }
        }
        Ok(out)
    }
}

/// Rounds half away from zero (`f32::round` is not in `core`); exact for every finite f32
/// below 2^62 in magnitude, which covers the quotients above (at most 2^31 after clamping
/// inputs, and `as` saturates beyond).
fn round(x: f32) -> f32 {
    let x = f64::from(x);
    (if x >= 0.0 { x + 0.5 } else { x - 0.5 }) as i64 as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 * 0.37).sin() * (1.0 + (i % 7) as f32)) * 0.05).collect()
    }

    #[test]
    fn int8_error_is_at_most_half_a_step() {
        let v = values(1000);
        let s = QuantScheme::Int8 { group: 64 };
        let p = s.quantize(&v).unwrap();
        assert_eq!(p.len() as u64, s.payload_len(1000).unwrap());
        let back = s.dequantize(&p, 1000).unwrap();
        for (g, (a, b)) in v.chunks(64).zip(back.chunks(64)).enumerate() {
            let step = g_max(a) / 127.0;
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() <= step / 2.0 + 1e-7, "group {g}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn int4_error_is_at_most_one_step() {
        let v = values(999);
        let s = QuantScheme::Int4 { group: 32 };
        let p = s.quantize(&v).unwrap();
        let back = s.dequantize(&p, 999).unwrap();
        for (a, b) in v.chunks(32).zip(back.chunks(32)) {
            let (lo, hi) = a.iter().fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
            let step = (hi - lo) / 15.0;
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() <= step + 1e-6, "{x} vs {y}, step {step}");
            }
        }
    }

    #[test]
    fn constant_groups_and_bad_input() {
        let s = QuantScheme::Int4 { group: 4 };
        let back = s.dequantize(&s.quantize(&[0.0; 9]).unwrap(), 9).unwrap();
        assert_eq!(back, [0.0; 9]);
        assert!(s.quantize(&[1.0, f32::NAN]).is_err());
        assert!(QuantScheme::Int8 { group: 0 }.quantize(&[1.0]).is_err());
        assert!(s.dequantize(&[0; 3], 9).is_err());
    }

    fn g_max(a: &[f32]) -> f32 {
        a.iter().fold(0f32, |m, v| m.max(v.abs()))
    }
}
