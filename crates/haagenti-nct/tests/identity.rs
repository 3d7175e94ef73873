//! One encode and decode, digested: the same on every target. Natively this runs as a plain
//! test (with whichever SIMD the encoder's dispatch picks); scripts/test.sh also runs it on
//! wasm32 in Node (`wasm-bindgen-test-runner`), so both must reach the same digests. The
//! constants were printed by the first native run; a change to the format or the encoder
//! shows up here, on purpose.

use haagenti_hct::DType;
use haagenti_nct::{EncodeOptions, NctEncoder, NctFile};
use xxhash_rust::xxh3::xxh3_64;

/// The file and what it decodes to after each stage (`allocate`: `EncodeOptions::allocate`).
fn digests(allocate: bool) -> (u64, Vec<u64>) {
    let mut s = 7u64;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        // A sum of four bytes: near-Gaussian, from integers only.
        let b = (s >> 32).to_le_bytes();
        (b[0] as f32 + b[1] as f32 + b[2] as f32 + b[3] as f32 - 510.0) / 148.0
    };
    let w: Vec<u8> = (0..128 * 256).flat_map(|_| next().to_le_bytes()).collect();
    let h: Vec<u8> = (0..64 * 128).flat_map(|_| haagenti_hct::f32_to_f16(next() * 0.01).to_le_bytes()).collect();
    let mut enc = NctEncoder::new(EncodeOptions { bits: 6.0, allocate, ..Default::default() });
    enc.add_tensor("w", DType::F32, &[128, 256], &w).unwrap();
    enc.add_tensor("h", DType::F16, &[64, 128], &h).unwrap();
    enc.add_tensor("bias", DType::F32, &[4], &[0u8; 16]).unwrap();
    let bytes = enc.finish(&mut |_, _| {}).unwrap();
    let file = NctFile::parse(&bytes).unwrap();
    let mut decoded = Vec::new();
    for k in 0..=file.stages() {
        let mut all = Vec::new();
        for t in file.tensors() {
            all.extend(file.decode_tensor(t.name(), k).unwrap().iter().flat_map(|v| v.to_le_bytes()));
        }
        decoded.push(xxh3_64(&all));
    }
    (xxh3_64(&bytes), decoded)
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn encoding_and_decoding_are_the_same_bytes_on_every_target() {
    for (allocate, want_file, want_decoded) in [(false, FILE_EVEN, DECODED_EVEN), (true, FILE, DECODED)] {
        let (file, decoded) = digests(allocate);
        println!("allocate {allocate}: file {file:#018x} decoded {decoded:#018x?}");
        assert_eq!(file, want_file, "the encoder wrote different bytes (allocate {allocate})");
        assert_eq!(decoded, want_decoded, "the decoder gave different values (allocate {allocate})");
    }
}

// Stage 1's bits spread by energy (the default; the two tensors' energies differ).
const FILE: u64 = 0xfb45_3eec_8c14_6c98;
const DECODED: [u64; 3] = [0x6ff5_9fdf_9947_a8c8, 0xf6d4_ed2f_f825_de0d, 0xaf8f_ba74_2487_2b2d];
// Even rates: the digests from before the spread existed (2026-12-02).
const FILE_EVEN: u64 = 0x2c2c_0bfe_826e_7299;
const DECODED_EVEN: [u64; 3] = [0x6ff5_9fdf_9947_a8c8, 0x57d8_2828_95c2_0118, 0xa800_c57d_3aa0_9d1a];
