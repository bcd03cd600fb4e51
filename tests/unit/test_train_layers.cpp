// The FP32 layers of `nibble train`: every backward pass against central finite differences of
// the scalar L = Σ r·y (r fixed and random), for the input and every parameter, and the loss's
// gradient against its own finite differences. Linear layers make L linear in each input, so
// the differences are exact up to float rounding; ReLU and max-pool inputs are kept away from
// their kinks (|x| ≥ 0.05, distinct values in each window) so a step of 1e-3 does not cross one.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <vector>

#include "models/numerics/prng.h"
#include "models/train/layers.h"

namespace nibble::train {
namespace {

// Uniform in [lo, hi) from a SplitMix64 stream.
std::vector<float> uniform(size_t n, uint64_t seed, double lo = -1, double hi = 1) {
  numerics::SplitMix64 rng(seed);
  std::vector<float> v(n);
  for (float& x : v) {
    const double u = static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
    x = static_cast<float>(lo + (hi - lo) * u);
  }
  return v;
}

// Away from ReLU's kink: |x| in [0.05, 1).
std::vector<float> off_kink(size_t n, uint64_t seed) {
  std::vector<float> v = uniform(n, seed);
  for (float& x : v) x = x < 0 ? x - 0.05f : x + 0.05f;
  return v;
}

double weighted(const Tensor& y, const std::vector<float>& r) {
  double sum = 0;
  for (size_t i = 0; i < y.v.size(); ++i) sum += double{y.v[i]} * double{r[i]};
  return sum;
}

// Checks dL/d(each element of `values`) from backward() against (L(v+h) − L(v−h)) / 2h.
void expect_matches(const char* what, std::vector<float>& values, const std::vector<float>& grads,
                    const std::function<double()>& loss, double h = 1e-3, double tol = 2e-3) {
  ASSERT_EQ(values.size(), grads.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const float keep = values[i];
    values[i] = static_cast<float>(keep + h);
    const double up = loss();
    values[i] = static_cast<float>(keep - h);
    const double down = loss();
    values[i] = keep;
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(grads[i], numeric, tol * std::max(1.0, std::fabs(numeric)))
        << what << " element " << i;
  }
}

// Runs the layer forward and backward on x with dy = r and checks the input's and parameters'
// gradients.
void check_layer(Layer& layer, Tensor x, uint64_t seed) {
  Tensor y, dx;
  layer.forward(x, y, true);
  const std::vector<float> r = uniform(y.size(), seed);
  Tensor dy = y;
  dy.v = r;
  for (Param* p : layer.params()) std::fill(p->grad.begin(), p->grad.end(), 0.0f);
  layer.backward(dy, dx);
  ASSERT_EQ(dx.size(), x.size());
  const auto loss = [&] {
    Tensor out;
    layer.forward(x, out, false);
    return weighted(out, r);
  };
  expect_matches("input", x.v, dx.v, loss);
  for (Param* p : layer.params()) {
    const std::vector<float> grad = p->grad;
    expect_matches(p->name.c_str(), p->value, grad, loss);
  }
}

TEST(TrainLayers, LinearGradientsMatchFiniteDifferences) {
  Parallel par(2);
  Linear layer("fc", 7, 5, 11, std::make_unique<Fp32Path>(par));
  layer.bias().value = uniform(5, 12);
  Tensor x;
  x.resize(3, 7);
  x.v = uniform(21, 13);
  check_layer(layer, x, 14);
}

TEST(TrainLayers, Conv3x3GradientsMatchFiniteDifferences) {
  Parallel par(2);
  Conv3x3 layer("conv", 2, 3, 21, std::make_unique<Fp32Path>(par));
  Tensor x;
  x.resize(2, 2, 4, 5);  // 4×5 images: the padding is exercised on every side, rows ≠ columns
  x.v = uniform(x.size(), 22);
  check_layer(layer, x, 23);
}

TEST(TrainLayers, ReluGradientsMatchFiniteDifferences) {
  Relu layer;
  Tensor x;
  x.resize(2, 9);
  x.v = off_kink(18, 31);
  check_layer(layer, x, 32);
}

TEST(TrainLayers, MaxPoolGradientsMatchFiniteDifferences) {
  MaxPool2 layer;
  Tensor x;
  x.resize(2, 2, 5, 4);  // an odd side: the last row is dropped
  // Distinct values 0.01 apart (shuffled by a multiplier coprime to the count), so no window has
  // a tie within the step.
  for (size_t i = 0; i < x.size(); ++i)
    x.v[i] = static_cast<float>(static_cast<double>(i * 37 % x.size()) * 0.01);
  Tensor y;
  layer.forward(x, y, false);
  ASSERT_EQ(y.h, 2u);  // floor(5 / 2)
  ASSERT_EQ(y.w, 2u);
  check_layer(layer, x, 42);
}

TEST(TrainLayers, SoftmaxCrossEntropyGradientMatchesFiniteDifferences) {
  Tensor z;
  z.resize(4, 10);
  z.v = uniform(40, 51, -3, 3);
  const uint8_t labels[] = {0, 9, 3, 3};
  Tensor dz;
  softmax_cross_entropy(z, labels, &dz);
  expect_matches("logits", z.v, dz.v, [&] { return softmax_cross_entropy(z, labels, nullptr); });
}

// A uniform logit row: loss ln(10) per sample; the arg max of equal logits is class 0.
TEST(TrainLayers, SoftmaxCrossEntropyOfEqualLogitsIsLnClasses) {
  Tensor z;
  z.resize(2, 10);
  const uint8_t labels[] = {0, 4};
  size_t correct = 0;
  EXPECT_NEAR(softmax_cross_entropy(z, labels, nullptr, &correct), std::log(10.0), 1e-12);
  EXPECT_EQ(correct, 1u);  // sample 0 (label 0) only
}

// Parallel splits [0, 10) over 3 threads as 4, 3, 3 and covers every index once.
TEST(TrainLayers, ParallelCoversEveryIndexOnce) {
  Parallel par(3);
  std::vector<int> hits(10, 0);
  std::vector<std::pair<size_t, size_t>> ranges(3);
  par.run(10, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) ++hits[i];
  });
  for (int h : hits) EXPECT_EQ(h, 1);
}

}  // namespace
}  // namespace nibble::train
