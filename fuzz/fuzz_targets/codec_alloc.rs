//! Allocation bombs for every codec: any bytes, decoded as each format with a 1 MiB output
//! limit, never hold more heap than the bound `haagenti_codec::Limits` documents: three times
//! the output limit (a growing output and its copy while it moves) plus what the format's
//! header may claim for its window: 1 MiB for zstd's tables and deflate, 9 MiB for LZ4 frames
//! (4 MiB blocks, read and decoded), 17 MiB for brotli (its 16 MiB ring buffer); an LZ4 block
//! is allocated once, at most 255 bytes a byte of input. The zstd streaming reader is held to
//! twice its window limit plus 4 MiB (an RLE block may be 2 MiB).
//!
//!   RUSTC_BOOTSTRAP=1 cargo fuzz run -s none codec_alloc -- -rss_limit_mb=512 -max_len=8192
#![no_main]

use haagenti_codec::{Codec, Format, Limits};
use libfuzzer_sys::fuzz_target;

include!("../src/counting.rs");

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const LIMIT: usize = 1 << 20;
const MIB: usize = 1 << 20;

fn bound(format: Format, input: usize) -> usize {
    match format {
        Format::Lz4Block => (255 * input + 64).min(LIMIT) + 64 * 1024,
        Format::Lz4 => 3 * LIMIT + 9 * MIB,
        Format::Brotli => 3 * LIMIT + 17 * MIB,
        _ => 3 * LIMIT + MIB,
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_output: LIMIT as u64 };
    for format in Format::ALL {
        let (result, peak) = peak_during(|| format.codec().decompress_with(data, &limits));
        if let Ok(out) = &result {
            assert!(out.len() <= LIMIT, "{format}: {} bytes past the limit", out.len());
        }
        assert!(peak <= bound(format, data.len()), "{format}: {peak} bytes held for {} bytes of input", data.len());
    }
    // Streaming zstd (`io::Decoder`, as the CLI reads): memory follows the window, not the
    // output, however far the input expands.
    let window: usize = 1 << 20;
    // The output is capped only so that a run stays short (8 KiB of RLE blocks can make 4 GiB).
    let config = haagenti_zstd::DecoderConfig { max_output_size: 64 << 20, max_window_size: window as u64 };
    let (_, peak) = peak_during(|| {
        let mut decoder = haagenti_zstd::io::Decoder::with_config(data, config, None);
        let mut buf = vec![0; 64 * 1024];
        while let Ok(n) = std::io::Read::read(&mut decoder, &mut buf) {
            if n == 0 {
                break;
            }
        }
    });
    let stream_bound = 2 * window + 4 * MIB;
    assert!(peak <= stream_bound, "zstd stream: {peak} bytes held for {} bytes of input", data.len());
});
