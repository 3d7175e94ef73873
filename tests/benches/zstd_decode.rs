//! Decoding speed: ours against libzstd (the `zstd` crate) on the same frames, one thread, in
//! three call styles: allocating (`decompress` against `bulk::Decompressor::decompress`), into a
//! caller's buffer (`decompress_into` against `decompress_to_buffer`) and streaming
//! (`io::Decoder` against `stream::read::Decoder`, both read in 128 KiB pieces). ruzstd joins the
//! allocating rows of the inputs under 40 MB, timed in rounds of its own: run between the other
//! two, its large buffers made the allocator return memory to the system on every free, so that
//! whichever decoder came next got fresh pages (a page fault per 4 KiB of its output) every round.
//! Prints MB/s (of decompressed output) and the ratio to libzstd with its run-to-run range.
//!
//! `cargo bench -p haagenti-tests --bench zstd_decode` (add `-- quick` for a short run).

use std::hint::black_box;
use std::io::Read;
use std::time::{Duration, Instant};

use haagenti_tests::{corpus, libzstd_compress, minilm_f32_and_bf16, read, x86_binary};

/// Times the decoders in alternating rounds for about `budget` (at least 7 rounds), so that the
/// machine's slow drifts hit all of them alike. Returns each one's median MB/s, and the median,
/// lowest and highest of the per-round ratios of the second's time to the first's (1 for one
/// decoder).
fn measure(bytes: usize, budget: Duration, fs: &mut [&mut dyn FnMut()]) -> (Vec<f64>, [f64; 3]) {
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
    let mut ratios: Vec<f64> = match &times[..] {
        [first, second, ..] => first.iter().zip(second).map(|(a, b)| b / a).collect(),
        _ => vec![1.0],
    };
    let ratio = median(&mut ratios);
    let range = [ratio, ratios[0], ratios[ratios.len() - 1]];
    (times.iter_mut().map(|t| bytes as f64 / median(t) / 1e6).collect(), range)
}

/// Reads `r` to its end in 128 KiB pieces; returns the bytes read.
fn drain(mut r: impl Read) -> usize {
    let mut buf = vec![0u8; 128 << 10];
    let mut total = 0;
    loop {
        match r.read(&mut buf).expect("decodes") {
            0 => return total,
            n => total += n,
        }
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let budget = Duration::from_millis(if quick { 300 } else { 2000 });
    let corpus = corpus();
    let (f32s, bf16s) = minilm_f32_and_bf16();
    // 33 MB of mixed real data: text, an executable, float weights.
    let mix = [&corpus[..], &x86_binary(), &f32s[..16 << 20], &bf16s[..12 << 20]].concat();
    // 139 MB: the corpus and the whole model in f32 and bf16.
    let all = [&corpus[..], &f32s, &bf16s].concat();
    drop((f32s, bf16s));
    let alice = read("corpus/alice29.txt");
    let cases: [(&str, &[u8], i32); 7] = [
        ("alice29.txt", &alice, 19),
        ("corpus", &corpus, 1),
        ("corpus", &corpus, 3),
        ("corpus", &corpus, 19),
        ("mix", &mix, 3),
        ("mix", &mix, 19),
        ("corpus + minilm f32 + bf16", &all, 3),
    ];
    println!("zstd decode, one thread, {}", haagenti_tests::bench_stamp());
    println!(
        "libzstd {} (zstd crate), ruzstd 0.9, haagenti-zstd {}",
        zstd::zstd_safe::version_string(),
        env!("CARGO_PKG_VERSION")
    );
    println!();
    println!("Speeds are medians; the last column is the median of per-round ratios, with the lowest and");
    println!("highest round in brackets (rounds alternate the decoders, so machine noise hits them alike).");
    println!();
    println!(
        "| input | level | size | ratio | call | haagenti MB/s | libzstd MB/s | ruzstd MB/s | haagenti / libzstd |"
    );
    println!("|---|---:|---:|---:|---|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    for (name, data, level) in cases {
        let frame = libzstd_compress(data, level, true);
        assert_eq!(haagenti_zstd::decompress(&frame).unwrap(), data, "{name}: ours disagrees");
        let mut ours = haagenti_zstd::Decompressor::new(Default::default());
        let mut dctx = zstd::bulk::Decompressor::new().unwrap();
        let (mut speeds, range) = measure(
            data.len(),
            budget,
            &mut [
                &mut || {
                    black_box(ours.decompress(black_box(&frame)).unwrap());
                },
                &mut || {
                    black_box(dctx.decompress(black_box(&frame), data.len()).unwrap());
                },
            ],
        );
        if data.len() < 40_000_000 {
            let (ruzstd, _) = measure(
                data.len(),
                budget,
                &mut [&mut || {
                    let mut out = Vec::with_capacity(data.len());
                    ruzstd::decoding::StreamingDecoder::new(black_box(&frame[..]))
                        .unwrap()
                        .read_to_end(&mut out)
                        .unwrap();
                    black_box(out);
                }],
            );
            speeds.push(ruzstd[0]);
        }
        let alloc = (speeds, range);
        // One buffer each, both written once before timing (the first call of `measure`).
        let (mut ours_buf, mut their_buf) = (vec![0u8; data.len()], vec![0u8; data.len()]);
        let into = measure(
            data.len(),
            budget,
            &mut [
                &mut || {
                    black_box(ours.decompress_into(black_box(&frame), &mut ours_buf).unwrap());
                },
                &mut || {
                    black_box(dctx.decompress_to_buffer(black_box(&frame), &mut their_buf).unwrap());
                },
            ],
        );
        drop((ours_buf, their_buf));
        let stream = measure(
            data.len(),
            budget,
            &mut [
                &mut || {
                    assert_eq!(drain(haagenti_zstd::io::Decoder::new(black_box(&frame[..]))), data.len());
                },
                &mut || {
                    assert_eq!(drain(zstd::stream::read::Decoder::new(black_box(&frame[..])).unwrap()), data.len());
                },
            ],
        );
        for (call, (speeds, [ratio, lo, hi])) in [("allocating", alloc), ("into buffer", into), ("stream", stream)] {
            ratios.push(ratio);
            let ruzstd = speeds.get(2).map_or("-".to_string(), |r| format!("{r:.0}"));
            println!(
                "| {name} | {level} | {:.1} MB | {:.2} | {call} | {:.0} | {:.0} | {ruzstd} | {ratio:.2} [{lo:.2}-{hi:.2}] |",
                data.len() as f64 / 1e6,
                data.len() as f64 / frame.len() as f64,
                speeds[0],
                speeds[1],
            );
        }
    }
    let geo = ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64;
    println!();
    println!("geometric mean haagenti / libzstd: {:.2}", geo.exp());
}
