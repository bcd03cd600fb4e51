#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "models/numerics/int_formats.h"

namespace nibble::numerics {

// Integer codes plus the step that maps a code back to a real value: value = code * scale.
// scales has one entry (per tensor) or one per channel (channel-major layout).
struct QuantizedTensor {
  std::vector<int8_t> codes;
  std::vector<double> scales;
  std::vector<double> alphas;  // the clip value that produced each scale
};

// SAWB weight quantizer (Choi et al. 2019): alpha = c1 * sqrt(E[w^2]) - c2 * E[|w|], a symmetric
// clip to [-alpha, alpha], then 2^b - 1 uniform levels: codes -(2^(b-1)-1) .. 2^(b-1)-1 with step
// alpha / (2^(b-1)-1) (15 levels, -7..7, for 4 bits; the INT4 code -8 is never produced).
struct SawbCoefficients {
  double c1;
  double c2;
};
// Table from IBM's FMS Model Optimizer (reference sec. 1.5): bits 2, 3, 4, 5, 8; others throw
// std::invalid_argument.
SawbCoefficients sawb_coefficients(int bits);
// The raw SAWB clip, floored at 0 (a degenerate fit or an all-zero tensor gives 0, and a zero
// clip quantizes everything to code 0). Throws std::invalid_argument when n == 0.
double sawb_alpha(const float* w, size_t n, int bits);
// Round-half-even code of w under a symmetric clip; alpha == 0 gives 0.
int32_t quantize_symmetric(double w, double alpha, int bits);
QuantizedTensor sawb_quantize(const float* w, size_t n, int bits);
// w is [channels x per_channel] row-major (output-channel major); one alpha per channel.
QuantizedTensor sawb_quantize_per_channel(const float* w, size_t channels, size_t per_channel,
                                          int bits);

// PACT activation quantizer (Choi et al. 2018): y = clip(x, 0, alpha); code = round(y * (2^b-1) /
// alpha) in 0 .. 2^b - 1 (0..15 for 4 bits), value = code * alpha / (2^b - 1). Round half even.
// Throws std::invalid_argument unless alpha > 0 and 1 <= bits <= 8.
int32_t pact_quantize(double x, double alpha, int bits);
QuantizedTensor pact_quantize(const float* x, size_t n, double alpha, int bits);
// Per-channel PACT: x is [channels x per_channel], alphas has `channels` entries.
QuantizedTensor pact_quantize_per_channel(const float* x, size_t channels, size_t per_channel,
                                          const double* alphas, int bits);

// Rescale unit: an integer accumulator (or an FP16 value) times a real multiplier, rounded half
// to even and saturated into the output format (INT4 / UINT4 activations).
int32_t requantize(int64_t acc, double multiplier, const IntFormat& out, bool* saturated = nullptr);
int32_t requantize(double value, double multiplier, const IntFormat& out,
                   bool* saturated = nullptr);

}  // namespace nibble::numerics
