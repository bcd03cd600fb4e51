// `nibble sweep` end to end: the expansion's order, counts and ids (hashes computed here by
// hand), ids independent of --jobs, shards that partition the points and merge to the same
// results.csv as one process, resuming, a failing point, bad specs (exit 2, one line, nothing
// written) and the shipped example spec.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "sim/config.h"
#include "tests/support/cli.h"

namespace nibble {
namespace {

namespace fs = std::filesystem;

using testing_support::kSource;
using testing_support::nibble;
using testing_support::Outcome;
using testing_support::scratch;
using testing_support::slurp;

Json load(const fs::path& file) { return Json::parse(slurp(file)); }

void write(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

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

}  // namespace
}  // namespace nibble
