#include "models/numerics/fp4.h"
#include <algorithm>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace nibble::numerics {

namespace {

constexpr int kMinN = -3;  // smallest exponent n of 4^n
constexpr int kMaxN = 3;   // largest exponent n of 4^n

// floor(a / 2) for negative a too (>> on negative ints is implementation-defined before C++20).
constexpr int floor_half(int a) { return a >= 0 ? a / 2 : -((1 - a) / 2); }

uint32_t float_bits(float f) {
  uint32_t u = 0;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Code for exponent n (radix-4 units) on a grid of kMinN..kMaxN, with flush/saturate counting.
// `exponent_field` is the IEEE float32 biased exponent of y = x * 1.6f; 0 means y is zero or a
// float32 subnormal (< 2^-126), far below the flush threshold.
uint8_t code_from_log2(uint8_t sign, int log2_y, bool y_tiny, bool x_nonzero, Fp4Counts* c) {
  if (y_tiny) {
    if (x_nonzero && c != nullptr) ++c->flushed;
    return sign;
  }
  const int n = floor_half(log2_y);
  if (n < kMinN) {
    if (c != nullptr) ++c->flushed;
    return sign;
  }
  if (n > kMaxN) {
    if (c != nullptr) ++c->saturated;
    return static_cast<uint8_t>(sign | (kMaxN + kFp4Bias));
  }
  return static_cast<uint8_t>(sign | (n + kFp4Bias));
}

struct Scaled {
  uint8_t sign;
  int log2_y;    // floor(log2|x * 1.6f|)
  bool tiny;     // y is 0 or a float32 subnormal
  bool nonzero;  // x != 0
  bool nan;
  bool inf;
};

Scaled scale_by_multiplier(float x) {
  Scaled s{};
  s.sign = std::signbit(x) ? kFp4SignBit : 0;
  if (std::isnan(x)) {
    s.nan = true;
    return s;
  }
  s.nonzero = x != 0.0f;
  if (std::isinf(x)) {
    s.inf = true;
    return s;
  }
  // The hardware's multiply by 1.6, in float32 with RNE; the exponent field of the product is
  // floor(log2|y|) with no log evaluated (Sec. 3.1: "take the exponent bits by truncation").
  const float y = x * kFp4Multiplier;
  const uint32_t field = (float_bits(y) >> 23) & 0xFF;
  s.tiny = field == 0;
  // y overflowing to inf (|x| > FLT_MAX / 1.6) gives field 255: log2 128, saturated below.
  s.log2_y = static_cast<int>(field) - 127;
  return s;
}

uint8_t encode_scaled(const Scaled& s, int extra_log2, Fp4Counts* c) {
  if (s.nan) {
    if (c != nullptr) ++c->nan;
    return 0;
  }
  if (s.inf) {
    if (c != nullptr) ++c->saturated;
    return static_cast<uint8_t>(s.sign | (kMaxN + kFp4Bias));
  }
  return code_from_log2(s.sign, s.log2_y + extra_log2, s.tiny, s.nonzero, c);
}

}  // namespace

float fp4_decode(uint8_t code) {
  if (code > 0xF) throw std::out_of_range("fp4_decode: code " + std::to_string(code) + " > 15");
  const int e = code & kFp4FieldMask;
  const float mag = e == 0 ? 0.0f : std::ldexp(1.0f, 2 * (e - kFp4Bias));
  return (code & kFp4SignBit) != 0 ? -mag : mag;
}

float fp4_decode(uint8_t code, Fp4Phase phase) {
  const float v = fp4_decode(code);
  return phase == Fp4Phase::kOdd ? 0.5f * v : v;
}

uint8_t fp4_encode(float x, Fp4Counts* counts) {
  return encode_scaled(scale_by_multiplier(x), 0, counts);
}

TprCodes fp4_encode_tpr(float x, Fp4Counts* even_counts, Fp4Counts* odd_counts) {
  const Scaled s = scale_by_multiplier(x);
  // A float32 subnormal y stays far below 4^-3 when doubled, so `tiny` holds for both phases.
  return TprCodes{encode_scaled(s, 0, even_counts), encode_scaled(s, 1, odd_counts)};
}

TprTensorCounts fp4_quantize_tpr(const float* x, size_t n, int log2_scale, uint8_t* even_codes,
                                 uint8_t* odd_codes) {
  TprTensorCounts counts;
  const float scale = std::ldexp(1.0f, log2_scale);
  for (size_t i = 0; i < n; ++i) {
    const TprCodes t = fp4_encode_tpr(x[i] * scale, &counts.even, &counts.odd);
    if (even_codes != nullptr) even_codes[i] = t.even;
    if (odd_codes != nullptr) odd_codes[i] = t.odd;
  }
  if (even_codes == nullptr) counts.even = Fp4Counts{};
  if (odd_codes == nullptr) counts.odd = Fp4Counts{};
  return counts;
}

uint8_t fp4_radix2_encode(float x, Fp4Counts* counts) {
  const uint8_t sign = std::signbit(x) ? kFp4SignBit : 0;
  if (std::isnan(x)) {
    if (counts != nullptr) ++counts->nan;
    return 0;
  }
  constexpr int kTopField = 7;
  if (std::isinf(x)) {
    if (counts != nullptr) ++counts->saturated;
    return static_cast<uint8_t>(sign | kTopField);
  }
  const uint32_t bits = float_bits(x);
  const uint32_t field = (bits >> 23) & 0xFF;
  if (field == 0) {
    if (x != 0.0f && counts != nullptr) ++counts->flushed;
    return sign;
  }
  // n = floor(log2|x|) + (mantissa >= 1.5): rounding at the arithmetic midpoint 0.75 * 2^(n+1),
  // ties upward, like the radix-4 rule's multiply-then-floor.
  const int n = static_cast<int>(field) - 127 + static_cast<int>((bits >> 22) & 1);
  if (n < 0) {
    if (counts != nullptr) ++counts->flushed;
    return sign;
  }
  if (n > kTopField - 1) {
    if (counts != nullptr) ++counts->saturated;
    return static_cast<uint8_t>(sign | kTopField);
  }
  return static_cast<uint8_t>(sign | (n + 1));
}

float fp4_radix2_decode(uint8_t code) {
  if (code > 0xF) {
    throw std::out_of_range("fp4_radix2_decode: code " + std::to_string(code) + " > 15");
  }
  const int e = code & kFp4FieldMask;
  const float mag = e == 0 ? 0.0f : std::ldexp(1.0f, e - 1);
  return (code & kFp4SignBit) != 0 ? -mag : mag;
}

GradScale::GradScale(int initial_log2, int min_log2, int max_log2)
    : log2_scale_(initial_log2), min_log2_(min_log2), max_log2_(max_log2) {
  if (min_log2 > initial_log2 || initial_log2 > max_log2) {
    throw std::invalid_argument("GradScale: need min_log2 <= initial_log2 <= max_log2, got " +
                                std::to_string(min_log2) + ", " + std::to_string(initial_log2) +
                                ", " + std::to_string(max_log2));
  }
}

double GradScale::scale() const { return std::ldexp(1.0, log2_scale_); }

int GradScale::vote(double max_abs_scaled) {
  if (std::isnan(max_abs_scaled) || max_abs_scaled > kTopBinHigh) return -1;
  if (max_abs_scaled > kTopBinLow) return 0;
  return +1;
}

int GradScale::vote_for(const float* g, size_t n, int headroom_log2) const {
  double max_abs = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double a = std::fabs(static_cast<double>(g[i]));
    if (std::isnan(a)) return vote(a);
    if (a > max_abs) max_abs = a;
  }
  // Scaling by a power of two is exact in double, so the bin test is exact.
  return vote(max_abs * std::ldexp(1.0, log2_scale_ + headroom_log2));
}

void GradScale::apply_votes(int vote_sum) {
  if (vote_sum > 0 && log2_scale_ < max_log2_) ++log2_scale_;
  if (vote_sum < 0 && log2_scale_ > min_log2_) --log2_scale_;
}

// With m = f·2^e, f in [0.5, 1): m·2^(6−e) = 64f is in [32, 64), inside the bin (32, 64] unless
// f = 0.5 exactly (m a power of two), where m·2^(7−e) = 64 is the bin's top instead. Within
// GradScale's range: a gradient below 2^-121 cannot be lifted into the top bin by a float scale.
int grad_scale_fixed_point(const float* g, size_t n) {
  float m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(g[i]));  // keeps m when g[i] is NaN
  if (m == 0) return 0;
  int e = 0;
  const double f = std::frexp(static_cast<double>(m), &e);
  return std::clamp(f == 0.5 ? 7 - e : 6 - e, -126, 127);
}

}  // namespace nibble::numerics
