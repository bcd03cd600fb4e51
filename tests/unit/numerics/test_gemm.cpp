#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "models/numerics/gemm.h"
#include "models/numerics/prng.h"

namespace nibble::numerics {
namespace {

std::vector<int8_t> random_ints(size_t n, const IntFormat& f, uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<int8_t> v(n);
  const uint64_t span = static_cast<uint64_t>(f.max() - f.min() + 1);
  for (auto& x : v) x = static_cast<int8_t>(f.min() + static_cast<int64_t>(rng.next() % span));
  return v;
}

std::vector<uint8_t> random_codes(size_t n, uint32_t count, uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(rng.next() % count);
  return v;
}

size_t at(int64_t r, int64_t cols, int64_t c) { return static_cast<size_t>(r * cols + c); }

TEST(GemmInt, HandComputed) {
  // A = [[1, -8, 7], [0, 2, -3]], B = [[7, -1], [-8, 2], [3, 0]].
  // C00 = 7 + 64 + 21 = 92; C01 = -1 - 16 + 0 = -17; C10 = 0 - 16 - 9 = -25; C11 = 0 + 4 + 0 = 4.
  const std::vector<int8_t> a = {1, -8, 7, 0, 2, -3};
  const std::vector<int8_t> b = {7, -1, -8, 2, 3, 0};
  std::vector<int64_t> c(4);
  const IntGemmStats st = gemm_int_acc(a.data(), kInt4, b.data(), kInt4, {2, 2, 3}, {}, c.data());
  EXPECT_EQ(c, (std::vector<int64_t>{92, -17, -25, 4}));
  EXPECT_EQ(st.overflows, 0u);
  // Scaled output: 92 * 0.001 = 0.092 -> FP16 0.0919799805 (1507 * 2^-14).
  std::vector<float> f(4);
  gemm_int(a.data(), kInt4, b.data(), kInt4, {2, 2, 3}, {}, 0.001, OutputFormat::kFp16, f.data());
  EXPECT_EQ(f[0], 1507.0f * std::ldexp(1.0f, -14));
  gemm_int(a.data(), kInt4, b.data(), kInt4, {2, 2, 3}, {}, 0.5, OutputFormat::kFp32, f.data());
  EXPECT_EQ(f[1], -8.5f);
}

// Per element, k in order, through the register model: the slow path's definition.
std::vector<int64_t> naive_int(const std::vector<int8_t>& a, const std::vector<int8_t>& b,
                               const GemmShape& s, const IntGemmParams& p, uint64_t* overflows) {
  std::vector<int64_t> c(static_cast<size_t>(s.m * s.n));
  *overflows = 0;
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      IntAccumulator acc(p.acc_bits, p.overflow);
      for (int64_t k = 0; k < s.k; ++k) acc.add(int64_t{a[at(i, s.k, k)]} * b[at(k, s.n, j)]);
      c[at(i, s.n, j)] = acc.value();
      *overflows += acc.overflow_count();
    }
  }
  return c;
}

TEST(GemmInt, FastAndSlowPathsMatchTheRegisterModel) {
  const GemmShape s{7, 9, 300};
  struct Case {
    IntFormat fa, fb;
    IntGemmParams p;
  };
  const Case cases[] = {
      {kInt4, kInt4, {32, OverflowMode::kWrap}},       // fast int32 path
      {kUint4, kInt4, {20, OverflowMode::kSaturate}},  // 300 * 120 = 36000 < 2^19: fast
      {kInt2, kInt2, {8, OverflowMode::kWrap}},        // 300 * 4 > 127: slow, wraps
      {kInt4, kInt4, {12, OverflowMode::kSaturate}},   // slow, saturates
      {kInt4, kInt4, {12, OverflowMode::kWrap}},
  };
  for (const Case& c : cases) {
    auto a = random_ints(static_cast<size_t>(s.m * s.k), c.fa, 1);
    auto b = random_ints(static_cast<size_t>(s.k * s.n), c.fb, 2);
    if (c.p.acc_bits <= 12) {
      // Negative operands only, so every product is positive and the sums really overflow
      // (INT2: products 1..4, mean 2.25 * 300 = 675 > 127; INT4: mean 20.25 * 300 > 2047).
      for (auto& x : a) x = static_cast<int8_t>(x >= 0 ? -x - 1 : x);
      for (auto& x : b) x = static_cast<int8_t>(x >= 0 ? -x - 1 : x);
    }
    std::vector<int64_t> got(static_cast<size_t>(s.m * s.n));
    const IntGemmStats st = gemm_int_acc(a.data(), c.fa, b.data(), c.fb, s, c.p, got.data());
    uint64_t overflows = 0;
    EXPECT_EQ(got, naive_int(a, b, s, c.p, &overflows)) << c.p.acc_bits;
    EXPECT_EQ(st.overflows, overflows);
    if (c.p.acc_bits <= 12) {
      EXPECT_GT(overflows, 0u) << c.p.acc_bits;
    }
  }
}

TEST(GemmInt, FloatPathHoldsSumsUpTo2To24) {
  // All operands -128 (INT8): every product is 16384 = 2^14, so K = 1024 sums to exactly 2^24,
  // the last integer bound the float path takes (bound = K * 128 * 128 <= 2^24); K = 1025 goes
  // to the int32 path and sums to 2^24 + 2^14 = 16793600, which a float could not hold.
  for (const int64_t k : {int64_t{1024}, int64_t{1025}}) {
    const std::vector<int8_t> a(static_cast<size_t>(2 * k), -128);
    const std::vector<int8_t> b(static_cast<size_t>(k * 3), -128);
    std::vector<int64_t> c(6);
    gemm_int_acc(a.data(), kInt8, b.data(), kInt8, {2, 3, k}, {32, OverflowMode::kWrap}, c.data());
    EXPECT_EQ(c, std::vector<int64_t>(6, k * 16384)) << k;
  }
}

TEST(GemmInt, RejectsBadInput) {
  const std::vector<int8_t> a = {9};
  const std::vector<int8_t> b = {1};
  std::vector<int64_t> c(1);
  EXPECT_THROW(gemm_int_acc(a.data(), kInt4, b.data(), kInt4, {1, 1, 1}, {}, c.data()),
               std::out_of_range);
  EXPECT_THROW(gemm_int_acc(b.data(), kInt4, b.data(), kInt4, {0, 1, 1}, {}, c.data()),
               std::invalid_argument);
  EXPECT_THROW(gemm_int_acc(b.data(), kInt4, b.data(), kInt4, {1, 1, 1}, {70, OverflowMode::kWrap},
                            c.data()),
               std::invalid_argument);
}

// FP16 accumulation reference: one Fp16Accumulator per element with the exact products.
template <typename Term>
std::vector<float> naive_fp16(const GemmShape& s, const Fp16AccumParams& p, Term term, bool halve) {
  std::vector<float> c(static_cast<size_t>(s.m * s.n));
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      Fp16Accumulator acc(p, static_cast<uint64_t>(i * s.n + j));
      for (int64_t k = 0; k < s.k; ++k) acc.add(term(i, k, j));
      const double v = acc.finish();
      c[at(i, s.n, j)] = static_cast<float>(halve ? fp16_halve(v) : v);
    }
  }
  return c;
}

TEST(GemmInt4Fp4, MatchesPerElementModelForAllChunkingsAndPhases) {
  const GemmShape s{5, 11, 200};
  const auto a = random_ints(static_cast<size_t>(s.m * s.k), kInt4, 3);
  const auto b = random_codes(static_cast<size_t>(s.k * s.n), 16, 4);
  for (const int64_t cl : {int64_t{0}, int64_t{1}, int64_t{3}, int64_t{64}, s.k, int64_t{1000}}) {
    for (const bool stochastic : {false, true}) {
      const Fp16AccumParams p{cl, stochastic, 5};
      const auto term = [&](int64_t i, int64_t k, int64_t j) {
        return static_cast<double>(a[at(i, s.k, k)]) * fp4_decode(b[at(k, s.n, j)]);
      };
      for (const Fp4Phase ph : {Fp4Phase::kEven, Fp4Phase::kOdd}) {
        std::vector<float> c(static_cast<size_t>(s.m * s.n));
        gemm_int4_fp4(a.data(), b.data(), s, ph, p, c.data());
        EXPECT_EQ(c, naive_fp16(s, p, term, ph == Fp4Phase::kOdd)) << cl << stochastic;
      }
    }
  }
}

// Bit patterns, so that NaN results compare equal to NaN.
std::vector<uint32_t> bits_of(const std::vector<float>& v) {
  std::vector<uint32_t> b(v.size());
  std::memcpy(b.data(), v.data(), sizeof(float) * v.size());
  return b;
}

// The reference with groups: `group` exact products summed in a double before each add.
template <typename Term>
std::vector<float> naive_grouped(const GemmShape& s, const Fp16AccumParams& p, Term term,
                                 bool halve) {
  std::vector<float> c(static_cast<size_t>(s.m * s.n));
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      Fp16Accumulator acc(p);
      for (int64_t k0 = 0; k0 < s.k; k0 += p.group) {
        double inner = 0.0;
        for (int64_t k = k0; k < std::min(s.k, k0 + p.group); ++k) inner += term(i, k, j);
        acc.add(inner);
      }
      const double v = acc.finish();
      c[at(i, s.n, j)] = static_cast<float>(halve ? fp16_halve(v) : v);
    }
  }
  return c;
}

TEST(GemmInt4Fp4, FixedPointKernelMatchesPerElementModelOnEveryBlockEdge) {
  // The kernel works on blocks of 4 rows x 8 columns and of 256 k: shapes below, at and past each
  // edge, every engine (both operand orders, radix 4 and 2), chunkings (100: chunks that straddle
  // k blocks) and groups, against the reference.
  // UINT4 activations and all-large FP4 codes (5..7 and 13..15) make sums big enough that
  // FP16 rounding happens on most adds.
  int cases = 0;
  for (const int64_t m : {1, 3, 4, 5, 9}) {
    for (const int64_t n : {1, 7, 8, 9, 17}) {
      for (const int64_t k : {1, 5, 64, 130, 256, 600}) {
        const GemmShape s{m, n, k};
        const auto ints = random_ints(static_cast<size_t>(m * k), kUint4, 10 + cases);
        auto codes = random_codes(static_cast<size_t>(k * n), 16, 20 + cases);
        for (size_t i = 0; i < codes.size(); i += 2) codes[i] = static_cast<uint8_t>(codes[i] | 5);
        // FP4-left operands: codes [m x k], ints [k x n].
        const auto codes_l = random_codes(static_cast<size_t>(m * k), 16, 30 + cases);
        const auto ints_r = random_ints(static_cast<size_t>(k * n), kInt4, 40 + cases);
        for (const int64_t cl : {int64_t{0}, int64_t{1}, int64_t{64}, int64_t{100}}) {
          for (const int64_t g : {int64_t{1}, int64_t{4}, int64_t{5}}) {
            const Fp16AccumParams p{cl, false, 1, g};
            const auto t_il = [&](int64_t i, int64_t kk, int64_t j) {
              return static_cast<double>(ints[at(i, k, kk)]) * fp4_decode(codes[at(kk, n, j)]);
            };
            const auto t_fl = [&](int64_t i, int64_t kk, int64_t j) {
              return fp4_decode(codes_l[at(i, k, kk)]) * static_cast<double>(ints_r[at(kk, n, j)]);
            };
            const auto t_r2 = [&](int64_t i, int64_t kk, int64_t j) {
              return static_cast<double>(ints[at(i, k, kk)]) *
                     fp4_radix2_decode(codes[at(kk, n, j)]);
            };
            std::vector<float> c(static_cast<size_t>(m * n));
            gemm_int4_fp4(ints.data(), codes.data(), s, Fp4Phase::kOdd, p, c.data(), kUint4);
            EXPECT_EQ(bits_of(c), bits_of(naive_grouped(s, p, t_il, true))) << m << n << k;
            gemm_fp4_int4(codes_l.data(), ints_r.data(), s, Fp4Phase::kEven, p, c.data());
            EXPECT_EQ(bits_of(c), bits_of(naive_grouped(s, p, t_fl, false))) << m << n << k;
            gemm_int4_fp4_radix2(ints.data(), codes.data(), s, p, c.data(), kUint4);
            EXPECT_EQ(bits_of(c), bits_of(naive_grouped(s, p, t_r2, false))) << m << n << k;
            cases += 3;
          }
        }
      }
    }
  }
  EXPECT_EQ(cases, 5 * 5 * 6 * 4 * 3 * 3);  // m x n x k x chunkings x groups x engines = 5400
}

TEST(GemmInt4Fp4, OverflowsToInfinityAndOppositeInfinitiesGiveNaN) {
  // UINT4 15 x FP4 code 7 (4^3 = 64) = 960 per product. 68 adds: 65280, exact (a multiple of the
  // ulp 32 there); the 69th: 66240 >= 65520 (65504 + half an ulp) rounds to +inf, and the
  // negative products after it (code 15 = -64) leave it there.
  std::vector<int8_t> a(80, 15);
  std::vector<uint8_t> b(80, 7);
  float c = 0.0f;
  gemm_int4_fp4(a.data(), b.data(), {1, 1, 68}, Fp4Phase::kEven, {0, false, 1}, &c, kUint4);
  EXPECT_EQ(c, 65280.0f);
  // + 14 x 16 (code 6 = 4^2) = 65504, the largest FP16; + 15 x 16 = 65520, the tie between 65504
  // and 65536 = 2^16, goes to the even 2^16: +inf.
  a[68] = 14;
  b[68] = 6;
  gemm_int4_fp4(a.data(), b.data(), {1, 1, 69}, Fp4Phase::kEven, {0, false, 1}, &c, kUint4);
  EXPECT_EQ(c, 65504.0f);
  a[68] = 15;
  gemm_int4_fp4(a.data(), b.data(), {1, 1, 69}, Fp4Phase::kEven, {0, false, 1}, &c, kUint4);
  EXPECT_EQ(c, std::numeric_limits<float>::infinity());
  b[68] = 7;
  for (size_t k = 69; k < 80; ++k) b[k] = 15;
  gemm_int4_fp4(a.data(), b.data(), {1, 1, 80}, Fp4Phase::kEven, {0, false, 1}, &c, kUint4);
  EXPECT_EQ(c, std::numeric_limits<float>::infinity());
  // Chunks of 69: the first closes at +inf, the second (69 x -960) at -inf; +inf + -inf = NaN.
  std::vector<int8_t> a2(138, 15);
  std::vector<uint8_t> b2(138, 7);
  for (size_t k = 69; k < 138; ++k) b2[k] = 15;
  gemm_int4_fp4(a2.data(), b2.data(), {1, 1, 138}, Fp4Phase::kOdd, {69, false, 1}, &c, kUint4);
  EXPECT_TRUE(std::isnan(c));
  // The same through the reference, bit for bit (sign of the NaN included).
  const auto term = [&](int64_t, int64_t k, int64_t) {
    return 15.0 * fp4_decode(b2[static_cast<size_t>(k)]);
  };
  const Fp16AccumParams p{69, false, 1};
  EXPECT_EQ(bits_of({c}), bits_of(naive_grouped({1, 1, 138}, p, term, true)));
}

TEST(GemmInt4Fp4, OddPhaseIsHalfTheEvenResultAndFp4LeftIsTheTranspose) {
  const GemmShape s{6, 4, 50};
  const auto a = random_ints(static_cast<size_t>(s.m * s.k), kInt4, 6);
  const auto b = random_codes(static_cast<size_t>(s.k * s.n), 16, 7);
  std::vector<float> even(24), odd(24);
  gemm_int4_fp4(a.data(), b.data(), s, Fp4Phase::kEven, {}, even.data());
  gemm_int4_fp4(a.data(), b.data(), s, Fp4Phase::kOdd, {}, odd.data());
  for (size_t i = 0; i < even.size(); ++i) EXPECT_EQ(odd[i], 0.5f * even[i]);  // all > 2^-13
  // C^T = B^T A^T: the FP4-left kernel on transposed operands gives the transposed result.
  std::vector<uint8_t> bt(b.size());
  std::vector<int8_t> at_(a.size());
  for (int64_t k = 0; k < s.k; ++k) {
    for (int64_t j = 0; j < s.n; ++j) bt[at(j, s.k, k)] = b[at(k, s.n, j)];
    for (int64_t i = 0; i < s.m; ++i) at_[at(k, s.m, i)] = a[at(i, s.k, k)];
  }
  std::vector<float> ct(24);
  gemm_fp4_int4(bt.data(), at_.data(), {s.n, s.m, s.k}, Fp4Phase::kEven, {}, ct.data());
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) EXPECT_EQ(ct[at(j, s.m, i)], even[at(i, s.n, j)]);
  }
  std::vector<uint8_t> bad = b;
  bad[0] = 16;
  EXPECT_THROW(gemm_int4_fp4(a.data(), bad.data(), s, Fp4Phase::kEven, {}, even.data()),
               std::out_of_range);
}

TEST(GemmInt4Fp4, SmallExactCase) {
  // K = 3, one output: 7 * 64 + 7 * 64 + 1 * 2^-6 = 896.015625; FP16 ulp at 896 is 0.5, so the
  // running sum 896 + 0.015625 rounds back to 896. Odd phase: 448.
  const std::vector<int8_t> a = {7, 7, 1};
  const std::vector<uint8_t> b = {7, 7, 1};
  float c = 0.0f;
  gemm_int4_fp4(a.data(), b.data(), {1, 1, 3}, Fp4Phase::kEven, {0, false, 1}, &c);
  EXPECT_EQ(c, 896.0f);
  gemm_int4_fp4(a.data(), b.data(), {1, 1, 3}, Fp4Phase::kOdd, {0, false, 1}, &c);
  EXPECT_EQ(c, 448.0f);
}

TEST(GemmInt4Fp4, FourWayInnerProductsRoundOncePerGroup) {
  // K = 12, one output. k 0..7: 4 × 64 = 256 (FP4 code 7 = 4^3); k 8..11: 2 × 1/4 = 0.5 (code 3).
  // One add per product: the sum reaches 2048 exactly, where the FP16 ulp is 2, and each 0.5 is
  // under half an ulp: 2048 + 0.5 rounds back to 2048 four times → 2048.
  // 4-way groups: 1024, 1024, then 0.5·4 = 2 summed exactly before one add: 2048 + 2 = 2050.
  std::vector<int8_t> a(12, 4);
  std::vector<uint8_t> b(12, 7);
  for (int k = 8; k < 12; ++k) a[k] = 2, b[k] = 3;
  float c = 0.0f;
  gemm_int4_fp4(a.data(), b.data(), {1, 1, 12}, Fp4Phase::kEven, {0, false, 1, 1}, &c);
  EXPECT_EQ(c, 2048.0f);
  gemm_int4_fp4(a.data(), b.data(), {1, 1, 12}, Fp4Phase::kEven, {0, false, 1, 4}, &c);
  EXPECT_EQ(c, 2050.0f);
  // The stochastic path groups the same way: its RNE-free sums are exact here (2050 needs no
  // rounding), so it agrees.
  gemm_int4_fp4(a.data(), b.data(), {1, 1, 12}, Fp4Phase::kEven, {0, true, 1, 4}, &c);
  EXPECT_EQ(c, 2050.0f);
  // A last group may be short: K = 12 in groups of 5 is 5 + 5 + 2: 1280, then 1280 + (256·3 +
  // 0.5·2 = 769) = 2049 → RNE to even at ulp 2: 2048; then + 1 (0.5·2) = 2049 → 2048.
  gemm_int4_fp4(a.data(), b.data(), {1, 1, 12}, Fp4Phase::kEven, {0, false, 1, 5}, &c);
  EXPECT_EQ(c, 2048.0f);
  EXPECT_THROW(gemm_int4_fp4(a.data(), b.data(), {1, 1, 12}, Fp4Phase::kEven, {0, false, 1, 0}, &c),
               std::invalid_argument);
}

TEST(GemmInt4Fp4, TakesUnsignedActivationsForTheUpdateGemm) {
  // dW = X^T dY with PACT activations 0..15: 15 * 4 + 12 * (-1/4) = 60 - 3 = 57 (exact in FP16).
  // FP4 codes: 5 = +4^(5-4) = 4; 0b1011 = 11 = -4^(3-4) = -1/4.
  const std::vector<int8_t> a = {15, 12};
  const std::vector<uint8_t> b = {5, 11};
  float c = 0.0f;
  gemm_int4_fp4(a.data(), b.data(), {1, 1, 2}, Fp4Phase::kEven, {0, false, 1}, &c, kUint4);
  EXPECT_EQ(c, 57.0f);
  gemm_fp4_int4(b.data(), a.data(), {1, 1, 2}, Fp4Phase::kOdd, {0, false, 1}, &c, kUint4);
  EXPECT_EQ(c, 28.5f);  // odd phase: half
  // Codes above 7 are refused as INT4.
  EXPECT_THROW(gemm_int4_fp4(a.data(), b.data(), {1, 1, 2}, Fp4Phase::kEven, {}, &c),
               std::out_of_range);
}

TEST(GemmFp4Radix2, ShiftsByPowersOfTwo) {
  // Radix-2 codes: field e is 2^(e-1); 4 = 2^3 = 8, 0b1010 = 10 = -2^1 = -2, 1 = 2^0 = 1.
  // 15·8 + 12·(−2) + 3·1 = 120 − 24 + 3 = 99 (exact in FP16), either operand order.
  const std::vector<int8_t> a = {15, 12, 3};
  const std::vector<uint8_t> b = {4, 10, 1};
  float c = 0.0f;
  gemm_int4_fp4_radix2(a.data(), b.data(), {1, 1, 3}, {0, false, 1}, &c, kUint4);
  EXPECT_EQ(c, 99.0f);
  gemm_fp4_radix2_int4(b.data(), a.data(), {1, 1, 3}, {0, false, 1}, &c, kUint4);
  EXPECT_EQ(c, 99.0f);
  // Past 2048 FP16 steps by 2: 15·64 three times gives 960, 1920, 2880 (exact), then + 3·1 =
  // 2883, a tie between 2882 (1441·2) and 2884 (1442·2): RNE to the even 2884.
  const std::vector<int8_t> a2 = {15, 15, 15, 3};
  const std::vector<uint8_t> b2 = {7, 7, 7, 1};
  gemm_int4_fp4_radix2(a2.data(), b2.data(), {1, 1, 4}, {0, false, 1}, &c, kUint4);
  EXPECT_EQ(c, 2884.0f);
  EXPECT_THROW(gemm_int4_fp4_radix2(a.data(), b.data(), {1, 1, 3}, {}, &c), std::out_of_range);
}

TEST(GemmFp16, MatchesPerElementModel) {
  const GemmShape s{4, 7, 300};
  // Random finite FP16 codes in a moderate range (fields 8..20: 2^-7 .. 2^5).
  SplitMix64 rng(8);
  const auto gen = [&](size_t n) {
    std::vector<uint16_t> v(n);
    for (auto& x : v) {
      const uint64_t r = rng.next();
      x = static_cast<uint16_t>(((r & 1) << 15) | ((8 + (r >> 1) % 13) << 10) | ((r >> 8) & 1023));
    }
    return v;
  };
  const auto a = gen(static_cast<size_t>(s.m * s.k));
  const auto b = gen(static_cast<size_t>(s.k * s.n));
  for (const int64_t cl : {int64_t{0}, int64_t{16}, int64_t{64}}) {
    for (const bool stochastic : {false, true}) {
      const Fp16AccumParams p{cl, stochastic, 11};
      std::vector<float> c(static_cast<size_t>(s.m * s.n));
      gemm_fp16(a.data(), b.data(), s, p, c.data());
      const auto term = [&](int64_t i, int64_t k, int64_t j) {
        return fp16().decode(a[at(i, s.k, k)]) * fp16().decode(b[at(k, s.n, j)]);
      };
      EXPECT_EQ(c, naive_fp16(s, p, term, false));
    }
  }
}

TEST(GemmFp16, RoundsEveryPartialSum) {
  // 1 * 1 + 2^-11 * 1 + 2^-11 * 1: 1 + 2^-11 is a tie -> 1 (even), twice: 1. In exact
  // arithmetic the sum is 1 + 2^-10, representable: per-step rounding loses it.
  // FP16 codes: 1.0 = 0x3C00; 2^-11 = field -11 + 15 = 4 -> 0x1000.
  const std::vector<uint16_t> a = {0x3C00, 0x1000, 0x1000};
  const std::vector<uint16_t> b(3, uint16_t{0x3C00});
  float c = 0.0f;
  gemm_fp16(a.data(), b.data(), {1, 1, 3}, {0, false, 1}, &c);
  EXPECT_EQ(c, 1.0f);
  // Chunk 2: chunk {1, 2^-11} -> 1; chunk {2^-11} -> 2^-11; 1 + 2^-11 -> 1 again.
  gemm_fp16(a.data(), b.data(), {1, 1, 3}, {2, false, 1}, &c);
  EXPECT_EQ(c, 1.0f);
  // Small terms first with chunk 2: {2^-11, 2^-11} = 2^-10 exactly, then 2^-10 + 1 is exact.
  const std::vector<uint16_t> r = {a[1], a[2], a[0]};
  gemm_fp16(r.data(), b.data(), {1, 1, 3}, {2, false, 1}, &c);
  EXPECT_EQ(c, 1.0f + std::ldexp(1.0f, -10));
}

TEST(GemmHfp8, MatchesPerElementModelThroughFp9) {
  const GemmShape s{3, 5, 128};
  auto a = random_codes(static_cast<size_t>(s.m * s.k), 256, 12);
  auto b = random_codes(static_cast<size_t>(s.k * s.n), 256, 13);
  // Keep B (1-5-2) finite and moderate: clear the top exponent bits' all-ones pattern.
  for (auto& x : b) x = static_cast<uint8_t>(x & 0xBF);
  const Fp16AccumParams p{64, false, 1};
  std::vector<float> c(static_cast<size_t>(s.m * s.n));
  gemm_hfp8(a.data(), hfp8_fwd(), b.data(), hfp8_bwd(), s, p, c.data());
  const auto term = [&](int64_t i, int64_t k, int64_t j) {
    return hfp8_fwd().decode(a[at(i, s.k, k)]) * hfp8_bwd().decode(b[at(k, s.n, j)]);
  };
  EXPECT_EQ(c, naive_fp16(s, p, term, false));
  EXPECT_THROW(gemm_hfp8(a.data(), fp16(), b.data(), hfp8_bwd(), s, p, c.data()),
               std::invalid_argument);
}

TEST(GemmFloat, BlockedFp32IsTheTextbookLoopBitForBit) {
  // Blocks of 4 rows x 8 columns x 256 k: shapes at and past each edge against the textbook
  // r[j] += x * b[k][j].
  SplitMix64 rng(77);
  const auto uniform = [&rng]() {
    return static_cast<float>(static_cast<double>(rng.next() >> 11) * 0x1.0p-53 * 2.0 - 1.0);
  };
  for (const int64_t m : {1, 4, 7}) {
    for (const int64_t n : {1, 8, 13}) {
      for (const int64_t k : {1, 9, 300, 600}) {
        std::vector<float> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n));
        for (float& v : a) v = uniform();
        for (float& v : b) v = uniform();
        std::vector<float> want(static_cast<size_t>(m * n), 0.0f);
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t kk = 0; kk < k; ++kk) {
            const float x = a[at(i, k, kk)];
            for (int64_t j = 0; j < n; ++j) {
              const float prod = x * b[at(kk, n, j)];  // rounded before the add: no contraction
              want[at(i, n, j)] = want[at(i, n, j)] + prod;
            }
          }
        }
        std::vector<float> c(want.size());
        gemm_fp32(a.data(), b.data(), {m, n, k}, c.data());
        EXPECT_EQ(bits_of(c), bits_of(want)) << m << " " << n << " " << k;
      }
    }
  }
}

TEST(GemmFloat, Fp32AndF64References) {
  const std::vector<float> a = {1.0f, 2.0f, 3.0f, 4.0f};  // 2 x 2
  const std::vector<float> b = {5.0f, 6.0f, 7.0f, 8.0f};
  std::vector<float> c(4);
  gemm_fp32(a.data(), b.data(), {2, 2, 2}, c.data());
  EXPECT_EQ(c, (std::vector<float>{19.0f, 22.0f, 43.0f, 50.0f}));  // 1*5+2*7, 1*6+2*8, ...
  // Float rounding per step: 1 + 2^-24 + 2^-24 = 1 (each tie goes to even), unlike double.
  const std::vector<float> x = {1.0f, std::ldexp(1.0f, -24), std::ldexp(1.0f, -24)};
  const std::vector<float> ones = {1.0f, 1.0f, 1.0f};
  float y = 0.0f;
  gemm_fp32(x.data(), ones.data(), {1, 1, 3}, &y);
  EXPECT_EQ(y, 1.0f);
  const std::vector<double> xd = {1.0, 0x1p-24, 0x1p-24};
  const std::vector<double> od = {1.0, 1.0, 1.0};
  double yd = 0.0;
  gemm_f64(xd.data(), od.data(), {1, 1, 3}, &yd);
  EXPECT_EQ(yd, 1.0 + 0x1p-23);
}

}  // namespace
}  // namespace nibble::numerics
