// CPU stand-in for the CUDA runtime pieces vsvideogen's kernels use, so g++ can compile kernels/*.cu
// unchanged (-x c++) into a shared library the tests drive through ctypes.
//
// Reached through a generated cuda_fp16.h that includes this file. Launches run every (block, thread) of the
// grid one after another on the calling thread, so atomicAdd needs no atomics; blockIdx & co. are
// thread-local globals set by the launch loop.
#pragma once

#include <math.h>

#include <cstddef>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

inline thread_local dim3 gridDim, blockDim, blockIdx, threadIdx;

// IEEE binary16 in memory, like CUDA's __half and torch.float16; conversions round to nearest even.
typedef _Float16 __half;
inline float __half2float(__half h) { return static_cast<float>(h); }
inline __half __float2half(float f) { return static_cast<__half>(f); }

inline float atomicAdd(float* address, float value) {
    const float old = *address;
    *address = old + value;
    return old;
}

// Calls kernel with its arguments read from args[i] (a pointer to the i-th argument, as cuLaunchKernel takes).
template <typename... P, std::size_t... I>
void vsvg_call(void (*kernel)(P...), void** args, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cv_t<P>*>(args[I])...);
}

// Runs every thread of a grid x block launch in turn.
template <typename... P>
void vsvg_launch(void (*kernel)(P...), dim3 grid, dim3 block, void** args) {
    gridDim = grid;
    blockDim = block;
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx)
                for (unsigned tz = 0; tz < block.z; ++tz)
                    for (unsigned ty = 0; ty < block.y; ++ty)
                        for (unsigned tx = 0; tx < block.x; ++tx) {
                            blockIdx = dim3{bx, by, bz};
                            threadIdx = dim3{tx, ty, tz};
                            vsvg_call(kernel, args, std::index_sequence_for<P...>{});
                        }
}

// One letter per parameter type, so the Python side can build and check arguments:
// F/H = pointer to float/__half, q = long long, i = int, f = float, d = double.
template <typename T>
constexpr char vsvg_code() {
    using U = std::remove_cv_t<T>;
    if constexpr (std::is_pointer_v<U>) {
        using E = std::remove_cv_t<std::remove_pointer_t<U>>;
        static_assert(std::is_same_v<E, float> || std::is_same_v<E, __half>, "unsupported pointer parameter");
        return std::is_same_v<E, float> ? 'F' : 'H';
    } else {
        static_assert(std::is_same_v<U, long long> || std::is_same_v<U, int> || std::is_same_v<U, float> ||
                          std::is_same_v<U, double>,
                      "unsupported scalar parameter");
        return std::is_same_v<U, long long> ? 'q' : std::is_same_v<U, int> ? 'i' : std::is_same_v<U, float> ? 'f' : 'd';
    }
}

template <typename... P>
const char* vsvg_signature(void (*)(P...)) {
    static const char codes[] = {vsvg_code<P>()..., '\0'};
    return codes;
}
