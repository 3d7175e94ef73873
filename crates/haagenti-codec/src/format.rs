use std::fmt;
use std::io::Read;
use std::str::FromStr;

use crate::{Codec, CodecError, Limits};

/// A compressed data format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Zstandard frames (RFC 8878), including skippable frames.
    Zstd,
    /// The LZ4 frame format (magic `0x184D2204`).
    Lz4,
    /// One LZ4 block preceded by its decompressed size as a little-endian `u32`
    /// (the convention of `lz4_flex::compress_prepend_size`). Has no magic; never detected.
    Lz4Block,
    /// gzip (RFC 1952).
    Gzip,
    /// zlib (RFC 1950).
    Zlib,
    /// Raw deflate (RFC 1951). Has no magic; never detected.
    Deflate,
    /// Brotli (RFC 7932). Has no magic; never detected.
    Brotli,
}

/// A compression level; each format maps it onto its own range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level(pub i32);

impl Format {
    /// Every format, in a stable order.
    pub const ALL: [Format; 7] =
        [Format::Zstd, Format::Lz4, Format::Lz4Block, Format::Gzip, Format::Zlib, Format::Deflate, Format::Brotli];

    /// Recognizes a format by the magic number at the start of `src`.
    ///
    /// Formats without a magic (raw deflate, brotli, LZ4 blocks) are never returned.
    pub fn detect(src: &[u8]) -> Option<Format> {
        let magic = src.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        match magic {
            Some(0xFD2F_B528) => return Some(Format::Zstd),
            Some(m) if m & 0xFFFF_FFF0 == 0x184D_2A50 => return Some(Format::Zstd),
            Some(0x184D_2204) => return Some(Format::Lz4),
            _ => {}
        }
        match src {
            [0x1f, 0x8b, 8, ..] => Some(Format::Gzip),
            // RFC 1950: CM = 8, CINFO <= 7, and the header checksum divides by 31.
            [cmf, flg, ..]
                if cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0 =>
            {
                Some(Format::Zlib)
            }
            _ => None,
        }
    }

    /// The level used when none is given.
    pub fn default_level(self) -> Level {
        match self {
            Format::Zstd => Level(3),
            Format::Lz4 | Format::Lz4Block => Level(0),
            Format::Gzip | Format::Zlib | Format::Deflate => Level(6),
            Format::Brotli => Level(9),
        }
    }

    /// The levels this format accepts. LZ4 has a single level, 0.
    pub fn level_range(self) -> std::ops::RangeInclusive<i32> {
        match self {
            Format::Zstd => -7..=22,
            Format::Lz4 | Format::Lz4Block => 0..=0,
            Format::Gzip | Format::Zlib | Format::Deflate => 0..=9,
            Format::Brotli => 0..=11,
        }
    }

    /// A codec for this format at its default level.
    pub fn codec(self) -> FormatCodec {
        FormatCodec { format: self, level: self.default_level() }
    }

    /// A codec for this format at `level`.
    pub fn codec_with_level(self, level: Level) -> Result<FormatCodec, CodecError> {
        if !self.level_range().contains(&level.0) {
            return Err(CodecError::BadLevel { format: self, level: level.0 });
        }
        Ok(FormatCodec { format: self, level })
    }

    /// The usual file-name suffix, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Zstd => "zst",
            Format::Lz4 => "lz4",
            Format::Lz4Block => "lz4b",
            Format::Gzip => "gz",
            Format::Zlib => "zz",
            Format::Deflate => "deflate",
            Format::Brotli => "br",
        }
    }

    /// The name used on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Zstd => "zstd",
            Format::Lz4 => "lz4",
            Format::Lz4Block => "lz4-block",
            Format::Gzip => "gzip",
            Format::Zlib => "zlib",
            Format::Deflate => "deflate",
            Format::Brotli => "brotli",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(s)).ok_or_else(|| {
            format!("unknown codec {s:?} (expected one of zstd, lz4, lz4-block, gzip, zlib, deflate, brotli)")
        })
    }
}

/// A [`Format`] with a [`Level`]: the [`Codec`] for one of the built-in formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatCodec {
    format: Format,
    level: Level,
}

impl FormatCodec {
    /// The level this codec compresses at.
    pub fn level(&self) -> Level {
        self.level
    }
}

impl Codec for FormatCodec {
    fn format(&self) -> Format {
        self.format
    }

    fn compress(&self, src: &[u8]) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(src.len() / 2 + 64);
        let mut enc = crate::encoder(self.format, self.level, &mut out)?;
        enc.write_all(src).map_err(CodecError::Io)?;
        enc.finish().map_err(CodecError::Io)?;
        Ok(out)
    }

    fn decompress_with(&self, src: &[u8], limits: &Limits) -> Result<Vec<u8>, CodecError> {
        match self.format {
            #[cfg(feature = "zstd")]
            Format::Zstd => {
                let config = haagenti_zstd::DecoderConfig {
                    max_output_size: usize::try_from(limits.max_output).unwrap_or(usize::MAX),
                    ..Default::default()
                };
                Ok(haagenti_zstd::decompress_with(src, &config)?)
            }
            #[cfg(feature = "lz4")]
            Format::Lz4Block => {
                let size = src.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                let size = size.ok_or_else(|| corrupt(Format::Lz4Block, "missing size prefix"))?;
                if u64::from(size) > limits.max_output {
                    return Err(CodecError::OutputLimit { limit: limits.max_output });
                }
                // The decoder allocates the declared size up front: refuse a size the block
                // cannot expand to, so a 5-byte input cannot reserve a gigabyte.
                let bound = lz4_block_max_output(src.len() - 4);
                if u64::from(size) > bound {
                    return Err(corrupt(
                        Format::Lz4Block,
                        format_args!(
                            "declared size {size} exceeds the {bound} bytes a {}-byte block can hold",
                            src.len() - 4
                        ),
                    ));
                }
                lz4_flex::block::decompress_size_prepended(src).map_err(|e| corrupt(Format::Lz4Block, e))
            }
            format => {
                #[cfg(feature = "lz4")]
                if format == Format::Lz4 {
                    // lz4_flex's reader takes an end of input between blocks as the end of the
                    // stream; a whole buffer can be checked for its end marks first.
                    check_lz4_frames(src)?;
                }
                let mut out = Vec::new();
                let reader = crate::decoder(format, src)?;
                reader
                    .take(limits.max_output.saturating_add(1))
                    .read_to_end(&mut out)
                    .map_err(|e| CodecError::from_io(format, e))?;
                if out.len() as u64 > limits.max_output {
                    return Err(CodecError::OutputLimit { limit: limits.max_output });
                }
                Ok(out)
            }
        }
    }
}

/// The most bytes an LZ4 block of `compressed` bytes can decode to. Every input byte yields at
/// most 255 output bytes (a match-length extension byte of 255); a sequence's token and offset
/// add a few more, covered by the constant.
#[cfg(feature = "lz4")]
pub(crate) fn lz4_block_max_output(compressed: usize) -> u64 {
    (compressed as u64).saturating_mul(255).saturating_add(64)
}

pub(crate) fn corrupt(format: Format, detail: impl fmt::Display) -> CodecError {
    CodecError::Corrupt { format, detail: detail.to_string() }
}

impl CodecError {
    /// Recovers a `CodecError` that travelled through `std::io::Error`.
    pub(crate) fn from_io(format: Format, e: std::io::Error) -> CodecError {
        if !e.get_ref().is_some_and(|inner| inner.is::<CodecError>()) {
            return corrupt(format, e);
        }
        match e.into_inner().map(|inner| inner.downcast::<CodecError>()) {
            Some(Ok(inner)) => *inner,
            Some(Err(other)) => corrupt(format, other),
            None => corrupt(format, "unknown I/O error"),
        }
    }
}

/// Walks the LZ4 frames in `src` (header, block sizes, end marks, checksums) and fails unless
/// every frame is complete.
#[cfg(feature = "lz4")]
fn check_lz4_frames(src: &[u8]) -> Result<(), CodecError> {
    let truncated = || corrupt(Format::Lz4, "truncated frame");
    let u32_at =
        |pos: usize| src.get(pos..pos + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok_or_else(truncated);
    let mut pos = 0;
    while pos < src.len() {
        let magic = u32_at(pos)?;
        if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
            // Skippable frame.
            pos = pos.checked_add(8 + u32_at(pos + 4)? as usize).ok_or_else(truncated)?;
            if pos > src.len() {
                return Err(truncated());
            }
            continue;
        }
        if magic != 0x184D_2204 {
            return Err(corrupt(Format::Lz4, format_args!("bad magic 0x{magic:08x}")));
        }
        let flg = *src.get(pos + 4).ok_or_else(truncated)?;
        let block_checksum = flg & 0x10 != 0;
        let content_checksum = flg & 0x04 != 0;
        pos += 4 + 2 + if flg & 0x08 != 0 { 8 } else { 0 } + if flg & 0x01 != 0 { 4 } else { 0 } + 1;
        loop {
            let size = u32_at(pos)?;
            pos += 4;
            if size == 0 {
                break;
            }
            pos += (size & 0x7FFF_FFFF) as usize + if block_checksum { 4 } else { 0 };
        }
        pos += if content_checksum { 4 } else { 0 };
        if pos > src.len() {
            return Err(truncated());
        }
    }
    Ok(())
}
