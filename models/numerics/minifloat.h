#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

namespace nibble::numerics {

// What the all-ones exponent field means.
enum class Specials {
  kNone,       // every code is a finite number (no inf, no NaN)
  kIeee,       // IEEE 754: all-ones exponent is inf (mantissa 0) or NaN (mantissa != 0)
  kSingleCode  // only the all-ones magnitude code (both signs) is special: NaN/inf merged
};

// What a finite value beyond the largest finite magnitude becomes.
enum class OnOverflow { kSaturate, kSpecial };

// Parameters of a binary floating-point format: 1 sign bit, exp_bits, man_bits.
// subnormals == false means the exponent-0 binade holds normal numbers 2^-bias * 1.m, except that
// the code with mantissa 0 is zero (so the smallest magnitude is (1 + 2^-man_bits) * 2^-bias).
struct MinifloatSpec {
  std::string name;
  int exp_bits = 5;
  int man_bits = 10;
  int bias = 15;
  bool subnormals = true;
  Specials specials = Specials::kIeee;
  OnOverflow on_overflow = OnOverflow::kSpecial;
};

// A binary minifloat format with bit-exact encode (round to nearest even, or stochastic) and
// decode. Contract: codes are the low 1 + exp_bits + man_bits bits of a uint32_t, sign on top;
// decode is exact in double; encode(decode(c)) == c for every non-NaN code; NaNs encode to one
// canonical quiet NaN per sign. Formats up to 1-8-23 (FP32) are supported.
class Minifloat {
 public:
  // Throws std::invalid_argument on an unsupported or inconsistent spec.
  explicit Minifloat(MinifloatSpec spec);

  const MinifloatSpec& spec() const { return spec_; }
  int bits() const { return 1 + spec_.exp_bits + spec_.man_bits; }
  // Number of codes; formats of at most 16 bits (FP32 has 2^32, which does not fit).
  uint32_t code_count() const { return bits() < 32 ? uint32_t{1} << bits() : 0; }
  uint32_t sign_mask() const { return sign_mask_; }

  double decode(uint32_t code) const;
  // Round to nearest, ties to even. Throws std::invalid_argument when x is NaN and the format
  // has no NaN.
  uint32_t encode(double x) const { return encode_impl(x, false, 0); }
  // Stochastic rounding: rounds away from zero with probability (distance to the lower-magnitude
  // neighbour) / (gap), judged with 64 random bits.
  uint32_t encode_stochastic(double x, uint64_t random_bits) const {
    return encode_impl(x, true, random_bits);
  }
  double round(double x) const { return decode(encode(x)); }

  bool is_nan(uint32_t code) const;
  bool is_inf(uint32_t code) const;
  double max_finite() const { return max_finite_; }
  double min_positive() const { return min_positive_; }
  double min_normal() const { return min_normal_; }
  uint32_t max_finite_code() const { return max_finite_mag_; }
  uint32_t canonical_nan(bool negative) const;

 private:
  uint32_t encode_impl(double x, bool stochastic, uint64_t random_bits) const;
  uint32_t overflow_code(uint32_t sign) const;

  MinifloatSpec spec_;
  uint32_t sign_mask_;
  uint32_t max_field_;       // all-ones exponent field
  uint32_t max_finite_mag_;  // magnitude code of the largest finite value
  int min_exp_;              // exponent of the quantum's binade floor: 1-bias or -bias
  double max_finite_;
  double min_positive_;
  double min_normal_;
};

// Named instances. Choices where the sources are silent are listed in models/numerics/README.md.
const Minifloat& fp16();       // IEEE binary16: 1-5-10, bias 15, subnormals, inf/NaN
const Minifloat& dlfloat16();  // IBM DLFloat16: 1-6-9, bias 31, no subnormals, one NaN/inf code
const Minifloat& hfp8_fwd();   // HFP8 forward 1-4-3, bias 11, no subnormals, no inf/NaN, saturate
const Minifloat& hfp8_bwd();   // HFP8 backward 1-5-2, bias 15, subnormals, inf/NaN
const Minifloat& fp9();        // internal 1-5-3, bias 15, subnormals, inf/NaN: holds both HFP8s
const Minifloat& fp32();       // IEEE binary32

// Fast FP16 rounding for hot loops: returns x rounded to the nearest binary16 value (ties to
// even, overflow to +-inf, NaN stays NaN) as a double. Bit-identical to fp16().round(x).
inline double round_to_fp16(double x) {
  const double a = std::fabs(x);
  if (!(a < 65520.0)) {
    // 65520 = 65504 + half an ulp: at and above it RNE overflows to inf (the tie goes to the
    // even "2^16"). NaN fails the comparison too and is returned as is.
    return std::isnan(x) ? x : std::copysign(std::numeric_limits<double>::infinity(), x);
  }
  double r = 0.0;
  if (a < 0x1p-14) {
    // Subnormal range: the grid is multiples of 2^-24. Adding 2^28 puts the 2^-24 bit at the
    // last place of a double, so the FPU's own round-to-nearest-even does the rounding exactly.
    r = (a + 0x1p28) - 0x1p28;
  } else {
    // Normal range: keep 10 of the 52 fraction bits with RNE on the raw bit pattern; a carry out
    // of the fraction correctly bumps the exponent field.
    uint64_t bits = 0;
    std::memcpy(&bits, &a, sizeof bits);
    const uint64_t lsb = (bits >> 42) & 1;
    bits += (uint64_t{1} << 41) - 1 + lsb;
    bits &= ~((uint64_t{1} << 42) - 1);
    std::memcpy(&r, &bits, sizeof r);
  }
  return std::copysign(r, x);
}

// Exact x * 0.5 as an FP16 exponent decrement (the odd TPR phase). Exact for |x| >= 2^-13;
// below that the value becomes subnormal and is rounded to nearest even like any FP16 result.
inline double fp16_halve(double x) { return round_to_fp16(x * 0.5); }

}  // namespace nibble::numerics
