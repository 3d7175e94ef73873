use std::fmt;

use crate::Format;

/// Any error from a codec.
#[derive(Debug)]
#[non_exhaustive]
pub enum CodecError {
    /// The input is not valid for the format.
    Corrupt {
        /// The format being decoded.
        format: Format,
        /// What the underlying decoder reported.
        detail: String,
    },
    /// The zstd decoder rejected the input.
    #[cfg(feature = "zstd")]
    Zstd(haagenti_zstd::Error),
    /// The output would exceed [`crate::Limits::max_output`].
    OutputLimit {
        /// The limit in bytes.
        limit: u64,
    },
    /// The magic number matches no known format.
    UnknownFormat,
    /// The format is compiled out of this build (its cargo feature is off).
    FeatureDisabled {
        /// The format asked for.
        format: Format,
    },
    /// The level is outside the format's range.
    BadLevel {
        /// The format.
        format: Format,
        /// The level asked for.
        level: i32,
    },
    /// An I/O error from a reader or writer given to a streaming adapter.
    Io(std::io::Error),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Corrupt { format, detail } => write!(f, "invalid {format} data: {detail}"),
            #[cfg(feature = "zstd")]
            CodecError::Zstd(e) => write!(f, "invalid zstd data: {e}"),
            CodecError::OutputLimit { limit } => write!(f, "output exceeds the limit of {limit} bytes"),
            CodecError::UnknownFormat => f.write_str("unrecognized format (no known magic number)"),
            CodecError::FeatureDisabled { format } => {
                write!(f, "{format} support is not compiled in (cargo feature off)")
            }
            CodecError::BadLevel { format, level } => write!(f, "level {level} is out of range for {format}"),
            CodecError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            #[cfg(feature = "zstd")]
            CodecError::Zstd(e) => Some(e),
            CodecError::Io(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(feature = "zstd")]
impl From<haagenti_zstd::Error> for CodecError {
    fn from(e: haagenti_zstd::Error) -> Self {
        match e {
            haagenti_zstd::Error::OutputLimit { limit } => CodecError::OutputLimit { limit: limit as u64 },
            e => CodecError::Zstd(e),
        }
    }
}

impl From<CodecError> for std::io::Error {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::Io(e) => e,
            e => std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        }
    }
}
