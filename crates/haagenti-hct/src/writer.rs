//! Writing HCT files.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use xxhash_rust::xxh3::xxh3_64;

use crate::format::{self, BlockEntry, Index, PREAMBLE_LEN, Preamble, TensorInfo};
use crate::{BlockCodec, DType, HctError, QuantScheme, Transform};

/// Tensors smaller than this many bytes are stored without a float transform when the writer
/// chooses (`WriterOptions::transform` is `None`).
const MIN_TRANSFORM_TRIAL: usize = 256;

/// How the writer compresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// Codec of every block.
    pub codec: BlockCodec,
    /// zstd level (ignored by the other codecs).
    pub level: i32,
    /// Payload bytes per block, rounded down to whole elements (1 MiB by default).
    pub block_size: u64,
    /// A fixed transform, or `None` to choose per tensor: every transform is tried on the
    /// tensor's first block and the smallest kept (tensors under 256 bytes get none).
    pub transform: Option<Transform>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions { codec: BlockCodec::Zstd, level: 3, block_size: 1 << 20, transform: None }
    }
}

/// Builds an HCT file in memory: tensors are compressed as they are added; [`finish`]
/// appends the index and writes the preamble.
///
/// ```
/// use haagenti_hct::{DType, HctReaderV2, HctWriterV2, WriterOptions};
///
/// let weights: Vec<u8> = (0..4096u32).flat_map(|i| (i as f32 * 1e-3).sin().to_le_bytes()).collect();
/// let mut w = HctWriterV2::new(WriterOptions::default());
/// w.add_tensor("layer.weight", DType::F32, &[64, 64], &weights)?;
/// let file = w.finish();
///
/// let r = HctReaderV2::open(&file[..])?;
/// assert_eq!(r.read_tensor("layer.weight")?, weights);
/// # Ok::<(), haagenti_hct::HctError>(())
/// ```
///
/// [`finish`]: HctWriterV2::finish
#[derive(Debug)]
pub struct HctWriterV2 {
    opts: WriterOptions,
    out: Vec<u8>,
    index: Index,
    /// The tensor names so far, and each metadata key's position: a check for a repeated
    /// name stays O(log n) (a file may hold a million).
    names: BTreeSet<String>,
    keys: BTreeMap<String, usize>,
}

impl HctWriterV2 {
    /// An empty file.
    pub fn new(opts: WriterOptions) -> Self {
        HctWriterV2 {
            opts,
            out: alloc::vec![0; PREAMBLE_LEN],
            index: Index::default(),
            names: BTreeSet::new(),
            keys: BTreeMap::new(),
        }
    }

    /// Sets a metadata entry (replacing the value of one with the same key, in its place).
    pub fn set_metadata(&mut self, key: &str, value: &[u8]) {
        match self.keys.get(key) {
            Some(&i) => self.index.metadata[i].1 = value.to_vec(),
            None => {
                self.keys.insert(String::from(key), self.index.metadata.len());
                self.index.metadata.push((String::from(key), value.to_vec()));
            }
        }
    }

    /// Adds a tensor of a plain dtype from its little-endian bytes.
    pub fn add_tensor(&mut self, name: &str, dtype: DType, shape: &[u64], data: &[u8]) -> Result<(), HctError> {
        if dtype.is_quantized() {
            return Err(HctError::InvalidInput("quantized tensors are added with add_quantized".into()));
        }
        let elements = element_count(shape)?;
        if elements.checked_mul(dtype.size() as u64) != Some(data.len() as u64) {
            return Err(HctError::InvalidInput(alloc::format!(
                "{name}: {} bytes for shape {shape:?} of {}",
                data.len(),
                dtype.name()
            )));
        }
        self.add(name, dtype, shape, None, data)
    }

    /// Quantizes `values` with `scheme` and adds them as a [`DType::Q8`] or [`DType::Q4`]
    /// tensor.
    pub fn add_quantized(
        &mut self,
        name: &str,
        shape: &[u64],
        values: &[f32],
        scheme: QuantScheme,
    ) -> Result<(), HctError> {
        if element_count(shape)? != values.len() as u64 {
            return Err(HctError::InvalidInput(alloc::format!("{name}: {} values for shape {shape:?}", values.len())));
        }
        let payload = scheme.quantize(values)?;
        self.add(name, scheme.dtype(), shape, Some(scheme), &payload)
    }

    fn add(
        &mut self,
        name: &str,
        dtype: DType,
        shape: &[u64],
        quant: Option<QuantScheme>,
        data: &[u8],
    ) -> Result<(), HctError> {
        if self.names.contains(name) {
            return Err(HctError::InvalidInput(alloc::format!("a tensor named {name:?} is already stored")));
        }
        if shape.len() > 255 {
            return Err(HctError::InvalidInput("more than 255 dimensions".into()));
        }
        let width = dtype.size().max(1);
        let block_size = (self.opts.block_size.max(1) as usize / width).max(1) * width;
        // The first block is the sample every transform is tried on; the winner's encoding of
        // it is kept as the first stored block.
        let mut first: Option<Vec<u8>> = None;
        let transform = match self.opts.transform {
            Some(t) => t,
            // Below a few hundred bytes no transform pays for itself, and trying all of them
            // is most of the cost of files of many tiny tensors.
            None if dtype.is_wide_float() && data.len() >= MIN_TRANSFORM_TRIAL => {
                let sample = &data[..data.len().min(block_size)];
                let mut best = (Transform::None, Vec::new());
                for (i, t) in Transform::ALL.into_iter().enumerate() {
                    let stored = self.encode_block(t, width, sample);
                    if i == 0 || stored.len() < best.1.len() {
                        best = (t, stored);
                    }
                }
                first = Some(best.1);
                best.0
            }
            None => Transform::None,
        };
        let mut blocks = Vec::new();
        for (i, chunk) in data.chunks(block_size).enumerate() {
            let stored = match first.take() {
                Some(stored) if i == 0 => stored,
                _ => self.encode_block(transform, width, chunk),
            };
            blocks.push(BlockEntry {
                offset: self.out.len() as u64,
                stored_len: stored.len() as u64,
                xxh3: xxh3_64(&stored),
            });
            self.out.extend_from_slice(&stored);
        }
        self.names.insert(String::from(name));
        self.index.tensors.push(TensorInfo {
            name: String::from(name),
            dtype,
            shape: shape.to_vec(),
            codec: self.opts.codec,
            transform,
            quant,
            raw_len: data.len() as u64,
            raw_xxh3: xxh3_64(data),
            block_size: block_size as u64,
            blocks,
        });
        Ok(())
    }

    /// A block's stored bytes. With zstd and byte planes, each plane is its own frame (the
    /// decoder reads concatenated frames as one stream), coded either with literals only or
    /// at the chosen level, whichever is smaller: exponent planes are skewed bytes whose
    /// repeats are chance, where matches cost more than they save.
    fn encode_block(&self, transform: Transform, width: usize, chunk: &[u8]) -> Vec<u8> {
        let planes = transform.forward(width, chunk);
        if self.opts.codec != BlockCodec::Zstd || transform == Transform::None || width < 2 {
            return self.compress(&planes);
        }
        let mut out = Vec::new();
        for plane in planes.chunks(chunk.len() / width) {
            let literals = haagenti_zstd::ZstdCompressor::entropy_only().checksum(false).compress(plane);
            let matched = self.compress(plane);
            out.extend_from_slice(if literals.len() <= matched.len() { &literals } else { &matched });
        }
        out
    }

    fn compress(&self, block: &[u8]) -> Vec<u8> {
        match self.opts.codec {
            BlockCodec::Store => block.to_vec(),
            BlockCodec::Zstd => {
                haagenti_zstd::ZstdCompressor::with_level(self.opts.level).checksum(false).compress(block)
            }
            BlockCodec::Lz4 => lz4_flex::compress(block),
        }
    }

    /// The tensors added so far.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.index.tensors
    }

    /// Appends the index, writes the preamble and returns the file.
    pub fn finish(mut self) -> Vec<u8> {
        let index_offset = self.out.len() as u64;
        format::write_index(&self.index, &mut self.out);
        let index = &self.out[index_offset as usize..];
        let preamble = Preamble { index_offset, index_len: index.len() as u64, index_xxh3: xxh3_64(index) }.to_bytes();
        self.out[..PREAMBLE_LEN].copy_from_slice(&preamble);
        self.out
    }
}

fn element_count(shape: &[u64]) -> Result<u64, HctError> {
    shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d)).ok_or(HctError::InvalidInput("shape overflows".into()))
}
