//! Zstandard (RFC 8878) in pure Rust.
//!
//! `#![no_std]` with `alloc`; the same source builds for `wasm32-unknown-unknown` and native.
//! The `std` feature adds `std::io` adapters.
//!
//! Module names follow the RFC: [`frame`] (section 3.1.1), [`blocks`] (3.1.1.2), and
//! [`decoding`] (the driver that turns frames into bytes). Compression: [`ZstdCompressor`]
//! (levels and their strategies in [`matching`]), [`ZstdStreamEncoder`] and `io::Encoder` for
//! streams, [`ZstdDict`] with [`ZstdDictCompressor`] / [`ZstdDictDecompressor`] and
//! [`train`]ing; the entropy coders in [`fse`] and [`huff0`] are public on their own.
//!
//! ```
//! // Written by the reference CLI: `printf 'hello haagenti\n' | zstd -19 --check`.
//! let frame = [
//!     0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x68, 0x79, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
//!     0x20, 0x68, 0x61, 0x61, 0x67, 0x65, 0x6e, 0x74, 0x69, 0x0a, 0x15, 0x48, 0x27, 0xb4,
//! ];
//! let out = haagenti_zstd::decompress(&frame)?;
//! assert_eq!(out, b"hello haagenti\n");
//! # Ok::<(), haagenti_zstd::Error>(())
//! ```
#![no_std]
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod bit_io;
mod block_writer;
pub mod blocks;
mod cpu;
pub mod decoding;
pub mod dict;
pub mod dictionary;
pub mod encoding;
mod error;
pub mod frame;
pub mod fse;
pub mod huff0;
#[cfg(feature = "std")]
pub mod io;
mod literals;
pub mod matching;
mod optimal;
mod sequences;
mod stream_enc;
pub mod train;
mod wildcopy;

pub use decoding::{
    DecoderConfig, Decompressor, StreamDecoder, decompress, decompress_into, decompress_with, decompressed_size,
};
pub use dict::{ZstdDict, ZstdDictCompressor, ZstdDictDecompressor};
pub use dictionary::{Dictionary, DictionaryError};
pub use encoding::{CompressorConfig, Level, ZstdCompressor, compress, compress_with};
pub use error::{BlockError, Error, FrameError};
pub use stream_enc::ZstdStreamEncoder;
