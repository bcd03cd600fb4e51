#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "models/numerics/mac.h"

namespace nibble::numerics {
namespace {

TEST(ShiftMac, AllInt4TimesFp4PairsAreExact) {
  // 16 x 16 pairs: the shifter's fixed-point result equals a * value(code) * 2^6.
  for (int a = -8; a <= 7; ++a) {
    for (int code = 0; code < 16; ++code) {
      const uint8_t c = static_cast<uint8_t>(code);
      const double exact = a * static_cast<double>(fp4_decode(c));
      EXPECT_EQ(shift_mul_int4_fp4(a, c), static_cast<int32_t>(exact * 64)) << a << " " << code;
      EXPECT_EQ(shift_mul_value(a, c), exact);
    }
  }
  // Extremes: -8 * 64 = -512 -> -512 * 2^6 = -32768; 7 * 2^-6 -> 7 (LSB of the fixed point).
  EXPECT_EQ(shift_mul_int4_fp4(-8, 7), -32768);
  EXPECT_EQ(shift_mul_int4_fp4(7, 1), 7);
  EXPECT_EQ(shift_mul_int4_fp4(-8, 15), 32768);  // sign bit negates: -8 * -64 = 512
}

TEST(MacInt, SumsProductsIntoTheRegister) {
  const std::vector<int8_t> a = {7, -8, 3, 7};
  const std::vector<int8_t> b = {7, -8, -2, 7};
  IntAccumulator wide(32, OverflowMode::kWrap);
  mac_int(a.data(), b.data(), a.size(), wide);
  EXPECT_EQ(wide.value(), 49 + 64 - 6 + 49);  // 156
  IntAccumulator narrow(8, OverflowMode::kSaturate);
  mac_int(a.data(), b.data(), a.size(), narrow);
  // 49, 113, 107, then 156 > 127 -> 127, one overflow.
  EXPECT_EQ(narrow.value(), 127);
  EXPECT_EQ(narrow.overflow_count(), 1u);
}

TEST(MacInt, AllInt4ProductsExhaustively) {
  // Every one of the 16×16 INT4 pairs: one MAC into a fresh 8-bit register gives a·b exactly
  // (|a·b| ≤ 64 fits −128..127), with no overflow.
  for (int a = -8; a <= 7; ++a) {
    for (int b = -8; b <= 7; ++b) {
      const int8_t av = static_cast<int8_t>(a), bv = static_cast<int8_t>(b);
      IntAccumulator acc(8, OverflowMode::kWrap);
      mac_int(&av, &bv, 1, acc);
      EXPECT_EQ(acc.value(), a * b) << a << " x " << b;
      EXPECT_EQ(acc.overflow_count(), 0u);
    }
  }
}

double sum_ones(int64_t count, const Fp16AccumParams& p) {
  Fp16Accumulator acc(p);
  for (int64_t i = 0; i < count; ++i) acc.add(1.0);
  return acc.finish();
}

TEST(Fp16Accumulator, ChunkingRescuesSwampedSums) {
  // Without chunks, 2048 + 1 = 2049 is a tie between 2048 and 2050 (ulp 2) and goes to the even
  // 2048, so 4096 ones sum to 2048. With chunks of 64 each chunk is exactly 64 and the 64 chunk
  // sums are multiples of 64 up to 4096, all exact in FP16.
  EXPECT_EQ(sum_ones(4096, {0, false, 1}), 2048.0);
  EXPECT_EQ(sum_ones(4096, {64, false, 1}), 4096.0);
  EXPECT_EQ(sum_ones(4096, {4096, false, 1}), 2048.0);  // one chunk == no chunking
  // A partial last chunk: 100 ones in chunks of 64 -> 64 + 36 = 100.
  EXPECT_EQ(sum_ones(100, {64, false, 1}), 100.0);
  // Chunk length 1: every term is its own chunk, the same as no chunking.
  EXPECT_EQ(sum_ones(4096, {1, false, 1}), 2048.0);
  EXPECT_THROW(Fp16Accumulator({-1, false, 1}), std::invalid_argument);
}

TEST(Fp16Accumulator, ZeroAndEmpty) {
  Fp16Accumulator acc({0, false, 1});
  EXPECT_EQ(acc.finish(), 0.0);
  acc.reset();
  acc.add(-0.0);
  // The register starts at +0 and +0 + -0 = +0 under round-to-nearest, as in an IEEE adder.
  EXPECT_FALSE(std::signbit(acc.finish()));
}

TEST(Fp16Accumulator, StochasticIsDeterministicPerSeedAndUnbiased) {
  const Fp16AccumParams p{0, true, 99};
  const double a = sum_ones(4096, p);
  EXPECT_EQ(a, sum_ones(4096, p));
  // Stochastic rounding keeps the expected sum: above 2048 each +1 lands on 2k or 2k + 2 with
  // probability 1/2, so the sum stays near 4096 instead of sticking at 2048.
  EXPECT_GT(a, 3700.0);
  EXPECT_LT(a, 4500.0);
  Fp16Accumulator s1(p, 1), s2(p, 2);
  for (int i = 0; i < 4096; ++i) {
    s1.add(1.0);
    s2.add(1.0);
  }
  EXPECT_NE(s1.finish(), s2.finish());  // different streams draw different numbers
}

}  // namespace
}  // namespace nibble::numerics
