//! Blocks (RFC 8878 section 3.1.1.2): raw, RLE and compressed.

use alloc::vec::Vec;

use crate::error::{BlockError, Error};
use crate::frame::BlockHeader;

/// Block type 0: the bytes are stored as they are.
pub const RAW: u8 = 0;
/// Block type 1: one byte repeated `Block_Size` times.
pub const RLE: u8 = 1;
/// Block type 2: literals and sequences (RFC 8878 3.1.1.3).
pub const COMPRESSED: u8 = 2;

/// Bytes of input a block's body occupies after its header.
pub fn stored_len(header: &BlockHeader) -> usize {
    if header.block_type == RLE { 1 } else { header.size }
}

/// Decodes one block body, appending to `out`.
///
/// `limit` is the block size limit of the frame; `max_output` bounds `out.len()` after the call.
pub(crate) fn decode_block(
    header: &BlockHeader,
    body: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
    max_output: usize,
) -> Result<(), Error> {
    if header.size > limit {
        return Err(BlockError::BlockTooLarge { size: header.size, limit }.into());
    }
    let produced = match header.block_type {
        RAW | RLE => header.size,
        COMPRESSED => return Err(BlockError::Unsupported.into()),
        _ => return Err(BlockError::ReservedBlockType.into()),
    };
    if out.len() + produced > max_output {
        return Err(Error::OutputLimit { limit: max_output });
    }
    match header.block_type {
        RAW => out.extend_from_slice(body),
        _ => out.resize(out.len() + produced, body[0]),
    }
    Ok(())
}
