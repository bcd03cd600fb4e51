// `nibble trace` end to end: a trace for every built-in network, the --graph path, bad command
// lines (exit 2, one line on stderr, no file), and generated traces replayed by `nibble run`.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sim/config.h"
#include "tests/support/cli.h"

namespace nibble {
namespace {

namespace fs = std::filesystem;

using testing_support::kBinary;
using testing_support::kSource;
using testing_support::nibble;
using testing_support::Outcome;
using testing_support::scratch;
using testing_support::slurp;

const std::vector<std::string> kNetworks = {
    "mlp",       "lenet",     "alexnet",     "vgg16",       "resnet18",
    "resnet50",  "resnet101", "mobilenetv2", "densenet121", "transformer-base",
    "bert-base", "lstm"};

TEST(TraceCli, Help) {
  const fs::path dir = scratch();
  const Outcome o = nibble("trace --help", dir);
  EXPECT_EQ(o.status, 0);
  EXPECT_NE(o.out.find("usage: nibble trace --network NAME"), std::string::npos);
  for (const std::string& n : kNetworks) EXPECT_NE(o.out.find("  " + n + " "), std::string::npos);
  EXPECT_NE(o.out.find("int4-fp4-bot1x1fp8"), std::string::npos);
  EXPECT_NE(o.out.find("--first-last"), std::string::npos);
  EXPECT_NE(nibble("--help", dir).out.find("  trace "), std::string::npos);
}

TEST(TraceCli, WritesATraceForEveryNetwork) {
  const fs::path dir = scratch();
  for (const std::string& n : kNetworks) {
    const fs::path file = dir / (n + ".json");
    const Outcome o = nibble(
        "trace --network " + n + " --batch 2 --recipe int4-fp4 -o '" + file.string() + "'", dir);
    ASSERT_EQ(o.status, 0) << n << ": " << o.err;
    EXPECT_EQ(o.err, "");
    EXPECT_EQ(o.out.rfind("nibble trace: wrote " + file.string() + ": " + n + "-b2-int4-fp4, ", 0),
              0u)
        << o.out;
    EXPECT_EQ(testing_support::temporaries_in(dir), "");
    const Json t = Json::parse(slurp(file));
    EXPECT_EQ(t["format"], "nibble-trace");
    EXPECT_EQ(t["version"], 1);
    EXPECT_EQ(t["iterations"], 1);
    EXPECT_EQ(t["name"], n + "-b2-int4-fp4");
    EXPECT_EQ(t["source"]["generator"], "nibble trace");
    EXPECT_EQ(t["source"]["network"], n);
    EXPECT_EQ(t["source"]["batch"], 2);
    EXPECT_EQ(t["source"]["recipe"], "int4-fp4");
    EXPECT_EQ(t["source"]["first_last"], "fp16");
    EXPECT_GT(t["ops"].size(), 10u);
  }
  // The source records the shape options and the batch's forward MACs: MLP 2·268,800.
  const Json mlp = Json::parse(slurp(dir / "mlp.json"));
  EXPECT_EQ(mlp["source"]["forward_macs"], 537600);
  EXPECT_EQ(mlp["source"]["classes"], 10);
  EXPECT_EQ(Json::parse(slurp(dir / "resnet50.json"))["source"]["input"], "224x224");
  EXPECT_EQ(Json::parse(slurp(dir / "bert-base.json"))["source"]["seq_len"], 128);
  EXPECT_EQ(Json::parse(slurp(dir / "lstm.json"))["source"]["seq_len"], 35);
}

TEST(TraceCli, ShapeOptions) {
  const fs::path dir = scratch();
  Outcome o = nibble(
      "trace --network resnet18 --batch 4 --recipe fp16 --input 32x32 --classes 10 "
      "-o '" +
          (dir / "r.json").string() + "'",
      dir);
  ASSERT_EQ(o.status, 0) << o.err;
  Json t = Json::parse(slurp(dir / "r.json"));
  EXPECT_EQ(t["source"]["input"], "32x32");
  EXPECT_EQ(t["source"]["classes"], 10);
  EXPECT_EQ(t["ops"][0]["H"], 32);  // conv1.fwd
  o = nibble(
      "trace --network transformer-base --batch 1 --recipe hfp8 --seq-len 16 "
      "--first-last recipe -o '" +
          (dir / "t.json").string() + "'",
      dir);
  ASSERT_EQ(o.status, 0) << o.err;
  t = Json::parse(slurp(dir / "t.json"));
  EXPECT_EQ(t["source"]["seq_len"], 16);
  EXPECT_EQ(t["source"]["first_last"], "recipe");
}

TEST(TraceCli, BadInputExitsTwoWithOneLineAndNoFile) {
  const fs::path dir = scratch();
  const std::string out = " -o '" + (dir / "t.json").string() + "'";
  struct Case {
    std::string args;
    std::string message;  // the whole stderr
  };
  const std::vector<Case> cases = {
      {"trace --network resnet --batch 2 --recipe int4-fp4" + out,
       "trace: unknown network 'resnet' (expected one of: mlp, lenet, alexnet, vgg16, resnet18, "
       "resnet50, resnet101, mobilenetv2, densenet121, transformer-base, bert-base, lstm)"},
      {"trace --network resnet18 --batch 2 --recipe int4" + out,
       "trace: unknown recipe 'int4' (expected one of: fp32, fp16, hfp8, int4-fp16, int4-hfp8, "
       "int4-fp4, int4-fp4-dwfp8, int4-fp4-1x1fp8, int4-fp4-bot1x1fp8)"},
      {"trace --network resnet18 --batch 0 --recipe int4-fp4" + out,
       "trace: --batch: expected an integer in [1, 1073741824], found '0'"},
      {"trace --network resnet18 --batch -3 --recipe int4-fp4" + out,
       "trace: --batch: expected an integer in [1, 1073741824], found '-3'"},
      {"trace --network resnet18 --batch two --recipe int4-fp4" + out,
       "trace: --batch: expected an integer in [1, 1073741824], found 'two'"},
      {"trace --network resnet18 --recipe int4-fp4" + out,
       "trace: --batch B is required with --network"},
      {"trace --network resnet18 --batch 2" + out, "trace: --recipe R is required"},
      {"trace --network resnet18 --batch 2 --recipe int4-fp4",
       "trace: -o FILE (the trace to write) is required"},
      {"trace --batch 2 --recipe int4-fp4" + out,
       "trace: --network NAME or --graph FILE is required"},
      {"trace --network mlp --graph g.json --batch 2 --recipe int4-fp4" + out,
       "trace: give --network or --graph, not both"},
      {"trace --network bert-base --batch 2 --recipe int4-fp4 --input 224x224" + out,
       "trace: --input applies to image networks, not to bert-base (use --seq-len)"},
      {"trace --network resnet18 --batch 2 --recipe int4-fp4 --seq-len 128" + out,
       "trace: --seq-len applies to transformer-base, bert-base and lstm, not to resnet18"},
      {"trace --network resnet18 --batch 2 --recipe int4-fp4 --input 224by224" + out,
       "trace: --input: expected HxW (e.g. 224x224), found '224by224'"},
      {"trace --network resnet18 --batch 2 --recipe int4-fp4 --input 0x32" + out,
       "trace: --input: expected an integer in [1, 1073741824], found '0'"},
      {"trace --network resnet18 --batch 2 --recipe int4-fp4 --input 224x" + out,
       "trace: --input: expected HxW (e.g. 224x224), found '224x'"},
      {"trace --network alexnet --batch 2 --recipe int4-fp4 --input 32x32" + out,
       "trace: alexnet: the input is too small: layer \"features.12\" has a 3x3 window over a "
       "1x1 input (padding 0); use a larger --input"},
      {"trace --network bert-base --batch 2 --recipe int4-fp4 --classes 10" + out,
       "trace: --classes applies to classifiers, not to bert-base"},
      {"trace --network resnet18 --batch 2 --recipe int4-fp4 --first-last fp32" + out,
       "trace: --first-last: expected fp16, hfp8 or recipe, found 'fp32'"},
      {"trace --network resnet18 --batch 2 --recipe int4-fp4 --frobnicate" + out,
       "trace: unrecognised option '--frobnicate' (try 'nibble trace --help')"},
      {"trace --network transformer-base --batch 300 --recipe fp16" + out,
       "transformer-base: op \"loss.fwd\": elements = 1228800000 is above the trace format's "
       "limit of 2^30 (1073741824); use a smaller batch"},
      {"trace --graph /nonexistent/g.json --recipe int4-fp4" + out,
       "/nonexistent/g.json: cannot open network file (does it exist and is it readable?)"},
      {"trace --graph g.json --recipe int4-fp4 --input 32x32" + out,
       "trace: --input applies to --network only (a graph fixes its shapes)"},
  };
  for (const Case& c : cases) {
    const Outcome o = nibble(c.args, dir);
    EXPECT_EQ(o.status, 2) << c.args;
    EXPECT_EQ(o.err, "nibble: error: " + c.message + "\n") << c.args;
    EXPECT_EQ(o.out, "") << c.args;
    EXPECT_FALSE(fs::exists(dir / "t.json")) << c.args;
    EXPECT_EQ(testing_support::temporaries_in(dir), "") << c.args;
  }
}

TEST(TraceCli, GraphPathGivesTheNetworksTrace) {
  const fs::path dir = scratch();
  const std::string g = (dir / "resnet18.graph.json").string();
  Outcome o = nibble("trace --network resnet18 --batch 4 --recipe int4-fp4-dwfp8 --save-graph '" +
                         g + "' -o '" + (dir / "a.json").string() + "'",
                     dir);
  ASSERT_EQ(o.status, 0) << o.err;
  const Json graph = Json::parse(slurp(g));
  EXPECT_EQ(graph["format"], "nibble-network");
  EXPECT_EQ(graph["batch"], 4);
  // The graph's batch, then --batch replacing it.
  o = nibble(
      "trace --graph '" + g + "' --recipe int4-fp4-dwfp8 -o '" + (dir / "b.json").string() + "'",
      dir);
  ASSERT_EQ(o.status, 0) << o.err;
  const Json a = Json::parse(slurp(dir / "a.json")), b = Json::parse(slurp(dir / "b.json"));
  EXPECT_EQ(a["ops"], b["ops"]);
  EXPECT_EQ(b["source"]["graph"], g);
  EXPECT_EQ(b["source"]["batch"], 4);
  o = nibble("trace --graph '" + g + "' --batch 2 --recipe int4-fp4-dwfp8 -o '" +
                 (dir / "c.json").string() + "'",
             dir);
  ASSERT_EQ(o.status, 0) << o.err;
  const Json c = Json::parse(slurp(dir / "c.json"));
  EXPECT_EQ(c["source"]["batch"], 2);
  EXPECT_EQ(c["ops"][0]["batch"], 2);  // conv1.fwd

  // A bad graph: the file, the JSON path, what was expected and what was found.
  std::ofstream(dir / "bad.json") << R"({"format": "nibble-network", "version": 1, "name": "b",
    "layers": [{"name": "fc", "kind": "linear", "inputs": ["x"], "in_features": 4,
                "out_features": 2}]})";
  o = nibble("trace --graph '" + (dir / "bad.json").string() + "' --recipe fp16 -o '" +
                 (dir / "d.json").string() + "'",
             dir);
  EXPECT_EQ(o.status, 2);
  EXPECT_EQ(o.err, "nibble: error: " + (dir / "bad.json").string() +
                       ": .layers[0].inputs[0]: expected \"input\" or the name of an earlier "
                       "layer, found \"x\"\n");
  EXPECT_FALSE(fs::exists(dir / "d.json"));
}

TEST(TraceCli, GeneratedTracesReplay) {
  // Small networks at a small batch, through the simulator on the default config.
  const fs::path dir = scratch();
  for (const std::string& n : {std::string("mlp"), std::string("lenet")}) {
    for (const char* recipe : {"int4-fp4", "hfp8", "fp32"}) {
      const std::string trace = (dir / (n + "-" + recipe + ".json")).string();
      Outcome o = nibble(
          "trace --network " + n + " --batch 2 --recipe " + recipe + " -o '" + trace + "'", dir);
      ASSERT_EQ(o.status, 0) << o.err;
      o = nibble("run --config configs/default.json --quiet --workload '" + trace + "' --out '" +
                     (dir / (n + "-" + recipe)).string() + "'",
                 dir);
      EXPECT_EQ(o.status, 0) << n << " " << recipe << ": " << o.err;
      const Json report = Json::parse(slurp(dir / (n + "-" + recipe) / "report.json"));
      EXPECT_EQ(report["status"], "complete");
      EXPECT_EQ(report["ops"].size(), Json::parse(slurp(trace))["ops"].size());
    }
  }
}

// Every built-in network, batch 1, the paper's recipe, through the simulator on the default
// config: the run completes, reports every op, and its forward GEMMs do the MACs the generator
// says the forward pass has (source.forward_macs), so nothing was lost between the two.
class EveryNetwork : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryNetwork, ReplaysOnTheDefaultConfig) {
  const fs::path dir = scratch();
  {
    const std::string& n = GetParam();
    const std::string trace = (dir / (n + ".json")).string();
    Outcome o =
        nibble("trace --network " + n + " --batch 1 --recipe int4-fp4 -o '" + trace + "'", dir);
    ASSERT_EQ(o.status, 0) << o.err;
    o = nibble("run --config configs/default.json --quiet --workload '" + trace + "' --out '" +
                   (dir / n).string() + "'",
               dir);
    ASSERT_EQ(o.status, 0) << o.err;
    const Json report = Json::parse(slurp(dir / n / "report.json"));
    const Json t = Json::parse(slurp(trace));
    EXPECT_EQ(report["status"], "complete");
    EXPECT_EQ(report["ops"].size(), t["ops"].size());
    uint64_t forward = 0;
    for (const Json& op : report["ops"]) {
      if (op["pass"] == "fwd") forward += op["macs"].get<uint64_t>();
    }
    EXPECT_EQ(forward, t["source"]["forward_macs"].get<uint64_t>());
    EXPECT_GT(report["cycles"].get<uint64_t>(), 0u);
  }
}

// One test per network, so that each has its own timeout and ctest spreads them over the cores.
INSTANTIATE_TEST_SUITE_P(TraceCli, EveryNetwork, ::testing::ValuesIn(kNetworks),
                         [](const ::testing::TestParamInfo<std::string>& network) {
                           std::string name = network.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace nibble
