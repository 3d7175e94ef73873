//! HCT byte planes on the GPU: a block's transformed bytes back to its elements.

use crate::context::GpuDecoder;
use crate::error::GpuError;
use haagenti_hct::Transform;

impl GpuDecoder {
    /// Undoes `transform` on `bytes` (a block of `width`-byte elements, as stored after
    /// entropy decoding) into a new storage buffer of the elements' bytes (padded to 4).
    /// `Transform::None` and 1-byte elements are uploaded as they are.
    pub fn unplane(&self, transform: Transform, width: usize, bytes: &[u8]) -> Result<wgpu::Buffer, GpuError> {
        if width == 0 || !bytes.len().is_multiple_of(width) {
            return Err(GpuError::Unsupported(format!("{} bytes of {width}-byte elements", bytes.len())));
        }
        let len = bytes.len() as u64;
        if len > self.max_binding() {
            return Err(GpuError::TooLarge { what: "the block", bytes: len, limit: self.max_binding() });
        }
        let out = self.output("elements", len)?;
        let rotate = match (transform, width) {
            (Transform::None, _) | (_, 1) => {
                let mut padded = bytes.to_vec();
                padded.resize(bytes.len().div_ceil(4) * 4, 0);
                self.queue.write_buffer(&out, 0, &padded);
                return Ok(out);
            }
            (_, 2 | 4 | 8) if len > 0 => u32::from(transform == Transform::SignExpPlanes),
            (_, 2 | 4 | 8) => return Ok(out),
            _ => return Err(GpuError::Unsupported(format!("{width}-byte elements (2, 4 or 8)"))),
        };
        let n = len / width as u64;
        let words = len.div_ceil(4);
        let src = self.storage("planes", bytes);
        let grid = self.grid(words.div_ceil(256))?;
        let params = self.uniform(&[n as u32, width as u32, rotate, words as u32, grid.0, 0, 0, 0]);
        self.dispatch(
            &self.pipelines.planes,
            &[(0, params.as_entire_binding()), (1, src.as_entire_binding()), (2, out.as_entire_binding())],
            grid,
        );
        Ok(out)
    }
}
