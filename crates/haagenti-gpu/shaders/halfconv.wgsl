// f32 bits to binary16 / bfloat16 bits, haagenti_hct's `f32_to_f16` / `f32_to_bf16` step for
// step in integer arithmetic (round to nearest even, subnormals, overflow to infinity, NaN
// quieted): prepended to half.wgsl and nct.wgsl (kernels.rs).

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
