#include "models/numerics/gemm_kernels.h"

#include <algorithm>
#include <cstring>
#include <vector>

// Vector-typed functions here are internal and inlined: no vector crosses an ABI boundary, so
// GCC's note that AVX vector arguments change the ABI does not apply.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace nibble::numerics::kernels {

namespace {

// Eight float lanes; GCC lowers the operators to two SSE2 or one AVX2 instruction each.
constexpr int kLanes = 8;
typedef float F8 __attribute__((vector_size(32)));
typedef uint32_t U8 __attribute__((vector_size(32)));
typedef int32_t I8 __attribute__((vector_size(32)));
constexpr int kRows = 4;  // rows of C per block: 4 x 8 sums stay in registers

#define NIBBLE_INLINE inline __attribute__((always_inline))

// The same bits as another type of the same size (GCC's vector casts, spelt portably).
template <typename To, typename From>
NIBBLE_INLINE To bits_as(const From& v) {
  static_assert(sizeof(To) == sizeof(From));
  To t;
  std::memcpy(&t, &v, sizeof t);
  return t;
}

NIBBLE_INLINE F8 load(const float* p) {
  F8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// B[k x n] as ceil(n / 8) panels of k x 8 floats (the columns 8p .. 8p + 7 of every row, zero
// past n), so a block's k loop reads one contiguous stream.
std::vector<float> pack_panels(const float* b, int64_t n, int64_t k) {
  const int64_t panels = (n + kLanes - 1) / kLanes;
  std::vector<float> packed(static_cast<size_t>(panels * k * kLanes), 0.0f);
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t width = std::min<int64_t>(kLanes, n - p * kLanes);
    float* dst = packed.data() + p * k * kLanes;
    for (int64_t kk = 0; kk < k; ++kk) {
      std::memcpy(dst + kk * kLanes, b + kk * n + p * kLanes, sizeof(float) * width);
    }
  }
  return packed;
}

NIBBLE_INLINE void store(const F8& v, float scale, int64_t width, float* dst) {
  float lanes[kLanes];
  const F8 scaled = v * scale;
  std::memcpy(lanes, &scaled, sizeof lanes);
  std::copy(lanes, lanes + width, dst);
}

// Rows [i, i + R) of C, one panel: R x 8 float running sums.
template <int R>
NIBBLE_INLINE void f32_block(const float* a, int64_t k, const float* panel, F8* acc) {
  for (int r = 0; r < R; ++r) acc[r] = F8{};
  for (int64_t kk = 0; kk < k; ++kk) {
    const F8 bv = load(panel + kk * kLanes);
    for (int r = 0; r < R; ++r) acc[r] = acc[r] + a[r * k + kk] * bv;
  }
}

// x (an integer in a float, |x| < 2^24) rounded to 11 significant bits with ties to even, and
// set to +-inf from 2^22 up: FP16 rounding of x * 2^-6. Keeping 10 of a float's 23 fraction
// bits is RNE on the bit pattern (add 2^12 - 1 plus the kept lsb, clear 13 bits; a carry moves
// into the exponent correctly). Inf stays inf, NaN stays NaN (its compare is false).
NIBBLE_INLINE F8 round_fp16_units(F8 x) {
  U8 bits = bits_as<U8>(x);
  bits += 0xFFFu + ((bits >> 13) & 1u);
  bits &= ~U8{} ^ 0x1FFFu;
  const F8 magnitude = bits_as<F8>(bits & 0x7FFFFFFFu);
  const U8 over = bits_as<U8>(magnitude >= 4194304.0f);  // 2^22 units = 65536: 65520 and up
  const U8 inf = (bits & 0x80000000u) | 0x7F800000u;
  return bits_as<F8>((bits & ~over) | (inf & over));
}

// Rows [i, i + R) of C, one panel, FP16 accumulation as gemm.cpp's fp16_gemm_rne: chunk
// boundaries and groups depend only on k, so all lanes and rows close them together.
template <int R>
NIBBLE_INLINE void shift_block(const float* x, int64_t k, const float* panel, int64_t chunk_length,
                               int64_t group, F8* total) {
  F8 chunk[R];
  F8 inner[R];
  for (int r = 0; r < R; ++r) total[r] = chunk[r] = inner[r] = F8{};
  int64_t in_chunk = 0;
  int64_t in_group = 0;
  for (int64_t kk = 0; kk < k; ++kk) {
    const F8 bv = load(panel + kk * kLanes);
    if (group == 1) {
      for (int r = 0; r < R; ++r) chunk[r] = round_fp16_units(chunk[r] + x[r * k + kk] * bv);
    } else {
      for (int r = 0; r < R; ++r) inner[r] = inner[r] + x[r * k + kk] * bv;  // exact integers
      if (++in_group < group && kk + 1 < k) continue;
      for (int r = 0; r < R; ++r) {
        chunk[r] = round_fp16_units(chunk[r] + inner[r]);
        inner[r] = F8{};
      }
      in_group = 0;
    }
    if (++in_chunk == chunk_length) {
      for (int r = 0; r < R; ++r) {
        total[r] = round_fp16_units(total[r] + chunk[r]);
        chunk[r] = F8{};
      }
      in_chunk = 0;
    }
  }
  if (in_chunk > 0) {
    for (int r = 0; r < R; ++r) total[r] = round_fp16_units(total[r] + chunk[r]);
  }
}

enum class Sum { kFloat, kShiftFp16 };

struct ShiftParams {
  int64_t chunk_length = 0;
  int64_t group = 1;
};

// Every row block and panel of C, the sums stored times `scale`. Inlined into each target clone
// below, so the whole loop nest is compiled for that target.
template <Sum kind>
NIBBLE_INLINE void over_blocks(const float* a, const std::vector<float>& packed, int64_t m,
                               int64_t n, int64_t k, const ShiftParams& sp, float scale, float* c) {
  const int64_t panels = (n + kLanes - 1) / kLanes;
  for (int64_t p = 0; p < panels; ++p) {
    const float* panel = packed.data() + p * k * kLanes;
    const int64_t width = std::min<int64_t>(kLanes, n - p * kLanes);
    F8 sums[kRows];
    int64_t i = 0;
    for (; i + kRows <= m; i += kRows) {
      if constexpr (kind == Sum::kFloat) {
        f32_block<kRows>(a + i * k, k, panel, sums);
      } else {
        shift_block<kRows>(a + i * k, k, panel, sp.chunk_length, sp.group, sums);
      }
      for (int r = 0; r < kRows; ++r) store(sums[r], scale, width, c + (i + r) * n + p * kLanes);
    }
    for (; i < m; ++i) {
      if constexpr (kind == Sum::kFloat) {
        f32_block<1>(a + i * k, k, panel, sums);
      } else {
        shift_block<1>(a + i * k, k, panel, sp.chunk_length, sp.group, sums);
      }
      store(sums[0], scale, width, c + i * n + p * kLanes);
    }
  }
}

}  // namespace

__attribute__((target_clones("avx2", "default"))) void gemm_f32(const float* a, const float* b,
                                                                int64_t m, int64_t n, int64_t k,
                                                                float* c) {
  const std::vector<float> packed = pack_panels(b, n, k);
  over_blocks<Sum::kFloat>(a, packed, m, n, k, ShiftParams{}, 1.0f, c);
}

__attribute__((target_clones("avx2", "default"))) void shift_fp16(const float* x, const float* b,
                                                                  int64_t m, int64_t n, int64_t k,
                                                                  int64_t chunk_length,
                                                                  int64_t group, bool halve,
                                                                  float* c) {
  const std::vector<float> packed = pack_panels(b, n, k);
  over_blocks<Sum::kShiftFp16>(x, packed, m, n, k, ShiftParams{chunk_length, group},
                               halve ? 0x1p-7f : 0x1p-6f, c);
}

}  // namespace nibble::numerics::kernels
