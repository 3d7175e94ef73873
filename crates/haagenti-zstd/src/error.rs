use core::fmt;

/// An error while reading a frame header or the frame around the blocks (RFC 8878 3.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The input ended before the named part of the frame was complete.
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed from the current position.
        needed: usize,
        /// Bytes available from the current position.
        available: usize,
    },
    /// The first four bytes are neither the zstd magic nor a skippable-frame magic.
    BadMagic {
        /// The little-endian value found.
        found: u32,
    },
    /// The reserved bit of the frame header descriptor is set.
    ReservedBitSet,
    /// The window the frame asks for is larger than [`crate::DecoderConfig::max_window_size`].
    WindowTooLarge {
        /// Window size the frame requires.
        requested: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The frame names a dictionary that was not supplied.
    DictionaryRequired {
        /// The dictionary ID in the frame header.
        id: u32,
    },
    /// The frame names a different dictionary than the one given.
    DictionaryMismatch {
        /// The dictionary ID in the frame header.
        frame: u32,
        /// The ID of the dictionary given.
        given: u32,
    },
    /// The input ended inside a frame (streaming decoder finished early).
    Incomplete,
    /// The decoded content size differs from the size in the frame header.
    ContentSizeMismatch {
        /// Size declared in the header.
        declared: u64,
        /// Size actually produced.
        actual: u64,
    },
    /// The XXH64 content checksum does not match the decoded bytes.
    ChecksumMismatch {
        /// Low 32 bits of XXH64 stored in the frame.
        expected: u32,
        /// Low 32 bits of XXH64 of the decoded bytes.
        actual: u32,
    },
}

/// An error inside one block (RFC 8878 3.1.1.2 onward).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockError {
    /// Block type 3, which the format reserves.
    ReservedBlockType,
    /// A block larger than the format's limit of `min(window size, 128 KiB)`.
    BlockTooLarge {
        /// Size the block declares (decompressed size for RLE, stored size otherwise).
        size: usize,
        /// The largest size allowed here.
        limit: usize,
    },
    /// A compressed block's contents are malformed.
    Corrupt {
        /// The part of the block that failed.
        what: &'static str,
    },
}

/// Any error from the zstd decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A frame-level error.
    Frame(FrameError),
    /// A block-level error.
    Block(BlockError),
    /// A dictionary could not be read.
    Dictionary(DictionaryError),
    /// The output would exceed [`crate::DecoderConfig::max_output_size`].
    OutputLimit {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The caller's output buffer is too small.
    OutputTooSmall {
        /// Bytes the output needs at least.
        needed: usize,
        /// Bytes the buffer holds.
        capacity: usize,
    },
}

impl From<FrameError> for Error {
    fn from(e: FrameError) -> Self {
        Error::Frame(e)
    }
}

impl From<DictionaryError> for Error {
    fn from(e: DictionaryError) -> Self {
        Error::Dictionary(e)
    }
}

impl From<BlockError> for Error {
    fn from(e: BlockError) -> Self {
        Error::Block(e)
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Truncated { what, needed, available } => {
                write!(f, "truncated {what}: needed {needed} bytes, {available} available")
            }
            FrameError::BadMagic { found } => write!(f, "not a zstd frame (magic 0x{found:08x})"),
            FrameError::ReservedBitSet => f.write_str("reserved bit set in frame header"),
            FrameError::WindowTooLarge { requested, limit } => {
                write!(f, "window of {requested} bytes exceeds the limit of {limit}")
            }
            FrameError::DictionaryRequired { id } => {
                write!(f, "frame needs dictionary {id}, which was not given")
            }
            FrameError::DictionaryMismatch { frame, given } => {
                write!(f, "frame needs dictionary {frame}, but dictionary {given} was given")
            }
            FrameError::Incomplete => f.write_str("input ended inside a frame"),
            FrameError::ContentSizeMismatch { declared, actual } => {
                write!(f, "frame declares {declared} bytes but decodes to {actual}")
            }
            FrameError::ChecksumMismatch { expected, actual } => {
                write!(f, "content checksum mismatch: frame has {expected:08x}, data gives {actual:08x}")
            }
        }
    }
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockError::ReservedBlockType => f.write_str("reserved block type"),
            BlockError::BlockTooLarge { size, limit } => {
                write!(f, "block of {size} bytes exceeds the limit of {limit}")
            }
            BlockError::Corrupt { what } => write!(f, "corrupt block: {what}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Frame(e) => e.fmt(f),
            Error::Block(e) => e.fmt(f),
            Error::Dictionary(e) => e.fmt(f),
            Error::OutputLimit { limit } => write!(f, "output exceeds the limit of {limit} bytes"),
            Error::OutputTooSmall { needed, capacity } => {
                write!(f, "output buffer too small: need {needed} bytes, have {capacity}")
            }
        }
    }
}

impl core::error::Error for FrameError {}
impl core::error::Error for BlockError {}
impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Frame(e) => Some(e),
            Error::Block(e) => Some(e),
            Error::Dictionary(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a dictionary could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DictionaryError {
    /// The dictionary ended inside its header or tables.
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// An entropy table in the dictionary is malformed.
    BadTable(BlockError),
    /// A repeat offset is zero or larger than the content.
    BadRepeatOffset {
        /// The offending offset.
        offset: u32,
        /// The content size.
        content_len: usize,
    },
    /// ID 0 is reserved for "no dictionary" and may not be declared by a formatted one.
    ZeroId,
}

impl fmt::Display for DictionaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DictionaryError::Truncated { what } => write!(f, "dictionary truncated in its {what}"),
            DictionaryError::BadTable(e) => write!(f, "dictionary entropy table: {e}"),
            DictionaryError::BadRepeatOffset { offset, content_len } => {
                write!(f, "dictionary repeat offset {offset} is invalid for {content_len} bytes of content")
            }
            DictionaryError::ZeroId => f.write_str("formatted dictionary declares ID 0"),
        }
    }
}

impl core::error::Error for DictionaryError {}
