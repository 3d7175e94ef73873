//! `std::io` adapters.

use std::io::{self, Read};
use std::vec::Vec;

use crate::decoding::{DecoderConfig, StreamDecoder};
use crate::dictionary::Dictionary;

/// Input read from the inner reader at a time: one block and its header, as `zstd -d` reads.
const INPUT: usize = crate::frame::MAX_BLOCK_SIZE + 3;

/// Decompresses a zstd stream read from `R`, incrementally, with bounded memory: the frame's
/// window plus two blocks of output (see [`StreamDecoder`]) and one block of input. Each `read`
/// copies decoded bytes straight from the decoder's window into the caller's buffer.
#[derive(Debug)]
pub struct Decoder<R> {
    inner: R,
    decoder: StreamDecoder,
    input: Vec<u8>,
    /// `input[start..end]` is read but not yet given to the decoder.
    start: usize,
    end: usize,
    eof: bool,
}

impl<R: Read> Decoder<R> {
    /// Wraps `inner` with default limits.
    pub fn new(inner: R) -> Self {
        Self::with_decoder(inner, StreamDecoder::new(DecoderConfig::default()))
    }

    /// Wraps `inner` with the given limits and optional dictionary.
    pub fn with_config(inner: R, config: DecoderConfig, dict: Option<Dictionary>) -> Self {
        let decoder = match dict {
            Some(d) => StreamDecoder::with_dictionary(config, d),
            None => StreamDecoder::new(config),
        };
        Self::with_decoder(inner, decoder)
    }

    fn with_decoder(inner: R, decoder: StreamDecoder) -> Self {
        Decoder { inner, decoder, input: alloc::vec![0; INPUT], start: 0, end: 0, eof: false }
    }

    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let pending = self.decoder.pending();
            if !pending.is_empty() {
                let n = buf.len().min(pending.len());
                buf[..n].copy_from_slice(&pending[..n]);
                self.decoder.consume(n);
                return Ok(n);
            }
            if self.start == self.end {
                // A long RLE block may still have pieces to make without more input.
                self.decoder.advance(&[], None).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                if !self.decoder.pending().is_empty() {
                    continue;
                }
                if self.eof {
                    return Ok(0);
                }
                let n = self.inner.read(&mut self.input)?;
                (self.start, self.end) = (0, n);
                if n == 0 {
                    self.eof = true;
                    self.decoder.finish().map_err(|e| io::Error::new(io::ErrorKind::UnexpectedEof, e))?;
                    return Ok(0);
                }
            }
            let used = self
                .decoder
                .advance(&self.input[self.start..self.end], None)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            self.start += used;
        }
    }
}

/// Compresses everything written to it into one zstd frame on `W`, block by block, with
/// memory bounded by the window. Call [`Encoder::finish`] to write the end of the frame.
///
/// ```
/// use std::io::Write;
/// let mut enc = haagenti_zstd::io::Encoder::new(Vec::new(), &haagenti_zstd::ZstdCompressor::new());
/// enc.write_all(b"written through std::io::Write")?;
/// let frame = enc.finish()?;
/// assert_eq!(haagenti_zstd::decompress(&frame).unwrap(), b"written through std::io::Write");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Encoder<W: std::io::Write> {
    inner: W,
    encoder: crate::ZstdStreamEncoder,
    out: Vec<u8>,
}

impl<W: std::io::Write> Encoder<W> {
    /// Wraps `inner`, compressing with `compressor`'s settings.
    pub fn new(inner: W, compressor: &crate::ZstdCompressor) -> Self {
        Encoder { inner, encoder: crate::ZstdStreamEncoder::new(compressor), out: Vec::new() }
    }

    /// Writes the last block and the checksum, flushes, and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.encoder.finish(&mut self.out);
        self.inner.write_all(&self.out)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: std::io::Write> std::io::Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.encoder.push(buf, &mut self.out);
        if !self.out.is_empty() {
            self.inner.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(buf.len())
    }

    /// Passes on what is already compressed; a partial block stays buffered (zstd blocks are
    /// written whole).
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
