// Backward warp: out(x, y) = image sampled bilinearly at (x + flow_x, y + flow_y), coordinates clamped to the
// image (border padding), i.e. grid_sample(align_corners=True, padding_mode="border").
//
// One thread per output pixel (n, y, x); the four taps and weights are computed once in fp32 and reused for
// every channel. Exported as backward_warp_<data>[_<flow>]: the flow suffix appears only when the flow's type
// differs from the image's (e.g. backward_warp_half_float = fp16 image, fp32 flow).
#include "common.cuh"

template <typename T, typename F>
__device__ __forceinline__ void backward_warp_impl(
    const T* __restrict__ image, const F* __restrict__ flow, T* __restrict__ out,
    idx_t n, idx_t c, idx_t h, idx_t w,
    idx_t is_n, idx_t is_c, idx_t is_h, idx_t is_w,
    idx_t fs_n, idx_t fs_c, idx_t fs_h, idx_t fs_w,
    idx_t os_n, idx_t os_c, idx_t os_h, idx_t os_w) {
    const Strides4 is = {is_n, is_c, is_h, is_w};
    const Strides4 fs = {fs_n, fs_c, fs_h, fs_w};
    const Strides4 os = {os_n, os_c, os_h, os_w};
    const idx_t total = n * h * w;
    for (idx_t i = thread_start(); i < total; i += thread_step()) {
        const Pos4 p = unflatten4(i, 1, h, w);
        const idx_t px = p.x, py = p.y, pn = p.n;
        const Bilinear b = bilinear_taps((float)px + load(flow + offset4(fs, pn, 0, py, px)),
                                         (float)py + load(flow + offset4(fs, pn, 1, py, px)), h, w, is.h, is.w);
        const T* base = image + pn * is.n;
        T* dst = out + offset4(os, pn, 0, py, px);
        for (idx_t ch = 0; ch < c; ++ch) store(dst + ch * os.c, bilinear_load(base + ch * is.c, b));
    }
}

// The exported kernels share one parameter list; the macros keep the four wrappers in step.
#define VSVG_WARP_PARAMS(T, F)                                                                          \
    const T* __restrict__ image, const F* __restrict__ flow, T* __restrict__ out, idx_t n, idx_t c,    \
        idx_t h, idx_t w, idx_t is_n, idx_t is_c, idx_t is_h, idx_t is_w, idx_t fs_n, idx_t fs_c,        \
        idx_t fs_h, idx_t fs_w, idx_t os_n, idx_t os_c, idx_t os_h, idx_t os_w
#define VSVG_WARP_ARGS \
    image, flow, out, n, c, h, w, is_n, is_c, is_h, is_w, fs_n, fs_c, fs_h, fs_w, os_n, os_c, os_h, os_w

extern "C" __global__ void backward_warp_float(VSVG_WARP_PARAMS(float, float)) {
    backward_warp_impl<float, float>(VSVG_WARP_ARGS);
}
extern "C" __global__ void backward_warp_half(VSVG_WARP_PARAMS(__half, __half)) {
    backward_warp_impl<__half, __half>(VSVG_WARP_ARGS);
}
extern "C" __global__ void backward_warp_half_float(VSVG_WARP_PARAMS(__half, float)) {
    backward_warp_impl<__half, float>(VSVG_WARP_ARGS);
}
extern "C" __global__ void backward_warp_float_half(VSVG_WARP_PARAMS(float, __half)) {
    backward_warp_impl<float, __half>(VSVG_WARP_ARGS);
}
