//! Turning files into stored assets: photos (PNG, JPEG) and the float tensors of safetensors
//! files (one tensor, or every tensor of a whole model), encoded as HoloTensor fragments.
//!
//! Fragments are stored before the manifest that names them, so a reader (another replica
//! sharing the bucket, say) never sees an asset whose fragments are missing.

use std::sync::Arc;

use bytes::Bytes;
use haagenti_hct::{DType, safetensors};
use haagenti_holo::{Asset, EncodeOptions, Encoded, Encoding, Manifest, MemStore};

use crate::store::{Storage, StoreError, check_name, fragment_id};

/// Largest input file `add` reads whole: 16 GiB.
pub const MAX_INPUT_BYTES: u64 = 16 << 30;

/// How to encode what is added.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AddOptions {
    /// Fragments per asset.
    pub fragments: u16,
    /// The encoding.
    pub encoding: Encoding,
    /// Quality of the lossy encodings, 1..=100.
    pub quality: f32,
    /// Bits a weight of the `nct` encoding, 1..=8.
    pub bits: f32,
}

impl Default for AddOptions {
    fn default() -> Self {
        AddOptions { fragments: 8, encoding: Encoding::Spectral, quality: 75.0, bits: 4.0 }
    }
}

/// Errors adding a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The file is neither an image nor safetensors, or is broken.
    #[error("{0}")]
    Input(String),
    /// Encoding failed.
    #[error("encoding {name}: {message}")]
    Encode {
        /// The asset.
        name: String,
        /// Why.
        message: String,
    },
    /// Storing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An asset ready to store: its name and fragments.
#[derive(Debug, Clone)]
pub struct EncodedAsset {
    /// The name it is stored under.
    pub name: String,
    /// The fragments and header.
    pub encoded: Encoded,
}

/// Makes any string a valid asset name segment: characters outside `[A-Za-z0-9._-]` become `_`.
pub fn sanitize(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    let s = s.trim_matches('.').to_string();
    if s.is_empty() { "asset".to_string() } else { s.chars().take(120).collect() }
}

/// What a file holds, found by its bytes: the assets it makes, not yet encoded.
fn assets_of(name: &str, bytes: &[u8]) -> Result<Vec<(String, Asset)>, IngestError> {
    let is_safetensors = bytes.len() >= 9 && bytes[8] == b'{';
    if !is_safetensors {
        let img = image::load_from_memory(bytes)
            .map_err(|e| IngestError::Input(format!("{name}: not a safetensors file nor an image: {e}")))?;
        let asset = if img.color().channel_count() <= 2 {
            let g = img.to_luma8();
            Asset::image(g.width(), g.height(), 1, g.into_raw())
        } else {
            let c = img.to_rgb8();
            Asset::image(c.width(), c.height(), 3, c.into_raw())
        };
        let asset = asset.map_err(|e| IngestError::Input(format!("{name}: {e}")))?;
        return Ok(vec![(name.to_string(), asset)]);
    }
    let st = safetensors::parse(bytes).map_err(|e| IngestError::Input(format!("{name}: {e}")))?;
    let floats: Vec<_> =
        st.tensors.iter().filter(|t| matches!(t.dtype, DType::F32 | DType::F16 | DType::BF16)).collect();
    if floats.is_empty() {
        return Err(IngestError::Input(format!("{name}: no F32, F16 or BF16 tensor")));
    }
    floats
        .into_iter()
        .map(|t| {
            let asset = Asset::tensor(t.dtype, t.shape.clone(), t.data.to_vec())
                .map_err(|e| IngestError::Input(format!("{name}: tensor {}: {e}", t.name)))?;
            Ok((format!("{name}/{}", sanitize(&t.name)), asset))
        })
        .collect()
}

/// Encodes one asset; a tensor too small or too narrow for the chosen encoding (an `nct` one
/// below 4096 elements or with rows not a multiple of 64 values, say: biases and norms) falls
/// back to the exact `residual` encoding (it always applies).
fn encode_one(name: &str, asset: &Asset, opts: &AddOptions) -> Result<Encoded, IngestError> {
    let o = EncodeOptions {
        encoding: opts.encoding,
        fragments: opts.fragments,
        quality: opts.quality,
        bits: opts.bits,
        ..Default::default()
    };
    haagenti_holo::encode(asset, &o).or_else(|first| {
        let fallback = EncodeOptions { encoding: Encoding::Residual, fragments: opts.fragments.min(8), ..o };
        haagenti_holo::encode(asset, &fallback)
            .map_err(|_| IngestError::Encode { name: name.to_string(), message: first.to_string() })
    })
}

/// Encodes every asset of a file's bytes (CPU-bound: run it on a blocking thread). `name` is
/// the asset name (images) or prefix (`name/tensor` for each tensor of a safetensors file).
pub fn encode_file(
    name: &str,
    bytes: &[u8],
    opts: &AddOptions,
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<Vec<EncodedAsset>, IngestError> {
    check_name(name)?;
    let assets = assets_of(name, bytes)?;
    let total = assets.len();
    let mut out = Vec::with_capacity(total);
    for (i, (asset_name, asset)) in assets.into_iter().enumerate() {
        check_name(&asset_name)?;
        progress(i, total, &asset_name);
        out.push(EncodedAsset { encoded: encode_one(&asset_name, &asset, opts)?, name: asset_name });
    }
    progress(total, total, "");
    Ok(out)
}

/// Stores an encoded asset: every fragment, then its manifest. Returns the bytes of fragments.
pub async fn store_asset(store: &Arc<dyn Storage>, asset: &EncodedAsset) -> Result<u64, IngestError> {
    let mut total = 0u64;
    for f in &asset.encoded.fragments {
        let id = fragment_id(f);
        if store.fragment(&id).await?.as_deref() != Some(f.as_slice()) {
            store.put_fragment(&id, Bytes::copy_from_slice(f)).await?;
        }
        total += f.len() as u64;
    }
    let mut mem = MemStore::default();
    let mut manifest = Manifest::store(&asset.encoded, &mut mem)
        .map_err(|e| IngestError::Encode { name: asset.name.clone(), message: e.to_string() })?;
    manifest.name = asset.name.clone();
    store.put_manifest(&asset.name, Bytes::from(manifest.to_json())).await?;
    Ok(total)
}
