//! The CUDA kernels against the CPU decoders. Without an NVIDIA driver or device each GPU test
//! prints "skipped: no CUDA device" and returns; with `HAAGENTI_CUDA_TESTS=require`
//! (`scripts/gpu-check.sh`) it fails instead. The PTX checks run everywhere.

use haagenti_cuda::{CudaError, GpuContext, KERNELS, NeuralGpuPipeline, PTX};
use haagenti_hct::{DType, Transform};
use haagenti_nct::{EncodeOptions, NctEncoder, NctFile};

fn gpu(test: &str) -> Option<GpuContext> {
    match GpuContext::new(0) {
        Ok(g) => {
            eprintln!("{test}: on {}", g.device_name());
            Some(g)
        }
        Err(e) if std::env::var("HAAGENTI_CUDA_TESTS").as_deref() == Ok("require") => {
            panic!("{test}: HAAGENTI_CUDA_TESTS=require, but {e}")
        }
        Err(e) => {
            eprintln!("{test}: skipped: no CUDA device ({e})");
            None
        }
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn gaussian(&mut self) -> f32 {
        (0..4).map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5).sum::<f32>()
    }
}

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

#[test]
fn nct_matches_the_cpu() {
    let Some(gpu) = gpu("nct") else { return };
    let mut rng = Rng(4);
    for bits in [2.0, 3.0, 4.0, 6.0] {
        let mut enc = NctEncoder::new(EncodeOptions { bits, ..Default::default() });
        for &(rows, cols) in &[(512usize, 1024usize), (37, 192), (300, 256)] {
            let mut w: Vec<f32> = (0..rows * cols).map(|_| rng.gaussian() * 0.02).collect();
            w[..cols].fill(0.0);
            let raw: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
            enc.add_tensor(&format!("w{rows}x{cols}"), DType::F32, &[rows as u64, cols as u64], &raw).unwrap();
        }
        let bytes = enc.finish(&mut |_, _| {}).unwrap();
        let file = NctFile::parse(&bytes).unwrap();
        let mut nct = NeuralGpuPipeline::new(&gpu);
        nct.load_codebooks(&file).unwrap();
        for e in file.tensors() {
            for k in 0..=file.stages() {
                let t = file.tensor(e.name(), k).unwrap();
                let cpu = t.decode().unwrap();
                let got = nct.decode_tensor_to_host(&t).unwrap();
                let bad = cpu.iter().zip(&got).position(|(a, b)| a.to_bits() != b.to_bits());
                assert!(bad.is_none(), "{} at {k} stages, {bits} b/w: value {bad:?}", e.name());
            }
        }
    }
}

#[test]
fn byte_planes_match_the_cpu() {
    let Some(gpu) = gpu("planes") else { return };
    let mut rng = Rng(8);
    let data: Vec<u8> = (0..1_000_008).map(|_| rng.next() as u8).collect();
    for width in [2usize, 4, 8] {
        for t in [Transform::BytePlanes, Transform::SignExpPlanes] {
            let planes = t.forward(width, &data);
            let got = gpu.to_host(&gpu.unplane(t, width, &planes).unwrap()).unwrap();
            assert!(got == data, "{t:?} of {width}-byte elements");
        }
    }
}
