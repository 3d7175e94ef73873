//! NCT stages as a HoloTensor encoding: a tensor coded by `haagenti-nct` (trellis codes over a
//! Gaussian codebook, residual stages), one stage a fragment, so the fragment server streams a
//! model stage by stage and a prefix of fragments is a coarser model.
//!
//! The payloads are the bytes of a one-tensor NCT file, cut at its stage sections:
//! - fragment 0: the file up to the end of stage 1 (header, directory, row scales, stage 1),
//!   without the 8 KiB codebook, which the decoder rebuilds from the seed in the parameters
//!   (`Codebook::gaussian`, integer and IEEE arithmetic only, the same on every target); the
//!   NCT header's checksum over directory and codebook then proves the rebuilt table is the
//!   encoder's;
//! - fragment `k` (1 and up): stage `k + 1`'s section, as stored in the file.
//!
//! Parameters: profile byte 0, then the codebook seed (u64). Stages refine the stages before
//! them, so only an unbroken run of fragments from 0 counts; later ones wait.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use haagenti_nct::{
    Codebook, EncodeOptions as NctOptions, HEADER_LEN, MAX_STAGES, MIN_GROUP, MIN_QUANTIZED_ELEMENTS, NctEncoder,
    NctError, NctFile, STAGE_BITS, plan_stages,
};

use xxhash_rust::xxh3::xxh3_64;

use crate::asset::{Asset, AssetKind, Reconstruction};
use crate::coding::Reader;
use crate::planes::{Encoded, from_planes};
use crate::{EncodeOptions, HoloError};

// The limits `Encoding::applies_to` states without this crate.
const _: () =
    assert!(crate::asset::NCT_MIN_ELEMENTS == MIN_QUANTIZED_ELEMENTS && crate::asset::NCT_GROUP == MIN_GROUP as u64);

/// The tensor's name inside the NCT file.
pub(crate) const NAME: &str = "t";
/// Bytes of the codebook the payloads leave out.
const CODEBOOK_BYTES: usize = Codebook::LEN * 2;
/// Total rates the encoding takes, bits a weight.
pub(crate) const BITS: core::ops::RangeInclusive<f32> = 1.0..=8.0;

fn align8(v: u64) -> u64 {
    v.div_ceil(8) * 8
}

/// Where the codebook starts in a file whose first bytes are `head` (`None`: too short).
fn codebook_at(head: &[u8]) -> Option<usize> {
    let dir_len = u64::from_le_bytes(head.get(16..24)?.try_into().ok()?);
    let at = align8((HEADER_LEN as u64).checked_add(dir_len)?);
    usize::try_from(at).ok().filter(|&at| at <= head.len())
}

/// The stage rates for `bits` a weight in at most `fragments` stages (the first entry is a
/// placeholder: the NCT encoder gives the first stage what the total leaves).
fn stage_plan(bits: f64, fragments: usize) -> Vec<f64> {
    let default = plan_stages(bits);
    if fragments >= default.len() {
        return default;
    }
    // Fewer stages than the default: the first about 2 bits, the rest shared evenly.
    let later = (bits - 2.0).max(0.0) / (fragments - 1).max(1) as f64;
    let mut v = vec![later; fragments];
    v[0] = 0.0;
    v
}

fn encode_error(e: NctError) -> HoloError {
    HoloError::InvalidInput(format!("nct: {e}"))
}

pub(crate) fn encode(asset: &Asset, o: &EncodeOptions) -> Result<Encoded, HoloError> {
    let Asset::Tensor { dtype, shape, data } = asset else {
        return Err(HoloError::InvalidInput("the nct encoding takes tensors, not images".into()));
    };
    let numel: u64 = shape.iter().product();
    let cols: u64 = shape.iter().skip(1).product();
    if shape.len() < 2 || numel < MIN_QUANTIZED_ELEMENTS || !cols.is_multiple_of(MIN_GROUP as u64) {
        return Err(HoloError::InvalidInput(format!(
            "the nct encoding needs a tensor of rank 2 or more with at least {MIN_QUANTIZED_ELEMENTS} elements and rows of a multiple of {MIN_GROUP} values (this one: {shape:?}); residual takes any tensor"
        )));
    }
    if !BITS.contains(&o.bits) {
        return Err(HoloError::InvalidInput(format!(
            "nct: {} bits a weight; the encoding takes {} to {}",
            o.bits,
            BITS.start(),
            BITS.end()
        )));
    }
    let fragments = usize::from(o.fragments).min(MAX_STAGES);
    let mut plan = stage_plan(f64::from(o.bits), fragments);
    if let Some(bad) = plan.iter().skip(1).find(|r| !STAGE_BITS.contains(*r)) {
        return Err(HoloError::InvalidInput(format!(
            "nct: {} bits a weight in {fragments} fragment(s) would take {bad:.2} bits a stage; stages take {} to {} bits (the first about 2): use more or fewer fragments",
            o.bits,
            STAGE_BITS.start(),
            STAGE_BITS.end()
        )));
    }
    // The NCT encoder plans its own stages when its default plan fits.
    let stages = (plan.len() < plan_stages(f64::from(o.bits)).len()).then(|| core::mem::take(&mut plan));
    // The payloads leave the codebook out: the file may spend those bits on the codes.
    let bits = f64::from(o.bits) + (CODEBOOK_BYTES * 8) as f64 / numel as f64;
    // One tensor: nothing to spread.
    let mut enc = NctEncoder::new(NctOptions { bits, stages, seed: o.seed, threads: 0, allocate: false });
    enc.add_tensor(NAME, *dtype, shape, data).map_err(encode_error)?;
    let file = enc.finish(&mut |_, _| {}).map_err(encode_error)?;
    let parsed = NctFile::parse(&file).map_err(encode_error)?;
    let cb = codebook_at(&file).ok_or(HoloError::Corrupt("nct header"))?;

    let mut payloads = Vec::with_capacity(parsed.stage_count());
    let first_end = parsed.prefix_len(1) as usize;
    let mut p0 = Vec::with_capacity(first_end - CODEBOOK_BYTES);
    p0.extend_from_slice(&file[..cb]);
    p0.extend_from_slice(&file[cb + CODEBOOK_BYTES..first_end]);
    payloads.push(p0);
    for k in 2..=parsed.stage_count() {
        let start = align8(parsed.prefix_len(k - 1)) as usize;
        payloads.push(file[start..parsed.prefix_len(k) as usize].to_vec());
    }
    let mut params = vec![0u8];
    params.extend_from_slice(&o.seed.to_le_bytes());
    Ok((params, payloads))
}

/// A decoder's NCT state: the file rebuilt from the fragments so far, and its decoded values.
#[derive(Debug, Clone)]
pub(crate) struct Nct {
    seed: u64,
    kind: AssetKind,
    /// Fragments of the asset (= stages of the file).
    count: usize,
    /// The file up to the end of the last stage received in an unbroken run from 0, codebook
    /// restored (empty before fragment 0).
    file: Vec<u8>,
    /// Stages in `file`.
    stages: usize,
    /// Payloads of stages that arrived before a stage they refine.
    pending: Vec<Option<Vec<u8>>>,
    /// The tensor decoded from `stages` stages.
    values: Vec<f32>,
    /// Indices of stages dropped since the decoder last asked: forgeries that arrived before
    /// fragment 0 and failed its directory's check then. The decoder forgets them as received,
    /// so the genuine fragments are taken when they come.
    dropped: Vec<(usize, usize)>,
}

impl Nct {
    pub(crate) fn new(kind: &AssetKind, count: u16, r: &mut Reader<'_>) -> Result<Self, HoloError> {
        let AssetKind::Tensor { .. } = kind else {
            return Err(HoloError::Corrupt("nct encoding of an image"));
        };
        if r.u8()? != 0 {
            return Err(HoloError::Corrupt("nct profile"));
        }
        let seed = r.u64()?;
        let count = usize::from(count);
        if count > MAX_STAGES {
            return Err(HoloError::Corrupt("more nct stages than a file has"));
        }
        Ok(Nct {
            seed,
            kind: kind.clone(),
            count,
            file: Vec::new(),
            stages: 0,
            pending: vec![None; count],
            values: Vec::new(),
            dropped: Vec::new(),
        })
    }

    /// Most bytes a stage payload can take: 3 bits a weight and a block's padding.
    fn max_stage_len(&self) -> usize {
        (self.kind.samples() as usize).saturating_mul(3).div_ceil(8).saturating_add(64)
    }

    pub(crate) fn add(&mut self, index: usize, payload: &[u8]) -> Result<(), HoloError> {
        if index == 0 {
            let file = self.restore(payload)?;
            let (values, file) = self.decode_with(file, 1)?;
            self.file = file;
            self.stages = 1;
            self.values = values;
            // Stages that came before fragment 0 could not be checked on arrival: they are now,
            // against its directory, and a forgery is dropped (and forgotten by the decoder).
            for i in 1..self.count {
                if let Some(p) = &self.pending[i]
                    && self.check_stage(i, p).is_err()
                {
                    self.dropped.push((i, p.len()));
                    self.pending[i] = None;
                }
            }
        } else {
            if payload.len() > self.max_stage_len() {
                return Err(HoloError::Corrupt("nct stage longer than its tensor allows"));
            }
            if index != self.stages {
                // Kept until the stages before it arrive; checked against the directory now
                // when fragment 0 is in, else when it comes.
                if self.stages > 0 {
                    self.check_stage(index, payload)?;
                }
                self.pending[index] = Some(payload.to_vec());
                return Ok(());
            }
            let file = self.extended(payload);
            let (values, file) = self.decode_with(file, index + 1)?;
            self.file = file;
            self.stages = index + 1;
            self.values = values;
        }
        // Stages that were waiting for this one join, each checked by decoding it. One that
        // passed the directory's check cannot fail here, but if it did it is dropped like a
        // forgery rather than trusted.
        while self.stages < self.count {
            let Some(next) = self.pending[self.stages].take() else { break };
            let file = self.extended(&next);
            let len = next.len();
            match self.decode_with(file, self.stages + 1) {
                Ok((values, file)) => {
                    self.file = file;
                    self.stages += 1;
                    self.values = values;
                }
                Err(_) => {
                    self.dropped.push((self.stages, len));
                    break;
                }
            }
        }
        Ok(())
    }

    /// Stages dropped since the last call, with their payloads' lengths (see `dropped`).
    pub(crate) fn take_dropped(&mut self) -> Vec<(usize, usize)> {
        core::mem::take(&mut self.dropped)
    }

    /// Checks a later stage's payload against the directory of the file so far: its length and
    /// its blocks' checksum.
    fn check_stage(&self, index: usize, payload: &[u8]) -> Result<(), HoloError> {
        let parsed = NctFile::parse(&self.file).map_err(|_| HoloError::Corrupt("nct stage"))?;
        let entry = parsed.entry(NAME).map_err(|_| HoloError::Corrupt("nct stage"))?;
        let start = align8(parsed.prefix_len(index));
        if payload.len() as u64 != parsed.prefix_len(index + 1) - start {
            return Err(HoloError::Corrupt("nct stage length"));
        }
        let stage = &entry.stage_entries()[index];
        let len = entry.stored_bytes(index + 1) - entry.stored_bytes(index);
        let at = (stage.offset - start) as usize;
        match payload.get(at..at + len as usize) {
            Some(blocks) if xxh3_64(blocks) == stage.hash => Ok(()),
            _ => Err(HoloError::Corrupt("nct checksum")),
        }
    }

    /// Fragment 0's bytes with the codebook put back.
    fn restore(&self, payload: &[u8]) -> Result<Vec<u8>, HoloError> {
        if payload.len() > self.max_stage_len().saturating_add(16 << 20) {
            return Err(HoloError::Corrupt("nct first stage longer than its tensor allows"));
        }
        let cb = codebook_at(payload).ok_or(HoloError::Corrupt("nct header"))?;
        let mut file = Vec::with_capacity(payload.len() + CODEBOOK_BYTES);
        file.extend_from_slice(&payload[..cb]);
        for e in Codebook::gaussian(self.seed).entries() {
            file.extend_from_slice(&e.to_le_bytes());
        }
        file.extend_from_slice(&payload[cb..]);
        Ok(file)
    }

    /// The current file with a stage section appended at its 8-byte boundary.
    fn extended(&self, payload: &[u8]) -> Vec<u8> {
        let start = align8(self.file.len() as u64) as usize;
        let mut file = Vec::with_capacity(start + payload.len());
        file.extend_from_slice(&self.file);
        file.resize(start, 0);
        file.extend_from_slice(payload);
        file
    }

    /// Parses `file`, checks it is this asset's tensor with exactly `stages` stages present and
    /// nothing after them, and decodes it.
    fn decode_with(&self, file: Vec<u8>, stages: usize) -> Result<(Vec<f32>, Vec<u8>), HoloError> {
        let AssetKind::Tensor { dtype, shape } = &self.kind else { unreachable!("checked in new") };
        let corrupt = |e: NctError| match e {
            NctError::Checksum { .. } => HoloError::Corrupt("nct checksum"),
            _ => HoloError::Corrupt("nct stage"),
        };
        let parsed = NctFile::parse(&file).map_err(corrupt)?;
        let entry = parsed.entry(NAME).map_err(corrupt)?;
        if parsed.tensors().len() != 1
            || parsed.stage_count() != self.count
            || !entry.is_quantized()
            || entry.dtype() != *dtype
            || entry.shape() != shape.as_slice()
        {
            return Err(HoloError::Corrupt("nct file of another tensor"));
        }
        if parsed.stages() != stages || parsed.prefix_len(stages) != file.len() as u64 {
            return Err(HoloError::Corrupt("nct stage length"));
        }
        let values = parsed.decode_tensor(NAME, stages).map_err(corrupt)?;
        Ok((values, file))
    }

    /// The file bytes and the stages in them (for GPU decoders).
    pub(crate) fn file(&self) -> Option<(&[u8], usize)> {
        (self.stages > 0).then_some((self.file.as_slice(), self.stages))
    }

    pub(crate) fn reconstruct(&self, kind: &AssetKind) -> Reconstruction {
        if self.stages == 0 {
            return from_planes(kind, &[vec![0.0; kind.samples() as usize]]);
        }
        from_planes(kind, core::slice::from_ref(&self.values))
    }
}
