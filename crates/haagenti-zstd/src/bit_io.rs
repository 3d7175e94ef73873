//! Bit readers (RFC 8878 section 4.1 and 4.2.1).
//!
//! Entropy-coded streams are read backward: the last byte holds a sentinel `1` above the final
//! bits, and reading moves toward the first byte, most significant bits first. Table
//! descriptions are read forward, least significant bits first.

use crate::error::BlockError;

/// Reads a bitstream backward through a 64-bit container, as the reference decoder does.
///
/// `left` counts the bits of `container` not read yet: its low `left` bits, the next one at
/// position `left - 1`. Reading `n` bits is `left -= n` and one shift and mask of the container
/// (`shrx` and `bzhi` where BMI2 is on). Reading past the start of the stream makes `left` wrap
/// below zero (as a `u32`, above 64), which [`BackwardReader::overflowed`] reports; values are
/// always masked to the bits asked for, so a corrupt stream can give wrong values but never
/// out-of-range ones.
#[derive(Debug, Clone)]
pub struct BackwardReader<'a> {
    src: &'a [u8],
    /// Index in `src` of the first byte loaded into `container`.
    ptr: usize,
    container: u64,
    /// Unread bits in `container`, wrapping below zero after an overflow. A `u64` although it
    /// never exceeds 64 (until it wraps): as a `u32` on wasm32, where `ptr` is 32 bits too,
    /// LLVM kept the two in one 64-bit register, and every read in the sequence loop split and
    /// rejoined it (shifts by 32, masks, ors).
    left: u64,
}

impl<'a> BackwardReader<'a> {
    /// Opens a stream whose last byte carries the sentinel bit.
    pub fn new(src: &'a [u8]) -> Result<Self, BlockError> {
        let last = *src.last().ok_or(BlockError::Corrupt { what: "empty bitstream" })?;
        if last == 0 {
            return Err(BlockError::Corrupt { what: "bitstream without a sentinel bit" });
        }
        let padding = last.leading_zeros() + 1;
        let mut reader = if src.len() >= 8 {
            let ptr = src.len() - 8;
            BackwardReader { src, ptr, container: load(&src[ptr..]), left: 64 }
        } else {
            let mut bytes = [0u8; 8];
            bytes[..src.len()].copy_from_slice(src);
            BackwardReader { src, ptr: 0, container: u64::from_le_bytes(bytes), left: src.len() as u64 * 8 }
        };
        reader.left -= u64::from(padding);
        Ok(reader)
    }

    /// Takes `n` bits (0..=56 after a [`refill`](Self::refill)).
    #[inline(always)]
    pub fn read(&mut self, n: u32) -> u64 {
        let v = self.peek(n);
        self.skip(n);
        v
    }

    /// [`read`](Self::read) in fewer instructions (a shift and a mask, `shrx` and `bzhi` with
    /// BMI2), for decoders that never use bits from past the stream's start: those read as
    /// garbage here, not as zeros (still masked to `n` bits).
    #[inline(always)]
    pub(crate) fn read_fast(&mut self, n: u32) -> u64 {
        debug_assert!(n <= 56);
        self.left = self.left.wrapping_sub(u64::from(n));
        // Wrapping keeps an overflowed reader from panicking.
        self.container.wrapping_shr(self.left as u32) & ((1u64 << n) - 1)
    }

    /// Looks at the next `n` bits without taking them.
    #[inline(always)]
    pub fn peek(&self, n: u32) -> u64 {
        // Shifting in two steps keeps n == 0 defined; wrapping keeps an overflowed reader from
        // panicking (its values no longer matter, only that it reports the overflow).
        // Unlike `read`, this may look past the stream's start (near its end, a decoder peeks
        // more bits than the last code has): those bits read as zeros.
        (self.window() >> 1) >> (63 - n)
    }

    /// The unread bits moved to the top of a word (the next bit is the most significant), for
    /// decoders that consume several codes before calling [`skip`](Self::skip) with their total.
    #[inline(always)]
    pub fn window(&self) -> u64 {
        self.container.wrapping_shl(self.consumed())
    }

    /// Drops `n` bits after a [`peek`](Self::peek).
    #[inline(always)]
    pub fn skip(&mut self, n: u32) {
        self.left = self.left.wrapping_sub(u64::from(n));
    }

    /// Gives back the last `n` bits read (at most what was read since the last refill).
    #[inline(always)]
    pub(crate) fn unread(&mut self, n: u32) {
        self.left = self.left.wrapping_add(u64::from(n));
    }

    /// Bits read from the container (above 64 after an overflow).
    #[inline(always)]
    fn consumed(&self) -> u32 {
        64u64.wrapping_sub(self.left) as u32
    }

    /// Moves the container back so that at least 56 bits are ready, unless the stream start is
    /// near.
    #[inline(always)]
    pub fn refill(&mut self) {
        if self.ptr >= 8 {
            // Fast path: the container moves back by the whole bytes consumed. Callers read at
            // most 56 bits between refills, so the step is at most 8; `min` keeps it in range
            // whatever happens (B1).
            let step = ((self.consumed() >> 3) as usize).min(self.ptr);
            self.ptr -= step;
            self.left += step as u64 * 8;
            self.container = self.load_at_ptr();
        } else {
            self.refill_near_start();
        }
    }

    #[cold]
    fn refill_near_start(&mut self) {
        if self.overflowed() || self.ptr == 0 {
            return;
        }
        let step = self.ptr.min((self.consumed() >> 3) as usize);
        self.ptr -= step;
        self.left += step as u64 * 8;
        self.container = self.load_at_ptr();
    }

    /// The 8 bytes at `ptr`, little-endian.
    #[inline(always)]
    #[allow(unsafe_code)]
    fn load_at_ptr(&self) -> u64 {
        // B1: `ptr + 8 <= src.len()` whenever `src.len() >= 8` (the only case that loads): `ptr`
        // starts at `src.len() - 8` and only ever decreases, never below 0.
        debug_assert!(self.ptr + 8 <= self.src.len());
        // SAFETY: B1 - the 8 bytes at `ptr` are inside `src`; unaligned reads are allowed.
        u64::from_le(unsafe { core::ptr::read_unaligned(self.src.as_ptr().add(self.ptr).cast::<u64>()) })
    }

    /// The stream, the index of the first loaded byte and the bits consumed from the container:
    /// the state a specialised loop (the Huffman fast loop) takes over and hands back through
    /// [`resume`](Self::resume).
    pub(crate) fn position(&self) -> (&'a [u8], usize, u32) {
        (self.src, self.ptr, self.consumed())
    }

    /// Continues from a state reached outside this reader: the container reloaded at `ptr`,
    /// `consumed` bits of it already read. `ptr` may only move toward the start (B1), and only
    /// in streams of at least 8 bytes.
    pub(crate) fn resume(&mut self, ptr: usize, consumed: u32) {
        assert!(ptr <= self.ptr && self.src.len() >= 8, "resume moves back within a stream of 8 bytes or more");
        self.ptr = ptr;
        self.left = 64u64.wrapping_sub(u64::from(consumed));
        self.container = self.load_at_ptr();
    }

    /// Whether more bits were read than the stream holds.
    pub fn overflowed(&self) -> bool {
        self.left > 64
    }

    /// Whether every bit was read, and no more.
    pub fn is_exactly_done(&self) -> bool {
        self.ptr == 0 && self.left == 0
    }

    /// Bits left to read (negative after an overflow).
    pub fn bits_remaining(&self) -> isize {
        (self.ptr * 8) as isize + self.left as i64 as isize
    }
}

#[inline(always)]
fn load(bytes: &[u8]) -> u64 {
    let b: [u8; 8] = bytes[..8].try_into().expect("callers pass at least 8 bytes");
    u64::from_le_bytes(b)
}

/// Reads bits forward, least significant first (FSE table descriptions).
#[derive(Debug, Clone)]
pub struct ForwardReader<'a> {
    src: &'a [u8],
    bit_pos: usize,
}

impl<'a> ForwardReader<'a> {
    /// Starts at the first bit of `src`.
    pub fn new(src: &'a [u8]) -> Self {
        ForwardReader { src, bit_pos: 0 }
    }

    /// Looks at the next `n` bits (at most 32); bits past the end read as zero.
    pub fn peek(&self, n: u32) -> u32 {
        let byte = self.bit_pos / 8;
        let mut bytes = [0u8; 8];
        let avail = self.src.len().saturating_sub(byte).min(8);
        bytes[..avail].copy_from_slice(&self.src[byte..byte + avail]);
        let v = u64::from_le_bytes(bytes) >> (self.bit_pos % 8);
        (v & ((1u64 << n) - 1)) as u32
    }

    /// Takes `n` bits.
    pub fn read(&mut self, n: u32) -> u32 {
        let v = self.peek(n);
        self.bit_pos += n as usize;
        v
    }

    /// Bytes touched so far, rounded up.
    pub fn bytes_used(&self) -> usize {
        self.bit_pos.div_ceil(8)
    }

    /// Whether reading went past the end of the input.
    pub fn overran(&self) -> bool {
        self.bit_pos > self.src.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backward_reads_msb_first_from_the_end() {
        // Stream bits (from the end): sentinel in 0b0000_0101 is bit 2, leaving bits "01".
        let mut r = BackwardReader::new(&[0b1010_1010, 0b0000_0101]).unwrap();
        assert_eq!(r.bits_remaining(), 10);
        assert_eq!(r.read(2), 0b01);
        assert_eq!(r.read(4), 0b1010);
        assert_eq!(r.read(4), 0b1010);
        assert!(r.is_exactly_done());
        r.refill();
        assert_eq!(r.read(1), 0);
        assert!(r.overflowed());
    }

    #[test]
    fn long_streams_refill() {
        let mut data = alloc::vec![0xA5u8; 40];
        data.push(1);
        let mut r = BackwardReader::new(&data).unwrap();
        let mut total = 0;
        while r.bits_remaining() >= 8 {
            r.refill();
            assert_eq!(r.read(8), 0xA5);
            total += 1;
        }
        assert_eq!(total, 40);
        assert!(r.is_exactly_done());
    }

    #[test]
    fn zero_last_byte_is_rejected() {
        assert!(BackwardReader::new(&[1, 0]).is_err());
        assert!(BackwardReader::new(&[]).is_err());
    }

    #[test]
    fn forward_reads_lsb_first() {
        let mut r = ForwardReader::new(&[0b1011_0100, 0xFF]);
        assert_eq!(r.read(2), 0);
        assert_eq!(r.read(3), 0b101);
        assert_eq!(r.read(7), 0b111_1101);
        assert_eq!(r.bytes_used(), 2);
        assert!(!r.overran());
        r.read(8);
        assert!(r.overran());
    }
}
