//! Decode speed of one NCT file on one thread: `cargo run --release -p haagenti-nct --example
//! nct_decode_bench -- FILE.nct [RUNS]` (FILE made by `haagenti nct encode`), every stage of
//! every tensor through `decode_tensor_into`, one warm-up pass then the median of RUNS passes
//! (GB/s of f32 output) with the range.
use haagenti_nct::NctFile;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: nct_decode_bench FILE.nct [RUNS]");
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let bytes = std::fs::read(&path).expect("read the file");
    let file = NctFile::parse(&bytes).expect("an NCT file");
    let names: Vec<(String, usize)> =
        file.tensors().iter().map(|t| (t.name().to_string(), t.numel() as usize)).collect();
    let mut outs: Vec<Vec<f32>> = names.iter().map(|(_, n)| vec![0f32; *n]).collect();
    let total: usize = names.iter().map(|(_, n)| n * 4).sum();
    let mut pass = || {
        let t = Instant::now();
        for ((name, _), out) in names.iter().zip(&mut outs) {
            file.decode_tensor_into(name, file.stages(), out).expect("decodes");
        }
        total as f64 / t.elapsed().as_secs_f64() / 1e9
    };
    pass();
    let mut gbs: Vec<f64> = (0..runs).map(|_| pass()).collect();
    gbs.sort_by(f64::total_cmp);
    println!(
        "{path}: {} stages, {:.1} MB of f32: {:.3} GB/s (median of {runs}; {:.3} to {:.3})",
        file.stages(),
        total as f64 / 1e6,
        gbs[runs / 2],
        gbs[0],
        gbs[runs - 1]
    );
}
