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

// The k loop runs in blocks of kKBlock so that a block's rows of A and slice of a panel stay in
// cache while every row block and panel of C passes over them; between blocks each element's
// running state waits in memory. Only where the k loop pauses changes, not what it computes.
constexpr int64_t kKBlock = 256;

// Where an FP16 sum stands between k blocks: chunk and group positions depend only on k, so
// every element has the same ones.
struct Position {
  int64_t in_chunk = 0;
  int64_t in_group = 0;
};

// Of R consecutive rows of C in one panel: the running sums (for FP16: the total), and for FP16
// the open chunk and group sums.
// (Plain floats, 8 per row: a std::vector of a vector type would not keep its alignment.)
struct BlockState {
  float* sum;
  float* chunk;
  float* inner;
};

NIBBLE_INLINE void put(float* p, const F8& v) { std::memcpy(p, &v, sizeof v); }

// Rows [i, i + R) of C, one panel, k in [k0, k1): R x 8 float running sums.
template <int R>
NIBBLE_INLINE void f32_block(const float* a, int64_t lda, int64_t k0, int64_t k1,
                             const float* panel, const BlockState& st) {
  F8 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = load(st.sum + r * kLanes);
  for (int64_t kk = k0; kk < k1; ++kk) {
    const F8 bv = load(panel + kk * kLanes);
    for (int r = 0; r < R; ++r) acc[r] = acc[r] + a[r * lda + kk] * bv;
  }
  for (int r = 0; r < R; ++r) put(st.sum + r * kLanes, acc[r]);
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

// Rows [i, i + R) of C, one panel, k in [k0, k1) of k, FP16 accumulation as gemm.cpp's
// fp16_gemm_rne: chunk boundaries and groups depend only on k, so all lanes and rows close them
// together. `pos` is where the sums stand at k0, and is moved to where they stand at k1.
template <int R>
NIBBLE_INLINE void shift_block(const float* x, int64_t lda, int64_t k0, int64_t k1, int64_t k,
                               const float* panel, int64_t chunk_length, int64_t group,
                               const BlockState& st, Position& pos) {
  F8 total[R];
  F8 chunk[R];
  F8 inner[R];
  for (int r = 0; r < R; ++r) {
    total[r] = load(st.sum + r * kLanes);
    chunk[r] = load(st.chunk + r * kLanes);
    inner[r] = load(st.inner + r * kLanes);
  }
  int64_t in_chunk = pos.in_chunk;
  int64_t in_group = pos.in_group;
  for (int64_t kk = k0; kk < k1; ++kk) {
    const F8 bv = load(panel + kk * kLanes);
    if (group == 1) {
      for (int r = 0; r < R; ++r) chunk[r] = round_fp16_units(chunk[r] + x[r * lda + kk] * bv);
    } else {
      for (int r = 0; r < R; ++r) inner[r] = inner[r] + x[r * lda + kk] * bv;  // exact integers
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
  for (int r = 0; r < R; ++r) {
    put(st.sum + r * kLanes, total[r]);
    put(st.chunk + r * kLanes, chunk[r]);
    put(st.inner + r * kLanes, inner[r]);
  }
  pos = {in_chunk, in_group};
}

enum class Sum { kFloat, kShiftFp16 };

struct ShiftParams {
  int64_t chunk_length = 0;
  int64_t group = 1;
};

template <Sum kind, int R>
NIBBLE_INLINE void run_block(const float* a, int64_t k, int64_t k0, int64_t k1, const float* panel,
                             const ShiftParams& sp, const BlockState& st, Position& pos) {
  if constexpr (kind == Sum::kFloat) {
    f32_block<R>(a, k, k0, k1, panel, st);
  } else {
    shift_block<R>(a, k, k0, k1, k, panel, sp.chunk_length, sp.group, st, pos);
  }
}

// Every k block, panel and row block of C, then the sums stored times `scale`. Inlined into each
// target clone below, so the whole loop nest is compiled for that target.
template <Sum kind>
NIBBLE_INLINE void over_blocks(const float* a, const std::vector<float>& packed, int64_t m,
                               int64_t n, int64_t k, const ShiftParams& sp, float scale, float* c) {
  const int64_t panels = (n + kLanes - 1) / kLanes;
  // From state + ((s * panels + p) * m + i) * 8, the 8 lanes of row i in panel p: s = 0 the sum,
  // 1 the chunk, 2 the group.
  std::vector<float> state(static_cast<size_t>(3 * panels * m * kLanes), 0.0f);
  float* const base = state.data();
  const auto at = [base, panels, m](int64_t p, int64_t i) {
    return BlockState{base + (p * m + i) * kLanes, base + ((panels + p) * m + i) * kLanes,
                      base + ((2 * panels + p) * m + i) * kLanes};
  };
  Position start;
  for (int64_t k0 = 0; k0 < k; k0 += kKBlock) {
    const int64_t k1 = std::min(k, k0 + kKBlock);
    Position end = start;
    for (int64_t p = 0; p < panels; ++p) {
      const float* panel = packed.data() + p * k * kLanes;
      int64_t i = 0;
      for (; i + kRows <= m; i += kRows) {
        end = start;
        run_block<kind, kRows>(a + i * k, k, k0, k1, panel, sp, at(p, i), end);
      }
      for (; i < m; ++i) {
        end = start;
        run_block<kind, 1>(a + i * k, k, k0, k1, panel, sp, at(p, i), end);
      }
    }
    start = end;
  }
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t width = std::min<int64_t>(kLanes, n - p * kLanes);
    for (int64_t i = 0; i < m; ++i) {
      const BlockState st = at(p, i);
      // A partly filled last chunk is added like any other chunk.
      F8 sum = load(st.sum);
      if (kind == Sum::kShiftFp16 && start.in_chunk > 0)
        sum = round_fp16_units(sum + load(st.chunk));
      store(sum, scale, width, c + i * n + p * kLanes);
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
