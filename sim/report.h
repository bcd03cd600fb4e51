// Writing a run's outputs: report.json, config.resolved.json, stats.txt and ops.csv.
//
// Every file is written to a temporary name and renamed into place, report.json last, so a
// report.json on disk always comes with complete companions; a run that fails before writing
// leaves nothing behind. Reports hold no host wall-clock figures, so the same inputs give
// byte-identical files.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "sim/config.h"
#include "sim/energy.h"
#include "sim/run_result.h"
#include "sim/workload.h"

namespace nibble {

struct RunInputs {
  std::string config_file;
  std::vector<std::string> sets;  // the --set assignments, in order
  const Workload* workload = nullptr;
  const EnergyTable* energy = nullptr;
  Json resolved_config;
  std::vector<Json> accuracy;  // per op: its accuracy object, or null when it carries no tensors
  uint64_t total_ops = 0;      // ops in the workload (0: workload->ops.size())
  // The priced hardware (capacities, units for leakage); null: no size scaling, no leakage.
  const EnergyContext* energy_context = nullptr;
};

// Builds a report from ops that arrive in windows (a long trace runs a window at a time): each
// op's entry goes out as it arrives (to `ops_json` as the elements of report.json's "ops" array,
// to `ops_csv` as rows of ops.csv; either may be null) and only run totals, the accuracy summary
// and the five longest ops are kept.
class ReportBuilder {
 public:
  static constexpr std::size_t kTopOps = 5;
  ReportBuilder(const RunInputs& in, std::ostream* ops_json, std::ostream* ops_csv);
  // `ops[i]` is the op of `results[i]`; `accuracy[i]` its accuracy or null.
  void add_ops(const std::vector<Op>& ops, const std::vector<OpResult>& results,
               const std::vector<Json>& accuracy);
  void keep_ops(Json* ops) { keep_ = ops; }  // also collect every entry here
  // The report without "ops" (always its last member). result.ops is not read.
  Json finish(const RunResult& result) const;
  // The longest ops (most cycles first, the earlier first among equals).
  const std::vector<Json>& top_ops() const { return top_; }
  uint64_t ops() const { return ops_; }

 private:
  void note_accuracy(const Json& op);
  double leakage_pj(double mw, uint64_t cycles) const;
  const RunInputs& in_;
  std::ostream* ops_json_;
  std::ostream* ops_csv_;
  Json* keep_ = nullptr;
  EnergyLedger total_energy_;
  std::map<std::string, double> leakage_mw_;  // static power per unit
  double leakage_total_mw_ = 0;
  Json by_pass_ = Json::object();  // per pass: seconds and energy (dynamic + leakage) of its ops
  uint64_t total_macs_ = 0, ops_ = 0;
  Json units_ = Json::object();   // per unit: ops run and cycles busy
  double total_full_cycles_ = 0;  // Σ over ops of the cycles its work takes at full throughput
  Json accuracy_ = {{"ops", 0}};
  std::vector<Json> top_;
};

// The report as JSON, "ops" included (the schema is documented in README.md).
Json build_report(const RunInputs& in, const RunResult& result);
void write_ops_csv(std::ostream& out, const Json& report);
// Files the ops went to while the run went (ReportBuilder's streams), under `dir`.
struct StreamedOps {
  std::string json, csv;
};
// Writes config.resolved.json, stats.txt, ops.csv and report.json (last) into `dir` (created if
// needed), each through a temporary file and a rename. The ops come from report["ops"], or from
// `streamed` (whose files are then moved into place). Throws InputError if it cannot.
void write_run_outputs(const std::string& dir, const RunInputs& in, const RunResult& result,
                       const Json& report, const StreamedOps* streamed = nullptr);
// The short human summary printed after a run.
void print_summary(std::ostream& out, const Json& report, const std::string& dir);

}  // namespace nibble
