//! Dictionaries for compression and decompression: [`ZstdDict`] (read, written, trained),
//! [`ZstdDictCompressor`] and [`ZstdDictDecompressor`].
//!
//! A dictionary's content is history placed before every frame, so small inputs can refer to
//! strings they share with it; a formatted dictionary (RFC 8878 section 5) also carries an ID
//! (written into each frame's header), entropy tables and the repeat offsets to start from.

use alloc::vec::Vec;

use crate::block_writer::EntropyState;
use crate::decoding::{DecoderConfig, Decompressor};
use crate::dictionary::{DICT_MAGIC, Dictionary, DictionaryError};
use crate::encoding::{Level, ZstdCompressor};
use crate::error::Error;

/// A zstd dictionary: formatted (magic, ID, tables, repeat offsets, content) or raw content.
#[derive(Debug, Clone)]
pub struct ZstdDict {
    bytes: Vec<u8>,
    parsed: Dictionary,
    rep: [u32; 3],
}

impl ZstdDict {
    /// Reads a dictionary, as written by `zstd --train`, [`ZstdDict::train`] or
    /// [`ZstdDict::to_bytes`]; bytes without the dictionary magic are raw content (ID 0).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DictionaryError> {
        let parsed = Dictionary::from_bytes(bytes)?;
        let rep = parsed.tables.as_ref().map_or([1, 4, 8], |t| t.rep);
        Ok(ZstdDict { bytes: bytes.to_vec(), parsed, rep })
    }

    /// Trains a formatted dictionary of at most `max_size` bytes on `samples` (a fastCover-style
    /// selection of the most shared content, and entropy tables learned from compressing the
    /// samples with it; see [`crate::train`]). Needs at least 8 samples and 1 KiB of them.
    ///
    /// ```
    /// use haagenti_zstd::{ZstdDict, ZstdDictCompressor};
    /// let samples: Vec<Vec<u8>> = (0..64)
    ///     .map(|i| format!("{{\"id\":{i},\"name\":\"user{i}\",\"role\":\"reader\",\"active\":true}}").into_bytes())
    ///     .collect();
    /// let refs: Vec<&[u8]> = samples.iter().map(Vec::as_slice).collect();
    /// let dict = ZstdDict::train(&refs, 4096)?;
    /// assert!(dict.id() != 0 && dict.to_bytes().len() <= 4096);
    /// let frame = ZstdDictCompressor::new(&dict).compress(&samples[5]);
    /// assert!(frame.len() < samples[5].len());
    /// # Ok::<(), haagenti_zstd::train::TrainError>(())
    /// ```
    pub fn train(samples: &[&[u8]], max_size: usize) -> Result<Self, crate::train::TrainError> {
        crate::train::train(samples, max_size)
    }

    /// A raw-content dictionary (ID 0).
    pub fn raw(content: &[u8]) -> Self {
        ZstdDict { bytes: content.to_vec(), parsed: Dictionary::raw(content), rep: [1, 4, 8] }
    }

    /// The dictionary as bytes, exactly as read or built.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    /// The dictionary ID written into frame headers; 0 for raw content.
    pub fn id(&self) -> u32 {
        self.parsed.id()
    }

    /// Whether this is a formatted dictionary (with magic, ID and tables).
    pub fn is_formatted(&self) -> bool {
        self.bytes.len() >= 8 && self.bytes[..4] == DICT_MAGIC.to_le_bytes()
    }

    /// The content frames refer to as history.
    pub fn content(&self) -> &[u8] {
        self.parsed.content()
    }

    /// The repeat offsets the first block starts from.
    pub(crate) fn rep(&self) -> [u32; 3] {
        self.rep
    }

    /// The entropy tables a formatted dictionary gives the first block.
    pub(crate) fn entropy(&self) -> Option<EntropyState> {
        let t = self.parsed.tables.as_ref()?;
        Some(EntropyState::from_dictionary(&t.huffman, &t.dists))
    }

    /// The decoder's view of this dictionary.
    pub fn as_decoder_dictionary(&self) -> &Dictionary {
        &self.parsed
    }
}

/// Compresses with a dictionary: frames name its ID and refer to its content.
///
/// ```
/// use haagenti_zstd::{ZstdDict, ZstdDictCompressor, ZstdDictDecompressor};
/// let dict = ZstdDict::raw(b"{\"user\":\"\",\"email\":\"@example.com\",\"active\":true}");
/// let record = br#"{"user":"ada","email":"ada@example.com","active":true}"#;
/// let frame = ZstdDictCompressor::new(&dict).compress(record);
/// assert_eq!(ZstdDictDecompressor::new(&dict).decompress(&frame)?, record);
/// # Ok::<(), haagenti_zstd::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ZstdDictCompressor {
    dict: ZstdDict,
    compressor: ZstdCompressor,
}

impl ZstdDictCompressor {
    /// Level 3 with `dict`.
    pub fn new(dict: &ZstdDict) -> Self {
        ZstdDictCompressor { dict: dict.clone(), compressor: ZstdCompressor::new() }
    }

    /// Another level (a [`Level`] or a number).
    pub fn with_level(mut self, level: impl Into<Level>) -> Self {
        let checksum = self.compressor.has_checksum();
        self.compressor = ZstdCompressor::with_level(level).checksum(checksum);
        self
    }

    /// Whether frames end with the content checksum (on by default).
    pub fn checksum(mut self, on: bool) -> Self {
        self.compressor = self.compressor.checksum(on);
        self
    }

    /// Compresses `data` into a frame that needs the dictionary to decode.
    pub fn compress(&self, data: &[u8]) -> Vec<u8> {
        self.compressor.compress_frames(data, Some(&self.dict))
    }
}

/// Decompresses frames made with a dictionary (and frames that name none).
#[derive(Debug)]
pub struct ZstdDictDecompressor {
    inner: Decompressor,
}

impl ZstdDictDecompressor {
    /// A decoder with the default limits and `dict`.
    pub fn new(dict: &ZstdDict) -> Self {
        Self::with_config(dict, DecoderConfig::default())
    }

    /// A decoder with the given limits and `dict`.
    pub fn with_config(dict: &ZstdDict, config: DecoderConfig) -> Self {
        ZstdDictDecompressor { inner: Decompressor::with_dictionary(config, dict.parsed.clone()) }
    }

    /// Decompresses every frame of `src`.
    pub fn decompress(&mut self, src: &[u8]) -> Result<Vec<u8>, Error> {
        self.inner.decompress(src)
    }
}
