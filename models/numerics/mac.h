#pragma once

#include <cstddef>
#include <cstdint>

#include "models/numerics/fp4.h"
#include "models/numerics/int_formats.h"
#include "models/numerics/minifloat.h"
#include "models/numerics/prng.h"

namespace nibble::numerics {

// Fixed-point scale of an INT4 x FP4 product: FP4 reaches 4^-3 = 2^-6, so 2*3 = 6 fractional bits
// hold every product exactly as an integer (|product| <= 8 * 64 * 2^6 = 2^15).
inline constexpr int kShiftMacFracBits = 6;

// INT4 x FP4 as the hardware's shifter does it: the FP4 field e selects a left shift of the
// integer by 2(e-4) + 6 = 2e - 2 places (0..12); the sign bit negates; e = 0 gives 0. The result
// is the exact product times 2^6. (Multiplying by the power of two 1 << s is how C++17 spells a
// left shift of a negative number without undefined behaviour; it compiles to a shift.)
constexpr int32_t shift_mul_int4_fp4(int32_t a, uint8_t fp4_code) {
  const int e = fp4_code & kFp4FieldMask;
  if (e == 0) return 0;
  const int32_t p = a * (int32_t{1} << (2 * e - 2));
  return (fp4_code & kFp4SignBit) != 0 ? -p : p;
}

// The exact product as a double (exact: at most 4 significant bits).
constexpr double shift_mul_value(int32_t a, uint8_t fp4_code) {
  return static_cast<double>(shift_mul_int4_fp4(a, fp4_code)) / (1 << kShiftMacFracBits);
}

// Sum of a * b over k integer codes into an accumulator register, one add per product in order.
void mac_int(const int8_t* a, const int8_t* b, size_t k, IntAccumulator& acc);

// How FP16 sums are rounded. chunk_length 0 (or >= K) means one running sum; otherwise each run
// of chunk_length terms is summed in FP16 and the chunk sums are summed in FP16 (Wang 2018).
struct Fp16AccumParams {
  int64_t chunk_length = 64;  // accumulator adds per chunk
  bool stochastic = false;    // stochastic rounding of every partial sum, else RNE
  uint64_t seed = 1;
  // Shift-MAC kernels only: products summed exactly (an inner product of `group` consecutive k)
  // before one FP16 add, as a `group`-way INT4 x FP4 engine does (Sun et al.: 4-way). The last
  // group of a row may be shorter. 1: one add per product.
  int64_t group = 1;
};

// An FP16 accumulator with chunking, the MAC engine's adder + rounder.
// Contract: add(t) sets chunk = round16(chunk + t) where chunk + t is evaluated exactly before the
// one rounding (see mac.cpp for why a double sum suffices for FP16/fp9/FP4 products); finish()
// closes a partly filled last chunk and returns the FP16 total. Throws std::invalid_argument on
// chunk_length < 0.
class Fp16Accumulator {
 public:
  explicit Fp16Accumulator(const Fp16AccumParams& params, uint64_t stream = 0);

  void add(double term) {
    chunk_ = round(chunk_ + term);
    if (++in_chunk_ == chunk_length_) close_chunk();
  }
  double finish();
  void reset();

 private:
  double round(double x) {
    return stochastic_ ? fp16().decode(fp16().encode_stochastic(x, rng_.next())) : round_to_fp16(x);
  }
  void close_chunk();

  int64_t chunk_length_;
  bool stochastic_;
  SplitMix64 rng_;
  double chunk_ = 0.0;
  int64_t in_chunk_ = 0;
  double total_ = 0.0;
};

}  // namespace nibble::numerics
