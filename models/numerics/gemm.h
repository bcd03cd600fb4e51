#pragma once

#include <cstdint>

#include "models/numerics/fp4.h"
#include "models/numerics/int_formats.h"
#include "models/numerics/mac.h"
#include "models/numerics/minifloat.h"

namespace nibble::numerics {

// Reference GEMM kernels C[M x N] = A[M x K] * B[K x N], all row-major, computing exactly what
// the MAC engines compute: the same products, the same accumulator width or FP16 rounding, and
// every element's sum taken in increasing k. Operands are codes (int8 for integers, uint8 for
// FP4/HFP8, uint16 for FP16); outputs are FP16 values held in float (exact) unless stated.
// All kernels throw std::invalid_argument on a bad shape and std::out_of_range on a bad code.

struct GemmShape {
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  void validate() const;  // m, n, k >= 1 and m*k, k*n, m*n fit in memory indexing
  double macs() const {
    return static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  }
};

// Integer-accumulating kernels (INT4 x INT4, UINT4 x INT4, INT2 x INT2, ...).
struct IntGemmParams {
  int acc_bits = 32;
  OverflowMode overflow = OverflowMode::kWrap;
};
struct IntGemmStats {
  uint64_t overflows = 0;  // adds whose exact result left the accumulator range, all elements
};
enum class OutputFormat { kFp16, kFp32 };

// Raw accumulators. When K * max|a| * max|b| fits the accumulator no add can overflow and a
// vectorisable int32/int64 loop runs; otherwise every add goes through the IntAccumulator rules.
IntGemmStats gemm_int_acc(const int8_t* a, const IntFormat& fa, const int8_t* b,
                          const IntFormat& fb, const GemmShape& shape, const IntGemmParams& params,
                          int64_t* c);
// Accumulators scaled to the output: c = round_out(double(acc) * scale) (the double product
// rounds once, then RNE to FP16 or FP32).
IntGemmStats gemm_int(const int8_t* a, const IntFormat& fa, const int8_t* b, const IntFormat& fb,
                      const GemmShape& shape, const IntGemmParams& params, double scale,
                      OutputFormat out, float* c);

// INT4 weights or UINT4 (PACT) activations (A, codes of `fa`, at most 4 bits) x radix-4 FP4
// gradient codes (B), shift-MAC, FP16 accumulation with chunking; params.group > 1 sums that many
// consecutive products exactly before each FP16 add (a group-way inner-product engine). `phase`
// kOdd halves the final FP16 result (exponent decrement, Sec. 6).
void gemm_int4_fp4(const int8_t* a, const uint8_t* b_fp4, const GemmShape& shape, Fp4Phase phase,
                   const Fp16AccumParams& params, float* c, const IntFormat& fa = kInt4);
// The same engine with the FP4 operand on the left (e.g. dX = dY x W^T).
void gemm_fp4_int4(const uint8_t* a_fp4, const int8_t* b, const GemmShape& shape, Fp4Phase phase,
                   const Fp16AccumParams& params, float* c, const IntFormat& fb = kInt4);

// The same engine on radix-2 FP4 gradient codes (fp4_radix2_encode: +-2^(e-1), 1 .. 64): an
// INT4 x 2^n product is a shift too, so products, groups and FP16 accumulation are as above; no
// phases (Sun et al.'s radix-2 comparison point, `nibble train --recipe int4-fp4-r2`).
void gemm_int4_fp4_radix2(const int8_t* a, const uint8_t* b_fp4, const GemmShape& shape,
                          const Fp16AccumParams& params, float* c, const IntFormat& fa = kInt4);
void gemm_fp4_radix2_int4(const uint8_t* a_fp4, const int8_t* b, const GemmShape& shape,
                          const Fp16AccumParams& params, float* c, const IntFormat& fb = kInt4);

// FP16 x FP16 with FP16 accumulation: each product is exact, each partial sum rounded once.
void gemm_fp16(const uint16_t* a, const uint16_t* b, const GemmShape& shape,
               const Fp16AccumParams& params, float* c);

// HFP8 x HFP8 -> FP16: operands (codes of fa / fb, e.g. hfp8_fwd()/hfp8_bwd()) are widened to
// fp9 (1-5-3), which must hold them exactly (checked), then multiplied and FP16-accumulated.
void gemm_hfp8(const uint8_t* a, const Minifloat& fa, const uint8_t* b, const Minifloat& fb,
               const GemmShape& shape, const Fp16AccumParams& params, float* c);

// FP32 reference: float products and float running sums (no FMA contraction), k in order.
void gemm_fp32(const float* a, const float* b, const GemmShape& shape, float* c);
// Double-precision reference for error metrics.
void gemm_f64(const double* a, const double* b, const GemmShape& shape, double* c);

}  // namespace nibble::numerics
