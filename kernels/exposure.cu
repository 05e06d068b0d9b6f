// Exposure blur: out(p) = the mean of image sampled bilinearly (border clamped) at p - v t for `taps` instants t
// evenly spread over [-exposure / 2, exposure / 2], where v is the pixel's velocity after the frame's time
// (`velocity`) for t >= 0 and before it (`before`) for t < 0, both in pixels per frame interval, fp32 (the same
// field twice for a constant velocity); for taps >= 2 (the caller copies the frame for one). The reference is
// vsvideogen.ops.exposure.exposure_blur_reference: torch's grid_sample at every instant's positions.
//
// One thread per output pixel (n, y, x), looping over the instants: the whole blur is one launch, the sum stays
// in an fp32 register, and no warped frame is written out. Exported as exposure_blur_<data>.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void exposure_blur_impl(
    const T* __restrict__ image, const float* __restrict__ velocity, const float* __restrict__ before,
    T* __restrict__ out, float exposure, int taps, idx_t n, idx_t c, idx_t h, idx_t w,
    idx_t is_n, idx_t is_c, idx_t is_h, idx_t is_w,
    idx_t vs_n, idx_t vs_c, idx_t vs_h, idx_t vs_w,
    idx_t bs_n, idx_t bs_c, idx_t bs_h, idx_t bs_w,
    idx_t os_n, idx_t os_c, idx_t os_h, idx_t os_w) {
    const Strides4 is = {is_n, is_c, is_h, is_w};
    const Strides4 vs = {vs_n, vs_c, vs_h, vs_w};
    const Strides4 bs = {bs_n, bs_c, bs_h, bs_w};
    const Strides4 os = {os_n, os_c, os_h, os_w};
    const idx_t total = n * h * w;
    for (idx_t i = thread_start(); i < total; i += thread_step()) {
        const Pos4 p = unflatten4(i, 1, h, w);
        const idx_t px = p.x, py = p.y, pn = p.n;
        const float after_x = velocity[offset4(vs, pn, 0, py, px)];
        const float after_y = velocity[offset4(vs, pn, 1, py, px)];
        const float before_x = before[offset4(bs, pn, 0, py, px)];
        const float before_y = before[offset4(bs, pn, 1, py, px)];
        const T* base = image + pn * is.n;
        T* dst = out + offset4(os, pn, 0, py, px);
        for (idx_t ch = 0; ch < c; ++ch) {
            const T* plane = base + ch * is.c;
            float sum = 0.0f;
            for (int k = 0; k < taps; ++k) {
                const float t = exposure * ((float)k / (float)(taps - 1) - 0.5f);
                const float vx = t >= 0.0f ? after_x : before_x;
                const float vy = t >= 0.0f ? after_y : before_y;
                sum += bilinear_load(plane, bilinear_taps((float)px + vx * -t, (float)py + vy * -t, h, w, is.h, is.w));
            }
            store(dst + ch * os.c, sum / (float)taps);
        }
    }
}

#define VSVG_EXPOSURE_PARAMS(T)                                                                                \
    const T* __restrict__ image, const float* __restrict__ velocity, const float* __restrict__ before,        \
        T* __restrict__ out, float exposure, int taps, idx_t n, idx_t c, idx_t h, idx_t w, idx_t is_n,        \
        idx_t is_c, idx_t is_h, idx_t is_w, idx_t vs_n, idx_t vs_c, idx_t vs_h, idx_t vs_w, idx_t bs_n,       \
        idx_t bs_c, idx_t bs_h, idx_t bs_w, idx_t os_n, idx_t os_c, idx_t os_h, idx_t os_w
#define VSVG_EXPOSURE_ARGS                                                                                     \
    image, velocity, before, out, exposure, taps, n, c, h, w, is_n, is_c, is_h, is_w, vs_n, vs_c, vs_h, vs_w, \
        bs_n, bs_c, bs_h, bs_w, os_n, os_c, os_h, os_w

extern "C" __global__ void exposure_blur_float(VSVG_EXPOSURE_PARAMS(float)) {
    exposure_blur_impl<float>(VSVG_EXPOSURE_ARGS);
}
extern "C" __global__ void exposure_blur_half(VSVG_EXPOSURE_PARAMS(__half)) {
    exposure_blur_impl<__half>(VSVG_EXPOSURE_ARGS);
}
