//! Streaming adapters: a `Read` that decompresses and a `Write` that compresses.

use std::io::{self, Read, Write};

use crate::{CodecError, Format, Level};

/// A compressing writer; call [`Encoder::finish`] to write the format's trailer.
pub trait Encoder: Write {
    /// Writes any buffered data and the trailer. Data is incomplete until this returns `Ok`.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// Wraps `reader` (compressed bytes of `format`) in a reader of the decompressed bytes.
///
/// Output is not bounded here; bound it with `Read::take` (as [`crate::Codec::decompress_with`]
/// does) when the input is untrusted.
pub fn decoder<'a, R: Read + 'a>(format: Format, reader: R) -> Result<Box<dyn Read + 'a>, CodecError> {
    match format {
        #[cfg(feature = "zstd")]
        Format::Zstd => Ok(Box::new(haagenti_zstd::io::Decoder::new(reader))),
        #[cfg(feature = "lz4")]
        Format::Lz4 => Ok(Box::new(Lz4FramesReader {
            inner: Some(lz4_flex::frame::FrameDecoder::new(CountingReader { inner: reader, count: 0 })),
        })),
        #[cfg(feature = "lz4")]
        Format::Lz4Block => Ok(Box::new(Lz4BlockReader { inner: reader, out: Vec::new(), pos: 0, done: false })),
        #[cfg(feature = "deflate")]
        Format::Gzip => Ok(Box::new(flate2::read::MultiGzDecoder::new(reader))),
        #[cfg(feature = "deflate")]
        Format::Zlib => Ok(Box::new(flate2::read::ZlibDecoder::new(reader))),
        #[cfg(feature = "deflate")]
        Format::Deflate => Ok(Box::new(flate2::read::DeflateDecoder::new(reader))),
        #[cfg(feature = "brotli")]
        Format::Brotli => Ok(Box::new(brotli::Decompressor::new(reader, 64 * 1024))),
        #[allow(unreachable_patterns)]
        format => Err(CodecError::FeatureDisabled { format }),
    }
}

/// Wraps `writer` in a compressing writer for `format` at `level`.
pub fn encoder<'a, W: Write + 'a>(
    format: Format,
    level: Level,
    writer: W,
) -> Result<Box<dyn Encoder + 'a>, CodecError> {
    if !format.level_range().contains(&level.0) {
        return Err(CodecError::BadLevel { format, level: level.0 });
    }
    #[cfg(feature = "deflate")]
    let deflate_level = flate2::Compression::new(level.0.unsigned_abs());
    match format {
        #[cfg(feature = "zstd")]
        Format::Zstd => {
            Ok(Box::new(WholeInputEncoder { inner: writer, buf: Vec::new(), level: level.0, encode: zstd_frame }))
        }
        #[cfg(feature = "lz4")]
        Format::Lz4 => Ok(Box::new(lz4_flex::frame::FrameEncoder::new(writer))),
        #[cfg(feature = "lz4")]
        Format::Lz4Block => {
            Ok(Box::new(WholeInputEncoder { inner: writer, buf: Vec::new(), level: 0, encode: lz4_block }))
        }
        #[cfg(feature = "deflate")]
        Format::Gzip => Ok(Box::new(flate2::write::GzEncoder::new(writer, deflate_level))),
        #[cfg(feature = "deflate")]
        Format::Zlib => Ok(Box::new(flate2::write::ZlibEncoder::new(writer, deflate_level))),
        #[cfg(feature = "deflate")]
        Format::Deflate => Ok(Box::new(flate2::write::DeflateEncoder::new(writer, deflate_level))),
        #[cfg(feature = "brotli")]
        Format::Brotli => Ok(Box::new(brotli::CompressorWriter::new(writer, 64 * 1024, level.0 as u32, 22))),
        #[allow(unreachable_patterns)]
        format => Err(CodecError::FeatureDisabled { format }),
    }
}

#[cfg(feature = "lz4")]
impl<W: Write> Encoder for lz4_flex::frame::FrameEncoder<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        lz4_flex::frame::FrameEncoder::finish(*self).map(drop).map_err(io::Error::other)
    }
}

#[cfg(feature = "deflate")]
impl<W: Write> Encoder for flate2::write::GzEncoder<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        flate2::write::GzEncoder::finish(*self).map(drop)
    }
}

#[cfg(feature = "deflate")]
impl<W: Write> Encoder for flate2::write::ZlibEncoder<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        flate2::write::ZlibEncoder::finish(*self).map(drop)
    }
}

#[cfg(feature = "deflate")]
impl<W: Write> Encoder for flate2::write::DeflateEncoder<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        flate2::write::DeflateEncoder::finish(*self).map(drop)
    }
}

#[cfg(feature = "brotli")]
impl<W: Write> Encoder for brotli::CompressorWriter<W> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.flush()?;
        // Dropping the writer closes the brotli stream (writes the last meta-block).
        drop(self);
        Ok(())
    }
}

/// Reads the whole input on first use, then decodes it in one piece.
#[cfg(feature = "lz4")]
struct Lz4BlockReader<R> {
    inner: R,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

#[cfg(feature = "lz4")]
impl<R: Read> Read for Lz4BlockReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.done {
            let mut src = Vec::new();
            self.inner.read_to_end(&mut src)?;
            self.out = lz4_flex::block::decompress_size_prepended(&src)
                .map_err(|e| io::Error::from(crate::format::corrupt(Format::Lz4Block, e)))?;
            self.done = true;
        }
        let n = (&self.out[self.pos..]).read(buf)?;
        self.pos += n;
        Ok(n)
    }
}

/// Buffers the whole input and encodes it in one piece at `finish`: for formats whose encoder
/// needs all of it (an LZ4 block; our zstd encoder, which is one-shot for now).
#[cfg(any(feature = "lz4", feature = "zstd"))]
struct WholeInputEncoder<W: Write> {
    inner: W,
    buf: Vec<u8>,
    level: i32,
    encode: fn(&[u8], i32) -> io::Result<Vec<u8>>,
}

#[cfg(any(feature = "lz4", feature = "zstd"))]
impl<W: Write> Write for WholeInputEncoder<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(any(feature = "lz4", feature = "zstd"))]
impl<W: Write> Encoder for WholeInputEncoder<W> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        let encoded = (self.encode)(&self.buf, self.level)?;
        self.inner.write_all(&encoded)?;
        self.inner.flush()
    }
}

#[cfg(feature = "zstd")]
fn zstd_frame(data: &[u8], level: i32) -> io::Result<Vec<u8>> {
    Ok(haagenti_zstd::compress(data, level))
}

#[cfg(feature = "lz4")]
fn lz4_block(data: &[u8], _level: i32) -> io::Result<Vec<u8>> {
    if u32::try_from(data.len()).is_err() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "an LZ4 block holds at most 4 GiB"));
    }
    Ok(lz4_flex::block::compress_prepend_size(data))
}

/// Counts the bytes read through it.
#[cfg(feature = "lz4")]
struct CountingReader<R> {
    inner: R,
    count: u64,
}

#[cfg(feature = "lz4")]
impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Every LZ4 frame of the input, one after another. `lz4_flex`'s decoder reports the end of
/// each frame as the end of the stream (and reads the next frame only when asked again), so a
/// multi-frame input would lose everything after its first frame. This starts a new decoder
/// (frames may differ in block size) after each end and stops only when a read consumes no
/// input.
#[cfg(feature = "lz4")]
struct Lz4FramesReader<R: Read> {
    inner: Option<lz4_flex::frame::FrameDecoder<CountingReader<R>>>,
}

#[cfg(feature = "lz4")]
impl<R: Read> Read for Lz4FramesReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(dec) = self.inner.as_mut() else { return Ok(0) };
            let before = dec.get_ref().count;
            let n = dec.read(buf)?;
            if n > 0 || dec.get_ref().count == before {
                return Ok(n);
            }
            // A frame ended having read input: the next frame, if any, gets a fresh decoder.
            let rest = self.inner.take().map(lz4_flex::frame::FrameDecoder::into_inner);
            self.inner = rest.map(lz4_flex::frame::FrameDecoder::new);
        }
    }
}
