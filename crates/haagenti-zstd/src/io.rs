//! `std::io` adapters.

use std::io::{self, Read};
use std::vec::Vec;

use crate::decoding::{DecoderConfig, StreamDecoder};
use crate::dictionary::Dictionary;

/// Decompresses a zstd stream read from `R`, incrementally, with bounded memory.
#[derive(Debug)]
pub struct Decoder<R> {
    inner: R,
    decoder: StreamDecoder,
    input: Vec<u8>,
    output: Vec<u8>,
    pos: usize,
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
        Decoder { inner, decoder, input: alloc::vec![0; 64 * 1024], output: Vec::new(), pos: 0, eof: false }
    }

    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.output.len() {
            if self.eof {
                return Ok(0);
            }
            self.output.clear();
            self.pos = 0;
            let n = self.inner.read(&mut self.input)?;
            if n == 0 {
                self.eof = true;
                self.decoder.finish().map_err(|e| io::Error::new(io::ErrorKind::UnexpectedEof, e))?;
                return Ok(0);
            }
            self.decoder
                .feed(&self.input[..n], &mut self.output)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
        let n = buf.len().min(self.output.len() - self.pos);
        buf[..n].copy_from_slice(&self.output[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
