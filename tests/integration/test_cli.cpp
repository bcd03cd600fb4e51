// The nibble binary end to end: shipped configs and workloads, golden reports, bad input, CLI
// contract, determinism and interruption.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "sim/config.h"
#include "tests/support/cli.h"
#include "tests/support/npy_writer.h"

namespace nibble {
namespace {

namespace fs = std::filesystem;

using testing_support::kBinary;
using testing_support::kSource;
using testing_support::nibble;
using testing_support::Outcome;
using testing_support::scratch;
using testing_support::slurp;

Json read_json(const fs::path& path) { return Json::parse(slurp(path)); }

TEST(Cli, HelpAndVersion) {
  const fs::path dir = scratch();
  Outcome o = nibble("--help", dir);
  EXPECT_EQ(o.status, 0);
  EXPECT_NE(o.out.find("usage: nibble <command>"), std::string::npos);
  o = nibble("--version", dir);
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out.rfind("nibble 0.1.0", 0), 0u) << o.out;
  o = nibble("run --help", dir);
  EXPECT_EQ(o.status, 0);
  EXPECT_NE(o.out.find("--workload"), std::string::npos);
  EXPECT_NE(o.out.find("--set"), std::string::npos);
  o = nibble("", dir);
  EXPECT_EQ(o.status, 2);
  o = nibble("frobnicate", dir);
  EXPECT_EQ(o.status, 2);
  EXPECT_EQ(o.err, "nibble: error: unknown command 'frobnicate' (try 'nibble --help')\n");
}

TEST(Cli, RunWritesTheFourOutputsAndASummary) {
  const fs::path dir = scratch();
  const Outcome o = nibble(
      "run --config configs/default.json --workload "
      "workloads/examples/mlp-train.json --out '" +
          (dir / "run").string() + "'",
      dir);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.err, "");
  for (const char* f : {"report.json", "config.resolved.json", "stats.txt", "ops.csv"}) {
    EXPECT_TRUE(fs::exists(dir / "run" / f)) << f;
  }
  EXPECT_EQ(testing_support::temporaries_in(dir / "run"), "");
  EXPECT_NE(o.out.find("cycles"), std::string::npos);
  EXPECT_NE(o.out.find("top 5 of 8 ops by cycles"), std::string::npos);
  EXPECT_NE(o.out.find((dir / "run" / "report.json").string()), std::string::npos);

  const Json r = read_json(dir / "run" / "report.json");
  ASSERT_EQ(r["ops"].size(), 8u);
  // Ops run back to back, and the run's cycles are the end of the last op.
  uint64_t end = 0, macs = 0;
  double energy = 0;
  for (const Json& op : r["ops"]) {
    EXPECT_EQ(op["start_cycle"].get<uint64_t>(), end);
    end = op["end_cycle"].get<uint64_t>();
    macs += op["macs"].get<uint64_t>();
    energy += op["energy_pj"].get<double>();
  }
  EXPECT_EQ(r["cycles"].get<uint64_t>(), end);
  // MACs of the trace: fwd 64·256·784 + 64·256·256 + 64·10·256, bwd_data 64·256·10 + 64·256·256,
  // bwd_weight 256·10·64 + 256·256·64 + 784·256·64.
  const uint64_t expected_macs = 64ull * 256 * 784 + 64 * 256 * 256 + 64 * 10 * 256 +
                                 64 * 256 * 10 + 64 * 256 * 256 + 256 * 10 * 64 + 256 * 256 * 64 +
                                 784 * 256 * 64;
  EXPECT_EQ(r["macs"].get<uint64_t>(), expected_macs);
  EXPECT_NEAR(r["energy_pj"]["total"].get<double>(), energy, 1e-6 * energy);
  // 1000 MHz: seconds = cycles · 1 ns.
  EXPECT_DOUBLE_EQ(r["seconds"].get<double>(), static_cast<double>(end) / 1e9);

  const Json resolved = read_json(dir / "run" / "config.resolved.json");
  EXPECT_EQ(resolved["accelerator"]["core"]["mac_array"]["rows"], 32);
  EXPECT_EQ(resolved["energy"]["table"], "energy/45nm.json");

  const std::string stats = slurp(dir / "run" / "stats.txt");
  EXPECT_NE(stats.find("sim.cycles " + std::to_string(end) + " # simulated core cycles (cycle)\n"),
            std::string::npos);
  std::istringstream lines(stats);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_NE(line.find(" # "), std::string::npos) << line;
    EXPECT_EQ(line.back(), ')') << line;
  }
  const std::string csv = slurp(dir / "run" / "ops.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 9);  // header + 8 ops
}

TEST(Cli, SetOverridesReachTheSimulationAndTheResolvedConfig) {
  const fs::path dir = scratch();
  const Outcome o = nibble(
      "run --config configs/default.json --workload "
      "workloads/scalesim/bert-gemm.csv --quiet --set "
      "accelerator.core.mac_array.rows=16 --set "
      "accelerator.core.mac_array.schedule=scalesim --set sim.ideal_memory=true --out '" +
          (dir / "run").string() + "'",
      dir);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "");  // --quiet
  const Json r = read_json(dir / "run" / "report.json");
  const Json resolved = read_json(dir / "run" / "config.resolved.json");
  EXPECT_EQ(resolved["accelerator"]["core"]["mac_array"]["rows"], 16);
  EXPECT_EQ(r["config"]["set"].size(), 3u);
  // ideal memory (each op whole on the array), scalesim schedule, os, 16×32: every op takes
  // folds·(K + 16 + 32 − 2) − 1 cycles, with folds = ceil(M/16)·ceil(N/32).
  for (const Json& op : r["ops"]) {
    const uint64_t m = op["gemm"]["M"], n = op["gemm"]["N"], k = op["gemm"]["K"];
    const uint64_t folds = ((m + 15) / 16) * ((n + 31) / 32);
    EXPECT_EQ(op["cycles"].get<uint64_t>(), folds * (k + 46) - 1) << op["name"];
  }
}

TEST(Cli, SameInputsGiveByteIdenticalOutputs) {
  const fs::path dir = scratch();
  for (const char* run : {"a", "b"}) {
    ASSERT_EQ(nibble("run --config configs/default.json --workload "
                     "workloads/examples/resnet18-stem.json --quiet --out '" +
                         (dir / run).string() + "'",
                     dir)
                  .status,
              0);
  }
  for (const char* f : {"report.json", "config.resolved.json", "stats.txt", "ops.csv"}) {
    EXPECT_EQ(slurp(dir / "a" / f), slurp(dir / "b" / f)) << f;
  }
}

// Reports of the shipped workloads on the shipped config, against golden files that only
// scripts/regen-golden writes.
TEST(Cli, ShippedWorkloadsMatchGoldenReports) {
  const fs::path dir = scratch();
  const fs::path golden = fs::path(kSource) / "tests/integration/golden";
  int compared = 0;
  for (const auto& entry : fs::directory_iterator(golden)) {
    const std::string name = entry.path().filename().string();  // <config>--<workload file>.json
    const auto sep = name.find("--");
    ASSERT_NE(sep, std::string::npos) << name;
    const std::string config = "configs/" + name.substr(0, sep) + ".json";
    std::string workload = name.substr(sep + 2);
    workload = workload.substr(0, workload.size() - 5);  // drop ".json"
    std::replace(workload.begin(), workload.end(), '+', '/');
    const fs::path out = dir / name;
    const Outcome o = nibble("run --config " + config + " --workload " + workload +
                                 " --quiet --out '" + out.string() + "'",
                             dir);
    ASSERT_EQ(o.status, 0) << name << ": " << o.err;
    EXPECT_EQ(slurp(out / "report.json"), slurp(entry.path()))
        << name
        << " differs from its golden report; if the change is intended, run "
           "scripts/regen-golden and commit the result";
    ++compared;
  }
  EXPECT_GE(compared, 4);
}

TEST(Cli, OpsWithTensorsReportTheirAccuracy) {
  const fs::path dir = scratch();
  const Outcome o = nibble(
      "run --config configs/default.json --workload "
      "workloads/examples/accuracy-small.json --out '" +
          (dir / "run").string() + "'",
      dir);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("  accuracy     7 ops with tensors, vs FP32: worst "), std::string::npos)
      << o.out;
  const Json r = read_json(dir / "run" / "report.json");
  EXPECT_EQ(r["accuracy"]["ops"], 7);
  for (const Json& op : r["ops"]) {
    const Json& a = op["accuracy"];
    SCOPED_TRACE(op["name"].get<std::string>());
    // M·N outputs compared; every figure present; FP4 ops say their phase and scale.
    EXPECT_EQ(a["outputs"].get<uint64_t>(),
              op["gemm"]["M"].get<uint64_t>() * op["gemm"]["N"].get<uint64_t>());
    for (const char* k : {"rel_l2", "sqnr_db", "cosine", "max_abs_error", "fp4_flushed_fraction",
                          "fp4_saturated_fraction", "acc_overflows", "kernel"}) {
      EXPECT_TRUE(a.contains(k)) << k;
    }
    const bool fp4 = op["precision"]["a"] == "fp4" || op["precision"]["b"] == "fp4";
    EXPECT_EQ(a["fp4_phase"].is_null(), !fp4);
    if (fp4) {
      EXPECT_EQ(a["fp4_phase"], op["pass"] == "bwd_weight" ? "odd" : "even");
    }
    // The 4-bit datapath distorts but keeps the direction of every GEMM: cosine > 0.9.
    EXPECT_GT(a["cosine"].get<double>(), 0.9);
  }
  // FP16 operands lose far less than INT4 ones on the same GEMM.
  EXPECT_LT(r["ops"][1]["accuracy"]["rel_l2"].get<double>(),
            r["ops"][0]["accuracy"]["rel_l2"].get<double>() / 10);
}

TEST(Cli, ResultsBeyondTheFp16RangeAreReportedNotFatal) {
  // 300·300 + 300·300 = 180000 overflows FP16 (max 65504): the figures are not finite, written as
  // null, the summary says so, and the run completes.
  const fs::path dir = scratch();
  testing_support::write_npy<float>((dir / "a.npy").string(), {1, 2}, {300, 300});
  testing_support::write_npy<float>((dir / "b.npy").string(), {2, 1}, {300, 300});
  std::ofstream(dir / "t.json") << R"({"format": "nibble-trace", "version": 1, "ops": [
      {"name": "g", "type": "gemm", "pass": "fwd", "M": 1, "N": 1, "K": 2,
       "precision": {"a": "fp16", "b": "fp16", "out": "fp16"},
       "tensors": {"a": "a.npy", "b": "b.npy"}}]})";
  const Outcome o =
      nibble("run --config configs/default.json --workload '" + (dir / "t.json").string() +
                 "' --out '" + (dir / "out").string() + "'",
             dir);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("worst g (rel. L2 inf, SQNR -inf dB)"), std::string::npos) << o.out;
  const Json a = read_json(dir / "out" / "report.json")["ops"][0]["accuracy"];
  EXPECT_TRUE(a["rel_l2"].is_null());
  EXPECT_TRUE(a["sqnr_db"].is_null());
  EXPECT_EQ(a["non_finite_outputs"], 1);
}

TEST(Cli, ABadTensorIsAnInputError) {
  const fs::path dir = scratch();
  std::ofstream(dir / "a.npy") << "garbage";
  std::ofstream(dir / "t.json") << R"({"format": "nibble-trace", "version": 1, "ops": [
      {"name": "g", "type": "gemm", "pass": "fwd", "M": 2, "N": 2, "K": 2,
       "precision": {"a": "int4", "b": "int4", "out": "fp16"},
       "tensors": {"a": "a.npy", "b": "b.npy"}}]})";
  const Outcome o =
      nibble("run --config configs/default.json --workload '" + (dir / "t.json").string() +
                 "' --out '" + (dir / "out").string() + "'",
             dir);
  EXPECT_EQ(o.status, 2);
  EXPECT_EQ(o.err, "nibble: error: " + (dir / "a.npy").string() +
                       ": not a NumPy .npy file (bad magic string)\n");
  EXPECT_FALSE(fs::exists(dir / "out"));
}

struct BadInput {
  const char* label;
  const char* args;     // after `run`, before --out
  const char* message;  // a part of the one-line error
};

void PrintTo(const BadInput& b, std::ostream* os) { *os << b.label; }

class CliBadInput : public testing::TestWithParam<BadInput> {};

TEST_P(CliBadInput, OneLineErrorExitTwoAndNoReport) {
  const fs::path dir = scratch();
  std::ofstream(dir / "bad.json") << "{ \"clock\": ";
  std::ofstream(dir / "zero.csv") << "Layer Name, M, N, K,\ng0,0,64,64,\n";
  std::ofstream(dir / "neg.json")
      << R"({"format": "nibble-trace", "version": 1, "ops": [{"name": "g", "type": "gemm",
            "pass": "fwd", "precision": {"a": "int4", "b": "int4", "out": "fp16"},
            "M": 4, "N": -1, "K": 2}]})";
  std::ofstream(dir / "mixed.json")
      << R"({"format": "nibble-trace", "version": 1, "ops": [{"name": "m", "type": "gemm",
            "pass": "fwd", "precision": {"a": "int4", "b": "fp16", "out": "fp16"},
            "M": 4, "N": 1, "K": 2}]})";
  std::ofstream(dir / "mish.json")
      << R"({"format": "nibble-trace", "version": 1, "ops": [{"name": "act", "type": "vector",
            "pass": "fwd", "function": "mish", "elements": 10}]})";
  std::ofstream(dir / "qfp4.json")
      << R"({"format": "nibble-trace", "version": 1, "ops": [{"name": "q", "type": "quantize",
            "pass": "bwd_data", "elements": 2, "to": "fp4",
            "tensors": {"input": "x.npy", "pact_alpha": 1.0}}]})";
  std::ofstream(dir / "q8.json")
      << R"({"format": "nibble-trace", "version": 1, "ops": [{"name": "q", "type": "quantize",
            "pass": "fwd", "elements": 10, "to": "int8"}]})";
  std::string args = GetParam().args;
  for (std::string::size_type p; (p = args.find("$D")) != std::string::npos;) {
    args.replace(p, 2, dir.string());
  }
  const Outcome o = nibble("run " + args + " --out '" + (dir / "out").string() + "'", dir);
  EXPECT_EQ(o.status, 2);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_EQ(o.err.rfind("nibble: error: ", 0), 0u) << o.err;
  EXPECT_NE(o.err.find(GetParam().message), std::string::npos) << o.err;
  EXPECT_FALSE(fs::exists(dir / "out")) << "nothing may be written on bad input";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CliBadInput,
    testing::Values(
        BadInput{"missing_config",
                 "--config $D/none.json --workload workloads/scalesim/bert-gemm.csv",
                 "none.json: cannot open config file"},
        BadInput{"malformed_json",
                 "--config $D/bad.json --workload workloads/scalesim/bert-gemm.csv",
                 "bad.json: not valid JSON"},
        BadInput{"unknown_key",
                 "--config configs/default.json --workload workloads/scalesim/bert-gemm.csv "
                 "--set accelerator.core.mac_array.colz=3",
                 "accelerator.core.mac_array.colz: unknown key"},
        BadInput{"zero_dimension", "--config configs/default.json --workload $D/zero.csv",
                 "zero.csv: line 2, column 'M': expected an integer in [1, 1073741824], found '0'"},
        BadInput{"negative_dimension", "--config configs/default.json --workload $D/neg.json",
                 "neg.json: .ops[0].N: expected an integer in [1, 1073741824], found integer -1"},
        BadInput{"unknown_dataflow",
                 "--config configs/default.json --workload workloads/scalesim/bert-gemm.csv "
                 "--set accelerator.core.mac_array.dataflow=rs",
                 "accelerator.core.mac_array.dataflow: expected one of \"os\" \"ws\" \"is\", found "
                 "string \"rs\""},
        BadInput{"missing_energy_event", "--config configs/default.json --workload $D/mixed.json",
                 "configs/energy/45nm.json: events.mac.int4_fp16: missing; op \"m\" needs the "
                 "energy of this event"},
        BadInput{"missing_workload", "--config configs/default.json --workload $D/none.csv",
                 "none.csv: cannot open workload file"},
        BadInput{"no_workload_option", "--config configs/default.json",
                 "run: --workload FILE is required"},
        BadInput{"bad_option", "--config configs/default.json --wrokload x",
                 "unrecognised option '--wrokload'"},
        BadInput{"unknown_fidelity",
                 "--config configs/default.json --workload workloads/scalesim/bert-gemm.csv "
                 "--set sim.fidelity=rtl",
                 "sim.fidelity: expected one of \"tile\" \"cycle\", found string \"rtl\""},
        BadInput{"vcd_without_cycle_fidelity",
                 "--config configs/default.json --workload workloads/scalesim/bert-gemm.csv "
                 "--set sim.vcd_pes=0,0",
                 "sim.vcd_pes: waveforms need sim.fidelity \"cycle\""},
        BadInput{"vcd_pe_outside_every_array",
                 "--config configs/default.json --workload workloads/scalesim/bert-gemm.csv "
                 "--set sim.fidelity=cycle --set 'sim.vcd_pes=0,0 99,99'",
                 "--set sim.vcd_pes=0,0 99,99: sim.vcd_pes: PE 99,99 is outside every array"},
        BadInput{"vcd_with_an_op_no_unit_runs",
                 "--config configs/default.json --workload $D/mish.json --set sim.fidelity=cycle "
                 "--set sim.vcd_pes=0,0",
                 "vector function \"mish\" is not known"},
        BadInput{"quantize_parameter_it_does_not_use",
                 "--config configs/default.json --workload $D/qfp4.json",
                 "qfp4.json: .ops[0].tensors.pact_alpha: not used by a quantize op to \"fp4\""},
        BadInput{"duplicate_vcd_pe",
                 "--config configs/default.json --workload workloads/scalesim/bert-gemm.csv "
                 "--set sim.fidelity=cycle --set 'sim.vcd_pes=1,1 1,1'",
                 "sim.vcd_pes: expected PEs as \"row,col\" pairs of non-negative integers"},
        BadInput{"bad_vcd_pes",
                 "--config configs/default.json --workload workloads/scalesim/bert-gemm.csv "
                 "--set sim.fidelity=cycle --set sim.vcd_pes=0-0",
                 "sim.vcd_pes: expected PEs as \"row,col\" pairs"},
        BadInput{"unknown_sfu_function", "--config configs/default.json --workload $D/mish.json",
                 "mish.json: op \"act\": vector function \"mish\" is not known to the "
                 "special-function unit (accelerator.core.sfu.functions; known: adam,"},
        BadInput{"bad_mode",
                 "--config configs/default.json --workload workloads/scalesim/bert-gemm.csv "
                 "--set accelerator.core.mac_array.modes.int4.simd=0",
                 "accelerator.core.mac_array.modes.int4.simd: expected an integer in [1, 1024]"},
        BadInput{"bad_quantize_target", "--config configs/default.json --workload $D/q8.json",
                 "q8.json: .ops[0].to: expected one of \"uint4\", \"int4\", \"int2\", \"fp4\", "
                 "found string \"int8\""}),
    [](const testing::TestParamInfo<BadInput>& p) { return std::string(p.param.label); });

// The whole-step trace replays every unit; cycle fidelity (PE grid stepped every cycle) reports
// exactly what tile fidelity reports, apart from the fidelity itself and the PE-cycle count.
TEST(Cli, BothFidelitiesReportTheSameRunOfEveryUnit) {
  const fs::path dir = scratch();
  const std::string common =
      "run --config configs/default.json --workload workloads/examples/mlp-train-step.json "
      "--set accelerator.core.mac_array.rows=8 --set accelerator.core.mac_array.cols=8 "
      "--set accelerator.core.log_grad.rows=8 --set accelerator.core.log_grad.cols=8 --quiet ";
  ASSERT_EQ(nibble(common + "--out '" + (dir / "tile").string() + "'", dir).status, 0);
  const Outcome cycle = nibble(common + "--set sim.fidelity=cycle --set 'sim.vcd_pes=0,0 7,7' " +
                                   "--out '" + (dir / "cycle").string() + "'",
                               dir);
  ASSERT_EQ(cycle.status, 0) << cycle.err;
  Json tile_report = read_json(dir / "tile" / "report.json");
  Json cycle_report = read_json(dir / "cycle" / "report.json");
  EXPECT_EQ(tile_report["hardware"]["fidelity"], "tile");
  EXPECT_EQ(cycle_report["hardware"]["fidelity"], "cycle");
  std::set<std::string> units;
  for (const Json& op : tile_report["ops"]) units.insert(op["unit"].get<std::string>());
  EXPECT_EQ(units, (std::set<std::string>{"mac_array", "log_grad", "rescale", "sfu"}));
  for (Json* r : {&tile_report, &cycle_report}) {
    (*r)["hardware"].erase("fidelity");
    (*r)["config"].erase("set");
  }
  EXPECT_EQ(tile_report.dump(1), cycle_report.dump(1));
  // The waveform names the traced PEs of both arrays and is byte-identical run to run.
  const std::string vcd = slurp(dir / "cycle" / "waves.vcd");
  EXPECT_NE(vcd.find("$scope module mac_array $end"), std::string::npos);
  EXPECT_NE(vcd.find("$scope module pe_7_7 $end"), std::string::npos);
  EXPECT_NE(vcd.find("$scope module log_grad $end"), std::string::npos);
  ASSERT_EQ(nibble(common + "--set sim.fidelity=cycle --set 'sim.vcd_pes=0,0 7,7' " + "--out '" +
                       (dir / "again").string() + "'",
                   dir)
                .status,
            0);
  EXPECT_EQ(vcd, slurp(dir / "again" / "waves.vcd"));
}

// The 4-core RaPiD-like chip with its memory hierarchy (DRAM, shared buffer, ring, banked
// scratchpads): every op's cycles, stalls and traffic are the same in both fidelities.
// The cores' memory requests of one cycle are served in core order whatever order the kernel runs
// their threads in (models/accelerator/arbiter.h), so the reports agree byte for byte: cycles,
// per-cause stalls of every op, traffic, energy. resnet18-stem stalls on DRAM for most of its
// cycles and shares operands over the ring; mlp-train-step splits over K and reduces.
TEST(Cli, BothFidelitiesAgreeOnTheFourCoreChipWithMemory) {
  const fs::path dir = scratch();
  for (const std::string workload : {"mlp-train-step", "resnet18-stem"}) {
    const std::string common =
        "run --config configs/rapid-4bit.json --workload workloads/examples/" + workload +
        ".json --quiet ";
    const fs::path tile_dir = dir / (workload + "-tile"), cycle_dir = dir / (workload + "-cycle");
    ASSERT_EQ(nibble(common + "--out '" + tile_dir.string() + "'", dir).status, 0);
    const Outcome cycle =
        nibble(common + "--set sim.fidelity=cycle --out '" + cycle_dir.string() + "'", dir);
    ASSERT_EQ(cycle.status, 0) << cycle.err;
    Json tile_report = read_json(tile_dir / "report.json");
    Json cycle_report = read_json(cycle_dir / "report.json");
    EXPECT_EQ(tile_report["hardware"]["cores"], 4);
    EXPECT_GT(tile_report["memory"]["stall_core_cycles"]["dram_bandwidth"].get<uint64_t>(), 0u);
    for (Json* r : {&tile_report, &cycle_report}) {
      (*r)["hardware"].erase("fidelity");
      (*r)["config"].erase("set");
    }
    EXPECT_EQ(tile_report.dump(1), cycle_report.dump(1)) << workload;
  }
}

// configs/rapid-4bit.json reproduces the RaPiD chip's published peaks by construction: 4 cores ×
// 128 MPEs × 64 INT4 MACs = 32,768 MACs = 65,536 INT4 ops per cycle (102.4-104.9 TOPS at
// 1.5625-1.6 GHz), and 4 × 128 × 16 HFP8 FMAs = 8,192 = 16,384 FLOP per cycle (25.6-26.2
// TFLOPS). A 4096³ GEMM with ideal memory sustains them: 4096³ / 32,768 = 2,097,152 cycles and
// 4096³ / 8,192 = 8,388,608, plus the array's fill and drain (under 0.01%).
TEST(Cli, RapidChipReproducesThePublishedPeaks) {
  const fs::path dir = scratch();
  const struct {
    const char* workload;
    double ops_per_cycle;
  } cases[] = {{"int4-gemm", 65536}, {"hfp8-gemm", 16384}};
  for (const auto& c : cases) {
    const Outcome o = nibble(std::string("run --config configs/rapid-4bit.json --ideal-memory "
                                         "--quiet --workload workloads/calibration/") +
                                 c.workload + ".json --out '" + (dir / c.workload).string() + "'",
                             dir);
    ASSERT_EQ(o.status, 0) << o.err;
    const Json r = read_json(dir / c.workload / "report.json");
    EXPECT_EQ(r["macs"].get<uint64_t>(), uint64_t{4096} * 4096 * 4096);
    const double per_cycle = 2.0 * static_cast<double>(r["macs"].get<uint64_t>()) /
                             static_cast<double>(r["cycles"].get<uint64_t>());
    EXPECT_LE(per_cycle, c.ops_per_cycle) << c.workload;
    EXPECT_GT(per_cycle, c.ops_per_cycle * 0.9999) << c.workload;
  }
}

// The energy breakdowns add up: passes to the total, leakage per op to the chip's static power
// over the op's time, units' leakage to the leakage total; TOPS/W is 2 ops per MAC per pJ.
TEST(Cli, EnergyBreakdownsAddUp) {
  const fs::path dir = scratch();
  const Outcome o = nibble(
      "run --config configs/rapid-4bit.json --workload workloads/examples/mlp-train-step.json "
      "--quiet --out '" +
          (dir / "out").string() + "'",
      dir);
  ASSERT_EQ(o.status, 0) << o.err;
  const Json r = read_json(dir / "out" / "report.json");
  const Json& e = r["energy_pj"];
  const double total = e["total"].get<double>();
  double passes = 0;
  for (const auto& [pass, p] : e["by_pass"].items()) passes += p["energy_pj"].get<double>();
  EXPECT_NEAR(passes, total, total * 1e-12);
  EXPECT_NEAR(e["dynamic"].get<double>() + e["leakage"]["total"].get<double>(), total,
              total * 1e-12);
  double leak_units = 0;
  for (const auto& [unit, pj] : e["leakage"]["by_unit"].items()) leak_units += pj.get<double>();
  EXPECT_NEAR(leak_units, e["leakage"]["total"].get<double>(), leak_units * 1e-12);
  // Leakage power (mW) = leakage pJ / (cycles · 1e3 / MHz); every op leaks at that power.
  const double mhz = r["clock_mhz"].get<double>();
  const double mw = e["leakage"]["total"].get<double>() /
                    (static_cast<double>(r["cycles"].get<uint64_t>()) * 1e3 / mhz);
  EXPECT_GT(mw, 0);
  for (const Json& op : r["ops"]) {
    const double expected = mw * static_cast<double>(op["cycles"].get<uint64_t>()) * 1e3 / mhz;
    EXPECT_NEAR(op["leakage_pj"].get<double>(), expected, expected * 1e-9) << op["name"];
  }
  EXPECT_DOUBLE_EQ(r["tops_per_w"].get<double>(),
                   2.0 * static_cast<double>(r["macs"].get<uint64_t>()) / total);
}

// A long trace runs a window of ops at a time (bounded memory); the hardware's state carries over
// from window to window, so every output is byte-identical whatever the window size.
TEST(Cli, WindowSizeDoesNotChangeAnyOutput) {
  const fs::path dir = scratch();
  const std::string common =
      "run --config configs/rapid-4bit.json --workload workloads/examples/mlp-train-step.json "
      "--quiet ";
  for (const char* window : {"1", "7", "4096"}) {
    const Outcome o =
        nibble(common + "--window-ops " + window + " --out '" + (dir / window).string() + "'", dir);
    ASSERT_EQ(o.status, 0) << o.err;
  }
  for (const char* file : {"report.json", "ops.csv", "stats.txt"}) {
    const std::string whole = slurp(dir / "4096" / file);
    EXPECT_FALSE(whole.empty());
    EXPECT_EQ(slurp(dir / "1" / file), whole) << file;
    EXPECT_EQ(slurp(dir / "7" / file), whole) << file;
  }
  // No leftovers of the streamed op files.
  EXPECT_FALSE(fs::exists(dir / "1" / ".ops.json.part"));
  EXPECT_FALSE(fs::exists(dir / "1" / ".ops.csv.tmp"));
  EXPECT_EQ(testing_support::temporaries_in(dir / "1"), "");
}

TEST(Cli, InterruptWritesTheFinishedOpsMarkedInterrupted) {
  const fs::path dir = scratch();
  // 200 ops of a million folds each on a 1×1 array: about half a second of host time per op, far
  // longer in total than the wait before the interrupt.
  {
    std::ofstream t(dir / "long.json");
    t << R"({"format": "nibble-trace", "version": 1, "ops": [)";
    for (int i = 0; i < 200; ++i) {
      t << (i ? "," : "") << R"({"name": "g)" << i
        << R"(", "type": "gemm", "pass": "fwd", "precision": {"a": "int4", "b": "int4",
              "out": "fp16"}, "M": 1000, "N": 1000, "K": 1})";
    }
    t << "]}";
  }
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(kSource.c_str()) != 0) _exit(99);
    const std::string workload = (dir / "long.json").string(), out = (dir / "out").string();
    execl(kBinary.c_str(), "nibble", "run", "--config", "configs/default.json", "--workload",
          workload.c_str(), "--set", "accelerator.core.mac_array.rows=1", "--set",
          "accelerator.core.mac_array.cols=1", "--out", out.c_str(), "--quiet",
          static_cast<char*>(nullptr));
    _exit(98);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  kill(pid, SIGINT);
  int raw = 0;
  waitpid(pid, &raw, 0);
  ASSERT_TRUE(WIFEXITED(raw));
  EXPECT_EQ(WEXITSTATUS(raw), 128 + SIGINT);
  const Json r = read_json(dir / "out" / "report.json");
  EXPECT_EQ(r["status"], "interrupted");
  const uint64_t finished = r["workload"]["ops_finished"];
  EXPECT_LT(finished, 200u);
  EXPECT_EQ(r["ops"].size(), finished);
}

}  // namespace
}  // namespace nibble
