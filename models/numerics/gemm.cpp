#include "models/numerics/gemm.h"

#include "models/numerics/gemm_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace nibble::numerics {

namespace {

size_t idx(int64_t row, int64_t cols, int64_t col) { return static_cast<size_t>(row * cols + col); }

void check_int_codes(const int8_t* p, size_t count, const IntFormat& f, const char* what) {
  f.validate();
  for (size_t i = 0; i < count; ++i) {
    if (p[i] < f.min() || p[i] > f.max()) {
      throw std::out_of_range(std::string(what) + ": code " + std::to_string(p[i]) + " at " +
                              std::to_string(i) + " outside [" + std::to_string(f.min()) + ", " +
                              std::to_string(f.max()) + "]");
    }
  }
}

void check_fp4_codes(const uint8_t* p, size_t count, const char* what) {
  for (size_t i = 0; i < count; ++i) {
    if (p[i] > 0xF) {
      throw std::out_of_range(std::string(what) + ": FP4 code " + std::to_string(p[i]) + " at " +
                              std::to_string(i) + " > 15");
    }
  }
}

int64_t max_abs(const IntFormat& f) { return std::max(std::llabs(f.min()), std::llabs(f.max())); }

// Integer fast path: no add can overflow, so plain wide sums are the register's exact values.
template <typename Acc>
void int_gemm_no_overflow(const int8_t* a, const int8_t* b, const GemmShape& s, int64_t* c) {
  std::vector<Acc> row(static_cast<size_t>(s.n));
  for (int64_t i = 0; i < s.m; ++i) {
    std::fill(row.begin(), row.end(), Acc{0});
    for (int64_t k = 0; k < s.k; ++k) {
      const Acc av = a[idx(i, s.k, k)];
      const int8_t* brow = b + idx(k, s.n, 0);
      Acc* r = row.data();
      for (int64_t j = 0; j < s.n; ++j) r[j] += av * static_cast<Acc>(brow[j]);
    }
    for (int64_t j = 0; j < s.n; ++j) c[idx(i, s.n, j)] = row[static_cast<size_t>(j)];
  }
}

// The same sums in floats: exact while every partial sum stays below 2^24.
void int_gemm_in_float(const int8_t* a, const int8_t* b, const GemmShape& s, int64_t* c) {
  const std::vector<float> af(a, a + s.m * s.k);
  const std::vector<float> bf(b, b + s.k * s.n);
  std::vector<float> cf(static_cast<size_t>(s.m * s.n));
  kernels::gemm_f32(af.data(), bf.data(), s.m, s.n, s.k, cf.data());
  for (size_t i = 0; i < cf.size(); ++i) c[i] = static_cast<int64_t>(cf[i]);
}

// FP16-accumulating GEMM with RNE, loops i-k-j so the inner loop streams a row of B. Chunk
// boundaries depend only on k, so every element of a row closes its chunk at the same k.
// `make_row(i, k)` returns a functor giving the exact product for column j.
// With group > 1 the products of `group` consecutive k are summed exactly first (shift-MAC
// products are integers times 2^-6, so a double holds any such sum) and each group is one add.
template <typename MakeRow>
void fp16_gemm_rne(const GemmShape& s, int64_t chunk_length, int64_t group, MakeRow make_row,
                   bool halve, float* c) {
  const size_t n = static_cast<size_t>(s.n);
  std::vector<double> chunk(n);
  std::vector<double> total(n);
  std::vector<double> inner(n);
  for (int64_t i = 0; i < s.m; ++i) {
    std::fill(chunk.begin(), chunk.end(), 0.0);
    std::fill(total.begin(), total.end(), 0.0);
    int64_t in_chunk = 0;
    const auto close_chunk = [&]() {
      for (size_t j = 0; j < n; ++j) {
        total[j] = round_to_fp16(total[j] + chunk[j]);
        chunk[j] = 0.0;
      }
      in_chunk = 0;
    };
    int64_t in_group = 0;
    for (int64_t k = 0; k < s.k; ++k) {
      const auto row = make_row(i, k);
      double* ch = chunk.data();
      if (group == 1) {
        for (size_t j = 0; j < n; ++j) ch[j] = round_to_fp16(ch[j] + row(j));
      } else {
        double* g = inner.data();
        for (size_t j = 0; j < n; ++j) g[j] += row(j);
        if (++in_group < group && k + 1 < s.k) continue;
        for (size_t j = 0; j < n; ++j) {
          ch[j] = round_to_fp16(ch[j] + g[j]);
          g[j] = 0.0;
        }
        in_group = 0;
      }
      if (++in_chunk == chunk_length) close_chunk();
    }
    if (in_chunk > 0) close_chunk();
    for (size_t j = 0; j < n; ++j) {
      const double v = halve ? fp16_halve(total[j]) : total[j];
      c[idx(i, s.n, static_cast<int64_t>(j))] = static_cast<float>(v);
    }
  }
}

// Same arithmetic with stochastic rounding: one Fp16Accumulator (and random stream) per element,
// stream = i * N + j, so results do not depend on traversal order.
template <typename Term>
void fp16_gemm_stochastic(const GemmShape& s, const Fp16AccumParams& p, Term term, bool halve,
                          float* c) {
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      Fp16Accumulator acc(p, static_cast<uint64_t>(i * s.n + j));
      for (int64_t k0 = 0; k0 < s.k; k0 += p.group) {
        double inner = 0.0;  // exact: see fp16_gemm_rne
        for (int64_t k = k0; k < std::min(s.k, k0 + p.group); ++k) inner += term(i, k, j);
        acc.add(inner);
      }
      const double v = acc.finish();
      c[idx(i, s.n, j)] = static_cast<float>(halve ? fp16_halve(v) : v);
    }
  }
}

template <typename MakeRow, typename Term>
void fp16_gemm(const GemmShape& s, const Fp16AccumParams& p, MakeRow make_row, Term term,
               bool halve, float* c) {
  if (p.chunk_length < 0) {
    throw std::invalid_argument("Fp16AccumParams: chunk_length must be >= 0, got " +
                                std::to_string(p.chunk_length));
  }
  if (p.group < 1) {
    throw std::invalid_argument("Fp16AccumParams: group must be >= 1, got " +
                                std::to_string(p.group));
  }
  if (p.stochastic) {
    fp16_gemm_stochastic(s, p, term, halve, c);
  } else {
    fp16_gemm_rne(s, p.chunk_length, p.group, make_row, halve, c);
  }
}

// The 16 x 16 shift-MAC products, built with the shifter: index (int4 + 8) * 16 + fp4 code.
// Rows for integer codes -8..15 (INT4 and UINT4 activations), 16 FP4 codes each; row (a + 8).
std::vector<double> shift_product_table() {
  std::vector<double> t(24 * 16);
  for (int a = -8; a <= 15; ++a) {
    for (int code = 0; code < 16; ++code) {
      t[static_cast<size_t>((a + 8) * 16 + code)] = shift_mul_value(a, static_cast<uint8_t>(code));
    }
  }
  return t;
}

std::vector<float> decode_all(const uint16_t* codes, size_t count, const Minifloat& f) {
  std::vector<double> lut(f.code_count());
  for (uint32_t code = 0; code < f.code_count(); ++code) lut[code] = f.decode(code);
  std::vector<float> out(count);
  for (size_t i = 0; i < count; ++i) out[i] = static_cast<float>(lut[codes[i]]);
  return out;
}

// Widen HFP8 codes to fp9 values; every fp9 value fits a float exactly.
std::vector<float> widen_to_fp9(const uint8_t* codes, size_t count, const Minifloat& f) {
  if (f.bits() != 8) {
    throw std::invalid_argument("gemm_hfp8: operand format '" + f.spec().name +
                                "' is not an 8-bit format");
  }
  std::vector<float> lut(256);
  for (uint32_t code = 0; code < 256; ++code) {
    const double v = f.decode(code);
    const double w = fp9().decode(fp9().encode(v));
    if (!(w == v || (std::isnan(v) && std::isnan(w)))) {
      throw std::invalid_argument("gemm_hfp8: format '" + f.spec().name +
                                  "' is not exactly representable in fp9");
    }
    lut[code] = static_cast<float>(w);
  }
  std::vector<float> out(count);
  for (size_t i = 0; i < count; ++i) out[i] = lut[codes[i]];
  return out;
}

}  // namespace

void GemmShape::validate() const {
  if (m < 1 || n < 1 || k < 1) {
    throw std::invalid_argument("GemmShape: m, n, k must be >= 1, got " + std::to_string(m) + ", " +
                                std::to_string(n) + ", " + std::to_string(k));
  }
  constexpr int64_t kLimit = int64_t{1} << 40;
  if (m > kLimit / n || m > kLimit / k || k > kLimit / n) {
    throw std::invalid_argument("GemmShape: matrix too large");
  }
}

IntGemmStats gemm_int_acc(const int8_t* a, const IntFormat& fa, const int8_t* b,
                          const IntFormat& fb, const GemmShape& s, const IntGemmParams& params,
                          int64_t* c) {
  s.validate();
  check_int_codes(a, static_cast<size_t>(s.m * s.k), fa, "gemm_int A");
  check_int_codes(b, static_cast<size_t>(s.k * s.n), fb, "gemm_int B");
  IntAccumulator probe(params.acc_bits, params.overflow);  // validates acc_bits
  IntGemmStats stats;
  // Bound on any partial sum; |product| <= 2^31 * 2^31 would not fit but formats are <= 8 bits
  // in practice (codes are int8), so this is at most K * 2^14.
  const double bound = static_cast<double>(s.k) * static_cast<double>(max_abs(fa) * max_abs(fb));
  if (bound <= static_cast<double>(probe.max())) {
    if (bound <= 0x1p24) {
      // Every partial sum is an integer below 2^24, which a float holds exactly.
      int_gemm_in_float(a, b, s, c);
    } else if (bound <= static_cast<double>(std::numeric_limits<int32_t>::max())) {
      int_gemm_no_overflow<int32_t>(a, b, s, c);
    } else {
      int_gemm_no_overflow<int64_t>(a, b, s, c);
    }
    return stats;
  }
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      IntAccumulator acc(params.acc_bits, params.overflow);
      for (int64_t k = 0; k < s.k; ++k) {
        acc.add(int64_t{a[idx(i, s.k, k)]} * int64_t{b[idx(k, s.n, j)]});
      }
      c[idx(i, s.n, j)] = acc.value();
      stats.overflows += acc.overflow_count();
    }
  }
  return stats;
}

IntGemmStats gemm_int(const int8_t* a, const IntFormat& fa, const int8_t* b, const IntFormat& fb,
                      const GemmShape& s, const IntGemmParams& params, double scale,
                      OutputFormat out, float* c) {
  s.validate();
  std::vector<int64_t> acc(static_cast<size_t>(s.m * s.n));
  const IntGemmStats stats = gemm_int_acc(a, fa, b, fb, s, params, acc.data());
  for (size_t i = 0; i < acc.size(); ++i) {
    const double v = static_cast<double>(acc[i]) * scale;
    c[i] =
        out == OutputFormat::kFp16 ? static_cast<float>(round_to_fp16(v)) : static_cast<float>(v);
  }
  return stats;
}

namespace {

// a × radix-2 FP4 value for every (a, code): a times ±2^(e−1), exact in a double.
std::vector<double> radix2_product_table() {
  std::vector<double> t(24 * 16);
  for (int a = -8; a <= 15; ++a) {
    for (int code = 0; code < 16; ++code) {
      t[static_cast<size_t>((a + 8) * 16 + code)] =
          a * static_cast<double>(fp4_radix2_decode(static_cast<uint8_t>(code)));
    }
  }
  return t;
}

// FP4 codes as their values in units of 2^-6, exact: the product table's row of integer 1.
std::vector<float> fp4_units(const std::vector<double>& table, const uint8_t* codes, size_t count) {
  float units[16];
  for (size_t code = 0; code < 16; ++code) {
    units[code] = static_cast<float>(std::ldexp(table[(1 + 8) * 16 + code], kShiftMacFracBits));
  }
  std::vector<float> out(count);
  for (size_t i = 0; i < count; ++i) out[i] = units[codes[i]];
  return out;
}

// RNE sums with a group whose exact sums fit a float take the fixed-point kernel; stochastic
// rounding (one random stream per element) and bad parameters (refused there) take fp16_gemm.
bool fixed_point_applies(const Fp16AccumParams& p) {
  return !p.stochastic && p.chunk_length >= 0 && p.group >= 1 && p.group <= kernels::kShiftMaxGroup;
}

// The shift-MAC engine with the integer operand on the left: each product is
// table[(a + 8)·16 + code] (radix-4 or radix-2 FP4 values times the integer, exact).
void shift_gemm_int_left(const std::string& name, const std::vector<double>& table, const int8_t* a,
                         const uint8_t* b_fp4, const GemmShape& s, bool halve,
                         const Fp16AccumParams& params, float* c, const IntFormat& fa) {
  s.validate();
  if (fa.bits > 4) throw std::invalid_argument(name + ": the integer operand is at most 4 bits");
  check_int_codes(a, static_cast<size_t>(s.m * s.k), fa, (name + " A").c_str());
  check_fp4_codes(b_fp4, static_cast<size_t>(s.k * s.n), (name + " B").c_str());
  if (fixed_point_applies(params)) {
    const std::vector<float> x(a, a + s.m * s.k);
    const std::vector<float> bu = fp4_units(table, b_fp4, static_cast<size_t>(s.k * s.n));
    kernels::shift_fp16(x.data(), bu.data(), s.m, s.n, s.k, params.chunk_length, params.group,
                        halve, c);
    return;
  }
  const double* t = table.data();
  const auto make_row = [&](int64_t i, int64_t k) {
    const double* trow = t + (a[idx(i, s.k, k)] + 8) * 16;
    const uint8_t* brow = b_fp4 + idx(k, s.n, 0);
    return [trow, brow](size_t j) { return trow[brow[j]]; };
  };
  const auto term = [&](int64_t i, int64_t k, int64_t j) {
    return t[(a[idx(i, s.k, k)] + 8) * 16 + b_fp4[idx(k, s.n, j)]];
  };
  fp16_gemm(s, params, make_row, term, halve, c);
}

// The same with the FP4 operand on the left (e.g. dX = dY·W).
void shift_gemm_fp4_left(const std::string& name, const std::vector<double>& table,
                         const uint8_t* a_fp4, const int8_t* b, const GemmShape& s, bool halve,
                         const Fp16AccumParams& params, float* c, const IntFormat& fb) {
  s.validate();
  if (fb.bits > 4) throw std::invalid_argument(name + ": the integer operand is at most 4 bits");
  check_fp4_codes(a_fp4, static_cast<size_t>(s.m * s.k), (name + " A").c_str());
  check_int_codes(b, static_cast<size_t>(s.k * s.n), fb, (name + " B").c_str());
  if (fixed_point_applies(params)) {
    const std::vector<float> x = fp4_units(table, a_fp4, static_cast<size_t>(s.m * s.k));
    const std::vector<float> bf(b, b + s.k * s.n);
    kernels::shift_fp16(x.data(), bf.data(), s.m, s.n, s.k, params.chunk_length, params.group,
                        halve, c);
    return;
  }
  const double* t = table.data();
  const auto make_row = [&](int64_t i, int64_t k) {
    const double* tcol = t + a_fp4[idx(i, s.k, k)];  // stride 16 over the int4 operand
    const int8_t* brow = b + idx(k, s.n, 0);
    return [tcol, brow](size_t j) { return tcol[(brow[j] + 8) * 16]; };
  };
  const auto term = [&](int64_t i, int64_t k, int64_t j) {
    return t[(b[idx(k, s.n, j)] + 8) * 16 + a_fp4[idx(i, s.k, k)]];
  };
  fp16_gemm(s, params, make_row, term, halve, c);
}

}  // namespace

void gemm_int4_fp4(const int8_t* a, const uint8_t* b_fp4, const GemmShape& s, Fp4Phase phase,
                   const Fp16AccumParams& params, float* c, const IntFormat& fa) {
  shift_gemm_int_left("gemm_int4_fp4", shift_product_table(), a, b_fp4, s, phase == Fp4Phase::kOdd,
                      params, c, fa);
}

void gemm_fp4_int4(const uint8_t* a_fp4, const int8_t* b, const GemmShape& s, Fp4Phase phase,
                   const Fp16AccumParams& params, float* c, const IntFormat& fb) {
  shift_gemm_fp4_left("gemm_fp4_int4", shift_product_table(), a_fp4, b, s, phase == Fp4Phase::kOdd,
                      params, c, fb);
}

void gemm_int4_fp4_radix2(const int8_t* a, const uint8_t* b_fp4, const GemmShape& s,
                          const Fp16AccumParams& params, float* c, const IntFormat& fa) {
  shift_gemm_int_left("gemm_int4_fp4_radix2", radix2_product_table(), a, b_fp4, s, false, params, c,
                      fa);
}

void gemm_fp4_radix2_int4(const uint8_t* a_fp4, const int8_t* b, const GemmShape& s,
                          const Fp16AccumParams& params, float* c, const IntFormat& fb) {
  shift_gemm_fp4_left("gemm_fp4_radix2_int4", radix2_product_table(), a_fp4, b, s, false, params, c,
                      fb);
}

namespace {

void float_operand_gemm(const std::vector<float>& av, const std::vector<float>& bv,
                        const GemmShape& s, const Fp16AccumParams& params, float* c) {
  if (params.group != 1) {
    // A sum of float products is not exact in a double in general.
    throw std::invalid_argument("Fp16AccumParams: group applies to shift-MAC kernels only");
  }
  const float* ap = av.data();
  const float* bp = bv.data();
  // A product of two <= 11-bit significands is exact in double.
  const auto make_row = [&](int64_t i, int64_t k) {
    const double x = ap[idx(i, s.k, k)];
    const float* brow = bp + idx(k, s.n, 0);
    return [x, brow](size_t j) { return x * static_cast<double>(brow[j]); };
  };
  const auto term = [&](int64_t i, int64_t k, int64_t j) {
    return static_cast<double>(ap[idx(i, s.k, k)]) * static_cast<double>(bp[idx(k, s.n, j)]);
  };
  fp16_gemm(s, params, make_row, term, false, c);
}

}  // namespace

void gemm_fp16(const uint16_t* a, const uint16_t* b, const GemmShape& s,
               const Fp16AccumParams& params, float* c) {
  s.validate();
  const std::vector<float> av = decode_all(a, static_cast<size_t>(s.m * s.k), fp16());
  const std::vector<float> bv = decode_all(b, static_cast<size_t>(s.k * s.n), fp16());
  float_operand_gemm(av, bv, s, params, c);
}

void gemm_hfp8(const uint8_t* a, const Minifloat& fa, const uint8_t* b, const Minifloat& fb,
               const GemmShape& s, const Fp16AccumParams& params, float* c) {
  s.validate();
  const std::vector<float> av = widen_to_fp9(a, static_cast<size_t>(s.m * s.k), fa);
  const std::vector<float> bv = widen_to_fp9(b, static_cast<size_t>(s.k * s.n), fb);
  float_operand_gemm(av, bv, s, params, c);
}

namespace {

// Plain GEMM in T: products and running sums in T, k in increasing order, one output row at a time.
template <typename T>
void plain_gemm(const T* a, const T* b, const GemmShape& s, T* c) {
  s.validate();
  std::vector<T> row(static_cast<size_t>(s.n));
  for (int64_t i = 0; i < s.m; ++i) {
    std::fill(row.begin(), row.end(), T{0});
    for (int64_t k = 0; k < s.k; ++k) {
      const T x = a[idx(i, s.k, k)];
      const T* brow = b + idx(k, s.n, 0);
      T* r = row.data();
      for (int64_t j = 0; j < s.n; ++j) r[j] += x * brow[j];
    }
    std::copy(row.begin(), row.end(), c + idx(i, s.n, 0));
  }
}

}  // namespace

void gemm_fp32(const float* a, const float* b, const GemmShape& s, float* c) {
  s.validate();
  kernels::gemm_f32(a, b, s.m, s.n, s.k, c);
}

void gemm_f64(const double* a, const double* b, const GemmShape& s, double* c) {
  plain_gemm(a, b, s, c);
}

}  // namespace nibble::numerics
