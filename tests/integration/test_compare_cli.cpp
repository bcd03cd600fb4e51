// `nibble compare` end to end: a workload against itself (every ratio exactly 1), a GEMM on two
// array sizes (cycles by hand, ratios from the two reports), ops on one side only, traces of two
// recipes, bad input (exit 2, one line, nothing written) and byte-identical outputs.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "sim/config.h"
#include "tests/support/cli.h"

namespace nibble {
namespace {

namespace fs = std::filesystem;

using testing_support::load;
using testing_support::nibble;
using testing_support::Outcome;
using testing_support::q;
using testing_support::scratch;
using testing_support::slurp;
using testing_support::write;

const std::string kMlpStep = "workloads/examples/mlp-train-step.json";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Every file under `dir`, relative, with its bytes.
std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files[fs::relative(e.path(), dir).string()] = slurp(e.path());
  }
  return files;
}

// One GEMM, uint4 x int4 (the MAC array's int4 mode, one MAC per PE per cycle).
const char* const kOneGemm = R"({"format": "nibble-trace", "version": 1, "name": "one-gemm",
 "ops": [{"name": "g.fwd", "type": "gemm", "pass": "fwd", "M": 64, "N": 64, "K": 100,
          "precision": {"a": "uint4", "b": "int4", "out": "fp16"}}]})";

TEST(CompareCli, Help) {
  const fs::path dir = scratch();
  const Outcome o = nibble("compare --help", dir);
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out.rfind("usage: nibble compare --config A.json --baseline B.json --workload W", 0),
            0u);
  for (const char* option : {"--baseline-workload", "--baseline-set", "--ideal-memory", "--out"}) {
    EXPECT_NE(o.out.find(option), std::string::npos) << option;
  }
  EXPECT_NE(nibble("--help", dir).out.find("  compare "), std::string::npos);
}

TEST(CompareCli, AWorkloadAgainstItselfHasEveryRatioExactlyOne) {
  const fs::path dir = scratch();
  const fs::path out = dir / "c";
  const Outcome o = nibble(
      "compare --config configs/default.json --baseline configs/default.json "
      "--workload " +
          kMlpStep + " --out " + q(out),
      dir);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.err, "");
  EXPECT_NE(o.out.find("\n  speed-up     1.00x"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("\n  ops          25 matched by name, 0 candidate only, 0 baseline only"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("  compare      " + out.string() + "/compare.json\n"), std::string::npos);
  // Both runs are complete nibble run outputs, identical (same inputs); nothing else is left.
  const auto cand = tree(out / "candidate");
  EXPECT_EQ(cand, tree(out / "baseline"));
  for (const char* f : {"report.json", "config.resolved.json", "stats.txt", "ops.csv"}) {
    EXPECT_EQ(cand.count(f), 1u) << f;
  }
  EXPECT_FALSE(fs::exists(out / ".compare.tmp"));
  EXPECT_EQ(testing_support::temporaries_in(out), "");

  const Json c = load(out / "compare.json");
  const Json report = load(out / "candidate" / "report.json");
  EXPECT_EQ(c["ideal_memory"], false);
  for (const char* side : {"candidate", "baseline"}) {
    const Json& s = c[side];
    EXPECT_EQ(s["config"], "configs/default.json");
    EXPECT_EQ(s["set"], Json::array());
    EXPECT_EQ(s["workload"], kMlpStep);
    EXPECT_EQ(s["workload_name"], "mlp-784-256-256-10-b64-step");
    EXPECT_EQ(s["recipe"], "as in the trace");  // this trace's source names no recipe
    EXPECT_EQ(s["report"], std::string(side) + "/report.json");
    EXPECT_EQ(s["cycles"], report["cycles"]);
    EXPECT_EQ(s["seconds"], report["seconds"]);
    EXPECT_EQ(s["energy_pj"], report["energy_pj"]["total"]);
    EXPECT_EQ(s["macs"], report["macs"]);
    EXPECT_EQ(s["training"]["iterations"], 1);
    EXPECT_EQ(s["training"]["cycles"], report["cycles"]);
    EXPECT_EQ(s["energy_per_iteration_pj"], report["energy_pj"]["total"]);  // one iteration
  }
  for (const auto& [key, value] : c["totals"].items()) EXPECT_EQ(value.get<double>(), 1.0) << key;

  // Passes: the trace's 25 ops are 9 fwd, 7 bwd_data, 3 bwd_weight, 6 update.
  ASSERT_EQ(c["passes"].size(), 4u);
  const std::vector<std::pair<std::string, int>> passes = {
      {"fwd", 9}, {"bwd_data", 7}, {"bwd_weight", 3}, {"update", 6}};
  for (std::size_t i = 0; i < passes.size(); ++i) {
    const Json& p = c["passes"][i];
    EXPECT_EQ(p["pass"], passes[i].first);
    EXPECT_EQ(p["candidate"]["ops"], passes[i].second);
    EXPECT_EQ(p["candidate"], p["baseline"]);
    EXPECT_EQ(p["speedup"].get<double>(), 1.0);
    EXPECT_EQ(p["energy_ratio"].get<double>(), 1.0);
  }
  ASSERT_GE(c["units"].size(), report["energy_pj"]["by_unit"].size());
  for (const Json& u : c["units"]) {
    EXPECT_EQ(u["energy_ratio"].get<double>(), 1.0) << u["unit"];
    EXPECT_EQ(u["candidate"], u["baseline"]);
  }
  // Layers in trace order: input 1 op (act_q), fc1 8 (fwd relu act_q pact_grad grad_q bwd_weight
  // sgd weight_q), fc2 9 (fc1's and bwd_data), fc3 6 (fwd grad_q bwd_data bwd_weight sgd
  // weight_q), loss 1 (softmax_xent): 25.
  const std::vector<std::pair<std::string, int>> layers = {
      {"input", 1}, {"fc1", 8}, {"fc2", 9}, {"fc3", 6}, {"loss", 1}};
  ASSERT_EQ(c["layers"].size(), layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Json& l = c["layers"][i];
    EXPECT_EQ(l["layer"], layers[i].first);
    EXPECT_EQ(l["candidate"]["ops"], layers[i].second);
    EXPECT_EQ(l["speedup"].get<double>(), 1.0);
    EXPECT_EQ(l["energy_ratio"].get<double>(), 1.0);
  }
  ASSERT_EQ(c["ops"].size(), 25u);
  EXPECT_EQ(c["op_matching"], Json({{"matched", 25}, {"candidate_only", 0}, {"baseline_only", 0}}));
  for (std::size_t i = 0; i < 25; ++i) {
    const Json& op = c["ops"][i];
    EXPECT_EQ(op["name"], report["ops"][i]["name"]);
    EXPECT_EQ(op["candidate"]["cycles"], report["ops"][i]["cycles"]);
    EXPECT_EQ(op["speedup"].get<double>(), 1.0) << op["name"];
    EXPECT_EQ(op["energy_ratio"].get<double>(), 1.0) << op["name"];
  }

  // compare.csv: a header, total, training, 4 passes, the units, 5 layers, 25 ops.
  const std::vector<std::string> csv = lines_of(slurp(out / "compare.csv"));
  ASSERT_EQ(csv.size(), 1 + 2 + 4 + c["units"].size() + 5 + 25);
  EXPECT_EQ(csv[0],
            "section,name,pass,candidate_cycles,candidate_seconds,candidate_energy_pj,"
            "baseline_cycles,baseline_seconds,baseline_energy_pj,speedup,energy_ratio");
  const std::string cycles = std::to_string(report["cycles"].get<uint64_t>());
  EXPECT_EQ(csv[1].rfind("total,total,," + cycles + ",", 0), 0u) << csv[1];
  EXPECT_EQ(csv[1].substr(csv[1].size() - 4), ",1,1");
  EXPECT_EQ(csv[2].rfind("training,training,," + cycles + ",", 0), 0u) << csv[2];
  EXPECT_EQ(csv.back().rfind("op,fc3.weight_q,update,", 0), 0u) << csv.back();
}

// Half the rows: with ideal memory the GEMM's cycles are the pipelined os closed form
// (F - 1)·max(T, R) + T + R + C - 1 with T = K = 100, C = 32 columns:
//   32 rows: F = ceil(64/32)·ceil(64/32) = 4, 3·100 + 100 + 32 + 32 - 1 = 463
//   16 rows: F = ceil(64/16)·ceil(64/32) = 8, 7·100 + 100 + 16 + 32 - 1 = 847
TEST(CompareCli, HalfTheRowsRatiosAreThoseOfTheTwoReports) {
  const fs::path dir = scratch();
  write(dir / "gemm.json", kOneGemm);
  const fs::path out = dir / "c";
  const Outcome o =
      nibble("compare -c configs/default.json -b configs/default.json -w " + q(dir / "gemm.json") +
                 " --baseline-set accelerator.core.mac_array.rows=16 "
                 "--ideal-memory --quiet -o " +
                 q(out),
             dir);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "");  // --quiet
  EXPECT_EQ(o.err, "");
  const Json c = load(out / "compare.json");
  const Json cr = load(out / "candidate" / "report.json");
  const Json br = load(out / "baseline" / "report.json");
  EXPECT_EQ(cr["hardware"]["mac_array"]["rows"], 32);
  EXPECT_EQ(br["hardware"]["mac_array"]["rows"], 16);
  EXPECT_EQ(c["ideal_memory"], true);
  EXPECT_EQ(c["candidate"]["set"], Json::array());
  EXPECT_EQ(c["baseline"]["set"], Json({"accelerator.core.mac_array.rows=16"}));
  EXPECT_EQ(c["candidate"]["cycles"], 463);
  EXPECT_EQ(c["baseline"]["cycles"], 847);

  const double cs = cr["seconds"].get<double>(), bs = br["seconds"].get<double>();
  const double ce = cr["energy_pj"]["total"].get<double>();
  const double be = br["energy_pj"]["total"].get<double>();
  const Json& t = c["totals"];
  EXPECT_EQ(t["speedup"].get<double>(), bs / cs);
  EXPECT_NEAR(t["speedup"].get<double>(), 847.0 / 463.0, 1e-12);  // one clock: the cycle ratio
  EXPECT_EQ(t["energy_ratio"].get<double>(), be / ce);
  EXPECT_EQ(t["energy_per_iteration_ratio"].get<double>(), be / ce);  // one iteration each
  EXPECT_EQ(t["training_energy_ratio"].get<double>(), be / ce);
  EXPECT_GT(t["energy_ratio"].get<double>(), 1.0);  // longer on the same work: more energy

  // One op, one layer, one pass: each the same figures as the totals.
  ASSERT_EQ(c["passes"].size(), 1u);
  ASSERT_EQ(c["layers"].size(), 1u);
  ASSERT_EQ(c["ops"].size(), 1u);
  EXPECT_EQ(c["layers"][0]["layer"], "g");
  for (const Json* row : {&c["passes"][0], &c["layers"][0], &c["ops"][0]}) {
    EXPECT_EQ((*row)["candidate"]["cycles"], 463);
    EXPECT_EQ((*row)["baseline"]["cycles"], 847);
    EXPECT_EQ((*row)["candidate"]["seconds"].get<double>(), cs);  // 463 / 10⁹
    EXPECT_EQ((*row)["speedup"].get<double>(), bs / cs);
    EXPECT_EQ((*row)["energy_ratio"].get<double>(),
              br["ops"][0]["energy_pj"].get<double>() / cr["ops"][0]["energy_pj"].get<double>());
  }
  const Json& op = c["ops"][0];
  EXPECT_EQ(op["candidate"]["unit"], "mac_array");
  EXPECT_EQ(op["candidate"]["precision"], Json({{"a", "uint4"}, {"b", "int4"}, {"out", "fp16"}}));

  // Units: each report's by_unit energy and their ratio; the same 64·64·100 = 409,600 int4 MACs
  // and the same DRAM bytes price the same on both sides.
  const Json& cu = cr["energy_pj"]["by_unit"];
  const Json& bu = br["energy_pj"]["by_unit"];
  std::size_t unit_rows = 0;
  for (const Json& u : c["units"]) {
    if (u["kind"] != "unit") continue;
    ++unit_rows;
    const std::string name = u["unit"].get<std::string>();
    ASSERT_TRUE(cu.contains(name) && bu.contains(name)) << name;
    EXPECT_EQ(u["candidate"]["energy_pj"], cu[name]);
    EXPECT_EQ(u["baseline"]["energy_pj"], bu[name]);
    EXPECT_EQ(u["candidate"]["share"].get<double>(), cu[name].get<double>() / ce);
    EXPECT_EQ(u["energy_ratio"].get<double>(), bu[name].get<double>() / cu[name].get<double>());
  }
  EXPECT_EQ(unit_rows, cu.size());
  EXPECT_EQ(cr["macs"], 409600);
  for (const Json& u : c["units"]) {
    if (u["unit"] == "mac_array" || u["unit"] == "dram") {
      EXPECT_EQ(u["energy_ratio"].get<double>(), 1.0) << u["unit"];
    }
  }
  // A report that splits its total into dynamic and leakage gets a leakage row.
  if (cr["energy_pj"].contains("leakage")) {
    const Json& leak = c["units"].back();
    EXPECT_EQ(leak["kind"], "leakage");
    EXPECT_EQ(leak["candidate"]["energy_pj"], cr["energy_pj"]["leakage"]["total"]);
    EXPECT_EQ(leak["energy_ratio"].get<double>(),
              br["energy_pj"]["leakage"]["total"].get<double>() /
                  cr["energy_pj"]["leakage"]["total"].get<double>());
  }
  if (cr.contains("tops_per_w")) {
    EXPECT_EQ(c["candidate"]["tops_per_w"], cr["tops_per_w"]);
    EXPECT_EQ(t["tops_per_w_ratio"].get<double>(),
              cr["tops_per_w"].get<double>() / br["tops_per_w"].get<double>());
  }
}

// The candidate has a quantize op the baseline lacks; the baseline two GEMMs the candidate lacks
// (one between matched ops, one after them), in fp16.
TEST(CompareCli, OpsOnOneSideAreListedWithTheOtherSideNull) {
  const fs::path dir = scratch();
  write(dir / "cand.json", R"({"format": "nibble-trace", "version": 1, "name": "cand",
   "source": {"recipe": "int4-fp4"},
   "ops": [{"name": "x.act_q", "type": "quantize", "pass": "fwd", "elements": 4096,
            "from": "fp16", "to": "uint4"},
           {"name": "a.fwd", "type": "gemm", "pass": "fwd", "M": 32, "N": 32, "K": 64,
            "precision": {"a": "uint4", "b": "int4", "out": "fp16"}},
           {"name": "b.fwd", "type": "gemm", "pass": "fwd", "M": 32, "N": 32, "K": 64,
            "precision": {"a": "uint4", "b": "int4", "out": "fp16"}}]})");
  write(dir / "base.json", R"({"format": "nibble-trace", "version": 1, "name": "base",
   "ops": [{"name": "a.fwd", "type": "gemm", "pass": "fwd", "M": 32, "N": 32, "K": 64,
            "precision": {"a": "fp16", "b": "fp16", "out": "fp16"}},
           {"name": "c.fwd", "type": "gemm", "pass": "fwd", "M": 32, "N": 32, "K": 64,
            "precision": {"a": "fp16", "b": "fp16", "out": "fp16"}},
           {"name": "b.fwd", "type": "gemm", "pass": "fwd", "M": 32, "N": 32, "K": 64,
            "precision": {"a": "fp16", "b": "fp16", "out": "fp16"}},
           {"name": "d.bwd_data", "type": "gemm", "pass": "bwd_data", "M": 32, "N": 32, "K": 64,
            "precision": {"a": "fp16", "b": "fp16", "out": "fp16"}}]})");
  const fs::path out = dir / "c";
  const Outcome o =
      nibble("compare -c configs/default.json -b configs/default.json -w " + q(dir / "cand.json") +
                 " --baseline-workload " + q(dir / "base.json") + " -o " + q(out),
             dir);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("\n  ops          2 matched by name, 1 candidate only, 2 baseline only"),
            std::string::npos)
      << o.out;
  const Json c = load(out / "compare.json");
  const Json cr = load(out / "candidate" / "report.json");
  const Json br = load(out / "baseline" / "report.json");
  EXPECT_EQ(c["candidate"]["recipe"], "int4-fp4");
  EXPECT_EQ(c["baseline"]["recipe"], "as in the trace");
  EXPECT_EQ(c["baseline"]["workload"], (dir / "base.json").string());
  EXPECT_EQ(c["op_matching"], Json({{"matched", 2}, {"candidate_only", 1}, {"baseline_only", 2}}));

  // Merged order: x.act_q (candidate 0), a.fwd (0, 0), c.fwd (baseline 1), b.fwd (2, 2),
  // d.bwd_data (baseline 3).
  const Json& ops = c["ops"];
  ASSERT_EQ(ops.size(), 5u);
  const std::vector<std::pair<std::string, std::pair<int, int>>> rows = {{"x.act_q", {0, -1}},
                                                                         {"a.fwd", {1, 0}},
                                                                         {"c.fwd", {-1, 1}},
                                                                         {"b.fwd", {2, 2}},
                                                                         {"d.bwd_data", {-1, 3}}};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Json& op = ops[i];
    const auto [ci, bi] = rows[i].second;
    EXPECT_EQ(op["name"], rows[i].first);
    if (ci < 0) {
      EXPECT_TRUE(op["candidate"].is_null()) << op["name"];
    } else {
      EXPECT_EQ(op["candidate"]["cycles"], cr["ops"][ci]["cycles"]);
    }
    if (bi < 0) {
      EXPECT_TRUE(op["baseline"].is_null()) << op["name"];
    } else {
      EXPECT_EQ(op["baseline"]["cycles"], br["ops"][bi]["cycles"]);
    }
    if (ci < 0 || bi < 0) {
      EXPECT_TRUE(op["speedup"].is_null()) << op["name"];
      EXPECT_TRUE(op["energy_ratio"].is_null()) << op["name"];
    } else {
      // seconds = cycles / (clock_mhz · 10⁶), one clock on both sides
      const double hz = cr["clock_mhz"].get<double>() * 1e6;
      EXPECT_EQ(op["speedup"].get<double>(), (br["ops"][bi]["cycles"].get<double>() / hz) /
                                                 (cr["ops"][ci]["cycles"].get<double>() / hz));
      EXPECT_EQ(op["energy_ratio"].get<double>(), br["ops"][bi]["energy_pj"].get<double>() /
                                                      cr["ops"][ci]["energy_pj"].get<double>());
    }
  }
  EXPECT_EQ(ops[0]["candidate"]["type"], "quantize");
  EXPECT_EQ(ops[0]["candidate"]["unit"], "rescale");
  EXPECT_EQ(ops[1]["baseline"]["precision"]["a"], "fp16");
  EXPECT_EQ(ops[4]["pass"], "bwd_data");

  // Layers follow the merged order; one-sided layers have a null side and null ratios.
  const std::vector<std::string> layers = {"x", "a", "c", "b", "d"};
  ASSERT_EQ(c["layers"].size(), layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Json& l = c["layers"][i];
    EXPECT_EQ(l["layer"], layers[i]);
    const bool both = layers[i] == "a" || layers[i] == "b";
    EXPECT_EQ(l["speedup"].is_null(), !both) << layers[i];
    EXPECT_EQ(l["candidate"].is_null(), layers[i] == "c" || layers[i] == "d");
    EXPECT_EQ(l["baseline"].is_null(), layers[i] == "x");
  }
  // Passes: fwd has 3 candidate and 3 baseline ops; bwd_data only the baseline's d.bwd_data, so
  // the candidate's side is zeros and both ratios null.
  ASSERT_EQ(c["passes"].size(), 2u);
  const Json& fwd = c["passes"][0];
  EXPECT_EQ(fwd["candidate"]["ops"], 3);
  EXPECT_EQ(fwd["baseline"]["ops"], 3);
  EXPECT_EQ(fwd["candidate"]["cycles"], cr["cycles"]);  // every candidate op is fwd
  const Json& bwd = c["passes"][1];
  EXPECT_EQ(bwd["pass"], "bwd_data");
  EXPECT_EQ(bwd["candidate"]["ops"], 0);
  EXPECT_EQ(bwd["candidate"]["cycles"], 0);
  EXPECT_EQ(bwd["baseline"]["cycles"], br["ops"][3]["cycles"]);
  EXPECT_TRUE(bwd["speedup"].is_null());
  EXPECT_TRUE(bwd["energy_ratio"].is_null());
  // Units: the rescale unit ran on the candidate's side only; the log-domain unit on neither.
  bool rescale = false;
  for (const Json& u : c["units"]) {
    if (u["unit"] != "rescale") continue;
    rescale = true;
    EXPECT_EQ(u["candidate"]["energy_pj"], cr["energy_pj"]["by_unit"]["rescale"]);
    EXPECT_TRUE(u["baseline"].is_null());
    EXPECT_TRUE(u["energy_ratio"].is_null());
  }
  EXPECT_TRUE(rescale);
  // compare.csv leaves a one-sided op's other side and ratios empty.
  const std::string csv = slurp(out / "compare.csv");
  const std::string row =
      "op,c.fwd,fwd,,,," + std::to_string(br["ops"][1]["cycles"].get<uint64_t>()) + ",";
  EXPECT_NE(csv.find("\n" + row), std::string::npos) << csv;
  EXPECT_NE(csv.find(",,\n", csv.find("\n" + row)), std::string::npos);
}

// The MLP under int4-fp4 against the MLP under fp16, both from nibble trace: the recipes come from
// the traces, and the ops only the 4-bit trace has are its quantizers and its GradScale.
TEST(CompareCli, TwoRecipesOfOneNetwork) {
  const fs::path dir = scratch();
  for (const char* recipe : {"int4-fp4", "fp16"}) {
    const Outcome t = nibble("trace --network mlp --batch 8 --recipe " + std::string(recipe) +
                                 " -o " + q(dir / (std::string(recipe) + ".json")),
                             dir);
    ASSERT_EQ(t.status, 0) << t.err;
  }
  const fs::path out = dir / "c";
  const Outcome o = nibble("compare -c configs/rapid-4bit.json -b configs/rapid-4bit.json -w " +
                               q(dir / "int4-fp4.json") + " --baseline-workload " +
                               q(dir / "fp16.json") + " -o " + q(out),
                           dir);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("\n  recipe       int4-fp4 "), std::string::npos) << o.out;
  const Json c = load(out / "compare.json");
  EXPECT_EQ(c["candidate"]["recipe"], "int4-fp4");
  EXPECT_EQ(c["baseline"]["recipe"], "fp16");
  EXPECT_EQ(c["candidate"]["macs"], c["baseline"]["macs"]);  // the same network and batch
  EXPECT_EQ(c["op_matching"]["baseline_only"], 0);
  EXPECT_GT(c["op_matching"]["candidate_only"], 0);
  for (const Json& op : c["ops"]) {
    if (!op["baseline"].is_null()) continue;
    const std::string name = op["name"].get<std::string>();
    const bool quantizer = op["candidate"]["type"] == "quantize";
    const bool grad_scale = name.size() > 11 && name.substr(name.size() - 11) == ".grad_scale";
    EXPECT_TRUE(quantizer || grad_scale) << name;
  }
  // Layers group a layer's ops: fc2 (the 4-bit layer) holds its quantizers too.
  bool fc2 = false;
  for (const Json& l : c["layers"]) {
    if (l["layer"] != "fc2") continue;
    fc2 = true;
    EXPECT_GT(l["candidate"]["ops"].get<int>(), l["baseline"]["ops"].get<int>());
  }
  EXPECT_TRUE(fc2);
}

TEST(CompareCli, BadInputExitsTwoWithOneLineAndWritesNothing) {
  const fs::path dir = scratch();
  const fs::path out = dir / "new" / "c";  // neither folder exists
  const std::string ok = " -c configs/default.json -b configs/default.json -w " + kMlpStep;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"compare -c configs/nope.json -b configs/default.json -w " + kMlpStep,
       "compare: candidate run: configs/nope.json: "},
      {"compare -c configs/default.json -b configs/nope.json -w " + kMlpStep,
       "compare: baseline run: configs/nope.json: "},
      {"compare -c configs/default.json -b configs/default.json -w workloads/nope.json",
       "compare: candidate run: workloads/nope.json: "},
      {"compare" + ok + " --baseline-workload workloads/nope.json",
       "compare: baseline run: workloads/nope.json: "},
      {"compare" + ok + " --set accelerator.core.mac_array.rows=abc",
       "compare: candidate run: --set accelerator.core.mac_array.rows=abc: "},
      {"compare" + ok + " --baseline-set accelerator.core.mac_array.rows=0",
       "compare: baseline run: --baseline-set accelerator.core.mac_array.rows=0: "},
      {"compare" + ok + " --baseline-set accelerator.core.mac_array.colz=8",
       "compare: baseline run: --baseline-set accelerator.core.mac_array.colz=8"},
      {"compare -c configs/default.json -w " + kMlpStep, "compare: --baseline FILE is required"},
      {"compare -c configs/default.json -b configs/default.json",
       "compare: --workload FILE is required"},
      {"compare" + ok + " --bogus", "compare: unrecognised option '--bogus'"},
  };
  for (const auto& [args, message] : cases) {
    const Outcome o = nibble(args + " -o " + q(out), dir);
    EXPECT_EQ(o.status, 2) << args;
    EXPECT_EQ(o.out, "") << args;
    const std::vector<std::string> lines = lines_of(o.err);
    ASSERT_EQ(lines.size(), 1u) << args << ": " << o.err;
    EXPECT_EQ(lines[0].rfind("nibble: error: " + message, 0), 0u) << lines[0];
    EXPECT_FALSE(fs::exists(dir / "new")) << args;
  }

  // A failed compare into the folder of an earlier one leaves that one as it was.
  const fs::path earlier = dir / "earlier";
  ASSERT_EQ(nibble("compare" + ok + " --quiet -o " + q(earlier), dir).status, 0);
  const auto before = tree(earlier);
  const Outcome o =
      nibble("compare" + ok + " --baseline-set accelerator.cores=0 --quiet -o " + q(earlier), dir);
  EXPECT_EQ(o.status, 2);
  EXPECT_EQ(tree(earlier), before);
  EXPECT_FALSE(fs::exists(earlier / ".compare.tmp"));
}

TEST(CompareCli, SameInputsGiveByteIdenticalOutputs) {
  const fs::path dir = scratch();
  const std::string args = "compare -c configs/default.json -b configs/default.json -w " +
                           kMlpStep +
                           " --baseline-set accelerator.core.mac_array.rows=16 --baseline-set "
                           "accelerator.core.mac_array.cols=16 --quiet -o ";
  ASSERT_EQ(nibble(args + q(dir / "one"), dir).status, 0);
  ASSERT_EQ(nibble(args + q(dir / "two"), dir).status, 0);
  const auto one = tree(dir / "one");
  EXPECT_EQ(one, tree(dir / "two"));
  EXPECT_EQ(one.size(), 2 + 4 + 4u);  // compare.json, compare.csv, two runs of four files
  EXPECT_NE(one.at("compare.json").find("\"accelerator.core.mac_array.cols=16\""),
            std::string::npos);
  EXPECT_EQ(one.at("compare.json").find(dir.string()), std::string::npos);  // no output path
  // Again into the same folder: the same files, nothing added.
  ASSERT_EQ(nibble(args + q(dir / "one"), dir).status, 0);
  EXPECT_EQ(tree(dir / "one"), one);
}

}  // namespace
}  // namespace nibble
