// `nibble sweep`: a parameter sweep over configs and workloads, and `nibble sweep merge`.
//
// A sweep spec (strict JSON, sim/app/sweep.md) expands into a deterministic, ordered list of
// points (workloads x grid x zip, filtered), each with a stable id: its index and an FNV-1a hash
// of its workload and assignments. `nibble sweep SPEC --out DIR` writes DIR/points.json and runs
// its share of the points (k mod n == i) as `nibble run` child processes, up to --jobs at once;
// each finished point gets DIR/runs/<id>/result.json, written atomically, so a rerun skips the
// points that are done. `nibble sweep merge DIR` gathers the results into results.csv and
// results.jsonl.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
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
#include <thread>
#include <utility>
#include <vector>

#include <boost/program_options.hpp>

#include "sim/app/child_run.h"
#include "sim/app/commands.h"
#include "sim/app/trace_generation.h"
#include "sim/atomic_file.h"
#include "sim/config.h"
#include "sim/error.h"
#include "sim/stats.h"
#include "sim/strict_object.h"

namespace nibble {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

const char* const kSweepUsage =
    "usage: nibble sweep SPEC.json --out DIR [--jobs N] [--shard-index I --shard-count N] "
    "[--quiet]\n"
    "       nibble sweep SPEC.json --out DIR --point ID\n"
    "       nibble sweep SPEC.json --out DIR --emit-slurm FILE [--shard-count N] [--jobs J]\n"
    "                    [--array-limit M] [--sbatch OPTION]...\n"
    "       nibble sweep SPEC.json --out DIR --emit-joblist FILE [--shard-index I --shard-count "
    "N]\n"
    "       nibble sweep merge DIR [--check]\n"
    "\n"
    "Expands the sweep spec (workloads or generated traces x grid x zip, filtered; see\n"
    "sim/app/sweep.md) into an ordered list of points, writes it to DIR/points.json and runs the\n"
    "points of this shard (point k where k mod N == I; in a Slurm job array I and N default to\n"
    "the task's place, ($SLURM_ARRAY_TASK_ID - _MIN) / _STEP of _COUNT, else 0 and 1) as\n"
    "`nibble run` processes, up to --jobs at once. Each finished point gets\n"
    "DIR/runs/<id>/result.json; a rerun skips the points whose result is ok. --emit-slurm\n"
    "writes an sbatch job-array script whose task i runs shard i; --emit-joblist writes one\n"
    "`--point ID` command per point, for `parallel --joblog F --resume`. Neither runs anything;\n"
    "both write DIR/points.json. `merge` gathers DIR/runs/*/result.json into DIR/results.csv\n"
    "and DIR/results.jsonl.\n"
    "Exit status: 0 all points ok; 1 some failed (merge --check: some failed or missing);\n"
    "2 bad input (nothing written); 130 interrupted.\n"
    "\n";

const char* const kPointsFormat = "nibble-sweep-points";

// ---- the spec ----

struct Filter {
  std::string text;  // as written
  std::string lhs, op, rhs_key;
  double rhs_number = 0;
};

// The options of `nibble trace` a spec's `trace` object (and `trace.*` axes) may give.
const char* const kTraceKeys[] = {"network", "graph",   "batch",   "recipe",
                                  "input",   "seq_len", "classes", "first_last"};
constexpr const char* kTracePrefix = "trace.";
// The axis whose values are config files (each point runs its own).
constexpr const char* kConfigKey = "config";

bool is_trace_key(const std::string& key) { return key.rfind(kTracePrefix, 0) == 0; }

struct Spec {
  std::string file, description, config;  // config: resolved (relative to the working directory)
  std::vector<std::string> sets, workloads, metrics;
  std::vector<std::string> workload_paths;  // resolved
  Json trace;                               // the `trace` object, or null (then `workloads`)
  std::vector<std::pair<std::string, std::vector<Json>>> grid, zip;
  std::vector<Filter> filters;
};

// A path of the spec, relative to the spec file unless absolute.
std::string relative_to_file(const std::string& file, const std::string& path) {
  if (fs::path(path).is_absolute()) return path;
  return (fs::path(file).parent_path() / path).lexically_normal().string();
}

// A `trace` option's value as `nibble trace` reads it: a string as written, an integer in digits.
std::string trace_option_text(const std::string& file, const std::string& where, const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_unsigned() || v.is_number_integer()) return v.dump();
  throw InputError(file + ": " + where + ": expected a string or an integer, found " +
                   describe_json(v));
}

// `"key": [values]` of the grid or the zip: each a non-empty array of scalars.
std::vector<std::pair<std::string, std::vector<Json>>> value_lists(StrictObject& top,
                                                                   const std::string& file,
                                                                   const std::string& name,
                                                                   bool unique) {
  std::vector<std::pair<std::string, std::vector<Json>>> out;
  const Json* j = top.find(name);
  if (j == nullptr) return out;
  if (!j->is_object()) top.fail(name, "an object {\"dotted.key\": [values]}", *j);
  for (auto it = j->begin(); it != j->end(); ++it) {
    const std::string where = top.where(name) + "." + it.key();
    const Json& list = it.value();
    if (!list.is_array() || list.empty()) {
      throw InputError(file + ": " + where +
                       ": expected a non-empty array of numbers, strings or booleans, found " +
                       describe_json(list));
    }
    std::vector<Json> values;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Json& v = list[i];
      if (!v.is_number() && !v.is_string() && !v.is_boolean()) {
        throw InputError(file + ": " + where + "[" + std::to_string(i) +
                         "]: expected a number, a string or a boolean, found " + describe_json(v));
      }
      if (unique) {
        for (const Json& seen : values) {
          if (seen == v) {
            throw InputError(file + ": " + where + "[" + std::to_string(i) + "]: " + v.dump() +
                             " is listed twice");
          }
        }
      }
      values.push_back(v);
    }
    out.emplace_back(it.key(), std::move(values));
  }
  return out;
}

bool parse_number(const std::string& text, double* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno != 0 || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

const std::vector<Json>* values_of(const Spec& spec, const std::string& key) {
  for (const auto& [k, v] : spec.grid) {
    if (k == key) return &v;
  }
  for (const auto& [k, v] : spec.zip) {
    if (k == key) return &v;
  }
  return nullptr;
}

Filter parse_filter(const Spec& spec, const std::string& where, const std::string& text) {
  const std::string expected =
      "\"<key> <op> <number or key>\" with a key of the grid or the zip and op one of < <= > >= "
      "== !=";
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  static const char* const kOps[] = {"<", "<=", ">", ">=", "==", "!="};
  bool op_ok = false;
  if (words.size() == 3) {
    for (const char* op : kOps) op_ok = op_ok || words[1] == op;
  }
  if (!op_ok) {
    throw InputError(spec.file + ": " + where + ": expected " + expected + ", found " +
                     Json(text).dump());
  }
  Filter f;
  f.text = text;
  f.lhs = words[0];
  f.op = words[1];
  const auto check_key = [&](const std::string& key) {
    const std::vector<Json>* values = values_of(spec, key);
    if (values == nullptr) {
      throw InputError(spec.file + ": " + where + ": \"" + key +
                       "\" is not a key of the grid or the zip (expected " + expected + ", found " +
                       Json(text).dump() + ")");
    }
    for (const Json& v : *values) {
      if (!v.is_number()) {
        throw InputError(spec.file + ": " + where + ": \"" + key + "\" takes a non-numeric value " +
                         v.dump() + "; a filter compares numbers");
      }
    }
  };
  check_key(f.lhs);
  if (!parse_number(words[2], &f.rhs_number)) {
    f.rhs_key = words[2];
    check_key(f.rhs_key);
  }
  return f;
}

Spec read_spec(const std::string& file) {
  const Json root = read_json_object(file, "the sweep spec");
  Spec spec;
  spec.file = file;
  StrictObject top(file, root, "");
  top.require_format("nibble-sweep", "sweep spec");
  if (const Json* d = top.find("description")) {
    if (!d->is_string()) top.fail("description", "a string", *d);
    spec.description = d->get<std::string>();
  }
  std::string config;
  if (const Json* c = top.find("config")) {
    if (!c->is_string() || c->get<std::string>().empty()) top.fail("config", "a config file", *c);
    config = c->get<std::string>();
  }
  spec.sets = top.strings("set", false, false);
  if (const Json* t = top.find("trace")) {
    if (top.find("workloads") != nullptr) {
      throw InputError(file +
                       ": .trace: give \"workloads\" (trace files) or \"trace\" (traces "
                       "that the sweep generates), not both");
    }
    const std::string expected =
        "an object of `nibble trace` options (network, graph, batch, recipe, input, seq_len, "
        "classes, first_last)";
    if (!t->is_object()) top.fail("trace", expected, *t);
    for (auto it = t->begin(); it != t->end(); ++it) {
      bool known = false;
      for (const char* k : kTraceKeys) known = known || it.key() == k;
      if (!known) {
        throw InputError(file + ": .trace." + it.key() +
                         ": unknown key (expected one of network, " +
                         "graph, batch, recipe, input, seq_len, classes, first_last)");
      }
      trace_option_text(file, ".trace." + it.key(), it.value());
    }
    spec.trace = *t;
  } else {
    spec.workloads = top.strings("workloads", true, false);
  }
  spec.grid = value_lists(top, file, "grid", true);
  spec.zip = value_lists(top, file, "zip", false);
  const std::vector<std::string> filters = top.strings("filter", false, false);
  spec.metrics = top.strings("metrics", true, false);
  top.finish();

  // The zip's lists go together; a key is varied once.
  for (const auto& [key, values] : spec.zip) {
    if (values.size() != spec.zip.front().second.size()) {
      throw InputError(file + ": .zip." + key + ": expected " +
                       std::to_string(spec.zip.front().second.size()) + " values (as .zip." +
                       spec.zip.front().first + " has), found " + std::to_string(values.size()));
    }
    if (values_of(spec, key) != &values) {
      throw InputError(file + ": .zip." + key + ": the key is already varied by .grid");
    }
  }
  for (std::size_t i = 0; i < spec.metrics.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (spec.metrics[i] == spec.metrics[j]) {
        throw InputError(file + ": .metrics[" + std::to_string(i) + "]: \"" + spec.metrics[i] +
                         "\" is listed twice");
      }
    }
  }
  for (std::size_t i = 0; i < filters.size(); ++i) {
    spec.filters.push_back(parse_filter(spec, ".filter[" + std::to_string(i) + "]", filters[i]));
  }

  // The config files: the base, or the values of a `config` axis.
  const std::vector<Json>* config_axis = values_of(spec, kConfigKey);
  if (config.empty() == (config_axis == nullptr)) {
    throw InputError(file + (config.empty() ? ": (top): expected \"config\" (the base config "
                                              "file) or a \"config\" key in .grid or .zip"
                                            : ": .config: give the base config or a \"config\" "
                                              "axis in .grid or .zip, not both"));
  }
  std::vector<std::pair<std::string, std::string>> configs;  // (where, resolved path)
  if (config_axis == nullptr) {
    spec.config = relative_to_file(file, config);
    configs.emplace_back(".config", spec.config);
  } else {
    bool in_zip = false;
    for (const auto& kv : spec.zip) in_zip = in_zip || kv.first == kConfigKey;
    const std::string where = std::string(in_zip ? ".zip." : ".grid.") + kConfigKey;
    for (std::size_t i = 0; i < config_axis->size(); ++i) {
      const Json& v = (*config_axis)[i];
      const std::string at = where + "[" + std::to_string(i) + "]";
      if (!v.is_string()) {
        throw InputError(file + ": " + at + ": expected a config file, found " + describe_json(v));
      }
      configs.emplace_back(at, relative_to_file(file, v.get<std::string>()));
    }
  }
  for (const auto& [where, path] : configs) {
    if (!fs::is_regular_file(path)) {
      throw InputError(file + ": " + where + ": no such file \"" + path +
                       "\" (a relative path is relative to the spec file)");
    }
  }
  // Every set and the first value of every key, against every config.
  for (const auto& [config_where, config_path] : configs) {
    ConfigDoc doc = ConfigDoc::load(config_path);
    const std::string against = configs.size() > 1 ? " (with " + config_where + ")" : "";
    for (std::size_t i = 0; i < spec.sets.size(); ++i) {
      try {
        doc.apply_set(spec.sets[i]);
      } catch (const InputError& e) {
        throw InputError(file + ": .set[" + std::to_string(i) + "]" + against + ": " + e.what());
      }
    }
    for (const auto* lists : {&spec.grid, &spec.zip}) {
      for (const auto& [key, values] : *lists) {
        const std::string where =
            std::string(".") + (lists == &spec.grid ? "grid" : "zip") + "." + key;
        if (is_trace_key(key)) {
          const std::string option = key.substr(std::strlen(kTracePrefix));
          bool known = false;
          for (const char* k : kTraceKeys) known = known || option == k;
          if (spec.trace.is_null() || !known) {
            throw InputError(file + ": " + where +
                             (spec.trace.is_null()
                                  ? ": a trace.* key varies the generated traces, and the spec has "
                                    "no \"trace\" object"
                                  : ": unknown trace option (expected trace. followed by one of "
                                    "network, graph, batch, recipe, input, seq_len, classes, "
                                    "first_last)"));
          }
          for (std::size_t i = 0; i < values.size(); ++i) {
            trace_option_text(file, where + "[" + std::to_string(i) + "]", values[i]);
          }
          continue;
        }
        if (key == kConfigKey) continue;  // checked above
        try {
          doc.apply_set(key + "=" + values.front().dump());
        } catch (const InputError& e) {
          throw InputError(file + ": " + where + against + ": " + e.what());
        }
      }
    }
  }
  for (std::size_t i = 0; i < spec.workloads.size(); ++i) {
    const std::string path = relative_to_file(file, spec.workloads[i]);
    if (!fs::is_regular_file(path)) {
      throw InputError(file + ": .workloads[" + std::to_string(i) + "]: no such file \"" + path +
                       "\" (a relative path is relative to the spec file)");
    }
    spec.workload_paths.push_back(path);
  }
  return spec;
}

// ---- the points ----

struct Point {
  std::string id;
  std::size_t workload = 0;                               // index into the spec's workloads
  std::vector<std::pair<std::string, Json>> assignments;  // grid keys, then zip keys
  std::string trace_file;  // a generated trace: its file under DIR/traces/ (else empty)
};

// The workload of a point as points.json and the results show it.
std::string workload_label(const Spec& spec, const Point& p) {
  return p.trace_file.empty() ? spec.workloads[p.workload] : "traces/" + p.trace_file;
}

// The `nibble trace` request of a point of a spec with a `trace` object: the object, then the
// point's trace.* assignments; a graph's relative path is relative to the spec file.
TraceRequest trace_request(const Spec& spec, const Point& p) {
  TraceRequest r;
  const auto set = [&](const std::string& option, const std::string& text) {
    if (option == "network") r.network = text;
    if (option == "graph") r.graph = relative_to_file(spec.file, text);
    if (option == "batch") r.batch = text;
    if (option == "recipe") r.recipe = text;
    if (option == "input") r.input = text;
    if (option == "seq_len") r.seq_len = text;
    if (option == "classes") r.classes = text;
    if (option == "first_last") r.first_last = text;
  };
  for (auto it = spec.trace.begin(); it != spec.trace.end(); ++it) {
    set(it.key(), trace_option_text(spec.file, ".trace." + it.key(), it.value()));
  }
  for (const auto& [key, value] : p.assignments) {
    if (is_trace_key(key)) {
      set(key.substr(std::strlen(kTracePrefix)), trace_option_text(spec.file, key, value));
    }
  }
  return r;
}

std::string request_text(const TraceRequest& r) {
  return "network=" + r.network + "\ngraph=" + r.graph + "\nbatch=" + r.batch +
         "\nrecipe=" + r.recipe + "\ninput=" + r.input + "\nseq_len=" + r.seq_len +
         "\nclasses=" + r.classes + "\nfirst_last=" + r.first_last + "\n";
}

uint64_t fnv1a64(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string assignment_text(const std::pair<std::string, Json>& a) {
  return a.first + "=" + a.second.dump();
}

// The config file a point runs: its value of the config axis, or the base.
std::string config_of(const Spec& spec, const Point& p) {
  for (const auto& [key, value] : p.assignments) {
    if (key == kConfigKey) return relative_to_file(spec.file, value.get<std::string>());
  }
  return spec.config;
}

// An assignment as the runs get it. A relative `energy.table` means what it would in the config
// file (relative to the config file, as `nibble calibrate` reads it too), whatever the working
// directory; `nibble run --set` reads a relative path from the working directory, so the runs
// get it resolved. Everything else goes as written.
std::string for_the_run(const std::string& config, const std::string& assignment) {
  const std::string key = "energy.table=";
  if (assignment.rfind(key, 0) != 0) return assignment;
  const std::string text = assignment.substr(key.size());
  std::string path = text;
  try {
    const Json v = Json::parse(text);
    if (!v.is_string()) return assignment;  // refused by the run, as written
    path = v.get<std::string>();
  } catch (const Json::parse_error&) {
  }
  if (path.empty() || fs::path(path).is_absolute()) return assignment;
  return key + Json((fs::path(config).parent_path() / path).lexically_normal().string()).dump();
}

bool holds(const Filter& f, const std::vector<std::pair<std::string, Json>>& assignments) {
  const auto value = [&](const std::string& key) {
    for (const auto& [k, v] : assignments) {
      if (k == key) return v.get<double>();
    }
    return 0.0;  // unreachable: the filter's keys are checked
  };
  const double a = value(f.lhs);
  const double b = f.rhs_key.empty() ? f.rhs_number : value(f.rhs_key);
  if (f.op == "<") return a < b;
  if (f.op == "<=") return a <= b;
  if (f.op == ">") return a > b;
  if (f.op == ">=") return a >= b;
  if (f.op == "==") return a == b;
  return a != b;
}

// Workloads x grid (last key fastest) x zip, filtered, in that order.
// A spec with a `trace` object has one workload, the generated trace of each point.
std::vector<Point> expand(const Spec& spec) {
  std::vector<Point> points;
  std::size_t grid_count = 1;
  for (const auto& g : spec.grid) grid_count *= g.second.size();
  const std::size_t zip_count = spec.zip.empty() ? 1 : spec.zip.front().second.size();
  const std::size_t workload_count = spec.trace.is_null() ? spec.workloads.size() : 1;
  for (std::size_t w = 0; w < workload_count; ++w) {
    for (std::size_t gi = 0; gi < grid_count; ++gi) {
      for (std::size_t zi = 0; zi < zip_count; ++zi) {
        Point p;
        p.workload = w;
        std::vector<std::size_t> digits(spec.grid.size());
        std::size_t rest = gi;
        for (std::size_t k = spec.grid.size(); k-- > 0;) {
          digits[k] = rest % spec.grid[k].second.size();
          rest /= spec.grid[k].second.size();
        }
        for (std::size_t k = 0; k < spec.grid.size(); ++k) {
          p.assignments.emplace_back(spec.grid[k].first, spec.grid[k].second[digits[k]]);
        }
        for (const auto& [key, values] : spec.zip) p.assignments.emplace_back(key, values[zi]);
        bool keep = true;
        for (const Filter& f : spec.filters) keep = keep && holds(f, p.assignments);
        if (keep) points.push_back(std::move(p));
      }
    }
  }
  const std::size_t width = std::max<std::size_t>(4, std::to_string(points.size()).size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (!spec.trace.is_null()) {
      // Named for what it is, and a hash of the whole request.
      const TraceRequest r = trace_request(spec, points[i]);
      std::string name = (r.network.empty() ? fs::path(r.graph).stem().string() : r.network) +
                         (r.batch.empty() ? "" : "-b" + r.batch) + "-" + r.recipe;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
          c = '_';
      }
      char hash[9];
      std::snprintf(hash, sizeof hash, "%08llx",
                    static_cast<unsigned long long>(fnv1a64(request_text(r)) & 0xffffffffULL));
      points[i].trace_file = name + "-" + hash + ".json";
    }
    std::string canonical =
        "workload=" +
        (spec.trace.is_null() ? spec.workloads[points[i].workload] : "trace " + spec.trace.dump()) +
        "\n";
    for (const auto& a : points[i].assignments) canonical += assignment_text(a) + "\n";
    char hash[9];
    std::snprintf(hash, sizeof hash, "%08llx",
                  static_cast<unsigned long long>(fnv1a64(canonical) & 0xffffffffULL));
    std::string index = std::to_string(i);
    points[i].id = "p" + std::string(width - index.size(), '0') + index + "-" + hash;
  }
  return points;
}

Json assignments_json(const std::vector<std::pair<std::string, Json>>& assignments) {
  Json j = Json::object();
  for (const auto& [k, v] : assignments) j[k] = v;
  return j;
}

Json points_json(const Spec& spec, const std::vector<Point>& points) {
  Json keys = Json::array();
  for (const auto* lists : {&spec.grid, &spec.zip}) {
    for (const auto& kv : *lists) keys.push_back(kv.first);
  }
  Json j = {{"format", kPointsFormat}, {"version", 1},
            {"spec", spec.file},       {"config", spec.config.empty() ? Json() : Json(spec.config)},
            {"set", spec.sets},        {"keys", keys},
            {"metrics", spec.metrics}, {"points", Json::array()}};
  for (const Point& p : points) {
    j["points"].push_back({{"id", p.id},
                           {"workload", workload_label(spec, p)},
                           {"assignments", assignments_json(p.assignments)}});
  }
  return j;
}

// Generates every distinct trace of the points once, to check the requests before anything runs
// or is written (a bad `trace` value is a spec error). Returns the points' traces by file name.
void check_traces(const Spec& spec, const std::vector<Point>& points) {
  std::set<std::string> seen;
  for (const Point& p : points) {
    if (p.trace_file.empty() || !seen.insert(p.trace_file).second) continue;
    try {
      generate_trace(trace_request(spec, p));
    } catch (const InputError& e) {
      std::string with;
      for (const auto& [key, value] : p.assignments) {
        if (is_trace_key(key)) with += (with.empty() ? "" : ", ") + key + "=" + value.dump();
      }
      throw InputError(spec.file + ": .trace" + (with.empty() ? "" : " (with " + with + ")") +
                       ": " + e.what());
    }
  }
}

// ---- files ----

// A result.json, or null when there is none or it cannot be read.
Json read_result(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Json();
  try {
    Json j = Json::parse(in);
    if (j.is_object() && j.contains("status") && j["status"].is_string()) return j;
  } catch (const Json::parse_error&) {
  }
  return Json();
}

// The value at a dotted path of a report, or null.
Json metric_of(const Json& report, const std::string& dotted) {
  const Json* node = &report;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = dotted.find('.', start);
    const std::string part = dotted.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!node->is_object() || !node->contains(part)) return Json();
    node = &(*node)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *node;
}

// ---- running ----

volatile sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int) { g_interrupted = 1; }

// Ctrl-C reaches the whole process group: the runs finish their interrupted reports and exit 130;
// this process notes it, launches nothing more and waits for them.
class CatchInterrupts {
 public:
  CatchInterrupts() {
    g_interrupted = 0;
    struct sigaction catcher {};
    catcher.sa_handler = on_interrupt;
    sigemptyset(&catcher.sa_mask);
    sigaction(SIGINT, &catcher, &saved_int_);
    sigaction(SIGTERM, &catcher, &saved_term_);
  }
  ~CatchInterrupts() {
    sigaction(SIGINT, &saved_int_, nullptr);
    sigaction(SIGTERM, &saved_term_, nullptr);
  }
  CatchInterrupts(const CatchInterrupts&) = delete;
  CatchInterrupts& operator=(const CatchInterrupts&) = delete;

 private:
  struct sigaction saved_int_ {};
  struct sigaction saved_term_ {};
};

std::string seconds_text(double s) {
  std::ostringstream out;
  if (s < 60) {
    out << std::fixed << std::setprecision(1) << s << 's';
  } else {
    const auto total = static_cast<long>(s + 0.5);
    out << total / 3600 << 'h' << std::setw(2) << std::setfill('0') << (total / 60) % 60 << 'm'
        << std::setw(2) << total % 60 << 's';
  }
  return out.str();
}

uint64_t env_number(const char* name, bool* present) {
  const char* v = std::getenv(name);
  *present = v != nullptr && *v != '\0';
  if (!*present) return 0;
  const std::string text = v;
  if (text.find_first_not_of("0123456789") != std::string::npos || text.size() > 9) {
    throw InputError(std::string("sweep: $") + name +
                     ": expected a non-negative integer, found \"" + text + "\"");
  }
  return std::stoull(text);
}

struct Running {
  std::size_t point = 0;
  std::chrono::steady_clock::time_point start;
};

struct SweepOptions {
  std::string spec, out, point, emit_slurm, emit_joblist;
  long jobs = -1, shard_index = -1, shard_count = -1, array_limit = -1;
  std::vector<std::string> sbatch;
  bool quiet = false;
};

// A word for a POSIX shell: as it is when it is made of safe characters only, else single-quoted.
std::string shell_word(const std::string& word) {
  const bool plain = !word.empty() && word.find_first_not_of(
                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789_-./=:,+@%") == std::string::npos;
  if (plain) return word;
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// This program's absolute path, for commands that other machines or schedulers run.
std::string self_path() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("sweep: cannot find this program's path: " + ec.message());
  return exe.string();
}

std::string absolute_text(const std::string& path) {
  return fs::absolute(fs::path(path)).lexically_normal().string();
}

// `nibble sweep SPEC --out DIR` with absolute paths, as a command-line prefix.
std::string sweep_prefix(const SweepOptions& o) {
  return shell_word(self_path()) + " sweep " + shell_word(absolute_text(o.spec)) + " --out " +
         shell_word(absolute_text(o.out));
}

struct Shard {
  uint64_t index = 0, count = 1;
  std::string from;  // where they came from, when not from the options: for the progress line
};

// The shard options, checked. Without them, inside a Slurm job array, the task's place in the
// array: index (ID - MIN) / STEP of COUNT, so that --array=1-4 or 0-7:2 covers every shard;
// else shard 0 of 1.
Shard shard_of(const SweepOptions& o) {
  Shard shard;
  bool has_id = false, has_count = false, has_min = false, has_step = false;
  const uint64_t id = env_number("SLURM_ARRAY_TASK_ID", &has_id);
  const uint64_t count = env_number("SLURM_ARRAY_TASK_COUNT", &has_count);
  const uint64_t min = env_number("SLURM_ARRAY_TASK_MIN", &has_min);
  uint64_t step = env_number("SLURM_ARRAY_TASK_STEP", &has_step);
  if (!has_step || step == 0) step = 1;
  if (o.shard_index == -1 && has_id) {
    const uint64_t first = has_min ? min : 0;
    if (id < first || (id - first) % step != 0) {
      throw InputError("sweep: $SLURM_ARRAY_TASK_ID " + std::to_string(id) +
                       " is not on the array's range (min " + std::to_string(first) + ", step " +
                       std::to_string(step) +
                       "); give --shard-index and --shard-count, or submit a range like "
                       "--array=0-N");
    }
    shard.index = (id - first) / step;
    shard.from = "from Slurm's array: $SLURM_ARRAY_TASK_ID " + std::to_string(id);
  }
  if (o.shard_count == -1 && has_count) {
    shard.count = count;
    if (shard.from.empty()) shard.from = "from Slurm's array";
    shard.from += ", $SLURM_ARRAY_TASK_COUNT " + std::to_string(count);
  }
  if (o.shard_index != -1) {
    if (o.shard_index < 0)
      throw InputError("sweep: --shard-index: expected an integer >= 0, found " +
                       std::to_string(o.shard_index));
    shard.index = static_cast<uint64_t>(o.shard_index);
  }
  if (o.shard_count != -1) {
    if (o.shard_count < 1)
      throw InputError("sweep: --shard-count: expected an integer >= 1, found " +
                       std::to_string(o.shard_count));
    shard.count = static_cast<uint64_t>(o.shard_count);
  }
  if (shard.index >= shard.count) {
    throw InputError("sweep: the shard index " + std::to_string(shard.index) +
                     " is not below the shard count " + std::to_string(shard.count) +
                     (shard.from.empty() ? "" : " (" + shard.from + ")"));
  }
  return shard;
}

// The Slurm job array: task i runs shard i of N (each with --jobs J on J CPUs).
std::string slurm_script(const SweepOptions& o, const Spec& spec, std::size_t point_count) {
  const std::size_t max_tasks = 1000;  // Slurm's default MaxArraySize is 1001: indices 0..1000
  std::size_t shards = std::min(point_count, max_tasks);
  if (o.shard_count != -1) {
    if (o.shard_count < 1 || static_cast<std::size_t>(o.shard_count) > max_tasks) {
      throw InputError(
          "sweep: --shard-count: expected an integer in [1, 1000] (one array task "
          "per shard), found " +
          std::to_string(o.shard_count));
    }
    shards = static_cast<std::size_t>(o.shard_count);
  }
  if (o.shard_index != -1) {
    throw InputError(
        "sweep: --shard-index does not go with --emit-slurm (each array task runs "
        "the shard of its $SLURM_ARRAY_TASK_ID)");
  }
  const long jobs = o.jobs == -1 ? 1 : o.jobs;
  if (jobs < 1)
    throw InputError("sweep: --jobs: expected an integer >= 1, found " + std::to_string(jobs));
  if (o.array_limit != -1 && o.array_limit < 1) {
    throw InputError("sweep: --array-limit: expected an integer >= 1, found " +
                     std::to_string(o.array_limit));
  }
  for (const std::string& extra : o.sbatch) {
    for (const char* owned :
         {"--array", "-a", "--output", "-o", "--cpus-per-task", "-c", "--ntasks", "-n"}) {
      const std::string flag = owned;
      if (extra == flag || extra.rfind(flag + "=", 0) == 0 ||
          (flag.size() == 2 && extra.rfind(flag, 0) == 0)) {
        throw InputError("sweep: --sbatch " + extra +
                         ": the script sets that itself (--array from --shard-count and "
                         "--array-limit, --cpus-per-task from --jobs, --output to DIR/slurm)");
      }
    }
  }
  const std::string out = absolute_text(o.out);
  if (out.find_first_of(" \t\n'\"\\") != std::string::npos) {
    throw InputError("sweep: --emit-slurm: the output directory \"" + out +
                     "\" has a space, a quote or a backslash, which an #SBATCH line cannot carry");
  }
  std::string name = fs::path(spec.file).stem().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  }
  const std::string nibble = shell_word(self_path());
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# A Nibble sweep as a Slurm job array: " << point_count << " points in " << shards
    << " shards; task i runs the points k with k mod " << shards << " == i.\n"
    << "# Spec: " << absolute_text(spec.file) << "\n"
    << "# Submit:  sbatch " << shell_word(absolute_text(o.emit_slurm))
    << "   (sbatch options override the #SBATCH lines; a narrower\n"
    << "#          --array, e.g. sbatch --array=1 FILE, reruns only those shards; a wider one\n"
    << "#          adds no shard: emit again with another --shard-count)\n"
    << "# Merge:   " << nibble << " sweep merge " << shell_word(out) << " --check\n"
    << "# A task that stops early keeps its finished points; submitting again resumes.\n"
    << "#SBATCH --job-name=nibble-sweep-" << name << "\n"
    << "#SBATCH --array=0-" << shards - 1
    << (o.array_limit != -1 ? "%" + std::to_string(o.array_limit) : std::string()) << "\n"
    << "#SBATCH --ntasks=1\n"
    << "#SBATCH --cpus-per-task=" << jobs << "\n"
    << "#SBATCH --output=" << out << "/slurm/%A_%a.out\n";
  for (const std::string& extra : o.sbatch) s << "#SBATCH " << extra << "\n";
  s << "set -euo pipefail\n"
    << "exec " << sweep_prefix(o) << " --jobs " << jobs
    << " --shard-index \"$SLURM_ARRAY_TASK_ID\" --shard-count " << shards << "\n";
  return s.str();
}

// One command per point of the shard, each running that point alone (for GNU parallel, xargs,
// ssh): points already ok are skipped by the command itself.
std::string job_list(const SweepOptions& o, const std::vector<Point>& points) {
  const Shard shard = shard_of(o);
  const std::string prefix = sweep_prefix(o);
  std::string text;
  for (std::size_t k = 0; k < points.size(); ++k) {
    if (k % shard.count == shard.index) text += prefix + " --point " + points[k].id + " --quiet\n";
  }
  return text;
}

// Writes the script or the list, and DIR with its points.json (so that `merge` works before
// any point has run) and, for Slurm, DIR/slurm for the tasks' logs (sbatch does not make it).
int emit(const SweepOptions& o, const Spec& spec, const std::vector<Point>& points) {
  std::string slurm, joblist;
  if (!o.emit_slurm.empty()) slurm = slurm_script(o, spec, points.size());
  if (!o.emit_joblist.empty()) joblist = job_list(o, points);
  const fs::path dir(o.out);
  const fs::path made = o.emit_slurm.empty() ? dir / "runs" : dir / "slurm";
  std::error_code ec;
  fs::create_directories(made, ec);
  if (ec || !fs::is_directory(made)) {
    throw InputError(made.string() + ": cannot create the output directory (" +
                     (ec ? ec.message() : std::string("not a directory")) + ")");
  }
  write_file_atomically(dir / "points.json", points_json(spec, points).dump(2) + "\n");
  if (!o.emit_slurm.empty()) {
    write_file_atomically(fs::absolute(o.emit_slurm), slurm);
    fs::permissions(o.emit_slurm, fs::perms::owner_exec | fs::perms::group_exec,
                    fs::perm_options::add, ec);
    std::cout << "nibble sweep: wrote " << o.emit_slurm << ": a Slurm job array over "
              << points.size() << " points; run `sbatch " << o.emit_slurm
              << "`, then `nibble sweep merge " << o.out << "`\n";
  }
  if (!o.emit_joblist.empty()) {
    write_file_atomically(fs::absolute(o.emit_joblist), joblist);
    std::size_t lines = 0;
    for (const char c : joblist) lines += c == '\n';
    std::cout << "nibble sweep: wrote " << o.emit_joblist << ": " << lines
              << " commands, one per point; run e.g. `parallel --joblog " << o.out
              << "/joblog.txt --resume -j 8 < " << o.emit_joblist << "`, then `nibble sweep merge "
              << o.out << "`\n";
  }
  return 0;
}

int run_sweep(const SweepOptions& o) {
  if (o.out.empty()) throw InputError("sweep: --out DIR is required");
  const bool emitting = !o.emit_slurm.empty() || !o.emit_joblist.empty();
  if (!o.point.empty() && (emitting || o.shard_index != -1 || o.shard_count != -1)) {
    throw InputError(std::string("sweep: --point runs one point; it does not go with ") +
                     (emitting ? "--emit-slurm or --emit-joblist" : "--shard-index/--shard-count"));
  }
  if (!o.emit_slurm.empty() && !o.emit_joblist.empty()) {
    throw InputError("sweep: give --emit-slurm or --emit-joblist, not both");
  }
  if (o.emit_slurm.empty() && (!o.sbatch.empty() || o.array_limit != -1)) {
    throw InputError("sweep: --sbatch and --array-limit go with --emit-slurm");
  }
  std::size_t jobs = std::thread::hardware_concurrency();
  if (o.jobs != -1) {
    if (o.jobs < 1)
      throw InputError("sweep: --jobs: expected an integer >= 1, found " + std::to_string(o.jobs));
    jobs = static_cast<std::size_t>(o.jobs);
  }
  if (jobs == 0) jobs = 1;
  const Shard shard = o.point.empty() && o.emit_slurm.empty() ? shard_of(o) : Shard{};
  const uint64_t shard_index = shard.index, shard_count = shard.count;

  const Spec spec = read_spec(o.spec);
  const std::vector<Point> points = expand(spec);
  if (points.empty()) {
    throw InputError(o.spec + ": .filter: no point passes the filters");
  }
  check_traces(spec, points);
  if (emitting) return emit(o, spec, points);

  // The points to run: this shard's, or the one named.
  std::vector<std::size_t> mine;
  if (!o.point.empty()) {
    for (std::size_t k = 0; k < points.size(); ++k) {
      if (points[k].id == o.point) mine.push_back(k);
    }
    if (mine.empty()) {
      throw InputError("sweep: --point: no point \"" + o.point + "\" in " + o.spec + " (its " +
                       std::to_string(points.size()) + " points are " + points.front().id + " to " +
                       points.back().id + ")");
    }
  } else {
    for (std::size_t k = 0; k < points.size(); ++k) {
      if (k % shard_count == shard_index) mine.push_back(k);
    }
  }

  const fs::path dir(o.out);
  std::error_code ec;
  fs::create_directories(dir / "runs", ec);
  if (ec || !fs::is_directory(dir / "runs")) {
    throw InputError(dir.string() + ": cannot create the output directory (" +
                     (ec ? ec.message() : std::string("not a directory")) + ")");
  }
  write_file_atomically(dir / "points.json", points_json(spec, points).dump(2) + "\n");

  // Those points, less the ones already done.
  std::vector<std::size_t> todo;
  std::size_t skipped = 0;
  for (const std::size_t k : mine) {
    const Json r = read_result(dir / "runs" / points[k].id / "result.json");
    if (!r.is_null() && r["status"] == "ok") {
      ++skipped;
    } else {
      todo.push_back(k);
    }
  }
  const std::size_t share = mine.size();
  if (!o.quiet) {
    std::cout << "nibble sweep: " << points.size() << " points, " << share;
    if (o.point.empty()) {
      std::cout << " in shard " << shard_index << "/" << shard_count;
      if (!shard.from.empty()) std::cout << " (" << shard.from << ")";
    } else {
      std::cout << " named";
    }
    std::cout << ", " << skipped << " already ok, " << todo.size() << " to run, "
              << std::min(jobs, std::max<std::size_t>(todo.size(), 1)) << " at once\n"
              << std::flush;
  }

  // The generated traces these points run, each written once (shards share them).
  if (!spec.trace.is_null()) {
    fs::create_directories(dir / "traces", ec);
    std::set<std::string> done;
    for (const std::size_t k : todo) {
      const Point& p = points[k];
      const fs::path file = dir / "traces" / p.trace_file;
      if (!done.insert(p.trace_file).second || fs::is_regular_file(file)) continue;
      write_file_atomically(file, json_to_text(generate_trace(trace_request(spec, p)).trace));
    }
  }

  const bool tty = isatty(STDOUT_FILENO) == 1;
  const auto t0 = std::chrono::steady_clock::now();
  std::map<pid_t, Running> running;
  std::size_t next = 0, finished = 0, failed = 0;
  bool interrupted = false;
  {
    CatchInterrupts catcher;
    while (true) {
      while (!g_interrupted && next < todo.size() && running.size() < jobs) {
        const Point& p = points[todo[next]];
        const fs::path pdir = dir / "runs" / p.id;
        fs::remove_all(pdir, ec);
        fs::create_directories(pdir, ec);
        const std::string config = config_of(spec, p);
        std::vector<std::string> args = {"nibble", "run", "--config", config};
        for (const std::string& s : spec.sets) {
          args.push_back("--set");
          args.push_back(for_the_run(config, s));
        }
        for (const auto& a : p.assignments) {
          // trace.* keys are in the generated trace, the config axis in --config.
          if (is_trace_key(a.first) || a.first == kConfigKey) continue;
          args.push_back("--set");
          args.push_back(for_the_run(config, assignment_text(a)));
        }
        args.push_back("--workload");
        args.push_back(p.trace_file.empty() ? spec.workload_paths[p.workload]
                                            : (dir / "traces" / p.trace_file).string());
        args.push_back("--out");
        args.push_back((pdir / "run").string());
        args.push_back("--quiet");
        const pid_t pid = spawn_self(args, pdir / "stderr.txt", "sweep: point " + p.id);
        running[pid] = {todo[next], std::chrono::steady_clock::now()};
        ++next;
      }
      if (running.empty()) break;
      int raw = 0;
      const pid_t pid = waitpid(-1, &raw, 0);
      if (pid < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
      }
      const auto it = running.find(pid);
      if (it == running.end()) continue;
      const Running r = it->second;
      running.erase(it);
      const int status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
      const Point& p = points[r.point];
      const fs::path pdir = dir / "runs" / p.id;
      if (g_interrupted && status != 0) {
        interrupted = true;  // no result: the point runs again next time
        continue;
      }
      Json result = {{"id", p.id},
                     {"workload", workload_label(spec, p)},
                     {"assignments", assignments_json(p.assignments)}};
      Json metrics = Json::object();
      std::string error;
      if (status == 0) {
        try {
          std::ifstream in(pdir / "run" / "report.json", std::ios::binary);
          const Json report = Json::parse(in);
          for (const std::string& m : spec.metrics) metrics[m] = metric_of(report, m);
        } catch (const Json::parse_error&) {
          error = "the run wrote no readable report.json";
        }
      } else {
        error = first_error_line(pdir / "stderr.txt");
        if (error.empty()) {
          error = status > 128 ? "killed by signal " + std::to_string(status - 128)
                               : "exited with status " + std::to_string(status);
        }
      }
      if (!error.empty()) {
        for (const std::string& m : spec.metrics) metrics[m] = Json();
      }
      result["status"] = error.empty() ? "ok" : "failed";
      if (!error.empty()) result["error"] = error;
      result["exit"] = status;
      result["metrics"] = metrics;
      write_file_atomically(pdir / "result.json", result.dump(2) + "\n");
      ++finished;
      if (!error.empty()) ++failed;
      if (!o.quiet) {
        const auto now = std::chrono::steady_clock::now();
        const double elapsed = std::chrono::duration<double>(now - r.start).count();
        std::cout << "[" << finished << "/" << todo.size() << "] " << p.id << " "
                  << (error.empty() ? "ok" : "failed") << " " << seconds_text(elapsed);
        if (!error.empty()) std::cout << " (" << error << ")";
        if (tty && finished < todo.size()) {
          const double total = std::chrono::duration<double>(now - t0).count();
          const double eta =
              total / static_cast<double>(finished) * static_cast<double>(todo.size() - finished);
          std::cout << ", ETA " << seconds_text(eta);
        }
        std::cout << '\n' << std::flush;
      }
    }
    interrupted = interrupted || g_interrupted;
  }
  if (interrupted) {
    std::cerr << "nibble: sweep: interrupted; " << finished
              << " points finished, the others run on the next sweep\n";
    return 130;
  }
  // Points skipped as ok count as ok; any failed one (this run's) makes the status 1.
  if (!o.quiet) {
    std::cout << "nibble sweep: " << share - failed << " ok, " << failed << " failed; "
              << "results in " << (dir / "runs").string() << "\n";
  }
  return failed > 0 ? 1 : 0;
}

// ---- merge ----

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char ch : text) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return quoted + "\"";
}

std::string csv_value(const Json& j) {
  if (j.is_null()) return "";
  if (j.is_string()) return csv_field(j.get<std::string>());
  if (j.is_number_float()) return format_double(j.get<double>());
  if (j.is_number() || j.is_boolean()) return j.dump();
  return csv_field(j.dump());
}

int merge_sweep(const std::string& dir_text, bool check) {
  if (dir_text.empty()) throw InputError("sweep merge: DIR is required");
  const fs::path dir(dir_text);
  const std::string file = (dir / "points.json").string();
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file + ": cannot open (is " + dir_text + " a sweep's output?)");
  Json points;
  try {
    points = Json::parse(in);
  } catch (const Json::parse_error& e) {
    throw InputError(file + ": not valid JSON: " + e.what());
  }
  if (!points.is_object() || points.value("format", "") != kPointsFormat ||
      !points.contains("points") || !points["points"].is_array() || !points.contains("keys") ||
      !points.contains("metrics")) {
    throw InputError(file + ": (top): expected the points of a sweep (format \"" + kPointsFormat +
                     "\"), found " + describe_json(points));
  }
  const Json& keys = points["keys"];
  const Json& metrics = points["metrics"];
  std::ostringstream csv, jsonl;
  csv << "id,workload";
  for (const Json& k : keys) csv << ',' << csv_field(k.get<std::string>());
  csv << ",status";
  for (const Json& m : metrics) csv << ',' << csv_field(m.get<std::string>());
  csv << '\n';
  std::vector<std::string> missing, failed;
  std::size_t ok = 0;
  std::map<std::string, std::size_t> found;  // metric -> ok points whose report has it
  for (const Json& p : points["points"]) {
    const std::string id = p.at("id").get<std::string>();
    const Json r = read_result(dir / "runs" / id / "result.json");
    std::string status = r.is_null() ? "missing" : r["status"].get<std::string>();
    if (status == "ok") {
      ++ok;
    } else if (status == "failed") {
      failed.push_back(id + ": " + r.value("error", std::string()));
    } else {
      status = "missing";
      missing.push_back(id);
    }
    Json row = {{"id", id},
                {"workload", p.at("workload")},
                {"assignments", p.at("assignments")},
                {"status", status}};
    if (status == "failed") {
      row["error"] = r.value("error", std::string());
      row["exit"] = r.value("exit", Json());
    }
    Json values = Json::object();
    for (const Json& m : metrics) {
      const std::string name = m.get<std::string>();
      values[name] = status == "missing" || !r["metrics"].is_object()
                         ? Json()
                         : r["metrics"].value(name, Json());
    }
    row["metrics"] = values;
    if (status == "ok") {
      for (const Json& m : metrics)
        found[m.get<std::string>()] += !values[m.get<std::string>()].is_null();
    }
    csv << csv_field(id) << ',' << csv_field(p.at("workload").get<std::string>());
    for (const Json& k : keys)
      csv << ',' << csv_value(p["assignments"].value(k.get<std::string>(), Json()));
    csv << ',' << status;
    for (const Json& m : metrics) csv << ',' << csv_value(values[m.get<std::string>()]);
    csv << '\n';
    jsonl << row.dump() << '\n';
  }
  write_file_atomically(dir / "results.csv", csv.str());
  write_file_atomically(dir / "results.jsonl", jsonl.str());
  std::cout << "nibble sweep merge: " << points["points"].size() << " points: " << ok << " ok, "
            << failed.size() << " failed, " << missing.size() << " missing\n";
  for (const std::string& m : missing) std::cout << "  missing " << m << '\n';
  for (const std::string& f : failed) std::cout << "  failed  " << f << '\n';
  if (ok > 0) {
    for (const Json& m : metrics) {
      if (found[m.get<std::string>()] == 0) {
        std::cout << "  warning: no ok point's report.json has the metric \""
                  << m.get<std::string>()
                  << "\" (a misspelt path? README.md gives report.json's fields)\n";
      }
    }
  }
  std::cout << "  results " << (dir / "results.csv").string() << ", "
            << (dir / "results.jsonl").string() << '\n';
  return check && (!missing.empty() || !failed.empty()) ? 1 : 0;
}

}  // namespace

int sweep_command(int argc, char* argv[]) {
  const bool merge = argc >= 2 && std::string(argv[1]) == "merge";
  SweepOptions o;
  std::string target;
  bool check = false;
  po::options_description options("options");
  options.add_options()("help,h", "show this help");
  if (merge) {
    options.add_options()("check", po::bool_switch(&check),
                          "exit 1 when a point is missing or failed");
  } else {
    options.add_options()("out,o", po::value(&o.out)->value_name("DIR"), "output directory")(
        "jobs,j", po::value(&o.jobs)->value_name("N"),
        "runs at once (default: the hardware threads; with --emit-slurm: 1 per task)")(
        "shard-index", po::value(&o.shard_index)->value_name("I"),
        "run the points k with k mod N == I (default: the Slurm array task's place, else 0)")(
        "shard-count", po::value(&o.shard_count)->value_name("N"),
        "the number of shards (default: $SLURM_ARRAY_TASK_COUNT, else 1; with --emit-slurm: "
        "one per point, at most 1000)")("point", po::value(&o.point)->value_name("ID"),
                                        "run only the point with this id")(
        "emit-slurm", po::value(&o.emit_slurm)->value_name("FILE"),
        "write an sbatch job-array script that runs the shards, and run nothing")(
        "sbatch", po::value(&o.sbatch)->value_name("OPTION")->composing(),
        "with --emit-slurm: one more #SBATCH line (repeatable), e.g. --sbatch=--partition=cpu, "
        "--sbatch=--time=1:00:00, --sbatch=--mem-per-cpu=2G")(
        "array-limit", po::value(&o.array_limit)->value_name("M"),
        "with --emit-slurm: at most M array tasks at once (--array=0-N%M)")(
        "emit-joblist", po::value(&o.emit_joblist)->value_name("FILE"),
        "write one command per point (of this shard), for GNU parallel or xargs, and run nothing")(
        "quiet,q", po::bool_switch(&o.quiet), "print nothing but errors");
  }
  po::options_description all;
  all.add(options).add_options()("target", po::value(&target));
  po::positional_options_description positional;
  positional.add("target", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(merge ? argc - 1 : argc, merge ? argv + 1 : argv)
                  .options(all)
                  .positional(positional)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError(std::string(merge ? "sweep merge: " : "sweep: ") + e.what() +
                     " (try 'nibble sweep --help')");
  }
  if (vm.count("help")) {
    std::cout << kSweepUsage << options;
    return 0;
  }
  if (merge) return merge_sweep(target, check);
  if (target.empty()) throw InputError("sweep: SPEC.json (the sweep spec) is required");
  o.spec = target;
  return run_sweep(o);
}

}  // namespace nibble
