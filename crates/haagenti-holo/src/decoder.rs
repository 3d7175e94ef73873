//! Decoding from any subset of fragments, one push at a time, with preview frames.

use alloc::vec;
use alloc::vec::Vec;

use crate::HoloError;
use crate::asset::{AssetHeader, AssetKind, Fragment, MAX_SAMPLES, Reconstruction};
use crate::schemes::State;

/// Heap bytes a decoder may hold per sample: the largest state (tensor refinement: 8 bytes a
/// sample stored; spectral image tiles: 4 bytes a padded sample, at most 3.2 padded a real one)
/// with a reconstruction's planes and output beside it, and room to spare.
const MEMORY_PER_SAMPLE: u64 = 48;

/// What a pushed fragment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// A new fragment, now part of the reconstruction.
    Accepted {
        /// Its index.
        index: u16,
    },
    /// A fragment already received; ignored.
    Duplicate {
        /// Its index.
        index: u16,
    },
}

/// Collects fragments of one asset in any order and reconstructs from whatever arrived.
///
/// Fragments are verified (BLAKE3 checksum, every field) before anything of them is used; a
/// corrupted fragment, or one of another asset, is an error for that push and changes nothing.
///
/// Work and memory grow with the asset's size: at most [`MAX_SAMPLES`] samples, or the lower
/// limit set with [`HoloDecoder::with_max_samples`]. The heap it holds, pushes and
/// reconstructions included, stays under [`HoloDecoder::memory_bound`]: 48 bytes a sample of
/// the real image or tensor (block padding included), eight times the longest fragment pushed
/// (a fragment is parsed into copies of its header, payload and curve, and the adopted header is
/// kept), and 1 MiB. Nothing is allocated for an asset before a payload of it has decoded.
#[derive(Debug, Clone)]
pub struct HoloDecoder {
    header: Option<AssetHeader>,
    header_bytes: Vec<u8>,
    state: Option<State>,
    received: Vec<bool>,
    bytes: u64,
    max_samples: u64,
}

impl Default for HoloDecoder {
    fn default() -> Self {
        HoloDecoder {
            header: None,
            header_bytes: Vec::new(),
            state: None,
            received: Vec::new(),
            bytes: 0,
            max_samples: MAX_SAMPLES,
        }
    }
}

impl HoloDecoder {
    /// A decoder that has received nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most heap bytes a decoder holds, while pushing fragments of at most
    /// `fragment_len` bytes or reconstructing, for an asset of `samples` samples (each
    /// fragment's own, for a fragment that is refused). Checked for any input by the
    /// `holo_alloc` fuzz target; docs/holo.md says where it comes from.
    pub const fn memory_bound(samples: u64, fragment_len: u64) -> u64 {
        MEMORY_PER_SAMPLE.saturating_mul(samples).saturating_add(fragment_len.saturating_mul(8)).saturating_add(1 << 20)
    }

    /// The same decoder, refusing assets of more than `max_samples` samples (pixels times
    /// channels, or tensor elements) with [`HoloError::TooLarge`] before allocating anything
    /// for them.
    pub fn with_max_samples(mut self, max_samples: u64) -> Self {
        self.max_samples = max_samples.min(MAX_SAMPLES);
        self
    }

    /// Verifies and adds one fragment.
    ///
    /// The first fragment's header is adopted only once its payload has decoded: a first
    /// fragment that fails (a forgery with a valid checksum, say) leaves the decoder as new, so
    /// it cannot lock the decoder to another asset.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Pushed, HoloError> {
        self.push_spectral(bytes).map(|(pushed, _)| pushed)
    }

    /// [`push`](Self::push) that also returns, for a `spectral` image, what the fragment added
    /// to the coefficients (`None` for a duplicate or another encoding): a GPU decoder that
    /// keeps the coefficients on the device adds it there instead of uploading them all
    /// (`haagenti-gpu`'s `SpectralAccumulator`). The values are the ones the push decodes
    /// anyway; nothing more is kept.
    pub fn push_spectral(&mut self, bytes: &[u8]) -> Result<(Pushed, Option<crate::parts::SpectralUpdate>), HoloError> {
        let f = Fragment::parse(bytes)?;
        let i = usize::from(f.index);
        let add = |state: &mut State| state.add_spectral(i, &f.payload);
        let update = match &mut self.state {
            Some(_) if f.header_bytes != self.header_bytes => return Err(HoloError::OtherAsset),
            Some(_) if self.received[i] => return Ok((Pushed::Duplicate { index: f.index }, None)),
            // Each encoding decodes a payload completely before storing any of it, so a
            // payload that fails leaves the state as it was.
            Some(state) => add(state)?,
            None => {
                let h = &f.header;
                let samples = h.kind.samples();
                if samples > self.max_samples {
                    return Err(HoloError::TooLarge { samples, limit: self.max_samples });
                }
                let mut state = State::new(h.encoding, &h.kind, h.fragment_count, &h.params)?;
                let update = add(&mut state)?;
                self.state = Some(state);
                self.received = vec![false; usize::from(h.fragment_count)];
                self.header_bytes = f.header_bytes;
                self.header = Some(f.header);
                update
            }
        };
        self.received[i] = true;
        self.bytes += bytes.len() as u64;
        if let Some(state) = &mut self.state {
            // An NCT stage taken on trust before fragment 0 and found forged now: forgotten, so
            // the genuine fragment is accepted when it comes.
            for (index, payload_len) in state.take_dropped() {
                self.received[index] = false;
                self.bytes -= Fragment::encoded_len(self.header_bytes.len(), payload_len) as u64;
            }
        }
        Ok((Pushed::Accepted { index: f.index }, update))
    }

    /// The asset's header, once a fragment arrived.
    pub fn header(&self) -> Option<&AssetHeader> {
        self.header.as_ref()
    }

    /// Which fragments arrived, by index.
    pub fn received(&self) -> &[bool] {
        &self.received
    }

    /// Number of distinct fragments received.
    // Not inlined: the count over the flags is vectorized wherever it lands (about 500 bytes of
    // the simd128 wasm each time), for at most a few dozen flags.
    #[inline(never)]
    pub fn received_count(&self) -> usize {
        self.received.iter().filter(|&&r| r).count()
    }

    /// Bytes of the distinct fragments received.
    pub fn bytes_received(&self) -> u64 {
        self.bytes
    }

    /// Whether every fragment arrived.
    pub fn is_complete(&self) -> bool {
        !self.received.is_empty() && self.received.iter().all(|&r| r)
    }

    /// The quality the encoder measured with as many fragments as have arrived (exact for
    /// arrivals in index order; an estimate otherwise).
    pub fn expected_quality(&self) -> Option<f64> {
        self.header.as_ref()?.curve.at(self.received_count()).map(|p| p.quality)
    }

    /// The decoding state (for the `parts` views).
    pub(crate) fn state(&self) -> Option<&State> {
        self.state.as_ref()
    }

    /// A preview's pixels made without a whole reconstruction first, where the encoding can
    /// (`spectral` images): as [`StreamingDecoder::preview`] shows them.
    fn preview_pixels(&self) -> Option<(u32, u32, u8, Vec<u8>)> {
        match (&self.header, &self.state) {
            (Some(h), Some(State::Spectral(s))) if self.received_count() > 0 => s.preview_pixels(&h.kind),
            _ => None,
        }
    }

    /// The best reconstruction from the fragments received.
    pub fn reconstruct(&self) -> Result<Reconstruction, HoloError> {
        match (&self.header, &self.state) {
            (Some(h), Some(s)) if self.received_count() > 0 => Ok(s.reconstruct(&h.kind, &self.received)),
            _ => Err(HoloError::NoFragments),
        }
    }
}

/// When the streaming decoder makes preview frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreviewConfig {
    /// At least this long between two previews (0: after every fragment).
    pub preview_interval_ms: u64,
    /// No preview before the expected quality reaches this (dB for images, cosine for
    /// tensors; 0 or below: from the first fragment).
    pub min_quality: f64,
    /// Previews are scaled down to at most this many pixels on their longer side.
    pub max_preview_resolution: u32,
}

impl Default for PreviewConfig {
    fn default() -> Self {
        PreviewConfig { preview_interval_ms: 0, min_quality: 0.0, max_preview_resolution: 512 }
    }
}

/// One preview: an image (RGBA, or gray for gray images and tensors).
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 4 (RGBA) or 1 (gray).
    pub channels: u8,
    /// The quality the encoder measured for this many fragments.
    pub quality: f64,
    /// Bytes of fragments consumed so far.
    pub bytes_processed: u64,
    /// Fragments consumed so far.
    pub fragments: usize,
    /// `width * height * channels` bytes.
    pub data: Vec<u8>,
}

/// A [`HoloDecoder`] that turns arrivals into preview frames, for the browser and the server.
#[derive(Debug, Clone)]
pub struct StreamingDecoder {
    decoder: HoloDecoder,
    config: PreviewConfig,
    last_preview_ms: Option<u64>,
}

impl StreamingDecoder {
    /// A decoder making previews as `config` says.
    pub fn with_preview(config: PreviewConfig) -> Self {
        StreamingDecoder { decoder: HoloDecoder::new(), config, last_preview_ms: None }
    }

    /// The same decoder, refusing assets of more than `max_samples` samples
    /// ([`HoloDecoder::with_max_samples`]).
    pub fn with_max_samples(mut self, max_samples: u64) -> Self {
        self.decoder = self.decoder.with_max_samples(max_samples);
        self
    }

    /// The underlying decoder.
    pub fn decoder(&self) -> &HoloDecoder {
        &self.decoder
    }

    /// Pushes a fragment that arrived at `now_ms` (any monotonic clock); returns a preview
    /// when one is due. Corrupted fragments and fragments of another asset are errors and
    /// change nothing; duplicates make no preview.
    pub fn push(&mut self, fragment: &[u8], now_ms: u64) -> Result<Option<PreviewFrame>, HoloError> {
        if self.push_due(fragment, now_ms)? { Ok(Some(self.preview()?)) } else { Ok(None) }
    }

    /// [`Self::push`] without making the preview: `true` when one is due (and counted as made),
    /// for callers that draw it themselves (on the GPU, from [`HoloDecoder::spectral_parts`]).
    pub fn push_due(&mut self, fragment: &[u8], now_ms: u64) -> Result<bool, HoloError> {
        self.push_due_spectral(fragment, now_ms).map(|(due, _)| due)
    }

    /// [`Self::push_due`] that also returns what a `spectral` fragment added to the
    /// coefficients ([`HoloDecoder::push_spectral`]), for a GPU decoder that accumulates them
    /// on the device: every update must be added there, due or not.
    pub fn push_due_spectral(
        &mut self,
        fragment: &[u8],
        now_ms: u64,
    ) -> Result<(bool, Option<crate::parts::SpectralUpdate>), HoloError> {
        let (pushed, update) = self.decoder.push_spectral(fragment)?;
        if let Pushed::Duplicate { .. } = pushed {
            return Ok((false, None));
        }
        Ok((self.due(now_ms), update))
    }

    /// Whether a preview is due after an accepted fragment (and counts it as made if so).
    fn due(&mut self, now_ms: u64) -> bool {
        let due = self.last_preview_ms.is_none_or(|t| now_ms.saturating_sub(t) >= self.config.preview_interval_ms);
        let quality = self.decoder.expected_quality().unwrap_or(0.0);
        let last = self.decoder.is_complete();
        if !(last || due && quality >= self.config.min_quality) {
            return false;
        }
        self.last_preview_ms = Some(now_ms);
        true
    }

    /// Decodes `fragments` in order and calls `callback` with each preview; returns the final
    /// reconstruction. Fragments that fail verification are skipped.
    pub fn decode_with_previews<'a>(
        &mut self,
        fragments: impl IntoIterator<Item = &'a [u8]>,
        mut callback: impl FnMut(&PreviewFrame),
    ) -> Result<Reconstruction, HoloError> {
        for (i, f) in fragments.into_iter().enumerate() {
            // Arrival order stands in for time.
            let now = i as u64 * self.config.preview_interval_ms;
            if let Ok(Some(p)) = self.push(f, now) {
                callback(&p);
            }
        }
        self.decoder.reconstruct()
    }

    /// A preview of what has arrived, now.
    pub fn preview(&self) -> Result<PreviewFrame, HoloError> {
        // Spectral images: RGBA straight from the coefficients, no RGB reconstruction first.
        let (w, h, channels, data) = match self.decoder.preview_pixels() {
            Some(p) => p,
            None => Self::frame_of(&self.decoder.reconstruct()?),
        };
        let (w2, h2, data) = downscale(w, h, usize::from(channels), data, self.config.max_preview_resolution.max(1));
        Ok(PreviewFrame {
            width: w2,
            height: h2,
            channels,
            quality: self.decoder.expected_quality().unwrap_or(0.0),
            bytes_processed: self.decoder.bytes_received(),
            fragments: self.decoder.received_count(),
            data,
        })
    }

    /// A reconstruction as a preview's pixels: RGBA for colour images, gray otherwise.
    fn frame_of(rec: &Reconstruction) -> (u32, u32, u8, Vec<u8>) {
        match rec {
            Reconstruction::Image { width, height, channels: 3, pixels } => {
                let mut rgba = vec![255u8; pixels.len() / 3 * 4];
                for (o, p) in rgba.chunks_exact_mut(4).zip(pixels.chunks_exact(3)) {
                    o[..3].copy_from_slice(p);
                }
                (*width, *height, 4, rgba)
            }
            Reconstruction::Image { width, height, pixels, .. } => (*width, *height, 1, pixels.clone()),
            Reconstruction::Tensor { values, shape, .. } => tensor_heatmap(values, shape),
        }
    }
}

/// A gray picture of a tensor's matrix view: magnitude relative to the largest.
fn tensor_heatmap(values: &[f32], shape: &[u64]) -> (u32, u32, u8, Vec<u8>) {
    let kind = AssetKind::Tensor { dtype: haagenti_hct::DType::F32, shape: shape.to_vec() };
    let (rows, cols) = kind.matrix();
    let max = values.iter().fold(0f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
    let data = values.iter().map(|v| (v.abs() / max * 255.0) as u8).collect();
    (cols as u32, rows as u32, 1, data)
}

/// Box-filter downscale so the longer side is at most `max`.
fn downscale(w: u32, h: u32, c: usize, data: Vec<u8>, max: u32) -> (u32, u32, Vec<u8>) {
    let f = w.max(h).div_ceil(max).max(1);
    if f == 1 {
        return (w, h, data);
    }
    let (w2, h2) = (w.div_ceil(f), h.div_ceil(f));
    let mut out = vec![0u8; (w2 * h2) as usize * c];
    for y2 in 0..h2 {
        for x2 in 0..w2 {
            for ch in 0..c {
                let (mut sum, mut n) = (0u32, 0u32);
                for y in y2 * f..((y2 + 1) * f).min(h) {
                    for x in x2 * f..((x2 + 1) * f).min(w) {
                        sum += u32::from(data[(y * w + x) as usize * c + ch]);
                        n += 1;
                    }
                }
                out[(y2 * w2 + x2) as usize * c + ch] = (sum / n.max(1)) as u8;
            }
        }
    }
    (w2, h2, out)
}

#[cfg(test)]
mod tests {
    use alloc::format;

    use super::*;
    use crate::asset::Asset;
    use crate::{EncodeOptions, Encoding, encode};

    /// A 24x16 RGB gradient and its fragments.
    fn small(encoding: Encoding, fragments: u16) -> (Asset, Vec<Vec<u8>>) {
        let pixels = (0..24 * 16 * 3).map(|i| (i * 7 % 251) as u8).collect();
        let asset = Asset::image(24, 16, 3, pixels).unwrap();
        let enc = encode(&asset, &EncodeOptions { encoding, fragments, ..Default::default() }).unwrap();
        (asset, enc.fragments)
    }

    /// Fragment 0 of another asset (its id changed), with a valid checksum and a payload that
    /// does not decode.
    fn forged_first(genuine: &[u8]) -> Vec<u8> {
        let f = Fragment::parse(genuine).unwrap();
        let mut header = f.header_bytes.clone();
        header[0] ^= 1;
        Fragment::build(f.index, &header, &[1, 2, 3])
    }

    #[test]
    fn a_bad_first_fragment_changes_nothing() {
        // (Nct takes tensors only: tests/tests/holo_nct.rs.)
        for encoding in Encoding::ALL.into_iter().filter(|e| *e != Encoding::Nct) {
            let (asset, fragments) = small(encoding, 4);
            let forged = forged_first(&fragments[0]);
            let mut d = HoloDecoder::new();
            let fresh = format!("{d:?}");
            assert!(d.push(&forged).is_err(), "{encoding:?}");
            assert_eq!(format!("{d:?}"), fresh, "{encoding:?}: state kept from a refused fragment");
            assert!(d.header().is_none());
            for f in &fragments {
                assert!(matches!(d.push(f), Ok(Pushed::Accepted { .. })), "{encoding:?}");
            }
            assert!(d.is_complete());
            let mut all = HoloDecoder::new();
            for f in &fragments {
                all.push(f).unwrap();
            }
            assert_eq!(d.reconstruct().unwrap(), all.reconstruct().unwrap(), "{encoding:?}");
            if matches!(encoding, Encoding::Residual | Encoding::LowRank) {
                let Reconstruction::Image { pixels, .. } = d.reconstruct().unwrap() else { unreachable!() };
                assert_eq!(pixels, asset.content(), "{encoding:?}");
            }
        }
    }

    /// Without the `nct` feature an `nct` fragment is refused as unsupported, changing nothing.
    #[cfg(not(feature = "nct"))]
    #[test]
    fn nct_fragments_are_unsupported_without_the_feature() {
        use crate::asset::{AssetHeader, AssetKind};
        let kind = AssetKind::Tensor { dtype: haagenti_hct::DType::F32, shape: alloc::vec![64, 64] };
        let header = AssetHeader {
            asset_id: [7; 32],
            encoding: Encoding::Nct,
            fragment_count: 2,
            kind,
            params: alloc::vec![0; 9],
            curve: Default::default(),
        };
        let f = Fragment::build(0, &header.to_bytes(), &[1, 2, 3]);
        let mut d = HoloDecoder::new();
        let e = d.push(&f).unwrap_err();
        assert!(matches!(e, HoloError::Unsupported(_)), "{e:?}");
        assert!(format!("{e}").contains("nct"));
        assert!(d.header().is_none());
    }

    #[test]
    fn the_streaming_decoder_keeps_nothing_of_a_refused_fragment() {
        let (_, fragments) = small(Encoding::Spectral, 3);
        let forged = forged_first(&fragments[0]);
        let mut s = StreamingDecoder::with_preview(PreviewConfig { preview_interval_ms: 100, ..Default::default() });
        let fresh = format!("{s:?}");
        assert!(s.push(&forged, 0).is_err());
        assert_eq!(format!("{s:?}"), fresh);
        // The first genuine fragment makes the first preview, as in a fresh decoder.
        assert!(s.push(&fragments[1], 50).unwrap().is_some());
        assert!(s.push(&fragments[0], 60).unwrap().is_none());
        assert!(s.push(&fragments[2], 70).unwrap().is_some(), "the last fragment always previews");
        assert!(s.decoder().is_complete());
    }
}
