#include "models/train/layers.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

#include "models/numerics/gemm.h"
#include "models/numerics/prng.h"

namespace nibble::train {

void Tensor::resize(size_t n_, size_t c_, size_t h_, size_t w_) {
  n = n_, c = c_, h = h_, w = w_;
  v.assign(size(), 0.0f);
}

Parallel::Parallel(unsigned threads) : threads_(std::max(1u, threads)) {}

void Parallel::run(size_t count, const std::function<void(size_t, size_t)>& fn) const {
  const size_t parts = std::min<size_t>(threads_, count);
  if (parts <= 1) {
    if (count > 0) fn(0, count);
    return;
  }
  std::vector<std::thread> workers;
  workers.reserve(parts - 1);
  const size_t share = count / parts, extra = count % parts;
  size_t begin = 0;
  for (size_t p = 0; p < parts; ++p) {
    const size_t end = begin + share + (p < extra ? 1 : 0);
    if (p + 1 == parts) {
      fn(begin, end);
    } else {
      workers.emplace_back(fn, begin, end);
    }
    begin = end;
  }
  for (std::thread& t : workers) t.join();
}

void gemm_fp32_rows(const Parallel& par, const float* a, const float* b, size_t m, size_t n,
                    size_t k, float* c) {
  par.run(m, [&](size_t begin, size_t end) {
    numerics::GemmShape shape{static_cast<int64_t>(end - begin), static_cast<int64_t>(n),
                              static_cast<int64_t>(k)};
    numerics::gemm_fp32(a + begin * k, b, shape, c + begin * n);
  });
}

void transpose(const float* in, size_t rows, size_t cols, float* out) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) out[c * rows + r] = in[r * cols + c];
  }
}

void Fp32Path::forward(const float* x, const float* w, size_t n, size_t in, size_t out, float* y) {
  scratch_.resize(in * out);
  transpose(w, out, in, scratch_.data());  // Wᵀ [in×out]
  gemm_fp32_rows(par_, x, scratch_.data(), n, out, in, y);
}

void Fp32Path::backward_data(const float* dy, const float* w, size_t n, size_t in, size_t out,
                             float* dx) {
  gemm_fp32_rows(par_, dy, w, n, in, out, dx);
}

void Fp32Path::update(const float* dy, const float* x, size_t n, size_t in, size_t out, float* dw) {
  scratch_.resize(n * out);
  transpose(dy, n, out, scratch_.data());  // dYᵀ [out×n]
  gemm_fp32_rows(par_, scratch_.data(), x, out, in, n, dw);
}

namespace {

// He-uniform: U(−b, b) with b = sqrt(6 / fan_in), from a SplitMix64 stream of `seed`.
void he_uniform(std::vector<float>& w, size_t fan_in, uint64_t seed) {
  numerics::SplitMix64 rng(seed);
  const double bound = std::sqrt(6.0 / static_cast<double>(fan_in));
  for (float& v : w) {
    const double u = static_cast<double>(rng.next() >> 11) * 0x1.0p-53;  // [0, 1)
    v = static_cast<float>((2.0 * u - 1.0) * bound);
  }
}

Param make_param(std::string name, size_t size, bool decay) {
  Param p;
  p.name = std::move(name);
  p.value.assign(size, 0.0f);
  p.grad.assign(size, 0.0f);
  p.momentum.assign(size, 0.0f);
  p.decay = decay;
  return p;
}

void add_to(std::vector<float>& into, const std::vector<float>& from) {
  for (size_t i = 0; i < into.size(); ++i) into[i] += from[i];
}

}  // namespace

GemmLayer::GemmLayer(std::string name, size_t in, size_t out, uint64_t seed,
                     std::unique_ptr<GemmPath> path)
    : name_(std::move(name)),
      weight_(make_param(name_ + ".weight", in * out, true)),
      bias_(make_param(name_ + ".bias", out, false)),
      path_(std::move(path)) {
  he_uniform(weight_.value, in, seed);
}

std::vector<Param*> GemmLayer::params() {
  std::vector<Param*> all = {&weight_, &bias_};
  for (Param* p : path_->params()) all.push_back(p);
  return all;
}

Linear::Linear(std::string name, size_t in, size_t out, uint64_t seed,
               std::unique_ptr<GemmPath> path)
    : GemmLayer(std::move(name), in, out, seed, std::move(path)), in_(in), out_(out) {}

void Linear::forward(const Tensor& x, Tensor& y, bool train) {
  y.resize(x.n, out_);
  path_->forward(x.v.data(), weight_.value.data(), x.n, in_, out_, y.v.data());
  if (train && capturing_) {
    capture_.input = x;
    capture_.gemm_out = y.v;
  }
  for (size_t i = 0; i < x.n; ++i) {
    for (size_t o = 0; o < out_; ++o) y.v[i * out_ + o] += bias_.value[o];
  }
  if (train) input_ = x;
}

void Linear::backward(const Tensor& dy, Tensor& dx) {
  const size_t n = dy.n;
  if (capturing_) capture_.grad_output = dy;
  dx.resize(n, input_.c, input_.h, input_.w);
  path_->backward_data(dy.v.data(), weight_.value.data(), n, in_, out_, dx.v.data());
  dw_.assign(in_ * out_, 0.0f);
  path_->update(dy.v.data(), input_.v.data(), n, in_, out_, dw_.data());
  add_to(weight_.grad, dw_);
  for (size_t i = 0; i < n; ++i) {
    for (size_t o = 0; o < out_; ++o) bias_.grad[o] += dy.v[i * out_ + o];
  }
}

Conv3x3::Conv3x3(std::string name, size_t channels, size_t filters, uint64_t seed,
                 std::unique_ptr<GemmPath> path)
    : GemmLayer(std::move(name), channels * 9, filters, seed, std::move(path)),
      channels_(channels),
      filters_(filters) {}

// im2col: row (s, y, x) of the columns holds input[s][c][y+dy−1][x+dx−1] at column c·9+dy·3+dx
// (0 outside the image).
void Conv3x3::forward(const Tensor& x, Tensor& y, bool train) {
  n_ = x.n, h_ = x.h, w_ = x.w;
  const size_t pixels = h_ * w_, k = channels_ * 9, rows = n_ * pixels;
  cols_.assign(rows * k, 0.0f);
  for (size_t s = 0; s < n_; ++s) {
    for (size_t c = 0; c < channels_; ++c) {
      const float* plane = &x.v[(s * channels_ + c) * pixels];
      for (size_t py = 0; py < h_; ++py) {
        for (size_t px = 0; px < w_; ++px) {
          float* row = &cols_[(s * pixels + py * w_ + px) * k + c * 9];
          for (size_t dy = 0; dy < 3; ++dy) {
            const size_t iy = py + dy;  // the input row + 1
            if (iy == 0 || iy > h_) continue;
            for (size_t dx = 0; dx < 3; ++dx) {
              const size_t ix = px + dx;
              if (ix == 0 || ix > w_) continue;
              row[dy * 3 + dx] = plane[(iy - 1) * w_ + (ix - 1)];
            }
          }
        }
      }
    }
  }
  rows_out_.resize(rows * filters_);
  path_->forward(cols_.data(), weight_.value.data(), rows, k, filters_, rows_out_.data());
  if (train && capturing_) {
    capture_.input = x;
    capture_.gemm_out = rows_out_;
  }
  y.resize(n_, filters_, h_, w_);
  for (size_t s = 0; s < n_; ++s) {
    for (size_t f = 0; f < filters_; ++f) {
      float* plane = &y.v[(s * filters_ + f) * pixels];
      for (size_t p = 0; p < pixels; ++p) {
        plane[p] = rows_out_[(s * pixels + p) * filters_ + f] + bias_.value[f];
      }
    }
  }
  if (!train) cols_.clear();
}

void Conv3x3::backward(const Tensor& dy, Tensor& dx) {
  if (capturing_) capture_.grad_output = dy;
  const size_t pixels = h_ * w_, k = channels_ * 9, rows = n_ * pixels;
  drows_.resize(rows * filters_);
  for (size_t s = 0; s < n_; ++s) {
    for (size_t f = 0; f < filters_; ++f) {
      const float* plane = &dy.v[(s * filters_ + f) * pixels];
      for (size_t p = 0; p < pixels; ++p) {
        drows_[(s * pixels + p) * filters_ + f] = plane[p];
        bias_.grad[f] += plane[p];
      }
    }
  }
  // backward-data before update, as in Linear: a path may take one decision per step across
  // both (GradScale's vote).
  dcols_.resize(rows * k);
  path_->backward_data(drows_.data(), weight_.value.data(), rows, k, filters_, dcols_.data());
  dw_.assign(filters_ * k, 0.0f);
  path_->update(drows_.data(), cols_.data(), rows, k, filters_, dw_.data());
  add_to(weight_.grad, dw_);
  dx.resize(n_, channels_, h_, w_);
  for (size_t s = 0; s < n_; ++s) {  // col2im: the transpose of the gather above
    for (size_t c = 0; c < channels_; ++c) {
      float* plane = &dx.v[(s * channels_ + c) * pixels];
      for (size_t py = 0; py < h_; ++py) {
        for (size_t px = 0; px < w_; ++px) {
          const float* row = &dcols_[(s * pixels + py * w_ + px) * k + c * 9];
          for (size_t ky = 0; ky < 3; ++ky) {
            const size_t iy = py + ky;
            if (iy == 0 || iy > h_) continue;
            for (size_t kx = 0; kx < 3; ++kx) {
              const size_t ix = px + kx;
              if (ix == 0 || ix > w_) continue;
              plane[(iy - 1) * w_ + (ix - 1)] += row[ky * 3 + kx];
            }
          }
        }
      }
    }
  }
}

void Relu::forward(const Tensor& x, Tensor& y, bool train) {
  y.n = x.n, y.c = x.c, y.h = x.h, y.w = x.w;
  y.v.resize(x.v.size());
  if (train) positive_.resize(x.v.size());
  for (size_t i = 0; i < x.v.size(); ++i) {
    const bool on = x.v[i] > 0.0f;
    y.v[i] = on ? x.v[i] : 0.0f;
    if (train) positive_[i] = on;
  }
}

void Relu::backward(const Tensor& dy, Tensor& dx) {
  dx.n = dy.n, dx.c = dy.c, dx.h = dy.h, dx.w = dy.w;
  dx.v.resize(dy.v.size());
  for (size_t i = 0; i < dy.v.size(); ++i) dx.v[i] = positive_[i] ? dy.v[i] : 0.0f;
}

void MaxPool2::forward(const Tensor& x, Tensor& y, bool train) {
  c_ = x.c, h_ = x.h, w_ = x.w;
  const size_t oh = h_ / 2, ow = w_ / 2;
  y.resize(x.n, c_, oh, ow);
  if (train) argmax_.resize(y.size());
  for (size_t plane = 0; plane < x.n * c_; ++plane) {
    const float* in = &x.v[plane * h_ * w_];
    for (size_t oy = 0; oy < oh; ++oy) {
      for (size_t ox = 0; ox < ow; ++ox) {
        uint32_t best = static_cast<uint32_t>(2 * oy * w_ + 2 * ox);
        for (const size_t at : {2 * oy * w_ + 2 * ox + 1, (2 * oy + 1) * w_ + 2 * ox,
                                (2 * oy + 1) * w_ + 2 * ox + 1}) {
          if (in[at] > in[best]) best = static_cast<uint32_t>(at);
        }
        const size_t out = plane * oh * ow + oy * ow + ox;
        y.v[out] = in[best];
        if (train) argmax_[out] = best;
      }
    }
  }
}

void MaxPool2::backward(const Tensor& dy, Tensor& dx) {
  dx.resize(dy.n, c_, h_, w_);
  const size_t outs = dy.h * dy.w;
  for (size_t plane = 0; plane < dy.n * c_; ++plane) {
    for (size_t o = 0; o < outs; ++o) {
      const size_t out = plane * outs + o;
      dx.v[plane * h_ * w_ + argmax_[out]] += dy.v[out];
    }
  }
}

double softmax_cross_entropy(const Tensor& logits, const uint8_t* labels, Tensor* dlogits,
                             size_t* correct) {
  const size_t n = logits.n, classes = logits.per_sample();
  if (dlogits != nullptr) dlogits->resize(n, classes);
  double loss = 0;
  size_t right = 0;
  std::vector<double> p(classes);
  for (size_t i = 0; i < n; ++i) {
    const float* z = &logits.v[i * classes];
    const size_t top = static_cast<size_t>(std::max_element(z, z + classes) - z);
    if (top == labels[i]) ++right;
    double sum = 0;
    for (size_t c = 0; c < classes; ++c) sum += p[c] = std::exp(double{z[c]} - double{z[top]});
    loss -= std::log(p[labels[i]] / sum);
    if (dlogits != nullptr) {
      for (size_t c = 0; c < classes; ++c) {
        const double target = c == labels[i] ? 1.0 : 0.0;
        dlogits->v[i * classes + c] = static_cast<float>((p[c] / sum - target) / double(n));
      }
    }
  }
  if (correct != nullptr) *correct = right;
  return loss / static_cast<double>(n);
}

}  // namespace nibble::train
