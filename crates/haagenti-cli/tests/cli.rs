//! The `haagenti` binary end to end, against the reference `zstd` and `gzip` programs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn haagenti(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_haagenti")).args(args).current_dir(dir).output().unwrap()
}

/// Runs the reference `zstd` program in `dir`.
fn zstd(args: &[&str], dir: &Path) -> Output {
    Command::new("zstd").args(args).current_dir(dir).output().expect("the reference zstd program is needed")
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("haagenti-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn corpus(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (see tests/data/README.md)", path.display()))
}

#[test]
fn gzip_round_trip_and_system_gzip_agrees() {
    let dir = scratch("gzip");
    let text = corpus("asyoulik.txt");
    std::fs::write(dir.join("a.txt"), &text).unwrap();
    let out = haagenti(&["compress", "--codec", "gzip", "-l", "9", "a.txt"], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let system = Command::new("gzip").args(["-dc", "a.txt.gz"]).current_dir(&dir).output().unwrap();
    assert!(system.stdout == text, "system gzip disagrees");
    std::fs::remove_file(dir.join("a.txt")).unwrap();
    let out = haagenti(&["decompress", "a.txt.gz"], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(dir.join("a.txt")).unwrap() == text);
}

#[test]
fn reference_zstd_raw_blocks_decode_from_stdin_to_stdout() {
    let dir = scratch("zstd");
    // Incompressible bytes make the reference encoder store raw blocks.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let data: Vec<u8> = (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(dir.join("r.bin"), &data).unwrap();
    let z = Command::new("zstd").args(["-q", "-19", "--check", "r.bin", "-o", "r.bin.zst"]).current_dir(&dir).status();
    assert!(z.expect("the reference zstd program is needed").success());
    let out = Command::new(env!("CARGO_BIN_EXE_haagenti"))
        .args(["decompress", "-", "-o", "-"])
        .current_dir(&dir)
        .stdin(std::fs::File::open(dir.join("r.bin.zst")).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout == data);
}

#[test]
fn bad_input_fails_with_one_line_and_no_output_file() {
    let dir = scratch("bad");
    let gz = Command::new("gzip")
        .arg("-c")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus/alice29.txt"))
        .output()
        .unwrap()
        .stdout;
    std::fs::write(dir.join("cut.gz"), &gz[..gz.len() / 2]).unwrap();
    let out = haagenti(&["decompress", "cut.gz"], &dir);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cut.gz"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("cut.gz")], "partial output left behind");

    std::fs::write(dir.join("plain.txt"), b"not compressed").unwrap();
    let out = haagenti(&["decompress", "plain.txt", "-o", "x"], &dir);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized format"));
}

#[test]
fn existing_output_is_kept_unless_forced() {
    let dir = scratch("force");
    std::fs::write(dir.join("b.txt"), b"hello hello hello").unwrap();
    std::fs::write(dir.join("b.txt.lz4"), b"precious").unwrap();
    let out = haagenti(&["compress", "--codec", "lz4", "b.txt"], &dir);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(dir.join("b.txt.lz4")).unwrap(), b"precious");
    let out = haagenti(&["compress", "--codec", "lz4", "--force", "b.txt"], &dir);
    assert!(out.status.success());
    let out = haagenti(&["decompress", "b.txt.lz4", "-o", "-"], &dir);
    assert_eq!(out.stdout, b"hello hello hello");
}

#[test]
fn reference_zstd_with_a_trained_dictionary() {
    let dir = scratch("dict");
    let text = corpus("alice29.txt");
    let mut samples = Vec::new();
    for (i, chunk) in text.chunks(2000).enumerate() {
        let name = format!("s{i}.txt");
        std::fs::write(dir.join(&name), chunk).unwrap();
        samples.push(name);
    }
    let mut train = Command::new("zstd");
    train.args(["-q", "--train", "--maxdict=8192", "-o", "dict"]).args(&samples).current_dir(&dir);
    assert!(train.status().expect("the reference zstd program is needed").success());
    let z =
        Command::new("zstd").args(["-q", "-D", "dict", "s3.txt", "-o", "s3.zst"]).current_dir(&dir).status().unwrap();
    assert!(z.success());
    let out = haagenti(&["decompress", "-D", "dict", "s3.zst", "-o", "-"], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout == text[6000..8000]);
    let out = haagenti(&["decompress", "s3.zst", "-o", "back.txt"], &dir);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("dictionary"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.join("back.txt").exists());
}

#[test]
fn reference_zstd_cli_output_decodes_at_several_levels() {
    let dir = scratch("levels");
    let text = corpus("lcet10.txt");
    std::fs::write(dir.join("t.txt"), &text).unwrap();
    for level in ["-1", "-3", "-19", "--ultra -22", "--fast=5"] {
        let mut cmd = Command::new("zstd");
        cmd.args(["-q", "-f", "--check"]).args(level.split(' ')).args(["t.txt", "-o", "t.txt.zst"]).current_dir(&dir);
        assert!(cmd.status().unwrap().success());
        let out = haagenti(&["decompress", "--force", "t.txt.zst"], &dir);
        assert!(out.status.success(), "{level}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(std::fs::read(dir.join("t.txt")).unwrap() == text, "{level}");
    }
}

#[test]
fn zstd_compression_is_read_by_the_reference_cli() {
    let dir = scratch("zstdc");
    let text = corpus("lcet10.txt");
    std::fs::write(dir.join("t.txt"), &text).unwrap();
    for (level, check) in [("1", true), ("3", false), ("19", true)] {
        let mut args = vec!["compress", "--force", "-l", level, "t.txt"];
        if !check {
            args.push("--no-check");
        }
        let out = haagenti(&args, &dir);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let z = Command::new("zstd").args(["-d", "-q", "-c", "t.txt.zst"]).current_dir(&dir).output().unwrap();
        assert!(z.status.success(), "zstd -d rejects level {level}: {}", String::from_utf8_lossy(&z.stderr));
        assert!(z.stdout == text, "level {level}");
        let list = Command::new("zstd").args(["-lv", "t.txt.zst"]).current_dir(&dir).output().unwrap();
        let listing = String::from_utf8_lossy(&list.stdout);
        assert_eq!(listing.contains("XXH64"), check, "checksum flag at level {level}: {listing}");
    }
}

/// Samples in a directory tree: paragraphs of a real text, one file each.
fn paragraph_samples(dir: &Path) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(&corpus("alice29.txt")).into_owned();
    let paragraphs: Vec<Vec<u8>> =
        text.split("\r\n\r\n").filter(|p| p.len() > 64).map(|p| p.as_bytes().to_vec()).collect();
    for (i, p) in paragraphs.iter().enumerate() {
        let sub = dir.join("samples").join(format!("{}", i % 4));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("p{i}.txt")), p).unwrap();
    }
    paragraphs
}

#[test]
fn train_and_compress_with_a_dictionary_both_ways_with_the_reference_cli() {
    let dir = scratch("train");
    let paragraphs = paragraph_samples(&dir);
    let out = haagenti(&["train", "--max-size", "16384", "-o", "ours.dict", "samples"], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dict_len = std::fs::metadata(dir.join("ours.dict")).unwrap().len();
    assert!(dict_len > 1024 && dict_len <= 16384, "{dict_len}");
    std::fs::write(dir.join("p.txt"), &paragraphs[7]).unwrap();
    // Ours compresses with our dictionary; the reference decodes it with the same dictionary.
    let out = haagenti(&["compress", "-D", "ours.dict", "-l", "19", "p.txt", "-o", "p.ours.zst"], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let z = zstd(&["-d", "-q", "-c", "-D", "ours.dict", "p.ours.zst"], &dir);
    assert!(z.status.success(), "{}", String::from_utf8_lossy(&z.stderr));
    assert!(z.stdout == paragraphs[7]);
    // The reference compresses with our dictionary; ours decodes it.
    assert!(zstd(&["-q", "-D", "ours.dict", "p.txt", "-o", "p.ref.zst"], &dir).status.success());
    let out = haagenti(&["decompress", "-D", "ours.dict", "p.ref.zst", "-o", "-"], &dir);
    assert!(out.status.success() && out.stdout == paragraphs[7], "{}", String::from_utf8_lossy(&out.stderr));
    // A dictionary trained by the reference works for our compressor.
    assert!(zstd(&["-q", "--train", "--maxdict=16384", "-r", "samples", "-o", "ref.dict"], &dir).status.success());
    let out = haagenti(&["compress", "-D", "ref.dict", "p.txt", "-o", "p.ours2.zst"], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let z = zstd(&["-d", "-q", "-c", "-D", "ref.dict", "p.ours2.zst"], &dir);
    assert!(z.status.success() && z.stdout == paragraphs[7], "{}", String::from_utf8_lossy(&z.stderr));
}

#[test]
fn train_reports_bad_samples_in_one_line() {
    let dir = scratch("trainbad");
    std::fs::write(dir.join("one.txt"), b"just one small sample").unwrap();
    let out = haagenti(&["train", "-o", "d.dict", "one.txt"], &dir);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("too few samples") && err.lines().count() == 1, "{err}");
    assert!(!dir.join("d.dict").exists());
    let out = haagenti(&["compress", "-D", "missing.dict", "one.txt"], &dir);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.dict"));
}

fn minilm() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME");
    let path = PathBuf::from(home).join(".cache/haagenti/minilm/model.safetensors");
    assert!(path.is_file(), "{}: fetch it with scripts/fetch-minilm.sh ~/.cache/haagenti/minilm", path.display());
    path
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tensor_pack_unpack_is_bit_exact_and_inspect_prints_the_table() {
    let dir = scratch("tensor");
    let model = minilm();
    let m = model.to_str().unwrap();
    ok(&haagenti(&["tensor", "pack", m, "-o", "m.hct"], &dir));
    assert!(std::fs::metadata(dir.join("m.hct")).unwrap().len() < std::fs::metadata(&model).unwrap().len() * 9 / 10);
    let table = ok(&haagenti(&["tensor", "inspect", "m.hct"], &dir));
    assert!(table.contains("| embeddings.word_embeddings.weight | F32 | [30522, 384] | 46881792 |"), "{table}");
    assert!(table.contains("104 tensors"), "{table}");
    ok(&haagenti(&["tensor", "unpack", "m.hct", "-o", "back.safetensors"], &dir));
    assert!(std::fs::read(dir.join("back.safetensors")).unwrap() == std::fs::read(&model).unwrap());
    // Quantized: smaller, and unpacks to an F32 safetensors file of the same tensors.
    ok(&haagenti(&["tensor", "pack", m, "-o", "q.hct", "--quantize", "int8", "--codec", "lz4"], &dir));
    let q = ok(&haagenti(&["tensor", "inspect", "q.hct"], &dir));
    assert!(q.contains("| Q8 (group 64) |"), "{q}");
    ok(&haagenti(&["tensor", "unpack", "q.hct", "-o", "q.safetensors"], &dir));
    let listing = ok(&haagenti(&["tensor", "inspect", "q.safetensors"], &dir));
    assert!(listing.contains("104 tensors"), "{listing}");
    // Damage is reported on one line, with no output file.
    let mut bad = std::fs::read(dir.join("m.hct")).unwrap();
    let n = bad.len();
    bad[n / 2] ^= 1;
    std::fs::write(dir.join("bad.hct"), bad).unwrap();
    let out = haagenti(&["tensor", "unpack", "bad.hct", "-o", "bad.safetensors"], &dir);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("checksum"));
    assert!(!dir.join("bad.safetensors").exists());
}

#[test]
fn holo_encode_decode_and_curve() {
    let dir = scratch("holo");
    let photo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/images/chelsea.png");
    let p = photo.to_str().unwrap();
    ok(&haagenti(&["holo", "encode", p, "--fragments", "6", "-o", "cat"], &dir));
    let manifest = std::fs::read_to_string(dir.join("cat/manifest.json")).unwrap();
    assert!(manifest.contains("\"encoding\": \"spectral\""), "{manifest}");
    let curve = ok(&haagenti(&["holo", "curve", "cat"], &dir));
    assert_eq!(curve.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| fragments")).count(), 6, "{curve}");
    ok(&haagenti(&["holo", "decode", "cat", "--use", "2", "-o", "two.png"], &dir));
    ok(&haagenti(&["holo", "decode", "cat", "--fragments", "0,3,5", "-o", "some.png"], &dir));
    let img = image::open(dir.join("some.png")).unwrap();
    assert_eq!((img.width(), img.height()), (451, 300));
    // A deleted fragment is skipped with a message; the rest still decode.
    let first = manifest.split("\"fragments\": [").nth(1).unwrap().split('"').nth(1).unwrap().to_string();
    std::fs::remove_file(dir.join("cat/fragments").join(&first[..2]).join(&first)).unwrap();
    let out = haagenti(&["holo", "decode", "cat", "-o", "rest.png"], &dir);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stderr).contains("missing"));
    // Residual on a weight tensor: exact back to safetensors.
    let model = minilm();
    let m = model.to_str().unwrap();
    let name = "encoder.layer.0.attention.self.query.weight";
    ok(&haagenti(
        &["holo", "encode", m, "--tensor", name, "--encoding", "residual", "--fragments", "4", "-o", "w"],
        &dir,
    ));
    ok(&haagenti(&["holo", "decode", "w", "-o", "w.safetensors"], &dir));
    let listing = ok(&haagenti(&["tensor", "inspect", "w.safetensors"], &dir));
    assert!(listing.contains(&format!("| {name} | F32 | [384, 384] | 589824 |")), "{listing}");
    // NCT stages: 5 bits a weight are stages of 2, 2 and 1; the first stage alone decodes.
    ok(&haagenti(&["holo", "encode", m, "--tensor", name, "--encoding", "nct", "--bits", "5", "-o", "n"], &dir));
    let manifest = std::fs::read_to_string(dir.join("n/manifest.json")).unwrap();
    assert!(manifest.contains("\"encoding\": \"nct\""), "{manifest}");
    let curve = ok(&haagenti(&["holo", "curve", "n"], &dir));
    assert_eq!(curve.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| fragments")).count(), 3, "{curve}");
    ok(&haagenti(&["holo", "decode", "n", "--use", "1", "-o", "n1.safetensors"], &dir));
    let listing = ok(&haagenti(&["tensor", "inspect", "n1.safetensors"], &dir));
    assert!(listing.contains(&format!("| {name} | F32 | [384, 384] | 589824 |")), "{listing}");
    // An image in nct: refused with the reason, nothing written.
    let out = haagenti(&["holo", "encode", p, "--encoding", "nct", "-o", "img"], &dir);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("tensors"));
    assert!(!dir.join("img/manifest.json").exists());
}
