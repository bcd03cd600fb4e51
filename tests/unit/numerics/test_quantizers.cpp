#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "models/numerics/quantizers.h"

namespace nibble::numerics {
namespace {

TEST(Sawb, CoefficientsAndAlpha) {
  EXPECT_EQ(sawb_coefficients(4).c1, 12.68);
  EXPECT_EQ(sawb_coefficients(4).c2, 12.80);
  EXPECT_EQ(sawb_coefficients(2).c1, 3.12);
  EXPECT_THROW(sawb_coefficients(6), std::invalid_argument);
  // w = {2, 0, 0, 0}: E[w^2] = 1, E|w| = 0.5 -> alpha = 12.68 * 1 - 12.80 * 0.5 = 6.28.
  const std::vector<float> w = {2.0f, 0.0f, 0.0f, 0.0f};
  EXPECT_NEAR(sawb_alpha(w.data(), w.size(), 4), 6.28, 1e-12);
  // w = {1, -1}: alpha = 12.68 - 12.80 < 0 -> floored at 0.
  const std::vector<float> flat = {1.0f, -1.0f};
  EXPECT_EQ(sawb_alpha(flat.data(), flat.size(), 4), 0.0);
  EXPECT_THROW(sawb_alpha(w.data(), 0, 4), std::invalid_argument);
}

TEST(Sawb, SymmetricLevels) {
  // 4 bits: 15 levels, codes -7..7, step alpha / 7.
  EXPECT_EQ(quantize_symmetric(100.0, 1.0, 4), 7);
  EXPECT_EQ(quantize_symmetric(-100.0, 1.0, 4), -7);
  EXPECT_EQ(quantize_symmetric(2.5, 7.0, 4), 2);  // 2.5 * 7 / 7 = 2.5 -> half even 2
  EXPECT_EQ(quantize_symmetric(3.5, 7.0, 4), 4);
  EXPECT_EQ(quantize_symmetric(0.3, 0.0, 4), 0);  // zero clip
  const std::vector<float> w = {2.0f, 0.0f, 0.0f, 0.0f, -0.5f, 0.25f, 0.0f, 0.0f};
  const QuantizedTensor q = sawb_quantize_per_channel(w.data(), 2, 4, 4);
  ASSERT_EQ(q.scales.size(), 2u);
  // Channel 0: alpha 6.28, step 6.28 / 7 = 0.8971; 2 / 0.8971 = 2.229 -> 2.
  EXPECT_EQ(q.codes[0], 2);
  EXPECT_NEAR(q.scales[0], 6.28 / 7, 1e-12);
  // Channel 1: E[w^2] = (0.25 + 0.0625) / 4 = 0.078125, E|w| = 0.1875;
  // alpha = 12.68 * 0.279508 - 12.80 * 0.1875 = 1.144166; -0.5 * 7 / 1.144166 = -3.059 -> -3.
  EXPECT_EQ(q.codes[4], -3);
  EXPECT_EQ(q.codes[5], 2);  // 0.25 * 7 / 1.144166 = 1.5295 -> 2
  const QuantizedTensor t = sawb_quantize(w.data(), w.size(), 4);
  EXPECT_EQ(t.scales.size(), 1u);
}

TEST(Pact, FifteenLevels) {
  // alpha 1.5, 4 bits: code = round(y * 15 / 1.5) = round(10 y).
  EXPECT_EQ(pact_quantize(0.05, 1.5, 4), 0);  // 0.5 -> 0 (half even)
  EXPECT_EQ(pact_quantize(0.15, 1.5, 4), 2);  // 1.5 -> 2
  EXPECT_EQ(pact_quantize(2.0, 1.5, 4), 15);  // clipped to alpha
  EXPECT_EQ(pact_quantize(-1.0, 1.5, 4), 0);  // clipped to 0
  EXPECT_EQ(pact_quantize(0.74, 1.5, 4), 7);
  EXPECT_THROW(pact_quantize(1.0, 0.0, 4), std::invalid_argument);
  EXPECT_THROW(pact_quantize(std::nan(""), 1.0, 4), std::invalid_argument);
  const std::vector<float> x = {0.4f, 3.0f, 0.4f, 3.0f};
  const std::vector<double> alphas = {1.0, 4.0};
  const QuantizedTensor q = pact_quantize_per_channel(x.data(), 2, 2, alphas.data(), 4);
  // ch0: 0.4 * 15 = 6 -> 6; 3 -> clip 1 -> 15. ch1: 0.4 * 15 / 4 = 1.5 -> 2; 3 * 15 / 4 = 11.25
  // -> 11.
  EXPECT_EQ(q.codes, (std::vector<int8_t>{6, 15, 2, 11}));
  EXPECT_EQ(q.scales[1], 4.0 / 15);
}

TEST(Requantize, ScaleRoundClip) {
  bool sat = false;
  EXPECT_EQ(requantize(int64_t{100}, 0.05, kInt4, &sat), 5);  // 100 * 0.05 = 5
  EXPECT_FALSE(sat);
  EXPECT_EQ(requantize(int64_t{1000}, 0.05, kInt4, &sat), 7);  // 50 -> 7
  EXPECT_TRUE(sat);
  EXPECT_EQ(requantize(int64_t{-60}, 0.05, kUint4, &sat), 0);  // -3 -> 0
  EXPECT_TRUE(sat);
  EXPECT_EQ(requantize(int64_t{50}, 0.05, kUint4), 2);  // 2.5 -> 2 (half even)
  EXPECT_EQ(requantize(1.75, 2.0, kUint4), 4);          // FP16 value 1.75 * 2 = 3.5 -> 4
}

}  // namespace
}  // namespace nibble::numerics
