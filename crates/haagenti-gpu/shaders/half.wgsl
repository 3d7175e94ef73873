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

// to_bf16 and to_f16: shaders/halfconv.wgsl, prepended to this source.

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
