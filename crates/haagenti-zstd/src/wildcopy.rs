//! Sequence execution with wild copies: fixed 16-byte moves that may run past the exact end
//! into reserved slack, instead of one exact `memcpy` per literal run and match.
//!
//! Output goes to a [`Sink`]: a vector's spare capacity (reserved with slack) or a caller's
//! slice, which has no slack, so sequences that end within [`WILD`] bytes of the slice's end are
//! copied exactly.
//!
//! Invariants, cited as W1..W4 by every `SAFETY` comment below:
//! - W1. While a [`Writer`] lives, the `end` bytes from `base` are writable memory of the sink's
//!   allocation (a vector's capacity, or the whole slice), `len <= end` and `len <= limit`; for
//!   a slice `limit <= end`. `wild_end` is `min(limit + WILD, end)`.
//! - W2. Bytes `[0, len)` from `base` are initialized (a slice is initialized throughout). A
//!   vector's length stays at most `len`: it is set to `len` only before the vector grows (so
//!   the written bytes move with it) and by [`Writer::finish`].
//! - W3. A wild sequence of `n` bytes at `len` starts only after checking
//!   `len + n + WILD <= wild_end`; its wild writes end before `len + n + 16`, inside `end` (W1).
//!   An exact sequence starts only after checking `len + n <= limit` and `len + n <= end`
//!   (growing a vector first), and writes exactly `n` bytes.
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

/// Where decoded bytes go: appended to a vector, or written into a caller's slice from its
/// front. Everything here is safe; only [`Writer`] writes through raw pointers.
#[derive(Debug)]
pub(crate) enum Sink<'a> {
    /// A vector that grows as needed.
    Vec(&'a mut Vec<u8>),
    /// A slice of fixed size, of which the first `len` bytes are written.
    Slice {
        /// The caller's buffer.
        buf: &'a mut [u8],
        /// Bytes written so far.
        len: usize,
    },
}

impl Sink<'_> {
    /// Bytes written.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self {
            Sink::Vec(v) => v.len(),
            Sink::Slice { len, .. } => *len,
        }
    }

    /// The bytes written.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Sink::Vec(v) => v,
            Sink::Slice { buf, len } => &buf[..*len],
        }
    }

    /// Room for `n` more bytes without growing, where it can be had (a vector's allocation
    /// failing is not an error: it grows as it is written then). An empty vector gets exactly
    /// `n`; a vector that holds bytes already grows as vectors do (frames after the first).
    pub(crate) fn reserve(&mut self, n: usize) {
        if let Sink::Vec(v) = self {
            let _ = if v.is_empty() { v.try_reserve_exact(n) } else { v.try_reserve(n) };
        }
    }

    /// Appends `src`. The caller checked the output limit, which for a slice is within its size.
    pub(crate) fn extend_from_slice(&mut self, src: &[u8]) {
        match self {
            Sink::Vec(v) => v.extend_from_slice(src),
            Sink::Slice { buf, len } => {
                buf[*len..*len + src.len()].copy_from_slice(src);
                *len += src.len();
            }
        }
    }

    /// Appends `n` copies of `byte`, under the same condition.
    pub(crate) fn fill(&mut self, n: usize, byte: u8) {
        match self {
            Sink::Vec(v) => v.resize(v.len() + n, byte),
            Sink::Slice { buf, len } => {
                buf[*len..*len + n].fill(byte);
                *len += n;
            }
        }
    }
}

/// Appends literal runs and matches to a sink.
pub(crate) struct Writer<'s, 'a> {
    sink: &'s mut Sink<'a>,
    /// The sink's allocation, which does not move while the writer lives (nothing else touches
    /// the sink).
    base: *mut u8,
    len: usize,
    limit: usize,
    /// The allocation's writable bytes from `base` (W1).
    end: usize,
    /// Wild sequences end at least [`WILD`] bytes before this (W1, W3).
    wild_end: usize,
}

impl<'s, 'a> Writer<'s, 'a> {
    /// Prepares to append up to `limit - sink.len()` bytes. For a slice, `limit` is at most its
    /// size. A vector is not grown here: its spare capacity is used as it is (a frame that
    /// declares its size reserved exactly that), and it grows only when a sequence needs more.
    pub(crate) fn new(sink: &'s mut Sink<'a>, limit: usize) -> Self {
        let (base, len, end) = match sink {
            Sink::Vec(buf) => {
                let len = buf.len();
                assert!(limit >= len, "writer limit below the output");
                (buf.as_mut_ptr(), len, buf.capacity()) // W1
            }
            Sink::Slice { buf, len } => {
                assert!(limit >= *len && limit <= buf.len(), "writer limit outside the slice"); // W1
                (buf.as_mut_ptr(), *len, buf.len())
            }
        };
        Writer { sink, base, len, limit, end, wild_end: limit.saturating_add(WILD).min(end) }
    }

    /// Grows a vector sink to hold `n` more bytes (and [`WILD`] of slack, so the next sequences
    /// are wild again). A slice never needs to: its limit is within it (W1).
    #[cold]
    #[inline(never)]
    fn grow(&mut self, n: usize) {
        if let Sink::Vec(buf) = self.sink {
            // SAFETY: W2 - bytes [0, len) are initialized, and len <= end = capacity (W1). With
            // the length set, growing moves them along.
            unsafe { buf.set_len(self.len) };
            buf.reserve(n.saturating_add(WILD));
            self.base = buf.as_mut_ptr();
            self.end = buf.capacity();
            self.wild_end = self.limit.saturating_add(WILD).min(self.end);
        }
    }

    /// Whether `n` more bytes fit under the limit.
    #[inline(always)]
    pub(crate) fn fits(&self, n: usize) -> bool {
        n <= self.limit - self.len
    }

    /// Sets the sink's length to everything written.
    pub(crate) fn finish(self) {
        match self.sink {
            // SAFETY: W2 - bytes [0, len) are initialized, and len <= end = capacity by W1.
            Sink::Vec(buf) => unsafe { buf.set_len(self.len) },
            Sink::Slice { len, .. } => *len = self.len,
        }
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
        // `wild_end` is at most `limit + WILD`, so this one compare is also the limit check.
        if ll + ml + WILD > self.wild_end - self.len {
            return self.sequence_exact(lits, pos, ll, offset, ml, history_start, dict);
        }
        if pos + ll + 16 > lits.len() {
            return Err(SequenceError::Literals);
        }
        // SAFETY: reads stay inside `lits` (checked above, W4); writes are bounded by the check
        // above (W3); `lits` is not the sink's allocation.
        unsafe { wild_copy(lits.as_ptr().add(pos), self.base.add(self.len), ll) };
        self.len += ll;
        if offset > self.len - history_start {
            return self.match_from_dict(offset, ml, history_start, dict, false);
        }
        // SAFETY: 1 <= offset <= len - history_start <= len (offsets are never 0), and the
        // check above bounds the writes (W3).
        unsafe { self.copy_match(offset, ml) };
        Ok(())
    }

    /// [`sequence`](Self::sequence) with exact copies: for the last sequences before the end of
    /// a slice or of a vector's capacity (which it grows when the sequence needs it), and for
    /// any that pass the limit (which it reports).
    #[cold]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn sequence_exact(
        &mut self,
        lits: &[u8],
        pos: usize,
        ll: usize,
        offset: usize,
        ml: usize,
        history_start: usize,
        dict: &[u8],
    ) -> Result<(), SequenceError> {
        if !self.fits(ll + ml) {
            return Err(SequenceError::Limit);
        }
        let run = lits.get(pos..pos + ll).ok_or(SequenceError::Literals)?;
        if pos + ll + 16 > lits.len() {
            return Err(SequenceError::Literals);
        }
        if ll + ml > self.end - self.len {
            self.grow(ll + ml);
        }
        self.exact(run);
        if offset > self.len - history_start {
            return self.match_from_dict(offset, ml, history_start, dict, true);
        }
        // SAFETY: 1 <= offset <= len as above; `fits` and the growth above made room for all
        // `ll + ml` bytes (W3).
        unsafe { self.copy_match_exact(offset, ml) };
        Ok(())
    }

    #[cold]
    fn match_from_dict(
        &mut self,
        offset: usize,
        ml: usize,
        history_start: usize,
        dict: &[u8],
        exact: bool,
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
            // the caller's check covered all `ml` bytes, for wild writes or exact ones (W3).
            unsafe {
                if exact {
                    self.copy_match_exact(offset, ml - n);
                } else {
                    self.copy_match(offset, ml - n);
                }
            }
        }
        Ok(())
    }

    /// Appends `n` bytes copied from `offset` bytes back, in wild chunks.
    ///
    /// # Safety
    /// `1 <= offset <= self.len`, and `len + n + WILD <= wild_end` (W3).
    #[inline(always)]
    unsafe fn copy_match(&mut self, offset: usize, n: usize) {
        debug_assert!(offset >= 1 && offset <= self.len && self.len + n + WILD <= self.wild_end);
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
                // A table rather than a division (slow, and on wasm32 not strength-reduced).
                const PERIOD: [usize; 8] = [8, 8, 8, 9, 8, 10, 12, 14];
                let period = PERIOD[offset];
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

    /// Appends `n` bytes copied from `offset` bytes back, exactly, byte by byte.
    ///
    /// # Safety
    /// `1 <= offset <= self.len`, and `n` bytes fit under the limit and in the allocation (W3).
    unsafe fn copy_match_exact(&mut self, offset: usize, n: usize) {
        debug_assert!(offset >= 1 && offset <= self.len && self.fits(n) && n <= self.end - self.len);
        // SAFETY: every byte read lies `offset` before the one written, at or after `base` and
        // written before (W2); the writes end at `len + n`, within `limit` and `end` (W1, W3).
        unsafe {
            let dst = self.base.add(self.len);
            for i in 0..n {
                *dst.add(i) = *dst.add(i).sub(offset);
            }
        }
        self.len += n;
    }

    /// Appends `src` exactly (dictionary content, literals near the end).
    pub(crate) fn exact(&mut self, src: &[u8]) {
        assert!(self.fits(src.len()), "exact copy past the limit");
        if src.len() > self.end - self.len {
            self.grow(src.len());
        }
        // SAFETY: W3 bounds the write; `src` is another allocation (the dictionary or the
        // literals buffer).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `(literal length, offset, match length)` sequences over `lits` into a vector that
    /// starts with `capacity`, against a byte-by-byte reference. Small enough for Miri.
    fn run(capacity: usize, limit: usize, seqs: &[(usize, usize, usize)]) -> (Result<(), SequenceError>, Vec<u8>) {
        let lits: Vec<u8> = (0..=255u8).collect();
        let used: usize = seqs.iter().map(|s| s.0).sum();
        let lits = &lits[..used + 16];
        let mut expected = Vec::new();
        let mut out = Vec::with_capacity(capacity);
        let mut sink = Sink::Vec(&mut out);
        let mut w = Writer::new(&mut sink, limit);
        let mut pos = 0;
        for &(ll, offset, ml) in seqs {
            if let e @ Err(_) = w.sequence(lits, pos, ll, offset, ml, 0, &[]) {
                return (e, expected);
            }
            expected.extend_from_slice(&lits[pos..pos + ll]);
            for _ in 0..ml {
                expected.push(expected[expected.len() - offset]);
            }
            pos += ll;
        }
        w.finish();
        assert_eq!(out, expected, "capacity {capacity}");
        (Ok(()), expected)
    }

    const SEQS: [(usize, usize, usize); 6] =
        [(5, 1, 20), (0, 3, 7), (30, 17, 40), (10, 8, 3), (50, 70, 100), (1, 2, 9)];

    #[test]
    fn short_offsets_repeat_their_pattern() {
        // Every offset below 16 (the 8-byte and byte-spreading paths), with lengths around the
        // pattern's period.
        for offset in 1..16 {
            for ml in [1, 3, 7, 8, 9, 14, 15, 16, 17, 40] {
                assert_eq!(run(4096, usize::MAX, &[(16, offset, ml), (2, offset, ml + 5)]).0, Ok(()), "{offset} {ml}");
            }
        }
    }

    #[test]
    fn a_vector_sink_grows_as_sequences_need() {
        let total: usize = SEQS.iter().map(|s| s.0 + s.2).sum();
        // No capacity, a little, exactly the output (the last sequences are copied exactly), and
        // plenty of slack.
        for capacity in [0, 1, 40, total - 1, total, total + WILD, 4096] {
            assert_eq!(run(capacity, usize::MAX, &SEQS).0, Ok(()));
            assert_eq!(run(capacity, total, &SEQS).0, Ok(()));
        }
    }

    #[test]
    fn a_sequence_past_the_limit_is_refused_at_any_capacity() {
        let total: usize = SEQS.iter().map(|s| s.0 + s.2).sum();
        for capacity in [0, 40, total, 4096] {
            assert_eq!(run(capacity, total - 1, &SEQS).0, Err(SequenceError::Limit));
        }
    }
}
