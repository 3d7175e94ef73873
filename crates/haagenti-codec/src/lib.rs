//! One [`Codec`] API over every format Haagenti reads and writes.
//!
//! zstd is Haagenti's own implementation (`haagenti-zstd`); LZ4 ([`lz4_flex`]),
//! gzip/zlib/raw deflate ([`flate2`] on its pure-Rust backend) and brotli ([`brotli`]) come from
//! well-kept crates. Each sits behind a cargo feature of the same name.
//!
//! ```
//! use haagenti_codec::{Codec, Format};
//!
//! let text = b"the same code runs in the browser and natively, ".repeat(20);
//! let gz = Format::Gzip.codec().compress(&text)?;
//! assert_eq!(Format::detect(&gz), Some(Format::Gzip));
//! assert_eq!(haagenti_codec::decompress_auto(&gz)?, text);
//! # Ok::<(), haagenti_codec::CodecError>(())
//! ```
#![forbid(unsafe_code)]

mod error;
mod format;
mod stream;

pub use error::CodecError;
pub use format::{Format, Level};
pub use stream::{Encoder, decoder, encoder};

/// Default ceiling on decompressed output, 1 GiB; see [`Limits`].
pub const DEFAULT_MAX_OUTPUT: u64 = 1 << 30;

/// Bounds on what untrusted input may make a decoder do.
///
/// Memory follows the limit, not what a header claims: decoding any input with
/// [`Codec::decompress_with`] holds at most three times `max_output` (the output growing and
/// its copy while it moves) plus what the format's window needs: 1 MiB for zstd's tables and
/// deflate, 9 MiB for LZ4 frames (4 MiB blocks), 17 MiB for brotli (its ring buffer). An LZ4
/// block's size prefix is trusted only up to what its bytes can expand to (255 bytes a byte).
/// The fuzz target `codec_alloc` checks this bound on every input it tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest decompressed output in bytes; more is [`CodecError::OutputLimit`].
    pub max_output: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_output: DEFAULT_MAX_OUTPUT }
    }
}

/// A compression format with a level, able to compress and decompress whole buffers.
pub trait Codec {
    /// The format this codec writes.
    fn format(&self) -> Format;
    /// Compresses `src` into a new buffer.
    fn compress(&self, src: &[u8]) -> Result<Vec<u8>, CodecError>;
    /// Decompresses `src` under the default [`Limits`].
    fn decompress(&self, src: &[u8]) -> Result<Vec<u8>, CodecError> {
        self.decompress_with(src, &Limits::default())
    }
    /// Decompresses `src` under `limits`.
    fn decompress_with(&self, src: &[u8], limits: &Limits) -> Result<Vec<u8>, CodecError>;
}

/// Detects the format of `src` by its magic number and decompresses it.
pub fn decompress_auto(src: &[u8]) -> Result<Vec<u8>, CodecError> {
    decompress_auto_with(src, &Limits::default())
}

/// [`decompress_auto`] under explicit limits.
pub fn decompress_auto_with(src: &[u8], limits: &Limits) -> Result<Vec<u8>, CodecError> {
    let format = Format::detect(src).ok_or(CodecError::UnknownFormat)?;
    format.codec().decompress_with(src, limits)
}
