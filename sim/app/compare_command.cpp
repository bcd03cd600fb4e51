// `nibble compare`: one workload (or two traces of one network) on two accelerator configs.
//
// Each side is a `nibble run` of its own, in a child process of this binary (a SystemC kernel
// elaborates once per process), both at once; their reports are then compared (totals, passes,
// units, layers, ops matched by name) into compare.json and compare.csv, whose schema is
// sim/app/compare.md. The runs write into a staging folder inside DIR that is moved into place
// only when both succeeded, so a failed compare leaves nothing behind.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/program_options.hpp>

#include "sim/app/child_run.h"
#include "sim/app/commands.h"
#include "sim/atomic_file.h"
#include "sim/config.h"
#include "sim/error.h"
#include "sim/stats.h"
#include "sim/version.h"

namespace nibble {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

const char* const kCompareUsage =
    "usage: nibble compare --config A.json --baseline B.json --workload W [--baseline-workload "
    "W2]\n"
    "                      [--set KEY=VALUE]... [--baseline-set KEY=VALUE]... [--ideal-memory]\n"
    "                      [--out DIR] [--quiet]\n"
    "\n"
    "Runs `nibble run` twice, each in a process of its own: the candidate (config A, workload W,\n"
    "--set) into DIR/candidate and the baseline (config B, workload W2 or else W, --baseline-set)\n"
    "into DIR/baseline. Then compares the two reports (totals, passes, units, layers, and ops\n"
    "matched by name) into DIR/compare.json and DIR/compare.csv and prints a summary. Ratios are\n"
    "baseline over candidate: a speed-up or energy ratio above 1 means the candidate is faster or\n"
    "uses less energy. DIR defaults to nibble-out/compare-<A>-vs-<B>-<W>.\n"
    "Exit status: 0 done; otherwise the failed run's status (2 bad input, 130 interrupted), with\n"
    "nothing written.\n"
    "\n";

const char* const kStagingName = ".compare.tmp";
const std::vector<std::string> kPassOrder = {"fwd", "bwd_data", "bwd_weight", "update"};

std::string stem(const std::string& path) { return fs::path(path).stem().string(); }

// One side of the comparison, as given on the command line.
struct Side {
  std::string role;  // "candidate" or "baseline"
  std::string config, workload;
  std::vector<std::string> sets;
};

// ---- the child runs ----

// Starts `nibble run` for one side (sim/app/child_run.h): stderr into `err_file`.
pid_t spawn_run(const Side& side, bool ideal_memory, const fs::path& out_dir,
                const fs::path& err_file) {
  std::vector<std::string> args = {"nibble",    "run",        "--config",
                                   side.config, "--workload", side.workload};
  for (const std::string& set : side.sets) {
    args.push_back("--set");
    args.push_back(set);
  }
  if (ideal_memory) args.push_back("--ideal-memory");
  args.push_back("--out");
  args.push_back(out_dir.string());
  args.push_back("--quiet");
  return spawn_self(args, err_file, "compare: the " + side.role + " run");
}

int wait_run(pid_t pid) { return wait_child(pid); }

// What a failed run said: its first stderr line without the "nibble: error: " prefix.
std::string failure_of(const Side& side, int status, const fs::path& err_file) {
  std::string line = first_error_line(err_file);
  // The run names the assignment as it was given to it; the user gave it as --baseline-set.
  if (side.role == "baseline" && line.rfind("--set ", 0) == 0)
    line = "--baseline-" + line.substr(2);
  if (line.empty()) {
    line = status > 128 ? "killed by signal " + std::to_string(status - 128)
                        : "exited with status " + std::to_string(status);
  }
  return "compare: " + side.role + " run: " + line;
}

// ---- reading the reports ----

Json read_report(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error(file.string() + ": the run wrote no report");
  return Json::parse(in);
}

// A report and the figures of it the comparison uses.
struct Report {
  Json json;
  double hz = 0;  // clock_mhz · 10⁶, as the report computes `seconds`

  explicit Report(Json j) : json(std::move(j)) { hz = json.at("clock_mhz").get<double>() * 1e6; }
  double seconds(uint64_t cycles) const { return hz > 0 ? static_cast<double>(cycles) / hz : 0.0; }
  const Json& ops() const { return json.at("ops"); }
  double energy_pj() const { return json.at("energy_pj").at("total").get<double>(); }
};

// A number, or the "total" of an object (energy_pj.leakage is {total, by_unit}); null otherwise.
Json total_of(const Json& j) {
  if (j.is_number()) return j;
  if (j.is_object() && j.contains("total") && j["total"].is_number()) return j["total"];
  return Json();
}

// num / den: null where it is not a finite number (a zero or missing denominator).
Json ratio(double num, double den) {
  if (!(den > 0) || !std::isfinite(num)) return Json();
  const double r = num / den;
  return std::isfinite(r) ? Json(r) : Json();
}
Json ratio(const Json& num, const Json& den) {
  if (!num.is_number() || !den.is_number()) return Json();
  return ratio(num.get<double>(), den.get<double>());
}

std::string recipe_of(const Json& report) {
  const Json& w = report.at("workload");
  if (w.contains("source") && w["source"].is_object() && w["source"].contains("recipe") &&
      w["source"]["recipe"].is_string()) {
    return w["source"]["recipe"].get<std::string>();
  }
  return "as in the trace";
}

// The side's summary object in compare.json.
Json side_json(const Side& side, const Report& r) {
  const Json& j = r.json;
  const Json& energy = j.at("energy_pj");
  Json s;
  s["config"] = side.config;
  s["set"] = side.sets;
  s["workload"] = side.workload;
  s["workload_name"] = j.at("workload").at("name");
  s["recipe"] = recipe_of(j);
  s["report"] = side.role + "/report.json";
  s["status"] = j.at("status");
  s["clock_mhz"] = j.at("clock_mhz");
  s["cycles"] = j.at("cycles");
  s["seconds"] = j.at("seconds");
  s["energy_pj"] = energy.at("total");
  if (energy.contains("dynamic")) s["dynamic_pj"] = total_of(energy["dynamic"]);
  if (energy.contains("leakage")) s["leakage_pj"] = total_of(energy["leakage"]);
  s["macs"] = j.at("macs");
  if (j.contains("tops_per_w")) s["tops_per_w"] = j["tops_per_w"];
  // The trace's ops are one training iteration; `training` repeats them `iterations` times.
  uint64_t iterations = j.at("workload").value("iterations", uint64_t{1});
  uint64_t training_cycles = j.at("cycles").get<uint64_t>() * iterations;
  double training_seconds = j.at("seconds").get<double>() * static_cast<double>(iterations);
  double training_energy = energy.at("total").get<double>() * static_cast<double>(iterations);
  if (j.contains("training")) {
    const Json& t = j["training"];
    iterations = t.at("iterations").get<uint64_t>();
    training_cycles = t.at("cycles").get<uint64_t>();
    training_seconds = t.at("seconds").get<double>();
    training_energy = t.at("energy_pj").get<double>();
  }
  const double n = static_cast<double>(iterations > 0 ? iterations : 1);
  s["seconds_per_iteration"] = training_seconds / n;
  s["energy_per_iteration_pj"] = training_energy / n;
  s["training"] = {{"iterations", iterations},
                   {"cycles", training_cycles},
                   {"seconds", training_seconds},
                   {"energy_pj", training_energy}};
  return s;
}

Json totals_json(const Json& cand, const Json& base) {
  Json t;
  t["speedup"] = ratio(base["seconds"], cand["seconds"]);
  t["energy_ratio"] = ratio(base["energy_pj"], cand["energy_pj"]);
  t["speedup_per_iteration"] = ratio(base["seconds_per_iteration"], cand["seconds_per_iteration"]);
  t["energy_per_iteration_ratio"] =
      ratio(base["energy_per_iteration_pj"], cand["energy_per_iteration_pj"]);
  t["training_speedup"] = ratio(base["training"]["seconds"], cand["training"]["seconds"]);
  t["training_energy_ratio"] = ratio(base["training"]["energy_pj"], cand["training"]["energy_pj"]);
  if (cand.contains("tops_per_w") && base.contains("tops_per_w")) {
    t["tops_per_w_ratio"] = ratio(cand["tops_per_w"], base["tops_per_w"]);
  }
  return t;
}

// Sums over a group of ops (a pass, a layer) of one side.
struct Sum {
  uint64_t ops = 0, cycles = 0;
  double energy_pj = 0, leakage_pj = 0;
  bool has_leakage = false;

  void add(const Json& op) {
    ++ops;
    cycles += op.at("cycles").get<uint64_t>();
    energy_pj += op.at("energy_pj").get<double>();
    if (op.contains("leakage_pj") && op["leakage_pj"].is_number()) {
      has_leakage = true;
      leakage_pj += op["leakage_pj"].get<double>();
    }
  }
  Json to_json(const Report& r) const {
    Json j = {
        {"ops", ops}, {"cycles", cycles}, {"seconds", r.seconds(cycles)}, {"energy_pj", energy_pj}};
    if (has_leakage) j["leakage_pj"] = leakage_pj;
    return j;
  }
};

// A row of a section: the two sides' figures (null on a side that has none) and the ratios.
Json row_ratios(Json row) {
  const Json& c = row["candidate"];
  const Json& b = row["baseline"];
  if (c.is_null() || b.is_null()) {
    row["speedup"] = Json();
    row["energy_ratio"] = Json();
  } else {
    row["speedup"] = ratio(b["seconds"], c["seconds"]);
    row["energy_ratio"] = ratio(b["energy_pj"], c["energy_pj"]);
  }
  return row;
}

// Groups keyed by name, in the order they first appear.
class Groups {
 public:
  void add(const std::string& key, bool baseline, const Json& op) {
    auto it = index_.find(key);
    if (it == index_.end()) {
      it = index_.emplace(key, keys_.size()).first;
      keys_.push_back(key);
      sums_.emplace_back();
    }
    auto& pair = sums_[it->second];
    (baseline ? pair.second : pair.first).add(op);
  }
  const std::vector<std::string>& keys() const { return keys_; }
  const std::pair<Sum, Sum>& sums(const std::string& key) const { return sums_[index_.at(key)]; }

 private:
  std::vector<std::string> keys_;
  std::map<std::string, std::size_t> index_;
  std::vector<std::pair<Sum, Sum>> sums_;
};

// `layer1.0.conv1.fwd` belongs to layer `layer1.0.conv1`; a name without a dot is its own layer.
std::string layer_of(const std::string& op_name) {
  const auto dot = op_name.rfind('.');
  return dot == std::string::npos || dot == 0 ? op_name : op_name.substr(0, dot);
}

Json op_side_json(const Json& op, const Report& r) {
  const uint64_t cycles = op.at("cycles").get<uint64_t>();
  Json s = {{"type", op.at("type")},           {"unit", op.at("unit")},
            {"precision", op.at("precision")}, {"cycles", cycles},
            {"seconds", r.seconds(cycles)},    {"energy_pj", op.at("energy_pj")}};
  if (op.contains("leakage_pj")) s["leakage_pj"] = op["leakage_pj"];
  return s;
}

// The pair of ops of one row: indices into each side's ops, -1 where that side has none.
struct OpPair {
  long cand = -1, base = -1;
};

// Ops matched by name, in trace order: the candidate's order, each baseline-only op placed just
// before the first matched op that follows it in the baseline's order.
std::vector<OpPair> match_ops(const Json& cand_ops, const Json& base_ops) {
  std::map<std::string, long> base_index;
  for (std::size_t i = 0; i < base_ops.size(); ++i) {
    base_index.emplace(base_ops[i].at("name").get<std::string>(), static_cast<long>(i));
  }
  std::vector<bool> matched(base_ops.size(), false);
  for (const Json& op : cand_ops) {
    const auto it = base_index.find(op.at("name").get<std::string>());
    if (it != base_index.end()) matched[static_cast<std::size_t>(it->second)] = true;
  }
  std::vector<OpPair> rows;
  std::size_t next_base = 0;  // baseline ops before this one are in `rows`
  const auto flush_until = [&](std::size_t end) {
    for (; next_base < end; ++next_base) {
      if (!matched[next_base]) rows.push_back({-1, static_cast<long>(next_base)});
    }
  };
  for (std::size_t i = 0; i < cand_ops.size(); ++i) {
    const auto it = base_index.find(cand_ops[i].at("name").get<std::string>());
    if (it == base_index.end()) {
      rows.push_back({static_cast<long>(i), -1});
      continue;
    }
    const auto j = static_cast<std::size_t>(it->second);
    if (j >= next_base) flush_until(j + 1);
    rows.push_back({static_cast<long>(i), it->second});
  }
  flush_until(base_ops.size());
  return rows;
}

// The whole comparison (compare.json).
Json build_compare(const Side& cand_side, const Side& base_side, bool ideal_memory,
                   const Report& cand, const Report& base) {
  Json c;
  c["nibble_version"] = kNibbleVersion;
  c["ideal_memory"] = ideal_memory;
  c["candidate"] = side_json(cand_side, cand);
  c["baseline"] = side_json(base_side, base);
  c["totals"] = totals_json(c["candidate"], c["baseline"]);

  // Passes, from the ops (the canonical four first, any other after, as they appear).
  Groups passes;
  for (const Json& op : cand.ops()) passes.add(op.at("pass").get<std::string>(), false, op);
  for (const Json& op : base.ops()) passes.add(op.at("pass").get<std::string>(), true, op);
  std::vector<std::string> pass_order;
  for (const std::string& p : kPassOrder) {
    for (const std::string& k : passes.keys()) {
      if (k == p) pass_order.push_back(p);
    }
  }
  for (const std::string& k : passes.keys()) {
    bool canonical = false;
    for (const std::string& p : kPassOrder) canonical = canonical || k == p;
    if (!canonical) pass_order.push_back(k);
  }
  c["passes"] = Json::array();
  for (const std::string& p : pass_order) {
    const auto& [cs, bs] = passes.sums(p);
    c["passes"].push_back(
        row_ratios({{"pass", p}, {"candidate", cs.to_json(cand)}, {"baseline", bs.to_json(base)}}));
  }

  // Units: the candidate's, then the baseline's others; a unit on one side only has null there.
  const Json& cu = cand.json.at("energy_pj").at("by_unit");
  const Json& bu = base.json.at("energy_pj").at("by_unit");
  std::vector<std::string> units;
  for (auto it = cu.begin(); it != cu.end(); ++it) units.push_back(it.key());
  for (auto it = bu.begin(); it != bu.end(); ++it) {
    if (!cu.contains(it.key())) units.push_back(it.key());
  }
  const auto unit_side = [](const Json& by_unit, const std::string& u, double total) {
    if (!by_unit.contains(u)) return Json();
    const double pj = by_unit[u].get<double>();
    return Json{{"energy_pj", pj}, {"share", ratio(pj, total)}};
  };
  c["units"] = Json::array();
  for (const std::string& u : units) {
    Json row = {{"unit", u},
                {"kind", "unit"},
                {"candidate", unit_side(cu, u, cand.energy_pj())},
                {"baseline", unit_side(bu, u, base.energy_pj())}};
    row["energy_ratio"] = row["candidate"].is_null() || row["baseline"].is_null()
                              ? Json()
                              : ratio(row["baseline"]["energy_pj"], row["candidate"]["energy_pj"]);
    c["units"].push_back(row);
  }
  const Json cl = c["candidate"].value("leakage_pj", Json());
  const Json bl = c["baseline"].value("leakage_pj", Json());
  if (!cl.is_null() || !bl.is_null()) {
    const auto leak_side = [](const Json& pj, double total) {
      return pj.is_number() ? Json{{"energy_pj", pj}, {"share", ratio(pj.get<double>(), total)}}
                            : Json();
    };
    c["units"].push_back({{"unit", "leakage"},
                          {"kind", "leakage"},
                          {"candidate", leak_side(cl, cand.energy_pj())},
                          {"baseline", leak_side(bl, base.energy_pj())},
                          {"energy_ratio", ratio(bl, cl)}});
  }

  // Ops matched by name, and their layers in the merged order.
  const std::vector<OpPair> pairs = match_ops(cand.ops(), base.ops());
  Groups layers;
  Json ops = Json::array();
  uint64_t matched = 0, cand_only = 0, base_only = 0;
  for (const OpPair& p : pairs) {
    const Json* co = p.cand >= 0 ? &cand.ops()[static_cast<std::size_t>(p.cand)] : nullptr;
    const Json* bo = p.base >= 0 ? &base.ops()[static_cast<std::size_t>(p.base)] : nullptr;
    const Json& any = co != nullptr ? *co : *bo;
    const std::string name = any.at("name").get<std::string>();
    const std::string layer = layer_of(name);
    if (co != nullptr) layers.add(layer, false, *co);
    if (bo != nullptr) layers.add(layer, true, *bo);
    (co != nullptr && bo != nullptr ? matched : co != nullptr ? cand_only : base_only) += 1;
    ops.push_back(row_ratios({{"name", name},
                              {"layer", layer},
                              {"pass", any.at("pass")},
                              {"candidate", co != nullptr ? op_side_json(*co, cand) : Json()},
                              {"baseline", bo != nullptr ? op_side_json(*bo, base) : Json()}}));
  }
  c["layers"] = Json::array();
  for (const std::string& l : layers.keys()) {
    const auto& [cs, bs] = layers.sums(l);
    c["layers"].push_back(row_ratios({{"layer", l},
                                      {"candidate", cs.ops > 0 ? cs.to_json(cand) : Json()},
                                      {"baseline", bs.ops > 0 ? bs.to_json(base) : Json()}}));
  }
  c["op_matching"] = {
      {"matched", matched}, {"candidate_only", cand_only}, {"baseline_only", base_only}};
  c["ops"] = std::move(ops);
  return c;
}

// ---- compare.csv ----

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char ch : text) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return quoted + "\"";
}

std::string csv_number(const Json& j) {
  if (j.is_number_integer() || j.is_number_unsigned()) return j.dump();
  if (j.is_number()) return format_double(j.get<double>());
  return "";  // null: a side or a ratio that does not exist
}

std::string csv_member(const Json& side, const char* key) {
  return side.is_object() && side.contains(key) ? csv_number(side[key]) : "";
}

void csv_row(std::ostream& out, const std::string& section, const std::string& name,
             const std::string& pass, const Json& cand, const Json& base, const Json& speedup,
             const Json& energy_ratio) {
  out << section << ',' << csv_field(name) << ',' << csv_field(pass);
  for (const Json* side : {&cand, &base}) {
    for (const char* key : {"cycles", "seconds", "energy_pj"}) out << ',' << csv_member(*side, key);
  }
  out << ',' << csv_number(speedup) << ',' << csv_number(energy_ratio) << '\n';
}

std::string compare_csv(const Json& c) {
  std::ostringstream out;
  out << "section,name,pass,candidate_cycles,candidate_seconds,candidate_energy_pj,"
         "baseline_cycles,baseline_seconds,baseline_energy_pj,speedup,energy_ratio\n";
  const Json& t = c["totals"];
  csv_row(out, "total", "total", "", c["candidate"], c["baseline"], t["speedup"],
          t["energy_ratio"]);
  Json ct = c["candidate"]["training"], bt = c["baseline"]["training"];
  csv_row(out, "training", "training", "", ct, bt, t["training_speedup"],
          t["training_energy_ratio"]);
  for (const Json& p : c["passes"]) {
    csv_row(out, "pass", p["pass"].get<std::string>(), p["pass"].get<std::string>(), p["candidate"],
            p["baseline"], p["speedup"], p["energy_ratio"]);
  }
  for (const Json& u : c["units"]) {
    csv_row(out, u["kind"] == "leakage" ? "leakage" : "unit", u["unit"].get<std::string>(), "",
            u["candidate"], u["baseline"], Json(), u["energy_ratio"]);
  }
  for (const Json& l : c["layers"]) {
    csv_row(out, "layer", l["layer"].get<std::string>(), "", l["candidate"], l["baseline"],
            l["speedup"], l["energy_ratio"]);
  }
  for (const Json& o : c["ops"]) {
    csv_row(out, "op", o["name"].get<std::string>(), o["pass"].get<std::string>(), o["candidate"],
            o["baseline"], o["speedup"], o["energy_ratio"]);
  }
  return out.str();
}

// ---- writing ----

// ---- the summary ----

std::string with_commas(uint64_t v) {
  std::string s = std::to_string(v);
  for (auto i = static_cast<long>(s.size()) - 3; i > 0; i -= 3) {
    s.insert(static_cast<std::size_t>(i), ",");
  }
  return s;
}

// Four significant figures with an SI prefix: 1.227 mJ, 143.7 us.
std::string si(double value, const char* unit) {
  static const char* const kPrefixes[] = {"p", "n", "u", "m", "", "k", "M", "G", "T"};
  int index = 4;
  double v = value;
  while (std::abs(v) >= 1000 && index < 8) v /= 1000, ++index;
  while (v != 0 && std::abs(v) < 1 && index > 0) v *= 1000, --index;
  std::ostringstream out;
  out << std::setprecision(4) << v << ' ' << kPrefixes[index] << unit;
  return out.str();
}

std::string times(const Json& r) {
  if (!r.is_number()) return "-";
  const double v = r.get<double>();
  std::ostringstream out;
  if (v >= 0.1 && v < 1000) {
    out << std::fixed << std::setprecision(2) << v << 'x';
  } else {
    out << std::setprecision(3) << v << 'x';
  }
  return out.str();
}

std::string pj_text(const Json& side) {
  return side.is_object() ? si(side["energy_pj"].get<double>() * 1e-12, "J") : "-";
}

std::string pad(const std::string& s, std::size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

void print_compare(std::ostream& out, const Json& c, const std::string& dir) {
  const Json& cs = c["candidate"];
  const Json& bs = c["baseline"];
  const auto joined = [](const Json& sets) {
    std::string s;
    for (const Json& set : sets) s += (s.empty() ? "" : " ") + set.get<std::string>();
    return s.empty() ? std::string("-") : s;
  };
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>> lines = {
      {"config", {cs["config"].get<std::string>(), bs["config"].get<std::string>()}}};
  if (!cs["set"].empty() || !bs["set"].empty()) {
    lines.push_back({"set", {joined(cs["set"]), joined(bs["set"])}});
  }
  const auto cycles = [](const Json& s) {
    return with_commas(s["cycles"].get<uint64_t>()) + " (" + si(s["seconds"].get<double>(), "s") +
           ")";
  };
  lines.push_back(
      {"workload", {cs["workload"].get<std::string>(), bs["workload"].get<std::string>()}});
  lines.push_back({"recipe", {cs["recipe"].get<std::string>(), bs["recipe"].get<std::string>()}});
  lines.push_back({"cycles", {cycles(cs), cycles(bs)}});
  lines.push_back({"energy", {pj_text(cs), pj_text(bs)}});
  lines.push_back(
      {"MACs", {with_commas(cs["macs"].get<uint64_t>()), with_commas(bs["macs"].get<uint64_t>())}});
  if (cs.contains("tops_per_w") || bs.contains("tops_per_w")) {
    const auto tops = [](const Json& s) {
      if (!s.contains("tops_per_w") || !s["tops_per_w"].is_number()) return std::string("-");
      std::ostringstream t;
      t << std::setprecision(4) << s["tops_per_w"].get<double>();
      return t.str();
    };
    lines.push_back({"TOPS/W", {tops(cs), tops(bs)}});
  }
  std::size_t width = 26;
  for (const auto& l : lines) width = std::max(width, l.second.first.size() + 2);

  out << "nibble compare: " << cs["workload_name"].get<std::string>() << " vs "
      << bs["workload_name"].get<std::string>()
      << (c["ideal_memory"].get<bool>() ? " (ideal memory)" : "") << '\n';
  out << "  " << pad("", 13) << pad("candidate", width) << "baseline\n";
  for (const auto& [label, values] : lines) {
    out << "  " << pad(label, 13) << pad(values.first, width) << values.second << '\n';
  }
  const Json& t = c["totals"];
  out << "  " << pad("speed-up", 13) << times(t["speedup"])
      << "  (baseline time / candidate time)\n";
  out << "  " << pad("energy ratio", 13) << times(t["energy_ratio"])
      << "  (baseline energy / candidate energy; above 1 the candidate uses less)\n";
  const Json& m = c["op_matching"];
  out << "  " << pad("ops", 13) << m["matched"] << " matched by name, " << m["candidate_only"]
      << " candidate only, " << m["baseline_only"] << " baseline only\n";

  // Row names longer than the label column push it right, for every row alike.
  std::size_t name_width = 11;
  for (const Json& p : c["passes"])
    name_width = std::max(name_width, p["pass"].get<std::string>().size() + 1);
  for (const Json& u : c["units"]) {
    name_width = std::max(name_width, u["unit"].get<std::string>().size() + 1);
  }
  const std::string indent(name_width - 11, ' ');
  out << "  " << pad("by pass", 13) << indent << pad("time", 26) << pad("speed-up", 10)
      << pad("energy", 26) << "ratio\n";
  for (const Json& p : c["passes"]) {
    const std::string time = si(p["candidate"]["seconds"].get<double>(), "s") + " / " +
                             si(p["baseline"]["seconds"].get<double>(), "s");
    const std::string energy = pj_text(p["candidate"]) + " / " + pj_text(p["baseline"]);
    out << "    " << pad(p["pass"].get<std::string>(), name_width) << pad(time, 26)
        << pad(times(p["speedup"]), 10) << pad(energy, 26) << times(p["energy_ratio"]) << '\n';
  }
  out << "  " << pad("by unit", 13) << indent << pad("energy", 36) << "ratio\n";
  for (const Json& u : c["units"]) {
    const std::string energy = pj_text(u["candidate"]) + " / " + pj_text(u["baseline"]);
    out << "    " << pad(u["unit"].get<std::string>(), name_width) << pad(energy, 36)
        << times(u["energy_ratio"]) << '\n';
  }
  out << "  " << pad("compare", 13) << dir << "/compare.json\n";
}

}  // namespace

int compare_command(int argc, char* argv[]) {
  Side cand{"candidate", "", "", {}}, base{"baseline", "", "", {}};
  std::string out_dir;
  bool quiet = false, ideal_memory = false;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "config,c", po::value(&cand.config)->value_name("FILE"), "the candidate's config (JSON)")(
      "baseline,b", po::value(&base.config)->value_name("FILE"), "the baseline's config (JSON)")(
      "workload,w", po::value(&cand.workload)->value_name("FILE"),
      "workload: a nibble trace (JSON) or a SCALE-Sim topology (CSV)")(
      "baseline-workload", po::value(&base.workload)->value_name("FILE"),
      "the baseline's workload (default: the same), e.g. the trace of the same network under "
      "another recipe")("set,s", po::value(&cand.sets)->value_name("KEY=VALUE")->composing(),
                        "override a value of the candidate's config (repeatable)")(
      "baseline-set", po::value(&base.sets)->value_name("KEY=VALUE")->composing(),
      "override a value of the baseline's config (repeatable)")(
      "ideal-memory", po::bool_switch(&ideal_memory), "both runs: transfers take no time")(
      "out,o", po::value(&out_dir)->value_name("DIR"), "output directory")(
      "quiet,q", po::bool_switch(&quiet), "print nothing but errors");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError(std::string("compare: ") + e.what() + " (try 'nibble compare --help')");
  }
  if (vm.count("help")) {
    std::cout << kCompareUsage << options;
    return 0;
  }
  if (cand.config.empty()) throw InputError("compare: --config FILE (the candidate) is required");
  if (base.config.empty()) throw InputError("compare: --baseline FILE is required");
  if (cand.workload.empty()) throw InputError("compare: --workload FILE is required");
  if (base.workload.empty()) base.workload = cand.workload;
  if (out_dir.empty()) {
    out_dir = "nibble-out/compare-" + stem(cand.config) + "-vs-" + stem(base.config) + "-" +
              stem(cand.workload);
  }

  const fs::path dir(out_dir);
  Staging staging(dir, kStagingName);
  const Side* sides[] = {&cand, &base};
  int status[2] = {0, 0};
  {
    IgnoreInterrupts ignore;
    pid_t pids[2];
    for (int i = 0; i < 2; ++i) {
      try {
        pids[i] = spawn_run(*sides[i], ideal_memory, staging.path() / sides[i]->role,
                            staging.path() / (sides[i]->role + ".stderr"));
      } catch (...) {
        if (i == 1) {  // the candidate's run must not go on writing into the staging folder
          kill(pids[0], SIGTERM);
          wait_run(pids[0]);
        }
        throw;
      }
    }
    for (int i = 0; i < 2; ++i) status[i] = wait_run(pids[i]);
  }
  for (int i = 0; i < 2; ++i) {
    const fs::path err_file = staging.path() / (sides[i]->role + ".stderr");
    if (status[i] == 0) {
      std::ifstream err(err_file, std::ios::binary);
      if (err.peek() != std::char_traits<char>::eof()) std::cerr << err.rdbuf();  // warnings
    }
  }
  if (status[0] == 130 || status[1] == 130) {
    std::cerr << "nibble: compare: interrupted; nothing written\n";
    return 130;
  }
  for (int i = 0; i < 2; ++i) {
    if (status[i] != 0) {
      std::cerr << "nibble: error: "
                << failure_of(*sides[i], status[i], staging.path() / (sides[i]->role + ".stderr"))
                << '\n';
      return status[i];
    }
  }

  const Report cand_report(read_report(staging.path() / "candidate" / "report.json"));
  const Report base_report(read_report(staging.path() / "baseline" / "report.json"));
  const Json compare = build_compare(cand, base, ideal_memory, cand_report, base_report);
  const std::string csv = compare_csv(compare);

  // Into place: a compare.json on disk always describes the runs beside it, so the old one goes
  // first and the new one comes last.
  std::error_code ec;
  fs::remove(dir / "compare.json", ec);
  for (const Side* side : sides) {
    const fs::path target = dir / side->role;
    fs::remove_all(target, ec);
    fs::rename(staging.path() / side->role, target, ec);
    if (ec) throw InputError(target.string() + ": cannot write (" + ec.message() + ")");
  }
  staging.keep();
  write_file_atomically(dir / "compare.csv", csv);
  write_file_atomically(dir / "compare.json", compare.dump(2) + "\n");
  if (!quiet) print_compare(std::cout, compare, out_dir);
  return 0;
}

}  // namespace nibble
