// Shared helpers for vsvideogen's CUDA kernels.
//
// Conventions used by every kernel file:
//   * sizes and strides are kernel arguments in elements (never bytes), as 64-bit integers, so one compiled
//     module serves every resolution and layout and nothing overflows at 8K with batch and channels;
//   * kernels are templated on the data type only (float or __half) and exported as extern "C" wrappers
//     named <op>_<type>, e.g. backward_warp_float, backward_warp_half;
//   * loads convert to float and stores convert back, so all arithmetic (coordinates included) is fp32;
//   * every kernel is a 1-D grid-stride loop, so any grid size covers any problem size.
#pragma once

#include <cuda_fp16.h>

typedef long long idx_t;

__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const __half* p) { return __half2float(*p); }

__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__half* p, float v) { *p = __float2half(v); }

__device__ __forceinline__ float clampf(float v, float lo, float hi) { return fminf(fmaxf(v, lo), hi); }

__device__ __forceinline__ idx_t min_idx(idx_t a, idx_t b) { return a < b ? a : b; }
__device__ __forceinline__ idx_t max_idx(idx_t a, idx_t b) { return a > b ? a : b; }
__device__ __forceinline__ idx_t clamp_idx(idx_t v, idx_t lo, idx_t hi) { return min_idx(max_idx(v, lo), hi); }
// Mirror an index about the outer sample edges (-1 -> 0, n -> n-1), as zimg does, then clamp for tiny sizes.
__device__ __forceinline__ idx_t mirror_idx(idx_t v, idx_t n) {
    if (v < 0) v = -v - 1;
    if (v > n - 1) v = 2 * n - 1 - v;
    return clamp_idx(v, 0, n - 1);
}

// First element and step of this thread's grid-stride loop.
__device__ __forceinline__ idx_t thread_start() {
    return (idx_t)blockIdx.x * (idx_t)blockDim.x + (idx_t)threadIdx.x;
}
__device__ __forceinline__ idx_t thread_step() { return (idx_t)gridDim.x * (idx_t)blockDim.x; }

// Strides of a 4-D [N, C, H, W] tensor view, in elements.
struct Strides4 {
    idx_t n, c, h, w;
};

__device__ __forceinline__ idx_t offset4(const Strides4& s, idx_t n, idx_t c, idx_t y, idx_t x) {
    return n * s.n + c * s.c + y * s.h + x * s.w;
}

// Position of flat element i in an [N, C, H, W] grid walked x fastest, then y, channel, batch
// (pass c = 1 for a loop over pixels only).
struct Pos4 {
    idx_t n, c, y, x;
};

__device__ __forceinline__ Pos4 unflatten4(idx_t i, idx_t c, idx_t h, idx_t w) {
    Pos4 p;
    p.x = i % w;
    i /= w;
    p.y = i % h;
    i /= h;
    p.c = i % c;
    p.n = i / c;
    return p;
}

// The four taps and weights of a bilinear sample at (x, y), clamped to an h x w image (border padding, as
// grid_sample(align_corners=True, padding_mode="border")); offsets use the plane's row and column strides.
// Computed once per position in fp32 and reused for every channel.
struct Bilinear {
    idx_t o00, o01, o10, o11;
    float wx, wy;
};

__device__ __forceinline__ Bilinear bilinear_taps(float x, float y, idx_t h, idx_t w, idx_t sh, idx_t sw) {
    // fminf/fmaxf return the non-NaN operand, so a NaN position still lands inside the image.
    x = clampf(x, 0.0f, (float)(w - 1));
    y = clampf(y, 0.0f, (float)(h - 1));
    const float xf = floorf(x);
    const float yf = floorf(y);
    const idx_t x0 = (idx_t)xf;
    const idx_t y0 = (idx_t)yf;
    const idx_t x1 = min_idx(x0 + 1, w - 1);
    const idx_t y1 = min_idx(y0 + 1, h - 1);
    return Bilinear{y0 * sh + x0 * sw, y0 * sh + x1 * sw, y1 * sh + x0 * sw, y1 * sh + x1 * sw, x - xf, y - yf};
}

template <typename T>
__device__ __forceinline__ float bilinear_load(const T* plane, const Bilinear& b) {
    const float top = load(plane + b.o00) * (1.0f - b.wx) + load(plane + b.o01) * b.wx;
    const float bottom = load(plane + b.o10) * (1.0f - b.wx) + load(plane + b.o11) * b.wx;
    return top * (1.0f - b.wy) + bottom * b.wy;
}
