//! CUDA decode through `cudarc` 0.19: NCT weights and HCT byte planes decoded on an NVIDIA
//! GPU, bit-identical to the CPU decoders.
//!
//! The kernels are CUDA C (`kernels/`), compiled to PTX ahead of time by NVRTC (the
//! `build-ptx` binary, run by `scripts/cuda-check.sh` with NVRTC from PyPI, no GPU needed) and
//! committed in `ptx/`; at run time the driver loads the PTX (JIT-compiling it for the GPU),
//! so a machine needs only the NVIDIA driver. `cudarc` loads the driver dynamically: this
//! crate builds everywhere, and [`GpuContext::new`] returns [`CudaError::NoDriver`] or
//! [`CudaError::Device`] where there is no CUDA, for callers to keep the CPU path.
//!
//! Layered as cudarc is: the raw launches are inside (each `unsafe` block states the kernel's
//! invariants); the API outside returns `Result`s.
//!
//! Not here yet: batch zstd decoding on the GPU (`ZstdGpuPipeline`), HoloTensor kernels,
//! candle buffers.
//!
//! ```no_run
//! use haagenti_cuda::{GpuContext, NeuralGpuPipeline};
//! # fn run(bytes: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! let gpu = GpuContext::new(0)?; // Err(CudaError::NoDriver) without CUDA
//! let file = haagenti_nct::NctFile::parse(bytes)?;
//! let mut nct = NeuralGpuPipeline::new(&gpu);
//! nct.load_codebooks(&file)?;
//! let tensor = file.tensor("encoder.layer.0.attention.self.query.weight", file.stages())?;
//! let on_device = nct.decode_tensor(&tensor)?; // CudaSlice<f32>
//! let on_host: Vec<f32> = gpu.to_host(&on_device)?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg};
use cudarc::nvrtc::Ptx;
use haagenti_hct::Transform;
use haagenti_holo::NctParts;
use haagenti_nct::{EncodedTensor, NctFile};

/// The kernels' CUDA C sources, by name.
pub const KERNELS: [(&str, &str); 2] =
    [("nct", include_str!("../kernels/nct.cu")), ("planes", include_str!("../kernels/planes.cu"))];

/// The PTX the driver loads, as `build-ptx` wrote it (`ptx/`).
pub const PTX: [(&str, &str); 2] =
    [("nct", include_str!("../ptx/nct.ptx")), ("planes", include_str!("../ptx/planes.ptx"))];

/// The virtual architecture the PTX targets: compute capability 7.0 (Volta) and later JIT it.
pub const ARCH: &str = "compute_70";

/// NVRTC options for the kernels: subnormals kept, no contraction of multiply and add, IEEE
/// division and square root (the decoders' results must equal the CPU's bit for bit).
pub fn compile_options() -> cudarc::nvrtc::CompileOptions {
    cudarc::nvrtc::CompileOptions {
        ftz: Some(false),
        prec_div: Some(true),
        prec_sqrt: Some(true),
        fmad: Some(false),
        arch: Some(ARCH),
        ..Default::default()
    }
}

/// Why a CUDA step did not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CudaError {
    /// No NVIDIA driver library on this machine: use the CPU path.
    #[error("no CUDA driver (libcuda) on this machine")]
    NoDriver,
    /// The driver is there but gave no usable device (none present, or an error).
    #[error("no CUDA device: {0}")]
    Device(String),
    /// A driver call failed.
    #[error("CUDA: {0}")]
    Driver(#[from] cudarc::driver::DriverError),
    /// An input the kernels do not take.
    #[error("unsupported input: {0}")]
    Unsupported(String),
    /// [`NeuralGpuPipeline::decode_tensor`] before [`NeuralGpuPipeline::load_codebooks`].
    #[error("no codebook loaded: call load_codebooks first")]
    NoCodebook,
    /// The NCT crate refused the input.
    #[error(transparent)]
    Nct(#[from] haagenti_nct::NctError),
}

/// Whether the NVIDIA driver library can be loaded (probing before any cudarc call, which
/// would panic without it).
pub fn driver_present() -> bool {
    // SAFETY: the probe only tries to open the shared library; it calls nothing in it.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

/// A CUDA device with this crate's kernels loaded.
#[derive(Debug)]
pub struct GpuContext {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    nct: CudaFunction,
    unplane: CudaFunction,
    name: String,
}

impl GpuContext {
    /// Opens device `ordinal` and loads the kernels' PTX.
    pub fn new(ordinal: usize) -> Result<Self, CudaError> {
        if !driver_present() {
            return Err(CudaError::NoDriver);
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| CudaError::Device(e.to_string()))?;
        let name = ctx.name().unwrap_or_else(|_| "an NVIDIA GPU".into());
        let (major, minor) = ctx.compute_capability().unwrap_or((0, 0));
        let load = |kernel: &str, function: &str| -> Result<CudaFunction, CudaError> {
            let ptx = PTX.iter().find(|(k, _)| *k == kernel).map(|(_, p)| *p).unwrap_or_default();
            Ok(ctx.load_module(Ptx::from_src(ptx))?.load_function(function)?)
        };
        let nct = load("nct", "nct_decode")?;
        let unplane = load("planes", "unplane")?;
        let stream = ctx.default_stream();
        Ok(GpuContext { ctx, stream, nct, unplane, name: format!("{name} (compute {major}.{minor})") })
    }

    /// The device's name and compute capability.
    pub fn device_name(&self) -> &str {
        &self.name
    }

    /// The stream the kernels run on.
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// The context.
    pub fn context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }

    /// Copies a device buffer to the host (waiting for the kernels before it).
    pub fn to_host<T: cudarc::driver::DeviceRepr + Default + Clone>(
        &self,
        s: &CudaSlice<T>,
    ) -> Result<Vec<T>, CudaError> {
        Ok(self.stream.clone_dtoh(s)?)
    }

    /// Undoes `transform` on a block of `width`-byte elements (`bytes`, as stored after
    /// entropy decoding) into a new device buffer of the elements' bytes.
    pub fn unplane(&self, transform: Transform, width: usize, bytes: &[u8]) -> Result<CudaSlice<u8>, CudaError> {
        if !matches!(width, 1 | 2 | 4 | 8) || !bytes.len().is_multiple_of(width) {
            return Err(CudaError::Unsupported(format!("{} bytes of {width}-byte elements", bytes.len())));
        }
        let src = self.stream.clone_htod(bytes)?;
        if transform == Transform::None || width == 1 || bytes.is_empty() {
            return Ok(src);
        }
        let mut dst = self.stream.alloc_zeros::<u8>(bytes.len())?;
        let n = (bytes.len() / width) as u64;
        let rotate = u32::from(transform == Transform::SignExpPlanes);
        let width = width as u32;
        let cfg =
            LaunchConfig { grid_dim: (n.div_ceil(256) as u32, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 };
        let mut launch = self.stream.launch_builder(&self.unplane);
        launch.arg(&src).arg(&mut dst).arg(&n).arg(&width).arg(&rotate);
        // SAFETY: `unplane(src, dst, n, width, rotate)` reads `n * width` bytes of `src` and
        // writes as many of `dst`, both of exactly that length; threads past `n` return.
        unsafe { launch.launch(cfg) }?;
        Ok(dst)
    }
}

/// A quantized tensor's coded bytes on the device ([`NeuralGpuPipeline::upload`]).
#[derive(Debug)]
pub struct UploadedTensor {
    stages: CudaSlice<u32>,
    data: CudaSlice<u32>,
    signs: CudaSlice<u32>,
    scales: CudaSlice<u32>,
    cols: u32,
    group_log2: u32,
    n_stages: u32,
    n: u64,
    bytes: u64,
}

impl UploadedTensor {
    /// Weights it decodes to.
    pub fn numel(&self) -> u64 {
        self.n
    }

    /// Bytes a decode reads besides the codebook (blocks, signs, scales).
    pub fn coded_bytes(&self) -> u64 {
        self.bytes
    }
}

/// NCT on the device: the file's codebook uploaded once, then tensors decoded into device
/// buffers of `f32`, bit-identical to `haagenti_nct`'s CPU decoder.
#[derive(Debug)]
pub struct NeuralGpuPipeline<'g> {
    gpu: &'g GpuContext,
    codebook: Option<CudaSlice<i32>>,
}

impl<'g> NeuralGpuPipeline<'g> {
    /// A pipeline on `gpu`, with no codebook yet.
    pub fn new(gpu: &'g GpuContext) -> Self {
        NeuralGpuPipeline { gpu, codebook: None }
    }

    /// Uploads the file's codebook (16 KiB).
    pub fn load_codebooks(&mut self, file: &NctFile<'_>) -> Result<(), CudaError> {
        let entries: Vec<i32> = file.codebook().entries().iter().map(|&e| i32::from(e)).collect();
        self.codebook = Some(self.gpu.stream.clone_htod(&entries)?);
        Ok(())
    }

    /// Decodes `tensor` (the stages it was viewed with) into a new device buffer of `numel`
    /// values, row-major. Exact tensors are converted on the CPU and uploaded.
    pub fn decode_tensor(&self, tensor: &EncodedTensor<'_>) -> Result<CudaSlice<f32>, CudaError> {
        let e = tensor.entry();
        if !e.is_quantized() {
            let values = tensor.decode()?;
            return Ok(self.gpu.stream.clone_htod(&values)?);
        }
        let uploaded = self.upload(tensor)?;
        let mut out = self.gpu.stream.alloc_zeros::<f32>(e.numel() as usize)?;
        self.decode_uploaded(&uploaded, &mut out)?;
        Ok(out)
    }

    /// Decodes a HoloTensor `nct` tensor from the stages its decoder has so far
    /// ([`haagenti_holo::HoloDecoder::nct_parts`]) into a new device buffer: the values of the
    /// decoder's reconstruction, bit for bit. Loads the rebuilt file's codebook first (it
    /// replaces the one loaded before).
    pub fn decode_holo_nct(&mut self, parts: &NctParts<'_>) -> Result<CudaSlice<f32>, CudaError> {
        let file = NctFile::parse(parts.file)?;
        self.load_codebooks(&file)?;
        self.decode_tensor(&file.tensor(parts.tensor, parts.stages)?)
    }

    /// Uploads a quantized tensor's coded bytes (its stages' blocks, signs and row scales),
    /// to be decoded by [`Self::decode_uploaded`] as often as wanted.
    pub fn upload(&self, tensor: &EncodedTensor<'_>) -> Result<UploadedTensor, CudaError> {
        let e = tensor.entry();
        let pack = tensor.gpu_pack(0..e.rows()).ok_or_else(|| CudaError::Unsupported("an exact tensor".into()))?;
        let mut stages: Vec<u32> = pack.stages.iter().flatten().copied().collect();
        if stages.is_empty() {
            stages.extend_from_slice(&[0; 4]);
        }
        // `GpuPack::data` is a whole number of 4-byte words.
        let words: Vec<u32> = pack.data.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let signs = if pack.signs.is_empty() { vec![0u32] } else { pack.signs };
        let n = e.numel();
        let s = &self.gpu.stream;
        Ok(UploadedTensor {
            bytes: (words.len() + signs.len() + pack.scales.len()) as u64 * 4,
            stages: s.clone_htod(&stages)?,
            data: s.clone_htod(&words)?,
            signs: s.clone_htod(&signs)?,
            scales: s.clone_htod(&pack.scales)?,
            cols: e.cols() as u32,
            group_log2: e.group().trailing_zeros(),
            n_stages: pack.stages.len() as u32,
            n,
        })
    }

    /// Decodes an uploaded tensor into `out` (`numel` values).
    pub fn decode_uploaded(&self, t: &UploadedTensor, out: &mut CudaSlice<f32>) -> Result<(), CudaError> {
        let codebook = self.codebook.as_ref().ok_or(CudaError::NoCodebook)?;
        if out.len() as u64 != t.n {
            return Err(CudaError::Unsupported(format!("an output of {} values for {} weights", out.len(), t.n)));
        }
        if t.n == 0 {
            return Ok(());
        }
        let blocks = u32::try_from(t.n.div_ceil(256))
            .map_err(|_| CudaError::Unsupported(format!("{} weights in one tensor", t.n)))?;
        let cfg = LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 };
        let mut launch = self.gpu.stream.launch_builder(&self.gpu.nct);
        launch
            .arg(codebook)
            .arg(&t.stages)
            .arg(&t.data)
            .arg(&t.signs)
            .arg(&t.scales)
            .arg(out)
            .arg(&t.cols)
            .arg(&t.group_log2)
            .arg(&t.n_stages)
            .arg(&t.n);
        // SAFETY: the arguments match `nct_decode`'s parameters in order and type (int*,
        // uint4*, unsigned* x3, float bits as unsigned*, unsigned x3, u64). `GpuPack` gave
        // every stage's blocks of all rows (`rows * cols / g` blocks of `block_bits / 8`
        // bytes, word-aligned, plus a spare word for the last window's two-word read), `cols /
        // 32` sign words a stage and a scale a row; windows index the 4096-entry codebook with
        // 12 bits; threads past `n` compute on the last weight and write nothing; `out` holds
        // `n` values (checked above).
        unsafe { launch.launch(cfg) }?;
        Ok(())
    }

    /// [`Self::decode_tensor`], copied to the host.
    pub fn decode_tensor_to_host(&self, tensor: &EncodedTensor<'_>) -> Result<Vec<f32>, CudaError> {
        let d = self.decode_tensor(tensor)?;
        self.gpu.to_host(&d)
    }
}
