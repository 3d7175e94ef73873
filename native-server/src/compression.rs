//! The `haagenti.v1.CompressionService`: every codec of `haagenti-codec` over gRPC.
//!
//! All codec work runs on tokio's blocking pool, so a large compression never stalls the
//! threads serving other calls. Untrusted input is bounded by [`CompressionLimits`]: a response
//! never exceeds a message, a stream never exceeds its totals, and decoders stop at the limit
//! instead of allocating what a header claims.
//!
//! Streams are processed as they arrive: a blocking worker pulls one client message at a time
//! and sends output back in chunks of [`CompressionLimits::stream_chunk_bytes`] through a
//! bounded channel, so a slow client slows the worker instead of growing a buffer. zstd streams
//! are compressed block by block (`haagenti_zstd::io::Encoder`; the codec crate's zstd encoder
//! buffers its whole input) within [`CompressionLimits::max_window_bytes`]. One format forces
//! whole buffers: an LZ4 block (one block with its size in front) is buffered whole in both
//! directions, its input capped at [`CompressionLimits::max_message_bytes`].
//!
//! Statuses: `INVALID_ARGUMENT` for an unknown or missing codec, a level out of range, corrupt
//! or truncated data, an undetectable format, a bad dictionary or too few samples;
//! `RESOURCE_EXHAUSTED` for output or input over a limit (a zstd window over the limit
//! included); `OUT_OF_RANGE` (from tonic) for a request larger than a message; `CANCELLED` when
//! the client stops reading a stream; `DEADLINE_EXCEEDED` when a stream's client goes quiet for
//! [`CompressionLimits::stream_idle_timeout`]; `INTERNAL` if a codec panics (the server keeps running).
//!
//! ```no_run
//! use haagenti_server::compression::{CompressionLimits, CompressionServer};
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! let service = CompressionServer::new(CompressionLimits::default()).into_service();
//! # let _ = service; Ok(()) }
//! ```

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use haagenti_codec::{Codec as _, CodecError, Encoder, Format, Level, Limits};
use haagenti_proto::v1::compression_service_server::{CompressionService, CompressionServiceServer};
use haagenti_proto::v1::{
    Codec, CodecStats, CompressRequest, CompressResponse, CompressWithDictionaryRequest, CompressionStats,
    DecompressRequest, DecompressResponse, DecompressWithDictionaryRequest, GetStatsRequest, HealthCheckRequest,
    HealthCheckResponse, StreamChunk, TrainDictionaryRequest, TrainDictionaryResponse, health_check_response,
};
use haagenti_zstd::{DecoderConfig, FrameError, ZstdCompressor, ZstdDict, ZstdDictCompressor, ZstdDictDecompressor};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// Bytes a response needs beside its data (field tags, lengths, the size field).
const RESPONSE_OVERHEAD: usize = 32;
/// Output chunks queued for a client before the worker waits.
const STREAM_QUEUE: usize = 4;
/// Dictionary size when a request gives none: zstd's default.
const DEFAULT_DICTIONARY_BYTES: usize = 110 * 1024;

/// What one call may make the server do. Every field has a default, shown in its doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressionLimits {
    /// Largest gRPC message received or sent, in bytes. Default 16 MiB. A larger request is
    /// refused by tonic before it is read (status `OUT_OF_RANGE`).
    pub max_message_bytes: usize,
    /// Largest decompressed output of a unary call. Default 16 MiB; it is also capped by what
    /// fits in one message.
    pub max_output_bytes: u64,
    /// Largest total input, and largest total output, of one stream. Default 256 MiB.
    pub max_stream_bytes: u64,
    /// Largest total size of the samples given to `TrainDictionary`. Default 16 MiB.
    pub max_dictionary_samples_bytes: usize,
    /// Largest dictionary `TrainDictionary` may be asked for. Default 1 MiB.
    pub max_dictionary_bytes: usize,
    /// Largest zstd window a stream may use, in bytes: what streaming decoding refuses beyond
    /// and what streaming compression stays within. Default 8 MiB (`2^23`, enough for every
    /// level up to 19 of the reference encoder).
    pub max_window_bytes: u64,
    /// Size of the output chunks of a stream. Default 256 KiB; kept between 1 KiB and
    /// `max_message_bytes` minus a little.
    pub stream_chunk_bytes: usize,
    /// How long a stream may wait for the client's next message before it fails with
    /// `DEADLINE_EXCEEDED`, and how long it waits for the client to take output. Default 30 s.
    /// A waiting stream holds a thread of the blocking pool, so idle streams must not live
    /// forever.
    pub stream_idle_timeout: Duration,
}

impl Default for CompressionLimits {
    fn default() -> Self {
        CompressionLimits {
            max_message_bytes: 16 << 20,
            max_output_bytes: 16 << 20,
            max_stream_bytes: 256 << 20,
            max_dictionary_samples_bytes: 16 << 20,
            max_dictionary_bytes: 1 << 20,
            max_window_bytes: 1 << 23,
            stream_chunk_bytes: 256 << 10,
            stream_idle_timeout: Duration::from_secs(30),
        }
    }
}

impl CompressionLimits {
    /// The most data one response may carry.
    fn max_response_data(&self) -> usize {
        self.max_message_bytes.saturating_sub(RESPONSE_OVERHEAD)
    }

    /// The decompressed size a unary call may produce.
    fn unary_output(&self) -> u64 {
        self.max_output_bytes.min(self.max_response_data() as u64)
    }

    fn chunk_bytes(&self) -> usize {
        self.stream_chunk_bytes.min(self.max_response_data()).max(1024)
    }
}

/// The compression service; cheap to clone (the counters are shared).
#[derive(Debug, Clone)]
pub struct CompressionServer {
    limits: CompressionLimits,
    stats: Arc<Stats>,
    started: Instant,
}

impl CompressionServer {
    /// A service with these limits; its uptime counts from now.
    pub fn new(limits: CompressionLimits) -> Self {
        CompressionServer { limits, stats: Arc::new(Stats::default()), started: Instant::now() }
    }

    /// The limits in force.
    pub fn limits(&self) -> &CompressionLimits {
        &self.limits
    }

    /// The tonic service, its message sizes set from the limits, ready for a router. It must
    /// run on a tokio runtime with the time driver (as `#[tokio::main]` builds): streams time
    /// out with it.
    pub fn into_service(self) -> CompressionServiceServer<CompressionServer> {
        let max = self.limits.max_message_bytes;
        CompressionServiceServer::new(self).max_decoding_message_size(max).max_encoding_message_size(max)
    }
}

/// Request and byte counts, of all calls or of one codec.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

/// The counters behind `GetStats`. `requests` and `errors` count every call but `GetStats` and
/// `HealthCheck`; bytes, and the per-codec counts, count calls that succeeded.
#[derive(Debug, Default)]
struct Stats {
    total: Counters,
    errors: AtomicU64,
    /// Indexed like [`Format::ALL`].
    per_format: [Counters; Format::ALL.len()],
}

impl Stats {
    fn request(&self) {
        self.total.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a finished call: its bytes, and under its format when known.
    fn done(&self, format: Option<Format>, bytes_in: u64, bytes_out: u64) {
        self.total.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        self.total.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
        if let Some(c) = format.and_then(|f| Format::ALL.iter().position(|&g| g == f)).map(|i| &self.per_format[i]) {
            c.requests.fetch_add(1, Ordering::Relaxed);
            c.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
            c.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
        }
    }

    fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an error if `result` is one, and passes it on.
    fn check<T>(&self, result: Result<T, Status>) -> Result<T, Status> {
        if result.is_err() {
            self.error();
        }
        result
    }

    fn snapshot(&self) -> CompressionStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CompressionStats {
            requests: load(&self.total.requests),
            bytes_in: load(&self.total.bytes_in),
            bytes_out: load(&self.total.bytes_out),
            errors: load(&self.errors),
            codecs: Format::ALL
                .iter()
                .zip(&self.per_format)
                .map(|(&f, c)| CodecStats {
                    codec: codec_of(f) as i32,
                    requests: load(&c.requests),
                    bytes_in: load(&c.bytes_in),
                    bytes_out: load(&c.bytes_out),
                })
                .collect(),
        }
    }
}

/// The format a request names; `None` for `CODEC_UNSPECIFIED`.
fn format_of(codec: i32) -> Result<Option<Format>, Status> {
    let codec = Codec::try_from(codec).map_err(|_| Status::invalid_argument(format!("unknown codec {codec}")))?;
    Ok(match codec {
        Codec::Unspecified => None,
        Codec::Zstd => Some(Format::Zstd),
        Codec::Lz4 => Some(Format::Lz4),
        Codec::Lz4Block => Some(Format::Lz4Block),
        Codec::Gzip => Some(Format::Gzip),
        Codec::Zlib => Some(Format::Zlib),
        Codec::Deflate => Some(Format::Deflate),
        Codec::Brotli => Some(Format::Brotli),
    })
}

/// The format a compressing request names; it must name one.
fn required_format(codec: i32) -> Result<Format, Status> {
    format_of(codec)?
        .ok_or_else(|| Status::invalid_argument("a codec is required to compress (CODEC_UNSPECIFIED given)"))
}

fn codec_of(format: Format) -> Codec {
    match format {
        Format::Zstd => Codec::Zstd,
        Format::Lz4 => Codec::Lz4,
        Format::Lz4Block => Codec::Lz4Block,
        Format::Gzip => Codec::Gzip,
        Format::Zlib => Codec::Zlib,
        Format::Deflate => Codec::Deflate,
        Format::Brotli => Codec::Brotli,
        // A format added to the codec crate but not yet to the protocol.
        _ => Codec::Unspecified,
    }
}

/// The level a request asks for: 0 is the format's default; others must be in its range.
fn level_of(format: Format, level: i32) -> Result<Level, Status> {
    if level == 0 {
        return Ok(format.default_level());
    }
    let range = format.level_range();
    if !range.contains(&level) {
        return Err(Status::invalid_argument(format!(
            "level {level} is out of range for {format} ({}..={}, or 0 for the default)",
            range.start(),
            range.end()
        )));
    }
    Ok(Level(level))
}

fn codec_status(e: CodecError) -> Status {
    match e {
        CodecError::OutputLimit { limit } => {
            Status::resource_exhausted(format!("decompressed output exceeds the limit of {limit} bytes"))
        }
        CodecError::Zstd(e) => zstd_status(e),
        CodecError::FeatureDisabled { format } => Status::unimplemented(format!("{format} is not built in")),
        CodecError::Io(e) => Status::internal(format!("I/O error: {e}")),
        e => Status::invalid_argument(e.to_string()),
    }
}

fn zstd_status(e: haagenti_zstd::Error) -> Status {
    match e {
        haagenti_zstd::Error::OutputLimit { limit } => {
            Status::resource_exhausted(format!("decompressed output exceeds the limit of {limit} bytes"))
        }
        haagenti_zstd::Error::Frame(FrameError::WindowTooLarge { requested, limit }) => Status::resource_exhausted(
            format!("the zstd frame needs a window of {requested} bytes, more than the limit of {limit}"),
        ),
        e => Status::invalid_argument(format!("invalid zstd data: {e}")),
    }
}

/// A status carried through `std::io::Error`, from our readers and writers to the worker.
#[derive(Debug)]
struct Abort(Status);

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.message())
    }
}

impl std::error::Error for Abort {}

fn abort(status: Status) -> io::Error {
    io::Error::other(Abort(status))
}

/// The status for an I/O error out of a streaming encoder or decoder of `format`.
fn io_status(format: Format, e: io::Error) -> Status {
    let message = format!("invalid {format} data: {e}");
    let Some(inner) = e.into_inner() else {
        return Status::invalid_argument(message);
    };
    match inner.downcast::<Abort>() {
        Ok(abort) => abort.0,
        Err(inner) => match inner.downcast::<CodecError>() {
            Ok(e) => codec_status(*e),
            Err(inner) => match inner.downcast::<haagenti_zstd::Error>() {
                Ok(e) => zstd_status(*e),
                Err(_) => Status::invalid_argument(message),
            },
        },
    }
}

/// Runs `f` on the blocking pool; a panic in it becomes `INTERNAL`, not a crash.
async fn blocking<T, F>(f: F) -> Result<T, Status>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Status> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| Status::internal(format!("the codec worker failed: {e}")))?
}

fn check_response_size(len: usize, limits: &CompressionLimits) -> Result<(), Status> {
    let max = limits.max_response_data();
    if len > max {
        return Err(Status::resource_exhausted(format!(
            "the output of {len} bytes does not fit in a message of at most {max} bytes; use the streaming call"
        )));
    }
    Ok(())
}

fn zstd_level(level: i32) -> Result<i32, Status> {
    Ok(level_of(Format::Zstd, level)?.0)
}

fn read_dictionary(bytes: &[u8]) -> Result<ZstdDict, Status> {
    if bytes.is_empty() {
        return Err(Status::invalid_argument("the dictionary is empty"));
    }
    ZstdDict::from_bytes(bytes).map_err(|e| Status::invalid_argument(format!("invalid zstd dictionary: {e}")))
}

/// The client's messages as one byte source, read on a blocking thread.
struct ChunkReader {
    runtime: Handle,
    input: Streaming<StreamChunk>,
    current: Vec<u8>,
    pos: usize,
    total: u64,
    limit: u64,
    idle_timeout: Duration,
    done: bool,
    /// Set when reading fails, so the failure survives a decoder that rewrites I/O errors.
    failure: Option<Status>,
}

impl ChunkReader {
    fn new(runtime: Handle, input: Streaming<StreamChunk>, first: Vec<u8>, limits: &CompressionLimits) -> Self {
        ChunkReader {
            runtime,
            input,
            total: first.len() as u64,
            current: first,
            pos: 0,
            limit: limits.max_stream_bytes,
            idle_timeout: limits.stream_idle_timeout,
            done: false,
            failure: None,
        }
    }

    fn fail(&mut self, status: Status) -> io::Error {
        self.failure = Some(status.clone());
        abort(status)
    }

    /// The next message's data; `None` at the end of the stream.
    fn next_message(&mut self) -> io::Result<Option<Vec<u8>>> {
        if self.pos < self.current.len() {
            let data = std::mem::take(&mut self.current);
            let rest = if self.pos == 0 { data } else { data[self.pos..].to_vec() };
            self.pos = 0;
            return Ok(Some(rest));
        }
        loop {
            if self.done {
                return Ok(None);
            }
            let next = self.runtime.block_on(tokio::time::timeout(self.idle_timeout, self.input.message()));
            let Ok(next) = next else {
                return Err(self.fail(Status::deadline_exceeded(format!(
                    "no message from the client for {:?}",
                    self.idle_timeout
                ))));
            };
            match next {
                Ok(Some(chunk)) => {
                    self.total += chunk.data.len() as u64;
                    if self.total > self.limit {
                        return Err(self.fail(Status::resource_exhausted(format!(
                            "the stream's input exceeds the limit of {} bytes",
                            self.limit
                        ))));
                    }
                    if !chunk.data.is_empty() {
                        return Ok(Some(chunk.data));
                    }
                }
                Ok(None) => self.done = true,
                Err(status) => return Err(self.fail(status)),
            }
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pos == self.current.len() {
            match self.next_message()? {
                Some(data) => (self.current, self.pos) = (data, 0),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Output of a stream: cut into chunks, counted against the stream's limit, sent to the
/// client through a bounded channel (waiting while it is full).
struct ChunkSink {
    runtime: Handle,
    tx: mpsc::Sender<Result<StreamChunk, Status>>,
    idle_timeout: Duration,
    codec: i32,
    buf: Vec<u8>,
    chunk: usize,
    total: u64,
    limit: u64,
    sent: bool,
}

impl ChunkSink {
    fn new(runtime: Handle, tx: mpsc::Sender<Result<StreamChunk, Status>>, limits: &CompressionLimits) -> Self {
        let chunk = limits.chunk_bytes();
        ChunkSink {
            runtime,
            tx,
            idle_timeout: limits.stream_idle_timeout,
            codec: 0,
            buf: Vec::with_capacity(chunk),
            chunk,
            total: 0,
            limit: limits.max_stream_bytes,
            sent: false,
        }
    }

    fn send(&mut self, data: Vec<u8>) -> io::Result<()> {
        self.sent = true;
        let chunk = StreamChunk { codec: self.codec, level: 0, data };
        match self.runtime.block_on(tokio::time::timeout(self.idle_timeout, self.tx.send(Ok(chunk)))) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(abort(Status::cancelled("the client went away"))),
            Err(_) => {
                Err(abort(Status::deadline_exceeded(format!("the client read no output for {:?}", self.idle_timeout))))
            }
        }
    }

    /// Sends what is left; one empty chunk if nothing was sent, so the client learns the codec.
    fn finish(&mut self) -> Result<(), Status> {
        if !self.buf.is_empty() || !self.sent {
            let data = std::mem::take(&mut self.buf);
            self.send(data).map_err(|e| io_status(Format::Zstd, e))?;
        }
        Ok(())
    }
}

impl Write for ChunkSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.total += data.len() as u64;
        if self.total > self.limit {
            return Err(abort(Status::resource_exhausted(format!(
                "the stream's output exceeds the limit of {} bytes",
                self.limit
            ))));
        }
        let mut rest = data;
        while !rest.is_empty() {
            let n = rest.len().min(self.chunk - self.buf.len());
            self.buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.buf.len() == self.chunk {
                let full = std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk));
                self.send(full)?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The zstd crate's block-by-block encoder behind the codec crate's [`Encoder`] trait (the
/// codec crate's own zstd encoder buffers the whole input).
struct ZstdStream<W: Write>(haagenti_zstd::io::Encoder<W>);

impl<W: Write> Write for ZstdStream<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> Encoder for ZstdStream<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        self.0.finish().map(drop)
    }
}

/// Where [`Lz4Frames`] is in the LZ4 frame structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lz4Field {
    Magic,
    SkippableSize,
    Descriptor,
    BlockSize,
}

/// Passes an LZ4 frame stream through while following its structure (magic, descriptor, block
/// sizes, end marks), and fails at the end of input unless every frame is complete.
/// `lz4_flex`'s reader takes an end of input between two blocks as the end of the stream, so a
/// stream cut at a block boundary would otherwise decode as if it were whole (the codec crate
/// checks this for whole buffers, not for streams). [`Lz4Frames::ended`] also tells the
/// decoding loop whether the input really ended, so an end of stream before it is never
/// taken for the end.
struct Lz4Frames<R> {
    inner: R,
    ended: Rc<Cell<bool>>,
    field: Lz4Field,
    /// The field being collected and how many of its bytes are in.
    bytes: [u8; 4],
    have: usize,
    /// Bytes to pass before the next field (block data, checksums, descriptor fields).
    skip: u64,
    flags: u8,
}

impl<R: Read> Lz4Frames<R> {
    fn new(inner: R) -> Self {
        let ended = Rc::new(Cell::new(false));
        Lz4Frames { inner, ended, field: Lz4Field::Magic, bytes: [0; 4], have: 0, skip: 0, flags: 0 }
    }

    /// Becomes true once the input has ended (at a frame boundary; otherwise reading fails).
    fn ended(&self) -> Rc<Cell<bool>> {
        Rc::clone(&self.ended)
    }

    fn need(&self) -> usize {
        match self.field {
            Lz4Field::Descriptor => 2,
            _ => 4,
        }
    }

    fn scan(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.skip > 0 {
                let n = data.len().min(usize::try_from(self.skip).unwrap_or(usize::MAX));
                self.skip -= n as u64;
                data = &data[n..];
                continue;
            }
            let n = (self.need() - self.have).min(data.len());
            self.bytes[self.have..self.have + n].copy_from_slice(&data[..n]);
            self.have += n;
            data = &data[n..];
            if self.have == self.need() {
                self.have = 0;
                self.field_done()?;
            }
        }
        Ok(())
    }

    fn field_done(&mut self) -> io::Result<()> {
        let value = u32::from_le_bytes(self.bytes);
        match self.field {
            Lz4Field::Magic if value & 0xFFFF_FFF0 == 0x184D_2A50 => self.field = Lz4Field::SkippableSize,
            Lz4Field::Magic if value == 0x184D_2204 => self.field = Lz4Field::Descriptor,
            Lz4Field::Magic => {
                return Err(abort(Status::invalid_argument(format!("invalid lz4 data: bad magic 0x{value:08x}"))));
            }
            Lz4Field::SkippableSize => (self.skip, self.field) = (u64::from(value), Lz4Field::Magic),
            Lz4Field::Descriptor => {
                // FLG and BD are in; the content size, dictionary ID and header checksum follow.
                self.flags = self.bytes[0];
                let content_size = if self.flags & 0x08 != 0 { 8 } else { 0 };
                let dict_id = if self.flags & 0x01 != 0 { 4 } else { 0 };
                (self.skip, self.field) = (content_size + dict_id + 1, Lz4Field::BlockSize);
            }
            Lz4Field::BlockSize if value == 0 => {
                let checksum = if self.flags & 0x04 != 0 { 4 } else { 0 };
                (self.skip, self.field) = (checksum, Lz4Field::Magic);
            }
            Lz4Field::BlockSize => {
                let checksum = if self.flags & 0x10 != 0 { 4 } else { 0 };
                self.skip = u64::from(value & 0x7FFF_FFFF) + checksum;
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Lz4Frames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if self.field != Lz4Field::Magic || self.have != 0 || self.skip != 0 {
                return Err(abort(Status::invalid_argument("invalid lz4 data: the stream ends inside a frame")));
            }
            self.ended.set(true);
        }
        self.scan(&buf[..n])?;
        Ok(n)
    }
}

fn window_log(max_window_bytes: u64) -> u8 {
    (63 - max_window_bytes.max(1).leading_zeros()).clamp(10, 27) as u8
}

/// Compresses a stream, on the blocking pool.
fn compress_stream(
    reader: &mut ChunkReader,
    sink: &mut ChunkSink,
    format: Format,
    level: Level,
    limits: &CompressionLimits,
) -> Result<(), Status> {
    sink.codec = codec_of(format) as i32;
    let mut encoder: Box<dyn Encoder + '_> = match format {
        Format::Zstd => {
            let params = ZstdCompressor::with_level(level.0);
            let log = params.params().window_log.min(window_log(limits.max_window_bytes));
            Box::new(ZstdStream(haagenti_zstd::io::Encoder::new(&mut *sink, &params.window_log(log))))
        }
        f => haagenti_codec::encoder(f, level, &mut *sink).map_err(codec_status)?,
    };
    while let Some(data) = reader.next_message().map_err(|e| io_status(format, e))? {
        if format == Format::Lz4Block && reader.total > limits.max_message_bytes as u64 {
            return Err(Status::resource_exhausted(format!(
                "an LZ4 block is compressed whole; its stream may hold at most {} bytes",
                limits.max_message_bytes
            )));
        }
        encoder.write_all(&data).map_err(|e| io_status(format, e))?;
    }
    encoder.finish().map_err(|e| io_status(format, e))
}

/// Decompresses a stream, on the blocking pool; returns the format (named or detected).
fn decompress_stream(
    reader: &mut ChunkReader,
    sink: &mut ChunkSink,
    format: Option<Format>,
    limits: &CompressionLimits,
) -> Result<Format, Status> {
    // Up to four bytes read ahead to recognize the format.
    let mut prefix = Vec::with_capacity(4);
    let format = match format {
        Some(f) => f,
        None => {
            let mut magic = [0; 4];
            while prefix.len() < 4 {
                let n = reader.read(&mut magic[..4 - prefix.len()]).map_err(|e| io_status(Format::Zstd, e))?;
                if n == 0 {
                    break;
                }
                prefix.extend_from_slice(&magic[..n]);
            }
            Format::detect(&prefix).ok_or_else(|| {
                Status::invalid_argument(
                    "cannot detect the format (no zstd, LZ4 frame, gzip or zlib magic); name the codec",
                )
            })?
        }
    };
    sink.codec = codec_of(format) as i32;
    let mut input_ended = None;
    let src = io::Cursor::new(prefix).chain(reader);
    let mut decoder: Box<dyn Read + '_> = match format {
        Format::Zstd => {
            let config = DecoderConfig {
                max_window_size: limits.max_window_bytes,
                max_output_size: usize::try_from(limits.max_stream_bytes).unwrap_or(usize::MAX),
            };
            Box::new(haagenti_zstd::io::Decoder::with_config(src, config, None))
        }
        Format::Lz4Block => {
            // One block: its size prefix and data are needed whole.
            let cap = limits.max_message_bytes as u64;
            let mut block = Vec::new();
            src.take(cap + 1).read_to_end(&mut block).map_err(|e| io_status(format, e))?;
            if block.len() as u64 > cap {
                return Err(Status::resource_exhausted(format!(
                    "an LZ4 block is decoded whole; its stream may hold at most {cap} bytes"
                )));
            }
            let limits = Limits { max_output: limits.max_stream_bytes };
            let data = Format::Lz4Block.codec().decompress_with(&block, &limits).map_err(codec_status)?;
            Box::new(io::Cursor::new(data))
        }
        Format::Lz4 => {
            let frames = Lz4Frames::new(src);
            input_ended = Some(frames.ended());
            haagenti_codec::decoder(Format::Lz4, frames).map_err(codec_status)?
        }
        f => haagenti_codec::decoder(f, src).map_err(codec_status)?,
    };
    let mut buf = vec![0; limits.chunk_bytes()];
    read_all(&mut *decoder, format, input_ended.as_deref(), &mut buf, |data| {
        sink.write_all(data).map_err(|e| io_status(format, e))
    })?;
    Ok(format)
}

/// Reads `decoder` of `format` to its end, passing what it makes to `emit`. With
/// `input_ended` (LZ4 frames, see [`Lz4Frames`]) an end of stream before the input's end is
/// read past (the codec crate's reader already goes on from frame to frame; this keeps a
/// premature end from passing as the whole stream).
fn read_all(
    decoder: &mut dyn Read,
    format: Format,
    input_ended: Option<&Cell<bool>>,
    buf: &mut [u8],
    mut emit: impl FnMut(&[u8]) -> Result<(), Status>,
) -> Result<(), Status> {
    loop {
        match decoder.read(buf) {
            Ok(0) if input_ended.is_some_and(|ended| !ended.get()) => continue,
            Ok(0) => return Ok(()),
            Ok(n) => emit(&buf[..n])?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_status(format, e)),
        }
    }
}

type ChunkStream = ReceiverStream<Result<StreamChunk, Status>>;

impl CompressionServer {
    /// Reads a stream's first message and runs `work` on the blocking pool with the client's
    /// data and a sink for the output; the output chunks, then the error if any, go to the
    /// returned stream.
    async fn start_stream<F>(
        &self,
        request: Request<Streaming<StreamChunk>>,
        work: F,
    ) -> Result<Response<ChunkStream>, Status>
    where
        F: FnOnce(&mut ChunkReader, &mut ChunkSink, &StreamChunk) -> Result<Format, Status> + Send + 'static,
    {
        self.stats.request();
        let mut input = request.into_inner();
        let mut first = match input.message().await {
            Ok(Some(first)) => first,
            Ok(None) => {
                self.stats.error();
                return Err(Status::invalid_argument("the stream is empty; its first message names the codec"));
            }
            Err(status) => {
                self.stats.error();
                return Err(status);
            }
        };
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        let data = std::mem::take(&mut first.data);
        let runtime = Handle::current();
        let mut reader = ChunkReader::new(runtime.clone(), input, data, &self.limits);
        let stats = Arc::clone(&self.stats);
        let limits = self.limits;
        let errors = tx.clone();
        let worker = tokio::task::spawn_blocking(move || {
            let mut sink = ChunkSink::new(runtime, tx, &limits);
            let result = work(&mut reader, &mut sink, &first).and_then(|format| sink.finish().map(|()| format));
            // A failure to read the client's stream is the cause of whatever the codec made of it.
            match result.map_err(|status| reader.failure.take().unwrap_or(status)) {
                Ok(format) => stats.done(Some(format), reader.total, sink.total),
                Err(status) => {
                    stats.error();
                    // Queued behind the chunks already sent; dropped if the client is gone or
                    // reads nothing for the idle timeout.
                    let error = tokio::time::timeout(sink.idle_timeout, sink.tx.send(Err(status)));
                    let _ = sink.runtime.block_on(error);
                }
            }
        });
        // A panicking worker drops its sender; without this the client would see a clean end.
        let stats = Arc::clone(&self.stats);
        tokio::spawn(async move {
            if let Err(e) = worker.await {
                stats.error();
                let _ = errors.send(Err(Status::internal(format!("the codec worker failed: {e}")))).await;
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

#[tonic::async_trait]
impl CompressionService for CompressionServer {
    async fn compress(&self, request: Request<CompressRequest>) -> Result<Response<CompressResponse>, Status> {
        self.stats.request();
        let req = request.into_inner();
        let limits = self.limits;
        let stats = Arc::clone(&self.stats);
        let result = async {
            let format = required_format(req.codec)?;
            let codec = format.codec_with_level(level_of(format, req.level)?).map_err(codec_status)?;
            let size = req.data.len() as u64;
            let data = blocking(move || codec.compress(&req.data).map_err(codec_status)).await?;
            check_response_size(data.len(), &limits)?;
            stats.done(Some(format), size, data.len() as u64);
            Ok(Response::new(CompressResponse { data, original_size: size }))
        }
        .await;
        self.stats.check(result)
    }

    async fn decompress(&self, request: Request<DecompressRequest>) -> Result<Response<DecompressResponse>, Status> {
        self.stats.request();
        let req = request.into_inner();
        let limits = Limits { max_output: self.limits.unary_output() };
        let stats = Arc::clone(&self.stats);
        let result = async {
            let named = format_of(req.codec)?;
            let format = match named {
                Some(f) => f,
                None => Format::detect(&req.data).ok_or_else(|| {
                    Status::invalid_argument(
                        "cannot detect the format (no zstd, LZ4 frame, gzip or zlib magic); name the codec",
                    )
                })?,
            };
            let size = req.data.len() as u64;
            let data =
                blocking(move || format.codec().decompress_with(&req.data, &limits).map_err(codec_status)).await?;
            stats.done(Some(format), size, data.len() as u64);
            Ok(Response::new(DecompressResponse { data, codec: codec_of(format) as i32 }))
        }
        .await;
        self.stats.check(result)
    }

    async fn train_dictionary(
        &self,
        request: Request<TrainDictionaryRequest>,
    ) -> Result<Response<TrainDictionaryResponse>, Status> {
        self.stats.request();
        let req = request.into_inner();
        let limits = self.limits;
        let stats = Arc::clone(&self.stats);
        let result = async {
            let total: usize = req.samples.iter().map(Vec::len).sum();
            if total > limits.max_dictionary_samples_bytes {
                return Err(Status::resource_exhausted(format!(
                    "{total} bytes of samples exceed the limit of {} bytes",
                    limits.max_dictionary_samples_bytes
                )));
            }
            let max_size = match req.max_size as usize {
                0 => DEFAULT_DICTIONARY_BYTES.min(limits.max_dictionary_bytes),
                n if n > limits.max_dictionary_bytes => {
                    return Err(Status::invalid_argument(format!(
                        "a dictionary of {n} bytes is over the limit of {} bytes",
                        limits.max_dictionary_bytes
                    )));
                }
                n => n,
            };
            let dict = blocking(move || {
                let samples: Vec<&[u8]> = req.samples.iter().map(Vec::as_slice).collect();
                ZstdDict::train(&samples, max_size)
                    .map_err(|e| Status::invalid_argument(format!("cannot train a dictionary: {e}")))
            })
            .await?;
            let dictionary = dict.to_bytes();
            stats.done(Some(Format::Zstd), total as u64, dictionary.len() as u64);
            Ok(Response::new(TrainDictionaryResponse { dictionary_id: dict.id(), dictionary }))
        }
        .await;
        self.stats.check(result)
    }

    async fn compress_with_dictionary(
        &self,
        request: Request<CompressWithDictionaryRequest>,
    ) -> Result<Response<CompressResponse>, Status> {
        self.stats.request();
        let req = request.into_inner();
        let limits = self.limits;
        let stats = Arc::clone(&self.stats);
        let result = async {
            let level = zstd_level(req.level)?;
            let size = req.data.len() as u64;
            let data = blocking(move || {
                let dict = read_dictionary(&req.dictionary)?;
                Ok(ZstdDictCompressor::new(&dict).with_level(level).compress(&req.data))
            })
            .await?;
            check_response_size(data.len(), &limits)?;
            stats.done(Some(Format::Zstd), size, data.len() as u64);
            Ok(Response::new(CompressResponse { data, original_size: size }))
        }
        .await;
        self.stats.check(result)
    }

    async fn decompress_with_dictionary(
        &self,
        request: Request<DecompressWithDictionaryRequest>,
    ) -> Result<Response<DecompressResponse>, Status> {
        self.stats.request();
        let req = request.into_inner();
        let max_output = usize::try_from(self.limits.unary_output()).unwrap_or(usize::MAX);
        let stats = Arc::clone(&self.stats);
        let result = async {
            let size = req.data.len() as u64;
            let data = blocking(move || {
                let dict = read_dictionary(&req.dictionary)?;
                let config = DecoderConfig { max_output_size: max_output, ..DecoderConfig::default() };
                ZstdDictDecompressor::with_config(&dict, config).decompress(&req.data).map_err(zstd_status)
            })
            .await?;
            stats.done(Some(Format::Zstd), size, data.len() as u64);
            Ok(Response::new(DecompressResponse { data, codec: Codec::Zstd as i32 }))
        }
        .await;
        self.stats.check(result)
    }

    type CompressStreamStream = ChunkStream;

    async fn compress_stream(
        &self,
        request: Request<Streaming<StreamChunk>>,
    ) -> Result<Response<Self::CompressStreamStream>, Status> {
        let limits = self.limits;
        self.start_stream(request, move |reader, sink, first| {
            let format = required_format(first.codec)?;
            let level = level_of(format, first.level)?;
            compress_stream(reader, sink, format, level, &limits)?;
            Ok(format)
        })
        .await
    }

    type DecompressStreamStream = ChunkStream;

    async fn decompress_stream(
        &self,
        request: Request<Streaming<StreamChunk>>,
    ) -> Result<Response<Self::DecompressStreamStream>, Status> {
        let limits = self.limits;
        self.start_stream(request, move |reader, sink, first| {
            decompress_stream(reader, sink, format_of(first.codec)?, &limits)
        })
        .await
    }

    async fn get_stats(&self, _request: Request<GetStatsRequest>) -> Result<Response<CompressionStats>, Status> {
        Ok(Response::new(self.stats.snapshot()))
    }

    async fn health_check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {
            status: health_check_response::Status::Serving as i32,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_seconds: self.started.elapsed().as_secs(),
            codecs: Format::ALL.iter().map(|f| f.name().to_owned()).collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_has_a_protocol_codec_and_back() {
        for f in Format::ALL {
            let codec = codec_of(f);
            assert_ne!(codec, Codec::Unspecified, "{f}");
            assert_eq!(format_of(codec as i32).unwrap(), Some(f));
        }
        assert_eq!(format_of(0).unwrap(), None);
        assert_eq!(format_of(99).unwrap_err().code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn levels_map_zero_to_the_default_and_refuse_the_out_of_range() {
        for f in Format::ALL {
            assert_eq!(level_of(f, 0).unwrap(), f.default_level());
            let end = *f.level_range().end();
            assert_eq!(level_of(f, end).unwrap(), Level(end));
            assert_eq!(level_of(f, end + 1).unwrap_err().code(), tonic::Code::InvalidArgument);
        }
        assert_eq!(level_of(Format::Zstd, -7).unwrap(), Level(-7));
    }

    #[test]
    fn window_limits_round_down_to_a_power_of_two() {
        assert_eq!(window_log(1 << 23), 23);
        assert_eq!(window_log((1 << 23) + 1), 23);
        assert_eq!(window_log((1 << 23) - 1), 22);
        assert_eq!(window_log(0), 10);
        assert_eq!(window_log(u64::MAX), 27);
    }

    /// Gives one byte per read, so every field of a frame straddles reads.
    struct ByteByByte<'a>(&'a [u8]);

    impl Read for ByteByByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((&b, rest)) = self.0.split_first() else { return Ok(0) };
            if buf.is_empty() {
                return Ok(0);
            }
            buf[0] = b;
            self.0 = rest;
            Ok(1)
        }
    }

    fn lz4_frame(data: &[u8], checksums: bool) -> Vec<u8> {
        let info = lz4_flex::frame::FrameInfo::new()
            .block_size(lz4_flex::frame::BlockSize::Max64KB)
            .block_checksums(checksums)
            .content_checksum(checksums)
            .content_size(checksums.then_some(data.len() as u64));
        let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn lz4_frames_are_followed_across_one_byte_reads() {
        let text: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let mut input = vec![0x5A, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 1, 2, 3];
        input.extend_from_slice(&lz4_frame(&text, true));
        input.extend_from_slice(&lz4_frame(b"second", false));
        let mut frames = Lz4Frames::new(ByteByByte(&input));
        let ended = frames.ended();
        let mut passed = Vec::new();
        frames.read_to_end(&mut passed).unwrap();
        assert_eq!(passed, input);
        assert!(ended.get());

        for cut in [input.len() - 1, input.len() - 5, 20, 9] {
            let mut frames = Lz4Frames::new(ByteByByte(&input[..cut]));
            let e = frames.read_to_end(&mut Vec::new()).unwrap_err();
            assert!(e.to_string().contains("ends inside a frame"), "cut at {cut}: {e}");
        }
        let mut garbage = lz4_frame(b"x", false);
        garbage.extend_from_slice(b"junk");
        let e = Lz4Frames::new(&garbage[..]).read_to_end(&mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("bad magic"), "{e}");
    }
}
