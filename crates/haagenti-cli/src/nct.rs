//! `haagenti nct`: encode a .safetensors model into an NCT file, decode all of it or its first
//! stages back into .safetensors, and a table of what each tensor costs and how close it comes.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Subcommand;
use haagenti::hct::{DType, f32_to_bf16, f32_to_f16, f32_values, safetensors};
use haagenti_nct::{
    EncodeOptions, HEADER_LEN, MAX_STAGES, MIN_GROUP, MIN_QUANTIZED_ELEMENTS, NctEncoder, NctFile, STAGE_BITS,
    TensorEntry,
};

use crate::files::{Failure, Output, fail, is_stdio, read_input, write_output};

/// Bits per weight accepted by `encode`.
const BITS: std::ops::RangeInclusive<f64> = 2.0..=8.0;

#[derive(Debug, Subcommand)]
pub(crate) enum NctCommand {
    /// Encode every tensor of a .safetensors file into an NCT file (lossy). Float matrices
    /// are trellis-coded; vectors, small tensors and integers are kept exactly.
    Encode {
        /// The .safetensors file.
        input: PathBuf,
        /// Bits per weight of the whole file, every byte counted: 2 to 8, fractional allowed.
        #[arg(long)]
        bits: f64,
        /// Bits per coded weight of each stage, comma-separated, each 1 to 3 (e.g. 2,1,1 for
        /// three stages). The first figure only holds its place: stage 1 takes whatever
        /// --bits leaves after the others. Default: 2-bit stages and a last one of 1 to 3.
        #[arg(long, value_delimiter = ',')]
        stages: Option<Vec<f64>>,
        /// Seed of the codebook order and the rotation signs (default: the encoder's).
        #[arg(long)]
        seed: Option<u64>,
        /// Encoder threads (0: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Give every tensor the same rates (the same signal-to-noise ratio for each) instead
        /// of spreading stage 1's bits by the tensors' energy (docs/nct.md). Files encoded
        /// with --calib always have even rates.
        #[arg(long)]
        even: bool,
        /// Calibration: a .safetensors file holding, under a weight's name, the second moments
        /// of that layer's inputs, E[x xT], as a [cols, cols] F32, F64, F16 or BF16 matrix (cols: the product
        /// of the weight's dimensions after the first). Those tensors are rounded for a small
        /// error in the layer's output rather than in the weights (docs/nct.md; on MiniLM it
        /// brought embeddings closer at 2 bits a weight, slightly further at 3 and 4).
        #[arg(long)]
        calib: Option<PathBuf>,
        /// The NCT file to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Overwrite an existing output file.
        #[arg(short, long)]
        force: bool,
    },
    /// Decode an NCT file (all its stages, or the first K) into a .safetensors file with the
    /// same tensor names and shapes. A truncated file decodes with the stages it holds.
    Decode {
        /// The NCT file (or a prefix of one: fewer stages).
        input: PathBuf,
        /// Decode only the first K stages.
        #[arg(long)]
        stages: Option<usize>,
        /// f32: every float tensor as F32; source: each tensor as the dtype it was encoded
        /// from. Tensors kept exactly are written as their source bytes with source, and so
        /// are integer tensors with either.
        #[arg(long, default_value = "f32")]
        dtype: String,
        /// The .safetensors file to write.
        #[arg(short, long)]
        output: PathBuf,
        /// Overwrite an existing output file.
        #[arg(short, long)]
        force: bool,
    },
    /// Print a table of an NCT file's tensors: how each is stored and its bits per weight,
    /// every byte counted (its own bytes and directory entry, and the header, stage table,
    /// codebook and padding shared by elements); with --against, the SNR after each stage.
    Inspect {
        /// The NCT file.
        input: PathBuf,
        /// The .safetensors file that was encoded.
        #[arg(long)]
        against: Option<PathBuf>,
    },
}

pub(crate) fn run(command: NctCommand) -> Result<(), Failure> {
    match command {
        NctCommand::Encode { input, bits, stages, seed, threads, even, calib, output, force } => {
            let seed = seed.unwrap_or(EncodeOptions::default().seed);
            encode(
                &input,
                EncodeOptions { bits, stages, seed, threads, allocate: !even },
                calib.as_deref(),
                &output,
                force,
            )
        }
        NctCommand::Decode { input, stages, dtype, output, force } => {
            let source = match dtype.as_str() {
                "f32" => false,
                "source" => true,
                other => return Err(fail(&input, format!("unknown --dtype {other:?} (f32 or source)"))),
            };
            decode(&input, stages, source, &output, force)
        }
        NctCommand::Inspect { input, against } => inspect(&input, against.as_deref()),
    }
}

fn encode(input: &Path, opts: EncodeOptions, calib: Option<&Path>, output: &Path, force: bool) -> Result<(), Failure> {
    let bits = opts.bits;
    if !BITS.contains(&bits) {
        return Err(fail(input, format!("--bits {bits}: must be from {} to {}", BITS.start(), BITS.end())));
    }
    if let Some(s) = &opts.stages {
        if s.len() > MAX_STAGES {
            return Err(fail(input, format!("--stages: {} stages; at most {MAX_STAGES}", s.len())));
        }
        if let Some(bad) = s.iter().find(|r| !STAGE_BITS.contains(*r)) {
            let (lo, hi) = (STAGE_BITS.start(), STAGE_BITS.end());
            return Err(fail(input, format!("--stages: {bad} bits a stage; each must be from {lo} to {hi}")));
        }
    }
    if !is_stdio(output) && output.exists() && !force {
        // Checked before the encode, not only when the output is created after it.
        return Err(fail(output, "already exists (use --force to overwrite)"));
    }
    let start = Instant::now();
    let bytes = read_input(input)?;
    let st = safetensors::parse(&bytes).map_err(|e| fail(input, e))?;
    if st.tensors.is_empty() {
        return Err(fail(input, "holds no tensors"));
    }
    let mut enc = NctEncoder::new(opts);
    for t in &st.tensors {
        enc.add_tensor(&t.name, t.dtype, &t.shape, t.data).map_err(|e| fail(input, e))?;
    }
    let mut calibrated = (0usize, 0usize);
    if let Some(path) = calib {
        let cbytes = read_input(path)?;
        let cst = safetensors::parse(&cbytes).map_err(|e| fail(path, e))?;
        if cst.tensors.is_empty() {
            return Err(fail(path, "holds no tensors"));
        }
        for c in &cst.tensors {
            let Some(t) = st.tensors.iter().find(|t| t.name == c.name) else {
                return Err(fail(path, format!("{}: no tensor of that name in {}", c.name, input.display())));
            };
            let cols: u64 = t.shape.iter().skip(1).product();
            if c.shape != [cols, cols] {
                return Err(fail(
                    path,
                    format!("{}: shape {:?}; the weight {:?} needs [{cols}, {cols}]", c.name, c.shape, t.shape),
                ));
            }
            let values = if c.dtype == DType::F64 {
                // Moments are often accumulated in f64; calibration takes them as f32.
                c.data.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32).collect()
            } else {
                f32_values(c.dtype, c.data)
                    .ok_or_else(|| fail(path, format!("{}: dtype {} is not a float type", c.name, c.dtype.name())))?
            };
            if enc.calibrate(&c.name, &values).map_err(|e| fail(path, e))? {
                calibrated.0 += 1;
            } else {
                calibrated.1 += 1;
            }
        }
    }
    let mut progress = Progress::new();
    let result = enc.finish(&mut |done, total| progress.update(done, total));
    progress.clear();
    let out = result.map_err(|e| fail(input, e))?;
    let elapsed = start.elapsed();
    // The summary comes from the file as a reader sees it.
    let file = NctFile::parse(&out).map_err(|e| fail(output, format!("the encoder wrote an unreadable file: {e}")))?;
    write_output(output, &out, force)?;

    let tensors = file.tensors();
    let weights: u64 = tensors.iter().map(TensorEntry::numel).sum();
    let coded: Vec<&TensorEntry> = tensors.iter().filter(|t| t.is_quantized()).collect();
    let coded_weights: u64 = coded.iter().map(|t| t.numel()).sum();
    let rate = out.len() as f64 * 8.0 / weights.max(1) as f64;
    let mut summary = format!(
        "{}: {} tensor{} ({} trellis-coded: {coded_weights} weights; {} exact: {} weights), {} bytes, \
         {rate:.4} bits a weight (--bits {bits})\n",
        output.display(),
        tensors.len(),
        plural(tensors.len()),
        coded.len(),
        tensors.len() - coded.len(),
        weights - coded_weights,
        out.len(),
    );
    for k in 1..=file.stage_count() {
        let stage_bits: f64 = coded.iter().map(|t| t.stage_bits()[k - 1] * t.numel() as f64).sum();
        let prefix = file.prefix_len(k) as f64 * 8.0 / weights.max(1) as f64;
        summary.push_str(&format!(
            "stage {k}: {:.4} bits a coded weight; the file up to it: {prefix:.4} bits a weight\n",
            stage_bits / coded_weights.max(1) as f64
        ));
    }
    if let Some(path) = calib {
        summary.push_str(&format!(
            "calibrated {} tensor{} from {}{}\n",
            calibrated.0,
            plural(calibrated.0),
            path.display(),
            if calibrated.1 > 0 {
                format!(" ({} more stored exactly, where it does not apply)", calibrated.1)
            } else {
                String::new()
            }
        ));
    }
    summary.push_str(&format!("encoded in {:.2} s\n", elapsed.as_secs_f64()));
    if is_stdio(output) {
        eprint!("{summary}");
    } else {
        print!("{summary}");
    }
    if coded.is_empty() {
        eprintln!(
            "haagenti: {}: no tensor could be trellis-coded (float tensors of rank 2 or more, {MIN_QUANTIZED_ELEMENTS} \
             or more weights, rows of a multiple of {MIN_GROUP}): all are stored exactly",
            output.display()
        );
    }
    Ok(())
}

/// Encoding progress on stderr, from half a second in: on a terminal one line redrawn in
/// place; otherwise a line at each tenth of the work.
struct Progress {
    start: Instant,
    terminal: bool,
    last_draw: Option<Instant>,
    last_tenth: u64,
    /// Characters of the line drawn on the terminal, to erase it.
    drawn: usize,
}

impl Progress {
    fn new() -> Progress {
        let terminal = std::io::stderr().is_terminal();
        Progress { start: Instant::now(), terminal, last_draw: None, last_tenth: 0, drawn: 0 }
    }

    fn update(&mut self, done: u64, total: u64) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.start);
        if total == 0 || elapsed < Duration::from_millis(500) {
            return;
        }
        let fraction = (done as f64 / total as f64).clamp(0.0, 1.0);
        let secs = elapsed.as_secs_f64();
        let eta =
            if fraction > 0.0 { format!(", {:.0} s left", secs * (1.0 - fraction) / fraction) } else { String::new() };
        // The encoder counts a weight once a stage.
        let line = format!(
            "encoding {:5.1}%: {} of {} weight-stages coded, {secs:.1} s{eta}",
            fraction * 100.0,
            count(done),
            count(total)
        );
        let mut err = std::io::stderr().lock();
        if self.terminal {
            if self.last_draw.is_some_and(|t| now.duration_since(t) < Duration::from_millis(200)) {
                return;
            }
            self.last_draw = Some(now);
            let _ = write!(err, "\r{line:<width$}", width = self.drawn);
            let _ = err.flush();
            self.drawn = self.drawn.max(line.len());
        } else {
            let tenth = (fraction * 10.0).floor() as u64;
            if tenth > self.last_tenth && done < total {
                self.last_tenth = tenth;
                let _ = writeln!(err, "{line}");
            }
        }
    }

    /// Erases the terminal line, so that what follows starts on a clean one.
    fn clear(&mut self) {
        if self.drawn > 0 {
            eprint!("\r{:width$}\r", "", width = self.drawn);
            self.drawn = 0;
        }
    }
}

/// A count, in k, M or G when large.
fn count(n: u64) -> String {
    let n = n as f64;
    match n {
        n if n >= 1e9 => format!("{:.2}G", n / 1e9),
        n if n >= 1e6 => format!("{:.2}M", n / 1e6),
        n if n >= 1e4 => format!("{:.1}k", n / 1e3),
        n => format!("{n}"),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Parses an NCT file, refusing one whose quantized tensors have no complete stage.
fn open_nct<'a>(input: &Path, bytes: &'a [u8]) -> Result<NctFile<'a>, Failure> {
    let file = NctFile::parse(bytes).map_err(|e| fail(input, e))?;
    if file.stages() == 0 && file.tensors().iter().any(TensorEntry::is_quantized) {
        return Err(fail(
            input,
            format!("truncated inside stage 1 of {}: no complete stage to decode", file.stage_count()),
        ));
    }
    Ok(file)
}

/// "1 of its 2 stages (truncated)" or "2 stages".
fn stages_held(file: &NctFile<'_>) -> String {
    let (present, all) = (file.stages(), file.stage_count());
    if present < all {
        format!("{present} of its {all} stages (truncated)")
    } else {
        format!("{all} stage{}", plural(all))
    }
}

fn is_float(dtype: DType) -> bool {
    matches!(dtype, DType::F32 | DType::F16 | DType::BF16 | DType::F64 | DType::F8E4M3 | DType::F8E5M2)
}

/// How `decode` writes a tensor.
#[derive(Clone, Copy)]
enum Written {
    /// The stored source bytes (exact tensors only).
    Exact,
    /// Decoded, as this dtype (F32, F16 or BF16).
    Decoded(DType),
}

fn decode(input: &Path, stages: Option<usize>, source: bool, output: &Path, force: bool) -> Result<(), Failure> {
    let bytes = read_input(input)?;
    let file = open_nct(input, &bytes)?;
    let present = file.stages();
    let k = match stages {
        None => present,
        Some(0) => return Err(fail(input, "--stages must be at least 1")),
        Some(k) if k > present => {
            return Err(fail(input, format!("--stages {k}: the file holds {}", stages_held(&file))));
        }
        Some(k) => k,
    };
    if stages.is_none() && present < file.stage_count() {
        eprintln!("haagenti: {}: holds {}; decoding {present}", input.display(), stages_held(&file));
    }
    let plan: Vec<Written> = file
        .tensors()
        .iter()
        .map(|t| match (t.is_quantized(), source) {
            (false, _) if source || !is_float(t.dtype()) => Written::Exact,
            (_, true) => Written::Decoded(t.dtype()),
            (_, false) => Written::Decoded(DType::F32),
        })
        .collect();
    let layout: Vec<(&str, DType, &[u64])> = file
        .tensors()
        .iter()
        .zip(&plan)
        .map(|(t, w)| match w {
            Written::Exact => (t.name(), t.dtype(), t.shape()),
            Written::Decoded(d) => (t.name(), *d, t.shape()),
        })
        .collect();
    let header = safetensors_header(&layout).map_err(|e| fail(input, e))?;

    // The header first, then one tensor at a time: only one is ever decoded in memory.
    let mut out = Output::create(output, force)?;
    out.write_all(&(header.len() as u64).to_le_bytes()).map_err(|e| fail(output, e))?;
    out.write_all(header.as_bytes()).map_err(|e| fail(output, e))?;
    let mut buf = Vec::new();
    for (t, w) in file.tensors().iter().zip(&plan) {
        let name = t.name();
        let dtype = match *w {
            Written::Exact => {
                let raw = file.exact_bytes(name).map_err(|e| fail(input, format!("{name}: {e}")))?;
                let raw = raw.ok_or_else(|| fail(input, format!("{name}: not stored exactly")))?;
                out.write_all(raw).map_err(|e| fail(output, e))?;
                continue;
            }
            Written::Decoded(d) => d,
        };
        let values = file.decode_tensor(name, k).map_err(|e| fail(input, format!("{name}: {e}")))?;
        if values.len() as u64 != t.numel() {
            return Err(fail(input, format!("{name}: decoded {} values for {} weights", values.len(), t.numel())));
        }
        buf.clear();
        match dtype {
            DType::F16 => buf.extend(values.iter().flat_map(|&v| f32_to_f16(v).to_le_bytes())),
            DType::BF16 => buf.extend(values.iter().flat_map(|&v| f32_to_bf16(v).to_le_bytes())),
            _ => buf.extend(values.iter().flat_map(|v| v.to_le_bytes())),
        }
        out.write_all(&buf).map_err(|e| fail(output, e))?;
    }
    out.commit()
}

/// A safetensors header for tensors laid out in order, padded with spaces to a multiple of 8.
fn safetensors_header(tensors: &[(&str, DType, &[u64])]) -> Result<String, String> {
    let mut header = String::from("{");
    let mut end = 0u64;
    for (i, (name, dtype, shape)) in tensors.iter().enumerate() {
        let len = shape
            .iter()
            .try_fold(dtype.size() as u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| format!("{name}: shape {shape:?} overflows"))?;
        let begin = end;
        end = end.checked_add(len).ok_or("tensor sizes overflow")?;
        let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
        header.push_str(&format!(
            "{}{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{begin},{end}]}}",
            if i > 0 { "," } else { "" },
            json_string(name),
            dtype.name(),
            dims.join(",")
        ));
    }
    header.push('}');
    while !header.len().is_multiple_of(8) {
        header.push(' ');
    }
    Ok(header)
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Bytes of a tensor's directory entry, from the layout the format writes: name length,
/// name, dtype, kind, rank and group, the shape, base offset, length and hash; for a
/// trellis-coded tensor its seed and scale and, each stage, block bits, multiplier, offset and
/// hash.
fn directory_entry_len(t: &TensorEntry, stage_count: usize) -> u64 {
    let fixed = 2 + t.name().len() as u64 + 4 + 8 * t.shape().len() as u64 + 24;
    if t.is_quantized() { fixed + 12 + 24 * stage_count as u64 } else { fixed }
}

/// 10 log10(signal / noise), in dB; infinite for no noise.
fn snr_db(signal: f64, noise: f64) -> f64 {
    if noise == 0.0 { f64::INFINITY } else { 10.0 * (signal / noise).log10() }
}

fn fmt_db(db: f64) -> String {
    if db.is_infinite() && db > 0.0 { "inf".to_string() } else { format!("{db:.2}") }
}

/// A rate without trailing zeros: 2, 1.96875.
fn fmt_bits(b: f64) -> String {
    let s = format!("{b:.5}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The inspect table. Each tensor's bits a weight charge it its stored bytes (base bytes and
/// blocks of the stages present) and its own directory entry; the shared bytes (header,
/// stage-length table, codebook, alignment padding, and the bytes of an incomplete stage in a
/// truncated file) are apportioned by elements, so the rows add up to the total, which is the
/// file's length in bits over all its elements.
fn inspect(input: &Path, against: Option<&Path>) -> Result<(), Failure> {
    let bytes = read_input(input)?;
    let file = open_nct(input, &bytes)?;
    let k = file.stages();
    let tensors = file.tensors();
    let model_bytes = against.map(|path| read_input(path).map(|b| (path, b))).transpose()?;
    let model = match &model_bytes {
        Some((path, b)) => Some((*path, safetensors::parse(b).map_err(|e| fail(path, e))?)),
        None => None,
    };
    // The original of each tensor, checked before anything is decoded.
    let mut originals = Vec::new();
    if let Some((path, st)) = &model {
        for t in tensors {
            let Some(s) = st.tensors.iter().find(|s| s.name == t.name()) else {
                return Err(fail(path, format!("no tensor {:?}, which the NCT file holds", t.name())));
            };
            if s.shape != t.shape() || s.dtype != t.dtype() {
                return Err(fail(
                    path,
                    format!(
                        "{}: {} {:?}, the NCT file has {} {:?}",
                        s.name,
                        s.dtype.name(),
                        s.shape,
                        t.dtype().name(),
                        t.shape()
                    ),
                ));
            }
            originals.push(s);
        }
    }

    let total_len = bytes.len() as u64;
    let weights: u64 = tensors.iter().map(TensorEntry::numel).sum();
    let dir_entries: Vec<u64> = tensors.iter().map(|t| directory_entry_len(t, file.stage_count())).collect();
    // Cross-checked against the header, so a file of another layout is still apportioned
    // correctly, the whole directory then shared by elements.
    let directory_len = u64::from_le_bytes(bytes[16..24].try_into().expect("the parser checked the header"));
    let own_entries = dir_entries.iter().sum::<u64>() + 8 * file.stage_count() as u64 == directory_len;
    let own: Vec<u64> =
        tensors.iter().zip(&dir_entries).map(|(t, &d)| t.stored_bytes(k) + if own_entries { d } else { 0 }).collect();
    let shared = total_len.saturating_sub(own.iter().sum());

    let mut table = String::from("| name | shape | dtype | kind | stage bits | bits/weight |");
    let mut rule = String::from("|---|---|---|---|---|---:|");
    if model.is_some() {
        for s in 1..=k {
            table.push_str(&format!(" SNR {s} dB |"));
            rule.push_str("---:|");
        }
    }
    table.push('\n');
    table.push_str(&rule);
    table.push('\n');

    // Over every float weight: |W|^2, and |W - W'|^2 after each stage.
    let mut signal = 0f64;
    let mut noise = vec![0f64; k];
    for (i, t) in tensors.iter().enumerate() {
        let n = t.numel();
        let bits = own[i] as f64 * 8.0 + shared as f64 * 8.0 * n as f64 / weights.max(1) as f64;
        let (kind, stage_bits) = if t.is_quantized() {
            let b: Vec<String> = t.stage_bits().into_iter().map(fmt_bits).collect();
            ("trellis", b.join(" + "))
        } else {
            ("exact", "-".to_string())
        };
        table.push_str(&format!(
            "| {} | {:?} | {} | {kind} | {stage_bits} | {:.4} |",
            t.name(),
            t.shape(),
            t.dtype().name(),
            bits / n.max(1) as f64
        ));
        if let Some(s) = originals.get(i) {
            let name = t.name();
            let decode = |stages| file.decode_tensor(name, stages).map_err(|e| fail(input, format!("{name}: {e}")));
            if !t.is_quantized() {
                let stored = file.exact_bytes(name).map_err(|e| fail(input, format!("{name}: {e}")))?;
                let same = stored == Some(s.data);
                if is_float(t.dtype()) && same {
                    signal += decode(0)?.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
                }
                let cell = if same { " inf |" } else { " differs |" };
                table.push_str(&cell.repeat(k));
            } else {
                let w =
                    f32_values(s.dtype, s.data).ok_or_else(|| fail(input, format!("{name}: not a float tensor")))?;
                let sig: f64 = w.iter().map(|&v| f64::from(v).powi(2)).sum();
                signal += sig;
                for (stage, acc) in noise.iter_mut().enumerate() {
                    let d = decode(stage + 1)?;
                    let err: f64 = w.iter().zip(&d).map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2)).sum();
                    *acc += err;
                    table.push_str(&format!(" {} |", fmt_db(snr_db(sig, err))));
                }
            }
        }
        table.push('\n');
    }
    table.push_str(&format!(
        "| total | {weights} weights | | {} of {} trellis | {} | {:.4} |",
        tensors.iter().filter(|t| t.is_quantized()).count(),
        tensors.len(),
        stages_held(&file),
        total_len as f64 * 8.0 / weights.max(1) as f64
    ));
    if model.is_some() {
        for acc in &noise {
            table.push_str(&format!(" {} |", fmt_db(snr_db(signal, *acc))));
        }
    }
    table.push('\n');
    print!("{table}");
    println!(
        "{total_len} bytes; {shared} of them ({HEADER_LEN}-byte header, {}stage table, codebook, padding{}) \
         apportioned to the tensors by elements",
        if own_entries { "" } else { "directory, " },
        if total_len > file.prefix_len(k) { ", incomplete stage" } else { "" }
    );
    Ok(())
}
