//! The encoder: rate planning, row scales, and stage by stage the rotated residual coded by
//! the trellis. Every tensor's reconstruction after each stage is the decoder's own (the
//! encoder accumulates the same integers), so later stages code the true residual.

use crate::calib::{Feedback, Moments};
use crate::codebook::Codebook;
use crate::decode::{BlockLayout, accumulate, stage_rotated};
use crate::error::NctError;
use crate::format::{
    CODEBOOK_BYTES, HEADER_LEN, Header, KIND_EXACT, KIND_TRELLIS, Layout, MAX_MULTIPLIER, MAX_NAME_LEN, MAX_NDIM,
    StageEntry, TensorEntry, align8,
};
use crate::hadamard::{sign_masks, wht_f64};
use crate::scale::{nearest_code, row_scale};
use crate::trellis::{Search, encode_block};
use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use haagenti_hct::DType;
use xxhash_rust::xxh3::xxh3_64;

/// Smallest tensor (in elements) the encoder quantizes; smaller ones are stored exactly.
pub const MIN_QUANTIZED_ELEMENTS: u64 = 4096;
/// Largest group the encoder uses (weights a Hadamard transform and trellis block cover).
pub const MAX_GROUP: usize = 256;
/// Smallest group: tensors whose columns are not a multiple of it are stored exactly.
pub const MIN_GROUP: usize = 64;
/// Stage rates allowed, in bits a quantized weight.
pub const STAGE_BITS: core::ops::RangeInclusive<f64> = 1.0..=3.0;
/// Most stages a file may have.
pub const MAX_STAGES: usize = 8;

/// The stage multiplier relative to the RMS of the rotated residual (chosen by measurement on
/// Gaussian data: see docs/nct.md).
const SCALE_FIT: f64 = 1.0;

/// What the encoder aims for.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeOptions {
    /// Bits a weight the whole file should take (every byte counted, over every tensor's
    /// elements). The file lands at or just below it.
    pub bits: f64,
    /// Bits a quantized weight of each stage; the first stage takes whatever the total needs
    /// (it must land between 1 and 3). `None`: stages of 2 bits and a last one of 1 to 3.
    pub stages: Option<Vec<f64>>,
    /// Seed of the codebook order and every tensor's rotation signs.
    pub seed: u64,
    /// Encoder threads (0: as many as the machine has; without `std`: always one).
    pub threads: usize,
    /// Spread stage 1's bits over the tensors by their energy: a tensor whose weights have
    /// four times the mean square gets half a bit a weight more (the rule: docs/nct.md).
    /// Each tensor's stage 1 stays within [`STAGE_BITS`] and the later stages keep one rate
    /// for every tensor, so every prefix of the file is spread the same way. `false`: every
    /// tensor at the same rates (the same signal-to-noise ratio for each). On MiniLM the
    /// spread raised the model's SNR by 0.23-0.26 dB and brought its embeddings closer
    /// (docs/nct.md). Files with a calibrated tensor ([`NctEncoder::calibrate`]) keep even
    /// rates whatever this says: on MiniLM the spread and calibration together brought the
    /// embeddings further off than calibration alone.
    pub allocate: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self { bits: 4.0, stages: None, seed: 0x4E43_5431, threads: 0, allocate: true }
    }
}

struct Pending {
    name: String,
    dtype: DType,
    shape: Vec<u64>,
    raw: Vec<u8>,
    values: Option<Vec<f32>>,
    moments: Option<Moments>,
}

/// Collects tensors, then writes the file in [`NctEncoder::finish`].
pub struct NctEncoder {
    opts: EncodeOptions,
    tensors: Vec<Pending>,
    names: BTreeSet<String>,
}

impl NctEncoder {
    /// An encoder with these options.
    pub fn new(opts: EncodeOptions) -> Self {
        Self { opts, tensors: Vec::new(), names: BTreeSet::new() }
    }

    /// Adds a tensor: `raw` holds its elements, little-endian, in row-major order. Float
    /// tensors of rank 2 or more with at least 4096 finite elements and a second-to-last
    /// dimension product that is a multiple of 64 are quantized; everything else is kept
    /// exactly.
    pub fn add_tensor(&mut self, name: &str, dtype: DType, shape: &[u64], raw: &[u8]) -> Result<(), NctError> {
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(NctError::Encode(format!("tensor name must be 1 to {MAX_NAME_LEN} bytes")));
        }
        if self.names.contains(name) {
            return Err(NctError::Encode(format!("two tensors named {name:?}")));
        }
        if shape.len() > MAX_NDIM || dtype.size() == 0 {
            return Err(NctError::Encode(format!(
                "{name}: dtype {} or rank {} not supported",
                dtype.name(),
                shape.len()
            )));
        }
        let numel = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        if numel.and_then(|n| n.checked_mul(dtype.size() as u64)) != Some(raw.len() as u64) {
            return Err(NctError::Encode(format!(
                "{name}: {} bytes do not hold shape {shape:?} of {}",
                raw.len(),
                dtype.name()
            )));
        }
        let numel = numel.unwrap_or(0);
        let cols: u64 = shape.iter().skip(1).product();
        let quantizable = shape.len() >= 2 && numel >= MIN_QUANTIZED_ELEMENTS && cols.is_multiple_of(MIN_GROUP as u64);
        let values = quantizable
            .then(|| haagenti_hct::f32_values(dtype, raw))
            .flatten()
            .filter(|v| v.iter().all(|x| x.is_finite()));
        let raw = if values.is_some() { Vec::new() } else { raw.to_vec() };
        self.names.insert(name.into());
        self.tensors.push(Pending { name: name.into(), dtype, shape: shape.to_vec(), raw, values, moments: None });
        Ok(())
    }

    /// Calibrates tensor `name` (added before): `moments` is the second-moment matrix of the
    /// inputs its rows multiply, `Σ = E[x xᵀ]`, `cols x cols` values row-major (`cols` the
    /// product of the dimensions after the first). Each stage then rounds so that the error
    /// `δwᵀ Σ δw` of a row, the error of the layer's output, is small rather than the plain
    /// squared error (block LDLQ over the groups of a row; see docs/nct.md). The
    /// file format does not change.
    ///
    /// Returns `false`, changing nothing, when the tensor is stored exactly or its rows are a
    /// single group of [`MIN_GROUP`] (there is no later group to compensate in). Refuses unknown
    /// names, the wrong number of values, non-finite or negative moments, matrices that are
    /// not positive semi-definite, and tensors of more than
    /// [`MAX_CALIBRATED_COLS`](crate::MAX_CALIBRATED_COLS) columns.
    pub fn calibrate(&mut self, name: &str, moments: &[f32]) -> Result<bool, NctError> {
        let p = self
            .tensors
            .iter_mut()
            .find(|p| p.name == name)
            .ok_or_else(|| NctError::Encode(format!("calibration for {name:?}, which is not a tensor added")))?;
        let cols = p.shape.iter().skip(1).product::<u64>() as usize;
        if p.values.is_none() || cols <= MIN_GROUP {
            return Ok(false);
        }
        let m = Moments::new(cols, moments).map_err(|e| {
            NctError::Encode(format!("{name}: calibration of {} values for {cols} columns: {e}", moments.len()))
        })?;
        p.moments = Some(m);
        Ok(true)
    }

    /// Encodes everything and returns the file. `progress(done, total)` counts weights coded
    /// (a weight once a stage).
    pub fn finish(self, progress: &mut dyn FnMut(u64, u64)) -> Result<Vec<u8>, NctError> {
        let Self { opts, tensors, .. } = self;
        let codebook = Codebook::gaussian(opts.seed);

        // Directory entries without offsets, to size everything.
        let mut entries: Vec<TensorEntry> = tensors
            .iter()
            .map(|p| {
                let quantized = p.values.is_some();
                let cols: u64 = p.shape.iter().skip(1).product();
                let group_log2 = if quantized { group_log2(cols, p.moments.is_some()) } else { 0 };
                TensorEntry {
                    name: p.name.clone(),
                    dtype: p.dtype,
                    kind: if quantized { KIND_TRELLIS } else { KIND_EXACT },
                    group_log2,
                    shape: p.shape.clone(),
                    base_offset: 0,
                    base_len: if quantized { p.shape[0] } else { p.raw.len() as u64 },
                    base_hash: 0,
                    seed: opts.seed ^ xxh3_64(p.name.as_bytes()),
                    scale: 1.0,
                    stages: Vec::new(),
                }
            })
            .collect();
        let n_all: u64 = entries.iter().map(|e| e.numel()).sum();
        let n_q: u64 = entries.iter().filter(|e| e.is_quantized()).map(|e| e.numel()).sum();
        let q_tensors = entries.iter().filter(|e| e.is_quantized()).count() as u64;

        // Rate plan: what the metadata and exact tensors leave for the codes.
        let stage_rates = if n_q == 0 {
            Vec::new()
        } else {
            // The metadata grows with the stage count, which depends on what the metadata
            // leaves: settle the two (a few rounds at most).
            let mut n_stages_guess =
                opts.stages.as_ref().map_or_else(|| plan_stages(opts.bits.max(1.0)).len(), |s| s.len());
            let mut settled = None;
            for _ in 0..4 {
                let dir: u64 = 8 * n_stages_guess as u64
                    + entries.iter().map(|e| e.directory_len(n_stages_guess) as u64).sum::<u64>();
                let base: u64 = entries.iter().map(|e| align8(e.base_len)).sum();
                let overhead = align8(HEADER_LEN as u64 + dir)
                    + CODEBOOK_BYTES as u64
                    + base
                    + 8 * q_tensors * n_stages_guess as u64
                    + 8 * n_stages_guess as u64;
                let avail = opts.bits * n_all as f64 - 8.0 * overhead as f64;
                let c = avail / n_q as f64;
                let rates = match &opts.stages {
                    None => plan_stages(c.max(0.0)),
                    Some(list) => {
                        if list.is_empty() {
                            return Err(NctError::Encode("the stage list is empty".into()));
                        }
                        let mut v = list.clone();
                        v[0] = c - list[1..].iter().sum::<f64>();
                        v
                    }
                };
                if rates.len() == n_stages_guess {
                    settled = Some((rates, overhead, c));
                    break;
                }
                n_stages_guess = rates.len();
            }
            let (rates, overhead, c) =
                settled.ok_or_else(|| NctError::Encode("the stage plan does not settle".into()))?;
            if rates.len() > MAX_STAGES {
                return Err(NctError::Encode(format!("{} stages asked for; at most {MAX_STAGES}", rates.len())));
            }
            if let Some(bad) = rates.iter().find(|r| !STAGE_BITS.contains(*r)) {
                return Err(NctError::Encode(format!(
                    "at {} bits a weight a stage would take {bad:.3} bits a quantized weight ({c:.3} for all stages); each stage needs 1 to 3. The exact tensors and metadata (the codebook alone is 65536 bits) take {:.3} bits a weight of this model",
                    opts.bits,
                    8.0 * overhead as f64 / n_all as f64
                )));
            }
            rates
        };
        let n_stages = stage_rates.len();
        // Stage 1's rate for each tensor (exact ones: unused).
        let first = match stage_rates.first() {
            Some(&r) if opts.allocate && tensors.iter().all(|p| p.moments.is_none()) => {
                let energy: Vec<(u64, f64)> = tensors
                    .iter()
                    .map(|p| p.values.as_deref().map_or((0, 0.0), |v| (v.len() as u64, mean_square(v))))
                    .collect();
                allocate(r, &energy)
            }
            Some(&r) => vec![r; entries.len()],
            None => Vec::new(),
        };
        let rate = |i: usize, k: usize| if k == 0 { first[i] } else { stage_rates[k] };

        // Block sizes, then the layout.
        for (i, e) in entries.iter_mut().enumerate().filter(|(_, e)| e.is_quantized()) {
            let g = 1u32 << e.group_log2;
            e.stages = (0..n_stages)
                .map(|k| {
                    let bits = (libm::floor(rate(i, k) * g as f64 / 8.0) as u32 * 8).clamp(g, 3 * g);
                    StageEntry { block_bits: bits, multiplier: 1, offset: 0, hash: 0 }
                })
                .collect();
        }
        // Rounding each block down leaves up to a byte a block unused: hand it back, a byte a
        // block more for the largest tensors first, while the stage's budget allows.
        let mut order: Vec<usize> = (0..entries.len()).filter(|&i| entries[i].is_quantized()).collect();
        order.sort_by_key(|&i| core::cmp::Reverse(entries[i].numel()));
        for k in 0..n_stages {
            let used: u64 = order
                .iter()
                .map(|&i| (entries[i].numel() >> entries[i].group_log2) * entries[i].stages[k].block_bits as u64)
                .sum::<u64>();
            let budget: f64 = order.iter().map(|&i| rate(i, k) * entries[i].numel() as f64).sum();
            let mut spare = budget as i64 - used as i64;
            for &i in &order {
                let e = &mut entries[i];
                let blocks = (e.numel() >> e.group_log2) as i64;
                let g = 1u32 << e.group_log2;
                if spare >= 8 * blocks && e.stages[k].block_bits + 8 <= 3 * g {
                    e.stages[k].block_bits += 8;
                    spare -= 8 * blocks;
                }
            }
        }
        let dir_len = 8 * n_stages as u64 + entries.iter().map(|e| e.directory_len(n_stages) as u64).sum::<u64>();
        let mut base_len = 0u64;
        for e in entries.iter_mut() {
            e.base_offset = base_len;
            base_len = align8(base_len + e.base_len);
        }
        let mut stage_lens = vec![0u64; n_stages];
        let mut stage_rel = vec![vec![0u64; n_stages]; entries.len()];
        for (i, e) in entries.iter().enumerate().filter(|(_, e)| e.is_quantized()) {
            for (k, s) in e.stages.iter().enumerate() {
                stage_rel[i][k] = stage_lens[k];
                stage_lens[k] = align8(stage_lens[k] + e.stage_len(s));
            }
        }
        let layout =
            Layout::new(dir_len, base_len, &stage_lens).ok_or_else(|| NctError::Encode("file too large".into()))?;
        let total_len = layout.stages.last().map_or(layout.base + base_len, |&(s, l)| s + l);
        let mut file = vec![0u8; total_len as usize];

        // Code every tensor.
        let total_work = n_q * n_stages as u64;
        let mut done = 0u64;
        progress(0, total_work);
        for (i, (e, p)) in entries.iter_mut().zip(&tensors).enumerate() {
            e.base_offset += layout.base;
            let base_at = e.base_offset as usize;
            match &p.values {
                None => {
                    file[base_at..base_at + p.raw.len()].copy_from_slice(&p.raw);
                }
                Some(values) => {
                    for (k, s) in e.stages.iter_mut().enumerate() {
                        s.offset = layout.stages[k].0 + stage_rel[i][k];
                    }
                    let (codes, scale) = row_codes(values, e.rows() as usize, e.cols() as usize, e.group_log2);
                    e.scale = scale;
                    file[base_at..base_at + codes.len()].copy_from_slice(&codes);
                    let moments = p.moments.as_ref();
                    encode_tensor(e, values, moments, &codes, &codebook, opts.threads, &mut file, &mut |d| {
                        progress(done + d, total_work)
                    });
                    done += e.numel() * n_stages as u64;
                }
            }
            e.base_hash = xxh3_64(&file[base_at..base_at + e.base_len as usize]);
            let blocks = if e.is_quantized() { e.numel() >> e.group_log2 } else { 0 };
            for s in e.stages.iter_mut() {
                let len = blocks * (s.block_bits as u64 / 8);
                s.hash = xxh3_64(&file[s.offset as usize..(s.offset + len) as usize]);
            }
        }
        progress(total_work, total_work);

        let mut dir = Vec::with_capacity(dir_len as usize);
        for len in &stage_lens {
            dir.extend_from_slice(&len.to_le_bytes());
        }
        for e in &entries {
            e.write_directory(&mut dir);
        }
        debug_assert_eq!(dir.len() as u64, dir_len);
        file[HEADER_LEN..HEADER_LEN + dir.len()].copy_from_slice(&dir);
        let cb = layout.codebook as usize;
        for (i, v) in codebook.entries().iter().enumerate() {
            file[cb + 2 * i..cb + 2 * i + 2].copy_from_slice(&v.to_le_bytes());
        }
        let header = Header {
            tensor_count: entries.len() as u32,
            stage_count: n_stages as u32,
            directory_len: dir_len,
            base_len,
            table_hash: xxh3_64(&file[HEADER_LEN..cb + CODEBOOK_BYTES]),
        };
        file[..HEADER_LEN].copy_from_slice(&header.write());
        Ok(file)
    }
}

/// The group of a quantized tensor of `cols` columns: the largest power of two dividing it, at
/// most [`MAX_GROUP`]; calibrated, at most half a row, since the feedback runs from one group
/// of a row to the next (never below [`MIN_GROUP`]).
fn group_log2(cols: u64, calibrated: bool) -> u8 {
    let mut l = cols.trailing_zeros().min(MAX_GROUP.trailing_zeros());
    if calibrated && cols >> l < 2 && l > MIN_GROUP.trailing_zeros() {
        l -= 1;
    }
    l as u8
}

/// The mean square of `v` (in `f64`).
fn mean_square(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / v.len().max(1) as f64
}

/// Stage 1's rate for each tensor, from the same rate `r` for all and each tensor's
/// `(weights, mean square)` (weights 0: not quantized, given `r`).
///
/// The rate a tensor gets is `log2(mean square) / 4` less a constant, each within
/// [`STAGE_BITS`], the constant chosen so the weights' bits add up to what `r` for all would
/// take. At a distortion falling 6 dB a bit, that minimises the sum over tensors of each
/// one's squared error divided by its RMS: halfway between the least squared error over the
/// model (`log2 / 2`, reverse water-filling) and the same SNR for every tensor (even rates).
/// On MiniLM the halfway rule kept most of water-filling's SNR (+0.26 dB of +0.33 at 2 b/w)
/// and, unlike it, brought the embeddings closer than even rates did (docs/nct.md): full
/// water-filling starves small tensors that matter, such as the position embeddings.
fn allocate(r: f64, tensors: &[(u64, f64)]) -> Vec<f64> {
    let (lo, hi) = (*STAGE_BITS.start(), *STAGE_BITS.end());
    let quantized = || tensors.iter().filter(|t| t.0 > 0);
    let total: f64 = quantized().map(|t| t.0 as f64).sum();
    if total == 0.0 || !(lo..=hi).contains(&r) {
        return vec![r; tensors.len()];
    }
    // Below this a tensor's mean square counts as this (an all-zero tensor gets the least).
    let floor = 1e-60;
    let level = |t: &(u64, f64)| libm::log2(t.1.max(floor)) / 4.0;
    let at = |lambda: f64, t: &(u64, f64)| (r + level(t) - lambda).clamp(lo, hi);
    let spent = |lambda: f64| quantized().map(|t| t.0 as f64 * at(lambda, t)).sum::<f64>();
    // `spent` falls as lambda grows; bisect for the lambda that spends `r` a weight.
    let (min, max) = quantized().fold((f64::MAX, f64::MIN), |(a, b), t| (a.min(level(t)), b.max(level(t))));
    let (mut a, mut b) = (min + r - hi - 1.0, max + r - lo + 1.0);
    for _ in 0..100 {
        let mid = (a + b) / 2.0;
        if spent(mid) > r * total { a = mid } else { b = mid }
    }
    // The upper end spends at most the budget; a rate within rounding of `r` is `r` (so one
    // tensor, or tensors of one energy, get exactly the even plan).
    let snap = |x: f64| if (x - r).abs() < 1e-9 { r } else { x };
    tensors.iter().map(|t| if t.0 > 0 { snap(at(b, t)) } else { r }).collect()
}

/// The default stages for `c` bits a quantized weight: 2 bits each while more than 3 remain,
/// then one stage of the rest, or the rest less one and a last of 1 bit when above 2.5.
pub fn plan_stages(c: f64) -> Vec<f64> {
    let mut v = Vec::new();
    let mut rem = c;
    while rem > 3.0 && v.len() < MAX_STAGES {
        v.push(2.0);
        rem -= 2.0;
    }
    if rem > 2.5 {
        v.push(rem - 1.0);
        v.push(1.0);
    } else {
        v.push(rem);
    }
    v
}

/// Row scale codes and the base scale: rows scaled so their rotated values have RMS 2048.
fn row_codes(values: &[f32], rows: usize, cols: usize, group_log2: u8) -> (Vec<u8>, f32) {
    let g = (1usize << group_log2) as f64;
    let ideal: Vec<f64> = values
        .chunks_exact(cols)
        .take(rows)
        .map(|r| {
            let ss: f64 = r.iter().map(|&x| x as f64 * x as f64).sum();
            libm::sqrt(ss / cols as f64) / (2048.0 * libm::sqrt(g))
        })
        .collect();
    let max = ideal.iter().cloned().fold(0.0, f64::max);
    let base = (max / 8.0) as f32;
    let base = if base.is_normal() { base } else { f32::MIN_POSITIVE };
    let codes = ideal.iter().map(|&s| if s > 0.0 { nearest_code(s / base as f64) } else { 0 }).collect();
    (codes, base)
}

/// Codes every stage of one tensor into `file` (entries' offsets already set).
#[allow(clippy::too_many_arguments)]
fn encode_tensor(
    e: &mut TensorEntry,
    values: &[f32],
    moments: Option<&Moments>,
    codes: &[u8],
    codebook: &Codebook,
    threads: usize,
    file: &mut [u8],
    progress: &mut dyn FnMut(u64),
) {
    let rows = e.rows() as usize;
    let cols = e.cols() as usize;
    let g = 1usize << e.group_log2;
    let scales: Vec<f64> = codes.iter().map(|&c| row_scale(c, e.scale) as f64).collect();
    let mut acc = vec![0i32; rows * cols];
    let mut y = vec![0f32; rows * cols];
    let mut done_before = 0u64;
    for k in 0..e.stages.len() {
        let masks = sign_masks(e.seed, k, cols);
        let signs: Vec<f64> = masks.iter().map(|&m| if m == 0 { 1.0 } else { -1.0 }).collect();
        // The rotated residual, and the stage multiplier from its RMS.
        let mut ss = 0f64;
        let mut count = 0u64;
        let mut buf = vec![0f64; g];
        for r in 0..rows {
            if codes[r] == 0 {
                continue;
            }
            for j in 0..cols / g {
                let at = r * cols + j * g;
                for i in 0..g {
                    buf[i] = (values[at + i] as f64 / scales[r] - acc[at + i] as f64) * signs[j * g + i];
                }
                wht_f64(&mut buf);
                for i in 0..g {
                    let v = buf[i] / g as f64;
                    ss += v * v;
                    y[at + i] = v as f32;
                }
            }
            count += cols as u64;
        }
        let rms = if count > 0 { libm::sqrt(ss / count as f64) } else { 0.0 };
        let m = (libm::round(rms * SCALE_FIT) as u32).clamp(1, MAX_MULTIPLIER);
        e.stages[k].multiplier = m;
        let lut = codebook.stage_values(m);
        let stage = e.stages[k];
        let bb = stage.block_bits as usize / 8;
        let offset = stage.offset as usize;
        let data = &mut file[offset..offset + rows * (cols / g) * bb];
        let feedback = moments.and_then(|m| Feedback::new(m, &signs, g));
        let job = StageJob {
            feedback: feedback.as_ref(),
            lut: &lut,
            entries: codebook.entries(),
            multiplier: m as i32,
            masks: &masks,
            codes,
            cols,
            group_log2: e.group_log2 as u32,
            block_bits: stage.block_bits as usize,
        };
        run_rows(&job, &y, &mut acc, data, threads, &mut |d| progress(done_before + d));
        done_before += (rows * cols) as u64;
    }
}

struct StageJob<'a> {
    feedback: Option<&'a Feedback>,
    lut: &'a [i32],
    entries: &'a [i16],
    multiplier: i32,
    masks: &'a [i32],
    codes: &'a [u8],
    cols: usize,
    group_log2: u32,
    block_bits: usize,
}

impl StageJob<'_> {
    /// Codes rows `first..` (as many as `acc` holds), updating `acc`; `tick` after each row.
    fn rows(&self, first: usize, y: &[f32], acc: &mut [i32], data: &mut [u8], tick: &mut dyn FnMut(u64)) {
        let g = 1usize << self.group_log2;
        let bb = self.block_bits / 8;
        let mut search = Search::default();
        let values: Vec<f32> = self.lut.iter().map(|&v| v as f32).collect();
        search.set_values(&values);
        let mut windows = vec![0u32; g];
        let mut q = vec![0i32; g];
        let layout = BlockLayout::new(self.block_bits, self.group_log2, self.entries, self.multiplier);
        // Calibrated: each group aims at its residual plus the feedback of the row's errors so far.
        let mut err = if self.feedback.is_some() { vec![0f64; self.cols] } else { Vec::new() };
        let mut target = vec![0f32; g];
        for (i, ((y_row, acc_row), data_row)) in y
            .chunks_exact(self.cols)
            .zip(acc.chunks_exact_mut(self.cols))
            .zip(data.chunks_exact_mut(self.cols / g * bb))
            .enumerate()
        {
            if self.codes[first + i] != 0 {
                for (j, ((yb, ab), out)) in y_row
                    .chunks_exact(g)
                    .zip(acc_row.chunks_exact_mut(g))
                    .zip(data_row.chunks_exact_mut(bb))
                    .enumerate()
                {
                    let aim = match self.feedback {
                        Some(fb) => {
                            fb.target(j, yb, &err, &mut target);
                            &target[..]
                        }
                        None => yb,
                    };
                    encode_block(aim, self.block_bits, out, &mut windows, &mut search);
                    stage_rotated(out, &layout, &mut q);
                    accumulate(ab, &q, &self.masks[j * g..(j + 1) * g]);
                    if self.feedback.is_some() {
                        // The error in the rotated basis: the window values, before the transform.
                        for ((e, &yv), &w) in err[j * g..(j + 1) * g].iter_mut().zip(yb).zip(&windows) {
                            *e = yv as f64 - self.lut[w as usize] as f64;
                        }
                    }
                }
            }
            tick(self.cols as u64);
        }
    }
}

#[cfg(feature = "std")]
fn run_rows(
    job: &StageJob<'_>,
    y: &[f32],
    acc: &mut [i32],
    data: &mut [u8],
    threads: usize,
    progress: &mut dyn FnMut(u64),
) {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    let threads = if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads };
    let cols = job.cols;
    let rows = acc.len() / cols;
    let row_bytes = data.len() / rows.max(1);
    let threads = threads.clamp(1, rows.max(1));
    if threads == 1 {
        let mut done = 0;
        job.rows(0, y, acc, data, &mut |d| {
            done += d;
            progress(done)
        });
        return;
    }
    let per = rows.div_ceil(threads);
    let done = AtomicU64::new(0);
    let running = AtomicUsize::new(threads);
    std::thread::scope(|s| {
        for (t, ((yc, ac), dc)) in
            y.chunks(per * cols).zip(acc.chunks_mut(per * cols)).zip(data.chunks_mut(per * row_bytes)).enumerate()
        {
            let (done, running) = (&done, &running);
            s.spawn(move || {
                job.rows(t * per, yc, ac, dc, &mut |d| {
                    done.fetch_add(d, Ordering::Relaxed);
                });
                running.fetch_sub(1, Ordering::Release);
            });
        }
        let spawned = y.chunks(per * cols).len();
        running.fetch_sub(threads - spawned, Ordering::Release);
        while running.load(Ordering::Acquire) > 0 {
            std::thread::sleep(std::time::Duration::from_millis(100));
            progress(done.load(Ordering::Relaxed));
        }
    });
    progress(done.load(Ordering::Relaxed));
}

#[cfg(not(feature = "std"))]
fn run_rows(
    job: &StageJob<'_>,
    y: &[f32],
    acc: &mut [i32],
    data: &mut [u8],
    _threads: usize,
    progress: &mut dyn FnMut(u64),
) {
    let mut done = 0;
    job.rows(0, y, acc, data, &mut |d| {
        done += d;
        progress(done)
    });
}

#[cfg(test)]
mod tests {
    use super::allocate;
    use alloc::vec;

    fn spent(rates: &[f64], t: &[(u64, f64)]) -> f64 {
        rates.iter().zip(t).filter(|(_, t)| t.0 > 0).map(|(r, t)| r * t.0 as f64).sum()
    }

    #[test]
    fn four_times_the_energy_gets_half_a_bit_more_and_the_budget_holds() {
        let t = [(1000, 1.0), (3000, 4.0), (0, 0.0), (1000, 0.25)];
        let r = allocate(2.0, &t);
        assert!((r[1] - r[0] - 0.5).abs() < 1e-9 && (r[0] - r[3] - 0.5).abs() < 1e-9, "{r:?}");
        assert!((r[0] - 1.8).abs() < 1e-9, "{r:?}");
        assert_eq!(r[2], 2.0);
        let (got, want) = (spent(&r, &t), 2.0 * 5000.0);
        assert!(got <= want && got > want - 1e-6, "{got} for {want}");
    }

    #[test]
    fn rates_stay_within_the_stage_limits_and_equal_energies_share_alike() {
        // A silent tensor and a huge one: both clamped, the rest take up the difference.
        let t = [(4096, 0.0), (4096, 1e12), (8192, 1.0), (8192, 1.0)];
        let r = allocate(2.0, &t);
        assert_eq!((r[0], r[1]), (1.0, 3.0), "{r:?}");
        assert!((r[2] - 2.0).abs() < 1e-9 && r[2] == r[3], "{r:?}");
        assert_eq!(allocate(1.5, &[(4096, 3.0), (9000, 3.0)]), vec![1.5, 1.5]);
        assert_eq!(allocate(2.0, &[(0, 0.0), (65536, 0.0123)]), vec![2.0, 2.0]);
        // Budgets the limits cannot meet leave the rate as it is (the caller refuses them).
        assert_eq!(allocate(0.5, &[(4096, 1.0), (4096, 4.0)]), vec![0.5, 0.5]);
    }
}
