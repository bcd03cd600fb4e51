#include "models/numerics/minifloat.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

namespace nibble::numerics {

namespace {

uint32_t low_mask(int bits) { return bits >= 32 ? ~uint32_t{0} : (uint32_t{1} << bits) - 1; }

}  // namespace

Minifloat::Minifloat(MinifloatSpec spec) : spec_(std::move(spec)) {
  const auto fail = [this](const std::string& why) {
    throw std::invalid_argument("Minifloat '" + spec_.name + "': " + why);
  };
  if (spec_.exp_bits < 1 || spec_.exp_bits > 8) fail("exp_bits must be in [1, 8]");
  if (spec_.man_bits < 0 || spec_.man_bits > 23) fail("man_bits must be in [0, 23]");
  if (spec_.specials == Specials::kIeee && spec_.man_bits < 1) {
    fail("IEEE specials need at least one mantissa bit to tell inf from NaN");
  }
  if (spec_.specials == Specials::kIeee && spec_.exp_bits < 2) {
    fail("IEEE specials need at least two exponent bits");
  }
  if (spec_.specials == Specials::kNone && spec_.on_overflow == OnOverflow::kSpecial) {
    fail("a format without specials must saturate on overflow");
  }
  if (!spec_.subnormals && spec_.man_bits < 1) {
    fail("without subnormals the zero code needs a mantissa bit to share its binade");
  }
  const int m = spec_.man_bits;
  sign_mask_ = uint32_t{1} << (spec_.exp_bits + m);
  max_field_ = low_mask(spec_.exp_bits);
  const uint32_t all_ones = sign_mask_ - 1;
  switch (spec_.specials) {
    case Specials::kNone:
      max_finite_mag_ = all_ones;
      break;
    case Specials::kIeee:
      max_finite_mag_ = ((max_field_ - 1) << m) | low_mask(m);
      break;
    case Specials::kSingleCode:
      max_finite_mag_ = all_ones - 1;
      break;
  }
  min_exp_ = spec_.subnormals ? 1 - spec_.bias : -spec_.bias;
  max_finite_ = decode(max_finite_mag_);
  min_positive_ = decode(1);
  min_normal_ = spec_.subnormals ? std::ldexp(1.0, 1 - spec_.bias) : min_positive_;
}

uint32_t Minifloat::canonical_nan(bool negative) const {
  const uint32_t sign = negative ? sign_mask_ : 0;
  switch (spec_.specials) {
    case Specials::kIeee:
      return sign | (max_field_ << spec_.man_bits) | (uint32_t{1} << (spec_.man_bits - 1));
    case Specials::kSingleCode:
      return sign | (sign_mask_ - 1);
    case Specials::kNone:
      break;
  }
  throw std::invalid_argument("Minifloat '" + spec_.name + "' has no NaN");
}

bool Minifloat::is_nan(uint32_t code) const {
  const uint32_t mag = code & (sign_mask_ - 1);
  switch (spec_.specials) {
    case Specials::kIeee:
      return (mag >> spec_.man_bits) == max_field_ && (mag & low_mask(spec_.man_bits)) != 0;
    case Specials::kSingleCode:
      return mag == sign_mask_ - 1;
    case Specials::kNone:
      return false;
  }
  return false;
}

bool Minifloat::is_inf(uint32_t code) const {
  const uint32_t mag = code & (sign_mask_ - 1);
  // kSingleCode merges inf into its NaN code; that code reports is_nan, never is_inf.
  return spec_.specials == Specials::kIeee && mag == (max_field_ << spec_.man_bits);
}

double Minifloat::decode(uint32_t code) const {
  const int m = spec_.man_bits;
  const bool negative = (code & sign_mask_) != 0;
  const uint32_t field = (code >> m) & max_field_;
  const uint32_t man = code & low_mask(m);
  double v = 0.0;
  if (is_nan(code)) {
    v = std::numeric_limits<double>::quiet_NaN();
  } else if (is_inf(code)) {
    v = std::numeric_limits<double>::infinity();
  } else if (field == 0) {
    if (spec_.subnormals) {
      v = std::ldexp(static_cast<double>(man), 1 - spec_.bias - m);
    } else if (man != 0) {
      v = std::ldexp(static_cast<double>((uint32_t{1} << m) | man), -spec_.bias - m);
    }
  } else {
    v = std::ldexp(static_cast<double>((uint32_t{1} << m) | man),
                   static_cast<int>(field) - spec_.bias - m);
  }
  return negative ? -v : v;
}

uint32_t Minifloat::overflow_code(uint32_t sign) const {
  if (spec_.on_overflow == OnOverflow::kSaturate) return sign | max_finite_mag_;
  if (spec_.specials == Specials::kIeee) return sign | (max_field_ << spec_.man_bits);
  return sign | (sign_mask_ - 1);
}

uint32_t Minifloat::encode_impl(double x, bool stochastic, uint64_t random_bits) const {
  const uint32_t sign = std::signbit(x) ? sign_mask_ : 0;
  if (std::isnan(x)) return canonical_nan(sign != 0);
  if (std::isinf(x)) {
    if (spec_.specials == Specials::kNone) return sign | max_finite_mag_;
    return spec_.specials == Specials::kIeee ? sign | (max_field_ << spec_.man_bits)
                                             : sign | (sign_mask_ - 1);
  }
  const double a = std::fabs(x);
  if (a == 0.0) return sign;
  const int m = spec_.man_bits;

  if (!spec_.subnormals && a < min_positive_) {
    // The gap (0, min_positive) has no grid points; zero's code is even, so the tie goes to 0.
    bool up = false;
    if (stochastic) {
      const double u = std::ldexp(static_cast<double>(random_bits >> 11), -53);
      up = u < a / min_positive_;
    } else {
      up = a > 0.5 * min_positive_;
    }
    return sign | (up ? 1u : 0u);
  }

  // a = sig * 2^ex with a 53-bit integer significand (exact for every finite double).
  int fe = 0;
  const double frac = std::frexp(a, &fe);  // a = frac * 2^fe, frac in [0.5, 1)
  const uint64_t sig = static_cast<uint64_t>(std::ldexp(frac, 53));
  const int ex = fe - 53;
  const int e_floor = fe - 1;  // floor(log2(a))
  // The grid spacing (quantum) in a's binade; below the normal range it stays at min_exp_'s.
  const int q = (e_floor > min_exp_ ? e_floor : min_exp_) - m;
  const int s = q - ex;  // number of significand bits to drop
  uint64_t n = 0;
  if (s <= 0) {
    n = sig << (-s);  // exact; a needs at most m+1 bits at this quantum, so no overflow
  } else {
    uint64_t rem = 0;
    int rem_bits = s;
    if (s < 64) {
      n = sig >> s;
      rem = sig & ((uint64_t{1} << s) - 1);
    } else {
      n = 0;
      rem = sig;  // the fraction is sig / 2^s < 2^-11
    }
    bool up = false;
    if (stochastic) {
      // Round up with probability rem / 2^s, judged at 64-bit resolution.
      if (rem_bits <= 64) {
        const uint64_t r = rem_bits == 64 ? random_bits : random_bits >> (64 - rem_bits);
        up = r < rem;
      } else if (rem_bits - 64 < 64) {
        up = random_bits < (rem >> (rem_bits - 64));
      }
    } else if (s < 64) {
      const uint64_t half = uint64_t{1} << (s - 1);
      up = rem > half || (rem == half && (n & 1) != 0);
    }  // else s >= 64: a < 2^(q-11), below half a quantum, so RNE rounds down

    if (up) ++n;
  }
  // n * 2^q is the rounded magnitude; a carry to 2^(m+1) moves into the next binade.
  int qe = q;
  if (n == (uint64_t{1} << (m + 1))) {
    n >>= 1;
    ++qe;
  }
  uint64_t mag = 0;
  if (n < (uint64_t{1} << m)) {
    // Subnormal (only reachable with subnormals on, at q == min_exp_ - m), or zero.
    mag = n;
  } else {
    const int64_t field = static_cast<int64_t>(qe) + m + spec_.bias;
    if (field > static_cast<int64_t>(max_field_)) return overflow_code(sign);
    mag = (static_cast<uint64_t>(field) << m) | (n - (uint64_t{1} << m));
  }
  if (mag > max_finite_mag_) return overflow_code(sign);
  return sign | static_cast<uint32_t>(mag);
}

const Minifloat& fp16() {
  static const Minifloat f({"fp16", 5, 10, 15, true, Specials::kIeee, OnOverflow::kSpecial});
  return f;
}
const Minifloat& dlfloat16() {
  static const Minifloat f(
      {"dlfloat16", 6, 9, 31, false, Specials::kSingleCode, OnOverflow::kSpecial});
  return f;
}
const Minifloat& hfp8_fwd() {
  static const Minifloat f({"hfp8_fwd", 4, 3, 11, false, Specials::kNone, OnOverflow::kSaturate});
  return f;
}
const Minifloat& hfp8_bwd() {
  static const Minifloat f({"hfp8_bwd", 5, 2, 15, true, Specials::kIeee, OnOverflow::kSpecial});
  return f;
}
const Minifloat& fp9() {
  static const Minifloat f({"fp9", 5, 3, 15, true, Specials::kIeee, OnOverflow::kSpecial});
  return f;
}
const Minifloat& fp32() {
  static const Minifloat f({"fp32", 8, 23, 127, true, Specials::kIeee, OnOverflow::kSpecial});
  return f;
}

}  // namespace nibble::numerics
