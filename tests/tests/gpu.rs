//! The WGSL kernels (`haagenti-gpu`) against the CPU decoders, byte for byte, on random and
//! real inputs: MiniLM in NCT, real bytes in HCT planes, the photos in HoloTensor.
//!
//! They need a GPU adapter; with none they print "skipped: no GPU adapter" and return, and
//! with `HAAGENTI_GPU_TESTS=require` (CI, on Mesa's lavapipe) they fail instead. Each prints
//! the adapter it ran on.

use haagenti_gpu::wgpu::util::DeviceExt;
use haagenti_gpu::{GpuDecoder, HalfFormat, wgpu};
use haagenti_hct::{DType, QuantScheme, Transform, f32_to_bf16, f32_to_f16};
use haagenti_holo::{
    Asset, EncodeOptions, Encoding, HoloDecoder, LowRankComponent, LowRankParts, Reconstruction, encode,
};
use haagenti_nct::{EncodeOptions as NctOptions, NctEncoder, NctFile};
use haagenti_tests::{PHOTOS, TestRng as Rng, device_or_skip, minilm_safetensors, photo_asset};
use xxhash_rust::xxh3::xxh3_64;

fn gpu(test: &str) -> Option<GpuDecoder> {
    device_or_skip(test, "HAAGENTI_GPU_TESTS", GpuDecoder::request_blocking, GpuDecoder::adapter_summary)
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Every tensor of `file`, at every stage count, GPU against CPU, bit for bit.
fn nct_matches(gpu: &GpuDecoder, bytes: &[u8], what: &str) -> usize {
    let file = NctFile::parse(bytes).unwrap();
    let codebook = gpu.nct_codebook(file.codebook());
    let mut compared = 0;
    for e in file.tensors() {
        for k in 0..=file.stages() {
            let tensor = file.tensor(e.name(), k).unwrap();
            let cpu = tensor.decode().unwrap();
            let got = pollster::block_on(gpu.decode_nct_to_vec(&codebook, &tensor)).unwrap();
            assert_eq!(got.len(), cpu.len(), "{what} {} at {k} stages", e.name());
            let bad = cpu.iter().zip(&got).position(|(a, b)| a.to_bits() != b.to_bits());
            if let Some(i) = bad {
                panic!(
                    "{what} {} at {k} stages: value {i} is {:e} on the CPU, {:e} on the GPU",
                    e.name(),
                    cpu[i],
                    got[i]
                );
            }
            compared += cpu.len();
            // Straight to half precision (one kernel): the CPU's values rounded by the CPU.
            for (format, round) in [(HalfFormat::F16, f32_to_f16 as fn(f32) -> u16), (HalfFormat::Bf16, f32_to_bf16)] {
                let out = gpu.decode_nct_half(&codebook, &tensor, format).unwrap();
                let got = pollster::block_on(gpu.read_u16(&out, cpu.len() as u64)).unwrap();
                if let Some(i) = cpu.iter().zip(&got).position(|(&v, &h)| round(v) != h) {
                    panic!(
                        "{what} {} at {k} stages in {format:?}: value {i} ({:e}) is {:04x} on the GPU",
                        e.name(),
                        cpu[i],
                        got[i]
                    );
                }
            }
        }
    }
    compared
}

#[test]
fn nct_decodes_random_tensors_bit_for_bit() {
    let Some(gpu) = gpu("nct random") else { return };
    let mut rng = Rng(7);
    // Shapes that pick each group size the encoder writes, rows that are not a multiple of a
    // workgroup, zero rows (code 0), outliers, and 1 to 4 stages.
    let mut total = 0;
    for (i, bits) in [2.0, 3.0, 4.0, 6.0].into_iter().enumerate() {
        let mut enc = NctEncoder::new(NctOptions { bits, seed: 11 + i as u64, ..Default::default() });
        for &(rows, cols) in &[(512usize, 1024usize), (37, 192), (9, 1024), (300, 256), (64, 64)] {
            let mut w: Vec<f32> = (0..rows * cols).map(|_| rng.gaussian() * 0.02).collect();
            for v in &mut w[..cols] {
                *v = 0.0; // the first row is all zero
            }
            w[cols + 3] = 0.9; // an outlier
            enc.add_tensor(&format!("w{rows}x{cols}"), DType::F32, &[rows as u64, cols as u64], &f32_bytes(&w))
                .unwrap();
        }
        let small: Vec<f32> = (0..100).map(|i| i as f32).collect();
        enc.add_tensor("exact", DType::F32, &[100], &f32_bytes(&small)).unwrap();
        // An odd count: the last half-precision word holds one value.
        enc.add_tensor("exact odd", DType::F32, &[101], &f32_bytes(&[&small[..], &[1e-6]].concat())).unwrap();
        let bytes = enc.finish(&mut |_, _| {}).unwrap();
        total += nct_matches(&gpu, &bytes, &format!("{bits} b/w"));
    }
    eprintln!("nct random: {total} values equal");
}

/// Subnormal and zero products (which GPUs may flush) take the shader's exact integer path:
/// a file whose base scale is forged tiny, its checksums fixed, decodes the same on both.
#[test]
fn nct_subnormal_products_match() {
    let Some(gpu) = gpu("nct subnormal") else { return };
    let mut rng = Rng(3);
    let (rows, cols) = (512usize, 512usize);
    let w: Vec<f32> = (0..rows * cols).map(|_| rng.gaussian()).collect();
    let mut enc = NctEncoder::new(NctOptions { bits: 3.0, ..Default::default() });
    enc.add_tensor("w", DType::F32, &[rows as u64, cols as u64], &f32_bytes(&w)).unwrap();
    let mut bytes = enc.finish(&mut |_, _| {}).unwrap();
    let scale = NctFile::parse(&bytes).unwrap().tensors()[0].scale();
    let dir_end = 64 + u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
    let at =
        bytes[64..dir_end].windows(4).position(|s| s == scale.to_le_bytes()).expect("the scale in the directory") + 64;
    // Base scales from the smallest subnormal up, which put weights (about N(0, 1) here) among
    // the subnormals or at zero, and one that puts some past f32::MAX (infinity).
    let spread = w.iter().fold(0f32, |m, v| m.max(v.abs()));
    let huge = (f64::from(scale) * 1e39 / f64::from(spread)) as f32;
    let (mut subnormal, mut infinite) = (0, 0);
    for forged in [f32::from_bits(1), f32::from_bits(1000), 1e-41, 1e-39, huge] {
        assert!(forged > 0.0 && forged.is_finite());
        bytes[at..at + 4].copy_from_slice(&forged.to_le_bytes());
        let c = dir_end.div_ceil(8) * 8;
        let table = xxh3_64(&bytes[64..c + 8192]);
        bytes[40..48].copy_from_slice(&table.to_le_bytes());
        let header = xxh3_64(&bytes[..56]);
        bytes[56..64].copy_from_slice(&header.to_le_bytes());
        let file = NctFile::parse(&bytes).unwrap();
        let t = file.tensor("w", file.stages()).unwrap();
        let cpu = t.decode().unwrap();
        subnormal += cpu.iter().filter(|v| v.is_subnormal()).count();
        infinite += cpu.iter().filter(|v| v.is_infinite()).count();
        nct_matches(&gpu, &bytes, &format!("scale {forged:e}"));
    }
    eprintln!("nct subnormal: {subnormal} subnormal and {infinite} infinite weights equal");
    assert!(subnormal > 1000 && infinite > 0, "the forgeries reach the slow path");
}

/// MiniLM's first layer (every matrix, the real weights) at two rates.
#[test]
fn nct_decodes_minilm_bit_for_bit() {
    let Some(gpu) = gpu("nct minilm") else { return };
    let st_bytes = minilm_safetensors();
    let st = haagenti_hct::safetensors::parse(&st_bytes).unwrap();
    for bits in [2.0, 4.0] {
        let mut enc = NctEncoder::new(NctOptions { bits, ..Default::default() });
        let mut n = 0;
        for t in st.tensors.iter().filter(|t| t.name.contains("layer.0.") || t.name.contains("position_embeddings")) {
            enc.add_tensor(&t.name, t.dtype, &t.shape, t.data).unwrap();
            n += 1;
        }
        assert!(n >= 16, "MiniLM's layer 0 has 16 tensors, found {n}");
        let bytes = enc.finish(&mut |_, _| {}).unwrap();
        let compared = nct_matches(&gpu, &bytes, &format!("MiniLM at {bits} b/w"));
        eprintln!("nct minilm: {bits} b/w, {n} tensors, {compared} values equal");
    }
}

/// A HoloTensor `nct` tensor streamed stage by stage decodes on the GPU to the decoder's own
/// reconstruction, bit for bit, after every stage.
#[test]
fn holo_nct_stages_decode_on_the_gpu_as_the_decoder_reconstructs() {
    let Some(gpu) = gpu("holo nct") else { return };
    let mut rng = Rng(21);
    let (rows, cols) = (96u64, 256u64);
    let values: Vec<f32> = (0..rows * cols).map(|_| rng.gaussian()).collect();
    let asset = Asset::tensor(DType::F32, vec![rows, cols], f32_bytes(&values)).unwrap();
    let enc = encode(&asset, &EncodeOptions { encoding: Encoding::Nct, fragments: 3, bits: 6.0, ..Default::default() })
        .unwrap();
    assert_eq!(enc.fragments.len(), 3);
    let mut d = HoloDecoder::new();
    for (k, f) in enc.fragments.iter().enumerate() {
        d.push(f).unwrap();
        let parts = d.nct_parts().expect("fragment 0 is in");
        assert_eq!(parts.stages, k + 1);
        let buffer = gpu.decode_holo_nct(&parts).unwrap();
        let got = pollster::block_on(gpu.read_f32(&buffer)).unwrap();
        let Reconstruction::Tensor { values: cpu, .. } = d.reconstruct().unwrap() else { panic!("a tensor") };
        assert_eq!(got.len(), cpu.len());
        assert!(got.iter().zip(&cpu).all(|(a, b)| a.to_bits() == b.to_bits()), "after {} stages", k + 1);
    }
}

#[test]
fn byte_planes_match_the_cpu() {
    let Some(gpu) = gpu("planes") else { return };
    let mut rng = Rng(5);
    let st_bytes = minilm_safetensors();
    let header = u64::from_le_bytes(st_bytes[..8].try_into().unwrap()) as usize;
    let real = &st_bytes[8 + header..8 + header + (3 << 20)];
    let random: Vec<u8> = (0..100_003 * 8).map(|_| rng.next_u64() as u8).collect();
    for (what, data) in [("MiniLM f32 bytes", real), ("random", &random[..])] {
        for width in [2usize, 4, 8] {
            for len in [0usize, width, 7 * width, 1001 * width, data.len() / width * width] {
                for t in [Transform::BytePlanes, Transform::SignExpPlanes, Transform::None] {
                    let elements = &data[..len];
                    let planes = t.forward(width, elements);
                    let buf = gpu.unplane(t, width, &planes).unwrap();
                    let got = gpu.read_bytes_blocking(&buf).unwrap();
                    let mut cpu = Vec::new();
                    t.inverse(width, &planes, &mut cpu);
                    assert_eq!(cpu, elements, "the CPU's inverse");
                    assert!(got[..len] == cpu[..], "{what}: {t:?} of {len} bytes of {width}-byte elements");
                }
            }
        }
    }
}

/// Pixels of a GPU reconstruction against the CPU's: (largest difference, pixels that differ).
fn compare_rgba(cpu: &Reconstruction, rgba: &[u8]) -> (u8, usize) {
    let Reconstruction::Image { pixels, channels, .. } = cpu else { panic!("an image") };
    let ch = usize::from(*channels);
    let mut worst = 0u8;
    let mut differ = 0;
    for (p, q) in pixels.chunks_exact(ch).zip(rgba.chunks_exact(4)) {
        assert_eq!(q[3], 255, "alpha");
        let want: [u8; 3] = if ch == 3 { [p[0], p[1], p[2]] } else { [p[0]; 3] };
        let d = want.iter().zip(q).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        worst = worst.max(d);
        differ += usize::from(d != 0);
    }
    (worst, differ)
}

#[test]
fn spectral_photos_match_the_cpu_as_fragments_arrive() {
    let Some(gpu) = gpu("spectral") else { return };
    for name in PHOTOS {
        let asset = photo_asset(name);
        let enc = encode(&asset, &EncodeOptions { encoding: Encoding::Spectral, fragments: 6, ..Default::default() })
            .unwrap();
        let mut d = HoloDecoder::new();
        // A refinement first (the thumbnail stands in for the DC), then the rest in order.
        let order: Vec<usize> = std::iter::once(3).chain((0..6).filter(|&i| i != 3)).collect();
        for (k, &i) in order.iter().enumerate() {
            d.push(&enc.fragments[i]).unwrap();
            let parts = d.spectral_parts().expect("a spectral image");
            let out = gpu.spectral_rgba(&parts).unwrap();
            let rgba = pollster::block_on(gpu.read_rgba(&out)).unwrap();
            let cpu = d.reconstruct().unwrap();
            let (worst, differ) = compare_rgba(&cpu, &rgba);
            let total = (out.width * out.height) as usize;
            eprintln!(
                "spectral {name} after {} fragments: {differ} of {total} pixels differ, by at most {worst}",
                k + 1
            );
            assert_eq!((worst, differ), (0, 0), "{name}: {differ} of {total} pixels differ from the CPU's");
        }
        // And into a texture, read back through a texture copy.
        let parts = d.spectral_parts().unwrap();
        let texture = gpu.spectral_texture(&parts).unwrap();
        assert_eq!((texture.width(), texture.height()), (parts.width, parts.height));
    }
}

/// Coefficients accumulated on the device, fragment by fragment, equal the CPU decoder's
/// exactly, and the pixels drawn from them equal those drawn from a full upload.
#[test]
fn spectral_coefficients_accumulate_on_the_device_as_on_the_cpu() {
    let Some(gpu) = gpu("spectral accumulation") else { return };
    for name in &PHOTOS[..2] {
        let enc = encode(
            &photo_asset(name),
            &EncodeOptions { encoding: Encoding::Spectral, fragments: 6, ..Default::default() },
        )
        .unwrap();
        // A refinement first, so fragment 0 (the DC and the coarse cells) is added by the kernel.
        let mut d = HoloDecoder::new();
        let mut acc = None;
        for i in [3usize, 0, 5, 1, 4, 2] {
            let (_, update) = d.push_spectral(&enc.fragments[i]).unwrap();
            let update = update.expect("an update");
            let parts = d.spectral_parts().unwrap();
            let acc = match &mut acc {
                None => acc.insert(gpu.spectral_accumulator(&parts).unwrap()),
                Some(a) => {
                    gpu.accumulate(a, &update).unwrap();
                    a
                }
            };
            for (k, (buffer, p)) in acc.buffers().iter().zip(&parts.planes).enumerate() {
                let bytes = gpu.read_bytes_blocking(buffer).unwrap();
                let device: Vec<i32> =
                    bytes.chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().unwrap())).collect();
                assert_eq!(&device[..p.coefs.len()], p.coefs, "{name}: plane {k} after fragment {i}");
            }
            let from_acc = pollster::block_on(gpu.read_rgba(&gpu.spectral_rgba_from(acc, &parts).unwrap())).unwrap();
            let uploaded = pollster::block_on(gpu.read_rgba(&gpu.spectral_rgba(&parts).unwrap())).unwrap();
            assert!(from_acc == uploaded, "{name}: pixels from accumulated coefficients after fragment {i}");
        }
        let mut acc = acc.unwrap();
        assert_eq!(acc.applied(), 5);
        // Updates that do not fit the image are refused before any kernel runs.
        let (_, update) = HoloDecoder::new().push_spectral(&enc.fragments[2]).unwrap();
        let mut u = update.unwrap();
        u.values.pop();
        assert!(gpu.accumulate(&mut acc, &u).is_err());
        u.values.push(0);
        u.cells[0] = 64;
        assert!(gpu.accumulate(&mut acc, &u).is_err());
        u.cells[0] = 1;
        u.dc = vec![0; 3];
        assert!(gpu.accumulate(&mut acc, &u).is_err());
        assert_eq!(acc.applied(), 5);
        let other = encode(
            &photo_asset(PHOTOS[2]),
            &EncodeOptions { encoding: Encoding::Spectral, fragments: 6, ..Default::default() },
        )
        .unwrap();
        let mut o = HoloDecoder::new();
        o.push(&other.fragments[0]).unwrap();
        assert!(gpu.spectral_rgba_from(&acc, &o.spectral_parts().unwrap()).is_err(), "parts of another image");
    }
}

/// Each plane's samples on the GPU against the CPU decoder's (`SpectralParts::plane_samples`),
/// bit for bit.
fn spectral_planes_match(gpu: &GpuDecoder, parts: &haagenti_holo::SpectralParts<'_>, what: &str) -> Vec<Vec<f32>> {
    let planes = gpu.spectral_planes(parts).unwrap();
    planes
        .iter()
        .enumerate()
        .map(|(p, buffer)| {
            let cpu = parts.plane_samples(p).unwrap();
            let got = pollster::block_on(gpu.read_f32(buffer)).unwrap();
            if let Some(i) = cpu.iter().zip(&got).position(|(a, b)| a.to_bits() != b.to_bits()) {
                panic!(
                    "{what}, plane {p}: sample {i} is {:08x} on the CPU, {:08x} on the GPU",
                    cpu[i].to_bits(),
                    got[i].to_bits()
                );
            }
            cpu
        })
        .collect()
}

#[test]
fn spectral_samples_and_tensors_match_bit_for_bit() {
    let Some(gpu) = gpu("spectral planes") else { return };
    let mut compared = 0;
    for name in &PHOTOS[..3] {
        let enc = encode(
            &photo_asset(name),
            &EncodeOptions { encoding: Encoding::Spectral, fragments: 6, ..Default::default() },
        )
        .unwrap();
        let mut d = HoloDecoder::new();
        for (k, i) in [3usize, 0, 1, 2, 4, 5].into_iter().enumerate() {
            d.push(&enc.fragments[i]).unwrap();
            let parts = d.spectral_parts().unwrap();
            compared += spectral_planes_match(&gpu, &parts, &format!("{name} after {}", k + 1)).concat().len();
        }
        // Steps scaled into the subnormals and towards overflow: products and sums that GPUs
        // flush or lose, against the CPU's function on the same parts.
        let parts = d.spectral_parts().unwrap();
        let (mut sub, mut inf) = (0, 0);
        for scale in [
            f32::from_bits(1 << 14),   /* 2^-135 */
            f32::from_bits(7 << 23),   /* 2^-120 */
            f32::from_bits(249 << 23), /* 2^122 */
        ] {
            let mut forged = parts.clone();
            for p in &mut forged.planes {
                p.steps = p.steps.map(|s| s * scale);
            }
            let planes = spectral_planes_match(&gpu, &forged, &format!("{name}, steps x {scale:e}"));
            sub += planes.iter().flatten().filter(|x| x.is_subnormal()).count();
            inf += planes.iter().flatten().filter(|x| x.is_infinite()).count();
        }
        assert!(sub > 1000 && inf > 100, "{name}: {sub} subnormal and {inf} infinite samples reached");
        // The wrong number of DCs is refused.
        let mut short = parts.clone();
        short.planes[0].dc.pop();
        assert!(gpu.spectral_planes(&short).is_err());
    }
    // Tensors: MiniLM's query matrix and an odd-length random vector, after each fragment;
    // the samples are the decoder's values (f32).
    let st_bytes = minilm_safetensors();
    let st = haagenti_hct::safetensors::parse(&st_bytes).unwrap();
    let t = st.tensors.iter().find(|t| t.name.contains("layer.0.attention.self.query.weight")).unwrap();
    let mut rng = Rng(31);
    let random: Vec<f32> = (0..10_001).map(|_| rng.gaussian()).collect();
    let tensors = [
        ("MiniLM query", Asset::tensor(DType::F32, t.shape.clone(), t.data.to_vec()).unwrap()),
        ("random 10001", Asset::tensor(DType::F32, vec![10_001], f32_bytes(&random)).unwrap()),
    ];
    for (what, asset) in tensors {
        let enc = encode(&asset, &EncodeOptions { encoding: Encoding::Spectral, fragments: 5, ..Default::default() })
            .unwrap();
        let mut d = HoloDecoder::new();
        for (k, f) in enc.fragments.iter().enumerate() {
            d.push(f).unwrap();
            assert!(d.spectral_parts().is_none(), "a tensor has no image parts");
            let parts = d.spectral_tensor_parts().expect("a spectral tensor");
            let planes = spectral_planes_match(&gpu, &parts, &format!("{what} after {}", k + 1));
            let Reconstruction::Tensor { values, .. } = d.reconstruct().unwrap() else { panic!("a tensor") };
            assert!(values.iter().zip(&planes[0]).all(|(a, b)| a.to_bits() == b.to_bits()), "{what}: decoder values");
            compared += values.len();
        }
    }
    eprintln!("spectral planes: {compared} samples equal");
}

#[test]
fn spectral_edge_cases() {
    let Some(gpu) = gpu("spectral edges") else { return };
    let mut rng = Rng(9);
    // Tiny, odd, thin (runs of 64 instead of tiles), gray and colour.
    for &(w, h, ch) in &[(1u32, 1u32, 3u8), (7, 5, 3), (9, 17, 3), (300, 3, 3), (31, 33, 1), (2, 200, 1)] {
        let pixels: Vec<u8> =
            (0..w * h * u32::from(ch)).map(|i| (i * 7 % 251) as u8 ^ (rng.next_u64() as u8 & 15)).collect();
        let asset = Asset::image(w, h, ch, pixels).unwrap();
        let enc = encode(&asset, &EncodeOptions { encoding: Encoding::Spectral, fragments: 3, ..Default::default() })
            .unwrap();
        let mut d = HoloDecoder::new();
        for f in &enc.fragments {
            d.push(f).unwrap();
            let parts = d.spectral_parts().unwrap();
            let out = gpu.spectral_rgba(&parts).unwrap();
            let rgba = pollster::block_on(gpu.read_rgba(&out)).unwrap();
            let (worst, differ) = compare_rgba(&d.reconstruct().unwrap(), &rgba);
            assert_eq!((worst, differ), (0, 0), "{w}x{h}x{ch}: pixels differ from the CPU's");
        }
    }
}

#[test]
fn projection_inverse_rotation_matches_bit_for_bit() {
    let Some(gpu) = gpu("projection") else { return };
    let st_bytes = minilm_safetensors();
    let st = haagenti_hct::safetensors::parse(&st_bytes).unwrap();
    let t = st.tensors.iter().find(|t| t.name.contains("layer.0.attention.self.query.weight")).unwrap();
    let mut rng = Rng(1);
    let random: Vec<f32> = (0..5000).map(|_| rng.gaussian()).collect();
    let assets = [
        ("MiniLM query", Asset::tensor(DType::F32, t.shape.clone(), t.data.to_vec()).unwrap()),
        ("random", Asset::tensor(DType::F32, vec![50, 100], f32_bytes(&random)).unwrap()),
    ];
    for (what, asset) in assets {
        let enc =
            encode(&asset, &EncodeOptions { encoding: Encoding::RandomProjection, fragments: 4, ..Default::default() })
                .unwrap();
        let mut d = HoloDecoder::new();
        for (k, f) in enc.fragments.iter().enumerate() {
            d.push(f).unwrap();
            let parts = d.projection_parts().expect("a projection asset");
            let planes = gpu.hadamard_inverse(&parts).unwrap();
            let got = pollster::block_on(gpu.read_f32(&planes[0])).unwrap();
            let Reconstruction::Tensor { values, .. } = d.reconstruct().unwrap() else { panic!("a tensor") };
            let bad = values.iter().zip(&got).position(|(a, b)| a.to_bits() != b.to_bits());
            assert!(bad.is_none(), "{what} after {} fragments: value {bad:?} differs", k + 1);
        }
        // Steps and means scaled into the subnormals and to overflow (infinities, and NaN where
        // they cancel), against the CPU's own function on the same parts.
        let parts = d.projection_parts().unwrap();
        let (mut sub, mut inf, mut nan) = (0, 0, 0);
        for scale in [f32::from_bits(1 << 12) /* 2^-137 */, f32::from_bits(254 << 23) /* 2^127 */] {
            let mut forged = parts.clone();
            for p in &mut forged.planes {
                p.step *= scale;
                p.mean *= scale;
            }
            let planes = gpu.hadamard_inverse(&forged).unwrap();
            let got = pollster::block_on(gpu.read_f32(&planes[0])).unwrap();
            let cpu = forged.plane_values(0).unwrap();
            let bad = cpu.iter().zip(&got).position(|(a, b)| a.to_bits() != b.to_bits());
            assert!(bad.is_none(), "{what}, steps x {scale:e}: value {bad:?}: {:?}", bad.map(|i| (cpu[i], got[i])));
            sub += cpu.iter().filter(|x| x.is_subnormal()).count();
            inf += cpu.iter().filter(|x| x.is_infinite()).count();
            nan += cpu.iter().filter(|x| x.is_nan()).count();
        }
        eprintln!("projection {what}, forged steps: {sub} subnormal, {inf} infinite, {nan} NaN values equal");
        assert!(sub > 100 && inf + nan > 100, "{what}: the cases were reached");
    }
}

#[test]
fn refine_dequantization_matches_bit_for_bit() {
    let Some(gpu) = gpu("refine") else { return };
    let st_bytes = minilm_safetensors();
    let st = haagenti_hct::safetensors::parse(&st_bytes).unwrap();
    let t = st.tensors.iter().find(|t| t.name.contains("layer.0.intermediate.dense.weight")).unwrap();
    let mut rng = Rng(12);
    let random: Vec<f32> = (0..10_007).map(|_| rng.gaussian() * 3.0).collect();
    let assets = [
        ("MiniLM intermediate", Asset::tensor(DType::F32, t.shape.clone(), t.data.to_vec()).unwrap()),
        ("random", Asset::tensor(DType::F32, vec![10_007], f32_bytes(&random)).unwrap()),
    ];
    for (what, asset) in assets {
        let enc = encode(&asset, &EncodeOptions { encoding: Encoding::Residual, fragments: 8, ..Default::default() })
            .unwrap();
        let mut d = HoloDecoder::new();
        // Every fragment but the exact last one: the approximation is what the GPU computes.
        for (k, f) in enc.fragments[..enc.fragments.len() - 1].iter().enumerate() {
            d.push(f).unwrap();
            let parts = d.refine_parts().expect("a refinement tensor");
            let got = pollster::block_on(gpu.read_f32(&gpu.refine_dequant(&parts).unwrap())).unwrap();
            let Reconstruction::Tensor { values, .. } = d.reconstruct().unwrap() else { panic!("a tensor") };
            let bad = values.iter().zip(&got).position(|(a, b)| a.to_bits() != b.to_bits());
            assert!(bad.is_none(), "{what} after {} fragments ({} layers): value {bad:?}", k + 1, parts.layers.len());
        }
        // Scales that make subnormal values (a GPU may flush them), against the values the
        // documented rule gives (RefineParts).
        let parts = d.refine_parts().unwrap();
        let scales: Vec<(f32, i64)> =
            parts.scales.iter().enumerate().map(|(g, &(s, z))| (s * f32::from_bits(1 << (10 + g % 12)), z)).collect();
        let forged = haagenti_holo::RefineParts { scales: &scales, ..parts.clone() };
        let got = pollster::block_on(gpu.read_f32(&gpu.refine_dequant(&forged).unwrap())).unwrap();
        let r = forged.layers.len() as u32;
        let mut sub = 0;
        for i in 0..forged.len {
            let (s, z) = scales[i / 64];
            let level = (i64::from(forged.levels[i]) - z) as f32;
            let b = forged.layers.iter().fold(0u32, |b, l| 2 * b + u32::from((l[i / 8] >> (i % 8)) & 1));
            let want = (level - 0.5 + (b as f32 + 0.5) * (1.0 / (1u64 << r) as f32)) * s;
            assert_eq!(want.to_bits(), got[i].to_bits(), "{what}, forged scales: value {i}");
            sub += usize::from(want.is_subnormal());
        }
        assert!(sub > 1000, "{what}: {sub} subnormal values");
    }
}

/// The GPU's low-rank matrix of every plane against the CPU's, bit for bit (the values of
/// each plane's first differing element in the message).
fn low_rank_matches(gpu: &GpuDecoder, parts: &LowRankParts<'_>, what: &str) -> Vec<Vec<f32>> {
    let got = pollster::block_on(gpu.read_f32(&gpu.low_rank(parts).unwrap())).unwrap();
    let len = parts.rows * parts.cols;
    assert_eq!(got.len(), (len * parts.planes.len()).max(1), "{what}");
    (0..parts.planes.len())
        .map(|p| {
            let cpu = parts.matrix(p).unwrap();
            let gpu = &got[p * len..(p + 1) * len];
            if let Some(i) = cpu.iter().zip(gpu).position(|(a, b)| a.to_bits() != b.to_bits()) {
                panic!(
                    "{what}, plane {p}: value {i} is {:08x} on the CPU, {:08x} on the GPU",
                    cpu[i].to_bits(),
                    gpu[i].to_bits()
                );
            }
            cpu
        })
        .collect()
}

#[test]
fn low_rank_matches_bit_for_bit() {
    let Some(gpu) = gpu("lowrank") else { return };
    let mut compared = 0;
    // MiniLM's query matrix, and a random tensor of odd shape, component fragments in an
    // order that leaves gaps; the values equal the decoder's (f32) before the residual.
    let st_bytes = minilm_safetensors();
    let st = haagenti_hct::safetensors::parse(&st_bytes).unwrap();
    let t = st.tensors.iter().find(|t| t.name.contains("layer.0.attention.self.query.weight")).unwrap();
    let mut rng = Rng(21);
    let random: Vec<f32> = (0..77 * 131).map(|_| rng.gaussian()).collect();
    let tensors = [
        ("MiniLM query", Asset::tensor(DType::F32, t.shape.clone(), t.data.to_vec()).unwrap()),
        ("random 77 x 131", Asset::tensor(DType::F32, vec![77, 131], f32_bytes(&random)).unwrap()),
    ];
    for (what, asset) in tensors {
        let enc = encode(
            &asset,
            &EncodeOptions { encoding: Encoding::LowRank, fragments: 5, rank: 24, ..Default::default() },
        )
        .unwrap();
        let mut d = HoloDecoder::new();
        for (k, &f) in [2usize, 0, 3, 1].iter().enumerate() {
            d.push(&enc.fragments[f]).unwrap();
            let parts = d.low_rank_parts().expect("a lowrank asset");
            let planes = low_rank_matches(&gpu, &parts, &format!("{what} after {} fragments", k + 1));
            let Reconstruction::Tensor { values, .. } = d.reconstruct().unwrap() else { panic!("a tensor") };
            assert!(values.iter().zip(&planes[0]).all(|(a, b)| a.to_bits() == b.to_bits()), "{what}: decoder values");
            compared += values.len();
        }
    }
    // The photos: RGBA pixels against the decoder's after each component fragment.
    for name in PHOTOS {
        let asset = photo_asset(name);
        let enc = encode(
            &asset,
            &EncodeOptions { encoding: Encoding::LowRank, fragments: 4, rank: 16, ..Default::default() },
        )
        .unwrap();
        let mut d = HoloDecoder::new();
        for (k, f) in enc.fragments[..3].iter().enumerate() {
            d.push(f).unwrap();
            let parts = d.low_rank_parts().expect("a lowrank image");
            low_rank_matches(&gpu, &parts, &format!("{name} after {} fragments", k + 1));
            let texture = gpu.low_rank_texture(&parts).unwrap();
            let rgba = pollster::block_on(gpu.read_texture_rgba(&texture)).unwrap();
            let cpu = d.reconstruct().unwrap();
            let (worst, differ) = compare_rgba(&cpu, &rgba);
            assert_eq!((worst, differ), (0, 0), "{name} after {} fragments: pixels", k + 1);
            compared += rgba.len() / 4;
        }
    }
    eprintln!("lowrank: {compared} values and pixels equal");
}

/// Hand-made components whose products and sums land where GPUs go wrong: subnormal and zero
/// results, cancellations, ties, overflow to infinity, infinities and NaN, against the CPU.
#[test]
fn low_rank_sums_match_the_cpu_at_the_edges() {
    let Some(gpu) = gpu("lowrank edges") else { return };
    let (rows, cols) = (40_000usize, 4usize);
    let mut rng = Rng(99);
    let bits = |rng: &mut Rng| -> f32 {
        // Exponents from the whole range, subnormals and the top included, half of them low.
        let e = match rng.next_u64() % 4 {
            0 => (rng.next_u64() % 24) as u32,
            1 => 230 + (rng.next_u64() % 26) as u32,
            _ => (rng.next_u64() % 256) as u32,
        };
        f32::from_bits(((rng.next_u64() % 2) as u32) << 31 | e << 23 | (rng.next_u64() as u32 & 0x7F_FFFF))
    };
    let u0: Vec<f32> = (0..rows).map(|_| bits(&mut rng)).collect();
    // The second term close to minus the first (cancellation), or anything.
    let u1: Vec<f32> = u0
        .iter()
        .map(|&a| match rng.next_u64() % 3 {
            0 => f32::from_bits((-a).to_bits().wrapping_add((rng.next_u64() % 5) as u32).wrapping_sub(2)),
            1 => f32::from_bits(a.to_bits() ^ ((rng.next_u64() % (1 << 20)) as u32)),
            _ => bits(&mut rng),
        })
        .collect();
    let u2: Vec<f32> = (0..rows).map(|_| bits(&mut rng)).collect();
    // Columns: 1 (products exact, so sums are tested alone), a power of two below one (exact
    // products into the subnormals), and two random values.
    let v0 = [1.0, 1.0, 1.0, 1.0];
    let v1 = [1.0, 2f32.powi(-20), -3.0, 1.0];
    let v2 = [0.0, 1.0, bits(&mut rng), 1.0e-30];
    let comps: Vec<LowRankComponent<'_>> =
        [(&u0, &v0), (&u1, &v1), (&u2, &v2)].iter().map(|(u, v)| LowRankComponent { u: &u[..], v: &v[..] }).collect();
    let parts = LowRankParts { rows, cols, planes: vec![comps.clone(), comps[1..].to_vec(), comps[..1].to_vec()] };
    let planes = low_rank_matches(&gpu, &parts, "edge cases");
    let count = |f: &dyn Fn(f32) -> bool| planes.iter().flatten().filter(|&&x| f(x)).count();
    let (sub, zero, inf, nan) =
        (count(&|x| x.is_subnormal()), count(&|x| x == 0.0), count(&|x| x.is_infinite()), count(&|x| x.is_nan()));
    eprintln!(
        "lowrank edges: {} values equal ({sub} subnormal, {zero} zero, {inf} infinite, {nan} NaN)",
        3 * rows * cols
    );
    assert!(sub > 1000 && zero > 100 && inf > 1000 && nan > 100, "the cases were reached");
    // Wrong lengths are refused; other encodings have no low-rank state.
    let short = LowRankParts { rows, cols: 3, planes: vec![comps.clone()] };
    assert!(gpu.low_rank(&short).is_err());
    assert!(gpu.low_rank_rgba(&parts).is_ok());
    assert!(gpu.low_rank_rgba(&LowRankParts { rows, cols, planes: vec![comps.clone(); 2] }).is_err());
    let asset = photo_asset(PHOTOS[1]);
    let enc =
        encode(&asset, &EncodeOptions { encoding: Encoding::Spectral, fragments: 4, ..Default::default() }).unwrap();
    let mut d = HoloDecoder::new();
    d.push(&enc.fragments[0]).unwrap();
    assert!(d.low_rank_parts().is_none());
}

#[test]
fn residual_image_bit_groups_match_exactly() {
    let Some(gpu) = gpu("bit groups") else { return };
    let mut compared = 0;
    for name in PHOTOS {
        let asset = photo_asset(name);
        // One bit a fragment, uneven groups (3, 3, 2 bits), and one fragment of all 8.
        for fragments in [8u16, 3, 1] {
            let enc = encode(&asset, &EncodeOptions { encoding: Encoding::Residual, fragments, ..Default::default() })
                .unwrap();
            let mut order: Vec<usize> = (0..enc.fragments.len()).collect();
            // The last group first (no unbroken run from the top yet: every sample is the
            // fill), then the rest in order.
            order.rotate_right(1);
            let mut d = HoloDecoder::new();
            for (step, &f) in order.iter().enumerate() {
                d.push(&enc.fragments[f]).unwrap();
                let parts = d.bit_group_parts().expect("a bit-group asset");
                let got = pollster::block_on(gpu.read_bytes(&gpu.bit_group_samples(&parts).unwrap())).unwrap();
                let Reconstruction::Image { pixels, .. } = d.reconstruct().unwrap() else { panic!("an image") };
                let got: Vec<u32> = got.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                assert_eq!(got.len(), pixels.len().max(1), "{name}, {fragments} fragments");
                let bad = pixels.iter().zip(&got).position(|(&a, &b)| u32::from(a) != b);
                assert!(
                    bad.is_none(),
                    "{name}, {fragments} fragments, after {} ({} groups): sample {bad:?} differs",
                    step + 1,
                    parts.groups.len()
                );
                compared += pixels.len();
                // The same samples as RGBA pixels, through a texture.
                let Asset::Image { width, height, channels, .. } = &asset else { panic!("an image") };
                let texture = gpu.bit_group_texture(&parts, *width, *height, *channels).unwrap();
                let rgba = pollster::block_on(gpu.read_texture_rgba(&texture)).unwrap();
                let want: Vec<u8> = pixels
                    .chunks_exact(usize::from(*channels))
                    .flat_map(|p| if p.len() == 1 { [p[0], p[0], p[0], 255] } else { [p[0], p[1], p[2], 255] })
                    .collect();
                assert!(rgba == want, "{name}, {fragments} fragments, after {}: RGBA differs", step + 1);
            }
        }
    }
    // Other encodings have no bit groups; a group shorter than its samples is refused.
    let asset = photo_asset(PHOTOS[1]);
    let enc =
        encode(&asset, &EncodeOptions { encoding: Encoding::Spectral, fragments: 4, ..Default::default() }).unwrap();
    let mut d = HoloDecoder::new();
    d.push(&enc.fragments[0]).unwrap();
    assert!(d.bit_group_parts().is_none());
    let enc =
        encode(&asset, &EncodeOptions { encoding: Encoding::Residual, fragments: 2, ..Default::default() }).unwrap();
    let mut d = HoloDecoder::new();
    d.push(&enc.fragments[0]).unwrap();
    let mut parts = d.bit_group_parts().unwrap();
    parts.groups[0].bits = &parts.groups[0].bits[..parts.groups[0].bits.len() - 1];
    assert!(gpu.bit_group_samples(&parts).is_err());
    // So is a group whose bits would pass the top of a sample.
    let mut parts = d.bit_group_parts().unwrap();
    parts.groups[0].lo = u32::MAX;
    assert!(gpu.bit_group_samples(&parts).is_err());
    // An image size that does not match the samples is refused.
    let parts = d.bit_group_parts().unwrap();
    let Asset::Image { width, height, .. } = &asset else { panic!("an image") };
    assert!(gpu.bit_group_rgba(&parts, *width, *height, 3).is_err());
    assert!(gpu.bit_group_rgba(&parts, *width, *height, 1).is_ok());
    eprintln!("bit groups: {compared} samples equal");
}

/// f32 to binary16 and bfloat16 on the device against the CPU's conversion, bit for bit, for
/// `n` = 0, 1, odd and even counts.
fn half_matches(gpu: &GpuDecoder, bits: &[u32], what: &str) {
    let bytes: Vec<u8> = bits.iter().flat_map(|b| b.to_le_bytes()).collect();
    let buffer = gpu.device().create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("f32 values"),
        contents: if bytes.is_empty() { &[0; 4] } else { &bytes },
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    });
    for (format, cpu) in [(HalfFormat::F16, f32_to_f16 as fn(f32) -> u16), (HalfFormat::Bf16, f32_to_bf16)] {
        let out = gpu.to_half(&buffer, bits.len() as u64, format).unwrap();
        let got = pollster::block_on(gpu.read_u16(&out, bits.len() as u64)).unwrap();
        assert_eq!(got.len(), bits.len());
        if let Some(i) = bits.iter().zip(&got).position(|(&b, &g)| cpu(f32::from_bits(b)) != g) {
            panic!(
                "{what}, {format:?}: {:#010x} is {:#06x} on the CPU, {:#06x} on the GPU",
                bits[i],
                cpu(f32::from_bits(bits[i])),
                got[i]
            );
        }
    }
}

/// Every class of input: zeros, subnormals, values that round to a subnormal half, to zero or
/// past 65504 to infinity, ties at each rounding boundary with the kept bit even and odd,
/// infinities and NaNs with payloads, at every exponent and both signs; and a million random
/// bit patterns.
#[test]
fn half_conversion_matches_the_cpu_bit_for_bit() {
    let Some(gpu) = gpu("half") else { return };
    let lows = [
        0u32, 1, 0xfff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000, 0x7fff, 0x8000, 0x8001, 0x18000, 0xffff, 0x7fe000,
        0x7fffff, 0x400000,
    ];
    let mut bits = Vec::new();
    for sign in [0, 1 << 31] {
        for exp in 0..256u32 {
            for low in lows {
                bits.push(sign | exp << 23 | low);
            }
        }
    }
    let specials = bits.len();
    let mut rng = Rng(5);
    bits.extend((0..(1 << 20) + 1).map(|_| rng.next_u64() as u32));
    for n in [0, 1, 2, 3, 257, specials, bits.len()] {
        half_matches(&gpu, &bits[..n], &format!("{n} values"));
    }
    eprintln!("half: {} values ({specials} boundary cases) equal in f16 and bf16", bits.len());
}

/// NCT weights decoded straight to half precision on the device: MiniLM's layer 0 (real
/// weights) equals the CPU decoder's f32 values rounded by the CPU.
#[test]
fn nct_decodes_minilm_to_half_precision_bit_for_bit() {
    let Some(gpu) = gpu("nct half") else { return };
    let st_bytes = minilm_safetensors();
    let st = haagenti_hct::safetensors::parse(&st_bytes).unwrap();
    let mut enc = NctEncoder::new(NctOptions { bits: 3.0, ..Default::default() });
    for t in st.tensors.iter().filter(|t| t.name.contains("layer.0.")) {
        enc.add_tensor(&t.name, t.dtype, &t.shape, t.data).unwrap();
    }
    let bytes = enc.finish(&mut |_, _| {}).unwrap();
    let file = NctFile::parse(&bytes).unwrap();
    let codebook = gpu.nct_codebook(file.codebook());
    let mut compared = 0;
    for e in file.tensors() {
        let tensor = file.tensor(e.name(), file.stages()).unwrap();
        let cpu = tensor.decode().unwrap();
        for (format, round) in [(HalfFormat::F16, f32_to_f16 as fn(f32) -> u16), (HalfFormat::Bf16, f32_to_bf16)] {
            let out = gpu.decode_nct_half(&codebook, &tensor, format).unwrap();
            let got = pollster::block_on(gpu.read_u16(&out, cpu.len() as u64)).unwrap();
            let want: Vec<u16> = cpu.iter().map(|&v| round(v)).collect();
            assert!(got == want, "{} in {format:?} differs from the CPU's", e.name());
            compared += cpu.len();
        }
    }
    assert!(compared > 1_000_000, "MiniLM's layer 0 has 1.77M weights; compared {compared}");
    eprintln!("nct half: {compared} values equal (f16 and bf16)");
}

/// HCT's int8 / int4 payloads dequantized on the device against `QuantScheme::dequantize`.
fn dequant_matches(gpu: &GpuDecoder, scheme: QuantScheme, payload: &[u8], n: usize, what: &str) {
    let cpu = scheme.dequantize(payload, n as u64).unwrap();
    let out = gpu.dequantize(scheme, payload, n as u64).unwrap();
    let got = pollster::block_on(gpu.read_f32(&out)).unwrap();
    assert!(got.len() >= n, "{what}: {} values back for {n}", got.len());
    if let Some(i) = cpu.iter().zip(&got).position(|(a, b)| a.to_bits() != b.to_bits()) {
        panic!("{what} {scheme:?}: value {i} is {:e} on the CPU, {:e} on the GPU", cpu[i], got[i]);
    }
}

/// MiniLM's real weights quantized by HCT's int8 and int4 schemes (group sizes that divide the
/// rows and ones that do not, an odd count, one value, none), and payloads with forged scales
/// whose products are subnormal, zero or infinite (which a GPU may flush or round otherwise):
/// the GPU's values equal the CPU's bit for bit. A payload of the wrong size is refused.
#[test]
fn hct_quantized_tensors_dequantize_bit_for_bit() {
    let Some(gpu) = gpu("hct dequant") else { return };
    let st_bytes = minilm_safetensors();
    let st = haagenti_hct::safetensors::parse(&st_bytes).unwrap();
    let t = st.tensors.iter().find(|t| t.name.contains("layer.0.intermediate.dense.weight")).unwrap();
    let w: Vec<f32> = t.data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let mut compared = 0;
    for scheme in [
        QuantScheme::Int8 { group: 64 },
        QuantScheme::Int8 { group: 7 },
        QuantScheme::Int8 { group: 1 },
        QuantScheme::Int4 { group: 32 },
        QuantScheme::Int4 { group: 5 },
    ] {
        for n in [w.len(), 12_345, 1, 0] {
            let payload = scheme.quantize(&w[..n]).unwrap();
            dequant_matches(&gpu, scheme, &payload, n, &format!("MiniLM, {n} values"));
            compared += n;
        }
        // Forged scales: every group's scale replaced by one that makes subnormal products,
        // rounds some to zero, or overflows to infinity, in both signs.
        let n = 4099;
        let mut payload = scheme.quantize(&w[..n]).unwrap();
        let groups = n.div_ceil(scheme.group() as usize);
        for forged in [f32::from_bits(1), 1e-44, 3e-39, -2e-39, 1e36, -3e38, f32::MAX] {
            for g in 0..groups {
                payload[4 * g..4 * g + 4].copy_from_slice(&forged.to_le_bytes());
            }
            dequant_matches(&gpu, scheme, &payload, n, &format!("scale {forged:e}"));
            compared += n;
        }
        let cpu = scheme.dequantize(&payload, n as u64).unwrap();
        assert!(cpu.iter().any(|v| v.is_infinite()), "{scheme:?}: the forgeries reach infinity");
        payload.chunks_exact_mut(4).take(groups).for_each(|s| s.copy_from_slice(&1e-41f32.to_le_bytes()));
        let tiny = scheme.dequantize(&payload, n as u64).unwrap();
        assert!(tiny.iter().filter(|v| v.is_subnormal()).count() > 100, "{scheme:?}: subnormal products");
        dequant_matches(&gpu, scheme, &payload, n, "scale 1e-41");
        assert!(gpu.dequantize(scheme, &payload[1..], n as u64).is_err(), "a short payload is refused");
    }
    eprintln!("hct dequant: {compared} values equal");
}
