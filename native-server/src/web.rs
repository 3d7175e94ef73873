//! The web app built into the binary (see `build.rs`), served at `/`.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, Uri, header};

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// Whether a web app was built into this binary.
pub(crate) fn embedded() -> bool {
    WEB.iter().any(|(p, _)| *p == "index.html")
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Serves the embedded file at the request's path, or `index.html` for paths it lacks (the
/// app routes them itself).
pub(crate) async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let (path, bytes) = match WEB.iter().find(|(p, _)| *p == path) {
        Some(&(p, b)) => (p, b),
        None => match WEB.iter().find(|(p, _)| *p == "index.html") {
            Some(&(p, b)) => (p, b),
            None => return (StatusCode::NOT_FOUND, "no web app is built into this server\n").into_response(),
        },
    };
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    // Vite names built assets by their content hash; the page itself must be revalidated.
    let cache = if path.starts_with("static/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}
