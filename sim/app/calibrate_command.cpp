// `nibble calibrate`: fits energy scale factors so that simulated efficiencies (TOPS/W) match
// efficiencies measured on a chip, and writes the calibrated energy table.
//
// A spec (configs/calibration/README.md) names a config, `--set` assignments, the units whose
// energy the measurement leaves out (off-chip DRAM) and points: a workload, the TOPS/W measured on
// it and a group of energy events to scale. Each point is a `nibble run` in a child process of
// this binary (sim/app/child_run.h), all at once. With G[i][g] the pJ of group g's events in run
// i and F[i] the rest of the energy counted, the energy of run i is F[i] + Σ_g s[g]·G[i][g]; the
// factors s solve the square system that makes it 2·MACs[i] / measured[i] (TOPS/W is ops per pJ,
// two ops per MAC) for every point. The runs write into a staging folder inside DIR that is moved
// into place only when the fit succeeded; the table and calibration.json are written under
// temporary names and renamed, so a failed calibration leaves nothing behind.
#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
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
#include "sim/energy.h"
#include "sim/error.h"
#include "sim/strict_object.h"
#include "sim/version.h"

namespace nibble {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

const char* const kCalibrateUsage =
    "usage: nibble calibrate SPEC.json -o TABLE.json [--out DIR] [--quiet]\n"
    "\n"
    "Fits one energy scale factor per point of the calibration spec so that the simulated\n"
    "efficiency (2 ops per MAC per pJ, without the spec's excluded units) of each point's\n"
    "workload equals the TOPS/W measured on it, and writes the config's energy table with the\n"
    "points' events scaled to TABLE.json. Each point runs as `nibble run` into DIR/points/<name>;\n"
    "DIR/calibration.json gives per point the efficiency before and after, the factor and the\n"
    "energies fitted. DIR defaults to nibble-out/calibrate-<spec>. The spec format is in\n"
    "configs/calibration/README.md.\n"
    "Exit status: 0 done; 2 bad input or no positive fit (nothing written); otherwise a failed\n"
    "run's status (130 interrupted), with nothing written.\n"
    "\n";

const char* const kStagingName = ".calibrate.tmp";

std::string stem(const std::string& path) { return fs::path(path).stem().string(); }

// A path of the spec, relative to the spec file unless absolute.
std::string relative_to_file(const std::string& file, const std::string& path) {
  if (fs::path(path).is_absolute()) return path;
  return (fs::path(file).parent_path() / path).lexically_normal().string();
}

// Six significant figures, for messages and derivations.
std::string num(double v) {
  std::ostringstream out;
  out << std::setprecision(6) << v;
  return out.str();
}

std::string joined(const std::vector<std::string>& items, const std::string& sep) {
  std::string s;
  for (const std::string& item : items) s += (s.empty() ? "" : sep) + item;
  return s;
}

// ---- the spec ----

struct Point {
  std::string name, workload, source;
  double measured = 0;             // TOPS/W
  std::vector<std::string> scale;  // the energy events this point's factor scales
  std::string where;               // ".points[i]", for messages
};

struct Spec {
  std::string file, description, config;
  std::vector<std::string> sets, exclude_units;
  std::vector<Point> points;
};

bool valid_point_name(const std::string& name) {
  if (name.empty() || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

Spec read_spec(const std::string& file) {
  const Json root = read_json_object(file, "the calibration spec");
  Spec spec;
  spec.file = file;
  StrictObject top(file, root, "");
  top.require_format("nibble-calibration", "calibration spec");
  if (const Json* d = top.find("description")) {
    if (!d->is_string()) top.fail("description", "a string", *d);
    spec.description = d->get<std::string>();
  }
  spec.config = top.string("config");
  spec.sets = top.strings("set", false, true);
  spec.exclude_units = top.strings("exclude_units", false, true);
  const Json& points = top.require("points", "a non-empty array of points");
  if (!points.is_array() || points.empty())
    top.fail("points", "a non-empty array of points", points);
  top.finish();

  for (std::size_t i = 0; i < points.size(); ++i) {
    Point p;
    p.where = ".points[" + std::to_string(i) + "]";
    const Json& node = points[i];
    if (!node.is_object()) {
      throw InputError(file + ": " + p.where +
                       ": expected an object {name, workload, measured_tops_per_w, source, "
                       "scale}, found " +
                       describe_json(node));
    }
    StrictObject obj(file, node, p.where);
    p.name = obj.string("name");
    if (!valid_point_name(p.name)) {
      obj.fail("name", "a name of letters, digits, '_', '-' and '.' not starting with '.'",
               node["name"]);
    }
    for (const Point& q : spec.points) {
      if (q.name == p.name) {
        throw InputError(file + ": " + obj.where("name") + ": \"" + p.name +
                         "\" is already the name of " + q.where);
      }
    }
    p.workload = obj.string("workload");
    const Json& measured = obj.require("measured_tops_per_w", "a number > 0");
    if (!measured.is_number() || !(measured.get<double>() > 0) ||
        !std::isfinite(measured.get<double>())) {
      obj.fail("measured_tops_per_w", "a number > 0", measured);
    }
    p.measured = measured.get<double>();
    p.source = obj.string("source");
    p.scale = obj.strings("scale", true, true);
    obj.finish("a point");
    spec.points.push_back(std::move(p));
  }
  return spec;
}

// ---- the config and its energy table ----

// The runs' config, their --set assignments and the energy table they price with.
struct Setup {
  std::string config;             // relative to the working directory (or absolute)
  std::vector<std::string> sets;  // for the child runs
  std::string table;              // the energy table file, as the runs resolve it
};

// The value an assignment sets, read as `nibble run --set` reads it (JSON, else a plain string).
Json set_value(const std::string& assignment) {
  const std::string text = assignment.substr(assignment.find('=') + 1);
  try {
    return Json::parse(text);
  } catch (const Json::parse_error&) {
    return Json(text);
  }
}

// `energy.table=PATH`, written so that --set reads PATH back as the string it is.
std::string table_assignment(const std::string& path) {
  return "energy.table=" + (Json::accept(path) ? Json(path).dump() : path);
}

// The spec's paths are relative to the spec file, the config's energy table (as `nibble run`
// resolves it) to the config file. A relative `energy.table` the spec sets is taken as written in
// the config (relative to the config file), so that the spec means the same from any working
// directory; the child runs get it resolved, and `nibble run --set` resolves it relative to the
// working directory, to the same file.
Setup resolve_setup(const Spec& spec) {
  Setup s;
  s.config = relative_to_file(spec.file, spec.config);
  if (!fs::is_regular_file(s.config)) {
    throw InputError(spec.file + ": .config: no such file \"" + s.config +
                     "\" (a relative path is relative to the spec file)");
  }
  const fs::path config_dir = fs::path(s.config).parent_path();
  const auto beside_config = [&](const std::string& path) {
    if (path.empty() || fs::path(path).is_absolute()) return path;
    return (config_dir / path).lexically_normal().string();
  };
  ConfigDoc doc = ConfigDoc::load(s.config);
  for (std::size_t i = 0; i < spec.sets.size(); ++i) {
    const std::string& set = spec.sets[i];
    try {
      doc.apply_set(set);
    } catch (const InputError& e) {
      throw InputError(spec.file + ": .set[" + std::to_string(i) + "]: " + e.what());
    }
    const std::string key = set.substr(0, set.find('='));
    const Json value = set_value(set);
    s.sets.push_back(key == "energy.table" && value.is_string()
                         ? table_assignment(beside_config(value.get<std::string>()))
                         : set);
  }

  // The table: a relative path the config file gives is relative to the config file, as
  // `nibble run` resolves it (its resolve_table_path); one the spec sets is read the same way, and
  // the runs were given it resolved (above), which --set reads relative to the working directory.
  std::string table = "energy/45nm.json";
  const Json& root = doc.root();
  if (root.contains("energy") && root["energy"].is_object() && root["energy"].contains("table")) {
    const Json& t = root["energy"]["table"];
    if (!t.is_string()) {
      throw InputError(doc.origin_of("energy.table") + ": energy.table: expected a string, found " +
                       describe_json(t));
    }
    table = t.get<std::string>();
  }
  const std::string origin = doc.origin_of("energy.table");
  const bool relative = !fs::path(table).is_absolute();
  table = beside_config(table);
  if (relative && origin.rfind("--set", 0) == 0 && origin.rfind("--set energy.table=", 0) != 0) {
    s.sets.push_back(table_assignment(table));  // set through a parent (energy={...})
  }
  s.table = table;
  return s;
}

// The units an event's energy is charged to: its prefix, but MACs to the unit that did them.
std::vector<std::string> units_charged(const std::string& event) {
  const std::string prefix = event.substr(0, event.find('.'));
  if (prefix == "mac") return {"mac_array", "log_grad"};
  return {prefix};
}

// Checks the spec against the energy table: every scaled event is in it, the groups are
// disjoint, every excluded unit is a unit of it and holds no scaled event, the workloads exist.
void check_spec(const Spec& spec, const Setup& setup, const EnergyTable& table,
                const Json& table_json) {
  std::set<std::string> units = {"mac_array", "log_grad"};
  for (const auto& [event, entry] : table_json.at("events").items()) {
    (void)entry;
    const std::string prefix = event.substr(0, event.find('.'));
    if (prefix != "mac") units.insert(prefix);
  }
  if (table_json.contains("leakage")) {
    for (const auto& [unit, entry] : table_json["leakage"].items()) {
      (void)entry;
      units.insert(unit);
    }
  }
  for (std::size_t i = 0; i < spec.exclude_units.size(); ++i) {
    if (units.count(spec.exclude_units[i]) == 0) {
      throw InputError(spec.file + ": .exclude_units[" + std::to_string(i) + "]: unknown unit \"" +
                       spec.exclude_units[i] + "\" (the units of " + setup.table + ": " +
                       joined(std::vector<std::string>(units.begin(), units.end()), ", ") + ")");
    }
  }
  std::map<std::string, std::string> scaled_by;  // event -> the point that scales it
  for (const Point& p : spec.points) {
    for (std::size_t k = 0; k < p.scale.size(); ++k) {
      const std::string& event = p.scale[k];
      const std::string where = spec.file + ": " + p.where + ".scale[" + std::to_string(k) + "]";
      if (!table.has(event)) {
        throw InputError(where + ": event \"" + event + "\" is not in the energy table " +
                         setup.table);
      }
      const auto [it, fresh] = scaled_by.emplace(event, p.name);
      if (!fresh) {
        throw InputError(where + ": event \"" + event + "\" is already scaled by point \"" +
                         it->second + "\" (the points' scale groups must be disjoint)");
      }
      for (const std::string& unit : units_charged(event)) {
        if (std::find(spec.exclude_units.begin(), spec.exclude_units.end(), unit) !=
            spec.exclude_units.end()) {
          throw InputError(where + ": event \"" + event + "\" is charged to unit \"" + unit +
                           "\", which exclude_units leaves out of the measured energy: a scaled "
                           "event must be counted");
        }
      }
    }
    const std::string workload = relative_to_file(spec.file, p.workload);
    if (!fs::is_regular_file(workload)) {
      throw InputError(spec.file + ": " + p.where + ".workload: no such file \"" + workload +
                       "\" (a relative path is relative to the spec file)");
    }
  }
}

// ---- the runs ----

std::vector<std::string> run_args(const Setup& setup, const std::string& workload,
                                  const fs::path& out_dir) {
  std::vector<std::string> args = {"nibble",     "run",        "--config",
                                   setup.config, "--workload", workload};
  for (const std::string& set : setup.sets) {
    args.push_back("--set");
    args.push_back(set);
  }
  args.push_back("--out");
  args.push_back(out_dir.string());
  args.push_back("--quiet");
  return args;
}

// Runs every point at once; returns 0, or the status to exit with (the failure printed).
int run_points(const Spec& spec, const Setup& setup, const fs::path& staging) {
  const std::size_t n = spec.points.size();
  std::vector<int> status(n, 0);
  {
    IgnoreInterrupts ignore;
    std::vector<pid_t> pids;
    for (const Point& p : spec.points) {
      try {
        pids.push_back(spawn_self(
            run_args(setup, relative_to_file(spec.file, p.workload), staging / "points" / p.name),
            staging / (p.name + ".stderr"), "calibrate: the run of point \"" + p.name + "\""));
      } catch (...) {
        for (const pid_t pid : pids) {  // none may go on writing into the staging folder
          kill(pid, SIGTERM);
          wait_child(pid);
        }
        throw;
      }
    }
    for (std::size_t i = 0; i < n; ++i) status[i] = wait_child(pids[i]);
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (status[i] != 0) continue;
    std::ifstream err(staging / (spec.points[i].name + ".stderr"), std::ios::binary);
    if (err.peek() != std::char_traits<char>::eof()) std::cerr << err.rdbuf();  // warnings
  }
  if (std::find(status.begin(), status.end(), 130) != status.end()) {
    std::cerr << "nibble: calibrate: interrupted; nothing written\n";
    return 130;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (status[i] == 0) continue;
    std::string line = first_error_line(staging / (spec.points[i].name + ".stderr"));
    // The run names the assignment as it was given to it; the user gave it in the spec.
    if (line.rfind("--set ", 0) == 0) line = spec.file + ": .set: " + line.substr(6);
    if (line.empty()) {
      line = status[i] > 128 ? "killed by signal " + std::to_string(status[i] - 128)
                             : "exited with status " + std::to_string(status[i]);
    }
    std::cerr << "nibble: error: calibrate: point \"" << spec.points[i].name << "\": " << line
              << '\n';
    return status[i];
  }
  return 0;
}

// ---- the fit ----

// What the fit needs of one point's report.
struct Measured {
  uint64_t macs = 0;
  double total = 0;     // energy_pj.total
  double excluded = 0;  // the excluded units' dynamic and leakage energy
  std::map<std::string, double> excluded_by_unit;
  std::vector<double> group;                // G[i][g]: pJ of group g's events in this run
  std::map<std::string, double> scaled_pj;  // every scaled event's pJ in this run
  double counted() const { return total - excluded; }
  double scaled() const {
    double s = 0;
    for (const double g : group) s += g;
    return s;
  }
  double fixed() const { return counted() - scaled(); }  // F[i]
};

double member_or_zero(const Json& object, const std::string& key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_number()) return 0;
  return object[key].get<double>();
}

Measured read_point(const Spec& spec, std::size_t i, const fs::path& report_file) {
  std::ifstream in(report_file, std::ios::binary);
  if (!in) throw std::runtime_error(report_file.string() + ": the run wrote no report");
  const Json report = Json::parse(in);
  const Json& energy = report.at("energy_pj");
  const Json leakage =
      energy.contains("leakage") ? energy["leakage"].value("by_unit", Json::object()) : Json();
  Measured m;
  m.macs = report.at("macs").get<uint64_t>();
  m.total = energy.at("total").get<double>();
  for (const std::string& unit : spec.exclude_units) {
    const double pj = member_or_zero(energy.at("by_unit"), unit) + member_or_zero(leakage, unit);
    m.excluded_by_unit[unit] = pj;
    m.excluded += pj;
  }
  const Json& by_event = energy.at("by_event");
  for (const Point& p : spec.points) {
    double g = 0;
    for (const std::string& event : p.scale) {
      const double pj = member_or_zero(by_event, event);
      m.scaled_pj[event] = pj;
      g += pj;
    }
    m.group.push_back(g);
  }
  const Point& p = spec.points[i];
  if (m.macs == 0) {
    throw InputError(spec.file + ": " + p.where + ".workload: \"" + p.workload +
                     "\" does no MACs, so it has no TOPS/W to fit");
  }
  if (m.fixed() < -1e-9 * std::abs(m.total)) {
    throw InputError("calibrate: point \"" + p.name + "\": the excluded units' energy (" +
                     num(m.excluded) + " pJ) and the scaled events' (" + num(m.scaled()) +
                     " pJ) exceed the total (" + num(m.total) +
                     " pJ): an excluded unit holds scaled events");
  }
  return m;
}

// Solves a·x = b (square, Gaussian elimination with partial pivoting); false when singular.
bool solve(std::vector<std::vector<double>> a, std::vector<double> b, std::vector<double>& x) {
  const std::size_t n = b.size();
  double largest = 0;
  for (const auto& row : a) {
    for (const double v : row) largest = std::max(largest, std::abs(v));
  }
  for (std::size_t col = 0; col < n; ++col) {
    std::size_t pivot = col;
    for (std::size_t r = col + 1; r < n; ++r) {
      if (std::abs(a[r][col]) > std::abs(a[pivot][col])) pivot = r;
    }
    if (!(std::abs(a[pivot][col]) > 1e-12 * largest)) return false;
    std::swap(a[pivot], a[col]);
    std::swap(b[pivot], b[col]);
    for (std::size_t r = col + 1; r < n; ++r) {
      const double f = a[r][col] / a[col][col];
      if (f == 0) continue;
      for (std::size_t c = col; c < n; ++c) a[r][c] -= f * a[col][c];
      b[r] -= f * b[col];
    }
  }
  x.assign(n, 0);
  for (std::size_t r = n; r-- > 0;) {
    double v = b[r];
    for (std::size_t c = r + 1; c < n; ++c) v -= a[r][c] * x[c];
    x[r] = v / a[r][r];
  }
  return true;
}

double target_pj(const Point& p, const Measured& m) {
  return 2.0 * static_cast<double>(m.macs) / p.measured;
}

// The factors, one per point (per scale group); InputError when no positive solution exists.
std::vector<double> fit(const Spec& spec, const std::vector<Measured>& runs) {
  const std::size_t n = spec.points.size();
  std::vector<std::vector<double>> a(n, std::vector<double>(n, 0));
  std::vector<double> b(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t g = 0; g < n; ++g) a[i][g] = runs[i].group[g];
    b[i] = target_pj(spec.points[i], runs[i]) - runs[i].fixed();
  }
  for (std::size_t g = 0; g < n; ++g) {
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) any = any || a[i][g] != 0;
    if (!any) {
      const Point& p = spec.points[g];
      throw InputError("calibrate: point \"" + p.name + "\": its scale events (" +
                       joined(p.scale, ", ") +
                       ") have no energy in any point's run, so no factor can be fitted (does "
                       "its workload use them?)");
    }
  }
  std::vector<double> s;
  if (!solve(a, b, s)) {
    throw InputError(
        "calibrate: the fit is singular: the points' scaled energies are linearly "
        "dependent (two points measure the same mix of scaled events), so the factors "
        "have no unique solution");
  }
  for (std::size_t g = 0; g < n; ++g) {
    if (s[g] > 0 && std::isfinite(s[g])) continue;
    const Point& p = spec.points[g];
    const Measured& m = runs[g];
    const double target = target_pj(p, m);
    const double ops = 2.0 * static_cast<double>(m.macs);
    if (m.fixed() >= target) {
      throw InputError("calibrate: point \"" + p.name + "\": the energy it does not scale, " +
                       num(m.fixed()) + " pJ (" + num(ops / m.fixed()) +
                       " TOPS/W without the scaled events), already exceeds the target 2 x " +
                       std::to_string(m.macs) + " MACs / " + num(p.measured) +
                       " TOPS/W = " + num(target) +
                       " pJ: no positive factor fits (scale more events, or exclude units the "
                       "measurement leaves out)");
    }
    throw InputError("calibrate: point \"" + p.name + "\": the fit gives its factor " + num(s[g]) +
                     " (not > 0): the measured figures cannot all be met with positive factors "
                     "of these scale groups");
  }
  return s;
}

// ---- the outputs ----

// The table with the points' events scaled, renamed and described.
Json calibrated_table(Json table, const Spec& spec, const std::vector<double>& s) {
  std::vector<std::string> parts;
  for (std::size_t g = 0; g < spec.points.size(); ++g) {
    const Point& p = spec.points[g];
    const std::string note = "calibrated × " + num(s[g]) + " by nibble calibrate to " +
                             num(p.measured) + " TOPS/W on point " + p.name + " (" + p.source + ")";
    for (const std::string& event : p.scale) {
      Json& e = table["events"][event];
      e["pj"] = e["pj"].get<double>() * s[g];
      const std::string d = e.contains("derivation") ? e["derivation"].get<std::string>() : "";
      e["derivation"] = d.empty() ? note : d + "; " + note;
    }
    parts.push_back(joined(p.scale, ", ") + " × " + num(s[g]) + " (point " + p.name + ", " +
                    num(p.measured) + " TOPS/W)");
  }
  const std::string name = table.contains("name") ? table["name"].get<std::string>() : "table";
  table["name"] = name + "-calibrated";
  std::string note =
      "Calibrated by nibble calibrate from " + spec.file + ": " + joined(parts, "; ");
  if (!spec.exclude_units.empty()) {
    note += "; excluding units " + joined(spec.exclude_units, ", ");
  }
  note += ".";
  const std::string d =
      table.contains("description") ? table["description"].get<std::string>() : "";
  table["description"] = d.empty() ? note : d + " " + note;
  return table;
}

Json calibration_json(const Spec& spec, const Setup& setup, const std::string& table_name,
                      const std::string& out_table, const std::string& out_name,
                      const std::vector<Measured>& runs, const std::vector<double>& s) {
  Json c;
  c["nibble_version"] = kNibbleVersion;
  c["spec"] = spec.file;
  c["description"] = spec.description;
  c["config"] = setup.config;
  c["set"] = setup.sets;
  c["exclude_units"] = spec.exclude_units;
  c["table"] = {{"file", setup.table}, {"name", table_name}};
  c["calibrated_table"] = {{"file", out_table}, {"name", out_name}};
  c["points"] = Json::array();
  for (std::size_t i = 0; i < spec.points.size(); ++i) {
    const Point& p = spec.points[i];
    const Measured& m = runs[i];
    const double ops = 2.0 * static_cast<double>(m.macs);
    double after = m.fixed();
    Json groups = Json::object();
    for (std::size_t g = 0; g < spec.points.size(); ++g) {
      after += s[g] * m.group[g];
      groups[spec.points[g].name] = m.group[g];
    }
    Json events = Json::object();
    for (const std::string& e : p.scale) events[e] = m.scaled_pj.at(e);
    Json excluded = Json::object();
    for (const auto& [unit, pj] : m.excluded_by_unit) excluded[unit] = pj;
    Json j;
    j["name"] = p.name;
    j["workload"] = relative_to_file(spec.file, p.workload);
    j["report"] = "points/" + p.name + "/report.json";
    j["source"] = p.source;
    j["scale"] = p.scale;
    j["factor"] = s[i];
    j["macs"] = m.macs;
    j["ops"] = ops;
    j["measured_tops_per_w"] = p.measured;
    j["tops_per_w_before"] = ops / m.counted();
    j["tops_per_w_after"] = ops / after;
    j["energy_pj"] = {{"total", m.total},
                      {"excluded", m.excluded},
                      {"excluded_by_unit", excluded},
                      {"counted", m.counted()},
                      {"fixed", m.fixed()},
                      {"scaled", m.scaled()},
                      {"scaled_by_point", groups},
                      {"scaled_events", events},
                      {"target", target_pj(p, m)},
                      {"after", after}};
    c["points"].push_back(j);
  }
  return c;
}

std::string pad(const std::string& s, std::size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

std::string sig4(double v) {
  std::ostringstream out;
  out << std::setprecision(4) << v;
  return out.str();
}

void print_calibration(std::ostream& out, const Json& c, const std::string& dir) {
  out << "nibble calibrate: " << c["spec"].get<std::string>() << " on "
      << c["config"].get<std::string>() << " (" << c["table"]["name"].get<std::string>();
  if (!c["exclude_units"].empty()) {
    out << ", without " << joined(c["exclude_units"].get<std::vector<std::string>>(), ", ");
  }
  out << ")\n";
  std::size_t width = 7;
  for (const Json& p : c["points"])
    width = std::max(width, p["name"].get<std::string>().size() + 2);
  out << "  " << pad("point", width) << pad("TOPS/W measured", 17) << pad("before", 10)
      << pad("after", 10) << pad("factor", 10) << "scales\n";
  for (const Json& p : c["points"]) {
    out << "  " << pad(p["name"].get<std::string>(), width)
        << pad(sig4(p["measured_tops_per_w"].get<double>()), 17)
        << pad(sig4(p["tops_per_w_before"].get<double>()), 10)
        << pad(sig4(p["tops_per_w_after"].get<double>()), 10)
        << pad(sig4(p["factor"].get<double>()), 10)
        << joined(p["scale"].get<std::vector<std::string>>(), " ") << '\n';
  }
  out << "  table        " << c["calibrated_table"]["file"].get<std::string>() << " ("
      << c["calibrated_table"]["name"].get<std::string>() << ")\n";
  out << "  calibration  " << (fs::path(dir) / "calibration.json").string() << '\n';
}

}  // namespace

int calibrate_command(int argc, char* argv[]) {
  std::string spec_file, table_out, out_dir;
  bool quiet = false;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "output,o", po::value(&table_out)->value_name("TABLE.json"),
      "the calibrated energy table to write")("out", po::value(&out_dir)->value_name("DIR"),
                                              "output directory of the runs and calibration.json")(
      "quiet,q", po::bool_switch(&quiet), "print nothing but errors");
  po::options_description hidden;
  hidden.add_options()("spec", po::value(&spec_file));
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add("spec", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError(std::string("calibrate: ") + e.what() + " (try 'nibble calibrate --help')");
  }
  if (vm.count("help")) {
    std::cout << kCalibrateUsage << options;
    return 0;
  }
  if (spec_file.empty())
    throw InputError("calibrate: SPEC.json (the calibration spec) is required");
  if (table_out.empty()) throw InputError("calibrate: -o TABLE.json is required");
  if (out_dir.empty()) out_dir = "nibble-out/calibrate-" + stem(spec_file);

  // Read and check every input before running or writing anything.
  const Spec spec = read_spec(spec_file);
  const Setup setup = resolve_setup(spec);
  const EnergyTable table = EnergyTable::load(setup.table);
  Json table_json;
  {
    std::ifstream in(setup.table, std::ios::binary);
    table_json = Json::parse(in);  // EnergyTable::load has checked it
  }
  check_spec(spec, setup, table, table_json);
  const fs::path table_path(table_out);
  if (table_path.filename().empty()) {
    throw InputError("calibrate: -o " + table_out + ": expected a file name");
  }
  const fs::path table_dir = table_path.parent_path().empty() ? "." : table_path.parent_path();
  if (!fs::is_directory(table_dir)) {
    throw InputError("calibrate: -o " + table_out + ": no such directory \"" + table_dir.string() +
                     "\"");
  }
  std::error_code same_ec;
  if (fs::exists(table_path) && fs::equivalent(table_path, setup.table, same_ec) && !same_ec) {
    throw InputError("calibrate: -o " + table_out + ": is the table being calibrated (" +
                     setup.table + "); write the calibrated table to another file");
  }

  const fs::path dir(out_dir);
  Staging staging(dir, kStagingName, "points");
  if (const int status = run_points(spec, setup, staging.path()); status != 0) return status;
  std::vector<Measured> runs;
  for (std::size_t i = 0; i < spec.points.size(); ++i) {
    runs.push_back(
        read_point(spec, i, staging.path() / "points" / spec.points[i].name / "report.json"));
  }
  const std::vector<double> factors = fit(spec, runs);
  const Json calibrated = calibrated_table(table_json, spec, factors);
  const Json c = calibration_json(spec, setup, table.name(), table_out,
                                  calibrated["name"].get<std::string>(), runs, factors);

  // Into place: the table's temporary first (a full disk fails before anything moves), then the
  // runs, calibration.json, and the table last.
  const fs::path table_tmp = write_temporary(table_path, calibrated.dump(2) + "\n");
  try {
    std::error_code ec;
    fs::remove(dir / "calibration.json", ec);
    fs::remove_all(dir / "points", ec);
    fs::rename(staging.path() / "points", dir / "points", ec);
    if (ec) throw InputError((dir / "points").string() + ": cannot write (" + ec.message() + ")");
    staging.keep();
    rename_into_place(write_temporary(dir / "calibration.json", c.dump(2) + "\n"),
                      dir / "calibration.json");
  } catch (...) {
    std::error_code ec;
    fs::remove(table_tmp, ec);
    throw;
  }
  rename_into_place(table_tmp, table_path);
  if (!quiet) print_calibration(std::cout, c, out_dir);
  return 0;
}

}  // namespace nibble
