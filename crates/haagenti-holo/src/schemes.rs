//! The four encodings: each turns an asset into parameters and one payload per fragment, and
//! rebuilds an approximation from any subset of payloads.

use alloc::vec;
use alloc::vec::Vec;

use haagenti_hct::{DType, Transform};

use crate::asset::{Asset, AssetKind, Encoding, Reconstruction, bytes_of, element_to_f32, elements_of, f32_to_element};
use crate::coding::{MAX_SECTION, Reader, Varints, pack, pack_hard, put_bytes, put_varint, unpack};
use crate::math::{Dct8, SplitMix, ZIGZAG, hadamard_forward, hadamard_inverse, truncated_svd};
use crate::{EncodeOptions, HoloError};

/// Parameters and payloads of an encoded asset.
pub(crate) type Encoded = (Vec<u8>, Vec<Vec<u8>>);

pub(crate) fn encode(asset: &Asset, o: &EncodeOptions) -> Result<Encoded, HoloError> {
    let n = usize::from(o.fragments);
    if n == 0 {
        return Err(HoloError::InvalidInput("at least one fragment".into()));
    }
    match o.encoding {
        Encoding::Spectral => spectral_encode(asset, o),
        Encoding::RandomProjection => projection_encode(asset, o),
        Encoding::LowRank => lowrank_encode(asset, o),
        Encoding::Residual if matches!(asset, Asset::Tensor { .. }) => refine_encode(asset, o),
        Encoding::Residual => residual_encode(asset, o),
    }
}

/// A decoder's per-encoding state: payloads decoded as they arrive.
#[derive(Debug, Clone)]
pub(crate) enum State {
    Spectral(Spectral),
    Projection(Projection),
    LowRank(LowRank),
    Residual(Residual),
    Refine(Refine),
}

impl State {
    pub(crate) fn new(encoding: Encoding, kind: &AssetKind, count: u16, params: &[u8]) -> Result<Self, HoloError> {
        let mut r = Reader::new(params);
        let s = match encoding {
            Encoding::Spectral => State::Spectral(Spectral::new(kind, count, &mut r)?),
            Encoding::RandomProjection => State::Projection(Projection::new(kind, count, &mut r)?),
            Encoding::LowRank => State::LowRank(LowRank::new(kind, count, &mut r)?),
            Encoding::Residual => match r.u8()? {
                0 => State::Residual(Residual::new(kind, count, &mut r)?),
                1 => State::Refine(Refine::new(kind, count, &mut r)?),
                _ => return Err(HoloError::Corrupt("residual profile")),
            },
        };
        if r.pos != params.len() {
            return Err(HoloError::Corrupt("bytes after the parameters"));
        }
        Ok(s)
    }

    pub(crate) fn add(&mut self, index: usize, payload: &[u8]) -> Result<(), HoloError> {
        match self {
            State::Spectral(s) => s.add(index, payload),
            State::Projection(s) => s.add(index, payload),
            State::LowRank(s) => s.add(index, payload),
            State::Residual(s) => s.add(index, payload),
            State::Refine(s) => s.add(index, payload),
        }
    }

    pub(crate) fn reconstruct(&self, kind: &AssetKind, received: &[bool]) -> Reconstruction {
        match self {
            State::Spectral(s) => s.reconstruct(kind),
            State::Projection(s) => s.reconstruct(kind, received),
            State::LowRank(s) => s.reconstruct(kind, received),
            State::Residual(s) => s.reconstruct(kind),
            State::Refine(s) => s.reconstruct(kind),
        }
    }
}

/// The reconstruction of f32 planes: images rounded and clamped, tensors converted.
fn from_planes(kind: &AssetKind, planes: &[Vec<f32>]) -> Reconstruction {
    match kind {
        AssetKind::Image { width, height, channels } => {
            let pixels = match planes {
                [r, g, b] => {
                    let mut pixels = vec![0u8; r.len() * 3];
                    for (((p, &r), &g), &b) in pixels.chunks_exact_mut(3).zip(r).zip(g).zip(b) {
                        p.copy_from_slice(&[to_u8(r), to_u8(g), to_u8(b)]);
                    }
                    pixels
                }
                _ => planes[0].iter().map(|&v| to_u8(v)).collect(),
            };
            debug_assert_eq!(pixels.len() as u64, u64::from(*width) * u64::from(*height) * u64::from(*channels));
            Reconstruction::Image { width: *width, height: *height, channels: *channels, pixels }
        }
        AssetKind::Tensor { dtype, shape } => {
            let elements: Vec<u32> = planes[0].iter().map(|&v| f32_to_element(*dtype, v)).collect();
            let values = elements.iter().map(|&e| element_to_f32(*dtype, e)).collect();
            Reconstruction::Tensor { dtype: *dtype, shape: shape.clone(), values, data: bytes_of(*dtype, &elements) }
        }
    }
}

/// A sample rounded to the nearest 8-bit value (halves up), clamped (`as` saturates, and
/// takes NaN to 0).
#[inline(always)]
fn to_u8(v: f32) -> u8 {
    (v + 0.5) as u8
}

/// A reconstruction from raw element bit patterns (exact).
fn from_elements(kind: &AssetKind, elements: &[u32]) -> Reconstruction {
    match kind {
        AssetKind::Image { width, height, channels } => Reconstruction::Image {
            width: *width,
            height: *height,
            channels: *channels,
            pixels: elements.iter().map(|&e| e as u8).collect(),
        },
        AssetKind::Tensor { dtype, shape } => Reconstruction::Tensor {
            dtype: *dtype,
            shape: shape.clone(),
            values: elements.iter().map(|&e| element_to_f32(*dtype, e)).collect(),
            data: bytes_of(*dtype, elements),
        },
    }
}

fn rms(v: &[f32]) -> f32 {
    let s: f64 = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    (libm::sqrt(s / v.len().max(1) as f64) as f32).max(f32::MIN_POSITIVE)
}

/// Uniform quantization step for tensor values at `quality` (1..=100): a quarter of the RMS at
/// 50, halving every 10 points above.
fn tensor_step(values: &[f32], quality: f32) -> f32 {
    rms(values) * 0.25 * libm::powf(2.0, -(quality - 50.0) / 10.0)
}

fn quantize(v: f32, step: f32) -> i32 {
    libm::roundf(v / step).clamp(-1e9, 1e9) as i32
}

// ---------------------------------------------------------------------------------------------
// Spectral

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

/// Positions repeated in every fragment (the DC coefficient).
const CORE: usize = 1;

#[derive(Debug, Clone)]
pub(crate) struct Spectral {
    /// Quantization step per plane and cell.
    steps: Vec<[f32; 64]>,
    /// Cells in transmission order.
    order: [u8; 64],
    /// Band `k` is `order[bands[k]..bands[k + 1]]` (after the core).
    bands: Vec<u8>,
    geoms: Vec<Geom>,
    /// Quantized coefficients per plane, 64 per block, natural order.
    coefs: Vec<Vec<i32>>,
    core_loaded: bool,
    /// Chroma planes at half size (4:2:0).
    subsampled: bool,
    /// Fragment 0's divisor of the AC coefficients.
    base: i32,
}

/// Whether the encoder halves chroma planes (4:2:0). Measured on the photos: at quality 75 the
/// full-size chroma costs little and keeps about 1.4 dB, so it stays off.
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

/// The planes' grids: luma at full size and chroma at half size (4:2:0) for colour images.
fn geoms(kind: &AssetKind, subsampled: bool) -> Vec<Geom> {
    match kind {
        AssetKind::Image { width, height, channels } => {
            let (w, h) = (*width as usize, *height as usize);
            let mut g = vec![Geom { w, h, image: true }];
            if *channels == 3 {
                let (cw, ch) = if subsampled { (w.div_ceil(2), h.div_ceil(2)) } else { (w, h) };
                g.extend([Geom { w: cw, h: ch, image: true }; 2]);
            }
            g
        }
        AssetKind::Tensor { .. } => vec![Geom { w: kind.samples() as usize, h: 1, image: false }],
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

/// Bilinear upsampling of a half-size plane back to `w x h` (sample centres aligned).
fn double(plane: &[f32], w: usize, h: usize) -> Vec<f32> {
    let (w2, h2) = (w.div_ceil(2), h.div_ceil(2));
    // Output sample i sits at (i - 0.5) / 2 in half-size coordinates: between samples
    // (i - 1) / 2 and (i + 1) / 2 with weights 1/4 and 3/4 (edges clamped).
    let taps = |n: usize, n2: usize| -> Vec<(usize, usize, f32)> {
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
    };
    let (xs, ys) = (taps(w, w2), taps(h, h2));
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

/// A coefficient section, coded as progressive JPEG codes its spectral bands: values come in
/// blocks of `per_block` (block-major); each non-zero value is one symbol `run << 4 | size`
/// (the zeros before it in its block, up to 15, and its magnitude's bit count), `0xF0` is
/// sixteen zeros, and `n << 4` (`n` in 0..=14) ends this block and the next
/// `2^n - 1 + (n extra bits)` blocks with zeros. The symbols are Huffman coded (an
/// entropy-only zstd frame), the magnitudes' low bits, signs and run lengths' extra bits
/// stored as they are. Size 15 is an escape: the value follows as 32 raw bits.
fn rle_pack(values: &[i32], per_block: usize) -> Vec<u8> {
    let mut symbols = Vec::new();
    let mut bits = BitSink::default();
    let mut eob_run = 0u32;
    let flush_eobs = |eob_run: &mut u32, symbols: &mut Vec<u8>, bits: &mut BitSink| {
        while *eob_run > 0 {
            let n = (31 - eob_run.leading_zeros()).min(14);
            symbols.push((n << 4) as u8);
            bits.put(u64::from(*eob_run - (1 << n)), n);
            *eob_run -= (1 << n) + ((*eob_run - (1 << n)) & ((1 << n) - 1));
        }
    };
    for block in values.chunks(per_block.max(1)) {
        let last = block.iter().rposition(|&v| v != 0);
        let Some(last) = last else {
            eob_run += 1;
            if eob_run == (1 << 15) - 1 {
                flush_eobs(&mut eob_run, &mut symbols, &mut bits);
            }
            continue;
        };
        flush_eobs(&mut eob_run, &mut symbols, &mut bits);
        let mut run = 0u32;
        for &v in &block[..=last] {
            if v == 0 {
                run += 1;
                continue;
            }
            while run >= 16 {
                symbols.push(0xF0);
                run -= 16;
            }
            let m = v.unsigned_abs();
            let size = 32 - m.leading_zeros();
            if size >= 15 {
                symbols.push((run << 4 | 15) as u8);
                bits.put(v as u32 as u64, 32);
            } else {
                symbols.push((run << 4 | size) as u8);
                bits.put(u64::from(m - (1 << (size - 1))) << 1 | u64::from(v < 0), size);
            }
            run = 0;
        }
        if last + 1 < block.len() {
            eob_run += 1;
        }
    }
    flush_eobs(&mut eob_run, &mut symbols, &mut bits);
    let mut out = Vec::new();
    put_bytes(&mut out, &haagenti_zstd::ZstdCompressor::entropy_only().checksum(false).compress(&symbols));
    out.extend_from_slice(&bits.finish());
    out
}

/// Bits written least significant first.
#[derive(Default)]
struct BitSink {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitSink {
    fn put(&mut self, v: u64, bits: u32) {
        debug_assert!(bits <= 32);
        self.acc |= (v & ((1u64 << bits) - 1)) << self.n;
        self.n += bits;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// Reads what [`BitSink`] wrote; running out is an error.
struct BitSource<'a> {
    b: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
}

impl BitSource<'_> {
    fn get(&mut self, bits: u32) -> Result<u64, HoloError> {
        while self.n < bits {
            let byte = *self.b.get(self.pos).ok_or(HoloError::Corrupt("coefficient bits end early"))?;
            self.acc |= u64::from(byte) << self.n;
            self.pos += 1;
            self.n += 8;
        }
        let v = self.acc & ((1u64 << bits) - 1);
        self.acc >>= bits;
        self.n -= bits;
        Ok(v)
    }
}

/// The `blocks * per_block` values of a section written by [`rle_pack`].
fn rle_unpack(packed: &[u8], blocks: usize, per_block: usize) -> Result<Vec<i32>, HoloError> {
    let count = blocks.saturating_mul(per_block);
    let mut r = Reader::new(packed);
    let symbols = unpack(r.bytes()?, count.saturating_add(1))?;
    let mut bits = BitSource { b: &packed[r.pos..], pos: 0, acc: 0, n: 0 };
    let mut out = Vec::with_capacity(count);
    let mut in_block = 0usize;
    for &sym in &symbols {
        let (run, size) = (usize::from(sym >> 4), u32::from(sym & 15));
        if size == 0 && run != 15 {
            // An end-of-block run: this block's remaining zeros and 2^run - 1 + extra more
            // whole blocks.
            let more = (1usize << run) - 1 + bits.get(run as u32)? as usize;
            let zeros = (per_block - in_block).saturating_add(more.saturating_mul(per_block));
            if zeros > count - out.len() || in_block == per_block {
                return Err(HoloError::Corrupt("end-of-block run past the section"));
            }
            out.resize(out.len() + zeros, 0);
            in_block = 0;
            continue;
        }
        let zeros = if size == 0 { 16 } else { run };
        if in_block + zeros + usize::from(size != 0) > per_block {
            return Err(HoloError::Corrupt("zero run past its block"));
        }
        out.resize(out.len() + zeros, 0);
        in_block += zeros;
        if size != 0 {
            let v = if size == 15 {
                bits.get(32)? as u32 as i32
            } else {
                let x = bits.get(size)?;
                let m = (1i64 << (size - 1)) + (x >> 1) as i64;
                (if x & 1 == 1 { -m } else { m }) as i32
            };
            out.push(v);
            in_block += 1;
        }
        if in_block == per_block {
            in_block = 0;
        }
        if out.len() > count {
            return Err(HoloError::Corrupt("more coefficients than the section holds"));
        }
    }
    if out.len() != count || bits.pos != bits.b.len() {
        return Err(HoloError::Corrupt("coefficient section size"));
    }
    Ok(out)
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

fn spectral_encode(asset: &Asset, o: &EncodeOptions) -> Result<Encoded, HoloError> {
    let n = usize::from(o.fragments);
    if n > 64 - CORE {
        return Err(HoloError::InvalidInput("spectral encoding has at most 63 fragments".into()));
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
                let v = quantize(blk[i], step[i]);
                c[b * 64 + i] = v;
            }
        }
        coefs.push(c);
    }
    // Fragment 0 holds every AC cell at 1/BASE of its precision (a complete coarse picture, as
    // a low-quality JPEG); fragments 1.. refine bands of cells to full precision. With one
    // fragment there is nothing to refine.
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
    // The DC first, then cells by error removed per refinement, most first (ties in zigzag
    // order): the prefix of the fragments gains the most per byte.
    let mut order: Vec<u8> = ZIGZAG.to_vec();
    let density = |c: u8| gain[usize::from(c)] / (nonzero[usize::from(c)] + 1) as f64;
    order[1..].sort_by(|&a, &b| density(b).total_cmp(&density(a)));
    let order: [u8; 64] = order.try_into().expect("64 cells");
    let mut bands = vec![CORE as u8, CORE as u8];
    if n >= 2 {
        let parts = n as u64 - 1;
        let total: u64 = order[CORE..].iter().map(|&c| nonzero[usize::from(c)] + 1).sum();
        let mut acc = 0u64;
        for (i, &c) in order.iter().enumerate().skip(CORE) {
            acc += nonzero[usize::from(c)] + 1;
            let k = bands.len() as u64 - 1;
            let left = 64 - (i + 1);
            if k < parts && (acc * parts >= total * k || left as u64 == parts - k) {
                bands.push(i as u8 + 1);
            }
        }
    }
    bands.truncate(n);
    while bands.len() < n + 1 {
        bands.push(64);
    }
    *bands.last_mut().expect("n + 1 entries") = 64;
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
    // Sections list each block's cells in order, block after block, plane after plane.
    let section = |cells: &[u8], part: fn((i32, i32)) -> i32| {
        let values: Vec<i32> = coefs
            .iter()
            .flat_map(|c| {
                c.chunks_exact(64).flat_map(|blk| cells.iter().map(|&cell| part(split(blk[usize::from(cell)]))))
            })
            .collect();
        rle_pack(&values, cells.len())
    };
    // The core every fragment repeats: the DC coefficients at a sixteenth of their precision,
    // as differences from the previous block (DPCM, as JPEG codes them). Fragment 0 carries
    // the DC's low bits.
    let coarse: Vec<Vec<i32>> = coefs.iter().map(|c| c.chunks_exact(64).map(|b| dc_split(b[0]).0).collect()).collect();
    let core = rle_pack(&coarse.iter().flat_map(|c| dpcm(c)).collect::<Vec<_>>(), 1);
    let refine =
        rle_pack(&coefs.iter().flat_map(|c| c.chunks_exact(64).map(|b| dc_split(b[0]).1)).collect::<Vec<_>>(), 1);
    let payloads = (0..n)
        .map(|k| {
            let mut p = Vec::new();
            put_bytes(&mut p, &core);
            if k == 0 {
                // Zigzag order: a block's high frequencies, mostly zero, end it.
                put_bytes(&mut p, &section(&ZIGZAG[CORE..], |(c, _)| c));
                put_bytes(&mut p, &refine);
            } else {
                put_bytes(&mut p, &section(&order[usize::from(bands[k])..usize::from(bands[k + 1])], |(_, r)| r));
                put_bytes(&mut p, &[]);
            }
            p
        })
        .collect();
    Ok((params, payloads))
}

/// Fragment 0 holds the AC coefficients divided by this (rounded); later fragments the rest
/// (-1, 0 or 1). Measured on the photos against 2, 4, 5, 6 and 8: 3 keeps every point of the
/// curve closest to one-shot JPEG.
const BASE: i32 = 3;

/// A DC value as (coarse, fine): `dc = 16 * coarse + fine`, `fine` in -8..=7.
fn dc_split(dc: i32) -> (i32, i32) {
    let coarse = (dc + 8).div_euclid(16);
    (coarse, dc - 16 * coarse)
}

/// Differences from the previous value (the first from 0).
fn dpcm(v: &[i32]) -> Vec<i32> {
    let mut prev = 0i32;
    v.iter().map(|&x| (x.wrapping_sub(prev), prev = x).0).collect()
}

impl Spectral {
    fn new(kind: &AssetKind, count: u16, r: &mut Reader<'_>) -> Result<Self, HoloError> {
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
        let order: [u8; 64] = r.take(64)?.try_into().expect("64");
        let mut seen = [false; 64];
        for &c in &order {
            if c >= 64 || core::mem::replace(&mut seen[usize::from(c)], true) {
                return Err(HoloError::Corrupt("cell order is not a permutation"));
            }
        }
        let bands = r.take(usize::from(count) + 1)?.to_vec();
        let base = i32::from(r.u8()?);
        if bands[0] != CORE as u8
            || (count >= 2 && bands[1] != CORE as u8)
            || bands.windows(2).any(|w| w[0] > w[1])
            || bands[usize::from(count)] != 64
            || base != if count == 1 { 1 } else { BASE }
        {
            return Err(HoloError::Corrupt("band boundaries"));
        }
        let geoms = geoms(kind, subsampled);
        let coefs = geoms.iter().map(|g| vec![0; g.blocks() * 64]).collect();
        Ok(Spectral { steps, order, bands, geoms, coefs, core_loaded: false, subsampled, base })
    }

    /// Decodes every section of the payload before changing anything: a payload that fails
    /// leaves the state as it was.
    fn add(&mut self, index: usize, payload: &[u8]) -> Result<(), HoloError> {
        let mut r = Reader::new(payload);
        let (core, band, refine) = (r.bytes()?, r.bytes()?, r.bytes()?);
        if r.pos != payload.len() || (index == 0) == refine.is_empty() {
            return Err(HoloError::Corrupt("spectral sections"));
        }
        let blocks: usize = self.coefs.iter().map(|c| c.len() / 64).sum();
        // Fragment 0: every AC cell, coarse; the others: their band's refinements. Both add to
        // the coefficients, so fragments combine in any order.
        let (cells, scale) = if index == 0 {
            (ZIGZAG[CORE..].to_vec(), self.base)
        } else {
            (self.order[usize::from(self.bands[index])..usize::from(self.bands[index + 1])].to_vec(), 1)
        };
        let core = if self.core_loaded { None } else { Some(rle_unpack(core, blocks, 1)?) };
        let fine = if index == 0 { Some(rle_unpack(refine, blocks, 1)?) } else { None };
        let band = if cells.is_empty() { Vec::new() } else { rle_unpack(band, blocks, cells.len())? };
        if let Some(diffs) = core {
            // DC = 16 * coarse (+ the fine part, once fragment 0 arrives).
            let mut it = diffs.into_iter();
            for c in &mut self.coefs {
                let mut prev = 0i32;
                for blk in c.chunks_exact_mut(64) {
                    prev = prev.wrapping_add(it.next().expect("counted"));
                    blk[0] = blk[0].wrapping_add(prev.wrapping_mul(16));
                }
            }
            self.core_loaded = true;
        }
        if let Some(fine) = fine {
            let mut it = fine.into_iter();
            for c in &mut self.coefs {
                for blk in c.chunks_exact_mut(64) {
                    blk[0] = blk[0].wrapping_add(it.next().expect("counted"));
                }
            }
        }
        let mut it = band.into_iter();
        for c in &mut self.coefs {
            for blk in c.chunks_exact_mut(64) {
                for &cell in &cells {
                    let v = it.next().expect("counted");
                    blk[usize::from(cell)] = blk[usize::from(cell)].wrapping_add(v.wrapping_mul(scale));
                }
            }
        }
        Ok(())
    }

    fn reconstruct(&self, kind: &AssetKind) -> Reconstruction {
        let dct = Dct8::new();
        let mut planes: Vec<Vec<f32>> = self.geoms.iter().map(|g| vec![0f32; g.w * g.h]).collect();
        for (((plane, c), step), g) in planes.iter_mut().zip(&self.coefs).zip(&self.steps).zip(&self.geoms) {
            for (b, blk) in c.chunks_exact(64).enumerate() {
                let mut f: [f32; 64] = core::array::from_fn(|i| blk[i] as f32 * step[i]);
                if blk[1..].iter().any(|&v| v != 0) {
                    dct.inverse(&mut f);
                } else {
                    // A flat block: the DC alone (the orthonormal DCT's DC gain is 1/8).
                    f = [f[0] / 8.0; 64];
                }
                g.put(plane, b, &f);
            }
        }
        match kind {
            AssetKind::Image { channels: 3, width, height } => {
                let (w, h) = (*width as usize, *height as usize);
                let (cb, cr) = if self.subsampled {
                    (double(&planes[1], w, h), double(&planes[2], w, h))
                } else {
                    (core::mem::take(&mut planes[1]), core::mem::take(&mut planes[2]))
                };
                let y = &planes[0];
                // YCbCr to RGB straight into the pixels.
                let mut pixels = vec![0u8; w * h * 3];
                for (((p, &y), &cb), &cr) in pixels.chunks_exact_mut(3).zip(y).zip(&cb).zip(&cr) {
                    let y = y + 128.0;
                    p.copy_from_slice(&[
                        to_u8(y + 1.402 * cr),
                        to_u8(y - 0.344_136 * cb - 0.714_136 * cr),
                        to_u8(y + 1.772 * cb),
                    ]);
                }
                Reconstruction::Image { width: *width, height: *height, channels: 3, pixels }
            }
            AssetKind::Image { .. } => from_planes(kind, &[planes[0].iter().map(|v| v + 128.0).collect()]),
            AssetKind::Tensor { .. } => from_planes(kind, &planes),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Random projection

#[derive(Debug, Clone)]
pub(crate) struct Projection {
    block: usize,
    count: usize,
    signs: Vec<bool>,
    /// Fragment of each coefficient index within a block.
    owner: Vec<u16>,
    means: Vec<f32>,
    steps: Vec<f32>,
    /// Quantized coefficients per plane.
    coefs: Vec<Vec<i32>>,
    len: usize,
}

fn projection_layout(block: usize, seed: u64, count: usize) -> (Vec<bool>, Vec<u16>) {
    let mut rng = SplitMix(seed);
    let signs = (0..block).map(|_| rng.next() & 1 == 1).collect();
    let perm = SplitMix(seed ^ 0x5EED_5EED).permutation(block);
    let owner = perm.iter().map(|&p| (p as usize % count) as u16).collect();
    (signs, owner)
}

fn projection_encode(asset: &Asset, o: &EncodeOptions) -> Result<Encoded, HoloError> {
    let n = usize::from(o.fragments);
    let planes = asset.planes();
    let len = planes[0].len();
    let block = len.next_power_of_two().clamp(2, 256);
    if n > block {
        return Err(HoloError::InvalidInput("more fragments than coefficients per block".into()));
    }
    let (signs, owner) = projection_layout(block, o.seed, n);
    let q = o.quality.clamp(1.0, 100.0);
    let mut params = Vec::new();
    params.extend_from_slice(&(block as u32).to_le_bytes());
    params.extend_from_slice(&o.seed.to_le_bytes());
    params.push(planes.len() as u8);
    let mut coefs = Vec::new();
    for plane in &planes {
        let mean = (plane.iter().map(|&v| f64::from(v)).sum::<f64>() / len.max(1) as f64) as f32;
        let centered: Vec<f32> = plane.iter().map(|v| v - mean).collect();
        let step = match asset {
            Asset::Image { .. } => libm::powf(2.0, (100.0 - q) / 12.5),
            Asset::Tensor { .. } => tensor_step(&centered, q),
        };
        params.extend_from_slice(&mean.to_le_bytes());
        params.extend_from_slice(&step.to_le_bytes());
        let mut c = Vec::with_capacity(len.div_ceil(block) * block);
        for chunk in centered.chunks(block) {
            let mut y = vec![0f32; block];
            y[..chunk.len()].copy_from_slice(chunk);
            hadamard_forward(&mut y, &signs);
            c.extend(y.iter().map(|&v| quantize(v, step)));
        }
        coefs.push(c);
    }
    let payloads = (0..n)
        .map(|k| {
            let mut raw = Vec::new();
            for c in &coefs {
                for blk in c.chunks(block) {
                    for (i, &v) in blk.iter().enumerate() {
                        if usize::from(owner[i]) == k {
                            put_varint(&mut raw, v);
                        }
                    }
                }
            }
            pack(&raw)
        })
        .collect();
    Ok((params, payloads))
}

impl Projection {
    fn new(kind: &AssetKind, count: u16, r: &mut Reader<'_>) -> Result<Self, HoloError> {
        let block = r.u32()? as usize;
        let seed = r.u64()?;
        let planes = usize::from(r.u8()?);
        let count = usize::from(count);
        if !block.is_power_of_two() || !(2..=256).contains(&block) || count > block || planes != kind.planes() {
            return Err(HoloError::Corrupt("projection parameters"));
        }
        let (mut means, mut steps) = (Vec::new(), Vec::new());
        for _ in 0..planes {
            let (m, s) = (r.f32()?, r.f32()?);
            if !(m.is_finite() && s.is_finite() && s > 0.0) {
                return Err(HoloError::Corrupt("projection mean or step"));
            }
            means.push(m);
            steps.push(s);
        }
        let len = (kind.samples() as usize) / planes;
        let (signs, owner) = projection_layout(block, seed, count);
        let coefs = vec![vec![0; len.div_ceil(block) * block]; planes];
        Ok(Projection { block, count, signs, owner, means, steps, coefs, len })
    }

    fn add(&mut self, index: usize, payload: &[u8]) -> Result<(), HoloError> {
        let per_block = self.owner.iter().filter(|&&o| usize::from(o) == index).count();
        let total = per_block * self.coefs.len() * (self.coefs[0].len() / self.block);
        let raw = unpack(payload, total.saturating_mul(5))?;
        // Every value decoded before any is stored: a failing payload changes nothing.
        let mut v = Varints::new(&raw);
        let values = (0..total).map(|_| v.next()).collect::<Result<Vec<_>, _>>()?;
        if !v.is_done() {
            return Err(HoloError::Corrupt("extra coefficients"));
        }
        let mut it = values.into_iter();
        for c in &mut self.coefs {
            for blk in c.chunks_mut(self.block) {
                for (i, slot) in blk.iter_mut().enumerate() {
                    if usize::from(self.owner[i]) == index {
                        *slot = it.next().expect("counted");
                    }
                }
            }
        }
        Ok(())
    }

    fn reconstruct(&self, kind: &AssetKind, received: &[bool]) -> Reconstruction {
        // Each coefficient is present with probability k / N over the choice of fragments:
        // scaling by N / k makes the estimate unbiased.
        let k = received.iter().filter(|&&r| r).count().max(1);
        let scale = self.count as f32 / k as f32;
        let planes: Vec<Vec<f32>> = self
            .coefs
            .iter()
            .zip(self.means.iter().zip(&self.steps))
            .map(|(c, (&mean, &step))| {
                let mut out = Vec::with_capacity(c.len());
                for blk in c.chunks(self.block) {
                    let mut y: Vec<f32> = blk.iter().map(|&q| q as f32 * step * scale).collect();
                    hadamard_inverse(&mut y, &self.signs);
                    out.extend(y.iter().map(|v| v + mean));
                }
                out.truncate(self.len);
                out
            })
            .collect();
        from_planes(kind, &planes)
    }
}

// ---------------------------------------------------------------------------------------------
// Low rank

/// One quantized component: `u` (rows) and `v` (cols) as i16 with scales.
#[derive(Debug, Clone)]
struct Component {
    index: u16,
    u: Vec<f32>,
    v: Vec<f32>,
}

impl Component {
    fn read(r: &mut Reader<'_>, rows: usize, cols: usize) -> Result<Self, HoloError> {
        let index = r.u16()?;
        let (su, sv) = (r.f32()?, r.f32()?);
        if !(su.is_finite() && sv.is_finite()) {
            return Err(HoloError::Corrupt("component scale"));
        }
        let vals = |r: &mut Reader<'_>, n: usize, s: f32| -> Result<Vec<f32>, HoloError> {
            Ok(r.take(n * 2)?.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) * s).collect())
        };
        Ok(Component { index, u: vals(r, rows, su)?, v: vals(r, cols, sv)? })
    }
}

/// The low-rank matrix of `comps` (in the given order), in f32, the same on every platform:
/// encoder and decoder compute it alike, so the residual makes it exact.
fn low_rank_matrix(comps: &[&Component], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; rows * cols];
    for c in comps {
        for (i, row) in out.chunks_mut(cols).enumerate() {
            let u = c.u[i];
            if u != 0.0 {
                for (o, &v) in row.iter_mut().zip(&c.v) {
                    *o += u * v;
                }
            }
        }
    }
    out
}

#[derive(Debug, Clone)]
pub(crate) struct LowRank {
    rows: usize,
    cols: usize,
    count: usize,
    /// Components received, per plane, by index.
    comps: Vec<Vec<Option<Component>>>,
    residual: Option<Vec<u8>>,
}

fn lowrank_encode(asset: &Asset, o: &EncodeOptions) -> Result<Encoded, HoloError> {
    let n = usize::from(o.fragments);
    if n < 2 {
        return Err(HoloError::InvalidInput(
            "low-rank encoding needs at least two fragments (components and residual)".into(),
        ));
    }
    let kind = asset.kind();
    let (rows, cols) = kind.matrix();
    let rank = usize::from(o.rank).min(rows).min(cols).max(1);
    let planes = asset.planes();
    let mut params = Vec::new();
    params.extend_from_slice(&(rank as u16).to_le_bytes());
    let mut payloads: Vec<Vec<u8>> = vec![Vec::new(); n - 1];
    let mut all: Vec<Vec<Component>> = Vec::new();
    for plane in &planes {
        let svd = truncated_svd(plane, rows, cols, rank, o.seed);
        let mut comps = Vec::new();
        let mut per_fragment: Vec<Vec<u8>> = vec![Vec::new(); n - 1];
        for (i, (sigma, u, v)) in svd.iter().enumerate() {
            let us: Vec<f64> = u.iter().map(|x| x * sigma).collect();
            let q16 = |xs: &[f64]| -> (f32, Vec<i16>) {
                let m = xs.iter().fold(0f64, |m, x| m.max(x.abs()));
                let s = if m > 0.0 { (m / 32767.0) as f32 } else { 1.0 };
                (s, xs.iter().map(|&x| libm::round(x / f64::from(s)).clamp(-32767.0, 32767.0) as i16).collect())
            };
            let ((su, qu), (sv, qv)) = (q16(&us), q16(v));
            let f = &mut per_fragment[i % (n - 1)];
            f.extend_from_slice(&(i as u16).to_le_bytes());
            f.extend_from_slice(&su.to_le_bytes());
            f.extend_from_slice(&sv.to_le_bytes());
            qu.iter().chain(&qv).for_each(|q| f.extend_from_slice(&q.to_le_bytes()));
            comps.push(Component {
                index: i as u16,
                u: qu.iter().map(|&q| f32::from(q) * su).collect(),
                v: qv.iter().map(|&q| f32::from(q) * sv).collect(),
            });
        }
        for (p, f) in payloads.iter_mut().zip(per_fragment) {
            let count = (f.len() / (10 + 2 * (rows + cols))) as u16;
            p.extend_from_slice(&count.to_le_bytes());
            p.extend_from_slice(&f);
        }
        all.push(comps);
    }
    let payloads: Vec<Vec<u8>> = payloads.iter().map(|p| pack(p)).collect();
    // The residual: what the components miss, exactly.
    let mut raw = Vec::new();
    let elements = asset.elements();
    for (p, comps) in all.iter().enumerate() {
        let refs: Vec<&Component> = comps.iter().collect();
        let approx = low_rank_matrix(&refs, rows, cols);
        let len = rows * cols;
        match &kind {
            AssetKind::Image { channels, .. } => {
                let c = usize::from(*channels);
                for (i, a) in approx.iter().enumerate() {
                    let base = i32::from(to_u8(*a));
                    put_varint(&mut raw, elements[i * c + p] as i32 - base);
                }
            }
            AssetKind::Tensor { dtype, .. } => {
                let xs: Vec<u32> =
                    approx.iter().zip(&elements[..len]).map(|(&a, &e)| e ^ f32_to_element(*dtype, a)).collect();
                raw.extend(Transform::BytePlanes.forward(dtype.size(), &bytes_of(*dtype, &xs)));
            }
        }
    }
    let mut payloads = payloads;
    payloads.push(pack(&raw));
    Ok((params, payloads))
}

impl LowRank {
    fn new(kind: &AssetKind, count: u16, r: &mut Reader<'_>) -> Result<Self, HoloError> {
        let rank = usize::from(r.u16()?);
        let (rows, cols) = kind.matrix();
        if count < 2 || rank == 0 || rank > rows.min(cols) {
            return Err(HoloError::Corrupt("low-rank parameters"));
        }
        Ok(LowRank {
            rows,
            cols,
            count: usize::from(count),
            comps: vec![vec![None; rank]; kind.planes()],
            residual: None,
        })
    }

    fn add(&mut self, index: usize, payload: &[u8]) -> Result<(), HoloError> {
        let samples = self.rows * self.cols * self.comps.len();
        if index == self.count - 1 {
            self.residual = Some(unpack(payload, samples.saturating_mul(5))?);
            return Ok(());
        }
        let rank = self.comps[0].len();
        let per = 10 + 2 * (self.rows + self.cols);
        let raw = unpack(payload, (rank * per + 2).saturating_mul(self.comps.len()).min(MAX_SECTION))?;
        // Every component read before any is stored: a failing payload changes nothing.
        let mut r = Reader::new(&raw);
        let mut read = Vec::new();
        for p in 0..self.comps.len() {
            let n = r.u16()?;
            for _ in 0..n {
                let c = Component::read(&mut r, self.rows, self.cols)?;
                let i = usize::from(c.index);
                if i >= rank || i % (self.count - 1) != index {
                    return Err(HoloError::Corrupt("component in the wrong fragment"));
                }
                read.push((p, c));
            }
        }
        if r.pos != raw.len() {
            return Err(HoloError::Corrupt("bytes after the components"));
        }
        for (p, c) in read {
            let i = usize::from(c.index);
            self.comps[p][i] = Some(c);
        }
        Ok(())
    }

    fn reconstruct(&self, kind: &AssetKind, received: &[bool]) -> Reconstruction {
        let (rows, cols) = (self.rows, self.cols);
        let all_components = received[..self.count - 1].iter().all(|&r| r);
        let approx: Vec<Vec<f32>> = self
            .comps
            .iter()
            .map(|plane| low_rank_matrix(&plane.iter().flatten().collect::<Vec<_>>(), rows, cols))
            .collect();
        match (&self.residual, all_components) {
            (Some(res), true) => self.exact(kind, &approx, res).unwrap_or_else(|| from_planes(kind, &approx)),
            _ => from_planes(kind, &approx),
        }
    }

    /// Components plus residual; `None` if the residual does not fit (then the components
    /// alone are used).
    fn exact(&self, kind: &AssetKind, approx: &[Vec<f32>], res: &[u8]) -> Option<Reconstruction> {
        let len = self.rows * self.cols;
        match kind {
            AssetKind::Image { channels, .. } => {
                let c = usize::from(*channels);
                let mut v = Varints::new(res);
                let mut elements = vec![0u32; len * c];
                for (p, plane) in approx.iter().enumerate() {
                    for (i, a) in plane.iter().enumerate() {
                        let base = i32::from(to_u8(*a));
                        elements[i * c + p] = u32::try_from(base + v.next().ok()?).ok().filter(|&e| e <= 255)?;
                    }
                }
                v.is_done().then(|| from_elements(kind, &elements))
            }
            AssetKind::Tensor { dtype, .. } => {
                let w = dtype.size();
                if res.len() != len * w {
                    return None;
                }
                let mut bytes = Vec::with_capacity(len * w);
                Transform::BytePlanes.inverse(w, res, &mut bytes);
                let xs = elements_of(*dtype, &bytes);
                let elements: Vec<u32> =
                    approx[0].iter().zip(&xs).map(|(&a, &x)| x ^ f32_to_element(*dtype, a)).collect();
                Some(from_elements(kind, &elements))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Residual (successive refinement over bit groups)

#[derive(Debug, Clone)]
pub(crate) struct Residual {
    bits: u32,
    /// Group `k` is bits `bounds[k + 1]..bounds[k]` (from the top).
    bounds: Vec<u8>,
    groups: Vec<Option<Vec<u32>>>,
    len: usize,
}

fn residual_bounds(bits: u32, n: usize) -> Vec<u8> {
    (0..=n).map(|k| (bits as usize - (k * bits as usize).div_ceil(n)) as u8).collect()
}

fn residual_encode(asset: &Asset, o: &EncodeOptions) -> Result<Encoded, HoloError> {
    let bits = asset.kind().element_bits();
    let n = usize::from(o.fragments);
    if n > bits as usize {
        return Err(HoloError::InvalidInput(alloc::format!("residual encoding has at most {bits} fragments here")));
    }
    let bounds = residual_bounds(bits, n);
    let elements = asset.elements();
    // Profile 0: bit groups.
    let mut params = vec![0, bits as u8];
    params.extend_from_slice(&bounds);
    let payloads = (0..n)
        .map(|k| {
            let (hi, lo) = (u32::from(bounds[k]), u32::from(bounds[k + 1]));
            let g = hi - lo;
            let mut raw = Vec::with_capacity(elements.len() * g as usize / 8 + 8);
            let (mut acc, mut nbits) = (0u64, 0u32);
            for &e in &elements {
                acc |= u64::from((e >> lo) & ((1u32 << g) - 1)) << nbits;
                nbits += g;
                while nbits >= 8 {
                    raw.push(acc as u8);
                    acc >>= 8;
                    nbits -= 8;
                }
            }
            if nbits > 0 {
                raw.push(acc as u8);
            }
            pack(&raw)
        })
        .collect();
    Ok((params, payloads))
}

impl Residual {
    fn new(kind: &AssetKind, count: u16, r: &mut Reader<'_>) -> Result<Self, HoloError> {
        let bits = u32::from(r.u8()?);
        let bounds = r.take(usize::from(count) + 1)?.to_vec();
        if bits != kind.element_bits() || bounds != residual_bounds(bits, usize::from(count)) {
            return Err(HoloError::Corrupt("residual parameters"));
        }
        Ok(Residual { bits, bounds, groups: vec![None; usize::from(count)], len: kind.samples() as usize })
    }

    fn add(&mut self, index: usize, payload: &[u8]) -> Result<(), HoloError> {
        let g = u32::from(self.bounds[index] - self.bounds[index + 1]);
        let need = (self.len * g as usize).div_ceil(8);
        let raw = unpack(payload, need)?;
        if raw.len() != need {
            return Err(HoloError::Corrupt("bit group size"));
        }
        let mut out = Vec::with_capacity(self.len);
        let (mut acc, mut nbits, mut pos) = (0u64, 0u32, 0usize);
        for _ in 0..self.len {
            while nbits < g {
                acc |= u64::from(raw[pos]) << nbits;
                pos += 1;
                nbits += 8;
            }
            out.push((acc & ((1u64 << g) - 1)) as u32);
            acc >>= g;
            nbits -= g;
        }
        self.groups[index] = Some(out);
        Ok(())
    }

    fn reconstruct(&self, kind: &AssetKind) -> Reconstruction {
        // Only an unbroken run of groups from the top refines; unknown low bits take the
        // middle of their range.
        let prefix = self.groups.iter().take_while(|g| g.is_some()).count();
        let low = u32::from(self.bounds[prefix]);
        let fill = if low > 0 { 1u32 << (low - 1) } else { 0 };
        let mut elements = vec![fill; self.len];
        for (k, g) in self.groups.iter().take(prefix).enumerate() {
            let lo = u32::from(self.bounds[k + 1]);
            for (e, &v) in elements.iter_mut().zip(g.as_ref().expect("in the prefix")) {
                *e |= v << lo;
            }
        }
        debug_assert!(self.bits >= low);
        from_elements(kind, &elements)
    }
}

// ---------------------------------------------------------------------------------------------
// Residual for tensors: a quantizer, then refinement bits, then the exact residual

/// Values per scale of the first layer.
const REFINE_GROUP: usize = 64;
/// Bits of the first layer (as plain int4 quantization).
const REFINE_BITS: u32 = 4;

/// Successive refinement of a tensor: fragment 0 holds every value quantized to 4 bits as plain
/// asymmetric int4 does, a scale and a zero point per group of 64 (`s = (max - min) / 15`,
/// `z = round(-min / s)`, `q = clamp(round(x / s) + z, 0, 15)`, value `(q - z) s`),
/// each middle fragment one more bit of where the value lies in its cell (the step halved),
/// and the last fragment the exact residual (the original bits XOR those of the finest
/// approximation).
#[derive(Debug, Clone)]
pub(crate) struct Refine {
    len: usize,
    count: usize,
    scales: Option<Vec<(f32, i64)>>,
    q0: Option<Vec<u8>>,
    bits: Vec<Option<Vec<u8>>>,
    exact: Option<Vec<u8>>,
}

/// Highest first-layer level (16 levels, 0..=15).
const REFINE_MAX: i64 = 15;

/// Each group's (scale, zero point), as asymmetric int4 (scale 0 for a constant group).
fn refine_scales(values: &[f32]) -> Vec<(f32, i64)> {
    values
        .chunks(REFINE_GROUP)
        .map(|g| {
            let (lo, hi) = g.iter().fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
            let s = (hi - lo) / REFINE_MAX as f32;
            let z = if s > 0.0 { libm::round(f64::from(-lo / s)).clamp(0.0, REFINE_MAX as f64) as i64 } else { 0 };
            (s, z)
        })
        .collect()
}

/// Values after `r` refinements: the first layer's level `q`, then `r` bits `b` of the
/// position in the cell `[q - 1/2, q + 1/2)`, at the centre of the part they leave.
fn refine_values(q: &[i64], b: &[u64], scales: &[(f32, i64)], r: u32) -> Vec<f32> {
    let f = 1.0 / (1u64 << r) as f32;
    q.iter()
        .zip(b)
        .enumerate()
        .map(|(i, (&q, &b))| {
            let (s, z) = scales[i / REFINE_GROUP];
            let level = (q - z) as f32;
            if r == 0 { level * s } else { (level - 0.5 + (b as f32 + 0.5) * f) * s }
        })
        .collect()
}

fn refine_encode(asset: &Asset, o: &EncodeOptions) -> Result<Encoded, HoloError> {
    let Asset::Tensor { dtype, .. } = asset else { unreachable!("tensors only") };
    let n = usize::from(o.fragments);
    if !(2..=21).contains(&n) {
        return Err(HoloError::InvalidInput("residual encoding of tensors has 2 to 21 fragments".into()));
    }
    let values = values_of(asset);
    let scales = refine_scales(&values);
    let mut params = vec![1u8];
    params.extend_from_slice(&(REFINE_GROUP as u32).to_le_bytes());
    params.push(REFINE_BITS as u8);
    // Level, and position in the cell in [0, 1).
    let (q, u): (Vec<i64>, Vec<f64>) = values
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let (s, z) = scales[i / REFINE_GROUP];
            if s == 0.0 {
                return (z, 0.5);
            }
            let t = f64::from(x) / f64::from(s);
            let q = (libm::round(t) as i64 + z).clamp(0, REFINE_MAX);
            (q, (t - (q - z) as f64 + 0.5).clamp(0.0, 1.0 - 1e-12))
        })
        .unzip();
    let mut first = Vec::with_capacity(scales.len() * 5 + q.len());
    scales.iter().for_each(|(s, _)| first.extend_from_slice(&s.to_le_bytes()));
    first.extend(scales.iter().map(|&(_, z)| z as u8));
    // Two levels per byte (the first in the low nibble): Huffman codes pairs.
    first.extend(q.chunks(2).map(|p| (p[0] | p.get(1).copied().unwrap_or(0) << 4) as u8));
    let mut payloads = vec![pack_hard(&first)];
    let mut b = vec![0u64; q.len()];
    for k in 1..n as u32 - 1 {
        let mut sink = BitSink::default();
        for (bi, &ui) in b.iter_mut().zip(&u) {
            let bit = ((ui * (1u64 << k) as f64) as u64).saturating_sub(2 * *bi).min(1);
            *bi = 2 * *bi + bit;
            sink.put(bit, 1);
        }
        payloads.push(pack(&sink.finish()));
    }
    let approx = refine_values(&q, &b, &scales, n as u32 - 2);
    let xs: Vec<u32> = asset.elements().iter().zip(&approx).map(|(&e, &a)| e ^ f32_to_element(*dtype, a)).collect();
    payloads.push(pack(&Transform::BytePlanes.forward(dtype.size(), &bytes_of(*dtype, &xs))));
    Ok((params, payloads))
}

impl Refine {
    fn new(kind: &AssetKind, count: u16, r: &mut Reader<'_>) -> Result<Self, HoloError> {
        let (group, bits) = (r.u32()?, r.u8()?);
        if !matches!(kind, AssetKind::Tensor { .. })
            || group as usize != REFINE_GROUP
            || u32::from(bits) != REFINE_BITS
            || !(2..=21).contains(&count)
        {
            return Err(HoloError::Corrupt("refinement parameters"));
        }
        let count = usize::from(count);
        Ok(Refine {
            len: kind.samples() as usize,
            count,
            scales: None,
            q0: None,
            bits: vec![None; count - 2],
            exact: None,
        })
    }

    fn add(&mut self, index: usize, payload: &[u8]) -> Result<(), HoloError> {
        let groups = self.len.div_ceil(REFINE_GROUP);
        if index == 0 {
            let size = groups * 5 + self.len.div_ceil(2);
            let raw = unpack(payload, size)?;
            if raw.len() != size || raw[groups * 4..groups * 5].iter().any(|&z| i64::from(z) > REFINE_MAX) {
                return Err(HoloError::Corrupt("first layer"));
            }
            let scales: Vec<(f32, i64)> = raw[..groups * 4]
                .chunks_exact(4)
                .zip(&raw[groups * 4..groups * 5])
                .map(|(b, &z)| (f32::from_le_bytes([b[0], b[1], b[2], b[3]]), i64::from(z)))
                .collect();
            if scales.iter().any(|(s, _)| !(s.is_finite() && *s >= 0.0)) {
                return Err(HoloError::Corrupt("scale"));
            }
            self.q0 = Some((0..self.len).map(|i| raw[groups * 5 + i / 2] >> (4 * (i % 2)) & 15).collect());
            self.scales = Some(scales);
        } else if index == self.count - 1 {
            let w = self.len * 4;
            let raw = unpack(payload, w)?;
            if raw.len() != self.len * 4 && raw.len() != self.len * 2 {
                return Err(HoloError::Corrupt("exact layer size"));
            }
            self.exact = Some(raw);
        } else {
            let raw = unpack(payload, self.len.div_ceil(8))?;
            if raw.len() != self.len.div_ceil(8) {
                return Err(HoloError::Corrupt("refinement layer size"));
            }
            self.bits[index - 1] = Some(raw);
        }
        Ok(())
    }

    fn reconstruct(&self, kind: &AssetKind) -> Reconstruction {
        let AssetKind::Tensor { dtype, .. } = kind else { unreachable!("tensors only") };
        let (Some(scales), Some(q0)) = (&self.scales, &self.q0) else {
            // Without the first layer nothing is known: zeros.
            return from_planes(kind, &[vec![0.0; self.len]]);
        };
        let q: Vec<i64> = q0.iter().map(|&v| i64::from(v)).collect();
        let mut b = vec![0u64; self.len];
        let r = self.bits.iter().take_while(|b| b.is_some()).count();
        for layer in self.bits.iter().take(r).flatten() {
            for (i, bi) in b.iter_mut().enumerate() {
                *bi = 2 * *bi + u64::from(layer[i / 8] >> (i % 8) & 1);
            }
        }
        let approx = refine_values(&q, &b, scales, r as u32);
        match &self.exact {
            Some(res) if r == self.count - 2 && res.len() == self.len * dtype.size() => {
                let mut bytes = Vec::with_capacity(res.len());
                Transform::BytePlanes.inverse(dtype.size(), res, &mut bytes);
                let elements: Vec<u32> = elements_of(*dtype, &bytes)
                    .iter()
                    .zip(&approx)
                    .map(|(&x, &a)| x ^ f32_to_element(*dtype, a))
                    .collect();
                from_elements(kind, &elements)
            }
            _ => from_planes(kind, &[approx]),
        }
    }
}

/// The decoded tensor of an F32/F16/BF16 asset for quality measures.
pub(crate) fn values_of(asset: &Asset) -> Vec<f32> {
    match asset {
        Asset::Tensor { dtype, data, .. } => crate::asset::to_f32(*dtype, data),
        Asset::Image { pixels, .. } => pixels.iter().map(|&p| f32::from(p)).collect(),
    }
}

/// Whether a dtype can be encoded.
pub(crate) fn encodable(dtype: DType) -> bool {
    matches!(dtype, DType::F32 | DType::F16 | DType::BF16)
}
