#include "models/numerics/quantizers.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace nibble::numerics {

namespace {

void check_bits(int bits, int lo, int hi, const char* who) {
  if (bits < lo || bits > hi) {
    throw std::invalid_argument(std::string(who) + ": bits must be in [" + std::to_string(lo) +
                                ", " + std::to_string(hi) + "], got " + std::to_string(bits));
  }
}

int32_t symmetric_max_code(int bits) { return (int32_t{1} << (bits - 1)) - 1; }

}  // namespace

SawbCoefficients sawb_coefficients(int bits) {
  switch (bits) {
    case 2:
      return {3.12, 2.064};
    case 3:
      return {7.509, 6.892};
    case 4:
      return {12.68, 12.80};
    case 5:
      return {17.74, 18.64};
    case 8:
      return {31.76, 35.04};
    default:
      break;
  }
  throw std::invalid_argument("sawb_coefficients: no coefficients for " + std::to_string(bits) +
                              " bits (have 2, 3, 4, 5, 8)");
}

double sawb_alpha(const float* w, size_t n, int bits) {
  const SawbCoefficients c = sawb_coefficients(bits);
  if (n == 0) throw std::invalid_argument("sawb_alpha: empty tensor");
  double sum_sq = 0.0;
  double sum_abs = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double v = w[i];
    sum_sq += v * v;
    sum_abs += std::fabs(v);
  }
  const double count = static_cast<double>(n);
  const double alpha = c.c1 * std::sqrt(sum_sq / count) - c.c2 * (sum_abs / count);
  return alpha > 0.0 ? alpha : 0.0;
}

namespace {

// The symmetric code of w once bits and alpha (>= 0) are checked.
int32_t symmetric_code(double w, double alpha, int bits) {
  if (alpha == 0.0) return 0;
  const int32_t levels = symmetric_max_code(bits);
  const double clipped = w > alpha ? alpha : (w < -alpha ? -alpha : w);
  return to_int(clipped * levels / alpha, IntFormat{bits, true});
}

}  // namespace

int32_t quantize_symmetric(double w, double alpha, int bits) {
  check_bits(bits, 2, 8, "quantize_symmetric");
  if (!(alpha >= 0.0)) throw std::invalid_argument("quantize_symmetric: alpha must be >= 0");
  return symmetric_code(w, alpha, bits);
}

QuantizedTensor sawb_quantize_per_channel(const float* w, size_t channels, size_t per_channel,
                                          int bits) {
  check_bits(bits, 2, 8, "sawb_quantize");
  QuantizedTensor q;
  q.codes.resize(channels * per_channel);
  for (size_t ch = 0; ch < channels; ++ch) {
    const float* row = w + ch * per_channel;
    const double alpha = sawb_alpha(row, per_channel, bits);
    if (!(alpha >= 0.0)) throw std::invalid_argument("quantize_symmetric: alpha must be >= 0");
    for (size_t i = 0; i < per_channel; ++i) {
      q.codes[ch * per_channel + i] = static_cast<int8_t>(symmetric_code(row[i], alpha, bits));
    }
    q.alphas.push_back(alpha);
    q.scales.push_back(alpha / symmetric_max_code(bits));
  }
  return q;
}

QuantizedTensor sawb_quantize(const float* w, size_t n, int bits) {
  return sawb_quantize_per_channel(w, 1, n, bits);
}

namespace {

void check_pact_alpha(double alpha) {
  if (!(alpha > 0.0) || std::isinf(alpha)) {
    throw std::invalid_argument("pact_quantize: alpha must be finite and > 0");
  }
}

// PACT's code of x once bits and alpha are checked: round(clip(x, 0, α)·levels/α).
int32_t pact_code(double x, double alpha, int32_t levels) {
  if (std::isnan(x)) throw std::invalid_argument("pact_quantize: NaN input");
  const double y = x < 0.0 ? 0.0 : (x > alpha ? alpha : x);
  return static_cast<int32_t>(round_half_even(y * levels / alpha));
}

}  // namespace

int32_t pact_quantize(double x, double alpha, int bits) {
  check_bits(bits, 1, 8, "pact_quantize");
  check_pact_alpha(alpha);
  return pact_code(x, alpha, (int32_t{1} << bits) - 1);
}

QuantizedTensor pact_quantize_per_channel(const float* x, size_t channels, size_t per_channel,
                                          const double* alphas, int bits) {
  QuantizedTensor q;
  q.codes.resize(channels * per_channel);
  // Codes of up to 7 bits fit int8; an 8-bit PACT code (0..255) does not, so cap at 7.
  check_bits(bits, 1, 7, "pact_quantize");
  const int32_t levels = (int32_t{1} << bits) - 1;
  for (size_t ch = 0; ch < channels; ++ch) {
    check_pact_alpha(alphas[ch]);
    for (size_t i = 0; i < per_channel; ++i) {
      const size_t at = ch * per_channel + i;
      q.codes[at] = static_cast<int8_t>(pact_code(x[at], alphas[ch], levels));
    }
    q.alphas.push_back(alphas[ch]);
    q.scales.push_back(alphas[ch] / levels);
  }
  return q;
}

QuantizedTensor pact_quantize(const float* x, size_t n, double alpha, int bits) {
  return pact_quantize_per_channel(x, 1, n, &alpha, bits);
}

int32_t requantize(double value, double multiplier, const IntFormat& out, bool* saturated) {
  out.validate();
  return to_int(value * multiplier, out, saturated);
}

int32_t requantize(int64_t acc, double multiplier, const IntFormat& out, bool* saturated) {
  return requantize(static_cast<double>(acc), multiplier, out, saturated);
}

}  // namespace nibble::numerics
