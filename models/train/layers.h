// The layers of `nibble train` (issue 17) in FP32: activations, their gradients and the layers'
// parameters. A GEMM layer (Linear, Conv3x3) computes its three products (forward, backward-data,
// update) through a GemmPath, which decides the numerics: FP32 here, the quantized datapaths of
// the recipes elsewhere (models/train/recipes.h), all through models/numerics.
//
// Layout: a batch of n samples, each c×h×w channel-major (a vector is c = features, h = w = 1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nibble::train {

struct Tensor {
  size_t n = 0, c = 0, h = 1, w = 1;
  std::vector<float> v;

  size_t per_sample() const { return c * h * w; }
  size_t size() const { return n * per_sample(); }
  void resize(size_t n_, size_t c_, size_t h_ = 1, size_t w_ = 1);
};

// A trainable tensor with its gradient (summed over the batch's mean loss) and momentum.
struct Param {
  std::string name;
  std::vector<float> value, grad, momentum;
  bool decay = true;  // weight decay applies (to weights and PACT clips, not to biases)
};

// Runs fn(begin, end) over [0, count) split into contiguous ranges, one per thread. The ranges
// depend only on count and threads, and each output is written by one range, so results do not
// depend on scheduling.
class Parallel {
 public:
  explicit Parallel(unsigned threads);
  unsigned threads() const { return threads_; }
  void run(size_t count, const std::function<void(size_t begin, size_t end)>& fn) const;

 private:
  unsigned threads_;
};

// C[m×n] = A[m×k]·B[k×n] row-major, in FP32 through numerics::gemm_fp32, rows split across
// the threads.
void gemm_fp32_rows(const Parallel& par, const float* a, const float* b, size_t m, size_t n,
                    size_t k, float* c);
// out[cols×rows] = in[rows×cols]ᵀ.
void transpose(const float* in, size_t rows, size_t cols, float* out);

// The three products of a GEMM layer with weights W[out×in] on inputs X[n×in]. In each training
// step a layer calls forward, then backward_data, then update.
class GemmPath {
 public:
  virtual ~GemmPath() = default;
  // Y[n×out] = X·Wᵀ.
  virtual void forward(const float* x, const float* w, size_t n, size_t in, size_t out,
                       float* y) = 0;
  // dX[n×in] = dY·W.
  virtual void backward_data(const float* dy, const float* w, size_t n, size_t in, size_t out,
                             float* dx) = 0;
  // dW[out×in] = dYᵀ·X (summed over the batch).
  virtual void update(const float* dy, const float* x, size_t n, size_t in, size_t out,
                      float* dw) = 0;
  // The path's own trainable parameters (a PACT clip).
  virtual std::vector<Param*> params() { return {}; }
};

class Fp32Path : public GemmPath {
 public:
  explicit Fp32Path(const Parallel& par) : par_(par) {}
  void forward(const float* x, const float* w, size_t n, size_t in, size_t out, float* y) override;
  void backward_data(const float* dy, const float* w, size_t n, size_t in, size_t out,
                     float* dx) override;
  void update(const float* dy, const float* x, size_t n, size_t in, size_t out, float* dw) override;

 private:
  const Parallel& par_;
  std::vector<float> scratch_;
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string name() const = 0;
  // y from x; `train` keeps what backward needs.
  virtual void forward(const Tensor& x, Tensor& y, bool train) = 0;
  // dx from dy (of the last forward in training), adding the parameters' gradients.
  virtual void backward(const Tensor& dy, Tensor& dx) = 0;
  virtual std::vector<Param*> params() { return {}; }
};

// What a GEMM layer keeps of one training step for --emit-trace, when asked: its input (NCHW),
// the gradient of its output (NCHW), and the GEMM's result before the bias ([rows × out]).
struct GemmCapture {
  Tensor input, grad_output;
  std::vector<float> gemm_out;
};

// A layer computed as one GEMM with weights W [out × in] and a bias per output.
class GemmLayer : public Layer {
 public:
  GemmLayer(std::string name, size_t in, size_t out, uint64_t seed, std::unique_ptr<GemmPath> path);
  std::string name() const override { return name_; }
  std::vector<Param*> params() override;
  Param& weight() { return weight_; }
  Param& bias() { return bias_; }
  GemmPath& path() { return *path_; }
  void set_capture(bool on) { capturing_ = on; }
  const GemmCapture& capture() const { return capture_; }

 protected:
  std::string name_;
  Param weight_, bias_;
  std::unique_ptr<GemmPath> path_;
  bool capturing_ = false;
  GemmCapture capture_;
  std::vector<float> dw_;
};

// y = x·Wᵀ + b, W [out×in] initialised He-uniform from `seed`.
class Linear : public GemmLayer {
 public:
  Linear(std::string name, size_t in, size_t out, uint64_t seed, std::unique_ptr<GemmPath> path);
  void forward(const Tensor& x, Tensor& y, bool train) override;
  void backward(const Tensor& dy, Tensor& dx) override;

 private:
  size_t in_, out_;
  Tensor input_;
};

// 3×3 convolution, stride 1, padding 1, as im2col and a GEMM: columns [n·H·W × C·9] (column
// c·9 + 3·dy + dx) times Wᵀ, W [F × C·9] (He-uniform), plus a bias per filter.
class Conv3x3 : public GemmLayer {
 public:
  Conv3x3(std::string name, size_t channels, size_t filters, uint64_t seed,
          std::unique_ptr<GemmPath> path);
  void forward(const Tensor& x, Tensor& y, bool train) override;
  void backward(const Tensor& dy, Tensor& dx) override;

 private:
  size_t channels_, filters_;
  size_t n_ = 0, h_ = 0, w_ = 0;
  std::vector<float> cols_, rows_out_, drows_, dcols_;
};

class Relu : public Layer {
 public:
  std::string name() const override { return "relu"; }
  void forward(const Tensor& x, Tensor& y, bool train) override;
  void backward(const Tensor& dy, Tensor& dx) override;

 private:
  std::vector<uint8_t> positive_;
};

// 2×2 max pooling, stride 2 (odd sides drop their last row/column); the gradient goes to the
// first maximum of each window.
class MaxPool2 : public Layer {
 public:
  std::string name() const override { return "maxpool2"; }
  void forward(const Tensor& x, Tensor& y, bool train) override;
  void backward(const Tensor& dy, Tensor& dx) override;

 private:
  size_t c_ = 0, h_ = 0, w_ = 0;
  std::vector<uint32_t> argmax_;
};

// Mean softmax cross-entropy of logits [n×classes] against labels; fills dlogits (of the mean)
// and returns the loss. Correct predictions are counted in *correct when given.
double softmax_cross_entropy(const Tensor& logits, const uint8_t* labels, Tensor* dlogits,
                             size_t* correct = nullptr);

}  // namespace nibble::train
