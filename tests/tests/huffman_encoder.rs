//! The public Huffman encoder: its codes, description and streams decode with our Huffman
//! decoder (itself checked against libzstd's output by the vector and differential tests).

use haagenti_zstd::huff0::{HuffmanEncoder, HuffmanError, HuffmanTable};
use proptest::prelude::*;

fn histogram(data: &[u8]) -> Vec<u32> {
    let mut freqs = vec![0u32; 256];
    for &b in data {
        freqs[usize::from(b)] += 1;
    }
    freqs
}

fn round_trip(data: &[u8], max_bits: u8) -> Result<(usize, usize), HuffmanError> {
    let enc = HuffmanEncoder::from_frequencies(&histogram(data), max_bits)?;
    assert!(enc.max_bits() <= max_bits);
    let description = enc.description()?;
    let (table, used) = HuffmanTable::read(&description).expect("our description reads back");
    assert_eq!(used, description.len());
    let one = enc.encode_1(data);
    let mut out = vec![0u8; data.len()];
    table.decode_1(&one, &mut out).expect("1-stream decodes");
    assert!(out == data, "1-stream differs");
    if data.len() >= 16 {
        let four = enc.encode_4(data)?;
        out.fill(0);
        table.decode_4(&four, &mut out).expect("4-stream decodes");
        assert!(out == data, "4-stream differs");
    }
    Ok((one.len(), description.len()))
}

#[test]
fn real_text_is_coded_near_its_entropy() {
    // Plain English uses fewer than 128 distinct bytes, so direct weights suffice.
    let text = haagenti_tests::read("corpus/alice29.txt");
    let freqs = histogram(&text);
    let n = text.len() as f64;
    let entropy_bits: f64 = freqs.iter().filter(|&&f| f > 0).map(|&f| -(f as f64) * (f as f64 / n).log2()).sum();
    let (stream, _) = round_trip(&text, 11).unwrap();
    let ratio = stream as f64 * 8.0 / entropy_bits;
    assert!(ratio < 1.02, "Huffman output is {ratio:.4}x the order-0 entropy");
    // Tighter length limits still give complete, decodable codes.
    for max_bits in [7, 8, 9] {
        round_trip(&text, max_bits).unwrap();
    }
}

#[test]
fn limits_are_reported() {
    assert_eq!(HuffmanEncoder::from_frequencies(&[5], 11), Err(HuffmanError::TooFewSymbols));
    assert_eq!(HuffmanEncoder::from_frequencies(&[1, 1], 12), Err(HuffmanError::BadMaxBits(12)));
}

/// Binary data (all 256 byte values) needs FSE-compressed weights.
#[test]
fn full_byte_alphabets_use_compressed_weights() {
    let (f32s, bf16s) = haagenti_tests::minilm_f32_and_bf16();
    // Block-sized pieces: a 4-stream block's streams must each fit 64 KiB.
    for data in [&f32s[..100_000], &bf16s[..100_000], &haagenti_tests::x86_binary()[..100_000]] {
        let enc = HuffmanEncoder::from_frequencies(&histogram(data), 11).unwrap();
        let description = enc.description().unwrap();
        assert!(description[0] < 128, "expected the FSE-compressed form");
        round_trip(data, 11).unwrap();
    }
    // Every byte equally often: 255 equal weights, which no description form can carry (the
    // reference stores such literals raw).
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(round_trip(&all.repeat(3), 11), Err(HuffmanError::WeightsNeedCompression));
}

proptest! {
    #[test]
    fn any_alphabet_round_trips(data in proptest::collection::vec(any::<u8>(), 2..5000), max_bits in 8u8..=11) {
        let distinct = data.iter().collect::<std::collections::HashSet<_>>().len();
        let last = data.iter().max().copied().unwrap_or(0);
        match round_trip(&data, max_bits) {
            Ok(_) => prop_assert!(distinct >= 2),
            Err(HuffmanError::TooFewSymbols) => prop_assert!(distinct < 2),
            // Past 128 weights only the FSE-compressed form exists, and near-uniform weights
            // do not fit it.
            Err(HuffmanError::WeightsNeedCompression) => prop_assert!(last > 128),
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    #[test]
    fn skewed_frequencies_respect_the_length_limit(exp in proptest::collection::vec(0u32..30, 2..60)) {
        // Fibonacci-like skew forces plain Huffman past any limit; the limiter must cope.
        let freqs: Vec<u32> = exp.iter().map(|&e| 1u32 << (e % 30)).collect();
        let enc = HuffmanEncoder::from_frequencies(&freqs, 8).unwrap();
        prop_assert!(enc.max_bits() <= 8);
        let (table, _) = HuffmanTable::read(&enc.description().unwrap()).unwrap();
        prop_assert!(table.max_bits() <= 8);
    }
}
