//! Errors as values: no adapter, a device that could not be made, inputs beyond the device's
//! limits, and the format crates' own errors.

/// Why a GPU step did not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GpuError {
    /// No GPU adapter (no WebGPU in this browser, no Vulkan/Metal/DX12 driver): use the CPU path.
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    /// The adapter would not give a device.
    #[error("could not open the GPU device: {0}")]
    Device(String),
    /// An input this kernel does not take (the message says which and why).
    #[error("unsupported input: {0}")]
    Unsupported(String),
    /// An input larger than the device allows in one buffer.
    #[error("{what} needs {bytes} bytes in one buffer; this device allows {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The bytes it needs.
        bytes: u64,
        /// The device's limit.
        limit: u64,
    },
    /// Reading a buffer back failed.
    #[error("reading back from the GPU failed: {0}")]
    Readback(String),
    /// The NCT crate refused the input.
    #[error(transparent)]
    Nct(#[from] haagenti_nct::NctError),
    /// The HoloTensor crate refused the input.
    #[error(transparent)]
    Holo(#[from] haagenti_holo::HoloError),
}
