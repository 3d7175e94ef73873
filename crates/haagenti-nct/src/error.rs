//! The one error type of the format.

use alloc::string::String;
use core::fmt;

/// What went wrong reading or writing an NCT file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NctError {
    /// The bytes do not start with the NCT magic number.
    NotNct,
    /// A version of the format this reader does not know.
    UnsupportedVersion(u16),
    /// The file ends inside `what`.
    Truncated {
        /// The structure that was cut.
        what: &'static str,
    },
    /// A stored checksum does not match the bytes it covers.
    Checksum {
        /// What the checksum covers.
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
    /// More stages were asked for than the file (or its prefix) holds.
    MissingStages {
        /// Stages asked for.
        wanted: usize,
        /// Stages present.
        present: usize,
    },
    /// A caller's buffer has the wrong length.
    OutputSize {
        /// Elements needed.
        expected: u64,
        /// Elements given.
        actual: u64,
    },
    /// The encoder cannot do what was asked (for example a rate too low for the metadata).
    Encode(String),
    /// A library the decoded values were handed to refused them (for example candle).
    Backend(String),
}

impl fmt::Display for NctError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotNct => f.write_str("not an NCT file (bad magic number)"),
            Self::UnsupportedVersion(v) => write!(f, "NCT version {v} is not supported"),
            Self::Truncated { what } => write!(f, "NCT file truncated inside the {what}"),
            Self::Checksum { what } => write!(f, "NCT checksum mismatch in the {what}"),
            Self::Corrupt { what } => write!(f, "corrupt NCT file: {what}"),
            Self::Limit { what, value, limit } => write!(f, "NCT {what} is {value}, above the limit {limit}"),
            Self::NoSuchTensor(n) => write!(f, "no tensor named {n:?}"),
            Self::MissingStages { wanted, present } => {
                write!(f, "{wanted} stages asked for, the file holds {present}")
            }
            Self::OutputSize { expected, actual } => {
                write!(f, "output buffer holds {actual} values, {expected} needed")
            }
            Self::Encode(m) => write!(f, "cannot encode: {m}"),
            Self::Backend(m) => write!(f, "{m}"),
        }
    }
}

impl core::error::Error for NctError {}
