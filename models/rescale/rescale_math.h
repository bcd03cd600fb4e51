// What the rescaling unit computes: a quantize op's FP16/FP32 values converted to the 4-bit (or
// 2-bit) codes the GEMM units take, using the one implementation of every format in
// models/numerics. Plain C++, no SystemC; both fidelities of the unit call it, so their results
// are identical by construction.
//
//   uint4     PACT: clip x to [0, α], code = round(x·(2^b−1)/α), value = code·α/(2^b−1)
//   int4/int2 symmetric clip to [−α, α], code = round(x·(2^(b−1)−1)/α) (−7..7, −1..1),
//             value = code·α/(2^(b−1)−1)
//   fp4       radix-4 FP4 of x·2^s (GradScale), both TPR phases from one conversion, and
//             GradScale's vote on max|x·2^s|
// Rounding is half to even (numerics::round_half_even); FP4 follows Sun et al.'s ×1.6 rule.
#pragma once

#include <cstdint>
#include <vector>

#include "models/interfaces/op_data.h"
#include "sim/workload.h"

namespace nibble {

// Whether the rescaling unit converts to `target`: uint4, int4, int2 or fp4.
bool rescale_supports(Precision target);

// The code streams the unit writes (for tests; the simulation keeps only QuantizeData).
struct RescaleCodes {
  std::vector<int8_t> ints;       // integer targets: one code per element
  std::vector<uint8_t> fp4_even;  // fp4: the even-phase codes (the backward GEMM's operand)
  std::vector<uint8_t> fp4_odd;   // fp4: the odd-phase codes (the update GEMM's operand)
};

// PACT's clip when the trace gives none: the largest finite input, or 1 when no input is
// positive (a clip of 0 would divide by zero; every code is 0 either way).
double default_pact_alpha(const std::vector<float>& x);
// The symmetric clip of int4/int2 when the trace gives none: the largest finite |x| (0 for an
// all-zero tensor, which quantizes everything to code 0).
double default_symmetric_alpha(const std::vector<float>& x);
// The fp4 target's default GradScale is numerics::grad_scale_fixed_point, as for GEMM operands.

// Converts data.input to `target` and fills data's outputs: `output` (dequantized values; for fp4
// the even phase divided by 2^s), `clipped` (integer targets: inputs outside the clip range, NaN
// included, which becomes code 0), `fp4` (flush/saturate/NaN counts of both phases),
// `grad_scale_log2_used` and `grad_scale_vote` (fp4). Leaves `computed` to the caller. `codes`,
// when given, receives the code streams. Throws std::invalid_argument for a target the unit does
// not support or a GradScale outside [−126, 127] (the trace reader rejects both earlier).
void rescale_quantize(Precision target, QuantizeData& data, RescaleCodes* codes = nullptr);

}  // namespace nibble
