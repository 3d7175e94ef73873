//! The CUDA kernels (`haagenti-cuda`) on real data: MiniLM's weights in NCT (every tensor of
//! the first two layers at two rates, all stage counts) and as HCT byte planes, GPU against
//! CPU bit for bit. Without CUDA they print "skipped: no CUDA device"; with
//! `HAAGENTI_CUDA_TESTS=require` (scripts/gpu-check.sh) they fail instead.

use haagenti_cuda::{GpuContext, NeuralGpuPipeline};
use haagenti_hct::{Transform, safetensors};
use haagenti_nct::{EncodeOptions, NctEncoder, NctFile};
use haagenti_tests::minilm_safetensors;

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
        let file = NctFile::parse(&bytes).unwrap();
        let mut nct = NeuralGpuPipeline::new(&gpu);
        nct.load_codebooks(&file).unwrap();
        let mut values = 0;
        for e in file.tensors() {
            for k in 0..=file.stages() {
                let t = file.tensor(e.name(), k).unwrap();
                let cpu = t.decode().unwrap();
                let got = nct.decode_tensor_to_host(&t).unwrap();
                let bad = cpu.iter().zip(&got).position(|(a, b)| a.to_bits() != b.to_bits());
                assert!(bad.is_none(), "{} at {k} stages: value {bad:?}", e.name());
                values += cpu.len();
            }
        }
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
