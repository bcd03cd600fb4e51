#include "models/train/emit_trace.h"

#include <filesystem>
#include <vector>

#include "sim/atomic_file.h"
#include "sim/error.h"
#include "sim/npy.h"
#include "workloads/generators/expand.h"
#include "workloads/generators/network.h"

namespace nibble::train {

namespace fs = std::filesystem;

namespace {

Json layer(const std::string& name, const char* kind, const std::string& input) {
  return {{"name", name}, {"kind", kind}, {"inputs", Json::array({input})}};
}

// The trained network as a "nibble-network" graph (workloads/generators/README.md), per sample.
Json graph_of(const std::string& model, const Dataset& d, size_t batch) {
  Json layers = Json::array();
  std::string last = "input";
  const auto add = [&](Json l) {
    last = l["name"].get<std::string>();
    layers.push_back(std::move(l));
  };
  const auto linear = [&](const std::string& name, uint64_t in, uint64_t out) {
    Json l = layer(name, "linear", last);
    l["in_features"] = in;
    l["out_features"] = out;
    add(std::move(l));
  };
  const auto relu = [&](const std::string& name, uint64_t elements) {
    Json l = layer(name, "relu", last);
    l["elements"] = elements;
    add(std::move(l));
  };
  uint64_t features = d.image_size();
  if (model == "mlp") {
    for (int i = 1; i <= 3; ++i) {
      const std::string name = "fc" + std::to_string(i);
      linear(name, features, 512);
      relu(name + ".relu", 512);
      features = 512;
    }
    linear("fc4", features, d.classes);
  } else {
    uint64_t c = 1, h = d.rows, w = d.cols;
    const uint64_t filters[] = {32, 64, 128};
    for (int i = 0; i < 3; ++i) {
      const std::string n = std::to_string(i + 1);
      Json conv = layer("conv" + n, "conv2d", last);
      conv.update({{"C", c}, {"H", h}, {"W", w}, {"filters", filters[i]}, {"R", 3}, {"S", 3}});
      conv.update({{"stride", 1}, {"padding", 1}});
      add(std::move(conv));
      relu("relu" + n, filters[i] * h * w);
      Json pool = layer("pool" + n, "maxpool", last);
      pool["in_elements"] = filters[i] * h * w;
      c = filters[i], h /= 2, w /= 2;
      pool["elements"] = c * h * w;
      add(std::move(pool));
    }
    linear("fc1", c * h * w, 256);
    relu("fc1.relu", 256);
    linear("fc2", 256, d.classes);
  }
  Json loss = layer("loss", "loss", last);
  loss["elements"] = d.classes;
  layers.push_back(std::move(loss));
  return {{"format", "nibble-network"},
          {"version", 1},
          {"name", model},
          {"batch", batch},
          {"layers", std::move(layers)}};
}

std::vector<float> transposed(const std::vector<float>& m, size_t rows, size_t cols) {
  std::vector<float> t(m.size());
  transpose(m.data(), rows, cols, t.data());
  return t;
}

}  // namespace

void write_step_trace(const std::string& path, Network& net, const TrainOptions& options,
                      const Dataset& data, size_t batch, uint64_t step) {
  const nibble::Network graph =
      network_from_json(graph_of(net.model(), data, batch), "nibble train --emit-trace");
  ExpandOptions expand;
  expand.recipe = options.recipe == "fp32"        ? Recipe::kFp32
                  : options.recipe == "int4-fp32" ? Recipe::kInt4Fp16
                                                  : Recipe::kInt4Fp4;
  expand.first_last = options.all_layers ? FirstLast::kRecipe : FirstLast::kFp16;
  Json source = {{"generator", "nibble train --emit-trace"},
                 {"dataset", data.name},
                 {"model", net.model()},
                 {"recipe", options.recipe},
                 {"seed", options.seed},
                 {"step", step},
                 {"batch", batch}};
  Json doc = make_trace(graph, expand,
                        "step " + std::to_string(step) + " of nibble train, " + net.model() +
                            " on " + data.name + ", " + options.recipe + ", with its tensors",
                        source);

  const fs::path trace(path);
  const std::string folder = trace.stem().string() + ".tensors";
  const fs::path dir = trace.parent_path() / folder;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw InputError(dir.string() + ": cannot create the tensor folder (" + ec.message() + ")");
  }
  // name -> relative path, written once.
  const auto save = [&](const std::string& name, const std::vector<uint64_t>& shape,
                        const std::vector<float>& values) {
    write_npy((dir / (name + ".npy")).string(), shape, values.data());
    return folder + "/" + name + ".npy";
  };

  for (GemmLayer* g : net.gemm_layers()) {
    const GemmCapture& cap = g->capture();
    const std::string name = g->name();
    const Tensor& x = cap.input;
    const Tensor& dy = cap.grad_output;
    const std::vector<float>& w = g->weight().value;
    const bool conv = dynamic_cast<const Conv3x3*>(g) != nullptr;
    const uint64_t n = x.n, in = x.per_sample(), out = conv ? dy.c : dy.per_sample();
    const QuantizedPath* q = Network::quantized(*g);
    Json tensors_fwd, tensors_bd, tensors_bw;
    if (conv) {
      const std::string xi = save(name + ".input", {n, x.c, x.h, x.w}, x.v);
      const std::string wi = save(name + ".weight", {dy.c, x.c, 3, 3}, w);
      const std::string gi = save(name + ".grad_output", {dy.n, dy.c, dy.h, dy.w}, dy.v);
      tensors_fwd = {{"input", xi}, {"weight", wi}};
      tensors_bd = {{"grad_output", gi}, {"weight", wi}};
      tensors_bw = {{"input", xi}, {"grad_output", gi}};
    } else {
      const std::string xi = save(name + ".x", {n, in}, x.v);
      const std::string wt = save(name + ".wt", {in, out}, transposed(w, out, in));
      const std::string wi = save(name + ".w", {out, in}, w);
      const std::string gi = save(name + ".dy", {n, out}, dy.v);
      const std::string xt = save(name + ".xt", {in, n}, transposed(x.v, n, in));
      tensors_fwd = {{"a", xi}, {"b", wt}};
      tensors_bd = {{"a", gi}, {"b", wi}};
      tensors_bw = {{"a", xt}, {"b", gi}};
    }
    for (Json& op : doc["ops"]) {
      const std::string op_name = op["name"].get<std::string>();
      Json* tensors = op_name == name + ".fwd"          ? &tensors_fwd
                      : op_name == name + ".bwd_data"   ? &tensors_bd
                      : op_name == name + ".bwd_weight" ? &tensors_bw
                                                        : nullptr;
      if (tensors == nullptr) continue;
      Json t = *tensors;
      const Json& p = op["precision"];
      const bool uint4 = p["a"] == "uint4" || p["b"] == "uint4";
      const bool fp4 = p["a"] == "fp4" || p["b"] == "fp4";
      if (uint4 && q != nullptr) t["pact_alpha"] = q->alpha_used();
      if (fp4 && q != nullptr && q->fp4_gradients())
        t["grad_scale_log2"] = q->grad_scale_log2_used();
      op["tensors"] = std::move(t);
    }
  }
  write_file_atomically(trace, json_to_text(doc));
}

}  // namespace nibble::train
