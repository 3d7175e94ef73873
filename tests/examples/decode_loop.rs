//! Decodes one file (compressed by libzstd at a level) in a loop, for profilers:
//! `cargo run --release -p haagenti-tests --example decode_loop -- FILE LEVEL SECONDS [CALL]`.
//!
//! FILE `corpus` is the bench corpus (all of tests/data/corpus, concatenated); a FILE ending in
//! `.zst` is taken as the frame itself (so that callgrind need not run the compressor). CALL is
//! `alloc` (default: `Decompressor::decompress`), `into` (`decompress_into` a buffer made once),
//! `libzstd` or `libzstd-into`, the reference decoder's same two calls.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let level: i32 = args.get(2).map_or(3, |l| l.parse().expect("level"));
    let seconds: f64 = args.get(3).map_or(5.0, |s| s.parse().expect("seconds"));
    let call = args.get(4).map_or("alloc", String::as_str);
    let (data, frame) = if args[1].ends_with(".zst") {
        let frame = std::fs::read(&args[1]).expect("input file");
        (zstd::stream::decode_all(&frame[..]).expect("a zstd frame"), frame)
    } else {
        let data =
            if args[1] == "corpus" { haagenti_tests::corpus() } else { std::fs::read(&args[1]).expect("input file") };
        let frame = haagenti_tests::libzstd_compress(&data, level, true);
        (data, frame)
    };
    let mut d = haagenti_zstd::Decompressor::new(Default::default());
    let mut z = zstd::bulk::Decompressor::new().expect("libzstd context");
    let mut buf = vec![0u8; data.len()];
    let start = std::time::Instant::now();
    let mut n = 0u64;
    // SECONDS = 0 decodes exactly once (for instruction counting under callgrind).
    while n == 0 || start.elapsed().as_secs_f64() < seconds {
        let len = match call {
            "alloc" => d.decompress(&frame).expect("decodes").len(),
            "into" => d.decompress_into(&frame, &mut buf).expect("decodes"),
            "libzstd" => z.decompress(&frame, data.len()).expect("decodes").len(),
            "libzstd-into" => z.decompress_to_buffer(&frame, &mut buf).expect("decodes"),
            other => panic!("unknown call {other}"),
        };
        assert_eq!(len, data.len(), "len");
        n += 1;
    }
    let mbps = (n as f64 * data.len() as f64) / start.elapsed().as_secs_f64() / 1e6;
    println!("{n} runs, {mbps:.0} MB/s");
}
