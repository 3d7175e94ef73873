// IEEE f32 arithmetic that gives the CPU's bits on any GPU, prepended to the kernels whose
// float steps must equal the CPU decoder's (nct, quant, lowrank, spectral; kernels.rs).
//
// Two things stand between a GPU and the CPU's bits:
// - Contraction. WGSL lets a compiler fuse a product and a sum into one FMA (one rounding, not
//   two). mul_checked and add_checked return their results' bits XORed with `opaque`, which
//   each entry point loads from its uniform parameters (the host sets it to 0): no compiler
//   can see through it, so no multiply feeds an add directly.
// - Flushing. GPUs may flush subnormal operands and results to zero, and may not keep
//   infinities. Where an operand is zero, subnormal, infinite or NaN, or the GPU's result is
//   zero, subnormal or near overflow, the operation is redone exactly in integers (mul_exact,
//   add_exact).

// 0, from the entry point's uniform parameters.
var<private> opaque: u32;

// f32 bits of `a`, rounded to nearest even (no GPU conversion: WGSL lets it round either way).
fn i32_to_f32_bits(a: i32) -> u32 {
    if (a == 0) {
        return 0u;
    }
    let neg = a < 0;
    let u = bitcast<u32>(a);
    let m = select(u, 0u - u, neg);
    let top = 31u - countLeadingZeros(m);
    var mant: u32;
    if (top <= 23u) {
        mant = m << (23u - top);
    } else {
        let s = top - 23u;
        mant = m >> s;
        let rem = m & ((1u << s) - 1u);
        let half = 1u << (s - 1u);
        if (rem > half || (rem == half && (mant & 1u) == 1u)) {
            mant = mant + 1u;
        }
    }
    // The mantissa's leading bit adds one to the exponent field, as does a carry out of it.
    return select(0u, 0x80000000u, neg) | (((top + 126u) << 23u) + mant);
}

// `(hi * 2^32 + lo) >> s`, rounded to nearest even, for 1 <= s <= 63.
fn shift_rne(hi: u32, lo: u32, s: u32) -> u32 {
    var q: u32;
    var up: bool;
    if (s < 32u) {
        q = (lo >> s) | (hi << (32u - s));
        let rem = lo & ((1u << s) - 1u);
        let half = 1u << (s - 1u);
        up = rem > half || (rem == half && (q & 1u) == 1u);
    } else {
        let t = s - 32u;
        q = select(0u, hi >> t, t < 32u);
        let rem_hi = select(hi, hi & ((1u << t) - 1u), t < 32u);
        var half_hi = 0u;
        var half_lo = 0u;
        if (t == 0u) {
            half_lo = 0x80000000u;
        } else {
            half_hi = 1u << (t - 1u);
        }
        let above = rem_hi > half_hi || (rem_hi == half_hi && lo > half_lo);
        let equal = rem_hi == half_hi && lo == half_lo;
        up = above || (equal && (q & 1u) == 1u);
    }
    return q + select(0u, 1u, up);
}

// The IEEE product of two f32 (bits), rounded to nearest even, in integer arithmetic: for
// the results a GPU may flush (subnormal or zero) or that overflow. NaN inputs give a quiet
// NaN (payloads are not specified).
fn mul_exact(a: u32, b: u32) -> u32 {
    let sign = (a ^ b) & 0x80000000u;
    var ea = (a >> 23u) & 0xFFu;
    var eb = (b >> 23u) & 0xFFu;
    var ma = a & 0x7FFFFFu;
    var mb = b & 0x7FFFFFu;
    let a_zero = ea == 0u && ma == 0u;
    let b_zero = eb == 0u && mb == 0u;
    if (ea == 255u || eb == 255u) {
        if ((ea == 255u && ma != 0u) || (eb == 255u && mb != 0u) || a_zero || b_zero) {
            return 0x7FC00000u;
        }
        return sign | 0x7F800000u;
    }
    if (a_zero || b_zero) {
        return sign;
    }
    // Significands with their leading bit, subnormals normalized; exponents biased (as signed).
    var xa = i32(ea);
    var xb = i32(eb);
    if (ea == 0u) {
        let sh = countLeadingZeros(ma) - 8u;
        ma = ma << sh;
        xa = 1 - i32(sh);
    } else {
        ma = ma | 0x800000u;
    }
    if (eb == 0u) {
        let sh = countLeadingZeros(mb) - 8u;
        mb = mb << sh;
        xb = 1 - i32(sh);
    } else {
        mb = mb | 0x800000u;
    }
    // The 48-bit product of two 24-bit significands from 12-bit halves.
    let a1 = ma >> 12u;
    let a0 = ma & 0xFFFu;
    let b1 = mb >> 12u;
    let b0 = mb & 0xFFFu;
    let t0 = a0 * b0;
    let t1 = a1 * b0 + a0 * b1;
    let t2 = a1 * b1;
    let x = t0 + ((t1 & 0xFFFu) << 12u);
    let low24 = x & 0xFFFFFFu;
    let high24 = t2 + (t1 >> 12u) + (x >> 24u);
    let lo = low24 | (high24 << 24u);
    let hi = high24 >> 8u;
    // The product is P * 2^(xa + xb - 300) with P in [2^46, 2^48).
    let top = select(46, 47, (hi >> 15u) != 0u);
    let e = top + xa + xb - 173; // biased exponent of the result
    var s: i32 = top - 23;
    var field: i32 = e - 1;
    if (e < 1) {
        // Subnormal: the significand moves right by 1 - e more, the exponent field is 0.
        s = s + 1 - e;
        field = 0;
    }
    if (s > 63) {
        return sign;
    }
    let m = shift_rne(hi, lo, u32(s));
    // The significand's leading bit (or a carry out of it) adds to the exponent field.
    let bits = (u32(field) << 23u) + m;
    if (field >= 254 || (bits >> 23u) >= 255u) {
        return sign | 0x7F800000u;
    }
    return sign | bits;
}


// The IEEE sum of two f32 (bits), rounded to nearest even, in integer arithmetic: for sums
// whose operands or result a GPU may flush (zero, subnormal) or that overflow. NaN inputs, and
// infinities of opposite signs, give 0x7FC00000; an exact cancellation gives +0.
fn add_exact(a: u32, b: u32) -> u32 {
    let ea = (a >> 23u) & 0xFFu;
    let eb = (b >> 23u) & 0xFFu;
    if (ea == 255u || eb == 255u) {
        if ((ea == 255u && (a & 0x7FFFFFu) != 0u) || (eb == 255u && (b & 0x7FFFFFu) != 0u)) {
            return 0x7FC00000u;
        }
        if (ea == 255u && eb == 255u && ((a ^ b) & 0x80000000u) != 0u) {
            return 0x7FC00000u;
        }
        return select(b, a, ea == 255u);
    }
    if ((a & 0x7FFFFFFFu) == 0u) {
        // +0 + -0 is +0; -0 + -0 is -0.
        return select(b, a & b, (b & 0x7FFFFFFFu) == 0u);
    }
    if ((b & 0x7FFFFFFFu) == 0u) {
        return a;
    }
    // x the larger in magnitude.
    var x = a;
    var y = b;
    if ((b & 0x7FFFFFFFu) > (a & 0x7FFFFFFFu)) {
        x = b;
        y = a;
    }
    let ex = (x >> 23u) & 0xFFu;
    let ey = (y >> 23u) & 0xFFu;
    // Significands with their leading bit and three more bits below (guard, round, sticky).
    var mx = (x & 0x7FFFFFu) | select(0u, 0x800000u, ex != 0u);
    var my = (y & 0x7FFFFFu) | select(0u, 0x800000u, ey != 0u);
    mx = mx << 3u;
    my = my << 3u;
    var e = i32(max(ex, 1u));
    let d = u32(e - i32(max(ey, 1u)));
    if (d >= 27u) {
        my = select(0u, 1u, my != 0u);
    } else if (d > 0u) {
        my = (my >> d) | select(0u, 1u, (my & ((1u << d) - 1u)) != 0u);
    }
    var m: u32;
    if (((a ^ b) & 0x80000000u) == 0u) {
        m = mx + my;
        if (m >= 0x8000000u) {
            m = (m >> 1u) | (m & 1u);
            e = e + 1;
        }
    } else {
        m = mx - my;
        if (m == 0u) {
            return 0u;
        }
        // The leading bit back to bit 26, as far as the exponent allows (below: subnormal).
        let sh = min(countLeadingZeros(m) - 5u, u32(e - 1));
        m = m << sh;
        e = e - i32(sh);
    }
    let q = m >> 3u;
    let rem = m & 7u;
    let up = rem > 4u || (rem == 4u && (q & 1u) == 1u);
    // The leading bit (or a carry out of it) adds to the exponent field, as in mul_exact.
    let bits = (u32(e - 1) << 23u) + q + select(0u, 1u, up);
    let sign = x & 0x80000000u;
    if ((bits >> 23u) >= 255u) {
        return sign | 0x7F800000u;
    }
    return sign | bits;
}

// Exponent field neither 0 (zero, subnormal) nor 255 (infinite, NaN).
fn normal(x: u32) -> bool {
    let e = (x >> 23u) & 0xFFu;
    return e != 0u && e != 255u;
}

fn mul_checked(a: u32, b: u32) -> u32 {
    if (!normal(a) || !normal(b)) {
        return mul_exact(a, b);
    }
    let r = bitcast<u32>(bitcast<f32>(a) * bitcast<f32>(b)) ^ opaque;
    let e = (r >> 23u) & 0xFFu;
    if (e <= 1u || e >= 254u) {
        return mul_exact(a, b);
    }
    return r;
}

fn add_checked(a: u32, b: u32) -> u32 {
    if (!normal(a) || !normal(b)) {
        return add_exact(a, b);
    }
    let r = bitcast<u32>(bitcast<f32>(a) + bitcast<f32>(b)) ^ opaque;
    let e = (r >> 23u) & 0xFFu;
    if (e == 0u || e == 255u) {
        return add_exact(a, b);
    }
    return r;
}

// (o + 0.5) as u8: saturating, NaN and negatives to 0.
fn to_u8(o: u32) -> u32 {
    let s = add_checked(o, 0x3F000000u);
    if ((s >> 31u) != 0u || (s & 0x7FFFFFFFu) > 0x7F800000u) {
        return 0u;
    }
    if (s >= 0x437F0000u) {
        // 255.0 and above, infinity included.
        return 255u;
    }
    return u32(bitcast<f32>(s));
}
