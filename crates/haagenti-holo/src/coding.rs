//! Byte-level coding shared by the encodings: integer streams as zigzag varints under zstd, a
//! bit sink for raw bits, and a little reader for the fragment layouts. (The range coder is in
//! [`crate::arith`].)

use alloc::vec::Vec;

use crate::HoloError;

/// Largest decompressed section a fragment may carry (256 MiB).
pub(crate) const MAX_SECTION: usize = 256 << 20;

/// Appends `v` as a zigzag LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i32) {
    let mut z = ((v << 1) ^ (v >> 31)) as u32;
    while z >= 0x80 {
        out.push(z as u8 | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Reads zigzag varints from a byte slice.
pub(crate) struct Varints<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Varints<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Varints { b, pos: 0 }
    }

    pub(crate) fn next(&mut self) -> Result<i32, HoloError> {
        let mut z = 0u32;
        for shift in (0..35).step_by(7) {
            let byte = *self.b.get(self.pos).ok_or(HoloError::Corrupt("integer stream ends early"))?;
            self.pos += 1;
            z |= u32::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
            if byte & 0x80 == 0 {
                return Ok((z >> 1) as i32 ^ -((z & 1) as i32));
            }
        }
        Err(HoloError::Corrupt("varint longer than 5 bytes"))
    }

    pub(crate) fn is_done(&self) -> bool {
        self.pos == self.b.len()
    }
}

/// Compresses a section: the smaller of Huffman literals only and zstd level 6.
pub(crate) fn pack(raw: &[u8]) -> Vec<u8> {
    let a = haagenti_zstd::ZstdCompressor::entropy_only().checksum(false).compress(raw);
    let b = haagenti_zstd::ZstdCompressor::with_level(6).checksum(false).compress(raw);
    if a.len() <= b.len() { a } else { b }
}

/// Decompresses a section of at most `max` bytes.
pub(crate) fn unpack(packed: &[u8], max: usize) -> Result<Vec<u8>, HoloError> {
    let config = haagenti_zstd::DecoderConfig {
        max_output_size: max.min(MAX_SECTION),
        max_window_size: (max.min(MAX_SECTION) as u64).next_power_of_two().max(1 << 10),
    };
    let mut raw =
        haagenti_zstd::decompress_with(packed, &config).map_err(|_| HoloError::Corrupt("section does not decode"))?;
    // The decoder's buffer is sized for a whole block (128 KiB): kept in a decoder's state,
    // a small section would hold that much.
    raw.shrink_to_fit();
    Ok(raw)
}

/// Checked little-endian reads over a byte slice.
pub(crate) struct Reader<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], HoloError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len()).ok_or(HoloError::Corrupt("truncated"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, HoloError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, HoloError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2")))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, HoloError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, HoloError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }

    pub(crate) fn f32(&mut self) -> Result<f32, HoloError> {
        Ok(f32::from_bits(self.u32()?))
    }

    /// A u32-length-prefixed byte string.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], HoloError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

/// Appends a u32-length-prefixed byte string.
pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// Bits written least significant first.
#[derive(Default)]
pub(crate) struct BitSink {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitSink {
    pub(crate) fn put(&mut self, v: u64, bits: u32) {
        debug_assert!(bits <= 32);
        self.acc |= (v & ((1u64 << bits) - 1)) << self.n;
        self.n += bits;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        let vals = [0, 1, -1, 63, -64, 64, 1000, -100_000, i32::MAX, i32::MIN];
        let mut b = Vec::new();
        vals.iter().for_each(|&v| put_varint(&mut b, v));
        let mut r = Varints::new(&b);
        for &v in &vals {
            assert_eq!(r.next().unwrap(), v);
        }
        assert!(r.is_done());
        assert!(r.next().is_err());
        assert!(Varints::new(&[0xff; 6]).next().is_err());
    }
}
