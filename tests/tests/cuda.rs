//! The CUDA kernels (`haagenti-cuda`) against the CPU decoders, bit for bit: NCT on random
//! tensors (four rates, odd shapes, zero rows, every stage count) and on MiniLM's first two
//! layers at two rates; a HoloTensor `nct` tensor stage by stage; HCT byte planes on random bytes and on MiniLM's. Without CUDA they print "skipped: no CUDA device"; with
//! `HAAGENTI_CUDA_TESTS=require` (scripts/gpu-check.sh) they fail instead.

use haagenti_cuda::{GpuContext, NeuralGpuPipeline};
use haagenti_hct::{DType, Transform, safetensors};
use haagenti_holo::{Asset, EncodeOptions as HoloOptions, Encoding, HoloDecoder, Reconstruction, encode};
use haagenti_nct::{EncodeOptions, NctEncoder, NctFile};
use haagenti_tests::{TestRng as Rng, device_or_skip, minilm_safetensors};

fn gpu(test: &str) -> Option<GpuContext> {
    device_or_skip(test, "HAAGENTI_CUDA_TESTS", || GpuContext::new(0), |g| g.device_name().to_string())
}

/// Every tensor of the NCT file `bytes` at every stage count, GPU against CPU; the values compared.
fn nct_matches(gpu: &GpuContext, bytes: &[u8], what: &str) -> usize {
    let file = NctFile::parse(bytes).unwrap();
    let mut nct = NeuralGpuPipeline::new(gpu);
    nct.load_codebooks(&file).unwrap();
    let mut values = 0;
    for e in file.tensors() {
        for k in 0..=file.stages() {
            let t = file.tensor(e.name(), k).unwrap();
            let cpu = t.decode().unwrap();
            let got = nct.decode_tensor_to_host(&t).unwrap();
            let bad = cpu.iter().zip(&got).position(|(a, b)| a.to_bits() != b.to_bits());
            assert!(bad.is_none(), "{what}: {} at {k} stages: value {bad:?}", e.name());
            values += cpu.len();
        }
    }
    values
}

#[test]
fn cuda_nct_matches_the_cpu_on_random_tensors() {
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
        nct_matches(&gpu, &bytes, &format!("{bits} b/w"));
    }
}

#[test]
fn cuda_byte_planes_match_the_cpu_on_random_bytes() {
    let Some(gpu) = gpu("planes") else { return };
    let mut rng = Rng(8);
    let data: Vec<u8> = (0..1_000_008).map(|_| rng.next_u64() as u8).collect();
    for width in [2usize, 4, 8] {
        for t in [Transform::BytePlanes, Transform::SignExpPlanes] {
            let planes = t.forward(width, &data);
            let got = gpu.to_host(&gpu.unplane(t, width, &planes).unwrap()).unwrap();
            assert!(got == data, "{t:?} of {width}-byte elements");
        }
    }
}

#[test]
fn cuda_nct_decodes_minilm_bit_for_bit() {
    let Some(gpu) = gpu("cuda nct minilm") else { return };
    let st_bytes = minilm_safetensors();
    let st = safetensors::parse(&st_bytes).unwrap();
    for bits in [2.0, 4.0] {
        let mut enc = NctEncoder::new(EncodeOptions { bits, ..Default::default() });
        for t in st.tensors.iter().filter(|t| t.name.contains("layer.0.") || t.name.contains("layer.1.")) {
            enc.add_tensor(&t.name, t.dtype, &t.shape, t.data).unwrap();
        }
        let bytes = enc.finish(&mut |_, _| {}).unwrap();
        let values = nct_matches(&gpu, &bytes, &format!("MiniLM at {bits} b/w"));
        eprintln!("cuda nct minilm: {bits} b/w, {values} values equal");
    }
}

#[test]
fn cuda_byte_planes_of_minilm_match() {
    let Some(gpu) = gpu("cuda planes") else { return };
    let st_bytes = minilm_safetensors();
    let header = u64::from_le_bytes(st_bytes[..8].try_into().unwrap()) as usize;
    let data = &st_bytes[8 + header..];
    let data = &data[..data.len() / 8 * 8];
    for (t, width) in [(Transform::SignExpPlanes, 4), (Transform::BytePlanes, 4), (Transform::SignExpPlanes, 2)] {
        let planes = t.forward(width, data);
        let got = gpu.to_host(&gpu.unplane(t, width, &planes).unwrap()).unwrap();
        assert!(got == data, "{t:?} of {width}-byte elements");
    }
}

/// A HoloTensor `nct` tensor streamed stage by stage decodes on the device to the decoder's
/// own reconstruction, bit for bit, after every stage.
#[test]
fn cuda_holo_nct_stages_decode_as_the_decoder_reconstructs() {
    let Some(gpu) = gpu("holo nct") else { return };
    let mut rng = Rng(21);
    let (rows, cols) = (96u64, 256u64);
    let values: Vec<f32> = (0..rows * cols).map(|_| rng.gaussian()).collect();
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let asset = Asset::tensor(DType::F32, vec![rows, cols], raw).unwrap();
    let opts = HoloOptions { encoding: Encoding::Nct, fragments: 3, bits: 6.0, ..Default::default() };
    let enc = encode(&asset, &opts).unwrap();
    assert_eq!(enc.fragments.len(), 3);
    let mut nct = NeuralGpuPipeline::new(&gpu);
    let mut d = HoloDecoder::new();
    for (k, f) in enc.fragments.iter().enumerate() {
        d.push(f).unwrap();
        let parts = d.nct_parts().expect("fragment 0 is in");
        assert_eq!(parts.stages, k + 1);
        let got = gpu.to_host(&nct.decode_holo_nct(&parts).unwrap()).unwrap();
        let Reconstruction::Tensor { values: cpu, .. } = d.reconstruct().unwrap() else { panic!("a tensor") };
        assert_eq!(got.len(), cpu.len());
        assert!(got.iter().zip(&cpu).all(|(a, b)| a.to_bits() == b.to_bits()), "after {} stages", k + 1);
    }
}
