#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "models/numerics/metrics.h"

namespace nibble::numerics {
namespace {

TEST(Metrics, KnownValues) {
  const std::vector<double> r = {3.0, 4.0};
  const std::vector<double> t = {3.0, 4.3};
  const ErrorMetrics m = compare(r.data(), t.data(), 2);
  // ||e|| = 0.3, ||r|| = 5 -> 0.06; SQNR = 10 log10(25 / 0.09) = 24.437...; cos = (9 + 17.2) /
  // (5 * sqrt(9 + 18.49)).
  EXPECT_NEAR(m.rel_l2, 0.06, 1e-12);
  EXPECT_NEAR(m.sqnr_db, 10.0 * std::log10(25.0 / 0.09), 1e-9);
  EXPECT_NEAR(m.cosine, 26.2 / (5.0 * std::sqrt(27.49)), 1e-12);
  EXPECT_NEAR(m.max_abs, 0.3, 1e-12);
}

TEST(Metrics, DegenerateCases) {
  const std::vector<float> z = {0.0f, 0.0f};
  const std::vector<float> one = {1.0f, 0.0f};
  const ErrorMetrics same = compare(one.data(), one.data(), 2);
  EXPECT_EQ(same.rel_l2, 0.0);
  EXPECT_EQ(same.sqnr_db, std::numeric_limits<double>::infinity());
  EXPECT_EQ(same.cosine, 1.0);
  const ErrorMetrics zero_ref = compare(z.data(), one.data(), 2);
  EXPECT_EQ(zero_ref.rel_l2, std::numeric_limits<double>::infinity());
  EXPECT_EQ(zero_ref.sqnr_db, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(zero_ref.cosine, 0.0);
  EXPECT_EQ(compare(z.data(), z.data(), 2).cosine, 1.0);
}

}  // namespace
}  // namespace nibble::numerics
