#include "workloads/generators/expand.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <vector>

#include "sim/error.h"

namespace nibble {

namespace {

// The trace format's bound on every count and dimension.
constexpr uint64_t kMaxCount = uint64_t{1} << 30;

struct RecipeName {
  Recipe recipe;
  const char* name;
};
constexpr std::array<RecipeName, 9> kRecipes{{
    {Recipe::kFp32, "fp32"},
    {Recipe::kFp16, "fp16"},
    {Recipe::kHfp8, "hfp8"},
    {Recipe::kInt4Fp16, "int4-fp16"},
    {Recipe::kInt4Hfp8, "int4-hfp8"},
    {Recipe::kInt4Fp4, "int4-fp4"},
    {Recipe::kInt4Fp4DwFp8, "int4-fp4-dwfp8"},
    {Recipe::kInt4Fp4OneByOneFp8, "int4-fp4-1x1fp8"},
    {Recipe::kInt4Fp4Bottom1x1Fp8, "int4-fp4-bot1x1fp8"},
}};

// How one GEMM layer computes. Forward: INT4 operands (activations uint4 after a ReLU, else int4;
// weights int4) when int4_fwd, else both operands in `fwd`. Backward: the gradient operand of the
// backward-data GEMM in grad_bd, of the weight-gradient GEMM in grad_bw; the other operand is
// partner()'s. Results in `out`.
struct Mode {
  bool int4_fwd;
  const char* fwd;
  const char* grad_bd;
  const char* grad_bw;
  const char* out;
};
constexpr Mode kFp32Mode{false, "fp32", "fp32", "fp32", "fp32"};
constexpr Mode kFp16Mode{false, "fp16", "fp16", "fp16", "fp16"};
constexpr Mode kHfp8Mode{false, "hfp8_143", "hfp8_152", "hfp8_152", "fp16"};
constexpr Mode kInt4Fp16Mode{true, "", "fp16", "fp16", "fp16"};
constexpr Mode kInt4Hfp8Mode{true, "", "hfp8_152", "hfp8_152", "fp16"};
constexpr Mode kInt4Fp4Mode{true, "", "fp4", "fp4", "fp16"};
constexpr Mode kInt4Fp4DwFp8Mode{true, "", "fp4", "hfp8_152", "fp16"};

// The operand beside a gradient in a backward GEMM, given that operand's forward format: the
// INT4×FP4 engine takes the forward's integer operand as it is; beside an HFP8 1-5-2 gradient the
// operand is HFP8 1-4-3 (INT4 codes and the 16 levels of UINT4 are exact there: 4 significant
// bits); beside FP16 or FP32 it is in the gradient's format.
std::string partner(const std::string& grad, const std::string& forward_format) {
  if (grad == "fp4") return forward_format;
  if (grad == "hfp8_152") return "hfp8_143";
  return grad;
}

const Mode& base_mode(Recipe r) {
  switch (r) {
    case Recipe::kFp32:
      return kFp32Mode;
    case Recipe::kFp16:
      return kFp16Mode;
    case Recipe::kHfp8:
      return kHfp8Mode;
    case Recipe::kInt4Fp16:
      return kInt4Fp16Mode;
    case Recipe::kInt4Hfp8:
      return kInt4Hfp8Mode;
    case Recipe::kInt4Fp4DwFp8:
      return kInt4Fp4DwFp8Mode;
    default:
      return kInt4Fp4Mode;
  }
}

bool is_weight_layer(const Layer& l) {
  return l.kind == LayerKind::kConv2d || l.kind == LayerKind::kLinear ||
         l.kind == LayerKind::kEmbedding;
}

// The precision rules of the 4-bit and HFP8 recipes, most specific first (README "Recipes").
const Mode& layer_mode(const Layer& l, bool first_or_last, const ExpandOptions& o) {
  const Mode& base = base_mode(o.recipe);
  if (o.recipe == Recipe::kFp32 || o.recipe == Recipe::kFp16) return base;
  if (first_or_last && o.first_last != FirstLast::kRecipe) {
    return o.first_last == FirstLast::kFp16 ? kFp16Mode : kHfp8Mode;
  }
  if (l.is_depthwise() || l.has_tag(kTagShortcut)) return kFp16Mode;
  if (o.recipe == Recipe::kInt4Fp4OneByOneFp8 && l.kind == LayerKind::kConv2d && l.r == 1 &&
      l.s == 1) {
    return kHfp8Mode;
  }
  if (o.recipe == Recipe::kInt4Fp4Bottom1x1Fp8 && l.has_tag(kTagBottom1x1)) return kHfp8Mode;
  return base;
}

uint64_t sat_mul(uint64_t a, uint64_t b) {
  if (a != 0 && b > UINT64_MAX / a) return UINT64_MAX;
  return a * b;
}

void append_unique(std::vector<std::string>& to, const std::vector<std::string>& from) {
  for (const auto& s : from) {
    if (std::find(to.begin(), to.end(), s) == to.end()) to.push_back(s);
  }
}

// Collects the ops, checking names and the trace format's bounds as they come.
class OpList {
 public:
  explicit OpList(const std::string& network) : network_(network) {}

  std::string add(Json op, const std::vector<std::string>& deps) {
    const std::string name = op["name"].get<std::string>();
    for (auto it = op.begin(); it != op.end(); ++it) {
      if (!it.value().is_number_unsigned()) continue;
      const uint64_t v = it.value().get<uint64_t>();
      if (v > kMaxCount) {
        throw InputError(network_ + ": op \"" + name + "\": " + it.key() + " = " +
                         (v == UINT64_MAX ? std::string("more than 2^64") : std::to_string(v)) +
                         " is above the trace format's limit of 2^30 (" +
                         std::to_string(kMaxCount) + "); use a smaller batch");
      }
    }
    if (!names_.emplace(name, ops_.size()).second) {
      throw std::logic_error("expand: two ops named \"" + name + "\"");
    }
    std::vector<std::string> unique;
    append_unique(unique, deps);
    // Always listed, an empty list included: an op without `deps` would depend on the op before
    // it (workloads/README.md), and an op that reads no earlier result depends on none.
    op["deps"] = unique;
    ops_.push_back(std::move(op));
    return name;
  }

  Json take() { return std::move(ops_); }

 private:
  const std::string& network_;
  Json ops_ = Json::array();
  std::map<std::string, std::size_t> names_;
};

Json precision(const std::string& a, const std::string& b, const std::string& out) {
  return Json{{"a", a}, {"b", b}, {"out", out}};
}

Json vector_op(const std::string& name, const char* pass, const std::string& function,
               uint64_t elements, const std::string& prec) {
  Json op = Json::object();
  op["name"] = name;
  op["type"] = "vector";
  op["pass"] = pass;
  op["function"] = function;
  op["elements"] = elements;
  op["precision"] = prec;
  return op;
}

Json quantize_op(const std::string& name, const char* pass, uint64_t elements, const char* from,
                 const std::string& to, const char* phase = nullptr) {
  Json op = Json::object();
  op["name"] = name;
  op["type"] = "quantize";
  op["pass"] = pass;
  op["elements"] = elements;
  op["from"] = from;
  op["to"] = to;
  if (phase != nullptr) op["phase"] = phase;
  return op;
}

Json gemm_op(const std::string& name, const char* pass, uint64_t m, uint64_t n, uint64_t k,
             uint64_t batch, Json prec) {
  Json op = Json::object();
  op["name"] = name;
  op["type"] = "gemm";
  op["pass"] = pass;
  op["M"] = m;
  op["N"] = n;
  op["K"] = k;
  if (batch != 1) op["batch"] = batch;
  op["precision"] = std::move(prec);
  return op;
}

// A conv2d or linear layer's GEMM in `pass` (the trace reader lowers conv2d by its pass).
Json weight_gemm(const Layer& l, uint64_t batch, const std::string& name, const char* pass,
                 Json prec) {
  if (l.kind == LayerKind::kConv2d) {
    Json op = Json::object();
    op["name"] = name;
    op["type"] = "conv2d";
    op["pass"] = pass;
    op["batch"] = batch;
    op["C"] = l.c;
    op["H"] = l.h;
    op["W"] = l.w;
    op["filters"] = l.filters;
    op["R"] = l.r;
    op["S"] = l.s;
    op["stride"] = l.stride;
    op["padding"] = l.padding;
    if (l.groups != 1) op["groups"] = l.groups;
    op["precision"] = std::move(prec);
    return op;
  }
  const uint64_t rows = sat_mul(batch, l.rows);
  const std::string p = pass;
  if (p == "fwd") return gemm_op(name, pass, rows, l.out_features, l.in_features, 1, prec);
  if (p == "bwd_data") return gemm_op(name, pass, rows, l.in_features, l.out_features, 1, prec);
  return gemm_op(name, pass, l.in_features, l.out_features, rows, 1, prec);
}

// The SFU function of an element-wise layer's forward pass.
std::string function_of(LayerKind k) {
  return k == LayerKind::kLoss ? "softmax_xent" : to_string(k);
}

bool is_pool(LayerKind k) { return k == LayerKind::kMaxpool || k == LayerKind::kAvgpool; }

// Values an element-wise layer processes: pools go over the larger of their input and output
// (each input element is compared or summed once; an adaptive pool that upsamples writes each
// output once), the others over their output elements.
uint64_t eltwise_values(const Layer& l) {
  return is_pool(l.kind) ? std::max(l.elements, l.in_elements) : l.elements;
}

}  // namespace

const char* to_string(Recipe recipe) {
  for (const auto& r : kRecipes) {
    if (r.recipe == recipe) return r.name;
  }
  return "?";
}

std::optional<Recipe> parse_recipe(const std::string& text) {
  for (const auto& r : kRecipes) {
    if (text == r.name) return r.recipe;
  }
  return std::nullopt;
}

std::string recipe_names() {
  std::string s;
  for (const auto& r : kRecipes) s += (s.empty() ? "" : ", ") + std::string(r.name);
  return s;
}

const char* to_string(FirstLast first_last) {
  switch (first_last) {
    case FirstLast::kFp16:
      return "fp16";
    case FirstLast::kHfp8:
      return "hfp8";
    case FirstLast::kRecipe:
      return "recipe";
  }
  return "?";
}

std::optional<FirstLast> parse_first_last(const std::string& text) {
  for (FirstLast f : {FirstLast::kFp16, FirstLast::kHfp8, FirstLast::kRecipe}) {
    if (text == to_string(f)) return f;
  }
  return std::nullopt;
}

Json expand_iteration(const Network& net, const ExpandOptions& options) {
  const std::size_t n = net.layers.size();
  const uint64_t batch = net.batch;
  auto times_batch = [&](uint64_t per_sample) { return sat_mul(batch, per_sample); };
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < n; ++i) index.emplace(net.layers[i].name, i);
  auto layer_of = [&](const std::string& tensor) { return index.at(tensor); };

  // A layer's output needs a gradient when it or a layer before it has weights.
  std::vector<bool> needs_grad(n, false);
  for (std::size_t i = 0; i < n; ++i) {
    const Layer& l = net.layers[i];
    bool need = l.has_weights();
    for (const auto& x : l.inputs) need = need || (x != "input" && needs_grad[layer_of(x)]);
    needs_grad[i] = need;
  }
  auto input_needs_grad = [&](const Layer& l, std::size_t slot) {
    return l.inputs[slot] != "input" && needs_grad[layer_of(l.inputs[slot])];
  };

  // PACT's unsigned 4-bit format fits a tensor that comes out of a ReLU (through pools, or a
  // concatenation of such tensors).
  std::vector<bool> unsigned_out(n, false);
  for (std::size_t i = 0; i < n; ++i) {
    const Layer& l = net.layers[i];
    auto from_relu = [&](const std::string& x) {
      return x != "input" && unsigned_out[layer_of(x)];
    };
    if (l.kind == LayerKind::kRelu) {
      unsigned_out[i] = true;
    } else if (is_pool(l.kind)) {
      unsigned_out[i] = from_relu(l.inputs[0]);
    } else if (l.kind == LayerKind::kConcat) {
      unsigned_out[i] = std::all_of(l.inputs.begin(), l.inputs.end(), from_relu);
    }
  }
  auto act_format = [&](const std::string& x) {
    return x != "input" && unsigned_out[layer_of(x)] ? "uint4" : "int4";
  };

  // The first and last layers with weights (conv2d, linear, embedding) and every GEMM layer's mode.
  std::optional<std::size_t> first, last;
  for (std::size_t i = 0; i < n; ++i) {
    if (!is_weight_layer(net.layers[i])) continue;
    if (!first) first = i;
    last = i;
  }
  std::vector<const Mode*> mode(n, nullptr);
  for (std::size_t i = 0; i < n; ++i) {
    const Layer& l = net.layers[i];
    if (!l.is_gemm()) continue;
    const bool edge = l.kind != LayerKind::kMatmul && (i == first || i == last);
    mode[i] = &layer_mode(l, edge, options);
  }
  const std::string ew = options.recipe == Recipe::kFp32 ? "fp32" : "fp16";

  OpList ops(net.name);
  // The ops whose results make each layer's output (a concat has none of its own).
  std::vector<std::vector<std::string>> out_ops(n);
  auto producers = [&](const std::string& x) {
    return x == "input" ? std::vector<std::string>{} : out_ops[layer_of(x)];
  };
  // The ops a GEMM layer's forward read for each input (its quantization, or the producers), and
  // the forward format of each input.
  std::vector<std::vector<std::vector<std::string>>> read_ops(n);
  std::vector<std::vector<std::string>> read_format(n);

  // ---- forward ----
  for (std::size_t i = 0; i < n; ++i) {
    const Layer& l = net.layers[i];
    const std::string p = l.name + ".";
    if (l.is_gemm()) {
      const Mode& md = *mode[i];
      const bool matmul = l.kind == LayerKind::kMatmul;
      std::vector<std::string> deps;
      for (std::size_t s = 0; s < l.inputs.size(); ++s) {
        std::vector<std::string> in = producers(l.inputs[s]);
        std::string format = md.fwd;
        if (md.int4_fwd) {
          format = act_format(l.inputs[s]);
          const std::string qname = p + (matmul ? (s == 0 ? "act_q_a" : "act_q_b") : "act_q");
          in = {ops.add(
              quantize_op(qname, "fwd", times_batch(l.input_elements(s, 0)), "fp16", format), in)};
        }
        read_ops[i].push_back(in);
        read_format[i].push_back(format);
        append_unique(deps, in);
      }
      const std::string weight_format = md.int4_fwd ? "int4" : md.fwd;
      Json op;
      if (matmul) {
        op = gemm_op(p + "fwd", "fwd", l.m, l.n, l.k, times_batch(l.count),
                     precision(read_format[i][0], read_format[i][1], md.out));
      } else {
        op = weight_gemm(l, batch, p + "fwd", "fwd",
                         precision(read_format[i][0], weight_format, md.out));
      }
      out_ops[i] = {ops.add(std::move(op), deps)};
      continue;
    }
    std::vector<std::string> deps;
    for (const auto& x : l.inputs) append_unique(deps, producers(x));
    switch (l.kind) {
      case LayerKind::kConcat:
        out_ops[i] = deps;
        break;
      case LayerKind::kEmbedding:
        out_ops[i] = {ops.add(
            vector_op(p + "fwd", "fwd", "embedding", times_batch(l.output_elements()), ew), {})};
        break;
      case LayerKind::kLoss:
        out_ops[i] = {ops.add(
            vector_op(p + "fwd", "fwd", "softmax_xent", times_batch(l.elements), "fp32"), deps)};
        break;
      default:
        out_ops[i] = {ops.add(
            vector_op(p + "fwd", "fwd", function_of(l.kind), times_batch(eltwise_values(l)), ew),
            deps)};
        break;
    }
  }

  // ---- backward ----
  // Gradients arriving at each layer's output: one op list per reader, and the elements the
  // readers take in all (per sample).
  std::vector<std::vector<std::vector<std::string>>> arriving(n);
  std::vector<uint64_t> read_elements(n, 0);
  auto send = [&](const Layer& reader, std::size_t slot, const std::vector<std::string>& grad) {
    const std::string& x = reader.inputs[slot];
    const std::size_t j = layer_of(x);
    arriving[j].push_back(grad);
    read_elements[j] += reader.input_elements(slot, net.layers[j].output_elements());
  };
  // The ops that produce each weight's gradient, by the layer that owns the weight.
  std::vector<std::vector<std::string>> weight_grads(n);

  for (std::size_t ri = n; ri-- > 0;) {
    const std::size_t i = ri;
    const Layer& l = net.layers[i];
    if (!needs_grad[i]) continue;
    const std::string p = l.name + ".";
    // The output gradient: the sum of what the readers sent where they overlap (readers of
    // disjoint slices make a concatenation, which costs nothing).
    std::vector<std::string> grad;
    if (l.kind != LayerKind::kLoss) {
      for (const auto& g : arriving[i]) append_unique(grad, g);
      const uint64_t out = l.output_elements();
      if (arriving[i].size() >= 2 && read_elements[i] > out) {
        grad = {ops.add(
            vector_op(p + "grad_sum", "bwd_data", "add", times_batch(read_elements[i] - out), ew),
            grad)};
      }
    }

    if (l.is_gemm()) {
      const Mode& md = *mode[i];
      const std::string bd = md.grad_bd, bw = md.grad_bw;
      if (l.kind == LayerKind::kMatmul) {
        const bool da = input_needs_grad(l, 0), db = input_needs_grad(l, 1);
        if (!da && !db) continue;
        std::vector<std::string> g = grad;
        if (bd == "fp4") {
          g = {ops.add(quantize_op(p + "grad_q", "bwd_data", times_batch(l.output_elements()),
                                   "fp16", "fp4", "even"),
                       grad)};
        }
        const uint64_t products = times_batch(l.count);
        for (std::size_t s = 0; s < 2; ++s) {
          if (!(s == 0 ? da : db)) continue;
          // dA = dC·Bᵀ (M×K from M×N and N×K); dB = Aᵀ·dC (K×N from K×M and M×N).
          const std::string other = partner(bd, read_format[i][1 - s]);
          Json op = s == 0 ? gemm_op(p + "bwd_data_a", "bwd_data", l.m, l.k, l.n, products,
                                     precision(bd, other, md.out))
                           : gemm_op(p + "bwd_data_b", "bwd_data", l.k, l.n, l.m, products,
                                     precision(other, bd, md.out));
          std::vector<std::string> deps = g;
          append_unique(deps, read_ops[i][1 - s]);
          std::string d = ops.add(std::move(op), deps);
          if (md.int4_fwd) {
            d = ops.add(vector_op(p + (s == 0 ? "grad_scale_a" : "grad_scale_b"), "bwd_data",
                                  "grad_scale", times_batch(l.input_elements(s, 0)), "fp16"),
                        {d});
          }
          send(l, s, {d});
        }
        continue;
      }
      const bool dx = input_needs_grad(l, 0);
      const bool fp4_bd = dx && bd == "fp4", fp4_bw = bw == "fp4";
      std::vector<std::string> g = grad;
      if (fp4_bd || fp4_bw) {
        const char* phase = fp4_bd && fp4_bw ? "both" : (fp4_bd ? "even" : "odd");
        g = {ops.add(quantize_op(p + "grad_q", "bwd_data", times_batch(l.output_elements()), "fp16",
                                 "fp4", phase),
                     grad)};
      }
      const std::string weight_format = md.int4_fwd ? "int4" : md.fwd;
      std::string d;
      if (dx) {
        d = ops.add(weight_gemm(l, batch, p + "bwd_data", "bwd_data",
                                precision(bd, partner(bd, weight_format), md.out)),
                    g);
      }
      std::vector<std::string> deps = g;
      append_unique(deps, read_ops[i][0]);
      weight_grads[weight_owner(net, i)].push_back(
          ops.add(weight_gemm(l, batch, p + "bwd_weight", "bwd_weight",
                              precision(partner(bw, read_format[i][0]), bw, md.out)),
                  deps));
      if (dx) {
        if (md.int4_fwd) {
          d = ops.add(vector_op(p + "grad_scale", "bwd_data", "grad_scale",
                                times_batch(l.input_elements(0, 0)), "fp16"),
                      {d});
        }
        send(l, 0, {d});
      }
      continue;
    }

    switch (l.kind) {
      case LayerKind::kEmbedding:
        weight_grads[weight_owner(net, i)].push_back(
            ops.add(vector_op(p + "bwd_weight", "bwd_weight", "embedding_grad",
                              times_batch(l.output_elements()), ew),
                    grad));
        break;
      case LayerKind::kConcat:
      case LayerKind::kAdd:
        // The gradient passes through unchanged (a concat's readers take their slices).
        for (std::size_t s = 0; s < l.inputs.size(); ++s) {
          if (input_needs_grad(l, s)) send(l, s, grad);
        }
        break;
      case LayerKind::kLoss:
        // softmax_xent computes the logits' gradient in the forward op.
        if (input_needs_grad(l, 0)) send(l, 0, out_ops[i]);
        break;
      default: {
        std::vector<std::string> deps = grad;
        append_unique(deps, out_ops[i]);
        const std::string d =
            ops.add(vector_op(p + "bwd_data", "bwd_data", function_of(l.kind) + "_grad",
                              times_batch(eltwise_values(l)), ew),
                    deps);
        for (std::size_t s = 0; s < l.inputs.size(); ++s) {
          if (input_needs_grad(l, s)) send(l, s, {d});
        }
        if (l.has_weights()) weight_grads[i].push_back(d);
        break;
      }
    }
  }

  // ---- update ----
  // A weight is requantized to INT4 when a forward GEMM reads it in INT4.
  std::vector<bool> int4_weight(n, false);
  for (std::size_t u = 0; u < n; ++u) {
    if (mode[u] != nullptr && mode[u]->int4_fwd && net.layers[u].kind != LayerKind::kMatmul) {
      int4_weight[weight_owner(net, u)] = true;
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    const Layer& l = net.layers[i];
    if (!l.has_weights() || !l.shares_weights_with.empty()) continue;
    const uint64_t elements = weight_elements(net, i);
    const std::string p = l.name + ".";
    const std::string sgd =
        ops.add(vector_op(p + "sgd", "update", "sgd_momentum", elements, "fp32"), weight_grads[i]);
    if (int4_weight[i]) ops.add(quantize_op(p + "w_q", "update", elements, "fp32", "int4"), {sgd});
  }
  Json out = ops.take();
  if (out.empty()) {
    throw InputError(net.name +
                     ": the network has nothing to compute (a trace needs at least one "
                     "op; concat layers alone make none)");
  }
  return out;
}

Json make_trace(const Network& net, const ExpandOptions& options, const std::string& description,
                Json source) {
  Json doc = Json::object();
  doc["format"] = "nibble-trace";
  doc["version"] = 1;
  doc["name"] =
      net.name + "-b" + std::to_string(net.batch) + "-" + std::string(to_string(options.recipe));
  doc["description"] = description;
  doc["iterations"] = 1;
  doc["source"] = std::move(source);
  doc["ops"] = expand_iteration(net, options);
  return doc;
}

}  // namespace nibble
