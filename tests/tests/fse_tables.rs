//! The public FSE table API: normalization, serialization and reading, checked against the
//! table descriptions libzstd writes.

use haagenti_zstd::fse::{FseEncoder, FseTable, TableLog};
use haagenti_zstd::huff0::HuffmanTable;
use proptest::prelude::*;

/// libzstd's trainer writes three FSE table descriptions (offsets, match lengths, literal
/// lengths) into every formatted dictionary; reading and re-serializing each must give back the
/// same bytes.
#[test]
fn serialize_reproduces_libzstd_table_descriptions() {
    let text = haagenti_tests::read("corpus/lcet10.txt");
    for (size, max_dict) in [(300, 4096), (1000, 16 * 1024), (3000, 32 * 1024)] {
        let samples: Vec<&[u8]> = text.chunks(size).collect();
        let dict = zstd::dict::from_samples(&samples, max_dict).unwrap();
        let mut pos = 8;
        let (_, used) = HuffmanTable::read(&dict[pos..]).unwrap();
        pos += used;
        for (max_log, max_symbol) in [(8, 31), (9, 52), (9, 35)] {
            let (table, used) = FseTable::deserialize(&dict[pos..], max_log, max_symbol).unwrap();
            assert_eq!(table.serialize(), dict[pos..pos + used], "samples of {size}: table at byte {pos}");
            pos += used;
        }
    }
}

#[test]
fn normalization_keeps_every_symbol_and_fills_the_table() {
    let t = FseTable::from_frequencies(&[1_000_000, 1, 0, 1, 7], TableLog::new(5).unwrap()).unwrap();
    let counts = &t.distribution().counts;
    assert_eq!(counts.len(), 5);
    assert!(counts[1] != 0 && counts[3] != 0 && counts[4] != 0 && counts[2] == 0);
    assert_eq!(counts.iter().map(|&c| i32::from(c.abs())).sum::<i32>(), 32);
    assert!(FseTable::from_frequencies(&[0, 0], TableLog::new(5).unwrap()).is_err());
    assert!(FseTable::from_frequencies(&[1; 40], TableLog::new(5).unwrap()).is_err());
    assert!(TableLog::new(4).is_none() && TableLog::new(16).is_none());
}

proptest! {
    #[test]
    fn any_frequencies_round_trip(freqs in proptest::collection::vec(0u32..5000, 1..256), log in 5u8..=12) {
        let present = freqs.iter().filter(|&&f| f > 0).count();
        let result = FseTable::from_frequencies(&freqs, TableLog::new(log).unwrap());
        if present == 0 || present > 1 << log {
            prop_assert!(result.is_err());
        } else {
            let table = result.unwrap();
            let sum: i32 = table.distribution().counts.iter().map(|&c| i32::from(c.abs())).sum();
            prop_assert_eq!(sum, 1 << log);
            for (s, &f) in freqs.iter().enumerate() {
                prop_assert_eq!(f > 0, table.distribution().counts.get(s).is_some_and(|&c| c != 0));
            }
            let bytes = table.serialize();
            let (back, used) = FseTable::deserialize(&bytes, 15, 255).unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(&back, &table);
            prop_assert_eq!(table.decoding_table().entries.len(), 1 << log);
        }
    }
}

fn histogram(data: &[u8]) -> Vec<u32> {
    let mut freqs = vec![0u32; 256];
    for &b in data {
        freqs[usize::from(b)] += 1;
    }
    freqs
}

/// Real text through our FSE encoder and decoder: exact, and close to the order-0 entropy.
#[test]
fn encoder_round_trips_real_text_near_entropy() {
    let text = haagenti_tests::read("corpus/alice29.txt");
    let freqs = histogram(&text);
    let table = FseTable::from_frequencies(&freqs, TableLog::new(11).unwrap()).unwrap();
    let stream = FseEncoder::new(&table).encode(&text).unwrap();
    assert_eq!(table.decode(&stream, text.len()).unwrap(), text);
    let n = text.len() as f64;
    let entropy_bits: f64 = freqs.iter().filter(|&&f| f > 0).map(|&f| -(f as f64) * (f as f64 / n).log2()).sum();
    let ratio = stream.len() as f64 * 8.0 / entropy_bits;
    assert!(ratio < 1.01, "FSE output is {ratio:.4}x the order-0 entropy");
    // A symbol the table does not know cannot be encoded.
    assert!(FseEncoder::new(&table).encode(&[0]).is_none());
}

proptest! {
    #[test]
    fn encoder_round_trips(data in proptest::collection::vec(0u8..40, 1..3000), log in 6u8..=11) {
        let table = FseTable::from_frequencies(&histogram(&data), TableLog::new(log).unwrap()).unwrap();
        let stream = FseEncoder::new(&table).encode(&data).unwrap();
        prop_assert_eq!(table.decode(&stream, data.len()).unwrap(), data);
    }
}
