//! Shared helpers for Haagenti's integration tests: test data paths and reference oracles.

use std::path::PathBuf;

/// Differential oracles, shared with the fuzz targets.
mod oracle;
pub use oracle::{zstd_agrees_with_libzstd, zstd_stream_compression_round_trips, zstd_streaming_agrees};

/// The test data folder (`tests/data`, see its README).
///
/// # Panics
/// With a clear message when the folder is missing.
pub fn testdata() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
    assert!(dir.is_dir(), "test data missing at {}: see tests/data/README.md", dir.display());
    dir
}

/// Reads a file under [`testdata`].
pub fn read(rel: &str) -> Vec<u8> {
    let path = testdata().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The oracle: libzstd's compression of `data` at `level`, with or without a checksum.
pub fn libzstd_compress(data: &[u8], level: i32, checksum: bool) -> Vec<u8> {
    let mut c = zstd::bulk::Compressor::new(level).expect("libzstd level");
    c.include_checksum(checksum).expect("libzstd parameter");
    c.compress(data).expect("libzstd compress")
}

/// Bytes a compressor cannot shrink, from a fixed-seed xorshift generator.
pub fn incompressible(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The real-data inputs the differential tests compress: the corpus, source code, an x86
/// binary, MiniLM weights (f32 and bf16) and photos as raw RGB. `(name, bytes)`, sorted.
///
/// `weights_cap` bounds the bytes taken from each weight tensor dump (the whole model is 90 MB).
pub fn real_inputs(weights_cap: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let corpus = testdata().join("corpus");
    let mut names: Vec<_> = std::fs::read_dir(&corpus).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for p in names {
        out.push((format!("corpus/{}", p.file_name().unwrap().to_string_lossy()), std::fs::read(&p).unwrap()));
    }
    out.push(("source-code".into(), source_code()));
    out.push(("x86-binary".into(), x86_binary()));
    let (f32s, bf16s) = minilm_f32_and_bf16();
    out.push(("minilm-f32".into(), f32s[..f32s.len().min(weights_cap)].to_vec()));
    out.push(("minilm-bf16".into(), bf16s[..bf16s.len().min(weights_cap)].to_vec()));
    for name in ["astronaut.png", "camera.png", "coffee.png", "hubble_deep_field.jpg"] {
        out.push((format!("rgb/{name}"), photo_rgb(name)));
    }
    out
}

/// The whole corpus, its files concatenated in name order.
pub fn corpus() -> Vec<u8> {
    let mut names: Vec<_> = std::fs::read_dir(testdata().join("corpus")).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    names.iter().flat_map(|p| std::fs::read(p).unwrap()).collect()
}

/// "DATE, CPU model" for benchmark headers.
pub fn bench_stamp() -> String {
    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap().trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{date}, {machine}")
}

/// Paragraphs of a real text (longer than 64 bytes): the kind of small records dictionaries
/// are for.
pub fn text_paragraphs() -> Vec<Vec<u8>> {
    let text = read("corpus/alice29.txt");
    let text = String::from_utf8_lossy(&text).into_owned();
    text.split("\r\n\r\n").chain(text.split("\n\n")).filter(|p| p.len() > 64).map(|p| p.as_bytes().to_vec()).collect()
}

/// Records of eight lines each from a real list of URLs.
pub fn url_records() -> Vec<Vec<u8>> {
    let urls = read("corpus/urls.10K");
    urls.split(|&b| b == b'\n').collect::<Vec<_>>().chunks(8).map(|c| c.join(&b'\n')).collect()
}

/// Real Rust source files (tokio's `io` module, `tests/data/rust-sources`), in name order:
/// a fixed set that does not change with this repository's own sources.
pub fn source_files() -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata().join("rust-sources"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".rs.txt"))
        .collect();
    files.sort();
    assert!(files.len() > 50, "tests/data/rust-sources is incomplete");
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// The source files of [`source_files`], concatenated.
pub fn source_code() -> Vec<u8> {
    source_files().concat()
}

/// Real x86-64 machine code: the first 256 KiB of a `zstd` executable (`tests/data`).
pub fn x86_binary() -> Vec<u8> {
    read("x86_64-zstd-head.bin")
}

/// Where the MiniLM weights are cached (filled by `scripts/setup.sh test`).
pub fn minilm_path() -> PathBuf {
    if let Some(p) = std::env::var_os("HAAGENTI_MINILM") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/haagenti/minilm/model.safetensors")
}

/// The MiniLM weights as raw little-endian f32 bytes, and as bf16 made by truncation.
///
/// # Panics
/// If the weights are missing, with the command that fetches them.
pub fn minilm_f32_and_bf16() -> (Vec<u8>, Vec<u8>) {
    let path = minilm_path();
    let file = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{}: {e}; fetch it with scripts/fetch-minilm.sh ~/.cache/haagenti/minilm", path.display())
    });
    let header_len = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let data = file[8 + header_len..].to_vec();
    assert!(data.len() > 80 << 20 && data.len().is_multiple_of(4), "unexpected safetensors payload");
    let bf16 = data.chunks_exact(4).flat_map(|w| [w[2], w[3]]).collect();
    (data, bf16)
}

/// A photo from tests/data/images decoded to raw 8-bit RGB.
pub fn photo_rgb(name: &str) -> Vec<u8> {
    let img = image::load_from_memory(&read(&format!("images/{name}"))).expect("decodable image");
    img.to_rgb8().into_raw()
}

/// The MiniLM safetensors file itself (f32).
///
/// # Panics
/// If the weights are missing, with the command that fetches them.
pub fn minilm_safetensors() -> Vec<u8> {
    let path = minilm_path();
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{}: {e}; fetch it with scripts/fetch-minilm.sh ~/.cache/haagenti/minilm", path.display())
    })
}

/// An f32 safetensors file with every F32 tensor converted to `dtype` ("BF16" or "F16", both
/// rounded to nearest even) and a fresh header: the same model in the dtypes people ship.
pub fn safetensors_converted(f32_file: &[u8], dtype: &str) -> Vec<u8> {
    let st = haagenti_hct::safetensors::parse(f32_file).expect("a valid safetensors file");
    let convert: fn(f32) -> u16 = match dtype {
        "BF16" => f32_to_bf16,
        "F16" => f32_to_f16,
        other => panic!("no conversion to {other}"),
    };
    let mut header = String::from("{");
    let mut data = Vec::new();
    for (i, t) in st.tensors.iter().enumerate() {
        let begin = data.len();
        let name = if t.dtype == haagenti_hct::DType::F32 {
            for w in t.data.chunks_exact(4) {
                data.extend_from_slice(&convert(f32::from_le_bytes(w.try_into().unwrap())).to_le_bytes());
            }
            dtype
        } else {
            data.extend_from_slice(t.data);
            t.dtype.name()
        };
        let shape: Vec<String> = t.shape.iter().map(u64::to_string).collect();
        header += &format!(
            "{}\"{}\":{{\"dtype\":\"{name}\",\"shape\":[{}],\"data_offsets\":[{begin},{}]}}",
            if i > 0 { "," } else { "" },
            t.name,
            shape.join(","),
            data.len()
        );
    }
    header += "}";
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    out
}

pub use haagenti_hct::{f32_to_bf16, f32_to_f16};

/// A photo from tests/data/images as a HoloTensor asset: gray photos as 1 channel,
/// colour ones as RGB.
pub fn photo_asset(name: &str) -> haagenti_holo::Asset {
    let img = image::load_from_memory(&read(&format!("images/{name}"))).expect("decodable image");
    if img.color().channel_count() == 1 {
        let g = img.to_luma8();
        haagenti_holo::Asset::image(g.width(), g.height(), 1, g.into_raw()).expect("valid image")
    } else {
        let c = img.to_rgb8();
        haagenti_holo::Asset::image(c.width(), c.height(), 3, c.into_raw()).expect("valid image")
    }
}

/// The photos of tests/data/images.
pub const PHOTOS: [&str; 5] = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg"];

/// (bytes, PSNR) of one-shot JPEG (the `image` crate's encoder) at qualities 5, 10, ..., 95.
pub fn jpeg_curve(asset: &haagenti_holo::Asset) -> Vec<(f64, f64)> {
    let haagenti_holo::Asset::Image { width, height, channels, pixels } = asset else { panic!("an image") };
    let color = if *channels == 1 { image::ExtendedColorType::L8 } else { image::ExtendedColorType::Rgb8 };
    (1..=19)
        .map(|i| {
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, (i * 5) as u8)
                .encode(pixels, *width, *height, color)
                .expect("JPEG encoding");
            let img = image::load_from_memory(&out).expect("decodable JPEG");
            let back = if *channels == 1 { img.to_luma8().into_raw() } else { img.to_rgb8().into_raw() };
            (out.len() as f64, haagenti_holo::psnr(pixels, &back))
        })
        .collect()
}

/// A reference curve's value at `x`, linear in log(x) between its points (clamped at the
/// ends), and whether `x` lies outside the curve (-1 below, 1 above, 0 inside).
pub fn curve_at(curve: &[(f64, f64)], x: f64) -> (f64, i8) {
    let mut pts = curve.to_vec();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (first, last) = (pts[0], pts[pts.len() - 1]);
    if x < first.0 {
        return (first.1, -1);
    }
    if x > last.0 {
        return (last.1, 1);
    }
    let w = pts.windows(2).find(|w| x <= w[1].0).expect("inside");
    let t = if w[1].0 > w[0].0 { (x.ln() - w[0].0.ln()) / (w[1].0.ln() - w[0].0.ln()) } else { 0.0 };
    (w[0].1 + t * (w[1].1 - w[0].1), 0)
}

/// A benchmark's output: each line printed as it comes, and the whole written to
/// `docs/NAME-bench.md` by [`Report::save`], so the tables the docs quote come from one command.
pub struct Report {
    name: &'static str,
    text: String,
}

impl Report {
    /// An empty report for the benchmark `name`.
    pub fn new(name: &'static str) -> Self {
        Report { name, text: String::new() }
    }

    /// Prints `line` and keeps it.
    pub fn line(&mut self, line: impl AsRef<str>) {
        println!("{}", line.as_ref());
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    /// Writes `docs/NAME-bench.md`.
    ///
    /// # Panics
    /// If the file cannot be written.
    pub fn save(self) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../docs/{}-bench.md", self.name));
        let doc = format!(
            "# {} benchmark output\n\nWritten by `cargo bench -p haagenti-tests --bench {}`; the docs quote it. Re-run the\ncommand to refresh it.\n\n{}",
            self.name, self.name, self.text
        );
        std::fs::write(&path, doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        println!("(written to {})", path.display());
    }
}

/// `report!(r, "format", args...)` is `r.line(format!(...))`; `report!(r)` an empty line.
#[macro_export]
macro_rules! report {
    ($r:expr) => {
        $r.line("")
    };
    ($r:expr, $($t:tt)*) => {
        $r.line(format!($($t)*))
    };
}

/// Signal-to-noise ratio in dB of a relative L2 error.
pub fn snr(relative_l2: f64) -> f64 {
    -20.0 * relative_l2.log10()
}

/// A one-shot quantizer as a reference point for `values`: the bytes of its payload under
/// libzstd -19, and its reconstruction.
pub fn quantized_reference(values: &[f32], scheme: haagenti_hct::QuantScheme) -> (f64, Vec<f32>) {
    let payload = scheme.quantize(values).expect("quantizable");
    let bytes = zstd::bulk::compress(&payload, 19).expect("libzstd").len() as f64;
    (bytes, scheme.dequantize(&payload, values.len() as u64).expect("dequantizable"))
}

/// A curve of (bytes, value) points at `x`, linear in bytes between points; `None` outside it.
pub fn linear_at(curve: &[(f64, f64)], x: f64) -> Option<f64> {
    if x < curve.first()?.0 {
        return None;
    }
    let w = curve.windows(2).find(|w| x <= w[1].0)?;
    Some(w[0].1 + (x - w[0].0) / (w[1].0 - w[0].0) * (w[1].1 - w[0].1))
}

/// The residual profile's curve (bytes, SNR in dB) on `asset` with 8 fragments.
pub fn residual_snr_curve(asset: &haagenti_holo::Asset) -> Vec<(f64, f64)> {
    use haagenti_holo::{EncodeOptions, Encoding};
    let opts = EncodeOptions { encoding: Encoding::Residual, fragments: 8, ..Default::default() };
    let enc = haagenti_holo::encode(asset, &opts).expect("encodable");
    enc.header.curve.points.iter().map(|p| (p.bytes as f64, snr(p.relative_l2))).collect()
}

/// Deterministic pseudo-random numbers for tests (SplitMix64).
#[derive(Debug, Clone)]
pub struct TestRng(pub u64);

impl TestRng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A standard normal sample (Box-Muller).
    pub fn gaussian(&mut self) -> f32 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 + 1e-12;
        let v = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }
}

/// For tests that need a device: `Some(device)` from `open`, or, where it fails, a loud
/// "skipped" line and `None` — unless the environment variable `require` is `require`, where
/// an expected device is missing and the test fails.
pub fn device_or_skip<T, E: std::fmt::Display>(
    test: &str,
    require: &str,
    open: impl FnOnce() -> Result<T, E>,
    describe: impl FnOnce(&T) -> String,
) -> Option<T> {
    match open() {
        Ok(d) => {
            eprintln!("{test}: on {}", describe(&d));
            Some(d)
        }
        Err(e) if std::env::var(require).as_deref() == Ok("require") => panic!("{test}: {require}=require, but {e}"),
        Err(e) => {
            eprintln!("{test}: skipped: no device ({e}); set {require}=require where one is expected");
            None
        }
    }
}
