//! `haagenti store add`, `haagenti serve` and `haagenti fetch` as a user runs them: a store
//! filled from a photo and a real weight tensor, served over TLS with a self-signed
//! certificate, fetched back and checked against the originals.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn haagenti(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_haagenti")).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = haagenti(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

struct Served {
    child: Child,
    url: String,
    cert: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `haagenti serve` on a free port and reads its address and certificate path.
fn serve(store: &Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_haagenti"))
        .args(["serve", "--addr", "127.0.0.1:0", "--store", store.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut url, mut cert) = (None, None);
    while url.is_none() || cert.is_none() {
        let line = lines.next().expect("the server exited before printing its address").unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            url = Some(rest.split_whitespace().next().unwrap().trim_end_matches('/').to_string());
        }
        if let Some(rest) = line.split("self-signed certificate for localhost: ").nth(1) {
            cert = Some(rest.split_whitespace().next().unwrap().to_string());
        }
    }
    // Keep reading, as a terminal would.
    std::thread::spawn(move || lines.for_each(drop));
    Served { child, url: url.unwrap(), cert: cert.unwrap() }
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let n = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (n(a) * n(b))
}

fn floats(safetensors: &[u8]) -> Vec<f32> {
    let header = u64::from_le_bytes(safetensors[..8].try_into().unwrap()) as usize;
    safetensors[8 + header..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

#[test]
fn a_store_filled_served_and_fetched_gives_back_the_photo_and_the_tensor() {
    let dir = std::env::temp_dir().join(format!("haagenti-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("store");
    let photo = root().join("tests/data/images/chelsea.png");
    let tensor = root().join("tests/data/minilm-l0-query.safetensors");
    let added = ok(&["store", "add", photo.to_str().unwrap(), "--store", store.to_str().unwrap()]);
    assert!(added.contains("1 asset (8 fragments"), "{added}");
    ok(&["store", "add", tensor.to_str().unwrap(), "--store", store.to_str().unwrap(), "--fragments", "6"]);
    let listed = ok(&["store", "list", "--store", store.to_str().unwrap()]);
    let tensor_asset = "minilm-l0-query/encoder.layer.0.attention.self.query.weight";
    assert_eq!(listed.lines().collect::<Vec<_>>(), ["chelsea.png", tensor_asset]);

    let served = serve(&store);
    let out_png = dir.join("cat.png");
    let url = format!("{}/chelsea.png", served.url);
    let fetched = ok(&["fetch", &url, "--ca", &served.cert, "-o", out_png.to_str().unwrap()]);
    assert!(fetched.contains("8 of 8 fragments"), "{fetched}");
    let original = image::open(&photo).unwrap().to_rgb8();
    let back = image::open(&out_png).unwrap().to_rgb8();
    assert_eq!(back.dimensions(), original.dimensions());
    let mse =
        original.as_raw().iter().zip(back.as_raw()).map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2)).sum::<f64>()
            / original.as_raw().len() as f64;
    let psnr = 10.0 * (255.0f64 * 255.0 / mse).log10();
    assert!(psnr > 30.0, "the fetched photo is at {psnr:.1} dB");

    // A quality target stops early; the tensor written is close to the original.
    let out_t = dir.join("q.safetensors");
    let url = format!("{}/{tensor_asset}", served.url);
    let fetched = ok(&["fetch", &url, "--ca", &served.cert, "--quality", "0.999", "-o", out_t.to_str().unwrap()]);
    assert!(!fetched.contains("6 of 6"), "a quality target fetched everything: {fetched}");
    let original = floats(&std::fs::read(&tensor).unwrap());
    let back = floats(&std::fs::read(&out_t).unwrap());
    assert_eq!(back.len(), 384 * 384);
    let c = cosine(&original, &back);
    assert!(c >= 0.999, "cosine {c}");

    // A time budget at a reported bandwidth: 300 ms at 0.5 Mbit/s is under 19 kB, less than the
    // photo's 8 fragments.
    let timed = ok(&[
        "fetch",
        &format!("{}/chelsea.png", served.url),
        "--ca",
        &served.cert,
        "--max-time-ms",
        "300",
        "--bandwidth-mbps",
        "0.5",
        "-f",
        "-o",
        out_png.to_str().unwrap(),
    ]);
    assert!(!timed.contains("8 of 8"), "{timed}");

    // Errors are one line each, and nothing is written.
    let missing = haagenti(&["fetch", &format!("{}/nope", served.url), "--ca", &served.cert, "-o", "x.png"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no asset named \"nope\""));
    let untrusted = haagenti(&["fetch", &format!("{}/chelsea.png", served.url), "-o", "y.png"]);
    assert!(String::from_utf8_lossy(&untrusted.stderr).contains("UnknownIssuer"));
    assert!(!Path::new("x.png").exists() && !Path::new("y.png").exists());
    drop(served);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serve_lists_every_flag_and_refuses_plain_http_off_loopback() {
    let help = ok(&["serve", "--help"]);
    for flag in [
        "--addr",
        "--cert",
        "--key",
        "--client-ca",
        "--store",
        "--web",
        "--plain-http",
        "--cache-mb",
        "--cors-origin",
        "--max-connections",
        "--max-streams-per-client",
        "--rate",
        "--max-message-bytes",
        "--handshake-timeout-s",
        "--stall-timeout-s",
        "--shutdown-grace-s",
    ] {
        assert!(help.contains(flag), "{flag} missing from serve --help");
    }
    let refused = haagenti(&["serve", "--plain-http", "--addr", "0.0.0.0:0"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only served on loopback"));
    let bad =
        haagenti(&["store", "add", "Cargo.toml", "--store", std::env::temp_dir().join("hs-bad").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a safetensors file nor an image"));
}
