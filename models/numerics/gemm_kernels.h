#pragma once

#include <cstdint>

// Blocked inner loops behind the GEMM kernels of gemm.h (internal to models/numerics; call the
// gemm.h kernels instead). Each computes, element by element, the same operations in the same
// order as the textbook i-k-j loop it replaces, so its results are bit-identical to it; the
// blocking (4 rows x 8 columns over B packed in 8-column panels, k in blocks of 256, GCC vector
// types that become SSE2 or AVX2) only changes which elements are worked on together and where
// each element's k loop pauses.
namespace nibble::numerics::kernels {

// c[m x n] = a[m x k] * b[k x n], row-major floats: c[i][j] = (((0 + a[i][0]b[0][j]) +
// a[i][1]b[1][j]) + ...) in float, every product and sum rounded (no contraction).
void gemm_f32(const float* a, const float* b, int64_t m, int64_t n, int64_t k, float* c);

// The largest product magnitude, in units of 2^-6, that shift_fp16 is exact for: 15 x 4^3 x 2^6
// (UINT4 x the largest radix-4 FP4 value; radix-2's 15 x 64 x 2^6 is the same).
inline constexpr float kShiftMaxProductUnits = 61440.0f;
// The largest group shift_fp16 takes: chunk (< 2^22 units) + group sum must stay below 2^24,
// where floats stop holding every integer: (2^24 - 2^22) / 61440 = 204.8.
inline constexpr int64_t kShiftMaxGroup = 204;

// The shift-MAC engine's FP16 accumulation with round-to-nearest-even, in fixed point. x[m x k]
// and b[k x n] are the two operands as floats in units where their product is the exact product
// times 2^6 (an integer, |x * b| <= kShiftMaxProductUnits). Every product of the shift-MAC is an
// integer multiple of 2^-6 and rounding such a sum to FP16 keeps it one (FP16 holds every
// multiple of 2^-6 below 32, and above 16 its grid is 2^-6 or coarser), so each partial sum is
// held as that integer in a float, exactly; rounding it to FP16 is keeping 11 significant bits (a
// bit operation on the float), and reaching 65520 (2^22 units after rounding) is the FP16 overflow
// to +-inf. Same chunking and groups as gemm.h's Fp16AccumParams (chunk_length 0: one running sum;
// group: products summed exactly before one add, 1 <= group <= kShiftMaxGroup). c = total * 2^-6,
// or total * 2^-7 with `halve` (the odd TPR phase, exact at these magnitudes).
void shift_fp16(const float* x, const float* b, int64_t m, int64_t n, int64_t k,
                int64_t chunk_length, int64_t group, bool halve, float* c);

}  // namespace nibble::numerics::kernels
