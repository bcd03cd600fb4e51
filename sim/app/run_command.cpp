// `nibble run`: simulate one workload on one accelerator config.
#include <cmath>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "models/accelerator/accelerator.h"
#include "models/accuracy/op_accuracy.h"
#include "sim/app/commands.h"
#include "sim/config.h"
#include "sim/energy.h"
#include "sim/error.h"
#include "sim/interrupt.h"
#include "sim/report.h"
#include "sim/workload.h"

namespace nibble {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

const char* const kRunUsage =
    "usage: nibble run --config FILE --workload FILE [--set dotted.key=value]... [--out DIR]\n"
    "                  [--quiet]\n"
    "\n"
    "Simulates the workload (a JSON trace or a SCALE-Sim topology CSV) on the accelerator the\n"
    "config describes, prints a short summary and writes report.json, config.resolved.json,\n"
    "stats.txt and ops.csv into DIR (default: nibble-out/<config>-<workload>).\n"
    "Exit status: 0 done, 2 bad input (nothing written), 130 interrupted (report of the finished\n"
    "ops, marked \"status\": \"interrupted\").\n"
    "\n";

std::string stem(const std::string& path) { return fs::path(path).stem().string(); }

// A relative energy-table path is relative to the config file that names it, or to the working
// directory when it came from --set.
std::string resolve_table_path(const ConfigDoc& doc, const std::string& table) {
  if (table.empty() || fs::path(table).is_absolute()) return table;
  if (doc.origin_of("energy.table").rfind("--set", 0) == 0) return table;
  const fs::path dir = fs::path(doc.file()).parent_path();
  return (dir / table).lexically_normal().string();
}

// JSON has no infinity: a perfect match's SQNR is written as null.
Json finite_or_null(double v) { return std::isfinite(v) ? Json(v) : Json(); }

// Accuracy of every op that carries tensors (null for the others), computed before simulating so
// that a bad tensor is reported before anything runs or is written.
std::vector<Json> op_accuracies(const Workload& workload, const AcceleratorParams& params,
                                uint64_t seed) {
  AccuracyParams p;
  p.acc_bits = params.mac_array.acc_bits;
  p.acc_saturate = params.mac_array.acc_saturate;
  p.fp16_chunk = params.mac_array.fp16_chunk;
  p.stochastic_rounding = params.mac_array.stochastic_rounding;
  p.seed = seed;
  std::vector<Json> out(workload.ops.size());
  for (std::size_t i = 0; i < workload.ops.size(); ++i) {
    const Op& op = workload.ops[i];
    if (!op.tensors) continue;
    OpAccuracy a;
    try {
      a = evaluate_accuracy(op, p);
    } catch (const std::invalid_argument& e) {  // a numerics precondition the tensors broke
      throw InputError(workload.file + ": op \"" + op.name + "\": " + e.what());
    } catch (const std::out_of_range& e) {
      throw InputError(workload.file + ": op \"" + op.name + "\": " + e.what());
    }
    const double fp4 = static_cast<double>(a.fp4_elements);
    out[i] = {
        {"reference", "fp32"},
        {"kernel", a.kernel},
        {"outputs", a.outputs},
        {"rel_l2", finite_or_null(a.rel_l2)},
        {"sqnr_db", finite_or_null(a.sqnr_db)},
        {"cosine", finite_or_null(a.cosine)},
        {"max_abs_error", a.max_abs},
        {"fp4_elements", a.fp4_elements},
        {"fp4_flushed_fraction", fp4 > 0 ? static_cast<double>(a.fp4_flushed) / fp4 : 0.0},
        {"fp4_saturated_fraction", fp4 > 0 ? static_cast<double>(a.fp4_saturated) / fp4 : 0.0},
        {"fp4_phase", a.fp4_phase.empty() ? Json() : Json(a.fp4_phase)},
        {"grad_scale_log2", a.grad_scale_log2 ? Json(*a.grad_scale_log2) : Json()},
        {"int_clipped", a.int_saturated},
        {"acc_overflows", a.acc_overflows},
        {"non_finite_outputs", a.non_finite_outputs}};
  }
  return out;
}

}  // namespace

int run_command(int argc, char* argv[]) {
  std::string config_file, workload_file, out_dir;
  std::vector<std::string> sets;
  bool quiet = false;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "config,c", po::value(&config_file)->value_name("FILE"), "accelerator config (JSON)")(
      "workload,w", po::value(&workload_file)->value_name("FILE"),
      "workload: a nibble trace (JSON) or a SCALE-Sim topology (CSV)")(
      "set,s", po::value(&sets)->value_name("KEY=VALUE")->composing(),
      "override a config value, e.g. accelerator.core.mac_array.rows=16 (repeatable)")(
      "out,o", po::value(&out_dir)->value_name("DIR"), "output directory")(
      "quiet,q", po::bool_switch(&quiet), "print nothing but errors");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError(std::string("run: ") + e.what() + " (try 'nibble run --help')");
  }
  if (vm.count("help")) {
    std::cout << kRunUsage << options;
    return 0;
  }
  if (config_file.empty()) throw InputError("run: --config FILE is required");
  if (workload_file.empty()) throw InputError("run: --workload FILE is required");

  // Read and check every input before simulating or writing anything.
  ConfigDoc doc = ConfigDoc::load(config_file);
  for (const auto& s : sets) doc.apply_set(s);
  Json resolved = Json::object();
  ConfigNode root(doc, &resolved);
  const AcceleratorParams params = AcceleratorParams::from_config(root);
  ConfigNode energy_node = root.child("energy");
  const std::string table_path =
      resolve_table_path(doc, energy_node.get_string("table", "energy/45nm.json"));
  energy_node.finish();
  ConfigNode sim_node = root.child("sim");
  const auto seed = static_cast<uint64_t>(sim_node.get_int("seed", 1, 0, int64_t{1} << 62));
  sim_node.finish();
  root.finish();

  const Workload workload = read_workload(workload_file);
  const EnergyTable table = EnergyTable::load(table_path);
  for (const auto& [event, op] : required_energy_events(workload)) {
    if (!table.has(event)) {
      throw InputError(table.file() + ": events." + event + ": missing; op \"" + op +
                       "\" needs the energy of this event (add an entry with its source)");
    }
  }
  std::vector<Json> accuracy = op_accuracies(workload, params, seed);

  if (out_dir.empty()) out_dir = "nibble-out/" + stem(config_file) + "-" + stem(workload_file);

  install_interrupt_handlers();
  const RunResult result = simulate(params, workload);

  RunInputs inputs;
  inputs.config_file = config_file;
  inputs.sets = sets;
  inputs.workload = &workload;
  inputs.energy = &table;
  inputs.resolved_config = resolved;
  inputs.accuracy = std::move(accuracy);
  const Json report = build_report(inputs, result);
  write_run_outputs(out_dir, inputs, result, report);
  if (!quiet) print_summary(std::cout, report, out_dir);
  if (!result.complete) {
    std::cerr << "nibble: interrupted; wrote the report of the " << result.ops.size()
              << " finished ops to " << out_dir << "/report.json\n";
    return 128 + (interrupt_signal() != 0 ? interrupt_signal() : 2);
  }
  return 0;
}

}  // namespace nibble
