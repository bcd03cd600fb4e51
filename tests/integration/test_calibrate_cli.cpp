// `nibble calibrate` end to end: the shipped spec fits both points (re-running with the
// calibrated table gives the measured TOPS/W, and the committed table is what the spec gives), a
// one-point fit checked by hand from the run's report, and bad specs (exit 2, one line, nothing
// written).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
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

const std::string kShippedSpec = "configs/calibration/rapid-isscc21.json";
const std::string kShippedTable = "configs/energy/7nm-0.55v-calibrated.json";

std::size_t line_count(const std::string& text) {
  std::size_t n = 0;
  for (const char c : text) n += c == '\n' ? 1 : 0;
  return n;
}

double rel_diff(double a, double b) { return std::abs(a - b) / std::abs(b); }

// The efficiency the calibration fits: 2 ops per MAC over the energy without `excluded` units
// (their dynamic and their leakage energy), in TOPS/W (ops per pJ).
double tops_per_w(const Json& report, const std::vector<std::string>& excluded) {
  const Json& e = report.at("energy_pj");
  double pj = e.at("total").get<double>();
  for (const std::string& unit : excluded) {
    if (e.at("by_unit").contains(unit)) pj -= e["by_unit"][unit].get<double>();
    if (e.at("leakage").at("by_unit").contains(unit)) {
      pj -= e["leakage"]["by_unit"][unit].get<double>();
    }
  }
  return 2.0 * report.at("macs").get<double>() / pj;
}

// A small INT4 GEMM: 64 x 64 x 128 = 524,288 MACs, a fraction of a millisecond to simulate.
const char* const kTinyGemm = R"({"format": "nibble-trace", "version": 1, "name": "tiny-gemm",
 "ops": [{"name": "g", "type": "gemm", "pass": "fwd", "M": 64, "N": 64, "K": 128,
          "precision": {"a": "int4", "b": "int4", "out": "fp16"}}]})";

// A small HFP8 GEMM, for a second point.
const char* const kTinyHfp8 = R"({"format": "nibble-trace", "version": 1, "name": "tiny-hfp8",
 "ops": [{"name": "g", "type": "gemm", "pass": "fwd", "M": 64, "N": 64, "K": 128,
          "precision": {"a": "hfp8_143", "b": "hfp8_143", "out": "fp16"}}]})";

// A one-point spec on the tiny GEMM in `dir` (default.json, priced with the 45 nm table).
Json tiny_spec(const fs::path& dir, double measured) {
  write(dir / "tiny.json", kTinyGemm);
  write(dir / "tiny-hfp8.json", kTinyHfp8);
  return Json::parse(R"({"format": "nibble-calibration", "version": 1,
    "description": "hand-checked", "config": ")" +
                     kSource + R"(/configs/default.json",
    "exclude_units": ["dram"],
    "points": [{"name": "tiny", "workload": "tiny.json", "measured_tops_per_w": )" +
                     std::to_string(measured) + R"(,
                "source": "a test", "scale": ["mac.int4_int4"]}]})");
}

TEST(CalibrateCli, Help) {
  const fs::path dir = scratch();
  const Outcome o = nibble("calibrate --help", dir);
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("usage: nibble calibrate SPEC.json -o TABLE.json"), std::string::npos);
  EXPECT_NE(nibble("--help", dir).out.find("calibrate"), std::string::npos);
}

TEST(CalibrateCli, ShippedSpecFitsBothPoints) {
  const fs::path dir = scratch();
  const fs::path table = dir / "calibrated.json";
  const Outcome o =
      nibble("calibrate " + kShippedSpec + " -o " + q(table) + " --out " + q(dir / "out"), dir);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.err, "");
  EXPECT_NE(o.out.find("int4"), std::string::npos);
  EXPECT_NE(o.out.find("hfp8"), std::string::npos);

  const Json spec = load(fs::path(kSource) / kShippedSpec);
  const Json c = load(dir / "out" / "calibration.json");
  const Json t = load(table);
  const Json base = load(fs::path(kSource) / "configs/energy/7nm-0.55v.json");
  ASSERT_EQ(c["points"].size(), 2u);
  EXPECT_EQ(t["name"], "7nm-0.55v-calibrated");
  EXPECT_NE(t["description"].get<std::string>().find(kShippedSpec), std::string::npos);
  EXPECT_EQ(t["leakage"], base["leakage"]);
  EXPECT_EQ(t["sources"], base["sources"]);

  const auto excluded = spec["exclude_units"].get<std::vector<std::string>>();
  std::vector<std::string> scaled;
  for (std::size_t i = 0; i < 2; ++i) {
    const Json& p = c["points"][i];
    const Json& sp = spec["points"][i];
    const double s = p["factor"].get<double>();
    EXPECT_GT(s, 0);
    EXPECT_EQ(p["name"], sp["name"]);
    EXPECT_EQ(p["measured_tops_per_w"], sp["measured_tops_per_w"]);
    EXPECT_LT(
        rel_diff(p["tops_per_w_after"].get<double>(), sp["measured_tops_per_w"].get<double>()),
        1e-12);
    // "before" is the run's own efficiency, read back from its report.
    const Json report = load(dir / "out" / p["report"].get<std::string>());
    EXPECT_LT(rel_diff(p["tops_per_w_before"].get<double>(), tops_per_w(report, excluded)), 1e-12);
    for (const Json& event : sp["scale"]) {
      const std::string e = event.get<std::string>();
      scaled.push_back(e);
      EXPECT_LT(
          rel_diff(t["events"][e]["pj"].get<double>(), base["events"][e]["pj"].get<double>() * s),
          1e-12)
          << e;
      const std::string d = t["events"][e]["derivation"].get<std::string>();
      EXPECT_EQ(d.rfind(base["events"][e]["derivation"].get<std::string>() + "; calibrated × ", 0),
                0u)
          << e;
      EXPECT_NE(d.find("on point " + p["name"].get<std::string>()), std::string::npos) << e;
    }
  }
  for (const auto& [event, entry] : base["events"].items()) {
    if (std::find(scaled.begin(), scaled.end(), event) == scaled.end()) {
      EXPECT_EQ(t["events"][event], entry) << event;
    }
  }

  // Each point's workload run again with the calibrated table (the spec's sets) gives the
  // measured efficiency.
  for (const Json& sp : spec["points"]) {
    const std::string workload =
        (fs::path(kShippedSpec).parent_path() / sp["workload"].get<std::string>())
            .lexically_normal()
            .string();
    const fs::path out = dir / ("rerun-" + sp["name"].get<std::string>());
    const Outcome r = nibble("run --config configs/rapid-4bit.json --set clock.core_mhz=1000 " +
                                 std::string("--set energy.table=") + q(table) + " --workload " +
                                 workload + " --quiet --out " + q(out),
                             dir);
    ASSERT_EQ(r.status, 0) << r.err;
    const double got = tops_per_w(load(out / "report.json"), excluded);
    EXPECT_LT(rel_diff(got, sp["measured_tops_per_w"].get<double>()), 1e-9)
        << sp["name"] << ": " << got;
  }

  // The committed table is what the shipped spec gives.
  EXPECT_EQ(slurp(table), slurp(fs::path(kSource) / kShippedTable))
      << kShippedTable << " differs from what " << kShippedSpec
      << " gives; if the change is intended, run scripts/calibrate-tables and commit the result";
}

TEST(CalibrateCli, OnePointByHand) {
  const fs::path dir = scratch();
  const double measured = 0.075;
  write(dir / "spec.json", tiny_spec(dir, measured).dump(2));
  const Outcome o = nibble("calibrate " + q(dir / "spec.json") + " -o " + q(dir / "t.json") +
                               " --out " + q(dir / "out") + " --quiet",
                           dir);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(o.out, "");

  // From the run's report: M MACs, G the pJ of mac.int4_int4 (M x 0.1 pJ in the 45 nm table),
  // F the rest without DRAM. The fit makes F + s·G = 2·M / measured.
  const Json report = load(dir / "out" / "points" / "tiny" / "report.json");
  const Json& e = report["energy_pj"];
  const double macs = report["macs"].get<double>();
  const double g = e["by_event"]["mac.int4_int4"].get<double>();
  const double pj =
      load(fs::path(kSource) / "configs/energy/45nm.json")["events"]["mac.int4_int4"]["pj"]
          .get<double>();
  EXPECT_EQ(macs, 64.0 * 64.0 * 128.0);
  EXPECT_LT(rel_diff(g, macs * pj), 1e-12);
  const double dram =
      e["by_unit"]["dram"].get<double>() + e["leakage"]["by_unit"]["dram"].get<double>();
  const double f = e["total"].get<double>() - dram - g;
  const double s = (2.0 * macs / measured - f) / g;
  ASSERT_GT(s, 1);  // the tiny run is more efficient than 0.075 TOPS/W: its MACs cost more

  const Json c = load(dir / "out" / "calibration.json");
  const Json& p = c["points"][0];
  EXPECT_LT(rel_diff(p["factor"].get<double>(), s), 1e-12);
  EXPECT_LT(rel_diff(p["energy_pj"]["fixed"].get<double>(), f), 1e-12);
  EXPECT_LT(rel_diff(p["energy_pj"]["scaled"].get<double>(), g), 1e-12);
  EXPECT_LT(rel_diff(p["energy_pj"]["target"].get<double>(), 2.0 * macs / measured), 1e-12);
  EXPECT_LT(rel_diff(p["tops_per_w_before"].get<double>(), 2.0 * macs / (f + g)), 1e-12);
  EXPECT_LT(rel_diff(p["tops_per_w_after"].get<double>(), measured), 1e-12);
  const Json t = load(dir / "t.json");
  EXPECT_LT(rel_diff(t["events"]["mac.int4_int4"]["pj"].get<double>(), pj * s), 1e-12);
  EXPECT_EQ(t["name"], "45nm-calibrated");

  // The calibrated table gives the measured efficiency.
  const Outcome r =
      nibble("run --config configs/default.json --set energy.table=" + q(dir / "t.json") +
                 " --workload " + q(dir / "tiny.json") + " --quiet --out " + q(dir / "rerun"),
             dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LT(rel_diff(tops_per_w(load(dir / "rerun" / "report.json"), {"dram"}), measured), 1e-9);
}

// Bad specs: exit 2 with one line naming the problem; no table, no output directory.
TEST(CalibrateCli, BadSpecsWriteNothing) {
  struct Case {
    std::string name;
    void (*edit)(Json&);
    std::string expected;  // in the message
  };
  const std::vector<Case> cases = {
      {"unknown key", [](Json& s) { s["points"][0]["scales"] = Json::array(); },
       ".points[0].scales: unknown key"},
      {"unknown top key", [](Json& s) { s["mesured"] = 1; }, ".mesured: unknown key"},
      {"wrong type", [](Json& s) { s["points"][0]["measured_tops_per_w"] = "16.5"; },
       ".points[0].measured_tops_per_w: expected a number > 0, found string"},
      {"missing workload", [](Json& s) { s["points"][0]["workload"] = "no-such.json"; },
       ".points[0].workload: no such file"},
      {"overlapping groups",
       [](Json& s) {
         s["points"].push_back({{"name", "hfp8"},
                                {"workload", "tiny-hfp8.json"},
                                {"measured_tops_per_w", 0.05},
                                {"source", "a test"},
                                {"scale", {"mac.hfp8_hfp8", "mac.int4_int4"}}});
       },
       ".points[1].scale[1]: event \"mac.int4_int4\" is already scaled by point \"tiny\""},
      {"event not in the table",
       [](Json& s) { s["points"][0]["scale"].push_back("mac.int3_int3"); },
       ".points[0].scale[1]: event \"mac.int3_int3\" is not in the energy table"},
      {"excluded unit holds a scaled event",
       [](Json& s) { s["exclude_units"].push_back("mac_array"); },
       "is charged to unit \"mac_array\""},
      {"target the fixed energy exceeds",
       [](Json& s) { s["points"][0]["measured_tops_per_w"] = 1.0; }, "already exceeds the target"},
      {"a run that fails", [](Json& s) { s["set"] = {"clock.core_mhz=0"}; },
       "calibrate: point \"tiny\": "},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    const fs::path dir = scratch() / std::to_string(&k - cases.data());
    fs::create_directories(dir);
    Json spec = tiny_spec(dir, 0.075);
    k.edit(spec);
    write(dir / "spec.json", spec.dump(2));
    const Outcome o = nibble("calibrate " + q(dir / "spec.json") + " -o " + q(dir / "t.json") +
                                 " --out " + q(dir / "out" / "deeper"),
                             dir);
    EXPECT_EQ(o.status, 2) << o.err;
    EXPECT_EQ(line_count(o.err), 1u) << o.err;
    EXPECT_EQ(o.err.rfind("nibble: error: ", 0), 0u) << o.err;
    EXPECT_NE(o.err.find(k.expected), std::string::npos) << o.err;
    EXPECT_EQ(o.out, "");
    EXPECT_FALSE(fs::exists(dir / "t.json"));
    EXPECT_EQ(testing_support::temporaries_in(dir), "");
    EXPECT_FALSE(fs::exists(dir / "out"));
  }
}

TEST(CalibrateCli, RefusesToOverwriteItsInputTable) {
  const fs::path dir = scratch();
  fs::copy_file(fs::path(kSource) / "configs/energy/45nm.json", dir / "45nm.json");
  Json spec = tiny_spec(dir, 0.075);
  spec["set"] = {"energy.table=" + (dir / "45nm.json").string()};
  write(dir / "spec.json", spec.dump(2));
  const std::string before = slurp(dir / "45nm.json");
  const Outcome o = nibble("calibrate " + q(dir / "spec.json") + " -o " + q(dir / "45nm.json") +
                               " --out " + q(dir / "out"),
                           dir);
  EXPECT_EQ(o.status, 2) << o.err;
  EXPECT_NE(o.err.find("is the table being calibrated"), std::string::npos) << o.err;
  EXPECT_EQ(slurp(dir / "45nm.json"), before);
  EXPECT_FALSE(fs::exists(dir / "out"));
}

}  // namespace
}  // namespace nibble
