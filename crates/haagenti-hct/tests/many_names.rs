//! Files of hundreds of thousands of names: duplicate names and keys are still refused with a
//! clear error (the checks sort the names; comparing every pair froze on a million names).

use haagenti_hct::{BlockCodec, DType, HctError, HctReaderV2, HctWriterV2, WriterOptions, safetensors};
use xxhash_rust::xxh3::xxh3_64;

const N: usize = 200_000;

fn name(i: usize) -> String {
    format!("layer.{i:06}")
}

/// `N` one-byte tensors and 1000 metadata entries, stored uncompressed.
fn many_tensors() -> Vec<u8> {
    let mut w = HctWriterV2::new(WriterOptions { codec: BlockCodec::Store, ..WriterOptions::default() });
    for i in 0..1000 {
        w.set_metadata(&format!("key.{i:06}"), b"v");
    }
    for i in 0..N {
        w.add_tensor(&name(i), DType::U8, &[1], &[i as u8]).unwrap();
    }
    w.finish()
}

/// `file` with the last occurrence of `from` in its index replaced by `to` (of the same
/// length), both checksums fixed.
fn rename(file: &[u8], from: &str, to: &str) -> Vec<u8> {
    let index_offset = u64::from_le_bytes(file[8..16].try_into().unwrap()) as usize;
    let at = file[index_offset..].windows(from.len()).rposition(|w| w == from.as_bytes()).unwrap() + index_offset;
    let mut out = file.to_vec();
    out[at..at + to.len()].copy_from_slice(to.as_bytes());
    let sum = xxh3_64(&out[index_offset..]);
    out[24..32].copy_from_slice(&sum.to_le_bytes());
    let sum = xxh3_64(&out[..32]);
    out[32..40].copy_from_slice(&sum.to_le_bytes());
    out
}

#[test]
fn two_hundred_thousand_names_open_and_duplicates_among_them_are_refused() {
    let file = many_tensors();
    let r = HctReaderV2::open(&file[..]).unwrap();
    assert_eq!(r.tensors().len(), N);
    for i in [0, 1, N / 2, N - 1] {
        assert_eq!(r.read_tensor(&name(i)).unwrap(), [i as u8]);
    }
    assert_eq!(r.metadata_value("key.000999"), Some(&b"v"[..]));
    assert!(r.tensor("layer.x").is_err());

    let dup = rename(&file, &name(N - 1), &name(0));
    assert_eq!(HctReaderV2::open(&dup[..]).unwrap_err(), HctError::Corrupt { what: "duplicate tensor name" });
    let dup = rename(&file, "key.000999", "key.000000");
    assert_eq!(HctReaderV2::open(&dup[..]).unwrap_err(), HctError::Corrupt { what: "duplicate metadata key" });
}

#[test]
fn the_writer_refuses_a_repeated_name_among_two_hundred_thousand() {
    let mut w = HctWriterV2::new(WriterOptions { codec: BlockCodec::Store, ..WriterOptions::default() });
    for i in 0..N {
        w.add_tensor(&name(i), DType::U8, &[1], &[0]).unwrap();
    }
    let err = w.add_tensor(&name(N / 3), DType::U8, &[1], &[0]).unwrap_err();
    assert!(err.to_string().contains(&name(N / 3)), "{err}");
    // Metadata keys replace, in place.
    w.set_metadata("a", b"1");
    w.set_metadata("b", b"2");
    w.set_metadata("a", b"3");
    let file = w.finish();
    let r = HctReaderV2::open(&file[..]).unwrap();
    assert_eq!(r.metadata(), [("a".into(), b"3".to_vec()), ("b".into(), b"2".to_vec())]);
}

#[test]
fn a_safetensors_file_of_two_hundred_thousand_tensors_packs_and_unpacks() {
    let mut header = String::from("{");
    for i in 0..N {
        header.push_str(&format!(
            "{}\"{}\":{{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[{i},{}]}}",
            if i > 0 { "," } else { "" },
            name(i),
            i + 1
        ));
    }
    header.push('}');
    let mut st = (header.len() as u64).to_le_bytes().to_vec();
    st.extend_from_slice(header.as_bytes());
    st.extend((0..N).map(|i| i as u8));
    let hct = safetensors::pack(&st, WriterOptions { codec: BlockCodec::Store, ..WriterOptions::default() }).unwrap();
    let r = HctReaderV2::open(&hct[..]).unwrap();
    assert_eq!(r.tensors().len(), N);
    assert!(safetensors::unpack(&r).unwrap() == st);
}
