//! Parameter sweep for tuning levels: `param_sweep FILE LEVEL search_log...`.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).expect("input");
    let level: i32 = args[2].parse().expect("level");
    let theirs = zstd::bulk::compress(&data, level).expect("libzstd").len();
    for s in &args[3..] {
        let mut p = haagenti_zstd::matching::LevelParams::for_level(level);
        let mut parts = s.split(',');
        p.search_log = parts.next().unwrap().parse().unwrap();
        if let Some(t) = parts.next() {
            p.target_length = t.parse().unwrap();
        }
        if let Some(m) = parts.next() {
            p.min_match = m.parse().unwrap();
        }
        let t = std::time::Instant::now();
        let ours = haagenti_zstd::ZstdCompressor::with_params(p).compress(&data).len();
        println!(
            "search {s}: {ours} vs {theirs} = {:.4}  {:.2}s",
            ours as f64 / theirs as f64,
            t.elapsed().as_secs_f64()
        );
    }
}
