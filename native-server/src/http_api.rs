//! Fragments and manifests as plain HTTP resources, so browsers and CDNs cache them:
//! `GET /fragments/{id}` (immutable, strong ETag, `If-None-Match`, byte ranges) and
//! `GET /assets/{name}/manifest.json` (short cache, revalidated); plus `GET /metrics`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::assets::{Library, ReadError};
use crate::metrics::Metrics;
use crate::store::{StoreError, check_id};

/// `Cache-Control` of fragments: their bytes never change under an id.
pub(crate) const FRAGMENT_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of manifests: reused for a minute, then revalidated by ETag.
pub(crate) const MANIFEST_CACHE_CONTROL: &str = "public, max-age=60, must-revalidate";

/// What the HTTP handlers share.
#[derive(Debug, Clone)]
pub(crate) struct HttpState {
    /// The assets.
    pub library: Arc<Library>,
    /// The counters.
    pub metrics: Arc<Metrics>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let mut r = (status, format!("{}\n", message.into())).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 says for this header).
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag))
}

/// A parsed `Range` header against a body of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Ranged {
    /// No usable range: send everything (absent, not bytes, several ranges, or malformed).
    Full,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// A well-formed range wholly past the end: 416.
    Unsatisfiable,
}

fn parse_range(value: Option<&HeaderValue>, len: u64) -> Ranged {
    let Some(spec) = value.and_then(|v| v.to_str().ok()).and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Ranged::Full;
    };
    if spec.contains(',') {
        return Ranged::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return Ranged::Full };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| if s.bytes().all(|c| c.is_ascii_digit()) { s.parse::<u64>().ok() } else { None };
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ranged::Full,
        (true, false) => match num(b) {
            Some(0) => Ranged::Unsatisfiable,
            Some(n) if len > 0 => Ranged::Part(len.saturating_sub(n), len - 1),
            Some(_) => Ranged::Unsatisfiable,
            None => Ranged::Full,
        },
        (false, _) => {
            let Some(start) = num(a) else { return Ranged::Full };
            let end = if b.is_empty() { Some(u64::MAX) } else { num(b) };
            match end {
                None => Ranged::Full,
                Some(end) if end < start => Ranged::Full,
                Some(_) if start >= len => Ranged::Unsatisfiable,
                Some(end) => Ranged::Part(start, end.min(len - 1)),
            }
        }
    }
}

/// `GET /fragments/{id}`.
pub(crate) async fn fragment(State(state): State<HttpState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    Metrics::inc(&state.metrics.http_requests);
    if let Err(e) = check_id(&id) {
        return error(StatusCode::BAD_REQUEST, e.to_string());
    }
    let etag = format!("\"{id}\"");
    let immutable = |mut r: Response| {
        let h = r.headers_mut();
        h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex is a valid header value"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(FRAGMENT_CACHE_CONTROL));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        r
    };
    if none_match(&headers, &etag) {
        Metrics::inc(&state.metrics.http_not_modified);
        return immutable(StatusCode::NOT_MODIFIED.into_response());
    }
    let bytes = match state.library.fragment(&id).await {
        Ok(Some(b)) => b,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no fragment {id}")),
        Err(ReadError::Invalid(e)) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(ReadError::Store(e)) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let len = bytes.len() as u64;
    // A range applies unless If-Range names another representation.
    let if_range_ok = headers.get(header::IF_RANGE).is_none_or(|v| v.to_str().is_ok_and(|v| v.trim() == etag));
    let range = if if_range_ok { parse_range(headers.get(header::RANGE), len) } else { Ranged::Full };
    let octets = HeaderValue::from_static("application/octet-stream");
    let (status, body, content_range) = match range {
        Ranged::Full => (StatusCode::OK, bytes, None),
        Ranged::Part(start, end) => {
            let body = bytes.slice(start as usize..=end as usize);
            (StatusCode::PARTIAL_CONTENT, body, Some(format!("bytes {start}-{end}/{len}")))
        }
        Ranged::Unsatisfiable => {
            let mut r = error(StatusCode::RANGE_NOT_SATISFIABLE, format!("the fragment has {len} bytes"));
            r.headers_mut()
                .insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii"));
            return immutable(r);
        }
    };
    Metrics::inc(&state.metrics.fragments_sent);
    Metrics::add(&state.metrics.fragment_bytes_sent, body.len() as u64);
    let mut r = immutable((status, body).into_response());
    r.headers_mut().insert(header::CONTENT_TYPE, octets);
    if let Some(cr) = content_range {
        r.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&cr).expect("ascii"));
    }
    r
}

/// `GET /assets/{name}/manifest.json`.
pub(crate) async fn manifest(State(state): State<HttpState>, Path(path): Path<String>, headers: HeaderMap) -> Response {
    Metrics::inc(&state.metrics.http_requests);
    let Some(name) = path.strip_suffix("/manifest.json") else {
        return error(StatusCode::NOT_FOUND, "assets are at /assets/{name}/manifest.json");
    };
    let entry = match state.library.asset(name).await {
        Ok(Some(e)) => e,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no asset named {name:?}")),
        Err(e @ StoreError::InvalidName(_)) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let mut r = if none_match(&headers, &entry.etag) {
        Metrics::inc(&state.metrics.http_not_modified);
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = (StatusCode::OK, Bytes::clone(&entry.json)).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        r
    };
    let h = r.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(&entry.etag).expect("hex is a valid header value"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(MANIFEST_CACHE_CONTROL));
    r
}

/// `GET /metrics`: the counters in the Prometheus text format.
pub(crate) async fn metrics(State(state): State<HttpState>) -> Response {
    let cache = state.library.cache();
    let text = state.metrics.render(&[
        ("cache_bytes", "Bytes of fragments in the memory cache.", cache.bytes()),
        ("cache_fragments", "Fragments in the memory cache.", cache.len() as u64),
    ]);
    let mut r = text.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str, len: u64) -> Ranged {
        parse_range(Some(&HeaderValue::from_str(v).unwrap()), len)
    }

    #[test]
    fn ranges_parse_as_rfc_9110_says() {
        assert_eq!(parse_range(None, 10), Ranged::Full);
        assert_eq!(range("bytes=0-3", 10), Ranged::Part(0, 3));
        assert_eq!(range("bytes=4-", 10), Ranged::Part(4, 9));
        assert_eq!(range("bytes=-3", 10), Ranged::Part(7, 9));
        assert_eq!(range("bytes=-30", 10), Ranged::Part(0, 9));
        assert_eq!(range("bytes=5-100", 10), Ranged::Part(5, 9));
        assert_eq!(range("bytes=10-", 10), Ranged::Unsatisfiable);
        assert_eq!(range("bytes=-0", 10), Ranged::Unsatisfiable);
        assert_eq!(range("bytes=0-1,4-5", 10), Ranged::Full);
        for junk in ["bytes=5-2", "bytes=a-b", "items=0-1", "bytes=-", "bytes=+1-2", "bytes=99999999999999999999999-"] {
            assert_eq!(range(junk, 10), Ranged::Full, "{junk}");
        }
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists() {
        let mut h = HeaderMap::new();
        assert!(!none_match(&h, "\"a\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"b\", W/\"a\""));
        assert!(none_match(&h, "\"a\""));
        assert!(!none_match(&h, "\"c\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&h, "\"c\""));
    }
}
