#![doc = include_str!("../../../README.md")]
#![forbid(unsafe_code)]

pub use haagenti_codec::{
    Codec, CodecError, Encoder, Format, Level, Limits, decoder, decompress_auto, decompress_auto_with, encoder,
};

/// Haagenti's own Zstandard implementation (RFC 8878).
#[cfg(feature = "zstd")]
pub use haagenti_zstd as zstd;

/// HCT, the compressed tensor container (random access, checksums, float transforms).
#[cfg(feature = "hct")]
pub use haagenti_hct as hct;

/// HoloTensor: progressive, fragment-tolerant encodings of images and tensors.
#[cfg(feature = "holo")]
pub use haagenti_holo as holo;

/// The wire protocol: messages, gRPC-web framing and the tonic client and server code.
#[cfg(feature = "grpc")]
pub use haagenti_proto as proto;
