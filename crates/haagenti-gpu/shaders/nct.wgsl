// NCT decode (docs/nct.md, "Decoding a block"): every stage's windows through the codebook,
// the Walsh-Hadamard transform of each block in workgroup memory, the stage's signs, the
// wrapping i32 sum over stages, then f32(acc) * row_scale. Integer steps are exact; the
// conversion is done bit by bit (round to nearest even) and the one multiply is the GPU's
// correctly rounded f32 multiply wherever its result is a normal number, and an exact integer
// emulation elsewhere (subnormal, zero or overflowing results, which GPUs may flush), so the
// bytes written equal the CPU decoder's.
//
// One invocation a weight, 256 a workgroup: a workgroup holds 256 / g whole blocks (g, the
// group, is a power of two from 8 to 256 and divides cols). The host splits a tensor into
// chunks of rows; indices below are local to the chunk.

struct Params {
    cols: u32,
    group_log2: u32,
    stages: u32,
    // Weights in this chunk.
    n_weights: u32,
    // Workgroups along x (the dispatch is two-dimensional past the per-dimension limit).
    groups_x: u32,
    // Output: 0 f32 (a word a weight), 1 binary16, 2 bfloat16 (two weights a word, the first
    // in the low half, converted as half.wgsl converts).
    half: u32,
    _pad1: u32,
    _pad2: u32,
}

struct Stage {
    // Bits of one block: a multiple of 8 from g to 3g.
    block_bits: u32,
    // The stage multiplier M (1 to 2^15).
    multiplier: i32,
    // Where the chunk's blocks of this stage start in `data`, in 32-bit words.
    data_word: u32,
    // Where this stage's signs start in `signs`, in 32-bit words (cols / 32 a stage).
    sign_word: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// The 4096 codebook entries, sign-extended.
@group(0) @binding(1) var<storage, read> codebook: array<i32>;
@group(0) @binding(2) var<storage, read> stages: array<Stage>;
@group(0) @binding(3) var<storage, read> data: array<u32>;
@group(0) @binding(4) var<storage, read> signs: array<u32>;
// f32 bits of each row's scale; 0xFFFFFFFF marks a row of code 0 (all +0.0).
@group(0) @binding(5) var<storage, read> scales: array<u32>;
// f32 bits of the decoded weights, or their half-precision bits two to a word.
@group(0) @binding(6) var<storage, read_write> out: array<u32>;

var<workgroup> sh: array<i32, 256>;

const ZERO_ROW: u32 = 0xFFFFFFFFu;

// `n` (1 to 25) bits of `data` from bit `bit`, least significant first.
fn read_bits(bit: u32, n: u32) -> u32 {
    let w = bit >> 5u;
    let s = bit & 31u;
    var v = data[w] >> s;
    if (s + n > 32u) {
        v = v | (data[w + 1u] << (32u - s));
    }
    return v & ((1u << n) - 1u);
}

// i32_to_f32_bits, shift_rne and mul_exact: shaders/exact.wgsl; to_f16 and to_bf16: shaders/halfconv.wgsl;
// both prepended to this source.

@compute @workgroup_size(256)
fn decode(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * p.groups_x) * 256u + lid;
    let live = i < p.n_weights;
    let w = min(i, p.n_weights - 1u);
    let r = w / p.cols;
    let c = w % p.cols;
    let g = 1u << p.group_log2;
    let t = c & (g - 1u);
    let block = r * (p.cols >> p.group_log2) + (c >> p.group_log2);
    var acc: i32 = 0;
    for (var k = 0u; k < p.stages; k = k + 1u) {
        let st = stages[k];
        let bits = st.block_bits;
        let pos = (t * bits) >> p.group_log2;
        let start = st.data_word * 32u + block * bits;
        var window: u32;
        if (pos + 12u <= bits) {
            window = read_bits(start + pos, 12u);
        } else {
            // The window runs past the block's end and wraps round to its start.
            let n = bits - pos;
            window = read_bits(start + pos, n) | (read_bits(start, 12u - n) << n);
        }
        sh[lid] = (codebook[window] * st.multiplier) >> 11u;
        workgroupBarrier();
        // The unnormalized Walsh-Hadamard transform of each block, level by level.
        for (var h = 1u; h < g; h = h << 1u) {
            if ((t & h) == 0u) {
                let a = sh[lid];
                let b = sh[lid + h];
                sh[lid] = a + b;
                sh[lid + h] = a - b;
            }
            workgroupBarrier();
        }
        let v = sh[lid];
        let negate = (signs[st.sign_word + (c >> 5u)] >> (c & 31u)) & 1u;
        acc = acc + select(v, -v, negate == 1u);
        workgroupBarrier();
    }
    let rs = scales[r];
    var bits = 0u;
    if (rs != ZERO_ROW) {
        let a = i32_to_f32_bits(acc);
        bits = bitcast<u32>(bitcast<f32>(a) * bitcast<f32>(rs));
        let field = (bits >> 23u) & 0xFFu;
        if (field <= 1u || field >= 254u) {
            bits = mul_exact(a, rs);
        }
    }
    if (p.half == 0u) {
        if (live) {
            out[i] = bits;
        }
        return;
    }
    // Half precision: each pair of neighbours meets in workgroup memory (a workgroup starts
    // at an even weight, and so does a chunk), and the even one writes the word.
    sh[lid] = bitcast<i32>(select(to_f16(bits), to_bf16(bits), p.half == 2u));
    workgroupBarrier();
    if (live && (lid & 1u) == 0u) {
        var word = bitcast<u32>(sh[lid]);
        if (i + 1u < p.n_weights) {
            word = word | (bitcast<u32>(sh[lid + 1u]) << 16u);
        }
        out[i >> 1u] = word;
    }
}
