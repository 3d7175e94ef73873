//! Writes the seed inputs of the `holo_fragments` fuzz target (fuzz/seeds/holo_fragments): for
//! a small image and a small tensor, each encoding's first fragment alone (`*-0`) and all its
//! fragments joined by 0xFF (the target's separator).
//!
//! `cargo run -p haagenti-tests --example holo_seeds -- fuzz/seeds/holo_fragments`

use haagenti_hct::DType;
use haagenti_holo::{Asset, EncodeOptions, Encoding, encode};

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("the seed folder"));
    std::fs::create_dir_all(&dir).expect("seed folder");
    let pixels: Vec<u8> = (0..24 * 16 * 3).map(|i| ((i * 7) % 251) as u8).collect();
    let values: Vec<u8> = (0..200).flat_map(|i| ((i as f32 * 0.37).sin() * 0.1).to_le_bytes()).collect();
    let assets = [
        ("img", Asset::image(24, 16, 3, pixels).expect("image")),
        ("t", Asset::tensor(DType::F32, vec![10, 20], values).expect("tensor")),
    ];
    for (prefix, asset) in &assets {
        for (e, n) in
            [(Encoding::Spectral, 3), (Encoding::RandomProjection, 3), (Encoding::LowRank, 3), (Encoding::Residual, 3)]
        {
            let enc = encode(
                asset,
                &EncodeOptions { encoding: e, fragments: n, quality: 50.0, rank: 2, ..Default::default() },
            )
            .expect("encodable");
            let name = format!("{prefix}-{}", e.name());
            std::fs::write(dir.join(format!("{name}-0")), &enc.fragments[0]).expect("write");
            std::fs::write(dir.join(&name), enc.fragments.join(&0xFF)).expect("write");
        }
    }
}
