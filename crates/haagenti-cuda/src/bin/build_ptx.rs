//! Compiles the kernels (`kernels/*.cu`) to PTX with NVRTC and writes them to a directory
//! (default: the crate's `ptx/`). Needs `libnvrtc.so.12` on the library path (the PyPI wheel
//! `nvidia-cuda-nvrtc-cu12` has it; `scripts/cuda-check.sh` sets this up), no GPU.
//!
//! `cargo run -p haagenti-cuda --bin build-ptx [-- OUT_DIR]`

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ptx"));
    // SAFETY: the probe only tries to open the shared library.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        eprintln!("build-ptx: libnvrtc not found (pip install nvidia-cuda-nvrtc-cu12; see scripts/cuda-check.sh)");
        return ExitCode::FAILURE;
    }
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("build-ptx: {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    let mut failed = false;
    for (name, source) in haagenti_cuda::KERNELS {
        match cudarc::nvrtc::compile_ptx_with_opts(source, haagenti_cuda::compile_options()) {
            Ok(ptx) => {
                let path = out.join(format!("{name}.ptx"));
                let text = ptx.to_src();
                if let Err(e) = std::fs::write(&path, &text) {
                    eprintln!("build-ptx: {}: {e}", path.display());
                    failed = true;
                } else {
                    let version = text.lines().find(|l| l.starts_with(".version")).unwrap_or("?");
                    println!("build-ptx: {name}.cu -> {} ({version}, {} bytes)", path.display(), text.len());
                }
            }
            Err(e) => {
                eprintln!("build-ptx: {name}.cu does not compile: {e}");
                failed = true;
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
