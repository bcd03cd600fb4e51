#pragma once

#include <cstdint>

namespace nibble::numerics {

// SplitMix64 (Steele, Lea, Flood 2014): the random source for stochastic rounding.
// Contract: a pure function of the seed and the number of draws, identical on every platform, so
// runs with stochastic rounding are reproducible. Never seeded from the environment.
class SplitMix64 {
 public:
  explicit constexpr SplitMix64(uint64_t seed) : state_(seed) {}

  constexpr uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// Mixes a seed with a stream index (e.g. a GEMM output element) so that each stream draws
// independent numbers and the result does not depend on the order streams are visited in.
constexpr uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  SplitMix64 mixer(seed ^ (stream * 0xD1B54A32D192ED03ULL));
  return mixer.next();
}

}  // namespace nibble::numerics
