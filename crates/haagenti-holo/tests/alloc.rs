//! Peak heap while decoding, measured by a counting allocator: bounded by the asset's real
//! samples (padding included), never by a shape a refused fragment declares.

use std::sync::{Mutex, MutexGuard};

use haagenti_hct::DType;
use haagenti_holo::{Asset, EncodeOptions, Encoding, HoloDecoder, PreviewConfig, StreamingDecoder, encode};

/// The counting allocator and the `holo_alloc` fuzz target's check.
mod check {
    include!("../../../fuzz/fuzz_targets/holo_alloc_check.rs");
}

use check::peak_of;

#[global_allocator]
static ALLOCATOR: check::Counting = check::Counting;

/// One measurement at a time: the counters are global.
static SERIAL: Mutex<()> = Mutex::new(());

/// The measurement lock (a failed test's poisoning does not matter: the counters are reset).
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Rebuilds a fragment with its header edited, and a valid checksum.
fn with_header(fragment: &[u8], edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let body = &fragment[..fragment.len() - 32];
    let hlen = u32::from_le_bytes(body[7..11].try_into().unwrap()) as usize;
    let mut header = body[11..11 + hlen].to_vec();
    edit(&mut header);
    let mut out = body[..7].to_vec();
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&body[11 + hlen..]);
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    out
}

/// Peak of pushing every fragment into a streaming decoder (a preview after each) and
/// reconstructing.
fn decode_peak(fragments: &[Vec<u8>]) -> usize {
    peak_of(|| {
        let mut s = StreamingDecoder::with_preview(PreviewConfig::default());
        for (i, f) in fragments.iter().enumerate() {
            s.push(f, i as u64).unwrap();
        }
        s.decoder().reconstruct().unwrap();
    })
}

fn image(w: u32, h: u32, c: u8) -> Asset {
    let n = (w * h) as usize * usize::from(c);
    Asset::image(w, h, c, (0..n).map(|i| (i * 37 % 251) as u8).collect()).unwrap()
}

fn tensor(dtype: DType, shape: Vec<u64>) -> Asset {
    let n: u64 = shape.iter().product();
    let value = |i: u64| (i as f32 * 0.37).sin();
    let data: Vec<u8> = match dtype {
        DType::F32 => (0..n).flat_map(|i| value(i).to_le_bytes()).collect(),
        _ => (0..n).flat_map(|i| haagenti_hct::f32_to_f16(value(i)).to_le_bytes()).collect(),
    };
    Asset::tensor(dtype, shape, data).unwrap()
}

/// Every encoding of assets of awkward shapes (one row, one column, just past a block,
/// shorter than a block) decodes within [`HoloDecoder::memory_bound`].
#[test]
fn decoding_stays_within_the_stated_bound() {
    let _serial = serial();
    let assets = [
        image(1 << 16, 1, 3),
        image(1, 5000, 1),
        image(9, 9, 3),
        image(7, 300, 1),
        image(100, 64, 3),
        tensor(DType::F32, vec![3, 1000]),
        tensor(DType::F16, vec![64, 64]),
    ];
    for asset in &assets {
        let samples = asset.kind().samples();
        for e in Encoding::ALL {
            for k in [2u16, 8] {
                let Ok(enc) = encode(asset, &EncodeOptions { encoding: e, fragments: k, ..Default::default() }) else {
                    continue;
                };
                let largest = enc.fragments.iter().map(Vec::len).max().unwrap() as u64;
                let peak = decode_peak(&enc.fragments) as u64;
                let bound = HoloDecoder::memory_bound(samples, largest);
                assert!(peak <= bound, "{:?} {e:?} {k}: {peak} bytes, bound {bound}", asset.kind());
            }
        }
    }
}

/// A 1-row image is cut into runs of 64 samples, not padded to 8 rows: its coefficients take
/// 4 bytes a sample, not 32.
#[test]
fn a_one_row_image_is_not_padded_to_eight_rows() {
    let _serial = serial();
    let asset = image(1 << 18, 1, 1);
    let enc =
        encode(&asset, &EncodeOptions { encoding: Encoding::Spectral, fragments: 4, ..Default::default() }).unwrap();
    let peak = decode_peak(&enc.fragments);
    assert!(peak < (16 << 18) + (1 << 20), "{peak} bytes for 2^18 samples");
}

/// A 1-row RGB image of 2^24 samples declared by a fragment whose payload is another image's:
/// refused, after costing next to nothing (it cost 513 MiB when the decoder allocated for the
/// declared shape before decoding).
#[test]
fn a_refused_fragment_declaring_a_huge_one_row_image_allocates_little() {
    let _serial = serial();
    let asset = image(24, 16, 3);
    for e in Encoding::ALL.into_iter().filter(|e| e.applies_to(&asset.kind())) {
        let enc = encode(&asset, &EncodeOptions { encoding: e, fragments: 4, ..Default::default() }).unwrap();
        let width = (1u32 << 24) / 3;
        // Header: asset id (32), encoding (1), count (2), kind (1), width (4), height (4).
        let forged = with_header(&enc.fragments[0], |h| {
            h[36..40].copy_from_slice(&width.to_le_bytes());
            h[40..44].copy_from_slice(&1u32.to_le_bytes());
        });
        let mut d = HoloDecoder::new();
        let peak = peak_of(|| assert!(d.push(&forged).is_err(), "{e:?}"));
        assert!(peak < 1 << 20, "{e:?}: {peak} bytes for a refused fragment");
    }
}

/// The same for a tensor of 1 x 2^24 elements (the refinement layers allocated the first
/// layer's levels and scales, 20 MiB, before decoding it).
#[test]
fn a_refused_fragment_declaring_a_huge_tensor_allocates_little() {
    let _serial = serial();
    let asset = tensor(DType::F32, vec![64, 64]);
    for e in Encoding::ALL {
        let enc = encode(&asset, &EncodeOptions { encoding: e, fragments: 4, ..Default::default() }).unwrap();
        // Header: asset id (32), encoding (1), count (2), kind (1), dtype (1), rank (1), dims.
        let forged = with_header(&enc.fragments[0], |h| {
            h[38..46].copy_from_slice(&1u64.to_le_bytes());
            h[46..54].copy_from_slice(&(1u64 << 24).to_le_bytes());
        });
        let mut d = HoloDecoder::new();
        let peak = peak_of(|| assert!(d.push(&forged).is_err(), "{e:?}"));
        assert!(peak < 1 << 20, "{e:?}: {peak} bytes for a refused fragment");
    }
}

/// Every finding of the `holo_alloc` fuzz target, replayed.
#[test]
fn holo_alloc_regressions_stay_within_the_bound() {
    let _serial = serial();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/holo_alloc");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|f| f.to_string_lossy().starts_with('.')) {
            continue;
        }
        check::holo_alloc(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n > 0, "no regressions in {}", dir.display());
}
