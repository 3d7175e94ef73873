// HoloTensor `residual` tensors (refinement profile): asymmetric int4 levels with a scale and
// zero point per 64 values, refined by `r` bit planes (haagenti_holo::RefineParts):
// (q - z) * s, or ((q - z) - 0.5 + (b + 0.5) * 2^-r) * s. `(b + 0.5) * 2^-r` is exact (b has
// at most 20 bits), so fusing it with the add changes nothing, and nothing before `* s` comes
// near the subnormals; the product with `s` is exact.wgsl's mul_checked (prepended), as a
// subnormal or overflowing result may be flushed by a GPU: bit-identical to the CPU.

struct Params {
    n: u32,
    // Refinement layers received.
    r: u32,
    // Bytes a layer (n / 8 rounded up).
    layer_bytes: u32,
    groups_x: u32,
    // f32 bits of 2^-r.
    step: u32,
    // 0 (exact.wgsl's opaque zero).
    opaque: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// One level a byte, four to a word.
@group(0) @binding(1) var<storage, read> levels: array<u32>;
// Per group of 64 values: the scale's f32 bits, then the zero point.
@group(0) @binding(2) var<storage, read> scales: array<u32>;
// The layers one after another, `layer_bytes` each, four bytes to a word.
@group(0) @binding(3) var<storage, read> layers: array<u32>;
// f32 bits.
@group(0) @binding(4) var<storage, read_write> out: array<u32>;

fn byte_of(i: u32) -> u32 {
    return (layers[i >> 2u] >> ((i & 3u) * 8u)) & 0xFFu;
}

@compute @workgroup_size(256)
fn dequant(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    opaque = p.opaque;
    let i = (wid.x + wid.y * p.groups_x) * 256u + lid;
    if (i >= p.n) {
        return;
    }
    let q = i32((levels[i >> 2u] >> ((i & 3u) * 8u)) & 0xFFu);
    let g = i / 64u;
    let s = scales[2u * g];
    let level = f32(q - bitcast<i32>(scales[2u * g + 1u]));
    if (p.r == 0u) {
        out[i] = mul_checked(bitcast<u32>(level), s);
        return;
    }
    var b = 0u;
    for (var k = 0u; k < p.r; k = k + 1u) {
        b = 2u * b + ((byte_of(k * p.layer_bytes + i / 8u) >> (i % 8u)) & 1u);
    }
    out[i] = mul_checked(bitcast<u32>(level - 0.5 + (f32(b) + 0.5) * bitcast<f32>(p.step)), s);
}
