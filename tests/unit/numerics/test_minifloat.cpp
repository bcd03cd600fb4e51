#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "models/numerics/minifloat.h"
#include "models/numerics/prng.h"

namespace nibble::numerics {
namespace {

std::vector<const Minifloat*> small_formats() {
  return {&fp16(), &dlfloat16(), &hfp8_fwd(), &hfp8_bwd(), &fp9()};
}

TEST(Minifloat, EveryCodeRoundTrips) {
  for (const Minifloat* f : small_formats()) {
    for (uint32_t code = 0; code < f->code_count(); ++code) {
      const double v = f->decode(code);
      const bool negative = (code & f->sign_mask()) != 0;
      if (f->is_nan(code)) {
        ASSERT_TRUE(std::isnan(v));
        ASSERT_EQ(f->encode(v), f->canonical_nan(negative)) << f->spec().name << " " << code;
      } else {
        ASSERT_EQ(std::signbit(v), negative) << f->spec().name << " " << code;
        ASSERT_EQ(f->encode(v), code) << f->spec().name << " " << code;
      }
    }
  }
}

TEST(Minifloat, HalfwayValuesGoToEven) {
  // Adjacent positive codes c, c+1 hold adjacent values; their midpoint is exact in double and
  // must encode to whichever of the two has a 0 in its last bit. Same for the negatives.
  for (const Minifloat* f : small_formats()) {
    for (uint32_t c = 0; c < f->max_finite_code(); ++c) {
      const double lo = f->decode(c);
      const double hi = f->decode(c + 1);
      ASSERT_LT(lo, hi) << f->spec().name << " " << c;
      const double mid = 0.5 * (lo + hi);
      const uint32_t even = (c & 1) == 0 ? c : c + 1;
      ASSERT_EQ(f->encode(mid), even) << f->spec().name << " " << c;
      ASSERT_EQ(f->encode(-mid), even | f->sign_mask()) << f->spec().name << " " << c;
      // Just off the midpoint, nearest wins.
      ASSERT_EQ(f->encode(std::nextafter(mid, 0.0)), c);
      ASSERT_EQ(f->encode(std::nextafter(mid, 1e300)), c + 1);
    }
  }
}

TEST(Minifloat, NamedFormatRanges) {
  // FP16: max (2 - 2^-10) * 2^15 = 65504, smallest 2^-24, smallest normal 2^-14.
  EXPECT_EQ(fp16().max_finite(), 65504.0);
  EXPECT_EQ(fp16().min_positive(), std::ldexp(1.0, -24));
  EXPECT_EQ(fp16().min_normal(), std::ldexp(1.0, -14));
  // DLFloat16: max code 0x7FFE = field 63, mantissa 510: (1 + 510/512) * 2^(63-31);
  // smallest: field 0 is a normal binade without subnormals: (1 + 2^-9) * 2^-31.
  EXPECT_EQ(dlfloat16().max_finite(), (1.0 + 510.0 / 512.0) * std::ldexp(1.0, 32));
  EXPECT_EQ(dlfloat16().min_positive(), (1.0 + 1.0 / 512.0) * std::ldexp(1.0, -31));
  // HFP8 1-4-3 bias 11, all 16 binades normal: max 1.875 * 2^(15-11) = 30; smallest
  // 1.125 * 2^-11 (the 2^-11 code itself is zero).
  EXPECT_EQ(hfp8_fwd().max_finite(), 30.0);
  EXPECT_EQ(hfp8_fwd().min_positive(), 1.125 * std::ldexp(1.0, -11));
  // HFP8 1-5-2 bias 15 (IEEE-like): max 1.75 * 2^15 = 57344, smallest 2^-16.
  EXPECT_EQ(hfp8_bwd().max_finite(), 57344.0);
  EXPECT_EQ(hfp8_bwd().min_positive(), std::ldexp(1.0, -16));
  // fp9 1-5-3 bias 15: max 1.875 * 2^15 = 61440, smallest 2^-17.
  EXPECT_EQ(fp9().max_finite(), 61440.0);
  EXPECT_EQ(fp9().min_positive(), std::ldexp(1.0, -17));
}

TEST(Minifloat, OverflowAndSpecials) {
  // FP16: 65504 + half ulp (16) = 65520 is a tie between 65504 (odd) and 2^16 (even) -> inf.
  EXPECT_EQ(fp16().encode(65519.99), 0x7BFFu);
  EXPECT_EQ(fp16().encode(65520.0), 0x7C00u);
  EXPECT_EQ(fp16().encode(-1e10), 0xFC00u);
  EXPECT_TRUE(fp16().is_inf(0x7C00u));
  EXPECT_TRUE(fp16().is_nan(0x7C01u));
  EXPECT_EQ(fp16().encode(std::numeric_limits<double>::quiet_NaN()), 0x7E00u);
  // HFP8 forward saturates and has no NaN: NaN input is a data error.
  EXPECT_EQ(hfp8_fwd().encode(1000.0), 0x7Fu);
  EXPECT_EQ(hfp8_fwd().encode(-std::numeric_limits<double>::infinity()), 0xFFu);
  EXPECT_THROW(hfp8_fwd().encode(std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
  // Below the smallest 1.125 * 2^-11 there is only zero: the midpoint 0.5625 * 2^-11 ties to 0.
  EXPECT_EQ(hfp8_fwd().encode(0.5625 * std::ldexp(1.0, -11)), 0x00u);
  EXPECT_EQ(hfp8_fwd().encode(std::ldexp(1.0, -11)), 0x01u);  // nearer 1.125 than 0
  // DLFloat16: one NaN/inf code per sign; overflow goes there.
  EXPECT_EQ(dlfloat16().encode(1e30), 0x7FFFu);
  EXPECT_TRUE(dlfloat16().is_nan(0xFFFFu));
  EXPECT_FALSE(dlfloat16().is_inf(0x7FFFu));
  // Zeros keep their sign.
  EXPECT_EQ(fp16().encode(-0.0), 0x8000u);
  EXPECT_EQ(hfp8_bwd().encode(-0.0), 0x80u);
}

TEST(Minifloat, Fp16MatchesCompilerFloat16Exhaustively) {
  for (uint32_t code = 0; code < 65536; ++code) {
    const uint16_t bits = static_cast<uint16_t>(code);
    _Float16 h;
    std::memcpy(&h, &bits, sizeof h);
    const double ref = static_cast<double>(h);
    const double v = fp16().decode(code);
    if (std::isnan(ref)) {
      ASSERT_TRUE(std::isnan(v));
    } else {
      ASSERT_EQ(v, ref) << code;
      ASSERT_EQ(std::signbit(v), std::signbit(ref));
    }
  }
}

TEST(Minifloat, Fp16EncodeMatchesCompilerAndFastPath) {
  // Random doubles over the whole FP16 range and beyond, plus every midpoint and its neighbours.
  SplitMix64 rng(42);
  std::vector<double> xs;
  for (int i = 0; i < 200000; ++i) {
    const uint64_t r = rng.next();
    const double mant = 1.0 + static_cast<double>(r >> 12) * 0x1p-52;
    const int e = static_cast<int>(r % 50) - 30;  // 2^-30 .. 2^19
    xs.push_back(((r >> 11) & 1) != 0 ? -std::ldexp(mant, e) : std::ldexp(mant, e));
  }
  for (uint32_t c = 0; c < 0x7BFF; ++c) {
    const double mid = 0.5 * (fp16().decode(c) + fp16().decode(c + 1));
    xs.push_back(mid);
    xs.push_back(std::nextafter(mid, 0.0));
    xs.push_back(-std::nextafter(mid, 1e9));
  }
  for (const double x : xs) {
    const _Float16 h = static_cast<_Float16>(x);
    uint16_t bits = 0;
    std::memcpy(&bits, &h, sizeof bits);
    ASSERT_EQ(fp16().encode(x), bits) << x;
    ASSERT_EQ(round_to_fp16(x), static_cast<double>(h)) << x;
  }
  EXPECT_TRUE(std::isnan(round_to_fp16(std::numeric_limits<double>::quiet_NaN())));
  EXPECT_EQ(round_to_fp16(-0.0), 0.0);
  EXPECT_TRUE(std::signbit(round_to_fp16(-0.0)));
  // Halving: exact down to 2^-13, then subnormal rounding (3 * 2^-24 / 2 = 1.5 * 2^-24 -> 2^-23).
  EXPECT_EQ(fp16_halve(std::ldexp(1.0, -13)), std::ldexp(1.0, -14));
  EXPECT_EQ(fp16_halve(3 * std::ldexp(1.0, -24)), std::ldexp(1.0, -23));
}

TEST(Minifloat, Fp32MatchesFloatCast) {
  SplitMix64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    const uint64_t r = rng.next();
    double x = 0.0;
    if (i % 2 == 0) {
      // Arbitrary double bit patterns in the float range (incl. subnormals and overflow).
      const double mant = 1.0 + static_cast<double>(r >> 12) * 0x1p-52;
      x = std::ldexp(mant, static_cast<int>(r % 300) - 160);
    } else {
      // Every float32 bit pattern family: decode must equal the float it names.
      const uint32_t bits = static_cast<uint32_t>(r >> 32);
      float f = 0.0f;
      std::memcpy(&f, &bits, sizeof f);
      const double v = fp32().decode(bits);
      if (std::isnan(f)) {
        ASSERT_TRUE(std::isnan(v));
        continue;
      }
      ASSERT_EQ(v, static_cast<double>(f));
      x = static_cast<double>(f);
    }
    const float f = static_cast<float>(x);
    uint32_t bits = 0;
    std::memcpy(&bits, &f, sizeof bits);
    ASSERT_EQ(fp32().encode(x), bits) << x;
  }
}

TEST(Minifloat, Hfp8WidensToFp9Exactly) {
  for (const Minifloat* f : {&hfp8_fwd(), &hfp8_bwd()}) {
    for (uint32_t code = 0; code < 256; ++code) {
      const double v = f->decode(code);
      const double w = fp9().decode(fp9().encode(v));
      if (std::isnan(v)) {
        ASSERT_TRUE(std::isnan(w));
      } else {
        ASSERT_EQ(w, v) << f->spec().name << " " << code;
      }
    }
  }
}

TEST(Minifloat, StochasticRoundingIsSeededAndUnbiased) {
  // 1 + 2^-12 lies a quarter of the way from 1 to 1 + 2^-10 (FP16 ulp at 1 is 2^-10).
  const double x = 1.0 + std::ldexp(1.0, -12);
  SplitMix64 rng(123);
  SplitMix64 again(123);
  int up = 0;
  constexpr int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t r = rng.next();
    const uint32_t code = fp16().encode_stochastic(x, r);
    ASSERT_EQ(code, fp16().encode_stochastic(x, again.next()));
    ASSERT_TRUE(code == 0x3C00u || code == 0x3C01u);
    up += code == 0x3C01u ? 1 : 0;
  }
  // Expected 5000 ups; the seed fixes the count, so this bound is not flaky.
  EXPECT_NEAR(up, kDraws / 4, 300);
  // Representable values never move. Rounding goes up when the random draw, read as a fraction
  // of the gap, is below the distance to the lower neighbour: draw 0 rounds up, all-ones down.
  EXPECT_EQ(fp16().encode_stochastic(1.5, 0), fp16().encode(1.5));
  EXPECT_EQ(fp16().encode_stochastic(x, 0), 0x3C01u);
  EXPECT_EQ(fp16().encode_stochastic(x, ~uint64_t{0}), 0x3C00u);
  // Without subnormals the zero gap is stochastic too: a quarter of min_positive.
  const double q = 0.25 * hfp8_fwd().min_positive();
  EXPECT_EQ(hfp8_fwd().encode_stochastic(q, 0), 0x01u);
  EXPECT_EQ(hfp8_fwd().encode_stochastic(q, ~uint64_t{0}), 0x00u);
}

TEST(Minifloat, RejectsBadSpecs) {
  EXPECT_THROW(Minifloat({"x", 9, 3, 15, true, Specials::kIeee, OnOverflow::kSpecial}),
               std::invalid_argument);
  EXPECT_THROW(Minifloat({"x", 4, 24, 7, true, Specials::kIeee, OnOverflow::kSpecial}),
               std::invalid_argument);
  EXPECT_THROW(Minifloat({"x", 4, 3, 7, true, Specials::kNone, OnOverflow::kSpecial}),
               std::invalid_argument);
  EXPECT_THROW(Minifloat({"x", 3, 0, 3, true, Specials::kIeee, OnOverflow::kSpecial}),
               std::invalid_argument);
}

}  // namespace
}  // namespace nibble::numerics
