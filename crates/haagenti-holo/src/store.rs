//! Content-addressed fragment storage: ids are BLAKE3 hashes of the fragment bytes, a
//! manifest per asset lists them in index order, and identical fragments are stored once
//! (checked byte for byte, never by hash alone).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Value, json};

use crate::asset::{AssetHeader, AssetKind, Encoding, Fragment};
use crate::quality::QualityCurve;
use crate::{Encoded, HoloError};

/// Where fragments live: a directory (the CLI's and the server's), memory, or a remote store.
pub trait FragmentStore {
    /// The bytes stored under `id`, if any; [`HoloError::InvalidId`] unless `id` is 64 hex
    /// digits (implementations check it, as [`shard_path`] does).
    fn get(&self, id: &str) -> Result<Option<Vec<u8>>, HoloError>;
    /// Stores `bytes` under `id` (the caller has checked `id` is their hash);
    /// [`HoloError::InvalidId`] unless `id` is 64 hex digits.
    fn put_new(&mut self, id: &str, bytes: &[u8]) -> Result<(), HoloError>;

    /// Stores a fragment under its content id and returns the id. A fragment already stored
    /// is kept once: its bytes are compared with the new ones, and a difference (a corrupted
    /// store, or a hash collision) is an error.
    fn put(&mut self, bytes: &[u8]) -> Result<String, HoloError> {
        let id = Fragment::id(bytes);
        match self.get(&id)? {
            Some(old) if old == bytes => Ok(id),
            Some(_) => Err(HoloError::Store(alloc::format!("fragment {id} is stored with different bytes"))),
            None => {
                self.put_new(&id, bytes)?;
                Ok(id)
            }
        }
    }
}

/// A store in memory.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    /// The fragments, by id.
    pub fragments: alloc::collections::BTreeMap<String, Vec<u8>>,
}

impl FragmentStore for MemStore {
    fn get(&self, id: &str) -> Result<Option<Vec<u8>>, HoloError> {
        Ok(self.fragments.get(checked_id(id)?).cloned())
    }

    fn put_new(&mut self, id: &str, bytes: &[u8]) -> Result<(), HoloError> {
        self.fragments.insert(checked_id(id)?.to_string(), bytes.to_vec());
        Ok(())
    }
}

/// An id as [`Fragment::id`] writes it: 64 hex digits. Ids come from manifests and requests,
/// so every function that takes one checks it (a store path built from `../..` would leave
/// the store).
fn checked_id(id: &str) -> Result<&str, HoloError> {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id)
    } else {
        Err(HoloError::InvalidId { len: id.len() })
    }
}

/// The path of fragment `id` in a sharded directory: `ab/abcdef...` (first two hex digits);
/// [`HoloError::InvalidId`] unless `id` is 64 hex digits.
pub fn shard_path(id: &str) -> Result<String, HoloError> {
    let id = checked_id(id)?;
    Ok(alloc::format!("{}/{id}", &id[..2]))
}

/// An asset's manifest: its header fields, quality curve and fragment ids in index order.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// A name for the asset (a file or tensor name; may be empty).
    pub name: String,
    /// BLAKE3 of the asset's content, hex.
    pub asset_id: String,
    /// The encoding.
    pub encoding: Encoding,
    /// What was encoded.
    pub kind: AssetKind,
    /// Fragment ids (BLAKE3 of each fragment, hex), in index order.
    pub fragments: Vec<String>,
    /// The measured quality curve.
    pub curve: QualityCurve,
}

impl Manifest {
    /// Stores every fragment of `encoded` and returns its manifest.
    pub fn store(encoded: &Encoded, store: &mut impl FragmentStore) -> Result<Self, HoloError> {
        let fragments = encoded.fragments.iter().map(|f| store.put(f)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self::of(&encoded.header, fragments))
    }

    fn of(h: &AssetHeader, fragments: Vec<String>) -> Self {
        let asset_id = h.asset_id.iter().map(|b| alloc::format!("{b:02x}")).collect();
        Manifest {
            name: String::new(),
            asset_id,
            encoding: h.encoding,
            kind: h.kind.clone(),
            fragments,
            curve: h.curve.clone(),
        }
    }

    /// The manifest as JSON (infinite PSNR, an exact reconstruction, is written as null).
    pub fn to_json(&self) -> String {
        let kind = match &self.kind {
            AssetKind::Image { width, height, channels } => {
                json!({"type": "image", "width": width, "height": height, "channels": channels})
            }
            AssetKind::Tensor { dtype, shape } => json!({"type": "tensor", "dtype": dtype.name(), "shape": shape}),
        };
        let finite = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
        let curve: Vec<Value> = self
            .curve
            .points
            .iter()
            .map(|p| json!({"fragments": p.fragments, "bytes": p.bytes, "quality": finite(p.quality), "relative_l2": p.relative_l2}))
            .collect();
        let v = json!({
            "format": "haagenti-holo",
            "version": 1,
            "name": self.name,
            "asset_id": self.asset_id,
            "encoding": self.encoding.name(),
            "asset": kind,
            "fragments": self.fragments,
            "curve": curve,
            "max_error": self.curve.max_error,
        });
        serde_json::to_string_pretty(&v).expect("JSON values serialize")
    }

    /// Reads a manifest written by [`to_json`](Self::to_json).
    pub fn from_json(text: &str) -> Result<Self, HoloError> {
        let bad = |what: &'static str| HoloError::Corrupt(what);
        let v: Value = serde_json::from_str(text).map_err(|_| bad("manifest is not JSON"))?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).ok_or(bad("manifest field missing"));
        let encoding = Encoding::from_name(s("encoding")?).ok_or(bad("manifest encoding"))?;
        let a = v.get("asset").ok_or(bad("manifest asset"))?;
        let num = |x: &Value, k: &str| x.get(k).and_then(Value::as_u64).ok_or(bad("manifest number"));
        let kind = match a.get("type").and_then(Value::as_str) {
            Some("image") => AssetKind::Image {
                width: u32::try_from(num(a, "width")?).map_err(|_| bad("width"))?,
                height: u32::try_from(num(a, "height")?).map_err(|_| bad("height"))?,
                channels: u8::try_from(num(a, "channels")?).map_err(|_| bad("channels"))?,
            },
            Some("tensor") => AssetKind::Tensor {
                dtype: a
                    .get("dtype")
                    .and_then(Value::as_str)
                    .and_then(haagenti_hct::DType::from_name)
                    .ok_or(bad("manifest dtype"))?,
                shape: a
                    .get("shape")
                    .and_then(Value::as_array)
                    .ok_or(bad("manifest shape"))?
                    .iter()
                    .map(|d| d.as_u64().ok_or(bad("manifest shape")))
                    .collect::<Result<_, _>>()?,
            },
            _ => return Err(bad("manifest asset type")),
        };
        let fragments = v
            .get("fragments")
            .and_then(Value::as_array)
            .ok_or(bad("manifest fragments"))?
            .iter()
            .map(|f| f.as_str().and_then(|id| checked_id(id).ok()).map(str::to_string).ok_or(bad("fragment id")))
            .collect::<Result<Vec<_>, _>>()?;
        let points = v
            .get("curve")
            .and_then(Value::as_array)
            .ok_or(bad("manifest curve"))?
            .iter()
            .map(|p| {
                Ok(crate::QualityPoint {
                    fragments: u16::try_from(num(p, "fragments")?).map_err(|_| bad("curve"))?,
                    bytes: num(p, "bytes")?,
                    quality: p.get("quality").and_then(Value::as_f64).unwrap_or(f64::INFINITY),
                    relative_l2: p.get("relative_l2").and_then(Value::as_f64).ok_or(bad("curve"))?,
                })
            })
            .collect::<Result<Vec<_>, HoloError>>()?;
        let max_error = v.get("max_error").and_then(Value::as_f64).ok_or(bad("max_error"))?;
        Ok(Manifest {
            name: v.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
            asset_id: checked_id(s("asset_id")?).map_err(|_| bad("asset id"))?.to_string(),
            encoding,
            kind,
            fragments,
            curve: QualityCurve { points, max_error },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_are_not_64_hex_digits_are_errors() {
        let good = Fragment::id(b"fragment");
        assert_eq!(shard_path(&good).unwrap(), alloc::format!("{}/{good}", &good[..2]));
        let mut store = MemStore::default();
        for bad in ["", "a", "aé", "é", "../../etc/passwd", "zz", &good[..63], &alloc::format!("{good}0")] {
            assert!(matches!(shard_path(bad), Err(HoloError::InvalidId { .. })), "{bad:?}");
            assert!(store.get(bad).is_err(), "{bad:?}");
            assert!(store.put_new(bad, b"x").is_err(), "{bad:?}");
        }
        assert!(store.fragments.is_empty());
        let json = Manifest::from_json("{}").unwrap_err();
        assert!(matches!(json, HoloError::Corrupt(_)));
    }

    #[test]
    fn a_manifest_with_a_bad_asset_id_is_refused() {
        let m = Manifest {
            name: String::new(),
            asset_id: "0".repeat(64),
            encoding: Encoding::Residual,
            kind: AssetKind::Image { width: 1, height: 1, channels: 1 },
            fragments: alloc::vec![Fragment::id(b"f")],
            curve: QualityCurve::default(),
        };
        assert_eq!(Manifest::from_json(&m.to_json()).unwrap(), m);
        let bad = Manifest { asset_id: "../x".into(), ..m };
        assert!(Manifest::from_json(&bad.to_json()).is_err());
    }
}
