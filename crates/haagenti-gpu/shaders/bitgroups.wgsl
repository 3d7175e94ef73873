// HoloTensor `residual` assets in the bit-group profile (haagenti_holo::BitGroupParts): each
// sample is `fill`, OR every received group's `width` bits of it shifted left by `lo`.
// Integers only: the CPU's samples exactly. `samples` writes one u32 a sample; `to_rgba` one
// RGBA pixel a word (1 channel: grey, 3: RGB; alpha 255), rows `row_words` apart.

struct Params {
    n: u32,
    // Groups received (at most 32).
    groups: u32,
    groups_x: u32,
    fill: u32,
    // Images (to_rgba): pixels a row, rows, words from one row to the next, channels.
    width: u32,
    height: u32,
    row_words: u32,
    channels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Per group: lo, width, the index of its first word in `data`.
@group(0) @binding(1) var<storage, read> groups_at: array<u32>;
// The groups' packed bits one after another, each from a word boundary, with a word of
// padding after the last so that a read of two words stays inside.
@group(0) @binding(2) var<storage, read> data: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

fn sample(i: u32) -> u32 {
    var e = p.fill;
    for (var k = 0u; k < p.groups; k = k + 1u) {
        let lo = groups_at[3u * k];
        let w = groups_at[3u * k + 1u];
        // The host keeps n * width below 2^32.
        let b = i * w;
        let word = groups_at[3u * k + 2u] + (b >> 5u);
        let sh = b & 31u;
        var v = data[word] >> sh;
        if (sh != 0u) {
            v = v | (data[word + 1u] << (32u - sh));
        }
        if (w < 32u) {
            v = v & ((1u << w) - 1u);
        }
        e = e | (v << lo);
    }
    return e;
}

@compute @workgroup_size(256)
fn samples(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * p.groups_x) * 256u + lid;
    if (i >= p.n) {
        return;
    }
    out[i] = sample(i);
}

@compute @workgroup_size(256)
fn to_rgba(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * p.groups_x) * 256u + lid;
    if (i >= p.width * p.height) {
        return;
    }
    let x = i % p.width;
    let y = i / p.width;
    var r = sample(i * p.channels) & 0xFFu;
    var g = r;
    var b = r;
    if (p.channels == 3u) {
        g = sample(i * 3u + 1u) & 0xFFu;
        b = sample(i * 3u + 2u) & 0xFFu;
    }
    out[y * p.row_words + x] = r | (g << 8u) | (b << 16u) | (255u << 24u);
}
