//! Where assets live: one [`Storage`] trait over object storage (a local directory, or an
//! S3-compatible bucket, through the `object_store` crate) and memory (the embedded demo).
//!
//! Every backend has the same layout, so a directory written by `haagenti store add` can be
//! copied into a bucket as it is:
//!
//! ```text
//! fragments/ab/abcdef…            the fragment whose BLAKE3 is abcdef… (64 lowercase hex digits)
//! manifests/<asset name>.json     the asset's manifest (haagenti-holo's JSON)
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// Longest asset name, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// Errors of a storage backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An asset name that is not allowed (see [`check_name`]).
    #[error(
        "invalid asset name {0:?}: names are 1 to 256 bytes of letters, digits, '.', '_', '-' and '/', with no empty, '.' or '..' segment"
    )]
    InvalidName(String),
    /// A fragment id that is not 64 lowercase hex digits.
    #[error("invalid fragment id {0:?}: ids are 64 lowercase hex digits (BLAKE3-256)")]
    InvalidId(String),
    /// The backend failed.
    #[error("storage: {0}")]
    Backend(String),
    /// A store location that cannot be opened.
    #[error("cannot open store {location}: {reason}")]
    Open {
        /// What was asked for.
        location: String,
        /// Why it failed.
        reason: String,
    },
}

/// Checks an asset name: 1..=256 bytes of `[A-Za-z0-9._/-]`, segments between '/' neither
/// empty, `.` nor `..`. Names become store keys and URL paths, so nothing else is let in.
pub fn check_name(name: &str) -> Result<&str, StoreError> {
    let ok_chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
    let ok_segments = name.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
    if !name.is_empty() && name.len() <= MAX_NAME_LEN && ok_chars && ok_segments {
        Ok(name)
    } else {
        Err(StoreError::InvalidName(name.chars().take(MAX_NAME_LEN + 1).collect()))
    }
}

/// Checks a fragment id: 64 lowercase hex digits, as [`fragment_id`] writes them.
pub fn check_id(id: &str) -> Result<&str, StoreError> {
    if id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(id)
    } else {
        Err(StoreError::InvalidId(id.chars().take(80).collect()))
    }
}

/// The id of fragment bytes: lowercase hex BLAKE3-256 (`haagenti_holo::Fragment::id`, the one
/// definition the clients check against).
pub fn fragment_id(bytes: &[u8]) -> String {
    haagenti_holo::Fragment::id(bytes)
}

fn fragment_key(id: &str) -> String {
    format!("fragments/{}/{id}", &id[..2])
}

fn manifest_key(name: &str) -> String {
    format!("manifests/{name}.json")
}

/// A place holding fragments and manifests. Implementations check names and ids before use.
#[tonic::async_trait]
pub trait Storage: fmt::Debug + Send + Sync + 'static {
    /// The bytes of fragment `id`, if stored.
    async fn fragment(&self, id: &str) -> Result<Option<Bytes>, StoreError>;
    /// Stores a fragment under its id (the caller has checked it is the bytes' hash).
    async fn put_fragment(&self, id: &str, bytes: Bytes) -> Result<(), StoreError>;
    /// The manifest JSON of asset `name`, if stored.
    async fn manifest(&self, name: &str) -> Result<Option<Bytes>, StoreError>;
    /// Stores (or replaces) the manifest of asset `name`.
    async fn put_manifest(&self, name: &str, json: Bytes) -> Result<(), StoreError>;
    /// Names of every stored asset, sorted.
    async fn asset_names(&self) -> Result<Vec<String>, StoreError>;
}

/// Opens a store: `s3://BUCKET/PREFIX` (credentials, region and endpoint from the usual
/// `AWS_*` environment variables, e.g. `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP=true` for a local
/// S3-compatible server), `file:///abs/dir`, or a directory path (created if missing).
pub fn open(location: &str) -> Result<Arc<dyn Storage>, StoreError> {
    let fail = |reason: String| StoreError::Open { location: location.to_string(), reason };
    if let Some(rest) = location.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(fail("no bucket name".into()));
        }
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
            builder = builder.with_endpoint(endpoint);
        }
        let s3 = builder.build().map_err(|e| fail(e.to_string()))?;
        return Ok(Arc::new(ObjectStorage::new(Arc::new(s3), prefix, location)));
    }
    let dir = location.strip_prefix("file://").unwrap_or(location);
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let local = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(|e| fail(e.to_string()))?;
    Ok(Arc::new(ObjectStorage::new(Arc::new(local), "", location)))
}

/// Any `object_store` backend, under a key prefix.
pub struct ObjectStorage {
    inner: Arc<dyn ObjectStore>,
    prefix: String,
    label: String,
}

impl fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectStorage({})", self.label)
    }
}

impl ObjectStorage {
    /// Keys are `prefix/fragments/…` and `prefix/manifests/…` in `inner`; `label` names it in
    /// messages.
    pub fn new(inner: Arc<dyn ObjectStore>, prefix: &str, label: &str) -> Self {
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        ObjectStorage { inner, prefix, label: label.to_string() }
    }

    fn path(&self, key: &str) -> Result<ObjectPath, StoreError> {
        ObjectPath::parse(format!("{}{key}", self.prefix)).map_err(|e| StoreError::Backend(e.to_string()))
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        match self.inner.get(&self.path(key)?).await {
            Ok(r) => r.bytes().await.map(Some).map_err(backend),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        self.inner.put(&self.path(key)?, PutPayload::from_bytes(bytes)).await.map(drop).map_err(backend)
    }
}

fn backend(e: object_store::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

#[tonic::async_trait]
impl Storage for ObjectStorage {
    async fn fragment(&self, id: &str) -> Result<Option<Bytes>, StoreError> {
        self.get(&fragment_key(check_id(id)?)).await
    }

    async fn put_fragment(&self, id: &str, bytes: Bytes) -> Result<(), StoreError> {
        self.put(&fragment_key(check_id(id)?), bytes).await
    }

    async fn manifest(&self, name: &str) -> Result<Option<Bytes>, StoreError> {
        self.get(&manifest_key(check_name(name)?)).await
    }

    async fn put_manifest(&self, name: &str, json: Bytes) -> Result<(), StoreError> {
        self.put(&manifest_key(check_name(name)?), json).await
    }

    async fn asset_names(&self) -> Result<Vec<String>, StoreError> {
        let root = self.path("manifests")?;
        let strip = format!("{}manifests/", self.prefix);
        let mut names = Vec::new();
        let mut list = self.inner.list(Some(&root));
        while let Some(meta) = list.next().await {
            let meta = meta.map_err(backend)?;
            let key = meta.location.as_ref();
            if let Some(name) = key.strip_prefix(&strip).and_then(|k| k.strip_suffix(".json"))
                && check_name(name).is_ok()
            {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }
}

/// A store in memory (the embedded demo assets, and tests).
#[derive(Debug, Default)]
pub struct MemoryStorage {
    fragments: RwLock<BTreeMap<String, Bytes>>,
    manifests: RwLock<BTreeMap<String, Bytes>>,
}

#[tonic::async_trait]
impl Storage for MemoryStorage {
    async fn fragment(&self, id: &str) -> Result<Option<Bytes>, StoreError> {
        Ok(self.fragments.read().expect("lock").get(check_id(id)?).cloned())
    }

    async fn put_fragment(&self, id: &str, bytes: Bytes) -> Result<(), StoreError> {
        self.fragments.write().expect("lock").insert(check_id(id)?.to_string(), bytes);
        Ok(())
    }

    async fn manifest(&self, name: &str) -> Result<Option<Bytes>, StoreError> {
        Ok(self.manifests.read().expect("lock").get(check_name(name)?).cloned())
    }

    async fn put_manifest(&self, name: &str, json: Bytes) -> Result<(), StoreError> {
        self.manifests.write().expect("lock").insert(check_name(name)?.to_string(), json);
        Ok(())
    }

    async fn asset_names(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.manifests.read().expect("lock").keys().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_that_could_leave_the_store_are_refused() {
        for good in ["photo", "a/b.c", "model/encoder.layer.0.attention.self.query.weight", "x-y_z"] {
            assert_eq!(check_name(good).unwrap(), good);
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        for bad in ["", "/abs", "a//b", "../x", "a/../b", "a/.", "a b", "é", "a\\b", "a\0b", "a/", long.as_str()] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        let id = fragment_id(b"x");
        assert_eq!(check_id(&id).unwrap(), id);
        for bad in [&id[..63], &id.to_uppercase(), "../../../../etc/passwd", "", &format!("{id}0")] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_directory_store_round_trips_and_lists_nested_names() {
        let dir = std::env::temp_dir().join(format!("haagenti-store-{}", std::process::id()));
        let store = open(dir.to_str().unwrap()).unwrap();
        let id = fragment_id(b"bytes");
        assert!(store.fragment(&id).await.unwrap().is_none());
        store.put_fragment(&id, Bytes::from_static(b"bytes")).await.unwrap();
        assert_eq!(store.fragment(&id).await.unwrap().unwrap(), &b"bytes"[..]);
        assert!(dir.join("fragments").join(&id[..2]).join(&id).is_file());
        for name in ["b/tensor.weight", "a"] {
            store.put_manifest(name, Bytes::from_static(b"{}")).await.unwrap();
        }
        assert_eq!(store.asset_names().await.unwrap(), ["a", "b/tensor.weight"]);
        assert!(store.manifest("../a").await.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
