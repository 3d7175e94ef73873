//! The one error type of HoloTensor.

use alloc::string::String;
use core::fmt;

/// What went wrong encoding, storing or decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HoloError {
    /// Bytes that are not a HoloTensor fragment (magic, version or layout).
    NotAFragment(&'static str),
    /// A fragment whose checksum does not match its bytes.
    Checksum,
    /// A fragment of another asset than the ones pushed before.
    OtherAsset,
    /// A field holds a value the format does not allow, or passes a limit.
    Corrupt(&'static str),
    /// The encoder was given something it cannot encode.
    InvalidInput(String),
    /// Nothing to reconstruct from yet.
    NoFragments,
    /// A store failed (for example an I/O error behind [`FragmentStore`](crate::FragmentStore)).
    Store(String),
    /// A fragment or asset id that is not 64 hex digits (the BLAKE3 hash ids are).
    InvalidId {
        /// Its length in bytes.
        len: usize,
    },
    /// An encoding this build does not decode (a cargo feature left out).
    Unsupported(&'static str),
    /// An asset larger than the decoder accepts ([`HoloDecoder::with_max_samples`](crate::HoloDecoder::with_max_samples)).
    TooLarge {
        /// Samples (pixels times channels, or tensor elements) the fragment declares.
        samples: u64,
        /// The decoder's limit.
        limit: u64,
    },
}

impl fmt::Display for HoloError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoloError::NotAFragment(why) => write!(f, "not a HoloTensor fragment: {why}"),
            HoloError::Checksum => write!(f, "fragment checksum mismatch: the fragment is corrupted"),
            HoloError::OtherAsset => write!(f, "fragment of another asset"),
            HoloError::Corrupt(what) => write!(f, "corrupt fragment: {what}"),
            HoloError::InvalidInput(msg) => write!(f, "cannot encode: {msg}"),
            HoloError::NoFragments => write!(f, "no fragment received yet"),
            HoloError::Store(msg) => write!(f, "fragment store: {msg}"),
            HoloError::Unsupported(what) => write!(f, "unsupported encoding: {what}"),
            HoloError::InvalidId { len } => write!(f, "an id is 64 hex digits, not these {len} bytes"),
            HoloError::TooLarge { samples, limit } => {
                write!(f, "asset of {samples} samples passes this decoder's limit of {limit}")
            }
        }
    }
}

impl core::error::Error for HoloError {}
