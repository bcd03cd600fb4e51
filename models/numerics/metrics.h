#pragma once

#include <cstddef>

namespace nibble::numerics {

// Accuracy of a computed tensor against a reference (usually FP32/double), for per-op reports.
// rel_l2 = ||t - r|| / ||r||; sqnr_db = 10 log10(sum r^2 / sum (t - r)^2); cosine = r.t / (|r||t|);
// max_abs = max |t - r|. Degenerate cases: equal tensors give rel_l2 0, sqnr +inf, cosine 1;
// a zero reference with a non-zero error gives rel_l2 +inf and sqnr -inf; a zero vector against a
// non-zero one has cosine 0. Sums are taken in double.
struct ErrorMetrics {
  double rel_l2 = 0.0;
  double sqnr_db = 0.0;
  double cosine = 1.0;
  double max_abs = 0.0;
};

ErrorMetrics compare(const double* reference, const double* test, size_t n);
ErrorMetrics compare(const float* reference, const float* test, size_t n);

}  // namespace nibble::numerics
