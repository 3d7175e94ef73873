// HCT's quantized tensors (haagenti_hct::QuantScheme) back to f32: int8 `q * s` with one
// scale a group, int4 `(q - z) * s` with a scale and a zero point a group. The payload is as
// stored: the groups' f32 scales, (int4) their zero points, then the values (int8 a byte;
// int4 two a byte, the first in the low nibble). `q` and `q - z` are small integers, exact in
// f32; the one multiply is the GPU's (correctly rounded) where the result is a normal number
// and `mul_exact` (exact.wgsl, prepended) where a GPU might flush or overflow: the bits equal
// `QuantScheme::dequantize`'s on the CPU. One invocation a value.

struct Params {
    // Values.
    n: u32,
    // Values a group (at least 1).
    group: u32,
    // 1: int8, 2: int4 (QuantScheme::code).
    scheme: u32,
    // Groups: ceil(n / group).
    groups: u32,
    groups_x: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// The payload's bytes, four to a word (the scales start at byte 0, so they are whole words).
@group(0) @binding(1) var<storage, read> payload: array<u32>;
// f32 bits of the values.
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

fn byte_at(j: u32) -> u32 {
    return (payload[j >> 2u] >> ((j & 3u) * 8u)) & 0xFFu;
}

@compute @workgroup_size(256)
fn dequant(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * p.groups_x) * 256u + lid;
    if (i >= p.n) {
        return;
    }
    let g = i / p.group;
    let s = payload[g];
    var level: i32;
    if (p.scheme == 1u) {
        // The byte as i8.
        level = (i32(byte_at(4u * p.groups + i)) << 24u) >> 24u;
    } else {
        let q = (byte_at(5u * p.groups + i / 2u) >> (4u * (i & 1u))) & 15u;
        level = i32(q) - i32(byte_at(4u * p.groups + g));
    }
    let a = bitcast<u32>(f32(level));
    var bits = bitcast<u32>(bitcast<f32>(a) * bitcast<f32>(s));
    let field = (bits >> 23u) & 0xFFu;
    if (field <= 1u || field >= 254u) {
        bits = mul_exact(a, s);
    }
    out[i] = bits;
}
