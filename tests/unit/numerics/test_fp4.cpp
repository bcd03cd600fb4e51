#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "models/numerics/fp4.h"
#include "models/numerics/prng.h"

namespace nibble::numerics {
namespace {

float prev_float(float x) { return std::nextafter(x, 0.0f); }

TEST(Fp4, DecodesAll16Codes) {
  // Field e = 1..7 is 4^(e-4): 1/64, 1/16, 1/4, 1, 4, 16, 64; bit 3 is the sign; e = 0 is +-0.
  const float expected[8] = {0.0f, 1.0f / 64, 1.0f / 16, 0.25f, 1.0f, 4.0f, 16.0f, 64.0f};
  for (uint8_t code = 0; code < 16; ++code) {
    const float mag = expected[code & 7];
    const float v = fp4_decode(code);
    EXPECT_EQ(v, (code & 8) != 0 ? -mag : mag) << int{code};
    EXPECT_EQ(std::signbit(v), (code & 8) != 0) << int{code};
    // Odd phase is exactly half: 2^-7 .. 2^5.
    EXPECT_EQ(fp4_decode(code, Fp4Phase::kOdd), 0.5f * v);
  }
  EXPECT_THROW(fp4_decode(16), std::out_of_range);
}

TEST(Fp4, EveryLevelEncodesToItsOwnCode) {
  // A level 4^n times 1.6 stays in [4^n, 4^(n+1)), so floor(log4) returns n.
  for (uint8_t code = 0; code < 16; ++code) {
    EXPECT_EQ(fp4_encode(fp4_decode(code)), code) << int{code};
  }
}

TEST(Fp4, ThresholdsAreTheMidpointsExactly) {
  // The arithmetic midpoint of 4^(n-1) and 4^n is 4^n / 1.6 = 5 * 2^(2n-3), exact in float32.
  // At it, x * 1.6f = 4^n * (1 + 1.5e-8) rounds to exactly 4^n, so the level is 4^n (as with
  // the procedure of Fig. 2(c) in exact arithmetic); one float below, the product rounds to
  // just under 4^n (e.g. 0.62499994 * 1.6f = 0.99999994) and the level is 4^(n-1).
  for (int n = -3; n <= 3; ++n) {
    const float t = std::ldexp(5.0f, 2 * n - 3);
    const float level = std::ldexp(1.0f, 2 * n);
    EXPECT_EQ(fp4_decode(fp4_encode(t)), level) << n;
    EXPECT_EQ(fp4_decode(fp4_encode(-t)), -level) << n;
    const float below = n == -3 ? 0.0f : std::ldexp(1.0f, 2 * n - 2);
    EXPECT_EQ(fp4_decode(fp4_encode(prev_float(t))), below) << n;
    // One float above the midpoint is on the upper side too.
    EXPECT_EQ(fp4_decode(fp4_encode(std::nextafter(t, 1e30f))), level) << n;
  }
}

TEST(Fp4, OddPhaseThresholds) {
  // Odd levels 2^(2n-1); the midpoint below each is 2^(2n-1) / 1.6 = 5 * 2^(2n-4).
  for (int n = -3; n <= 3; ++n) {
    const float t = std::ldexp(5.0f, 2 * n - 4);
    const float level = std::ldexp(1.0f, 2 * n - 1);
    EXPECT_EQ(fp4_decode(fp4_encode_tpr(t).odd, Fp4Phase::kOdd), level) << n;
    const float below = n == -3 ? 0.0f : std::ldexp(1.0f, 2 * n - 3);
    EXPECT_EQ(fp4_decode(fp4_encode_tpr(prev_float(t)).odd, Fp4Phase::kOdd), below) << n;
    EXPECT_EQ(fp4_decode(fp4_encode_tpr(std::nextafter(t, 1e30f)).odd, Fp4Phase::kOdd), level) << n;
  }
}

TEST(Fp4, FlushAndSaturateCounts) {
  Fp4Counts c;
  // 4^-3 / 1.6 = 0.009765625 is the smallest input kept (-> 1/64); below it flushes.
  EXPECT_EQ(fp4_encode(0.009765625f, &c), 1);
  EXPECT_EQ(c.flushed, 0u);
  EXPECT_EQ(fp4_encode(prev_float(0.009765625f), &c), 0);
  EXPECT_EQ(fp4_encode(-1e-30f, &c), 8);  // -0
  EXPECT_EQ(fp4_encode(1e-45f, &c), 0);   // float32 subnormal input
  EXPECT_EQ(c.flushed, 3u);
  EXPECT_EQ(fp4_encode(0.0f, &c), 0);  // an exact zero is not a flush
  EXPECT_EQ(c.flushed, 3u);
  // 40 * 1.6 = 64 -> top level by ordinary rounding, not counted; 4^4 / 1.6 = 160 is where the
  // unbounded grid would give 256, so from there on the result is clipped and counted.
  EXPECT_EQ(fp4_encode(40.0f, &c), 7);
  EXPECT_EQ(fp4_encode(prev_float(160.0f), &c), 7);
  EXPECT_EQ(c.saturated, 0u);
  EXPECT_EQ(fp4_encode(160.0f, &c), 7);
  EXPECT_EQ(fp4_encode(-1e30f, &c), 15);
  EXPECT_EQ(fp4_encode(std::numeric_limits<float>::infinity(), &c), 7);
  EXPECT_EQ(fp4_encode(std::numeric_limits<float>::max(), &c), 7);  // y overflows to inf
  EXPECT_EQ(c.saturated, 4u);
  EXPECT_EQ(fp4_encode(std::numeric_limits<float>::quiet_NaN(), &c), 0);
  EXPECT_EQ(c.nan, 1u);
}

TEST(Fp4, MatchesLogReferenceOnASweep) {
  // Independent reference with std::log2 (exact on powers of two in glibc) over ~2.4M floats
  // spanning 2^-12 .. 2^12, both signs.
  int checked = 0;
  for (float x = std::ldexp(1.0f, -12); x < 4096.0f; x = std::nextafter(x, 1e9f) + x * 1e-5f) {
    for (const float s : {x, -x}) {
      const float y = std::fabs(s * 1.6f);
      const int ebit = static_cast<int>(std::floor(std::log2(y) / 2.0));
      float expect = 0.0f;
      if (ebit >= 3) {
        expect = 64.0f;
      } else if (ebit >= -3) {
        expect = std::ldexp(1.0f, 2 * ebit);
      }
      ASSERT_EQ(fp4_decode(fp4_encode(s)), std::copysign(expect, s)) << s;
      ++checked;
    }
  }
  EXPECT_GT(checked, 100000);
}

TEST(Fp4, OddPhaseIsEvenConversionOfTwiceTheInput) {
  // The hardware derivation: odd code(x) == even code(2x); value = 0.5 * even value.
  for (float x = 1e-4f; x < 500.0f; x *= 1.0009f) {
    for (const float s : {x, -x}) {
      const TprCodes t = fp4_encode_tpr(s);
      ASSERT_EQ(t.even, fp4_encode(s));
      ASSERT_EQ(t.odd, fp4_encode(2.0f * s)) << s;
    }
  }
}

TEST(Fp4, TprTensorWithScale) {
  // Scale 2^3: 0.5 -> 4; even: 4 * 1.6 = 6.4 in [4, 16) -> 4^1.
  const std::vector<float> g = {0.5f, -0.001f, 30.0f};
  std::vector<uint8_t> even(3), odd(3);
  const TprTensorCounts c = fp4_quantize_tpr(g.data(), g.size(), 3, even.data(), odd.data());
  EXPECT_EQ(fp4_decode(even[0]), 4.0f);
  // Odd: the even conversion of 2 * 4 = 8 is 4^1 (12.8 in [4, 16)), halved: 2. The odd levels
  // around 4 are 2 and 8 and the 1.6 rule puts the boundary at 8 / 1.6 = 5 > 4.
  EXPECT_EQ(fp4_decode(odd[0], Fp4Phase::kOdd), 2.0f);
  EXPECT_EQ(fp4_decode(even[1]), -0.0f);  // -0.008 * 1.6 = -0.0128 < 1/64 -> flush
  EXPECT_EQ(c.even.flushed, 1u);
  // Odd: 2 * -0.008 * 1.6 = -0.0256 >= 1/64 -> n' = -3 -> -0.5 * 4^-3 = -2^-7, not flushed.
  EXPECT_EQ(fp4_decode(odd[1], Fp4Phase::kOdd), -std::ldexp(1.0f, -7));
  EXPECT_EQ(c.odd.flushed, 0u);
  EXPECT_EQ(fp4_decode(even[2]), 64.0f);  // 240 >= 160 -> clipped
  EXPECT_EQ(c.even.saturated, 1u);
  EXPECT_EQ(c.odd.saturated, 1u);  // odd clips from 2^5 * 2.5 = 80
}

TEST(Fp4Radix2, DecodeThresholdsAndCounts) {
  for (uint8_t code = 0; code < 16; ++code) {
    const int e = code & 7;
    const float mag = e == 0 ? 0.0f : std::ldexp(1.0f, e - 1);  // 1, 2, 4, .., 64
    EXPECT_EQ(fp4_radix2_decode(code), (code & 8) != 0 ? -mag : mag);
    EXPECT_EQ(fp4_radix2_encode(fp4_radix2_decode(code)), code);
  }
  Fp4Counts c;
  // Midpoint between 2^(n-1) and 2^n is 0.75 * 2^n; ties go up.
  EXPECT_EQ(fp4_radix2_decode(fp4_radix2_encode(3.0f)), 4.0f);
  EXPECT_EQ(fp4_radix2_decode(fp4_radix2_encode(prev_float(3.0f))), 2.0f);
  EXPECT_EQ(fp4_radix2_decode(fp4_radix2_encode(0.75f, &c)), 1.0f);
  EXPECT_EQ(fp4_radix2_encode(prev_float(0.75f), &c), 0);
  EXPECT_EQ(c.flushed, 1u);
  EXPECT_EQ(fp4_radix2_encode(prev_float(96.0f), &c), 7);  // 0.75 * 128 = 96
  EXPECT_EQ(c.saturated, 0u);
  EXPECT_EQ(fp4_radix2_encode(-96.0f, &c), 15);
  EXPECT_EQ(c.saturated, 1u);
  EXPECT_THROW(fp4_radix2_decode(16), std::out_of_range);
}

TEST(GradScale, VotesAtTheBinEdges) {
  EXPECT_EQ(GradScale::vote(0.0), 1);
  EXPECT_EQ(GradScale::vote(32.0), 1);  // [0, MAX/2] underflow
  EXPECT_EQ(GradScale::vote(std::nextafter(32.0, 100.0)), 0);
  EXPECT_EQ(GradScale::vote(64.0), 0);  // (MAX/2, MAX]
  EXPECT_EQ(GradScale::vote(std::nextafter(64.0, 100.0)), -1);
  EXPECT_EQ(GradScale::vote(std::numeric_limits<double>::quiet_NaN()), -1);
  EXPECT_EQ(GradScale::vote(std::numeric_limits<double>::infinity()), -1);
}

TEST(GradScale, AppliesSummedVotes) {
  GradScale gs(12, 10, 13);
  EXPECT_EQ(gs.scale(), 4096.0);
  const std::vector<float> g = {0.01f, -0.009f};  // max 0.01 * 4096 = 40.96 in (32, 64]
  EXPECT_EQ(gs.vote_for(g.data(), g.size()), 0);
  gs.apply_votes(+1 + 1 - 1);  // sum 1 > 0: x2
  EXPECT_EQ(gs.log2_scale(), 13);
  EXPECT_EQ(gs.vote_for(g.data(), g.size()), -1);  // 81.92 > 64
  // With one binade of headroom the target is (16, 32]: 0.01 * 2^(13 + 1) = 163.84 > 64 votes
  // -1 too; at scale 2^11, 0.01 * 2^12 = 40.96 holds, where no headroom (20.48) would vote +1.
  EXPECT_EQ(gs.vote_for(g.data(), g.size(), 1), -1);
  EXPECT_EQ(GradScale(11).vote_for(g.data(), g.size(), 1), 0);
  EXPECT_EQ(GradScale(11).vote_for(g.data(), g.size()), +1);
  gs.apply_votes(5);  // clamped at max_log2 13
  EXPECT_EQ(gs.log2_scale(), 13);
  gs.apply_votes(0);  // hold
  EXPECT_EQ(gs.log2_scale(), 13);
  gs.apply_votes(-2);  // x0.5
  gs.apply_votes(-2);
  gs.apply_votes(-2);  // clamped at min_log2 10
  EXPECT_EQ(gs.log2_scale(), 10);
  EXPECT_THROW(GradScale(5, 6, 7), std::invalid_argument);
}

// Symmetric gradient-like data: sign uniform, log2|x| uniform over the FP4 range (−6..6), drawn
// from a fixed seed so the test is deterministic.
std::vector<float> symmetric_sample(size_t n) {
  SplitMix64 rng(2020);
  std::vector<float> x(n);
  for (float& v : x) {
    const uint64_t r = rng.next();
    const double u = static_cast<double>(r >> 11) * 0x1.0p-53;  // [0, 1)
    v = static_cast<float>(std::exp2(-6.0 + 12.0 * u) * ((r & 1) != 0 ? -1.0 : 1.0));
  }
  return x;
}

TEST(Fp4Tpr, MeanOfTheTwoPhasesIsCloserThanEitherPhase) {
  // The paper's argument (Sec. 3.3, Fig. 4(a)): where the two phases round in opposite
  // directions their errors cancel, so their mean tracks the input better than either phase.
  const std::vector<float> x = symmetric_sample(100000);
  double se_even = 0, se_odd = 0, se_mean = 0;
  for (float v : x) {
    const TprCodes c = fp4_encode_tpr(v);
    const double e = fp4_decode(c.even, Fp4Phase::kEven), o = fp4_decode(c.odd, Fp4Phase::kOdd);
    se_even += (e - v) * (e - v);
    se_odd += (o - v) * (o - v);
    se_mean += (0.5 * (e + o) - v) * (0.5 * (e + o) - v);
  }
  EXPECT_LT(se_mean, se_even);
  EXPECT_LT(se_mean, se_odd);
}

TEST(GradScale, ConvergesToPutTheMaxInTheTopBin) {
  // From scales far too small and far too large, repeated votes of one worker (and of four
  // identical workers) drive max|g·scale| into (32, 64] and then hold it there.
  const std::vector<float> g = {3.0e-5f, -1.7e-4f, 2.2e-6f, 9.1e-5f};  // max |g| = 1.7e-4
  for (const int start : {-20, 0, 40}) {
    for (const int workers : {1, 4}) {
      GradScale s(start);
      for (int step = 0; step < 100; ++step)
        s.apply_votes(workers * s.vote_for(g.data(), g.size()));
      const double top = 1.7e-4 * s.scale();
      EXPECT_GT(top, 32.0) << start;
      EXPECT_LE(top, 64.0) << start;
      // 1.7e-4 · 2^18 = 44.6 is the only power of two that lands in (32, 64].
      EXPECT_EQ(s.log2_scale(), 18);
      EXPECT_EQ(s.vote_for(g.data(), g.size()), 0);
    }
  }
}

}  // namespace
}  // namespace nibble::numerics
