//! The assets a server holds: manifests parsed and checked once, fragments read through the
//! memory cache and verified against their ids before anyone is sent them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use haagenti_holo::{AssetKind, Manifest};
use haagenti_proto::v1 as pb;

use crate::cache::FragmentCache;
use crate::metrics::Metrics;
use crate::store::{Storage, StoreError, check_id, check_name, fragment_id};

/// How long a manifest or the list of names is reused before the store is asked again, so
/// that assets another replica adds appear without a restart.
pub const MANIFEST_TTL: Duration = Duration::from_secs(10);
/// Largest manifest read from a store.
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;
/// Most fragment ids remembered as filled by a prefetch and not yet read.
const MAX_PREFETCHED: usize = 65_536;

/// One asset: its manifest, as stored and parsed, and its fragments' sizes.
#[derive(Debug)]
pub struct AssetEntry {
    /// The name it is stored under.
    pub name: String,
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The manifest's JSON exactly as stored (served at `/assets/{name}/manifest.json`).
    pub json: Bytes,
    /// Strong ETag of `json`: its BLAKE3, quoted.
    pub etag: String,
    /// The curve as the adaptive policy reads it, with each fragment's size.
    pub curve: haagenti_stream::AssetCurve,
    loaded: Instant,
}

impl AssetEntry {
    /// Parses and checks manifest JSON stored under `name`.
    pub fn parse(name: &str, json: Bytes) -> Result<Self, String> {
        let text = std::str::from_utf8(&json).map_err(|_| "manifest is not UTF-8".to_string())?;
        let manifest = Manifest::from_json(text).map_err(|e| e.to_string())?;
        let points = &manifest.curve.points;
        if points.len() != manifest.fragments.len() || manifest.fragments.is_empty() {
            return Err(format!(
                "manifest lists {} fragments but {} quality points",
                manifest.fragments.len(),
                points.len()
            ));
        }
        let mut sizes = Vec::with_capacity(points.len());
        let mut before = 0u64;
        for (k, p) in points.iter().enumerate() {
            if usize::from(p.fragments) != k + 1 || p.bytes <= before {
                return Err("manifest curve is not one point per fragment with rising byte counts".into());
            }
            sizes.push(p.bytes - before);
            before = p.bytes;
        }
        let etag = format!("\"{}\"", &fragment_id(&json)[..32]);
        let curve = haagenti_stream::AssetCurve::from_manifest(&manifest, &sizes);
        Ok(AssetEntry { name: name.to_string(), manifest, json, etag, curve, loaded: Instant::now() })
    }

    /// Size of each fragment in index order (from the curve's cumulative byte counts).
    pub fn sizes(&self) -> &[u64] {
        self.curve.sizes()
    }

    /// Bytes of all fragments.
    pub fn total_bytes(&self) -> u64 {
        self.sizes().iter().sum()
    }

    /// The manifest as the protocol sends it.
    pub fn to_proto(&self) -> pb::AssetManifest {
        let m = &self.manifest;
        pb::AssetManifest {
            name: self.name.clone(),
            asset_id: m.asset_id.clone(),
            encoding: m.encoding.name().to_string(),
            kind: Some(kind_to_proto(&m.kind)),
            fragments: m
                .fragments
                .iter()
                .zip(self.sizes())
                .enumerate()
                .map(|(i, (id, &size))| pb::FragmentRef { id: id.clone(), index: i as u32, size })
                .collect(),
            curve: m
                .curve
                .points
                .iter()
                .map(|p| pb::QualityPoint {
                    fragments: u32::from(p.fragments),
                    bytes: p.bytes,
                    quality: p.quality,
                    relative_l2: p.relative_l2,
                })
                .collect(),
            max_error: m.curve.max_error,
            quality_metric: quality_metric(&m.kind).to_string(),
        }
    }

    /// The asset's line in `ListAssets`.
    pub fn summary(&self) -> pb::AssetSummary {
        pb::AssetSummary {
            name: self.name.clone(),
            kind: Some(kind_to_proto(&self.manifest.kind)),
            encoding: self.manifest.encoding.name().to_string(),
            fragment_count: self.sizes().len() as u32,
            total_bytes: self.total_bytes(),
        }
    }
}

/// "psnr_db" for images, "cosine" for tensors.
pub(crate) fn quality_metric(kind: &AssetKind) -> &'static str {
    match kind {
        AssetKind::Image { .. } => "psnr_db",
        AssetKind::Tensor { .. } => "cosine",
    }
}

fn kind_to_proto(kind: &AssetKind) -> pb::AssetKind {
    use pb::asset_kind::Kind;
    pb::AssetKind {
        kind: Some(match kind {
            AssetKind::Image { width, height, channels } => {
                Kind::Image(pb::ImageKind { width: *width, height: *height, channels: u32::from(*channels) })
            }
            AssetKind::Tensor { dtype, shape } => {
                Kind::Tensor(pb::TensorKind { dtype: dtype.name().to_string(), shape: shape.clone() })
            }
        }),
    }
}

/// Why a fragment could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The id is malformed.
    #[error(transparent)]
    Invalid(StoreError),
    /// The store failed, or holds bytes that are not the fragment.
    #[error("{0}")]
    Store(String),
}

/// A store with its cache and parsed manifests.
#[derive(Debug)]
pub struct Library {
    store: Arc<dyn Storage>,
    cache: FragmentCache,
    metrics: Arc<Metrics>,
    manifests: RwLock<HashMap<String, Arc<AssetEntry>>>,
    names: RwLock<Option<(Instant, Arc<Vec<String>>)>>,
    prefetched: Mutex<HashSet<String>>,
}

impl Library {
    /// A library over `store`, caching up to `cache_bytes` of fragments.
    pub fn new(store: Arc<dyn Storage>, cache_bytes: u64, metrics: Arc<Metrics>) -> Self {
        Library {
            store,
            cache: FragmentCache::new(cache_bytes),
            metrics,
            manifests: RwLock::new(HashMap::new()),
            names: RwLock::new(None),
            prefetched: Mutex::new(HashSet::new()),
        }
    }

    /// The fragment cache.
    pub fn cache(&self) -> &FragmentCache {
        &self.cache
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Storage> {
        &self.store
    }

    /// Every asset name, sorted (reused for [`MANIFEST_TTL`]).
    pub async fn names(&self) -> Result<Arc<Vec<String>>, StoreError> {
        if let Some((at, names)) = &*self.names.read().expect("lock")
            && at.elapsed() < MANIFEST_TTL
        {
            return Ok(names.clone());
        }
        let names = Arc::new(self.store.asset_names().await?);
        *self.names.write().expect("lock") = Some((Instant::now(), names.clone()));
        Ok(names)
    }

    /// The asset `name`: `Ok(None)` if no such asset; an error for a bad name, a store failure
    /// or a manifest that does not parse.
    pub async fn asset(&self, name: &str) -> Result<Option<Arc<AssetEntry>>, StoreError> {
        check_name(name)?;
        if let Some(entry) = self.manifests.read().expect("lock").get(name)
            && entry.loaded.elapsed() < MANIFEST_TTL
        {
            return Ok(Some(entry.clone()));
        }
        let Some(json) = self.store.manifest(name).await? else {
            self.manifests.write().expect("lock").remove(name);
            return Ok(None);
        };
        if json.len() > MAX_MANIFEST_BYTES {
            return Err(StoreError::Backend(format!("manifest of {name} is over {MAX_MANIFEST_BYTES} bytes")));
        }
        let entry = Arc::new(
            AssetEntry::parse(name, json).map_err(|e| StoreError::Backend(format!("manifest of {name}: {e}")))?,
        );
        self.manifests.write().expect("lock").insert(name.to_string(), entry.clone());
        Ok(Some(entry))
    }

    /// The bytes of fragment `id`, from the cache or the store; bytes from the store are
    /// checked against the id before they are cached or returned.
    pub async fn fragment(&self, id: &str) -> Result<Option<Bytes>, ReadError> {
        check_id(id).map_err(ReadError::Invalid)?;
        if let Some(bytes) = self.cache.get(id) {
            Metrics::inc(&self.metrics.cache_hits);
            if self.prefetched.lock().expect("lock").remove(id) {
                Metrics::inc(&self.metrics.prefetch_hits);
            }
            return Ok(Some(bytes));
        }
        Metrics::inc(&self.metrics.cache_misses);
        self.load(id).await
    }

    async fn load(&self, id: &str) -> Result<Option<Bytes>, ReadError> {
        let bytes = match self.store.fragment(id).await {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(None),
            Err(e) => {
                Metrics::inc(&self.metrics.store_errors);
                return Err(ReadError::Store(e.to_string()));
            }
        };
        let check = bytes.clone();
        let actual = tokio::task::spawn_blocking(move || fragment_id(&check))
            .await
            .map_err(|e| ReadError::Store(e.to_string()))?;
        if actual != id {
            Metrics::inc(&self.metrics.store_errors);
            tracing::error!(id, actual, "the store holds other bytes under this fragment id; not serving them");
            return Err(ReadError::Store(format!("fragment {id} is corrupt in the store")));
        }
        self.cache.insert(id, bytes.clone());
        Ok(Some(bytes))
    }

    /// Loads fragments into the cache ahead of requests (the prefetcher's side).
    pub async fn warm(&self, ids: &[String]) {
        for id in ids {
            if self.cache.contains(id) {
                continue;
            }
            if let Ok(Some(_)) = self.load(id).await {
                Metrics::inc(&self.metrics.prefetch_warmed);
                let mut p = self.prefetched.lock().expect("lock");
                if p.len() >= MAX_PREFETCHED {
                    p.clear();
                }
                p.insert(id.clone());
            }
        }
    }
}
