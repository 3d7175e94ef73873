//! Frames (RFC 8878 section 3.1): the zstd frame header and skippable frames.

use crate::error::FrameError;

/// Magic number that starts every zstd frame, little-endian on the wire.
pub const ZSTD_MAGIC: u32 = 0xFD2F_B528;
/// Skippable frames use any magic in `0x184D2A50..=0x184D2A5F`.
pub const SKIPPABLE_MAGIC_MASK: u32 = 0xFFFF_FFF0;
/// The base skippable magic number.
pub const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;
/// Smallest window a frame may declare (RFC 8878 3.1.1.1.2: window log 10).
pub const MIN_WINDOW_SIZE: u64 = 1 << 10;
/// Largest block's decompressed size (RFC 8878 3.1.1.2.4).
pub const MAX_BLOCK_SIZE: usize = 128 * 1024;

/// What kind of frame begins at some position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A zstd frame.
    Zstd,
    /// A skippable frame; `variant` is the low four bits of its magic.
    Skippable {
        /// Low four bits of the magic number (0..=15).
        variant: u8,
    },
}

/// Reads the magic number at the start of `src`.
pub fn frame_kind(src: &[u8]) -> Result<FrameKind, FrameError> {
    let magic = read_u32(src, 0, "magic number")?;
    if magic == ZSTD_MAGIC {
        Ok(FrameKind::Zstd)
    } else if magic & SKIPPABLE_MAGIC_MASK == SKIPPABLE_MAGIC {
        Ok(FrameKind::Skippable { variant: (magic & 0xF) as u8 })
    } else {
        Err(FrameError::BadMagic { found: magic })
    }
}

/// A skippable frame (RFC 8878 3.1.2): user data the decoder passes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SkippableFrame<'a> {
    /// Low four bits of the magic number.
    pub variant: u8,
    /// The frame's user data.
    pub payload: &'a [u8],
}

impl<'a> SkippableFrame<'a> {
    /// Parses a skippable frame at the start of `src`; returns it and its total length.
    pub fn parse(src: &'a [u8]) -> Result<(Self, usize), FrameError> {
        let variant = match frame_kind(src)? {
            FrameKind::Skippable { variant } => variant,
            FrameKind::Zstd => return Err(FrameError::BadMagic { found: ZSTD_MAGIC }),
        };
        let len = read_u32(src, 4, "skippable frame size")? as usize;
        let available = src.len() - 8;
        if len > available {
            return Err(FrameError::Truncated { what: "skippable frame payload", needed: len, available });
        }
        Ok((SkippableFrame { variant, payload: &src[8..8 + len] }, 8 + len))
    }
}

/// A parsed zstd frame header (RFC 8878 3.1.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Size of the sliding window the frame needs, in bytes.
    pub window_size: u64,
    /// The dictionary the frame was compressed with, if any (0 means none).
    pub dictionary_id: Option<u32>,
    /// The decompressed size, when the header records it.
    pub content_size: Option<u64>,
    /// Whether the frame ends with a 4-byte XXH64 checksum of the content.
    pub has_checksum: bool,
    /// Whether the whole content is one segment (no window descriptor).
    pub single_segment: bool,
    /// Length of the header in bytes, magic included.
    pub header_len: usize,
}

impl FrameHeader {
    /// Parses the header of the zstd frame at the start of `src` (magic included).
    pub fn parse(src: &[u8]) -> Result<Self, FrameError> {
        match frame_kind(src)? {
            FrameKind::Zstd => {}
            FrameKind::Skippable { variant } => {
                return Err(FrameError::BadMagic { found: SKIPPABLE_MAGIC | u32::from(variant) });
            }
        }
        let descriptor =
            *src.get(4).ok_or(FrameError::Truncated { what: "frame header descriptor", needed: 1, available: 0 })?;
        let fcs_flag = descriptor >> 6;
        let single_segment = descriptor & 0x20 != 0;
        if descriptor & 0x08 != 0 {
            return Err(FrameError::ReservedBitSet);
        }
        let has_checksum = descriptor & 0x04 != 0;
        let did_len = [0usize, 1, 2, 4][usize::from(descriptor & 3)];
        let fcs_len = match fcs_flag {
            0 => usize::from(single_segment),
            1 => 2,
            2 => 4,
            _ => 8,
        };
        let wd_len = usize::from(!single_segment);
        let header_len = 5 + wd_len + did_len + fcs_len;
        if src.len() < header_len {
            return Err(FrameError::Truncated {
                what: "frame header",
                needed: header_len - 4,
                available: src.len() - 4,
            });
        }
        let mut pos = 5;
        let mut window_size = 0u64;
        if !single_segment {
            let wd = src[pos];
            pos += 1;
            let window_log = 10 + u64::from(wd >> 3);
            let base = 1u64 << window_log;
            window_size = base + (base / 8) * u64::from(wd & 7);
        }
        let dictionary_id = match read_le(&src[pos..pos + did_len]) {
            0 => None,
            id => Some(id as u32),
        };
        pos += did_len;
        let content_size = match fcs_len {
            0 => None,
            2 => Some(read_le(&src[pos..pos + 2]) + 256),
            n => Some(read_le(&src[pos..pos + n])),
        };
        if single_segment {
            // With no window descriptor the window is the whole content.
            window_size = content_size.unwrap_or(0);
        }
        Ok(FrameHeader { window_size, dictionary_id, content_size, has_checksum, single_segment, header_len })
    }

    /// The largest decompressed size of one block in this frame.
    pub fn block_size_limit(&self) -> usize {
        self.window_size.min(MAX_BLOCK_SIZE as u64) as usize
    }
}

/// The header of one block (RFC 8878 3.1.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// Whether this is the frame's last block.
    pub last: bool,
    /// Block type: 0 raw, 1 RLE, 2 compressed, 3 reserved.
    pub block_type: u8,
    /// The `Block_Size` field: bytes stored for raw and compressed blocks, bytes produced for RLE.
    pub size: usize,
}

impl BlockHeader {
    /// Length of a block header in bytes.
    pub const LEN: usize = 3;

    /// Bytes of input the block's body occupies after its header: one for an RLE block
    /// (type 1), `size` for the others.
    pub fn stored_len(&self) -> usize {
        if self.block_type == 1 { 1 } else { self.size }
    }

    /// Parses a block header at the start of `src`.
    pub fn parse(src: &[u8]) -> Result<Self, FrameError> {
        if src.len() < Self::LEN {
            return Err(FrameError::Truncated { what: "block header", needed: 3, available: src.len() });
        }
        let v = u32::from(src[0]) | u32::from(src[1]) << 8 | u32::from(src[2]) << 16;
        Ok(BlockHeader { last: v & 1 != 0, block_type: ((v >> 1) & 3) as u8, size: (v >> 3) as usize })
    }
}

/// One frame found by [`frames`], without decoding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawFrame<'a> {
    /// A zstd frame: its header and all its bytes (header, blocks and checksum).
    Zstd {
        /// The parsed header.
        header: FrameHeader,
        /// The whole frame.
        bytes: &'a [u8],
    },
    /// A skippable frame and its payload.
    Skippable(SkippableFrame<'a>),
}

/// Walks the frames in `src` by their headers and block sizes, without decoding: the way to
/// read skippable frames' payloads, or to split a stream into frames.
///
/// ```
/// use haagenti_zstd::frame::{frames, RawFrame};
/// let data = [0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, b'h', b'i'];
/// let found: Vec<_> = frames(&data).collect::<Result<_, _>>()?;
/// assert!(matches!(found[0], RawFrame::Skippable(s) if s.payload == b"hi"));
/// # Ok::<(), haagenti_zstd::FrameError>(())
/// ```
pub fn frames(src: &[u8]) -> Frames<'_> {
    Frames { src, failed: false }
}

/// Iterator returned by [`frames`].
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    src: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<RawFrame<'a>, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.src.is_empty() || self.failed {
            return None;
        }
        let result = next_frame(self.src);
        match result {
            Ok((frame, len)) => {
                self.src = &self.src[len..];
                Some(Ok(frame))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

fn next_frame(src: &[u8]) -> Result<(RawFrame<'_>, usize), FrameError> {
    if let FrameKind::Skippable { .. } = frame_kind(src)? {
        let (s, len) = SkippableFrame::parse(src)?;
        return Ok((RawFrame::Skippable(s), len));
    }
    let header = FrameHeader::parse(src)?;
    let mut pos = header.header_len;
    loop {
        let block = BlockHeader::parse(&src[pos..])?;
        let len = block.stored_len();
        pos += BlockHeader::LEN + len;
        if pos > src.len() {
            return Err(FrameError::Truncated { what: "block", needed: len, available: src.len() + len - pos });
        }
        if block.last {
            break;
        }
    }
    if header.has_checksum {
        read_u32(src, pos, "content checksum")?;
        pos += 4;
    }
    Ok((RawFrame::Zstd { header, bytes: &src[..pos] }, pos))
}

fn read_le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0u64, |acc, &b| acc << 8 | u64::from(b))
}

pub(crate) fn read_u32(src: &[u8], at: usize, what: &'static str) -> Result<u32, FrameError> {
    match src.get(at..at + 4) {
        Some(b) => Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(FrameError::Truncated { what, needed: 4, available: src.len().saturating_sub(at) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_descriptor_and_content_size_forms() {
        // magic, FHD: fcs flag 1 (2 bytes), no single segment, did 1 byte; WD exp 0 mantissa 1.
        let hdr = [0x28, 0xb5, 0x2f, 0xfd, 0b0100_0001, 0b0000_0001, 7, 0x10, 0x00];
        let h = FrameHeader::parse(&hdr).unwrap();
        assert_eq!(h.window_size, 1024 + 128);
        assert_eq!(h.dictionary_id, Some(7));
        assert_eq!(h.content_size, Some(0x10 + 256));
        assert_eq!(h.header_len, 9);
        assert!(!h.single_segment);
    }

    #[test]
    fn single_segment_one_byte_size() {
        let hdr = [0x28, 0xb5, 0x2f, 0xfd, 0b0010_0100, 42];
        let h = FrameHeader::parse(&hdr).unwrap();
        assert_eq!((h.window_size, h.content_size, h.has_checksum), (42, Some(42), true));
    }

    #[test]
    fn reserved_bit_and_truncation_are_errors() {
        assert_eq!(FrameHeader::parse(&[0x28, 0xb5, 0x2f, 0xfd, 0x08, 0]), Err(FrameError::ReservedBitSet));
        assert!(matches!(FrameHeader::parse(&[0x28, 0xb5, 0x2f, 0xfd, 0xC0]), Err(FrameError::Truncated { .. })));
        assert!(matches!(FrameHeader::parse(&[1, 2, 3, 4, 5]), Err(FrameError::BadMagic { .. })));
    }

    #[test]
    fn frames_walks_zstd_and_skippable_frames() {
        // A raw-block frame holding "ab", then a skippable frame, then a cut-off frame.
        let mut data = alloc::vec![0x28, 0xb5, 0x2f, 0xfd, 0x20, 2, 0x11, 0, 0, b'a', b'b'];
        data.extend_from_slice(&[0x51, 0x2a, 0x4d, 0x18, 1, 0, 0, 0, 9]);
        data.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 0x20, 2, 0x11, 0, 0, b'a']);
        let found: alloc::vec::Vec<_> = frames(&data).collect();
        assert_eq!(found.len(), 3);
        assert!(matches!(found[0], Ok(RawFrame::Zstd { bytes, .. }) if bytes.len() == 11));
        assert!(matches!(found[1], Ok(RawFrame::Skippable(s)) if s.payload == [9] && s.variant == 1));
        assert!(found[2].is_err());
    }

    #[test]
    fn skippable_frame_payload() {
        let f = [0x5e, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, b'a', b'b', b'c', 0xff];
        let (s, len) = SkippableFrame::parse(&f).unwrap();
        assert_eq!((s.variant, s.payload, len), (14, &b"abc"[..], 11));
        assert!(SkippableFrame::parse(&f[..10]).is_err());
    }
}
