//! The one error type of the container.

use alloc::string::String;
use core::fmt;

/// What went wrong reading or writing an HCT file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HctError {
    /// The bytes do not start with the HCT magic number.
    NotHct,
    /// A version of the format this reader does not know.
    UnsupportedVersion(u16),
    /// The file ends inside `what`.
    Truncated {
        /// The structure that was cut.
        what: &'static str,
    },
    /// A stored checksum does not match the bytes it covers.
    Checksum {
        /// What the checksum covers: "preamble", "index", "block" or "tensor".
        what: &'static str,
    },
    /// A field holds a value the format does not allow.
    Corrupt {
        /// The field or rule broken.
        what: &'static str,
    },
    /// A size passes one of the reader's [`Limits`](crate::Limits).
    Limit {
        /// The limited quantity.
        what: &'static str,
        /// Its value in the file.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// No tensor has this name.
    NoSuchTensor(String),
    /// A block index past the tensor's blocks.
    NoSuchBlock {
        /// The index asked for.
        index: u64,
        /// The tensor's block count.
        count: u64,
    },
    /// A compressed block did not decode to its stated size.
    Codec(String),
    /// The writer was given something it cannot store.
    InvalidInput(String),
    /// A `.safetensors` file that does not follow its format.
    Safetensors(String),
    /// Memory for `bytes` more bytes could not be had (the tensor is real but too large for
    /// this machine, or for a 32-bit address space).
    OutOfMemory {
        /// The bytes asked for.
        bytes: u64,
    },
    /// The byte source failed (for example an I/O error behind [`ByteSource`](crate::ByteSource)).
    Source(String),
}

impl fmt::Display for HctError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HctError::NotHct => write!(f, "not an HCT file (bad magic number)"),
            HctError::UnsupportedVersion(v) => write!(f, "unsupported HCT version {v} (this reader knows 2)"),
            HctError::Truncated { what } => write!(f, "HCT file truncated in the {what}"),
            HctError::Checksum { what } => write!(f, "HCT {what} checksum mismatch: the file is corrupted"),
            HctError::Corrupt { what } => write!(f, "corrupt HCT file: {what}"),
            HctError::Limit { what, value, limit } => write!(f, "HCT {what} is {value}, over the limit of {limit}"),
            HctError::NoSuchTensor(name) => write!(f, "no tensor named {name:?}"),
            HctError::NoSuchBlock { index, count } => write!(f, "block {index} asked for, the tensor has {count}"),
            HctError::Codec(msg) => write!(f, "HCT block does not decode: {msg}"),
            HctError::InvalidInput(msg) => write!(f, "cannot store tensor: {msg}"),
            HctError::Safetensors(msg) => write!(f, "invalid safetensors file: {msg}"),
            HctError::OutOfMemory { bytes } => write!(f, "cannot allocate {bytes} bytes for an HCT tensor"),
            HctError::Source(msg) => write!(f, "reading the HCT source failed: {msg}"),
        }
    }
}

impl core::error::Error for HctError {}
