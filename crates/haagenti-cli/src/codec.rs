//! `haagenti compress`, `decompress` and `train`: files of any size, streamed.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use haagenti::zstd::{DecoderConfig, Dictionary, ZstdCompressor, ZstdDict, ZstdDictCompressor};
use haagenti::{Format, Level};

use crate::files::{Failure, Output, fail, is_stdio, open_input, read_input, read_samples, strip_suffix, write_output};

/// Arguments of `haagenti decompress`.
#[derive(Debug, Args)]
#[command(after_help = "The output is streamed: files of any size decompress with memory bounded by the \
    format's window (zstd: about twice the frame's window, at most 128 MiB windows accepted), not by the \
    output size. lz4-block input is one block and is read whole.")]
pub(crate) struct DecompressArgs {
    /// Input file, or - for standard input.
    input: PathBuf,
    /// Output file, or - for standard output. Default: the input without its suffix.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Format, for data without a magic number (brotli, deflate, lz4-block).
    #[arg(long)]
    format: Option<Format>,
    /// Dictionary file.
    #[arg(short = 'D', long = "dict")]
    dict: Option<PathBuf>,
    /// Overwrite an existing output file.
    #[arg(short, long)]
    force: bool,
}

/// Arguments of `haagenti compress`.
#[derive(Debug, Args)]
#[command(after_help = "The input is streamed: zstd, lz4, gzip, zlib, deflate and brotli compress files of \
    any size with memory bounded by the window. lz4-block (one block) and compression with a dictionary \
    (meant for small records) read the whole input into memory.")]
pub(crate) struct CompressArgs {
    /// Input file, or - for standard input.
    input: PathBuf,
    /// Output file, or - for standard output. Default: the input plus the codec's suffix.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Codec: zstd, lz4, lz4-block, gzip, zlib, deflate or brotli.
    #[arg(long, default_value = "zstd")]
    codec: Format,
    /// Compression level (the codec's default when omitted).
    #[arg(short, long, allow_negative_numbers = true)]
    level: Option<i32>,
    /// Dictionary file.
    #[arg(short = 'D', long = "dict")]
    dict: Option<PathBuf>,
    /// Leave out the content checksum (zstd).
    #[arg(long)]
    no_check: bool,
    /// Overwrite an existing output file.
    #[arg(short, long)]
    force: bool,
}

/// Arguments of `haagenti train`.
#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    /// Sample files, or directories whose files (recursively) are samples.
    #[arg(required = true)]
    samples: Vec<PathBuf>,
    /// Where to write the dictionary.
    #[arg(short, long)]
    output: PathBuf,
    /// Largest dictionary size in bytes.
    #[arg(long, default_value_t = 112_640)]
    max_size: usize,
    /// Overwrite an existing output file.
    #[arg(short, long)]
    force: bool,
}

/// Bytes read from the input at a time.
const CHUNK: usize = 128 * 1024;

pub(crate) fn decompress(args: DecompressArgs) -> Result<(), Failure> {
    let DecompressArgs { input, output, format, dict, force } = args;
    let mut reader = open_input(&input)?;
    // The magic number decides the format; the bytes read for it are decoded too.
    let mut head = Vec::with_capacity(16);
    reader.by_ref().take(16).read_to_end(&mut head).map_err(|e| fail(&input, e))?;
    let format = match format.or_else(|| Format::detect(&head)) {
        Some(f) => f,
        None => return Err(fail(&input, "unrecognized format (no known magic number; try --format)")),
    };
    let dict = match dict {
        Some(_) if format != Format::Zstd => {
            return Err(fail(&input, format!("dictionaries apply to zstd, but this is {format}")));
        }
        Some(path) => {
            let bytes = std::fs::read(&path).map_err(|e| fail(&path, e))?;
            Some(Dictionary::from_bytes(&bytes).map_err(|e| fail(&path, e))?)
        }
        None => None,
    };
    let target = match output {
        Some(o) => o,
        None if is_stdio(&input) => PathBuf::from("-"),
        None => strip_suffix(&input).ok_or_else(|| fail(&input, "cannot name the output (unknown suffix); give -o"))?,
    };
    let mut out = Output::create(&target, force)?;
    let reader = io::Cursor::new(head).chain(reader);
    if format == Format::Zstd {
        decompress_zstd(reader, dict, &input, &mut out)?;
    } else {
        let decoder = haagenti::decoder(format, reader).map_err(|e| fail(&input, e))?;
        copy(decoder, &input, &mut out)?;
    }
    out.commit()
}

/// Streams zstd frames from `reader` to `out`: the decoder keeps the window and hands out each
/// block's bytes as they are read, so memory follows the window, not the output.
fn decompress_zstd(reader: impl Read, dict: Option<Dictionary>, input: &Path, out: &mut Output) -> Result<(), Failure> {
    // No output limit: the output goes to a file as it is decoded.
    let config = DecoderConfig { max_output_size: usize::MAX, ..DecoderConfig::default() };
    copy(haagenti::zstd::io::Decoder::with_config(reader, config, dict), input, out)
}

/// Copies a decoding reader into `out`; read errors are the input's, write errors the output's.
fn copy(mut reader: impl Read, input: &Path, out: &mut Output) -> Result<(), Failure> {
    let mut buf = vec![0; CHUNK];
    loop {
        let n = read_some(&mut reader, &mut buf).map_err(|e| fail(input, e))?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n]).map_err(|e| fail(out.target(), e))?;
    }
}

fn read_some(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

pub(crate) fn compress(args: CompressArgs) -> Result<(), Failure> {
    let CompressArgs { input, output, codec, level, dict, no_check, force } = args;
    if dict.is_some() && codec != Format::Zstd {
        return Err(fail(&input, format!("dictionaries apply to zstd, not {codec}")));
    }
    let level = match level {
        Some(l) => codec.codec_with_level(Level(l)).map_err(|e| fail(&input, e))?.level(),
        None => codec.default_level(),
    };
    let target = match output {
        Some(o) => o,
        None if is_stdio(&input) => PathBuf::from("-"),
        None => {
            let mut name = input.clone().into_os_string();
            name.push(".");
            name.push(codec.extension());
            PathBuf::from(name)
        }
    };
    if let Some(dict_path) = dict {
        // Dictionaries are for small records: compressed in one piece.
        let data = read_input(&input)?;
        let bytes = std::fs::read(&dict_path).map_err(|e| fail(&dict_path, e))?;
        let dict = ZstdDict::from_bytes(&bytes).map_err(|e| fail(&dict_path, e))?;
        let frame = ZstdDictCompressor::new(&dict).with_level(level.0).checksum(!no_check).compress(&data);
        return write_output(&target, &frame, force);
    }
    let reader = open_input(&input)?;
    let mut out = Output::create(&target, force)?;
    if codec == Format::Zstd {
        // The checksum is on unless --no-check, as with the reference CLI.
        let compressor = ZstdCompressor::with_level(level.0).checksum(!no_check);
        let mut encoder = haagenti::zstd::io::Encoder::new(&mut out, &compressor);
        copy_into(reader, &input, &mut encoder)?;
        encoder.finish().map_err(|e| fail(&target, e))?;
    } else {
        let mut encoder = haagenti::encoder(codec, level, &mut out).map_err(|e| fail(&input, e))?;
        copy_into(reader, &input, &mut encoder)?;
        encoder.finish().map_err(|e| fail(&target, e))?;
    }
    out.commit()
}

/// Copies `reader` into a compressing writer.
fn copy_into(mut reader: impl Read, input: &Path, writer: &mut impl Write) -> Result<(), Failure> {
    let mut buf = vec![0; CHUNK];
    loop {
        let n = read_some(&mut reader, &mut buf).map_err(|e| fail(input, e))?;
        if n == 0 {
            return Ok(());
        }
        writer.write_all(&buf[..n]).map_err(|e| fail(input, format!("compressing: {e}")))?;
    }
}

pub(crate) fn train(args: TrainArgs) -> Result<(), Failure> {
    let data = read_samples(&args.samples)?;
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    let dict = ZstdDict::train(&refs, args.max_size).map_err(|e| fail(&args.samples[0], e))?;
    write_output(&args.output, &dict.to_bytes(), args.force)
}
