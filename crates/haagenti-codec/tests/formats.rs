//! Round trips through every format on the real corpus, format detection, limits and bad input.

use std::path::PathBuf;

use haagenti_codec::{Codec, CodecError, Format, Level, Limits};

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("test corpus missing at {}: {e} (see tests/data/README.md)", dir.display()));
    let mut files: Vec<_> = entries
        .map(|e| {
            let p = e.unwrap().path();
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(files.len() >= 8, "expected the whole corpus in {}", dir.display());
    files
}

const WRITABLE: [Format; 7] =
    [Format::Zstd, Format::Lz4, Format::Lz4Block, Format::Gzip, Format::Zlib, Format::Deflate, Format::Brotli];

#[test]
fn every_writable_format_round_trips_the_corpus() {
    for (name, data) in corpus() {
        for format in WRITABLE {
            let codec = format.codec();
            let packed = codec.compress(&data).unwrap();
            let unpacked = codec.decompress(&packed).unwrap();
            assert!(unpacked == data, "{format} round trip of {name} differs");
            if name.ends_with(".txt") {
                assert!(packed.len() < data.len() * 3 / 4, "{format} did not compress {name}: {}", packed.len());
            }
        }
    }
}

#[test]
fn detection_by_magic() {
    let data = b"detect me, detect me, detect me".repeat(10);
    for format in [Format::Lz4, Format::Gzip, Format::Zlib] {
        let packed = format.codec().compress(&data).unwrap();
        assert_eq!(Format::detect(&packed), Some(format));
        assert_eq!(haagenti_codec::decompress_auto(&packed).unwrap(), data);
    }
    assert_eq!(Format::detect(&[0x28, 0xb5, 0x2f, 0xfd]), Some(Format::Zstd));
    assert_eq!(Format::detect(&[0x53, 0x2a, 0x4d, 0x18]), Some(Format::Zstd));
    assert_eq!(Format::detect(b"plain text"), None);
    assert!(matches!(haagenti_codec::decompress_auto(b"plain text"), Err(CodecError::UnknownFormat)));
}

#[test]
fn gzip_agrees_with_the_system_gzip() {
    let Ok(out) = std::process::Command::new("gzip").arg("-c").arg("-9").arg(corpus_path("alice29.txt")).output()
    else {
        panic!("the gzip command is needed for this test");
    };
    let original = std::fs::read(corpus_path("alice29.txt")).unwrap();
    assert_eq!(Format::Gzip.codec().decompress(&out.stdout).unwrap(), original);
}

#[test]
fn lz4_frames_agree_with_the_c_lz4_cli() {
    let original = std::fs::read(corpus_path("lcet10.txt")).unwrap();
    let out = std::process::Command::new("lz4")
        .args(["-c", "-9"])
        .arg(corpus_path("lcet10.txt"))
        .output()
        .expect("the lz4 command (C reference) is needed for this test");
    assert!(out.status.success());
    assert_eq!(Format::Lz4.codec().decompress(&out.stdout).unwrap(), original);

    let ours = Format::Lz4.codec().compress(&original).unwrap();
    let mut child = std::process::Command::new("lz4")
        .args(["-d", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &ours));
    let decoded = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(decoded.status.success());
    assert!(decoded.stdout == original, "C lz4 decoded our frame to different bytes");
}

fn corpus_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus").join(name)
}

#[test]
fn output_limit_stops_decompression_bombs() {
    let zeros = vec![0u8; 1 << 20];
    let limits = Limits { max_output: 1000 };
    for format in WRITABLE {
        let packed = format.codec().compress(&zeros).unwrap();
        match format.codec().decompress_with(&packed, &limits) {
            Err(CodecError::OutputLimit { limit: 1000 }) => {}
            other => panic!("{format}: expected OutputLimit, got {other:?}"),
        }
    }
}

#[test]
fn corrupt_and_truncated_input_is_an_error() {
    let data = std::fs::read(corpus_path("html")).unwrap();
    for format in WRITABLE {
        let packed = format.codec().compress(&data).unwrap();
        for cut in [1, packed.len() / 2, packed.len() - 1] {
            let r = format.codec().decompress(&packed[..cut]);
            assert!(r.is_err(), "{format}: truncation at {cut} accepted");
        }
    }
    assert!(Format::Lz4Block.codec().decompress(&[0xff, 0xff, 0xff, 0xff, 1, 2]).is_err());
}

#[test]
fn levels_out_of_range_are_rejected() {
    assert!(matches!(Format::Gzip.codec_with_level(Level(10)), Err(CodecError::BadLevel { level: 10, .. })));
    assert!(Format::Brotli.codec_with_level(Level(11)).is_ok());
    let fast = Format::Gzip.codec_with_level(Level(1)).unwrap().compress(&b"abc".repeat(1000)).unwrap();
    let best = Format::Gzip.codec_with_level(Level(9)).unwrap().compress(&b"abc".repeat(1000)).unwrap();
    assert!(best.len() <= fast.len());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_bytes_round_trip(data in proptest::collection::vec(any::<u8>(), 0..4096), idx in 0usize..7) {
            let format = WRITABLE[idx];
            let packed = format.codec().compress(&data).unwrap();
            prop_assert_eq!(format.codec().decompress(&packed).unwrap(), data);
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            for format in Format::ALL {
                let _ = format.codec().decompress_with(&data, &Limits { max_output: 1 << 20 });
            }
        }
    }
}

#[test]
fn concatenated_lz4_frames_decode_to_all_their_content() {
    use std::io::Read;
    let files = corpus();
    let mut joined_in = Vec::new();
    let mut joined_out = Vec::new();
    // Three real files and an empty frame between them, each its own frame.
    for (i, (_, data)) in files.iter().take(3).enumerate() {
        joined_in.extend(Format::Lz4.codec().compress(data).unwrap());
        joined_out.extend_from_slice(data);
        if i == 0 {
            joined_in.extend(Format::Lz4.codec().compress(b"").unwrap());
        }
    }
    assert_eq!(haagenti_codec::decompress_auto(&joined_in).unwrap(), joined_out);
    let mut streamed = Vec::new();
    haagenti_codec::decoder(Format::Lz4, &joined_in[..]).unwrap().read_to_end(&mut streamed).unwrap();
    assert_eq!(streamed, joined_out);
    // The limit counts every frame, not the first.
    let first = files[0].1.len() as u64;
    let err = Format::Lz4.codec().decompress_with(&joined_in, &Limits { max_output: first + 1 }).unwrap_err();
    assert!(matches!(err, CodecError::OutputLimit { .. }), "{err:?}");
}
