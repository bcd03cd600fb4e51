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
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/program_options.hpp>

#include "sim/app/child_run.h"
#include "sim/app/commands.h"
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
    "       nibble sweep merge DIR [--check]\n"
    "\n"
    "Expands the sweep spec (workloads x grid x zip, filtered; see sim/app/sweep.md) into an\n"
    "ordered list of points, writes it to DIR/points.json and runs the points of this shard\n"
    "(point k where k mod N == I; I and N default to $SLURM_ARRAY_TASK_ID and\n"
    "$SLURM_ARRAY_TASK_COUNT, else 0 and 1) as `nibble run` processes, up to --jobs at once. Each\n"
    "finished point gets DIR/runs/<id>/result.json; a rerun skips the points whose result is ok.\n"
    "`merge` gathers DIR/runs/*/result.json into DIR/results.csv and DIR/results.jsonl.\n"
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

struct Spec {
  std::string file, description, config;  // config: resolved (relative to the working directory)
  std::vector<std::string> sets, workloads, metrics;
  std::vector<std::string> workload_paths;  // resolved
  std::vector<std::pair<std::string, std::vector<Json>>> grid, zip;
  std::vector<Filter> filters;
};

// A path of the spec, relative to the spec file unless absolute.
std::string relative_to_file(const std::string& file, const std::string& path) {
  if (fs::path(path).is_absolute()) return path;
  return (fs::path(file).parent_path() / path).lexically_normal().string();
}

std::vector<std::string> string_array(StrictObject& obj, const std::string& file,
                                      const std::string& key, bool required) {
  const std::string expected =
      required ? "a non-empty array of non-empty strings" : "an array of non-empty strings";
  const Json* j = required ? &obj.require(key, expected) : obj.find(key);
  std::vector<std::string> out;
  if (j == nullptr) return out;
  if (!j->is_array() || (required && j->empty())) obj.fail(key, expected, *j);
  for (std::size_t i = 0; i < j->size(); ++i) {
    const Json& item = (*j)[i];
    if (!item.is_string() || item.get<std::string>().empty()) {
      throw InputError(file + ": " + obj.where(key) + "[" + std::to_string(i) +
                       "]: expected a non-empty string, found " + describe_json(item));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
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
  const std::string config = top.string("config");
  spec.sets = string_array(top, file, "set", false);
  spec.workloads = string_array(top, file, "workloads", true);
  spec.grid = value_lists(top, file, "grid", true);
  spec.zip = value_lists(top, file, "zip", false);
  const std::vector<std::string> filters = string_array(top, file, "filter", false);
  spec.metrics = string_array(top, file, "metrics", true);
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

  // The files, and the assignments as `nibble run --set` reads them.
  spec.config = relative_to_file(file, config);
  if (!fs::is_regular_file(spec.config)) {
    throw InputError(file + ": .config: no such file \"" + spec.config +
                     "\" (a relative path is relative to the spec file)");
  }
  ConfigDoc doc = ConfigDoc::load(spec.config);
  for (std::size_t i = 0; i < spec.sets.size(); ++i) {
    try {
      doc.apply_set(spec.sets[i]);
    } catch (const InputError& e) {
      throw InputError(file + ": .set[" + std::to_string(i) + "]: " + e.what());
    }
  }
  for (const auto* lists : {&spec.grid, &spec.zip}) {
    for (const auto& [key, values] : *lists) {
      try {
        doc.apply_set(key + "=" + values.front().dump());
      } catch (const InputError& e) {
        throw InputError(file + ": ." + (lists == &spec.grid ? "grid" : "zip") + "." + key + ": " +
                         e.what());
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
};

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
std::vector<Point> expand(const Spec& spec) {
  std::vector<Point> points;
  std::size_t grid_count = 1;
  for (const auto& g : spec.grid) grid_count *= g.second.size();
  const std::size_t zip_count = spec.zip.empty() ? 1 : spec.zip.front().second.size();
  for (std::size_t w = 0; w < spec.workloads.size(); ++w) {
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
    std::string canonical = "workload=" + spec.workloads[points[i].workload] + "\n";
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
  Json j = {{"format", kPointsFormat}, {"version", 1},           {"spec", spec.file},
            {"config", spec.config},   {"set", spec.sets},       {"keys", keys},
            {"metrics", spec.metrics}, {"points", Json::array()}};
  for (const Point& p : points) {
    j["points"].push_back({{"id", p.id},
                           {"workload", spec.workloads[p.workload]},
                           {"assignments", assignments_json(p.assignments)}});
  }
  return j;
}

// ---- files ----

// Writes `file` through a temporary file beside it (named for this process, so that shards
// writing the same file do not collide) and a rename.
void write_atomically(const fs::path& file, const std::string& text) {
  const fs::path tmp = file.parent_path() /
                       ("." + file.filename().string() + "." + std::to_string(getpid()) + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw InputError(file.string() + ": cannot write (" + std::strerror(errno) + ")");
    }
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw InputError(file.string() + ": cannot write (" + ec.message() + ")");
  }
}

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

int run_sweep(const std::string& spec_file, const std::string& out_dir, long jobs_opt,
              long shard_index_opt, long shard_count_opt, bool quiet) {
  if (out_dir.empty()) throw InputError("sweep: --out DIR is required");
  std::size_t jobs = std::thread::hardware_concurrency();
  if (jobs_opt != -1) {
    if (jobs_opt < 1)
      throw InputError("sweep: --jobs: expected an integer >= 1, found " +
                       std::to_string(jobs_opt));
    jobs = static_cast<std::size_t>(jobs_opt);
  }
  if (jobs == 0) jobs = 1;
  bool has_index = false, has_count = false;
  uint64_t shard_index = env_number("SLURM_ARRAY_TASK_ID", &has_index);
  uint64_t shard_count = env_number("SLURM_ARRAY_TASK_COUNT", &has_count);
  if (!has_index) shard_index = 0;
  if (!has_count) shard_count = 1;
  if (shard_index_opt != -1) {
    if (shard_index_opt < 0)
      throw InputError("sweep: --shard-index: expected an integer >= 0, found " +
                       std::to_string(shard_index_opt));
    shard_index = static_cast<uint64_t>(shard_index_opt);
  }
  if (shard_count_opt != -1) {
    if (shard_count_opt < 1)
      throw InputError("sweep: --shard-count: expected an integer >= 1, found " +
                       std::to_string(shard_count_opt));
    shard_count = static_cast<uint64_t>(shard_count_opt);
  }
  if (shard_index >= shard_count) {
    throw InputError("sweep: the shard index " + std::to_string(shard_index) +
                     " is not below the shard count " + std::to_string(shard_count));
  }

  const Spec spec = read_spec(spec_file);
  const std::vector<Point> points = expand(spec);
  if (points.empty()) {
    throw InputError(spec_file + ": .filter: no point passes the filters");
  }

  const fs::path dir(out_dir);
  std::error_code ec;
  fs::create_directories(dir / "runs", ec);
  if (ec || !fs::is_directory(dir / "runs")) {
    throw InputError(dir.string() + ": cannot create the output directory (" +
                     (ec ? ec.message() : std::string("not a directory")) + ")");
  }
  write_atomically(dir / "points.json", points_json(spec, points).dump(2) + "\n");

  // This shard's points, less those already done.
  std::vector<std::size_t> todo;
  std::size_t share = 0, skipped = 0;
  for (std::size_t k = 0; k < points.size(); ++k) {
    if (k % shard_count != shard_index) continue;
    ++share;
    const Json r = read_result(dir / "runs" / points[k].id / "result.json");
    if (!r.is_null() && r["status"] == "ok") {
      ++skipped;
    } else {
      todo.push_back(k);
    }
  }
  if (!quiet) {
    std::cout << "nibble sweep: " << points.size() << " points, " << share << " in shard "
              << shard_index << "/" << shard_count << ", " << skipped << " already ok, "
              << todo.size() << " to run, " << jobs << " at once\n"
              << std::flush;
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
        std::vector<std::string> args = {"nibble", "run", "--config", spec.config};
        for (const std::string& s : spec.sets) {
          args.push_back("--set");
          args.push_back(s);
        }
        for (const auto& a : p.assignments) {
          args.push_back("--set");
          args.push_back(assignment_text(a));
        }
        args.push_back("--workload");
        args.push_back(spec.workload_paths[p.workload]);
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
                     {"workload", spec.workloads[p.workload]},
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
      write_atomically(pdir / "result.json", result.dump(2) + "\n");
      ++finished;
      if (!error.empty()) ++failed;
      if (!quiet) {
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
  if (!quiet) {
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
    csv << csv_field(id) << ',' << csv_field(p.at("workload").get<std::string>());
    for (const Json& k : keys)
      csv << ',' << csv_value(p["assignments"].value(k.get<std::string>(), Json()));
    csv << ',' << status;
    for (const Json& m : metrics) csv << ',' << csv_value(values[m.get<std::string>()]);
    csv << '\n';
    jsonl << row.dump() << '\n';
  }
  write_atomically(dir / "results.csv", csv.str());
  write_atomically(dir / "results.jsonl", jsonl.str());
  std::cout << "nibble sweep merge: " << points["points"].size() << " points: " << ok << " ok, "
            << failed.size() << " failed, " << missing.size() << " missing\n";
  for (const std::string& m : missing) std::cout << "  missing " << m << '\n';
  for (const std::string& f : failed) std::cout << "  failed  " << f << '\n';
  std::cout << "  results " << (dir / "results.csv").string() << ", "
            << (dir / "results.jsonl").string() << '\n';
  return check && (!missing.empty() || !failed.empty()) ? 1 : 0;
}

}  // namespace

int sweep_command(int argc, char* argv[]) {
  const bool merge = argc >= 2 && std::string(argv[1]) == "merge";
  std::string target, out_dir;
  long jobs = -1, shard_index = -1, shard_count = -1;
  bool quiet = false, check = false;
  po::options_description options("options");
  options.add_options()("help,h", "show this help");
  if (merge) {
    options.add_options()("check", po::bool_switch(&check),
                          "exit 1 when a point is missing or failed");
  } else {
    options.add_options()("out,o", po::value(&out_dir)->value_name("DIR"), "output directory")(
        "jobs,j", po::value(&jobs)->value_name("N"),
        "runs at once (default: the hardware threads)")(
        "shard-index", po::value(&shard_index)->value_name("I"),
        "run the points k with k mod N == I (default: $SLURM_ARRAY_TASK_ID, else 0)")(
        "shard-count", po::value(&shard_count)->value_name("N"),
        "the number of shards (default: $SLURM_ARRAY_TASK_COUNT, else 1)")(
        "quiet,q", po::bool_switch(&quiet), "print nothing but errors");
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
  return run_sweep(target, out_dir, jobs, shard_index, shard_count, quiet);
}

}  // namespace nibble
