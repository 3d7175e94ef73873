//! The encodings (NCT's in `nct.rs`): each turns an asset into parameters and one payload per fragment, and
//! rebuilds an approximation from any subset of payloads.

use alloc::vec;
use alloc::vec::Vec;

use haagenti_hct::{DType, Transform};

use crate::arith::{Bit, Coder, Decoder, Encoder, IntModel};
use crate::asset::{
    Asset, AssetKind, Encoding, Reconstruction, bytes_of, elements_of, f32_to_element, tensor_from_elements,
};
use crate::coding::{BitSink, MAX_SECTION, Reader, Varints, pack, put_varint, unpack};
use crate::math::{SplitMix, hadamard_forward, hadamard_inverse, truncated_svd};
use crate::planes::{Encoded, from_planes, quantize, tensor_step, to_u8};
use crate::spectral::{self, Spectral};
use crate::{EncodeOptions, HoloError};

pub(crate) fn encode(asset: &Asset, o: &EncodeOptions) -> Result<Encoded, HoloError> {
    let n = usize::from(o.fragments);
    if n == 0 {
        return Err(HoloError::InvalidInput("at least one fragment".into()));
    }
    match o.encoding {
        Encoding::Spectral => spectral::encode(asset, o),
        Encoding::RandomProjection => projection_encode(asset, o),
        Encoding::LowRank => lowrank_encode(asset, o),
        Encoding::Residual if matches!(asset, Asset::Tensor { .. }) => refine_encode(asset, o),
        Encoding::Residual => residual_encode(asset, o),
        #[cfg(feature = "nct")]
        Encoding::Nct => crate::nct::encode(asset, o),
        #[cfg(not(feature = "nct"))]
        Encoding::Nct => {
            Err(HoloError::InvalidInput("this build of haagenti-holo has no nct encoder (feature `nct`)".into()))
        }
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
    #[cfg(feature = "nct")]
    Nct(crate::nct::Nct),
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
            #[cfg(feature = "nct")]
            Encoding::Nct => State::Nct(crate::nct::Nct::new(kind, count, &mut r)?),
            #[cfg(not(feature = "nct"))]
            Encoding::Nct => {
                return Err(HoloError::Unsupported("nct (NCT codebook stages): this build has no NCT decoder"));
            }
        };
        if r.pos != params.len() {
            return Err(HoloError::Corrupt("bytes after the parameters"));
        }
        Ok(s)
    }

    /// [`add`](Self::add) that also returns what a `spectral` payload added.
    pub(crate) fn add_spectral(
        &mut self,
        index: usize,
        payload: &[u8],
    ) -> Result<Option<crate::parts::SpectralUpdate>, HoloError> {
        match self {
            State::Spectral(s) => s.add_update(index, payload).map(Some),
            other => other.add(index, payload).map(|()| None),
        }
    }

    pub(crate) fn add(&mut self, index: usize, payload: &[u8]) -> Result<(), HoloError> {
        match self {
            State::Spectral(s) => s.add(index, payload),
            State::Projection(s) => s.add(index, payload),
            State::LowRank(s) => s.add(index, payload),
            State::Residual(s) => s.add(index, payload),
            State::Refine(s) => s.add(index, payload),
            #[cfg(feature = "nct")]
            State::Nct(s) => s.add(index, payload),
        }
    }

    /// Fragments the state accepted earlier and has since found forged and dropped, with their
    /// payloads' lengths: the decoder no longer counts them as received.
    pub(crate) fn take_dropped(&mut self) -> Vec<(usize, usize)> {
        match self {
            #[cfg(feature = "nct")]
            State::Nct(s) => s.take_dropped(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn reconstruct(&self, kind: &AssetKind, received: &[bool]) -> Reconstruction {
        match self {
            State::Spectral(s) => s.reconstruct(kind),
            State::Projection(s) => s.reconstruct(kind, received),
            State::LowRank(s) => s.reconstruct(kind, received),
            State::Residual(s) => s.reconstruct(kind),
            State::Refine(s) => s.reconstruct(kind),
            #[cfg(feature = "nct")]
            State::Nct(s) => s.reconstruct(kind),
        }
    }
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
        AssetKind::Tensor { dtype, shape } => tensor_from_elements(*dtype, shape, elements),
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
    /// Quantized coefficients per plane (empty until a payload decodes).
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
        // The coefficients are allocated once a payload has decoded.
        Ok(Projection { block, count, signs, owner, means, steps, coefs: Vec::new(), len })
    }

    fn add(&mut self, index: usize, payload: &[u8]) -> Result<(), HoloError> {
        let per_block = self.owner.iter().filter(|&&o| usize::from(o) == index).count();
        let padded = self.len.div_ceil(self.block) * self.block;
        let total = per_block * self.means.len() * (padded / self.block);
        let raw = unpack(payload, total.saturating_mul(5))?;
        // Every value decoded before any is stored: a failing payload changes nothing.
        let mut v = Varints::new(&raw);
        let values = (0..total).map(|_| v.next()).collect::<Result<Vec<_>, _>>()?;
        if !v.is_done() {
            return Err(HoloError::Corrupt("extra coefficients"));
        }
        if self.coefs.is_empty() {
            self.coefs = vec![vec![0; padded]; self.means.len()];
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

    /// The state for `ProjectionParts`, `k` fragments received.
    pub(crate) fn parts(&self, k: usize) -> Option<crate::parts::ProjectionParts<'_>> {
        if self.coefs.is_empty() {
            return None;
        }
        Some(crate::parts::ProjectionParts {
            block: self.block,
            signs: &self.signs,
            len: self.len,
            scale: self.count as f32 / k as f32,
            planes: self
                .coefs
                .iter()
                .zip(self.means.iter().zip(&self.steps))
                .map(|(c, (&mean, &step))| crate::parts::ProjectionPlane { coefs: c, step, mean })
                .collect(),
        })
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
            .map(|(c, (&mean, &step))| projection_plane(c, self.block, &self.signs, step, scale, mean, self.len))
            .collect();
        from_planes(kind, &planes)
    }
}

/// One `projection` plane's values from its coefficients (docs in `ProjectionParts`), a NaN
/// written as `0x7FC0_0000`.
pub(crate) fn projection_plane(
    coefs: &[i32],
    block: usize,
    signs: &[bool],
    step: f32,
    scale: f32,
    mean: f32,
    len: usize,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(coefs.len());
    for blk in coefs.chunks(block) {
        let mut y: Vec<f32> = blk.iter().map(|&q| q as f32 * step * scale).collect();
        hadamard_inverse(&mut y, signs);
        // CPUs differ in the NaN they make (only forged steps make one).
        out.extend(y.iter().map(|v| v + mean).map(|v| if v.is_nan() { f32::from_bits(0x7FC0_0000) } else { v }));
    }
    out.truncate(len);
    out
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

/// The low-rank matrix of `comps` (`(u, v)` pairs, in the given order), in f32, the same on
/// every platform: encoder and decoder compute it alike, so the residual makes it exact. Per
/// element, left to right: `o += u[i] * v[j]` (product rounded, then sum rounded; skipped where
/// `u[i] == 0`), starting from +0; a NaN result is written as `0x7FC0_0000` (CPUs differ in the
/// NaN they make).
pub(crate) fn low_rank_matrix<'c>(
    comps: impl IntoIterator<Item = (&'c [f32], &'c [f32])>,
    rows: usize,
    cols: usize,
) -> Vec<f32> {
    let mut out = vec![0f32; rows * cols];
    if out.is_empty() {
        return out;
    }
    for (u, v) in comps {
        for (row, &u) in out.chunks_mut(cols).zip(u) {
            if u != 0.0 {
                for (o, &v) in row.iter_mut().zip(v) {
                    *o += u * v;
                }
            }
        }
    }
    for o in &mut out {
        if o.is_nan() {
            *o = f32::from_bits(0x7FC0_0000);
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
        let approx = low_rank_matrix(comps.iter().map(|c| (&c.u[..], &c.v[..])), rows, cols);
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
            .map(|plane| low_rank_matrix(plane.iter().flatten().map(|c| (&c.u[..], &c.v[..])), rows, cols))
            .collect();
        match (&self.residual, all_components) {
            (Some(res), true) => self.exact(kind, &approx, res).unwrap_or_else(|| from_planes(kind, &approx)),
            _ => from_planes(kind, &approx),
        }
    }

    /// The state for `LowRankParts`: each plane's components received, in index order.
    pub(crate) fn parts(&self) -> crate::parts::LowRankParts<'_> {
        crate::parts::LowRankParts {
            rows: self.rows,
            cols: self.cols,
            planes: self
                .comps
                .iter()
                .map(|plane| {
                    plane.iter().flatten().map(|c| crate::parts::LowRankComponent { u: &c.u, v: &c.v }).collect()
                })
                .collect(),
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
    /// Each group as it arrived: its bits of every sample, packed (so the groups hold the
    /// samples' bits once, not a word a sample each).
    groups: Vec<Option<Vec<u8>>>,
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
        // More groups than bits would hold empty groups (the encoder makes none).
        if bits != kind.element_bits() || u32::from(count) > bits || bounds != residual_bounds(bits, usize::from(count))
        {
            return Err(HoloError::Corrupt("residual parameters"));
        }
        Ok(Residual { bits, bounds, groups: vec![None; usize::from(count)], len: kind.samples() as usize })
    }

    fn width(&self, index: usize) -> u32 {
        u32::from(self.bounds[index] - self.bounds[index + 1])
    }

    fn add(&mut self, index: usize, payload: &[u8]) -> Result<(), HoloError> {
        let need = (self.len * self.width(index) as usize).div_ceil(8);
        let raw = unpack(payload, need)?;
        if raw.len() != need {
            return Err(HoloError::Corrupt("bit group size"));
        }
        self.groups[index] = Some(raw);
        Ok(())
    }

    /// The state for `BitGroupParts`: the unbroken run of groups from the top.
    pub(crate) fn parts(&self) -> crate::parts::BitGroupParts<'_> {
        let (prefix, fill) = self.prefix_fill();
        crate::parts::BitGroupParts {
            len: self.len,
            fill,
            groups: self.groups[..prefix]
                .iter()
                .flatten()
                .enumerate()
                .map(|(k, bits)| crate::parts::BitGroup {
                    lo: u32::from(self.bounds[k + 1]),
                    width: self.width(k),
                    bits,
                })
                .collect(),
        }
    }

    /// Groups received in an unbroken run from the top, and the value of the bits below them
    /// (the middle of their range).
    fn prefix_fill(&self) -> (usize, u32) {
        let prefix = self.groups.iter().take_while(|g| g.is_some()).count();
        let low = u32::from(self.bounds[prefix]);
        (prefix, if low > 0 { 1u32 << (low - 1) } else { 0 })
    }

    fn reconstruct(&self, kind: &AssetKind) -> Reconstruction {
        // Only an unbroken run of groups from the top refines; unknown low bits take the
        // middle of their range.
        let (prefix, fill) = self.prefix_fill();
        let mut elements = vec![fill; self.len];
        for (k, raw) in self.groups.iter().take(prefix).flatten().enumerate() {
            let (g, lo) = (self.width(k), u32::from(self.bounds[k + 1]));
            let (mut acc, mut nbits, mut pos) = (0u64, 0u32, 0usize);
            for e in elements.iter_mut() {
                while nbits < g {
                    acc |= u64::from(raw[pos]) << nbits;
                    pos += 1;
                    nbits += 8;
                }
                *e |= ((acc & ((1u64 << g) - 1)) as u32) << lo;
                acc >>= g;
                nbits -= g;
            }
        }
        debug_assert!(self.bits >= u32::from(self.bounds[prefix]));
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
/// asymmetric int4 does, a scale and a zero point per group of 64 (`s = (max - min) / 15`
/// rounded up to 11 significant bits, `z = round(-min / s)`, `q = clamp(round(x / s) + z, 0,
/// 15)`, value `(q - z) s`), range-coded ([`code_first_layer`]); each middle fragment one more
/// bit of where the value lies in its cell (the step halved; these bits are as good as random,
/// so they are stored raw); the last fragment the exact residual (the original bits XOR those
/// of the finest approximation).
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

/// Mantissa bits a scale keeps: rounded up to 11 significant bits (as f16's precision), it
/// costs about 1.4 bytes instead of 4 and widens the step by at most 0.1%.
const SCALE_MANTISSA: u32 = 10;

/// Each group's (scale, zero point), as asymmetric int4 (scale 0 for a constant group), the
/// scale rounded up to [`SCALE_MANTISSA`] bits.
fn refine_scales(values: &[f32]) -> Vec<(f32, i64)> {
    let dropped = (1u32 << (23 - SCALE_MANTISSA)) - 1;
    values
        .chunks(REFINE_GROUP)
        .map(|g| {
            let (lo, hi) = g.iter().fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
            let s = (hi - lo) / REFINE_MAX as f32;
            // Non-negative: rounding the bits up rounds the value up (a carry moves into the
            // exponent).
            let bits = s.to_bits();
            let s = f32::from_bits(if bits & dropped == 0 { bits } else { (bits | dropped) + 1 });
            let z = if s > 0.0 { libm::round(f64::from(-lo / s)).clamp(0.0, REFINE_MAX as f64) as i64 } else { 0 };
            (s, z)
        })
        .collect()
}

/// The value after `r` refinements: the first layer's level `q`, then `r` bits `b` of the
/// position in the cell `[q - 1/2, q + 1/2)`, at the centre of the part they leave.
fn refine_value(q: i64, b: u64, (s, z): (f32, i64), r: u32) -> f32 {
    let level = (q - z) as f32;
    let f = 1.0 / (1u64 << r) as f32;
    if r == 0 { level * s } else { (level - 0.5 + (b as f32 + 0.5) * f) * s }
}

/// [`refine_value`] of every value.
fn refine_values(q: &[i64], b: &[u64], scales: &[(f32, i64)], r: u32) -> Vec<f32> {
    q.iter().zip(b).enumerate().map(|(i, (&q, &b))| refine_value(q, b, scales[i / REFINE_GROUP], r)).collect()
}

/// Codes the first layer both ways ([`Coder`]): per group its scale (a non-negative f32 of
/// [`SCALE_MANTISSA`] mantissa bits: its exponent as a difference from the previous group's,
/// its mantissa raw) and zero point, then
/// the group's levels (four binary decisions each, in contexts by the zero point: the levels
/// crowd around it).
///
/// Of `len` values: the decoder's `scales` and `q` grow group by group as they decode, so a
/// layer that ends early has cost memory in proportion to what it held.
fn code_first_layer<C: Coder>(c: &mut C, scales: &mut Vec<(f32, i64)>, q: &mut Vec<u8>, len: usize) {
    let mut exponent = IntModel::NEW;
    // `const` items (see `Bit::NEW`).
    const ZERO: [Bit; 16] = [Bit::NEW; 16];
    const LEVELS: [[Bit; 16]; 16] = [ZERO; 16];
    let mut zero = ZERO;
    let mut levels = LEVELS;
    let mut prev = 0i32;
    for g in 0..len.div_ceil(REFINE_GROUP) {
        if c.exhausted() {
            return;
        }
        let end = ((g + 1) * REFINE_GROUP).min(len);
        if scales.len() <= g {
            scales.push((0.0, 0));
        }
        if q.len() < end {
            q.resize(end, 0);
        }
        let (s, z) = &mut scales[g];
        let bits = s.to_bits();
        let e = (prev + exponent.code(c, (bits >> 23 & 0xFF) as i32 - prev)).clamp(0, 255);
        prev = e;
        let m = c.raw(bits >> (23 - SCALE_MANTISSA), SCALE_MANTISSA);
        *s = f32::from_bits((e as u32) << 23 | m << (23 - SCALE_MANTISSA));
        *z = i64::from(nibble(c, &mut zero, *z as u32));
        for v in &mut q[g * REFINE_GROUP..end] {
            *v = nibble(c, &mut levels[*z as usize], u32::from(*v)) as u8;
        }
    }
}

/// A value 0..=15 as four binary decisions down a tree of models.
fn nibble<C: Coder>(c: &mut C, models: &mut [Bit; 16], v: u32) -> u32 {
    let mut node = 1;
    for i in (0..4).rev() {
        node = node * 2 + usize::from(c.bit(&mut models[node], v >> i & 1 == 1));
    }
    node as u32 - 16
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
    let mut e = Encoder::default();
    let (mut sc, mut levels) = (scales.clone(), q.iter().map(|&v| v as u8).collect::<Vec<_>>());
    code_first_layer(&mut e, &mut sc, &mut levels, q.len());
    debug_assert!(sc.iter().zip(&scales).all(|(a, b)| a.0.to_bits() == b.0.to_bits() && a.1 == b.1));
    let mut payloads = vec![e.finish()];
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
        if index == 0 {
            let mut d = Decoder::new(payload);
            let (mut scales, mut q0) = (Vec::new(), Vec::new());
            code_first_layer(&mut d, &mut scales, &mut q0, self.len);
            d.finish()?;
            // Read to its end without running out: every group is there.
            debug_assert!(q0.len() == self.len && scales.len() == self.len.div_ceil(REFINE_GROUP));
            if scales.iter().any(|(s, _)| !(s.is_finite() && *s >= 0.0)) {
                return Err(HoloError::Corrupt("scale"));
            }
            self.q0 = Some(q0);
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

    /// The state for `RefineParts` (`None` before the first layer).
    pub(crate) fn parts(&self) -> Option<crate::parts::RefineParts<'_>> {
        let (Some(scales), Some(q0)) = (&self.scales, &self.q0) else { return None };
        let r = self.bits.iter().take_while(|b| b.is_some()).count();
        Some(crate::parts::RefineParts {
            len: self.len,
            levels: q0,
            scales,
            layers: self.bits.iter().take(r).flatten().map(Vec::as_slice).collect(),
        })
    }

    fn reconstruct(&self, kind: &AssetKind) -> Reconstruction {
        let AssetKind::Tensor { dtype, .. } = kind else { unreachable!("tensors only") };
        let (Some(scales), Some(q0)) = (&self.scales, &self.q0) else {
            // Without the first layer nothing is known: zeros.
            return from_planes(kind, &[vec![0.0; self.len]]);
        };
        // Value by value, so that the levels and refinement bits are never widened to words.
        let r = self.bits.iter().take_while(|b| b.is_some()).count();
        let layers: Vec<&[u8]> = self.bits.iter().take(r).flatten().map(Vec::as_slice).collect();
        let approx: Vec<f32> = q0
            .iter()
            .enumerate()
            .map(|(i, &q)| {
                let b = layers.iter().fold(0u64, |b, layer| 2 * b + u64::from(layer[i / 8] >> (i % 8) & 1));
                refine_value(i64::from(q), b, scales[i / REFINE_GROUP], r as u32)
            })
            .collect();
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
