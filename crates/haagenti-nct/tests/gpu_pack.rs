//! `GpuPack`, the layout the GPU kernels read (haagenti-gpu's WGSL, haagenti-cuda's CUDA C),
//! checked without a GPU: a decoder written against the layout alone, as the kernels do it
//! (one weight at a time, 32-bit words, the transform by butterflies), gives the CPU
//! decoder's bytes, for whole tensors and row ranges.

#![cfg(not(target_arch = "wasm32"))]

use haagenti_hct::DType;
use haagenti_nct::{EncodeOptions, EncodedTensor, GpuPack, NctEncoder, NctFile};

/// The kernels' reading of `pack` for rows `r0..r1` of a `cols`-wide tensor with groups of
/// `g`: f32 bits of every weight.
fn decode_pack(pack: &GpuPack, codebook: &[i16], cols: usize, g: usize, rows: usize) -> Vec<u32> {
    let words: Vec<u32> = pack.data.chunks(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let read = |bit: u64, n: u32| -> u32 {
        let w = (bit >> 5) as usize;
        let v = u64::from(words[w]) | u64::from(words[w + 1]) << 32;
        (v >> (bit & 31)) as u32 & ((1 << n) - 1)
    };
    let glog = g.trailing_zeros();
    let mut out = vec![0u32; rows * cols];
    for (blk, chunk) in out.chunks_exact_mut(g).enumerate() {
        let r = blk * g / cols;
        let mut acc = vec![0i32; g];
        for st in &pack.stages {
            let [bits, m, word, sign_word] = *st;
            let start = u64::from(word) * 32 + blk as u64 * u64::from(bits);
            let mut q: Vec<i32> = (0..g as u32)
                .map(|t| {
                    let pos = (t * bits) >> glog;
                    let win = if pos + 12 <= bits {
                        read(start + u64::from(pos), 12)
                    } else {
                        let n = bits - pos;
                        read(start + u64::from(pos), n) | read(start, 12 - n) << n
                    };
                    (i32::from(codebook[win as usize]).wrapping_mul(m as i32)) >> 11
                })
                .collect();
            let mut h = 1;
            while h < g {
                for t in 0..g {
                    if t & h == 0 {
                        let (a, b) = (q[t], q[t + h]);
                        q[t] = a.wrapping_add(b);
                        q[t + h] = a.wrapping_sub(b);
                    }
                }
                h *= 2;
            }
            for (t, a) in acc.iter_mut().enumerate() {
                let c = blk * g % cols + t;
                let neg = pack.signs[sign_word as usize + c / 32] >> (c % 32) & 1 == 1;
                *a = a.wrapping_add(if neg { q[t].wrapping_neg() } else { q[t] });
            }
        }
        let rs = pack.scales[r];
        for (o, &a) in chunk.iter_mut().zip(&acc) {
            *o = if rs == GpuPack::ZERO_ROW { 0 } else { (a as f32 * f32::from_bits(rs)).to_bits() };
        }
    }
    out
}

fn check(t: &EncodedTensor<'_>, codebook: &[i16], rows: std::ops::Range<u64>) {
    let e = t.entry();
    let (cols, g) = (e.cols() as usize, e.group());
    let pack = t.gpu_pack(rows.clone()).expect("a quantized tensor");
    assert_eq!(pack.scales.len() as u64, rows.end - rows.start);
    assert_eq!(pack.signs.len(), pack.stages.len() * cols.div_ceil(32));
    assert!(pack.data.len().is_multiple_of(4) && pack.data.ends_with(&[0; 4]));
    let got = decode_pack(&pack, codebook, cols, g, (rows.end - rows.start) as usize);
    let mut want = vec![0f32; got.len()];
    t.decode_rows_into(rows.clone(), &mut want).unwrap();
    let bad = want.iter().zip(&got).position(|(a, b)| a.to_bits() != *b);
    assert!(bad.is_none(), "{} rows {rows:?}: value {bad:?}", e.name());
}

#[test]
fn the_gpu_layout_decodes_to_the_cpu_bytes() {
    let mut state = 77u64;
    let mut gauss = || {
        (0..4)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 40) as f32 / 16777216.0 - 0.5
            })
            .sum::<f32>()
    };
    for bits in [2.0, 3.0, 5.0] {
        let mut enc = NctEncoder::new(EncodeOptions { bits, ..Default::default() });
        for &(rows, cols) in &[(256usize, 1024usize), (37, 192), (64, 64)] {
            let mut w: Vec<f32> = (0..rows * cols).map(|_| gauss() * 0.05).collect();
            w[cols..2 * cols].fill(0.0); // a zero row
            let raw: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
            enc.add_tensor(&format!("w{rows}x{cols}"), DType::F32, &[rows as u64, cols as u64], &raw).unwrap();
        }
        enc.add_tensor("exact", DType::F32, &[3], &[0; 12]).unwrap();
        let bytes = enc.finish(&mut |_, _| {}).unwrap();
        let file = NctFile::parse(&bytes).unwrap();
        let codebook = file.codebook().entries();
        for e in file.tensors() {
            for k in 0..=file.stages() {
                let t = file.tensor(e.name(), k).unwrap();
                if !e.is_quantized() {
                    assert!(t.gpu_pack(0..1).is_none(), "no pack for an exact tensor");
                    continue;
                }
                check(&t, codebook, 0..e.rows());
                check(&t, codebook, 1..e.rows().min(5));
                assert!(t.gpu_pack(0..e.rows() + 1).is_none(), "rows past the end");
            }
        }
    }
}
