//! NCT decode and HCT byte planes on the GPU against the CPU decoder, on the same data, with
//! the device named and the kernel's bytes moved per second set against the memory's peak.
//! Run by `scripts/gpu-check.sh`; without CUDA it says so and exits.
//!
//! `cargo run --release -p haagenti-cuda --example cuda_bench [-- ROWS COLS]`

use std::time::Instant;

use cudarc::driver::sys::CUdevice_attribute;
use haagenti_cuda::{GpuContext, NeuralGpuPipeline};
use haagenti_hct::{DType, Transform};
use haagenti_nct::{EncodeOptions, NctEncoder, NctFile};

fn median(mut t: Vec<f64>) -> (f64, f64, f64) {
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[0], t[t.len() - 1])
}

fn main() {
    let gpu = match GpuContext::new(0) {
        Ok(g) => g,
        Err(e) => {
            println!("cuda_bench: skipped: no CUDA device ({e})");
            return;
        }
    };
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (rows, cols) = (args.first().copied().unwrap_or(4096), args.get(1).copied().unwrap_or(4096));
    let ctx = gpu.context();
    let clock_khz = ctx.attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE).unwrap_or(0) as f64;
    let bus_bits = ctx.attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH).unwrap_or(0) as f64;
    let peak = 2.0 * clock_khz * 1e3 * bus_bits / 8.0;
    println!("cuda_bench on {}; memory peak {:.0} GB/s (clock x bus width x 2)", gpu.device_name(), peak / 1e9);

    let mut state = 0x1234_5678u64;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let w: Vec<f32> =
        (0..rows * cols).map(|_| (0..4).map(|_| (next() >> 40) as f32 / 16777216.0 - 0.5).sum()).collect();
    let raw: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
    println!("| input | GPU GB/s out | GPU GB/s moved | of peak | CPU GB/s out (1 thread) | GPU / CPU |");
    println!("|---|---:|---:|---:|---:|---:|");
    for bits in [2.0, 4.0] {
        let t0 = Instant::now();
        let mut enc = NctEncoder::new(EncodeOptions { bits, ..Default::default() });
        enc.add_tensor("w", DType::F32, &[rows as u64, cols as u64], &raw).unwrap();
        let bytes = enc.finish(&mut |_, _| {}).unwrap();
        eprintln!("encoded {rows}x{cols} at {bits} b/w in {:.1} s", t0.elapsed().as_secs_f64());
        let file = NctFile::parse(&bytes).unwrap();
        let tensor = file.tensor("w", file.stages()).unwrap();
        let mut nct = NeuralGpuPipeline::new(&gpu);
        nct.load_codebooks(&file).unwrap();
        let up = nct.upload(&tensor).unwrap();
        let mut out = gpu.stream().alloc_zeros::<f32>(rows * cols).unwrap();
        let mut times = Vec::new();
        for i in 0..25 {
            gpu.stream().synchronize().unwrap();
            let s = Instant::now();
            nct.decode_uploaded(&up, &mut out).unwrap();
            gpu.stream().synchronize().unwrap();
            if i >= 5 {
                times.push(s.elapsed().as_secs_f64());
            }
        }
        // Checked against the CPU once.
        let cpu = tensor.decode().unwrap();
        let got = gpu.to_host(&out).unwrap();
        assert!(cpu.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits()), "GPU and CPU differ");
        let mut buf = vec![0f32; rows * cols];
        let cpu_t = median(
            (0..3)
                .map(|_| {
                    let s = Instant::now();
                    tensor.decode_into(&mut buf).unwrap();
                    s.elapsed().as_secs_f64()
                })
                .collect(),
        );
        let (t, lo, hi) = median(times);
        let out_bytes = (rows * cols * 4) as f64;
        let moved = out_bytes + up.coded_bytes() as f64;
        println!(
            "| NCT {rows}x{cols}, {bits} b/w ({} stages), bit-exact | {:.1} ({:.1}-{:.1}) | {:.1} | {:.0}% | {:.2} | {:.0}x |",
            file.stages(),
            out_bytes / t / 1e9,
            out_bytes / hi / 1e9,
            out_bytes / lo / 1e9,
            moved / t / 1e9,
            if peak > 0.0 { 100.0 * moved / t / peak } else { 0.0 },
            out_bytes / cpu_t.0 / 1e9,
            cpu_t.0 / t
        );
    }
    let planes = Transform::SignExpPlanes.forward(4, &raw);
    let mut times = Vec::new();
    for i in 0..15 {
        let s = Instant::now();
        let d = gpu.unplane(Transform::SignExpPlanes, 4, &planes).unwrap();
        gpu.stream().synchronize().unwrap();
        drop(d);
        if i >= 3 {
            times.push(s.elapsed().as_secs_f64());
        }
    }
    let mut cpu_out = Vec::new();
    let s = Instant::now();
    Transform::SignExpPlanes.inverse(4, &planes, &mut cpu_out);
    let cpu_t = s.elapsed().as_secs_f64();
    let (t, _, _) = median(times);
    println!(
        "| HCT SignExpPlanes, {} MB, upload included | {:.1} | {:.1} | - | {:.2} | {:.1}x |",
        raw.len() / 1_000_000,
        raw.len() as f64 / t / 1e9,
        2.0 * raw.len() as f64 / t / 1e9,
        raw.len() as f64 / cpu_t / 1e9,
        cpu_t / t
    );
}
