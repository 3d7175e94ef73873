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
    /// Tensor files: pack safetensors into HCT, unpack, inspect.
    Tensor {
        #[command(subcommand)]
        command: TensorCommand,
    },
    /// HoloTensor: encode an image or a tensor into progressive fragments, decode any subset.
    Holo {
        #[command(subcommand)]
        command: HoloCommand,
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

#[derive(Debug, Subcommand)]
enum TensorCommand {
    /// Pack a .safetensors file into an HCT file (lossless unless --quantize).
    Pack {
        /// The .safetensors file.
        input: PathBuf,
        /// The HCT file to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Block codec: zstd, lz4 or store.
        #[arg(long, default_value = "zstd")]
        codec: String,
        /// zstd level.
        #[arg(short, long, default_value_t = 3, allow_negative_numbers = true)]
        level: i32,
        /// Payload bytes per block (rounded down to whole elements).
        #[arg(long, default_value_t = 1 << 20)]
        block_size: u64,
        /// Float transform: auto (chosen per tensor by size), none, planes or sign-exp.
        #[arg(long, default_value = "auto")]
        transform: String,
        /// Quantize float matrices (tensors of two or more dimensions) to int8 or int4 with
        /// per-group scales; vectors stay exact. Lossy.
        #[arg(long)]
        quantize: Option<String>,
        /// Values per quantization group.
        #[arg(long, default_value_t = 64)]
        group: u32,
        /// Overwrite an existing output file.
        #[arg(short, long)]
        force: bool,
    },
    /// Unpack an HCT file into a .safetensors file (bit-exact for files packed losslessly).
    Unpack {
        /// The HCT file.
        input: PathBuf,
        /// The .safetensors file to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Overwrite an existing output file.
        #[arg(short, long)]
        force: bool,
    },
    /// Print a table of the tensors of an HCT or .safetensors file.
    Inspect {
        /// The file.
        input: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum HoloCommand {
    /// Encode a PNG/JPEG image or a tensor of a .safetensors file into DIR: fragments stored
    /// by content hash (fragments/ab/abcd...) and manifest.json.
    Encode {
        /// A .png/.jpg image or a .safetensors file.
        input: PathBuf,
        /// Number of fragments.
        #[arg(long, default_value_t = 8)]
        fragments: u16,
        /// spectral, projection, lowrank or residual.
        #[arg(long, default_value = "spectral")]
        encoding: String,
        /// Quality of the lossy encodings, 1 to 100.
        #[arg(long, default_value_t = 75.0)]
        quality: f32,
        /// Components kept by lowrank.
        #[arg(long, default_value_t = 32)]
        rank: u16,
        /// Which tensor of a .safetensors file (default: the largest F32/F16/BF16 one).
        #[arg(long)]
        tensor: Option<String>,
        /// The directory to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Decode from the fragments in DIR: all, the first K, or a list of indexes.
    Decode {
        /// A directory written by `holo encode`.
        dir: PathBuf,
        /// Use only the first K fragments.
        #[arg(long = "use", conflicts_with = "fragments")]
        first: Option<usize>,
        /// Use only these fragment indexes (comma-separated, from 0).
        #[arg(long, value_delimiter = ',')]
        fragments: Option<Vec<usize>>,
        /// OUT.png for images, OUT.safetensors for tensors.
        #[arg(short, long)]
        output: PathBuf,
        /// Overwrite an existing output file.
        #[arg(short, long)]
        force: bool,
    },
    /// Print the quality curve measured at encode time.
    Curve {
        /// A directory written by `holo encode`.
        dir: PathBuf,
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
        Command::Tensor { command } => tensor(command),
        Command::Holo { command } => holo(command),
        Command::Train { samples, output, max_size, force } => {
            let data = read_samples(&samples)?;
            let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
            let dict = haagenti::zstd::ZstdDict::train(&refs, max_size).map_err(|e| fail(&samples[0], e))?;
            write_output(&output, &dict.to_bytes(), force)
        }
    }
}

fn tensor(command: TensorCommand) -> Result<(), Failure> {
    use haagenti::hct::{BlockCodec, HctReaderV2, HctWriterV2, QuantScheme, Transform, WriterOptions, safetensors};
    match command {
        TensorCommand::Pack { input, output, codec, level, block_size, transform, quantize, group, force } => {
            let codec = match codec.as_str() {
                "zstd" => BlockCodec::Zstd,
                "lz4" => BlockCodec::Lz4,
                "store" => BlockCodec::Store,
                other => return Err(fail(&input, format!("unknown codec {other:?} (zstd, lz4 or store)"))),
            };
            let transform = match transform.as_str() {
                "auto" => None,
                "none" => Some(Transform::None),
                "planes" => Some(Transform::BytePlanes),
                "sign-exp" => Some(Transform::SignExpPlanes),
                other => {
                    return Err(fail(&input, format!("unknown transform {other:?} (auto, none, planes, sign-exp)")));
                }
            };
            let scheme = match quantize.as_deref() {
                None => None,
                Some("int8") => Some(QuantScheme::Int8 { group }),
                Some("int4") => Some(QuantScheme::Int4 { group }),
                Some(other) => return Err(fail(&input, format!("unknown quantization {other:?} (int8 or int4)"))),
            };
            if group == 0 {
                return Err(fail(&input, "--group must be at least 1"));
            }
            let opts = WriterOptions { codec, level, block_size: block_size.max(1), transform };
            let bytes = read_input(&input)?;
            let out = match scheme {
                None => safetensors::pack(&bytes, opts).map_err(|e| fail(&input, e))?,
                Some(scheme) => {
                    let st = safetensors::parse(&bytes).map_err(|e| fail(&input, e))?;
                    let mut w = HctWriterV2::new(opts);
                    for t in &st.tensors {
                        let r = match float_values(t.dtype, t.data) {
                            Some(values) if t.shape.len() >= 2 => w.add_quantized(&t.name, &t.shape, &values, scheme),
                            _ => w.add_tensor(&t.name, t.dtype, &t.shape, t.data),
                        };
                        r.map_err(|e| fail(&input, e))?;
                    }
                    w.finish()
                }
            };
            write_output(&output, &out, force)
        }
        TensorCommand::Unpack { input, output, force } => {
            let bytes = read_input(&input)?;
            let r = HctReaderV2::open(&bytes[..]).map_err(|e| fail(&input, e))?;
            let out = safetensors::unpack(&r).map_err(|e| fail(&input, e))?;
            write_output(&output, &out, force)
        }
        TensorCommand::Inspect { input } => {
            let file = fs::File::open(&input).map_err(|e| fail(&input, e))?;
            let len = file.metadata().map_err(|e| fail(&input, e))?.len();
            let mut magic = [0u8; 4];
            let source = FileSource { file, len };
            haagenti::hct::ByteSource::read_at(&source, 0, &mut magic[..len.min(4) as usize])
                .map_err(|e| fail(&input, e))?;
            if magic == haagenti::hct::MAGIC {
                // Only the preamble and the index are read.
                let r = HctReaderV2::open(source).map_err(|e| fail(&input, e))?;
                print!("{}", inspect_hct(r.tensors()));
            } else {
                let bytes = read_input(&input)?;
                let st = safetensors::parse(&bytes).map_err(|e| fail(&input, e))?;
                println!("| name | dtype | shape | bytes |");
                println!("|---|---|---|---:|");
                for t in &st.tensors {
                    println!("| {} | {} | {:?} | {} |", t.name, t.dtype.name(), t.shape, t.data.len());
                }
                println!("{} tensors, {} bytes (safetensors)", st.tensors.len(), bytes.len());
            }
            Ok(())
        }
    }
}

/// The table `haagenti tensor inspect` prints for an HCT file.
fn inspect_hct(tensors: &[haagenti::hct::TensorInfo]) -> String {
    let mut s = String::from("| name | dtype | shape | bytes | stored | ratio | codec | transform | blocks |\n");
    s.push_str("|---|---|---|---:|---:|---:|---|---|---:|\n");
    let (mut raw, mut stored) = (0u64, 0u64);
    for t in tensors {
        let quant = t.quant.map_or(String::new(), |q| format!(" (group {})", q.group()));
        s.push_str(&format!(
            "| {} | {}{quant} | {:?} | {} | {} | {:.3} | {} | {:?} | {} |\n",
            t.name,
            t.dtype.name(),
            t.shape,
            t.raw_len,
            t.stored_len(),
            t.raw_len as f64 / t.stored_len().max(1) as f64,
            t.codec.name(),
            t.transform,
            t.blocks.len()
        ));
        raw += t.raw_len;
        stored += t.stored_len();
    }
    s.push_str(&format!(
        "{} tensors, {raw} bytes in {stored} stored ({:.3}x)\n",
        tensors.len(),
        raw as f64 / stored.max(1) as f64
    ));
    s
}

/// The f32 values of a float tensor's bytes (f32, f16 or bf16).
fn float_values(dtype: haagenti::hct::DType, data: &[u8]) -> Option<Vec<f32>> {
    use haagenti::hct::DType;
    Some(match dtype {
        DType::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        DType::BF16 => {
            data.chunks_exact(2).map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16)).collect()
        }
        DType::F16 => {
            data.chunks_exact(2).map(|b| haagenti::hct::f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect()
        }
        _ => return None,
    })
}

/// A file read at offsets, so `inspect` reads only the preamble and the index.
struct FileSource {
    file: fs::File,
    len: u64,
}

impl haagenti::hct::ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), haagenti::hct::HctError> {
        use std::io::{Seek, SeekFrom};
        let mut f = &self.file;
        f.seek(SeekFrom::Start(offset))
            .and_then(|_| f.read_exact(buf))
            .map_err(|e| haagenti::hct::HctError::Source(e.to_string()))
    }
}

/// Fragments stored in a directory, sharded by the first two hex digits of their ids.
struct DirStore {
    root: PathBuf,
}

impl haagenti::holo::FragmentStore for DirStore {
    fn get(&self, id: &str) -> Result<Option<Vec<u8>>, haagenti::holo::HoloError> {
        let path = self.root.join(haagenti::holo::shard_path(id));
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(haagenti::holo::HoloError::Store(format!("{}: {e}", path.display()))),
        }
    }

    fn put_new(&mut self, id: &str, bytes: &[u8]) -> Result<(), haagenti::holo::HoloError> {
        let path = self.root.join(haagenti::holo::shard_path(id));
        let result = path.parent().map_or(Ok(()), fs::create_dir_all).and_then(|()| fs::write(&path, bytes));
        result.map_err(|e| haagenti::holo::HoloError::Store(format!("{}: {e}", path.display())))
    }
}

fn holo(command: HoloCommand) -> Result<(), Failure> {
    use haagenti::hct::{DType, safetensors};
    use haagenti::holo::{Asset, EncodeOptions, Encoding, FragmentStore, HoloDecoder, Manifest, Reconstruction};
    match command {
        HoloCommand::Encode { input, fragments, encoding, quality, rank, tensor, output } => {
            let encoding = Encoding::from_name(&encoding).ok_or_else(|| {
                fail(&input, format!("unknown encoding {encoding:?} (spectral, projection, lowrank, residual)"))
            })?;
            let bytes = read_input(&input)?;
            let is_safetensors = input.extension().is_some_and(|e| e == "safetensors");
            let (asset, name) = if is_safetensors {
                let st = safetensors::parse(&bytes).map_err(|e| fail(&input, e))?;
                let floats = st.tensors.iter().filter(|t| matches!(t.dtype, DType::F32 | DType::F16 | DType::BF16));
                let t = match &tensor {
                    Some(n) => st
                        .tensors
                        .iter()
                        .find(|t| &t.name == n)
                        .ok_or_else(|| fail(&input, format!("no tensor {n:?}")))?,
                    None => {
                        floats.max_by_key(|t| t.data.len()).ok_or_else(|| fail(&input, "no F32/F16/BF16 tensor"))?
                    }
                };
                (Asset::tensor(t.dtype, t.shape.clone(), t.data.to_vec()).map_err(|e| fail(&input, e))?, t.name.clone())
            } else {
                let img = image::load_from_memory(&bytes).map_err(|e| fail(&input, e))?;
                let asset = if img.color().channel_count() <= 2 {
                    let g = img.to_luma8();
                    Asset::image(g.width(), g.height(), 1, g.into_raw())
                } else {
                    let c = img.to_rgb8();
                    Asset::image(c.width(), c.height(), 3, c.into_raw())
                };
                let name = input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                (asset.map_err(|e| fail(&input, e))?, name)
            };
            let opts = EncodeOptions { encoding, fragments, quality, rank, ..EncodeOptions::default() };
            let enc = haagenti::holo::encode(&asset, &opts).map_err(|e| fail(&input, e))?;
            let mut store = DirStore { root: output.join("fragments") };
            let mut manifest = Manifest::store(&enc, &mut store).map_err(|e| fail(&output, e))?;
            manifest.name = name;
            let path = output.join("manifest.json");
            write_output(&path, manifest.to_json().as_bytes(), true)?;
            println!(
                "{} fragments, {} bytes, in {}",
                enc.fragments.len(),
                enc.fragments.iter().map(Vec::len).sum::<usize>(),
                output.display()
            );
            Ok(())
        }
        HoloCommand::Decode { dir, first, fragments, output, force } => {
            let manifest_path = dir.join("manifest.json");
            let text = fs::read_to_string(&manifest_path).map_err(|e| fail(&manifest_path, e))?;
            let m = Manifest::from_json(&text).map_err(|e| fail(&manifest_path, e))?;
            let chosen: Vec<usize> = match (first, fragments) {
                (Some(k), _) => (0..k.min(m.fragments.len())).collect(),
                (_, Some(list)) => list,
                _ => (0..m.fragments.len()).collect(),
            };
            let store = DirStore { root: dir.join("fragments") };
            let mut dec = HoloDecoder::new();
            for i in chosen {
                let id = m.fragments.get(i).ok_or_else(|| fail(&dir, format!("no fragment {i}")))?;
                // A missing or corrupted fragment is reported and skipped: the rest decode.
                match store.get(id) {
                    Ok(Some(b)) if haagenti::holo::Fragment::id(&b) == *id => {
                        if let Err(e) = dec.push(&b) {
                            eprintln!("haagenti: fragment {i} ({id}) skipped: {e}");
                        }
                    }
                    Ok(Some(_)) => eprintln!("haagenti: fragment {i} ({id}) skipped: its bytes do not match its id"),
                    Ok(None) => eprintln!("haagenti: fragment {i} ({id}) missing"),
                    Err(e) => eprintln!("haagenti: fragment {i} ({id}) skipped: {e}"),
                }
            }
            let rec = dec.reconstruct().map_err(|e| fail(&dir, e))?;
            let out = match rec {
                Reconstruction::Image { width, height, channels, pixels } => {
                    let mut png = Vec::new();
                    let color =
                        if channels == 1 { image::ExtendedColorType::L8 } else { image::ExtendedColorType::Rgb8 };
                    image::ImageEncoder::write_image(
                        image::codecs::png::PngEncoder::new(&mut png),
                        &pixels,
                        width,
                        height,
                        color,
                    )
                    .map_err(|e| fail(&output, e))?;
                    png
                }
                Reconstruction::Tensor { dtype, shape, data, .. } => {
                    let mut w = haagenti::hct::HctWriterV2::new(haagenti::hct::WriterOptions {
                        codec: haagenti::hct::BlockCodec::Store,
                        ..Default::default()
                    });
                    let name = if m.name.is_empty() { "tensor" } else { &m.name };
                    w.add_tensor(name, dtype, &shape, &data).map_err(|e| fail(&output, e))?;
                    let file = w.finish();
                    let r = haagenti::hct::HctReaderV2::open(&file[..]).map_err(|e| fail(&output, e))?;
                    safetensors::unpack(&r).map_err(|e| fail(&output, e))?
                }
            };
            println!("{} of {} fragments used", dec.received_count(), m.fragments.len());
            write_output(&output, &out, force)
        }
        HoloCommand::Curve { dir } => {
            let manifest_path = dir.join("manifest.json");
            let text = fs::read_to_string(&manifest_path).map_err(|e| fail(&manifest_path, e))?;
            let m = Manifest::from_json(&text).map_err(|e| fail(&manifest_path, e))?;
            let image = matches!(m.kind, haagenti::holo::AssetKind::Image { .. });
            println!("{} ({}), {} fragments", m.name, m.encoding.name(), m.fragments.len());
            println!("| fragments | bytes | {} | relative L2 |", if image { "PSNR dB" } else { "cosine" });
            println!("|---:|---:|---:|---:|");
            for p in &m.curve.points {
                let q = if p.quality.is_infinite() {
                    "exact".to_string()
                } else if image {
                    format!("{:.2}", p.quality)
                } else {
                    format!("{:.6}", p.quality)
                };
                println!("| {} | {} | {q} | {:.5} |", p.fragments, p.bytes, p.relative_l2);
            }
            println!("largest error with every fragment: {}", m.curve.max_error);
            Ok(())
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
