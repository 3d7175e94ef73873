//! A binary range coder with adaptive probabilities (the carry-less-until-flush design of
//! LZMA's coder, with 16-bit probabilities), and the integer codes built on it.
//!
//! The decoder never reads past its input: missing bytes read as zeros and are counted, and
//! [`Decoder::finish`] reports a section that needed them (or left bytes unread) as corrupt.

use alloc::vec::Vec;

use crate::HoloError;

/// Probabilities are of a 0 bit, in 1/65536.
const ONE: u32 = 1 << 16;
const TOP: u32 = 1 << 24;

/// An adaptive bit model: fast adaptation while young, steadier once it has seen a few
/// dozen bits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bit {
    p: u16,
    seen: u8,
}

impl Default for Bit {
    fn default() -> Self {
        Bit::NEW
    }
}

impl Bit {
    /// A fresh model: even odds. (A constant, so that tables of models are copied from one
    /// rather than built a field at a time: much less code. An array of them must be a `const`
    /// item too, `const M: [Bit; 16] = [Bit::NEW; 16]; let mut m = M;`: the repeat expression
    /// `[Bit::NEW; 16]` in a function body is built a model at a time, two stores each; the
    /// 272 models of one function were 3.7 KB of the decoder's wasm.)
    pub(crate) const NEW: Bit = Bit { p: (ONE / 2) as u16, seen: 0 };

    #[inline]
    fn update(&mut self, bit: bool) {
        let rate = 4 + u32::from(self.seen >= 24) + u32::from(self.seen >= 96);
        self.seen = self.seen.saturating_add(1);
        let p = u32::from(self.p);
        // Stays within 15..=65521: neither update can reach 0 or 65536.
        self.p = if bit { p - (p >> rate) } else { p + ((ONE - p) >> rate) } as u16;
    }
}

/// Writes bits; [`Encoder::finish`] returns the bytes.
pub(crate) struct Encoder {
    low: u64,
    range: u32,
    cache: u8,
    pending: u64,
    out: Vec<u8>,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder { low: 0, range: u32::MAX, cache: 0, pending: 1, out: Vec::new() }
    }
}

impl Encoder {
    fn shift_low(&mut self) {
        if (self.low as u32) < 0xFF00_0000 || self.low >> 32 != 0 {
            let carry = (self.low >> 32) as u8;
            let mut byte = self.cache;
            while self.pending > 0 {
                self.out.push(byte.wrapping_add(carry));
                byte = 0xFF;
                self.pending -= 1;
            }
            self.cache = (self.low >> 24) as u8;
        }
        self.pending += 1;
        self.low = (self.low & 0x00FF_FFFF) << 8;
    }

    #[inline]
    fn code(&mut self, p0: u32, bit: bool) {
        let bound = (self.range >> 16) * p0;
        if bit {
            self.low += u64::from(bound);
            self.range -= bound;
        } else {
            self.range = bound;
        }
        while self.range < TOP {
            self.range <<= 8;
            self.shift_low();
        }
    }

    /// One bit under `model`, which learns from it.
    #[inline]
    pub(crate) fn bit(&mut self, model: &mut Bit, bit: bool) {
        self.code(u32::from(model.p), bit);
        model.update(bit);
    }

    /// The low `n` bits of `v`, most significant first, each at probability 1/2.
    pub(crate) fn raw(&mut self, v: u32, n: u32) {
        for i in (0..n).rev() {
            self.code(ONE / 2, v >> i & 1 == 1);
        }
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        for _ in 0..5 {
            self.shift_low();
        }
        // The first byte is always the initial cache (0); the decoder assumes it.
        self.out.remove(0);
        self.out
    }
}

/// Reads what an [`Encoder`] wrote.
pub(crate) struct Decoder<'a> {
    b: &'a [u8],
    pos: usize,
    range: u32,
    code: u32,
    /// Bytes read past the end (as zeros).
    over: usize,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        let mut d = Decoder { b, pos: 0, range: u32::MAX, code: 0, over: 0 };
        for _ in 0..4 {
            d.code = d.code << 8 | u32::from(d.next_byte());
        }
        d
    }

    #[inline]
    fn next_byte(&mut self) -> u8 {
        match self.b.get(self.pos) {
            Some(&v) => {
                self.pos += 1;
                v
            }
            None => {
                self.over += 1;
                0
            }
        }
    }

    #[inline]
    fn decode(&mut self, p0: u32) -> bool {
        let bound = (self.range >> 16) * p0;
        let bit = self.code >= bound;
        if bit {
            self.code -= bound;
            self.range -= bound;
        } else {
            self.range = bound;
        }
        if self.range < TOP {
            self.renormalize();
        }
        bit
    }

    /// Brings `range` back above `TOP` a byte at a time. Out of line: a byte is due about every
    /// eight bits coded at even odds, more rarely at skewed ones, and inlined wherever a bit is
    /// decoded this loop cost some 1 KB of the browser's decoder-only module.
    #[inline(never)]
    fn renormalize(&mut self) {
        while self.range < TOP {
            self.range <<= 8;
            self.code = self.code << 8 | u32::from(self.next_byte());
        }
    }

    #[inline]
    pub(crate) fn bit(&mut self, model: &mut Bit) -> bool {
        let bit = self.decode(u32::from(model.p));
        model.update(bit);
        bit
    }

    pub(crate) fn raw(&mut self, n: u32) -> u32 {
        (0..n).fold(0, |v, _| v << 1 | u32::from(self.decode(ONE / 2)))
    }

    /// Whether the section was consumed exactly (the decoder renormalizes exactly when the
    /// encoder did, so it reads every byte and no more).
    pub(crate) fn finish(&self) -> Result<(), HoloError> {
        if self.over > 0 || self.pos != self.b.len() {
            return Err(HoloError::Corrupt("entropy-coded section size"));
        }
        Ok(())
    }
}

/// One side of the coder, so that a model's code is written once for both: the encoder codes
/// the bit it is given and returns it, the decoder ignores it and returns the bit it reads.
pub(crate) trait Coder {
    /// Whether this side is the encoder (the values given are real).
    const ENCODES: bool;
    fn bit(&mut self, model: &mut Bit, bit: bool) -> bool;
    /// `n` bits (at most 32) at probability 1/2.
    fn raw(&mut self, v: u32, n: u32) -> u32;
    /// Whether decoding has run past the end of its input (it can only fail now): loops
    /// check it once a block, so that a short input costs time in proportion to its length,
    /// not to the size it claims.
    fn exhausted(&self) -> bool {
        false
    }
}

impl Coder for Encoder {
    const ENCODES: bool = true;

    #[inline]
    fn bit(&mut self, model: &mut Bit, bit: bool) -> bool {
        Encoder::bit(self, model, bit);
        bit
    }

    fn raw(&mut self, v: u32, n: u32) -> u32 {
        Encoder::raw(self, v, n);
        if n >= 32 { v } else { v & ((1 << n) - 1) }
    }
}

impl Coder for Decoder<'_> {
    const ENCODES: bool = false;

    #[inline]
    fn bit(&mut self, model: &mut Bit, _: bool) -> bool {
        Decoder::bit(self, model)
    }

    fn raw(&mut self, _: u32, n: u32) -> u32 {
        Decoder::raw(self, n)
    }

    fn exhausted(&self) -> bool {
        // The encoder's flush leaves no slack: any byte read past the end means failure.
        self.over > 0
    }
}

/// Longest exponential-Golomb prefix: every u32 but the largest fits.
const MAX_PREFIX: usize = 31;

/// Adaptive models of an unsigned integer in exponential-Golomb form: the prefix's bits
/// adaptive, the suffix raw.
#[derive(Debug, Clone)]
pub(crate) struct UintModel {
    prefix: [Bit; MAX_PREFIX],
}

impl Default for UintModel {
    fn default() -> Self {
        UintModel::NEW
    }
}

impl UintModel {
    /// A fresh model (see `Bit::NEW`).
    pub(crate) const NEW: UintModel = UintModel { prefix: [Bit::NEW; MAX_PREFIX] };

    /// Codes `v` (saturated at `u32::MAX - 1`).
    pub(crate) fn code<C: Coder>(&mut self, c: &mut C, v: u32) -> u32 {
        let v = v.saturating_add(1);
        let len = 31 - v.leading_zeros();
        let mut n = 0;
        while n < MAX_PREFIX && c.bit(&mut self.prefix[n], (n as u32) < len) {
            n += 1;
        }
        ((1 << n) | c.raw(v, n as u32)) - 1
    }
}

/// A signed integer: zero or not, the sign, then the magnitude less one.
#[derive(Debug, Clone, Default)]
pub(crate) struct IntModel {
    zero: Bit,
    sign: Bit,
    magnitude: UintModel,
}

impl IntModel {
    /// A fresh model (see `Bit::NEW`).
    pub(crate) const NEW: IntModel = IntModel { zero: Bit::NEW, sign: Bit::NEW, magnitude: UintModel::NEW };

    /// Codes `v` (saturated to `-i32::MAX..=i32::MAX`).
    pub(crate) fn code<C: Coder>(&mut self, c: &mut C, v: i32) -> i32 {
        if !c.bit(&mut self.zero, v != 0) {
            return 0;
        }
        let neg = c.bit(&mut self.sign, v < 0);
        let m = self.magnitude.code(c, v.unsigned_abs().saturating_sub(1));
        let m = i32::try_from(m).unwrap_or(i32::MAX).saturating_add(1);
        if neg { -m } else { m }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn bits_and_integers_round_trip() {
        let mut rng = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let bits: Vec<bool> = (0..20_000).map(|i| next() % 100 < if i < 10_000 { 3 } else { 60 }).collect();
        let ints: Vec<i32> = (0..5_000).map(|_| (next() % 2001) as i32 - 1000).collect();
        let big = [0, 1, (1 << 24) - 2, (1 << 24) - 1, u32::MAX - 1, u32::MAX];
        let mut e = Encoder::default();
        let mut m = [Bit::default(); 2];
        let (mut im, mut um) = (IntModel::default(), UintModel::default());
        for (i, &b) in bits.iter().enumerate() {
            e.bit(&mut m[i / 10_000], b);
        }
        ints.iter().for_each(|&v| assert_eq!(im.code(&mut e, v), v));
        big.iter().for_each(|&v| assert_eq!(um.code(&mut e, v), v.min(u32::MAX - 1)));
        e.raw(0xABCDE, 20);
        let out = e.finish();
        // A skewed first half costs far less than a bit per bit.
        assert!(out.len() < 20_000 / 8 + 5_000 * 2, "{}", out.len());
        let mut d = Decoder::new(&out);
        let mut m = [Bit::default(); 2];
        let (mut im, mut um) = (IntModel::default(), UintModel::default());
        for (i, &b) in bits.iter().enumerate() {
            assert_eq!(Decoder::bit(&mut d, &mut m[i / 10_000]), b, "bit {i}");
        }
        for &v in &ints {
            assert_eq!(im.code(&mut d, 0), v);
        }
        for &v in &big {
            assert_eq!(um.code(&mut d, 0), v.min(u32::MAX - 1));
        }
        assert_eq!(Decoder::raw(&mut d, 20), 0xABCDE);
        d.finish().unwrap();
        // Cut short, the decoder runs on zeros and says so.
        let mut d = Decoder::new(&out[..out.len() / 2]);
        let mut m = [Bit::default(); 2];
        bits.iter().enumerate().for_each(|(i, _)| {
            Decoder::bit(&mut d, &mut m[i / 10_000]);
        });
        for _ in 0..ints.len() {
            im.code(&mut d, 0);
        }
        assert!(d.finish().is_err());
        // Empty and garbage inputs never panic.
        for input in [vec![], vec![0xFF; 3], vec![0xFF; 64]] {
            let mut d = Decoder::new(&input);
            let mut u = UintModel::default();
            for _ in 0..100 {
                u.code(&mut d, 0);
            }
        }
    }
}
