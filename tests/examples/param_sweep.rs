//! Parameter sweep for tuning the level table, against libzstd at the same level:
//! `param_sweep FILE LEVEL search_log,target_length,min_match,skip_shift,hash_log ...`
//! (leading fields only are fine).
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).expect("input");
    let level: i32 = args[2].parse().expect("level");
    let mut libzstd = zstd::bulk::Compressor::new(level).expect("libzstd");
    libzstd.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true)).expect("checksum flag");
    let theirs = libzstd.compress(&data).expect("libzstd").len();
    let best_of = |f: &mut dyn FnMut()| {
        (0..9)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min)
    };
    let t_theirs = best_of(&mut || {
        libzstd.compress(&data).expect("libzstd");
    });
    for s in &args[3..] {
        let mut p = haagenti_zstd::matching::LevelParams::for_level(level);
        let fields: Vec<u32> = s.split(',').map(|f| f.parse().expect("number")).collect();
        let field = |i: usize| fields.get(i).copied();
        p.search_log = field(0).map_or(p.search_log, |v| v as u8);
        p.target_length = field(1).unwrap_or(p.target_length);
        p.min_match = field(2).map_or(p.min_match, |v| v as u8);
        p.skip_shift = field(3).map_or(p.skip_shift, |v| v as u8);
        p.hash_log = field(4).map_or(p.hash_log, |v| v as u8);
        let c = haagenti_zstd::ZstdCompressor::with_params(p);
        let mut ours = 0;
        let t_ours = best_of(&mut || ours = c.compress(&data).len());
        println!("{s}: {ours} vs {theirs} = {:.4}, speed ratio {:.2}", ours as f64 / theirs as f64, t_theirs / t_ours);
    }
}
