//! Decoding speed: ours against libzstd (the `zstd` crate) and ruzstd on the same frames, one
//! thread. Prints MB/s (of decompressed output) and the ratio to libzstd.
//!
//! `cargo bench -p haagenti-tests --bench zstd_decode` (add `-- quick` for a short run).

use std::hint::black_box;
use std::io::Read;
use std::time::{Duration, Instant};

use haagenti_tests::{corpus, libzstd_compress, minilm_f32_and_bf16, read};

/// Times the decoders in alternating rounds for about `budget`, so that the machine's slow
/// drifts hit all of them alike. Returns each one's median MB/s and the median per-round ratio
/// of the first to the second.
fn measure(bytes: usize, budget: Duration, fs: &mut [&mut dyn FnMut()]) -> (Vec<f64>, f64) {
    for f in fs.iter_mut() {
        f();
    }
    let mut times = vec![Vec::new(); fs.len()];
    let start = Instant::now();
    while start.elapsed() < budget || times[0].len() < 7 {
        for (f, t) in fs.iter_mut().zip(times.iter_mut()) {
            let s = Instant::now();
            f();
            t.push(s.elapsed().as_secs_f64());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut ratios: Vec<f64> = times[0].iter().zip(&times[1]).map(|(a, b)| b / a).collect();
    let ratio = median(&mut ratios);
    (times.iter_mut().map(|t| bytes as f64 / median(t) / 1e6).collect(), ratio)
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let budget = Duration::from_millis(if quick { 300 } else { 2000 });
    let corpus = corpus();
    let (f32s, bf16s) = minilm_f32_and_bf16();
    let weights_f32 = f32s[..16 << 20].to_vec();
    let weights_bf16 = bf16s[..16 << 20].to_vec();
    let cases: Vec<(String, Vec<u8>, i32)> = vec![
        ("corpus".into(), corpus.clone(), 1),
        ("corpus".into(), corpus.clone(), 3),
        ("corpus".into(), corpus.clone(), 19),
        ("minilm f32 16 MiB".into(), weights_f32.clone(), 3),
        ("minilm bf16 16 MiB".into(), weights_bf16.clone(), 3),
        ("minilm f32 16 MiB".into(), weights_f32, 19),
        ("alice29.txt".into(), read("corpus/alice29.txt"), 19),
    ];
    println!("zstd decode, one thread, {}", haagenti_tests::bench_stamp());
    println!(
        "libzstd {} (zstd crate), ruzstd 0.9, haagenti-zstd {}",
        zstd::zstd_safe::version_string(),
        env!("CARGO_PKG_VERSION")
    );
    println!();
    println!("Speeds are medians; the last column is the median of per-round ratios (rounds alternate the");
    println!("decoders, so machine noise hits them alike).");
    println!();
    println!("| input | level | size | ratio | haagenti MB/s | libzstd MB/s | ruzstd MB/s | haagenti / libzstd |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    for (name, data, level) in cases {
        let frame = libzstd_compress(&data, level, true);
        assert_eq!(haagenti_zstd::decompress(&frame).unwrap(), data, "{name}: ours disagrees");
        let mut ours = haagenti_zstd::Decompressor::new(Default::default());
        let mut dctx = zstd::bulk::Decompressor::new().unwrap();
        let (speeds, ratio) = measure(
            data.len(),
            budget,
            &mut [
                &mut || {
                    black_box(ours.decompress(black_box(&frame)).unwrap());
                },
                &mut || {
                    black_box(dctx.decompress(black_box(&frame), data.len()).unwrap());
                },
                &mut || {
                    let mut out = Vec::with_capacity(data.len());
                    ruzstd::decoding::StreamingDecoder::new(black_box(&frame[..]))
                        .unwrap()
                        .read_to_end(&mut out)
                        .unwrap();
                    black_box(out);
                },
            ],
        );
        let (h, l, r) = (speeds[0], speeds[1], speeds[2]);
        ratios.push(ratio);
        println!(
            "| {name} | {level} | {:.1} MB | {:.2} | {h:.0} | {l:.0} | {r:.0} | {:.2} |",
            data.len() as f64 / 1e6,
            data.len() as f64 / frame.len() as f64,
            ratio
        );
    }
    let geo = ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64;
    println!();
    println!("geometric mean haagenti / libzstd: {:.2}", geo.exp());
}
