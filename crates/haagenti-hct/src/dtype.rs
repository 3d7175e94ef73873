//! Element types, with their codes in the file and their safetensors names.

/// The element type of a tensor.
///
/// The plain types are stored as their little-endian bytes; [`DType::Q8`] and [`DType::Q4`]
/// are quantized float tensors whose payload is laid out by [`crate::quant`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DType {
    /// IEEE 754 binary32.
    F32,
    /// IEEE 754 binary16.
    F16,
    /// bfloat16 (the top half of a binary32).
    BF16,
    /// Signed bytes.
    I8,
    /// Unsigned bytes.
    U8,
    /// IEEE 754 binary64.
    F64,
    /// Signed 16-bit integers.
    I16,
    /// Unsigned 16-bit integers.
    U16,
    /// Signed 32-bit integers.
    I32,
    /// Unsigned 32-bit integers.
    U32,
    /// Signed 64-bit integers.
    I64,
    /// Unsigned 64-bit integers.
    U64,
    /// Booleans, one byte each.
    Bool,
    /// 8-bit float, 4 exponent and 3 mantissa bits.
    F8E4M3,
    /// 8-bit float, 5 exponent and 2 mantissa bits.
    F8E5M2,
    /// Floats quantized to int8, symmetric, one f32 scale per group.
    Q8,
    /// Floats quantized to int4, asymmetric, one f32 scale and one zero point per group.
    Q4,
}

impl DType {
    const TABLE: [(DType, u8, &'static str, usize); 17] = [
        (DType::F32, 1, "F32", 4),
        (DType::F16, 2, "F16", 2),
        (DType::BF16, 3, "BF16", 2),
        (DType::I8, 4, "I8", 1),
        (DType::U8, 5, "U8", 1),
        (DType::F64, 6, "F64", 8),
        (DType::I16, 7, "I16", 2),
        (DType::U16, 8, "U16", 2),
        (DType::I32, 9, "I32", 4),
        (DType::U32, 10, "U32", 4),
        (DType::I64, 11, "I64", 8),
        (DType::U64, 12, "U64", 8),
        (DType::Bool, 13, "BOOL", 1),
        (DType::F8E4M3, 14, "F8_E4M3", 1),
        (DType::F8E5M2, 15, "F8_E5M2", 1),
        (DType::Q8, 32, "Q8", 0),
        (DType::Q4, 33, "Q4", 0),
    ];

    fn entry(self) -> (DType, u8, &'static str, usize) {
        *Self::TABLE.iter().find(|e| e.0 == self).expect("every dtype is in the table")
    }

    /// The code stored in the index.
    pub fn code(self) -> u8 {
        self.entry().1
    }

    /// The dtype of an index code, if it is one.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::TABLE.iter().find(|e| e.1 == code).map(|e| e.0)
    }

    /// The name safetensors uses (`"Q8"` and `"Q4"` are ours; safetensors has no such types).
    pub fn name(self) -> &'static str {
        self.entry().2
    }

    /// The dtype of a safetensors name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::TABLE.iter().find(|e| e.2 == name && e.3 > 0).map(|e| e.0)
    }

    /// Bytes per element of a plain type; 0 for the quantized ones (their payload has its own
    /// layout).
    pub fn size(self) -> usize {
        self.entry().3
    }

    /// Whether this is a quantized type.
    pub fn is_quantized(self) -> bool {
        matches!(self, DType::Q8 | DType::Q4)
    }

    /// Whether the float transforms apply: floats of 2 bytes or more.
    pub fn is_wide_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16 | DType::F64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for (d, code, name, _) in DType::TABLE {
            assert_eq!(DType::from_code(code), Some(d));
            assert_eq!(d.name(), name);
            if !d.is_quantized() {
                assert_eq!(DType::from_name(name), Some(d));
            }
        }
        assert_eq!(DType::from_code(0), None);
        assert_eq!(DType::from_name("Q8"), None, "quantized types are not safetensors types");
    }
}
