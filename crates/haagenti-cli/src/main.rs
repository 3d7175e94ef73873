//! `haagenti`: compress and decompress files from the command line.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use haagenti::{Codec, Format, Level};

#[derive(Debug, Parser)]
#[command(name = "haagenti", version, about = "Haagenti: compressed data and model weights for browsers and GPUs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decompress a file; the format is detected by its magic number.
    Decompress {
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
    },
    /// Compress a file.
    Compress {
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
    },
    /// Train a zstd dictionary on sample files (or directories of them).
    Train {
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
    },
}

/// A failure to report: the file it concerns and what went wrong, printed on one line.
struct Failure {
    path: PathBuf,
    message: String,
}

fn fail(path: &Path, message: impl std::fmt::Display) -> Failure {
    Failure { path: path.to_path_buf(), message: message.to_string() }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("haagenti: {}: {}", f.path.display(), f.message);
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Decompress { input, output, format, dict, force } => {
            let data = read_input(&input)?;
            let format = match format.or_else(|| Format::detect(&data)) {
                Some(f) => f,
                None => return Err(fail(&input, "unrecognized format (no known magic number; try --format)")),
            };
            let out = match dict {
                Some(dict_path) => {
                    if format != Format::Zstd {
                        return Err(fail(&input, format!("dictionaries apply to zstd, but this is {format}")));
                    }
                    let bytes = fs::read(&dict_path).map_err(|e| fail(&dict_path, e))?;
                    let dict = haagenti::zstd::Dictionary::from_bytes(&bytes).map_err(|e| fail(&dict_path, e))?;
                    haagenti::zstd::Decompressor::with_dictionary(Default::default(), dict)
                        .decompress(&data)
                        .map_err(|e| fail(&input, e))?
                }
                None => format.codec().decompress(&data).map_err(|e| fail(&input, e))?,
            };
            let target = match output {
                Some(o) => o,
                None if is_stdio(&input) => PathBuf::from("-"),
                None => strip_suffix(&input)
                    .ok_or_else(|| fail(&input, "cannot name the output (unknown suffix); give -o"))?,
            };
            write_output(&target, &out, force)
        }
        Command::Compress { input, output, codec, level, dict, no_check, force } => {
            if dict.is_some() && codec != Format::Zstd {
                return Err(fail(&input, format!("dictionaries apply to zstd, not {codec}")));
            }
            let data = read_input(&input)?;
            let c = match level {
                Some(l) => codec.codec_with_level(Level(l)).map_err(|e| fail(&input, e))?,
                None => codec.codec(),
            };
            let out = if codec == Format::Zstd {
                // The checksum is on unless --no-check, as with the reference CLI.
                match dict {
                    Some(dict_path) => {
                        let bytes = fs::read(&dict_path).map_err(|e| fail(&dict_path, e))?;
                        let dict = haagenti::zstd::ZstdDict::from_bytes(&bytes).map_err(|e| fail(&dict_path, e))?;
                        haagenti::zstd::ZstdDictCompressor::new(&dict)
                            .with_level(c.level().0)
                            .checksum(!no_check)
                            .compress(&data)
                    }
                    None => {
                        let config = haagenti::zstd::CompressorConfig { level: c.level().0, checksum: !no_check };
                        haagenti::zstd::compress_with(&data, &config)
                    }
                }
            } else {
                c.compress(&data).map_err(|e| fail(&input, e))?
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
            write_output(&target, &out, force)
        }
        Command::Train { samples, output, max_size, force } => {
            let data = read_samples(&samples)?;
            let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
            let dict = haagenti::zstd::ZstdDict::train(&refs, max_size).map_err(|e| fail(&samples[0], e))?;
            write_output(&output, &dict.to_bytes(), force)
        }
    }
}

/// Reads every sample file named, walking directories (in name order).
fn read_samples(paths: &[PathBuf]) -> Result<Vec<Vec<u8>>, Failure> {
    fn walk(path: &Path, out: &mut Vec<Vec<u8>>) -> Result<(), Failure> {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> =
                fs::read_dir(path).map_err(|e| fail(path, e))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            for e in entries {
                walk(&e, out)?;
            }
        } else {
            out.push(fs::read(path).map_err(|e| fail(path, e))?);
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out)?;
    }
    Ok(out)
}

fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

fn read_input(path: &Path) -> Result<Vec<u8>, Failure> {
    let mut data = Vec::new();
    if is_stdio(path) {
        io::stdin().read_to_end(&mut data).map_err(|e| fail(path, e))?;
    } else {
        data = fs::read(path).map_err(|e| fail(path, e))?;
    }
    Ok(data)
}

fn strip_suffix(path: &Path) -> Option<PathBuf> {
    let ext = path.extension()?.to_str()?;
    Format::ALL.iter().any(|f| f.extension() == ext).then(|| path.with_extension(""))
}

/// Writes through a temporary file renamed into place, so a failure leaves no partial output.
fn write_output(path: &Path, data: &[u8], force: bool) -> Result<(), Failure> {
    if is_stdio(path) {
        let mut stdout = io::stdout().lock();
        return stdout.write_all(data).and_then(|()| stdout.flush()).map_err(|e| fail(path, e));
    }
    if path.exists() && !force {
        return Err(fail(path, "already exists (use --force to overwrite)"));
    }
    let file_name = path.file_name().ok_or_else(|| fail(path, "not a file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".haagenti-{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = fs::write(&tmp, data).and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(fail(path, e));
    }
    Ok(())
}
