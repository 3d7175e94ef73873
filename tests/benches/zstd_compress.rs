//! Compression: ours against libzstd (the `zstd` crate) on the real corpus at levels 1 to 22,
//! one thread, in one run. Prints both sizes and speeds and the ratios. Both write the same
//! frame options: content size and an XXH64 content checksum (the default of ours and of the
//! `zstd` command line). Also dictionary training, ours against libzstd's trainer.
//!
//! `cargo bench -p haagenti-tests --bench zstd_compress` (add `-- quick` for levels 1, 3, 19).

use std::time::Instant;

use haagenti_tests::{corpus, source_files, text_paragraphs, url_records};

/// Median seconds of `rounds` runs of each, alternating.
fn timed(rounds: usize, a: &mut dyn FnMut() -> usize, b: &mut dyn FnMut() -> usize) -> (usize, f64, usize, f64) {
    let (mut ta, mut tb, mut sa, mut sb) = (Vec::new(), Vec::new(), 0, 0);
    for _ in 0..rounds {
        let t = Instant::now();
        sa = a();
        ta.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        sb = b();
        tb.push(t.elapsed().as_secs_f64());
    }
    ta.sort_by(f64::total_cmp);
    tb.sort_by(f64::total_cmp);
    (sa, ta[rounds / 2], sb, tb[rounds / 2])
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let data = corpus();
    let levels: Vec<i32> = if quick { vec![1, 3, 19] } else { vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 19, 22] };
    println!(
        "zstd compression, one thread, {}, corpus {} bytes, libzstd {}",
        haagenti_tests::bench_stamp(),
        data.len(),
        zstd::zstd_safe::version_string()
    );
    println!();
    println!("| level | haagenti bytes | libzstd bytes | size ratio | haagenti MB/s | libzstd MB/s | speed ratio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for level in levels {
        let rounds = if level >= 16 {
            1
        } else if level >= 9 {
            3
        } else {
            5
        };
        let mut libzstd = zstd::bulk::Compressor::new(level).unwrap();
        libzstd.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true)).unwrap();
        let (ours, ts, theirs, tt) = timed(rounds, &mut || haagenti_zstd::compress(&data, level).len(), &mut || {
            libzstd.compress(&data).unwrap().len()
        });
        let mb = data.len() as f64 / 1e6;
        println!(
            "| {level} | {ours} | {theirs} | {:.3} | {:.1} | {:.1} | {:.2} |",
            ours as f64 / theirs as f64,
            mb / ts,
            mb / tt,
            tt / ts
        );
    }
    println!();
    println!("dictionary training (16 KiB), samples compressed by libzstd at level 3 with each dictionary");
    println!();
    println!(
        "| samples | count | bytes | ours: train s | libzstd: train s | total with ours | total with libzstd's | ours / libzstd | ours L3 without / with our dictionary |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, samples) in
        [("text paragraphs", text_paragraphs()), ("url records", url_records()), ("source files", source_files())]
    {
        let refs: Vec<&[u8]> = samples.iter().map(Vec::as_slice).collect();
        let t = Instant::now();
        let ours = haagenti_zstd::ZstdDict::train(&refs, 16 * 1024).expect("trains").to_bytes();
        let ours_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let theirs = zstd::dict::from_samples(&samples, 16 * 1024).expect("libzstd trains");
        let theirs_s = t.elapsed().as_secs_f64();
        let total = |dict: &[u8]| -> usize {
            let mut c = zstd::bulk::Compressor::with_dictionary(3, dict).unwrap();
            samples.iter().map(|s| c.compress(s).unwrap().len()).sum()
        };
        let (a, b) = (total(&ours), total(&theirs));
        let bytes: usize = samples.iter().map(Vec::len).sum();
        // Our compressor alone, without and with our dictionary, as shares of the raw bytes.
        let dict = haagenti_zstd::ZstdDict::from_bytes(&ours).expect("ours reads back");
        let plain: usize = samples.iter().map(|s| haagenti_zstd::compress(s, 3).len()).sum();
        let with: usize = samples.iter().map(|s| haagenti_zstd::ZstdDictCompressor::new(&dict).compress(s).len()).sum();
        let share = |n: usize| 100.0 * n as f64 / bytes as f64;
        println!(
            "| {name} | {} | {bytes} | {ours_s:.2} | {theirs_s:.2} | {a} | {b} | {:.3} | {:.0}% / {:.0}% |",
            samples.len(),
            a as f64 / b as f64,
            share(plain),
            share(with)
        );
    }
}
