// Separable resampling and pixel shuffle.
//
// resample_* is one 1-D pass of vsvideogen.ops.resize.resample_matrix along axis 2 (rows) or 3 (columns) of
// an [N, C, H, W] view; a resize runs the horizontal pass then the vertical one through an fp32 buffer. The
// filter is evaluated in-kernel, in the zimg convention of the reference: output i reads around
// centre = (i + 0.5) * in / out - 0.5 + shift, the support widens by in / out when shrinking, taps outside the
// image repeat the edge pixel and the weights are normalised to sum to one. Positions are computed in double
// (the reference's own precision, so the same taps are picked), weights and sums in fp32.
// Exported as resample_<in>[_<out>] (e.g. resample_half_float: fp16 in, fp32 out) and pixel_shuffle_<type>.
#include "common.cuh"

// Kernel ids, in the order of vsvideogen.ops.resize.KERNELS.
#define VSVG_RESIZE_BILINEAR 0
#define VSVG_RESIZE_BICUBIC 1

// Mitchell-Netravali cubic with parameters (b, c), as 1/6-scaled polynomial coefficients.
struct Cubic {
    float n3, n2, n0, f3, f2, f1, f0;
};

__device__ __forceinline__ Cubic make_cubic(float b, float c) {
    Cubic k;
    k.n3 = (12.0f - 9.0f * b - 6.0f * c) / 6.0f;
    k.n2 = (-18.0f + 12.0f * b + 6.0f * c) / 6.0f;
    k.n0 = (6.0f - 2.0f * b) / 6.0f;
    k.f3 = (-b - 6.0f * c) / 6.0f;
    k.f2 = (6.0f * b + 30.0f * c) / 6.0f;
    k.f1 = (-12.0f * b - 48.0f * c) / 6.0f;
    k.f0 = (8.0f * b + 24.0f * c) / 6.0f;
    return k;
}

__device__ __forceinline__ float filter_weight(int kernel, const Cubic& k, float x) {
    x = fabsf(x);
    if (kernel == VSVG_RESIZE_BILINEAR) return fmaxf(1.0f - x, 0.0f);
    if (x < 1.0f) return (k.n3 * x + k.n2) * x * x + k.n0;
    if (x < 2.0f) return ((k.f3 * x + k.f2) * x + k.f1) * x + k.f0;
    return 0.0f;
}

template <typename TIn, typename TOut>
__device__ __forceinline__ void resample_impl(
    const TIn* __restrict__ in, TOut* __restrict__ out, idx_t n, idx_t c, idx_t h, idx_t w, int axis,
    idx_t size_in, int kernel, double shift, double b, double cc,
    idx_t is_n, idx_t is_c, idx_t is_h, idx_t is_w,
    idx_t os_n, idx_t os_c, idx_t os_h, idx_t os_w) {
    const Strides4 is = {is_n, is_c, is_h, is_w};
    const Strides4 os = {os_n, os_c, os_h, os_w};
    const idx_t size_out = axis == 3 ? w : h;
    const idx_t step_in = axis == 3 ? is.w : is.h;
    const double ratio = (double)size_in / (double)size_out;
    const double stretch = ratio > 1.0 ? ratio : 1.0;
    const double support = kernel == VSVG_RESIZE_BILINEAR ? 1.0 : 2.0;
    const idx_t taps = 2 * (idx_t)ceil(support * stretch) + 1;
    const Cubic cubic = make_cubic((float)b, (float)cc);
    const idx_t total = n * c * h * w;
    for (idx_t i = thread_start(); i < total; i += thread_step()) {
        const Pos4 p = unflatten4(i, c, h, w);
        const idx_t px = p.x, py = p.y, ch = p.c, pn = p.n;
        const idx_t along = axis == 3 ? px : py;
        // The input row/column this output reads: same n, c and the other spatial coordinate.
        const TIn* line = in + pn * is.n + ch * is.c + (axis == 3 ? py * is.h : px * is.w);
        const double centre = ((double)along + 0.5) * ratio - 0.5 + shift;
        const idx_t first = (idx_t)floor(centre) - taps / 2;
        float sum = 0.0f;
        float weight_sum = 0.0f;
        for (idx_t t = 0; t < taps; ++t) {
            const idx_t pos = first + t;
            const float weight = filter_weight(kernel, cubic, (float)(((double)pos - centre) / stretch));
            if (weight == 0.0f) continue;
            sum += weight * load(line + mirror_idx(pos, size_in) * step_in);
            weight_sum += weight;
        }
        store(out + offset4(os, pn, ch, py, px), sum / weight_sum);
    }
}

template <typename T>
__device__ __forceinline__ void pixel_shuffle_impl(
    const T* __restrict__ in, T* __restrict__ out, idx_t n, idx_t c, idx_t h, idx_t w, idx_t factor,
    idx_t is_n, idx_t is_c, idx_t is_h, idx_t is_w, idx_t os_n, idx_t os_c, idx_t os_h, idx_t os_w) {
    // n, c, h, w are the output's sizes: [N, C*r*r, H/r, W/r] -> [N, C, H, W].
    const Strides4 is = {is_n, is_c, is_h, is_w};
    const Strides4 os = {os_n, os_c, os_h, os_w};
    const idx_t total = n * c * h * w;
    for (idx_t i = thread_start(); i < total; i += thread_step()) {
        const Pos4 p = unflatten4(i, c, h, w);
        const idx_t px = p.x, py = p.y, ch = p.c, pn = p.n;
        const idx_t source_channel = (ch * factor + py % factor) * factor + px % factor;
        out[offset4(os, pn, ch, py, px)] = in[offset4(is, pn, source_channel, py / factor, px / factor)];
    }
}

// The exported resample kernels share one parameter list; the macros keep the wrappers in step.
#define VSVG_RESAMPLE_PARAMS(TIn, TOut)                                                                 \
    const TIn* __restrict__ in, TOut* __restrict__ out, idx_t n, idx_t c, idx_t h, idx_t w, int axis,   \
        idx_t size_in, int kernel, double shift, double b, double cc, idx_t is_n, idx_t is_c,            \
        idx_t is_h, idx_t is_w, idx_t os_n, idx_t os_c, idx_t os_h, idx_t os_w
#define VSVG_RESAMPLE_ARGS \
    in, out, n, c, h, w, axis, size_in, kernel, shift, b, cc, is_n, is_c, is_h, is_w, os_n, os_c, os_h, os_w

extern "C" __global__ void resample_float(VSVG_RESAMPLE_PARAMS(float, float)) {
    resample_impl<float, float>(VSVG_RESAMPLE_ARGS);
}
extern "C" __global__ void resample_half(VSVG_RESAMPLE_PARAMS(__half, __half)) {
    resample_impl<__half, __half>(VSVG_RESAMPLE_ARGS);
}
extern "C" __global__ void resample_half_float(VSVG_RESAMPLE_PARAMS(__half, float)) {
    resample_impl<__half, float>(VSVG_RESAMPLE_ARGS);
}
extern "C" __global__ void resample_float_half(VSVG_RESAMPLE_PARAMS(float, __half)) {
    resample_impl<float, __half>(VSVG_RESAMPLE_ARGS);
}

#define VSVG_SHUFFLE_PARAMS(T)                                                                          \
    const T* __restrict__ in, T* __restrict__ out, idx_t n, idx_t c, idx_t h, idx_t w, idx_t factor,    \
        idx_t is_n, idx_t is_c, idx_t is_h, idx_t is_w, idx_t os_n, idx_t os_c, idx_t os_h, idx_t os_w
#define VSVG_SHUFFLE_ARGS in, out, n, c, h, w, factor, is_n, is_c, is_h, is_w, os_n, os_c, os_h, os_w

extern "C" __global__ void pixel_shuffle_float(VSVG_SHUFFLE_PARAMS(float)) {
    pixel_shuffle_impl<float>(VSVG_SHUFFLE_ARGS);
}
extern "C" __global__ void pixel_shuffle_half(VSVG_SHUFFLE_PARAMS(__half)) {
    pixel_shuffle_impl<__half>(VSVG_SHUFFLE_ARGS);
}
