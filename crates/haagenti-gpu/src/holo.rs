//! HoloTensor on the GPU: `spectral` images to RGBA (a buffer, or an `Rgba8Unorm` texture the
//! page or the application draws), and the inverse rotation of `projection` assets.

use crate::context::{GpuDecoder, words_to_bytes};
use crate::error::GpuError;
use haagenti_holo::{ProjectionParts, RefineParts, SpectralParts};

/// RGBA pixels on the device: `height` rows of `width` pixels, each row `bytes_per_row`
/// bytes (a multiple of 256, as texture copies need).
#[derive(Debug)]
pub struct SpectralOutput {
    /// The pixels, 4 bytes each (R, G, B, 255).
    pub buffer: wgpu::Buffer,
    /// Pixels a row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Bytes from one row to the next.
    pub bytes_per_row: u32,
}

/// A spectral image's texture: `Rgba8Unorm`, usable as `TEXTURE_BINDING`, `COPY_SRC` and
/// `COPY_DST`.
pub type SpectralImage = wgpu::Texture;

impl GpuDecoder {
    /// Reconstructs a `spectral` image from its decoder's state into RGBA pixels.
    pub fn spectral_rgba(&self, parts: &SpectralParts<'_>) -> Result<SpectralOutput, GpuError> {
        let (w, h) = (parts.width, parts.height);
        if w == 0 || h == 0 {
            return Err(GpuError::Unsupported("an empty image".into()));
        }
        if !matches!((parts.channels, parts.planes.len()), (1, 1) | (3, 3)) {
            return Err(GpuError::Unsupported(format!("{} channels in {} planes", parts.channels, parts.planes.len())));
        }
        let basis: Vec<f32> = parts.dct.iter().flatten().copied().collect();
        let basis = self.storage("dct basis", &f32_bytes(&basis));
        let mut planes = Vec::with_capacity(parts.planes.len());
        for p in &parts.planes {
            let blocks = (p.coefs.len() / 64) as u64;
            let samples = (p.width * p.height) as u64;
            let plane = self.output("spectral plane", samples * 4)?;
            if blocks == 0 || samples == 0 {
                planes.push(plane);
                continue;
            }
            for (what, bytes) in [("coefficients", p.coefs.len() as u64 * 4), ("a plane", samples * 4)] {
                if bytes > self.max_binding() {
                    return Err(GpuError::TooLarge { what, bytes, limit: self.max_binding() });
                }
            }
            let coef_bytes: Vec<u8> = p.coefs.iter().flat_map(|v| v.to_le_bytes()).collect();
            let coefs = self.storage("coefficients", &coef_bytes);
            let steps = self.storage("steps", &f32_bytes(&p.steps));
            let dc = self.storage("dc", &f32_bytes(&p.dc));
            let grid = self.grid(blocks)?;
            let params =
                self.uniform(&[p.width as u32, p.height as u32, u32::from(p.tiled), blocks as u32, grid.0, 0, 0, 0]);
            self.dispatch(
                &self.pipelines.idct,
                &[
                    (0, params.as_entire_binding()),
                    (1, coefs.as_entire_binding()),
                    (2, steps.as_entire_binding()),
                    (3, dc.as_entire_binding()),
                    (4, basis.as_entire_binding()),
                    (5, plane.as_entire_binding()),
                ],
                grid,
            );
            planes.push(plane);
        }
        let bytes_per_row = (w * 4).div_ceil(256) * 256;
        let out = self.output("rgba", u64::from(bytes_per_row) * u64::from(h))?;
        let pixels = u64::from(w) * u64::from(h);
        let grid = self.grid(pixels.div_ceil(256))?;
        let subsampled = parts.channels == 3 && parts.subsampled;
        let params =
            self.uniform(&[w, h, u32::from(parts.channels), u32::from(subsampled), bytes_per_row / 4, grid.0, 0, 0]);
        let (cb, cr) = if planes.len() == 3 { (&planes[1], &planes[2]) } else { (&planes[0], &planes[0]) };
        self.dispatch(
            &self.pipelines.rgba,
            &[
                (10, params.as_entire_binding()),
                (11, planes[0].as_entire_binding()),
                (12, cb.as_entire_binding()),
                (13, cr.as_entire_binding()),
                (14, out.as_entire_binding()),
            ],
            grid,
        );
        Ok(SpectralOutput { buffer: out, width: w, height: h, bytes_per_row })
    }

    /// [`Self::spectral_rgba`] copied into a new `Rgba8Unorm` texture.
    pub fn spectral_texture(&self, parts: &SpectralParts<'_>) -> Result<SpectralImage, GpuError> {
        let out = self.spectral_rgba(parts)?;
        let size = wgpu::Extent3d { width: out.width, height: out.height, depth_or_array_layers: 1 };
        let limit = self.device.limits().max_texture_dimension_2d;
        if out.width > limit || out.height > limit {
            return Err(GpuError::TooLarge {
                what: "the texture's side",
                bytes: u64::from(out.width.max(out.height)),
                limit: u64::from(limit),
            });
        }
        let texture = self.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("spectral image"),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        encoder.copy_buffer_to_texture(
            wgpu::TexelCopyBufferInfo {
                buffer: &out.buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(out.bytes_per_row),
                    rows_per_image: Some(out.height),
                },
            },
            texture.as_image_copy(),
            size,
        );
        self.queue.submit([encoder.finish()]);
        Ok(texture)
    }

    /// The pixels of an `Rgba8Unorm` texture (such as [`Self::spectral_texture`]'s) on the
    /// host, `width * height * 4` bytes.
    pub async fn read_texture_rgba(&self, texture: &wgpu::Texture) -> Result<Vec<u8>, GpuError> {
        let (w, h) = (texture.width(), texture.height());
        let bytes_per_row = (w * 4).div_ceil(256) * 256;
        let buffer = self.output("texture read-back", u64::from(bytes_per_row) * u64::from(h))?;
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        encoder.copy_texture_to_buffer(
            texture.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: &buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(bytes_per_row),
                    rows_per_image: Some(h),
                },
            },
            wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 },
        );
        self.queue.submit([encoder.finish()]);
        if let Some(e) = scope.pop().await {
            return Err(GpuError::Readback(format!("copying the texture: {e}")));
        }
        self.read_rgba(&SpectralOutput { buffer, width: w, height: h, bytes_per_row }).await
    }

    /// The pixels of a [`SpectralOutput`] on the host, `width * height * 4` bytes, unpadded.
    pub async fn read_rgba(&self, out: &SpectralOutput) -> Result<Vec<u8>, GpuError> {
        let bytes = self.read_bytes(&out.buffer).await?;
        let row = out.width as usize * 4;
        Ok(bytes
            .chunks(out.bytes_per_row as usize)
            .take(out.height as usize)
            .flat_map(|r| &r[..row])
            .copied()
            .collect())
    }

    /// The planes of a `projection` asset after the inverse rotation, before they are
    /// converted to the asset's type: one `f32` buffer of `len` values a plane (the CPU's
    /// values bit for bit where the GPU keeps subnormals).
    pub fn hadamard_inverse(&self, parts: &ProjectionParts<'_>) -> Result<Vec<wgpu::Buffer>, GpuError> {
        let n = parts.block;
        if !n.is_power_of_two() || !(8..=256).contains(&n) || parts.signs.len() != n {
            return Err(GpuError::Unsupported(format!("projection blocks of {n} (this kernel takes 8 to 256)")));
        }
        let mut words = vec![0u32; n.div_ceil(32)];
        for (i, _) in parts.signs.iter().enumerate().filter(|(_, s)| **s) {
            words[i / 32] |= 1 << (i % 32);
        }
        let signs = self.storage("signs", &words_to_bytes(&words));
        let norm = 1.0 / (n as f32).sqrt();
        let mut out = Vec::with_capacity(parts.planes.len());
        for p in &parts.planes {
            let count = p.coefs.len() as u64;
            let buffer = self.output("projection plane", count * 4)?;
            if count == 0 {
                out.push(buffer);
                continue;
            }
            if !count.is_multiple_of(n as u64) || count * 4 > self.max_binding() {
                return Err(GpuError::Unsupported(format!("{count} coefficients in blocks of {n}")));
            }
            let coef_bytes: Vec<u8> = p.coefs.iter().flat_map(|v| v.to_le_bytes()).collect();
            let coefs = self.storage("coefficients", &coef_bytes);
            let grid = self.grid(count.div_ceil(256))?;
            let params = self.uniform(&[
                count as u32,
                n.trailing_zeros(),
                grid.0,
                p.step.to_bits(),
                parts.scale.to_bits(),
                norm.to_bits(),
                p.mean.to_bits(),
                0,
            ]);
            self.dispatch(
                &self.pipelines.hadamard,
                &[
                    (0, params.as_entire_binding()),
                    (1, coefs.as_entire_binding()),
                    (2, signs.as_entire_binding()),
                    (3, buffer.as_entire_binding()),
                ],
                grid,
            );
            out.push(buffer);
        }
        Ok(out)
    }
}

impl GpuDecoder {
    /// The values of a `residual` tensor's approximation (its first layer and the refinement
    /// layers received) as an `f32` buffer of `len` values, bit-identical to the CPU's, before
    /// conversion to the asset's type (the exact last fragment is applied on the CPU).
    pub fn refine_dequant(&self, parts: &RefineParts<'_>) -> Result<wgpu::Buffer, GpuError> {
        let n = parts.len;
        let layer_bytes = n.div_ceil(8);
        if parts.levels.len() < n
            || parts.scales.len() < n.div_ceil(64)
            || parts.layers.iter().any(|l| l.len() < layer_bytes)
        {
            return Err(GpuError::Unsupported("refinement state shorter than its values".into()));
        }
        if parts.layers.len() > 20 {
            return Err(GpuError::Unsupported(format!("{} refinement layers (at most 20)", parts.layers.len())));
        }
        let out = self.output("refined values", n as u64 * 4)?;
        if n == 0 {
            return Ok(out);
        }
        if n as u64 * 4 > self.max_binding() {
            return Err(GpuError::TooLarge { what: "the tensor", bytes: n as u64 * 4, limit: self.max_binding() });
        }
        let scales: Vec<u32> = parts.scales.iter().flat_map(|&(s, z)| [s.to_bits(), z as i32 as u32]).collect();
        let mut layers = Vec::with_capacity(layer_bytes * parts.layers.len());
        for l in &parts.layers {
            layers.extend_from_slice(&l[..layer_bytes]);
        }
        let r = parts.layers.len() as u32;
        let step = 1.0 / (1u64 << r) as f32;
        let grid = self.grid((n as u64).div_ceil(256))?;
        let params = self.uniform(&[n as u32, r, layer_bytes as u32, grid.0, step.to_bits(), 0, 0, 0]);
        let levels = self.storage("levels", &parts.levels[..n]);
        let scales = self.storage("scales", &words_to_bytes(&scales));
        let layers = self.storage("layers", &layers);
        self.dispatch(
            &self.pipelines.refine,
            &[
                (0, params.as_entire_binding()),
                (1, levels.as_entire_binding()),
                (2, scales.as_entire_binding()),
                (3, layers.as_entire_binding()),
                (4, out.as_entire_binding()),
            ],
            grid,
        );
        Ok(out)
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
