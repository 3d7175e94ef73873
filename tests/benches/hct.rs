//! HCT against plain zstd on real weights: MiniLM (all-MiniLM-L6-v2) as f32 and as bf16.
//! Prints, per dtype, the lossless ratio (raw tensor bytes over stored bytes) of HCT and of
//! libzstd at levels 3 and 19 on the same raw bytes, and decode speeds, in one run.
//!
//! `cargo bench -p haagenti-tests --bench hct`

use std::time::Instant;

use haagenti_hct::{BlockCodec, HctReaderV2, WriterOptions, safetensors};
use haagenti_tests::{Report, bench_stamp, minilm_safetensors, report, safetensors_converted};

/// Best of `rounds` runs, seconds.
fn best(rounds: usize, f: &mut dyn FnMut()) -> f64 {
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    let mut r = Report::new("hct");
    let only_f32 = std::env::args().any(|a| a == "quick");
    let f32_file = minilm_safetensors();
    let files = [
        ("f32", f32_file.clone()),
        ("bf16", safetensors_converted(&f32_file, "BF16")),
        ("f16", safetensors_converted(&f32_file, "F16")),
    ];
    report!(r, "HCT on MiniLM weights, one thread, {}, libzstd {}", bench_stamp(), zstd::zstd_safe::version_string());
    report!(r);
    report!(
        r,
        "| dtype | raw bytes | HCT zstd-3 ratio | HCT lz4 ratio | libzstd -3 ratio | libzstd -19 ratio | HCT / libzstd-19 | HCT zstd-3 decode MB/s | HCT lz4 decode MB/s | libzstd -3 decode MB/s | HCT encode MB/s | HCT zstd-3 decode MB/s, new buffers | libzstd -3 decode MB/s, new buffers |"
    );
    report!(r, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, file) in files.into_iter().take(if only_f32 { 2 } else { 3 }) {
        let st = safetensors::parse(&file).expect("valid file");
        let raw: Vec<u8> = st.tensors.iter().flat_map(|t| t.data.iter().copied()).collect();
        let mb = raw.len() as f64 / 1e6;
        let mut hct = Vec::new();
        let t_enc = best(1, &mut || hct = safetensors::pack(&file, WriterOptions::default()).expect("pack"));
        let lz4_opts = WriterOptions { codec: BlockCodec::Lz4, ..WriterOptions::default() };
        let hct_lz4 = safetensors::pack(&file, lz4_opts).expect("pack lz4");
        let stored =
            |h: &[u8]| -> u64 { HctReaderV2::open(h).expect("open").tensors().iter().map(|t| t.stored_len()).sum() };
        let (hct_stored, lz4_stored) = (stored(&hct), stored(&hct_lz4));
        let z3 = zstd::bulk::compress(&raw, 3).expect("libzstd");
        let z19 = zstd::bulk::compress(&raw, 19).expect("libzstd");
        // Decoders write into buffers kept from run to run (on this VM a fresh buffer's page
        // faults cost as much as decoding); the last column pays them.
        let mut buf = Vec::new();
        let mut read_all = |h: &[u8]| {
            let r = HctReaderV2::open(h).expect("open");
            let mut n = 0;
            for t in r.tensors() {
                r.read_tensor_into(&t.name, &mut buf).expect("read");
                n += buf.len();
            }
            assert_eq!(n, raw.len());
        };
        let t_hct = best(5, &mut || read_all(&hct));
        let t_lz4 = best(5, &mut || read_all(&hct_lz4));
        let t_fresh = best(5, &mut || {
            let r = HctReaderV2::open(&hct[..]).expect("open");
            let n: usize = r.tensors().iter().map(|t| r.read_tensor(&t.name).expect("read").len()).sum();
            assert_eq!(n, raw.len());
        });
        let mut dz = zstd::bulk::Decompressor::new().expect("libzstd");
        let mut zbuf = Vec::with_capacity(raw.len());
        let t_z3 = best(5, &mut || {
            zbuf.clear();
            dz.decompress_to_buffer(&z3, &mut zbuf).expect("libzstd");
            assert_eq!(zbuf.len(), raw.len());
        });
        let t_z3_fresh = best(5, &mut || {
            let out = zstd::bulk::decompress(&z3, raw.len()).expect("libzstd");
            assert_eq!(out.len(), raw.len());
        });
        let ratio = |n: u64| raw.len() as f64 / n as f64;
        report!(
            r,
            "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            raw.len(),
            ratio(hct_stored),
            ratio(lz4_stored),
            ratio(z3.len() as u64),
            ratio(z19.len() as u64),
            z19.len() as f64 / hct_stored as f64,
            mb / t_hct,
            mb / t_lz4,
            mb / t_z3,
            mb / t_enc,
            mb / t_fresh,
            mb / t_z3_fresh
        );
    }
    report!(r);
    report!(r, "Ratios are raw tensor bytes over stored bytes (HCT: the blocks, without the index).");
    report!(
        r,
        "HCT decode: its own format (per-block zstd frames of byte planes, the inverse transform, XXH3 of every block and tensor); libzstd -3 decode: one frame of the raw tensor bytes, no transform or checksum."
    );
    // A quick run (f32 and bf16 only) does not replace the full output.
    if !only_f32 {
        r.save();
    }
}
