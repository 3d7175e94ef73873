//! Differential tests: libzstd (the reference, through the `zstd` crate) compresses real data in
//! many configurations; our decoder must reproduce every input exactly.

use std::io::Read;

use haagenti_tests::{incompressible, libzstd_compress, minilm_f32_and_bf16, read, real_inputs};
use haagenti_zstd::{DecoderConfig, Decompressor, Dictionary, decompress};
use proptest::prelude::*;

fn check(name: &str, data: &[u8], frame: &[u8]) {
    let ours = decompress(frame).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(ours.len() == data.len() && ours == data, "{name}: output differs");
}

#[test]
fn real_data_at_reference_levels() {
    let inputs = real_inputs(4 << 20);
    for level in [-5, 1, 3, 9] {
        for (name, data) in &inputs {
            for checksum in [false, true] {
                check(
                    &format!("{name} level {level} checksum {checksum}"),
                    data,
                    &libzstd_compress(data, level, checksum),
                );
            }
        }
    }
}

#[test]
fn real_data_at_high_levels() {
    let inputs = real_inputs(1 << 20);
    for level in [19, 22] {
        for (i, (name, data)) in inputs.iter().enumerate() {
            let checksum = i % 2 == 0;
            check(&format!("{name} level {level}"), data, &libzstd_compress(data, level, checksum));
        }
    }
}

#[test]
fn long_window_27() {
    let (f32s, _) = minilm_f32_and_bf16();
    // Repeat a 24 MiB stretch after the whole model so matches reach back ~90 MiB.
    let mut data = f32s.clone();
    data.extend_from_slice(&f32s[..24 << 20]);
    let mut c = zstd::bulk::Compressor::new(3).unwrap();
    c.set_parameter(zstd::zstd_safe::CParameter::WindowLog(27)).unwrap();
    c.set_parameter(zstd::zstd_safe::CParameter::EnableLongDistanceMatching(true)).unwrap();
    c.include_checksum(true).unwrap();
    let frame = c.compress(&data).unwrap();
    assert!(frame.len() < f32s.len(), "long-distance matching found nothing to reuse");
    check("minilm + repeat, window log 27", &data, &frame);
    let tight = DecoderConfig { max_window_size: 1 << 26, ..Default::default() };
    assert!(Decompressor::new(tight).decompress(&frame).is_err(), "window limit ignored");
}

fn samples() -> Vec<Vec<u8>> {
    haagenti_tests::text_paragraphs()
}

#[test]
fn trained_dictionary_from_libzstd() {
    let samples = samples();
    assert!(samples.len() > 100, "{} samples", samples.len());
    let dict_bytes = zstd::dict::from_samples(&samples, 16 * 1024).unwrap();
    let dict = Dictionary::from_bytes(&dict_bytes).unwrap();
    assert_ne!(dict.id(), 0);
    for level in [1, 3, 19] {
        let mut c = zstd::bulk::Compressor::with_dictionary(level, &dict_bytes).unwrap();
        c.include_checksum(true).unwrap();
        let mut ours = Decompressor::with_dictionary(DecoderConfig::default(), dict.clone());
        for (i, s) in samples.iter().enumerate() {
            let frame = c.compress(s).unwrap();
            let out = ours.decompress(&frame).unwrap_or_else(|e| panic!("sample {i} level {level}: {e}"));
            assert!(out == *s, "sample {i} level {level}");
        }
    }
    // Without the dictionary the frames are refused, not mis-decoded.
    let frame = zstd::bulk::Compressor::with_dictionary(3, &dict_bytes).unwrap().compress(&samples[0]).unwrap();
    assert!(decompress(&frame).is_err());
}

#[test]
fn raw_content_dictionary() {
    let raw = read("corpus/lcet10.txt")[..64 * 1024].to_vec();
    let dict = Dictionary::raw(&raw);
    let text = read("corpus/lcet10.txt");
    for level in [1, 3, 19] {
        let mut c = zstd::bulk::Compressor::with_dictionary(level, &raw).unwrap();
        for piece in text.chunks(10_000).take(30) {
            let frame = c.compress(piece).unwrap();
            let out = Decompressor::with_dictionary(DecoderConfig::default(), dict.clone()).decompress(&frame).unwrap();
            assert!(out == piece, "level {level}");
        }
    }
}

#[test]
fn golden_dictionary_with_missing_symbols() {
    let dict_bytes = read("zstd/golden-dictionaries/http-dict-missing-symbols");
    let input = read("zstd/golden-compression/http");
    let dict = Dictionary::from_bytes(&dict_bytes).unwrap();
    for level in [1, 3, 9, 19] {
        let frame = zstd::bulk::Compressor::with_dictionary(level, &dict_bytes).unwrap().compress(&input).unwrap();
        let out = Decompressor::with_dictionary(DecoderConfig::default(), dict.clone()).decompress(&frame).unwrap();
        assert_eq!(out, input, "level {level}");
    }
}

#[test]
fn io_read_adapter_matches() {
    let data = read("corpus/kppkn.gtb");
    let frame = libzstd_compress(&data, 5, true);
    let mut out = Vec::new();
    haagenti_zstd::io::Decoder::new(&frame[..]).read_to_end(&mut out).unwrap();
    assert!(out == data);
    let mut cut = haagenti_zstd::io::Decoder::new(&frame[..frame.len() - 3]);
    assert!(cut.read_to_end(&mut Vec::new()).is_err(), "truncated stream accepted");
}

fn inputs() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        any::<u8>().prop_map(|b| vec![b]),
        (any::<u8>(), 1usize..300_000).prop_map(|(b, n)| vec![b; n]),
        proptest::collection::vec(any::<u8>(), 0..70_000),
        (proptest::collection::vec(any::<u8>(), 1..64), 1usize..5000).prop_map(|(p, n)| p.repeat(n)),
        (any::<u64>(), 0usize..200_000).prop_map(|(seed, n)| {
            // Mixed: text-like runs, random bytes and repeats.
            let noise = incompressible(n, seed);
            noise
                .chunks(997)
                .enumerate()
                .flat_map(
                    |(i, c)| if i % 3 == 0 { c.to_vec() } else { b"the quick brown fox ".repeat(c.len() / 20 + 1) },
                )
                .collect()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    #[test]
    fn libzstd_output_of_generated_inputs(data in inputs(), level in -5i32..=19, checksum in any::<bool>()) {
        let frame = libzstd_compress(&data, level, checksum);
        prop_assert_eq!(decompress(&frame).unwrap(), data);
    }
}
