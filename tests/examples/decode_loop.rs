//! Decodes one file (compressed by libzstd at a level) in a loop, for profilers:
//! `cargo run --release -p haagenti-tests --example decode_loop -- FILE LEVEL SECONDS [libzstd]`.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).expect("input file");
    let level: i32 = args.get(2).map_or(3, |l| l.parse().expect("level"));
    let seconds: f64 = args.get(3).map_or(5.0, |s| s.parse().expect("seconds"));
    let frame = haagenti_tests::libzstd_compress(&data, level, true);
    let reference = args.get(4).is_some_and(|a| a == "libzstd");
    let mut d = haagenti_zstd::Decompressor::new(Default::default());
    let mut z = zstd::bulk::Decompressor::new().expect("libzstd context");
    let start = std::time::Instant::now();
    let mut n = 0u64;
    // SECONDS = 0 decodes exactly once (for instruction counting under callgrind).
    while n == 0 || start.elapsed().as_secs_f64() < seconds {
        let out = if reference {
            z.decompress(&frame, data.len()).expect("decodes")
        } else {
            d.decompress(&frame).expect("decodes")
        };
        assert_eq!(out.len(), data.len(), "len");
        n += 1;
    }
    let mbps = (n as f64 * data.len() as f64) / start.elapsed().as_secs_f64() / 1e6;
    println!("{n} runs, {mbps:.0} MB/s");
}
