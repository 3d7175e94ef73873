// NCT decode (docs/nct.md, "Decoding a block"), the CUDA twin of haagenti-gpu's nct.wgsl: one
// thread a weight, 256 a block of threads (256 / g NCT blocks), every stage's windows through
// the codebook, the Walsh-Hadamard transform in shared memory, the stage's signs, the wrapping
// 32-bit sum, then f32(acc) * row_scale. Integer steps use unsigned arithmetic (wrapping, as
// the format says; signed overflow is undefined in C); the conversion is __int2float_rn and
// the product __fmul_rn (correctly rounded, never contracted), and the PTX is compiled with
// --ftz=false, so subnormals are kept: the bytes equal the CPU decoder's.
//
// The layout of the inputs is haagenti_nct::GpuPack.

#define ZERO_ROW 0xFFFFFFFFu

__device__ __forceinline__ unsigned read_bits(const unsigned* data, unsigned long long bit, unsigned n) {
    unsigned long long w = bit >> 5;
    unsigned s = (unsigned)(bit & 31);
    unsigned long long v = (unsigned long long)data[w] | ((unsigned long long)data[w + 1] << 32);
    return (unsigned)(v >> s) & ((1u << n) - 1u);
}

extern "C" __global__ void nct_decode(
    const int* __restrict__ codebook,
    const uint4* __restrict__ stages,
    const unsigned* __restrict__ data,
    const unsigned* __restrict__ signs,
    const unsigned* __restrict__ scales,
    unsigned* __restrict__ out,
    unsigned cols,
    unsigned group_log2,
    unsigned n_stages,
    unsigned long long n_weights)
{
    __shared__ int sh[256];
    const unsigned tid = threadIdx.x;
    const unsigned long long i = (unsigned long long)blockIdx.x * 256ull + tid;
    const bool live = i < n_weights;
    const unsigned long long w = live ? i : n_weights - 1;
    const unsigned long long r = w / cols;
    const unsigned c = (unsigned)(w % cols);
    const unsigned g = 1u << group_log2;
    const unsigned t = c & (g - 1u);
    const unsigned long long block = r * (cols >> group_log2) + (c >> group_log2);
    unsigned acc = 0;
    for (unsigned k = 0; k < n_stages; k++) {
        const uint4 st = stages[k];
        const unsigned bits = st.x;
        const unsigned pos = (t * bits) >> group_log2;
        const unsigned long long start = (unsigned long long)st.z * 32ull + block * bits;
        unsigned window;
        if (pos + 12u <= bits) {
            window = read_bits(data, start + pos, 12u);
        } else {
            // The window runs past the block's end and wraps round to its start.
            const unsigned n = bits - pos;
            window = read_bits(data, start + pos, n) | (read_bits(data, start, 12u - n) << n);
        }
        sh[tid] = (int)((unsigned)codebook[window] * st.y) >> 11;
        __syncthreads();
        for (unsigned h = 1; h < g; h <<= 1) {
            if ((t & h) == 0u) {
                const unsigned a = (unsigned)sh[tid];
                const unsigned b = (unsigned)sh[tid + h];
                sh[tid] = (int)(a + b);
                sh[tid + h] = (int)(a - b);
            }
            __syncthreads();
        }
        const unsigned v = (unsigned)sh[tid];
        const unsigned negate = (signs[st.w + (c >> 5)] >> (c & 31u)) & 1u;
        acc += negate ? 0u - v : v;
        __syncthreads();
    }
    if (live) {
        const unsigned rs = scales[r];
        out[i] = rs == ZERO_ROW ? 0u : __float_as_uint(__fmul_rn(__int2float_rn((int)acc), __uint_as_float(rs)));
    }
}
