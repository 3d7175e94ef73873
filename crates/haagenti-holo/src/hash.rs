//! BLAKE3, the hash of fragment checksums, asset ids and fragment ids.
//!
//! Natively this is the `blake3` crate (SIMD, many times faster on long inputs). The
//! WebAssembly builds use [`compact`] instead: the same function written for little code, one
//! round of the compression loop instead of seven unrolled ones and no SIMD paths, because the
//! crate's portable code is about 6 KB of the browser's decoder-only module and size is what
//! that module is judged by (npm/README.md has the figures; in Node ours hashes some 560 MB/s
//! against the crate's 800, which a decode does not feel). Its control flow depends on the
//! input's length alone, so the tests, which compare both at every length through two chunks
//! and around the block, chunk and subtree edges, and on long inputs, take every path.

/// The 32-byte BLAKE3 hash of `bytes`.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn blake3(bytes: &[u8]) -> [u8; 32] {
    *::blake3::hash(bytes).as_bytes()
}

/// The 32-byte BLAKE3 hash of `bytes`.
#[cfg(target_arch = "wasm32")]
pub(crate) fn blake3(bytes: &[u8]) -> [u8; 32] {
    compact::hash(bytes)
}

/// `hash` as 64 lowercase hex digits.
pub(crate) fn hex(hash: &[u8; 32]) -> alloc::string::String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    hash.iter().flat_map(|&b| [DIGITS[(b >> 4) as usize] as char, DIGITS[(b & 15) as usize] as char]).collect()
}

/// BLAKE3's default hash mode (no key, 32 bytes of output), after the specification
/// (O'Connor, Aumasson, Neves and Wilcox-O'Hearn, 2020): 64-byte blocks, 1024-byte chunks, and
/// a binary tree of chunk chaining values whose left subtrees are full.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) mod compact {
    const IV: [u32; 8] =
        [0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A, 0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19];
    /// Where each message word of a round comes from in the round before.
    const PERMUTATION: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
    const CHUNK_START: u32 = 1;
    const CHUNK_END: u32 = 2;
    const PARENT: u32 = 4;
    const ROOT: u32 = 8;
    const BLOCK: usize = 64;
    const CHUNK: usize = 1024;
    /// Chaining values waiting for a right sibling: one a level, and 2^54 chunks are more bytes
    /// than a 64-bit address space holds.
    const MAX_DEPTH: usize = 54;

    #[inline(always)]
    fn g(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize, x: u32, y: u32) {
        s[a] = s[a].wrapping_add(s[b]).wrapping_add(x);
        s[d] = (s[d] ^ s[a]).rotate_right(16);
        s[c] = s[c].wrapping_add(s[d]);
        s[b] = (s[b] ^ s[c]).rotate_right(12);
        s[a] = s[a].wrapping_add(s[b]).wrapping_add(y);
        s[d] = (s[d] ^ s[a]).rotate_right(8);
        s[c] = s[c].wrapping_add(s[d]);
        s[b] = (s[b] ^ s[c]).rotate_right(7);
    }

    /// The compression function, truncated to the chaining value (the first 8 output words,
    /// which are also the hash when `flags` has `ROOT`).
    fn compress(cv: &[u32; 8], block: &[u32; 16], counter: u64, len: u32, flags: u32) -> [u32; 8] {
        let mut s = [
            cv[0],
            cv[1],
            cv[2],
            cv[3],
            cv[4],
            cv[5],
            cv[6],
            cv[7],
            IV[0],
            IV[1],
            IV[2],
            IV[3],
            counter as u32,
            (counter >> 32) as u32,
            len,
            flags,
        ];
        let mut m = *block;
        for _ in 0..7 {
            g(&mut s, 0, 4, 8, 12, m[0], m[1]);
            g(&mut s, 1, 5, 9, 13, m[2], m[3]);
            g(&mut s, 2, 6, 10, 14, m[4], m[5]);
            g(&mut s, 3, 7, 11, 15, m[6], m[7]);
            g(&mut s, 0, 5, 10, 15, m[8], m[9]);
            g(&mut s, 1, 6, 11, 12, m[10], m[11]);
            g(&mut s, 2, 7, 8, 13, m[12], m[13]);
            g(&mut s, 3, 4, 9, 14, m[14], m[15]);
            m = core::array::from_fn(|i| m[PERMUTATION[i]]);
        }
        core::array::from_fn(|i| s[i] ^ s[i + 8])
    }

    /// The chaining value of the chunk `bytes` (at most 1024), number `index` of the input.
    fn chunk(bytes: &[u8], index: u64, root: bool) -> [u32; 8] {
        let blocks = bytes.len().div_ceil(BLOCK).max(1);
        let mut cv = IV;
        for b in 0..blocks {
            let block = &bytes[b * BLOCK..bytes.len().min((b + 1) * BLOCK)];
            let mut padded = [0u8; BLOCK];
            padded[..block.len()].copy_from_slice(block);
            let words = core::array::from_fn(|i| {
                u32::from_le_bytes([padded[4 * i], padded[4 * i + 1], padded[4 * i + 2], padded[4 * i + 3]])
            });
            let mut flags = if b == 0 { CHUNK_START } else { 0 };
            if b + 1 == blocks {
                flags |= CHUNK_END | if root { ROOT } else { 0 };
            }
            cv = compress(&cv, &words, index, block.len() as u32, flags);
        }
        cv
    }

    fn parent(left: &[u32; 8], right: &[u32; 8], flags: u32) -> [u32; 8] {
        let block = core::array::from_fn(|i| if i < 8 { left[i] } else { right[i - 8] });
        compress(&IV, &block, 0, BLOCK as u32, PARENT | flags)
    }

    /// The 32-byte BLAKE3 hash of `bytes`.
    pub(crate) fn hash(bytes: &[u8]) -> [u8; 32] {
        let chunks = bytes.len().div_ceil(CHUNK).max(1);
        let mut stack = [[0u32; 8]; MAX_DEPTH];
        let mut depth = 0;
        // Every chunk but the last: push its value, merging full subtrees as they complete
        // (after chunk i, one merge per trailing zero bit of i + 1).
        for i in 0..chunks - 1 {
            let mut cv = chunk(&bytes[i * CHUNK..(i + 1) * CHUNK], i as u64, false);
            let mut total = i + 1;
            while total & 1 == 0 {
                depth -= 1;
                cv = parent(&stack[depth], &cv, 0);
                total >>= 1;
            }
            stack[depth] = cv;
            depth += 1;
        }
        // The last chunk, then its left siblings from the nearest up; the last step is the root.
        let last = &bytes[(chunks - 1) * CHUNK..];
        let mut out = chunk(last, chunks as u64 - 1, depth == 0);
        while depth > 0 {
            depth -= 1;
            out = parent(&stack[depth], &out, if depth == 0 { ROOT } else { 0 });
        }
        let mut h = [0u8; 32];
        for (d, w) in h.chunks_exact_mut(4).zip(out) {
            d.copy_from_slice(&w.to_le_bytes());
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (s >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn empty_input_has_the_published_hash() {
        assert_eq!(hex(&compact::hash(&[])), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
    }

    #[test]
    fn compact_equals_the_crate_at_every_boundary() {
        let data = bytes(8 * 1024 + 65, 1);
        // Every length through two chunks, then around block, chunk and subtree boundaries.
        let mut lengths: Vec<usize> = (0..=2 * 1024 + 1).collect();
        for c in [3usize, 4, 5, 7, 8] {
            for d in [-65isize, -64, -63, -1, 0, 1, 63, 64, 65] {
                lengths.push((c * 1024).checked_add_signed(d).unwrap());
            }
        }
        for n in lengths {
            assert_eq!(compact::hash(&data[..n]), *::blake3::hash(&data[..n]).as_bytes(), "length {n}");
        }
    }

    #[test]
    fn compact_equals_the_crate_on_long_inputs() {
        // Deep trees with uneven right edges: 1 MiB plus odd tails, and a length of 2^k + 1 chunks.
        for (n, seed) in [(1usize << 20, 2u64), ((1 << 20) + 1023 * 3 + 7, 3), (1025 * 1024 + 1, 4), (333_333, 5)] {
            let data = bytes(n, seed);
            assert_eq!(compact::hash(&data), *::blake3::hash(&data).as_bytes(), "length {n}");
        }
    }

    #[test]
    fn hex_is_the_crate_s() {
        let data = bytes(100, 6);
        assert_eq!(hex(&blake3(&data)), ::blake3::hash(&data).to_hex().as_str());
    }
}
