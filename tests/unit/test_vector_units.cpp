// The rescaling unit's and the SFU's closed-form timing, and the rescaling unit's arithmetic, on
// small cases worked by hand: every expected number has its arithmetic beside it.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "models/numerics/fp4.h"
#include "models/rescale/rescale_math.h"
#include "models/rescale/rescale_timing.h"
#include "models/sfu/sfu_timing.h"

namespace nibble {
namespace {

// ---- Rescaling unit timing ----

TEST(RescaleTiming, TreeDepthIsCeilLog2) {
  EXPECT_EQ(rescale_tree_depth(1), 0u);  // one lane: no tree
  EXPECT_EQ(rescale_tree_depth(2), 1u);
  EXPECT_EQ(rescale_tree_depth(3), 2u);  // 2 < 3 <= 4
  EXPECT_EQ(rescale_tree_depth(4), 2u);
  EXPECT_EQ(rescale_tree_depth(5), 3u);   // 4 < 5 <= 8
  EXPECT_EQ(rescale_tree_depth(48), 6u);  // 32 < 48 <= 64
  EXPECT_EQ(rescale_tree_depth(64), 6u);
  EXPECT_EQ(rescale_tree_depth(65), 7u);  // 64 < 65 <= 128
  EXPECT_EQ(rescale_tree_depth(65536), 16u);
}

TEST(RescaleTiming, IntegerTargets) {
  // E = 1000, 64 lanes, P = 4: G = ceil(1000/64) = 16 (15·64 = 960 < 1000 <= 1024);
  // cycles G + P − 1 = 16 + 4 − 1 = 19; peak occupancy min(16, 4) = 4.
  RescaleTiming t = rescale_timing(1000, 64, 4, false);
  EXPECT_EQ(t.groups, 16u);
  EXPECT_EQ(t.stages, 4u);
  EXPECT_EQ(t.cycles, 19u);
  EXPECT_EQ(t.peak_occupancy, 4u);
  // E = 64: one full group; 1 + 4 − 1 = 4 cycles, one stage ever busy.
  t = rescale_timing(64, 64, 4, false);
  EXPECT_EQ(t.groups, 1u);
  EXPECT_EQ(t.cycles, 4u);
  EXPECT_EQ(t.peak_occupancy, 1u);
  // E = 65: G = 2 (64 + 1); 2 + 4 − 1 = 5.
  EXPECT_EQ(rescale_timing(65, 64, 4, false).cycles, 5u);
  // E = 63: G = 1; 4.
  EXPECT_EQ(rescale_timing(63, 64, 4, false).cycles, 4u);
  // One lane, P = 1: one element a cycle, no fill: G = 7, 7 + 1 − 1 = 7.
  EXPECT_EQ(rescale_timing(7, 1, 1, false).cycles, 7u);
  // No elements: no cycles, no groups.
  EXPECT_EQ(rescale_timing(0, 64, 4, false).cycles, 0u);
  EXPECT_EQ(rescale_timing(0, 64, 4, true).cycles, 0u);
  static_assert(rescale_timing(1000, 64, 4, false).cycles == 19, "usable at compile time");
}

TEST(RescaleTiming, Fp4AddsTheVoteReductionTree) {
  // E = 1000, 64 lanes, P = 4, fp4: tree T = ceil(log2 64) = 6, stages 4 + 6 = 10;
  // cycles 16 + 10 − 1 = 25; peak min(16, 10) = 10.
  RescaleTiming t = rescale_timing(1000, 64, 4, true);
  EXPECT_EQ(t.stages, 10u);
  EXPECT_EQ(t.cycles, 25u);
  EXPECT_EQ(t.peak_occupancy, 10u);
  // E = 64: 1 + 10 − 1 = 10.
  EXPECT_EQ(rescale_timing(64, 64, 4, true).cycles, 10u);
  // 48 lanes, P = 2, E = 100: G = ceil(100/48) = 3 (96 < 100); T = 6 (32 < 48 <= 64);
  // integer 3 + 2 − 1 = 4, fp4 3 + 2 + 6 − 1 = 10.
  EXPECT_EQ(rescale_timing(100, 48, 2, false).cycles, 4u);
  EXPECT_EQ(rescale_timing(100, 48, 2, true).cycles, 10u);
  // One lane needs no tree: E = 5, P = 3: 5 + 3 − 1 = 7 either way.
  EXPECT_EQ(rescale_timing(5, 1, 3, true).cycles, 7u);
  EXPECT_EQ(rescale_timing(5, 1, 3, false).cycles, 7u);
}

// ---- SFU timing ----

TEST(SfuTiming, WorkIssuedLanesPerCycle) {
  // relu (1 lane-cycle an element), E = 1000, 32 lanes, P = 4: W = 1000; issue ceil(1000/32) = 32
  // (31·32 = 992 < 1000); cycles 32 + 4 − 1 = 35; peak min(32, 4) = 4.
  SfuTiming t = sfu_timing(1000, 1, 32, 4);
  EXPECT_EQ(t.work, 1000u);
  EXPECT_EQ(t.issue_cycles, 32u);
  EXPECT_EQ(t.cycles, 35u);
  EXPECT_EQ(t.peak_occupancy, 4u);
  // adam (16), E = 100, 32 lanes, P = 4: W = 1600; issue 1600/32 = 50; cycles 50 + 3 = 53.
  EXPECT_EQ(sfu_timing(100, 16, 32, 4).cycles, 53u);
  // softmax_xent (9), E = 10, 32 lanes, P = 6: W = 90; issue ceil(90/32) = 3 (64 < 90 <= 96);
  // cycles 3 + 6 − 1 = 8; peak min(3, 6) = 3.
  t = sfu_timing(10, 9, 32, 6);
  EXPECT_EQ(t.issue_cycles, 3u);
  EXPECT_EQ(t.cycles, 8u);
  EXPECT_EQ(t.peak_occupancy, 3u);
  // batchnorm (3) on 16 FP32 lanes, E = 7, P = 1: W = 21; issue ceil(21/16) = 2; cycles 2.
  EXPECT_EQ(sfu_timing(7, 3, 16, 1).cycles, 2u);
  // One element, one lane-cycle, P = 4: the pipeline's latency alone, 1 + 4 − 1 = 4.
  EXPECT_EQ(sfu_timing(1, 1, 32, 4).cycles, 4u);
  // No elements: no cycles.
  EXPECT_EQ(sfu_timing(0, 16, 32, 4).cycles, 0u);
  static_assert(sfu_timing(100, 16, 32, 4).cycles == 53, "usable at compile time");
}

// ---- Rescaling unit arithmetic ----

QuantizeData with_input(std::vector<float> input) {
  QuantizeData d;
  d.input = std::move(input);
  return d;
}

TEST(RescaleMath, SupportsTheFourTargets) {
  EXPECT_TRUE(rescale_supports(Precision::kUint4));
  EXPECT_TRUE(rescale_supports(Precision::kInt4));
  EXPECT_TRUE(rescale_supports(Precision::kInt2));
  EXPECT_TRUE(rescale_supports(Precision::kFp4));
  EXPECT_FALSE(rescale_supports(Precision::kInt8));
  EXPECT_FALSE(rescale_supports(Precision::kFp16));
  QuantizeData d = with_input({1.0f});
  EXPECT_THROW(rescale_quantize(Precision::kInt8, d), std::invalid_argument);
}

TEST(RescaleMath, PactCodesWithAGivenClip) {
  // α = 15, so a code step α/(2^4 − 1) = 1 and code = round_half_even(clip(x, 0, 15)):
  //   2.5 → 2 (tie to even), 3.5 → 4 (tie to even), 0.49 → 0, 15.5 → 15 (clipped),
  //   −0.0 → 0 (not below 0, so not clipped), −1 → 0 (clipped: PACT clips negatives too).
  QuantizeData d = with_input({2.5f, 3.5f, 0.49f, 15.5f, -0.0f, -1.0f});
  d.pact_alpha = 15.0;
  RescaleCodes codes;
  rescale_quantize(Precision::kUint4, d, &codes);
  EXPECT_EQ(codes.ints, (std::vector<int8_t>{2, 4, 0, 15, 0, 0}));
  EXPECT_EQ(d.clipped, 2u);
  EXPECT_EQ(d.output, (std::vector<float>{2, 4, 0, 15, 0, 0}));  // code · 1
  EXPECT_FALSE(d.computed);                                      // the unit sets it
}

TEST(RescaleMath, PactDefaultClipIsTheMaximum) {
  // α = max(0.5, 2, −3) = 2: 0.5·15/2 = 3.75 → 4; 2·15/2 = 15; −3 → 0 (clipped).
  QuantizeData d = with_input({0.5f, 2.0f, -3.0f});
  RescaleCodes codes;
  rescale_quantize(Precision::kUint4, d, &codes);
  EXPECT_EQ(codes.ints, (std::vector<int8_t>{4, 15, 0}));
  EXPECT_EQ(d.clipped, 1u);
  EXPECT_FLOAT_EQ(d.output[0], static_cast<float>(4 * (2.0 / 15)));  // code · α/15
  EXPECT_FLOAT_EQ(d.output[1], 2.0f);                                // 15 · 2/15
  EXPECT_FLOAT_EQ(d.output[2], 0.0f);
  // Nothing positive: α = 1, every code 0, both inputs clipped (below 0).
  QuantizeData n = with_input({-1.0f, -2.0f});
  rescale_quantize(Precision::kUint4, n, &codes);
  EXPECT_EQ(codes.ints, (std::vector<int8_t>{0, 0}));
  EXPECT_EQ(n.clipped, 2u);
  // Non-finite inputs stay out of the default: α = 3 from {inf, 3}; inf clips to 15.
  QuantizeData f = with_input({std::numeric_limits<float>::infinity(), 3.0f});
  rescale_quantize(Precision::kUint4, f, &codes);
  EXPECT_EQ(codes.ints, (std::vector<int8_t>{15, 15}));
  EXPECT_EQ(f.clipped, 1u);
}

TEST(RescaleMath, SymmetricInt4AndInt2) {
  // int4, α = 7: step α/(2^3 − 1) = 1, codes −7..7:
  //   −8 → −7 (clipped), −3.5 → −4 (tie to even), 2.5 → 2, 6.9 → 7, 7.2 → 7 (clipped), 0 → 0.
  QuantizeData d = with_input({-8.0f, -3.5f, 2.5f, 6.9f, 7.2f, 0.0f});
  d.pact_alpha = 7.0;
  RescaleCodes codes;
  rescale_quantize(Precision::kInt4, d, &codes);
  EXPECT_EQ(codes.ints, (std::vector<int8_t>{-7, -4, 2, 7, 7, 0}));
  EXPECT_EQ(d.clipped, 2u);
  EXPECT_EQ(d.output, (std::vector<float>{-7, -4, 2, 7, 7, 0}));
  // int4, default α = max|x| = 2: 1·7/2 = 3.5 → 4 (tie to even); −2 → −7; 0.5·7/2 = 1.75 → 2.
  QuantizeData e = with_input({1.0f, -2.0f, 0.5f});
  rescale_quantize(Precision::kInt4, e, &codes);
  EXPECT_EQ(codes.ints, (std::vector<int8_t>{4, -7, 2}));
  EXPECT_EQ(e.clipped, 0u);
  EXPECT_FLOAT_EQ(e.output[0], static_cast<float>(4 * (2.0 / 7)));  // code · α/7
  EXPECT_FLOAT_EQ(e.output[1], -2.0f);
  // int2, α = 1: step α/(2^1 − 1) = 1, codes −1..1:
  //   0.4 → 0, 0.5 → 0 (tie to even), 0.6 → 1, −0.7 → −1, 3 → 1 (clipped).
  QuantizeData f = with_input({0.4f, 0.5f, 0.6f, -0.7f, 3.0f});
  f.pact_alpha = 1.0;
  rescale_quantize(Precision::kInt2, f, &codes);
  EXPECT_EQ(codes.ints, (std::vector<int8_t>{0, 0, 1, -1, 1}));
  EXPECT_EQ(f.clipped, 1u);
  // All zero: α = 0, every code 0, nothing clipped.
  QuantizeData z = with_input({0.0f, 0.0f});
  rescale_quantize(Precision::kInt4, z, &codes);
  EXPECT_EQ(codes.ints, (std::vector<int8_t>{0, 0}));
  EXPECT_EQ(z.output, (std::vector<float>{0, 0}));
}

TEST(RescaleMath, NanBecomesCodeZeroAndCountsAsClipped) {
  QuantizeData d = with_input({std::nanf(""), 1.0f});
  d.pact_alpha = 1.0;
  RescaleCodes codes;
  rescale_quantize(Precision::kUint4, d, &codes);
  EXPECT_EQ(codes.ints, (std::vector<int8_t>{0, 15}));
  EXPECT_EQ(d.clipped, 1u);
  rescale_quantize(Precision::kInt2, d, &codes);
  EXPECT_EQ(codes.ints, (std::vector<int8_t>{0, 1}));
  EXPECT_EQ(d.clipped, 1u);
}

TEST(RescaleMath, Fp4BothPhasesFromOneConversion) {
  // s = 0. y = x·1.6, E = floor(log2|y|); even code field n + 4 with n = floor(E/2) (value 4^n),
  // odd field n' + 4 with n' = floor((E+1)/2) (value 0.5·4^n'); sign in bit 3.
  //   1.0:   y 1.6,    E 0:  even n 0 → 4 (1);      odd n' 0 → 4 (0.5)
  //   0.7:   y 1.12,   E 0:  even 4 (1; 0.7 > 1/1.6) odd 4 (0.5; 0.7 < 2/1.6)
  //   3.0:   y 4.8,    E 2:  even n 1 → 5 (4);      odd n' 1 → 5 (2)
  //  −0.3:   y −0.48,  E −2: even n −1 → 8|3 = 11;  odd n' −1 → 11 (−0.125)
  //   100:   y 160,    E 7:  even n 3 → 7 (64);     odd n' 4 > 3 → 7, saturated
  //   200:   y 320,    E 8:  even n 4 → 7, sat.;    odd n' 4 → 7, saturated
  //   0.005: y 0.008,  E −7: even n −4 < −3 → 0, flushed; odd n' −3 → 1 (2^−7)
  //   0.001: y 0.0016, E −10: even n −5, odd n' −5: both 0, both flushed
  //   0:     0 in both, not counted
  QuantizeData d = with_input({1.0f, 0.7f, 3.0f, -0.3f, 100.0f, 200.0f, 0.005f, 0.001f, 0.0f});
  d.grad_scale_log2 = 0;
  RescaleCodes codes;
  rescale_quantize(Precision::kFp4, d, &codes);
  EXPECT_EQ(codes.fp4_even, (std::vector<uint8_t>{4, 4, 5, 11, 7, 7, 0, 0, 0}));
  EXPECT_EQ(codes.fp4_odd, (std::vector<uint8_t>{4, 4, 5, 11, 7, 7, 1, 0, 0}));
  EXPECT_EQ(d.fp4.even.flushed, 2u);    // 0.005, 0.001
  EXPECT_EQ(d.fp4.even.saturated, 1u);  // 200
  EXPECT_EQ(d.fp4.odd.flushed, 1u);     // 0.001
  EXPECT_EQ(d.fp4.odd.saturated, 2u);   // 100, 200
  EXPECT_EQ(d.grad_scale_log2_used, 0);
  EXPECT_EQ(d.grad_scale_vote, -1);  // max|x·2^0| = 200 > 64: halve
  // The even phase decoded, divided by 2^0.
  EXPECT_EQ(d.output, (std::vector<float>{1, 1, 4, -0.25f, 64, 64, 0, 0, 0}));
  EXPECT_TRUE(codes.ints.empty());
}

TEST(RescaleMath, Fp4DefaultScaleIsTheFixedPoint) {
  // max|x| = 0.5 = 0.5·2^0, a power of two, so s = 7 − 0 = 7: x·2^7 = {64, −32}.
  //    64: y 102.4, E 6: even n 3 → 7 (64);        odd n' 3 → 7 (32)
  //   −32: y −51.2, E 5: even n 2 → 8|6 = 14 (−16); odd n' 3 → 8|7 = 15 (−32)
  // vote: 64 is in (32, 64]: hold. Output = even value / 2^7: 64/128, −16/128.
  QuantizeData d = with_input({0.5f, -0.25f});
  RescaleCodes codes;
  rescale_quantize(Precision::kFp4, d, &codes);
  EXPECT_EQ(d.grad_scale_log2_used, 7);
  EXPECT_EQ(codes.fp4_even, (std::vector<uint8_t>{7, 14}));
  EXPECT_EQ(codes.fp4_odd, (std::vector<uint8_t>{7, 15}));
  EXPECT_EQ(d.grad_scale_vote, 0);
  EXPECT_EQ(d.output, (std::vector<float>{0.5f, -0.125f}));
  EXPECT_EQ(d.fp4.even.flushed + d.fp4.even.saturated + d.fp4.odd.flushed + d.fp4.odd.saturated,
            0u);
}

TEST(RescaleMath, GradScaleVotes) {
  // s = 0, max 1 <= 32: double the scale.
  QuantizeData up = with_input({1.0f, -0.5f});
  up.grad_scale_log2 = 0;
  rescale_quantize(Precision::kFp4, up);
  EXPECT_EQ(up.grad_scale_vote, 1);
  // s = 5, max 1.5·32 = 48 in (32, 64]: hold.
  QuantizeData hold = with_input({1.5f});
  hold.grad_scale_log2 = 5;
  rescale_quantize(Precision::kFp4, hold);
  EXPECT_EQ(hold.grad_scale_vote, 0);
  // s = 6, max 1.5·64 = 96 > 64: halve. (The top bin's edge: 1·64 = 64 holds.)
  hold.grad_scale_log2 = 6;
  rescale_quantize(Precision::kFp4, hold);
  EXPECT_EQ(hold.grad_scale_vote, -1);
  QuantizeData edge = with_input({1.0f});
  edge.grad_scale_log2 = 6;
  rescale_quantize(Precision::kFp4, edge);
  EXPECT_EQ(edge.grad_scale_vote, 0);
  // s = 0, max 32 is not above 32: double.
  QuantizeData low = with_input({-32.0f});
  low.grad_scale_log2 = 0;
  rescale_quantize(Precision::kFp4, low);
  EXPECT_EQ(low.grad_scale_vote, 1);
  // A NaN counts as an overflow: halve; the NaN is encoded as +0 and counted.
  QuantizeData nan = with_input({1.0f, std::nanf("")});
  nan.grad_scale_log2 = 0;
  rescale_quantize(Precision::kFp4, nan);
  EXPECT_EQ(nan.grad_scale_vote, -1);
  EXPECT_EQ(nan.fp4.even.nan, 1u);
  // Out of GradScale's range: a programming error (the trace reader rejects it).
  QuantizeData bad = with_input({1.0f});
  bad.grad_scale_log2 = 128;
  EXPECT_THROW(rescale_quantize(Precision::kFp4, bad), std::invalid_argument);
}

TEST(RescaleMath, GradScaleFixedPoint) {
  // m = f·2^e, f in [0.5, 1): s = 6 − e, or 7 − e when f = 0.5.
  const std::vector<std::vector<float>> cases = {
      {1.0f},          // 0.5·2^1, f = 0.5: s = 7 − 1 = 6 (1·64 = 64)
      {0.75f, -0.1f},  // 0.75·2^0: s = 6 (48)
      {-3.0f},         // 0.75·2^2: s = 4 (48)
      {200.0f},        // 0.78125·2^8: s = −2 (50)
      {0.0f, -0.0f},   // all zero: 0
      {1e-40f},        // subnormal, about 0.54·2^−132: s = 138, clamped to 127
      {3e38f},         // about 0.88·2^128: s = −122
      {},              // empty: 0
  };
  const int expected[] = {6, 6, 4, -2, 0, 127, -122, 0};
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(numerics::grad_scale_fixed_point(cases[i].data(), cases[i].size()), expected[i]);
  }
}

TEST(RescaleMath, ClearsTheOutputsOfAPreviousRun) {
  QuantizeData d = with_input({200.0f});
  d.grad_scale_log2 = 0;
  rescale_quantize(Precision::kFp4, d);
  EXPECT_EQ(d.fp4.even.saturated, 1u);
  rescale_quantize(Precision::kInt4, d);  // α = 200: code 7, nothing clipped, no fp4 counts
  EXPECT_EQ(d.fp4.even.saturated, 0u);
  EXPECT_EQ(d.grad_scale_vote, 0);
  EXPECT_EQ(d.clipped, 0u);
  EXPECT_EQ(d.output, (std::vector<float>{200.0f}));
}

}  // namespace
}  // namespace nibble
