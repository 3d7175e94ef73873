//! nct-eval: NCT against candle's k-quants and per-group int4 on all-MiniLM-L6-v2.
//!
//! For every method and rate: bits a weight (every stored byte counted), model SNR over all
//! weights and per tensor, the Gaussian rate-distortion bound, sentence-embedding quality
//! (cosine to the original model's embeddings, top-10 retrieval overlap) from a MiniLM forward
//! pass in candle, NCT's single-thread decode speed and its encode time. Writes `report.md`,
//! `tensors.md` and `snr.svg` into the output directory.
//!
//! cargo run --release --manifest-path benches/nct-eval/Cargo.toml -- [--quick] [--out DIR]

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, HiddenAct};

type Res<T> = Result<T, Box<dyn Error>>;

/// dB per bit of the Gaussian rate-distortion bound: 20 log10(2).
const DB_PER_BIT: f64 = 6.020_599_913_279_624;

// ---------------------------------------------------------------------------------------------
// The model file

struct Weight {
    name: String,
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl Weight {
    /// A matrix (rank 2 or more): what the quantizers take. 1-D tensors (biases, LayerNorm)
    /// are kept exactly by every method.
    fn is_matrix(&self) -> bool {
        self.shape.len() >= 2
    }

    fn cols(&self) -> usize {
        self.shape.iter().skip(1).product()
    }
}

struct Model {
    /// Every f32 tensor, in the order of its data in the file.
    weights: Vec<Weight>,
    /// Tensors that are not f32 (name, dtype, shape): not weights, left out everywhere.
    skipped: Vec<(String, String, Vec<usize>)>,
}

fn load_safetensors(path: &PathBuf) -> Res<Model> {
    let bytes = std::fs::read(path).map_err(|e| {
        format!("{}: {e} (scripts/fetch-minilm.sh ~/.cache/haagenti/minilm fetches it)", path.display())
    })?;
    if bytes.len() < 8 {
        return Err(format!("{}: not a safetensors file", path.display()).into());
    }
    let n = u64::from_le_bytes(bytes[..8].try_into()?) as usize;
    if 8 + n > bytes.len() {
        return Err(format!("{}: header past the end of the file", path.display()).into());
    }
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n])?;
    let data = &bytes[8 + n..];
    let mut entries = Vec::new();
    for (name, v) in header.as_object().ok_or("header is not an object")? {
        if name == "__metadata__" {
            continue;
        }
        let dtype = v["dtype"].as_str().ok_or("dtype")?.to_string();
        let shape: Vec<usize> = v["shape"]
            .as_array()
            .ok_or("shape")?
            .iter()
            .map(|d| d.as_u64().map(|d| d as usize).ok_or("shape entry"))
            .collect::<Result<_, _>>()?;
        let off = v["data_offsets"].as_array().ok_or("data_offsets")?;
        let (a, b) = (off[0].as_u64().ok_or("offset")? as usize, off[1].as_u64().ok_or("offset")? as usize);
        if a > b || b > data.len() {
            return Err(format!("{name}: data offsets outside the file").into());
        }
        entries.push((a, b, name.clone(), dtype, shape));
    }
    entries.sort_by_key(|e| e.0);
    let mut model = Model { weights: Vec::new(), skipped: Vec::new() };
    for (a, b, name, dtype, shape) in entries {
        if dtype != "F32" {
            model.skipped.push((name, dtype, shape));
            continue;
        }
        let values: Vec<f32> =
            data[a..b].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        if values.len() != shape.iter().product::<usize>() {
            return Err(format!("{name}: {} values for shape {shape:?}", values.len()).into());
        }
        model.weights.push(Weight { name, shape, data: values });
    }
    Ok(model)
}

// ---------------------------------------------------------------------------------------------
// Methods. Each takes the tensors under test and returns their reconstruction.

/// One method's reconstruction of the tensors under test.
struct Recon {
    /// One per tensor under test, in order.
    weights: Vec<Vec<f32>>,
    /// Every bit the method stores for them.
    bits: f64,
    /// Weights the method actually quantized (the rest it kept at f32).
    quantized: usize,
}

/// How a k-quant takes MiniLM's matrices.
#[derive(Clone, Copy, PartialEq)]
enum KLayout {
    /// As candle takes them: the last dimension must be a multiple of the 256-weight
    /// super-block, else `QTensor::quantize` refuses and the matrix stays f32 (counted).
    Rows,
    /// Each matrix flattened to one row first, so super-blocks may span rows (every MiniLM
    /// matrix has a multiple of 256 weights).
    Flat,
}

/// k-quants through candle: `QTensor::quantize` on the CPU, then `dequantize`. 1-D tensors
/// stay f32.
fn kquant(ws: &[&Weight], dtype: GgmlDType, layout: KLayout) -> Res<Recon> {
    let (bs, ts) = (dtype.block_size(), dtype.type_size());
    let mut r = Recon { weights: Vec::new(), bits: 0.0, quantized: 0 };
    for w in ws {
        let n = w.data.len();
        let t = match layout {
            KLayout::Rows => Tensor::from_slice(&w.data, w.shape.as_slice(), &Device::Cpu)?,
            KLayout::Flat => Tensor::from_slice(&w.data, (n,), &Device::Cpu)?,
        };
        let q = if w.is_matrix() { QTensor::quantize(&t, dtype).ok() } else { None };
        match q {
            Some(q) => {
                let d = q.dequantize(&Device::Cpu)?.flatten_all()?.to_vec1::<f32>()?;
                if d.len() != n || n % bs != 0 {
                    return Err(format!("{}: {dtype:?} gave {} values for {n}", w.name, d.len()).into());
                }
                r.bits += (n / bs * ts * 8) as f64;
                r.quantized += n;
                r.weights.push(d);
            }
            None => {
                r.bits += 32.0 * n as f64;
                r.weights.push(w.data.clone());
            }
        }
    }
    Ok(r)
}

/// Per-group int4 as ggml's Q4_0 does it: for each `g` consecutive weights of a row, the value
/// of largest magnitude `m` gives the scale `d = m / -8` (stored as f16), codes
/// `clamp(round(w / d), -8, 7)`. 4 + 16/g bits a weight; 1-D tensors stay f32.
fn int4_group(ws: &[&Weight], g: usize) -> Res<Recon> {
    let mut r = Recon { weights: Vec::new(), bits: 0.0, quantized: 0 };
    for w in ws {
        if !w.is_matrix() || w.cols() % g != 0 {
            r.bits += 32.0 * w.data.len() as f64;
            r.weights.push(w.data.clone());
            continue;
        }
        let mut d = Vec::with_capacity(w.data.len());
        for grp in w.data.chunks_exact(g) {
            let m = grp.iter().fold(0f32, |m, &x| if x.abs() > m.abs() { x } else { m });
            let s = half::f16::from_f32(m / -8.0).to_f32();
            if s == 0.0 {
                d.extend(std::iter::repeat_n(0.0, g));
            } else {
                d.extend(grp.iter().map(|&x| (x / s).round().clamp(-8.0, 7.0) * s));
            }
        }
        r.bits += (w.data.len() * 4 + w.data.len() / g * 16) as f64;
        r.quantized += w.data.len();
        r.weights.push(d);
    }
    Ok(r)
}

#[cfg(feature = "nct")]
mod nct {
    use super::{Recon, Res, Weight};
    use haagenti_nct::{EncodeOptions, NctEncoder, NctFile};
    use std::collections::HashMap;
    use std::io::IsTerminal;
    use std::time::Instant;

    /// One NCT encoding.
    pub(crate) struct Encoded {
        pub(crate) bytes: Vec<u8>,
        pub(crate) encode_s: f64,
    }

    /// `calib`: input moments by weight name (`NctEncoder::calibrate`) for the tensors that
    /// have them.
    pub(crate) fn encode(
        ws: &[&Weight],
        bits: f64,
        threads: usize,
        calib: Option<&HashMap<String, Vec<f32>>>,
        allocate: bool,
    ) -> Res<Encoded> {
        let t = Instant::now();
        let mut enc = NctEncoder::new(EncodeOptions { bits, threads, allocate, ..Default::default() });
        for w in ws {
            let shape: Vec<u64> = w.shape.iter().map(|&d| d as u64).collect();
            let raw: Vec<u8> = w.data.iter().flat_map(|x| x.to_le_bytes()).collect();
            enc.add_tensor(&w.name, haagenti_hct::DType::F32, &shape, &raw)?;
            if let Some(m) = calib.and_then(|c| c.get(&w.name)) {
                enc.calibrate(&w.name, m)?;
            }
        }
        // On a terminal every percent in place; into a log file every 10%.
        let tty = std::io::stderr().is_terminal();
        let step = if tty { 1 } else { 10 };
        let mut last = u64::MAX;
        let bytes = enc.finish(&mut |done, total| {
            let pct = done * 100 / total.max(1) / step * step;
            if pct != last {
                last = pct;
                let (cr, nl) = if tty { ("\r", "") } else { ("", "\n") };
                eprint!("{cr}  NCT {bits} b/w: encoding {pct:3}% ({:.0} s){nl}", t.elapsed().as_secs_f64());
            }
        })?;
        if tty {
            eprintln!();
        }
        Ok(Encoded { bytes, encode_s: t.elapsed().as_secs_f64() })
    }

    pub(crate) fn stages(bytes: &[u8]) -> Res<usize> {
        Ok(NctFile::parse(bytes)?.stages())
    }

    /// Bits a quantized weight of each stage, as the encoder chose them, averaged over the
    /// quantized weights (stage 1's rate differs between tensors unless the rates are even).
    pub(crate) fn stage_bits(bytes: &[u8]) -> Res<Vec<f64>> {
        let f = NctFile::parse(bytes)?;
        // Over every quantized weight (stage 1's rate differs between tensors).
        let q: Vec<_> = f.tensors().iter().filter(|e| e.is_quantized()).collect();
        let n: f64 = q.iter().map(|e| e.numel() as f64).sum();
        let mut avg = vec![0.0; f.stage_count()];
        for e in &q {
            for (a, b) in avg.iter_mut().zip(e.stage_bits()) {
                *a += b * e.numel() as f64 / n;
            }
        }
        Ok(avg)
    }

    /// The tensors from the first `k` stages, at the bits of the file's first `k` stages.
    pub(crate) fn decode(ws: &[&Weight], bytes: &[u8], k: usize) -> Res<Recon> {
        let file = NctFile::parse(bytes)?;
        let mut r = Recon { weights: Vec::new(), bits: file.prefix_len(k) as f64 * 8.0, quantized: 0 };
        for w in ws {
            let d = file.decode_tensor(&w.name, k)?;
            if d.len() != w.data.len() {
                return Err(format!("{}: NCT decoded {} values for {}", w.name, d.len(), w.data.len()).into());
            }
            if file.entry(&w.name)?.is_quantized() {
                r.quantized += d.len();
            }
            r.weights.push(d);
        }
        Ok(r)
    }

    /// Single-thread decode speed of the first `k` stages.
    pub(crate) struct Speed {
        /// f32 output bytes of all tensors, over the time of all tensors (GB/s), each run.
        pub(crate) all: Vec<f64>,
        /// The same over the trellis-coded tensors only.
        pub(crate) quantized: Vec<f64>,
    }

    /// `decode_tensor_into` over every tensor (checksums included, outputs preallocated) on
    /// this thread: one warm-up pass, then `runs` timed passes.
    pub(crate) fn decode_speed(bytes: &[u8], k: usize, runs: usize) -> Res<Speed> {
        let file = NctFile::parse(bytes)?;
        let entries = file.tensors();
        let mut outs: Vec<Vec<f32>> = entries.iter().map(|e| vec![0f32; e.numel() as usize]).collect();
        let all_bytes: u64 = entries.iter().map(|e| 4 * e.numel()).sum();
        let q_bytes: u64 = entries.iter().filter(|e| e.is_quantized()).map(|e| 4 * e.numel()).sum();
        let mut s = Speed { all: Vec::new(), quantized: Vec::new() };
        for run in 0..=runs {
            let (mut t_all, mut t_q) = (0f64, 0f64);
            for (e, out) in entries.iter().zip(outs.iter_mut()) {
                let t = Instant::now();
                file.decode_tensor_into(e.name(), k, out)?;
                let dt = t.elapsed().as_secs_f64();
                t_all += dt;
                if e.is_quantized() {
                    t_q += dt;
                }
            }
            std::hint::black_box(&outs);
            if run > 0 {
                s.all.push(all_bytes as f64 / t_all / 1e9);
                s.quantized.push(q_bytes as f64 / t_q / 1e9);
            }
        }
        Ok(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics

/// 10 log10(signal / noise); infinite for an exact reconstruction.
fn db(signal: f64, noise: f64) -> f64 {
    if noise == 0.0 { f64::INFINITY } else { 10.0 * (signal / noise).log10() }
}

/// (sum W^2, sum (W - W')^2) of one tensor.
fn energies(w: &[f32], d: &[f32]) -> (f64, f64) {
    w.iter().zip(d).fold((0.0, 0.0), |(s, e), (&a, &b)| {
        let (a, b) = (a as f64, b as f64);
        (s + a * a, e + (a - b) * (a - b))
    })
}

struct Quality {
    /// Over all weights under test.
    snr_db: f64,
    /// Per matrix, in order of the tensors under test (1-D tensors left out).
    per_tensor: Vec<f64>,
}

fn quality(ws: &[&Weight], r: &Recon) -> Quality {
    let (mut s, mut e) = (0f64, 0f64);
    let mut per_tensor = Vec::new();
    for (w, d) in ws.iter().zip(&r.weights) {
        let (ts, te) = energies(&w.data, d);
        s += ts;
        e += te;
        if w.is_matrix() {
            per_tensor.push(db(ts, te));
        }
    }
    Quality { snr_db: db(s, e), per_tensor }
}

fn min_median(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let med = if s.len() % 2 == 1 { s[s.len() / 2] } else { (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0 };
    (s[0], med)
}

#[cfg_attr(not(feature = "nct"), allow(dead_code))]
fn median_range(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let med = if s.len() % 2 == 1 { s[s.len() / 2] } else { (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0 };
    (med, s[0], s[s.len() - 1])
}

// ---------------------------------------------------------------------------------------------
// Sentence embeddings

fn minilm_config() -> Config {
    // config.json of all-MiniLM-L6-v2.
    Config {
        vocab_size: 30522,
        hidden_size: 384,
        num_hidden_layers: 6,
        num_attention_heads: 12,
        intermediate_size: 1536,
        hidden_act: HiddenAct::Gelu,
        hidden_dropout_prob: 0.1,
        max_position_embeddings: 512,
        type_vocab_size: 2,
        initializer_range: 0.02,
        layer_norm_eps: 1e-12,
        pad_token_id: 0,
        position_embedding_type: Default::default(),
        use_cache: true,
        classifier_dropout: None,
        model_type: Some("bert".to_string()),
    }
}

struct Sentences {
    text: Vec<String>,
    ids: Vec<Vec<u32>>,
}

fn load_sentences(path: &str, limit: usize) -> Res<Sentences> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).map_err(|e| format!("{path}: {e}"))?)?;
    let text = v["sentences"]
        .as_array()
        .ok_or("sentences")?
        .iter()
        .map(|s| s.as_str().map(str::to_string).ok_or("sentence"))
        .collect::<Result<Vec<_>, _>>()?;
    let ids = v["ids"]
        .as_array()
        .ok_or("ids")?
        .iter()
        .map(|s| {
            s.as_array()
                .ok_or("ids entry")?
                .iter()
                .map(|i| i.as_u64().map(|i| i as u32).ok_or("token id"))
                .collect::<Result<Vec<u32>, _>>()
        })
        .collect::<Result<Vec<Vec<u32>>, _>>()?;
    if text.len() != ids.len() {
        return Err(format!("{path}: {} sentences but {} token lists", text.len(), ids.len()).into());
    }
    let n = limit.min(text.len()) / 3 * 3;
    Ok(Sentences { text: text[..n].to_vec(), ids: ids[..n].to_vec() })
}

/// Sentence embeddings as all-MiniLM-L6-v2 computes them: BERT, mean pooling over the
/// attention mask, L2 normalization. `over` replaces some of the model's tensors by name.
fn embed(model: &Model, over: &HashMap<&str, &[f32]>, s: &Sentences) -> Res<Vec<Vec<f32>>> {
    let dev = Device::Cpu;
    let mut ts = HashMap::new();
    for w in &model.weights {
        let d = over.get(w.name.as_str()).copied().unwrap_or(&w.data);
        ts.insert(w.name.clone(), Tensor::from_slice(d, w.shape.as_slice(), &dev)?);
    }
    let vb = VarBuilder::from_tensors(ts, DType::F32, &dev);
    let bert = BertModel::load(vb, &minilm_config())?;
    // Batches of similar lengths, padded with [PAD] = 0 and masked.
    let mut order: Vec<usize> = (0..s.ids.len()).collect();
    order.sort_by_key(|&i| s.ids[i].len());
    let mut out = vec![Vec::new(); s.ids.len()];
    for batch in order.chunks(32) {
        let len = batch.iter().map(|&i| s.ids[i].len()).max().unwrap_or(1);
        let mut ids = Vec::with_capacity(batch.len() * len);
        let mut mask = Vec::with_capacity(batch.len() * len);
        for &i in batch {
            let t = &s.ids[i];
            ids.extend(t.iter().copied().chain(std::iter::repeat_n(0, len - t.len())));
            mask.extend(std::iter::repeat_n(1u32, t.len()).chain(std::iter::repeat_n(0, len - t.len())));
        }
        let ids = Tensor::from_vec(ids, (batch.len(), len), &dev)?;
        let mask = Tensor::from_vec(mask, (batch.len(), len), &dev)?;
        let types = ids.zeros_like()?;
        let h = bert.forward(&ids, &types, Some(&mask))?; // (b, len, 384)
        let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let mean = h.broadcast_mul(&m)?.sum(1)?.broadcast_div(&m.sum(1)?)?;
        for (&i, mut e) in batch.iter().zip(mean.to_vec2::<f32>()?) {
            let n = e.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            e.iter_mut().for_each(|x| *x /= n);
            out[i] = e;
        }
    }
    Ok(out)
}

/// Input second moments of every linear layer, `E[x xᵀ]` over the real (unpadded) tokens of
/// `s`, keyed by the weight's name: what `NctEncoder::calibrate` takes. A forward pass of its
/// own (candle ops, the same arithmetic as candle-transformers' BERT) that keeps each linear
/// layer's input; the second value is its largest difference from `embed`'s embeddings.
fn input_moments(model: &Model, s: &Sentences) -> Res<(HashMap<String, Vec<f32>>, f32)> {
    use candle_core::D;
    let dev = Device::Cpu;
    let cfg = minilm_config();
    let get = |name: &str| -> Res<Tensor> {
        let w = model.weights.iter().find(|w| w.name == name).ok_or_else(|| format!("no tensor {name}"))?;
        Ok(Tensor::from_slice(&w.data, w.shape.as_slice(), &dev)?)
    };
    let ln = |x: &Tensor, p: &str| -> Res<Tensor> {
        let m = x.mean_keepdim(D::Minus1)?;
        let xc = x.broadcast_sub(&m)?;
        let v = xc.sqr()?.mean_keepdim(D::Minus1)?;
        let y = xc.broadcast_div(&(v + cfg.layer_norm_eps)?.sqrt()?)?;
        Ok(y.broadcast_mul(&get(&format!("{p}.weight"))?)?.broadcast_add(&get(&format!("{p}.bias"))?)?)
    };
    let linear = |x: &Tensor, p: &str| -> Res<Tensor> {
        let w = get(&format!("{p}.weight"))?;
        Ok(x.broadcast_matmul(&w.t()?)?.broadcast_add(&get(&format!("{p}.bias"))?)?)
    };
    let mut sums: HashMap<String, (Vec<f64>, f64)> = HashMap::new();
    let mut keep = |names: &[String], x: &Tensor, mask: &Tensor| -> Res<()> {
        let cols = x.dim(D::Minus1)?;
        let x = x.broadcast_mul(&mask.unsqueeze(2)?)?.reshape(((), cols))?;
        let xtx = x.t()?.matmul(&x)?.flatten_all()?.to_vec1::<f32>()?;
        let tokens = mask.sum_all()?.to_scalar::<f32>()? as f64;
        for n in names {
            let e = sums.entry(n.clone()).or_insert_with(|| (vec![0.0; cols * cols], 0.0));
            e.0.iter_mut().zip(&xtx).for_each(|(a, &v)| *a += v as f64);
            e.1 += tokens;
        }
        Ok(())
    };
    let heads = cfg.num_attention_heads;
    let hd = cfg.hidden_size / heads;
    let reference = embed(model, &HashMap::new(), s)?;
    let mut worst = 0f32;
    let mut order: Vec<usize> = (0..s.ids.len()).collect();
    order.sort_by_key(|&i| s.ids[i].len());
    for batch in order.chunks(32) {
        let (b, len) = (batch.len(), batch.iter().map(|&i| s.ids[i].len()).max().unwrap_or(1));
        let mut ids = Vec::with_capacity(b * len);
        let mut mask = Vec::with_capacity(b * len);
        for &i in batch {
            let t = &s.ids[i];
            ids.extend(t.iter().copied().chain(std::iter::repeat_n(0, len - t.len())));
            mask.extend(std::iter::repeat_n(1f32, t.len()).chain(std::iter::repeat_n(0.0, len - t.len())));
        }
        let ids = Tensor::from_vec(ids, b * len, &dev)?;
        let mask = Tensor::from_vec(mask, (b, len), &dev)?;
        let word = get("embeddings.word_embeddings.weight")?.index_select(&ids, 0)?.reshape((b, len, ()))?;
        let pos = get("embeddings.position_embeddings.weight")?.narrow(0, 0, len)?;
        let typ = get("embeddings.token_type_embeddings.weight")?.narrow(0, 0, 1)?;
        let mut h = ln(&word.broadcast_add(&pos)?.broadcast_add(&typ)?, "embeddings.LayerNorm")?;
        // Padded keys get a large negative score.
        let bias = ((mask.ones_like()? - &mask)? * -1e9f64)?.reshape((b, 1, 1, len))?;
        for l in 0..cfg.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            let qkv = ["query", "key", "value"].map(|n| format!("{p}.attention.self.{n}"));
            keep(&qkv.iter().map(|n| format!("{n}.weight")).collect::<Vec<_>>(), &h, &mask)?;
            let split =
                |t: Tensor| -> Res<Tensor> { Ok(t.reshape((b, len, heads, hd))?.transpose(1, 2)?.contiguous()?) };
            let q = split(linear(&h, &qkv[0])?)?;
            let k = split(linear(&h, &qkv[1])?)?;
            let v = split(linear(&h, &qkv[2])?)?;
            let scores = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?.broadcast_add(&bias)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b, len, ()))?;
            keep(&[format!("{p}.attention.output.dense.weight")], &ctx, &mask)?;
            let a = linear(&ctx, &format!("{p}.attention.output.dense"))?;
            let h1 = ln(&(a + &h)?, &format!("{p}.attention.output.LayerNorm"))?;
            keep(&[format!("{p}.intermediate.dense.weight")], &h1, &mask)?;
            let i = linear(&h1, &format!("{p}.intermediate.dense"))?.gelu_erf()?;
            keep(&[format!("{p}.output.dense.weight")], &i, &mask)?;
            let o = linear(&i, &format!("{p}.output.dense"))?;
            h = ln(&(o + h1)?, &format!("{p}.output.LayerNorm"))?;
        }
        let m = mask.unsqueeze(2)?;
        let mean = h.broadcast_mul(&m)?.sum(1)?.broadcast_div(&m.sum(1)?)?;
        for (&i, e) in batch.iter().zip(mean.to_vec2::<f32>()?) {
            let n = e.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            for (a, r) in e.iter().zip(&reference[i]) {
                worst = worst.max((a / n - r).abs());
            }
        }
    }
    let out =
        sums.into_iter().map(|(k, (v, n))| (k, v.into_iter().map(|x| (x / n.max(1.0)) as f32).collect())).collect();
    Ok((out, worst))
}

/// Writes input moments as a .safetensors file: one F32 `[cols, cols]` tensor per weight name.
fn write_moments(path: &PathBuf, m: &HashMap<String, Vec<f32>>) -> Res<()> {
    let mut names: Vec<&String> = m.keys().collect();
    names.sort();
    let mut header = serde_json::Map::new();
    let mut at = 0usize;
    for n in &names {
        let len = m[*n].len();
        let cols = (len as f64).sqrt() as usize;
        header.insert(
            (*n).clone(),
            serde_json::json!({"dtype": "F32", "shape": [cols, cols], "data_offsets": [at, at + 4 * len]}),
        );
        at += 4 * len;
    }
    let mut h = serde_json::to_string(&header)?;
    while h.len() % 8 != 0 {
        h.push(' ');
    }
    let mut out = Vec::with_capacity(8 + h.len() + at);
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    for n in &names {
        out.extend(m[*n].iter().flat_map(|v| v.to_le_bytes()));
    }
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()).into())
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// For each sentence the indices of the `k` most similar other sentences.
fn top_k(e: &[Vec<f32>], k: usize) -> Vec<Vec<usize>> {
    (0..e.len())
        .map(|i| {
            let mut s: Vec<(f32, usize)> = (0..e.len()).filter(|&j| j != i).map(|j| (dot(&e[i], &e[j]), j)).collect();
            s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            s.into_iter().take(k).map(|x| x.1).collect()
        })
        .collect()
}

struct EmbQuality {
    mean_cos: f64,
    min_cos: f64,
    top10: f64,
}

fn emb_quality(orig: &[Vec<f32>], orig_top: &[Vec<usize>], q: &[Vec<f32>]) -> EmbQuality {
    let cos: Vec<f64> = orig.iter().zip(q).map(|(a, b)| dot(a, b) as f64).collect();
    let qt = top_k(q, orig_top.first().map_or(10, Vec::len));
    let overlap: f64 = orig_top
        .iter()
        .zip(&qt)
        .map(|(a, b)| a.iter().filter(|x| b.contains(x)).count() as f64 / a.len().max(1) as f64)
        .sum::<f64>()
        / orig.len() as f64;
    EmbQuality {
        mean_cos: cos.iter().sum::<f64>() / cos.len() as f64,
        min_cos: cos.iter().copied().fold(f64::INFINITY, f64::min),
        top10: overlap,
    }
}

/// The original model's embeddings must put paraphrases much closer than unrelated sentences.
fn sanity(s: &Sentences, e: &[Vec<f32>], secs: f64) -> String {
    let groups = s.text.len() / 3;
    let (mut para, mut query, mut unrel) = (0f64, 0f64, 0f64);
    let (mut wins, mut nn_hits) = (0, 0);
    for g in 0..groups {
        let (a, b, q) = (3 * g, 3 * g + 1, 3 * g + 2);
        let o = 3 * ((g + groups / 2) % groups) + 1; // a paraphrase from an unrelated group
        let p = dot(&e[a], &e[b]) as f64;
        let u = dot(&e[a], &e[o]) as f64;
        para += p;
        query += dot(&e[a], &e[q]) as f64;
        unrel += u;
        wins += usize::from(p > u);
        let nn = (0..e.len()).filter(|&j| j != a).max_by(|&i, &j| dot(&e[a], &e[i]).total_cmp(&dot(&e[a], &e[j])));
        nn_hits += usize::from(nn == Some(b) || nn == Some(q));
    }
    let g = groups.max(1) as f64;
    format!(
        "- forward pass of the original model ({} sentences, {} tokens, {secs:.2} s): mean cos of paraphrase pairs {:.3}, of a statement and its question {:.3}, of unrelated pairs {:.3}; the paraphrase is closer than an unrelated sentence in {wins}/{groups} groups; a statement's nearest neighbour is its paraphrase or question in {nn_hits}/{groups}\n",
        s.text.len(),
        s.ids.iter().map(Vec::len).sum::<usize>(),
        para / g,
        query / g,
        unrel / g,
    )
}

/// Compares the first embeddings with those of an independent numpy forward pass
/// (data/reference.py, float64, each sentence alone without padding).
fn reference_check(e: &[Vec<f32>]) -> Res<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/reference_embeddings.json");
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(format!("- reference check: {path} missing (run data/reference.py)\n"));
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes)?;
    let refs = v["embeddings"].as_array().ok_or("embeddings")?;
    let (mut max_diff, mut min_cos) = (0f64, f64::INFINITY);
    for (r, ours) in refs.iter().zip(e) {
        let r: Vec<f64> = r.as_array().ok_or("embedding")?.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect();
        min_cos = min_cos.min(r.iter().zip(ours).map(|(a, &b)| a * b as f64).sum());
        for (a, &b) in r.iter().zip(ours) {
            max_diff = max_diff.max((a - b as f64).abs());
        }
    }
    Ok(format!(
        "- check of the candle forward pass against an independent float64 numpy one (data/reference.py, unpadded) on the first {} sentences: max |difference| {max_diff:.2e}, min cosine {min_cos:.7}\n",
        refs.len().min(e.len())
    ))
}

// ---------------------------------------------------------------------------------------------
// Report

struct Row {
    method: String,
    /// Points of one family are joined in the plot.
    family: String,
    /// Short label in the plot.
    label: String,
    stages: String,
    bpw: f64,
    quantized_share: f64,
    q: Quality,
    emb: Option<EmbQuality>,
}

fn sh(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = info.lines().filter(|l| l.starts_with("processor")).count();
    let avail = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<f64>().ok()))
        .map(|kb| format!(", {:.1} GiB memory", kb / 1048576.0))
        .unwrap_or_default();
    format!("{model}, {cpus} logical CPUs ({avail} available to this process){mem}")
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn versions() -> String {
    let lock = include_str!("../Cargo.lock");
    let want = ["candle-core", "candle-nn", "candle-transformers", "gemm", "half", "haagenti-nct", "haagenti-hct"];
    let mut out = Vec::new();
    let mut name = "";
    for l in lock.lines() {
        if let Some(n) = l.strip_prefix("name = ") {
            name = n.trim_matches('"');
        } else if let Some(v) = l.strip_prefix("version = ")
            && want.contains(&name)
        {
            out.push(format!("{name} {}", v.trim_matches('"')));
        }
    }
    out.join(", ")
}

fn f(x: f64, digits: usize) -> String {
    if x.is_nan() {
        "".into()
    } else if x.is_infinite() {
        "exact".into()
    } else {
        format!("{x:.digits$}")
    }
}

fn results_table(rows: &[Row], embeddings: bool) -> String {
    let mut s = String::new();
    s += "| method | stages | bits/weight | quantized | SNR dB | bound dB | gap dB | tensor SNR min | tensor SNR median |";
    s += if embeddings { " mean cos | min cos | top-10 overlap |\n" } else { "\n" };
    s += "|---|---|---:|---:|---:|---:|---:|---:|---:|";
    s += if embeddings { "---:|---:|---:|\n" } else { "\n" };
    for r in rows {
        let bound = DB_PER_BIT * r.bpw;
        let (tmin, tmed) = min_median(&r.q.per_tensor);
        let _ = write!(
            s,
            "| {} | {} | {:.4} | {:.1}% | {} | {:.2} | {} | {} | {} |",
            r.method,
            r.stages,
            r.bpw,
            100.0 * r.quantized_share,
            f(r.q.snr_db, 2),
            bound,
            f(bound - r.q.snr_db, 2),
            f(tmin, 2),
            f(tmed, 2)
        );
        if embeddings {
            match &r.emb {
                Some(e) => {
                    let _ = write!(s, " {:.5} | {:.5} | {:.3} |", e.mean_cos, e.min_cos, e.top10);
                }
                None => s += " | | |",
            }
        }
        s += "\n";
    }
    s
}

/// Per-tensor SNR of every method, one row a matrix.
fn tensor_table(ws: &[&Weight], rows: &[Row]) -> String {
    let mats: Vec<&&Weight> = ws.iter().filter(|w| w.is_matrix()).collect();
    let cols: Vec<&Row> =
        rows.iter().filter(|r| r.q.per_tensor.len() == mats.len() && r.quantized_share > 0.0).collect();
    let mut s = String::from("| tensor | shape |");
    for r in &cols {
        let _ = write!(s, " {} |", r.label.replace('\n', " "));
    }
    s += "\n|---|---|";
    s += &"---:|".repeat(cols.len());
    s += "\n";
    for (i, w) in mats.iter().enumerate() {
        let _ = write!(s, "| {} | {:?} |", w.name, w.shape);
        for r in &cols {
            let _ = write!(s, " {} |", f(r.q.per_tensor[i], 2));
        }
        s += "\n";
    }
    s
}

fn svg(rows: &[Row], title: &str, note: &str) -> String {
    let pts: Vec<&Row> = rows.iter().filter(|r| r.q.snr_db.is_finite() && r.bpw < 8.0).collect();
    let off: Vec<&Row> = rows.iter().filter(|r| r.q.snr_db.is_finite() && r.bpw >= 8.0).collect();
    let xmax = (pts.iter().map(|r| r.bpw).fold(1.0, f64::max) + 0.25).ceil();
    let ymax = (pts.iter().map(|r| r.q.snr_db).fold(DB_PER_BIT * xmax, f64::max) / 5.0).ceil() * 5.0;
    let (w, h, l, r, t, b) = (900.0, 600.0, 70.0, 250.0, 50.0, 80.0);
    let px = |x: f64| l + x / xmax * (w - l - r);
    let py = |y: f64| h - b - y / ymax * (h - t - b);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"25\" font-size=\"15\" text-anchor=\"middle\">{}</text>",
        (l + w - r) / 2.0,
        esc(title)
    );
    let mut x = 0.0;
    while x <= xmax + 1e-9 {
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#ddd\"/><text x=\"{0:.1}\" y=\"{3:.1}\" text-anchor=\"middle\">{4}</text>",
            px(x),
            py(0.0),
            py(ymax),
            py(0.0) + 18.0,
            x
        );
        x += 0.5;
    }
    let mut y = 0.0;
    while y <= ymax + 1e-9 {
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{2:.1}\" y2=\"{1:.1}\" stroke=\"#ddd\"/><text x=\"{3:.1}\" y=\"{4:.1}\" text-anchor=\"end\">{5}</text>",
            px(0.0),
            py(y),
            px(xmax),
            px(0.0) - 6.0,
            py(y) + 4.0,
            y
        );
        y += 5.0;
    }
    let _ = writeln!(
        s,
        "<rect x=\"{l}\" y=\"{t}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>",
        w - l - r,
        h - t - b
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">bits per weight (every stored byte)</text>",
        px(xmax / 2.0),
        h - b + 40.0
    );
    let _ = writeln!(
        s,
        "<text transform=\"translate(20 {}) rotate(-90)\" text-anchor=\"middle\">model SNR (dB)</text>",
        py(ymax / 2.0)
    );
    let _ = writeln!(s, "<text x=\"{l}\" y=\"{}\" font-size=\"10\" fill=\"#444\">{}</text>", h - 12.0, esc(note));
    // The bound.
    let yb = (DB_PER_BIT * xmax).min(ymax);
    let _ = writeln!(
        s,
        "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\" stroke-dasharray=\"6 4\"/>",
        px(0.0),
        py(0.0),
        px(yb / DB_PER_BIT),
        py(yb)
    );
    // NCT in reds, k-quants in blues, int4 in green, anything else grey.
    let (nct_colors, kq_colors) = (["#d62728", "#ff7f0e", "#8c1a1a", "#e377c2"], ["#1f77b4", "#17becf"]);
    let (mut n_nct, mut n_kq) = (0, 0);
    let mut families: Vec<&str> = Vec::new();
    for r in &pts {
        if !families.contains(&r.family.as_str()) {
            families.push(&r.family);
        }
    }
    let mut placed: Vec<(f64, f64)> = Vec::new();
    let mut nct_seen: Vec<(String, &str)> = Vec::new();
    for (i, fam) in families.iter().enumerate() {
        let c = if fam.starts_with("NCT") {
            // `NCT even B` takes the colour of `NCT B`.
            let base = fam.replace(" even", "");
            match nct_seen.iter().find(|(f, _)| *f == base) {
                Some(&(_, c)) => c,
                None => {
                    n_nct += 1;
                    let c = nct_colors[(n_nct - 1) % nct_colors.len()];
                    nct_seen.push((base, c));
                    c
                }
            }
        } else if fam.starts_with("k-quants") {
            n_kq += 1;
            kq_colors[(n_kq - 1) % kq_colors.len()]
        } else if fam.starts_with("int4") {
            "#2ca02c"
        } else {
            "#7f7f7f"
        };
        let mut fp: Vec<&&Row> = pts.iter().filter(|r| r.family == *fam).collect();
        fp.sort_by(|a, b| a.bpw.total_cmp(&b.bpw));
        // Even-rate NCT (`--even`): dashed lines and open points, beside the default's.
        let even = fam.contains("even");
        let dash = if even { " stroke-dasharray=\"5 3\"" } else { "" };
        let point = if even { format!("fill=\"#fff\" stroke=\"{c}\" stroke-width=\"1.5\"") } else { format!("fill=\"{c}\"") };
        if fp.len() > 1 {
            let d: Vec<String> = fp.iter().map(|r| format!("{:.1},{:.1}", px(r.bpw), py(r.q.snr_db))).collect();
            let _ = writeln!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\"{dash}/>",
                d.join(" ")
            );
        }
        for r in &fp {
            let _ = writeln!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" {point}><title>{}: {:.3} b/w, {:.2} dB</title></circle>",
                px(r.bpw),
                py(r.q.snr_db),
                esc(&r.method),
                r.bpw,
                r.q.snr_db
            );
            // Labels of coincident points (a first stage shared by two targets) go one under another.
            let lx = px(r.bpw) + 6.0;
            let mut ly = py(r.q.snr_db) + 12.0;
            while placed.iter().any(|&(x, y): &(f64, f64)| (x - lx).abs() < 45.0 && (y - ly).abs() < 10.0) {
                ly += 10.0;
            }
            placed.push((lx, ly));
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" fill=\"{c}\">{}</text>",
                lx,
                ly,
                esc(&r.label)
            );
        }
        let ly = t + 10.0 + 20.0 * i as f64;
        let _ = writeln!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{ly:.1}\" r=\"4\" {point}/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            w - r + 15.0,
            w - r + 25.0,
            ly + 4.0,
            esc(fam)
        );
    }
    let mut ly = t + 10.0 + 20.0 * families.len() as f64;
    let _ = writeln!(
        s,
        "<line x1=\"{:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"black\" stroke-dasharray=\"6 4\"/><text x=\"{:.1}\" y=\"{:.1}\">Gaussian bound, 6.02 dB/bit</text>",
        w - r + 8.0,
        w - r + 22.0,
        w - r + 25.0,
        ly + 4.0
    );
    if !off.is_empty() {
        ly += 30.0;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{ly:.1}\" font-size=\"10\">off the plot (rate &gt; 8 b/w):</text>",
            w - r + 8.0
        );
        for o in off {
            ly += 14.0;
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{ly:.1}\" font-size=\"10\">{}: {:.2} b/w, {:.1} dB</text>",
                w - r + 8.0,
                esc(&o.label),
                o.bpw,
                o.q.snr_db
            );
        }
    }
    s += "</svg>\n";
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

// ---------------------------------------------------------------------------------------------

struct Args {
    quick: bool,
    out: PathBuf,
    model: PathBuf,
    rates: Vec<f64>,
    sentences: usize,
    runs: usize,
    threads: usize,
    calib: bool,
    even: bool,
    write_calib: Option<PathBuf>,
}

const USAGE: &str = "nct-eval [--quick] [--out DIR] [--model model.safetensors] [--rates 2,3,4] [--sentences N] [--runs N] [--threads N] [--even] [--calib]

  --quick       CI smoke run: the tensors of encoder layer 0 only, NCT at 2 b/w, 30 sentences
  --out DIR     where report.md, tensors.md and snr.svg go (default benches/nct-eval/out,
                with --quick benches/nct-eval/out/quick)
  --model PATH  the f32 safetensors of all-MiniLM-L6-v2 (default ~/.cache/haagenti/minilm/model.safetensors)
  --rates LIST  NCT targets in bits a weight (default 2,3,4; --quick 2)
  --sentences N sentences for the embedding comparison (default 300, all; --quick 30; 0: none)
  --runs N      timed decode passes after one warm-up (default 7; --quick 3)
  --threads N   encoder threads (default 0: every core)
  --even        also encode every rate with the same rates for every tensor (`EncodeOptions::allocate`
                off; by default stage 1's bits are spread by the tensors' energy)
  --calib       also encode every rate calibrated (NctEncoder::calibrate) with input moments
                from data/calibration.txt, a text apart from the evaluation sentences
  --write-calib FILE  with --calib, write those moments as .safetensors (F32 [cols, cols] per
                weight name): the file `haagenti nct encode --calib` takes";

fn parse_args() -> Res<Option<Args>> {
    let home = std::env::var("HOME").unwrap_or_default();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let quick = argv.iter().any(|a| a == "--quick");
    let mut a = Args {
        quick,
        out: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/out")).join(if quick { "quick" } else { "" }),
        model: PathBuf::from(format!("{home}/.cache/haagenti/minilm/model.safetensors")),
        rates: if quick { vec![2.0] } else { vec![2.0, 3.0, 4.0] },
        sentences: if quick { 30 } else { usize::MAX },
        runs: if quick { 3 } else { 7 },
        threads: 0,
        calib: false,
        even: false,
        write_calib: None,
    };
    let mut it = argv.into_iter();
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--quick" => {}
            "--out" => a.out = val("--out")?.into(),
            "--model" => a.model = val("--model")?.into(),
            "--rates" => {
                a.rates = val("--rates")?
                    .split(',')
                    .map(|r| r.trim().parse::<f64>().map_err(|e| format!("--rates {r}: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--sentences" => a.sentences = val("--sentences")?.parse().map_err(|e| format!("--sentences: {e}"))?,
            "--runs" => a.runs = val("--runs")?.parse::<usize>().map_err(|e| format!("--runs: {e}"))?.max(1),
            "--calib" => a.calib = true,
            "--even" => a.even = true,
            "--write-calib" => a.write_calib = Some(val("--write-calib")?.into()),
            "--threads" => a.threads = val("--threads")?.parse().map_err(|e| format!("--threads: {e}"))?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            _ => return Err(format!("unknown argument {arg}\n{USAGE}").into()),
        }
    }
    if a.write_calib.is_some() && !a.calib {
        return Err("--write-calib needs --calib".into());
    }
    Ok(Some(a))
}

fn main() {
    if let Err(e) = run() {
        eprintln!("nct-eval: {e}");
        std::process::exit(1);
    }
}

fn run() -> Res<()> {
    let Some(args) = parse_args()? else { return Ok(()) };
    let started = Instant::now();
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;

    #[cfg_attr(not(feature = "nct"), allow(unused_mut))]
    let mut md = String::from("# nct-eval: NCT against k-quants and per-group int4 on all-MiniLM-L6-v2\n\n");
    let _ = writeln!(md, "- date: {}", sh("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"]));
    let _ = writeln!(md, "- machine: {}; load average at start {}", machine(), loadavg());
    let _ =
        writeln!(md, "- crates: {}; rustc {}", versions(), sh("rustc", &["--version"]).trim_start_matches("rustc "));
    let _ = writeln!(md, "- haagenti-nct built from commit {}", env!("NCT_SOURCE"));
    let _ =
        writeln!(md, "- command: `nct-eval{}`", std::env::args().skip(1).map(|a| format!(" {a}")).collect::<String>());

    let t = Instant::now();
    let model = load_safetensors(&args.model)?;
    let ws: Vec<&Weight> =
        model.weights.iter().filter(|w| !args.quick || w.name.starts_with("encoder.layer.0.")).collect();
    if ws.is_empty() {
        return Err("no tensors to test".into());
    }
    let n: usize = ws.iter().map(|w| w.data.len()).sum();
    let n_all: usize = model.weights.iter().map(|w| w.data.len()).sum();
    let _ = writeln!(
        md,
        "- model: {} ({} f32 tensors, {n_all} weights, read in {:.2} s)",
        args.model.display(),
        model.weights.len(),
        t.elapsed().as_secs_f64()
    );
    for (name, dt, shape) in &model.skipped {
        let _ = writeln!(md, "- left out everywhere (not a weight): {name} {dt} {shape:?}");
    }
    if args.quick {
        let _ = writeln!(
            md,
            "- **--quick**: only the {} tensors of encoder.layer.0 ({n} weights) are quantized and counted; the rest of the model stays f32 in the forward passes",
            ws.len()
        );
    }
    eprint!("{md}");

    // The original model's embeddings.
    let mut sent = None;
    let (mut orig_emb, mut orig_top) = (Vec::new(), Vec::new());
    if args.sentences > 0 {
        let s = load_sentences(concat!(env!("CARGO_MANIFEST_DIR"), "/data/token_ids.json"), args.sentences)?;
        let t = Instant::now();
        orig_emb = embed(&model, &HashMap::new(), &s)?;
        let fwd = t.elapsed().as_secs_f64();
        orig_top = top_k(&orig_emb, 10.min(s.text.len().saturating_sub(1)));
        let lines = sanity(&s, &orig_emb, fwd) + &reference_check(&orig_emb)?;
        eprint!("{lines}");
        md += &lines;
        sent = Some(s);
    }
    let embeddings = sent.is_some();

    let mut rows: Vec<Row> = Vec::new();
    let evaluate = |method: String, family: &str, label: String, stages: String, r: &Recon| -> Res<Row> {
        let q = quality(&ws, r);
        let emb = match &sent {
            Some(s) => {
                let over: HashMap<&str, &[f32]> =
                    ws.iter().zip(&r.weights).map(|(w, d)| (w.name.as_str(), d.as_slice())).collect();
                Some(emb_quality(&orig_emb, &orig_top, &embed(&model, &over, s)?))
            }
            None => None,
        };
        let row = Row {
            method,
            family: family.into(),
            label,
            stages,
            bpw: r.bits / n as f64,
            quantized_share: r.quantized as f64 / n as f64,
            q,
            emb,
        };
        eprintln!(
            "  {}: {:.4} b/w, {} dB{}",
            row.method,
            row.bpw,
            f(row.q.snr_db, 2),
            row.emb
                .as_ref()
                .map(|e| format!(", mean cos {:.5}, top-10 {:.3}", e.mean_cos, e.top10))
                .unwrap_or_default()
        );
        Ok(row)
    };

    if embeddings {
        let orig = Recon { weights: ws.iter().map(|w| w.data.clone()).collect(), bits: 32.0 * n as f64, quantized: 0 };
        rows.push(evaluate("f32 (original)".into(), "f32", "f32".into(), "".into(), &orig)?);
    }

    // NCT at every target and every stage prefix.
    #[cfg_attr(not(feature = "nct"), allow(unused_mut))]
    let mut speed_md = String::new();
    #[cfg(feature = "nct")]
    {
        let threads =
            if args.threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { args.threads };
        speed_md += "| NCT target | stages decoded | bits/weight | decode GB/s, all tensors: median (min to max) | decode GB/s, trellis tensors only | encode s |\n";
        speed_md += "|---|---|---:|---:|---:|---:|\n";
        // Calibration: input moments from data/calibration.txt (not the evaluation sentences).
        let calib = if args.calib {
            let s = load_sentences(concat!(env!("CARGO_MANIFEST_DIR"), "/data/calibration_ids.json"), usize::MAX)?;
            let t = Instant::now();
            let (m, worst) = input_moments(&model, &s)?;
            let tokens: usize = s.ids.iter().map(Vec::len).sum();
            let line = format!(
                "- calibration: input moments of {} linear layers from {} sentences ({tokens} tokens) of data/calibration.txt in {:.1} s; that forward pass differs from candle-transformers' by at most {worst:.2e} in any embedding component\n",
                m.len(),
                s.ids.len(),
                t.elapsed().as_secs_f64()
            );
            if worst > 1e-4 {
                return Err(format!("the calibration forward pass is not BERT's: {line}").into());
            }
            eprint!("{line}");
            md += &line;
            if let Some(p) = &args.write_calib {
                write_moments(p, &m)?;
                let _ = writeln!(md, "- input moments written to {} (for `haagenti nct encode --calib`)", p.display());
            }
            Some(m)
        } else {
            None
        };

        // (rate, calibrated, even rates)
        let variants: Vec<(f64, bool, bool)> = args
            .rates
            .iter()
            .flat_map(|&b| {
                std::iter::once((b, false, false))
                    .chain(args.even.then_some((b, false, true)))
                    .chain(calib.is_some().then_some((b, true, false)))
            })
            .collect();
        for &(b, calibrated, even) in &variants {
            let tag = match (calibrated, even) {
                (true, _) => "NCT+calib",
                (false, true) => "NCT even",
                (false, false) => "NCT",
            };
            let e = nct::encode(&ws, b, args.threads, if calibrated { calib.as_ref() } else { None }, !even)?;
            let stages = nct::stages(&e.bytes)?;
            let sb = nct::stage_bits(&e.bytes)?;
            let plan = sb.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(" + ");
            eprintln!(
                "  {tag} {b} b/w: {} bytes, {stages} stages ({plan} bits a quantized weight), encoded in {:.1} s on {threads} threads",
                e.bytes.len(),
                e.encode_s
            );
            for k in 1..=stages {
                let r = nct::decode(&ws, &e.bytes, k)?;
                let label = if stages == 1 { format!("{tag} {b}") } else { format!("{tag} {b}: {k}/{stages}") };
                rows.push(evaluate(
                    format!("{tag} {b} b/w, stages 1..{k} of {stages}"),
                    &format!("{tag} {b} b/w"),
                    label,
                    format!(
                        "{k}/{stages} ({})",
                        sb[..k].iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join("+")
                    ),
                    &r,
                )?);
                let sp = nct::decode_speed(&e.bytes, k, args.runs)?;
                let (m, lo, hi) = median_range(&sp.all);
                let (mq, loq, hiq) = median_range(&sp.quantized);
                let _ = writeln!(
                    speed_md,
                    "| {tag} {b} b/w | {k}/{stages} | {:.4} | {m:.3} ({lo:.3} to {hi:.3}) | {mq:.3} ({loq:.3} to {hiq:.3}) | {} |",
                    r.bits / n as f64,
                    if k == stages { format!("{:.1} ({threads} threads)", e.encode_s) } else { "".into() }
                );
                eprintln!(
                    "  decode of {k}/{stages} stages, one thread: {m:.3} GB/s ({lo:.3} to {hi:.3}); trellis tensors only {mq:.3} GB/s"
                );
            }
        }
    }
    #[cfg(not(feature = "nct"))]
    {
        md += "- NCT rows: not built (feature `nct` off)\n";
    }

    // Baselines.
    for (dt, name, rate) in
        [(GgmlDType::Q2K, "Q2K", 2.625), (GgmlDType::Q3K, "Q3K", 3.4375), (GgmlDType::Q4K, "Q4K", 4.5)]
    {
        let got = (dt.type_size() * 8) as f64 / dt.block_size() as f64;
        if got != rate {
            return Err(format!("candle's {name} takes {got} bits a weight, not {rate}").into());
        }
        for (layout, how, fam) in [
            (KLayout::Flat, "flattened", "k-quants, matrices flattened"),
            (KLayout::Rows, "rows as candle takes them", "k-quants, candle's row rule"),
        ] {
            let r = kquant(&ws, dt, layout)?;
            let label = if layout == KLayout::Flat { name.to_string() } else { format!("{name} rows") };
            rows.push(evaluate(format!("candle {name} ({how})"), fam, label, "".into(), &r)?);
        }
    }
    for g in [32, 64] {
        let r = int4_group(&ws, g)?;
        rows.push(evaluate(
            format!("int4 g{g} (Q4_0-style, f16 scale)"),
            "int4 per group",
            format!("int4 g{g}"),
            "".into(),
            &r,
        )?);
    }

    // The report.
    md += &format!(
        "- bits/weight: every stored byte over the {n} weights under test (for NCT `prefix_len(k)`: the file up to the end of stage k, header, directory and codebook included; for the baselines their blocks, with tensors they do not quantize at 32 bits). *quantized*: share of the weights a method quantized (the rest it keeps exactly: 1-D tensors for every method, and for k-quants by candle's rule the matrices whose rows are not a multiple of 256)\n"
    );
    md += "- SNR = 10 log10(sum W^2 / sum (W - W')^2) over all weights under test; bound = 6.02 dB x bits/weight, the Gaussian rate-distortion bound; gap = bound - SNR; tensor SNR: the same per matrix (rank 2), min and median (exact: kept f32)\n";
    if embeddings {
        let _ = writeln!(
            md,
            "- embeddings: candle-transformers' BertModel from the (de)quantized weights, mean pooling over the attention mask, L2 normalized, for {} sentences of data/sentences.txt; *mean cos* / *min cos*: cosine between a sentence's embedding from the quantized and the original model; *top-10 overlap*: for each sentence as a query, |top 10 of the original ∩ top 10 of the quantized model| / 10, averaged",
            orig_emb.len()
        );
    }
    md += "\n## Rate, SNR and embeddings\n\n";
    md += &results_table(&rows, embeddings);
    if !speed_md.is_empty() {
        let _ = write!(
            md,
            "\n## NCT speed\n\nDecode: `NctFile::decode_tensor_into` over every tensor on one thread (checksums verified, outputs preallocated), GB/s of f32 output; one warm-up pass, then the median of {} passes and their range. Load average now {}. The machine is shared, so the range matters. Encode: `NctEncoder::finish` wall time (EncodeOptions threads {}).\n\n{speed_md}",
            args.runs,
            loadavg(),
            args.threads
        );
    }
    let _ = writeln!(md, "\nTotal run time {:.0} s.", started.elapsed().as_secs_f64());
    println!("{md}");

    let tensors_md = format!(
        "# Per-tensor SNR (dB)\n\nFrom the run of {}; columns as labelled in the plot, exact: kept f32.\n\n{}",
        sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        tensor_table(&ws, &rows)
    );
    let title = format!(
        "all-MiniLM-L6-v2{}: model SNR against bits a weight",
        if args.quick { ", encoder layer 0 only (--quick)" } else { "" }
    );
    let note = format!(
        "{n} weights; every stored byte counted; NCT at each stage prefix, joined; {}",
        sh("date", &["-u", "+%Y-%m-%d"])
    );
    for (file, text) in [("report.md", &md), ("tensors.md", &tensors_md), ("snr.svg", &svg(&rows, &title, &note))] {
        let p = args.out.join(file);
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}
