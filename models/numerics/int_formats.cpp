#include "models/numerics/int_formats.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace nibble::numerics {

void IntFormat::validate() const {
  if (bits < 2 || bits > 32) {
    throw std::invalid_argument("IntFormat: bits must be in [2, 32], got " + std::to_string(bits));
  }
}

int32_t saturate_int(int64_t x, const IntFormat& format, bool* saturated) {
  const int64_t lo = format.min();
  const int64_t hi = format.max();
  const bool sat = x < lo || x > hi;
  if (saturated != nullptr) *saturated = sat;
  return static_cast<int32_t>(x < lo ? lo : (x > hi ? hi : x));
}

int32_t to_int(double x, const IntFormat& format, bool* saturated) {
  if (std::isnan(x)) throw std::invalid_argument("to_int: NaN cannot be converted to an integer");
  const double r = round_half_even(x);
  const double lo = static_cast<double>(format.min());
  const double hi = static_cast<double>(format.max());
  const bool sat = r < lo || r > hi;
  if (saturated != nullptr) *saturated = sat;
  if (r < lo) return static_cast<int32_t>(format.min());
  if (r > hi) return static_cast<int32_t>(format.max());
  return static_cast<int32_t>(r);
}

IntAccumulator::IntAccumulator(int width_bits, OverflowMode mode)
    : width_(width_bits), mode_(mode) {
  if (width_bits < 2 || width_bits > 64) {
    throw std::invalid_argument("IntAccumulator: width_bits must be in [2, 64], got " +
                                std::to_string(width_bits));
  }
  min_ = width_bits == 64 ? std::numeric_limits<int64_t>::min() : -(int64_t{1} << (width_bits - 1));
  max_ =
      width_bits == 64 ? std::numeric_limits<int64_t>::max() : (int64_t{1} << (width_bits - 1)) - 1;
}

void IntAccumulator::add(int64_t v) {
  int64_t exact = 0;
  // The int64 add itself can overflow only for widths near 64; the builtin reports it without UB.
  const bool overflow64 = __builtin_add_overflow(value_, v, &exact);
  const bool out_of_range = overflow64 || exact < min_ || exact > max_;
  if (!out_of_range) {
    value_ = exact;
    return;
  }
  ++overflows_;
  if (mode_ == OverflowMode::kSaturate) {
    // The true sum's sign is v's sign when the int64 add overflowed, else exact's sign.
    const bool positive = overflow64 ? v > 0 : exact > 0;
    value_ = positive ? max_ : min_;
    return;
  }
  // Wrap: unsigned arithmetic is modulo 2^64; keep the low `width_` bits and sign-extend them.
  uint64_t u = static_cast<uint64_t>(value_) + static_cast<uint64_t>(v);
  if (width_ < 64) {
    const uint64_t mask = (uint64_t{1} << width_) - 1;
    u &= mask;
    const uint64_t sign_bit = uint64_t{1} << (width_ - 1);
    if ((u & sign_bit) != 0) u |= ~mask;
  }
  value_ = static_cast<int64_t>(u);
}

}  // namespace nibble::numerics
