//! NCT on the GPU: [`GpuDecoder::decode_nct`] decodes an [`EncodedTensor`] (any number of its
//! stages) into an `f32` storage buffer with the bytes the CPU decoder produces.

use crate::context::{GpuDecoder, words_to_bytes};
use crate::error::GpuError;
use crate::half::HalfFormat;
use haagenti_holo::NctParts;
use haagenti_nct::{Codebook, EncodedTensor, NctFile};
use std::ops::Range;

/// Weights a workgroup decodes (the shader's `workgroup_size`).
const WORKGROUP: u64 = 256;

/// A file's codebook on the device (16 KiB), shared by every tensor of the file.
#[derive(Debug)]
pub struct NctCodebook {
    buffer: wgpu::Buffer,
}

impl GpuDecoder {
    /// Uploads `codebook` (once per file).
    pub fn nct_codebook(&self, codebook: &Codebook) -> NctCodebook {
        let words: Vec<u32> = codebook.entries().iter().map(|&e| i32::from(e) as u32).collect();
        NctCodebook { buffer: self.storage("nct codebook", &words_to_bytes(&words)) }
    }

    /// Decodes `tensor` (the stages it was viewed with) into a new `f32` storage buffer of
    /// `numel` values, row-major. Exact tensors are converted on the CPU and uploaded.
    pub fn decode_nct(&self, codebook: &NctCodebook, tensor: &EncodedTensor<'_>) -> Result<wgpu::Buffer, GpuError> {
        let e = tensor.entry();
        let out = self.output("nct weights", e.numel() * 4)?;
        self.decode_nct_rows_into(codebook, tensor, 0..e.rows(), &out, 0)?;
        Ok(out)
    }

    /// Decodes a HoloTensor `nct` tensor from the stages its decoder has so far
    /// ([`haagenti_holo::HoloDecoder::nct_parts`]) into a new `f32` storage buffer: the values
    /// of the decoder's reconstruction, bit for bit, left on the device.
    pub fn decode_holo_nct(&self, parts: &NctParts<'_>) -> Result<wgpu::Buffer, GpuError> {
        let file = NctFile::parse(parts.file)?;
        let codebook = self.nct_codebook(file.codebook());
        self.decode_nct(&codebook, &file.tensor(parts.tensor, parts.stages)?)
    }

    /// Decodes rows `rows` of `tensor` into `out` from byte `offset` (a multiple of 256):
    /// `rows.len() * cols` values. Large tensors are split into dispatches that each fit the
    /// device's binding limit.
    pub fn decode_nct_rows_into(
        &self,
        codebook: &NctCodebook,
        tensor: &EncodedTensor<'_>,
        rows: Range<u64>,
        out: &wgpu::Buffer,
        offset: u64,
    ) -> Result<(), GpuError> {
        self.decode_rows(codebook, tensor, rows, out, offset, None)
    }

    /// [`decode_nct_rows_into`](Self::decode_nct_rows_into) writing `f32` values (`half` is
    /// `None`) or half-precision ones, two a word (to the end of the last word: callers give
    /// whole tensors).
    pub(crate) fn decode_rows(
        &self,
        codebook: &NctCodebook,
        tensor: &EncodedTensor<'_>,
        rows: Range<u64>,
        out: &wgpu::Buffer,
        offset: u64,
        half: Option<HalfFormat>,
    ) -> Result<(), GpuError> {
        let e = tensor.entry();
        let size = if half.is_some() { 2 } else { 4 };
        let cols = e.cols();
        if rows.start > rows.end || rows.end > e.rows() {
            return Err(GpuError::Unsupported(format!("rows {rows:?} of a tensor of {} rows", e.rows())));
        }
        let bytes = ((rows.end - rows.start) * cols * size).div_ceil(4) * 4;
        if !offset.is_multiple_of(256) || offset + bytes > out.size() {
            return Err(GpuError::Unsupported(format!(
                "{bytes} bytes at offset {offset} of a buffer of {} (the offset must be a multiple of 256)",
                out.size()
            )));
        }
        if bytes == 0 {
            return Ok(());
        }
        if !e.is_quantized() {
            let mut values = vec![0f32; ((rows.end - rows.start) * cols) as usize];
            tensor.decode_rows_into(rows, &mut values)?;
            let mut bytes: Vec<u8> = match half {
                None => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                Some(HalfFormat::F16) => {
                    values.iter().flat_map(|&v| haagenti_hct::f32_to_f16(v).to_le_bytes()).collect()
                }
                Some(HalfFormat::Bf16) => {
                    values.iter().flat_map(|&v| haagenti_hct::f32_to_bf16(v).to_le_bytes()).collect()
                }
            };
            bytes.resize(bytes.len().div_ceil(4) * 4, 0);
            self.queue.write_buffer(out, offset, &bytes);
            return Ok(());
        }
        let g_log2 = e.group().trailing_zeros();
        let groups = cols >> g_log2;
        let stages = tensor.stage_data().len();
        let stage_row_bytes: u64 =
            e.stage_entries().iter().take(stages).map(|s| groups * u64::from(s.block_bits) / 8).sum();
        // Rows a dispatch takes: its blocks of every stage and its output within one binding,
        // and its output offset aligned to 256 bytes (so, for half precision, at an even weight).
        let row_bytes = cols * size;
        let per_row = row_bytes.max(stage_row_bytes + 4 * stages as u64).max(1);
        let align = 256 / gcd(row_bytes, 256);
        let limit = self.max_binding();
        let chunk = (limit / per_row) / align * align;
        if chunk == 0 {
            return Err(GpuError::TooLarge { what: "one row of the tensor", bytes: per_row * align, limit });
        }
        let mut signs = None;
        let mut r0 = rows.start;
        while r0 < rows.end {
            let r1 = (r0 + chunk).min(rows.end);
            let pack = tensor.gpu_pack(r0..r1).ok_or_else(|| GpuError::Unsupported("rows of the tensor".into()))?;
            // The signs are the same for every chunk.
            let signs = signs.get_or_insert_with(|| self.storage("nct signs", &words_to_bytes(&pack.signs)));
            let mut infos: Vec<u32> = pack.stages.iter().flatten().copied().collect();
            if infos.is_empty() {
                infos.extend_from_slice(&[0; 4]);
            }
            let n = (r1 - r0) * cols;
            let grid = self.grid(n.div_ceil(WORKGROUP))?;
            let mode = match half {
                None => 0,
                Some(HalfFormat::F16) => 1,
                Some(HalfFormat::Bf16) => 2,
            };
            let params = self.uniform(&[cols as u32, g_log2, stages as u32, n as u32, grid.0, mode, 0, 0]);
            let infos = self.storage("nct stages", &words_to_bytes(&infos));
            let data = self.storage("nct blocks", &pack.data);
            let scales = self.storage("nct scales", &words_to_bytes(&pack.scales));
            let at = offset + (r0 - rows.start) * row_bytes;
            self.dispatch(
                &self.pipelines.nct,
                &[
                    (0, params.as_entire_binding()),
                    (1, codebook.buffer.as_entire_binding()),
                    (2, infos.as_entire_binding()),
                    (3, data.as_entire_binding()),
                    (4, signs.as_entire_binding()),
                    (5, scales.as_entire_binding()),
                    (
                        6,
                        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: out,
                            offset: at,
                            size: wgpu::BufferSize::new((n * size).div_ceil(4) * 4),
                        }),
                    ),
                ],
                grid,
            );
            r0 = r1;
        }
        Ok(())
    }

    /// Decodes `tensor` and reads the values back.
    pub async fn decode_nct_to_vec(
        &self,
        codebook: &NctCodebook,
        tensor: &EncodedTensor<'_>,
    ) -> Result<Vec<f32>, GpuError> {
        let buffer = self.decode_nct(codebook, tensor)?;
        let mut values = self.read_f32(&buffer).await?;
        values.truncate(tensor.entry().numel() as usize);
        Ok(values)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}
