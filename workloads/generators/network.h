// A network as a layer graph ("nibble-network" JSON, version 1): what `nibble trace` expands into
// one training iteration, what the built-in networks (zoo.h) are and what the ONNX importer
// writes. Shapes are per sample; the batch is separate. See workloads/generators/README.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/config.h"

namespace nibble {

enum class LayerKind {
  kConv2d,
  kLinear,
  kMatmul,
  kEmbedding,
  kRelu,
  kGelu,
  kSigmoid,
  kTanh,
  kAdd,
  kMul,
  kBatchnorm,
  kLayernorm,
  kSoftmax,
  kConcat,
  kMaxpool,
  kAvgpool,
  kLoss
};
const char* to_string(LayerKind kind);
std::optional<LayerKind> parse_layer_kind(const std::string& text);

// The tags a layer may carry (precision rules of the 4-bit recipes, see expand.h).
constexpr const char* kTagShortcut = "shortcut";     // residual projection: full precision (FPSC)
constexpr const char* kTagBottom1x1 = "bottom_1x1";  // a bottleneck's first 1×1 conv
constexpr const char* kTagTop1x1 = "top_1x1";        // a bottleneck's last 1×1 conv

// One layer. Only the fields of its kind mean anything (the others keep their defaults):
//   conv2d     c, h, w (input), filters, r, s, stride, padding (every side), groups
//   linear     in_features, out_features, rows (rows per sample, e.g. tokens)
//   matmul     count (independent products, e.g. heads), m, n, k (per product); no weights
//   embedding  vocab, dim, rows (tokens per sample): a gather from a vocab×dim table
//   maxpool, avgpool       elements (output), in_elements (input)
//   every other kind       elements (output elements; concat: the sum of its inputs')
struct Layer {
  std::string name;
  LayerKind kind = LayerKind::kRelu;
  std::vector<std::string> inputs;  // earlier layers' names, or "input" (the network input)
  uint64_t c = 0, h = 0, w = 0, filters = 0, r = 0, s = 0, stride = 1, padding = 0, groups = 1;
  uint64_t in_features = 0, out_features = 0;
  uint64_t rows = 1;  // linear, embedding
  uint64_t count = 1, m = 0, n = 0, k = 0;
  uint64_t vocab = 0, dim = 0;
  uint64_t elements = 0, in_elements = 0;
  std::vector<std::string> tags;
  std::string shares_weights_with;  // an earlier layer whose weight this one uses ("" if none)

  bool operator==(const Layer& other) const;
  bool operator!=(const Layer& other) const { return !(*this == other); }

  bool has_tag(const std::string& tag) const;
  // conv2d, linear and matmul run as GEMMs; conv2d and linear have weights.
  bool is_gemm() const;
  // Layers with a trained tensor: conv2d, linear, embedding (weights), batchnorm and layernorm
  // (γ and β).
  bool has_weights() const;
  // conv2d: groups == C == filters (one filter per channel).
  bool is_depthwise() const;
  uint64_t out_h() const { return (h + 2 * padding - r) / stride + 1; }
  uint64_t out_w() const { return (w + 2 * padding - s) / stride + 1; }
  // Output elements per sample.
  uint64_t output_elements() const;
  // Elements per sample this layer reads from its input `slot` (0 for an embedding's token ids;
  // for concat, pass the producer's output elements as `producer_elements`).
  uint64_t input_elements(std::size_t slot, uint64_t producer_elements) const;
  // Multiply-accumulates per sample of the forward pass (conv2d, linear, matmul; 0 otherwise).
  uint64_t macs() const;
};

struct Network {
  std::string name;
  uint64_t batch = 1;
  std::vector<Layer> layers;

  bool operator==(const Network& other) const;
  // The index of the layer named `name`, if any.
  std::optional<std::size_t> find(const std::string& name) const;
};

// Forward multiply-accumulates of one sample: the sum of macs() over the layers.
uint64_t forward_macs(const Network& net);

// Trained elements of one layer's own tensor: conv2d filters·(C/groups)·R·S, linear in·out,
// embedding vocab·dim, batchnorm/layernorm 2·channels (γ, β; channels from `channels_of`).
// Biases are not counted. 0 for layers without weights.
uint64_t weight_elements(const Network& net, std::size_t layer);
// Trained elements of the whole network, each shared tensor counted once.
uint64_t parameter_count(const Network& net);
// The channels (features of the innermost dimension) of the tensor a layer outputs: conv2d
// filters, linear out_features, embedding dim, matmul N; element-wise layers and pools those of
// their first input; concat the sum of its inputs'. For "input", the C (conv2d) or in_features
// (linear) of the first layer that reads it. Throws InputError when the graph does not say.
uint64_t channels_of(const Network& net, const std::string& tensor);

// The layer that owns the weight `layer` uses (follows shares_weights_with to its end).
std::size_t weight_owner(const Network& net, std::size_t layer);

// Checks a network read from `origin` (a file name, or a built-in network's name): names unique
// and not "input", inputs earlier, input counts, every field in range, groups dividing C and
// filters, filters that fit the padded input, shares_weights_with naming an earlier layer with a
// tensor of the same size. Throws InputError naming origin, the JSON path (.layers[3].groups),
// what was expected and what was found.
void check_network(const Network& net, const std::string& origin);

// Reads a "nibble-network" file strictly (unknown keys, wrong types, unknown inputs and duplicate
// names are errors) and checks it.
Network read_network(const std::string& path);
// The same from a parsed document; `origin` names it in errors.
Network network_from_json(const Json& root, const std::string& origin);
// The document (every field of each layer's kind written, defaults included).
Json network_to_json(const Network& net);

// JSON text with one array element a line at the second level (a layer or an op per line) and
// `{"key": value, ...}` spacing inside: compact, diffable, and what the shipped traces look like.
std::string json_to_text(const Json& doc);

}  // namespace nibble
