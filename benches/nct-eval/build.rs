//! Records which haagenti-nct the benchmark is built against: the last commit touching the
//! crate, whether its sources differ from it, and a hash of those sources, so a report names
//! the code it measured even while the crate is being changed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let o = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// FNV-1a 64 over the crate's source files, in path order.
fn sources_hash(dir: &Path) -> u64 {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() { walk(&p, out) } else { out.push(p) }
            }
        }
    }
    let mut files = vec![dir.join("Cargo.toml")];
    walk(&dir.join("src"), &mut files);
    files.sort();
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for f in files {
        for b in std::fs::read(&f).unwrap_or_default() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn main() {
    // Read when the script runs, not baked in when it is compiled: a build script compiled in
    // another checkout sharing the target folder would otherwise look there (and report
    // "unknown commit" with the hash of no files).
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("../../crates/haagenti-nct");
    println!("cargo:rerun-if-changed={}", dir.join("src").display());
    println!("cargo:rerun-if-changed={}", dir.join("Cargo.toml").display());
    if let Some(index) = git(&dir, &["rev-parse", "--path-format=absolute", "--git-path", "index"]) {
        println!("cargo:rerun-if-changed={index}");
    }
    let commit = git(&dir, &["log", "-1", "--format=%h %cs", "--", "."]).unwrap_or_else(|| "unknown commit".into());
    let state = match git(&dir, &["status", "--porcelain", "--untracked-files=no", "--", "src", "Cargo.toml"]) {
        None => "",
        Some(d) if d.is_empty() => ", sources as committed",
        Some(_) => ", with uncommitted changes to its sources",
    };
    println!("cargo:rustc-env=NCT_SOURCE={commit}{state}; sources hash {:016x}", sources_hash(&dir));
}
