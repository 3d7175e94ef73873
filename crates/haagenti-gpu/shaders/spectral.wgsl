// HoloTensor `spectral` images (haagenti_holo::SpectralParts, whose docs give the CPU's
// steps): `idct` turns one plane's quantized coefficient blocks into samples, one workgroup a
// block; `to_rgba` turns the planes into RGBA pixels (chroma doubled when subsampled), one
// invocation a pixel, rows padded to the texture copy's 256-byte pitch.
//
// Every step is the CPU's, in the CPU's order, and every product and sum is exact.wgsl's
// mul_checked / add_checked (prepended): no FMA contraction and no flushing, so the samples
// and pixels are the CPU's bit for bit. Values travel as f32 bits in u32s; zeros are tested
// on the bits (a GPU that flushes would call a subnormal zero), constants are the CPU's f32
// bits, and i32 coefficients are converted by i32_to_f32_bits (round to nearest even).

struct IdctParams {
    width: u32,
    height: u32,
    // 1: 8x8 tiles; 0: runs of 64 samples in raster order.
    tiled: u32,
    blocks: u32,
    groups_x: u32,
    // 0 (exact.wgsl's opaque zero).
    opaque: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> ip: IdctParams;
@group(0) @binding(1) var<storage, read> coefs: array<i32>;
// f32 bits, as the rest of the values here.
@group(0) @binding(2) var<storage, read> steps: array<u32>;
@group(0) @binding(3) var<storage, read> dc: array<u32>;
// basis[k * 8 + n] = a(k) cos(pi (2n + 1) k / 16), the CPU's table.
@group(0) @binding(4) var<storage, read> basis: array<u32>;
@group(0) @binding(5) var<storage, read_write> plane: array<u32>;

var<workgroup> f: array<u32, 64>;
var<workgroup> tt: array<u32, 64>;

fn nonzero(x: u32) -> bool {
    return (x & 0x7FFFFFFFu) != 0u;
}
var<workgroup> row_mask: atomic<u32>;
var<workgroup> any_ac: atomic<u32>;

@compute @workgroup_size(64)
fn idct(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    opaque = ip.opaque;
    let bi = wid.x + wid.y * ip.groups_x;
    let b = min(bi, ip.blocks - 1u);
    let q = coefs[b * 64u + lid];
    var v = mul_checked(i32_to_f32_bits(q), steps[lid]);
    if (lid == 0u) {
        v = mul_checked(dc[b], steps[0]);
        atomicStore(&row_mask, 0u);
        atomicStore(&any_ac, 0u);
    }
    f[lid] = v;
    workgroupBarrier();
    let r = lid >> 3u;
    let k = lid & 7u;
    if (nonzero(v)) {
        atomicOr(&row_mask, 1u << r);
    }
    if (lid != 0u && q != 0) {
        atomicOr(&any_ac, 1u);
    }
    // Rows: t[r][k] = sum over n of f[r][n] * basis[n][k], zeros skipped.
    var t = 0u;
    for (var n = 0u; n < 8u; n = n + 1u) {
        let x = f[r * 8u + n];
        if (nonzero(x)) {
            t = add_checked(t, mul_checked(x, basis[n * 8u + k]));
        }
    }
    tt[lid] = t;
    workgroupBarrier();
    let rows = atomicLoad(&row_mask);
    let flat = atomicLoad(&any_ac) == 0u;
    // Columns: out[m][c] = sum over rows n that had a non-zero of basis[n][m] * t[n][c].
    let m = lid >> 3u;
    let c = lid & 7u;
    var o = 0u;
    for (var n = 0u; n < 8u; n = n + 1u) {
        if (((rows >> n) & 1u) == 1u) {
            o = add_checked(o, mul_checked(basis[n * 8u + m], tt[n * 8u + c]));
        }
    }
    if (flat) {
        // A flat block: the DC alone (the orthonormal DCT's DC gain is 1/8; x / 8 and
        // x * 0.125 are the same correctly rounded number).
        o = mul_checked(f[0], 0x3E000000u);
    }
    if (bi >= ip.blocks) {
        return;
    }
    if (ip.tiled == 1u) {
        let bw = (ip.width + 7u) / 8u;
        let x = (b % bw) * 8u + c;
        let y = (b / bw) * 8u + m;
        if (x < ip.width && y < ip.height) {
            plane[y * ip.width + x] = o;
        }
    } else {
        let at = b * 64u + lid;
        if (at < ip.width * ip.height) {
            plane[at] = o;
        }
    }
}

struct RgbaParams {
    width: u32,
    height: u32,
    channels: u32,
    subsampled: u32,
    // Words (pixels) a row of the output.
    pitch: u32,
    groups_x: u32,
    // 0 (exact.wgsl's opaque zero).
    opaque: u32,
    _pad1: u32,
}

@group(0) @binding(10) var<uniform> rp: RgbaParams;
@group(0) @binding(11) var<storage, read> luma: array<u32>;
@group(0) @binding(12) var<storage, read> cb_plane: array<u32>;
@group(0) @binding(13) var<storage, read> cr_plane: array<u32>;
@group(0) @binding(14) var<storage, read_write> pixels: array<u32>;

// to_u8 ((v + 0.5) as u8, saturating, NaN to 0): exact.wgsl.

struct Tap {
    lo: u32,
    hi: u32,
    // f32 bits of the weight of `hi`: 0, 1/4 or 3/4.
    t: u32,
}

// Output sample i of n from a half-size side of n2 samples (spectral.rs `double`).
fn tap(i: u32, n2: u32) -> Tap {
    if (i == 0u) {
        return Tap(0u, 0u, 0u);
    }
    let lo = min((i - 1u) / 2u, n2 - 1u);
    return Tap(lo, min(lo + 1u, n2 - 1u), select(0x3F400000u, 0x3E800000u, (i & 1u) == 1u));
}

// a + (b - a) * t, as the CPU's `double` computes it.
fn lerp(a: u32, b: u32, t: u32) -> u32 {
    return add_checked(a, mul_checked(add_checked(b, a ^ 0x80000000u), t));
}

fn widened(plane_index: u32, row: u32, tx: Tap, w2: u32) -> u32 {
    var a: u32;
    var b: u32;
    if (plane_index == 1u) {
        a = cb_plane[row * w2 + tx.lo];
        b = cb_plane[row * w2 + tx.hi];
    } else {
        a = cr_plane[row * w2 + tx.lo];
        b = cr_plane[row * w2 + tx.hi];
    }
    return lerp(a, b, tx.t);
}

fn chroma(plane_index: u32, x: u32, y: u32) -> u32 {
    if (rp.subsampled == 0u) {
        let i = y * rp.width + x;
        return select(cr_plane[i], cb_plane[i], plane_index == 1u);
    }
    let w2 = (rp.width + 1u) / 2u;
    let h2 = (rp.height + 1u) / 2u;
    let tx = tap(x, w2);
    let ty = tap(y, h2);
    let a = widened(plane_index, ty.lo, tx, w2);
    let b = widened(plane_index, ty.hi, tx, w2);
    return lerp(a, b, ty.t);
}

@compute @workgroup_size(256)
fn to_rgba(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    opaque = rp.opaque;
    let i = (wid.x + wid.y * rp.groups_x) * 256u + lid;
    if (i >= rp.width * rp.height) {
        return;
    }
    let x = i % rp.width;
    let y = i / rp.width;
    // Y + 128, then the CPU's constants as f32: 1.402, 0.344136, 0.714136, 1.772.
    let l = add_checked(luma[i], 0x43000000u);
    var rgb: vec3<u32>;
    if (rp.channels == 3u) {
        let cb = chroma(1u, x, y);
        let cr = chroma(2u, x, y);
        let r = add_checked(l, mul_checked(0x3FB374BCu, cr));
        let g = add_checked(
            add_checked(l, mul_checked(0x3EB03298u, cb) ^ 0x80000000u),
            mul_checked(0x3F36D19Eu, cr) ^ 0x80000000u,
        );
        let b = add_checked(l, mul_checked(0x3FE2D0E5u, cb));
        rgb = vec3<u32>(to_u8(r), to_u8(g), to_u8(b));
    } else {
        let g = to_u8(l);
        rgb = vec3<u32>(g, g, g);
    }
    pixels[y * rp.pitch + x] = rgb.x | (rgb.y << 8u) | (rgb.z << 16u) | (255u << 24u);
}
