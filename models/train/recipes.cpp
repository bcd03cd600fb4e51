#include "models/train/recipes.h"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "models/numerics/quantizers.h"

namespace nibble::train {

namespace nn = numerics;

namespace {

constexpr int kBits = 4;
constexpr double kPactInitialAlpha = 6.0;

nn::GemmShape shape(size_t m, size_t n, size_t k) {
  return {static_cast<int64_t>(m), static_cast<int64_t>(n), static_cast<int64_t>(k)};
}

template <typename T>
void transpose_into(const T* in, size_t rows, size_t cols, std::vector<T>& out) {
  out.resize(rows * cols);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) out[c * rows + r] = in[r * cols + c];
  }
}

}  // namespace

QuantizedPath::QuantizedPath(const Parallel& par, const Datapath& datapath,
                             GradientFormat gradients, const std::string& layer,
                             bool sawb_over_transpose)
    : par_(par),
      datapath_(datapath),
      gradients_(gradients),
      sawb_over_transpose_(sawb_over_transpose) {
  alpha_.name = layer + ".pact_alpha";
  alpha_.value = {static_cast<float>(kPactInitialAlpha)};
  alpha_.grad = {0.0f};
  alpha_.momentum = {0.0f};
  alpha_.decay = true;  // PACT L2-regularises its clip (Choi et al. 2018), here by the weight decay
}

void QuantizedPath::forward(const float* x, const float* w, size_t n, size_t in, size_t out,
                            float* y) {
  if (sawb_over_transpose_) {
    transpose_into(w, out, in, scratch_f_);  // Wᵀ [in×out]
    const nn::QuantizedTensor qwt = nn::sawb_quantize(scratch_f_.data(), out * in, kBits);
    transpose_into(qwt.codes.data(), in, out, w_codes_);
    w_step_ = qwt.scales[0];
  } else {
    const nn::QuantizedTensor qw = nn::sawb_quantize(w, out * in, kBits);
    w_codes_ = qw.codes;
    w_step_ = qw.scales[0];
  }
  // A clip trained below its floor would make PACT's step 0; keep it positive.
  const double alpha = std::max(1e-3, double{alpha_.value[0]});
  alpha_used_ = alpha;
  const nn::QuantizedTensor qx = nn::pact_quantize(x, n * in, alpha, kBits);
  x_codes_ = qx.codes;
  x_step_ = qx.scales[0];
  route_.resize(n * in);
  for (size_t i = 0; i < n * in; ++i) {
    route_[i] = x[i] < 0.0f ? 0 : double{x[i]} < alpha ? 1 : 2;
  }
  transpose_into(w_codes_.data(), out, in, scratch_i8_);  // Wᵀ codes [in×out]
  const int8_t* wt = scratch_i8_.data();
  std::atomic<uint64_t> overflows{0};
  par_.run(n, [&](size_t begin, size_t end) {
    const nn::IntGemmStats s = nn::gemm_int(
        x_codes_.data() + begin * in, nn::kUint4, wt, nn::kInt4, shape(end - begin, out, in),
        datapath_.forward, x_step_ * w_step_, nn::OutputFormat::kFp16, y + begin * out);
    overflows += s.overflows;
  });
  stats_.acc_overflows += overflows.load();
}

void QuantizedPath::quantize_gradient(const float* dy, size_t n, size_t out, bool transposed,
                                      nn::Fp4Phase phase, std::vector<uint8_t>& codes) {
  const float* g = dy;
  if (transposed) {
    transpose_into(dy, n, out, scratch_f_);
    g = scratch_f_.data();
  }
  codes.resize(n * out);
  scale_used_ = scale_.log2_scale();
  stats_.fp4_values += n * out;
  if (gradients_ == GradientFormat::kFp4Radix2) {
    const float up = std::ldexp(1.0f, scale_used_);
    for (size_t i = 0; i < n * out; ++i) codes[i] = nn::fp4_radix2_encode(g[i] * up, &stats_.fp4);
    return;
  }
  const bool even = phase == nn::Fp4Phase::kEven;
  const nn::TprTensorCounts counts =
      nn::fp4_quantize_tpr(g, n * out, scale_.log2_scale(), even ? codes.data() : nullptr,
                           even ? nullptr : codes.data());
  stats_.fp4 += even ? counts.even : counts.odd;
}

// C[rows×cols] = G·B on the shift-MAC engine, G the FP4 gradient codes [rows×k] of this step's
// scale, B integer codes [k×cols] of step `step`; rows split across the threads, then the result
// scaled back to real values by step·2^−g.
size_t QuantizedPath::fp4_gemm(const uint8_t* g, const int8_t* b, const nn::IntFormat& fb,
                               size_t rows, size_t cols, size_t k, nn::Fp4Phase phase, double step,
                               float* c) const {
  const bool radix2 = gradients_ == GradientFormat::kFp4Radix2;
  par_.run(rows, [&](size_t begin, size_t end) {
    if (radix2) {
      nn::gemm_fp4_radix2_int4(g + begin * k, b, shape(end - begin, cols, k), datapath_.backward,
                               c + begin * cols, fb);
    } else {
      nn::gemm_fp4_int4(g + begin * k, b, shape(end - begin, cols, k), phase, datapath_.backward,
                        c + begin * cols, fb);
    }
  });
  const double back = step * std::ldexp(1.0, -scale_used_);
  size_t non_finite = 0;
  for (size_t i = 0; i < rows * cols; ++i) {
    c[i] = static_cast<float>(c[i] * back);
    non_finite += std::isfinite(c[i]) ? 0 : 1;
  }
  return non_finite;
}

void QuantizedPath::move_scale(const float* dy, size_t count) {
  if (!dy_finite_) return;  // a later layer overflowed: the step is skipped, nothing moves here
  if (overflowed_) {
    ++headroom_;
    scale_.apply_votes(-1);
    overflowed_ = false;
    return;
  }
  scale_.apply_votes(scale_.vote_for(dy, count, headroom_));
}

void QuantizedPath::backward_data(const float* dy, const float* w, size_t n, size_t in, size_t out,
                                  float* dx) {
  (void)w;  // the codes of the forward pass stand for it
  if (gradients_ == GradientFormat::kFp32) {
    scratch_f_.resize(out * in);
    for (size_t i = 0; i < out * in; ++i) {
      scratch_f_[i] = static_cast<float>(w_codes_[i] * w_step_);
    }
    gemm_fp32_rows(par_, dy, scratch_f_.data(), n, in, out, dx);
  } else {
    dy_finite_ = std::all_of(dy, dy + n * out, [](float v) { return std::isfinite(v); });
    if (!scale_set_ && dy_finite_) {
      scale_ = nn::GradScale(nn::grad_scale_fixed_point(dy, n * out));
      scale_set_ = true;
    }
    quantize_gradient(dy, n, out, false, nn::Fp4Phase::kEven, scratch_u8_);
    note_overflows(fp4_gemm(scratch_u8_.data(), w_codes_.data(), nn::kInt4, n, in, out,
                            nn::Fp4Phase::kEven, w_step_, dx));
  }
  double to_alpha = 0;
  for (size_t i = 0; i < n * in; ++i) {
    if (route_[i] == 2) to_alpha += dx[i];
    if (route_[i] != 1) dx[i] = 0.0f;
  }
  alpha_.grad[0] += static_cast<float>(to_alpha);
}

void QuantizedPath::update(const float* dy, const float* x, size_t n, size_t in, size_t out,
                           float* dw) {
  (void)x;  // the activation codes of the forward pass stand for it
  if (gradients_ == GradientFormat::kFp32) {
    scratch_f_.resize(n * in);
    for (size_t i = 0; i < n * in; ++i) {
      scratch_f_[i] = static_cast<float>(x_codes_[i] * x_step_);
    }
    std::vector<float> dyt;
    transpose_into(dy, n, out, dyt);
    gemm_fp32_rows(par_, dyt.data(), scratch_f_.data(), out, in, n, dw);
    return;
  }
  const nn::Fp4Phase phase =
      gradients_ == GradientFormat::kFp4TwoPhase ? nn::Fp4Phase::kOdd : nn::Fp4Phase::kEven;
  quantize_gradient(dy, n, out, true, phase, scratch_u8_);  // dYᵀ [out×n]
  note_overflows(
      fp4_gemm(scratch_u8_.data(), x_codes_.data(), nn::kUint4, out, in, n, phase, x_step_, dw));
  // One move per step, after both GEMMs used this step's scale.
  move_scale(dy, n * out);
}

void QuantizedPath::note_overflows(size_t non_finite) {
  if (non_finite == 0 || !dy_finite_) return;
  overflowed_ = true;
  stats_.fp16_overflows += non_finite;
}

QuantStats QuantizedPath::take_stats() {
  QuantStats s = stats_;
  s.grad_scale_log2 = scale_.log2_scale();
  s.pact_alpha = alpha_.value[0];
  s.grad_headroom = headroom_;
  stats_ = QuantStats{};
  return s;
}

}  // namespace nibble::train
