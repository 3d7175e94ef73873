//! Decode speed in a real browser: the WGSL kernels on WebGPU against the CPU decoders compiled
//! into the same module, on the same inputs, alternating, after a warm-up; prints MB/s of output
//! (median and range of the runs), the ratio, and the adapter. GPU times include uploading the
//! input and reading the result back (a page has no other way to wait for the device).
//!
//! `scripts/bench-webgpu.sh` runs it in release mode (a 256 x 1024 tensor, a 384 x 256 image)
//! and prints the table; CI runs its small debug form (a quarter of each) with the other
//! browser tests, within the runner's 20 s a test. On a software adapter (SwiftShader, in
//! headless Chromium here) the numbers say that the kernels run, not how fast a GPU is.

#![cfg(target_arch = "wasm32")]

use haagenti_gpu::GpuDecoder;
use haagenti_hct::DType;
use haagenti_holo::{Asset, EncodeOptions, Encoding, HoloDecoder, Reconstruction, encode};
use haagenti_nct::{EncodeOptions as NctOptions, NctEncoder, NctFile};
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const RUNS: usize = 5;

/// The inputs' size: the full benchmark in release builds, a quarter of it in debug ones.
const SCALE: usize = if cfg!(debug_assertions) { 1 } else { 2 };

fn now() -> f64 {
    web_sys::window().expect("a window").performance().expect("performance").now()
}

/// Median, lowest and highest, in MB/s of `bytes`, of times in milliseconds.
fn rates(bytes: usize, mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    let mb = |t: f64| bytes as f64 / 1e3 / t;
    format!("{:.0} ({:.0}-{:.0})", mb(ms[ms.len() / 2]), mb(ms[ms.len() - 1]), mb(ms[0]))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[wasm_bindgen_test]
async fn webgpu_against_the_cpu_decoders() {
    let gpu = match GpuDecoder::request().await {
        Ok(g) => g,
        Err(e) if option_env!("HAAGENTI_GPU_TESTS") == Some("require") => {
            panic!("webgpu bench: HAAGENTI_GPU_TESTS=require, but {e}")
        }
        Err(e) => {
            console_log!("webgpu bench: skipped: no GPU adapter ({e})");
            return;
        }
    };
    let adapter = gpu.adapter_info().map(|i| {
        let name = if i.name.is_empty() { format!("{} {}", i.driver, i.driver_info) } else { i.name.clone() };
        let name = if name.trim().is_empty() { "an unnamed adapter (the browser hides its name)" } else { name.trim() };
        format!("{name} ({:?}, {:?})", i.backend, i.device_type)
    });
    console_log!("webgpu bench on {}", adapter.unwrap_or_else(|| "an application's device".into()));
    console_log!("| input | output MB | CPU MB/s | WebGPU MB/s (with read-back) | GPU / CPU |");
    console_log!("| --- | ---: | ---: | ---: | ---: |");

    // NCT: a tensor (256 x 1024 in release builds) at 4 bits a weight (two stages), to f32.
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let mut uniform = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let (rows, cols) = (128 * SCALE, 512 * SCALE);
    let raw: Vec<u8> = (0..rows * cols).flat_map(|_| (uniform() + uniform() + uniform()).to_le_bytes()).collect();
    let mut enc = NctEncoder::new(NctOptions { bits: 4.0, threads: 1, ..Default::default() });
    enc.add_tensor("w", DType::F32, &[rows as u64, cols as u64], &raw).unwrap();
    let bytes = enc.finish(&mut |_, _| {}).unwrap();
    let file = NctFile::parse(&bytes).unwrap();
    let codebook = gpu.nct_codebook(file.codebook());
    let t = file.tensor("w", file.stages()).unwrap();
    let mut out = vec![0f32; rows * cols];
    let (mut cpu, mut dev) = (Vec::new(), Vec::new());
    for run in 0..=RUNS {
        let a = now();
        t.decode_into(&mut out).unwrap();
        let b = now();
        let got = gpu.decode_nct_to_vec(&codebook, &t).await.unwrap();
        let c = now();
        assert!(out.iter().zip(&got).all(|(x, y)| x.to_bits() == y.to_bits()), "GPU and CPU differ");
        if run > 0 {
            cpu.push(b - a);
            dev.push(c - b);
        }
    }
    let n = rows * cols * 4;
    let ratio = median(cpu.clone()) / median(dev.clone());
    console_log!(
        "| NCT 4 b/w, {rows} x {cols} f32 | {:.2} | {} | {} | {ratio:.3}x |",
        n as f64 / 1e6,
        rates(n, cpu),
        rates(n, dev)
    );

    // HoloTensor spectral: a colour image (384 x 256 in release builds), all 6 fragments, to pixels.
    let (w, h) = (384 * SCALE as u32 / 2, 256 * SCALE as u32 / 2);
    let pixels: Vec<u8> = (0..w * h * 3).map(|i| ((i / 3 % w) * 255 / w) as u8 ^ ((i * 7) % 61) as u8).collect();
    let asset = Asset::image(w, h, 3, pixels).unwrap();
    let enc =
        encode(&asset, &EncodeOptions { encoding: Encoding::Spectral, fragments: 6, ..Default::default() }).unwrap();
    let mut d = HoloDecoder::new();
    for f in &enc.fragments {
        d.push(f).unwrap();
    }
    let (mut cpu, mut dev) = (Vec::new(), Vec::new());
    for run in 0..=RUNS {
        let a = now();
        let rec = d.reconstruct().unwrap();
        let b = now();
        let rgba = gpu.read_rgba(&gpu.spectral_rgba(&d.spectral_parts().unwrap()).unwrap()).await.unwrap();
        let c = now();
        let Reconstruction::Image { pixels, .. } = rec else { panic!("an image") };
        let worst = pixels
            .chunks_exact(3)
            .zip(rgba.chunks_exact(4))
            .map(|(p, q)| (0..3).map(|k| p[k].abs_diff(q[k])).max().unwrap())
            .max();
        assert!(worst <= Some(1), "GPU pixels {worst:?} levels from the CPU's");
        if run > 0 {
            cpu.push(b - a);
            dev.push(c - b);
        }
    }
    let n = (w * h * 3) as usize;
    let ratio = median(cpu.clone()) / median(dev.clone());
    console_log!(
        "| spectral {w} x {h} RGB, 6 fragments | {:.2} | {} | {} | {ratio:.3}x |",
        n as f64 / 1e6,
        rates(n, cpu),
        rates(n, dev)
    );
}
