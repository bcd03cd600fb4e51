// Writing a run's outputs: report.json, config.resolved.json, stats.txt and ops.csv.
//
// Every file is written to a temporary name and renamed into place, report.json last, so a
// report.json on disk always comes with complete companions; a run that fails before writing
// leaves nothing behind. Reports hold no host wall-clock figures, so the same inputs give
// byte-identical files.
#pragma once

#include <ostream>
#include <string>

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
};

// The report as JSON (the schema is documented in README.md).
Json build_report(const RunInputs& in, const RunResult& result);
void write_ops_csv(std::ostream& out, const Json& report);
// Writes the four files into `dir` (created if needed). Throws InputError if it cannot.
void write_run_outputs(const std::string& dir, const RunInputs& in, const RunResult& result,
                       const Json& report);
// The short human summary printed after a run.
void print_summary(std::ostream& out, const Json& report, const std::string& dir);

}  // namespace nibble
