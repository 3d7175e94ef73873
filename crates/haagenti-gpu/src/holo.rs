//! HoloTensor on the GPU: `spectral` images to RGBA (a buffer, or an `Rgba8Unorm` texture the
//! page or the application draws), and the inverse rotation of `projection` assets.

use crate::context::{GpuDecoder, words_to_bytes};
use crate::error::GpuError;
use haagenti_holo::{
    BitGroupParts, LowRankParts, ProjectionParts, RefineParts, SpectralParts, SpectralPlane, SpectralUpdate,
};

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
    /// Reconstructs a `spectral` image from its decoder's state into RGBA pixels (its
    /// coefficients uploaded for this call; [`SpectralAccumulator`] keeps them on the device).
    pub fn spectral_rgba(&self, parts: &SpectralParts<'_>) -> Result<SpectralOutput, GpuError> {
        let coefs = self.spectral_coefficients(parts)?;
        self.spectral_rgba_with(parts, &coefs)
    }

    /// The samples of every plane of a `spectral` asset (an image's Y, Cb, Cr before colour
    /// conversion; a tensor's values from [`HoloDecoder::spectral_tensor_parts`], in f32):
    /// one `f32` buffer of `width * height` values a plane, bit for bit the CPU's
    /// ([`SpectralParts::plane_samples`]).
    ///
    /// [`HoloDecoder::spectral_tensor_parts`]: haagenti_holo::HoloDecoder::spectral_tensor_parts
    pub fn spectral_planes(&self, parts: &SpectralParts<'_>) -> Result<Vec<wgpu::Buffer>, GpuError> {
        let coefs = self.spectral_coefficients(parts)?;
        self.idct_planes(parts, &coefs)
    }

    /// Every plane's coefficients, checked and uploaded (one buffer a plane).
    fn spectral_coefficients(&self, parts: &SpectralParts<'_>) -> Result<Vec<wgpu::Buffer>, GpuError> {
        check_spectral(parts)?;
        parts
            .planes
            .iter()
            .map(|p| {
                self.check_plane(p)?;
                Ok(self.storage("coefficients", &i32_bytes(p.coefs)))
            })
            .collect()
    }

    /// Every plane's samples from its coefficients on the device (the callers checked each
    /// plane against the binding limit).
    fn idct_planes(&self, parts: &SpectralParts<'_>, coefs: &[wgpu::Buffer]) -> Result<Vec<wgpu::Buffer>, GpuError> {
        let basis: Vec<f32> = parts.dct.iter().flatten().copied().collect();
        let basis = self.storage("dct basis", &f32_bytes(&basis));
        let mut planes = Vec::with_capacity(parts.planes.len());
        for (p, coefs) in parts.planes.iter().zip(coefs) {
            let blocks = (p.coefs.len() / 64) as u64;
            let samples = (p.width * p.height) as u64;
            let plane = self.output("spectral plane", samples * 4)?;
            if blocks == 0 || samples == 0 {
                planes.push(plane);
                continue;
            }
            let steps = self.storage("steps", &f32_bytes(&p.steps));
            let dc = self.storage("dc", &f32_bytes(&p.dc));
            let grid = self.grid(blocks)?;
            // The sixth word, 0, is the kernel's opaque zero (exact.wgsl).
            let params =
                self.uniform(&[p.width as u32, p.height as u32, u32::from(p.tiled), blocks as u32, grid.0, 0, 0, 0]);
            self.dispatch_buffers(&self.pipelines.idct, &[&params, coefs, &steps, &dc, &basis, &plane], grid);
            planes.push(plane);
        }
        Ok(planes)
    }

    /// [`Self::spectral_rgba`] from coefficients already on the device (one buffer a plane).
    fn spectral_rgba_with(
        &self,
        parts: &SpectralParts<'_>,
        coefs: &[wgpu::Buffer],
    ) -> Result<SpectralOutput, GpuError> {
        let (w, h) = (parts.width, parts.height);
        let planes = self.idct_planes(parts, coefs)?;
        let bytes_per_row = (w * 4).div_ceil(256) * 256;
        let out = self.output("rgba", u64::from(bytes_per_row) * u64::from(h))?;
        let pixels = u64::from(w) * u64::from(h);
        let grid = self.grid(pixels.div_ceil(256))?;
        let subsampled = parts.channels == 3 && parts.subsampled;
        // The seventh word, 0, is the kernel's opaque zero (exact.wgsl).
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
        self.texture_of(out)
    }

    /// `out` copied into a new `Rgba8Unorm` texture.
    fn texture_of(&self, out: SpectralOutput) -> Result<SpectralImage, GpuError> {
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
            self.dispatch_buffers(&self.pipelines.hadamard, &[&params, &coefs, &signs, &buffer], grid);
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
        self.dispatch_buffers(&self.pipelines.refine, &[&params, &levels, &scales, &layers, &out], grid);
        Ok(out)
    }
}

impl GpuDecoder {
    /// The samples of a `residual` asset in the bit-group profile (images) from the groups
    /// received: a buffer of `len` `u32`s, each a sample's value (for an image 0 to 255,
    /// channels interleaved as the CPU's pixels), equal to the CPU's.
    pub fn bit_group_samples(&self, parts: &BitGroupParts<'_>) -> Result<wgpu::Buffer, GpuError> {
        let n = parts.len as u64;
        let groups = self.bit_groups(parts)?;
        let out = self.output("samples", n * 4)?;
        if n > 0 {
            self.run_bit_groups(&self.pipelines.bitgroups, &groups, parts, n, [0; 4], &out)?;
        }
        Ok(out)
    }

    /// The RGBA pixels of a `residual` image (bit-group profile) of `width` x `height` and
    /// `channels` (1: grey, 3: RGB; alpha 255), each channel the CPU's sample exactly.
    pub fn bit_group_rgba(
        &self,
        parts: &BitGroupParts<'_>,
        width: u32,
        height: u32,
        channels: u8,
    ) -> Result<SpectralOutput, GpuError> {
        let pixels = u64::from(width) * u64::from(height);
        if !matches!(channels, 1 | 3) || pixels == 0 || pixels * u64::from(channels) != parts.len as u64 {
            return Err(GpuError::Unsupported(format!(
                "{} samples for a {width} x {height} image of {channels} channels",
                parts.len
            )));
        }
        let groups = self.bit_groups(parts)?;
        let bytes_per_row = (width * 4).div_ceil(256) * 256;
        let out = self.output("residual image", u64::from(bytes_per_row) * u64::from(height))?;
        let shape = [width, height, bytes_per_row / 4, u32::from(channels)];
        self.run_bit_groups(&self.pipelines.bitgroups_rgba, &groups, parts, pixels, shape, &out)?;
        Ok(SpectralOutput { buffer: out, width, height, bytes_per_row })
    }

    /// [`Self::bit_group_rgba`] copied into a new `Rgba8Unorm` texture.
    pub fn bit_group_texture(
        &self,
        parts: &BitGroupParts<'_>,
        width: u32,
        height: u32,
        channels: u8,
    ) -> Result<SpectralImage, GpuError> {
        let out = self.bit_group_rgba(parts, width, height, channels)?;
        self.texture_of(out)
    }

    /// One entry point of bitgroups.wgsl over `threads` invocations: its parameters are the
    /// sample count, group count, grid width and fill, then `extra`.
    fn run_bit_groups(
        &self,
        pipeline: &wgpu::ComputePipeline,
        (layout, data): &(wgpu::Buffer, wgpu::Buffer),
        parts: &BitGroupParts<'_>,
        threads: u64,
        extra: [u32; 4],
        out: &wgpu::Buffer,
    ) -> Result<(), GpuError> {
        let grid = self.grid(threads.div_ceil(256))?;
        let [a, b, c, d] = extra;
        let params = self.uniform(&[parts.len as u32, parts.groups.len() as u32, grid.0, parts.fill, a, b, c, d]);
        self.dispatch_buffers(pipeline, &[&params, layout, data, out], grid);
        Ok(())
    }

    /// The groups' layout (lo, width, first word) and packed bits, checked and uploaded.
    fn bit_groups(&self, parts: &BitGroupParts<'_>) -> Result<(wgpu::Buffer, wgpu::Buffer), GpuError> {
        let n = parts.len as u64;
        if parts.groups.len() > 32 {
            return Err(GpuError::Unsupported(format!("{} bit groups (at most 32)", parts.groups.len())));
        }
        let mut layout = Vec::with_capacity(3 * parts.groups.len());
        let mut data: Vec<u8> = Vec::new();
        for g in &parts.groups {
            if !(1..=32).contains(&g.width) || g.lo.saturating_add(g.width) > 32 {
                return Err(GpuError::Unsupported(format!("a group of {} bits from bit {}", g.width, g.lo)));
            }
            let bits = n * u64::from(g.width);
            if bits > u64::from(u32::MAX) {
                return Err(GpuError::TooLarge { what: "a bit group", bytes: bits.div_ceil(8), limit: 1 << 29 });
            }
            let need = bits.div_ceil(8) as usize;
            if g.bits.len() < need {
                return Err(GpuError::Unsupported("a bit group shorter than its samples".into()));
            }
            layout.extend_from_slice(&[g.lo, g.width, (data.len() / 4) as u32]);
            data.extend_from_slice(&g.bits[..need]);
            data.resize(data.len().div_ceil(4) * 4, 0);
        }
        data.extend_from_slice(&[0; 4]);
        let limit = self.max_binding().min(u64::from(u32::MAX));
        if n * 4 > limit || data.len() as u64 > limit {
            return Err(GpuError::TooLarge { what: "the asset", bytes: (n * 4).max(data.len() as u64), limit });
        }
        layout.resize(layout.len().max(3), 0);
        Ok((self.storage("bit group layout", &words_to_bytes(&layout)), self.storage("bit groups", &data)))
    }
}

impl GpuDecoder {
    /// The low-rank matrix of every plane of a `lowrank` asset from the components received:
    /// `planes * rows * cols` `f32`s, plane-major, each bit for bit the CPU's
    /// ([`LowRankParts::matrix`]; for a tensor, its values before the residual arrives).
    pub fn low_rank(&self, parts: &LowRankParts<'_>) -> Result<wgpu::Buffer, GpuError> {
        let (comps, us, vs, len) = self.low_rank_inputs(parts)?;
        let n = len * parts.planes.len() as u64;
        let out = self.output("low-rank values", n * 4)?;
        if n > 0 {
            self.run_low_rank(&self.pipelines.lowrank, parts, (&comps, &us, &vs), n, [0, 0], &out)?;
        }
        Ok(out)
    }

    /// The RGBA pixels of a `lowrank` image (1 plane: grey, 3: RGB; alpha 255) from the
    /// components received, each channel the CPU's `(o + 0.5) as u8` exactly (its pixels
    /// until the residual and every component are in).
    pub fn low_rank_rgba(&self, parts: &LowRankParts<'_>) -> Result<SpectralOutput, GpuError> {
        let channels = parts.planes.len() as u32;
        if !matches!(channels, 1 | 3) || parts.rows == 0 || parts.cols == 0 {
            return Err(GpuError::Unsupported(format!("a {} x {} image in {channels} planes", parts.cols, parts.rows)));
        }
        let (width, height) = (
            u32::try_from(parts.cols).map_err(|_| GpuError::Unsupported("an image too wide".into()))?,
            u32::try_from(parts.rows).map_err(|_| GpuError::Unsupported("an image too tall".into()))?,
        );
        let (comps, us, vs, len) = self.low_rank_inputs(parts)?;
        let bytes_per_row = (width * 4).div_ceil(256) * 256;
        let out = self.output("low-rank image", u64::from(bytes_per_row) * u64::from(height))?;
        self.run_low_rank(
            &self.pipelines.lowrank_rgba,
            parts,
            (&comps, &us, &vs),
            len,
            [bytes_per_row / 4, channels],
            &out,
        )?;
        Ok(SpectralOutput { buffer: out, width, height, bytes_per_row })
    }

    /// [`Self::low_rank_rgba`] copied into a new `Rgba8Unorm` texture.
    pub fn low_rank_texture(&self, parts: &LowRankParts<'_>) -> Result<SpectralImage, GpuError> {
        let out = self.low_rank_rgba(parts)?;
        self.texture_of(out)
    }

    /// The components checked and uploaded: the per-plane table, all `u`s, all `v`s, and the
    /// values a plane.
    fn low_rank_inputs(
        &self,
        parts: &LowRankParts<'_>,
    ) -> Result<(wgpu::Buffer, wgpu::Buffer, wgpu::Buffer, u64), GpuError> {
        let (rows, cols) = (parts.rows as u64, parts.cols as u64);
        let limit = self.max_binding().min(u64::from(u32::MAX));
        let len = rows.saturating_mul(cols);
        let total = len.saturating_mul(parts.planes.len() as u64).saturating_mul(4);
        if total > limit {
            return Err(GpuError::TooLarge { what: "the asset", bytes: total, limit });
        }
        let mut table = Vec::with_capacity(3 * parts.planes.len());
        let (mut us, mut vs): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
        for plane in &parts.planes {
            if plane.iter().any(|c| c.u.len() as u64 != rows || c.v.len() as u64 != cols) {
                return Err(GpuError::Unsupported(format!("a component not of {rows} and {cols} values")));
            }
            let words = (plane.len() as u64).saturating_mul(rows.max(cols)).saturating_mul(4);
            if (us.len() as u64 * 4).saturating_add(words) > limit
                || (vs.len() as u64 * 4).saturating_add(words) > limit
            {
                return Err(GpuError::TooLarge { what: "the components", bytes: words, limit });
            }
            table.extend_from_slice(&[plane.len() as u32, us.len() as u32, vs.len() as u32]);
            for c in plane {
                us.extend(c.u.iter().map(|x| x.to_bits()));
                vs.extend(c.v.iter().map(|x| x.to_bits()));
            }
        }
        table.resize(table.len().max(3), 0);
        Ok((
            self.storage("low-rank planes", &words_to_bytes(&table)),
            self.storage("low-rank u", &words_to_bytes(&us)),
            self.storage("low-rank v", &words_to_bytes(&vs)),
            len,
        ))
    }

    /// One entry point of lowrank.wgsl over `threads` invocations; `extra` is the row pitch in
    /// words and the channels (`to_rgba`).
    fn run_low_rank(
        &self,
        pipeline: &wgpu::ComputePipeline,
        parts: &LowRankParts<'_>,
        (comps, us, vs): (&wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer),
        threads: u64,
        [row_words, channels]: [u32; 2],
        out: &wgpu::Buffer,
    ) -> Result<(), GpuError> {
        let grid = self.grid(threads.div_ceil(256))?;
        // The fifth word, 0, is the kernels' opaque zero (it keeps products and sums apart).
        let params = self.uniform(&[
            parts.rows as u32,
            parts.cols as u32,
            parts.planes.len() as u32,
            grid.0,
            0,
            row_words,
            channels,
            0,
        ]);
        self.dispatch_buffers(pipeline, &[&params, comps, us, vs, out], grid);
        Ok(())
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The image's size and planes are ones the kernels take.
fn check_spectral(parts: &SpectralParts<'_>) -> Result<(), GpuError> {
    if parts.width == 0 || parts.height == 0 {
        return Err(GpuError::Unsupported("an empty image".into()));
    }
    if !matches!((parts.channels, parts.planes.len()), (1, 1) | (3, 3)) {
        return Err(GpuError::Unsupported(format!("{} channels in {} planes", parts.channels, parts.planes.len())));
    }
    Ok(())
}

/// A `spectral` image's coefficients kept on the device, one buffer a plane, and brought up
/// to date by adding each fragment's [`SpectralUpdate`] there ([`GpuDecoder::accumulate`]):
/// after every fragment only what it decoded is uploaded, not every coefficient. Made by
/// [`GpuDecoder::spectral_accumulator`] from the decoder's state at that moment.
#[derive(Debug)]
pub struct SpectralAccumulator {
    planes: Vec<wgpu::Buffer>,
    /// Blocks a plane.
    blocks: Vec<u32>,
    /// Updates applied.
    applied: u32,
}

impl SpectralAccumulator {
    /// The coefficient buffer of each plane (`i32`, 64 a block, natural order).
    pub fn buffers(&self) -> &[wgpu::Buffer] {
        &self.planes
    }

    /// How many updates were added since it was made.
    pub fn applied(&self) -> u32 {
        self.applied
    }
}

impl GpuDecoder {
    fn check_plane(&self, p: &SpectralPlane<'_>) -> Result<(), GpuError> {
        let samples = (p.width * p.height) as u64;
        if !p.coefs.len().is_multiple_of(64) || p.dc.len() != p.coefs.len() / 64 {
            return Err(GpuError::Unsupported(format!(
                "{} coefficients and {} DCs in a spectral plane",
                p.coefs.len(),
                p.dc.len()
            )));
        }
        for (what, bytes) in [("coefficients", p.coefs.len() as u64 * 4), ("a plane", samples * 4)] {
            if bytes > self.max_binding() {
                return Err(GpuError::TooLarge { what, bytes, limit: self.max_binding() });
            }
        }
        Ok(())
    }

    /// Uploads a `spectral` image's coefficients as they stand in its decoder (`parts`), to be
    /// accumulated on the device from then on.
    pub fn spectral_accumulator(&self, parts: &SpectralParts<'_>) -> Result<SpectralAccumulator, GpuError> {
        check_spectral(parts)?;
        let mut planes = Vec::with_capacity(parts.planes.len());
        let mut blocks = Vec::with_capacity(parts.planes.len());
        for p in &parts.planes {
            self.check_plane(p)?;
            let buffer = self.output("accumulated coefficients", p.coefs.len() as u64 * 4)?;
            if !p.coefs.is_empty() {
                self.queue.write_buffer(&buffer, 0, &i32_bytes(p.coefs));
            }
            planes.push(buffer);
            blocks.push((p.coefs.len() / 64) as u32);
        }
        Ok(SpectralAccumulator { planes, blocks, applied: 0 })
    }

    /// Adds what one fragment decoded ([`haagenti_holo::HoloDecoder::push_spectral`]) to the
    /// coefficients on the device, as the CPU decoder adds it to its own. The update must be
    /// of this image, and each fragment's is added once (a second push of a fragment is a
    /// duplicate, which gives no update); anything malformed is refused before a kernel runs.
    pub fn accumulate(&self, acc: &mut SpectralAccumulator, update: &SpectralUpdate) -> Result<(), GpuError> {
        let total: u64 = acc.blocks.iter().map(|&b| u64::from(b)).sum();
        let cells = update.cells.len() as u64;
        let bad = |why: &str| Err(GpuError::Unsupported(format!("a spectral update {why}")));
        if update.cells.iter().any(|&c| c == 0 || c >= 64) || cells > 63 {
            return bad("refining cells outside 1..64");
        }
        if update.values.len() as u64 != total * cells {
            return bad(&format!("of {} values for {total} blocks of {cells} cells", update.values.len()));
        }
        if !update.dc.is_empty() && update.dc.len() as u64 != total {
            return bad(&format!("of {} DC values for {total} blocks", update.dc.len()));
        }
        for (what, bytes) in [("the update's values", update.values.len() as u64 * 4), ("its DC values", total * 4)] {
            if bytes > self.max_binding() {
                return Err(GpuError::TooLarge { what, bytes, limit: self.max_binding() });
            }
        }
        let cell_words: Vec<u32> = update.cells.iter().map(|&c| u32::from(c)).collect();
        let cells_buf = self.storage("refined cells", &crate::context::words_to_bytes(&cell_words));
        let values = self.storage("update values", &i32_bytes(&update.values));
        let dc = self.storage("update dc", &i32_bytes(&update.dc));
        let mut first = 0u32;
        for (buffer, &blocks) in acc.planes.iter().zip(&acc.blocks) {
            if blocks > 0 {
                let grid = self.grid(u64::from(blocks).div_ceil(64))?;
                let params = self.uniform(&[
                    blocks,
                    cells as u32,
                    update.scale as u32,
                    u32::from(!update.dc.is_empty()),
                    first,
                    grid.0,
                    0,
                    0,
                ]);
                self.dispatch(
                    &self.pipelines.accumulate,
                    &[
                        (0, params.as_entire_binding()),
                        (1, buffer.as_entire_binding()),
                        (2, cells_buf.as_entire_binding()),
                        (3, values.as_entire_binding()),
                        (4, dc.as_entire_binding()),
                    ],
                    grid,
                );
            }
            first += blocks;
        }
        acc.applied += 1;
        Ok(())
    }

    /// [`Self::spectral_rgba`] from the accumulated coefficients; `parts` gives the rest (the
    /// image's size, steps and each block's DC, which before fragment 0 comes from the
    /// thumbnail), and must be of the same decoder.
    pub fn spectral_rgba_from(
        &self,
        acc: &SpectralAccumulator,
        parts: &SpectralParts<'_>,
    ) -> Result<SpectralOutput, GpuError> {
        check_spectral(parts)?;
        if parts.planes.len() != acc.planes.len()
            || parts.planes.iter().zip(&acc.blocks).any(|(p, &b)| p.coefs.len() != b as usize * 64)
        {
            return Err(GpuError::Unsupported("parts of another image than the accumulator's".into()));
        }
        self.spectral_rgba_with(parts, &acc.planes)
    }

    /// [`Self::spectral_texture`] from the accumulated coefficients.
    pub fn spectral_texture_from(
        &self,
        acc: &SpectralAccumulator,
        parts: &SpectralParts<'_>,
    ) -> Result<SpectralImage, GpuError> {
        let out = self.spectral_rgba_from(acc, parts)?;
        self.texture_of(out)
    }
}
