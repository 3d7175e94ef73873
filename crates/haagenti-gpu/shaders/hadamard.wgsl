// The inverse randomized Hadamard rotation of HoloTensor's `projection` encoding
// (haagenti_holo::ProjectionParts): per block of n = 2^k coefficients, y = q * step * scale,
// the fast Walsh-Hadamard transform (levels h = 1, 2, 4, ..: (a, b) -> (a + b, a - b)), each
// value times 1 / sqrtf(n), negated where the block's sign is set, plus the plane's mean.
// Every step is one correctly rounded f32 operation in the CPU's order, each exact.wgsl's
// mul_checked / add_checked (prepended: no FMA contraction, no flushing), the coefficients
// converted by i32_to_f32_bits: bit-identical to the CPU on any GPU.
// Blocks of 8 to 256 coefficients (the encoder writes 256).

struct Params {
    // Coefficients in this dispatch (a whole number of blocks).
    n: u32,
    block_log2: u32,
    groups_x: u32,
    // f32 bits: the quantization step, the unbiasing scale, 1 / sqrtf(block), the mean.
    step: u32,
    scale: u32,
    norm: u32,
    mean: u32,
    // 0 (exact.wgsl's opaque zero).
    opaque: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> coefs: array<i32>;
// One word of 32 signs per 32 coefficients of a block.
@group(0) @binding(2) var<storage, read> signs: array<u32>;
// f32 bits.
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

var<workgroup> sh: array<u32, 256>;

// 256 values a workgroup: 256 / n whole blocks.
@compute @workgroup_size(256)
fn inverse(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    opaque = p.opaque;
    let i = (wid.x + wid.y * p.groups_x) * 256u + lid;
    let live = i < p.n;
    let j = min(i, p.n - 1u);
    let n = 1u << p.block_log2;
    let t = j & (n - 1u);
    sh[lid] = mul_checked(mul_checked(i32_to_f32_bits(coefs[j]), p.step), p.scale);
    workgroupBarrier();
    for (var h = 1u; h < n; h = h << 1u) {
        if ((t & h) == 0u) {
            let a = sh[lid];
            let b = sh[lid + h];
            sh[lid] = add_checked(a, b);
            sh[lid + h] = add_checked(a, b ^ 0x80000000u);
        }
        workgroupBarrier();
    }
    var x = mul_checked(sh[lid], p.norm);
    if (((signs[t >> 5u] >> (t & 31u)) & 1u) == 1u) {
        x = x ^ 0x80000000u;
    }
    var v = add_checked(x, p.mean);
    if ((v & 0x7FFFFFFFu) > 0x7F800000u) {
        v = 0x7FC00000u;
    }
    if (live) {
        out[i] = v;
    }
}
