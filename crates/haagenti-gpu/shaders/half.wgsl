// f32 values to half precision (IEEE binary16 or bfloat16), two to a 32-bit word: element 2i
// in the low 16 bits, 2i + 1 in the high ones (the little-endian byte order of a u16 array).
// The rounding is haagenti_hct's `f32_to_f16` / `f32_to_bf16`, step for step, in integer
// arithmetic on the bits: to nearest even, with subnormals, overflow to infinity, and NaN kept
// a NaN (quieted). No float operation touches the values, so no GPU can flush or canonicalize
// them, and the result is exact on every adapter.

struct Params {
    // Elements.
    n: u32,
    // 0: binary16, 1: bfloat16.
    kind: u32,
    // Output words: ceil(n / 2).
    words: u32,
    groups_x: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

fn to_bf16(b: u32) -> u32 {
    if ((b & 0x7fffffffu) > 0x7f800000u) {
        return ((b >> 16u) | 0x40u) & 0xffffu;
    }
    return ((b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u) & 0xffffu;
}

fn to_f16(b: u32) -> u32 {
    let sign = (b >> 16u) & 0x8000u;
    let exp = i32((b >> 23u) & 0xffu);
    let man = b & 0x7fffffu;
    if (exp == 0xff) {
        return sign | 0x7c00u | select(0u, 0x200u, man != 0u);
    }
    let e = exp - 127 + 15;
    if (e >= 31) {
        return sign | 0x7c00u;
    }
    if (e <= 0) {
        if (e < -10) {
            return sign;
        }
        // Subnormal: the mantissa with its implicit bit, shifted into place (14 to 24 bits) and
        // rounded.
        let m = man | 0x800000u;
        let shift = u32(14 - e);
        let half = 1u << (shift - 1u);
        return sign | ((m + half - 1u + ((m >> shift) & 1u)) >> shift);
    }
    // A carry out of the mantissa rounds up into the exponent (and to infinity past 65504).
    let rounded = ((u32(e) << 10u) | (man >> 13u)) + (((man & 0x1fffu) + 0xfffu + ((man >> 13u) & 1u)) >> 13u);
    return (sign | rounded) & 0xffffu;
}

fn convert(b: u32) -> u32 {
    return select(to_f16(b), to_bf16(b), p.kind == 1u);
}

@compute @workgroup_size(256)
fn pack(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = (wid.x + wid.y * p.groups_x) * 256u + lid;
    if (o >= p.words) {
        return;
    }
    let i = 2u * o;
    var v = convert(src[i]);
    if (i + 1u < p.n) {
        v = v | (convert(src[i + 1u]) << 16u);
    }
    dst[o] = v;
}
