// HCT byte planes back to elements (haagenti_hct::Transform::inverse), the CUDA twin of
// haagenti-gpu's planes.wgsl: byte p of element i is byte p * n + i of the input;
// SignExpPlanes then rotates each element right by one bit. One thread an element.

extern "C" __global__ void unplane(
    const unsigned char* __restrict__ src,
    unsigned char* __restrict__ dst,
    unsigned long long n,
    unsigned width,
    unsigned rotate)
{
    const unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) {
        return;
    }
    unsigned long long v = 0;
    for (unsigned p = 0; p < width; p++) {
        v |= (unsigned long long)src[p * n + i] << (8 * p);
    }
    if (rotate) {
        const unsigned bits = 8 * width;
        const unsigned long long mask = bits == 64 ? ~0ull : ((1ull << bits) - 1);
        v = ((v >> 1) | (v << (bits - 1))) & mask;
    }
    for (unsigned p = 0; p < width; p++) {
        dst[i * width + p] = (unsigned char)(v >> (8 * p));
    }
}
