//! What is encoded (an image or a tensor), what comes back, and the header every fragment
//! carries.

use alloc::vec::Vec;

use haagenti_hct::DType;

use crate::HoloError;
use crate::coding::{Reader, put_bytes};
use crate::quality::{QualityCurve, QualityPoint};

/// Largest number of samples an asset may have (2^28).
pub const MAX_SAMPLES: u64 = 1 << 28;

/// An image or a tensor to encode.
#[derive(Debug, Clone, PartialEq)]
pub enum Asset {
    /// 8-bit samples, row-major, `channels` interleaved (1: gray, 3: RGB).
    Image {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// 1 or 3.
        channels: u8,
        /// `width * height * channels` samples.
        pixels: Vec<u8>,
    },
    /// A float tensor (F32, F16 or BF16) as little-endian bytes.
    Tensor {
        /// Element type.
        dtype: DType,
        /// Dimensions.
        shape: Vec<u64>,
        /// The bytes.
        data: Vec<u8>,
    },
}

/// What a decoder gives back.
#[derive(Debug, Clone, PartialEq)]
pub enum Reconstruction {
    /// An image approximation.
    Image {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// 1 or 3.
        channels: u8,
        /// The samples.
        pixels: Vec<u8>,
    },
    /// A tensor approximation.
    Tensor {
        /// Element type of `data`.
        dtype: DType,
        /// Dimensions.
        shape: Vec<u64>,
        /// The values.
        values: Vec<f32>,
        /// The values in `dtype`, little-endian (the original bytes once reconstruction is exact).
        data: Vec<u8>,
    },
}

/// The shape of an asset, without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetKind {
    /// An image.
    Image {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// 1 or 3.
        channels: u8,
    },
    /// A tensor.
    Tensor {
        /// Element type.
        dtype: DType,
        /// Dimensions.
        shape: Vec<u64>,
    },
}

impl AssetKind {
    /// Number of samples (pixels times channels, or elements).
    // Not inlined: the product over the shape unrolls to some 750 bytes of wasm, and it was
    // inlined in a dozen places.
    #[inline(never)]
    pub fn samples(&self) -> u64 {
        match self {
            AssetKind::Image { width, height, channels } => {
                u64::from(*width) * u64::from(*height) * u64::from(*channels)
            }
            AssetKind::Tensor { shape, .. } => shape.iter().product(),
        }
    }

    /// Planes the encodings work on: one per image channel, one for a tensor.
    pub(crate) fn planes(&self) -> usize {
        match self {
            AssetKind::Image { channels, .. } => usize::from(*channels),
            AssetKind::Tensor { .. } => 1,
        }
    }

    /// The matrix view of a plane: image height x width, or a tensor's first dimension by the
    /// rest (1 x n for vectors).
    pub(crate) fn matrix(&self) -> (usize, usize) {
        match self {
            AssetKind::Image { width, height, .. } => (*height as usize, *width as usize),
            AssetKind::Tensor { shape, .. } => {
                let n = self.samples() as usize;
                match shape.first() {
                    Some(&r) if shape.len() >= 2 && r > 0 => (r as usize, n / r as usize),
                    _ => (1, n),
                }
            }
        }
    }

    /// Bits per element of the raw representation.
    pub(crate) fn element_bits(&self) -> u32 {
        match self {
            AssetKind::Image { .. } => 8,
            AssetKind::Tensor { dtype, .. } => 8 * dtype.size() as u32,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            AssetKind::Image { width, height, channels } => {
                out.push(0);
                out.extend_from_slice(&width.to_le_bytes());
                out.extend_from_slice(&height.to_le_bytes());
                out.push(*channels);
            }
            AssetKind::Tensor { dtype, shape } => {
                out.push(1);
                out.push(dtype.code());
                out.push(shape.len() as u8);
                shape.iter().for_each(|d| out.extend_from_slice(&d.to_le_bytes()));
            }
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, HoloError> {
        let kind = match r.u8()? {
            0 => {
                let (width, height, channels) = (r.u32()?, r.u32()?, r.u8()?);
                if !matches!(channels, 1 | 3) || width == 0 || height == 0 {
                    return Err(HoloError::Corrupt("image dimensions"));
                }
                AssetKind::Image { width, height, channels }
            }
            1 => {
                let dtype = DType::from_code(r.u8()?).ok_or(HoloError::Corrupt("dtype"))?;
                if !matches!(dtype, DType::F32 | DType::F16 | DType::BF16) {
                    return Err(HoloError::Corrupt("tensor dtype must be F32, F16 or BF16"));
                }
                let rank = r.u8()?;
                if rank > 8 {
                    return Err(HoloError::Corrupt("rank over 8"));
                }
                let shape = (0..rank).map(|_| r.u64()).collect::<Result<Vec<_>, _>>()?;
                AssetKind::Tensor { dtype, shape }
            }
            _ => return Err(HoloError::Corrupt("asset kind")),
        };
        // Every product checked: dimensions of any size multiply to at most MAX_SAMPLES.
        let fits = match &kind {
            AssetKind::Image { width, height, channels } => {
                u64::from(*width).checked_mul(u64::from(*height)).and_then(|p| p.checked_mul(u64::from(*channels)))
            }
            AssetKind::Tensor { shape, .. } => shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d)),
        };
        match fits {
            Some(n) if n <= MAX_SAMPLES => Ok(kind),
            _ => Err(HoloError::Corrupt("asset larger than the sample limit")),
        }
    }
}

impl Asset {
    /// An 8-bit image (1 or 3 channels).
    pub fn image(width: u32, height: u32, channels: u8, pixels: Vec<u8>) -> Result<Self, HoloError> {
        let kind = AssetKind::Image { width, height, channels };
        if !matches!(channels, 1 | 3) || width == 0 || height == 0 {
            return Err(HoloError::InvalidInput("images need 1 or 3 channels and a non-zero size".into()));
        }
        if kind.samples() != pixels.len() as u64 || kind.samples() > MAX_SAMPLES {
            return Err(HoloError::InvalidInput("pixel count does not match the size (or passes 2^28)".into()));
        }
        Ok(Asset::Image { width, height, channels, pixels })
    }

    /// A tensor of F32, F16 or BF16 values.
    pub fn tensor(dtype: DType, shape: Vec<u64>, data: Vec<u8>) -> Result<Self, HoloError> {
        if !matches!(dtype, DType::F32 | DType::F16 | DType::BF16) {
            return Err(HoloError::InvalidInput("tensors must be F32, F16 or BF16".into()));
        }
        let n = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        if shape.len() > 8 || n.and_then(|n| n.checked_mul(dtype.size() as u64)) != Some(data.len() as u64) {
            return Err(HoloError::InvalidInput("byte count does not match dtype and shape".into()));
        }
        if n.is_none_or(|n| n > MAX_SAMPLES) {
            return Err(HoloError::InvalidInput("tensor larger than 2^28 elements".into()));
        }
        let values = to_f32(dtype, &data);
        if values.iter().any(|v| !v.is_finite()) {
            return Err(HoloError::InvalidInput("tensor holds NaN or infinity".into()));
        }
        Ok(Asset::Tensor { dtype, shape, data })
    }

    /// Its kind.
    pub fn kind(&self) -> AssetKind {
        match self {
            Asset::Image { width, height, channels, .. } => {
                AssetKind::Image { width: *width, height: *height, channels: *channels }
            }
            Asset::Tensor { dtype, shape, .. } => AssetKind::Tensor { dtype: *dtype, shape: shape.clone() },
        }
    }

    /// The content bytes (pixels or tensor bytes).
    pub fn content(&self) -> &[u8] {
        match self {
            Asset::Image { pixels, .. } => pixels,
            Asset::Tensor { data, .. } => data,
        }
    }

    /// Samples as f32 planes: image channels (0..=255), or the tensor's values.
    pub(crate) fn planes(&self) -> Vec<Vec<f32>> {
        match self {
            Asset::Image { channels, pixels, .. } => {
                let c = usize::from(*channels);
                (0..c).map(|ch| pixels.iter().skip(ch).step_by(c).map(|&p| f32::from(p)).collect()).collect()
            }
            Asset::Tensor { dtype, data, .. } => alloc::vec![to_f32(*dtype, data)],
        }
    }

    /// Raw element bit patterns: samples, or the dtype's bits.
    pub(crate) fn elements(&self) -> Vec<u32> {
        match self {
            Asset::Image { pixels, .. } => pixels.iter().map(|&p| u32::from(p)).collect(),
            Asset::Tensor { dtype, data, .. } => elements_of(*dtype, data),
        }
    }
}

/// Element bit patterns of tensor bytes.
pub(crate) fn elements_of(dtype: DType, data: &[u8]) -> Vec<u32> {
    match dtype.size() {
        4 => data.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        _ => data.chunks_exact(2).map(|b| u32::from(u16::from_le_bytes([b[0], b[1]]))).collect(),
    }
}

/// Values of F32, F16 or BF16 tensor bytes (none for other dtypes, which no asset has).
pub(crate) fn to_f32(dtype: DType, data: &[u8]) -> Vec<f32> {
    haagenti_hct::f32_values(dtype, data).unwrap_or_default()
}

/// The value of an element's bit pattern.
pub(crate) fn element_to_f32(dtype: DType, e: u32) -> f32 {
    match dtype {
        DType::F32 => f32::from_bits(e),
        DType::BF16 => haagenti_hct::bf16_to_f32(e as u16),
        _ => haagenti_hct::f16_to_f32(e as u16),
    }
}

/// A tensor reconstruction from its elements' bit patterns. One copy for every encoding (the
/// loops are vectorized and, inlined at each caller, were one more copy a caller).
#[inline(never)]
pub(crate) fn tensor_from_elements(dtype: DType, shape: &[u64], elements: &[u32]) -> Reconstruction {
    Reconstruction::Tensor {
        dtype,
        shape: shape.to_vec(),
        values: elements.iter().map(|&e| element_to_f32(dtype, e)).collect(),
        data: bytes_of(dtype, elements),
    }
}

pub(crate) fn f32_to_element(dtype: DType, v: f32) -> u32 {
    match dtype {
        DType::F32 => v.to_bits(),
        DType::BF16 => u32::from(haagenti_hct::f32_to_bf16(v)),
        _ => u32::from(haagenti_hct::f32_to_f16(v)),
    }
}

/// Tensor bytes of element bit patterns.
pub(crate) fn bytes_of(dtype: DType, elements: &[u32]) -> Vec<u8> {
    match dtype.size() {
        4 => elements.iter().flat_map(|e| e.to_le_bytes()).collect(),
        _ => elements.iter().flat_map(|&e| (e as u16).to_le_bytes()).collect(),
    }
}

/// Smallest tensor the `nct` encoding takes (haagenti-nct's `MIN_QUANTIZED_ELEMENTS`).
pub(crate) const NCT_MIN_ELEMENTS: u64 = 4096;
/// Rows of `nct` tensors are a multiple of this many values (haagenti-nct's `MIN_GROUP`).
pub(crate) const NCT_GROUP: u64 = 64;

/// The progressive encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// 8x8 DCT coefficients by energy, low frequencies first, a low-frequency core in every
    /// fragment; lossy.
    Spectral,
    /// A seeded randomized Hadamard rotation whose coefficients are dealt over the fragments:
    /// every fragment is worth the same; lossy.
    RandomProjection,
    /// Truncated SVD components dealt over the fragments by energy, plus a residual fragment
    /// that makes the full set exact.
    LowRank,
    /// Successive refinement: the top bits of every sample first, lower bit groups after;
    /// exact with every fragment.
    Residual,
    /// NCT codebook weights (tensors only): stage 1 of a trellis-coded, Hadamard-rotated
    /// tensor at about 2 bits a weight, then residual stages of 1 to 3 bits, one a fragment;
    /// lossy, a prefix of fragments is a coarser tensor.
    Nct,
}

impl Encoding {
    /// Every encoding.
    pub const ALL: [Encoding; 5] =
        [Encoding::Spectral, Encoding::RandomProjection, Encoding::LowRank, Encoding::Residual, Encoding::Nct];

    pub(crate) fn code(self) -> u8 {
        match self {
            Encoding::Spectral => 0,
            Encoding::RandomProjection => 1,
            Encoding::LowRank => 2,
            Encoding::Residual => 3,
            Encoding::Nct => 4,
        }
    }

    pub(crate) fn from_code(c: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == c)
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Spectral => "spectral",
            Encoding::RandomProjection => "projection",
            Encoding::LowRank => "lowrank",
            Encoding::Residual => "residual",
            Encoding::Nct => "nct",
        }
    }

    /// The encoding of a command-line name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Whether the encoding takes assets of this kind: Nct takes tensors it can quantize (rank 2
    /// or more, at least 4096 elements, rows of a multiple of 64 values); the others take all.
    pub fn applies_to(self, kind: &AssetKind) -> bool {
        match (self, kind) {
            (Encoding::Nct, AssetKind::Tensor { shape, .. }) => {
                let cols: u64 = shape.iter().skip(1).product();
                shape.len() >= 2 && kind.samples() >= NCT_MIN_ELEMENTS && cols.is_multiple_of(NCT_GROUP)
            }
            (Encoding::Nct, AssetKind::Image { .. }) => false,
            _ => true,
        }
    }
}

/// Everything a decoder needs besides the payloads; identical in every fragment of an asset.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetHeader {
    /// BLAKE3 of the original content: fragments of one asset share it.
    pub asset_id: [u8; 32],
    /// The encoding.
    pub encoding: Encoding,
    /// Number of fragments.
    pub fragment_count: u16,
    /// What was encoded.
    pub kind: AssetKind,
    /// Encoding parameters (the encoding's own layout).
    pub params: Vec<u8>,
    /// Quality against fragments received, measured at encode time.
    pub curve: QualityCurve,
}

impl AssetHeader {
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.asset_id);
        out.push(self.encoding.code());
        out.extend_from_slice(&self.fragment_count.to_le_bytes());
        self.kind.write(&mut out);
        put_bytes(&mut out, &self.params);
        out.extend_from_slice(&(self.curve.points.len() as u16).to_le_bytes());
        for p in &self.curve.points {
            out.extend_from_slice(&p.fragments.to_le_bytes());
            out.extend_from_slice(&p.bytes.to_le_bytes());
            out.extend_from_slice(&(p.quality as f32).to_le_bytes());
            out.extend_from_slice(&(p.relative_l2 as f32).to_le_bytes());
        }
        out.extend_from_slice(&self.curve.max_error.to_le_bytes());
        out
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, HoloError> {
        let asset_id: [u8; 32] = r.take(32)?.try_into().expect("32");
        let encoding = Encoding::from_code(r.u8()?).ok_or(HoloError::Corrupt("encoding"))?;
        let fragment_count = r.u16()?;
        if fragment_count == 0 {
            return Err(HoloError::Corrupt("zero fragments"));
        }
        let kind = AssetKind::read(r)?;
        let params = r.bytes()?.to_vec();
        let n = r.u16()?;
        if n > fragment_count {
            return Err(HoloError::Corrupt("curve longer than the fragments"));
        }
        // Room for the points the bytes left can hold (18 bytes each), not for the count
        // claimed: 65535 points are 2 MiB.
        let mut points = Vec::with_capacity(usize::from(n).min((r.b.len() - r.pos) / 18));
        for _ in 0..n {
            let fragments = r.u16()?;
            let bytes = r.u64()?;
            let quality = f64::from(r.f32()?);
            let relative_l2 = f64::from(r.f32()?);
            points.push(QualityPoint { fragments, bytes, quality, relative_l2 });
        }
        let max_error = f64::from_bits(r.u64()?);
        Ok(AssetHeader { asset_id, encoding, fragment_count, kind, params, curve: QualityCurve { points, max_error } })
    }
}

/// Fragment layout: magic, version, index, header, payload, BLAKE3 of everything before.
pub(crate) const MAGIC: [u8; 4] = *b"HOLO";
pub(crate) const VERSION: u8 = 2;

/// One parsed, verified fragment.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    /// Its position in the asset's fragments.
    pub index: u16,
    /// The asset's header.
    pub header: AssetHeader,
    /// Bytes of the header as stored (compared across fragments).
    pub(crate) header_bytes: Vec<u8>,
    /// The encoding's payload.
    pub payload: Vec<u8>,
}

impl Fragment {
    /// Bytes of a fragment with a header and a payload of these lengths: magic, version,
    /// index, the two length-prefixed fields and the checksum.
    pub(crate) const fn encoded_len(header_len: usize, payload_len: usize) -> usize {
        4 + 1 + 2 + 4 + header_len + 4 + payload_len + 32
    }

    /// Serializes a fragment.
    pub(crate) fn build(index: u16, header_bytes: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::encoded_len(header_bytes.len(), payload.len()));
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&index.to_le_bytes());
        put_bytes(&mut out, header_bytes);
        put_bytes(&mut out, payload);
        let sum = crate::hash::blake3(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Parses and verifies a fragment: checksum first, then every field.
    pub fn parse(bytes: &[u8]) -> Result<Self, HoloError> {
        if bytes.len() < 4 || bytes[..4] != MAGIC {
            return Err(HoloError::NotAFragment("magic"));
        }
        if bytes.len() < 4 + 1 + 2 + 4 + 4 + 32 {
            return Err(HoloError::NotAFragment("shorter than the fixed fields"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if crate::hash::blake3(body) != sum {
            return Err(HoloError::Checksum);
        }
        let mut r = Reader::new(body);
        r.take(4)?;
        if r.u8()? != VERSION {
            return Err(HoloError::NotAFragment("version"));
        }
        let index = r.u16()?;
        let header_bytes = r.bytes()?;
        let header = AssetHeader::read(&mut Reader::new(header_bytes))?;
        if index >= header.fragment_count {
            return Err(HoloError::Corrupt("fragment index past the count"));
        }
        let payload = r.bytes()?.to_vec();
        if r.pos != body.len() {
            return Err(HoloError::Corrupt("bytes after the payload"));
        }
        Ok(Fragment { index, header, header_bytes: header_bytes.to_vec(), payload })
    }

    /// The content address of fragment bytes: BLAKE3, as 64 hex digits.
    pub fn id(bytes: &[u8]) -> alloc::string::String {
        crate::hash::hex(&crate::hash::blake3(bytes))
    }
}
