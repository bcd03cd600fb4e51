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
#include <vector>

#include "models/interfaces/op_data.h"
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

// The accuracy of a GEMM op is computed in two steps around the unit that runs it:
// prepare_gemm_accuracy loads and quantizes the op's tensors into `data` (operand codes, TPR
// phase) and computes the FP32 reference; the unit fills data.c; finish_gemm_accuracy compares.
// prepare throws InputError (naming the op and the tensor file) for a missing or malformed tensor,
// a shape that does not match the op, or an operand pair with no reference kernel.
struct PreparedAccuracy {
  OpAccuracy accuracy;            // quantizer counts so far
  std::vector<double> reference;  // M×N FP32 reference results (computed in double)
};
PreparedAccuracy prepare_gemm_accuracy(const Op& op, GemmData& data);
OpAccuracy finish_gemm_accuracy(const GemmData& data, PreparedAccuracy prepared);

// A quantize op: loads its `input` tensor (any shape of op.vector->elements values) into `data`;
// after the rescaling unit has run, quantize_accuracy compares its dequantized output with the
// input.
void prepare_quantize_data(const Op& op, QuantizeData& data);
OpAccuracy quantize_accuracy(const Op& op, const QuantizeData& data);

// All of it at once, with the tile-fidelity kernels (for tests and tools).
OpAccuracy evaluate_accuracy(const Op& op, const AccuracyParams& params);

}  // namespace nibble
