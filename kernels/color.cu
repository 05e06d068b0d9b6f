// Affine colour conversion on planar [N, 3, H, W] data: out[c] = sum_k matrix[c][k] * in[k] + offset[c],
// in fp32. matrix (9 floats, row-major) and offset (3 floats) are device pointers, so the coefficients can
// live on the GPU without a host round trip. Exported as affine_color_<type>.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void affine_color_impl(
    const T* __restrict__ in, T* __restrict__ out, const float* __restrict__ matrix,
    const float* __restrict__ offset, idx_t n, idx_t h, idx_t w,
    idx_t is_n, idx_t is_c, idx_t is_h, idx_t is_w, idx_t os_n, idx_t os_c, idx_t os_h, idx_t os_w) {
    const Strides4 is = {is_n, is_c, is_h, is_w};
    const Strides4 os = {os_n, os_c, os_h, os_w};
    float m[9];
    float o[3];
    for (int k = 0; k < 9; ++k) m[k] = matrix[k];
    for (int k = 0; k < 3; ++k) o[k] = offset[k];
    const idx_t total = n * h * w;
    for (idx_t i = thread_start(); i < total; i += thread_step()) {
        const Pos4 p = unflatten4(i, 1, h, w);
        const idx_t px = p.x, py = p.y, pn = p.n;
        const T* src = in + offset4(is, pn, 0, py, px);
        const float v0 = load(src);
        const float v1 = load(src + is.c);
        const float v2 = load(src + 2 * is.c);
        T* dst = out + offset4(os, pn, 0, py, px);
        for (int ch = 0; ch < 3; ++ch) {
            store(dst + ch * os.c, m[3 * ch] * v0 + m[3 * ch + 1] * v1 + m[3 * ch + 2] * v2 + o[ch]);
        }
    }
}

#define VSVG_COLOR_PARAMS(T)                                                                            \
    const T* __restrict__ in, T* __restrict__ out, const float* __restrict__ matrix,                   \
        const float* __restrict__ offset, idx_t n, idx_t h, idx_t w, idx_t is_n, idx_t is_c, idx_t is_h, \
        idx_t is_w, idx_t os_n, idx_t os_c, idx_t os_h, idx_t os_w
#define VSVG_COLOR_ARGS in, out, matrix, offset, n, h, w, is_n, is_c, is_h, is_w, os_n, os_c, os_h, os_w

extern "C" __global__ void affine_color_float(VSVG_COLOR_PARAMS(float)) {
    affine_color_impl<float>(VSVG_COLOR_ARGS);
}
extern "C" __global__ void affine_color_half(VSVG_COLOR_PARAMS(__half)) {
    affine_color_impl<__half>(VSVG_COLOR_ARGS);
}
