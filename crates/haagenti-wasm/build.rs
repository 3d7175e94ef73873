//! Lists the reference zstd test vectors for the wasm test suites (`tests/cases`), so the same
//! conformance vectors run in Node and in Chromium. The library itself does not use the list.

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../tests/data/zstd");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut code = String::from(
        "/// (name, frame, original) for every reference vector.\npub(crate) const VECTORS: &[(&str, &[u8], &[u8])] = &[\n",
    );
    for sub in ["decodecorpus", "golden-decompression"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { continue };
        let mut frames: Vec<PathBuf> =
            entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "zst")).collect();
        frames.sort();
        for f in frames {
            let original = f.with_extension("");
            writeln!(
                code,
                "    ({:?}, include_bytes!({:?}), include_bytes!({:?})),",
                f.file_name().unwrap().to_string_lossy(),
                f.display().to_string(),
                original.display().to_string()
            )
            .unwrap();
        }
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("vectors.rs");
    std::fs::write(out, code).unwrap();
}
