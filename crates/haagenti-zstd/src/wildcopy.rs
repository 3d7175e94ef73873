//! Sequence execution with wild copies: fixed 16-byte moves that may run past the exact end
//! into reserved slack, instead of one exact `memcpy` per literal run and match.
//!
//! Invariants, cited as W1..W4 by every `SAFETY` comment below:
//! - W1. While a [`Writer`] lives, `buf.capacity() >= limit + WILD` and `len <= limit`.
//! - W2. Bytes `[0, len)` of `buf`'s allocation are initialized. `buf.len()` stays at its value
//!   when the writer was made until [`Writer::finish`] sets it to `len` (so a writer dropped on an
//!   error leaves the vector as it was).
//! - W3. A copy of `n` bytes at `len` starts only after checking `len + n <= limit`; wild writes
//!   end before `len + n + 16 <= limit + WILD`, inside the capacity (W1).
//! - W4. A chunk (16 or 8 bytes) is read only from bytes that are initialized: literal sources
//!   are checked to hold 16 bytes past the run; match sources lie at least one chunk behind the
//!   chunk being written, so every byte read was written before (W2).
#![allow(unsafe_code)]

use alloc::vec::Vec;
use core::ptr;

/// Slack reserved past the limit for wild writes.
pub(crate) const WILD: usize = 32;

/// Appends literal runs and matches to a vector's spare capacity.
pub(crate) struct Writer<'a> {
    buf: &'a mut Vec<u8>,
    /// `buf`'s allocation, which does not move while the writer lives (nothing else touches `buf`).
    base: *mut u8,
    len: usize,
    limit: usize,
}

impl<'a> Writer<'a> {
    /// Prepares to append up to `limit - buf.len()` bytes.
    pub(crate) fn new(buf: &'a mut Vec<u8>, limit: usize) -> Self {
        let len = buf.len();
        debug_assert!(limit >= len);
        buf.reserve(limit - len + WILD); // W1
        let base = buf.as_mut_ptr();
        Writer { buf, base, len, limit }
    }

    /// Bytes written so far, counting those before the writer was made.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether `n` more bytes fit under the limit.
    #[inline(always)]
    pub(crate) fn fits(&self, n: usize) -> bool {
        n <= self.limit - self.len
    }

    /// Sets the vector's length to everything written.
    pub(crate) fn finish(self) {
        // SAFETY: W2 - bytes [0, len) are initialized, and len <= limit < capacity by W1.
        unsafe { self.buf.set_len(self.len) };
    }

    /// Appends `src[start..start + n]`; `src` must hold 16 readable bytes past that run.
    /// The caller has checked [`fits`](Self::fits)`(n)`.
    #[inline(always)]
    pub(crate) fn literals(&mut self, src: &[u8], start: usize, n: usize) {
        assert!(start + n + 16 <= src.len() && self.fits(n), "literal run outside its padded buffer");
        // SAFETY: reads stay inside `src` (checked above, W4); writes stay inside the capacity
        // (W3, checked by the caller and re-checked above); the two are different allocations.
        unsafe { wild_copy(src.as_ptr().add(start), self.base.add(self.len), n) };
        self.len += n;
    }

    /// Appends `n` bytes copied from `offset` bytes back; `offset` is at least 1 and at most
    /// `len - history_start`, and the caller has checked [`fits`](Self::fits)`(n)`.
    #[inline(always)]
    pub(crate) fn copy_match(&mut self, offset: usize, n: usize) {
        assert!(offset >= 1 && offset <= self.len && self.fits(n), "match outside the written data");
        let base = self.base;
        // SAFETY: `dst` is at `len`, the source starts `offset <= len` bytes before it, inside
        // the allocation; writes are bounded by W3.
        unsafe {
            let dst = base.add(self.len);
            if offset >= 16 {
                // Each chunk's source ends at or before the chunk's destination (W4).
                wild_copy(dst.sub(offset), dst, n);
            } else if offset >= 8 {
                // Same with 8-byte chunks, whose sources also end before their destinations.
                wild_copy8(dst.sub(offset), dst, n);
            } else {
                // Spread the pattern byte by byte over `period` bytes (a multiple of the offset
                // of at least 8), then copy 8-byte chunks from `period` back (W4).
                let period = offset * 8usize.div_ceil(offset);
                let first = n.min(period);
                for i in 0..first {
                    *dst.add(i) = *dst.add(i).sub(offset);
                }
                if n > first {
                    wild_copy8(dst.add(first).sub(period), dst.add(first), n - first);
                }
            }
        }
        self.len += n;
    }

    /// Appends `src` exactly (dictionary content).
    pub(crate) fn exact(&mut self, src: &[u8]) {
        assert!(self.fits(src.len()), "exact copy past the limit");
        // SAFETY: W3 bounds the write; `src` is another allocation (the dictionary).
        unsafe { ptr::copy_nonoverlapping(src.as_ptr(), self.base.add(self.len), src.len()) };
        self.len += src.len();
    }
}

/// Copies `n` bytes in 16-byte chunks, rounding up: reads and writes up to 15 bytes past `n`.
///
/// # Safety
/// `src` must be readable and `dst` writable for `n` rounded up to 16 bytes; chunk `k`'s source
/// `[src + 16k, src + 16k + 16)` must not overlap its destination and must be initialized.
#[inline(always)]
unsafe fn wild_copy(src: *const u8, dst: *mut u8, n: usize) {
    let mut i = 0;
    while i < n {
        // SAFETY: guaranteed by the caller for every chunk below the rounded-up length.
        unsafe { ptr::copy_nonoverlapping(src.add(i), dst.add(i), 16) };
        i += 16;
    }
}

/// [`wild_copy`] with 8-byte chunks: reads and writes up to 7 bytes past `n`.
///
/// # Safety
/// As for [`wild_copy`], with 8-byte chunks.
#[inline(always)]
unsafe fn wild_copy8(src: *const u8, dst: *mut u8, n: usize) {
    let mut i = 0;
    while i < n {
        // SAFETY: guaranteed by the caller for every chunk below the rounded-up length.
        unsafe { ptr::copy_nonoverlapping(src.add(i), dst.add(i), 8) };
        i += 8;
    }
}
