#include "sim/report.h"

#include "sim/atomic_file.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>

#include "sim/error.h"
#include "sim/version.h"

namespace nibble {

namespace {

double ratio(double num, double den) { return den == 0 ? 0.0 : num / den; }

Json precision_json(const OperandPrecisions& p) {
  return {{"a", to_string(p.a)}, {"b", to_string(p.b)}, {"out", to_string(p.out)}};
}

Json energy_json(const EnergyTotals& t) {
  Json by_unit = Json::object(), by_event = Json::object();
  for (const auto& [k, v] : t.by_unit_pj) by_unit[k] = v;
  for (const auto& [k, v] : t.by_event_pj) by_event[k] = v;
  return {{"total", t.total_pj}, {"by_unit", by_unit}, {"by_event", by_event}};
}

// An accuracy figure that JSON holds as null when it is not finite (an FP16 overflow, a zero
// reference) counts as the worst value on its scale.
double figure(const Json& value, double worst) {
  return value.is_null() ? worst : value.get<double>();
}

void write_csv_header(std::ostream& out) {
  out << "name,type,pass,a,b,out,M,N,K,tiles,start_cycle,end_cycle,cycles,macs,utilization,"
         "energy_pj,unit,elements\n";
}

void write_csv_row(std::ostream& out, const Json& op) {
  std::string name = op["name"].get<std::string>();
  if (name.find_first_of(",\"\n") != std::string::npos) {
    std::string quoted = "\"";
    for (char ch : name) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    name = quoted + "\"";
  }
  out << name << ',' << op["type"].get<std::string>() << ',' << op["pass"].get<std::string>() << ','
      << op["precision"]["a"].get<std::string>() << ',' << op["precision"]["b"].get<std::string>()
      << ',' << op["precision"]["out"].get<std::string>() << ',';
  if (op.contains("gemm")) {
    out << op["gemm"]["M"] << ',' << op["gemm"]["N"] << ',' << op["gemm"]["K"] << ',';
  } else {
    out << ",,,";
  }
  out << op["tiles"] << ',' << op["start_cycle"] << ',' << op["end_cycle"] << ',' << op["cycles"]
      << ',' << op["macs"] << ',' << format_double(op["utilization"].get<double>()) << ','
      << format_double(op["energy_pj"].get<double>()) << ',' << op["unit"].get<std::string>()
      << ',';
  if (op.contains("elements")) out << op["elements"];
  out << '\n';
}

// One op's entry of the report, as nlohmann's dump(2) prints it inside the report's "ops" array.
std::string op_entry_text(const Json& op) {
  const std::string text = op.dump(2);
  std::string out = "    ";
  for (const char c : text) {
    out.push_back(c);
    if (c == '\n') out += "    ";
  }
  return out;
}

}  // namespace

ReportBuilder::ReportBuilder(const RunInputs& in, std::ostream* ops_json, std::ostream* ops_csv)
    : in_(in), ops_json_(ops_json), ops_csv_(ops_csv) {
  if (ops_csv_ != nullptr) write_csv_header(*ops_csv_);
  if (in_.energy_context != nullptr) {
    leakage_mw_ = in_.energy->leakage_mw(*in_.energy_context);
    for (const auto& [unit, mw] : leakage_mw_) leakage_total_mw_ += mw;
  }
  for (const char* pass : {"fwd", "bwd_data", "bwd_weight", "update"}) {
    by_pass_[pass] = {{"ops", 0}, {"cycles", 0}, {"energy_pj", 0.0}};
  }
}

// Static energy over `cycles` at the run's clock: mW × s = 10⁹ pJ, s = cycles / (MHz · 10⁶).
double ReportBuilder::leakage_pj(double mw, uint64_t cycles) const {
  if (in_.energy_context == nullptr || in_.energy_context->clock_mhz <= 0) return 0;
  return mw * static_cast<double>(cycles) * 1e3 / in_.energy_context->clock_mhz;
}

void ReportBuilder::add_ops(const std::vector<Op>& ops, const std::vector<OpResult>& results,
                            const std::vector<Json>& accuracy) {
  for (std::size_t i = 0; i < results.size(); ++i) {
    const OpResult& r = results[i];
    const Op& op = ops[i];
    const uint64_t cycles = r.end_cycle - r.start_cycle;
    const EnergyTotals e = r.energy.price(*in_.energy, in_.energy_context);
    const double leak = leakage_pj(leakage_total_mw_, r.attributed_cycles);
    Json j = {{"name", op.name},
              {"type", to_string(op.type)},
              {"pass", to_string(op.pass)},
              {"unit", r.unit},
              {"precision", precision_json(op.precision)}};
    if (op.is_gemm()) {
      j["gemm"] = {{"M", op.gemm.m}, {"N", op.gemm.n}, {"K", op.gemm.k}, {"batch", op.gemm_batch}};
    }
    if (op.vector) {
      j["elements"] = op.vector->elements;
      if (!op.vector->function.empty()) j["function"] = op.vector->function;
    }
    if (op.type == OpType::kQuantize && op.precision.out == Precision::kFp4) {
      j["phase"] = op.fp4_phase;
    }
    if (op.conv) {
      const ConvShape& c = *op.conv;
      j["conv2d"] = {{"batch", c.batch},     {"C", c.c},          {"H", c.h}, {"W", c.w},
                     {"filters", c.filters}, {"R", c.r},          {"S", c.s}, {"stride", c.stride},
                     {"padding", c.padding}, {"groups", c.groups}};
      j["lowering"] = op.lowering;
    }
    if (!op.deps.empty()) j["deps"] = op.deps;
    j["mapping"] = r.mapping;
    j["tiles"] = r.tiles;
    j["start_cycle"] = r.start_cycle;
    j["end_cycle"] = r.end_cycle;
    j["cycles"] = cycles;
    j["attributed_cycles"] = r.attributed_cycles;
    j["macs"] = r.macs;
    // Of the unit that ran the op: MACs (or elements) done / (cycles × what it could do per cycle).
    const uint64_t work = op.is_gemm() ? r.macs : r.elements;
    const double full_cycles =
        ratio(static_cast<double>(work), static_cast<double>(r.peak_work_per_cycle));
    j["utilization"] = ratio(full_cycles, static_cast<double>(cycles));
    total_full_cycles_ += full_cycles;
    j["checks"] = r.checks;
    if (!r.memory.is_null()) j["memory"] = r.memory;
    j["energy_pj"] = e.total_pj + leak;  // dynamic + the chip's leakage while it ran
    j["leakage_pj"] = leak;
    Json by_unit = Json::object();
    for (const auto& [k, v] : e.by_unit_pj) by_unit[k] = v;
    j["energy_by_unit_pj"] = by_unit;
    if (i < accuracy.size() && !accuracy[i].is_null()) j["accuracy"] = accuracy[i];

    total_energy_.add(r.energy);
    total_macs_ += r.macs;
    Json& pass = by_pass_[to_string(op.pass)];
    pass["ops"] = pass["ops"].get<uint64_t>() + 1;
    pass["cycles"] = pass["cycles"].get<uint64_t>() + r.attributed_cycles;
    pass["energy_pj"] = pass["energy_pj"].get<double>() + e.total_pj + leak;
    Json& u = units_[r.unit];
    if (u.is_null()) u = {{"ops", 0}, {"busy_cycles", 0}};
    u["ops"] = u["ops"].get<uint64_t>() + 1;
    u["busy_cycles"] = u["busy_cycles"].get<uint64_t>() + cycles;
    if (j.contains("accuracy")) note_accuracy(j);
    // The five longest ops, the earlier first among equals.
    auto at = std::find_if(top_.begin(), top_.end(),
                           [&](const Json& t) { return t["cycles"].get<uint64_t>() < cycles; });
    if (top_.size() < kTopOps || at != top_.end()) {
      top_.insert(at, j);
      if (top_.size() > kTopOps) top_.pop_back();
    }
    if (ops_csv_ != nullptr) write_csv_row(*ops_csv_, j);
    if (ops_json_ != nullptr) *ops_json_ << (ops_ == 0 ? "" : ",\n") << op_entry_text(j);
    if (keep_ != nullptr) keep_->push_back(std::move(j));
    ++ops_;
  }
}

// Over the ops that carry tensors: how many, and the worst of each figure with its op.
void ReportBuilder::note_accuracy(const Json& op) {
  const double inf = std::numeric_limits<double>::infinity();
  const Json& a = op["accuracy"];
  accuracy_["ops"] = accuracy_["ops"].get<int>() + 1;
  if (!accuracy_.contains("worst_op") ||
      figure(a["rel_l2"], inf) > figure(accuracy_["worst_rel_l2"], inf)) {
    accuracy_["worst_op"] = op["name"];
    accuracy_["worst_rel_l2"] = a["rel_l2"];
    accuracy_["worst_sqnr_db"] = a["sqnr_db"];
  }
  if (!accuracy_.contains("lowest_cosine_op") ||
      figure(a["cosine"], -inf) < figure(accuracy_["lowest_cosine"], -inf)) {
    accuracy_["lowest_cosine_op"] = op["name"];
    accuracy_["lowest_cosine"] = a["cosine"];
  }
}

Json ReportBuilder::finish(const RunResult& result) const {
  const Workload& w = *in_.workload;
  const double hz = result.clock_mhz * 1e6;
  Json units = units_;
  for (auto& [name, u] : units.items()) {
    u["busy_fraction"] = ratio(static_cast<double>(u["busy_cycles"].get<uint64_t>()),
                               static_cast<double>(result.cycles));
  }
  const EnergyTotals e = total_energy_.price(*in_.energy, in_.energy_context);
  const double seconds = static_cast<double>(result.cycles) / hz;
  Json leakage_by_unit = Json::object();
  double leakage = 0;
  for (const auto& [unit, mw] : leakage_mw_) {
    leakage_by_unit[unit] = leakage_pj(mw, result.cycles);
    leakage += leakage_by_unit[unit].get<double>();
  }
  const double total_pj = e.total_pj + leakage;
  Json report;
  report["nibble_version"] = kNibbleVersion;
  report["status"] = result.complete ? "complete" : "interrupted";
  report["config"] = {{"file", in_.config_file}, {"set", in_.sets}};
  report["workload"] = {{"file", w.file},       {"name", w.name},
                        {"format", w.format},   {"ops", in_.total_ops},
                        {"ops_finished", ops_}, {"iterations", w.iterations}};
  if (!w.source.is_null()) report["workload"]["source"] = w.source;
  report["hardware"] = result.hardware;
  report["clock_mhz"] = result.clock_mhz;
  report["cycles"] = result.cycles;
  report["seconds"] = seconds;
  report["macs"] = total_macs_;
  report["peak_macs_per_cycle"] = result.peak_macs_per_cycle;
  report["units"] = units;
  // Cycles the units would need at full throughput over the cycles taken (for a workload of GEMMs
  // on one array: MACs / (cycles · peak MACs per cycle)).
  report["utilization"] = ratio(total_full_cycles_, static_cast<double>(result.cycles));
  Json energy = energy_json(e);
  energy["total"] = total_pj;
  energy["dynamic"] = e.total_pj;
  energy["leakage"] = {{"total", leakage}, {"by_unit", leakage_by_unit}};
  energy["by_pass"] = by_pass_;
  energy["table"] = {{"file", in_.energy->file()}, {"name", in_.energy->name()}};
  report["energy_pj"] = energy;
  report["average_power_w"] = ratio(total_pj * 1e-12, seconds);
  // Two operations per MAC per picojoule is 10¹² operations per joule: TOPS/W (TFLOPS/W for
  // floating-point MACs). GEMM MACs only; element-wise work is not counted as operations.
  report["tops_per_w"] = ratio(2.0 * static_cast<double>(total_macs_), total_pj);
  // The trace's ops are one iteration (or whatever `iterations` says they make up): figures for
  // all of them run back to back, each iteration as the one simulated.
  report["training"] = {{"iterations", w.iterations},
                        {"cycles", result.cycles * w.iterations},
                        {"seconds", seconds * static_cast<double>(w.iterations)},
                        {"energy_pj", total_pj * static_cast<double>(w.iterations)}};
  if (!result.memory.is_null()) report["memory"] = result.memory;
  if (!result.checks.is_null()) report["assumption_checks"] = result.checks;
  report["accuracy"] = accuracy_;
  return report;
}

Json build_report(const RunInputs& in, const RunResult& result) {
  RunInputs whole = in;
  if (whole.total_ops == 0) whole.total_ops = in.workload->ops.size();
  ReportBuilder builder(whole, nullptr, nullptr);
  Json ops = Json::array();
  builder.keep_ops(&ops);
  builder.add_ops(in.workload->ops, result.ops, in.accuracy);
  Json report = builder.finish(result);
  report["ops"] = std::move(ops);
  return report;
}

void write_ops_csv(std::ostream& out, const Json& report) {
  write_csv_header(out);
  for (const Json& op : report["ops"]) write_csv_row(out, op);
}

namespace {

namespace fs = std::filesystem;

}  // namespace

void write_run_outputs(const std::string& dir, const RunInputs& in, const RunResult& result,
                       const Json& report, const StreamedOps* streamed) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw InputError(dir + ": cannot create the output directory (" + ec.message() + ")");
  }
  // A report.json from an earlier run must not outlive a partial rewrite of its companions.
  fs::remove(fs::path(dir) / "report.json", ec);

  write_file_atomically(fs::path(dir) / "config.resolved.json", in.resolved_config.dump(2) + "\n");

  Stats stats;
  stats.add("sim.cycles", result.cycles, "cycle", "simulated core cycles");
  stats.add("sim.seconds", report["seconds"].get<double>(), "s", "simulated time");
  stats.add("sim.clock_mhz", result.clock_mhz, "MHz", "core clock");
  stats.add("sim.ops", report["workload"]["ops_finished"].get<uint64_t>(), "op", "ops finished");
  stats.add("sim.utilization", report["utilization"].get<double>(), "fraction",
            "sum over ops of (work / unit peak per cycle) / cycles");
  for (const Stat& s : result.stats.all()) stats.add_stat(s);
  const Json& energy = report["energy_pj"];
  stats.add("energy.total_pj", energy["total"].get<double>(), "pJ", "total energy");
  if (energy.contains("leakage")) {
    stats.add("energy.leakage_pj", energy["leakage"]["total"].get<double>(), "pJ",
              "static energy of the units over the run");
  }
  for (const auto& [unit, pj] : energy["by_unit"].items()) {
    stats.add("energy.by_unit." + unit + "_pj", pj.get<double>(), "pJ", "energy of unit " + unit);
  }
  for (const auto& [event, pj] : energy["by_event"].items()) {
    stats.add("energy.by_event." + event + "_pj", pj.get<double>(), "pJ",
              "energy of event " + event);
  }
  std::ostringstream stats_text;
  stats.write_text(stats_text);
  write_file_atomically(fs::path(dir) / "stats.txt", stats_text.str());

  if (streamed == nullptr) {
    std::ostringstream csv;
    write_ops_csv(csv, report);
    write_file_atomically(fs::path(dir) / "ops.csv", csv.str());
    write_file_atomically(fs::path(dir) / "report.json", report.dump(2) + "\n");
    return;
  }
  fs::rename(streamed->csv, fs::path(dir) / "ops.csv", ec);
  if (ec) throw InputError(dir + "/ops.csv: cannot write (" + ec.message() + ")");
  // report.json: the report's members, then "ops" (its last member) from the entries written
  // while the run went, exactly as dump(2) of the whole report would print them.
  const fs::path tmp = temporary_beside(fs::path(dir) / "report.json");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    std::string head = report.dump(2);
    head.resize(head.size() - 2);  // "\n}"
    out << head << ",\n  \"ops\": [";
    std::ifstream ops(streamed->json, std::ios::binary);
    if (ops.peek() == std::char_traits<char>::eof()) {
      out << "]\n}\n";
    } else {
      out << '\n' << ops.rdbuf() << "\n  ]\n}\n";
    }
    out.flush();
    if (!out) {
      throw InputError((fs::path(dir) / "report.json").string() + ": cannot write (" +
                       std::strerror(errno) + ")");
    }
  }
  fs::remove(streamed->json, ec);
  rename_into_place(tmp, fs::path(dir) / "report.json");
}

namespace {

std::string with_commas(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3)
    s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

std::string si(double value, const char* unit) {
  const char* prefixes[] = {"p", "n", "u", "m", "", "k", "M", "G", "T"};
  int index = 4;
  double v = value;
  while (std::abs(v) >= 1000 && index < 8) v /= 1000, ++index;
  while (v != 0 && std::abs(v) < 1 && index > 0) v *= 1000, --index;
  std::ostringstream out;
  out << std::setprecision(4) << v << ' ' << prefixes[index] << unit;
  return out.str();
}

std::string percent(double fraction) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << 100.0 * fraction << '%';
  return out.str();
}

}  // namespace

void print_summary(std::ostream& out, const Json& report, const std::string& dir) {
  const Json& hw = report["hardware"]["mac_array"];
  const double total_pj = report["energy_pj"]["total"].get<double>();
  out << "nibble " << report["nibble_version"].get<std::string>() << ": "
      << report["workload"]["name"].get<std::string>() << " on a " << hw["rows"] << "x"
      << hw["cols"] << " systolic array (" << hw["dataflow"].get<std::string>() << ", "
      << hw["schedule"].get<std::string>() << " schedule) at "
      << format_double(report["clock_mhz"].get<double>()) << " MHz, "
      << report["hardware"]["fidelity"].get<std::string>() << " fidelity\n";
  if (report["status"] != "complete") {
    out << "  INTERRUPTED: " << report["workload"]["ops_finished"] << " of "
        << report["workload"]["ops"] << " ops finished; the report covers those only\n";
  }
  out << "  cycles       " << with_commas(report["cycles"].get<uint64_t>()) << "  ("
      << si(report["seconds"].get<double>(), "s") << ")\n";
  out << "  MACs         " << with_commas(report["macs"].get<uint64_t>()) << "  (utilization "
      << percent(report["utilization"].get<double>()) << ")\n";
  if (report.contains("memory")) {
    const Json& m = report["memory"];
    out << "  cores        " << report["hardware"]["cores"] << ", busy "
        << with_commas(m["busy_core_cycles"].get<uint64_t>()) << " core-cycles; stalls";
    for (const auto& [cause, cycles] : m["stall_core_cycles"].items()) {
      if (cycles.get<uint64_t>() > 0)
        out << ' ' << cause << ' ' << with_commas(cycles.get<uint64_t>());
    }
    out << '\n';
    out << "  DRAM         "
        << si(static_cast<double>(m["dram_read_bytes"].get<uint64_t>() +
                                  m["dram_write_bytes"].get<uint64_t>()),
              "B")
        << " at " << format_double(std::round(m["dram_gbps"].get<double>() * 10) / 10) << " GB/s\n";
    for (const Json& c : report["assumption_checks"]) {
      if (c["held"] == false) {
        // Four significant figures on the terminal; report.json keeps the exact value.
        std::ostringstream needed;
        needed << std::setprecision(4) << c["needed"].get<double>();
        out << "  CHECK FAILED " << c["name"].get<std::string>() << ": needed " << needed.str()
            << ", limit " << format_double(c["limit"].get<double>()) << ' '
            << c["unit"].get<std::string>() << '\n';
      }
    }
  }
  out << "  energy       " << si(total_pj * 1e-12, "J");
  std::string sep = "  (";
  for (const auto& [unit, pj] : report["energy_pj"]["by_unit"].items()) {
    out << sep << unit << ' ' << percent(ratio(pj.get<double>(), total_pj));
    sep = ", ";
  }
  if (report["energy_pj"].contains("leakage")) {
    const double leak = report["energy_pj"]["leakage"]["total"].get<double>();
    if (leak > 0) out << sep << "leakage " << percent(ratio(leak, total_pj));
  }
  out << ")\n";
  out << "  avg power    " << si(report["average_power_w"].get<double>(), "W");
  if (report.contains("tops_per_w")) {
    std::ostringstream eff;
    eff << std::setprecision(3) << report["tops_per_w"].get<double>();
    out << "  (" << eff.str() << " TOPS/W, 2 ops per MAC)";
  }
  out << "\n";
  const Json& acc = report["accuracy"];
  if (acc["ops"].get<int>() > 0) {
    // Null figures are not finite: rel. L2 is then infinite (results overflowed), and SQNR is
    // +inf for an exact result (rel. L2 0) or -inf for an overflowed one.
    const Json& rel = acc["worst_rel_l2"];
    const Json& sqnr = acc["worst_sqnr_db"];
    std::ostringstream line;
    line << std::setprecision(4) << "  accuracy     " << acc["ops"]
         << " ops with tensors, vs FP32: worst " << acc["worst_op"].get<std::string>()
         << " (rel. L2 ";
    if (rel.is_null()) {
      line << "inf";
    } else {
      line << rel.get<double>();
    }
    line << ", SQNR ";
    if (sqnr.is_null()) {
      line << (!rel.is_null() && rel.get<double>() == 0 ? "inf" : "-inf");
    } else {
      line << sqnr.get<double>();
    }
    line << " dB)\n";
    out << line.str();
  }

  std::vector<const Json*> ops;
  for (const Json& op : report["ops"]) ops.push_back(&op);
  std::stable_sort(ops.begin(), ops.end(), [](const Json* a, const Json* b) {
    return (*a)["cycles"].get<uint64_t>() > (*b)["cycles"].get<uint64_t>();
  });
  const std::size_t shown = std::min<std::size_t>(ops.size(), 5);
  const double cycles = static_cast<double>(report["cycles"].get<uint64_t>());
  std::size_t name_width = 20;
  for (std::size_t i = 0; i < shown; ++i) {
    name_width = std::max(name_width, (*ops[i])["name"].get<std::string>().size());
  }
  out << "  top " << shown << " of " << report["workload"]["ops_finished"] << " ops by cycles:\n";
  for (std::size_t i = 0; i < shown; ++i) {
    const Json& op = *ops[i];
    std::ostringstream line;
    line << "    " << std::left << std::setw(static_cast<int>(name_width))
         << op["name"].get<std::string>() << ' ' << std::setw(10) << op["pass"].get<std::string>()
         << std::right << std::setw(14) << with_commas(op["cycles"].get<uint64_t>()) << " cycles "
         << std::setw(6)
         << percent(ratio(static_cast<double>(op["cycles"].get<uint64_t>()), cycles)) << "  util "
         << percent(op["utilization"].get<double>()) << '\n';
    out << line.str();
  }
  out << "  report       " << dir << "/report.json\n";
}

}  // namespace nibble
