//! Compresses one file at a level, once, with ours or libzstd, for profilers:
//! `cargo run --release -p haagenti-tests --example compress_loop -- FILE LEVEL [libzstd]`.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).expect("input file");
    let level: i32 = args.get(2).map_or(3, |l| l.parse().expect("level"));
    let n = if args.get(3).is_some_and(|a| a == "libzstd") {
        zstd::bulk::compress(&data, level).expect("libzstd").len()
    } else {
        haagenti_zstd::compress(&data, level).len()
    };
    println!("{n} bytes");
}
