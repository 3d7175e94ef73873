//! Any bytes as HoloTensor fragments (the input cut at 0xFF 0x00 0xFF markers), pushed into one
//! decoder and into a streaming decoder: verification never panics, and reconstruction from
//! whatever was accepted never panics either. Each part is also pushed with a valid checksum
//! appended, so mutations reach the header and payload checks behind it. The manifest reader
//! gets the bytes as JSON too.
#![no_main]

use haagenti_holo::{HoloDecoder, Manifest, PreviewConfig, StreamingDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut d = HoloDecoder::new();
    let mut s = StreamingDecoder::with_preview(PreviewConfig { max_preview_resolution: 64, ..Default::default() });
    for (i, part) in data.split(|&b| b == 0xFF).enumerate() {
        let _ = d.push(part);
        let _ = s.push(part, i as u64);
        // The same bytes with their checksum made valid (the last 32 bytes replaced).
        if part.len() > 32 {
            let mut f = part[..part.len() - 32].to_vec();
            let sum = blake3::hash(&f);
            f.extend_from_slice(sum.as_bytes());
            let _ = d.push(&f);
            let _ = s.push(&f, i as u64);
        }
    }
    let _ = d.reconstruct();
    if let Ok(text) = core::str::from_utf8(data) {
        let _ = Manifest::from_json(text);
    }
});
