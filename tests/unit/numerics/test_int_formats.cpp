#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "models/numerics/int_formats.h"
#include "models/numerics/prng.h"

namespace nibble::numerics {
namespace {

TEST(IntFormat, Ranges) {
  EXPECT_EQ(kInt4.min(), -8);
  EXPECT_EQ(kInt4.max(), 7);
  EXPECT_EQ(kUint4.min(), 0);
  EXPECT_EQ(kUint4.max(), 15);
  EXPECT_EQ(kInt2.min(), -2);
  EXPECT_EQ(kInt2.max(), 1);
  EXPECT_THROW((IntFormat{1, true}.validate()), std::invalid_argument);
  EXPECT_THROW((IntFormat{33, false}.validate()), std::invalid_argument);
}

TEST(IntFormat, RoundHalfEvenAtTheEdgesOfItsIntegerPath) {
  // Below 2^52 it truncates to int64; from 2^52 doubles are integers and come back unchanged.
  EXPECT_EQ(round_half_even(0x1p52 - 0.5), 0x1p52);        // tie: 2^52 - 1 is odd, 2^52 even
  EXPECT_EQ(round_half_even(0x1p52 - 1.5), 0x1p52 - 2.0);  // tie: 2^52 - 2 is the even one
  EXPECT_EQ(round_half_even(-(0x1p52 - 0.5)), -0x1p52);
  EXPECT_EQ(round_half_even(0x1p53 + 2.0), 0x1p53 + 2.0);
  EXPECT_EQ(round_half_even(-1e300), -1e300);
  EXPECT_EQ(round_half_even(-0.5), 0.0);
  EXPECT_EQ(round_half_even(-1.5), -2.0);
  EXPECT_EQ(round_half_even(-0.7), -1.0);
  EXPECT_TRUE(std::signbit(round_half_even(-0.0)));   // zeros keep their sign
  EXPECT_FALSE(std::signbit(round_half_even(-0.3)));  // -1 + 1 = +0, as floor(x) + 1 gives
  EXPECT_TRUE(std::isnan(round_half_even(std::nan(""))));
  EXPECT_EQ(round_half_even(-std::numeric_limits<double>::infinity()),
            -std::numeric_limits<double>::infinity());
  // Against the FPU's own round-to-nearest-even (std::nearbyint in the default mode) on values
  // of every magnitude from 2^-4 to 2^60 and every sign, ties included (multiples of 0.5).
  SplitMix64 rng(9);
  for (int i = 0; i < 20000; ++i) {
    const double mant = static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
    double x = std::ldexp(mant, static_cast<int>(rng.next() % 65) - 4);
    if (i % 4 == 0) x = std::ldexp(std::floor(x), -1);  // a multiple of 0.5
    if (i % 2 == 1) x = -x;
    EXPECT_EQ(round_half_even(x), std::nearbyint(x)) << x;
  }
}

TEST(IntFormat, RoundHalfEvenAndSaturate) {
  EXPECT_EQ(round_half_even(2.5), 2.0);
  EXPECT_EQ(round_half_even(3.5), 4.0);
  EXPECT_EQ(round_half_even(-2.5), -2.0);
  EXPECT_EQ(round_half_even(-3.5), -4.0);
  EXPECT_EQ(round_half_even(2.4999999), 2.0);
  bool sat = false;
  EXPECT_EQ(to_int(7.4, kInt4, &sat), 7);
  EXPECT_FALSE(sat);
  EXPECT_EQ(to_int(7.6, kInt4, &sat), 7);  // rounds to 8, clipped to 7
  EXPECT_TRUE(sat);
  EXPECT_EQ(to_int(-8.5, kInt4, &sat), -8);  // half-even -> -8, in range
  EXPECT_FALSE(sat);
  EXPECT_EQ(to_int(-9.0, kInt4, &sat), -8);
  EXPECT_TRUE(sat);
  EXPECT_EQ(to_int(15.5, kUint4, &sat), 15);  // -> 16, clipped
  EXPECT_TRUE(sat);
  EXPECT_EQ(to_int(-0.4, kUint4), 0);
  EXPECT_EQ(to_int(0.5, kInt2), 0);
  EXPECT_EQ(to_int(1.5, kInt2), 1);  // -> 2, clipped
  EXPECT_EQ(to_int(-1e300, kInt2), -2);
  EXPECT_EQ(to_int(std::numeric_limits<double>::infinity(), kInt4), 7);
  EXPECT_THROW(to_int(std::nan(""), kInt4), std::invalid_argument);
  EXPECT_EQ(saturate_int(100, kInt4, &sat), 7);
  EXPECT_TRUE(sat);
  EXPECT_EQ(saturate_int(-3, kInt4, &sat), -3);
  EXPECT_FALSE(sat);
}

TEST(IntAccumulator, ExhaustiveSmallWidths) {
  // Every (start, addend) pair for 4- and 5-bit registers against modular arithmetic.
  for (const int w : {4, 5}) {
    const int64_t lo = -(int64_t{1} << (w - 1));
    const int64_t hi = (int64_t{1} << (w - 1)) - 1;
    const int64_t mod = int64_t{1} << w;
    for (int64_t start = lo; start <= hi; ++start) {
      for (int64_t v = -40; v <= 40; ++v) {
        for (const OverflowMode mode : {OverflowMode::kWrap, OverflowMode::kSaturate}) {
          IntAccumulator acc(w, mode);
          acc.add(start);
          ASSERT_EQ(acc.overflow_count(), 0u);
          acc.add(v);
          const int64_t exact = start + v;
          const bool over = exact < lo || exact > hi;
          int64_t expect = exact;
          if (mode == OverflowMode::kSaturate) {
            expect = exact < lo ? lo : (exact > hi ? hi : exact);
          } else {
            expect = ((exact - lo) % mod + mod) % mod + lo;
          }
          ASSERT_EQ(acc.value(), expect) << w << " " << start << " " << v;
          ASSERT_EQ(acc.overflow_count(), over ? 1u : 0u);
        }
      }
    }
  }
}

TEST(IntAccumulator, SixtyFourBits) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  IntAccumulator wrap(64, OverflowMode::kWrap);
  wrap.add(kMax);
  wrap.add(1);  // 2^63 wraps to -2^63
  EXPECT_EQ(wrap.value(), kMin);
  EXPECT_EQ(wrap.overflow_count(), 1u);
  IntAccumulator sat(64, OverflowMode::kSaturate);
  sat.add(kMin);
  sat.add(-5);
  EXPECT_EQ(sat.value(), kMin);
  sat.add(kMax);  // -2^63 + 2^63 - 1 = -1
  EXPECT_EQ(sat.value(), -1);
  EXPECT_EQ(sat.overflow_count(), 1u);
  // Width 8: 127 + 1 -> -128 (wrap) or 127 (saturate).
  IntAccumulator w8(8, OverflowMode::kWrap);
  w8.add(127);
  w8.add(1);
  EXPECT_EQ(w8.value(), -128);
  w8.reset();
  EXPECT_EQ(w8.value(), 0);
  EXPECT_EQ(w8.overflow_count(), 1u);  // reset keeps the count
  EXPECT_THROW(IntAccumulator(1, OverflowMode::kWrap), std::invalid_argument);
  EXPECT_THROW(IntAccumulator(65, OverflowMode::kWrap), std::invalid_argument);
}

}  // namespace
}  // namespace nibble::numerics
