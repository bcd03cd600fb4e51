#include "models/numerics/mac.h"

#include <stdexcept>
#include <string>

namespace nibble::numerics {

// Why one rounding of a double sum is exact enough: a partial sum s is an FP16 value (11-bit
// significand, 2^-24 <= ulp) and a term t is an exact product with at most 22 significant bits
// (FP16 x FP16; fp9 x fp9 and INT4 x FP4 have fewer). If |t| >= |s| / 2^12 the exact s + t spans
// at most ~45 bits (or overflows FP16 whatever happens), so the double sum is exact. Otherwise
// s + t is less than half an FP16 ulp from s (the FP16 value s is exactly half an ulp from the
// midpoints beside it), and t's bits start within 34 bits below s's ulp, so rounding s + t to 53
// bits cannot land on or cross a midpoint: the FP16 result is the correctly rounded one.

void mac_int(const int8_t* a, const int8_t* b, size_t k, IntAccumulator& acc) {
  for (size_t i = 0; i < k; ++i) acc.add(int64_t{a[i]} * int64_t{b[i]});
}

Fp16Accumulator::Fp16Accumulator(const Fp16AccumParams& params, uint64_t stream)
    : chunk_length_(params.chunk_length),
      stochastic_(params.stochastic),
      rng_(derive_seed(params.seed, stream)) {
  if (params.chunk_length < 0) {
    throw std::invalid_argument("Fp16AccumParams: chunk_length must be >= 0, got " +
                                std::to_string(params.chunk_length));
  }
}

void Fp16Accumulator::close_chunk() {
  // The first chunk adds to the +0 register exactly, so no special case is needed.
  total_ = round(total_ + chunk_);
  chunk_ = 0.0;
  in_chunk_ = 0;
}

double Fp16Accumulator::finish() {
  // A partly filled last chunk is added like any other chunk.
  if (in_chunk_ > 0) close_chunk();
  return total_;
}

void Fp16Accumulator::reset() {
  chunk_ = 0.0;
  in_chunk_ = 0;
  total_ = 0.0;
}

}  // namespace nibble::numerics
