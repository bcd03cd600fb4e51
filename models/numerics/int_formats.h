#pragma once

#include <cmath>
#include <cstdint>

namespace nibble::numerics {

// A two's-complement (signed) or plain binary (unsigned) integer format of 2..32 bits.
// Contract: min()/max() are the representable range; conversions saturate into it.
struct IntFormat {
  int bits = 4;
  bool is_signed = true;

  constexpr int64_t min() const { return is_signed ? -(int64_t{1} << (bits - 1)) : 0; }
  constexpr int64_t max() const {
    return is_signed ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1;
  }
  // Throws std::invalid_argument unless 2 <= bits <= 32.
  void validate() const;
};

inline constexpr IntFormat kInt4{4, true};    // -8..7
inline constexpr IntFormat kUint4{4, false};  // 0..15
inline constexpr IntFormat kInt2{2, true};    // -2..1
inline constexpr IntFormat kInt8{8, true};    // -128..127

// Round half to even on a double, independent of the floating-point environment's mode
// (inline: the quantizers call it once per element).
inline double round_half_even(double x) {
  // Doubles of magnitude 2^52 and up (and inf, NaN) are integers already; so are both zeros,
  // returned with their sign. Below 2^52 the truncation to int64 is exact and does not read the
  // process-wide rounding mode (as std::nearbyint would), and floor(x) follows from it; x - f
  // is then exact, so the tie test is exact.
  if (!(std::fabs(x) < 0x1p52) || x == 0.0) return x;
  const auto t = static_cast<int64_t>(x);
  const int64_t fl = static_cast<double>(t) > x ? t - 1 : t;
  const double f = static_cast<double>(fl);
  const double d = x - f;
  if (d > 0.5) return f + 1.0;
  if (d < 0.5) return f;
  return (fl & 1) == 0 ? f : f + 1.0;
}

// Saturating conversion of a real value to `format`: round half to even, then clip.
// Throws std::invalid_argument on NaN; +-inf saturate. `saturated`, when given, is set to whether
// the rounded value fell outside the range.
int32_t to_int(double x, const IntFormat& format, bool* saturated = nullptr);

// Saturating conversion of an integer (e.g. an accumulator after an integer shift).
int32_t saturate_int(int64_t x, const IntFormat& format, bool* saturated = nullptr);

enum class OverflowMode { kWrap, kSaturate };

// An integer accumulator register of 2..64 bits, as in the MAC array's adder chain.
// Contract: kWrap keeps the exact two's-complement result modulo 2^width; kSaturate clamps to
// [-2^(w-1), 2^(w-1)-1]. Either way every add whose exact result leaves the range is counted.
class IntAccumulator {
 public:
  // Throws std::invalid_argument unless 2 <= width_bits <= 64.
  IntAccumulator(int width_bits, OverflowMode mode);

  void add(int64_t v);
  void reset() { value_ = 0; }
  int64_t value() const { return value_; }
  uint64_t overflow_count() const { return overflows_; }
  int width_bits() const { return width_; }
  OverflowMode mode() const { return mode_; }
  int64_t min() const { return min_; }
  int64_t max() const { return max_; }

 private:
  int width_;
  OverflowMode mode_;
  int64_t min_;
  int64_t max_;
  int64_t value_ = 0;
  uint64_t overflows_ = 0;
};

}  // namespace nibble::numerics
