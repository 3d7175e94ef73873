//! NCT: neural codebook weights. Model weights coded a few bits a weight in progressive
//! stages: each stage rotates the residual of the stages before it by a seeded randomized
//! Hadamard transform and codes it with a tail-biting bitshift trellis (after QTIP) over one
//! shared Gaussian codebook, at a fixed rate per block, so any block decodes on its own. A
//! file cut after any stage is a complete, coarser model. Decoding is integer arithmetic and
//! one final `f32` multiply, bit-identical on every target. The byte layout is specified in
//! `docs/nct.md`.
//!
//! ```
//! use haagenti_hct::DType;
//! use haagenti_nct::{EncodeOptions, NctEncoder, NctFile};
//!
//! // (The file's 8 KiB codebook is 0.25 bits a weight of this small tensor.)
//! let w: Vec<f32> = (0..256 * 1024).map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 500.0).collect();
//! let raw: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
//! let mut enc = NctEncoder::new(EncodeOptions { bits: 3.0, ..Default::default() });
//! enc.add_tensor("w", DType::F32, &[256, 1024], &raw).unwrap();
//! let bytes = enc.finish(&mut |_, _| {}).unwrap();
//! let file = NctFile::parse(&bytes).unwrap();
//! let coarse = file.decode_tensor("w", 1).unwrap();
//! let fine = file.decode_tensor("w", file.stages()).unwrap();
//! assert_eq!(fine.len(), w.len());
//! assert_eq!(file.stages(), 2);
//! let err = |d: &[f32]| w.iter().zip(d).map(|(a, b)| (a - b) * (a - b)).sum::<f32>();
//! assert!(err(&fine) < err(&coarse));
//! ```
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod calib;
mod codebook;
mod decode;
mod encode;
mod error;
mod format;
mod hadamard;
mod rng;
mod scale;
mod simd;
mod trellis;

pub use calib::{DAMPING, MAX_CALIBRATED_COLS};
pub use codebook::{Codebook, MAX_ENTRY, TABLE_SHIFT};
pub use decode::{EncodedTensor, GpuPack};
pub use encode::{
    EncodeOptions, MAX_GROUP, MAX_STAGES, MIN_GROUP, MIN_QUANTIZED_ELEMENTS, NctEncoder, STAGE_BITS, plan_stages,
};
pub use error::NctError;
pub use format::{HEADER_LEN, Limits, MAGIC, MAX_NAME_LEN, MAX_NDIM, NctFile, StageEntry, TensorEntry, VERSION};
pub use trellis::STATE_BITS;
