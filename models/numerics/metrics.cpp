#include "models/numerics/metrics.h"

#include <cmath>
#include <limits>

namespace nibble::numerics {

namespace {

template <typename T>
ErrorMetrics compare_impl(const T* r, const T* t, size_t n) {
  double ref_sq = 0.0;
  double test_sq = 0.0;
  double err_sq = 0.0;
  double dot = 0.0;
  double max_abs = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double rv = r[i];
    const double tv = t[i];
    const double e = tv - rv;
    ref_sq += rv * rv;
    test_sq += tv * tv;
    err_sq += e * e;
    dot += rv * tv;
    max_abs = std::fmax(max_abs, std::fabs(e));
  }
  constexpr double kInf = std::numeric_limits<double>::infinity();
  ErrorMetrics m;
  m.max_abs = max_abs;
  if (err_sq == 0.0) {
    m.rel_l2 = 0.0;
    m.sqnr_db = kInf;
  } else if (ref_sq == 0.0) {
    m.rel_l2 = kInf;
    m.sqnr_db = -kInf;
  } else {
    m.rel_l2 = std::sqrt(err_sq / ref_sq);
    m.sqnr_db = 10.0 * std::log10(ref_sq / err_sq);
  }
  if (ref_sq == 0.0 && test_sq == 0.0) {
    m.cosine = 1.0;
  } else if (ref_sq == 0.0 || test_sq == 0.0) {
    m.cosine = 0.0;
  } else {
    m.cosine = dot / (std::sqrt(ref_sq) * std::sqrt(test_sq));
  }
  return m;
}

}  // namespace

ErrorMetrics compare(const double* reference, const double* test, size_t n) {
  return compare_impl(reference, test, n);
}

ErrorMetrics compare(const float* reference, const float* test, size_t n) {
  return compare_impl(reference, test, n);
}

}  // namespace nibble::numerics
