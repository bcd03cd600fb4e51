#include "workloads/generators/network.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <limits>
#include <map>

#include "sim/error.h"
#include "sim/strict_object.h"

namespace nibble {

namespace {

// Dimensions above 2^30 are typos (the trace format has the same bound).
constexpr uint64_t kMaxDim = uint64_t{1} << 30;
// A layer of more than 2^60 MACs or elements per sample is a typo, and the bound keeps every
// product the expansion forms with the batch from wrapping (it saturates, see sat_mul).
constexpr uint64_t kMaxProduct = uint64_t{1} << 60;

// Saturating arithmetic: a product or sum that does not fit reads as the largest value, which
// every range check then refuses.
uint64_t sat_mul(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) {
    return std::numeric_limits<uint64_t>::max();
  }
  return a * b;
}
uint64_t sat_add(uint64_t a, uint64_t b) {
  return b > std::numeric_limits<uint64_t>::max() - a ? std::numeric_limits<uint64_t>::max()
                                                      : a + b;
}

struct KindName {
  LayerKind kind;
  const char* name;
};
constexpr std::array<KindName, 17> kKinds{{
    {LayerKind::kConv2d, "conv2d"},
    {LayerKind::kLinear, "linear"},
    {LayerKind::kMatmul, "matmul"},
    {LayerKind::kEmbedding, "embedding"},
    {LayerKind::kRelu, "relu"},
    {LayerKind::kGelu, "gelu"},
    {LayerKind::kSigmoid, "sigmoid"},
    {LayerKind::kTanh, "tanh"},
    {LayerKind::kAdd, "add"},
    {LayerKind::kMul, "mul"},
    {LayerKind::kBatchnorm, "batchnorm"},
    {LayerKind::kLayernorm, "layernorm"},
    {LayerKind::kSoftmax, "softmax"},
    {LayerKind::kConcat, "concat"},
    {LayerKind::kMaxpool, "maxpool"},
    {LayerKind::kAvgpool, "avgpool"},
    {LayerKind::kLoss, "loss"},
}};

std::string kind_list() {
  std::string s;
  for (const auto& k : kKinds) s += (s.empty() ? "\"" : ", \"") + std::string(k.name) + "\"";
  return s;
}

const std::array<const char*, 3> kTags{{kTagShortcut, kTagBottom1x1, kTagTop1x1}};

// How many inputs a kind takes: {min, max}.
std::pair<std::size_t, std::size_t> input_count(LayerKind k) {
  switch (k) {
    case LayerKind::kMatmul:
      return {2, 2};
    case LayerKind::kAdd:
    case LayerKind::kMul:
    case LayerKind::kConcat:
      return {1, std::numeric_limits<std::size_t>::max()};
    default:
      return {1, 1};
  }
}

std::string layer_path(std::size_t i) { return ".layers[" + std::to_string(i) + "]"; }

std::vector<std::string> string_array(StrictObject& obj, const std::string& key,
                                      const std::string& expected, bool required) {
  std::vector<std::string> out;
  const Json* j = required ? &obj.require(key, expected) : obj.find(key);
  if (j == nullptr) return out;
  if (!j->is_array()) obj.fail(key, expected, *j);
  for (std::size_t i = 0; i < j->size(); ++i) {
    const Json& e = (*j)[i];
    if (!e.is_string() || e.get<std::string>().empty()) {
      obj.fail(key + "[" + std::to_string(i) + "]", "a non-empty string", e);
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

Layer read_layer(const std::string& origin, const Json& node, std::size_t index) {
  const std::string path = layer_path(index);
  if (!node.is_object()) {
    throw InputError(origin + ": " + path + ": expected a layer object, found " +
                     describe_json(node));
  }
  StrictObject obj(origin, node, path);
  Layer l;
  l.name = obj.string("name");
  const std::string kinds = "one of " + kind_list();
  const Json& kind = obj.require("kind", kinds);
  if (!kind.is_string() || !parse_layer_kind(kind.get<std::string>())) {
    obj.fail("kind", kinds, kind);
  }
  l.kind = *parse_layer_kind(kind.get<std::string>());
  l.inputs = string_array(obj, "inputs", "an array of names (\"input\" or earlier layers)",
                          /*required=*/true);
  switch (l.kind) {
    case LayerKind::kConv2d:
      l.c = obj.dim("C", std::nullopt, 1);
      l.h = obj.dim("H", std::nullopt, 1);
      l.w = obj.dim("W", std::nullopt, 1);
      l.filters = obj.dim("filters", std::nullopt, 1);
      l.r = obj.dim("R", std::nullopt, 1);
      l.s = obj.dim("S", std::nullopt, 1);
      l.stride = obj.dim("stride", 1, 1);
      l.padding = obj.dim("padding", 0, 0);
      l.groups = obj.dim("groups", 1, 1);
      break;
    case LayerKind::kLinear:
      l.in_features = obj.dim("in_features", std::nullopt, 1);
      l.out_features = obj.dim("out_features", std::nullopt, 1);
      l.rows = obj.dim("rows", 1, 1);
      break;
    case LayerKind::kMatmul:
      l.count = obj.dim("count", 1, 1);
      l.m = obj.dim("M", std::nullopt, 1);
      l.n = obj.dim("N", std::nullopt, 1);
      l.k = obj.dim("K", std::nullopt, 1);
      break;
    case LayerKind::kEmbedding:
      l.vocab = obj.dim("vocab", std::nullopt, 1);
      l.dim = obj.dim("dim", std::nullopt, 1);
      l.rows = obj.dim("rows", 1, 1);
      break;
    case LayerKind::kMaxpool:
    case LayerKind::kAvgpool:
      l.elements = obj.dim("elements", std::nullopt, 1);
      l.in_elements = obj.dim("in_elements", std::nullopt, 1);
      break;
    default:
      l.elements = obj.dim("elements", std::nullopt, 1);
      break;
  }
  std::string tags_expected;
  for (const char* t : kTags)
    tags_expected += (tags_expected.empty() ? "\"" : ", \"") + std::string(t) + "\"";
  tags_expected = "an array of tags (" + tags_expected + ")";
  l.tags = string_array(obj, "tags", tags_expected, /*required=*/false);
  if (const Json* s = obj.find("shares_weights_with")) {
    if (!s->is_string() || s->get<std::string>().empty()) {
      obj.fail("shares_weights_with", "the name of an earlier layer", *s);
    }
    l.shares_weights_with = s->get<std::string>();
  }
  obj.finish(std::string("a ") + to_string(l.kind) + " layer");
  return l;
}

// The channels of every layer's output, in order (0: the graph does not say).
std::vector<uint64_t> all_channels(const Network& net, uint64_t* input_channels) {
  uint64_t in = 0;
  for (const Layer& l : net.layers) {
    if (std::find(l.inputs.begin(), l.inputs.end(), "input") == l.inputs.end()) continue;
    if (l.kind == LayerKind::kConv2d) in = l.c;
    if (l.kind == LayerKind::kLinear) in = l.in_features;
    if (in != 0) break;
  }
  std::map<std::string, std::size_t> index;
  std::vector<uint64_t> ch(net.layers.size(), 0);
  auto of = [&](const std::string& name) -> uint64_t {
    if (name == "input") return in;
    const auto it = index.find(name);
    return it == index.end() ? 0 : ch[it->second];
  };
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    const Layer& l = net.layers[i];
    switch (l.kind) {
      case LayerKind::kConv2d:
        ch[i] = l.filters;
        break;
      case LayerKind::kLinear:
        ch[i] = l.out_features;
        break;
      case LayerKind::kEmbedding:
        ch[i] = l.dim;
        break;
      case LayerKind::kMatmul:
        ch[i] = l.n;
        break;
      case LayerKind::kConcat: {
        uint64_t sum = 0;
        for (const auto& x : l.inputs) {
          const uint64_t c = of(x);
          if (c == 0) {
            sum = 0;
            break;
          }
          sum = sat_add(sum, c);
        }
        ch[i] = sum;
        break;
      }
      default:
        ch[i] = l.inputs.empty() ? 0 : of(l.inputs[0]);
        break;
    }
    index.emplace(l.name, i);
  }
  if (input_channels != nullptr) *input_channels = in;
  return ch;
}

uint64_t norm_weight_elements(const Network& net, std::size_t layer,
                              const std::vector<uint64_t>& channels) {
  const uint64_t c = channels[layer];
  if (c == 0) {
    throw InputError(net.name + ": layer \"" + net.layers[layer].name + "\" (" +
                     to_string(net.layers[layer].kind) +
                     "): cannot tell its channels from the layers before it (its γ and β have "
                     "one value per channel)");
  }
  return sat_mul(2, c);
}

uint64_t own_weight_elements(const Layer& l) {
  switch (l.kind) {
    case LayerKind::kConv2d:
      return sat_mul(sat_mul(sat_mul(l.filters, l.c / l.groups), l.r), l.s);
    case LayerKind::kLinear:
      return sat_mul(l.in_features, l.out_features);
    case LayerKind::kEmbedding:
      return sat_mul(l.vocab, l.dim);
    default:
      return 0;
  }
}

}  // namespace

const char* to_string(LayerKind kind) {
  for (const auto& k : kKinds) {
    if (k.kind == kind) return k.name;
  }
  return "?";
}

std::optional<LayerKind> parse_layer_kind(const std::string& text) {
  for (const auto& k : kKinds) {
    if (text == k.name) return k.kind;
  }
  return std::nullopt;
}

bool Layer::operator==(const Layer& o) const {
  return name == o.name && kind == o.kind && inputs == o.inputs && c == o.c && h == o.h &&
         w == o.w && filters == o.filters && r == o.r && s == o.s && stride == o.stride &&
         padding == o.padding && groups == o.groups && in_features == o.in_features &&
         out_features == o.out_features && rows == o.rows && count == o.count && m == o.m &&
         n == o.n && k == o.k && vocab == o.vocab && dim == o.dim && elements == o.elements &&
         in_elements == o.in_elements && tags == o.tags &&
         shares_weights_with == o.shares_weights_with;
}

bool Layer::has_tag(const std::string& tag) const {
  return std::find(tags.begin(), tags.end(), tag) != tags.end();
}

bool Layer::is_gemm() const {
  return kind == LayerKind::kConv2d || kind == LayerKind::kLinear || kind == LayerKind::kMatmul;
}

bool Layer::has_weights() const {
  return kind == LayerKind::kConv2d || kind == LayerKind::kLinear ||
         kind == LayerKind::kEmbedding || kind == LayerKind::kBatchnorm ||
         kind == LayerKind::kLayernorm;
}

bool Layer::is_depthwise() const {
  return kind == LayerKind::kConv2d && groups > 1 && groups == c && groups == filters;
}

uint64_t Layer::output_elements() const {
  switch (kind) {
    case LayerKind::kConv2d:
      return sat_mul(sat_mul(filters, out_h()), out_w());
    case LayerKind::kLinear:
      return sat_mul(rows, out_features);
    case LayerKind::kMatmul:
      return sat_mul(sat_mul(count, m), n);
    case LayerKind::kEmbedding:
      return sat_mul(rows, dim);
    default:
      return elements;
  }
}

uint64_t Layer::input_elements(std::size_t slot, uint64_t producer_elements) const {
  switch (kind) {
    case LayerKind::kConv2d:
      return sat_mul(sat_mul(c, h), w);
    case LayerKind::kLinear:
      return sat_mul(rows, in_features);
    case LayerKind::kMatmul:
      return slot == 0 ? sat_mul(sat_mul(count, m), k) : sat_mul(sat_mul(count, k), n);
    case LayerKind::kEmbedding:
      return 0;
    case LayerKind::kMaxpool:
    case LayerKind::kAvgpool:
      return in_elements;
    case LayerKind::kConcat:
      return producer_elements;
    default:
      return elements;
  }
}

uint64_t Layer::macs() const {
  switch (kind) {
    case LayerKind::kConv2d:
      return sat_mul(output_elements(), sat_mul(sat_mul(r, s), c / groups));
    case LayerKind::kLinear:
      return sat_mul(sat_mul(rows, in_features), out_features);
    case LayerKind::kMatmul:
      return sat_mul(sat_mul(sat_mul(count, m), n), k);
    default:
      return 0;
  }
}

bool Network::operator==(const Network& o) const {
  return name == o.name && batch == o.batch && layers == o.layers;
}

std::optional<std::size_t> Network::find(const std::string& layer_name) const {
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (layers[i].name == layer_name) return i;
  }
  return std::nullopt;
}

uint64_t forward_macs(const Network& net) {
  uint64_t total = 0;
  for (const Layer& l : net.layers) total = sat_add(total, l.macs());
  return total;
}

uint64_t weight_elements(const Network& net, std::size_t layer) {
  const Layer& l = net.layers.at(layer);
  if (l.kind == LayerKind::kBatchnorm || l.kind == LayerKind::kLayernorm) {
    return norm_weight_elements(net, layer, all_channels(net, nullptr));
  }
  return own_weight_elements(l);
}

uint64_t parameter_count(const Network& net) {
  const std::vector<uint64_t> channels = all_channels(net, nullptr);
  uint64_t total = 0;
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    const Layer& l = net.layers[i];
    if (!l.has_weights() || !l.shares_weights_with.empty()) continue;
    const bool norm = l.kind == LayerKind::kBatchnorm || l.kind == LayerKind::kLayernorm;
    total = sat_add(total, norm ? norm_weight_elements(net, i, channels) : own_weight_elements(l));
  }
  return total;
}

uint64_t channels_of(const Network& net, const std::string& tensor) {
  uint64_t input = 0;
  const std::vector<uint64_t> ch = all_channels(net, &input);
  uint64_t c = input;
  if (tensor != "input") {
    const auto i = net.find(tensor);
    if (!i) throw InputError(net.name + ": no layer named \"" + tensor + "\"");
    c = ch[*i];
  }
  if (c == 0) {
    throw InputError(net.name + ": cannot tell the channels of \"" + tensor +
                     "\" from the layers before it");
  }
  return c;
}

std::size_t weight_owner(const Network& net, std::size_t layer) {
  std::size_t i = layer;
  // check_network guarantees that each link points to an earlier layer, so this ends.
  while (!net.layers[i].shares_weights_with.empty()) {
    const auto next = net.find(net.layers[i].shares_weights_with);
    if (!next || *next >= i) break;
    i = *next;
  }
  return i;
}

void check_network(const Network& net, const std::string& origin) {
  const std::string at = origin + ": ";
  if (net.name.empty()) throw InputError(at + ".name: expected a non-empty string");
  if (net.batch < 1 || net.batch > kMaxDim) {
    throw InputError(at + ".batch: expected an integer in [1, " + std::to_string(kMaxDim) +
                     "], found " + std::to_string(net.batch));
  }
  if (net.layers.empty()) throw InputError(at + ".layers: expected a non-empty array of layers");
  std::map<std::string, std::size_t> index;
  const std::vector<uint64_t> channels = all_channels(net, nullptr);
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    const Layer& l = net.layers[i];
    const std::string p = at + layer_path(i);
    if (l.name.empty()) throw InputError(p + ".name: expected a non-empty string");
    if (l.name == "input") {
      throw InputError(p + ".name: \"input\" names the network input; choose another name");
    }
    const auto [lo, hi] = input_count(l.kind);
    if (l.inputs.size() < lo || l.inputs.size() > hi) {
      const std::string want = lo == hi ? std::to_string(lo) + (lo == 1 ? " input" : " inputs")
                                        : "at least " + std::to_string(lo) + " input";
      throw InputError(p + ".inputs: a " + to_string(l.kind) + " layer takes " + want + ", found " +
                       std::to_string(l.inputs.size()));
    }
    for (std::size_t j = 0; j < l.inputs.size(); ++j) {
      if (l.inputs[j] == "input" || index.count(l.inputs[j]) != 0) continue;
      throw InputError(p + ".inputs[" + std::to_string(j) +
                       "]: expected \"input\" or the name of an earlier layer, found \"" +
                       l.inputs[j] + "\"" + (l.inputs[j] == l.name ? " (the layer itself)" : ""));
    }
    auto dim = [&](const char* key, uint64_t v, uint64_t min) {
      if (v < min || v > kMaxDim) {
        throw InputError(p + "." + key + ": expected an integer in [" + std::to_string(min) + ", " +
                         std::to_string(kMaxDim) + "], found " + std::to_string(v));
      }
    };
    switch (l.kind) {
      case LayerKind::kConv2d:
        dim("C", l.c, 1);
        dim("H", l.h, 1);
        dim("W", l.w, 1);
        dim("filters", l.filters, 1);
        dim("R", l.r, 1);
        dim("S", l.s, 1);
        dim("stride", l.stride, 1);
        dim("padding", l.padding, 0);
        dim("groups", l.groups, 1);
        for (const auto& [key, v] :
             {std::pair<const char*, uint64_t>{"C", l.c}, {"filters", l.filters}}) {
          if (v % l.groups != 0) {
            throw InputError(p + ".groups: " + std::to_string(l.groups) + " groups do not divide " +
                             key + " = " + std::to_string(v));
          }
        }
        if (l.r > l.h + 2 * l.padding || l.s > l.w + 2 * l.padding) {
          throw InputError(
              p + ": the filter (R=" + std::to_string(l.r) + ", S=" + std::to_string(l.s) +
              ") is larger than the padded input (H+2p=" + std::to_string(l.h + 2 * l.padding) +
              ", W+2p=" + std::to_string(l.w + 2 * l.padding) + ")");
        }
        break;
      case LayerKind::kLinear:
        dim("in_features", l.in_features, 1);
        dim("out_features", l.out_features, 1);
        dim("rows", l.rows, 1);
        break;
      case LayerKind::kMatmul:
        dim("count", l.count, 1);
        dim("M", l.m, 1);
        dim("N", l.n, 1);
        dim("K", l.k, 1);
        break;
      case LayerKind::kEmbedding:
        dim("vocab", l.vocab, 1);
        dim("dim", l.dim, 1);
        dim("rows", l.rows, 1);
        break;
      case LayerKind::kMaxpool:
      case LayerKind::kAvgpool:
        dim("elements", l.elements, 1);
        dim("in_elements", l.in_elements, 1);
        break;
      default:
        dim("elements", l.elements, 1);
        break;
    }
    if (l.macs() > kMaxProduct || l.output_elements() > kMaxProduct ||
        own_weight_elements(l) > kMaxProduct) {
      throw InputError(p +
                       ": the layer is too large (more than 2^60 MACs or elements per "
                       "sample); check its dimensions");
    }
    for (std::size_t t = 0; t < l.tags.size(); ++t) {
      if (std::find_if(kTags.begin(), kTags.end(), [&](const char* k) { return l.tags[t] == k; }) ==
          kTags.end()) {
        throw InputError(p + ".tags[" + std::to_string(t) + "]: expected one of \"" + kTagShortcut +
                         "\", \"" + kTagBottom1x1 + "\", \"" + kTagTop1x1 + "\", found \"" +
                         l.tags[t] + "\"");
      }
    }
    if (!l.shares_weights_with.empty()) {
      const auto it = index.find(l.shares_weights_with);
      if (it == index.end()) {
        throw InputError(p +
                         ".shares_weights_with: expected the name of an earlier layer, found \"" +
                         l.shares_weights_with + "\"");
      }
      const Layer& owner = net.layers[it->second];
      if (!l.has_weights() || !owner.has_weights()) {
        throw InputError(p + ".shares_weights_with: a " + to_string(l.kind) + " layer and a " +
                         to_string(owner.kind) +
                         " layer cannot share a weight (both need one: conv2d, linear, "
                         "embedding, batchnorm or layernorm)");
      }
      auto size = [&](std::size_t li) {
        const Layer& x = net.layers[li];
        const bool norm = x.kind == LayerKind::kBatchnorm || x.kind == LayerKind::kLayernorm;
        return norm ? norm_weight_elements(net, li, channels) : own_weight_elements(x);
      };
      if (size(i) != size(it->second)) {
        throw InputError(p + ".shares_weights_with: \"" + owner.name + "\" has a weight of " +
                         std::to_string(size(it->second)) + " elements, this layer needs " +
                         std::to_string(size(i)));
      }
    }
    if (!index.emplace(l.name, i).second) {
      throw InputError(p + ".name: the name \"" + l.name + "\" is used by an earlier layer (" +
                       layer_path(index[l.name]) + "); layer names must be unique");
    }
  }
}

Network network_from_json(const Json& root, const std::string& origin) {
  if (!root.is_object()) {
    throw InputError(origin + ": expected a network object at the top level, found " +
                     describe_json(root));
  }
  StrictObject top(origin, root, "");
  top.require_format("nibble-network", "network format");
  Network net;
  net.name = top.string("name");
  net.batch = top.dim("batch", 1, 1);
  const Json& layers = top.require("layers", "a non-empty array of layers");
  if (!layers.is_array() || layers.empty())
    top.fail("layers", "a non-empty array of layers", layers);
  top.finish("a nibble-network document");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    net.layers.push_back(read_layer(origin, layers[i], i));
  }
  check_network(net, origin);
  return net;
}

Network read_network(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw InputError(path + ": cannot open network file (does it exist and is it readable?)");
  Json root;
  try {
    root = Json::parse(in);
  } catch (const Json::parse_error& e) {
    throw InputError(path + ": not valid JSON: " + e.what());
  }
  return network_from_json(root, path);
}

Json network_to_json(const Network& net) {
  Json layers = Json::array();
  for (const Layer& l : net.layers) {
    Json j = Json::object();
    j["name"] = l.name;
    j["kind"] = to_string(l.kind);
    j["inputs"] = l.inputs;
    switch (l.kind) {
      case LayerKind::kConv2d:
        j["C"] = l.c;
        j["H"] = l.h;
        j["W"] = l.w;
        j["filters"] = l.filters;
        j["R"] = l.r;
        j["S"] = l.s;
        j["stride"] = l.stride;
        j["padding"] = l.padding;
        j["groups"] = l.groups;
        break;
      case LayerKind::kLinear:
        j["in_features"] = l.in_features;
        j["out_features"] = l.out_features;
        j["rows"] = l.rows;
        break;
      case LayerKind::kMatmul:
        j["count"] = l.count;
        j["M"] = l.m;
        j["N"] = l.n;
        j["K"] = l.k;
        break;
      case LayerKind::kEmbedding:
        j["vocab"] = l.vocab;
        j["dim"] = l.dim;
        j["rows"] = l.rows;
        break;
      case LayerKind::kMaxpool:
      case LayerKind::kAvgpool:
        j["elements"] = l.elements;
        j["in_elements"] = l.in_elements;
        break;
      default:
        j["elements"] = l.elements;
        break;
    }
    if (!l.tags.empty()) j["tags"] = l.tags;
    if (!l.shares_weights_with.empty()) j["shares_weights_with"] = l.shares_weights_with;
    layers.push_back(std::move(j));
  }
  Json doc = Json::object();
  doc["format"] = "nibble-network";
  doc["version"] = 1;
  doc["name"] = net.name;
  doc["batch"] = net.batch;
  doc["layers"] = std::move(layers);
  return doc;
}

namespace {

std::string compact(const Json& j) {
  if (j.is_object()) {
    std::string s = "{";
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it != j.begin()) s += ", ";
      s += Json(it.key()).dump() + ": " + compact(it.value());
    }
    return s + "}";
  }
  if (j.is_array()) {
    std::string s = "[";
    for (std::size_t i = 0; i < j.size(); ++i) s += (i == 0 ? "" : ", ") + compact(j[i]);
    return s + "]";
  }
  return j.dump();
}

}  // namespace

std::string json_to_text(const Json& doc) {
  if (!doc.is_object()) return compact(doc) + "\n";
  std::string s = "{\n";
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    s += "  " + Json(it.key()).dump() + ": ";
    const Json& v = it.value();
    if (v.is_array() && !v.empty() && v[0].is_object()) {
      s += "[\n";
      for (std::size_t i = 0; i < v.size(); ++i) {
        s += "    " + compact(v[i]) + (i + 1 < v.size() ? ",\n" : "\n");
      }
      s += "  ]";
    } else {
      s += compact(v);
    }
    s += std::next(it) == doc.end() ? "\n" : ",\n";
  }
  return s + "}\n";
}

}  // namespace nibble
