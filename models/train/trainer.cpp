#include "models/train/trainer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "models/numerics/prng.h"
#include "sim/error.h"

namespace nibble::train {

const std::vector<RecipeInfo>& recipes() {
  static const std::vector<RecipeInfo> all = {
      {"fp32", true, "FP32 weights, activations and gradients"},
      {"int4-fp32", true, "SAWB INT4 weights, PACT UINT4 activations, FP32 gradients"},
      {"int4-fp4", true, "int4-fp32 with radix-4 FP4 gradients, two-phase rounding, GradScale"},
      {"int4-fp4-even", true, "int4-fp4 without two-phase rounding (even phase only)"},
      {"int4-fp4-r2", true, "int4-fp4 with radix-2 FP4 gradients (no phases)"},
  };
  return all;
}

void check_options(const TrainOptions& o) {
  if (o.model != "mlp" && o.model != "cnn") {
    throw InputError("--model: expected mlp or cnn, found \"" + o.model + "\"");
  }
  const auto& all = recipes();
  const auto it =
      std::find_if(all.begin(), all.end(), [&](const RecipeInfo& r) { return o.recipe == r.name; });
  if (it == all.end()) {
    throw InputError(
        "--recipe: expected fp32, int4-fp32, int4-fp4, int4-fp4-even or "
        "int4-fp4-r2, found \"" +
        o.recipe + "\"");
  }
  if (!it->implemented) {
    throw InputError("--recipe " + o.recipe + ": not trained by this build");
  }
  if (o.epochs == 0) throw InputError("--epochs: expected a positive integer, found 0");
  if (o.batch == 0) throw InputError("batch: expected a positive integer, found 0");
}

namespace {

// Seeds of the layers' initialisations: one SplitMix64 stream per run seed, drawn in layer
// order.
class Seeds {
 public:
  explicit Seeds(uint64_t seed) : rng_(numerics::derive_seed(seed, 0x74726169)) {}
  uint64_t next() { return rng_.next(); }

 private:
  numerics::SplitMix64 rng_;
};

}  // namespace

GradientFormat gradient_format(const std::string& recipe) {
  return recipe == "int4-fp4"        ? GradientFormat::kFp4TwoPhase
         : recipe == "int4-fp4-even" ? GradientFormat::kFp4Even
         : recipe == "int4-fp4-r2"   ? GradientFormat::kFp4Radix2
                                     : GradientFormat::kFp32;
}

// GEMM layers in order: the first and the last stay FP32 under a quantized recipe unless
// all_layers (reference §1.6: related work keeps them in higher precision).
Network::Network(const std::string& model, const Dataset& data, const TrainOptions& options,
                 const Parallel& par)
    : model_(model) {
  Seeds seeds(options.seed);
  const bool quantized = options.recipe != "fp32";
  const size_t gemm_layers = model == "mlp" ? 4 : 5;
  size_t gemm_index = 0;
  const auto path = [&](const std::string& layer, bool linear = true) -> std::unique_ptr<GemmPath> {
    const size_t i = gemm_index++;
    if (!quantized || (!options.all_layers && (i == 0 || i + 1 == gemm_layers))) {
      return std::make_unique<Fp32Path>(par);
    }
    auto q = std::make_unique<QuantizedPath>(par, options.datapath, gradient_format(options.recipe),
                                             layer, linear);
    quantized_.emplace_back(layer, q.get());
    return q;
  };
  if (model == "mlp") {
    size_t in = data.image_size();
    for (int i = 0; i < 3; ++i) {
      const std::string name = "fc" + std::to_string(i + 1);
      const uint64_t seed = seeds.next();
      layers_.push_back(std::make_unique<Linear>(name, in, 512, seed, path(name)));
      layers_.push_back(std::make_unique<Relu>());
      in = 512;
    }
    const uint64_t seed = seeds.next();
    layers_.push_back(std::make_unique<Linear>("fc4", in, data.classes, seed, path("fc4")));
    return;
  }
  size_t channels = 1, side_h = data.rows, side_w = data.cols;
  const size_t filters[] = {32, 64, 128};
  for (int i = 0; i < 3; ++i) {
    const std::string name = "conv" + std::to_string(i + 1);
    const uint64_t seed = seeds.next();
    layers_.push_back(
        std::make_unique<Conv3x3>(name, channels, filters[i], seed, path(name, false)));
    layers_.push_back(std::make_unique<Relu>());
    layers_.push_back(std::make_unique<MaxPool2>());
    channels = filters[i], side_h /= 2, side_w /= 2;
  }
  uint64_t seed = seeds.next();
  layers_.push_back(
      std::make_unique<Linear>("fc1", channels * side_h * side_w, 256, seed, path("fc1")));
  layers_.push_back(std::make_unique<Relu>());
  seed = seeds.next();
  layers_.push_back(std::make_unique<Linear>("fc2", 256, data.classes, seed, path("fc2")));
}

std::vector<GemmLayer*> Network::gemm_layers() {
  std::vector<GemmLayer*> all;
  for (auto& layer : layers_) {
    if (auto* g = dynamic_cast<GemmLayer*>(layer.get())) all.push_back(g);
  }
  return all;
}

QuantizedPath* Network::quantized(GemmLayer& layer) {
  return dynamic_cast<QuantizedPath*>(&layer.path());
}

std::vector<LayerEpoch> Network::take_stats() {
  std::vector<LayerEpoch> all;
  for (auto& [name, q] : quantized_) all.push_back({name, q->take_stats()});
  return all;
}

const Tensor& Network::forward(const Tensor& x, bool train) {
  acts_.resize(layers_.size());
  const Tensor* in = &x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->forward(*in, acts_[i], train);
    in = &acts_[i];
  }
  return *in;
}

void Network::backward(const Tensor& dlogits) {
  grad_a_ = dlogits;
  for (size_t i = layers_.size(); i-- > 0;) {
    layers_[i]->backward(grad_a_, grad_b_);
    std::swap(grad_a_, grad_b_);
  }
}

std::vector<Param*> Network::params() {
  std::vector<Param*> all;
  for (auto& layer : layers_) {
    for (Param* p : layer->params()) all.push_back(p);
  }
  return all;
}

double cosine_learning_rate(double base, uint64_t t, uint64_t total) {
  const double pi = std::acos(-1.0);
  return base * 0.5 *
         (1.0 + std::cos(pi * static_cast<double>(t) /
                         static_cast<double>(std::max<uint64_t>(1, total))));
}

namespace {

// The images of `order[begin, end)` as a batch of 1×rows×cols tensors.
void gather(const Dataset& d, const std::vector<float>& images, const std::vector<uint8_t>& labels,
            const std::vector<uint32_t>& order, size_t begin, size_t end, Tensor& x,
            std::vector<uint8_t>& y) {
  const size_t size = d.image_size();
  x.resize(end - begin, 1, d.rows, d.cols);
  y.resize(end - begin);
  for (size_t i = begin; i < end; ++i) {
    std::copy_n(&images[order[i] * size], size, &x.v[(i - begin) * size]);
    y[i - begin] = labels[order[i]];
  }
}

}  // namespace

std::vector<EpochResult> train(const Dataset& data, const TrainOptions& options,
                               const TrainProgress& progress) {
  check_options(options);
  const Parallel par(options.threads);
  Network net(options.model, data, options, par);
  const std::vector<Param*> params = net.params();

  const size_t n = data.train_size(), batch = options.batch;
  const uint64_t per_epoch = (n + batch - 1) / batch, steps = per_epoch * options.epochs;
  std::vector<uint32_t> order(n);
  std::vector<uint32_t> test_order(data.test_size());
  std::iota(test_order.begin(), test_order.end(), 0u);
  Tensor x, dlogits;
  std::vector<uint8_t> y;
  std::vector<EpochResult> results;
  uint64_t step = 0;
  for (uint32_t epoch = 1; epoch <= options.epochs; ++epoch) {
    std::iota(order.begin(), order.end(), 0u);
    numerics::SplitMix64 shuffle(numerics::derive_seed(options.seed, epoch));
    for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[shuffle.next() % i]);

    EpochResult r;
    r.epoch = epoch;
    r.learning_rate = cosine_learning_rate(options.learning_rate, step, steps);
    size_t right = 0;
    for (size_t begin = 0; begin < n; begin += batch, ++step) {
      const size_t end = std::min(n, begin + batch);
      gather(data, data.train_images, data.train_labels, order, begin, end, x, y);
      for (Param* p : params) std::fill(p->grad.begin(), p->grad.end(), 0.0f);
      const bool trace = step + 1 == options.trace_step && progress.on_trace;
      for (GemmLayer* g : net.gemm_layers()) g->set_capture(trace);
      size_t correct = 0;
      r.train_loss += softmax_cross_entropy(net.forward(x, true), y.data(), &dlogits, &correct);
      right += correct;
      net.backward(dlogits);
      if (trace) {
        progress.on_trace(net);
        for (GemmLayer* g : net.gemm_layers()) g->set_capture(false);
      }
      const bool finite = std::all_of(params.begin(), params.end(), [](const Param* p) {
        return std::all_of(p->grad.begin(), p->grad.end(),
                           [](float g) { return std::isfinite(g); });
      });
      const auto lr = static_cast<float>(cosine_learning_rate(options.learning_rate, step, steps));
      const auto mu = static_cast<float>(options.momentum);
      const auto wd = static_cast<float>(options.weight_decay);
      if (!finite) ++r.skipped_steps;  // nothing moves
      for (size_t k = 0; finite && k < params.size(); ++k) {
        Param* p = params[k];
        for (size_t i = 0; i < p->value.size(); ++i) {
          const float g = p->grad[i] + (p->decay ? wd * p->value[i] : 0.0f);
          p->momentum[i] = mu * p->momentum[i] + g;
          p->value[i] -= lr * p->momentum[i];
        }
      }
      if (progress.on_step) progress.on_step(step + 1, steps);
      if (progress.should_stop && progress.should_stop()) return results;
    }
    r.train_loss /= static_cast<double>(per_epoch);
    r.train_accuracy = static_cast<double>(right) / static_cast<double>(n);

    size_t test_right = 0;
    double test_loss = 0;
    for (size_t begin = 0; begin < data.test_size(); begin += batch) {
      const size_t end = std::min(data.test_size(), begin + batch);
      gather(data, data.test_images, data.test_labels, test_order, begin, end, x, y);
      size_t correct = 0;
      test_loss += softmax_cross_entropy(net.forward(x, false), y.data(), nullptr, &correct) *
                   static_cast<double>(end - begin);
      test_right += correct;
    }
    r.test_loss = test_loss / static_cast<double>(data.test_size());
    r.layers = net.take_stats();
    r.test_accuracy = static_cast<double>(test_right) / static_cast<double>(data.test_size());
    results.push_back(r);
    if (progress.on_epoch) progress.on_epoch(r);
  }
  return results;
}

}  // namespace nibble::train
