#include "models/rescale/rescale_math.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "models/numerics/fp4.h"
#include "models/numerics/quantizers.h"

namespace nibble {

namespace nn = numerics;

bool rescale_supports(Precision target) {
  return target == Precision::kUint4 || target == Precision::kInt4 || target == Precision::kInt2 ||
         target == Precision::kFp4;
}

// Non-finite inputs are left out of the default clips: an infinite clip would turn every code
// into 0 (or NaN), which no trainer would choose.
double default_pact_alpha(const std::vector<float>& x) {
  float max = 0;
  for (float v : x) {
    if (std::isfinite(v)) max = std::max(max, v);
  }
  return max > 0 ? static_cast<double>(max) : 1.0;
}

double default_symmetric_alpha(const std::vector<float>& x) {
  float max = 0;
  for (float v : x) {
    if (std::isfinite(v)) max = std::max(max, std::fabs(v));
  }
  return static_cast<double>(max);
}

namespace {

void quantize_integer(Precision target, QuantizeData& data, RescaleCodes* codes) {
  const std::vector<float>& x = data.input;
  const bool pact = target == Precision::kUint4;
  const int bits = static_cast<int>(bits_of(target));
  // Code steps across the clip range: 2^b − 1 for PACT (0..15), 2^(b−1) − 1 a side for the
  // symmetric formats (−7..7 for int4, −1..1 for int2; the two's-complement minimum is unused).
  const int levels = pact ? (1 << bits) - 1 : (1 << (bits - 1)) - 1;
  const double alpha =
      data.pact_alpha.value_or(pact ? default_pact_alpha(x) : default_symmetric_alpha(x));
  const double step = alpha / levels;
  if (codes != nullptr) codes->ints.assign(x.size(), 0);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float v = x[i];
    int32_t code = 0;
    if (std::isnan(v)) {
      ++data.clipped;  // the converter's clip stage passes NaN as 0: a clipped value
    } else if (pact) {
      code = nn::pact_quantize(v, alpha, bits);
      // PACT clips to [0, α]: a negative input (an operand that is not post-ReLU) is clipped too.
      data.clipped += v > alpha || v < 0 ? 1 : 0;
    } else {
      code = nn::quantize_symmetric(v, alpha, bits);
      data.clipped += std::fabs(static_cast<double>(v)) > alpha ? 1 : 0;
    }
    data.output[i] = static_cast<float>(code * step);
    if (codes != nullptr) codes->ints[i] = static_cast<int8_t>(code);
  }
}

void quantize_fp4(QuantizeData& data, RescaleCodes* codes) {
  const std::vector<float>& x = data.input;
  const int s = data.grad_scale_log2.value_or(nn::grad_scale_fixed_point(x.data(), x.size()));
  if (s < -126 || s > 127) {
    throw std::invalid_argument("rescale_quantize: grad_scale_log2 " + std::to_string(s) +
                                " outside [-126, 127]");
  }
  std::vector<uint8_t> even(x.size()), odd(x.size());
  data.fp4 = nn::fp4_quantize_tpr(x.data(), x.size(), s, even.data(), odd.data());
  data.grad_scale_log2_used = s;

  // GradScale's vote, as the unit's reduction tree takes it: the max of |x·2^s| as the converter
  // sees it (the same float product fp4_quantize_tpr forms), NaN counting as an overflow.
  const float scale = std::ldexp(1.0f, s);
  float max_abs = 0;
  bool nan = false;
  for (float v : x) {
    const float a = std::fabs(v * scale);
    nan = nan || std::isnan(a);
    if (a > max_abs) max_abs = a;
  }
  data.grad_scale_vote = nn::GradScale::vote(nan ? std::numeric_limits<double>::quiet_NaN()
                                                 : static_cast<double>(max_abs));

  for (std::size_t i = 0; i < x.size(); ++i) {
    data.output[i] =
        static_cast<float>(std::ldexp(static_cast<double>(nn::fp4_decode(even[i])), -s));
  }
  if (codes != nullptr) {
    codes->fp4_even = std::move(even);
    codes->fp4_odd = std::move(odd);
  }
}

}  // namespace

void rescale_quantize(Precision target, QuantizeData& data, RescaleCodes* codes) {
  if (!rescale_supports(target)) {
    throw std::invalid_argument(std::string("rescale_quantize: no conversion to ") +
                                to_string(target));
  }
  data.output.assign(data.input.size(), 0.0f);
  data.clipped = 0;
  data.fp4 = nn::TprTensorCounts{};
  data.grad_scale_log2_used = 0;
  data.grad_scale_vote = 0;
  if (codes != nullptr) *codes = RescaleCodes{};
  if (target == Precision::kFp4) {
    quantize_fp4(data, codes);
  } else {
    quantize_integer(target, data, codes);
  }
}

}  // namespace nibble
