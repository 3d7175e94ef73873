//! Blocks (RFC 8878 section 3.1.1.2): raw, RLE and compressed, and the entropy state that
//! carries between the blocks of a frame.

use alloc::vec::Vec;

use crate::dictionary::Dictionary;
use crate::error::{BlockError, Error};
use crate::frame::BlockHeader;
use crate::huff0::HuffmanTable;
use crate::literals;
use crate::sequences::{self, Code, Output, Predefined, SequenceTables};
use crate::wildcopy::Sink;

/// Block type 0: the bytes are stored as they are.
pub const RAW: u8 = 0;
/// Block type 1: one byte repeated `Block_Size` times.
pub const RLE: u8 = 1;
/// Block type 2: literals and sequences (RFC 8878 3.1.1.3).
pub const COMPRESSED: u8 = 2;

/// Bytes of input a block's body occupies after its header.
pub fn stored_len(header: &BlockHeader) -> usize {
    header.stored_len()
}

/// Where one block's output goes.
pub(crate) struct Target<'a, 'b> {
    /// Decoded bytes; the block is appended.
    pub out: &'a mut Sink<'b>,
    /// Index in `out` of the oldest byte the frame's matches may reach.
    pub history_start: usize,
    /// Dictionary content reachable before `history_start` (empty once history was dropped).
    pub dict: &'a [u8],
    /// Largest `out.len()` the caller's output limit allows.
    pub output_limit: usize,
    /// The caller's configured output limit, for the error.
    pub configured_limit: usize,
}

/// Block decoding state for one frame at a time: entropy tables, repeat offsets, buffers.
#[derive(Debug, Clone)]
pub(crate) struct BlockDecoder {
    predefined: Predefined,
    huffman: Option<HuffmanTable>,
    tables: SequenceTables,
    literals: Vec<u8>,
}

impl BlockDecoder {
    pub(crate) fn new() -> Self {
        BlockDecoder {
            predefined: Predefined::new(),
            huffman: None,
            tables: SequenceTables::default(),
            literals: Vec::new(),
        }
    }

    /// Starts a new frame: forgets the previous frame's tables, or takes the dictionary's.
    pub(crate) fn reset(&mut self, dict: Option<&Dictionary>) {
        self.tables.clear();
        self.huffman = None;
        if let Some(t) = dict.and_then(|d| d.tables.as_ref()) {
            self.huffman = Some(t.huffman.clone());
            self.tables.set(&t.ll, Code::LiteralLength);
            self.tables.set(&t.of, Code::Offset);
            self.tables.set(&t.ml, Code::MatchLength);
            self.tables.rep = t.rep;
        }
    }

    /// Decodes one block body, appending to `target.out`. `block_limit` is the frame's largest
    /// block size.
    pub(crate) fn decode(
        &mut self,
        header: &BlockHeader,
        body: &[u8],
        block_limit: usize,
        target: Target<'_, '_>,
    ) -> Result<(), Error> {
        // RFC 8878 caps every block at the block maximum; the reference decoder does not cap RLE
        // blocks (at most 2 MiB, from the 21-bit size field), and we decode what it decodes.
        if header.size > block_limit && header.block_type != RLE {
            return Err(BlockError::BlockTooLarge { size: header.size, limit: block_limit }.into());
        }
        let block_end = target.out.len() + block_limit.max(if header.block_type == RLE { header.size } else { 0 });
        let (limit, limit_error) = if target.output_limit < block_end {
            (target.output_limit, Error::OutputLimit { limit: target.configured_limit })
        } else {
            (block_end, BlockError::Corrupt { what: "block decodes to more than the block size limit" }.into())
        };
        match header.block_type {
            RAW | RLE => {
                if target.out.len() + header.size > limit {
                    return Err(limit_error);
                }
                if header.block_type == RAW {
                    target.out.extend_from_slice(body);
                } else {
                    target.out.fill(header.size, body[0]);
                }
                Ok(())
            }
            COMPRESSED => {
                let mut buffer = core::mem::take(&mut self.literals);
                let result = literals::decode(body, &mut self.huffman, &mut buffer).map_err(Error::from).and_then(
                    |(count, used)| {
                        let mut dst = Output {
                            out: target.out,
                            history_start: target.history_start,
                            dict: target.dict,
                            limit,
                            limit_error,
                        };
                        sequences::decode_and_execute(
                            &body[used..],
                            &buffer,
                            count,
                            &mut self.tables,
                            &self.predefined,
                            &mut dst,
                        )
                    },
                );
                self.literals = buffer;
                result
            }
            _ => Err(BlockError::ReservedBlockType.into()),
        }
    }
}
