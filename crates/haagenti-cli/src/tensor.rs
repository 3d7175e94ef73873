//! `haagenti tensor`: safetensors <-> HCT, and a table of a file's tensors.

use std::fs;
use std::io::Read;
use std::path::PathBuf;

use clap::Subcommand;

use crate::files::{Failure, fail, read_input, write_output};

#[derive(Debug, Subcommand)]
pub(crate) enum TensorCommand {
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

pub(crate) fn run(command: TensorCommand) -> Result<(), Failure> {
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
                        let r = match haagenti::hct::f32_values(t.dtype, t.data) {
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
