//! WebGPU decode through `wgpu`: one set of WGSL compute kernels for the browser (WebGPU) and
//! native (Vulkan, Metal, DX12), each checked byte for byte against the CPU decoder.
//!
//! - [`GpuDecoder::decode_nct`]: NCT weights (every stage, the inverse rotation included)
//!   into an `f32` storage buffer, bit-identical to `haagenti_nct`; [`GpuDecoder::decode_holo_nct`]
//!   the same for a HoloTensor `nct` tensor from the stages streamed so far.
//! - [`GpuDecoder::unplane`]: HCT byte-plane regrouping of 2-, 4- and 8-byte elements
//!   (`BytePlanes`, `SignExpPlanes`), exact.
//! - [`GpuDecoder::hadamard_inverse`]: the inverse randomized Hadamard rotation of
//!   HoloTensor's `projection` encoding, bit-identical.
//! - [`GpuDecoder::dequantize`]: HCT's int8 and int4 quantized tensors (`QuantScheme`
//!   payloads) to `f32`, bit-identical.
//! - [`GpuDecoder::refine_dequant`]: HoloTensor `residual` tensors' int4 levels and
//!   refinement bits to values, bit-identical.
//! - [`GpuDecoder::low_rank`]: HoloTensor `lowrank` assets' sums of components (tensors to
//!   `f32`, images to RGBA: [`GpuDecoder::low_rank_texture`]), bit-identical: products and
//!   sums kept apart (no FMA) and redone in integers where a GPU may flush subnormals.
//! - [`GpuDecoder::spectral_rgba`]: HoloTensor `spectral` image reconstruction (dequantize,
//!   inverse DCT, chroma upsampling, YCbCr to RGBA) into a buffer or straight into an
//!   `Rgba8Unorm` texture, bit-identical ([`GpuDecoder::spectral_planes`]: each plane's
//!   samples, for images and spectral tensors);
//!   with a [`SpectralAccumulator`] the coefficients stay on the device and each fragment's
//!   decoded values are added there ([`GpuDecoder::accumulate`]), exactly as the CPU adds them.
//!
//! - [`GpuDecoder::to_half`]: any of these `f32` results to binary16 or bfloat16 on the
//!   device, rounded bit for bit as the CPU's `haagenti_hct::f32_to_f16` / `f32_to_bf16`
//!   ([`GpuDecoder::decode_nct_half`]: NCT weights straight to half precision).
//!
//! The kernels with sums of products do every product and sum with their bits passed through an opaque zero
//! (no FMA contraction) and redo in integers the operations a GPU may flush (subnormals) or
//! lose (infinities, NaN), so their bytes equal the CPU's on any adapter (`docs/gpu.md`).
//!
//! Where there is no adapter, [`GpuDecoder::request`] returns [`GpuError::NoAdapter`] and
//! callers keep the CPU path.
//!
//! ```no_run
//! # async fn run(bytes: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! use haagenti_gpu::GpuDecoder;
//! use haagenti_nct::NctFile;
//!
//! let gpu = GpuDecoder::request().await?; // Err(GpuError::NoAdapter(..)) without a GPU
//! println!("decoding on {}", gpu.adapter_summary());
//! let file = NctFile::parse(bytes)?;
//! let codebook = gpu.nct_codebook(file.codebook());
//! let tensor = file.tensor("encoder.layer.0.attention.self.query.weight", file.stages())?;
//! let weights: wgpu::Buffer = gpu.decode_nct(&codebook, &tensor)?; // f32, on the device
//! let on_host: Vec<f32> = gpu.read_f32(&weights).await?;
//! # Ok(()) }
//! ```

#![deny(unsafe_code)]

mod context;
mod error;
mod half;
mod holo;
pub mod kernels;
mod nct;
mod planes;
mod present;
mod quant;

pub use context::GpuDecoder;
pub use error::GpuError;
pub use half::HalfFormat;
pub use holo::{SpectralAccumulator, SpectralImage, SpectralOutput};
pub use nct::NctCodebook;
pub use present::Presenter;
pub use wgpu;
