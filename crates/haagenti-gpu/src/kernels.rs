//! The WGSL sources, one per kernel family; each is validated by naga in the tests and
//! compiled by the device (or the browser) when a [`crate::GpuDecoder`] is made.

/// NCT decode: windows, codebook, Walsh-Hadamard, signs, stages, scale (docs/nct.md), to f32
/// or straight to half precision, after `shaders/exact.wgsl` (the exact f32 product in
/// integers, shared with [`QUANT`]) and `shaders/halfconv.wgsl` (shared with [`HALF`]).
pub const NCT: &str = concat!(
    include_str!("../shaders/exact.wgsl"),
    include_str!("../shaders/halfconv.wgsl"),
    include_str!("../shaders/nct.wgsl")
);
/// HCT's int8 / int4 quantized tensors back to f32 (`QuantScheme::dequantize`).
pub const QUANT: &str = concat!(include_str!("../shaders/exact.wgsl"), include_str!("../shaders/quant.wgsl"));
/// HCT byte planes back to elements (docs/hct.md, transforms).
pub const PLANES: &str = include_str!("../shaders/planes.wgsl");
/// The inverse randomized Hadamard rotation of HoloTensor's `projection` encoding.
pub const HADAMARD: &str = concat!(include_str!("../shaders/exact.wgsl"), include_str!("../shaders/hadamard.wgsl"));
/// HoloTensor `spectral` images: inverse DCT per plane, then chroma and colour to RGBA.
pub const SPECTRAL: &str = concat!(include_str!("../shaders/exact.wgsl"), include_str!("../shaders/spectral.wgsl"));

/// HoloTensor `spectral` coefficients accumulated as fragments arrive.
pub const ACCUMULATE: &str = include_str!("../shaders/accumulate.wgsl");

/// HoloTensor `residual` tensors: int4 levels and refinement bits to values.
pub const REFINE: &str = concat!(include_str!("../shaders/exact.wgsl"), include_str!("../shaders/refine.wgsl"));
/// HoloTensor `residual` assets in the bit-group profile (images): groups of bits to samples.
pub const BITGROUPS: &str = include_str!("../shaders/bitgroups.wgsl");
/// HoloTensor `lowrank` assets: the sum of the components received, in the CPU's order and
/// roundings (after `shaders/exact.wgsl`, whose exact product and sum it falls back on).
pub const LOWRANK: &str = concat!(include_str!("../shaders/exact.wgsl"), include_str!("../shaders/lowrank.wgsl"));
/// f32 values to binary16 or bfloat16, two to a word (rounded as the CPU's `f32_to_f16`).
pub const HALF: &str = concat!(include_str!("../shaders/halfconv.wgsl"), include_str!("../shaders/half.wgsl"));
/// Draws a texture onto a surface pixel for pixel (a vertex and a fragment shader).
pub const BLIT: &str = include_str!("../shaders/blit.wgsl");

/// Every compute kernel source with its name.
pub const ALL: [(&str, &str); 10] = [
    ("exact.wgsl + halfconv.wgsl + nct.wgsl", NCT),
    ("planes.wgsl", PLANES),
    ("exact.wgsl + hadamard.wgsl", HADAMARD),
    ("exact.wgsl + spectral.wgsl", SPECTRAL),
    ("accumulate.wgsl", ACCUMULATE),
    ("exact.wgsl + refine.wgsl", REFINE),
    ("bitgroups.wgsl", BITGROUPS),
    ("halfconv.wgsl + half.wgsl", HALF),
    ("exact.wgsl + quant.wgsl", QUANT),
    ("exact.wgsl + lowrank.wgsl", LOWRANK),
];
