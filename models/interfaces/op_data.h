// The tensor data an op carries into the units, prepared before simulating (models/accuracy), and
// what the units make of it. Plain data, no SystemC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/numerics/fp4.h"
#include "models/numerics/int_formats.h"
#include "models/numerics/minifloat.h"

namespace nibble {

enum class OperandKind { kInt, kFp4, kFp16, kHfp8, kFp32 };

// A GEMM operand after quantization, as the datapath takes it: codes laid out as the row-major
// GEMM matrix (A: M×K, B: K×N). Exactly one code vector is filled, the one `kind` names.
struct OperandMatrix {
  OperandKind kind = OperandKind::kFp32;
  numerics::IntFormat int_format = numerics::kInt4;   // kInt
  const numerics::Minifloat* float_format = nullptr;  // kHfp8
  std::vector<int8_t> ints;                           // kInt
  std::vector<uint8_t> bytes;                         // kFp4, kHfp8 codes
  std::vector<uint16_t> halves;                       // kFp16 codes
  std::vector<float> floats;                          // kFp32
  double scale = 1;                                   // real value = code value · scale
};

// A GEMM's operands, and the result its unit computed.
struct GemmData {
  OperandMatrix a, b;
  numerics::Fp4Phase phase = numerics::Fp4Phase::kEven;  // TPR phase of an FP4 operand

  // Filled by the unit that runs the op:
  bool computed = false;
  std::vector<float> c;        // M×N raw results (FP16 or FP32 values)
  double c_scale = 1;          // real result = c · c_scale
  uint64_t acc_overflows = 0;  // integer accumulator adds that overflowed
  std::string kernel;          // what computed it, e.g. "int4 x fp4 shift-MAC, fp16 accumulation"
};

// A quantize op's input, and what the rescaling unit made of it.
struct QuantizeData {
  std::vector<float> input;            // the FP16/FP32 values, flattened
  std::optional<double> pact_alpha;    // PACT clip (uint4/int4/int2 targets); default: max|x|
  std::optional<int> grad_scale_log2;  // GradScale (fp4 target); default: its fixed point

  // Filled by the rescaling unit:
  bool computed = false;
  std::vector<float> output;      // the dequantized results (even phase for fp4), same order
  uint64_t clipped = 0;           // integer targets: elements clipped to the range
  numerics::TprTensorCounts fp4;  // fp4 target: flush/saturate counts of both phases
  int grad_scale_log2_used = 0;   // fp4 target
  int grad_scale_vote = 0;        // fp4 target: +1 (double), 0 (hold) or -1 (halve)
};

// Per-op data; neither member is set for an op without tensors.
struct OpData {
  std::optional<GemmData> gemm;
  std::optional<QuantizeData> quantize;
};

}  // namespace nibble
