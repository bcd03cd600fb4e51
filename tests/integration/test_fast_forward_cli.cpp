// sim.fast_forward: the exact shortcuts (today the DRAM controller's stream skips, see
// models/dram/controller.h) change how long a run takes, never what it reports. Each case runs
// twice, shortcuts on (the default) and off, and the two reports must be the same bytes apart
// from the --set line that switched them off.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/cli.h"

namespace nibble {
namespace {

namespace fs = std::filesystem;
using namespace testing_support;

// The report of `nibble run ARGS` with sim.fast_forward as given, with config.set dropped.
std::string report_of(const std::string& args, bool fast, const fs::path& dir,
                      const std::string& name) {
  const fs::path out = dir / (name + (fast ? ".fast" : ".slow"));
  const Outcome o =
      nibble("run " + args + " --quiet --set sim.fast_forward=" + (fast ? "true" : "false") +
                 " --out " + q(out),
             dir);
  EXPECT_EQ(o.status, 0) << name << ": " << o.err;
  Json r = load(out / "report.json");
  EXPECT_EQ(r["config"]["set"].back(),
            std::string("sim.fast_forward=") + (fast ? "true" : "false"));
  r["config"]["set"].erase(r["config"]["set"].size() - 1);
  return r.dump(1);
}

void expect_same_both_ways(const std::string& args, const fs::path& dir, const std::string& name) {
  const std::string fast = report_of(args, true, dir, name);
  const std::string slow = report_of(args, false, dir, name);
  EXPECT_EQ(fast, slow) << name << ": " << args;
  EXPECT_GT(fast.size(), 1000u) << name;
}

// Every shipped example and SCALE-Sim topology on the 4-core chip with its DRAM controller, and
// on the default config (the simple DRAM model, where no shortcut applies yet).
TEST(FastForwardCli, ShippedWorkloadsReportTheSameBothWays) {
  const fs::path dir = scratch();
  std::vector<std::string> workloads;
  for (const char* folder : {"workloads/examples", "workloads/scalesim"}) {
    for (const auto& e : fs::directory_iterator(fs::path(kSource) / folder)) {
      const std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".json" || ext == ".csv")) {
        workloads.push_back(std::string(folder) + "/" + e.path().filename().string());
      }
    }
  }
  ASSERT_GE(workloads.size(), 6u);
  for (const std::string& w : workloads) {
    for (const char* config : {"rapid-4bit", "default"}) {
      const std::string name = std::string(config) + "-" + fs::path(w).stem().string();
      expect_same_both_ways("--config configs/" + std::string(config) + ".json --workload " + w,
                            dir, name);
    }
  }
}

// A sweep of GEMM shapes (tiny, prime, tall, wide, deep; reads, writes and both directions of a
// training step) through the 4-core chip's DRAM controller, serial and concurrent.
TEST(FastForwardCli, ASweepOfShapesReportsTheSameBothWays) {
  const fs::path dir = scratch();
  const struct {
    uint64_t m, n, k;
  } shapes[] = {{1, 1, 1},      {7, 13, 29},      {64, 64, 64},      {1000, 17, 300},
                {17, 4000, 64}, {256, 256, 4096}, {3001, 129, 1031}, {4096, 1024, 1024}};
  std::string ops;
  int i = 0;
  for (const auto& s : shapes) {
    for (const char* pass : {"fwd", "bwd_data", "bwd_weight"}) {
      // The recipe's operands: fwd uint4 x int4, bwd_data fp4 x int4, bwd_weight uint4 x fp4.
      const std::string p = pass;
      const std::string a = p == "bwd_data" ? "fp4" : "uint4",
                        b = p == "bwd_weight" ? "fp4" : "int4";
      if (!ops.empty()) ops += ",";
      ops += "{\"name\":\"g" + std::to_string(i++) + "\",\"type\":\"gemm\",\"pass\":\"" + p +
             "\",\"precision\":{\"a\":\"" + a + "\",\"b\":\"" + b +
             "\",\"out\":\"fp16\"},\"M\":" + std::to_string(s.m) + ",\"N\":" + std::to_string(s.n) +
             ",\"K\":" + std::to_string(s.k) + "}";
    }
  }
  write(dir / "shapes.json", "{\"format\":\"nibble-trace\",\"version\":1,\"ops\":[" + ops + "]}");
  for (const char* extra : {"", " --serial"}) {
    expect_same_both_ways(
        "--config configs/rapid-4bit.json --workload " + q(dir / "shapes.json") + extra, dir,
        std::string("shapes") + (*extra ? "-serial" : ""));
  }
}

// Cycle fidelity: the GEMM units step their PE grid to the end of an op and wait once, or wait
// a cycle after every step; the reports and the waveforms of traced PEs are the same.
TEST(FastForwardCli, CycleFidelityReportsAndWavesTheSameBothWays) {
  const fs::path dir = scratch();
  for (const char* schedule : {"pipelined", "scalesim"}) {
    const std::string args =
        std::string(
            "--config configs/default.json --workload workloads/examples/mlp-train-step.json "
            "--set sim.fidelity=cycle --set 'sim.vcd_pes=0,0 3,5 31,31' "
            "--set accelerator.core.mac_array.schedule=") +
        schedule;
    const std::string name = std::string("cycle-") + schedule;
    expect_same_both_ways(args, dir, name);
    const std::string fast = slurp(dir / (name + ".fast") / "waves.vcd");
    EXPECT_GT(fast.size(), 10000u);
    EXPECT_EQ(fast, slurp(dir / (name + ".slow") / "waves.vcd")) << schedule;
  }
}

// Whole training iterations of generated networks, batch 1, on the 4-core chip.
class FastForwardNetwork : public ::testing::TestWithParam<std::string> {};

TEST_P(FastForwardNetwork, ReportsTheSameBothWays) {
  const fs::path dir = scratch();
  const std::string& n = GetParam();
  const fs::path trace = dir / (n + ".json");
  const Outcome o =
      nibble("trace --network " + n + " --batch 1 --recipe int4-fp4 -o " + q(trace), dir);
  ASSERT_EQ(o.status, 0) << o.err;
  expect_same_both_ways("--config configs/rapid-4bit.json --workload " + q(trace), dir, n);
}

INSTANTIATE_TEST_SUITE_P(FastForwardCli, FastForwardNetwork,
                         ::testing::Values(std::string("mlp"), std::string("lenet"),
                                           std::string("resnet18"), std::string("mobilenetv2")),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace nibble
