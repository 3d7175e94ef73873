//! Reads every tensor of an HCT file, for profilers:
//! `cargo run --release -p haagenti-tests --example hct_read -- FILE.hct [rounds]`
//! (`-- pack IN.safetensors OUT.hct` writes one first).
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args[1] == "pack" {
        let src = std::fs::read(&args[2]).expect("input");
        let out = haagenti_hct::safetensors::pack(&src, haagenti_hct::WriterOptions::default()).expect("pack");
        std::fs::write(&args[3], out).expect("write");
        return;
    }
    let file = std::fs::read(&args[1]).expect("input");
    let rounds: usize = args.get(2).map_or(1, |r| r.parse().expect("rounds"));
    let r = haagenti_hct::HctReaderV2::open(&file[..]).expect("open");
    let mut total = 0;
    for _ in 0..rounds {
        for t in r.tensors() {
            total += r.read_tensor(&t.name).expect("read").len();
        }
    }
    println!("{total} bytes");
}
