//! The CPU decoder. A quantized block is `acc = sum over stages k of S_k H (lut_k[w_t])` in
//! wrapping `i32` arithmetic (windows `w_t` of the stage's bits, `H` the Walsh-Hadamard
//! transform, `S_k` the stage's signs), then `out = (acc as f32) * row_scale`: integers
//! throughout and one rounding at the end, so every target decodes the same bytes.

use crate::codebook::Codebook;
use crate::codebook::TABLE_SHIFT;
use crate::error::NctError;
use crate::format::{KIND_TRELLIS, NctFile, TensorEntry};
use crate::hadamard::{sign_masks, sign_words, wht_i32_from};
use crate::scale::row_scale;
use crate::trellis::STATE_BITS;
use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;
use haagenti_hct::{DType, bf16_to_f32, f16_to_f32};
use xxhash_rust::xxh3::xxh3_64;

const MASK: u32 = (1 << STATE_BITS) - 1;
/// Largest group, in weights.
const MAX_GROUP: usize = 256;

/// One stage of one tensor, ready to decode.
pub(crate) struct StageView<'a> {
    pub(crate) layout: BlockLayout,
    pub(crate) masks: Vec<i32>,
    pub(crate) data: &'a [u8],
}

/// What every block of a stage shares: the value of each window (`(entry * m) >> 11`) and where
/// each weight's window sits, as the byte of an 8-byte load per eight weights and the shift
/// into it.
pub(crate) struct BlockLayout {
    /// Bytes a block.
    pub(crate) bytes: usize,
    values: Vec<i32>,
    word_at: [u8; MAX_GROUP / 8],
    shift: [u8; MAX_GROUP],
    /// `shift` per eight weights as the two vectors of 64-bit shift counts the AVX2 lookup
    /// uses: weights 0, 1, 4, 5 and then 2, 3, 6, 7 (the order its shuffle puts back).
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    lanes: [[u64; 8]; MAX_GROUP / 8],
}

impl BlockLayout {
    /// The layout of blocks of `bits` bits for `1 << n_log2` weights, with multiplier `m`.
    pub(crate) fn new(bits: usize, n_log2: u32, entries: &[i16], m: i32) -> Self {
        let values = entries[..1 << STATE_BITS].iter().map(|&e| (e as i32).wrapping_mul(m) >> TABLE_SHIFT).collect();
        let mut word_at = [0u8; MAX_GROUP / 8];
        let mut shift = [0u8; MAX_GROUP];
        for t in 0..1usize << n_log2 {
            let p = (t * bits) >> n_log2;
            if t % 8 == 0 {
                word_at[t / 8] = (p >> 3) as u8; // p < 3 * 256 bits
            }
            // At most 7 + 7 * 3 bits past the word's first bit (at most 3 bits a weight); the
            // window ends 12 bits later, within its 64.
            shift[t] = (p - 8 * usize::from(word_at[t / 8])).min(64 - STATE_BITS as usize) as u8;
        }
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        let lanes = core::array::from_fn(|c| {
            let at = |i: usize| u64::from(shift[8 * c + i]);
            [at(0), at(1), at(4), at(5), at(2), at(3), at(6), at(7)]
        });
        BlockLayout {
            bytes: bits / 8,
            values,
            word_at,
            shift,
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            lanes,
        }
    }
}

/// A tensor's bytes, borrowed from its file and checked against its checksums: the unit a
/// decoder (CPU, or the GPU crates) takes.
pub struct EncodedTensor<'a> {
    entry: &'a TensorEntry,
    codebook: &'a Codebook,
    base: &'a [u8],
    stages: Vec<&'a [u8]>,
}

impl<'a> EncodedTensor<'a> {
    /// The directory entry.
    pub fn entry(&self) -> &'a TensorEntry {
        self.entry
    }

    /// The file's codebook.
    pub fn codebook(&self) -> &'a Codebook {
        self.codebook
    }

    /// The exact bytes (exact tensors) or the row scale codes (quantized ones).
    pub fn base(&self) -> &'a [u8] {
        self.base
    }

    /// The blocks of each present stage (as many as the view was made with).
    pub fn stage_data(&self) -> &[&'a [u8]] {
        &self.stages
    }

    /// The scale of every row of a quantized tensor (`0.0` for a row whose code is 0, an
    /// all-zero row), as the decoder computes it: `ratio(code) * scale`, one `f32` multiply.
    /// Empty for an exact tensor.
    pub fn row_scales(&self) -> Vec<f32> {
        if !self.entry.is_quantized() {
            return Vec::new();
        }
        self.base.iter().map(|&c| row_scale(c, self.entry.scale)).collect()
    }

    /// The rotation signs of stage `k` (0-based) as 64-bit words: column `c` is negated when
    /// bit `c % 64` of word `c / 64` is set (docs/nct.md, "Decoding a block"). `cols / 64`
    /// words (columns are a multiple of 64 in every quantized tensor the encoder writes;
    /// rounded up otherwise). Empty for an exact tensor.
    pub fn stage_sign_words(&self, k: usize) -> Vec<u64> {
        if !self.entry.is_quantized() {
            return Vec::new();
        }
        sign_words(self.entry.seed, k, (self.entry.cols() as usize).div_ceil(64))
    }

    /// Decodes rows `rows` of the 2-D view (`rows x cols`, the first dimension by the rest)
    /// from every stage of this view into `out` (`rows.len() * cols` values).
    pub fn decode_rows_into(&self, rows: Range<u64>, out: &mut [f32]) -> Result<(), NctError> {
        let e = self.entry;
        let (n_rows, cols) = (e.rows(), e.cols());
        if rows.start > rows.end || rows.end > n_rows {
            return Err(NctError::Corrupt { what: "row range outside the tensor" });
        }
        let expected = (rows.end - rows.start) * cols;
        if out.len() as u64 != expected {
            return Err(NctError::OutputSize { expected, actual: out.len() as u64 });
        }
        if e.kind != KIND_TRELLIS {
            let size = e.dtype.size();
            let from = (rows.start * cols) as usize * size;
            let bytes = &self.base[from..from + out.len() * size];
            exact_to_f32(e.dtype, bytes, out);
            return Ok(());
        }
        let views: Vec<StageView<'_>> = self
            .stages
            .iter()
            .zip(&e.stages)
            .enumerate()
            .map(|(k, (data, s))| StageView {
                layout: BlockLayout::new(
                    s.block_bits as usize,
                    e.group_log2 as u32,
                    self.codebook.entries(),
                    s.multiplier as i32,
                ),
                masks: sign_masks(e.seed, k, cols as usize),
                data,
            })
            .collect();
        let t = Rows {
            codes: self.base,
            base: e.scale,
            group_log2: e.group_log2 as u32,
            cols: cols as usize,
            views: &views,
        };
        decode_trellis_rows(&t, rows, out);
        Ok(())
    }

    /// Every row, into `out` (`numel` values).
    pub fn decode_into(&self, out: &mut [f32]) -> Result<(), NctError> {
        self.decode_rows_into(0..self.entry.rows(), out)
    }

    /// Every row, as a new vector.
    pub fn decode(&self) -> Result<Vec<f32>, NctError> {
        let mut out = vec![0f32; self.entry.numel() as usize];
        self.decode_into(&mut out)?;
        Ok(out)
    }
}

/// A quantized tensor's rows laid out for a GPU kernel (haagenti-gpu's WGSL and
/// haagenti-cuda's CUDA C read exactly this): per stage its block size in bits, multiplier,
/// first 32-bit word in `data` and first word in `signs`; the rows' blocks of every stage one
/// after another, each stage starting on a 4-byte boundary, and 4 spare zero bytes at the
/// end; each stage's signs as `cols / 32` words (bit `c % 32` of word `c / 32` negates column
/// `c`); and each row's scale as `f32` bits, [`GpuPack::ZERO_ROW`] for a row of code 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuPack {
    /// `[block_bits, multiplier, data_word, sign_word]` per stage.
    pub stages: Vec<[u32; 4]>,
    /// The blocks.
    pub data: Vec<u8>,
    /// The signs.
    pub signs: Vec<u32>,
    /// The row scales.
    pub scales: Vec<u32>,
}

impl GpuPack {
    /// The scale word of an all-zero row (decoded as `+0.0`; no real scale has these bits).
    pub const ZERO_ROW: u32 = u32::MAX;
}

impl EncodedTensor<'_> {
    /// Rows `rows` of this quantized tensor laid out for a GPU kernel ([`GpuPack`]); `None`
    /// for an exact tensor or rows outside the tensor.
    pub fn gpu_pack(&self, rows: Range<u64>) -> Option<GpuPack> {
        let e = self.entry;
        if !e.is_quantized() || rows.start > rows.end || rows.end > e.rows() {
            return None;
        }
        let cols = e.cols();
        let groups = (cols >> e.group_log2) as usize;
        let sign_words = cols.div_ceil(32) as usize;
        let (b0, b1) = (rows.start as usize * groups, rows.end as usize * groups);
        let mut pack = GpuPack { stages: Vec::new(), data: Vec::new(), signs: Vec::new(), scales: Vec::new() };
        for (k, (data, s)) in self.stages.iter().zip(&e.stages).enumerate() {
            let bb = s.block_bits as usize / 8;
            pack.stages.push([s.block_bits, s.multiplier, (pack.data.len() / 4) as u32, (k * sign_words) as u32]);
            pack.data.extend_from_slice(&data[b0 * bb..b1 * bb]);
            pack.data.resize(pack.data.len().div_ceil(4) * 4, 0);
            let words = self.stage_sign_words(k);
            pack.signs.extend(words.iter().flat_map(|&w| [w as u32, (w >> 32) as u32]).take(sign_words));
        }
        pack.data.extend_from_slice(&[0; 4]);
        pack.scales = (rows.start..rows.end)
            .map(|r| {
                let c = self.base[r as usize];
                if c == 0 { GpuPack::ZERO_ROW } else { row_scale(c, e.scale).to_bits() }
            })
            .collect();
        Some(pack)
    }
}

impl<'a> NctFile<'a> {
    /// The bytes of tensor `name` for its first `k` stages, checksums verified.
    pub fn tensor(&self, name: &str, k: usize) -> Result<EncodedTensor<'_>, NctError> {
        let e = self.entry(name)?;
        self.view(e, k)
    }

    fn view<'s>(&'s self, e: &'s TensorEntry, k: usize) -> Result<EncodedTensor<'s>, NctError> {
        if k > self.present {
            return Err(NctError::MissingStages { wanted: k, present: self.present });
        }
        let base = &self.bytes[e.base_offset as usize..(e.base_offset + e.base_len) as usize];
        if xxh3_64(base) != e.base_hash {
            return Err(NctError::Checksum { what: "tensor base bytes" });
        }
        let mut stages = Vec::with_capacity(k);
        for s in e.stages.iter().take(k) {
            let data = &self.bytes[s.offset as usize..(s.offset + e.stage_len(s)) as usize];
            if xxh3_64(data) != s.hash {
                return Err(NctError::Checksum { what: "tensor stage blocks" });
            }
            stages.push(data);
        }
        Ok(EncodedTensor { entry: e, codebook: &self.codebook, base, stages })
    }

    /// Tensor `name` decoded from its first `k` stages (exact tensors ignore `k`), as f32.
    pub fn decode_tensor(&self, name: &str, k: usize) -> Result<Vec<f32>, NctError> {
        self.tensor(name, k)?.decode()
    }

    /// [`Self::decode_tensor`] into a caller's buffer of `numel` values.
    pub fn decode_tensor_into(&self, name: &str, k: usize, out: &mut [f32]) -> Result<(), NctError> {
        self.tensor(name, k)?.decode_into(out)
    }

    /// Rows `rows` of tensor `name` (first dimension) from `k` stages, into `out`.
    pub fn decode_rows(&self, name: &str, k: usize, rows: Range<u64>, out: &mut [f32]) -> Result<(), NctError> {
        self.tensor(name, k)?.decode_rows_into(rows, out)
    }

    /// The stored bytes of an exact tensor (`None` for a quantized one).
    pub fn exact_bytes(&self, name: &str) -> Result<Option<&'a [u8]>, NctError> {
        let e = self.entry(name)?;
        if e.is_quantized() {
            return Ok(None);
        }
        let view = self.view(e, 0)?;
        let (from, len) = (e.base_offset as usize, view.base.len());
        Ok(Some(&self.bytes[from..from + len]))
    }
}

/// What decoding rows of a quantized tensor takes: each row's scale code, the base scale, the
/// group size, the columns, and the stages to use.
pub(crate) struct Rows<'a, 'v> {
    pub(crate) codes: &'a [u8],
    pub(crate) base: f32,
    pub(crate) group_log2: u32,
    pub(crate) cols: usize,
    pub(crate) views: &'a [StageView<'v>],
}

/// Decodes rows `rows` into `out`. On x86-64 CPUs with AVX2 the window lookups run eight at a
/// time ([`x86`]); every build gives the same integers.
pub(crate) fn decode_trellis_rows(t: &Rows<'_, '_>, rows: Range<u64>, out: &mut [f32]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if crate::simd::avx2() {
        // SAFETY: V1 (crate::simd) - `simd::avx2()`: `level` found AVX2 on this CPU.
        #[allow(unsafe_code)]
        return unsafe { x86::decode_trellis_rows(t, rows, out) };
    }
    trellis_rows(stage_rotated, t, rows, out);
}

/// The body of [`decode_trellis_rows`], with `rotate` for [`stage_rotated`].
#[inline(always)]
fn trellis_rows<'v>(
    rotate: impl Fn(&[u8], &BlockLayout, &mut [i32]),
    t: &Rows<'_, 'v>,
    rows: Range<u64>,
    out: &mut [f32],
) {
    let &Rows { codes, base, group_log2, cols, views } = t;
    let g = 1usize << group_log2;
    let groups = cols / g;
    let mut acc = [0i32; MAX_GROUP];
    let mut q = [0i32; MAX_GROUP];
    for (r, out_row) in (rows.start as usize..rows.end as usize).zip(out.chunks_exact_mut(cols)) {
        let code = codes[r];
        if code == 0 {
            out_row.fill(0.0);
            continue;
        }
        let rs = row_scale(code, base);
        for (j, out_group) in out_row.chunks_exact_mut(g).enumerate() {
            let acc = &mut acc[..g];
            let Some((last, before)) = views.split_last() else {
                out_group.fill(0.0);
                continue;
            };
            let q = &mut q[..g];
            let block = |v: &StageView<'v>| -> &'v [u8] {
                let bb = v.layout.bytes;
                &v.data[(r * groups + j) * bb..][..bb]
            };
            for (k, v) in before.iter().enumerate() {
                rotate(block(v), &v.layout, q);
                let masks = &v.masks[j * g..(j + 1) * g];
                if k == 0 {
                    signed(acc, q, masks);
                } else {
                    accumulate(acc, q, masks);
                }
            }
            // The last stage's signs and sum go with the final multiply, in one pass.
            rotate(block(last), &last.layout, q);
            let masks = &last.masks[j * g..(j + 1) * g];
            if before.is_empty() {
                for ((o, &v), &m) in out_group.iter_mut().zip(q.iter()).zip(masks) {
                    *o = (v ^ m).wrapping_sub(m) as f32 * rs;
                }
            } else {
                for (((o, &a), &v), &m) in out_group.iter_mut().zip(acc.iter()).zip(q.iter()).zip(masks) {
                    *o = a.wrapping_add((v ^ m).wrapping_sub(m)) as f32 * rs;
                }
            }
        }
    }
}

/// A block's last 8 bytes, then its first 4 (where windows past its end wrap to), then zeros:
/// the words that run past the block's end come from here, the others from the block itself.
/// (Blocks are at least 8 bytes: the format checks `block_bits >= 64`.)
#[inline(always)]
fn wrapped_tail(block: &[u8]) -> [u8; 16] {
    let bb = block.len();
    let mut tail = [0u8; 16];
    tail[..8].copy_from_slice(&block[bb - 8..]);
    tail[8..12].copy_from_slice(&block[..4]);
    tail
}

/// The little-endian 8-byte word at byte `at` of a block (`at` < its length), wrapping round
/// to its start past its end ([`wrapped_tail`]).
#[inline(always)]
fn word_at(block: &[u8], tail: &[u8; 16], at: usize) -> u64 {
    let bytes = match block.get(at..at + 8) {
        Some(w) => w,
        None => {
            let off = at + 8 - block.len();
            &tail[off..off + 8]
        }
    };
    u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
}

/// The Walsh-Hadamard transform of the window values of a block's weights: `q = H v`, where
/// `v[t] = (entries[window at bit t * bits / n] * m) >> 11` (the first three levels of the
/// transform are done here, eight values at a time, in registers; the rest by `wht_i32_from`).
#[inline]
pub(crate) fn stage_rotated(block: &[u8], layout: &BlockLayout, q: &mut [i32]) {
    let tail = wrapped_tail(block);
    let values = &layout.values[..1 << STATE_BITS];
    let mut v = [0i32; 8];
    for ((chunk, &at), shifts) in q.chunks_exact_mut(8).zip(&layout.word_at).zip(layout.shift.chunks_exact(8)) {
        let word = word_at(block, &tail, usize::from(at));
        for (o, &sh) in v.iter_mut().zip(shifts) {
            *o = values[((word >> sh) as u32 & MASK) as usize];
        }
        for h in [1, 2, 4] {
            for i in 0..8 {
                if i & h == 0 {
                    let (a, b) = (v[i], v[i + h]);
                    v[i] = a.wrapping_add(b);
                    v[i + h] = a.wrapping_sub(b);
                }
            }
        }
        chunk.copy_from_slice(&v);
    }
    wht_i32_from(q, 8);
}

/// The decoder with AVX2: each eight windows come out of their 8-byte word by two variable
/// shifts, their values are loaded into one vector, and the transform's first three levels run
/// on it in one register; the rest of the body is [`trellis_rows`] compiled for AVX2. The same
/// integers as [`stage_rotated`], so the same output bits (a test compares them at every block
/// size, and `tests/identity.rs` digests natively and on wasm32).
///
/// Unsafe code (intrinsics, and the dispatch on what the CPU has) because it pays, measured in
/// docs/nct.md ("Decoder speed"). An AVX2 gather of the eight values measured slower than
/// eight loads on this VM's AMD EPYC (Zen 3), so there is none.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[allow(unsafe_code)]
pub(crate) mod x86 {
    use super::{BlockLayout, MASK, Rows, trellis_rows, word_at, wrapped_tail};
    use crate::hadamard::wht_i32_from;
    use crate::trellis::STATE_BITS;
    use core::arch::x86_64::*;
    use core::ops::Range;

    /// [`super::decode_trellis_rows`] with [`stage_rotated`] for the lookups.
    ///
    /// # Safety
    /// The CPU must have AVX2 (invariant V1 of [`crate::simd`]).
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn decode_trellis_rows(t: &Rows<'_, '_>, rows: Range<u64>, out: &mut [f32]) {
        trellis_rows(|b, l, q| stage_rotated(b, l, q), t, rows, out);
    }

    /// [`super::stage_rotated`], eight weights a vector.
    #[target_feature(enable = "avx2")]
    pub(crate) fn stage_rotated(block: &[u8], layout: &BlockLayout, q: &mut [i32]) {
        let tail = wrapped_tail(block);
        let values: &[i32; 1 << STATE_BITS] = layout.values[..1 << STATE_BITS].try_into().expect("4096 values");
        let mask = _mm256_set1_epi32(MASK as i32);
        for ((chunk, &at), lanes) in q.chunks_exact_mut(8).zip(&layout.word_at).zip(&layout.lanes) {
            let word = word_at(block, &tail, usize::from(at));
            let w = _mm256_set1_epi64x(word as i64);
            let (lo, hi) = (&lanes[..4], &lanes[4..]);
            // SAFETY: `lo` and `hi` are four u64 each: 32 bytes to read.
            let (lo, hi) = unsafe { (_mm256_loadu_si256(lo.as_ptr().cast()), _mm256_loadu_si256(hi.as_ptr().cast())) };
            let (lo, hi) = (_mm256_srlv_epi64(w, lo), _mm256_srlv_epi64(w, hi));
            // The low halves of the eight 64-bit lanes, in weight order 0..8.
            let low = _mm256_shuffle_ps::<0b10_00_10_00>(_mm256_castsi256_ps(lo), _mm256_castsi256_ps(hi));
            let windows = _mm256_and_si256(_mm256_castps_si256(low), mask);
            let mut idx = [0u32; 8];
            // SAFETY: `idx` is eight u32: 32 bytes to write.
            unsafe { _mm256_storeu_si256(idx.as_mut_ptr().cast(), windows) };
            let vals: [i32; 8] = core::array::from_fn(|i| values[idx[i] as usize & 4095]);
            // SAFETY: `vals` is eight i32: 32 bytes to read.
            let mut v = unsafe { _mm256_loadu_si256(vals.as_ptr().cast()) };
            // Levels 1, 2 and 4: lanes with the level's bit clear take `a + b`, the others the
            // partner's value less their own (`a - b`, `a` the lower lane's).
            let t = _mm256_shuffle_epi32::<0b10_11_00_01>(v);
            v = _mm256_blend_epi32::<0b1010_1010>(_mm256_add_epi32(v, t), _mm256_sub_epi32(t, v));
            let t = _mm256_shuffle_epi32::<0b01_00_11_10>(v);
            v = _mm256_blend_epi32::<0b1100_1100>(_mm256_add_epi32(v, t), _mm256_sub_epi32(t, v));
            let t = _mm256_permute2x128_si256::<1>(v, v);
            v = _mm256_blend_epi32::<0b1111_0000>(_mm256_add_epi32(v, t), _mm256_sub_epi32(t, v));
            // SAFETY: `chunk` is eight i32: 32 bytes to write.
            unsafe { _mm256_storeu_si256(chunk.as_mut_ptr().cast(), v) };
        }
        wht_i32_from(q, 8);
    }
}

/// `acc = S q`, the signs as masks (0 keeps, -1 negates): [`accumulate`] into zeros.
#[inline(always)]
fn signed(acc: &mut [i32], q: &[i32], masks: &[i32]) {
    for ((a, &v), &m) in acc.iter_mut().zip(q).zip(masks) {
        *a = (v ^ m).wrapping_sub(m);
    }
}

/// `acc += S q`, the signs as masks (0 keeps, -1 negates).
#[inline(always)]
pub(crate) fn accumulate(acc: &mut [i32], q: &[i32], masks: &[i32]) {
    for ((a, &v), &m) in acc.iter_mut().zip(q).zip(masks) {
        *a = a.wrapping_add((v ^ m).wrapping_sub(m));
    }
}

/// Exact source bytes as f32 (integers and booleans by value, 8-bit floats by their formats).
fn exact_to_f32(dtype: DType, bytes: &[u8], out: &mut [f32]) {
    macro_rules! each {
        ($n:expr, $f:expr) => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact($n)) {
                *o = $f(b);
            }
        };
    }
    match dtype {
        DType::F32 => each!(4, |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        DType::F16 => each!(2, |b: &[u8]| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))),
        DType::BF16 => each!(2, |b: &[u8]| bf16_to_f32(u16::from_le_bytes([b[0], b[1]]))),
        DType::F64 => each!(8, |b: &[u8]| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32),
        DType::I8 => each!(1, |b: &[u8]| b[0] as i8 as f32),
        DType::U8 | DType::Bool => each!(1, |b: &[u8]| b[0] as f32),
        DType::I16 => each!(2, |b: &[u8]| i16::from_le_bytes([b[0], b[1]]) as f32),
        DType::U16 => each!(2, |b: &[u8]| u16::from_le_bytes([b[0], b[1]]) as f32),
        DType::I32 => each!(4, |b: &[u8]| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32),
        DType::U32 => each!(4, |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32),
        DType::I64 => each!(8, |b: &[u8]| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32),
        DType::U64 => each!(8, |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32),
        DType::F8E5M2 => each!(1, |b: &[u8]| f16_to_f32((b[0] as u16) << 8)),
        DType::F8E4M3 => each!(1, |b: &[u8]| e4m3_to_f32(b[0])),
        _ => out.fill(0.0),
    }
}

/// OCP FP8 E4M3 (bias 7, no infinities, `S.1111.111` is NaN).
fn e4m3_to_f32(b: u8) -> f32 {
    let sign = if b & 0x80 != 0 { -1.0 } else { 1.0 };
    let e = (b >> 3) & 15;
    let m = (b & 7) as f32;
    if e == 15 && b & 7 == 7 {
        return f32::NAN;
    }
    let v = if e == 0 { m / 8.0 * libm::ldexpf(1.0, -6) } else { (1.0 + m / 8.0) * libm::ldexpf(1.0, e as i32 - 7) };
    sign * v
}

#[cfg(feature = "candle")]
impl NctFile<'_> {
    /// Tensor `name` decoded from its first `k` stages as an f32 `candle_core::Tensor` of its
    /// shape on `device` (decoded on the CPU, then moved).
    pub fn decode_to_candle(
        &self,
        name: &str,
        k: usize,
        device: &candle_core::Device,
    ) -> Result<candle_core::Tensor, NctError> {
        let shape: Vec<usize> = self.entry(name)?.shape().iter().map(|&d| d as usize).collect();
        let values = self.decode_tensor(name, k)?;
        candle_core::Tensor::from_vec(values, shape, device)
            .map_err(|e| NctError::Backend(alloc::format!("candle: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hadamard::wht_i32;
    use crate::rng::SplitMix64;

    /// The values as the format defines them, one weight at a time, and the whole transform.
    fn reference(block: &[u8], bits: usize, n_log2: u32, entries: &[i16], m: i32) -> Vec<i32> {
        let n = 1usize << n_log2;
        let bit = |p: usize| u32::from(block[(p / 8) % block.len()] >> (p % 8) & 1);
        let mut q: Vec<i32> = (0..n)
            .map(|t| {
                let p = (t * bits) >> n_log2;
                let w = (0..STATE_BITS as usize).fold(0, |w, i| w | bit(p + i) << i);
                i32::from(entries[w as usize]).wrapping_mul(m) >> TABLE_SHIFT
            })
            .collect();
        wht_i32(&mut q);
        q
    }

    /// Calls `f(block, bits, n_log2, entries, m)` with a random block of every size the format
    /// allows (groups of 64 to 256, whole and fractional bits a weight), seeded.
    fn every_block_size(seed: u64, mut f: impl FnMut(&[u8], usize, u32, &[i16], i32)) {
        let mut rng = SplitMix64::new(seed);
        let entries: Vec<i16> = (0..1 << STATE_BITS).map(|_| rng.next_u64() as i16).collect();
        for n_log2 in 6..=8 {
            let n = 1usize << n_log2;
            for bits in (n..=3 * n).step_by(8) {
                let block: Vec<u8> = (0..bits / 8).map(|_| rng.next_u64() as u8).collect();
                let m = (rng.next_u64() % 5000) as i32 + 1;
                f(&block, bits, n_log2, &entries, m);
            }
        }
    }

    #[test]
    fn stage_rotated_is_the_transform_of_the_values_at_every_rate() {
        every_block_size(7, |block, bits, n_log2, entries, m| {
            let mut q = vec![0i32; 1 << n_log2];
            stage_rotated(block, &BlockLayout::new(bits, n_log2, entries, m), &mut q);
            assert_eq!(q, reference(block, bits, n_log2, entries, m), "n_log2 {n_log2}, {bits} bits");
        });
    }

    /// The AVX2 lookups give the portable integers at every group size and block size the
    /// format allows, and whole rows of several stages (zero rows included) the same bits.
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[test]
    fn the_avx2_decoder_gives_the_portable_bits() {
        use crate::hadamard::sign_masks;
        use crate::simd::{self, Level};
        if simd::detected() < Level::Avx2 {
            std::eprintln!("SKIPPED the_avx2_decoder_gives_the_portable_bits: this CPU has no AVX2");
            return;
        }
        every_block_size(11, |block, bits, n_log2, entries, m| {
            let layout = BlockLayout::new(bits, n_log2, entries, m);
            let (mut want, mut got) = (vec![0i32; 1 << n_log2], vec![0i32; 1 << n_log2]);
            stage_rotated(block, &layout, &mut want);
            // SAFETY: V1 (crate::simd) - this CPU has AVX2 (checked above).
            #[allow(unsafe_code)]
            unsafe {
                x86::stage_rotated(block, &layout, &mut got)
            };
            assert_eq!(got, want, "n_log2 {n_log2}, {bits} bits");
        });
        let mut rng = SplitMix64::new(12);
        let entries: Vec<i16> = (0..1 << STATE_BITS).map(|_| rng.next_u64() as i16).collect();
        let (rows, cols, g_log2) = (9usize, 512usize, 7u32);
        let blocks = rows * (cols >> g_log2);
        let stage_bits = [2 * 128 + 8, 128, 3 * 128];
        let data: Vec<Vec<u8>> =
            stage_bits.iter().map(|b| (0..blocks * b / 8).map(|_| rng.next_u64() as u8).collect()).collect();
        let views: Vec<StageView<'_>> = stage_bits
            .iter()
            .zip(&data)
            .enumerate()
            .map(|(k, (&b, d))| StageView {
                layout: BlockLayout::new(b, g_log2, &entries, 700 + k as i32),
                masks: sign_masks(5, k, cols),
                data: d,
            })
            .collect();
        let codes: Vec<u8> = (0..rows).map(|r| if r == 3 { 0 } else { 90 + r as u8 }).collect();
        for k in 0..=views.len() {
            let decode = |level| {
                let mut out = vec![f32::NAN; rows * cols];
                simd::with_level(level, || {
                    let t = Rows { codes: &codes, base: 0.01, group_log2: g_log2, cols, views: &views[..k] };
                    decode_trellis_rows(&t, 0..rows as u64, &mut out)
                });
                out.iter().map(|v| v.to_bits()).collect::<Vec<u32>>()
            };
            assert_eq!(decode(Level::Avx2), decode(Level::Baseline), "{k} stages");
        }
    }

    /// A benchmark, not run by default: the portable and AVX2 decoders alternated pass by pass
    /// in one process on a real file, so the VM's drift falls on both alike. Every tensor of
    /// `HAAGENTI_NCT_AB` (a file of `haagenti nct encode`) goes through `decode_tensor_into`
    /// with all its stages; each pass's output must be the same bits under both. Prints the
    /// median GB/s of f32 output with the range, the first of 12 rounds dropped:
    /// `HAAGENTI_NCT_AB=m4.nct cargo test --release -p haagenti-nct --lib -- --ignored
    /// --nocapture decoders_alternated`.
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[test]
    #[ignore = "a benchmark: HAAGENTI_NCT_AB=FILE.nct, --release"]
    fn decoders_alternated() {
        use crate::simd::{self, Level};
        use std::time::Instant;
        let path = std::env::var("HAAGENTI_NCT_AB").expect("HAAGENTI_NCT_AB=FILE.nct (made by `haagenti nct encode`)");
        assert!(simd::detected() >= Level::Avx2, "this CPU has no AVX2: nothing to compare");
        let bytes = std::fs::read(&path).expect("read the file");
        let file = crate::NctFile::parse(&bytes).expect("an NCT file");
        let names: Vec<(&str, usize)> = file.tensors().iter().map(|t| (t.name(), t.numel() as usize)).collect();
        let total: usize = names.iter().map(|(_, n)| n * 4).sum();
        let mut outs: Vec<Vec<f32>> = names.iter().map(|(_, n)| vec![0f32; *n]).collect();
        let mut digests = [0u64; 2];
        let mut pass = |level: Level, digest: &mut u64| {
            let t = Instant::now();
            simd::with_level(level, || {
                for ((name, _), out) in names.iter().zip(&mut outs) {
                    file.decode_tensor_into(name, file.stages(), out).expect("decodes");
                }
            });
            let gbs = total as f64 / t.elapsed().as_secs_f64() / 1e9;
            *digest = outs
                .iter()
                .fold(0, |h, o| o.iter().fold(h, |h, v| (h ^ u64::from(v.to_bits())).wrapping_mul(0x100_0000_01b3)));
            gbs
        };
        let (mut portable, mut avx2) = (Vec::new(), Vec::new());
        for round in 0..12 {
            let (p, a) = (pass(Level::Baseline, &mut digests[0]), pass(Level::Avx2, &mut digests[1]));
            assert_eq!(digests[0], digests[1], "round {round}: the two decoders differ");
            if round > 0 {
                portable.push(p);
                avx2.push(a);
            }
        }
        portable.sort_by(f64::total_cmp);
        avx2.sort_by(f64::total_cmp);
        let show = |v: &[f64]| std::format!("{:.2} GB/s ({:.2}-{:.2})", v[v.len() / 2], v[0], v[v.len() - 1]);
        let (p, a) = (portable[portable.len() / 2], avx2[avx2.len() / 2]);
        std::println!(
            "{path}: {} stages, {:.1} MB of f32, 11 rounds: portable {}, AVX2 {}, ratio {:.2}",
            file.stages(),
            total as f64 / 1e6,
            show(&portable),
            show(&avx2),
            a / p
        );
    }
}
