//! Dictionary training, ours against libzstd's (`ZDICT_trainFromBuffer`, what `zstd --train`
//! runs): training time, and the samples' total size compressed by libzstd at level 3 with
//! each dictionary: `cargo run --release -p haagenti-tests --example train_compare`.
use std::time::Instant;

fn main() {
    let sets = [
        ("text paragraphs", haagenti_tests::text_paragraphs()),
        ("url records", haagenti_tests::url_records()),
        ("source files", haagenti_tests::source_files()),
    ];
    println!(
        "| samples | count | bytes | dict size | ours: train s | libzstd: train s | total with ours | total with libzstd's | ours / libzstd |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, samples) in sets {
        for max in [16 * 1024usize, 64 * 1024] {
            let refs: Vec<&[u8]> = samples.iter().map(Vec::as_slice).collect();
            let t = Instant::now();
            let ours = haagenti_zstd::ZstdDict::train(&refs, max).expect("trains").to_bytes();
            let ours_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let theirs = zstd::dict::from_samples(&samples, max).expect("libzstd trains");
            let theirs_s = t.elapsed().as_secs_f64();
            let total = |dict: &[u8]| -> usize {
                let mut c = zstd::bulk::Compressor::with_dictionary(3, dict).unwrap();
                samples.iter().map(|s| c.compress(s).unwrap().len()).sum()
            };
            let (a, b) = (total(&ours), total(&theirs));
            let bytes: usize = samples.iter().map(Vec::len).sum();
            println!(
                "| {name} | {} | {bytes} | {max} | {ours_s:.2} | {theirs_s:.2} | {a} | {b} | {:.3} |",
                samples.len(),
                a as f64 / b as f64
            );
        }
    }
}
