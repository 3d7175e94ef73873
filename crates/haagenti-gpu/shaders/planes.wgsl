// HCT byte planes back to elements (haagenti_hct::Transform::inverse): byte p of element i
// is byte p * n + i of the input; `SignExpPlanes` then rotates each element right by one bit.
// Integer only, so exact. One invocation per output word: two 2-byte elements, one 4-byte
// element, or half of an 8-byte one.

struct Params {
    // Elements.
    n: u32,
    // Bytes an element: 2, 4 or 8.
    width: u32,
    // 1 for SignExpPlanes.
    rotate: u32,
    // Output words.
    words: u32,
    groups_x: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

fn byte_at(j: u32) -> u32 {
    return (src[j >> 2u] >> ((j & 3u) * 8u)) & 0xFFu;
}

fn element2(i: u32) -> u32 {
    let v = byte_at(i) | (byte_at(p.n + i) << 8u);
    return select(v, ((v >> 1u) | (v << 15u)) & 0xFFFFu, p.rotate == 1u);
}

fn word4(i: u32, first: u32) -> u32 {
    return byte_at(first * p.n + i) | (byte_at((first + 1u) * p.n + i) << 8u)
        | (byte_at((first + 2u) * p.n + i) << 16u) | (byte_at((first + 3u) * p.n + i) << 24u);
}

@compute @workgroup_size(256)
fn unplane(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let o = (wid.x + wid.y * p.groups_x) * 256u + lid;
    if (o >= p.words) {
        return;
    }
    if (p.width == 2u) {
        let i = 2u * o;
        var v = element2(i);
        if (i + 1u < p.n) {
            v = v | (element2(i + 1u) << 16u);
        }
        dst[o] = v;
    } else if (p.width == 4u) {
        let v = word4(o, 0u);
        dst[o] = select(v, (v >> 1u) | (v << 31u), p.rotate == 1u);
    } else {
        let i = o >> 1u;
        let lo = word4(i, 0u);
        let hi = word4(i, 4u);
        if (p.rotate == 1u) {
            // The 64-bit element rotated right by one.
            dst[o] = select((lo >> 1u) | (hi << 31u), (hi >> 1u) | (lo << 31u), (o & 1u) == 1u);
        } else {
            dst[o] = select(lo, hi, (o & 1u) == 1u);
        }
    }
}
