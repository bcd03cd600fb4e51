// `nibble sweep` end to end: the expansion's order, counts and ids (hashes computed here by
// hand), ids independent of --jobs, shards that partition the points and merge to the same
// results.csv as one process, resuming (after a deleted result and after a kill), a failing
// point, bad specs (exit 2, one line, nothing written), the emitted sbatch script and job list
// (text checked, then run without a scheduler), --point, generated traces and the shipped specs.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sim/config.h"
#include "tests/support/cli.h"

namespace nibble {
namespace {

namespace fs = std::filesystem;

using testing_support::kSource;
using testing_support::load;
using testing_support::nibble;
using testing_support::Outcome;
using testing_support::q;
using testing_support::scratch;
using testing_support::slurp;
using testing_support::write;

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A small INT4 GEMM, a fraction of a millisecond to simulate.
const char* const kTinyGemm = R"({"format": "nibble-trace", "version": 1, "name": "tiny-gemm",
 "ops": [{"name": "g", "type": "gemm", "pass": "fwd", "M": 64, "N": 64, "K": 128,
          "precision": {"a": "int4", "b": "int4", "out": "fp16"}}]})";

const std::string kRows = "accelerator.core.mac_array.rows";
const std::string kCols = "accelerator.core.mac_array.cols";
const std::string kBw = "accelerator.dram.bandwidth_gbps";
const std::string kCh = "accelerator.dram.channels";

// A spec in `dir` on the tiny GEMM (written there as tiny.json) with default.json.
Json base_spec(const fs::path& dir) {
  write(dir / "tiny.json", kTinyGemm);
  return Json{{"format", "nibble-sweep"},
              {"version", 1},
              {"description", "test"},
              {"config", kSource + "/configs/default.json"},
              {"set", {"sim.ideal_memory=false"}},
              {"workloads", {"tiny.json"}},
              {"grid", Json::object()},
              {"metrics", {"cycles", "energy_pj.total", "no.such.metric"}}};
}

fs::path write_spec(const fs::path& dir, const Json& spec, const std::string& name = "spec.json") {
  write(dir / name, spec.dump(2));
  return dir / name;
}

// The id the spec promises: index, then FNV-1a 64 (low 32 bits, hex) of the canonical text.
std::string expected_id(std::size_t index, const std::string& workload,
                        const std::vector<std::string>& assignments) {
  std::string text = "workload=" + workload + "\n";
  for (const std::string& a : assignments) text += a + "\n";
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "p%04zu-%08llx", index,
                static_cast<unsigned long long>(h & 0xffffffffULL));
  return buf;
}

std::vector<std::string> ids_of(const Json& points) {
  std::vector<std::string> ids;
  for (const Json& p : points.at("points")) ids.push_back(p.at("id").get<std::string>());
  return ids;
}

TEST(SweepCli, Help) {
  const fs::path dir = scratch();
  const Outcome o = nibble("sweep --help", dir);
  EXPECT_EQ(o.status, 0);
  EXPECT_NE(o.out.find("nibble sweep merge DIR"), std::string::npos);
}

// grid 2 x 2 x zip 2, then a filter: the order (grid's last key fastest, zip innermost) and the
// ids, by hand; the same points.json whatever --jobs.
TEST(SweepCli, ExpansionOrderAndIds) {
  const fs::path dir = scratch();
  Json spec = base_spec(dir);
  spec["grid"] = {{kRows, {8, 16}}, {kCols, {16, 8}}};
  spec["zip"] = {{kBw, {32, 64.5}}, {kCh, {1, 2}}};
  spec["filter"] = {kCols + " >= " + kRows};
  const fs::path file = write_spec(dir, spec);
  const Outcome a = nibble("sweep " + q(file) + " --out " + q(dir / "a") + " --jobs 1", dir);
  ASSERT_EQ(a.status, 0) << a.err;
  const Json points = load(dir / "a" / "points.json");
  // rows 8: cols 16, 8 (both kept); rows 16: cols 16 (kept), 8 (dropped); each with 2 zip tuples.
  const std::vector<std::vector<std::string>> want = {
      {kRows + "=8", kCols + "=16", kBw + "=32", kCh + "=1"},
      {kRows + "=8", kCols + "=16", kBw + "=64.5", kCh + "=2"},
      {kRows + "=8", kCols + "=8", kBw + "=32", kCh + "=1"},
      {kRows + "=8", kCols + "=8", kBw + "=64.5", kCh + "=2"},
      {kRows + "=16", kCols + "=16", kBw + "=32", kCh + "=1"},
      {kRows + "=16", kCols + "=16", kBw + "=64.5", kCh + "=2"},
  };
  ASSERT_EQ(points.at("points").size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const Json& p = points["points"][i];
    EXPECT_EQ(p.at("id"), expected_id(i, "tiny.json", want[i])) << i;
    EXPECT_EQ(p.at("workload"), "tiny.json");
    std::vector<std::string> got;
    for (auto it = p.at("assignments").begin(); it != p["assignments"].end(); ++it) {
      got.push_back(it.key() + "=" + it.value().dump());
    }
    EXPECT_EQ(got, want[i]) << i;
    const Json r = load(dir / "a" / "runs" / p["id"].get<std::string>() / "result.json");
    EXPECT_EQ(r.at("status"), "ok");
    EXPECT_EQ(r.at("exit"), 0);
    EXPECT_TRUE(r.at("metrics").at("cycles").is_number());
    EXPECT_TRUE(r["metrics"].at("no.such.metric").is_null());
  }
  EXPECT_EQ(count_of(a.out, " ok "), 6u) << a.out;

  const Outcome b = nibble("sweep " + q(file) + " --out " + q(dir / "b") + " --jobs 4 -q", dir);
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_EQ(b.out, "");
  EXPECT_EQ(slurp(dir / "a" / "points.json"), slurp(dir / "b" / "points.json"));
}

// Counts by hand: 2 workloads x grid 2 x 3 x zip 2 = 24; the filters keep 2 x (2 + 1) x 2 = 12.
TEST(SweepCli, GridZipFilterCounts) {
  const fs::path dir = scratch();
  Json spec = base_spec(dir);
  write(dir / "tiny2.json", kTinyGemm);
  spec["workloads"] = {"tiny.json", "tiny2.json"};
  spec["grid"] = {{kRows, {8, 16}}, {kCols, {8, 16, 32}}};
  spec["zip"] = {{kBw, {32, 64}}, {kCh, {1, 2}}};
  // Run only one shard of many, to keep the test fast; points.json holds all points.
  const auto count = [&](const Json& filters) {
    Json s = spec;
    s["filter"] = filters;
    const fs::path out = dir / ("out" + std::to_string(filters.size()));
    const Outcome o = nibble("sweep " + q(write_spec(dir, s)) + " --out " + q(out) +
                                 " --shard-index 0 --shard-count 1000 -q",
                             dir);
    EXPECT_EQ(o.status, 0) << o.err;
    return load(out / "points.json").at("points").size();
  };
  EXPECT_EQ(count(Json::array()), 24u);
  EXPECT_EQ(count({kCols + " >= " + kRows, kCols + " != 32"}), 12u);
  EXPECT_EQ(count({kCols + " == 32", kBw + " > 40", kCh + " <= 2"}), 4u);
}

// Shards 0..2 of 3 partition the points; their merge equals a single process's byte for byte.
TEST(SweepCli, ShardsPartitionAndMergeLikeOneProcess) {
  const fs::path dir = scratch();
  Json spec = base_spec(dir);
  spec["grid"] = {{kRows, {8, 16}}, {kCols, {8, 16}}};
  spec["zip"] = {{kBw, {32, 64}}};
  const fs::path file = write_spec(dir, spec);
  const Outcome one = nibble("sweep " + q(file) + " --out " + q(dir / "one") + " -q", dir);
  ASSERT_EQ(one.status, 0) << one.err;
  const Outcome m1 = nibble("sweep merge " + q(dir / "one") + " --check", dir);
  ASSERT_EQ(m1.status, 0) << m1.err;
  EXPECT_NE(m1.out.find("8 points: 8 ok, 0 failed, 0 missing"), std::string::npos) << m1.out;
  // The spec's misspelt metric is pointed out; the real ones are not.
  EXPECT_NE(m1.out.find("warning: no ok point's report.json has the metric \"no.such.metric\""),
            std::string::npos)
      << m1.out;
  EXPECT_EQ(count_of(m1.out, "warning"), 1u) << m1.out;

  std::set<std::string> seen;
  for (int i = 0; i < 3; ++i) {
    const Outcome s = nibble("sweep " + q(file) + " --out " + q(dir / "sharded") +
                                 " --shard-index " + std::to_string(i) + " --shard-count 3",
                             dir);
    ASSERT_EQ(s.status, 0) << s.err;
    const std::vector<std::string> ids = ids_of(load(dir / "sharded" / "points.json"));
    for (std::size_t k = 0; k < ids.size(); ++k) {
      const bool mine = k % 3 == static_cast<std::size_t>(i);
      EXPECT_EQ(s.out.find(ids[k]) != std::string::npos, mine) << i << " " << ids[k];
      if (mine) {
        EXPECT_TRUE(seen.insert(ids[k]).second) << ids[k];
      }
    }
    if (i < 2) {  // before the last shard some points are still missing
      const Outcome partial = nibble("sweep merge " + q(dir / "sharded") + " --check", dir);
      EXPECT_EQ(partial.status, 1);
      EXPECT_NE(partial.out.find("missing"), std::string::npos);
    }
  }
  EXPECT_EQ(seen.size(), 8u);
  const Outcome m3 = nibble("sweep merge " + q(dir / "sharded") + " --check", dir);
  ASSERT_EQ(m3.status, 0) << m3.out;
  EXPECT_EQ(slurp(dir / "one" / "results.csv"), slurp(dir / "sharded" / "results.csv"));
  EXPECT_EQ(slurp(dir / "one" / "results.jsonl"), slurp(dir / "sharded" / "results.jsonl"));
  EXPECT_EQ(testing_support::temporaries_in(dir / "sharded"), "");
  for (const std::string& id : ids_of(load(dir / "sharded" / "points.json"))) {
    EXPECT_EQ(testing_support::temporaries_in(dir / "sharded" / "runs" / id), "") << id;
  }
  const std::string csv = slurp(dir / "one" / "results.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "id,workload," + kRows + "," + kCols + "," + kBw +
                                               ",status,cycles,energy_pj.total,no.such.metric");
  EXPECT_EQ(count_of(csv, ",ok,"), 8u);
}

// A rerun runs only the point whose result.json is gone; the others are left alone.
TEST(SweepCli, ResumeRunsOnlyMissingPoints) {
  const fs::path dir = scratch();
  Json spec = base_spec(dir);
  spec["grid"] = {{kRows, {8, 16, 32}}};
  const fs::path file = write_spec(dir, spec);
  const Outcome first = nibble("sweep " + q(file) + " --out " + q(dir / "o"), dir);
  ASSERT_EQ(first.status, 0) << first.err;
  const std::vector<std::string> ids = ids_of(load(dir / "o" / "points.json"));
  ASSERT_EQ(ids.size(), 3u);
  const auto result = [&](std::size_t i) { return dir / "o" / "runs" / ids[i] / "result.json"; };
  const auto t0 = fs::last_write_time(result(0));
  const auto t2 = fs::last_write_time(result(2));
  fs::remove(result(1));
  const Outcome second = nibble("sweep " + q(file) + " --out " + q(dir / "o"), dir);
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_NE(second.out.find("2 already ok, 1 to run"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("[1/1] " + ids[1] + " ok"), std::string::npos) << second.out;
  EXPECT_EQ(second.out.find(ids[0]), std::string::npos);
  EXPECT_EQ(second.out.find(ids[2]), std::string::npos);
  EXPECT_TRUE(fs::exists(result(1)));
  EXPECT_EQ(fs::last_write_time(result(0)), t0);
  EXPECT_EQ(fs::last_write_time(result(2)), t2);
  const Outcome third = nibble("sweep " + q(file) + " --out " + q(dir / "o"), dir);
  EXPECT_EQ(third.status, 0);
  EXPECT_NE(third.out.find("3 already ok, 0 to run"), std::string::npos) << third.out;
}

// A value the config refuses fails its point (recorded with its error); the others are ok, the
// sweep exits 1, merge --check exits 1 naming it, and a rerun runs it again.
TEST(SweepCli, FailingPointIsRecorded) {
  const fs::path dir = scratch();
  Json spec = base_spec(dir);
  spec["grid"] = {{kRows, {16, 0}}};
  const fs::path file = write_spec(dir, spec);
  const Outcome o = nibble("sweep " + q(file) + " --out " + q(dir / "o") + " --jobs 2", dir);
  EXPECT_EQ(o.status, 1) << o.err;
  const std::vector<std::string> ids = ids_of(load(dir / "o" / "points.json"));
  ASSERT_EQ(ids.size(), 2u);
  const Json ok = load(dir / "o" / "runs" / ids[0] / "result.json");
  const Json bad = load(dir / "o" / "runs" / ids[1] / "result.json");
  EXPECT_EQ(ok.at("status"), "ok");
  EXPECT_EQ(bad.at("status"), "failed");
  EXPECT_EQ(bad.at("exit"), 2);
  EXPECT_NE(bad.at("error").get<std::string>().find(kRows), std::string::npos) << bad.dump();
  EXPECT_TRUE(bad.at("metrics").at("cycles").is_null());
  const Outcome m = nibble("sweep merge " + q(dir / "o") + " --check", dir);
  EXPECT_EQ(m.status, 1);
  EXPECT_NE(m.out.find("2 points: 1 ok, 1 failed, 0 missing"), std::string::npos) << m.out;
  EXPECT_NE(m.out.find("failed  " + ids[1]), std::string::npos) << m.out;
  EXPECT_NE(slurp(dir / "o" / "results.csv").find(ids[1] + ",tiny.json,0,failed,,,"),
            std::string::npos);
  EXPECT_EQ(nibble("sweep merge " + q(dir / "o"), dir).status, 0);  // without --check
  const Outcome again = nibble("sweep " + q(file) + " --out " + q(dir / "o"), dir);
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.out.find("1 already ok, 1 to run"), std::string::npos) << again.out;
}

// Bad specs and command lines: exit 2, one line on stderr naming the file and path, nothing
// written.
TEST(SweepCli, BadSpecsWriteNothing) {
  const fs::path dir = scratch();
  struct Case {
    std::string name, where;
    Json spec;
  };
  std::vector<Case> cases;
  Json s = base_spec(dir);
  s["grid"] = {{kRows, {8, 16}}};
  {
    Json u = s;
    u["grids"] = Json::object();
    cases.push_back({"unknown key", ".grids: unknown key", u});
  }
  {
    Json u = s;
    u["zip"] = {{kBw, {32, 64}}, {kCh, {1, 2, 4}}};
    cases.push_back({"zip lengths", ".zip." + kCh + ": expected 2 values", u});
  }
  {
    Json u = s;
    u["filter"] = {kRows + " =< 8"};
    cases.push_back({"bad op", ".filter[0]: expected", u});
  }
  {
    Json u = s;
    u["filter"] = {"sim.seed > 8"};
    cases.push_back({"filter key", ".filter[0]: \"sim.seed\" is not a key", u});
  }
  {
    Json u = s;
    u["workloads"] = {"tiny.json", "nope.json"};
    cases.push_back({"missing workload", ".workloads[1]: no such file", u});
  }
  {
    Json u = s;
    u["grid"][kRows] = Json::array();
    cases.push_back({"empty list", ".grid." + kRows + ": expected a non-empty array", u});
  }
  {
    Json u = s;
    u["zip"] = {{kRows, {4}}};
    cases.push_back({"twice", ".zip." + kRows + ": the key is already varied", u});
  }
  for (const Case& c : cases) {
    const fs::path file = write_spec(dir, c.spec, "bad.json");
    const Outcome o = nibble("sweep " + q(file) + " --out " + q(dir / "out"), dir);
    EXPECT_EQ(o.status, 2) << c.name;
    EXPECT_EQ(count_of(o.err, "\n"), 1u) << c.name << ": " << o.err;
    EXPECT_EQ(o.err.rfind("nibble: error: " + file.string() + ": ", 0), 0u) << c.name << o.err;
    EXPECT_NE(o.err.find(c.where), std::string::npos) << c.name << ": " << o.err;
    EXPECT_FALSE(fs::exists(dir / "out")) << c.name;
  }
  const fs::path good = write_spec(dir, s);
  for (const std::string& args :
       std::vector<std::string>{" --shard-index 3 --shard-count 3", " --jobs 0", " --frobnicate"}) {
    const Outcome o = nibble("sweep " + q(good) + " --out " + q(dir / "out") + args, dir);
    EXPECT_EQ(o.status, 2) << args;
    EXPECT_EQ(count_of(o.err, "\n"), 1u) << args << ": " << o.err;
    EXPECT_FALSE(fs::exists(dir / "out")) << args;
  }
  EXPECT_EQ(nibble("sweep merge " + q(dir / "nowhere"), dir).status, 2);
}

// A relative energy.table in `set` or on an axis means what it would in the config file: beside
// the config (configs/energy/7nm.json here), whatever the working directory (the runs start in
// the source folder, where energy/7nm.json does not exist).
TEST(SweepCli, RelativeEnergyTableIsBesideTheConfig) {
  const fs::path dir = scratch();
  Json spec = base_spec(dir);
  spec["set"] = {"sim.ideal_memory=false", "energy.table=energy/7nm.json"};
  spec["grid"] = {{"energy.table", {"energy/45nm.json", "energy/7nm-0.55v.json"}}};
  const fs::path file = write_spec(dir, spec);
  ASSERT_FALSE(fs::exists(kSource + "/energy/7nm.json"));
  const Outcome o = nibble("sweep " + q(file) + " --out " + q(dir / "o") + " -q", dir);
  ASSERT_EQ(o.status, 0) << o.err;
  const std::vector<std::string> ids = ids_of(load(dir / "o" / "points.json"));
  ASSERT_EQ(ids.size(), 2u);
  const std::vector<std::string> tables = {"45nm.json", "7nm-0.55v.json"};
  for (std::size_t i = 0; i < 2; ++i) {
    const Json report = load(dir / "o" / "runs" / ids[i] / "run" / "report.json");
    EXPECT_EQ(report.at("energy_pj").at("table").at("file"),
              kSource + "/configs/energy/" + tables[i]);
  }
}

// A `config` axis: each point runs its own config file (relative to the spec), with the spec's
// set and the point's other keys; the point equals a direct run of that config. The top-level
// config then goes; giving both, or a missing file, is refused.
TEST(SweepCli, ConfigAxis) {
  const fs::path dir = scratch();
  Json spec = base_spec(dir);
  spec.erase("config");
  const std::string rel = fs::relative(kSource + "/configs", dir).string();
  spec["zip"] = {{"config", {rel + "/default.json", rel + "/rapid-4bit.json"}}, {kRows, {16, 8}}};
  const fs::path file = write_spec(dir, spec);
  const Outcome o = nibble("sweep " + q(file) + " --out " + q(dir / "o") + " -q", dir);
  ASSERT_EQ(o.status, 0) << o.err;
  const Json points = load(dir / "o" / "points.json");
  EXPECT_TRUE(points.at("config").is_null());
  ASSERT_EQ(points.at("points").size(), 2u);
  EXPECT_EQ(points["points"][1].at("id"),
            expected_id(1, "tiny.json", {"config=\"" + rel + "/rapid-4bit.json\"", kRows + "=8"}));
  const std::vector<std::string> configs = {"default.json", "rapid-4bit.json"};
  const std::vector<std::string> rows = {"16", "8"};
  for (std::size_t i = 0; i < 2; ++i) {
    const fs::path direct = dir / ("direct" + std::to_string(i));
    ASSERT_EQ(nibble("run --config configs/" + configs[i] + " --set sim.ideal_memory=false --set " +
                         kRows + "=" + rows[i] + " --workload " + q(dir / "tiny.json") + " --out " +
                         q(direct) + " -q",
                     dir)
                  .status,
              0);
    const std::string id = points["points"][i].at("id");
    EXPECT_EQ(load(dir / "o" / "runs" / id / "result.json").at("metrics").at("cycles"),
              load(direct / "report.json").at("cycles"))
        << configs[i];
  }
  ASSERT_EQ(nibble("sweep merge " + q(dir / "o"), dir).status, 0);
  const std::string csv = slurp(dir / "o" / "results.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "id,workload,config," + kRows + ",status,cycles,energy_pj.total,no.such.metric");

  std::vector<std::pair<std::string, Json>> cases;
  {
    Json u = spec;
    u["config"] = kSource + "/configs/default.json";
    cases.emplace_back(".config: give the base config or a \"config\" axis", u);
  }
  {
    Json u = spec;
    u["zip"]["config"][1] = "nope.json";
    cases.emplace_back(".zip.config[1]: no such file", u);
  }
  {
    Json u = spec;
    u.erase("zip");
    cases.emplace_back("(top): expected \"config\"", u);
  }
  for (const auto& [where, bad_spec] : cases) {
    const fs::path bad = write_spec(dir, bad_spec, "bad.json");
    const Outcome b = nibble("sweep " + q(bad) + " --out " + q(dir / "bad"), dir);
    EXPECT_EQ(b.status, 2) << where;
    EXPECT_EQ(count_of(b.err, "\n"), 1u) << b.err;
    EXPECT_NE(b.err.find(bad.string() + ": " + where), std::string::npos) << b.err;
    EXPECT_FALSE(fs::exists(dir / "bad"));
  }
}

// The shipped example runs (all four points ok) and merges.
TEST(SweepCli, ShippedExampleRuns) {
  const fs::path dir = scratch();
  const Outcome o =
      nibble("sweep configs/sweeps/mlp-array-scratchpad.json --out " + q(dir / "o"), dir);
  ASSERT_EQ(o.status, 0) << o.err;
  const Outcome m = nibble("sweep merge " + q(dir / "o") + " --check", dir);
  EXPECT_EQ(m.status, 0);
  EXPECT_NE(m.out.find("4 points: 4 ok, 0 failed, 0 missing"), std::string::npos) << m.out;
}

// The shipped sweeps over generated traces: each expands (27, 9 and 8 points, every trace generated
// in memory to check it) and the cheapest point of recipe x network runs.
TEST(SweepCli, ShippedTraceSweepsExpandAndRun) {
  const fs::path dir = scratch();
  for (const auto& [name, count] : std::vector<std::pair<std::string, std::size_t>>{
           {"resnet18-array-scratchpad-dram", 27}, {"recipe-network", 9}, {"chip-network", 8}}) {
    const Outcome o = nibble("sweep configs/sweeps/" + name + ".json --out " + q(dir / name) +
                                 " --emit-joblist " + q(dir / (name + ".txt")),
                             dir);
    ASSERT_EQ(o.status, 0) << name << ": " << o.err;
    EXPECT_EQ(count_of(slurp(dir / (name + ".txt")), "\n"), count) << name;
  }
  // Point 0 of recipe x network: ResNet-18, batch 8, fp16.
  std::istringstream list(slurp(dir / "recipe-network.txt"));
  std::string first;
  std::getline(list, first);
  ASSERT_EQ(std::system(first.c_str()), 0) << first;
  const std::string id = first.substr(first.find("--point ") + 8, 14);
  const Json r = load(dir / "recipe-network" / "runs" / id / "result.json");
  EXPECT_EQ(r.at("status"), "ok");
  EXPECT_EQ(r.at("assignments"), (Json{{"trace.network", "resnet18"}, {"trace.recipe", "fp16"}}));
  EXPECT_GT(r.at("metrics").at("cycles").get<double>(), 0);
}

// The emitted sbatch script, line by line; run as Slurm would (task i with SLURM_ARRAY_TASK_ID=i)
// its three tasks merge to what one process gives.
TEST(SweepCli, EmitSlurmScriptTextAndItsTasksMergeLikeOneProcess) {
  const fs::path dir = scratch();
  Json spec = base_spec(dir);
  spec["grid"] = {{kRows, {8, 16}}, {kCols, {8, 16}}};
  const fs::path file = write_spec(dir, spec);
  const fs::path script = dir / "sweep.sbatch";
  const Outcome o = nibble("sweep " + q(file) + " --out " + q(dir / "o") + " --emit-slurm " +
                               q(script) + " --shard-count 3 --jobs 2 --array-limit 2" +
                               " --sbatch=--partition=cpu --sbatch=--time=00:10:00",
                           dir);
  ASSERT_EQ(o.status, 0) << o.err;
  const std::string exe = fs::canonical(testing_support::kBinary).string();
  const std::string out = (dir / "o").string();
  const std::string want =
      "#!/bin/bash\n"
      "# A Nibble sweep as a Slurm job array: 4 points in 3 shards; task i runs the points k with "
      "k mod 3 == i.\n"
      "# Spec: " +
      file.string() +
      "\n"
      "# Submit:  sbatch " +
      script.string() +
      "   (sbatch options override the #SBATCH lines; a narrower\n"
      "#          --array, e.g. sbatch --array=1 FILE, reruns only those shards; a wider one\n"
      "#          adds no shard: emit again with another --shard-count)\n"
      "# Merge:   " +
      exe + " sweep merge " + out +
      " --check\n"
      "# A task that stops early keeps its finished points; submitting again resumes.\n"
      "#SBATCH --job-name=nibble-sweep-spec\n"
      "#SBATCH --array=0-2%2\n"
      "#SBATCH --ntasks=1\n"
      "#SBATCH --cpus-per-task=2\n"
      "#SBATCH --output=" +
      out +
      "/slurm/%A_%a.out\n"
      "#SBATCH --partition=cpu\n"
      "#SBATCH --time=00:10:00\n"
      "set -euo pipefail\n"
      "exec " +
      exe + " sweep " + file.string() + " --out " + out +
      " --jobs 2 --shard-index \"$SLURM_ARRAY_TASK_ID\" --shard-count 3\n";
  EXPECT_EQ(slurp(script), want);
  // Nothing runs: the output folder holds the points (merge works at once) and the logs' folder.
  std::set<std::string> made;
  for (const auto& e : fs::directory_iterator(dir / "o")) made.insert(e.path().filename());
  EXPECT_EQ(made, (std::set<std::string>{"points.json", "slurm"}));
  const Outcome before = nibble("sweep merge " + q(dir / "o") + " --check", dir);
  EXPECT_EQ(before.status, 1);
  EXPECT_NE(before.out.find("4 points: 0 ok, 0 failed, 4 missing"), std::string::npos)
      << before.out;
  // Without --shard-count: one task per point.
  ASSERT_EQ(nibble("sweep " + q(file) + " --out " + q(dir / "o") + " --emit-slurm " +
                       q(dir / "one-each.sbatch"),
                   dir)
                .status,
            0);
  EXPECT_NE(slurp(dir / "one-each.sbatch").find("#SBATCH --array=0-3\n"), std::string::npos);

  for (int task = 0; task < 3; ++task) {
    const std::string cmd = "cd " + q(dir) + " && SLURM_ARRAY_TASK_ID=" + std::to_string(task) +
                            " bash " + q(script) + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << task;
  }
  ASSERT_EQ(nibble("sweep merge " + q(dir / "o") + " --check", dir).status, 0);
  ASSERT_EQ(nibble("sweep " + q(file) + " --out " + q(dir / "ref") + " -q", dir).status, 0);
  ASSERT_EQ(nibble("sweep merge " + q(dir / "ref"), dir).status, 0);
  EXPECT_EQ(slurp(dir / "o" / "results.csv"), slurp(dir / "ref" / "results.csv"));

  for (const std::string& args : std::vector<std::string>{
           " --shard-count 1001", " --shard-index 0", " --array-limit 0", " --jobs 0",
           " --sbatch=--array=0-9", " --sbatch=-c4", " --sbatch=--output=x.out"}) {
    const Outcome bad = nibble("sweep " + q(file) + " --out " + q(dir / "bad") + " --emit-slurm " +
                                   q(dir / "bad.sbatch") + args,
                               dir);
    EXPECT_EQ(bad.status, 2) << args;
    EXPECT_EQ(count_of(bad.err, "\n"), 1u) << args << bad.err;
    EXPECT_FALSE(fs::exists(dir / "bad.sbatch")) << args;
    EXPECT_FALSE(fs::exists(dir / "bad")) << args;
  }
  EXPECT_EQ(nibble("sweep " + q(file) + " --out " + q(dir / "bad") + " --sbatch=--x", dir).status,
            2);
}

// The job list: one `--point ID` command per point of the shard; run one by one (as GNU parallel
// would) they give what one process gives.
TEST(SweepCli, EmitJoblistTextAndItsCommandsMergeLikeOneProcess) {
  const fs::path dir = scratch();
  Json spec = base_spec(dir);
  spec["grid"] = {{kRows, {8, 16, 32}}};
  const fs::path file = write_spec(dir, spec);
  const fs::path list = dir / "jobs.txt";
  ASSERT_EQ(
      nibble("sweep " + q(file) + " --out " + q(dir / "o") + " --emit-joblist " + q(list), dir)
          .status,
      0);
  ASSERT_EQ(nibble("sweep " + q(file) + " --out " + q(dir / "ref") + " -q", dir).status, 0);
  const std::vector<std::string> ids = ids_of(load(dir / "ref" / "points.json"));
  ASSERT_EQ(ids.size(), 3u);
  const std::string prefix = fs::canonical(testing_support::kBinary).string() + " sweep " +
                             file.string() + " --out " + (dir / "o").string() + " --point ";
  EXPECT_EQ(slurp(list), prefix + ids[0] + " --quiet\n" + prefix + ids[1] + " --quiet\n" + prefix +
                             ids[2] + " --quiet\n");
  // Emitting runs nothing; it writes the points (and makes DIR, for parallel's --joblog there).
  EXPECT_TRUE(fs::exists(dir / "o" / "points.json"));
  EXPECT_TRUE(fs::is_empty(dir / "o" / "runs"));
  // A shard's list: points 1 (1 mod 2 == 1) only.
  ASSERT_EQ(nibble("sweep " + q(file) + " --out " + q(dir / "o") + " --emit-joblist " +
                       q(dir / "odd.txt") + " --shard-index 1 --shard-count 2",
                   dir)
                .status,
            0);
  EXPECT_EQ(slurp(dir / "odd.txt"), prefix + ids[1] + " --quiet\n");

  std::istringstream lines(slurp(list));
  for (std::string line; std::getline(lines, line);) {
    ASSERT_EQ(std::system(line.c_str()), 0) << line;
  }
  ASSERT_EQ(nibble("sweep merge " + q(dir / "o") + " --check", dir).status, 0);
  ASSERT_EQ(nibble("sweep merge " + q(dir / "ref"), dir).status, 0);
  EXPECT_EQ(slurp(dir / "o" / "results.csv"), slurp(dir / "ref" / "results.csv"));
  // A point already ok is skipped: its result stays as it was.
  const fs::path r0 = dir / "o" / "runs" / ids[0] / "result.json";
  const auto t0 = fs::last_write_time(r0);
  const Outcome again =
      nibble("sweep " + q(file) + " --out " + q(dir / "o") + " --point " + ids[0], dir);
  EXPECT_EQ(again.status, 0);
  EXPECT_NE(again.out.find("1 named, 1 already ok, 0 to run, 1 at once"), std::string::npos)
      << again.out;
  EXPECT_EQ(fs::last_write_time(r0), t0);
}

// Without shard options inside a Slurm job array, the shard is the task's place in the array:
// (ID - MIN) / STEP of COUNT, so --array=1-4 or 0-7:2 covers every shard; an ID off the range
// is refused. The progress line says where the shard came from.
TEST(SweepCli, ShardFromSlurmArrayVariables) {
  const fs::path dir = scratch();
  Json spec = base_spec(dir);
  spec["grid"] = {{kRows, {4, 8, 16, 32}}};
  const fs::path file = write_spec(dir, spec);
  struct Env {
    const char* id;
    const char* min;
    const char* step;
    int status;
    std::string shard;  // as the progress line prints it
  };
  // --array=1-4: task 3 is shard (3 - 1) / 1 = 2; --array=0-6:2: task 6 is shard 6 / 2 = 3.
  for (const Env& e : std::vector<Env>{
           {"3", "1", "1", 0,
            "in shard 2/4 (from Slurm's array: $SLURM_ARRAY_TASK_ID 3, "
            "$SLURM_ARRAY_TASK_COUNT 4)"},
           {"6", "0", "2", 0, "in shard 3/4 (from Slurm's array: $SLURM_ARRAY_TASK_ID 6"},
           {"5", "0", "2", 2, ""}}) {
    setenv("SLURM_ARRAY_TASK_ID", e.id, 1);
    setenv("SLURM_ARRAY_TASK_MIN", e.min, 1);
    setenv("SLURM_ARRAY_TASK_STEP", e.step, 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
    const Outcome o =
        nibble("sweep " + q(file) + " --out " + q(dir / ("o" + std::string(e.id))), dir);
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_ARRAY_TASK_MIN");
    unsetenv("SLURM_ARRAY_TASK_STEP");
    unsetenv("SLURM_ARRAY_TASK_COUNT");
    EXPECT_EQ(o.status, e.status) << e.id << o.err;
    if (e.status == 0) {
      EXPECT_NE(o.out.find("4 points, 1 " + e.shard), std::string::npos) << o.out;
    } else {
      EXPECT_NE(o.err.find("$SLURM_ARRAY_TASK_ID 5 is not on the array's range (min 0, step 2)"),
                std::string::npos)
          << o.err;
    }
  }
}

// --point: an unknown id, or with shard options, is refused (exit 2, one line, nothing written).
TEST(SweepCli, PointRefusesUnknownIdsAndShards) {
  const fs::path dir = scratch();
  Json spec = base_spec(dir);
  spec["grid"] = {{kRows, {8, 16}}};
  const fs::path file = write_spec(dir, spec);
  const Outcome unknown =
      nibble("sweep " + q(file) + " --out " + q(dir / "o") + " --point p0002-00000000", dir);
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.err.find("--point: no point \"p0002-00000000\""), std::string::npos)
      << unknown.err;
  const std::string first = expected_id(0, "tiny.json", {kRows + "=8"});
  const Outcome sharded = nibble(
      "sweep " + q(file) + " --out " + q(dir / "o") + " --point " + first + " --shard-count 2",
      dir);
  EXPECT_EQ(sharded.status, 2);
  EXPECT_EQ(count_of(sharded.err, "\n"), 1u) << sharded.err;
  EXPECT_FALSE(fs::exists(dir / "o"));
  const Outcome one =
      nibble("sweep " + q(file) + " --out " + q(dir / "o") + " --point " + first, dir);
  EXPECT_EQ(one.status, 0) << one.err;
  EXPECT_TRUE(fs::exists(dir / "o" / "runs" / first / "result.json"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "o" / "runs"), fs::directory_iterator()), 1);
}

// A spec with a `trace` object: the sweep generates one trace per distinct trace.* assignment
// (byte for byte what `nibble trace` writes), named for what it is and the FNV-1a hash of the
// request; points.json's workload is that file; config keys still go to the runs.
TEST(SweepCli, GeneratedTraces) {
  const fs::path dir = scratch();
  Json spec = base_spec(dir);
  spec.erase("workloads");
  spec["trace"] = {{"network", "mlp"}, {"batch", 2}};
  spec["grid"] = {{"trace.recipe", {"fp16", "int4-fp4"}}, {kRows, {8, 16}}};
  const fs::path file = write_spec(dir, spec);
  const Outcome o = nibble("sweep " + q(file) + " --out " + q(dir / "o") + " --jobs 2", dir);
  ASSERT_EQ(o.status, 0) << o.err;
  const auto trace_name = [](const std::string& recipe) {
    const std::string request = "network=mlp\ngraph=\nbatch=2\nrecipe=" + recipe +
                                "\ninput=\nseq_len=\nclasses=\nfirst_last=fp16\n";
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char c : request) {
      h ^= c;
      h *= 0x100000001b3ULL;
    }
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08llx", static_cast<unsigned long long>(h & 0xffffffffULL));
    return "mlp-b2-" + recipe + "-" + hex + ".json";
  };
  const Json points = load(dir / "o" / "points.json");
  // The canonical workload: the trace object as compact JSON, its keys as the spec writes them.
  const std::string workload = "trace {\"network\":\"mlp\",\"batch\":2}";
  const std::vector<std::pair<std::string, std::string>> want = {
      {"fp16", "8"}, {"fp16", "16"}, {"int4-fp4", "8"}, {"int4-fp4", "16"}};
  ASSERT_EQ(points.at("points").size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    const Json& p = points["points"][i];
    EXPECT_EQ(p.at("id"), expected_id(i, workload,
                                      {"trace.recipe=\"" + want[i].first + "\"",
                                       kRows + "=" + want[i].second}));
    EXPECT_EQ(p.at("workload"), "traces/" + trace_name(want[i].first));
  }
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(dir / "o" / "traces")) {
    files.insert(e.path().filename());
  }
  EXPECT_EQ(files, (std::set<std::string>{trace_name("fp16"), trace_name("int4-fp4")}));
  ASSERT_EQ(
      nibble("trace --network mlp --batch 2 --recipe int4-fp4 -o " + q(dir / "t.json"), dir).status,
      0);
  EXPECT_EQ(slurp(dir / "o" / "traces" / trace_name("int4-fp4")), slurp(dir / "t.json"));
  // Point 3 (int4-fp4, 16 rows) is that trace run with the spec's set and its row count.
  ASSERT_EQ(
      nibble("run --config configs/default.json --set sim.ideal_memory=false --set " + kRows +
                 "=16 --workload " + q(dir / "t.json") + " --out " + q(dir / "direct") + " -q",
             dir)
          .status,
      0);
  const std::string id3 = points["points"][3].at("id");
  EXPECT_EQ(load(dir / "o" / "runs" / id3 / "result.json").at("metrics").at("cycles"),
            load(dir / "direct" / "report.json").at("cycles"));
  ASSERT_EQ(nibble("sweep merge " + q(dir / "o"), dir).status, 0);
  const std::string csv = slurp(dir / "o" / "results.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "id,workload,trace.recipe," + kRows + ",status,cycles,energy_pj.total,no.such.metric");

  // Bad trace options: exit 2, one line naming the spec and the path, nothing written.
  struct Case {
    std::string where;
    Json spec;
  };
  std::vector<Case> cases;
  {
    Json u = spec;
    u["grid"]["trace.batch"] = {1, 0};
    cases.push_back({".trace (with trace.recipe=\"fp16\", trace.batch=0): trace: --batch", u});
  }
  {
    Json u = spec;
    u["trace"]["depth"] = 3;
    cases.push_back({".trace.depth: unknown key", u});
  }
  {
    Json u = spec;
    u["trace"]["network"] = "resnet1000";
    cases.push_back({".trace (with trace.recipe=\"fp16\"): trace: ", u});
  }
  {
    Json u = base_spec(dir);
    u["grid"] = {{"trace.recipe", {"fp16"}}};
    cases.push_back({".grid.trace.recipe: a trace.* key varies the generated traces", u});
  }
  {
    Json u = spec;
    u["workloads"] = {"tiny.json"};
    cases.push_back({".trace: give \"workloads\"", u});
  }
  {
    Json u = spec;
    u["grid"]["trace.batch"] = {1.5};
    cases.push_back({".grid.trace.batch[0]: expected a string or an integer", u});
  }
  for (const Case& c : cases) {
    const fs::path bad = write_spec(dir, c.spec, "bad.json");
    const Outcome b = nibble("sweep " + q(bad) + " --out " + q(dir / "bad"), dir);
    EXPECT_EQ(b.status, 2) << c.where;
    EXPECT_EQ(count_of(b.err, "\n"), 1u) << c.where << ": " << b.err;
    EXPECT_NE(b.err.find(bad.string() + ": " + c.where), std::string::npos) << b.err;
    EXPECT_FALSE(fs::exists(dir / "bad")) << c.where;
  }
}

// Killed mid-sweep (SIGKILL to its whole process group, runs included): the points finished
// before keep their results, no half-written result.json is left, and a rerun runs only the rest
// and merges to what an uninterrupted sweep gives. Each point is a 512^3 GEMM at cycle fidelity
// (about 0.7 s here), one at a time, so the kill lands while points remain.
TEST(SweepCli, KilledMidSweepResumes) {
  const fs::path dir = scratch();
  write(dir / "slow.json", R"({"format": "nibble-trace", "version": 1, "name": "slow-gemm",
 "ops": [{"name": "g", "type": "gemm", "pass": "fwd", "M": 512, "N": 512, "K": 512,
          "precision": {"a": "int4", "b": "int4", "out": "fp16"}}]})");
  Json spec = base_spec(dir);
  spec["workloads"] = {"slow.json"};
  spec["set"] = {"sim.ideal_memory=false", "sim.fidelity=cycle"};
  spec["grid"] = {{"sim.seed", {1, 2, 3}}};
  const fs::path file = write_spec(dir, spec);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setpgid(0, 0);
    const std::string out = (dir / "o").string();
    const std::string f = file.string();
    execl(testing_support::kBinary.c_str(), "nibble", "sweep", f.c_str(), "--out", out.c_str(),
          "--jobs", "1", "--quiet", static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);
  // Wait (at most 120 s) for the first result, then kill everything.
  std::size_t done = 0;
  for (int i = 0; i < 12000 && done == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    done = 0;
    if (fs::exists(dir / "o" / "runs")) {
      for (const auto& e : fs::directory_iterator(dir / "o" / "runs")) {
        done += fs::exists(e.path() / "result.json");
      }
    }
  }
  kill(-pid, SIGKILL);
  int raw = 0;
  waitpid(pid, &raw, 0);
  ASSERT_TRUE(WIFSIGNALED(raw));
  const std::vector<std::string> ids = ids_of(load(dir / "o" / "points.json"));
  ASSERT_EQ(ids.size(), 3u);
  std::size_t ok = 0;
  for (const std::string& id : ids) {
    const fs::path r = dir / "o" / "runs" / id / "result.json";
    if (fs::exists(r)) {
      EXPECT_EQ(load(r).at("status"), "ok") << id;  // whole and parseable
      ++ok;
    }
  }
  ASSERT_GE(ok, 1u);
  ASSERT_LT(ok, 3u) << "the sweep finished before the kill; the test needs slower points";
  const Outcome m = nibble("sweep merge " + q(dir / "o") + " --check", dir);
  EXPECT_EQ(m.status, 1);
  EXPECT_NE(m.out.find(std::to_string(3 - ok) + " missing"), std::string::npos) << m.out;

  const Outcome resumed = nibble("sweep " + q(file) + " --out " + q(dir / "o") + " --jobs 2", dir);
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_NE(
      resumed.out.find(std::to_string(ok) + " already ok, " + std::to_string(3 - ok) + " to run"),
      std::string::npos)
      << resumed.out;
  ASSERT_EQ(nibble("sweep merge " + q(dir / "o") + " --check", dir).status, 0);
  ASSERT_EQ(nibble("sweep " + q(file) + " --out " + q(dir / "ref") + " -q", dir).status, 0);
  ASSERT_EQ(nibble("sweep merge " + q(dir / "ref"), dir).status, 0);
  EXPECT_EQ(slurp(dir / "o" / "results.csv"), slurp(dir / "ref" / "results.csv"));
}

}  // namespace
}  // namespace nibble
