// Network generators: the built-in networks' sizes against published figures and hand counts,
// the layer-graph format (round trip, strict reading), and the expansion of a training iteration
// into trace ops (op counts, shapes, precisions under each recipe, gradient sums, shared weights),
// read back through the trace reader.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sim/error.h"
#include "sim/workload.h"
#include "tests/support/error_of.h"
#include "workloads/generators/expand.h"
#include "workloads/generators/network.h"
#include "workloads/generators/zoo.h"

namespace nibble {
namespace {

using testing_support::error_of;

Network zoo(const std::string& name, uint64_t batch = 1, uint64_t height = 0,
            uint64_t seq_len = 0) {
  ZooOptions o;
  o.batch = batch;
  o.height = o.width = height;
  o.seq_len = seq_len;
  return build_network(name, o);
}

Json expand(const Network& net, Recipe recipe, FirstLast first_last = FirstLast::kFp16) {
  ExpandOptions o;
  o.recipe = recipe;
  o.first_last = first_last;
  return expand_iteration(net, o);
}

// The op called `name` (a failed expectation and an empty object when there is none).
Json op_named(const Json& ops, const std::string& name) {
  for (const Json& op : ops) {
    if (op["name"] == name) return op;
  }
  ADD_FAILURE() << "no op named " << name;
  return Json::object();
}
bool has_op(const Json& ops, const std::string& name) {
  for (const Json& op : ops) {
    if (op["name"] == name) return true;
  }
  return false;
}
std::vector<std::string> names(const Json& ops) {
  std::vector<std::string> out;
  for (const Json& op : ops) out.push_back(op["name"].get<std::string>());
  return out;
}
std::map<std::string, int> per_pass(const Json& ops) {
  std::map<std::string, int> out;
  for (const Json& op : ops) ++out[op["pass"].get<std::string>()];
  return out;
}
Json prec(const std::string& a, const std::string& b, const std::string& out) {
  return Json{{"a", a}, {"b", b}, {"out", out}};
}

// Writes a trace of `ops` and reads it back with the simulator's trace reader.
Workload read_back(const Json& ops, const std::string& stem) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("nibble-unit-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / (stem + ".json")).string();
  Json doc = {{"format", "nibble-trace"}, {"version", 1}, {"ops", ops}};
  std::ofstream(path) << json_to_text(doc);
  return read_json_trace(path);
}

// ---------------------------------------------------------------------------------------------
// Sizes of the built-in networks

TEST(Zoo, SmallNetworksHaveHandCountedMacs) {
  // MLP 784-256-256-10: 784·256 + 256·256 + 256·10 = 200,704 + 65,536 + 2,560 = 268,800.
  EXPECT_EQ(forward_macs(zoo("mlp")), 268800u);
  // LeNet-5 at 32×32×1: conv1 6 filters 5×5 → 28×28: 28·28·6·25 = 117,600; pool → 14×14;
  // conv2 16 filters 5×5×6 → 10×10: 10·10·16·150 = 240,000; pool → 5×5; fc 400·120 = 48,000,
  // 120·84 = 10,080, 84·10 = 840. Sum 416,520.
  EXPECT_EQ(forward_macs(zoo("lenet")), 416520u);
  // Parameters (no biases): 6·25 + 16·150 + 48,000 + 10,080 + 840 = 150 + 2,400 + 58,920 = 61,470.
  EXPECT_EQ(parameter_count(zoo("lenet")), 61470u);
}

TEST(Zoo, ImageNetworksMatchPublishedMacsWithin2Percent) {
  // Multiply-accumulates of one 224×224 image, as published. torchvision = the "GFLOPS" column of
  // torchvision's model documentation (pytorch.org/vision/stable/models.html; it counts
  // multiply-adds of convolutions and linear layers).
  struct Published {
    const char* network;
    double macs;
    const char* source;
  };
  const Published table[] = {
      {"resnet50", 4.09e9, "torchvision ResNet50_Weights.IMAGENET1K_V1"},
      {"resnet18", 1.81e9, "torchvision ResNet18_Weights.IMAGENET1K_V1"},
      {"vgg16", 15.47e9, "torchvision VGG16_Weights.IMAGENET1K_V1"},
      {"mobilenetv2", 0.30e9, "torchvision MobileNet_V2_Weights; Sandler et al. 2018: 300M"},
      {"alexnet", 0.71e9, "torchvision AlexNet_Weights.IMAGENET1K_V1"},
      {"resnet101", 7.80e9, "torchvision ResNet101_Weights.IMAGENET1K_V1"},
      {"densenet121", 2.83e9, "torchvision DenseNet121_Weights.IMAGENET1K_V1"},
  };
  for (const Published& p : table) {
    const double macs = static_cast<double>(forward_macs(zoo(p.network)));
    EXPECT_NEAR(macs / p.macs, 1.0, 0.02) << p.network << " (" << p.source << "): " << macs;
  }
}

TEST(Zoo, ImageNetworksHaveTorchvisionParameterCounts) {
  // torchvision's num_params (weights, biases, batch-norm γ and β) less the biases, which the
  // graph leaves out: the fc/classifier biases (1000) and, for AlexNet and VGG, the conv biases.
  // AlexNet biases: convs 64+192+384+256+256 = 1,152, fcs 4096+4096+1000 = 9,192.
  // VGG-16 biases: convs 2·64 + 2·128 + 3·256 + 6·512 = 4,224, fcs 9,192.
  EXPECT_EQ(parameter_count(zoo("resnet18")), 11689512u - 1000);
  EXPECT_EQ(parameter_count(zoo("resnet50")), 25557032u - 1000);
  EXPECT_EQ(parameter_count(zoo("resnet101")), 44549160u - 1000);
  EXPECT_EQ(parameter_count(zoo("mobilenetv2")), 3504872u - 1000);
  EXPECT_EQ(parameter_count(zoo("densenet121")), 7978856u - 1000);
  EXPECT_EQ(parameter_count(zoo("alexnet")), 61100840u - 1152 - 9192);
  EXPECT_EQ(parameter_count(zoo("vgg16")), 138357544u - 4224 - 9192);
}

TEST(Zoo, TransformerAndBertMacsByHand) {
  // Transformer base at 128 tokens. Per attention block: Q, K, V, output projections
  // 4·128·512·512 = 134,217,728; scores and context 2·8·128·128·64 = 16,777,216.
  // FFN: 2·128·512·2048 = 268,435,456. Encoder layer: 134,217,728 + 16,777,216 + 268,435,456 =
  // 419,430,400; decoder layer (two attention blocks): 570,425,344. Output projection
  // 128·512·32000 = 2,097,152,000. Total 6·419,430,400 + 6·570,425,344 + 2,097,152,000 =
  // 8,036,286,464.
  EXPECT_EQ(forward_macs(zoo("transformer-base")), 8036286464u);
  // BERT-base at 128 tokens: per layer 4·128·768² = 301,989,888, attention 2·12·128·128·64 =
  // 25,165,824, FFN 2·128·768·3072 = 603,979,776: 931,135,488; ×12 = 11,173,625,856. Masked-LM
  // head over ceil(0.15·128) = 20 rows: 20·768·768 + 20·768·30522 = 11,796,480 + 468,817,920.
  // Total 11,654,240,256.
  EXPECT_EQ(forward_macs(zoo("bert-base")), 11654240256u);
  // BERT-base parameters: "110M" (Devlin et al. 2019, Sec. 3); ours has no biases, pooler or
  // next-sentence head: word 30522·768 + position 512·768 + type 2·768 + 12 layers of
  // (4·768² + 2·768·3072 + 2 layer norms of 2·768) + the masked-LM transform 768² + 2·768 +
  // the embedding layer norm 2·768 = 109,400,064.
  EXPECT_EQ(parameter_count(zoo("bert-base")), 109400064u);
  EXPECT_NEAR(static_cast<double>(parameter_count(zoo("bert-base"))) / 110e6, 1.0, 0.02);
  // The shared 32000·512 embedding counts once: 16,384,000 + 6 encoder layers of
  // (4·512² + 2·512·2048 + 2·1024) + 6 decoder layers of (8·512² + 2·512·2048 + 3·1024)
  // = 16,384,000 + 18,886,656 + 25,184,256 = 60,454,912.
  EXPECT_EQ(parameter_count(zoo("transformer-base")), 60454912u);
  // Sequence length scales the token-wise layers: at 64 tokens, per attention block
  // 4·64·512² + 2·8·64·64·64 = 67,108,864 + 4,194,304; FFN 134,217,728; output 64·512·32000.
  const uint64_t enc = 67108864u + 4194304u + 134217728u;
  const uint64_t dec = 2 * (67108864u + 4194304u) + 134217728u;
  EXPECT_EQ(forward_macs(zoo("transformer-base", 1, 0, 64)), 6 * enc + 6 * dec + 64u * 512 * 32000);
}

TEST(Zoo, LstmMacsAndParametersByHand) {
  // Zaremba et al.'s medium LSTM, 35 steps: per step and layer two 650×2600 GEMMs
  // (2·650·2600 = 3,380,000), 2 layers × 35 steps = 236,600,000; decoder 35·650·10000 =
  // 227,500,000. Total 464,100,000.
  EXPECT_EQ(forward_macs(zoo("lstm")), 464100000u);
  // Embedding 10000·650 + 2 layers × (650·2600 + 650·2600) + decoder 650·10000 = 19,760,000,
  // each step's weights counted once.
  EXPECT_EQ(parameter_count(zoo("lstm")), 19760000u);
}

TEST(Zoo, InputSizeOption) {
  // VGG-16 at 32×32: every conv keeps its size within a stage and the pools divide evenly
  // (32 → 16 → 8 → 4 → 2 → 1), so conv MACs are (32/224)² = 1/49 of those at 224; the adaptive
  // pool restores 7×7, so the classifier's 25088·4096 + 4096·4096 + 4096·1000 = 123,633,664 stay.
  const uint64_t classifier = 25088u * 4096 + 4096u * 4096 + 4096u * 1000;
  const uint64_t conv224 = forward_macs(zoo("vgg16")) - classifier;
  EXPECT_EQ(conv224 % 49, 0u);
  EXPECT_EQ(forward_macs(zoo("vgg16", 1, 32)), conv224 / 49 + classifier);
  // ResNets build at CIFAR size; layer4 ends at 1×1 (32 → 16 → 8 → 8 → 4 → 2 → 1).
  for (const char* name : {"resnet18", "resnet50", "resnet101"}) {
    const Network n = zoo(name, 1, 32);
    const Layer& pool = n.layers[*n.find("avgpool")];
    EXPECT_EQ(pool.in_elements, pool.elements) << name;  // 1×1 before global pooling
  }
  // AlexNet's 11×11/4 stem and three 3×3/2 pools do not fit 32×32.
  EXPECT_EQ(error_of([] { zoo("alexnet", 1, 32); }),
            "alexnet: the input is too small: layer \"features.12\" has a 3x3 window over a 1x1 "
            "input (padding 0); use a larger --input");
  EXPECT_EQ(error_of([] { build_network("resnet", {}); }),
            "unknown network 'resnet' (expected one of: mlp, lenet, alexnet, vgg16, resnet18, "
            "resnet50, resnet101, mobilenetv2, densenet121, transformer-base, bert-base, lstm)");
}

TEST(Zoo, ChannelsOfNormalizationLayers) {
  const Network r = zoo("resnet50");
  // bn1 follows conv1 (64 filters): γ and β are 2·64 = 128 values.
  EXPECT_EQ(weight_elements(r, *r.find("bn1")), 128u);
  // DenseNet-121's first block, layer 3, reads 64 + 2·32 = 128 channels.
  const Network d = zoo("densenet121");
  EXPECT_EQ(channels_of(d, "features.denseblock1.denselayer3.concat"), 128u);
  EXPECT_EQ(weight_elements(d, *d.find("features.denseblock1.denselayer3.norm1")), 256u);
  // After block 4: 512 + 16·32 = 1024 channels into norm5.
  EXPECT_EQ(weight_elements(d, *d.find("features.norm5")), 2048u);
}

// ---------------------------------------------------------------------------------------------
// The layer-graph format

TEST(NetworkJson, EveryBuiltInNetworkRoundTrips) {
  for (const ZooEntry& e : zoo_entries()) {
    const Network net = zoo(e.name, 3);
    const Json doc = network_to_json(net);
    EXPECT_EQ(network_from_json(doc, "x"), net) << e.name;
    // and through the text form the CLI writes
    EXPECT_EQ(network_from_json(Json::parse(json_to_text(doc)), "x"), net) << e.name;
  }
}

TEST(NetworkJson, DefaultsAndOneLayerPerLine) {
  const Json doc = Json::parse(R"({"format": "nibble-network", "version": 1, "name": "t",
    "layers": [{"name": "c", "kind": "conv2d", "inputs": ["input"], "C": 3, "H": 8, "W": 8,
                "filters": 4, "R": 3, "S": 3},
               {"name": "fc", "kind": "linear", "inputs": ["c"], "in_features": 144,
                "out_features": 2, "tags": ["shortcut"]}]})");
  const Network net = network_from_json(doc, "t.json");
  EXPECT_EQ(net.batch, 1u);
  EXPECT_EQ(net.layers[0].stride, 1u);
  EXPECT_EQ(net.layers[0].padding, 0u);
  EXPECT_EQ(net.layers[0].groups, 1u);
  EXPECT_EQ(net.layers[1].rows, 1u);
  // P = Q = (8 − 3)/1 + 1 = 6: 4·6·6 = 144 outputs, 144·27 MACs; fc 144·2.
  EXPECT_EQ(net.layers[0].output_elements(), 144u);
  EXPECT_EQ(forward_macs(net), 144u * 27 + 144 * 2);
  EXPECT_EQ(json_to_text(network_to_json(net)),
            "{\n"
            "  \"format\": \"nibble-network\",\n"
            "  \"version\": 1,\n"
            "  \"name\": \"t\",\n"
            "  \"batch\": 1,\n"
            "  \"layers\": [\n"
            "    {\"name\": \"c\", \"kind\": \"conv2d\", \"inputs\": [\"input\"], \"C\": 3, "
            "\"H\": 8, \"W\": 8, \"filters\": 4, \"R\": 3, \"S\": 3, \"stride\": 1, \"padding\": "
            "0, \"groups\": 1},\n"
            "    {\"name\": \"fc\", \"kind\": \"linear\", \"inputs\": [\"c\"], \"in_features\": "
            "144, \"out_features\": 2, \"rows\": 1, \"tags\": [\"shortcut\"]}\n"
            "  ]\n"
            "}\n");
}

// The message of the error reading a one- or two-layer graph with the given layers.
std::string graph_error(const std::string& layers, const std::string& top = "") {
  const std::string text = R"({"format": "nibble-network", "version": 1, "name": "t", )" + top +
                           R"("layers": [)" + layers + "]}";
  return error_of([&] { network_from_json(Json::parse(text), "g.json"); });
}

TEST(NetworkJson, StrictReadingNamesFilePathExpectedAndFound) {
  const std::string fc = R"({"name": "fc", "kind": "linear", "inputs": ["input"], )"
                         R"("in_features": 4, "out_features": 2)";
  EXPECT_EQ(graph_error(fc + "}"), "(no error)");
  EXPECT_EQ(graph_error(fc + R"(, "filters": 3})"),
            "g.json: .layers[0].filters: unknown key (a linear layer has: name, kind, inputs, "
            "in_features, out_features, rows, tags, shares_weights_with)");
  EXPECT_EQ(graph_error(R"({"name": "fc", "kind": "linear", "inputs": ["input"], )"
                        R"("in_features": "4", "out_features": 2})"),
            "g.json: .layers[0].in_features: expected an integer in [1, 1073741824], found "
            "string \"4\"");
  EXPECT_EQ(graph_error(R"({"name": "fc", "kind": "linear", "inputs": ["input"], )"
                        R"("in_features": -4, "out_features": 2})"),
            "g.json: .layers[0].in_features: expected an integer in [1, 1073741824], found "
            "integer -4");
  EXPECT_EQ(graph_error(R"({"name": "fc", "kind": "linear", "inputs": ["nope"], )"
                        R"("in_features": 4, "out_features": 2})"),
            "g.json: .layers[0].inputs[0]: expected \"input\" or the name of an earlier layer, "
            "found \"nope\"");
  // A layer named later is not earlier.
  EXPECT_EQ(graph_error(R"({"name": "a", "kind": "relu", "inputs": ["b"], "elements": 2}, )"
                        R"({"name": "b", "kind": "relu", "inputs": ["input"], "elements": 2})"),
            "g.json: .layers[0].inputs[0]: expected \"input\" or the name of an earlier layer, "
            "found \"b\"");
  EXPECT_EQ(graph_error(fc + "}, " + fc + "}"),
            "g.json: .layers[1].name: the name \"fc\" is used by an earlier layer (.layers[0]); "
            "layer names must be unique");
  EXPECT_EQ(graph_error(R"({"name": "input", "kind": "relu", "inputs": ["input"], "elements": 2})"),
            "g.json: .layers[0].name: \"input\" names the network input; choose another name");
  EXPECT_EQ(graph_error(R"({"name": "c", "kind": "conv2d", "inputs": ["input"], "C": 3, "H": 8, )"
                        R"("W": 8, "filters": 4, "S": 3})"),
            "g.json: .layers[0].R: missing; expected an integer in [1, 1073741824]");
  EXPECT_EQ(graph_error(R"({"name": "c", "kind": "conv2d", "inputs": ["input"], "C": 6, "H": 8, )"
                        R"("W": 8, "filters": 8, "R": 3, "S": 3, "groups": 4})"),
            "g.json: .layers[0].groups: 4 groups do not divide C = 6");
  EXPECT_EQ(graph_error(R"({"name": "c", "kind": "conv2d", "inputs": ["input"], "C": 3, "H": 2, )"
                        R"("W": 8, "filters": 8, "R": 5, "S": 3, "padding": 1})"),
            "g.json: .layers[0]: the filter (R=5, S=3) is larger than the padded input (H+2p=4, "
            "W+2p=10)");
  EXPECT_EQ(graph_error(fc + R"(, "tags": ["skip"]})"),
            "g.json: .layers[0].tags[0]: expected one of \"shortcut\", \"bottom_1x1\", "
            "\"top_1x1\", found \"skip\"");
  EXPECT_EQ(graph_error(fc + R"(, "tags": "shortcut"})"),
            "g.json: .layers[0].tags: expected an array of tags (\"shortcut\", \"bottom_1x1\", "
            "\"top_1x1\"), found string \"shortcut\"");
  EXPECT_EQ(graph_error(R"({"name": "m", "kind": "matmul", "inputs": ["input"], "M": 2, "N": 2, )"
                        R"("K": 2})"),
            "g.json: .layers[0].inputs: a matmul layer takes 2 inputs, found 1");
  EXPECT_EQ(graph_error(R"({"name": "r", "kind": "relu", "inputs": [], "elements": 2})"),
            "g.json: .layers[0].inputs: a relu layer takes 1 input, found 0");
  EXPECT_EQ(graph_error(fc + "}, " +
                        R"({"name": "fc2", "kind": "linear", "inputs": ["fc"], "in_features": 2, )"
                        R"("out_features": 3, "shares_weights_with": "fc"})"),
            "g.json: .layers[1].shares_weights_with: \"fc\" has a weight of 8 elements, this "
            "layer needs 6");
  EXPECT_EQ(graph_error(fc + R"(, "shares_weights_with": "later"})"),
            "g.json: .layers[0].shares_weights_with: expected the name of an earlier layer, "
            "found \"later\"");
  EXPECT_EQ(graph_error(R"({"name": "fc", "kind": "dense", "inputs": ["input"]})")
                .rfind("g.json: .layers[0].kind: expected one of \"conv2d\", \"linear\", ", 0),
            0u);
  EXPECT_EQ(graph_error(fc + "}", R"("batch": 0, )"),
            "g.json: .batch: expected an integer in [1, 1073741824], found integer 0");
  EXPECT_EQ(graph_error(fc + "}", R"("comment": "x", )"),
            "g.json: .comment: unknown key (a nibble-network document has: format, version, "
            "name, batch, layers)");
  EXPECT_EQ(error_of([] {
              network_from_json(Json::parse(R"({"format": "nibble-trace", "version": 1})"),
                                "g.json");
            }),
            "g.json: .format: expected \"nibble-network\", found string \"nibble-trace\"");
  EXPECT_EQ(error_of([] {
              network_from_json(Json::parse(R"({"format": "nibble-network", "version": 2})"),
                                "g.json");
            }),
            "g.json: .version: this build reads network format version 1, the file says "
            "integer 2");
  EXPECT_EQ(error_of([] { read_network("/nonexistent/g.json"); }),
            "/nonexistent/g.json: cannot open network file (does it exist and is it readable?)");
}

// ---------------------------------------------------------------------------------------------
// Expansion of one training iteration

TEST(Expand, MlpUnderThePapersRecipe) {
  const Json ops = expand(zoo("mlp", 64), Recipe::kInt4Fp4);
  // First (fc1) and last (fc3) layers stay in FP16 by default: only fc2 quantizes.
  const std::vector<std::string> expected = {
      "fc1.fwd", "fc1.relu.fwd", "fc2.act_q", "fc2.fwd", "fc2.relu.fwd", "fc3.fwd", "loss.fwd",
      // backward, layers in reverse; fc1 reads the network input: no bwd_data
      "fc3.bwd_data", "fc3.bwd_weight", "fc2.relu.bwd_data", "fc2.grad_q", "fc2.bwd_data",
      "fc2.bwd_weight", "fc2.grad_scale", "fc1.relu.bwd_data", "fc1.bwd_weight",
      // update: every weight, INT4 requantization of the one the forward reads in INT4
      "fc1.sgd", "fc2.sgd", "fc2.w_q", "fc3.sgd"};
  EXPECT_EQ(names(ops), expected);
  EXPECT_EQ(per_pass(ops), (std::map<std::string, int>{
                               {"fwd", 7}, {"bwd_data", 6}, {"bwd_weight", 3}, {"update", 4}}));
  // fc2 reads ReLU output (PACT, uint4): 64·256 = 16,384 values.
  EXPECT_EQ(op_named(ops, "fc2.act_q"),
            Json::parse(R"({"name": "fc2.act_q", "type": "quantize", "pass": "fwd",
              "elements": 16384, "from": "fp16", "to": "uint4", "deps": ["fc1.relu.fwd"]})"));
  EXPECT_EQ(op_named(ops, "fc2.fwd"),
            Json::parse(R"({"name": "fc2.fwd", "type": "gemm", "pass": "fwd", "M": 64, "N": 256,
              "K": 256, "precision": {"a": "uint4", "b": "int4", "out": "fp16"},
              "deps": ["fc2.act_q"]})"));
  // Its output gradient (64·256) in FP4, both TPR phases: even for bwd_data, odd for bwd_weight.
  EXPECT_EQ(op_named(ops, "fc2.grad_q"),
            Json::parse(R"({"name": "fc2.grad_q", "type": "quantize", "pass": "bwd_data",
              "elements": 16384, "from": "fp16", "to": "fp4", "phase": "both",
              "deps": ["fc2.relu.bwd_data"]})"));
  EXPECT_EQ(op_named(ops, "fc2.bwd_data"),
            Json::parse(R"({"name": "fc2.bwd_data", "type": "gemm", "pass": "bwd_data", "M": 64,
              "N": 256, "K": 256, "precision": {"a": "fp4", "b": "int4", "out": "fp16"},
              "deps": ["fc2.grad_q"]})"));
  EXPECT_EQ(op_named(ops, "fc2.bwd_weight"),
            Json::parse(R"({"name": "fc2.bwd_weight", "type": "gemm", "pass": "bwd_weight",
              "M": 256, "N": 256, "K": 64, "precision": {"a": "uint4", "b": "fp4", "out": "fp16"},
              "deps": ["fc2.grad_q", "fc2.act_q"]})"));
  // The 4-bit overhead over the gradient of fc2's quantized input, 64·256 values.
  EXPECT_EQ(op_named(ops, "fc2.grad_scale"),
            Json::parse(R"({"name": "fc2.grad_scale", "type": "vector", "pass": "bwd_data",
              "function": "grad_scale", "elements": 16384, "precision": "fp16",
              "deps": ["fc2.bwd_data"]})"));
  EXPECT_EQ(op_named(ops, "fc1.relu.bwd_data")["deps"],
            Json::parse(R"(["fc2.grad_scale", "fc1.relu.fwd"])"));
  EXPECT_EQ(op_named(ops, "fc1.bwd_weight")["precision"], prec("fp16", "fp16", "fp16"));
  EXPECT_EQ(op_named(ops, "fc3.bwd_data")["deps"], Json::parse(R"(["loss.fwd"])"));
  // Softmax cross-entropy over 64·10 logits in FP32; fc1's 784·256 = 200,704 FP32 weights.
  EXPECT_EQ(op_named(ops, "loss.fwd")["elements"], 640);
  EXPECT_EQ(op_named(ops, "loss.fwd")["precision"], "fp32");
  EXPECT_EQ(op_named(ops, "fc1.sgd"),
            Json::parse(R"({"name": "fc1.sgd", "type": "vector", "pass": "update",
              "function": "sgd_momentum", "elements": 200704, "precision": "fp32",
              "deps": ["fc1.bwd_weight"]})"));
  EXPECT_EQ(op_named(ops, "fc2.w_q"),
            Json::parse(R"({"name": "fc2.w_q", "type": "quantize", "pass": "update",
              "elements": 65536, "from": "fp32", "to": "int4", "deps": ["fc2.sgd"]})"));
}

TEST(Expand, MlpWithFirstAndLastLayersInTheRecipe) {
  const Json ops = expand(zoo("mlp", 64), Recipe::kInt4Fp4, FirstLast::kRecipe);
  const std::vector<std::string> expected = {
      "fc1.act_q",      "fc1.fwd",        "fc1.relu.fwd",   "fc2.act_q",         "fc2.fwd",
      "fc2.relu.fwd",   "fc3.act_q",      "fc3.fwd",        "loss.fwd",          "fc3.grad_q",
      "fc3.bwd_data",   "fc3.bwd_weight", "fc3.grad_scale", "fc2.relu.bwd_data", "fc2.grad_q",
      "fc2.bwd_data",   "fc2.bwd_weight", "fc2.grad_scale", "fc1.relu.bwd_data", "fc1.grad_q",
      "fc1.bwd_weight", "fc1.sgd",        "fc1.w_q",        "fc2.sgd",           "fc2.w_q",
      "fc3.sgd",        "fc3.w_q"};
  EXPECT_EQ(names(ops), expected);
  // The network input is not a ReLU output: signed INT4, 64·784 = 50,176 values.
  EXPECT_EQ(op_named(ops, "fc1.act_q")["to"], "int4");
  EXPECT_EQ(op_named(ops, "fc1.act_q")["elements"], 50176);
  // fc1 has no bwd_data: only the odd phase is needed.
  EXPECT_EQ(op_named(ops, "fc1.grad_q")["phase"], "odd");
  EXPECT_EQ(op_named(ops, "fc1.bwd_weight")["precision"], prec("int4", "fp4", "fp16"));
  EXPECT_EQ(op_named(ops, "fc3.grad_q")["phase"], "both");
}

TEST(Expand, MlpInFp32AndFp16) {
  const Json ops = expand(zoo("mlp", 8), Recipe::kFp32);
  const std::vector<std::string> expected = {
      "fc1.fwd",           "fc1.relu.fwd", "fc2.fwd",        "fc2.relu.fwd",
      "fc3.fwd",           "loss.fwd",     "fc3.bwd_data",   "fc3.bwd_weight",
      "fc2.relu.bwd_data", "fc2.bwd_data", "fc2.bwd_weight", "fc1.relu.bwd_data",
      "fc1.bwd_weight",    "fc1.sgd",      "fc2.sgd",        "fc3.sgd"};
  EXPECT_EQ(names(ops), expected);
  for (const Json& op : ops) {
    if (op.contains("M")) {
      EXPECT_EQ(op["precision"], prec("fp32", "fp32", "fp32")) << op;
    }
    if (op["type"] == "vector") {
      EXPECT_EQ(op["precision"], "fp32") << op;
    }
  }
  for (const Json& op : expand(zoo("mlp", 8), Recipe::kFp16)) {
    EXPECT_NE(op["type"], "quantize") << op;
    if (op.contains("M")) {
      EXPECT_EQ(op["precision"], prec("fp16", "fp16", "fp16")) << op;
    }
  }
}

TEST(Expand, BackwardGemmsDoTheForwardMacs) {
  // Read back through the simulator's trace reader, which lowers each pass's conv2d.
  const Network net = zoo("resnet50", 2);
  const Workload w = read_back(expand(net, Recipe::kInt4Fp4), "resnet50-b2");
  std::map<std::string, uint64_t> macs;  // by op name
  uint64_t fwd = 0, bwd_data = 0, bwd_weight = 0;
  for (const Op& op : w.ops) {
    macs[op.name] = op.macs();
    if (op.pass == Pass::kFwd) fwd += op.macs();
    if (op.pass == Pass::kBwdData) bwd_data += op.macs();
    if (op.pass == Pass::kBwdWeight) bwd_weight += op.macs();
  }
  for (const Layer& l : net.layers) {
    if (!l.is_gemm()) continue;
    EXPECT_EQ(macs[l.name + ".fwd"], 2 * l.macs()) << l.name;
    EXPECT_EQ(macs[l.name + ".bwd_weight"], 2 * l.macs()) << l.name;
    if (l.name != "conv1") {
      EXPECT_EQ(macs[l.name + ".bwd_data"], 2 * l.macs()) << l.name;
    }
  }
  EXPECT_EQ(fwd, 2 * forward_macs(net));
  EXPECT_EQ(bwd_weight, fwd);
  // conv1 reads the network input: 112·112·64·(7·7·3) = 118,013,952 MACs a sample.
  EXPECT_EQ(net.layers[0].macs(), 118013952u);
  EXPECT_EQ(bwd_data, fwd - 2 * 118013952u);

  // Attention products: two backward-data GEMMs per matmul, each of the forward's MACs.
  const Network bert = zoo("bert-base", 2, 0, 32);
  const Workload b = read_back(expand(bert, Recipe::kInt4Fp4), "bert-b2");
  std::map<std::string, uint64_t> bm;
  for (const Op& op : b.ops) bm[op.name] = op.macs();
  // scores: 2·12 products of 32×32 by 64: 24·32·32·64 = 1,572,864.
  EXPECT_EQ(bm["encoder.0.attn.scores.fwd"], 1572864u);
  EXPECT_EQ(bm["encoder.0.attn.scores.bwd_data_a"], 1572864u);
  EXPECT_EQ(bm["encoder.0.attn.scores.bwd_data_b"], 1572864u);
}

TEST(Expand, EveryNetworkReadsBackWithUniqueNamesAndEarlierDeps) {
  for (const ZooEntry& e : zoo_entries()) {
    for (Recipe r : {Recipe::kInt4Fp4, Recipe::kHfp8, Recipe::kFp32}) {
      const Json ops = expand(zoo(e.name, 2), r);
      // The trace reader refuses duplicate names and deps on later or unknown ops.
      const Workload w = read_back(ops, e.name);
      ASSERT_EQ(w.ops.size(), ops.size()) << e.name;
      // Every backward and update op depends on something.
      for (const Op& op : w.ops) {
        EXPECT_FALSE(op.deps.empty() && op.pass != Pass::kFwd) << e.name << " " << op.name;
      }
    }
  }
}

// The precision of op `name`.
Json precision_of(const Json& ops, const std::string& name) {
  return op_named(ops, name)["precision"];
}

TEST(Expand, PaperRulesOnResNet50) {
  const Network net = zoo("resnet50", 2);
  const Json ops = expand(net, Recipe::kInt4Fp4);
  // First (conv1) and last (fc) weight layers in FP16 by default; conv1 has no bwd_data.
  EXPECT_EQ(precision_of(ops, "conv1.fwd"), prec("fp16", "fp16", "fp16"));
  EXPECT_EQ(precision_of(ops, "conv1.bwd_weight"), prec("fp16", "fp16", "fp16"));
  EXPECT_FALSE(has_op(ops, "conv1.bwd_data"));
  EXPECT_FALSE(has_op(ops, "conv1.act_q"));
  EXPECT_EQ(precision_of(ops, "fc.fwd"), prec("fp16", "fp16", "fp16"));
  // Projection shortcuts in FP16 (FPSC), all passes, no quantization.
  for (const char* pass : {"fwd", "bwd_data", "bwd_weight"}) {
    EXPECT_EQ(precision_of(ops, std::string("layer2.0.downsample.0.") + pass),
              prec("fp16", "fp16", "fp16"));
  }
  EXPECT_FALSE(has_op(ops, "layer2.0.downsample.0.act_q"));
  EXPECT_FALSE(has_op(ops, "layer2.0.downsample.0.w_q"));
  // Every other conv: INT4 forward (uint4 after ReLU), FP4-even × INT4 backward data,
  // UINT4 × FP4-odd weight gradient.
  EXPECT_EQ(precision_of(ops, "layer2.0.conv2.fwd"), prec("uint4", "int4", "fp16"));
  EXPECT_EQ(precision_of(ops, "layer2.0.conv2.bwd_data"), prec("fp4", "int4", "fp16"));
  EXPECT_EQ(precision_of(ops, "layer2.0.conv2.bwd_weight"), prec("uint4", "fp4", "fp16"));
  EXPECT_EQ(op_named(ops, "layer2.0.conv2.grad_q")["phase"], "both");
  // layer1.0.conv1 reads the max pool of a ReLU: PACT (uint4); 56·56·64·2 values.
  EXPECT_EQ(op_named(ops, "layer1.0.conv1.act_q")["to"], "uint4");
  EXPECT_EQ(op_named(ops, "layer1.0.conv1.act_q")["elements"], 56 * 56 * 64 * 2);
  // The stride is on the 3×3 (v1.5): layer2.0.conv2 reads 56×56 and writes 28×28.
  EXPECT_EQ(op_named(ops, "layer2.0.conv2.fwd")["H"], 56);
  EXPECT_EQ(op_named(ops, "layer2.0.conv2.fwd")["stride"], 2);
  EXPECT_EQ(op_named(ops, "layer2.0.conv1.fwd")["stride"], 1);

  // --first-last hfp8: HFP8 1-4-3 forward, 1-5-2 gradients.
  const Json h = expand(net, Recipe::kInt4Fp4, FirstLast::kHfp8);
  EXPECT_EQ(precision_of(h, "conv1.fwd"), prec("hfp8_143", "hfp8_143", "fp16"));
  EXPECT_EQ(precision_of(h, "conv1.bwd_weight"), prec("hfp8_143", "hfp8_152", "fp16"));
  EXPECT_EQ(precision_of(h, "fc.bwd_data"), prec("hfp8_152", "hfp8_143", "fp16"));
  // --first-last recipe: conv1 quantizes the (signed) image; fc reads the pooled ReLU (uint4).
  const Json r = expand(net, Recipe::kInt4Fp4, FirstLast::kRecipe);
  EXPECT_EQ(op_named(r, "conv1.act_q")["to"], "int4");
  EXPECT_EQ(precision_of(r, "conv1.fwd"), prec("int4", "int4", "fp16"));
  EXPECT_EQ(op_named(r, "conv1.grad_q")["phase"], "odd");
  EXPECT_EQ(op_named(r, "fc.act_q")["to"], "uint4");
  EXPECT_TRUE(has_op(r, "conv1.w_q"));
  // The shortcut rule still holds.
  EXPECT_EQ(precision_of(r, "layer2.0.downsample.0.fwd"), prec("fp16", "fp16", "fp16"));
}

TEST(Expand, OneByOneRulesOnResNet50) {
  const Network net = zoo("resnet50", 2);
  const Json hfp8_fwd = prec("hfp8_143", "hfp8_143", "fp16");
  const Json hfp8_bd = prec("hfp8_152", "hfp8_143", "fp16");
  const Json hfp8_bw = prec("hfp8_143", "hfp8_152", "fp16");
  // int4-fp4-1x1fp8: both 1×1 convs of every bottleneck in HFP8, all passes; 3×3 stays 4-bit.
  const Json all = expand(net, Recipe::kInt4Fp4OneByOneFp8);
  for (const char* conv :
       {"layer1.0.conv1", "layer1.0.conv3", "layer4.2.conv1", "layer4.2.conv3"}) {
    const std::string c = conv;
    EXPECT_EQ(precision_of(all, c + ".fwd"), hfp8_fwd) << c;
    EXPECT_EQ(precision_of(all, c + ".bwd_data"), hfp8_bd) << c;
    EXPECT_EQ(precision_of(all, c + ".bwd_weight"), hfp8_bw) << c;
    EXPECT_FALSE(has_op(all, c + ".act_q")) << c;
    EXPECT_FALSE(has_op(all, c + ".grad_q")) << c;
    EXPECT_FALSE(has_op(all, c + ".w_q")) << c;
  }
  EXPECT_EQ(precision_of(all, "layer1.0.conv2.fwd"), prec("uint4", "int4", "fp16"));
  EXPECT_EQ(precision_of(all, "layer1.0.conv2.bwd_data"), prec("fp4", "int4", "fp16"));
  // The 1×1 projection shortcut stays FP16 (FPSC comes first).
  EXPECT_EQ(precision_of(all, "layer1.0.downsample.0.fwd"), prec("fp16", "fp16", "fp16"));
  // int4-fp4-bot1x1fp8: only each bottleneck's first 1×1.
  const Json bot = expand(net, Recipe::kInt4Fp4Bottom1x1Fp8);
  EXPECT_EQ(precision_of(bot, "layer3.1.conv1.fwd"), hfp8_fwd);
  EXPECT_EQ(precision_of(bot, "layer3.1.conv1.bwd_weight"), hfp8_bw);
  EXPECT_EQ(precision_of(bot, "layer3.1.conv3.fwd"), prec("uint4", "int4", "fp16"));
  EXPECT_EQ(precision_of(bot, "layer3.1.conv3.bwd_weight"), prec("uint4", "fp4", "fp16"));
  EXPECT_EQ(precision_of(bot, "layer3.1.conv2.fwd"), prec("uint4", "int4", "fp16"));
  // 16 bottlenecks: 16 bottom 1×1 convs in HFP8 forward under bot1x1, 32 under 1x1.
  int bot_hfp8 = 0, all_hfp8 = 0;
  for (const Json& op : bot)
    bot_hfp8 += op["pass"] == "fwd" && op.value("precision", Json()) == hfp8_fwd;
  for (const Json& op : all)
    all_hfp8 += op["pass"] == "fwd" && op.value("precision", Json()) == hfp8_fwd;
  EXPECT_EQ(bot_hfp8, 16);
  EXPECT_EQ(all_hfp8, 32);
}

TEST(Expand, DepthwiseConvolutionsStayFp16) {
  const Network net = zoo("mobilenetv2", 2);
  const Json ops = expand(net, Recipe::kInt4Fp4);
  int depthwise = 0;
  for (const Layer& l : net.layers) {
    if (!l.is_depthwise()) continue;
    ++depthwise;
    for (const char* pass : {"fwd", "bwd_data", "bwd_weight"}) {
      const Json op = op_named(ops, l.name + "." + pass);
      EXPECT_EQ(op["precision"], prec("fp16", "fp16", "fp16")) << l.name;
      EXPECT_EQ(op["groups"], l.c) << l.name;
    }
    EXPECT_FALSE(has_op(ops, l.name + ".act_q"));
    EXPECT_FALSE(has_op(ops, l.name + ".grad_q"));
  }
  EXPECT_EQ(depthwise, 17);  // one per inverted residual block
  EXPECT_EQ(precision_of(ops, "features.2.expand.conv.fwd"), prec("int4", "int4", "fp16"));
  EXPECT_EQ(precision_of(ops, "features.2.project.conv.fwd"), prec("uint4", "int4", "fp16"));
}

TEST(Expand, HybridAndEightBitRecipes) {
  const Network net = zoo("resnet18", 2);
  const std::string c = "layer2.1.conv2";
  // int4-fp4-dwfp8: FP4 (even phase only) for backward data, HFP8 for the weight gradient.
  const Json dw = expand(net, Recipe::kInt4Fp4DwFp8);
  EXPECT_EQ(op_named(dw, c + ".grad_q")["phase"], "even");
  EXPECT_EQ(precision_of(dw, c + ".bwd_data"), prec("fp4", "int4", "fp16"));
  EXPECT_EQ(precision_of(dw, c + ".bwd_weight"), prec("hfp8_143", "hfp8_152", "fp16"));
  EXPECT_TRUE(has_op(dw, c + ".w_q"));
  // int4-hfp8: INT4 forward, HFP8 backward (the INT4 values exact in 1-4-3), no FP4.
  const Json ih = expand(net, Recipe::kInt4Hfp8);
  EXPECT_EQ(precision_of(ih, c + ".fwd"), prec("uint4", "int4", "fp16"));
  EXPECT_EQ(precision_of(ih, c + ".bwd_data"), prec("hfp8_152", "hfp8_143", "fp16"));
  EXPECT_EQ(precision_of(ih, c + ".bwd_weight"), prec("hfp8_143", "hfp8_152", "fp16"));
  EXPECT_FALSE(has_op(ih, c + ".grad_q"));
  EXPECT_TRUE(has_op(ih, c + ".grad_scale"));
  // int4-fp16: FP16 backward.
  const Json i16 = expand(net, Recipe::kInt4Fp16);
  EXPECT_EQ(precision_of(i16, c + ".bwd_data"), prec("fp16", "fp16", "fp16"));
  EXPECT_EQ(precision_of(i16, c + ".bwd_weight"), prec("fp16", "fp16", "fp16"));
  EXPECT_FALSE(has_op(i16, c + ".grad_q"));
  // hfp8: no quantize op at all (no conversion the rescaling unit does), no grad_scale.
  const Json h = expand(net, Recipe::kHfp8);
  EXPECT_EQ(precision_of(h, c + ".fwd"), prec("hfp8_143", "hfp8_143", "fp16"));
  EXPECT_EQ(precision_of(h, "conv1.fwd"), prec("fp16", "fp16", "fp16"));
  EXPECT_EQ(precision_of(h, "layer2.0.downsample.0.fwd"), prec("fp16", "fp16", "fp16"));
  for (const Json& op : h) {
    EXPECT_NE(op["type"], "quantize") << op;
    EXPECT_NE(op.value("function", ""), "grad_scale") << op;
  }
}

TEST(Expand, AttentionProductsUnderThePapersRecipe) {
  const Json ops = expand(zoo("bert-base", 2, 0, 32), Recipe::kInt4Fp4);
  const std::string s = "encoder.3.attn.scores.";
  // Q (32 rows × 768) and K, both signed INT4; 2 samples × 12 heads of 32×64 · 64×32.
  EXPECT_EQ(op_named(ops, s + "act_q_a")["to"], "int4");
  EXPECT_EQ(op_named(ops, s + "act_q_a")["elements"], 2 * 32 * 768);
  EXPECT_EQ(op_named(ops, s + "fwd"),
            Json::parse(R"({"name": "encoder.3.attn.scores.fwd", "type": "gemm", "pass": "fwd",
              "M": 32, "N": 32, "K": 64, "batch": 24,
              "precision": {"a": "int4", "b": "int4", "out": "fp16"},
              "deps": ["encoder.3.attn.scores.act_q_a", "encoder.3.attn.scores.act_q_b"]})"));
  // Both backward GEMMs are backward-data GEMMs: the even phase only.
  EXPECT_EQ(op_named(ops, s + "grad_q")["phase"], "even");
  EXPECT_EQ(op_named(ops, s + "grad_q")["elements"], 2 * 12 * 32 * 32);
  // dA = dC·Bᵀ: 32×64 from 32×32 and 32×64; dB = Aᵀ·dC: 64×32 from 64×32 and 32×32.
  const Json da = op_named(ops, s + "bwd_data_a"), db = op_named(ops, s + "bwd_data_b");
  EXPECT_EQ(da["M"], 32);
  EXPECT_EQ(da["N"], 64);
  EXPECT_EQ(da["K"], 32);
  EXPECT_EQ(da["precision"], prec("fp4", "int4", "fp16"));
  EXPECT_EQ(db["M"], 64);
  EXPECT_EQ(db["N"], 32);
  EXPECT_EQ(db["K"], 32);
  EXPECT_EQ(db["precision"], prec("int4", "fp4", "fp16"));
  EXPECT_TRUE(has_op(ops, s + "grad_scale_a"));
  EXPECT_TRUE(has_op(ops, s + "grad_scale_b"));
  // The word embedding is the first weight layer and has no GEMM; mlm.decoder is the last.
  EXPECT_EQ(precision_of(ops, "mlm.decoder.fwd"), prec("fp16", "fp16", "fp16"));
  EXPECT_EQ(precision_of(ops, "encoder.0.attn.q.fwd"), prec("int4", "int4", "fp16"));
  EXPECT_EQ(op_named(ops, "encoder.0.ffn.gelu.bwd_data")["function"], "gelu_grad");
  EXPECT_EQ(op_named(ops, "encoder.0.norm1.bwd_data")["function"], "layernorm_grad");
  EXPECT_EQ(op_named(ops, "encoder.0.attn.softmax.bwd_data")["function"], "softmax_grad");
}

TEST(Expand, GradientsOfTensorsReadTwiceAreSummed) {
  // ResNet-18: the max pool's output (64·56·56 = 200,704 a sample) feeds layer1.0.conv1 and the
  // identity shortcut's add: one add of 200,704 per sample.
  const Json r = expand(zoo("resnet18", 2), Recipe::kInt4Fp4);
  EXPECT_EQ(op_named(r, "maxpool.grad_sum"),
            Json::parse(R"({"name": "maxpool.grad_sum", "type": "vector", "pass": "bwd_data",
              "function": "add", "elements": 401408, "precision": "fp16",
              "deps": ["layer1.0.relu.bwd_data", "layer1.0.conv1.grad_scale"]})"));
  // The add's gradient passes through (no op); a projection block's input is read by its conv1
  // and the downsample conv.
  EXPECT_FALSE(has_op(r, "layer1.0.add.bwd_data"));
  EXPECT_EQ(op_named(r, "layer1.1.relu.grad_sum")["elements"], 2 * 64 * 56 * 56);

  // LSTM: h_t is read by the next step and the layer above (650 + 650 of 650: one add of 650);
  // the gates are read as disjoint slices (sigmoid 1950 + tanh 650 = 2600 of 2600: no add).
  const Json l = expand(zoo("lstm", 4), Recipe::kInt4Fp4);
  EXPECT_EQ(op_named(l, "l1.t0.h.grad_sum")["elements"], 4 * 650);
  EXPECT_EQ(op_named(l, "l1.t3.c.grad_sum")["elements"], 4 * 650);
  EXPECT_FALSE(has_op(l, "l1.t0.gates.grad_sum"));
  EXPECT_FALSE(has_op(l, "l1.t0.ifo.grad_sum"));
  EXPECT_FALSE(has_op(l, "l2.t34.h.grad_sum"));  // only the output concat reads it
  EXPECT_FALSE(has_op(l, "embed.grad_sum"));     // each step reads its own row
  // The carried-in state is the network input: no gradient flows into it.
  EXPECT_FALSE(has_op(l, "l1.t0.hw.bwd_data"));
  EXPECT_TRUE(has_op(l, "l1.t1.hw.bwd_data"));

  // Transformer: the source embedding (+ position) feeds Q, K, V and the residual add:
  // 4 readers of 128·512, three adds' worth.
  const Json t = expand(zoo("transformer-base", 1), Recipe::kFp16);
  EXPECT_EQ(op_named(t, "embed.src.position.grad_sum")["elements"], 3 * 128 * 512);
  // The encoder's output feeds K and V of 6 cross-attention blocks: 12 readers, 11 adds.
  EXPECT_EQ(op_named(t, "encoder.5.norm2.grad_sum")["elements"], 11 * 128 * 512);
}

TEST(Expand, SharedWeightsUpdateOnce) {
  const Json t = expand(zoo("transformer-base", 2), Recipe::kInt4Fp4);
  // One update of the shared 32000·512 table, after its three gradients.
  EXPECT_EQ(op_named(t, "embed.src.sgd"),
            Json::parse(R"({"name": "embed.src.sgd", "type": "vector", "pass": "update",
              "function": "sgd_momentum", "elements": 16384000, "precision": "fp32",
              "deps": ["generator.bwd_weight", "embed.tgt.bwd_weight",
                       "embed.src.bwd_weight"]})"));
  EXPECT_FALSE(has_op(t, "embed.tgt.sgd"));
  EXPECT_FALSE(has_op(t, "generator.sgd"));
  // The table is read in FP16 (the generator is the last weight layer): no INT4 copy.
  EXPECT_FALSE(has_op(t, "embed.src.w_q"));
  EXPECT_TRUE(has_op(expand(zoo("transformer-base", 2), Recipe::kInt4Fp4, FirstLast::kRecipe),
                     "embed.src.w_q"));
  // LSTM: a weight-gradient GEMM per step, one update per weight.
  const Json l = expand(zoo("lstm", 2), Recipe::kInt4Fp4);
  EXPECT_EQ(op_named(l, "l1.t0.xw.sgd")["deps"].size(), 35u);
  EXPECT_EQ(op_named(l, "l1.t0.xw.sgd")["elements"], 650 * 2600);
  EXPECT_FALSE(has_op(l, "l1.t1.xw.sgd"));
  EXPECT_TRUE(has_op(l, "l1.t0.xw.w_q"));
  int updates = 0;
  for (const Json& op : l) updates += op.value("function", "") == "sgd_momentum";
  EXPECT_EQ(updates, 6);  // embed, 2 × (xw, hw), decoder
  // batch norm γ, β: 2·channels each, updated in FP32.
  const Json r = expand(zoo("resnet18", 2), Recipe::kInt4Fp4);
  EXPECT_EQ(op_named(r, "layer3.0.bn2.sgd")["elements"], 2 * 256);
  EXPECT_EQ(op_named(r, "layer3.0.bn2.sgd")["deps"], Json::parse(R"(["layer3.0.bn2.bwd_data"])"));
}

TEST(Expand, CountsAboveTheTraceLimitAreInputErrors) {
  // transformer-base's logits at batch 300: 300·128·32000 = 1,228,800,000 > 2^30.
  EXPECT_EQ(error_of([] { expand(zoo("transformer-base", 300), Recipe::kFp16); }),
            "transformer-base: op \"loss.fwd\": elements = 1228800000 is above the trace "
            "format's limit of 2^30 (1073741824); use a smaller batch");
}

Network graph(const std::string& layers) {
  return network_from_json(Json::parse(R"({"format": "nibble-network", "version": 1, "name": "t",
    "batch": 3, "layers": [)" + layers +
                                       "]}"),
                           "t.json");
}

TEST(Expand, GraphsWithoutLossOrWithoutWeights) {
  // No loss: the last layer's output gradient comes from outside (no op makes it).
  const Json fc = expand(graph(R"({"name": "fc", "kind": "linear", "inputs": ["input"],
      "in_features": 4, "out_features": 2})"),
                         Recipe::kInt4Fp4);
  EXPECT_EQ(names(fc), (std::vector<std::string>{"fc.fwd", "fc.bwd_weight", "fc.sgd"}));
  // Its inputs come from outside too: it depends on no op (an empty list, so that it does not
  // default to the op before it).
  EXPECT_EQ(op_named(fc, "fc.bwd_weight")["deps"], Json::array());
  // Nothing with weights: no backward, no update.
  const Json relu = expand(
      graph(R"({"name": "r", "kind": "relu", "inputs": ["input"], "elements": 5})"), Recipe::kFp16);
  EXPECT_EQ(names(relu), std::vector<std::string>{"r.fwd"});
  EXPECT_EQ(op_named(relu, "r.fwd")["elements"], 15);  // 3 samples × 5
  EXPECT_EQ(error_of([] {
              expand(
                  graph(R"({"name": "c", "kind": "concat", "inputs": ["input"], "elements": 5})"),
                  Recipe::kFp16);
            }),
            "t: the network has nothing to compute (a trace needs at least one op; concat layers "
            "alone make none)");
  // A batch norm straight on the input with nothing to say its channels.
  EXPECT_EQ(error_of([] {
              expand(graph(R"({"name": "bn", "kind": "batchnorm", "inputs": ["input"],
                               "elements": 12})"),
                     Recipe::kFp16);
            }),
            "t: layer \"bn\" (batchnorm): cannot tell its channels from the layers before it (its "
            "γ and β have one value per channel)");
  // ... which a conv reading the same input tells (C = 4: γ, β of 8 values).
  const Json bn = expand(graph(R"({"name": "bn", "kind": "batchnorm", "inputs": ["input"],
      "elements": 64}, {"name": "c", "kind": "conv2d", "inputs": ["input"], "C": 4, "H": 4,
      "W": 4, "filters": 2, "R": 1, "S": 1})"),
                         Recipe::kFp16);
  EXPECT_EQ(op_named(bn, "bn.sgd")["elements"], 8);
}

TEST(Expand, RecipeAndFirstLastNames) {
  EXPECT_EQ(recipe_names(),
            "fp32, fp16, hfp8, int4-fp16, int4-hfp8, int4-fp4, int4-fp4-dwfp8, int4-fp4-1x1fp8, "
            "int4-fp4-bot1x1fp8");
  for (const char* name : {"fp32", "int4-fp4", "int4-fp4-bot1x1fp8"}) {
    ASSERT_TRUE(parse_recipe(name));
    EXPECT_STREQ(to_string(*parse_recipe(name)), name);
  }
  EXPECT_FALSE(parse_recipe("int4"));
  EXPECT_EQ(parse_first_last("recipe"), FirstLast::kRecipe);
  EXPECT_FALSE(parse_first_last("fp32"));
}

}  // namespace
}  // namespace nibble
