// HoloTensor `spectral` coefficients accumulated on the device as fragments arrive
// (haagenti_holo::SpectralUpdate, whose docs give the CPU's rule): one invocation a block of one
// plane sets its DC (fragment 0) and adds each refined cell's value times the scale, in
// wrapping i32 arithmetic (WGSL's, as the CPU's `wrapping_add` / `wrapping_mul`), so the device
// buffer holds the CPU decoder's coefficients exactly.

struct AccParams {
    blocks: u32,
    // Cells refined a block (0 to 63).
    cells: u32,
    scale: i32,
    // 1: `dc` holds a DC a block, set before the cells are added.
    has_dc: u32,
    // This plane's first block in `values` and `dc` (planes follow one another there).
    first: u32,
    groups_x: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> ap: AccParams;
@group(0) @binding(1) var<storage, read_write> coefs: array<i32>;
// The natural-order index of each refined cell.
@group(0) @binding(2) var<storage, read> cells: array<u32>;
@group(0) @binding(3) var<storage, read> values: array<i32>;
@group(0) @binding(4) var<storage, read> dc: array<i32>;

@compute @workgroup_size(64)
fn accumulate(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let b = (wid.x + wid.y * ap.groups_x) * 64u + lid;
    if (b >= ap.blocks) {
        return;
    }
    let g = ap.first + b;
    if (ap.has_dc == 1u) {
        coefs[b * 64u] = dc[g];
    }
    for (var j = 0u; j < ap.cells; j = j + 1u) {
        let at = b * 64u + cells[j];
        coefs[at] = coefs[at] + values[g * ap.cells + j] * ap.scale;
    }
}
