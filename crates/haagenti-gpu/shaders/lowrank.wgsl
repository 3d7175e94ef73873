// HoloTensor `lowrank` assets (haagenti_holo::LowRankParts): per element, over the components
// in order, o += u[i] * v[j] in f32, the product rounded and then the sum, from +0, skipped
// where u[i] == 0, a NaN written as 0x7FC00000: the CPU's order and roundings exactly.
//
// Every product and sum is exact.wgsl's mul_checked / add_checked (no FMA contraction, no
// flushing: see there).
// `matrix` writes every plane's f32 values (plane-major); `to_rgba` an image's pixels,
// (o + 0.5) as u8 a channel (saturating, NaN to 0), grey or RGB, alpha 255.

struct Params {
    rows: u32,
    cols: u32,
    planes: u32,
    groups_x: u32,
    // 0; read from a buffer so that no compiler can fold it.
    opaque: u32,
    // to_rgba: words from one row to the next, channels (1 or 3).
    row_words: u32,
    channels: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Per plane: its components received, the word of its first `u` in `us`, of its first `v` in `vs`.
@group(0) @binding(1) var<storage, read> comps_at: array<u32>;
// Each component's `rows` u values (f32 bits), planes and components one after another.
@group(0) @binding(2) var<storage, read> us: array<u32>;
// Each component's `cols` v values.
@group(0) @binding(3) var<storage, read> vs: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<u32>;

// normal, mul_checked, add_checked and to_u8: shaders/exact.wgsl, prepended.

fn element(plane: u32, i: u32, j: u32) -> u32 {
    let n = comps_at[3u * plane];
    let u0 = comps_at[3u * plane + 1u];
    let v0 = comps_at[3u * plane + 2u];
    var o = 0u;
    for (var k = 0u; k < n; k = k + 1u) {
        let u = us[u0 + k * p.rows + i];
        if ((u & 0x7FFFFFFFu) != 0u) {
            o = add_checked(o, mul_checked(u, vs[v0 + k * p.cols + j]));
        }
    }
    if ((o & 0x7FFFFFFFu) > 0x7F800000u) {
        o = 0x7FC00000u;
    }
    return o;
}

@compute @workgroup_size(256)
fn matrix(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    opaque = p.opaque;
    let t = (wid.x + wid.y * p.groups_x) * 256u + lid;
    let len = p.rows * p.cols;
    if (t >= len * p.planes) {
        return;
    }
    let plane = t / len;
    let e = t - plane * len;
    out[t] = element(plane, e / p.cols, e % p.cols);
}

@compute @workgroup_size(256)
fn to_rgba(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    opaque = p.opaque;
    let t = (wid.x + wid.y * p.groups_x) * 256u + lid;
    if (t >= p.rows * p.cols) {
        return;
    }
    let y = t / p.cols;
    let x = t % p.cols;
    let r = to_u8(element(0u, y, x));
    var g = r;
    var b = r;
    if (p.channels == 3u) {
        g = to_u8(element(1u, y, x));
        b = to_u8(element(2u, y, x));
    }
    out[y * p.row_words + x] = r | (g << 8u) | (b << 16u) | (255u << 24u);
}
