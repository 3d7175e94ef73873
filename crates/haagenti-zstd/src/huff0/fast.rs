//! The four-stream Huffman fast loop: `K` symbols from each stream per step with no bounds
//! checks inside, the bit containers kept in registers, in the way of the reference decoder's
//! `HUF_decompress4X1_usingDTable_internal_fast` loop.
//!
//! Each stream's container `w` holds its unread bits at the top and a marker bit below them:
//! loading sets bit 0 and shifts the word left by the bits already used, so the marker's
//! position, `w.trailing_zeros()`, is the number of bits consumed from the loaded word. Decoding
//! a symbol is one table lookup and one shift; no counter is kept.
//!
//! Invariants, cited as H1..H4 by every `SAFETY` comment below:
//! - H1. Stream `s`'s bytes are `src[s]`, at least 8 long; its load position `p[s]` satisfies
//!   `src[s].as_ptr() <= p[s]` and `p[s] + 8 <= src[s].as_ptr() + src[s].len()` (the reader's B1).
//! - H2. A step consumes at most `8 + K * LOG <= 63` bits of a loaded word (at most 8 before it,
//!   checked on entry, and `K * LOG <= 55`), so the marker stays in the word and `w` is never 0;
//!   the reload after the step moves `p[s]` back by `consumed / 8 <= 7` bytes. Steps run in
//!   batches only as long as every stream has `7 * steps` bytes before `p[s]`, which keeps H1.
//! - H3. Step `i` of a batch writes bytes `[done, done + K)` of each output segment, and batches
//!   run only while `done + K * steps` is within the shortest segment (the last).
//! - H4. Table indexes are `w >> (64 - LOG)`, below `2^LOG <= CELLS`.
#![allow(unsafe_code)]

use core::num::NonZeroU64;
use core::ptr;

use super::CELLS;
use crate::bit_io::BackwardReader;

/// Reloads a stream's container after a step.
macro_rules! reload {
    ($w:ident, $p:ident) => {
        // SAFETY: H2 - the marker bit keeps `w` non-zero.
        let used = unsafe { NonZeroU64::new_unchecked($w) }.trailing_zeros();
        // SAFETY: H2 - the batch bound leaves at least 7 bytes before `p` per step, so `p`
        // stays inside the stream and H1 holds for the load.
        $p = unsafe { $p.sub((used >> 3) as usize) };
        // SAFETY: H1, as just said.
        $w = unsafe { load($p, used & 7) };
    };
}

/// Each stream's start, load position and loaded container; `None` (nothing read) when a
/// stream is shorter than 8 bytes or has more than 8 bits consumed.
#[inline(always)]
#[allow(clippy::type_complexity)]
fn start(streams: &[BackwardReader<'_>; 4]) -> Option<([*const u8; 4], [*const u8; 4], [u64; 4])> {
    let parts = streams.each_ref().map(BackwardReader::position);
    if parts.iter().any(|&(src, _, consumed)| src.len() < 8 || consumed > 8) {
        return None;
    }
    let base = parts.map(|(src, _, _)| src.as_ptr());
    // SAFETY: H1 - `ptr + 8 <= src.len()` is the reader's B1, so `p` and its 8-byte load are in `src`.
    let p = parts.map(|(src, ptr, _)| unsafe { src.as_ptr().add(ptr) });
    // SAFETY: H1 for each `p`, as just established; `consumed <= 8` was checked.
    let w = [0, 1, 2, 3].map(|s| unsafe { load(p[s], parts[s].2) });
    Some((base, p, w))
}

/// Steps every stream has input for: 7 bytes before its load position a step (H2); `p >= base`
/// by H1.
#[inline(always)]
fn input_steps(p: [*const u8; 4], base: [*const u8; 4]) -> usize {
    p.iter().zip(base).map(|(&p, b)| (p as usize - b as usize) / 7).min().unwrap_or(0)
}

/// Leaves each reader where its stream stopped.
#[inline(always)]
fn park(streams: &mut [BackwardReader<'_>; 4], base: [*const u8; 4], ends: [(u64, *const u8); 4]) {
    for ((s, (w, p)), b) in streams.iter_mut().zip(ends).zip(base) {
        s.resume(p as usize - b as usize, w.trailing_zeros());
    }
}

/// Decodes `K` symbols per stream per step while all four streams have input and output for
/// whole batches of steps; leaves each reader where its stream stopped and returns the symbols
/// written to each output segment. Returns 0 without reading when a stream is shorter than 8
/// bytes or has more than 8 bits consumed.
///
/// `cells` must be a table of log `LOG` whose codes are at most `LOG` bits.
#[inline(always)]
pub(super) fn decode_4<const K: usize, const LOG: u32>(
    cells: &[u16; CELLS],
    streams: &mut [BackwardReader<'_>; 4],
    outs: [&mut [u8]; 4],
) -> usize {
    const { assert!(K as u32 * LOG <= 55 && LOG <= 12) };
    let Some((base, [mut p0, mut p1, mut p2, mut p3], [mut w0, mut w1, mut w2, mut w3])) = start(streams) else {
        return 0;
    };
    // The shortest segment bounds the steps (H3); the first three are at least as long.
    let out_len = outs.iter().map(|o| o.len()).min().unwrap_or(0);
    let [o0, o1, o2, o3] = outs.map(|o| o.as_mut_ptr());
    let shift = 64 - LOG;

    let mut done = 0usize;
    loop {
        let steps = ((out_len - done) / K).min(input_steps([p0, p1, p2, p3], base));
        if steps == 0 {
            break;
        }
        for _ in 0..steps {
            macro_rules! symbol {
                ($w:ident, $o:ident, $k:expr) => {
                    // H4: the index is below 2^LOG <= CELLS, so the compiler drops the check.
                    let cell = cells[($w >> shift) as usize];
                    $w = $w.wrapping_shl(u32::from(cell >> 8));
                    // SAFETY: H3 - byte `done + k` of this segment, inside the batch's bound.
                    unsafe { *$o.add(done + $k) = cell as u8 };
                };
            }
            for k in 0..K {
                symbol!(w0, o0, k);
                symbol!(w1, o1, k);
                symbol!(w2, o2, k);
                symbol!(w3, o3, k);
            }
            reload!(w0, p0);
            reload!(w1, p1);
            reload!(w2, p2);
            reload!(w3, p3);
            done += K;
        }
    }
    park(streams, base, [(w0, p0), (w1, p1), (w2, p2), (w3, p3)]);
    done
}

/// Loads the 8 bytes at `p` as a container with its marker bit, `used` bits already consumed.
///
/// # Safety
/// `p` must be readable for 8 bytes (H1), and `used <= 8`.
#[inline(always)]
unsafe fn load(p: *const u8, used: u32) -> u64 {
    // SAFETY: the caller guarantees 8 readable bytes; unaligned reads are allowed.
    (unsafe { ptr::read_unaligned(p.cast::<u64>()) }.to_le() | 1) << used
}

/// [`decode_4`] over a table of symbol pairs: each cell is `s1 | s2 << 8 | bits << 16 |
/// count << 24`, one or two symbols whose codes together take `bits <= LOG` bits. Every
/// lookup writes two bytes and advances its segment by `count`, so each stream keeps its own
/// position. Returns the symbols written to each segment.
///
/// Invariants as [`decode_4`]'s, with H3 per stream: a step writes bytes `[d, d + 2 K)` of its
/// segment at most, and batches run only while `d + 2 K * steps` is within every segment.
/// The symbols are those sequential decoding gives: a pair is formed only when the second
/// code's bits all lie inside the first lookup's window.
#[inline(always)]
pub(super) fn decode_4_pairs<const K: usize, const LOG: u32>(
    pairs: &[u32; CELLS],
    streams: &mut [BackwardReader<'_>; 4],
    outs: [&mut [u8]; 4],
) -> [usize; 4] {
    const { assert!(K as u32 * LOG <= 55 && LOG <= 12) };
    let Some((base, [mut p0, mut p1, mut p2, mut p3], [mut w0, mut w1, mut w2, mut w3])) = start(streams) else {
        return [0; 4];
    };
    let lens = outs.each_ref().map(|o| o.len());
    let [o0, o1, o2, o3] = outs.map(|o| o.as_mut_ptr());
    let shift = 64 - LOG;

    let [mut d0, mut d1, mut d2, mut d3] = [0usize; 4];
    loop {
        let out_room = |len: usize, d: usize| (len - d) / (2 * K);
        let steps = out_room(lens[0], d0)
            .min(out_room(lens[1], d1))
            .min(out_room(lens[2], d2))
            .min(out_room(lens[3], d3))
            .min(input_steps([p0, p1, p2, p3], base));
        if steps == 0 {
            break;
        }
        for _ in 0..steps {
            macro_rules! pair {
                ($w:ident, $o:ident, $d:ident) => {
                    // H4: the index is below 2^LOG <= CELLS, so the compiler drops the check.
                    let cell = pairs[($w >> shift) as usize];
                    $w = $w.wrapping_shl((cell >> 16) & 0xFF);
                    // SAFETY: H3 - bytes `d` and `d + 1` of this segment, inside the batch's
                    // bound (`d` grows by at most 2 a lookup, `2 K` a step).
                    unsafe { ptr::write_unaligned($o.add($d).cast::<u16>(), (cell as u16).to_le()) };
                    $d += (cell >> 24) as usize;
                };
            }
            for _ in 0..K {
                pair!(w0, o0, d0);
                pair!(w1, o1, d1);
                pair!(w2, o2, d2);
                pair!(w3, o3, d3);
            }
            reload!(w0, p0);
            reload!(w1, p1);
            reload!(w2, p2);
            reload!(w3, p3);
        }
    }
    park(streams, base, [(w0, p0), (w1, p1), (w2, p2), (w3, p3)]);
    [d0, d1, d2, d3]
}
