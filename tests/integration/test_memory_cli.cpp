// The memory system through the nibble binary: SCALE-Sim's USER-bandwidth memory mode, the DRAM
// controller's config errors and bandwidth scaling, the concurrent scheduler against the serial
// one, and timeline.json checked against report.json.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/cli.h"

namespace nibble {
namespace {

namespace fs = std::filesystem;
using namespace testing_support;

// --- memory.mode scalesim_user ---------------------------------------------------------------

// An 8×8 array on the scalesim schedule with 1 KB SRAMs at 2 words per cycle (scalesim.* below)
// runs the conv layer 10×10×8, 3×3, 16 filters, stride 1 as SCALE-Sim v2 does. Expected: SCALE-Sim
// 51074edc's own COMPUTE_REPORT for that layer (run by the helper that derived the rule,
// models/systolic/scalesim_memory.md; the same numbers are unit-tested in
// tests/unit/test_scalesim_memory.cpp). The stall-free compute is SCALE-Sim's schedule: os
// M = 8·8 = 64 ofmap pixels, N = 16, K = 72, F = ceil(64/8)·ceil(16/8) = 16 folds of T+R+C−2 =
// 72+14 = 86 rows: 16·86 − 1 = 1375; ws (K, N, M): F = ceil(72/8)·2 = 18 of 2R+C+T−2 = 86:
// 1547; is (K, M, N): F = 9·8 = 72 of 16+8+16−2 = 38: 2735.
TEST(MemoryCli, ScaleSimUserModeGivesScaleSimsCycles) {
  const fs::path dir = scratch();
  write(dir / "conv.csv",
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num "
        "Filter, Strides,\nc0, 10, 10, 3, 3, 8, 16, 1,\n");
  const struct {
    const char* dataflow;
    uint64_t total, compute;
    int64_t stall;
  } cases[] = {{"os", 8522, 1375, 7147}, {"ws", 6738, 1547, 5191}, {"is", 6257, 2735, 3522}};
  for (const auto& c : cases) {
    const fs::path out = dir / c.dataflow;
    const std::string sets =
        std::string(
            " --set accelerator.core.mac_array.rows=8 --set accelerator.core.mac_array.cols=8") +
        " --set accelerator.core.mac_array.schedule=scalesim" +
        " --set accelerator.core.mac_array.dataflow=" + c.dataflow +
        " --set accelerator.memory.mode=scalesim_user" +
        " --set accelerator.memory.scalesim.ifmap_sram_kb=1" +
        " --set accelerator.memory.scalesim.filter_sram_kb=1" +
        " --set accelerator.memory.scalesim.ofmap_sram_kb=1" +
        " --set accelerator.memory.scalesim.bandwidth_words_per_cycle=2";
    const Outcome o = nibble("run --config configs/default.json --workload " + q(dir / "conv.csv") +
                                 sets + " --quiet --out " + q(out),
                             dir);
    ASSERT_EQ(o.status, 0) << o.err;
    const Json r = load(out / "report.json");
    const Json& op = r["ops"][0];
    SCOPED_TRACE(c.dataflow);
    EXPECT_EQ(r["hardware"]["memory"], "scalesim_user");
    EXPECT_EQ(op["memory"]["scalesim"]["total_cycles"].get<uint64_t>(), c.total);
    EXPECT_EQ(op["memory"]["scalesim"]["stall_cycles"].get<int64_t>(), c.stall);
    EXPECT_EQ(op["memory"]["scalesim"]["compute_cycles"].get<uint64_t>(), c.compute);
    // The op takes SCALE-Sim's total: its compute, then the stalls as DRAM bandwidth.
    EXPECT_EQ(op["cycles"].get<uint64_t>(), c.total);
    EXPECT_EQ(r["cycles"].get<uint64_t>(), c.total);
    EXPECT_EQ(op["memory"]["stall_core_cycles"]["dram_bandwidth"].get<uint64_t>(),
              c.total - c.compute);
  }
}

// A GEMM layer of SCALE-Sim's GEMM format, one fold of a 4×1 os array whose 1 KB ifmap SRAM is
// starved at 1 word per cycle: 3685 total cycles, 2683 stalls (derived in
// tests/unit/test_scalesim_memory.cpp, LowBandwidthStallsOneFold). Its stall-free compute is
// T+R+C−2 = 1000+4+1−2 = 1003 rows, 1002 cycles.
TEST(MemoryCli, ScaleSimUserModeStallsAGemmOnLowBandwidth) {
  const fs::path dir = scratch();
  write(dir / "gemm.csv", "Layer Name, M, N, K,\ng0, 4, 1, 1000,\n");
  const std::string sets =
      " --set accelerator.core.mac_array.rows=4 --set accelerator.core.mac_array.cols=1"
      " --set accelerator.core.mac_array.schedule=scalesim"
      " --set accelerator.memory.mode=scalesim_user"
      " --set accelerator.memory.scalesim.ifmap_sram_kb=1"
      " --set accelerator.memory.scalesim.filter_sram_kb=64"
      " --set accelerator.memory.scalesim.ofmap_sram_kb=64"
      " --set accelerator.memory.scalesim.bandwidth_words_per_cycle=1";
  const Outcome o = nibble("run --config configs/default.json --workload " + q(dir / "gemm.csv") +
                               sets + " --quiet --out " + q(dir / "out"),
                           dir);
  ASSERT_EQ(o.status, 0) << o.err;
  const Json r = load(dir / "out" / "report.json");
  EXPECT_EQ(r["ops"][0]["memory"]["scalesim"]["total_cycles"], 3685);
  EXPECT_EQ(r["ops"][0]["memory"]["scalesim"]["stall_cycles"], 2683);
  EXPECT_EQ(r["ops"][0]["memory"]["scalesim"]["compute_cycles"], 1002);
  EXPECT_EQ(r["cycles"], 3685);
}

// --- bad memory configs ----------------------------------------------------------------------

TEST(MemoryCli, BadMemoryConfigsExitTwoWithOneLineNamingTheKey) {
  const fs::path dir = scratch();
  const struct {
    std::string set, expect;
  } cases[] = {
      {"accelerator.dram.preset=hbm9", "accelerator.dram.preset"},
      {"accelerator.dram.tras_ns=10", "accelerator.dram.tras_ns"},  // below tRCD 14 ns
      {"accelerator.dram.banks=0", "accelerator.dram.banks"},
      {"accelerator.dram.channels=0", "accelerator.dram.channels"},
      {"accelerator.dram.trfc_ns=5000", "accelerator.dram.trefi_ns"},      // tREFI 3900 < tRFC
      {"accelerator.dram.latency_ns=100", "accelerator.dram.latency_ns"},  // a simple-model key
      {"accelerator.dram.impl=hbm", "accelerator.dram.impl"},
      {"accelerator.memory.mode=scalesim", "accelerator.memory.mode"},
      {"accelerator.memory.mode=scalesim_user", "accelerator.cores"},  // 4 cores
      {"accelerator.scheduler.policy=greedy", "accelerator.scheduler.policy"},
      {"accelerator.scheduler.lookahead_ops=0", "accelerator.scheduler.lookahead_ops"},
  };
  for (const auto& c : cases) {
    const fs::path out = dir / "out";
    const Outcome o = nibble(
        "run --config configs/rapid-4bit.json --workload "
        "workloads/examples/mlp-train-step.json --set '" +
            c.set + "' --out " + q(out),
        dir);
    SCOPED_TRACE(c.set);
    EXPECT_EQ(o.status, 2);
    EXPECT_NE(o.err.find(c.expect), std::string::npos) << o.err;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
    EXPECT_FALSE(fs::exists(out / "report.json"));
  }
}

// --- bandwidth scaling -----------------------------------------------------------------------

// A ReLU over 2^24 FP16 values on the 4-core chip reads and writes 32 MiB each: DRAM-bound (the
// SFUs' 4 × 64 lanes would take 2^24 / 256 = 65,536 cycles; 64 MiB at 204.8 GB/s = 128 B a
// cycle at 1.6 GHz takes 524,288). Doubling the bandwidth nearly doubles what it gets, and what
// keeps it from the peak is named: every tCK of a channel's data bus is busy, stalled for a cause
// (refresh: tRFC 260 ns every tREFI 3.9 us = 6.7% at any bandwidth; rows: precharge, activate) or
// idle, and the busy share is the achieved share of the peak.
TEST(MemoryCli, DoublingTheBandwidthDoublesWhatADramBoundOpGets) {
  const fs::path dir = scratch();
  write(dir / "relu.json",
        R"({"format": "nibble-trace", "version": 1, "name": "relu", "ops": [
            {"name": "relu", "type": "vector", "pass": "fwd", "function": "relu",
             "elements": 16777216}]})");
  std::map<double, double> achieved;
  for (const double gbps : {204.8, 409.6}) {
    SCOPED_TRACE(gbps);
    const fs::path out = dir / std::to_string(static_cast<int>(gbps));
    const Outcome o =
        nibble("run --config configs/rapid-4bit.json --workload " + q(dir / "relu.json") +
                   " --set accelerator.dram.bandwidth_gbps=" + std::to_string(gbps) +
                   " --quiet --out " + q(out),
               dir);
    ASSERT_EQ(o.status, 0) << o.err;
    const Json r = load(out / "report.json");
    const Json& dram = r["memory"]["dram"];
    EXPECT_EQ(dram["model"], "controller");
    EXPECT_DOUBLE_EQ(dram["peak_gbps"].get<double>(), gbps);
    achieved[gbps] = r["ops"][0]["memory"]["dram_gbps"].get<double>();
    EXPECT_GE(achieved[gbps], 0.8 * gbps);
    // Channel 0's bus: busy, stalled by cause, idle.
    const Json& ch = dram["channels"][0];
    uint64_t stalls = 0;
    for (const auto& [cause, cycles] : ch["bus_stall_cycles"].items())
      stalls += cycles.get<uint64_t>();
    const double busy = ch["bus_busy_cycles"].get<double>();
    const double all = busy + static_cast<double>(stalls) + ch["bus_idle_cycles"].get<double>();
    EXPECT_NEAR(busy / all, achieved[gbps] / gbps, 0.03);
    // Refresh and rows are most of what is missing.
    const uint64_t refresh = ch["bus_stall_cycles"]["refresh"], row = ch["bus_stall_cycles"]["row"];
    EXPECT_GE(static_cast<double>(refresh + row), 0.6 * (all - busy));
    EXPECT_NEAR(static_cast<double>(refresh) / all, 260.0 / 3900.0, 0.015);
  }
  EXPECT_GE(achieved[409.6], 1.8 * achieved[204.8]);
}

// --- scheduling ------------------------------------------------------------------------------

// --serial is policy serial; on a generated training iteration (with the deps a training step
// has) the dataflow scheduler overlaps units and is faster, and in serial order no two ops
// overlap while under dataflow some do.
TEST(MemoryCli, DataflowOverlapsWhatSerialRunsInOrder) {
  const fs::path dir = scratch();
  ASSERT_EQ(
      nibble("trace --network resnet18 --batch 2 --recipe int4-fp4 -o " + q(dir / "r18.json"), dir)
          .status,
      0);
  const std::string run =
      "run --config configs/rapid-4bit.json --quiet --workload " + q(dir / "r18.json") + " ";
  ASSERT_EQ(nibble(run + "--serial --out " + q(dir / "serial"), dir).status, 0);
  ASSERT_EQ(
      nibble(run + "--set accelerator.scheduler.policy=serial --out " + q(dir / "set"), dir).status,
      0);
  ASSERT_EQ(nibble(run + "--out " + q(dir / "dataflow"), dir).status, 0);
  Json serial = load(dir / "serial" / "report.json"), set = load(dir / "set" / "report.json");
  serial["config"].erase("set");
  set["config"].erase("set");
  EXPECT_EQ(serial.dump(), set.dump());
  const Json dataflow = load(dir / "dataflow" / "report.json");
  EXPECT_EQ(serial["hardware"]["scheduler"]["policy"], "serial");
  EXPECT_EQ(dataflow["hardware"]["scheduler"]["policy"], "dataflow");
  EXPECT_LT(dataflow["cycles"].get<uint64_t>(), serial["cycles"].get<uint64_t>());
  const auto overlaps = [](const Json& r) {
    uint64_t count = 0, end = 0;
    for (const Json& op : r["ops"]) {
      if (op["start_cycle"].get<uint64_t>() < end) ++count;
      end = std::max(end, op["end_cycle"].get<uint64_t>());
    }
    return count;
  };
  EXPECT_EQ(overlaps(serial), 0u);
  EXPECT_GT(overlaps(dataflow), 0u);
  // Each op's attributed cycles (its share of the cycles it ran in) add up to the cycles in which
  // some op ran, no more than the run's.
  uint64_t attributed = 0;
  for (const Json& op : dataflow["ops"]) attributed += op["attributed_cycles"].get<uint64_t>();
  EXPECT_LE(attributed, dataflow["cycles"].get<uint64_t>());
  uint64_t serial_attributed = 0;
  for (const Json& op : serial["ops"]) {
    EXPECT_EQ(op["attributed_cycles"], op["cycles"]) << op["name"];
    serial_attributed += op["attributed_cycles"].get<uint64_t>();
  }
  EXPECT_EQ(serial_attributed, serial["cycles"].get<uint64_t>());
}

// --- timeline.json ---------------------------------------------------------------------------

// The timeline parses, names its tracks, every slice lies within the run and within the op it
// belongs to (report.json), slices on one track nest, async slices pair up, and the same run
// writes the same bytes.
TEST(MemoryCli, TimelineIsValidAndAgreesWithTheReport) {
  const fs::path dir = scratch();
  const std::string run =
      "run --config configs/rapid-4bit.json --workload workloads/examples/mlp-train-step.json "
      "--timeline --quiet --out ";
  ASSERT_EQ(nibble(run + q(dir / "a"), dir).status, 0);
  ASSERT_EQ(nibble(run + q(dir / "b"), dir).status, 0);
  EXPECT_EQ(slurp(dir / "a" / "timeline.json"), slurp(dir / "b" / "timeline.json"));
  const Json report = load(dir / "a" / "report.json");
  const Json timeline = load(dir / "a" / "timeline.json");
  const uint64_t cycles = report["cycles"].get<uint64_t>();
  std::map<std::string, std::pair<uint64_t, uint64_t>> op_span;
  for (const Json& op : report["ops"]) {
    op_span[op["name"].get<std::string>()] = {op["start_cycle"].get<uint64_t>(),
                                              op["end_cycle"].get<uint64_t>()};
  }
  std::map<std::pair<int, int>, std::string> names;
  std::map<std::pair<int, int>, std::vector<std::pair<uint64_t, uint64_t>>> slices;
  std::map<uint64_t, int> async;  // id -> begins minus ends
  uint64_t op_slices = 0, dram_slices = 0, stall_slices = 0;
  ASSERT_FALSE(timeline["otherData"]["truncated"].get<bool>());
  for (const Json& e : timeline["traceEvents"]) {
    const std::string ph = e["ph"];
    const std::pair<int, int> track{e["pid"].get<int>(), e.value("tid", 0)};
    if (ph == "M") {
      if (e["name"] == "thread_name") names[track] = e["args"]["name"];
      continue;
    }
    if (ph == "b" || ph == "e") {
      async[e["id"].get<uint64_t>()] += ph == "b" ? 1 : -1;
      continue;
    }
    ASSERT_EQ(ph, "X");
    ASSERT_TRUE(names.count(track)) << e.dump();
    if (e["cat"] == "dram") {
      // A channel's bus starts every transfer within the run (writes accepted before the end
      // may still drain after it: they are posted).
      ++dram_slices;
      EXPECT_LT(e["ts"].get<double>(), static_cast<double>(cycles) / 1600.0) << e.dump();
      continue;
    }
    const uint64_t start = e["args"]["start_cycle"], end = e["args"]["end_cycle"];
    EXPECT_LT(start, end) << e.dump();
    EXPECT_LE(end, cycles) << e.dump();
    slices[track].emplace_back(start, end);
    if (e["cat"] == "stall") {
      ++stall_slices;
      continue;
    }
    // An op's slice on a core's unit track: within the op's span in the report.
    const auto it = op_span.find(e["name"].get<std::string>());
    ASSERT_NE(it, op_span.end()) << e.dump();
    EXPECT_GE(start, it->second.first) << e.dump();
    EXPECT_LE(end, it->second.second) << e.dump();
    ++op_slices;
  }
  for (const auto& [id, balance] : async) EXPECT_EQ(balance, 0) << "async slice " << id;
  // Slices of a track nest: sorted by start (longest first), each either starts after the
  // previous enclosing one ended or ends within it.
  for (auto& [track, list] : slices) {
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second > b.second;
    });
    std::vector<uint64_t> open;
    for (const auto& [start, end] : list) {
      while (!open.empty() && open.back() <= start) open.pop_back();
      if (!open.empty()) {
        EXPECT_LE(end, open.back()) << names[track] << " " << start;
      }
      open.push_back(end);
    }
  }
  // Every op ran on 4 cores' units and shows up on them; the memory has its channel tracks.
  EXPECT_GE(op_slices, report["ops"].size());
  EXPECT_GT(stall_slices, 0u);
  EXPECT_GT(dram_slices, 0u);
  uint64_t channel_tracks = 0;
  for (const auto& [track, name] : names) channel_tracks += name.rfind("channel ", 0) == 0 ? 1 : 0;
  EXPECT_EQ(channel_tracks, 16u);  // hbm2: 16 pseudo-channels
}

}  // namespace
}  // namespace nibble
