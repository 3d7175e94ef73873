//! The compression service over a real (plain TCP) gRPC connection, checked against the
//! reference implementations: libzstd (the `zstd` crate), `lz4_flex`, `flate2` and `brotli`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use haagenti_codec::Format;
use haagenti_proto::v1::compression_service_client::CompressionServiceClient;
use haagenti_proto::v1::{
    Codec, CompressRequest, CompressWithDictionaryRequest, DecompressRequest, DecompressWithDictionaryRequest,
    GetStatsRequest, HealthCheckRequest, StreamChunk, TrainDictionaryRequest, health_check_response,
};
use haagenti_server::compression::{CompressionLimits, CompressionServer};
use tokio::sync::{RwLock, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// Counts live heap bytes and their peak, for the decompression-bomb test.
struct PeakAlloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments, unchanged; the
// counters only observe sizes.
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc_zeroed` requires.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (that is, `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller guarantees `new_size`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Tests take it shared; the test measuring peak memory takes it alone.
static MEMORY: RwLock<()> = RwLock::const_new(());

/// Each protocol codec with the codec-crate format it names.
const CODECS: [(Codec, Format); 7] = [
    (Codec::Zstd, Format::Zstd),
    (Codec::Lz4, Format::Lz4),
    (Codec::Lz4Block, Format::Lz4Block),
    (Codec::Gzip, Format::Gzip),
    (Codec::Zlib, Format::Zlib),
    (Codec::Deflate, Format::Deflate),
    (Codec::Brotli, Format::Brotli),
];

type Client = CompressionServiceClient<Channel>;

/// Serves the service on a free port; the client accepts messages of any size, so limits
/// are the server's.
async fn start(limits: CompressionLimits) -> (Client, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = CompressionServer::new(limits).into_service();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let client = CompressionServiceClient::new(channel)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    (client, addr)
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data")
}

/// The corpus files, sorted by name.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(data_dir().join("corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "tests/data/corpus has {} files", files.len());
    files
}

/// The reference encoder of each format.
fn reference_compress(format: Format, data: &[u8]) -> Vec<u8> {
    match format {
        Format::Zstd => zstd::encode_all(data, 3).unwrap(),
        Format::Lz4 => {
            let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
            enc.write_all(data).unwrap();
            enc.finish().unwrap()
        }
        Format::Lz4Block => lz4_flex::block::compress_prepend_size(data),
        Format::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data).unwrap();
            enc.finish().unwrap()
        }
        Format::Zlib => {
            let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data).unwrap();
            enc.finish().unwrap()
        }
        Format::Deflate => {
            let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data).unwrap();
            enc.finish().unwrap()
        }
        Format::Brotli => {
            let mut out = Vec::new();
            {
                let mut enc = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                enc.write_all(data).unwrap();
            }
            out
        }
        f => panic!("no reference for {f}"),
    }
}

/// The reference decoder of each format; panics on invalid data.
fn reference_decompress(format: Format, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match format {
        Format::Zstd => out = zstd::decode_all(data).unwrap(),
        Format::Lz4 => {
            lz4_flex::frame::FrameDecoder::new(data).read_to_end(&mut out).unwrap();
        }
        Format::Lz4Block => out = lz4_flex::block::decompress_size_prepended(data).unwrap(),
        Format::Gzip => {
            flate2::read::MultiGzDecoder::new(data).read_to_end(&mut out).unwrap();
        }
        Format::Zlib => {
            flate2::read::ZlibDecoder::new(data).read_to_end(&mut out).unwrap();
        }
        Format::Deflate => {
            flate2::read::DeflateDecoder::new(data).read_to_end(&mut out).unwrap();
        }
        Format::Brotli => {
            brotli::Decompressor::new(data, 4096).read_to_end(&mut out).unwrap();
        }
        f => panic!("no reference for {f}"),
    }
    out
}

/// Deterministic incompressible bytes.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// Cuts `data` into chunks of uneven sizes between 1 and `max` bytes; the first names the
/// codec and level.
fn chunks(data: &[u8], codec: Codec, level: i32, max: usize) -> Vec<StreamChunk> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut x: usize = 12345;
    while pos < data.len() || out.is_empty() {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let n = (1 + (x >> 8) % max).min(data.len() - pos);
        let first = out.is_empty();
        out.push(StreamChunk {
            codec: if first { codec as i32 } else { 0 },
            level: if first { level } else { 0 },
            data: data[pos..pos + n].to_vec(),
        });
        pos += n;
    }
    out
}

/// Output of a streaming call: the bytes, the codec the chunks name, and the largest chunk.
struct Streamed {
    data: Vec<u8>,
    codec: i32,
    largest: usize,
}

async fn stream(client: &mut Client, compress: bool, input: Vec<StreamChunk>) -> Result<Streamed, Status> {
    let request = tokio_stream::iter(input);
    let mut response =
        if compress { client.compress_stream(request).await? } else { client.decompress_stream(request).await? }
            .into_inner();
    let mut out = Streamed { data: Vec::new(), codec: 0, largest: 0 };
    while let Some(chunk) = response.message().await? {
        out.data.extend_from_slice(&chunk.data);
        out.codec = chunk.codec;
        out.largest = out.largest.max(chunk.data.len());
    }
    Ok(out)
}

/// Decompresses a stream, counting its output without keeping it.
async fn drain(client: &mut Client, input: Vec<StreamChunk>) -> Result<u64, Status> {
    let mut response = client.decompress_stream(tokio_stream::iter(input)).await?.into_inner();
    let mut total = 0;
    while let Some(chunk) = response.message().await? {
        total += chunk.data.len() as u64;
    }
    Ok(total)
}

fn assert_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, what: &str) -> Status {
    match result {
        Err(status) => {
            assert_eq!(status.code(), code, "{what}: {status:?}");
            assert!(!status.message().is_empty(), "{what}: an empty message");
            status
        }
        Ok(v) => panic!("{what}: expected {code:?}, got {v:?}"),
    }
}

async fn still_serving(client: &mut Client) {
    let health = client.health_check(HealthCheckRequest {}).await.unwrap().into_inner();
    assert_eq!(health.status, health_check_response::Status::Serving as i32);
}

#[tokio::test]
async fn every_codec_round_trips_with_the_reference_on_the_corpus() {
    let _shared = MEMORY.read().await;
    let (mut client, _) = start(CompressionLimits::default()).await;
    for (name, file) in corpus() {
        for (codec, format) in CODECS {
            let what = format!("{format} {name}");
            let ours = client
                .compress(CompressRequest { codec: codec as i32, level: 0, data: file.clone() })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(ours.original_size, file.len() as u64, "{what}");
            assert_eq!(reference_decompress(format, &ours.data), file, "{what}: the reference decodes ours");

            let theirs = reference_compress(format, &file);
            let back = client
                .decompress(DecompressRequest { codec: codec as i32, data: theirs.clone() })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(back.data, file, "{what}: we decode the reference");
            assert_eq!(back.codec, codec as i32, "{what}");
            if Format::detect(&theirs).is_some() {
                let auto = client
                    .decompress(DecompressRequest { codec: Codec::Unspecified as i32, data: theirs })
                    .await
                    .unwrap()
                    .into_inner();
                assert_eq!(auto.data, file, "{what}: autodetected");
                assert_eq!(auto.codec, codec as i32, "{what}: the detected codec");
            }
        }
    }
}

#[tokio::test]
async fn every_level_of_every_codec_is_accepted_and_decodes() {
    let _shared = MEMORY.read().await;
    let (mut client, _) = start(CompressionLimits::default()).await;
    let text = std::fs::read(data_dir().join("corpus/alice29.txt")).unwrap();
    let text = &text[..40_000];
    for (codec, format) in CODECS {
        let range = format.level_range();
        for level in [*range.start(), *range.end(), 0, 1].into_iter().filter(|l| *l == 0 || range.contains(l)) {
            let out = client
                .compress(CompressRequest { codec: codec as i32, level, data: text.to_vec() })
                .await
                .unwrap_or_else(|e| panic!("{format} level {level}: {e:?}"))
                .into_inner();
            assert_eq!(reference_decompress(format, &out.data), text, "{format} level {level}");
        }
        for bad in [*range.start() - 1, *range.end() + 1] {
            if bad == 0 {
                continue;
            }
            let r = client.compress(CompressRequest { codec: codec as i32, level: bad, data: text.to_vec() }).await;
            assert_code(r, Code::InvalidArgument, &format!("{format} level {bad}"));
        }
    }
    let r = client.compress(CompressRequest { codec: Codec::Unspecified as i32, level: 0, data: text.to_vec() }).await;
    assert_code(r, Code::InvalidArgument, "compress without a codec");
    let r = client.compress(CompressRequest { codec: 99, level: 0, data: text.to_vec() }).await;
    assert_code(r, Code::InvalidArgument, "codec 99");
    still_serving(&mut client).await;
}

#[tokio::test]
async fn dictionaries_train_compress_and_decompress_with_libzstd() {
    let _shared = MEMORY.read().await;
    let (mut client, _) = start(CompressionLimits::default()).await;
    let mut samples: Vec<Vec<u8>> = std::fs::read_dir(data_dir().join("rust-sources"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    samples.sort();
    assert!(samples.len() >= 32);
    let trained = client
        .train_dictionary(TrainDictionaryRequest { samples: samples.clone(), max_size: 16 * 1024 })
        .await
        .unwrap()
        .into_inner();
    assert!(trained.dictionary.len() <= 16 * 1024 && trained.dictionary.len() > 256);
    assert_ne!(trained.dictionary_id, 0);
    assert_eq!(u32::from_le_bytes(trained.dictionary[4..8].try_into().unwrap()), trained.dictionary_id);

    let mut libzstd_d = zstd::bulk::Decompressor::with_dictionary(&trained.dictionary).unwrap();
    let mut libzstd_c = zstd::bulk::Compressor::with_dictionary(3, &trained.dictionary).unwrap();
    let (mut with_dict, mut without) = (0, 0);
    for sample in &samples {
        let frame = client
            .compress_with_dictionary(CompressWithDictionaryRequest {
                dictionary: trained.dictionary.clone(),
                level: 0,
                data: sample.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .data;
        with_dict += frame.len();
        without += zstd::bulk::compress(sample, 3).unwrap().len();
        let back = client
            .decompress_with_dictionary(DecompressWithDictionaryRequest {
                dictionary: trained.dictionary.clone(),
                data: frame.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(&back.data, sample);
        assert_eq!(libzstd_d.decompress(&frame, sample.len()).unwrap(), *sample, "libzstd decodes our frame");

        let theirs = libzstd_c.compress(sample).unwrap();
        let back = client
            .decompress_with_dictionary(DecompressWithDictionaryRequest {
                dictionary: trained.dictionary.clone(),
                data: theirs.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(&back.data, sample, "we decode libzstd's dictionary frame");
        // Without the dictionary the frame cannot be decoded.
        let r = client.decompress(DecompressRequest { codec: Codec::Zstd as i32, data: theirs }).await;
        assert_code(r, Code::InvalidArgument, "a dictionary frame without its dictionary");
    }
    assert!(with_dict < without, "the dictionary should help small files: {with_dict} vs {without} bytes");

    let r = client.train_dictionary(TrainDictionaryRequest { samples: vec![b"tiny".to_vec()], max_size: 0 }).await;
    assert_code(r, Code::InvalidArgument, "too few samples");
    let r = client
        .compress_with_dictionary(CompressWithDictionaryRequest {
            dictionary: trained.dictionary[..100].to_vec(),
            level: 0,
            data: b"x".to_vec(),
        })
        .await;
    assert_code(r, Code::InvalidArgument, "a truncated dictionary");
    still_serving(&mut client).await;
}

/// Several megabytes of real data: the corpus twice.
fn big_input() -> Vec<u8> {
    let files = corpus();
    let mut data = Vec::new();
    for _ in 0..2 {
        for (_, f) in &files {
            data.extend_from_slice(f);
        }
    }
    data
}

#[tokio::test]
async fn streams_round_trip_a_multi_megabyte_input_in_small_chunks() {
    let _shared = MEMORY.read().await;
    let limits = CompressionLimits { stream_chunk_bytes: 64 * 1024, ..CompressionLimits::default() };
    let (mut client, _) = start(limits).await;
    let data = big_input();
    assert!(data.len() > 4 << 20);
    for (codec, format) in CODECS {
        let out = stream(&mut client, true, chunks(&data, codec, 0, 9000)).await.unwrap();
        assert_eq!(out.codec, codec as i32, "{format}");
        assert!(out.largest <= 64 * 1024, "{format}: a chunk of {} bytes", out.largest);
        assert_eq!(reference_decompress(format, &out.data), data, "{format}: the reference decodes our stream");

        let theirs = reference_compress(format, &data);
        let named = if Format::detect(&theirs).is_some() { Codec::Unspecified } else { codec };
        let back = stream(&mut client, false, chunks(&theirs, named, 0, 5000)).await.unwrap();
        assert_eq!(back.codec, codec as i32, "{format}");
        assert!(back.largest <= 64 * 1024, "{format}: a chunk of {} bytes", back.largest);
        assert!(back.data == data, "{format}: we decode the reference's stream");
    }
    let stats = client.get_stats(GetStatsRequest {}).await.unwrap().into_inner();
    assert_eq!(stats.errors, 0);
    assert_eq!(stats.requests, 2 * CODECS.len() as u64);
}

/// LZ4 frames with every optional field (content size, block and content checksums), followed
/// by a second frame, arrive a few bytes at a time; the server follows their structure across
/// chunk boundaries and still refuses a cut inside the checksum. (No skippable frame: `lz4_flex`
/// refuses them.)
#[tokio::test]
async fn lz4_frame_streams_with_every_field_decode_in_tiny_chunks() {
    let _shared = MEMORY.read().await;
    let (mut client, _) = start(CompressionLimits::default()).await;
    let text = std::fs::read(data_dir().join("corpus/asyoulik.txt")).unwrap();
    let info = lz4_flex::frame::FrameInfo::new()
        .block_size(lz4_flex::frame::BlockSize::Max64KB)
        .block_checksums(true)
        .content_checksum(true)
        .content_size(Some(text.len() as u64));
    let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
    enc.write_all(&text).unwrap();
    let frame = enc.finish().unwrap();
    let mut input = frame.clone();
    input.extend_from_slice(&reference_compress(Format::Lz4, b"and a second frame"));
    let mut expected = text.clone();
    expected.extend_from_slice(b"and a second frame");
    let out = stream(&mut client, false, chunks(&input, Codec::Lz4, 0, 7)).await.unwrap();
    let unary = client.decompress(DecompressRequest { codec: Codec::Lz4 as i32, data: input.clone() }).await;
    assert!(unary.unwrap().into_inner().data == expected, "unary");
    assert!(out.data == expected);
    let cut = &frame[..frame.len() - 2];
    let r = stream(&mut client, false, chunks(cut, Codec::Lz4, 0, 7)).await.map(|s| s.data.len());
    assert_code(r, Code::InvalidArgument, "lz4 stream cut in its content checksum");
    let mut trailing = frame.clone();
    trailing.extend_from_slice(b"trailing garbage");
    let r = stream(&mut client, false, chunks(&trailing, Codec::Lz4, 0, 7)).await.map(|s| s.data.len());
    assert_code(r, Code::InvalidArgument, "lz4 stream with trailing garbage");
    let r = client.decompress(DecompressRequest { codec: Codec::Lz4 as i32, data: trailing }).await;
    assert_code(r, Code::InvalidArgument, "lz4 with trailing garbage");
}

/// A zstd stream stays within the configured window (8 MiB by default) even at level 22,
/// whose window is 128 MiB: libzstd limited to 8 MiB decodes it.
#[tokio::test]
async fn zstd_streams_stay_within_the_window_limit() {
    let _shared = MEMORY.read().await;
    let (mut client, _) = start(CompressionLimits::default()).await;
    let data = big_input()[..1 << 20].to_vec();
    let out = stream(&mut client, true, chunks(&data, Codec::Zstd, 22, 50_000)).await.unwrap();
    let mut dec = zstd::stream::Decoder::new(&out.data[..]).unwrap();
    dec.window_log_max(23).unwrap();
    let mut back = Vec::new();
    dec.read_to_end(&mut back).unwrap();
    assert!(back == data);
    // And a frame asking for more than the limit is refused as a stream.
    let big_window = {
        let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        enc.window_log(25).unwrap();
        enc.write_all(&big_input()).unwrap();
        enc.finish().unwrap()
    };
    let r = drain(&mut client, chunks(&big_window, Codec::Zstd, 0, 50_000)).await;
    assert_code(r, Code::ResourceExhausted, "a 32 MiB window");
}

/// Output arrives while the client is still sending: the server does not wait for the whole
/// input (zstd, gzip, brotli compress block by block; every decoder but the LZ4 block's).
#[tokio::test]
async fn streams_answer_before_the_input_ends() {
    let _shared = MEMORY.read().await;
    let limits = CompressionLimits { stream_chunk_bytes: 16 * 1024, ..CompressionLimits::default() };
    let (mut client, _) = start(limits).await;
    let data = big_input();
    for (compress, codec, format) in [
        (true, Codec::Zstd, Format::Zstd),
        (true, Codec::Gzip, Format::Gzip),
        (false, Codec::Zstd, Format::Zstd),
        (false, Codec::Lz4, Format::Lz4),
        (false, Codec::Brotli, Format::Brotli),
    ] {
        let input = match (compress, format) {
            (true, _) => data.clone(),
            // Blocks of 64 KiB: the reference picks 4 MiB ones for a large write, and a block
            // is only decoded once it is complete.
            (false, Format::Lz4) => {
                let info = lz4_flex::frame::FrameInfo::new().block_size(lz4_flex::frame::BlockSize::Max64KB);
                let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
                enc.write_all(&data).unwrap();
                enc.finish().unwrap()
            }
            (false, _) => reference_compress(format, &data),
        };
        let pieces = chunks(&input, codec, 0, 32 * 1024);
        let half = pieces.len() / 2;
        let (tx, rx) = mpsc::channel(4);
        let request = ReceiverStream::new(rx);
        let sender = {
            let tx = tx.clone();
            let first: Vec<_> = pieces[..half].to_vec();
            tokio::spawn(async move {
                for p in first {
                    tx.send(p).await.unwrap();
                }
            })
        };
        let mut response = if compress {
            client.compress_stream(request).await.unwrap()
        } else {
            client.decompress_stream(request).await.unwrap()
        }
        .into_inner();
        // The second half is not sent until output has come back.
        let first = tokio::time::timeout(Duration::from_secs(120), response.message())
            .await
            .unwrap_or_else(|_| panic!("{format}: no output before the input ended"))
            .unwrap()
            .unwrap();
        sender.await.unwrap();
        let mut out = first.data;
        let rest = pieces[half..].to_vec();
        let feeder = tokio::spawn(async move {
            for p in rest {
                tx.send(p).await.unwrap();
            }
        });
        while let Some(chunk) = response.message().await.unwrap() {
            out.extend_from_slice(&chunk.data);
        }
        feeder.await.unwrap();
        let decoded = if compress { reference_decompress(format, &out) } else { out };
        assert!(decoded == data, "{format} compress={compress}");
    }
}

/// 1 GiB of zeros compressed by libzstd's streaming encoder (about 40 KB, no content size).
fn zstd_bomb() -> Vec<u8> {
    let mut enc = zstd::stream::Encoder::new(Vec::new(), 1).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        enc.write_all(&zeros).unwrap();
    }
    enc.finish().unwrap()
}

/// A zstd frame declaring 1 TiB of content, followed by RLE blocks of 128 KiB each.
fn forged_zstd(blocks: usize) -> Vec<u8> {
    let mut f = 0xFD2F_B528u32.to_le_bytes().to_vec();
    // Frame header descriptor: 8-byte content size, single segment.
    f.push(0xE0);
    f.extend_from_slice(&(1u64 << 40).to_le_bytes());
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let header = last | (1 << 1) | (128 * 1024) << 3;
        f.extend_from_slice(&header.to_le_bytes()[..3]);
        f.push(b'A');
    }
    f
}

#[tokio::test]
async fn bombs_and_long_streams_run_in_bounded_memory() {
    let _alone = MEMORY.write().await;
    let (mut client, _) = start(CompressionLimits::default()).await;
    let bomb = zstd_bomb();
    assert!(bomb.len() < 1 << 20, "the bomb is {} bytes", bomb.len());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..300 {
        gz.write_all(&zeros).unwrap();
    }
    let gzip_bomb = gz.finish().unwrap();
    let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
    for _ in 0..300 {
        lz4.write_all(&zeros).unwrap();
    }
    let lz4_bomb = lz4.finish().unwrap();
    let mut lz4_block = (u32::MAX).to_le_bytes().to_vec();
    lz4_block.extend_from_slice(&[0x1F, 0, 1, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
    let forged = forged_zstd(8192);
    still_serving(&mut client).await;

    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    for (what, codec, data) in [
        ("zstd, 1 GiB of zeros", Codec::Unspecified, &bomb),
        ("zstd, 1 TiB declared", Codec::Zstd, &forged),
        ("gzip, 300 MiB of zeros", Codec::Gzip, &gzip_bomb),
        ("lz4, 300 MiB of zeros", Codec::Lz4, &lz4_bomb),
        ("lz4 block, 4 GiB declared", Codec::Lz4Block, &lz4_block),
    ] {
        let r = client.decompress(DecompressRequest { codec: codec as i32, data: data.clone() }).await;
        assert_code(r, Code::ResourceExhausted, what);
    }
    let r = client
        .decompress_with_dictionary(DecompressWithDictionaryRequest {
            dictionary: b"raw content dictionary, ".repeat(40),
            data: bomb.clone(),
        })
        .await;
    assert_code(r, Code::ResourceExhausted, "zstd with a dictionary, 1 GiB of zeros");
    for (what, codec, data) in [
        ("zstd stream", Codec::Unspecified, &bomb),
        ("gzip stream", Codec::Unspecified, &gzip_bomb),
        ("lz4 stream", Codec::Unspecified, &lz4_bomb),
    ] {
        let r = drain(&mut client, chunks(data, codec, 0, 4096)).await;
        assert_code(r, Code::ResourceExhausted, what);
    }
    // Streaming compression holds a window, not its input: 64 MiB made lazily on the client.
    let corpus = std::sync::Arc::new(big_input());
    for codec in [Codec::Zstd, Codec::Lz4] {
        let corpus = std::sync::Arc::clone(&corpus);
        let pieces = (0..1024usize).map(move |i| {
            let start = i * 65_536 % (corpus.len() - 65_536);
            StreamChunk { codec: codec as i32, level: 0, data: corpus[start..start + 65_536].to_vec() }
        });
        let mut response = client.compress_stream(tokio_stream::iter(pieces)).await.unwrap().into_inner();
        let mut total = 0;
        while let Some(chunk) = response.message().await.unwrap() {
            total += chunk.data.len();
        }
        assert!(total > 0 && total < 64 << 20, "{codec:?}: {total} bytes");
    }
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    // Unary output is capped at 16 MiB (the codec crate holds at most three times that while
    // decoding); a stream holds its window and a few chunks of 256 KiB, however much it sends
    // (256 MiB here). The bombs expand to gigabytes and claim a terabyte; the compressed
    // streams are 64 MiB each.
    assert!(peak < 64 << 20, "the bombs made the process allocate {} MiB", peak >> 20);
    still_serving(&mut client).await;
}

#[tokio::test]
async fn corrupt_data_is_invalid_argument() {
    let _shared = MEMORY.read().await;
    let (mut client, _) = start(CompressionLimits::default()).await;
    let text = std::fs::read(data_dir().join("corpus/alice29.txt")).unwrap();
    for (codec, format) in CODECS {
        let good = reference_compress(format, &text);
        let truncated = good[..good.len() / 2].to_vec();
        let r = client.decompress(DecompressRequest { codec: codec as i32, data: truncated.clone() }).await;
        assert_code(r, Code::InvalidArgument, &format!("{format}, truncated"));
        let r = stream(&mut client, false, chunks(&truncated, codec, 0, 3000)).await.map(|s| s.data.len());
        // An LZ4 frame cut at a block boundary reads as complete to a streaming decoder, so
        // this cut is inside a block: the middle of the input.
        assert_code(r, Code::InvalidArgument, &format!("{format} stream, truncated"));
        let mut garbled = good.clone();
        for b in &mut garbled[8..40] {
            *b ^= 0x5A;
        }
        let r = client.decompress(DecompressRequest { codec: codec as i32, data: garbled }).await;
        assert_code(r, Code::InvalidArgument, &format!("{format}, garbled"));
    }
    // An LZ4 frame cut between two blocks.
    let info = lz4_flex::frame::FrameInfo::new().block_size(lz4_flex::frame::BlockSize::Max64KB);
    let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
    enc.write_all(&text).unwrap();
    let frame = enc.finish().unwrap();
    // The header is 7 bytes (no content size, no dictionary), then the first block's size.
    let first = u32::from_le_bytes(frame[7..11].try_into().unwrap()) & 0x7FFF_FFFF;
    let cut = frame[..11 + first as usize].to_vec();
    let r = stream(&mut client, false, chunks(&cut, Codec::Lz4, 0, 3000)).await.map(|s| s.data.len());
    assert_code(r, Code::InvalidArgument, "lz4 stream cut between blocks");
    let r = client.decompress(DecompressRequest { codec: Codec::Lz4 as i32, data: cut }).await;
    assert_code(r, Code::InvalidArgument, "lz4 cut between blocks");
    let whole = stream(&mut client, false, chunks(&frame, Codec::Lz4, 0, 3000)).await.unwrap();
    assert!(whole.data == text, "the whole frame still decodes");

    let r = client.decompress(DecompressRequest { codec: 0, data: noise(1000, 7) }).await;
    assert_code(r, Code::InvalidArgument, "no magic");
    let r = stream(&mut client, false, chunks(&noise(1000, 7), Codec::Unspecified, 0, 100)).await.map(|s| s.data);
    assert_code(r, Code::InvalidArgument, "a stream with no magic");
    let r = stream(&mut client, false, vec![]).await.map(|s| s.data);
    assert_code(r, Code::InvalidArgument, "an empty stream");
    let r = stream(&mut client, true, chunks(b"abc", Codec::Unspecified, 0, 100)).await.map(|s| s.data);
    assert_code(r, Code::InvalidArgument, "a compress stream without a codec");
    still_serving(&mut client).await;
}

#[tokio::test]
async fn oversized_messages_and_outputs_are_refused() {
    let _shared = MEMORY.read().await;
    let limits = CompressionLimits {
        max_message_bytes: 1 << 20,
        max_stream_bytes: 4 << 20,
        max_dictionary_samples_bytes: 64 * 1024,
        ..CompressionLimits::default()
    };
    let (mut client, _) = start(limits).await;
    let text = big_input()[..3 << 19].to_vec();

    // tonic refuses a request over the limit before reading it.
    let r = client.compress(CompressRequest { codec: Codec::Zstd as i32, level: 0, data: text.clone() }).await;
    assert_code(r, Code::OutOfRange, "a request over 1 MiB");
    still_serving(&mut client).await;

    // Incompressible input that fits in a request; its compressed form does not fit a response.
    let r =
        client.compress(CompressRequest { codec: Codec::Gzip as i32, level: 0, data: noise((1 << 20) - 40, 3) }).await;
    assert_code(r, Code::ResourceExhausted, "a response over 1 MiB");

    // Decompressed output over what a response can carry.
    let packed = zstd::encode_all(&text[..], 3).unwrap();
    let r = client.decompress(DecompressRequest { codec: 0, data: packed.clone() }).await;
    assert_code(r, Code::ResourceExhausted, "decompressed output over 1 MiB");
    // The stream carries it.
    let out = stream(&mut client, false, chunks(&packed, Codec::Zstd, 0, 10_000)).await.unwrap();
    assert!(out.data == text);
    assert!(out.largest < 1 << 20);

    // A stream's total input is capped.
    let noise_big = noise(5 << 20, 9);
    let r = stream(&mut client, true, chunks(&noise_big, Codec::Lz4, 0, 100_000)).await.map(|s| s.data.len());
    assert_code(r, Code::ResourceExhausted, "a stream over 4 MiB of input");

    let r = client
        .train_dictionary(TrainDictionaryRequest { samples: vec![vec![b'a'; 40_000], vec![b'b'; 40_000]], max_size: 0 })
        .await;
    assert_code(r, Code::ResourceExhausted, "samples over the limit");
    still_serving(&mut client).await;
}

/// A stream whose client goes quiet fails once the idle timeout passes, and frees its worker.
#[tokio::test]
async fn idle_streams_time_out() {
    let _shared = MEMORY.read().await;
    let limits = CompressionLimits { stream_idle_timeout: Duration::from_millis(300), ..CompressionLimits::default() };
    let (mut client, addr) = start(limits).await;
    let (tx, rx) = mpsc::channel(1);
    tx.send(StreamChunk { codec: Codec::Zstd as i32, level: 0, data: b"then nothing more".to_vec() }).await.unwrap();
    let mut response = client.compress_stream(ReceiverStream::new(rx)).await.unwrap().into_inner();
    // `tx` stays open: the client neither sends nor ends the stream.
    let r = tokio::time::timeout(Duration::from_secs(60), response.message()).await.expect("no timeout came");
    assert_code(r, Code::DeadlineExceeded, "an idle stream");
    drop(tx);
    still_serving(&mut client).await;

    // A client that sends but never reads: the worker gives up once its output waits too long.
    let (mut sender, addr) = (client.clone(), addr);
    let input = noise(16 << 20, 5);
    let held = sender.compress_stream(tokio_stream::iter(chunks(&input, Codec::Lz4, 0, 256 * 1024))).await.unwrap();
    // Another connection, so the unread stream's flow-control window does not hold it up.
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut watcher = CompressionServiceClient::new(channel);
    let mut errors = 0;
    for _ in 0..600 {
        errors = watcher.get_stats(GetStatsRequest {}).await.unwrap().into_inner().errors;
        if errors == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(errors, 2, "the idle stream and the unread stream");
    drop(held);
}

/// Compression runs off the async threads: on a single-threaded runtime (server and client
/// share the thread) a health check is answered while a slow compression is still running.
#[tokio::test(flavor = "current_thread")]
async fn slow_compression_does_not_block_the_runtime() {
    let _shared = MEMORY.read().await;
    let (client, _) = start(CompressionLimits::default()).await;
    let data = big_input()[..4 << 20].to_vec();
    let mut slow_client = client.clone();
    let slow = tokio::spawn(async move {
        slow_client
            .compress(CompressRequest { codec: Codec::Brotli as i32, level: 11, data })
            .await
            .map(|r| r.into_inner())
    });
    // Let the request reach the server first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fast_client = client.clone();
    let health = fast_client.health_check(HealthCheckRequest {}).await.unwrap().into_inner();
    assert_eq!(health.status, health_check_response::Status::Serving as i32);
    assert!(!slow.is_finished(), "brotli level 11 of 4 MiB finished before a health check");
    let out = slow.await.unwrap().unwrap();
    assert_eq!(out.original_size, 4 << 20);
}

#[tokio::test]
async fn stats_count_requests_bytes_and_errors_and_health_names_every_codec() {
    let _shared = MEMORY.read().await;
    let (mut client, _) = start(CompressionLimits::default()).await;
    let health = client.health_check(HealthCheckRequest {}).await.unwrap().into_inner();
    assert_eq!(health.status, health_check_response::Status::Serving as i32);
    assert_eq!(health.version, env!("CARGO_PKG_VERSION"));
    let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
    assert_eq!(health.codecs, names);

    let inputs = [b"first input, first input".to_vec(), noise(5000, 1), vec![7; 100_000]];
    let mut out_bytes = 0;
    for data in &inputs {
        out_bytes += client
            .compress(CompressRequest { codec: Codec::Zlib as i32, level: 0, data: data.clone() })
            .await
            .unwrap()
            .into_inner()
            .data
            .len() as u64;
    }
    let r = client.decompress(DecompressRequest { codec: Codec::Zlib as i32, data: b"not zlib".to_vec() }).await;
    assert_code(r, Code::InvalidArgument, "not zlib");
    let stats = client.get_stats(GetStatsRequest {}).await.unwrap().into_inner();
    let in_bytes: u64 = inputs.iter().map(|d| d.len() as u64).sum();
    assert_eq!((stats.requests, stats.errors), (4, 1));
    assert_eq!((stats.bytes_in, stats.bytes_out), (in_bytes, out_bytes));
    assert_eq!(stats.codecs.len(), CODECS.len());
    for c in &stats.codecs {
        let expected = if c.codec == Codec::Zlib as i32 { (3, in_bytes, out_bytes) } else { (0, 0, 0) };
        assert_eq!((c.requests, c.bytes_in, c.bytes_out), expected, "codec {}", c.codec);
    }
}
