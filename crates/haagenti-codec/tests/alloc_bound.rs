//! Forged headers must not buy memory: a few input bytes that declare a huge output are refused
//! before the decoder allocates for them. One test function, so no other test allocates while
//! the peak is measured.

use haagenti_codec::{Codec, Format};

include!("../../../fuzz/src/counting.rs");

#[global_allocator]
static ALLOC: Counting = Counting;

/// The most a decode may allocate beyond what it held before.
const BOUND: usize = 4 << 20;

#[test]
fn forged_sizes_are_refused_without_allocating_them() {
    let cases: [(&str, Format, Vec<u8>); 3] = [
        // An LZ4 block that declares 1 GiB and holds one empty sequence.
        ("lz4 block", Format::Lz4Block, vec![0xff, 0xff, 0xff, 0x3f, 0x00]),
        // A zstd frame declaring a 1 GiB content size (8-byte field) with one truncated block.
        (
            "zstd frame",
            Format::Zstd,
            [&[0x28, 0xb5, 0x2f, 0xfd, 0xc4, 0x50][..], &(1u64 << 30).to_le_bytes(), &[0x05, 0x00, 0x00]].concat(),
        ),
        // An LZ4 frame declaring a 1 GiB content size, no blocks.
        (
            "lz4 frame",
            Format::Lz4,
            [&[0x04, 0x22, 0x4d, 0x18, 0x6c, 0x70][..], &(1u64 << 30).to_le_bytes(), &[0x00]].concat(),
        ),
    ];
    for (name, format, input) in cases {
        let (result, peak) = peak_during(|| format.codec().decompress(&input));
        assert!(result.is_err(), "{name}: forged input decoded to {} bytes", result.unwrap().len());
        assert!(peak <= BOUND, "{name}: {peak} bytes allocated for a {}-byte input", input.len());
    }
}

#[test]
fn lz4_blocks_up_to_their_expansion_bound_still_decode() {
    // Long runs compress near LZ4's 255:1 ceiling and must not trip the size check.
    for len in [0usize, 1, 100, 65_536, 1 << 20] {
        let data = vec![7u8; len];
        let packed = Format::Lz4Block.codec().compress(&data).unwrap();
        assert_eq!(Format::Lz4Block.codec().decompress(&packed).unwrap(), data, "{len} bytes");
    }
}
