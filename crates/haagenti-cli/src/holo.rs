//! `haagenti holo`: progressive fragments of an image or a tensor, written to and read from a
//! directory.

use std::fs;
use std::io;
use std::path::PathBuf;

use clap::Subcommand;

use crate::files::{Failure, fail, read_input, write_output};

#[derive(Debug, Subcommand)]
pub(crate) enum HoloCommand {
    /// Encode a PNG/JPEG image or a tensor of a .safetensors file into DIR: fragments stored
    /// by content hash (fragments/ab/abcd...) and manifest.json.
    Encode {
        /// A .png/.jpg image or a .safetensors file.
        input: PathBuf,
        /// Number of fragments.
        #[arg(long, default_value_t = 8)]
        fragments: u16,
        /// spectral, projection, lowrank, residual or nct (tensors only: NCT codebook stages).
        #[arg(long, default_value = "spectral")]
        encoding: String,
        /// Quality of the lossy encodings, 1 to 100.
        #[arg(long, default_value_t = 75.0)]
        quality: f32,
        /// Components kept by lowrank.
        #[arg(long, default_value_t = 32)]
        rank: u16,
        /// nct: bits a weight, 1 to 8, in at most --fragments stages.
        #[arg(long, default_value_t = 4.0)]
        bits: f32,
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

/// Fragments stored in a directory, sharded by the first two hex digits of their ids.
struct DirStore {
    root: PathBuf,
}

impl haagenti::holo::FragmentStore for DirStore {
    fn get(&self, id: &str) -> Result<Option<Vec<u8>>, haagenti::holo::HoloError> {
        let path = self.root.join(haagenti::holo::shard_path(id)?);
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(haagenti::holo::HoloError::Store(format!("{}: {e}", path.display()))),
        }
    }

    fn put_new(&mut self, id: &str, bytes: &[u8]) -> Result<(), haagenti::holo::HoloError> {
        let path = self.root.join(haagenti::holo::shard_path(id)?);
        let result = path.parent().map_or(Ok(()), fs::create_dir_all).and_then(|()| fs::write(&path, bytes));
        result.map_err(|e| haagenti::holo::HoloError::Store(format!("{}: {e}", path.display())))
    }
}

pub(crate) fn run(command: HoloCommand) -> Result<(), Failure> {
    use haagenti::hct::{DType, safetensors};
    use haagenti::holo::{Asset, EncodeOptions, Encoding, FragmentStore, HoloDecoder, Manifest};
    match command {
        HoloCommand::Encode { input, fragments, encoding, quality, rank, bits, tensor, output } => {
            let encoding = Encoding::from_name(&encoding).ok_or_else(|| {
                fail(&input, format!("unknown encoding {encoding:?} (spectral, projection, lowrank, residual, nct)"))
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
            let opts = EncodeOptions { encoding, fragments, quality, rank, bits, ..EncodeOptions::default() };
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
            let name = if m.name.is_empty() { "tensor" } else { &m.name };
            let out = reconstruction_bytes(rec, name).map_err(|e| fail(&output, e))?;
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

/// A reconstruction as a file: PNG for images, safetensors (one tensor named `name`) for tensors.
pub(crate) fn reconstruction_bytes(rec: haagenti::holo::Reconstruction, name: &str) -> Result<Vec<u8>, String> {
    use haagenti::hct::safetensors;
    use haagenti::holo::Reconstruction;
    Ok(match rec {
        Reconstruction::Image { width, height, channels, pixels } => {
            let mut png = Vec::new();
            let color = if channels == 1 { image::ExtendedColorType::L8 } else { image::ExtendedColorType::Rgb8 };
            image::ImageEncoder::write_image(
                image::codecs::png::PngEncoder::new(&mut png),
                &pixels,
                width,
                height,
                color,
            )
            .map_err(|e| e.to_string())?;
            png
        }
        Reconstruction::Tensor { dtype, shape, data, .. } => {
            let mut w = haagenti::hct::HctWriterV2::new(haagenti::hct::WriterOptions {
                codec: haagenti::hct::BlockCodec::Store,
                ..Default::default()
            });
            w.add_tensor(name, dtype, &shape, &data).map_err(|e| e.to_string())?;
            let file = w.finish();
            let r = haagenti::hct::HctReaderV2::open(&file[..]).map_err(|e| e.to_string())?;
            safetensors::unpack(&r).map_err(|e| e.to_string())?
        }
    })
}
