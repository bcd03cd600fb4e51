// The quantized GEMM datapaths of `nibble train`'s recipes, every quantizer, product and
// accumulation through models/numerics (Sun et al. 2020, reference §1.1–1.5):
//   forward       Y = X·Wᵀ: X by PACT to UINT4 (a trainable clip α per layer, from 6, under the
//                 weight decay as PACT's L2 term), W by SAWB to INT4 (per layer), an integer
//                 GEMM with the config's accumulator (width, wrap or saturate), the accumulator
//                 scaled to FP16 by s_x·s_w.
//   backward-data dX = dY·W: int4-fp32 in FP32 on the quantized weights; int4-fp4* with dY·2^g
//                 in radix-4 FP4, even phase, times the INT4 weight codes on the shift-MAC
//                 engine (FP16 accumulation, the config's chunk, rounding and ways), scaled back
//                 by s_w·2^−g. PACT's straight-through estimator then passes dX where 0 ≤ x < α
//                 and gives α the sum of dX where x ≥ α.
//   update        dW = dYᵀ·X: int4-fp32 in FP32 on the quantized activations; int4-fp4 with dYᵀ
//                 in FP4, odd phase (int4-fp4-even: even phase), times the UINT4 activation
//                 codes, scaled back by s_x·2^−g. SAWB's estimator passes dW to W unchanged.
//   GradScale     g per layer, a power of two: set at the first batch's fixed point (the g that
//                 puts max|dY|·2^g in (32, 64]), then moved by one vote per step (Fig. 3(a)).
//   Overflow      IEEE FP16 (5 exponent bits) overflows where IBM's 1-6-9 FP16 would not: a
//                 long update GEMM (K = batch·H·W) of products up to 15·64 sums past 65504. A
//                 layer whose gradient GEMM gives ±inf or NaN from a finite dY halves g at once
//                 and keeps one more binade of headroom for the rest of the run (votes then aim
//                 max|dY|·2^g at (32, 64]·2^−h), and the trainer skips that step, as dynamic
//                 loss scaling does (Micikevicius et al. 2018). Both are counted per epoch.
// int4-fp4-r2: both gradient GEMMs on radix-2 FP4 (±2^n, 1 … 64, fp4_radix2_encode of dY·2^g)
// on the same shift-MAC engine (gemm_fp4_radix2_int4), no phases.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/numerics/fp4.h"
#include "models/numerics/gemm.h"
#include "models/train/layers.h"

namespace nibble::train {

// What the simulated datapath decides (the config's accelerator.core.mac_array and log_grad).
struct Datapath {
  numerics::IntGemmParams forward{32, numerics::OverflowMode::kWrap};
  numerics::Fp16AccumParams backward{64, false, 1, 4};  // chunk, stochastic, seed, ways
};

enum class GradientFormat { kFp32, kFp4TwoPhase, kFp4Even, kFp4Radix2 };

// Per-epoch figures of one quantized layer (reset by the trainer after each epoch).
struct QuantStats {
  uint64_t fp4_values = 0;  // gradient values converted to FP4 (both GEMMs)
  numerics::Fp4Counts fp4;  // of which flushed to 0 / saturated / NaN
  int grad_scale_log2 = 0;  // at the epoch's end
  double pact_alpha = 0;    // at the epoch's end
  uint64_t acc_overflows = 0;
  // Non-finite outputs of the backward-data and update GEMMs from finite gradients (FP16
  // overflow), and the GradScale headroom h in binades at the epoch's end.
  uint64_t fp16_overflows = 0;
  int grad_headroom = 0;
};

class QuantizedPath : public GemmPath {
 public:
  // `sawb_over_transpose`: SAWB's statistics run over Wᵀ (a linear layer, whose trace op holds
  // its weights as the GEMM's B = Wᵀ) rather than over W as stored (a convolution's
  // [F, C, R, S]), so that `nibble run` on an emitted trace quantizes them bit for bit alike.
  QuantizedPath(const Parallel& par, const Datapath& datapath, GradientFormat gradients,
                const std::string& layer, bool sawb_over_transpose);
  void forward(const float* x, const float* w, size_t n, size_t in, size_t out, float* y) override;
  void backward_data(const float* dy, const float* w, size_t n, size_t in, size_t out,
                     float* dx) override;
  void update(const float* dy, const float* x, size_t n, size_t in, size_t out, float* dw) override;
  std::vector<Param*> params() override { return {&alpha_}; }

  QuantStats take_stats();
  // Of the last step: the PACT clip the forward pass used, and the GradScale exponent the
  // gradients were converted under (0 before any FP4 conversion).
  double alpha_used() const { return alpha_used_; }
  int grad_scale_log2_used() const { return scale_used_; }
  bool fp4_gradients() const { return gradients_ != GradientFormat::kFp32; }

 private:
  // dY·2^g as FP4 codes of `phase` (radix 2: no phase; transposed to [out×n] when
  // `transposed`), counting.
  void quantize_gradient(const float* dy, size_t n, size_t out, bool transposed,
                         numerics::Fp4Phase phase, std::vector<uint8_t>& codes);

  // Returns how many of C's values are not finite.
  size_t fp4_gemm(const uint8_t* g, const int8_t* b, const numerics::IntFormat& fb, size_t rows,
                  size_t cols, size_t k, numerics::Fp4Phase phase, double step, float* c) const;
  // After this step's GEMMs: headroom and scale after an overflow, else the step's vote.
  void move_scale(const float* dy, size_t count);
  void note_overflows(size_t non_finite);

  const Parallel& par_;
  Datapath datapath_;
  GradientFormat gradients_;
  Param alpha_;
  // Of the last forward: weight codes [out×in] and their step, activation codes [n×in] and
  // their step, and per input where PACT's estimator sends its gradient (0: nowhere, x < 0;
  // 1: to x; 2: to α).
  std::vector<int8_t> w_codes_, x_codes_;
  double w_step_ = 0, x_step_ = 0;
  std::vector<uint8_t> route_;
  bool sawb_over_transpose_;
  double alpha_used_ = 0;
  int scale_used_ = 0;
  bool scale_set_ = false;
  int headroom_ = 0;
  bool dy_finite_ = true;    // this step's dY (a NaN from a later layer's overflow is not ours)
  bool overflowed_ = false;  // this step's GEMMs overflowed from a finite dY
  numerics::GradScale scale_;
  QuantStats stats_;
  std::vector<int8_t> scratch_i8_;
  std::vector<uint8_t> scratch_u8_;
  std::vector<float> scratch_f_;
};

}  // namespace nibble::train
