//! Compresses one file with ours and libzstd at the given levels; prints sizes, speeds and
//! ratios, and checks that libzstd decodes our frames:
//! `cargo run --release -p haagenti-tests --example compress_levels -- FILE [LEVEL...]`.

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).expect("input file");
    let levels: Vec<i32> = if args.len() > 2 {
        args[2..].iter().map(|l| l.parse().expect("level")).collect()
    } else {
        vec![1, 3, 6, 9, 12, 16, 19, 22]
    };
    println!("| level | haagenti bytes | libzstd bytes | size ratio | haagenti MB/s | libzstd MB/s | speed ratio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for level in levels {
        let t = Instant::now();
        let ours = haagenti_zstd::compress(&data, level);
        let ours_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let theirs = zstd::bulk::compress(&data, level).expect("libzstd");
        let theirs_s = t.elapsed().as_secs_f64();
        let back = zstd::bulk::decompress(&ours, data.len()).expect("libzstd decodes ours");
        assert!(back == data, "level {level}: libzstd decodes something else");
        let mb = data.len() as f64 / 1e6;
        println!(
            "| {level} | {} | {} | {:.3} | {:.1} | {:.1} | {:.2} |",
            ours.len(),
            theirs.len(),
            ours.len() as f64 / theirs.len() as f64,
            mb / ours_s,
            mb / theirs_s,
            theirs_s / ours_s
        );
    }
}
