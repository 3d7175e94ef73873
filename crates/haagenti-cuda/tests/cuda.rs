//! The committed PTX and the no-CUDA path, checked everywhere. The kernels against the CPU
//! decoders are in `tests/tests/cuda.rs` (random tensors and MiniLM).

use haagenti_cuda::{CudaError, GpuContext, KERNELS, PTX};

#[test]
fn committed_ptx_is_for_every_kernel_and_targets_an_old_enough_isa() {
    for ((k, _), (p, ptx)) in KERNELS.iter().zip(PTX) {
        assert_eq!(*k, p);
        assert!(ptx.contains(".target sm_70"), "{p}.ptx targets compute 7.0");
        let version = ptx.lines().find(|l| l.starts_with(".version")).expect("a .version line");
        let (major, minor) = version.trim_start_matches(".version ").split_once('.').expect("major.minor");
        let (major, minor): (u32, u32) = (major.parse().unwrap(), minor.trim().parse().unwrap());
        // PTX ISA 8.4 (CUDA 12.4) loads on drivers from R550; newer ISAs need newer drivers.
        assert!((major, minor) <= (8, 4), "{p}.ptx is PTX ISA {major}.{minor}: too new for common drivers");
        let entry = if p == "nct" { "nct_decode" } else { "unplane" };
        assert!(ptx.contains(&format!(".entry {entry}(")), "{p}.ptx has {entry}");
    }
}

#[test]
fn no_driver_is_an_error_value() {
    // On a machine without CUDA this is the path callers take; with CUDA it opens a device.
    match GpuContext::new(0) {
        Ok(g) => assert!(!g.device_name().is_empty()),
        Err(CudaError::NoDriver | CudaError::Device(_)) => {}
        Err(e) => panic!("unexpected error: {e}"),
    }
}
