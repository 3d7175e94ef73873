//! The demo assets built into the server: the repo's photos and one real weight tensor (twice:
//! in the default encoding, and as NCT codebook stages), encoded into a memory store when the
//! server starts.

use std::sync::Arc;

use crate::ingest::{self, AddOptions};
use crate::store::{MemoryStorage, Storage, StoreError};

/// Where the embedded files come from, and under what terms.
pub const CREDITS: &str = "\
photos/astronaut.png: Eileen Collins, NASA; public domain (scikit-image sample data).
photos/coffee.png: Rachel Michetti; CC0 (scikit-image sample data).
photos/chelsea.png: Stefan van der Walt; CC0 (scikit-image sample data).
photos/camera.png: Lav Varshney; CC0 (scikit-image sample data).
photos/hubble_deep_field.jpg: NASA; public domain (scikit-image sample data).
minilm/encoder.layer.0.attention.self.query.weight: all-MiniLM-L6-v2, sentence-transformers; Apache-2.0.
minilm-nct/encoder.layer.0.attention.self.query.weight: the same tensor.
";

/// How the demo assets are encoded: 8 spectral fragments.
const DEFAULT: AddOptions =
    AddOptions { fragments: 8, encoding: haagenti_holo::Encoding::Spectral, quality: 75.0, bits: 4.0 };
/// How the NCT copy of the tensor is encoded: 6 bits a weight, in stages of 2 bits.
const NCT: AddOptions = AddOptions { fragments: 8, encoding: haagenti_holo::Encoding::Nct, quality: 75.0, bits: 6.0 };

const TENSOR: &[u8] = include_bytes!("../../tests/data/minilm-l0-query.safetensors");

const FILES: [(&str, &[u8], AddOptions); 7] = [
    ("photos/astronaut.png", include_bytes!("../../tests/data/images/astronaut.png"), DEFAULT),
    ("photos/coffee.png", include_bytes!("../../tests/data/images/coffee.png"), DEFAULT),
    ("photos/chelsea.png", include_bytes!("../../tests/data/images/chelsea.png"), DEFAULT),
    ("photos/camera.png", include_bytes!("../../tests/data/images/camera.png"), DEFAULT),
    ("photos/hubble_deep_field.jpg", include_bytes!("../../tests/data/images/hubble_deep_field.jpg"), DEFAULT),
    ("minilm", TENSOR, DEFAULT),
    ("minilm-nct", TENSOR, NCT),
];

/// The embedded files encoded (8 spectral fragments each, the NCT copy in 3 stages), once per process: servers started
/// again in one process (tests, a restart from a library) reuse them.
static ENCODED: tokio::sync::OnceCell<Vec<ingest::EncodedAsset>> = tokio::sync::OnceCell::const_new();

/// Encodes the embedded files (once per process) into a memory store.
pub(crate) async fn store() -> Result<Arc<dyn Storage>, StoreError> {
    let encoded = ENCODED
        .get_or_try_init(|| async {
            tokio::task::spawn_blocking(|| {
                let mut all = Vec::new();
                for (name, bytes, opts) in FILES {
                    all.extend(ingest::encode_file(name, bytes, &opts, |_, _, _| {})?);
                }
                Ok::<_, ingest::IngestError>(all)
            })
            .await
            .map_err(|e| StoreError::Backend(format!("encoding the demo assets: {e}")))?
            .map_err(|e| StoreError::Backend(format!("encoding the demo assets: {e}")))
        })
        .await?;
    let store: Arc<dyn Storage> = Arc::new(MemoryStorage::default());
    for asset in encoded {
        ingest::store_asset(&store, asset).await.map_err(|e| StoreError::Backend(e.to_string()))?;
    }
    Ok(store)
}
