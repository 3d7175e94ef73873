//! The spectral encoding: JPEG-like 8x8 DCT coefficients, sent coarse first and refined band
//! by band, entropy-coded with context models ([`crate::coefs`]).

use alloc::vec;
use alloc::vec::Vec;

use crate::asset::{Asset, AssetKind, Reconstruction};
use crate::coding::{Reader, put_bytes};
use crate::coefs::{self, Grid};
use crate::math::{Dct8, ZIGZAG};
use crate::parts::SpectralUpdate;
use crate::planes::{Encoded, from_planes, quantize, tensor_step, to_u8};
use crate::{EncodeOptions, HoloError};

/// JPEG's luminance and chrominance quantization tables (ITU T.81 Annex K), row-major.
const LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51,
    87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99,
];

/// Whether the encoder halves chroma planes (4:2:0). Measured on the photos at quality 75
/// (`holo_rd` example): half-size chroma saves 15-20% of the bytes but loses 1-1.4 dB at the
/// full set, and its curve's worst point against JPEG is 0.26 dB below instead of 0.07, so it
/// stays off.
const SUBSAMPLE_CHROMA: bool = false;

/// The block grid of one plane: an image plane of `w x h` samples cut into 8x8 tiles (edges
/// replicated), or a run of `w` tensor values cut into runs of 64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geom {
    w: usize,
    h: usize,
    image: bool,
}

impl Geom {
    /// An image plane of `w x h` samples: 8x8 tiles when both sides have at least 8 samples
    /// (padding each side by at most 7, so the tiles hold at most (16/9)^2 = 3.2 times the
    /// samples); otherwise its samples in raster order cut into runs of 64, as a tensor's, so
    /// that a plane a few rows high is not padded to 8 (a 1-row plane would hold 8 times its
    /// samples).
    fn image(w: usize, h: usize) -> Self {
        if w >= 8 && h >= 8 { Geom { w, h, image: true } } else { Geom::run(w * h) }
    }

    /// `n` values cut into runs of 64.
    fn run(n: usize) -> Self {
        Geom { w: n, h: 1, image: false }
    }

    /// Blocks to a row (at least 1, so that an empty plane has no rows rather than no width).
    fn wide(self) -> usize {
        if self.image { self.w.div_ceil(8) } else { self.blocks() }.max(1)
    }

    fn blocks(self) -> usize {
        if self.image { self.w.div_ceil(8) * self.h.div_ceil(8) } else { self.w.div_ceil(64) }
    }

    fn get(self, plane: &[f32], b: usize) -> [f32; 64] {
        let mut out = [0f32; 64];
        if self.image {
            let bw = self.w.div_ceil(8);
            let (bx, by) = (b % bw * 8, b / bw * 8);
            for y in 0..8 {
                let row = (by + y).min(self.h - 1) * self.w;
                for x in 0..8 {
                    out[y * 8 + x] = plane[row + (bx + x).min(self.w - 1)];
                }
            }
        } else {
            let s = &plane[(b * 64).min(plane.len())..((b + 1) * 64).min(plane.len())];
            out[..s.len()].copy_from_slice(s);
        }
        out
    }

    fn put(self, plane: &mut [f32], b: usize, block: &[f32; 64]) {
        if self.image {
            let bw = self.w.div_ceil(8);
            let (bx, by) = (b % bw * 8, b / bw * 8);
            for y in 0..8.min(self.h - by) {
                let row = (by + y) * self.w + bx;
                let n = 8.min(self.w - bx);
                plane[row..row + n].copy_from_slice(&block[y * 8..y * 8 + n]);
            }
        } else {
            let n = plane.len();
            let s = &mut plane[(b * 64).min(n)..((b + 1) * 64).min(n)];
            let len = s.len();
            s.copy_from_slice(&block[..len]);
        }
    }
}

/// One plane's samples from its coefficient blocks (`dc(b, block)` gives block `b`'s DC in
/// steps), as every reconstruction computes them (docs in `SpectralParts`), a NaN written as
/// `0x7FC0_0000`.
fn plane_samples(g: Geom, coefs: &[i32], step: &[f32; 64], dct: &Dct8, dc: impl Fn(usize, &[i32]) -> f32) -> Vec<f32> {
    let mut plane = vec![0f32; g.w * g.h];
    for (b, blk) in coefs.chunks_exact(64).enumerate() {
        g.put(&mut plane, b, &block_samples(blk, step, dct, dc(b, blk)));
    }
    // A NaN (only forged steps make one) written one way: CPUs differ in the NaN they make.
    for v in &mut plane {
        if v.is_nan() {
            *v = f32::from_bits(0x7FC0_0000);
        }
    }
    plane
}

/// One block's samples from its 64 quantized coefficients and its DC (in steps), before the
/// NaN rule: the block step of [`plane_samples`]. (Not inlined: both reconstructions call it,
/// once a block.)
#[inline(never)]
fn block_samples(blk: &[i32], step: &[f32; 64], dct: &Dct8, dc: f32) -> [f32; 64] {
    let mut f = [0f32; 64];
    for ((f, &q), &s) in f.iter_mut().zip(blk).zip(step) {
        *f = q as f32 * s;
    }
    f[0] = dc * step[0];
    if blk[1..].iter().any(|&v| v != 0) {
        dct.inverse(&mut f);
    } else {
        // A flat block: the DC alone (the orthonormal DCT's DC gain is 1/8).
        f = [f[0] / 8.0; 64];
    }
    f
}

/// [`plane_samples`] of a plane as [`crate::parts::SpectralPlane`] describes it; `None` when
/// its sizes and blocks do not agree.
pub(crate) fn part_samples(p: &crate::parts::SpectralPlane<'_>, dct: [[f32; 8]; 8]) -> Option<Vec<f32>> {
    let g = Geom { w: p.width, h: p.height, image: p.tiled };
    if (p.tiled && (p.width < 8 || p.height < 8)) || (!p.tiled && p.height != 1 && p.width * p.height != 0) {
        return None;
    }
    let blocks = if p.width * p.height == 0 { 0 } else { g.blocks() };
    if p.coefs.len() != blocks * 64 || p.dc.len() != blocks {
        return None;
    }
    Some(plane_samples(g, p.coefs, &p.steps, &Dct8::from_basis(dct), |b, _| p.dc[b]))
}

/// The planes' grids: luma at full size, chroma at full size or, `subsampled`, at half size
/// (4:2:0) for colour images.
fn geoms(kind: &AssetKind, subsampled: bool) -> Vec<Geom> {
    match kind {
        AssetKind::Image { width, height, channels } => {
            let (w, h) = (*width as usize, *height as usize);
            let mut g = vec![Geom::image(w, h)];
            if *channels == 3 {
                let (cw, ch) = if subsampled { (w.div_ceil(2), h.div_ceil(2)) } else { (w, h) };
                g.extend([Geom::image(cw, ch); 2]);
            }
            g
        }
        AssetKind::Tensor { .. } => vec![Geom::run(kind.samples() as usize)],
    }
}

/// The mean of each 2x2 square (edges replicated).
fn half(plane: &[f32], w: usize, h: usize) -> Vec<f32> {
    let (w2, h2) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = Vec::with_capacity(w2 * h2);
    for y in 0..h2 {
        let (r0, r1) = (2 * y * w, (2 * y + 1).min(h - 1) * w);
        for x in 0..w2 {
            let (c0, c1) = (2 * x, (2 * x + 1).min(w - 1));
            out.push((plane[r0 + c0] + plane[r0 + c1] + plane[r1 + c0] + plane[r1 + c1]) * 0.25);
        }
    }
    out
}

/// The taps of [`double`] along one axis of `n` output samples from `n2` half-size ones:
/// output sample i sits at (i - 0.5) / 2 in half-size coordinates, between samples (i - 1) / 2
/// and (i + 1) / 2 with weights 1/4 and 3/4 (edges clamped). Out of line: the compiler
/// vectorizes it, and one copy serves both axes.
#[inline(never)]
fn double_taps(n: usize, n2: usize) -> Vec<(usize, usize, f32)> {
    (0..n)
        .map(|i| {
            if i == 0 {
                (0, 0, 0.0)
            } else {
                let lo = ((i - 1) / 2).min(n2 - 1);
                let t = if i % 2 == 1 { 0.25 } else { 0.75 };
                (lo, (lo + 1).min(n2 - 1), t)
            }
        })
        .collect()
}

/// Bilinear upsampling of a half-size plane back to `w x h` (sample centres aligned).
fn double(plane: &[f32], w: usize, h: usize) -> Vec<f32> {
    let (w2, h2) = (w.div_ceil(2), h.div_ceil(2));
    let (xs, ys) = (double_taps(w, w2), double_taps(h, h2));
    // Rows first (each half-size row widened once), then columns, row against row.
    let mut wide = Vec::with_capacity(h2 * w);
    for r in plane.chunks_exact(w2) {
        wide.extend(xs.iter().map(|&(x0, x1, tx)| r[x0] + (r[x1] - r[x0]) * tx));
    }
    let mut out = Vec::with_capacity(w * h);
    for &(y0, y1, ty) in &ys {
        let (r0, r1) = (&wide[y0 * w..(y0 + 1) * w], &wide[y1 * w..(y1 + 1) * w]);
        out.extend(r0.iter().zip(r1).map(|(&a, &b)| a + (b - a) * ty));
    }
    out
}

/// YCbCr samples (Y centred on 0) to RGBA pixels (alpha 255), the RGB bytes `(v + 0.5) as u8`
/// of the formulas `SpectralParts` gives. Through packed `u32` pixels, 256 at a time: the loop
/// that packs them is one the compiler turns into SIMD code where it has any (RGB bytes, three
/// apart, it does not).
#[inline(never)]
fn ycbcr_to_rgba(pixels: &mut [u8], y: &[f32], cb: &[f32], cr: &[f32]) {
    // `to_u8` in integers: `(v + 0.5) as i32` saturates and takes NaN to 0 as `as u8` does, and
    // the clamp then gives `as u8`'s result for every `f32`.
    let byte = |v: f32| ((v + 0.5) as i32).clamp(0, 255) as u32;
    let mut packed = [0u32; 256];
    let parts = pixels.chunks_mut(256 * 4).zip(y.chunks(256)).zip(cb.chunks(256)).zip(cr.chunks(256));
    for (((dst, y), cb), cr) in parts {
        for (((o, &y), &cb), &cr) in packed.iter_mut().zip(y).zip(cb).zip(cr) {
            let y = y + 128.0;
            let (r, g, b) = (y + 1.402 * cr, y - 0.344_136 * cb - 0.714_136 * cr, y + 1.772 * cb);
            *o = byte(r) | byte(g) << 8 | byte(b) << 16 | 0xFF00_0000;
        }
        for (p, v) in dst.chunks_exact_mut(4).zip(&packed) {
            p.copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// Spectral planes: Y (full size) and Cb, Cr (half size) centered on 0 for colour images, Y
/// for gray ones, the values for tensors.
fn spectral_planes(asset: &Asset, subsampled: bool) -> Vec<Vec<f32>> {
    let planes = asset.planes();
    match asset {
        Asset::Image { channels: 3, width, height, .. } => {
            let (w, h) = (*width as usize, *height as usize);
            let (r, g, b) = (&planes[0], &planes[1], &planes[2]);
            let y = r.iter().zip(g).zip(b).map(|((r, g), b)| 0.299 * r + 0.587 * g + 0.114 * b - 128.0).collect();
            let cb: Vec<f32> =
                r.iter().zip(g).zip(b).map(|((r, g), b)| -0.168_736 * r - 0.331_264 * g + 0.5 * b).collect();
            let cr: Vec<f32> =
                r.iter().zip(g).zip(b).map(|((r, g), b)| 0.5 * r - 0.418_688 * g - 0.081_312 * b).collect();
            if subsampled { vec![y, half(&cb, w, h), half(&cr, w, h)] } else { vec![y, cb, cr] }
        }
        Asset::Image { .. } => vec![planes[0].iter().map(|v| v - 128.0).collect()],
        Asset::Tensor { .. } => planes,
    }
}

/// The JPEG tables scaled to `quality` (the IJG formula), luma for plane 0 and chroma for the
/// others; encoder and decoder both compute them from the stored quality.
fn image_steps(quality: f32, planes: usize) -> Vec<[f32; 64]> {
    let q = quality.clamp(1.0, 100.0);
    let s = if q < 50.0 { 5000.0 / q } else { 200.0 - 2.0 * q };
    (0..planes)
        .map(|p| {
            let t = if p == 0 { &LUMA } else { &CHROMA };
            core::array::from_fn(|i| libm::floorf((f32::from(t[i]) * s + 50.0) / 100.0).clamp(1.0, 255.0))
        })
        .collect()
}

/// Fragment 0 holds the AC coefficients divided by this (rounded); later fragments the rest
/// (-1, 0 or 1; the refinement sections are coded as such, so the base is at most 3). Measured
/// on the photos against 2, 4, 5, 6 and 8 with the earlier Huffman coding, and against 2 again
/// with the range coder (`holo_rd` example: 2 is 1-4 dB below JPEG where 3 is within 0.07 dB):
/// 3 keeps every point of the curve closest to one-shot JPEG.
const BASE: i32 = 3;

/// The core every fragment repeats: a thumbnail of the DC, one sample per `THUMB x THUMB`
/// blocks (32 x 32 pixels of an image), in steps of `THUMB_STEP` DC steps.
const THUMB: usize = 4;
const THUMB_STEP: i32 = 4;

/// Most fragments: one for the coarse picture, one per AC cell.
pub(crate) const MAX_FRAGMENTS: usize = 64;

#[derive(Debug, Clone)]
pub(crate) struct Spectral {
    /// Quantization step per plane and cell.
    steps: Vec<[f32; 64]>,
    /// AC cells in refinement order.
    order: [u8; 63],
    /// Fragment `k >= 1` refines `order[bands[k - 1]..bands[k]]`.
    bands: Vec<u8>,
    geoms: Vec<Geom>,
    /// Quantized coefficients per plane, 64 per block, natural order: the DC once fragment 0
    /// is in, the AC as the sum of what has arrived (empty until a payload decodes).
    coefs: Vec<Vec<i32>>,
    dc_loaded: bool,
    /// The DC of every block from the thumbnail (in DC steps), until fragment 0 arrives.
    thumb_dc: Option<Vec<Vec<f32>>>,
    /// Chroma planes at half size (4:2:0).
    subsampled: bool,
    /// Fragment 0's divisor of the AC coefficients.
    base: i32,
}

fn grids(geoms: &[Geom]) -> Vec<Grid> {
    geoms.iter().map(|g| Grid { wide: g.wide(), blocks: g.blocks() }).collect()
}

/// The thumbnails' grids: one sample per `THUMB x THUMB` blocks.
fn thumb_grids(geoms: &[Geom]) -> Vec<Grid> {
    geoms
        .iter()
        .map(|g| {
            let (w, h) = (g.wide().div_ceil(THUMB), (g.blocks() / g.wide()).div_ceil(THUMB));
            Grid { wide: w, blocks: w * h }
        })
        .collect()
}

/// The thumbnail of each plane's DC values: means over `THUMB x THUMB` blocks, in steps of
/// `THUMB_STEP`.
fn thumbnail(dc: &[Vec<i32>], geoms: &[Geom]) -> Vec<i32> {
    let mut out = Vec::new();
    for ((dc, g), t) in dc.iter().zip(geoms).zip(thumb_grids(geoms)) {
        let mut sums = vec![(0i64, 0i64); t.blocks];
        for (b, &v) in dc.iter().enumerate() {
            let (bx, by) = (b % g.wide() / THUMB, b / g.wide() / THUMB);
            let s = &mut sums[by * t.wide + bx];
            *s = (s.0 + i64::from(v), s.1 + 1);
        }
        let step = i64::from(THUMB_STEP);
        out.extend(sums.iter().map(|&(s, n)| {
            let d = n * step;
            ((2 * s + d).div_euclid(2 * d)) as i32
        }));
    }
    out
}

/// Every block's DC (in DC steps) interpolated bilinearly between thumbnail samples (each at
/// the centre of its blocks).
fn thumb_to_dc(thumb: &[i32], geoms: &[Geom]) -> Vec<Vec<f32>> {
    let mut it = thumb.iter();
    geoms
        .iter()
        .zip(thumb_grids(geoms))
        .map(|(g, t)| {
            let samples: Vec<f32> = it.by_ref().take(t.blocks).map(|&v| (v as f32) * THUMB_STEP as f32).collect();
            let rows = t.blocks / t.wide;
            let taps = |i: usize, n: usize| {
                let x = ((i as f32 + 0.5) / THUMB as f32 - 0.5).max(0.0);
                let x0 = (x as usize).min(n - 1);
                (x0, (x0 + 1).min(n - 1), (x - x0 as f32).min(1.0))
            };
            (0..g.blocks())
                .map(|b| {
                    let (x0, x1, fx) = taps(b % g.wide(), t.wide);
                    let (y0, y1, fy) = taps(b / g.wide(), rows);
                    let s = |x: usize, y: usize| samples[y * t.wide + x];
                    let top = s(x0, y0) + (s(x1, y0) - s(x0, y0)) * fx;
                    let bottom = s(x0, y1) + (s(x1, y1) - s(x0, y1)) * fx;
                    top + (bottom - top) * fy
                })
                .collect()
        })
        .collect()
}

pub(crate) fn encode(asset: &Asset, o: &EncodeOptions) -> Result<Encoded, HoloError> {
    let n = usize::from(o.fragments);
    if n > MAX_FRAGMENTS {
        return Err(HoloError::InvalidInput("spectral encoding has at most 64 fragments".into()));
    }
    let kind = asset.kind();
    let subsampled = SUBSAMPLE_CHROMA;
    let planes = spectral_planes(asset, subsampled);
    let geoms = geoms(&kind, subsampled);
    let q = o.quality.clamp(1.0, 100.0);
    let steps: Vec<[f32; 64]> = match asset {
        Asset::Image { .. } => image_steps(q, planes.len()),
        Asset::Tensor { .. } => vec![[tensor_step(&planes[0], q); 64]],
    };
    let dct = Dct8::new();
    let mut coefs: Vec<Vec<i32>> = Vec::with_capacity(planes.len());
    for ((plane, step), g) in planes.iter().zip(&steps).zip(&geoms) {
        let blocks = g.blocks();
        let mut c = vec![0i32; blocks * 64];
        for b in 0..blocks {
            let mut blk = g.get(plane, b);
            dct.forward(&mut blk);
            for i in 0..64 {
                c[b * 64 + i] = quantize(blk[i], step[i]);
            }
        }
        coefs.push(c);
    }
    // Fragment 0 holds the DC and every AC cell at 1/BASE of its precision (a complete coarse
    // picture, as a low-quality JPEG); fragments 1.. refine bands of cells to full precision.
    // With one fragment there is nothing to refine.
    let base = if n == 1 { 1 } else { BASE };
    let split = |q: i32| -> (i32, i32) {
        let half = base / 2;
        let c = if q >= 0 { (q + half) / base } else { -((half - q) / base) };
        (c, q - base * c)
    };
    // Per cell: the error its refinement removes, and how many refinements are non-zero (a
    // proxy for their bytes).
    let mut gain = [0f64; 64];
    let mut nonzero = [0u64; 64];
    for (c, step) in coefs.iter().zip(&steps) {
        for blk in c.chunks_exact(64) {
            for i in 1..64 {
                let r = split(blk[i]).1;
                gain[i] += crate::quality::sq(f64::from(r) * f64::from(step[i]));
                nonzero[i] += u64::from(r != 0);
            }
        }
    }
    // Cells by error removed per refinement, most first (ties in zigzag order): the prefix of
    // the fragments gains the most per byte.
    let mut order: [u8; 63] = ZIGZAG[1..].try_into().expect("63 AC cells");
    let density = |c: u8| gain[usize::from(c)] / (nonzero[usize::from(c)] + 1) as f64;
    order.sort_by(|&a, &b| density(b).total_cmp(&density(a)));
    // Bands of about equal numbers of non-zero refinements, at least one cell each.
    let parts = n.saturating_sub(1);
    let mut bands = vec![0u8];
    if parts > 0 {
        let total: u64 = order.iter().map(|&c| nonzero[usize::from(c)] + 1).sum();
        let mut acc = 0u64;
        for (i, &c) in order.iter().enumerate() {
            acc += nonzero[usize::from(c)] + 1;
            let k = bands.len();
            let left = 63 - (i + 1);
            if k < parts && (acc * parts as u64 >= total * k as u64 || left == parts - k) {
                bands.push(i as u8 + 1);
            }
        }
        bands.push(63);
    }
    let mut params = Vec::new();
    params.push(steps.len() as u8);
    params.push(u8::from(subsampled));
    match asset {
        // The tables follow from the quality.
        Asset::Image { .. } => params.extend_from_slice(&q.to_le_bytes()),
        Asset::Tensor { .. } => params.extend_from_slice(&steps[0][0].to_le_bytes()),
    }
    params.extend_from_slice(&order);
    params.extend_from_slice(&bands);
    params.push(base as u8);

    let grids = grids(&geoms);
    let dc: Vec<Vec<i32>> = coefs.iter().map(|c| c.chunks_exact(64).map(|b| b[0]).collect()).collect();
    let core = coefs::encode(Some(&thumbnail(&dc, &geoms)), &[], 0, &thumb_grids(&geoms), false);
    // A section lists each block's cells in order, block after block, plane after plane.
    let section = |cells: &[u8], part: fn((i32, i32)) -> i32| -> Vec<i32> {
        coefs
            .iter()
            .flat_map(|c| {
                c.chunks_exact(64).flat_map(|blk| cells.iter().map(|&cell| part(split(blk[usize::from(cell)]))))
            })
            .collect()
    };
    let payloads = (0..n)
        .map(|k| {
            let main = if k == 0 {
                // Zigzag order: a block's high frequencies, mostly zero, end it.
                let all: Vec<i32> = dc.concat();
                coefs::encode(Some(&all), &section(&ZIGZAG[1..], |(c, _)| c), 63, &grids, false)
            } else {
                let cells = &order[usize::from(bands[k - 1])..usize::from(bands[k])];
                coefs::encode(None, &section(cells, |(_, r)| r), cells.len(), &grids, true)
            };
            let mut p = Vec::with_capacity(core.len() + main.len() + 8);
            put_bytes(&mut p, &core);
            put_bytes(&mut p, &main);
            p
        })
        .collect();
    Ok((params, payloads))
}

impl Spectral {
    pub(crate) fn new(kind: &AssetKind, count: u16, r: &mut Reader<'_>) -> Result<Self, HoloError> {
        let planes = usize::from(r.u8()?);
        let subsampled = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(HoloError::Corrupt("chroma subsampling flag")),
        };
        if planes != kind.planes() {
            return Err(HoloError::Corrupt("spectral plane count"));
        }
        let v = r.f32()?;
        let steps = match kind {
            AssetKind::Image { .. } if (1.0..=100.0).contains(&v) => image_steps(v, planes),
            AssetKind::Tensor { .. } if v.is_finite() && v > 0.0 => vec![[v; 64]],
            _ => return Err(HoloError::Corrupt("quality or quantization step")),
        };
        let order: [u8; 63] = r.take(63)?.try_into().expect("63");
        let mut seen = [false; 64];
        for &c in &order {
            if c == 0 || c >= 64 || core::mem::replace(&mut seen[usize::from(c)], true) {
                return Err(HoloError::Corrupt("cell order is not a permutation of the AC cells"));
            }
        }
        let count = usize::from(count);
        if count == 0 || count > MAX_FRAGMENTS {
            return Err(HoloError::Corrupt("fragment count"));
        }
        let bands = r.take(count)?.to_vec();
        let base = i32::from(r.u8()?);
        if bands[0] != 0
            || bands.windows(2).any(|w| w[0] >= w[1])
            || (count > 1 && bands[count - 1] != 63)
            || base != if count == 1 { 1 } else { BASE }
        {
            return Err(HoloError::Corrupt("band boundaries"));
        }
        let geoms = geoms(kind, subsampled);
        // The coefficients are allocated once a payload has decoded.
        Ok(Spectral {
            steps,
            order,
            bands,
            geoms,
            coefs: Vec::new(),
            dc_loaded: false,
            thumb_dc: None,
            subsampled,
            base,
        })
    }

    /// Decodes every section of the payload before changing anything: a payload that fails
    /// leaves the state as it was.
    pub(crate) fn add(&mut self, index: usize, payload: &[u8]) -> Result<(), HoloError> {
        self.add_update(index, payload).map(drop)
    }

    /// [`add`](Self::add), returning what the payload added (the values decoded anyway).
    pub(crate) fn add_update(&mut self, index: usize, payload: &[u8]) -> Result<SpectralUpdate, HoloError> {
        let mut r = Reader::new(payload);
        let (core, main) = (r.bytes()?, r.bytes()?);
        if r.pos != payload.len() {
            return Err(HoloError::Corrupt("spectral sections"));
        }
        let grids = grids(&self.geoms);
        let thumb = if self.thumb_dc.is_none() {
            Some(thumb_to_dc(&coefs::decode(core, true, 0, &thumb_grids(&self.geoms), false)?.0, &self.geoms))
        } else {
            None
        };
        // Fragment 0: the DC and every AC cell, coarse; the others: their band's refinements.
        // Both add to the coefficients, so fragments combine in any order.
        let (cells, scale) = if index == 0 {
            (&ZIGZAG[1..], self.base)
        } else {
            (&self.order[usize::from(self.bands[index - 1])..usize::from(self.bands[index])], 1)
        };
        let (dc, values) = coefs::decode(main, index == 0, cells.len(), &grids, index != 0)?;
        if thumb.is_some() {
            self.thumb_dc = thumb;
        }
        // The first payload to decode makes the coefficients, block by block (no zeroed
        // planes written first); later ones add to them.
        let fresh = self.coefs.is_empty();
        if fresh {
            self.coefs = self.geoms.iter().map(|g| Vec::with_capacity(g.blocks() * 64)).collect();
        }
        let n = cells.len();
        let mut at = 0;
        for (c, g) in self.coefs.iter_mut().zip(&self.geoms) {
            let blocks = g.blocks();
            let add = |b: usize, blk: &mut [i32]| {
                if !dc.is_empty() {
                    blk[0] = dc[at + b];
                }
                for (&cell, &v) in cells.iter().zip(&values[(at + b) * n..(at + b + 1) * n]) {
                    let x = &mut blk[usize::from(cell)];
                    *x = x.wrapping_add(v.wrapping_mul(scale));
                }
            };
            if fresh {
                for b in 0..blocks {
                    let mut blk = [0i32; 64];
                    add(b, &mut blk);
                    c.extend_from_slice(&blk);
                }
            } else {
                for (b, blk) in c.chunks_exact_mut(64).enumerate() {
                    add(b, blk);
                }
            }
            at += blocks;
        }
        self.dc_loaded |= index == 0;
        Ok(SpectralUpdate { index: index as u16, cells: cells.to_vec(), scale, dc, values })
    }

    /// The state for `SpectralParts` (`None` before a payload has decoded).
    pub(crate) fn parts(&self, width: u32, height: u32, channels: u8) -> Option<crate::parts::SpectralParts<'_>> {
        if self.coefs.is_empty() {
            return None;
        }
        let planes = self
            .geoms
            .iter()
            .zip(&self.coefs)
            .zip(&self.steps)
            .enumerate()
            .map(|(p, ((g, c), step))| crate::parts::SpectralPlane {
                width: g.w,
                height: g.h,
                tiled: g.image,
                coefs: c,
                steps: *step,
                dc: c
                    .chunks_exact(64)
                    .enumerate()
                    .map(|(b, blk)| match &self.thumb_dc {
                        _ if self.dc_loaded => blk[0] as f32,
                        Some(t) => t[p][b],
                        None => 0.0,
                    })
                    .collect(),
            })
            .collect();
        Some(crate::parts::SpectralParts {
            width,
            height,
            channels,
            subsampled: self.subsampled,
            planes,
            dct: Dct8::new().basis(),
        })
    }

    /// The reconstruction's pixels of a colour image as RGBA (alpha 255), gray ones as they are:
    /// what a preview shows, without whole planes or an RGB copy first. `None` for other
    /// assets (tensors, images under 8 samples a side, subsampled chroma).
    pub(crate) fn preview_pixels(&self, kind: &AssetKind) -> Option<(u32, u32, u8, Vec<u8>)> {
        let AssetKind::Image { width, height, channels: channels @ (1 | 3) } = kind else { return None };
        if self.subsampled || !self.geoms.iter().all(|g| g.image) {
            return None;
        }
        let pixels = self.image_pixels(*width as usize, *height as usize, usize::from(*channels));
        Some((*width, *height, if *channels == 3 { 4 } else { 1 }, pixels))
    }

    /// Block `b`'s DC in steps: its own once fragment 0 is in, else the thumbnail's.
    fn dc_of(&self, plane: usize, b: usize, blk: &[i32]) -> f32 {
        match &self.thumb_dc {
            _ if self.dc_loaded => blk[0] as f32,
            Some(t) => t[plane][b],
            None => 0.0,
        }
    }

    /// The reconstruction through whole planes of samples (`plane_samples`), as `SpectralParts`
    /// describes it.
    pub(crate) fn reconstruct(&self, kind: &AssetKind) -> Reconstruction {
        let dct = Dct8::new();
        let mut planes: Vec<Vec<f32>> = (self.coefs.iter().zip(&self.steps).zip(&self.geoms).enumerate())
            .map(|(p, ((c, step), g))| plane_samples(*g, c, step, &dct, |b, blk| self.dc_of(p, b, blk)))
            .collect();
        match kind {
            AssetKind::Image { channels: 3, width, height } => {
                let (w, h) = (*width as usize, *height as usize);
                let (cb, cr) = if self.subsampled {
                    (double(&planes[1], w, h), double(&planes[2], w, h))
                } else {
                    (core::mem::take(&mut planes[1]), core::mem::take(&mut planes[2]))
                };
                let mut pixels = vec![0u8; w * h * 3];
                for (((p, &y), &cb), &cr) in pixels.chunks_exact_mut(3).zip(&planes[0]).zip(&cb).zip(&cr) {
                    let y = y + 128.0;
                    p[0] = to_u8(y + 1.402 * cr);
                    p[1] = to_u8(y - 0.344_136 * cb - 0.714_136 * cr);
                    p[2] = to_u8(y + 1.772 * cb);
                }
                Reconstruction::Image { width: *width, height: *height, channels: 3, pixels }
            }
            AssetKind::Image { .. } => from_planes(kind, &[planes[0].iter().map(|v| v + 128.0).collect()]),
            AssetKind::Tensor { .. } => from_planes(kind, &planes),
        }
    }

    /// The preview pixels of a tiled image without subsampled chroma (RGBA for colour),
    /// computed as [`reconstruct`](Self::reconstruct) computes the pixels (the
    /// same operations on every sample) but one row of blocks at a time: the planes' samples
    /// never exist whole, which spares writing and reading back 12 bytes a pixel (and, for a
    /// 4096 x 4096 photo, 200 MB at once). (A NaN sample is not rewritten first: any NaN makes
    /// a 0 pixel.)
    fn image_pixels(&self, w: usize, h: usize, channels: usize) -> Vec<u8> {
        let dct = Dct8::new();
        let wide = w.div_ceil(8);
        let out = if channels == 3 { 4 } else { 1 };
        let mut strips = vec![vec![0f32; w * 8]; self.coefs.len()];
        let mut pixels = Vec::with_capacity(w * h * out);
        for by in 0..h.div_ceil(8) {
            let rows = 8.min(h - by * 8);
            for (p, strip) in strips.iter_mut().enumerate() {
                for bx in 0..wide {
                    let b = by * wide + bx;
                    let blk = &self.coefs[p][b * 64..(b + 1) * 64];
                    let f = block_samples(blk, &self.steps[p], &dct, self.dc_of(p, b, blk));
                    let n = 8.min(w - bx * 8);
                    for (y, row) in f.chunks_exact(8).take(rows).enumerate() {
                        strip[y * w + bx * 8..y * w + bx * 8 + n].copy_from_slice(&row[..n]);
                    }
                }
            }
            for y in 0..rows {
                let start = pixels.len();
                pixels.resize(start + w * out, 0);
                let dst = &mut pixels[start..];
                let row = |p: usize| &strips[p][y * w..(y + 1) * w];
                if out == 4 {
                    ycbcr_to_rgba(dst, row(0), row(1), row(2));
                } else {
                    for (o, &v) in dst.iter_mut().zip(row(0)) {
                        *o = to_u8(v + 128.0);
                    }
                }
            }
        }
        pixels
    }
}

#[cfg(test)]
mod tests {
    use alloc::format;

    use super::*;
    use crate::asset::Asset;
    use crate::decoder::HoloDecoder;
    use crate::schemes::State;
    use crate::{EncodeOptions, Encoding, encode};

    fn next(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    /// A textured picture: gradients, an edge and noise.
    fn picture(w: u32, h: u32, channels: u8, seed: u64) -> Asset {
        let mut x = seed | 1;
        let pixels = (0..w * h * u32::from(channels))
            .map(|i| {
                let (px, py) = (i / u32::from(channels) % w, i / u32::from(channels) / w);
                let edge = if px * 3 > w + py { 90 } else { 0 };
                ((px * 5 + py * 3 + i % 3 * 40 + edge) as u64 + next(&mut x) % 24) as u8
            })
            .collect();
        Asset::image(w, h, channels, pixels).unwrap()
    }

    /// `rec`'s pixels as a preview shows them: RGBA for colour, gray as is.
    fn rgba(rec: &Reconstruction) -> (u32, u32, u8, Vec<u8>) {
        let Reconstruction::Image { width, height, channels, pixels } = rec else { panic!("not an image") };
        match channels {
            3 => (*width, *height, 4, pixels.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect()),
            _ => (*width, *height, *channels, pixels.clone()),
        }
    }

    /// The preview's pixels are the reconstruction's.
    fn check(s: &Spectral, kind: &AssetKind, what: &str) {
        assert_eq!(s.preview_pixels(kind), Some(rgba(&s.reconstruct(kind))), "{what}");
    }

    /// The packed RGBA conversion gives `to_u8` of the documented formulas, for every kind of `f32`:
    /// halves, the edges of the byte range, infinities, NaNs, huge values; lengths around the
    /// chunk of 256.
    #[test]
    fn packed_colour_conversion_is_the_formula() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let special = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            127.5,
            -127.5,
            126.5,
            127.0,
            -128.0,
            -128.5,
            200.0,
            1e9,
            -1e9,
            3e38,
            -3e38,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
            f32::MIN_POSITIVE,
            2147483520.0,
            -2147483648.0,
        ];
        let mut sample = || match next(&mut x) % 4 {
            0 => special[(next(&mut x) % special.len() as u64) as usize],
            1 => f32::from_bits(next(&mut x) as u32),
            _ => (next(&mut x) % 40_000) as f32 / 64.0 - 312.5,
        };
        for n in [0, 1, 7, 255, 256, 257, 1000] {
            let planes: [Vec<f32>; 3] = core::array::from_fn(|_| (0..n).map(|_| sample()).collect());
            let want: Vec<[u8; 3]> = (0..n)
                .map(|i| {
                    let (y, cb, cr) = (planes[0][i] + 128.0, planes[1][i], planes[2][i]);
                    [to_u8(y + 1.402 * cr), to_u8(y - 0.344_136 * cb - 0.714_136 * cr), to_u8(y + 1.772 * cb)]
                })
                .collect();
            let mut rgba = vec![0u8; n * 4];
            ycbcr_to_rgba(&mut rgba, &planes[0], &planes[1], &planes[2]);
            assert_eq!(rgba, want.iter().flat_map(|p| [p[0], p[1], p[2], 255]).collect::<Vec<_>>(), "{n} RGBA");
        }
    }

    fn spectral(d: &HoloDecoder) -> &Spectral {
        match d.state() {
            Some(State::Spectral(s)) => s,
            _ => panic!("not a spectral state"),
        }
    }

    /// The preview made a row of blocks at a time gives the pixels that the whole-plane
    /// reconstruction (the computation `SpectralParts` documents) gives: after every arrival, in an order that
    /// starts without fragment 0 (thumbnail DCs), at sizes that are not multiples of 8.
    #[test]
    fn rows_of_blocks_make_the_pixels_whole_planes_make() {
        for (i, (w, h, c)) in
            [(24, 16, 3), (13, 21, 3), (8, 9, 1), (37, 8, 3), (64, 40, 1), (9, 70, 3)].into_iter().enumerate()
        {
            let asset = picture(w, h, c, i as u64 + 1);
            let kind = asset.kind();
            let enc =
                encode(&asset, &EncodeOptions { encoding: Encoding::Spectral, fragments: 5, ..Default::default() })
                    .unwrap();
            let mut d = HoloDecoder::new();
            for k in [3, 0, 4, 1, 2] {
                d.push(&enc.fragments[k]).unwrap();
                let s = spectral(&d);
                assert!(s.geoms.iter().all(|g| g.image) && !s.subsampled, "{w}x{h}: takes the new path");
                check(s, &kind, &format!("{w}x{h}x{c} after fragment {k}"));
            }
        }
    }

    /// The same for coefficients no encoder makes (forged fragments): random extremes, with
    /// and without fragment 0's DCs.
    #[test]
    fn rows_of_blocks_agree_on_extreme_coefficients() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for (w, h, c) in [(16, 16, 3), (11, 19, 1), (21, 10, 3)] {
            let asset = picture(w, h, c, 9);
            let kind = asset.kind();
            let enc =
                encode(&asset, &EncodeOptions { encoding: Encoding::Spectral, fragments: 3, ..Default::default() })
                    .unwrap();
            let mut d = HoloDecoder::new();
            d.push(&enc.fragments[0]).unwrap();
            let mut s = spectral(&d).clone();
            for round in 0..8 {
                for v in s.coefs.iter_mut().flatten() {
                    *v = match next(&mut x) % 8 {
                        0..=3 => 0,
                        4 => i32::MAX,
                        5 => i32::MIN,
                        _ => (next(&mut x) % 2001) as i32 - 1000,
                    };
                }
                s.dc_loaded = round % 2 == 0;
                check(&s, &kind, &format!("{w}x{h}x{c} round {round}"));
            }
        }
    }
}
