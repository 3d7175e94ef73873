//! f32 results to half precision on the device: binary16 (`f16`) or bfloat16, rounded as the
//! CPU's `haagenti_hct::f32_to_f16` / `f32_to_bf16` round, bit for bit.

use crate::context::GpuDecoder;
use crate::error::GpuError;
use crate::nct::NctCodebook;
use haagenti_nct::EncodedTensor;

/// A 16-bit float format for [`GpuDecoder::to_half`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HalfFormat {
    /// IEEE 754 binary16.
    F16,
    /// bfloat16 (the top half of a binary32).
    Bf16,
}

impl GpuDecoder {
    /// Converts the first `n` `f32` values of `values` (a buffer a decoder returned) to
    /// `format` in a new storage buffer: two values a 32-bit word, the first in the low half,
    /// so its bytes are the values as little-endian `u16`s (padded to 4 bytes). Rounded to
    /// nearest even, with subnormals, overflow to infinity and NaN, exactly as
    /// `haagenti_hct::f32_to_f16` and `f32_to_bf16` round on the CPU (the kernel works on the
    /// bits in integers, so no adapter can flush or reorder anything).
    pub fn to_half(&self, values: &wgpu::Buffer, n: u64, format: HalfFormat) -> Result<wgpu::Buffer, GpuError> {
        if n * 4 > values.size() {
            return Err(GpuError::Unsupported(format!("{n} values from a buffer of {} bytes", values.size())));
        }
        let limit = self.max_binding().min(u64::from(u32::MAX));
        if n * 4 > limit {
            return Err(GpuError::TooLarge { what: "the values", bytes: n * 4, limit });
        }
        let words = n.div_ceil(2);
        let out = self.output("half values", words * 4)?;
        if n == 0 {
            return Ok(out);
        }
        let grid = self.grid(words.div_ceil(256))?;
        let kind = u32::from(format == HalfFormat::Bf16);
        let params = self.uniform(&[n as u32, kind, words as u32, grid.0]);
        let src = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: values,
            offset: 0,
            size: wgpu::BufferSize::new(n * 4),
        });
        self.dispatch(
            &self.pipelines.half,
            &[(0, params.as_entire_binding()), (1, src), (2, out.as_entire_binding())],
            grid,
        );
        Ok(out)
    }

    /// The tensor's weights decoded straight to `format` on the device ([`to_half`](Self::to_half)'s
    /// layout: two bytes a weight, padded to 4), the same bits as the CPU decoder's `f32`
    /// values converted with `haagenti_hct::f32_to_f16` / `f32_to_bf16`. One pass: the NCT
    /// kernel converts each weight as it computes it, so no `f32` buffer is written or read
    /// (half the output traffic of [`decode_nct`](Self::decode_nct) and no second kernel).
    pub fn decode_nct_half(
        &self,
        codebook: &NctCodebook,
        tensor: &EncodedTensor<'_>,
        format: HalfFormat,
    ) -> Result<wgpu::Buffer, GpuError> {
        let e = tensor.entry();
        let out = self.output("nct half weights", e.numel().div_ceil(2) * 4)?;
        self.decode_rows(codebook, tensor, 0..e.rows(), &out, 0, Some(format))?;
        Ok(out)
    }

    /// The first `n` 16-bit values of `buffer` ([`to_half`](Self::to_half)'s layout), read back.
    pub async fn read_u16(&self, buffer: &wgpu::Buffer, n: u64) -> Result<Vec<u16>, GpuError> {
        let bytes = self.read_bytes(buffer).await?;
        if (bytes.len() as u64) < n * 2 {
            return Err(GpuError::Readback(format!("{n} 16-bit values from {} bytes", bytes.len())));
        }
        Ok(bytes.chunks_exact(2).take(n as usize).map(|b| u16::from_le_bytes([b[0], b[1]])).collect())
    }
}
