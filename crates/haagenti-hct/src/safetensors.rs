//! Import from and export to `.safetensors`, bit-exactly.
//!
//! A safetensors file is an 8-byte little-endian header length, a JSON header naming each
//! tensor's dtype, shape and byte range, then the tensors' bytes. Import stores the header
//! verbatim as the metadata entry [`HEADER_KEY`]; export writes it back with every tensor at
//! its original offsets, so the file comes back byte for byte. A file without that entry (built
//! through the API) or whose tensors no longer match it is exported with a fresh header.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::Value;

use crate::reader::{payload_bound, try_reserve};
use crate::{ByteSource, DType, HctError, HctReaderV2, HctWriterV2, WriterOptions};

/// Metadata key holding the original safetensors header.
pub const HEADER_KEY: &str = "safetensors.header";

/// Largest safetensors header accepted (the safetensors library's own limit).
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// One tensor of a safetensors file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeTensor<'a> {
    /// Its name.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Dimensions.
    pub shape: Vec<u64>,
    /// Its bytes in the file.
    pub data: &'a [u8],
}

/// A parsed safetensors file: the tensors in file order and the raw header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeTensors<'a> {
    /// The tensors, ordered by their data offsets.
    pub tensors: Vec<SafeTensor<'a>>,
    /// The JSON header as it is in the file.
    pub header: &'a [u8],
}

fn bad(msg: impl Into<String>) -> HctError {
    HctError::Safetensors(msg.into())
}

/// Entries of a header: (name, dtype, shape, begin, end), in data order.
type Entries = Vec<(String, DType, Vec<u64>, u64, u64)>;

fn parse_header(header: &[u8], data_len: u64) -> Result<Entries, HctError> {
    let json: Value = serde_json::from_slice(header).map_err(|e| bad(alloc::format!("header JSON: {e}")))?;
    let obj = json.as_object().ok_or_else(|| bad("header is not a JSON object"))?;
    let mut entries = Vec::new();
    for (name, v) in obj {
        if name == "__metadata__" {
            continue;
        }
        let field = |k: &str| v.get(k).ok_or_else(|| bad(alloc::format!("{name}: no {k}")));
        let dtype_name =
            field("dtype")?.as_str().ok_or_else(|| bad(alloc::format!("{name}: dtype is not a string")))?;
        let dtype =
            DType::from_name(dtype_name).ok_or_else(|| bad(alloc::format!("{name}: unknown dtype {dtype_name}")))?;
        let ints = |k: &str| -> Result<Vec<u64>, HctError> {
            field(k)?
                .as_array()
                .ok_or_else(|| bad(alloc::format!("{name}: {k} is not an array")))?
                .iter()
                .map(|d| d.as_u64().ok_or_else(|| bad(alloc::format!("{name}: {k} holds a non-integer"))))
                .collect()
        };
        let shape = ints("shape")?;
        let offsets = ints("data_offsets")?;
        let [begin, end] = offsets[..] else {
            return Err(bad(alloc::format!("{name}: data_offsets needs two values")));
        };
        let bytes = shape
            .iter()
            .try_fold(dtype.size() as u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| bad(alloc::format!("{name}: shape overflows")))?;
        if begin > end || end > data_len || end - begin != bytes {
            return Err(bad(alloc::format!("{name}: data_offsets {begin}..{end} do not fit {bytes} bytes")));
        }
        entries.push((name.clone(), dtype, shape, begin, end));
    }
    entries.sort_by_key(|e| (e.3, e.4));
    // The format allows neither holes nor overlaps: the tensors tile the data exactly.
    let mut at = 0;
    for e in &entries {
        if e.3 != at {
            return Err(bad(alloc::format!("{}: data starts at {} where {at} was expected", e.0, e.3)));
        }
        at = e.4;
    }
    if at != data_len {
        return Err(bad(alloc::format!("{} bytes of data after the last tensor", data_len - at)));
    }
    Ok(entries)
}

/// Parses a safetensors file held in memory.
pub fn parse(bytes: &[u8]) -> Result<SafeTensors<'_>, HctError> {
    let n = u64::from_le_bytes(bytes.get(..8).ok_or_else(|| bad("shorter than 8 bytes"))?.try_into().expect("8"));
    if n > MAX_HEADER_LEN {
        return Err(bad(alloc::format!("header of {n} bytes, over the limit of {MAX_HEADER_LEN}")));
    }
    let header = bytes.get(8..8 + n as usize).ok_or_else(|| bad("truncated header"))?;
    let data = &bytes[8 + n as usize..];
    let tensors = parse_header(header, data.len() as u64)?
        .into_iter()
        .map(|(name, dtype, shape, b, e)| SafeTensor { name, dtype, shape, data: &data[b as usize..e as usize] })
        .collect();
    Ok(SafeTensors { tensors, header })
}

/// Packs a safetensors file into an HCT file, keeping its header for a bit-exact export.
pub fn pack(bytes: &[u8], opts: WriterOptions) -> Result<Vec<u8>, HctError> {
    let st = parse(bytes)?;
    let mut w = HctWriterV2::new(opts);
    w.set_metadata(HEADER_KEY, st.header);
    for t in &st.tensors {
        w.add_tensor(&t.name, t.dtype, &t.shape, t.data)?;
    }
    Ok(w.finish())
}

/// Writes an HCT file's tensors as a safetensors file: the original bytes when the file was
/// packed from one and still matches its header; otherwise a fresh header, with quantized
/// tensors dequantized to F32.
pub fn unpack<S: ByteSource>(r: &HctReaderV2<S>) -> Result<Vec<u8>, HctError> {
    if let Some(header) = r.metadata_value(HEADER_KEY)
        && let Some(out) = unpack_original(r, header)?
    {
        return Ok(out);
    }
    unpack_fresh(r)
}

/// The original file, or `None` if the stored header no longer describes the tensors.
fn unpack_original<S: ByteSource>(r: &HctReaderV2<S>, header: &[u8]) -> Result<Option<Vec<u8>>, HctError> {
    let data_len = r.tensors().iter().try_fold(0u64, |n, t| n.checked_add(t.raw_len));
    let Some(data_len) = data_len else { return Ok(None) };
    let Ok(entries) = parse_header(header, data_len) else { return Ok(None) };
    if entries.len() != r.tensors().len() {
        return Ok(None);
    }
    let mut tensors = Vec::with_capacity(entries.len());
    for (name, dtype, shape, _, _) in &entries {
        match r.tensor(name) {
            Ok(t) if t.dtype == *dtype && t.shape == *shape => tensors.push(t),
            _ => return Ok(None),
        }
    }
    // Room for what the stored blocks can hold, not for the sizes the index declares.
    let mut out = Vec::new();
    let bound = tensors.iter().fold(8 + header.len() as u64, |n, t| n.saturating_add(payload_bound(t)));
    try_reserve(&mut out, bound)?;
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header);
    for t in tensors {
        r.append_tensor(t, &mut out)?;
    }
    Ok(Some(out))
}

/// A fresh header with each tensor's offsets from its declared size (reading a tensor checks
/// that it has exactly that size), then the tensors appended as they are read.
fn unpack_fresh<S: ByteSource>(r: &HctReaderV2<S>) -> Result<Vec<u8>, HctError> {
    let mut header = String::from("{");
    let mut end = 0u64;
    for (i, t) in r.tensors().iter().enumerate() {
        let (dtype, len) = if t.dtype.is_quantized() {
            (DType::F32, t.element_count().checked_mul(4).ok_or_else(|| bad("dequantized tensor size overflows"))?)
        } else {
            (t.dtype, t.raw_len)
        };
        let begin = end;
        end = end.checked_add(len).ok_or_else(|| bad("tensor sizes overflow"))?;
        let name = serde_json::to_string(&t.name).map_err(|e| bad(alloc::format!("{e}")))?;
        let shape: Vec<String> = t.shape.iter().map(|d| alloc::format!("{d}")).collect();
        header.push_str(&alloc::format!(
            "{}{name}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{begin},{end}]}}",
            if i > 0 { "," } else { "" },
            dtype.name(),
            shape.join(","),
        ));
    }
    header.push('}');
    // Pad with spaces so the data starts 8-byte aligned, as safetensors writers do.
    while !(header.len()).is_multiple_of(8) {
        header.push(' ');
    }
    let mut out = Vec::new();
    let plain = r.tensors().iter().filter(|t| !t.dtype.is_quantized());
    try_reserve(&mut out, plain.fold(8 + header.len() as u64, |n, t| n.saturating_add(payload_bound(t))))?;
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for t in r.tensors() {
        if t.dtype.is_quantized() {
            out.extend(r.read_f32(&t.name)?.iter().flat_map(|v| v.to_le_bytes()));
        } else {
            r.append_tensor(t, &mut out)?;
        }
    }
    Ok(out)
}
