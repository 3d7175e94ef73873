//! HCT's quantized tensors (int8 and int4 with per-group scales) dequantized on the device.

use crate::context::GpuDecoder;
use crate::error::GpuError;
use haagenti_hct::QuantScheme;

impl GpuDecoder {
    /// Dequantizes a `QuantScheme` payload of `n` values (as an HCT file stores a `Q8` or
    /// `Q4` tensor: the groups' scales, the int4 zero points, then the values) into a new
    /// storage buffer of `f32`s: the same bits as `QuantScheme::dequantize` on the CPU (its one
    /// multiply is exact where a GPU could flush subnormals; NaN scales give a quiet NaN, whose
    /// payload is not specified). Uploads 1 (int8) or 0.5 (int4) bytes a value, plus the scales,
    /// instead of 4.
    pub fn dequantize(&self, scheme: QuantScheme, payload: &[u8], n: u64) -> Result<wgpu::Buffer, GpuError> {
        if scheme.payload_len(n) != Some(payload.len() as u64) {
            return Err(GpuError::Unsupported(format!(
                "a payload of {} bytes for {n} values of {scheme:?} (which take {:?})",
                payload.len(),
                scheme.payload_len(n)
            )));
        }
        let limit = self.max_binding().min(u64::from(u32::MAX));
        if n * 4 > limit || payload.len() as u64 > limit {
            return Err(GpuError::TooLarge { what: "the tensor", bytes: n * 4, limit });
        }
        let out = self.output("dequantized values", n * 4)?;
        if n == 0 {
            return Ok(out);
        }
        let group = scheme.group();
        let groups = n.div_ceil(u64::from(group));
        let grid = self.grid(n.div_ceil(256))?;
        let params = self.uniform(&[n as u32, group, u32::from(scheme.code()), groups as u32, grid.0, 0, 0, 0]);
        let payload = self.storage("quantized payload", payload);
        self.dispatch(
            &self.pipelines.quant,
            &[(0, params.as_entire_binding()), (1, payload.as_entire_binding()), (2, out.as_entire_binding())],
            grid,
        );
        Ok(out)
    }
}
