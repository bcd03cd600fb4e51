#pragma once

#include <cstddef>
#include <cstdint>

namespace nibble::numerics {

// Radix-4 FP4 (1-3-0) gradient format of Sun et al. 2020, with Two-Phase Rounding (TPR).
// Encoding (our choice, the paper gives only the value set): bit 3 = sign, bits 2..0 = field e;
// e = 0 is +-0 and e = 1..7 is +-4^(e-4), i.e. 1/64 .. 64. No inf, no NaN.
// The same 4-bit code serves both TPR phases: the odd phase's value is 0.5 * the even value.

inline constexpr uint8_t kFp4SignBit = 0x8;
inline constexpr uint8_t kFp4FieldMask = 0x7;
inline constexpr int kFp4Bias = 4;             // |v| = 4^(e - kFp4Bias)
inline constexpr double kFp4Max = 64.0;        // 4^3
inline constexpr float kFp4Multiplier = 1.6f;  // the paper's midpoint constant, as float32

// Per-conversion outcome counts. `flushed`: a non-zero input became 0 (scaled |x| < 4^-3 / 1.6).
// `saturated`: the input lay above the top level's rounding range (|x| >= 4^4 / 1.6 = 160 on the
// even grid), so it was clipped to +-64; inputs in [40, 160) round to 64 normally and are not
// counted. `nan`: NaN inputs, encoded as +0.
struct Fp4Counts {
  uint64_t flushed = 0;
  uint64_t saturated = 0;
  uint64_t nan = 0;
  Fp4Counts& operator+=(const Fp4Counts& o) {
    flushed += o.flushed;
    saturated += o.saturated;
    nan += o.nan;
    return *this;
  }
};

enum class Fp4Phase { kEven, kOdd };

// The two codes one TPR conversion yields for a single input.
struct TprCodes {
  uint8_t even;
  uint8_t odd;
};

// Even-grid value of a code (exact): +-4^(e-4) or +-0. Throws std::out_of_range if code > 15.
float fp4_decode(uint8_t code);
// Value of a code on `phase`'s grid: odd = 0.5 * even, i.e. +-2^(2(e-4)-1) = 2^-7 .. 2^5.
float fp4_decode(uint8_t code, Fp4Phase phase);

// The paper's conversion (Fig. 2(c)) on the even grid: y = x * 1.6f in float32 (RNE), then
// ebit = floor(log4|y|) read from y's exponent field, flush below 4^-3, saturate from 4^3.
uint8_t fp4_encode(float x, Fp4Counts* counts = nullptr);

// One conversion, both phases: y = x * 1.6f is computed once; with E = floor(log2|y|) the even
// code has n = floor(E/2) and the odd code n' = floor((E+1)/2), which is the even conversion of
// 2x (its product is exactly 2y), so odd value = 0.5 * 4^n' lies on the 2^odd grid with the 1.6
// midpoint rule. Counts per phase are added to *even_counts / *odd_counts when given.
TprCodes fp4_encode_tpr(float x, Fp4Counts* even_counts = nullptr, Fp4Counts* odd_counts = nullptr);

// Bulk conversion of a gradient tensor multiplied by 2^log2_scale (GradScale) first. Either
// output pointer may be null to skip that phase. Returns the counts of the phases produced.
struct TprTensorCounts {
  Fp4Counts even;
  Fp4Counts odd;
};
TprTensorCounts fp4_quantize_tpr(const float* x, size_t n, int log2_scale, uint8_t* even_codes,
                                 uint8_t* odd_codes);

// Radix-2 FP4 (1-3-0 base 2) for the paper's comparison. Our range choice: field e = 1..7 is
// +-2^(e-1), i.e. 1 .. 64, the same top level as radix-4 so GradScale applies unchanged; the
// dynamic range is 2^6 against radix-4's 2^12. Rounding uses the same arithmetic-midpoint rule:
// up when |x| >= 0.75 * 2^n (the mantissa's top fraction bit), flush below 0.75.
uint8_t fp4_radix2_encode(float x, Fp4Counts* counts = nullptr);
float fp4_radix2_decode(uint8_t code);

// GradScale at its fixed point: the power of two s that puts max|g|·2^s in (32, 64], where the
// vote rule below settles, clamped to [−126, 127]; 0 for an all-zero (or empty) tensor. NaNs are
// passed over.
int grad_scale_fixed_point(const float* g, size_t n);

// GradScale (Sec. 3.2, Fig. 3(a)): a per-layer power-of-two gradient scale driven by votes.
// Contract: vote() is 0 if max|g*scale| is in (32, 64], +1 if <= 32, -1 if > 64 (NaN counts as
// > 64); apply_votes(sum) doubles the scale if sum > 0, halves it if < 0, holds at 0, clamped to
// [min_log2, max_log2].
class GradScale {
 public:
  static constexpr double kTopBinLow = 32.0;   // MAX / 2
  static constexpr double kTopBinHigh = 64.0;  // MAX

  // Throws std::invalid_argument unless min_log2 <= initial_log2 <= max_log2.
  explicit GradScale(int initial_log2 = 0, int min_log2 = -126, int max_log2 = 127);

  int log2_scale() const { return log2_scale_; }
  double scale() const;
  static int vote(double max_abs_scaled);
  // This worker's vote for a gradient tensor under the current scale; with `headroom_log2` h
  // the vote aims max|g·scale| at (32, 64]·2^−h instead (h spare binades).
  int vote_for(const float* g, size_t n, int headroom_log2 = 0) const;
  void apply_votes(int vote_sum);

 private:
  int log2_scale_;
  int min_log2_;
  int max_log2_;
};

}  // namespace nibble::numerics
