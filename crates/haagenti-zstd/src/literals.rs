//! Literals section (RFC 8878 section 3.1.1.3.1).

use alloc::vec::Vec;

use crate::error::BlockError;
use crate::frame::MAX_BLOCK_SIZE;
use crate::huff0::HuffmanTable;
use crate::wildcopy::WILD;

fn corrupt(what: &'static str) -> BlockError {
    BlockError::Corrupt { what }
}

/// Makes `buffer` hold at least `n` bytes plus [`WILD`] bytes of initialized slack, so that
/// literal runs can be copied in 16-byte chunks.
fn prepare(buffer: &mut Vec<u8>, n: usize) -> &mut [u8] {
    if buffer.len() < n + WILD {
        buffer.resize(n + WILD, 0);
    }
    &mut buffer[..n]
}

/// Decodes the literals section at the start of `src` (a compressed block's content) into the
/// front of `buffer`, which keeps [`WILD`] bytes of slack after them.
///
/// Updates `huffman` when the section carries a new table. Returns the number of literals and
/// how many bytes of `src` the section used.
pub(crate) fn decode(
    src: &[u8],
    huffman: &mut Option<HuffmanTable>,
    buffer: &mut Vec<u8>,
) -> Result<(usize, usize), BlockError> {
    let b0 = *src.first().ok_or(corrupt("empty compressed block"))?;
    let block_type = b0 & 3;
    let size_format = (b0 >> 2) & 3;
    let byte = |i: usize| src.get(i).copied().map(usize::from).ok_or(corrupt("literals header truncated"));
    match block_type {
        0 | 1 => {
            let (size, header) = match size_format {
                0 | 2 => (usize::from(b0 >> 3), 1),
                1 => ((usize::from(b0) >> 4) + (byte(1)? << 4), 2),
                _ => ((usize::from(b0) >> 4) + (byte(1)? << 4) + (byte(2)? << 12), 3),
            };
            if size > MAX_BLOCK_SIZE {
                return Err(corrupt("too many literals"));
            }
            if block_type == 0 {
                let raw = src.get(header..header + size).ok_or(corrupt("raw literals truncated"))?;
                prepare(buffer, size).copy_from_slice(raw);
                Ok((size, header + size))
            } else {
                let value = *src.get(header).ok_or(corrupt("RLE literal missing"))?;
                prepare(buffer, size).fill(value);
                Ok((size, header + 1))
            }
        }
        _ => {
            let (header, bits, streams) = match size_format {
                0 => (3, 10, 1),
                1 => (3, 10, 4),
                2 => (4, 14, 4),
                _ => (5, 18, 4),
            };
            let mut v = 0u64;
            for i in 0..header {
                v |= (byte(i)? as u64) << (8 * i);
            }
            let mask = (1u64 << bits) - 1;
            let regenerated = ((v >> 4) & mask) as usize;
            let compressed = ((v >> (4 + bits)) & mask) as usize;
            if regenerated > MAX_BLOCK_SIZE {
                return Err(corrupt("too many literals"));
            }
            let data = src.get(header..header + compressed).ok_or(corrupt("compressed literals truncated"))?;
            let streams_data = if block_type == 2 {
                let used = HuffmanTable::read_into(huffman, data)?;
                &data[used..]
            } else {
                data
            };
            let table = huffman.as_mut().ok_or(corrupt("treeless literals without a previous Huffman table"))?;
            let out = prepare(buffer, regenerated);
            if streams == 1 {
                table.decode_1(streams_data, out)?;
            } else {
                table.decode_4_cached(streams_data, out)?;
            }
            Ok((regenerated, header + compressed))
        }
    }
}
