// `nibble run`: simulate one workload on one accelerator config.
#include <cmath>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
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
#include "sim/timeline.h"
#include "sim/vcd.h"
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

Json accuracy_json(const OpAccuracy& a) {
  const double fp4 = static_cast<double>(a.fp4_elements);
  return {{"reference", "fp32"},
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

// Loads and quantizes the tensors of every op that carries them, before simulating, so that a bad
// tensor is reported before anything runs or is written. The units fill in their results.
struct PreparedData {
  std::vector<OpData> data;                           // per op, for the units
  std::vector<std::optional<PreparedAccuracy>> gemm;  // per op: GEMM accuracy so far
};

PreparedData prepare_data(const Workload& workload) {
  PreparedData p;
  p.data.resize(workload.ops.size());
  p.gemm.resize(workload.ops.size());
  for (std::size_t i = 0; i < workload.ops.size(); ++i) {
    const Op& op = workload.ops[i];
    if (!op.tensors) continue;
    try {
      if (op.type == OpType::kQuantize) {
        prepare_quantize_data(op, p.data[i].quantize.emplace());
      } else {
        p.gemm[i] = prepare_gemm_accuracy(op, p.data[i].gemm.emplace());
      }
    } catch (const std::invalid_argument& e) {  // a numerics precondition the tensors broke
      throw InputError(workload.file + ": op \"" + op.name + "\": " + e.what());
    } catch (const std::out_of_range& e) {
      throw InputError(workload.file + ": op \"" + op.name + "\": " + e.what());
    }
  }
  return p;
}

// The accuracy of a finished op with tensors (null for the others).
Json op_accuracy(const Op& op, OpData& data, std::optional<PreparedAccuracy>& gemm) {
  if (gemm && data.gemm && data.gemm->computed) {
    return accuracy_json(finish_gemm_accuracy(*data.gemm, std::move(*gemm)));
  }
  if (data.quantize && data.quantize->computed) {
    return accuracy_json(quantize_accuracy(op, *data.quantize));
  }
  return Json();
}

}  // namespace

int run_command(int argc, char* argv[]) {
  std::string config_file, workload_file, out_dir;
  std::vector<std::string> sets;
  bool quiet = false, ideal_memory = false, serial = false, timeline = false;
  std::size_t window_ops = 4096;
  uint64_t timeline_max_events = 1000000;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "config,c", po::value(&config_file)->value_name("FILE"), "accelerator config (JSON)")(
      "workload,w", po::value(&workload_file)->value_name("FILE"),
      "workload: a nibble trace (JSON) or a SCALE-Sim topology (CSV)")(
      "set,s", po::value(&sets)->value_name("KEY=VALUE")->composing(),
      "override a config value, e.g. accelerator.core.mac_array.rows=16 (repeatable)")(
      "out,o", po::value(&out_dir)->value_name("DIR"), "output directory")(
      "ideal-memory", po::bool_switch(&ideal_memory),
      "transfers take no time (same as --set sim.ideal_memory=true)")(
      "serial", po::bool_switch(&serial),
      "run ops strictly one after another (same as --set accelerator.scheduler.policy=serial)")(
      "timeline", po::bool_switch(&timeline),
      "also write timeline.json (Chrome trace events: Perfetto, chrome://tracing)")(
      "timeline-max-events",
      po::value(&timeline_max_events)->value_name("N")->default_value(1000000),
      "stop adding to timeline.json after N events (the file says it was cut)")(
      "window-ops", po::value(&window_ops)->value_name("N")->default_value(4096),
      "simulate N ops at a time: memory stays bounded on long traces; results do not depend "
      "on N")("quiet,q", po::bool_switch(&quiet), "print nothing but errors");
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
  if (window_ops == 0) throw InputError("run: --window-ops: expected an integer >= 1, found 0");

  // Read and check every input before simulating or writing anything.
  ConfigDoc doc = ConfigDoc::load(config_file);
  for (const auto& set : sets) doc.apply_set(set);
  if (ideal_memory) doc.apply_set("sim.ideal_memory=true");
  if (serial) doc.apply_set("accelerator.scheduler.policy=serial");
  Json resolved = Json::object();
  ConfigNode root(doc, &resolved);
  root.get_string("description", "");
  const SimSettings settings = SimSettings::from_config(root);
  ConfigNode energy_node = root.child("energy");
  const std::string table_path =
      resolve_table_path(doc, energy_node.get_string("table", "energy/45nm.json"));
  energy_node.finish();

  // The trace is read twice: once to check every op (a unit runs it, the energy table prices it,
  // its tensors load) before anything is written, then a window of ops at a time to simulate, so
  // that memory stays bounded whatever the trace's length.
  WorkloadReader reader(workload_file);
  Workload window = reader.header();
  if (out_dir.empty()) out_dir = "nibble-out/" + stem(config_file) + "-" + stem(workload_file);

  // Waveforms of chosen PEs (cycle fidelity), streamed to a temporary file renamed at the end.
  if (!settings.vcd_pes.empty() && settings.fidelity != Fidelity::kCycle) {
    throw InputError(doc.origin_of("sim.vcd_pes") +
                     ": sim.vcd_pes: waveforms need sim.fidelity \"cycle\", found \"tile\"");
  }
  // The writer writes nothing before the simulation's first cycle; its file is opened only once
  // every input has been checked, so bad input leaves nothing behind.
  std::ofstream vcd_file;
  std::unique_ptr<VcdWriter> vcd;
  const fs::path vcd_tmp = fs::path(out_dir) / ".waves.vcd.tmp";
  if (!settings.vcd_pes.empty()) vcd = std::make_unique<VcdWriter>(vcd_file, "1ps");

  // Elaboration builds the units from config; the ops come window by window.
  Accelerator top("accelerator", root.child("accelerator"), settings, window, nullptr, vcd.get());
  root.finish();
  const EnergyTable table = EnergyTable::load(table_path);
  const EnergyContext energy_context = top.energy_context();
  table.leakage_mw(energy_context);  // every unit present needs its static power
  {
    std::set<std::string> checked;
    Op op;
    while (reader.next(op)) {
      for (const std::string& event : top.energy_events(op)) {
        if (checked.insert(event).second && !table.has(event)) {
          throw InputError(table.file() + ": events." + event + ": missing; op \"" + op.name +
                           "\" needs the energy of this event (add an entry with its source)");
        }
      }
      if (op.tensors) {
        Workload one;
        one.file = window.file;
        one.ops.push_back(op);
        prepare_data(one);
      }
    }
  }
  const uint64_t total_ops = reader.index();
  reader.rewind();

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir)) {
    throw InputError(out_dir + ": cannot create the output directory (" + ec.message() + ")");
  }
  if (vcd) {
    vcd_file.open(vcd_tmp, std::ios::binary | std::ios::trunc);
    if (!vcd_file) throw InputError(vcd_tmp.string() + ": cannot write the waveform file");
  }
  // The timeline, streamed to a temporary file renamed at the end.
  std::ofstream timeline_file;
  std::unique_ptr<TimelineWriter> timeline_writer;
  const fs::path timeline_tmp = fs::path(out_dir) / ".timeline.json.tmp";
  if (timeline) {
    timeline_file.open(timeline_tmp, std::ios::binary | std::ios::trunc);
    if (!timeline_file) throw InputError(timeline_tmp.string() + ": cannot write the timeline");
    timeline_writer =
        std::make_unique<TimelineWriter>(timeline_file, settings.core_mhz, timeline_max_events);
    top.set_timeline(timeline_writer.get());
  }
  // Each op's report entry and CSV row are written as its window finishes.
  const StreamedOps streamed{(fs::path(out_dir) / ".ops.json.part").string(),
                             (fs::path(out_dir) / ".ops.csv.tmp").string()};
  std::ofstream ops_json(streamed.json, std::ios::binary | std::ios::trunc);
  std::ofstream ops_csv(streamed.csv, std::ios::binary | std::ios::trunc);
  if (!ops_json || !ops_csv) throw InputError(out_dir + ": cannot write the op results");
  const auto discard = [&] {
    ops_json.close();
    ops_csv.close();
    vcd_file.close();
    timeline_file.close();
    for (const fs::path& f :
         {fs::path(streamed.json), fs::path(streamed.csv), vcd_tmp, timeline_tmp}) {
      fs::remove(f, ec);
    }
  };

  RunInputs inputs;
  inputs.config_file = config_file;
  inputs.sets = sets;
  inputs.workload = &window;
  inputs.energy = &table;
  inputs.resolved_config = resolved;
  inputs.total_ops = total_ops;
  inputs.energy_context = &energy_context;
  ReportBuilder builder(inputs, &ops_json, &ops_csv);
  install_interrupt_handlers();
  RunResult result;
  // Ops finish in trace order as far as the report sees them; their GEMM accuracies wait here.
  std::deque<std::optional<PreparedAccuracy>> pending;
  const auto add_window = [&] {
    window.ops.clear();
    Op op;
    while (window.ops.size() < window_ops && reader.next(op)) window.ops.push_back(op);
    PreparedData prepared = prepare_data(window);
    for (auto& g : prepared.gemm) pending.push_back(std::move(g));
    top.add_window(window.ops, std::move(prepared.data), reader.index() == total_ops);
  };
  try {
    add_window();
    for (;;) {
      sc_core::sc_start();
      std::vector<FinishedOp> done = top.take_ops();
      std::vector<Op> ops;
      std::vector<OpResult> results;
      std::vector<Json> accuracy;
      for (FinishedOp& f : done) {
        accuracy.push_back(op_accuracy(f.op, f.data, pending.front()));
        pending.pop_front();
        ops.push_back(std::move(f.op));
        results.push_back(std::move(f.result));
      }
      builder.add_ops(ops, results, accuracy);
      if (!top.needs_window()) break;
      add_window();
    }
    result = top.result();
    ops_json.close();
    ops_csv.close();
    if (!ops_json || !ops_csv) throw InputError(out_dir + ": cannot write the op results");
  } catch (...) {
    discard();
    throw;
  }
  if (timeline_writer) {
    top.finish_timeline();
    timeline_writer->close();
    timeline_file.close();
    fs::rename(timeline_tmp, fs::path(out_dir) / "timeline.json", ec);
    if (ec || !timeline_file)
      throw InputError(out_dir + "/timeline.json: cannot write (" + ec.message() + ")");
  }
  if (vcd) {
    vcd->close();
    vcd_file.close();
    fs::rename(vcd_tmp, fs::path(out_dir) / "waves.vcd", ec);
    if (ec || !vcd_file)
      throw InputError(out_dir + "/waves.vcd: cannot write (" + ec.message() + ")");
  }

  Json report = builder.finish(result);
  write_run_outputs(out_dir, inputs, result, report, &streamed);
  if (!quiet) {
    Json view = report;
    view["ops"] = builder.top_ops();
    print_summary(std::cout, view, out_dir);
  }
  if (!result.complete) {
    std::cerr << "nibble: interrupted; wrote the report of the " << builder.ops()
              << " finished ops to " << out_dir << "/report.json\n";
    return 128 + (interrupt_signal() != 0 ? interrupt_signal() : 2);
  }
  return 0;
}

}  // namespace nibble
