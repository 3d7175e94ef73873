//! A decoder's state laid bare for other decoders of it (the GPU crates): the numbers the CPU
//! reconstruction starts from, so a kernel can finish the job and be compared with
//! [`HoloDecoder::reconstruct`](crate::HoloDecoder::reconstruct) byte for byte.

use alloc::vec::Vec;

use crate::asset::AssetKind;
use crate::decoder::HoloDecoder;
use crate::schemes::State;

/// A `spectral` image as its reconstruction begins: per plane, quantized DCT coefficients and
/// their steps. The CPU reconstruction, which kernels follow step for step, is per block `b`:
/// `f[i] = coefs[64 b + i] as f32 * steps[i]` with `f[0] = dc[b] * steps[0]`; if every AC
/// coefficient is 0 all 64 samples are `f[0] / 8`, otherwise the separable inverse DCT with
/// basis `dct` (rows: `t[r][k] += f[8 r + n] * dct[n][k]` for `n` = 0..8, skipping zeros; then
/// `out[m][c] += dct[n][m] * t[n][c]` for `n` = 0..8, skipping rows without a non-zero
/// coefficient); the block is cropped into the plane (tiles when `tiled`, else runs of 64
/// samples in raster order); a NaN sample is written as `0x7FC0_0000`. Colour: the chroma planes, when `subsampled`, doubled bilinearly
/// (weights 1/4 and 3/4, edges clamped, rows first), then `R = Y' + 1.402 Cr`, `G = Y' - 0.344136 Cb
/// - 0.714136 Cr`, `B = Y' + 1.772 Cb` with `Y' = Y + 128`, each rounded `(v + 0.5) as u8`
/// (saturating); gray: `(Y + 128 + 0.5) as u8`.
#[derive(Debug, Clone)]
pub struct SpectralParts<'a> {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// 1 (gray) or 3 (colour, planes Y, Cb, Cr).
    pub channels: u8,
    /// Chroma planes at half size (4:2:0).
    pub subsampled: bool,
    /// The planes.
    pub planes: Vec<SpectralPlane<'a>>,
    /// The orthonormal DCT-II basis the CPU uses: `dct[k][n] = a(k) cos(pi (2n + 1) k / 16)`.
    pub dct: [[f32; 8]; 8],
}

impl SpectralParts<'_> {
    /// The CPU decoder's samples of plane `plane` (`width * height` values, row-major; a
    /// tensor's values in f32), computed by the function its reconstruction uses; `None`
    /// when the plane does not exist or its sizes, blocks and DCs do not agree.
    pub fn plane_samples(&self, plane: usize) -> Option<Vec<f32>> {
        let p = self.planes.get(plane)?;
        p.width.checked_mul(p.height)?;
        crate::spectral::part_samples(p, self.dct)
    }
}

/// What one fragment of a `spectral` image added to its decoder's coefficients, for a GPU
/// decoder that keeps the coefficients on the device and accumulates them there
/// ([`HoloDecoder::push_spectral`]). Applied to [`SpectralParts`] coefficients as the CPU does:
/// per block `b` of every plane (planes one after another, in [`SpectralParts::planes`]' order),
/// `coefs[64 b] = dc[b]` when `dc` is not empty, then for each `j`
/// `coefs[64 b + cells[j]] += values[b * cells.len() + j] * scale`, in wrapping `i32`
/// arithmetic. Fragments add up in any order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpectralUpdate {
    /// The fragment's index.
    pub index: u16,
    /// The AC cells each block's values refine (natural-order indices, 1 to 63).
    pub cells: Vec<u8>,
    /// The multiplier of the values (fragment 0's coarse step; 1 for a refinement).
    pub scale: i32,
    /// Each block's DC, all planes' blocks in order (fragment 0; empty for the others).
    pub dc: Vec<i32>,
    /// `cells.len()` values a block, all planes' blocks in order.
    pub values: Vec<i32>,
}

/// One plane of [`SpectralParts`].
#[derive(Debug, Clone)]
pub struct SpectralPlane<'a> {
    /// Samples a row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// 8x8 tiles (both sides at least 8), or runs of 64 samples in raster order.
    pub tiled: bool,
    /// 64 quantized coefficients a block, natural (row-major) order.
    pub coefs: &'a [i32],
    /// The quantization step of each cell.
    pub steps: [f32; 64],
    /// Each block's DC in steps: the decoded one once fragment 0 is in, else the thumbnail's
    /// (interpolated), else 0.
    pub dc: Vec<f32>,
}

/// A `projection` asset as its reconstruction begins. Per plane and block of `block`
/// coefficients: `y = q as f32 * step * scale` (left to right), the inverse rotation
/// `x = D H y / sqrt(block)` (the unnormalized fast Walsh-Hadamard transform, levels
/// `h` = 1, 2, 4, .. with `(a, b)` to `(a + b, a - b)`, then each value times
/// `1 / sqrtf(block)`, then negated where `signs` is set), then `x + mean` (a NaN written as
/// `0x7FC0_0000`); the planes are cut to `len` values.
#[derive(Debug, Clone)]
pub struct ProjectionParts<'a> {
    /// Coefficients a block (a power of two).
    pub block: usize,
    /// The rotation's signs (`true` negates), one a coefficient of a block.
    pub signs: &'a [bool],
    /// Values a plane.
    pub len: usize,
    /// `fragments / received`: the unbiasing factor.
    pub scale: f32,
    /// The planes.
    pub planes: Vec<ProjectionPlane<'a>>,
}

impl ProjectionParts<'_> {
    /// The CPU decoder's values of plane `plane` (`len` of them), computed by the function its
    /// reconstruction uses; `None` when the plane does not exist or the block, signs and
    /// coefficients do not agree.
    pub fn plane_values(&self, plane: usize) -> Option<Vec<f32>> {
        let p = self.planes.get(plane)?;
        if !self.block.is_power_of_two() || self.signs.len() != self.block || !p.coefs.len().is_multiple_of(self.block)
        {
            return None;
        }
        Some(crate::schemes::projection_plane(p.coefs, self.block, self.signs, p.step, self.scale, p.mean, self.len))
    }
}

/// One plane of [`ProjectionParts`].
#[derive(Debug, Clone)]
pub struct ProjectionPlane<'a> {
    /// Quantized coefficients, a whole number of blocks.
    pub coefs: &'a [i32],
    /// The quantization step.
    pub step: f32,
    /// The plane's mean, added back.
    pub mean: f32,
}

/// An asset in the `residual` encoding's bit-group profile (images) as received: the unbroken
/// run of groups from the top. Sample `i` is `fill`, OR each group's `width` bits of it (bits
/// `i * width ..` of `bits`, least significant first) shifted left by `lo`: integers only, so
/// any decoder gets the CPU's samples exactly.
#[derive(Debug, Clone)]
pub struct BitGroupParts<'a> {
    /// Samples (for an image, `width * height * channels`, channels interleaved).
    pub len: usize,
    /// The middle of the range the bits not received yet leave (0 when none are missing).
    pub fill: u32,
    /// The groups received, from the most significant.
    pub groups: Vec<BitGroup<'a>>,
}

/// One group of [`BitGroupParts`].
#[derive(Debug, Clone, Copy)]
pub struct BitGroup<'a> {
    /// The lowest bit of a sample this group holds.
    pub lo: u32,
    /// Bits of each sample in this group (1 to 32).
    pub width: u32,
    /// The samples' bits, packed: `len * width` bits, least significant first.
    pub bits: &'a [u8],
}

/// A tensor in the `residual` encoding's refinement profile as its reconstruction begins (the
/// approximation; the exact last fragment is XORed on the CPU). Per value `i`: its first-layer
/// level `q = levels[i]`, its group's `(s, z) = scales[i / 64]`, and the `r = layers.len()`
/// refinement bits `b` (most significant first: bit `i % 8` of byte `i / 8` of each layer);
/// `(q - z) as f32 * s` when `r = 0`, else `((q - z) as f32 - 0.5 + (b as f32 + 0.5) * 2^-r) * s`.
#[derive(Debug, Clone)]
pub struct RefineParts<'a> {
    /// Values.
    pub len: usize,
    /// Each value's first-layer level (0 to 15).
    pub levels: &'a [u8],
    /// Each group's scale and zero point (groups of 64 values).
    pub scales: &'a [(f32, i64)],
    /// The refinement layers received, in order.
    pub layers: Vec<&'a [u8]>,
}

/// A `lowrank` asset as its reconstruction begins: per plane (an image's channels, or the one
/// plane of a tensor seen as `rows` x `cols`), the components received, each `u` (`rows`
/// values, the singular value folded in) and `v` (`cols` values), dequantized. The CPU
/// reconstruction, which kernels follow step for step, is per element `(i, j)`, over the
/// components in order: `o += u[i] * v[j]` in f32 (the product rounded, then the sum; no fused
/// multiply-add; skipped where `u[i] == 0`), from +0, a NaN written as `0x7FC0_0000`
/// ([`LowRankParts::matrix`]). A tensor's values are then `o` in its dtype; an image's samples
/// `(o + 0.5) as u8` (saturating, NaN to 0). Once the last fragment (the exact residual) and
/// every component have arrived, the CPU decoder applies the residual to this.
#[derive(Debug, Clone)]
pub struct LowRankParts<'a> {
    /// Rows of a plane (an image's height).
    pub rows: usize,
    /// Columns of a plane (an image's width).
    pub cols: usize,
    /// Each plane's components received, in index order.
    pub planes: Vec<Vec<LowRankComponent<'a>>>,
}

/// One component of [`LowRankParts`].
#[derive(Debug, Clone, Copy)]
pub struct LowRankComponent<'a> {
    /// `rows` values.
    pub u: &'a [f32],
    /// `cols` values.
    pub v: &'a [f32],
}

impl LowRankParts<'_> {
    /// The CPU decoder's low-rank matrix of plane `plane` (`rows * cols` values, row-major),
    /// computed as its reconstruction does; `None` when the plane does not exist, a component's
    /// lengths are not `rows` and `cols`, or `rows * cols` overflows.
    pub fn matrix(&self, plane: usize) -> Option<Vec<f32>> {
        let comps = self.planes.get(plane)?;
        self.rows.checked_mul(self.cols)?;
        if comps.iter().any(|c| c.u.len() != self.rows || c.v.len() != self.cols) {
            return None;
        }
        Some(crate::schemes::low_rank_matrix(comps.iter().map(|c| (c.u, c.v)), self.rows, self.cols))
    }
}

#[cfg(feature = "nct")]
/// An `nct` tensor as received: the one-tensor NCT file rebuilt from the fragments (codebook
/// restored, stages in an unbroken run from the first), which any NCT decoder reads, on the
/// CPU (`haagenti_nct::NctFile`) or a GPU. [`HoloDecoder::reconstruct`] gives
/// `NctFile::parse(file)?.decode_tensor(tensor, stages)` in the asset's dtype.
#[derive(Debug, Clone, Copy)]
pub struct NctParts<'a> {
    /// The file's bytes up to the end of its last stage received.
    pub file: &'a [u8],
    /// Stages in `file`.
    pub stages: usize,
    /// The tensor's name in the file.
    pub tensor: &'static str,
}

impl HoloDecoder {
    /// The NCT file of an `nct` tensor once its first fragment has decoded.
    #[cfg(feature = "nct")]
    pub fn nct_parts(&self) -> Option<NctParts<'_>> {
        let Some(State::Nct(n)) = self.state() else { return None };
        let (file, stages) = n.file()?;
        Some(NctParts { file, stages, tensor: crate::nct::NAME })
    }

    /// The state of a `lowrank` asset once its header has decoded (`None` for other encodings);
    /// with no component received every value is 0.
    pub fn low_rank_parts(&self) -> Option<LowRankParts<'_>> {
        let Some(State::LowRank(l)) = self.state() else { return None };
        Some(l.parts())
    }

    /// The state of a tensor in the `residual` encoding's refinement profile once its first
    /// layer has decoded (`None` otherwise).
    pub fn refine_parts(&self) -> Option<RefineParts<'_>> {
        let Some(State::Refine(r)) = self.state() else { return None };
        r.parts()
    }

    /// The state of a `residual` asset in the bit-group profile (`None` for other encodings
    /// and the refinement profile); with no group received yet every sample is `fill`.
    pub fn bit_group_parts(&self) -> Option<BitGroupParts<'_>> {
        let Some(State::Residual(r)) = self.state() else { return None };
        Some(r.parts())
    }

    /// The state of a `spectral` image once a payload has decoded (`None` for other
    /// encodings, tensors, or before any payload).
    pub fn spectral_parts(&self) -> Option<SpectralParts<'_>> {
        let (Some(h), Some(State::Spectral(s))) = (self.header(), self.state()) else { return None };
        let AssetKind::Image { width, height, channels } = h.kind else { return None };
        s.parts(width, height, channels)
    }

    /// The state of a `spectral` tensor once a payload has decoded, as [`SpectralParts`] of one
    /// plane: `width` the tensor's values, `height` 1, `channels` 1, runs of 64 values a block
    /// (`None` for images, other encodings, or before any payload). Its plane's samples are the
    /// tensor's values in f32, before conversion to its dtype.
    pub fn spectral_tensor_parts(&self) -> Option<SpectralParts<'_>> {
        let (Some(h), Some(State::Spectral(s))) = (self.header(), self.state()) else { return None };
        let AssetKind::Tensor { .. } = h.kind else { return None };
        s.parts(u32::try_from(h.kind.samples()).ok()?, 1, 1)
    }

    /// The state of a `projection` asset once a payload has decoded.
    pub fn projection_parts(&self) -> Option<ProjectionParts<'_>> {
        let Some(State::Projection(p)) = self.state() else { return None };
        let k = self.received_count().max(1);
        p.parts(k)
    }
}
