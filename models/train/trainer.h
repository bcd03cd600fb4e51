// `nibble train`'s training loop (issue 17): the fixed models and protocol, so that results are
// comparable with other implementations.
//   mlp: in-512-512-512-10, ReLU.
//   cnn: conv3x3(1→32, pad 1)-ReLU-maxpool2-conv3x3(32→64)-ReLU-maxpool2-conv3x3(64→128)-ReLU-
//        maxpool2-fc(→256)-ReLU-fc(256→10), no batch-norm (fc's input is 128·3·3 = 1152 on
//        28×28 images, 128·1·1 on 8×8 ones).
//   SGD with momentum 0.9 (v = μ·v + g + λ·w; w −= η·v), learning rate 0.05 with cosine decay to
//   0 over the run's steps (η_t = η₀·(1 + cos(π·t/T))/2, t the step before the update), batch
//   128 (the epoch's last batch takes what is left), weight decay 5e-4 on weights only,
//   softmax cross-entropy. The training set is shuffled every epoch (Fisher-Yates from SplitMix64
//   of the seed and the epoch).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/train/dataset.h"
#include "models/train/layers.h"
#include "models/train/recipes.h"

namespace nibble::train {

struct TrainOptions {
  std::string model = "mlp";    // mlp | cnn
  std::string recipe = "fp32";  // see recipes(); only the implemented ones are accepted
  uint32_t epochs = 15;
  uint64_t seed = 0;
  unsigned threads = 1;
  size_t batch = 128;
  double learning_rate = 0.05, momentum = 0.9, weight_decay = 5e-4;
  bool all_layers = false;  // quantize the first and last GEMM layers too
  Datapath datapath;
  uint64_t trace_step = 0;  // 1-based step whose tensors TrainProgress::on_trace sees (0: none)
};

// One quantized layer's figures over an epoch.
struct LayerEpoch {
  std::string layer;
  QuantStats stats;
};

struct EpochResult {
  uint32_t epoch = 0;         // 1-based
  double learning_rate = 0;   // at the epoch's first step
  double train_loss = 0;      // mean over the epoch's batches, as trained
  double train_accuracy = 0;  // of the batches as trained
  double test_loss = 0, test_accuracy = 0;
  std::vector<LayerEpoch> layers;  // the quantized layers, in network order
  // Steps whose gradients held inf or NaN (an FP16 overflow): no parameter moved in them.
  uint64_t skipped_steps = 0;
};

// The recipes the issue names, and whether this build trains them.
struct RecipeInfo {
  const char* name;
  bool implemented;
  const char* description;
};
const std::vector<RecipeInfo>& recipes();

class Network {
 public:
  Network(const std::string& model, const Dataset& data, const TrainOptions& options,
          const Parallel& par);
  // Logits of the batch; `train` keeps what backward needs.
  const Tensor& forward(const Tensor& x, bool train);
  // From the gradient of the loss with respect to the logits; adds to every parameter's grad.
  void backward(const Tensor& dlogits);
  std::vector<Param*> params();
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  // The quantized layers' figures since the last call.
  std::vector<LayerEpoch> take_stats();
  // The GEMM layers in order, and the quantized datapath of one (null when it is FP32).
  std::vector<GemmLayer*> gemm_layers();
  static QuantizedPath* quantized(GemmLayer& layer);
  const std::string& model() const { return model_; }

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::pair<std::string, QuantizedPath*>> quantized_;
  std::string model_;
  std::vector<Tensor> acts_;  // acts_[i] is layer i's output
  Tensor grad_a_, grad_b_;
};

// Called after each batch (done, total batches of the run) and after each epoch.
struct TrainProgress {
  std::function<void(uint64_t step, uint64_t steps)> on_step;
  std::function<void(const EpochResult&)> on_epoch;
  // At options.trace_step, after its backward pass and before its update: every GEMM layer's
  // capture() holds the step's tensors, the weights are those the step used.
  std::function<void(Network& net)> on_trace;
  // Polled after every step: true stops the run, which returns the epochs it finished.
  std::function<bool()> should_stop;
};

// The gradient format of a trainable quantized recipe (fp32: none).
GradientFormat gradient_format(const std::string& recipe);
// InputError for an unknown model or recipe, a recipe not trained yet, or epochs 0.
void check_options(const TrainOptions& options);

// Trains a fresh network; throws InputError for an unknown model or recipe, or epochs 0.
std::vector<EpochResult> train(const Dataset& data, const TrainOptions& options,
                               const TrainProgress& progress = {});

// η at step t of T.
double cosine_learning_rate(double base, uint64_t t, uint64_t total);

}  // namespace nibble::train
