// Per-op accuracy: what the 4-bit datapath makes of an op's real tensors, against FP32.
//
// Plain C++ (no SystemC). Loads the op's .npy tensors, lays them out as the GEMM the array runs
// (im2col for conv2d), quantizes each operand as its precision says (SAWB for signed integer
// weights, PACT for UINT4 activations, radix-4 FP4 with GradScale and the TPR phase of the pass
// for gradients, round-to-nearest for float formats), runs the bit-exact reference GEMM of
// models/numerics for that operand pair, and compares it with a double-precision GEMM of the
// unquantized tensors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sim/workload.h"

namespace nibble {

struct AccuracyParams {
  uint32_t acc_bits = 32;            // integer accumulator width
  bool acc_saturate = false;         // saturate instead of wrapping on overflow
  int64_t fp16_chunk = 64;           // FP16 accumulation chunk length (0: one running sum)
  bool stochastic_rounding = false;  // stochastic rounding of FP16 partial sums
  uint64_t seed = 1;
};

struct OpAccuracy {
  std::string kernel;    // e.g. "int4 x fp4 shift-MAC, fp16 accumulation"
  uint64_t outputs = 0;  // elements compared (M·N)
  double rel_l2 = 0, sqnr_db = 0, cosine = 1, max_abs = 0;
  uint64_t fp4_elements = 0;   // FP4-converted operand elements (0 when no FP4 operand)
  uint64_t fp4_flushed = 0;    // of which flushed to zero
  uint64_t fp4_saturated = 0;  // of which clipped to ±64 (beyond the top level's rounding range)
  std::optional<int> grad_scale_log2;  // GradScale used for the FP4 operand
  std::string fp4_phase;               // "even" or "odd" when an operand is FP4
  uint64_t acc_overflows = 0;          // integer accumulator adds that overflowed
  uint64_t int_saturated = 0;          // integer operand elements clipped by the quantizer
  uint64_t non_finite_outputs = 0;     // results that overflowed to inf (FP16 max is 65504)
};

// Throws InputError (naming the op and the tensor file) for a missing or malformed tensor, a shape
// that does not match the op, or an operand pair with no reference kernel.
OpAccuracy evaluate_accuracy(const Op& op, const AccuracyParams& params);

}  // namespace nibble
