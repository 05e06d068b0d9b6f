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
