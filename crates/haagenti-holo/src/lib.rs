//! HoloTensor: progressive, fragment-tolerant encodings of images and tensors.
//!
//! An asset (an 8-bit image, or an F32/F16/BF16 tensor) is encoded into N fragments. Any subset
//! of them reconstructs an approximation whose quality rises with the bytes received; all N
//! give the original, exactly for [`Encoding::Residual`] and [`Encoding::LowRank`], within the
//! stored bound (`QualityCurve::max_error`) for the lossy [`Encoding::Spectral`],
//! [`Encoding::RandomProjection`] and [`Encoding::Nct`] (NCT codebook stages, tensors only). The quality against fragments received is measured at encode
//! time by the real decoder and stored in every fragment ([`QualityCurve`]).
//!
//! Fragments are self-describing (each carries the asset's header) and end with a BLAKE3
//! checksum: a corrupted fragment, one of another asset, or a duplicate is detected and
//! ignored, never decoded into garbage. Stored, a fragment's id is the BLAKE3 hash of its bytes
//! ([`FragmentStore`], [`Manifest`]).
//!
//! `no_std` + `alloc`: the same decoder runs in the browser and natively.
//!
//! ```
//! use haagenti_holo::{Asset, EncodeOptions, Encoding, HoloDecoder, Reconstruction};
//!
//! // A 64x64 gray gradient.
//! let pixels: Vec<u8> = (0..64 * 64).map(|i| ((i % 64) * 3 + (i / 64)) as u8).collect();
//! let asset = Asset::image(64, 64, 1, pixels.clone())?;
//! let enc = haagenti_holo::encode(&asset, &EncodeOptions { encoding: Encoding::Residual, fragments: 4, ..Default::default() })?;
//!
//! let mut dec = HoloDecoder::new();
//! dec.push(&enc.fragments[0])?; // the top two bits of every pixel
//! let Reconstruction::Image { pixels: coarse, .. } = dec.reconstruct()? else { unreachable!() };
//! assert!(coarse.iter().zip(&pixels).all(|(a, b)| a.abs_diff(*b) <= 32));
//! for f in &enc.fragments[1..] {
//!     dec.push(f)?;
//! }
//! let Reconstruction::Image { pixels: exact, .. } = dec.reconstruct()? else { unreachable!() };
//! assert_eq!(exact, pixels);
//! # Ok::<(), haagenti_holo::HoloError>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod arith;
mod asset;
mod coding;
mod coefs;
mod decoder;
mod error;
mod hash;
mod math;
#[cfg(feature = "nct")]
mod nct;
mod parts;
mod planes;
mod quality;
mod schemes;
mod spectral;
mod store;

use alloc::vec::Vec;

pub use asset::{Asset, AssetHeader, AssetKind, Encoding, Fragment, MAX_SAMPLES, Reconstruction};
pub use decoder::{HoloDecoder, PreviewConfig, PreviewFrame, Pushed, StreamingDecoder};
pub use error::HoloError;
#[cfg(feature = "nct")]
pub use parts::NctParts;
pub use parts::{
    BitGroup, BitGroupParts, LowRankComponent, LowRankParts, ProjectionParts, ProjectionPlane, RefineParts,
    SpectralParts, SpectralPlane, SpectralUpdate,
};
pub use quality::{QualityCurve, QualityPoint, cosine, psnr, relative_l2};
pub use store::{FragmentStore, Manifest, MemStore, shard_path};

/// How to encode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncodeOptions {
    /// The encoding.
    pub encoding: Encoding,
    /// Number of fragments (Spectral: at most 64; Residual: at most the sample's bits;
    /// LowRank: at least 2; Nct: the most stages, at most 8, fewer when the rate needs fewer).
    pub fragments: u16,
    /// Quality of the lossy encodings, 1..=100 (JPEG-like for images; for tensors the
    /// quantization step halves every 10 points).
    pub quality: f32,
    /// Components kept by LowRank.
    pub rank: u16,
    /// Seed of RandomProjection's rotation, LowRank's sketch, and Nct's codebook and rotations.
    pub seed: u64,
    /// Nct: bits a weight the fragments take together (1 to 8; every payload byte counted,
    /// the fragments' own headers not), coded in at most `fragments` stages.
    pub bits: f32,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            encoding: Encoding::Spectral,
            fragments: 8,
            quality: 75.0,
            rank: 32,
            seed: 0x484F_4C4F,
            bits: 4.0,
        }
    }
}

/// An encoded asset: its header and its fragments' bytes, in index order.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// The header every fragment carries.
    pub header: AssetHeader,
    /// The fragments.
    pub fragments: Vec<Vec<u8>>,
}

/// Encodes `asset` into fragments and measures the quality curve by decoding every prefix.
pub fn encode(asset: &Asset, opts: &EncodeOptions) -> Result<Encoded, HoloError> {
    if let Asset::Tensor { dtype, .. } = asset
        && !schemes::encodable(*dtype)
    {
        return Err(HoloError::InvalidInput("tensors must be F32, F16 or BF16".into()));
    }
    let (params, payloads) = schemes::encode(asset, opts)?;
    let mut header = AssetHeader {
        asset_id: hash::blake3(asset.content()),
        encoding: opts.encoding,
        fragment_count: payloads.len() as u16,
        kind: asset.kind(),
        params,
        curve: QualityCurve::default(),
    };
    // The curve: decode each prefix with a header that has no curve yet (the payloads do not
    // depend on it), then store the measured points in the final header.
    let build = |h: &AssetHeader| -> Vec<Vec<u8>> {
        let hb = h.to_bytes();
        payloads.iter().enumerate().map(|(i, p)| Fragment::build(i as u16, &hb, p)).collect()
    };
    let draft = build(&header);
    // Each curve point adds 18 bytes to the header of every fragment.
    let sizes: Vec<u64> = draft.iter().map(|f| (f.len() + 18 * payloads.len()) as u64).collect();
    let original = schemes::values_of(asset);
    let mut dec = HoloDecoder::new();
    let mut points = Vec::with_capacity(payloads.len());
    let mut bytes = 0;
    let mut max_error = 0.0;
    for (k, f) in draft.iter().enumerate() {
        dec.push(f)?;
        bytes += sizes[k];
        let rec = dec.reconstruct()?;
        let (quality, rel, err) = measure(asset, &original, &rec);
        // Kept at the precision the header stores.
        let (quality, rel) = (f64::from(quality as f32), f64::from(rel as f32));
        points.push(QualityPoint { fragments: k as u16 + 1, bytes, quality, relative_l2: rel });
        max_error = err;
    }
    header.curve = QualityCurve { points, max_error };
    let fragments = build(&header);
    // The curve's byte counts were estimated before the curve was in the header: make them
    // the real sizes now (the header's length does not depend on the values).
    debug_assert_eq!(fragments.iter().map(|f| f.len() as u64).sum::<u64>(), bytes);
    Ok(Encoded { header, fragments })
}

/// (quality, relative L2 error, largest absolute error) of a reconstruction.
fn measure(asset: &Asset, original: &[f32], rec: &Reconstruction) -> (f64, f64, f64) {
    match (asset, rec) {
        (Asset::Image { pixels, .. }, Reconstruction::Image { pixels: p, .. }) => {
            let a: Vec<f32> = p.iter().map(|&v| f32::from(v)).collect();
            let err = pixels.iter().zip(p).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
            (psnr(pixels, p), relative_l2(original, &a), f64::from(err))
        }
        (_, Reconstruction::Tensor { values, .. }) => {
            let err = original.iter().zip(values).map(|(x, y)| f64::from((x - y).abs())).fold(0.0, f64::max);
            (cosine(original, values), relative_l2(original, values), err)
        }
        _ => (0.0, 1.0, f64::INFINITY),
    }
}
