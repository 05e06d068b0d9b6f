// Forward splatting: every source pixel (x, y) is pushed to (x + flow_x, y + flow_y) and shared among the
// four surrounding target pixels with bilinear weights; targets outside the image are dropped.
//
// Two steps. forward_splat_{sum,softmax}_* accumulate with atomicAdd into a zeroed, contiguous fp32 buffer
// acc[N, A, H, W]: the summation variant adds image values (A = C); the softmax variant adds
// image * exp(metric) to channels 0..C-1 and exp(metric) to channel C (A = C + 1). splat_normalize_* then
// writes out = acc (summation) or acc[:C] / (acc[C] + 1e-7) (softmax) in the output type. The metric has the
// flow's type; names carry the flow type only when it differs from the image's.
#include "common.cuh"

template <typename T, typename F>
__device__ __forceinline__ void forward_splat_impl(
    const T* __restrict__ image, const F* __restrict__ flow, const F* __restrict__ metric,
    float* __restrict__ acc, idx_t n, idx_t c, idx_t h, idx_t w,
    idx_t is_n, idx_t is_c, idx_t is_h, idx_t is_w,
    idx_t fs_n, idx_t fs_c, idx_t fs_h, idx_t fs_w,
    idx_t ms_n, idx_t ms_h, idx_t ms_w) {
    const Strides4 is = {is_n, is_c, is_h, is_w};
    const Strides4 fs = {fs_n, fs_c, fs_h, fs_w};
    const idx_t plane = h * w;
    const idx_t acc_channels = metric ? c + 1 : c;
    const idx_t total = n * plane;
    for (idx_t i = thread_start(); i < total; i += thread_step()) {
        const Pos4 p = unflatten4(i, 1, h, w);
        const idx_t px = p.x, py = p.y, pn = p.n;
        const float x = (float)px + load(flow + offset4(fs, pn, 0, py, px));
        const float y = (float)py + load(flow + offset4(fs, pn, 1, py, px));
        const float x0 = floorf(x);
        const float y0 = floorf(y);
        const float importance = metric ? expf(load(metric + pn * ms_n + py * ms_h + px * ms_w)) : 1.0f;
        const T* src = image + pn * is.n + py * is.h + px * is.w;
        float* dst = acc + pn * acc_channels * plane;
        for (int corner = 0; corner < 4; ++corner) {
            const float xi = x0 + (float)(corner & 1);
            const float yi = y0 + (float)(corner >> 1);
            // Compared as floats first: a huge flow must not reach the integer conversion.
            if (!(xi >= 0.0f && xi <= (float)(w - 1) && yi >= 0.0f && yi <= (float)(h - 1))) continue;
            const float bilinear = (1.0f - fabsf(x - xi)) * (1.0f - fabsf(y - yi));
            float* target = dst + (idx_t)yi * w + (idx_t)xi;
            for (idx_t ch = 0; ch < c; ++ch) {
                atomicAdd(target + ch * plane, load(src + ch * is.c) * importance * bilinear);
            }
            if (metric) atomicAdd(target + c * plane, importance * bilinear);
        }
    }
}

template <typename T>
__device__ __forceinline__ void splat_normalize_impl(
    const float* __restrict__ acc, T* __restrict__ out, idx_t n, idx_t c, idx_t h, idx_t w, int softmax,
    idx_t os_n, idx_t os_c, idx_t os_h, idx_t os_w) {
    const Strides4 os = {os_n, os_c, os_h, os_w};
    const idx_t plane = h * w;
    const idx_t acc_channels = softmax ? c + 1 : c;
    const idx_t total = n * c * plane;
    for (idx_t i = thread_start(); i < total; i += thread_step()) {
        const Pos4 p = unflatten4(i, c, h, w);
        const idx_t px = p.x, py = p.y, ch = p.c, pn = p.n;
        const float* src = acc + pn * acc_channels * plane + py * w + px;
        float value = src[ch * plane];
        if (softmax) value = value / (src[c * plane] + 1e-7f);
        store(out + offset4(os, pn, ch, py, px), value);
    }
}

// The exported splat kernels share one parameter list; the macros keep the wrappers in step. The summation
// variant passes a null metric to the shared implementation, so its metric pointer and strides are ignored.
#define VSVG_SPLAT_PARAMS(T, F)                                                                         \
    const T* __restrict__ image, const F* __restrict__ flow, const F* __restrict__ metric,             \
        float* __restrict__ acc, idx_t n, idx_t c, idx_t h, idx_t w, idx_t is_n, idx_t is_c, idx_t is_h, \
        idx_t is_w, idx_t fs_n, idx_t fs_c, idx_t fs_h, idx_t fs_w, idx_t ms_n, idx_t ms_h, idx_t ms_w
#define VSVG_SPLAT_ARGS(METRIC) \
    image, flow, METRIC, acc, n, c, h, w, is_n, is_c, is_h, is_w, fs_n, fs_c, fs_h, fs_w, ms_n, ms_h, ms_w

extern "C" __global__ void forward_splat_sum_float(VSVG_SPLAT_PARAMS(float, float)) {
    forward_splat_impl<float, float>(VSVG_SPLAT_ARGS((const float*)0));
}
extern "C" __global__ void forward_splat_sum_half(VSVG_SPLAT_PARAMS(__half, __half)) {
    forward_splat_impl<__half, __half>(VSVG_SPLAT_ARGS((const __half*)0));
}
extern "C" __global__ void forward_splat_sum_half_float(VSVG_SPLAT_PARAMS(__half, float)) {
    forward_splat_impl<__half, float>(VSVG_SPLAT_ARGS((const float*)0));
}
extern "C" __global__ void forward_splat_sum_float_half(VSVG_SPLAT_PARAMS(float, __half)) {
    forward_splat_impl<float, __half>(VSVG_SPLAT_ARGS((const __half*)0));
}
extern "C" __global__ void forward_splat_softmax_float(VSVG_SPLAT_PARAMS(float, float)) {
    forward_splat_impl<float, float>(VSVG_SPLAT_ARGS(metric));
}
extern "C" __global__ void forward_splat_softmax_half(VSVG_SPLAT_PARAMS(__half, __half)) {
    forward_splat_impl<__half, __half>(VSVG_SPLAT_ARGS(metric));
}
extern "C" __global__ void forward_splat_softmax_half_float(VSVG_SPLAT_PARAMS(__half, float)) {
    forward_splat_impl<__half, float>(VSVG_SPLAT_ARGS(metric));
}
extern "C" __global__ void forward_splat_softmax_float_half(VSVG_SPLAT_PARAMS(float, __half)) {
    forward_splat_impl<float, __half>(VSVG_SPLAT_ARGS(metric));
}

extern "C" __global__ void splat_normalize_float(
    const float* __restrict__ acc, float* __restrict__ out, idx_t n, idx_t c, idx_t h, idx_t w, int softmax,
    idx_t os_n, idx_t os_c, idx_t os_h, idx_t os_w) {
    splat_normalize_impl<float>(acc, out, n, c, h, w, softmax, os_n, os_c, os_h, os_w);
}
extern "C" __global__ void splat_normalize_half(
    const float* __restrict__ acc, __half* __restrict__ out, idx_t n, idx_t c, idx_t h, idx_t w, int softmax,
    idx_t os_n, idx_t os_c, idx_t os_h, idx_t os_w) {
    splat_normalize_impl<__half>(acc, out, n, c, h, w, softmax, os_n, os_c, os_h, os_w);
}
