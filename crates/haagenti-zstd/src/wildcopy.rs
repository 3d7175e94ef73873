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

/// Why a sequence could not be executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceError {
    /// The output would pass the limit.
    Limit,
    /// The sequence uses more literals than the block decoded.
    Literals,
    /// The offset reaches before the history and the dictionary.
    Offset,
}

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

    /// Executes one sequence: appends `lits[pos..pos + ll]`, then `ml` bytes copied from
    /// `offset` bytes back (reaching into `dict` before `history_start`).
    ///
    /// `lits` must extend 16 bytes past the block's last literal, so `pos + ll + 16 <= lits.len()`
    /// is both the check that enough literals remain and the bound for wild reads (W4).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sequence(
        &mut self,
        lits: &[u8],
        pos: usize,
        ll: usize,
        offset: usize,
        ml: usize,
        history_start: usize,
        dict: &[u8],
    ) -> Result<(), SequenceError> {
        if ll + ml > self.limit - self.len {
            return Err(SequenceError::Limit);
        }
        if pos + ll + 16 > lits.len() {
            return Err(SequenceError::Literals);
        }
        // SAFETY: reads stay inside `lits` (checked above, W4); writes are bounded by the limit
        // check above (W3); `lits` is not `buf`'s allocation.
        unsafe { wild_copy(lits.as_ptr().add(pos), self.base.add(self.len), ll) };
        self.len += ll;
        if offset > self.len - history_start {
            return self.match_from_dict(offset, ml, history_start, dict);
        }
        // SAFETY: 1 <= offset <= len - history_start <= len (offsets are never 0), and the
        // limit check above bounds the writes (W3).
        unsafe { self.copy_match(offset, ml) };
        Ok(())
    }

    #[cold]
    fn match_from_dict(
        &mut self,
        offset: usize,
        ml: usize,
        history_start: usize,
        dict: &[u8],
    ) -> Result<(), SequenceError> {
        let back = offset - (self.len - history_start);
        if back > dict.len() || offset == 0 {
            return Err(SequenceError::Offset);
        }
        let start = dict.len() - back;
        let n = ml.min(back);
        self.exact(&dict[start..start + n]);
        if ml > n {
            // The rest comes from the start of the frame's history: offset <= len now.
            // SAFETY: offset = (len - history_start) after the copy above, so 1 <= offset <= len;
            // the caller's limit check covered all `ml` bytes (W3).
            unsafe { self.copy_match(offset, ml - n) };
        }
        Ok(())
    }

    /// Appends `n` bytes copied from `offset` bytes back.
    ///
    /// # Safety
    /// `1 <= offset <= self.len`, and `n` bytes fit under the limit (W3).
    #[inline(always)]
    unsafe fn copy_match(&mut self, offset: usize, n: usize) {
        debug_assert!(offset >= 1 && offset <= self.len && self.fits(n));
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

/// Copies `n` bytes in 16-byte chunks, rounding up (at least one chunk): reads and writes up to
/// 16 bytes past `n`.
///
/// # Safety
/// `src` must be readable and `dst` writable for `max(n, 1)` rounded up to 16 bytes; chunk `k`'s source
/// `[src + 16k, src + 16k + 16)` must not overlap its destination and must be initialized.
#[inline(always)]
unsafe fn wild_copy(src: *const u8, dst: *mut u8, n: usize) {
    // Most runs are short: one unconditional chunk, then a loop only for longer ones. For
    // `n == 0` the chunk lands in slack and is overwritten later.
    // SAFETY: guaranteed by the caller for every chunk below the rounded-up length (at least one).
    unsafe { ptr::copy_nonoverlapping(src, dst, 16) };
    let mut i = 16;
    while i < n {
        // SAFETY: as above.
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
