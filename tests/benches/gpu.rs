//! The WGSL kernels (`haagenti-gpu`) against the CPU decoders on the same inputs, in one run:
//! - NCT: MiniLM's encoder layers (every matrix but the word embeddings) at 2 and 4 bits a
//!   weight, every tensor decoded to f32;
//! - HCT byte planes: MiniLM's f32 bytes in 1 MiB blocks, `SignExpPlanes` undone;
//! - HoloTensor `spectral`: the five photos, all fragments, reconstructed to pixels;
//! - HoloTensor `lowrank`: MiniLM's layer-0 matrices at rank 32, every component fragment in
//!   (the residual not), to f32.
//!
//! GPU times include uploading the inputs and waiting for the device, not reading results
//! back (the point is to leave them on the device); the "with read-back" column adds that.
//! The adapter is named in the output. On software adapters (lavapipe, SwiftShader) these
//! numbers say that the kernels run, not how fast a GPU is.
//!
//! `cargo bench -p haagenti-tests --bench gpu` (writes docs/gpu-bench.md; with
//! `HAAGENTI_GPU_TESTS=require` a missing adapter fails it, as in scripts/gpu-check.sh)

use std::time::Instant;

use haagenti_gpu::GpuDecoder;
use haagenti_hct::{Transform, safetensors};
use haagenti_holo::{EncodeOptions, Encoding, HoloDecoder, encode};
use haagenti_nct::{EncodeOptions as NctOptions, NctEncoder, NctFile};
use haagenti_tests::{PHOTOS, Report, bench_stamp, minilm_safetensors, photo_asset, report};

const RUNS: usize = 7;

/// Median, lowest and highest of a run's timings (seconds).
fn stats(mut t: Vec<f64>) -> (f64, f64, f64) {
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[0], t[t.len() - 1])
}

fn time(f: &mut dyn FnMut()) -> f64 {
    let s = Instant::now();
    f();
    s.elapsed().as_secs_f64()
}

/// Runs `cpu`, `gpu` and `gpu_read` alternately, `RUNS` times after a warm-up of each, and
/// prints one row of MB/s of `bytes` output.
fn row(
    r: &mut Report,
    what: &str,
    bytes: u64,
    cpu: &mut dyn FnMut(),
    gpu: &mut dyn FnMut(),
    gpu_read: &mut dyn FnMut(),
) {
    cpu();
    gpu();
    gpu_read();
    let (mut tc, mut tg, mut tr) = (vec![], vec![], vec![]);
    for _ in 0..RUNS {
        tc.push(time(cpu));
        tg.push(time(gpu));
        tr.push(time(gpu_read));
    }
    let mbs = |t: (f64, f64, f64)| {
        let mb = bytes as f64 / 1e6;
        format!("{:.0} ({:.0}-{:.0})", mb / t.0, mb / t.2, mb / t.1)
    };
    let (c, g, rd) = (stats(tc), stats(tg), stats(tr));
    report!(r, "| {what} | {:.1} | {} | {} | {} | {:.2}x |", bytes as f64 / 1e6, mbs(c), mbs(g), mbs(rd), c.0 / g.0);
}

fn main() {
    let mut r = Report::new("gpu");
    let gpu = match GpuDecoder::request_blocking() {
        Ok(g) => g,
        Err(e) if std::env::var("HAAGENTI_GPU_TESTS").as_deref() == Ok("require") => {
            eprintln!("HAAGENTI_GPU_TESTS=require, but no GPU adapter: {e}");
            std::process::exit(1);
        }
        Err(e) => {
            println!("skipped: no GPU adapter ({e})");
            return;
        }
    };
    report!(r, "GPU kernels against the CPU decoders, {}", bench_stamp());
    report!(r);
    report!(
        r,
        "Adapter: {}. CPU: one thread. MB/s of decoded output (10^6 bytes), median of {RUNS} runs after a warm-up, lowest and highest in parentheses; CPU and GPU runs alternate.",
        gpu.adapter_summary()
    );
    report!(r);
    report!(r, "| input | MB out | CPU MB/s | GPU MB/s | GPU with read-back MB/s | GPU / CPU |");
    report!(r, "|---|---:|---:|---:|---:|---:|");

    let st_bytes = minilm_safetensors();
    let st = safetensors::parse(&st_bytes).unwrap();
    for bits in [2.0, 4.0] {
        let mut enc = NctEncoder::new(NctOptions { bits, ..Default::default() });
        for t in st.tensors.iter().filter(|t| t.name.contains("encoder.layer.")) {
            enc.add_tensor(&t.name, t.dtype, &t.shape, t.data).unwrap();
        }
        let bytes = enc.finish(&mut |_, _| {}).unwrap();
        let file = NctFile::parse(&bytes).unwrap();
        let k = file.stages();
        let codebook = gpu.nct_codebook(file.codebook());
        let tensors: Vec<_> = file.tensors().iter().map(|e| file.tensor(e.name(), k).unwrap()).collect();
        let out_bytes: u64 = tensors.iter().map(|t| t.entry().numel() * 4).sum();
        let mut scratch: Vec<Vec<f32>> = tensors.iter().map(|t| vec![0f32; t.entry().numel() as usize]).collect();
        let mut cpu = || {
            for (t, o) in tensors.iter().zip(&mut scratch) {
                t.decode_into(o).unwrap();
            }
        };
        let run_gpu = |read: bool| {
            let bufs: Vec<_> = tensors.iter().map(|t| gpu.decode_nct(&codebook, t).unwrap()).collect();
            if read {
                for b in &bufs {
                    std::hint::black_box(gpu.read_bytes_blocking(b).unwrap());
                }
            } else {
                gpu.wait().unwrap();
            }
        };
        let what = format!("NCT, MiniLM encoder layers, {bits} b/w ({k} stages)");
        let run_gpu = &run_gpu;
        row(&mut r, &what, out_bytes, &mut cpu, &mut || run_gpu(false), &mut || run_gpu(true));
    }

    let header = u64::from_le_bytes(st_bytes[..8].try_into().unwrap()) as usize;
    let data = &st_bytes[8 + header..];
    let data = &data[..data.len() / (1 << 20) * (1 << 20)];
    let blocks: Vec<Vec<u8>> = data.chunks(1 << 20).map(|b| Transform::SignExpPlanes.forward(4, b)).collect();
    let mut out = Vec::with_capacity(1 << 20);
    row(
        &mut r,
        "HCT SignExpPlanes, MiniLM f32 in 1 MiB blocks",
        data.len() as u64,
        &mut || {
            for b in &blocks {
                out.clear();
                Transform::SignExpPlanes.inverse(4, b, &mut out);
                std::hint::black_box(&out);
            }
        },
        &mut || {
            let bufs: Vec<_> = blocks.iter().map(|b| gpu.unplane(Transform::SignExpPlanes, 4, b).unwrap()).collect();
            gpu.wait().unwrap();
            drop(bufs);
        },
        &mut || {
            for b in &blocks {
                std::hint::black_box(
                    gpu.read_bytes_blocking(&gpu.unplane(Transform::SignExpPlanes, 4, b).unwrap()).unwrap(),
                );
            }
        },
    );

    let decoders: Vec<HoloDecoder> = PHOTOS
        .iter()
        .map(|name| {
            let enc = encode(&photo_asset(name), &EncodeOptions { encoding: Encoding::Spectral, ..Default::default() })
                .unwrap();
            let mut d = HoloDecoder::new();
            for f in &enc.fragments {
                d.push(f).unwrap();
            }
            d
        })
        .collect();
    let pixels: u64 =
        decoders.iter().map(|d| d.spectral_parts().map(|p| u64::from(p.width * p.height) * 4).unwrap()).sum();
    row(
        &mut r,
        "HoloTensor spectral, the 5 photos, all 8 fragments (RGBA out)",
        pixels,
        &mut || {
            for d in &decoders {
                std::hint::black_box(d.reconstruct().unwrap());
            }
        },
        &mut || {
            let outs: Vec<_> =
                decoders.iter().map(|d| gpu.spectral_rgba(&d.spectral_parts().unwrap()).unwrap()).collect();
            gpu.wait().unwrap();
            drop(outs);
        },
        &mut || {
            for d in &decoders {
                let o = gpu.spectral_rgba(&d.spectral_parts().unwrap()).unwrap();
                std::hint::black_box(pollster::block_on(gpu.read_rgba(&o)).unwrap());
            }
        },
    );
    let layer0: Vec<_> =
        st.tensors.iter().filter(|t| t.name.contains("encoder.layer.0.") && t.shape.len() == 2).collect();
    let decoders: Vec<HoloDecoder> = layer0
        .iter()
        .map(|t| {
            let asset = haagenti_holo::Asset::tensor(t.dtype, t.shape.clone(), t.data.to_vec()).unwrap();
            let o = EncodeOptions { encoding: Encoding::LowRank, fragments: 5, rank: 32, ..Default::default() };
            let enc = encode(&asset, &o).unwrap();
            let mut d = HoloDecoder::new();
            for f in &enc.fragments[..4] {
                d.push(f).unwrap();
            }
            d
        })
        .collect();
    let values: u64 = layer0.iter().map(|t| t.shape.iter().product::<u64>() * 4).sum();
    row(
        &mut r,
        &format!("HoloTensor lowrank, MiniLM layer 0 ({} matrices), rank 32, f32 out", layer0.len()),
        values,
        &mut || {
            for d in &decoders {
                std::hint::black_box(d.reconstruct().unwrap());
            }
        },
        &mut || {
            let outs: Vec<_> = decoders.iter().map(|d| gpu.low_rank(&d.low_rank_parts().unwrap()).unwrap()).collect();
            gpu.wait().unwrap();
            drop(outs);
        },
        &mut || {
            for d in &decoders {
                let o = gpu.low_rank(&d.low_rank_parts().unwrap()).unwrap();
                std::hint::black_box(gpu.read_bytes_blocking(&o).unwrap());
            }
        },
    );
    report!(r);
    report!(
        r,
        "The CPU column of spectral includes converting to the asset's 3-byte RGB; the GPU's writes 4-byte RGBA (the MB column counts RGBA)."
    );
    r.save();
}
