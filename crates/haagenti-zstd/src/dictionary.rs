//! Dictionaries (RFC 8878 section 5): raw content, or the formatted kind with an ID, entropy
//! tables and repeat offsets.

pub use crate::error::DictionaryError;
use crate::fse::{DecodingTable, Distribution};
use crate::huff0::HuffmanTable;
use alloc::vec::Vec;

/// Magic number of a formatted dictionary, little-endian on the wire.
pub const DICT_MAGIC: u32 = 0xEC30_A437;

/// Entropy tables a formatted dictionary provides for the first block of a frame.
#[derive(Debug, Clone)]
pub(crate) struct DictTables {
    pub huffman: HuffmanTable,
    pub ll: DecodingTable,
    pub of: DecodingTable,
    pub ml: DecodingTable,
    pub rep: [u32; 3],
    /// The distributions behind `ll`, `of` and `ml`, for encoders.
    pub dists: [Distribution; 3],
}

/// A decoding dictionary.
#[derive(Debug, Clone)]
pub struct Dictionary {
    id: u32,
    content: Vec<u8>,
    pub(crate) tables: Option<DictTables>,
}

impl Dictionary {
    /// Reads a dictionary: formatted when it starts with [`DICT_MAGIC`], raw content otherwise.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DictionaryError> {
        if bytes.len() < 8 || u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) != DICT_MAGIC {
            return Ok(Self::raw(bytes));
        }
        let id = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        if id == 0 {
            return Err(DictionaryError::ZeroId);
        }
        let mut pos = 8;
        let (huffman, used) = HuffmanTable::read(&bytes[pos..]).map_err(DictionaryError::BadTable)?;
        pos += used;
        let mut table = |max_log, max_symbol| -> Result<(DecodingTable, Distribution), DictionaryError> {
            let (dist, used) =
                Distribution::read(&bytes[pos..], max_log, max_symbol).map_err(DictionaryError::BadTable)?;
            if pos + used > bytes.len() {
                return Err(DictionaryError::Truncated { what: "FSE tables" });
            }
            pos += used;
            Ok((DecodingTable::build(&dist).map_err(DictionaryError::BadTable)?, dist))
        };
        let (of, of_dist) = table(8, 31)?;
        let (ml, ml_dist) = table(9, 52)?;
        let (ll, ll_dist) = table(9, 35)?;
        let reps = bytes.get(pos..pos + 12).ok_or(DictionaryError::Truncated { what: "repeat offsets" })?;
        let mut rep = [0u32; 3];
        for (i, r) in rep.iter_mut().enumerate() {
            *r = u32::from_le_bytes([reps[4 * i], reps[4 * i + 1], reps[4 * i + 2], reps[4 * i + 3]]);
        }
        let content = bytes[pos + 12..].to_vec();
        for &offset in &rep {
            if offset == 0 || offset as usize > content.len() {
                return Err(DictionaryError::BadRepeatOffset { offset, content_len: content.len() });
            }
        }
        Ok(Dictionary {
            id,
            content,
            tables: Some(DictTables { huffman, ll, of, ml, rep, dists: [ll_dist, of_dist, ml_dist] }),
        })
    }

    /// A raw-content dictionary (ID 0): history only, no tables.
    pub fn raw(content: &[u8]) -> Self {
        Dictionary { id: 0, content: content.to_vec(), tables: None }
    }

    /// The dictionary ID; 0 for raw content.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The content that frames may reference as history.
    pub fn content(&self) -> &[u8] {
        &self.content
    }
}
