//! The kernels in a real browser (headless Chromium, WebGPU on SwiftShader): the same bytes as
//! the CPU decoders compiled into the same module. Run by
//! `wasm-pack test --headless --chrome crates/haagenti-gpu` (scripts/test.sh). Built with
//! `HAAGENTI_GPU_TESTS=require` (as CI builds them), a browser without WebGPU fails the tests;
//! otherwise they print "skipped: no GPU adapter" and return.

#![cfg(target_arch = "wasm32")]

use haagenti_gpu::wgpu::util::DeviceExt;
use haagenti_gpu::{GpuDecoder, HalfFormat, wgpu};
use haagenti_hct::{DType, Transform, f32_to_bf16, f32_to_f16};
use haagenti_holo::{
    Asset, EncodeOptions, Encoding, HoloDecoder, LowRankComponent, LowRankParts, Reconstruction, encode,
};
use haagenti_nct::{EncodeOptions as NctOptions, NctEncoder, NctFile};
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

async fn gpu(test: &str) -> Option<GpuDecoder> {
    match GpuDecoder::request().await {
        Ok(g) => {
            let name = g.adapter_info().map(|i| format!("{} {:?} {:?}", i.name, i.backend, i.device_type));
            console_log!("{test}: on a WebGPU adapter ({})", name.unwrap_or_default());
            Some(g)
        }
        Err(e) if option_env!("HAAGENTI_GPU_TESTS") == Some("require") => {
            panic!("{test}: HAAGENTI_GPU_TESTS=require, but {e}")
        }
        Err(e) => {
            console_log!("{test}: skipped: no GPU adapter ({e})");
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
    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }
}

/// A one-tensor NCT file ("w", `rows` x `cols`) at 4 bits a weight.
fn nct_file(rows: usize, cols: usize, w: &[f32]) -> Vec<u8> {
    let raw: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut enc = NctEncoder::new(NctOptions { bits: 4.0, threads: 1, ..Default::default() });
    enc.add_tensor("w", DType::F32, &[rows as u64, cols as u64], &raw).unwrap();
    enc.finish(&mut |_, _| {}).unwrap()
}

#[wasm_bindgen_test]
async fn nct_matches_the_cpu_in_the_browser() {
    let Some(gpu) = gpu("nct").await else { return };
    let mut rng = Rng(1);
    let w: Vec<f32> = (0..300 * 1024).map(|_| rng.uniform() + rng.uniform() + rng.uniform()).collect();
    let bytes = nct_file(300, 1024, &w);
    let file = NctFile::parse(&bytes).unwrap();
    let codebook = gpu.nct_codebook(file.codebook());
    for k in 0..=file.stages() {
        let t = file.tensor("w", k).unwrap();
        let cpu = t.decode().unwrap();
        let got = gpu.decode_nct_to_vec(&codebook, &t).await.unwrap();
        assert!(cpu.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits()), "{k} stages");
        console_log!("nct: {} stages, {} values equal", k, cpu.len());
    }
}

/// NCT weights straight to binary16 and bfloat16, and the boundary cases of the conversion
/// (every exponent, ties, subnormals, infinities, NaNs): the CPU's rounding, bit for bit.
#[wasm_bindgen_test]
async fn half_precision_matches_the_cpu_in_the_browser() {
    let Some(gpu) = gpu("half").await else { return };
    let mut rng = Rng(2);
    let w: Vec<f32> = (0..128 * 1024).map(|_| rng.uniform() - 0.5).collect();
    let bytes = nct_file(128, 1024, &w);
    let file = NctFile::parse(&bytes).unwrap();
    let codebook = gpu.nct_codebook(file.codebook());
    let t = file.tensor("w", file.stages()).unwrap();
    let cpu = t.decode().unwrap();
    let mut bits: Vec<u32> = Vec::new();
    for sign in [0, 1u32 << 31] {
        for exp in 0..256u32 {
            for low in [0u32, 1, 0xfff, 0x1000, 0x1001, 0x2000, 0x3000, 0x7fff, 0x8000, 0x18000, 0x7fe000, 0x7fffff] {
                bits.push(sign | exp << 23 | low);
            }
        }
    }
    bits.push(0x3f80_0001); // an odd count
    let edges = gpu.device().create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("edges"),
        contents: &bits.iter().flat_map(|b| b.to_le_bytes()).collect::<Vec<u8>>(),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    });
    for (format, round) in [(HalfFormat::F16, f32_to_f16 as fn(f32) -> u16), (HalfFormat::Bf16, f32_to_bf16)] {
        let out = gpu.decode_nct_half(&codebook, &t, format).unwrap();
        let got = gpu.read_u16(&out, cpu.len() as u64).await.unwrap();
        assert!(cpu.iter().zip(&got).all(|(&v, &g)| round(v) == g), "NCT weights in {format:?}");
        let out = gpu.to_half(&edges, bits.len() as u64, format).unwrap();
        let got = gpu.read_u16(&out, bits.len() as u64).await.unwrap();
        let bad = bits.iter().zip(&got).position(|(&b, &g)| round(f32::from_bits(b)) != g);
        assert!(bad.is_none(), "{format:?}: {:#010x}", bits[bad.unwrap_or(0)]);
        console_log!("half: {format:?}, {} weights and {} boundary cases equal", cpu.len(), bits.len());
    }
}

#[wasm_bindgen_test]
async fn byte_planes_match_the_cpu_in_the_browser() {
    let Some(gpu) = gpu("planes").await else { return };
    let mut rng = Rng(2);
    let data: Vec<u8> = (0..40_000).map(|_| rng.next() as u8).collect();
    for width in [2usize, 4, 8] {
        for t in [Transform::BytePlanes, Transform::SignExpPlanes] {
            let planes = t.forward(width, &data);
            let got = gpu.read_bytes(&gpu.unplane(t, width, &planes).unwrap()).await.unwrap();
            assert!(got[..data.len()] == data[..], "{t:?} of {width}-byte elements");
        }
    }
}

#[wasm_bindgen_test]
async fn spectral_matches_the_cpu_in_the_browser() {
    let Some(gpu) = gpu("spectral").await else { return };
    let mut rng = Rng(3);
    let (w, h) = (173u32, 131u32);
    let pixels: Vec<u8> = (0..w * h * 3)
        .map(|i| {
            let (x, y) = ((i / 3) % w, (i / 3) / w);
            ((x * 255 / w + y * (i % 3 + 1) * 40 / h) as u8).wrapping_add((rng.next() & 7) as u8)
        })
        .collect();
    let asset = Asset::image(w, h, 3, pixels).unwrap();
    let enc =
        encode(&asset, &EncodeOptions { encoding: Encoding::Spectral, fragments: 4, ..Default::default() }).unwrap();
    let mut d = HoloDecoder::new();
    for f in &enc.fragments {
        d.push(f).unwrap();
        let parts = d.spectral_parts().unwrap();
        let rgba = gpu.read_rgba(&gpu.spectral_rgba(&parts).unwrap()).await.unwrap();
        let Reconstruction::Image { pixels, .. } = d.reconstruct().unwrap() else { panic!("an image") };
        let mut worst = 0u8;
        let mut differ = 0usize;
        for (p, q) in pixels.chunks_exact(3).zip(rgba.chunks_exact(4)) {
            let d = (0..3).map(|c| p[c].abs_diff(q[c])).max().unwrap();
            worst = worst.max(d);
            differ += usize::from(d != 0);
        }
        console_log!("spectral: {differ} of {} pixels differ, by at most {worst}", w * h);
        assert_eq!((worst, differ), (0, 0), "{differ} pixels differ by up to {worst}");
    }
    // The planes' samples, as decoded and with steps scaled into the subnormals (which
    // SwiftShader flushes) and towards overflow, bit for bit against the CPU's function.
    let parts = d.spectral_parts().unwrap();
    let mut subnormal = 0;
    for scale in [1.0, f32::from_bits(1 << 14) /* 2^-135 */, f32::from_bits(249 << 23) /* 2^122 */] {
        let mut forged = parts.clone();
        for p in &mut forged.planes {
            p.steps = p.steps.map(|s| s * scale);
        }
        let planes = gpu.spectral_planes(&forged).unwrap();
        for (p, buffer) in planes.iter().enumerate() {
            let cpu = forged.plane_samples(p).unwrap();
            let got = gpu.read_f32(buffer).await.unwrap();
            let bad = cpu.iter().zip(&got).position(|(a, b)| a.to_bits() != b.to_bits());
            assert!(bad.is_none(), "steps x {scale:e}, plane {p}: sample {bad:?}: {:?}", bad.map(|i| (cpu[i], got[i])));
            subnormal += cpu.iter().filter(|x| x.is_subnormal()).count();
        }
    }
    assert!(subnormal > 1000, "{subnormal} subnormal samples reached");
    console_log!("spectral planes: equal ({subnormal} subnormal samples)");
}

/// `residual` images' bit groups to samples, exactly the CPU's, in uneven groups and with the
/// top group missing.
#[wasm_bindgen_test]
async fn bit_groups_match_the_cpu_in_the_browser() {
    let Some(gpu) = gpu("bit groups").await else { return };
    let mut rng = Rng(5);
    for (w, h, c) in [(171u32, 97u32, 3u8), (64, 33, 1)] {
        let pixels: Vec<u8> = (0..w * h * u32::from(c)).map(|_| rng.next() as u8).collect();
        let asset = Asset::image(w, h, c, pixels).unwrap();
        for fragments in [8u16, 3] {
            let enc = encode(&asset, &EncodeOptions { encoding: Encoding::Residual, fragments, ..Default::default() })
                .unwrap();
            let mut order: Vec<usize> = (0..enc.fragments.len()).collect();
            order.rotate_right(1);
            let mut d = HoloDecoder::new();
            for &f in &order {
                d.push(&enc.fragments[f]).unwrap();
                let parts = d.bit_group_parts().unwrap();
                let got = gpu.read_bytes(&gpu.bit_group_samples(&parts).unwrap()).await.unwrap();
                let Reconstruction::Image { pixels, .. } = d.reconstruct().unwrap() else { panic!("an image") };
                let got: Vec<u32> = got.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                assert_eq!(got.len(), pixels.len());
                let bad = pixels.iter().zip(&got).position(|(&a, &b)| u32::from(a) != b);
                assert!(
                    bad.is_none(),
                    "{w}x{h}x{c}, {fragments} fragments, {} groups: sample {bad:?}",
                    parts.groups.len()
                );
                let rgba = gpu.read_texture_rgba(&gpu.bit_group_texture(&parts, w, h, c).unwrap()).await.unwrap();
                let want: Vec<u8> = pixels
                    .chunks_exact(usize::from(c))
                    .flat_map(|p| if c == 1 { [p[0], p[0], p[0], 255] } else { [p[0], p[1], p[2], 255] })
                    .collect();
                assert!(rgba == want, "{w}x{h}x{c}, {fragments} fragments: RGBA differs");
            }
        }
    }
    console_log!("bit groups: equal");
}

/// Coefficients accumulated in WebGPU buffers, fragment by fragment in any order, equal the
/// CPU decoder's exactly, and draw the same pixels as a full upload.
#[wasm_bindgen_test]
async fn low_rank_matches_the_cpu_in_the_browser() {
    let Some(gpu) = gpu("lowrank").await else { return };
    let mut rng = Rng(8);
    // A random image and tensor, after each component fragment.
    let (w, h) = (93u32, 61u32);
    let pixels: Vec<u8> = (0..w * h * 3).map(|i| ((i % 97) as u8).wrapping_add(rng.next() as u8 % 16)).collect();
    let values: Vec<u8> = (0..70 * 45).flat_map(|_| rng.uniform().to_le_bytes()).collect();
    let assets = [Asset::image(w, h, 3, pixels).unwrap(), Asset::tensor(DType::F32, vec![70, 45], values).unwrap()];
    for asset in &assets {
        let enc =
            encode(asset, &EncodeOptions { encoding: Encoding::LowRank, fragments: 4, rank: 12, ..Default::default() })
                .unwrap();
        let mut d = HoloDecoder::new();
        for f in &enc.fragments[..3] {
            d.push(f).unwrap();
            let parts = d.low_rank_parts().unwrap();
            let got = gpu.read_f32(&gpu.low_rank(&parts).unwrap()).await.unwrap();
            let cpu: Vec<f32> = (0..parts.planes.len()).flat_map(|p| parts.matrix(p).unwrap()).collect();
            let bad = cpu.iter().zip(&got).position(|(a, b)| a.to_bits() != b.to_bits());
            assert!(bad.is_none(), "{} planes: value {bad:?}", parts.planes.len());
            if let Reconstruction::Image { pixels, .. } = d.reconstruct().unwrap() {
                let rgba = gpu.read_texture_rgba(&gpu.low_rank_texture(&parts).unwrap()).await.unwrap();
                let want: Vec<u8> = pixels.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
                assert!(rgba == want, "lowrank image: RGBA differs");
            }
        }
    }
    // Sums and products where a GPU may flush or lose infinities: random bit patterns over
    // the whole exponent range, and second terms that nearly cancel the first.
    let rows = 8192;
    let bits = |rng: &mut Rng| {
        let e = if rng.next().is_multiple_of(2) { rng.next() % 24 } else { rng.next() % 256 } as u32;
        f32::from_bits(((rng.next() % 2) as u32) << 31 | e << 23 | (rng.next() as u32 & 0x7F_FFFF))
    };
    let u0: Vec<f32> = (0..rows).map(|_| bits(&mut rng)).collect();
    let u1: Vec<f32> = u0
        .iter()
        .map(|&a| {
            if rng.next().is_multiple_of(2) {
                f32::from_bits((-a).to_bits() ^ (rng.next() % 8) as u32)
            } else {
                bits(&mut rng)
            }
        })
        .collect();
    let (v0, v1) = ([1.0f32, 1.0, 0.5], [1.0f32, 2f32.powi(-20), -3.0]);
    let comps = vec![LowRankComponent { u: &u0, v: &v0 }, LowRankComponent { u: &u1, v: &v1 }];
    let parts = LowRankParts { rows, cols: 3, planes: vec![comps] };
    let got = gpu.read_f32(&gpu.low_rank(&parts).unwrap()).await.unwrap();
    let cpu = parts.matrix(0).unwrap();
    let subnormal = cpu.iter().filter(|x| x.is_subnormal()).count();
    let bad = cpu.iter().zip(&got).position(|(a, b)| a.to_bits() != b.to_bits());
    assert!(bad.is_none(), "edge cases: value {bad:?}: {:?} vs {:?}", bad.map(|i| cpu[i]), bad.map(|i| got[i]));
    assert!(subnormal > 100, "subnormal sums reached");
    console_log!("lowrank: equal ({} edge values, {subnormal} subnormal)", cpu.len());
}

/// `projection` and `residual` tensors with steps and scales that make subnormal values (which
/// SwiftShader flushes) and overflow, bit for bit against the CPU's rules.
#[wasm_bindgen_test]
async fn projection_and_refinement_match_the_cpu_at_the_edges() {
    let Some(gpu) = gpu("projection, refinement").await else { return };
    let mut rng = Rng(13);
    let values: Vec<u8> = (0..4000).flat_map(|_| rng.uniform().to_le_bytes()).collect();
    let asset = Asset::tensor(DType::F32, vec![40, 100], values).unwrap();
    let enc =
        encode(&asset, &EncodeOptions { encoding: Encoding::RandomProjection, fragments: 3, ..Default::default() })
            .unwrap();
    let mut d = HoloDecoder::new();
    for f in &enc.fragments {
        d.push(f).unwrap();
    }
    let parts = d.projection_parts().unwrap();
    let mut subnormal = 0;
    for scale in [1.0, f32::from_bits(1 << 12) /* 2^-137 */, f32::from_bits(254 << 23) /* 2^127 */] {
        let mut forged = parts.clone();
        for p in &mut forged.planes {
            p.step *= scale;
            p.mean *= scale;
        }
        let got = gpu.read_f32(&gpu.hadamard_inverse(&forged).unwrap()[0]).await.unwrap();
        let cpu = forged.plane_values(0).unwrap();
        let bad = cpu.iter().zip(&got).position(|(a, b)| a.to_bits() != b.to_bits());
        assert!(bad.is_none(), "projection, steps x {scale:e}: value {bad:?}: {:?}", bad.map(|i| (cpu[i], got[i])));
        subnormal += cpu.iter().filter(|x| x.is_subnormal()).count();
    }
    assert!(subnormal > 1000, "projection: {subnormal} subnormal values");
    let enc =
        encode(&asset, &EncodeOptions { encoding: Encoding::Residual, fragments: 6, ..Default::default() }).unwrap();
    let mut d = HoloDecoder::new();
    for f in &enc.fragments[..5] {
        d.push(f).unwrap();
    }
    let parts = d.refine_parts().unwrap();
    let scales: Vec<(f32, i64)> = parts.scales.iter().map(|&(s, z)| (s * f32::from_bits(1 << 12), z)).collect();
    let forged = haagenti_holo::RefineParts { scales: &scales, ..parts.clone() };
    let got = gpu.read_f32(&gpu.refine_dequant(&forged).unwrap()).await.unwrap();
    let r = forged.layers.len() as u32;
    let mut subnormal = 0;
    for i in 0..forged.len {
        let (s, z) = scales[i / 64];
        let level = (i64::from(forged.levels[i]) - z) as f32;
        let b = forged.layers.iter().fold(0u32, |b, l| 2 * b + u32::from((l[i / 8] >> (i % 8)) & 1));
        let want = (level - 0.5 + (b as f32 + 0.5) * (1.0 / (1u64 << r) as f32)) * s;
        assert_eq!(want.to_bits(), got[i].to_bits(), "refinement, forged scales: value {i}");
        subnormal += usize::from(want.is_subnormal());
    }
    assert!(subnormal > 1000, "refinement: {subnormal} subnormal values");
    console_log!("projection, refinement: equal at the edges");
}

#[wasm_bindgen_test]
async fn spectral_coefficients_accumulate_as_on_the_cpu() {
    let Some(gpu) = gpu("spectral accumulation").await else { return };
    let (w, h) = (97u32, 75u32);
    let pixels: Vec<u8> = (0..w * h * 3).map(|i| ((i * 37) % 251) as u8 ^ ((i / 3 % w) as u8)).collect();
    let asset = Asset::image(w, h, 3, pixels).unwrap();
    let enc =
        encode(&asset, &EncodeOptions { encoding: Encoding::Spectral, fragments: 5, ..Default::default() }).unwrap();
    let mut d = HoloDecoder::new();
    let mut acc = None;
    for i in [2usize, 0, 4, 1, 3] {
        let update = d.push_spectral(&enc.fragments[i]).unwrap().1.expect("an update");
        let parts = d.spectral_parts().unwrap();
        let acc = match &mut acc {
            None => acc.insert(gpu.spectral_accumulator(&parts).unwrap()),
            Some(a) => {
                gpu.accumulate(a, &update).unwrap();
                a
            }
        };
        for (buffer, p) in acc.buffers().iter().zip(&parts.planes) {
            let bytes = gpu.read_bytes(buffer).await.unwrap();
            let device: Vec<i32> = bytes.chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().unwrap())).collect();
            assert_eq!(&device[..p.coefs.len()], p.coefs, "after fragment {i}");
        }
        let from_acc = gpu.read_rgba(&gpu.spectral_rgba_from(acc, &parts).unwrap()).await.unwrap();
        let uploaded = gpu.read_rgba(&gpu.spectral_rgba(&parts).unwrap()).await.unwrap();
        assert!(from_acc == uploaded, "pixels after fragment {i}");
    }
    console_log!("spectral accumulation: 5 fragments, device coefficients equal the CPU's");
}

/// The texture a preview is drawn from holds the CPU's pixels, and it draws onto a canvas
/// (sized to it) without a validation error. (What the canvas then shows cannot be read here:
/// headless Chromium gives nothing back for a WebGPU canvas through `drawImage`, and maps of
/// buffers fail once a frame has been drawn to a canvas, so the texture is read first.)
#[wasm_bindgen_test]
async fn spectral_texture_draws_onto_a_canvas() {
    if gpu("canvas").await.is_none() {
        return;
    }
    use wasm_bindgen::JsCast;
    let document = web_sys::window().unwrap().document().unwrap();
    let canvas: web_sys::HtmlCanvasElement = document.create_element("canvas").unwrap().dyn_into().unwrap();
    let (gpu, mut presenter) = GpuDecoder::for_canvas(canvas.clone()).await.unwrap();
    let (w, h) = (64u32, 48u32);
    let pixels: Vec<u8> = (0..w * h * 3).map(|i| (i * 13 % 256) as u8).collect();
    let enc =
        encode(&Asset::image(w, h, 3, pixels).unwrap(), &EncodeOptions { fragments: 2, ..Default::default() }).unwrap();
    let mut d = HoloDecoder::new();
    for f in &enc.fragments {
        d.push(f).unwrap();
    }
    let parts = d.spectral_parts().unwrap();
    let texture = gpu.spectral_texture(&parts).unwrap();
    let got = gpu.read_texture_rgba(&texture).await.unwrap();
    let Reconstruction::Image { pixels, .. } = d.reconstruct().unwrap() else { panic!("an image") };
    assert!(pixels.chunks_exact(3).zip(got.chunks_exact(4)).all(|(p, q)| p == &q[..3] && q[3] == 255));
    let scope = gpu.device().push_error_scope(wgpu::ErrorFilter::Validation);
    presenter.present(&gpu, &texture).unwrap();
    let error = scope.pop().await;
    assert!(error.is_none(), "drawing onto the canvas: {error:?}");
    assert_eq!((canvas.width(), canvas.height()), (w, h));
}
