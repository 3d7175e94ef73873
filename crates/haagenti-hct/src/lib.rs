//! HCT: a compressed multi-tensor container.
//!
//! Like safetensors, an HCT file holds named tensors with a dtype and an N-D shape; unlike it,
//! each tensor's bytes are cut into independently compressed blocks, so one tensor, or one
//! block of one, is read without touching the rest. Every structure carries a checksum
//! (XXH3-64): the preamble, the index, every stored block and every whole tensor, and the
//! reader checks each one it touches, and every size against [`Limits`] before allocating.
//!
//! Before compression, float tensors go through a lossless [`Transform`] chosen per tensor by
//! measured size (byte planes, or sign-exponent planes that put each exponent in a byte of its
//! own); blocks are compressed with Haagenti's zstd or with LZ4. Float tensors can also be
//! stored quantized to int8 or int4 with per-group scales ([`QuantScheme`]).
//!
//! `no_std` + `alloc`: the same code runs in the browser and natively; files are byte slices
//! or any [`ByteSource`]. The byte layout is written down in `docs/hct.md`.
//!
//! ```
//! use haagenti_hct::{DType, HctReaderV2, HctWriterV2, QuantScheme, WriterOptions};
//!
//! let values: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).cos()).collect();
//! let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
//! let mut w = HctWriterV2::new(WriterOptions::default());
//! w.add_tensor("exact", DType::F32, &[10, 100], &bytes)?;
//! w.add_quantized("small", &[10, 100], &values, QuantScheme::Int8 { group: 64 })?;
//! let file = w.finish();
//!
//! let r = HctReaderV2::open(&file[..])?;
//! assert_eq!(r.read_f32("exact")?, values);
//! let approx = r.read_f32("small")?;
//! assert!(values.iter().zip(&approx).all(|(a, b)| (a - b).abs() < 0.01));
//! # Ok::<(), haagenti_hct::HctError>(())
//! ```
#![no_std]
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

mod dtype;
mod error;
mod format;
mod half;
pub mod quant;
mod reader;
pub mod safetensors;
mod transform;
mod writer;

pub use dtype::DType;
pub use error::HctError;
pub use format::{BlockCodec, BlockEntry, Limits, MAGIC, PREAMBLE_LEN, TensorInfo, VERSION};
pub use half::{bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16, f32_values};
pub use quant::QuantScheme;
pub use reader::{ByteSource, HctReaderV2};
pub use transform::Transform;
pub use writer::{HctWriterV2, WriterOptions};
