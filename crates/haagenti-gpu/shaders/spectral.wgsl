// HoloTensor `spectral` images (haagenti_holo::SpectralParts, whose docs give the CPU's
// steps): `idct` turns one plane's quantized coefficient blocks into samples, one workgroup a
// block; `to_rgba` turns the planes into RGBA pixels (chroma doubled when subsampled), one
// invocation a pixel, rows padded to the texture copy's 256-byte pitch.
//
// The order of every sum is the CPU's. The products in the sums may be fused with the adds
// by the shader compiler (WGSL cannot forbid it), which moves a sample by an ulp or so: a
// pixel can then land one level away from the CPU's where its value sits on a rounding
// boundary. The tests bound this: at most one level, on a small fraction of pixels.

struct IdctParams {
    width: u32,
    height: u32,
    // 1: 8x8 tiles; 0: runs of 64 samples in raster order.
    tiled: u32,
    blocks: u32,
    groups_x: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> ip: IdctParams;
@group(0) @binding(1) var<storage, read> coefs: array<i32>;
@group(0) @binding(2) var<storage, read> steps: array<f32>;
@group(0) @binding(3) var<storage, read> dc: array<f32>;
// basis[k * 8 + n] = a(k) cos(pi (2n + 1) k / 16), the CPU's table.
@group(0) @binding(4) var<storage, read> basis: array<f32>;
@group(0) @binding(5) var<storage, read_write> plane: array<f32>;

var<workgroup> f: array<f32, 64>;
var<workgroup> tt: array<f32, 64>;
var<workgroup> row_mask: atomic<u32>;
var<workgroup> any_ac: atomic<u32>;

@compute @workgroup_size(64)
fn idct(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let bi = wid.x + wid.y * ip.groups_x;
    let b = min(bi, ip.blocks - 1u);
    let q = coefs[b * 64u + lid];
    var v = f32(q) * steps[lid];
    if (lid == 0u) {
        v = dc[b] * steps[0];
        atomicStore(&row_mask, 0u);
        atomicStore(&any_ac, 0u);
    }
    f[lid] = v;
    workgroupBarrier();
    let r = lid >> 3u;
    let k = lid & 7u;
    if (v != 0.0) {
        atomicOr(&row_mask, 1u << r);
    }
    if (lid != 0u && q != 0) {
        atomicOr(&any_ac, 1u);
    }
    // Rows: t[r][k] = sum over n of f[r][n] * basis[n][k], zeros skipped.
    var t = 0.0;
    for (var n = 0u; n < 8u; n = n + 1u) {
        let x = f[r * 8u + n];
        if (x != 0.0) {
            t = t + x * basis[n * 8u + k];
        }
    }
    tt[lid] = t;
    workgroupBarrier();
    let rows = atomicLoad(&row_mask);
    let flat = atomicLoad(&any_ac) == 0u;
    // Columns: out[m][c] = sum over rows n that had a non-zero of basis[n][m] * t[n][c].
    let m = lid >> 3u;
    let c = lid & 7u;
    var o = 0.0;
    for (var n = 0u; n < 8u; n = n + 1u) {
        if (((rows >> n) & 1u) == 1u) {
            o = o + basis[n * 8u + m] * tt[n * 8u + c];
        }
    }
    if (flat) {
        // A flat block: the DC alone (the orthonormal DCT's DC gain is 1/8).
        o = f[0] / 8.0;
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
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(10) var<uniform> rp: RgbaParams;
@group(0) @binding(11) var<storage, read> luma: array<f32>;
@group(0) @binding(12) var<storage, read> cb_plane: array<f32>;
@group(0) @binding(13) var<storage, read> cr_plane: array<f32>;
@group(0) @binding(14) var<storage, read_write> pixels: array<u32>;

// `(v + 0.5) as u8`: rounded halves up, saturating, NaN to 0.
fn to_u8(v: f32) -> u32 {
    let x = v + 0.5;
    if (!(x > 0.0)) {
        return 0u;
    }
    return u32(min(x, 255.0));
}

struct Tap {
    lo: u32,
    hi: u32,
    t: f32,
}

// Output sample i of n from a half-size side of n2 samples (spectral.rs `double`).
fn tap(i: u32, n2: u32) -> Tap {
    if (i == 0u) {
        return Tap(0u, 0u, 0.0);
    }
    let lo = min((i - 1u) / 2u, n2 - 1u);
    return Tap(lo, min(lo + 1u, n2 - 1u), select(0.75, 0.25, (i & 1u) == 1u));
}

fn widened(plane_index: u32, row: u32, tx: Tap, w2: u32) -> f32 {
    var a: f32;
    var b: f32;
    if (plane_index == 1u) {
        a = cb_plane[row * w2 + tx.lo];
        b = cb_plane[row * w2 + tx.hi];
    } else {
        a = cr_plane[row * w2 + tx.lo];
        b = cr_plane[row * w2 + tx.hi];
    }
    return a + (b - a) * tx.t;
}

fn chroma(plane_index: u32, x: u32, y: u32) -> f32 {
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
    return a + (b - a) * ty.t;
}

@compute @workgroup_size(256)
fn to_rgba(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let i = (wid.x + wid.y * rp.groups_x) * 256u + lid;
    if (i >= rp.width * rp.height) {
        return;
    }
    let x = i % rp.width;
    let y = i / rp.width;
    let l = luma[i] + 128.0;
    var rgb: vec3<u32>;
    if (rp.channels == 3u) {
        let cb = chroma(1u, x, y);
        let cr = chroma(2u, x, y);
        rgb = vec3<u32>(to_u8(l + 1.402 * cr), to_u8(l - 0.344136 * cb - 0.714136 * cr), to_u8(l + 1.772 * cb));
    } else {
        let g = to_u8(l);
        rgb = vec3<u32>(g, g, g);
    }
    pixels[y * rp.pitch + x] = rgb.x | (rgb.y << 8u) | (rgb.z << 16u) | (255u << 24u);
}
