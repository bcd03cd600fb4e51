#include "models/accelerator/accelerator.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <stdexcept>
#include <string>

#include "models/accelerator/units.h"
#include "sim/error.h"
#include "sim/interrupt.h"

namespace nibble {

namespace {

// "r,c r,c ..." (spaces or semicolons between PEs).
std::vector<TracedPe> parse_pes(const std::string& text, const std::string& where) {
  std::vector<TracedPe> pes;
  std::string spec = text;
  std::replace(spec.begin(), spec.end(), ';', ' ');
  std::istringstream in(spec);
  std::string item;
  const auto bad = [&]() {
    return InputError(where + ": expected PEs as \"row,col\" pairs of non-negative integers " +
                      "separated by spaces or ';', each once (e.g. \"0,0 1,2\"), found \"" + text +
                      "\"");
  };
  const auto digits = [](const std::string& t) {
    return !t.empty() && t.size() <= 6 &&
           std::all_of(t.begin(), t.end(), [](unsigned char ch) { return std::isdigit(ch) != 0; });
  };
  while (in >> item) {
    const auto comma = item.find(',');
    const std::string row = item.substr(0, comma);
    const std::string col = comma == std::string::npos ? "" : item.substr(comma + 1);
    if (!digits(row) || !digits(col)) throw bad();
    const TracedPe pe{std::stoull(row), std::stoull(col)};
    if (std::any_of(pes.begin(), pes.end(),
                    [&](const TracedPe& p) { return p.row == pe.row && p.col == pe.col; })) {
      throw bad();
    }
    pes.push_back(pe);
  }
  return pes;
}

}  // namespace

SimSettings SimSettings::from_config(ConfigNode& root) {
  SimSettings s;
  ConfigNode clock = root.child("clock");
  s.core_mhz = clock.get_double("core_mhz", s.core_mhz, 1, 100000);
  clock.finish();
  ConfigNode sim = root.child("sim");
  s.fidelity = sim.get_choice("fidelity", "tile", {"tile", "cycle"}) == "cycle" ? Fidelity::kCycle
                                                                                : Fidelity::kTile;
  s.seed = static_cast<uint64_t>(sim.get_int("seed", 1, 0, int64_t{1} << 62));
  const std::string pes = sim.get_string("vcd_pes", "");
  s.vcd_pes_origin = sim.origin_of("vcd_pes");
  s.vcd_pes = parse_pes(pes, s.vcd_pes_origin + ": sim.vcd_pes");
  sim.finish();
  return s;
}

Accelerator::Accelerator(sc_core::sc_module_name name, ConfigNode accelerator,
                         const SimSettings& settings, const Workload& workload,
                         std::vector<OpData>* data, VcdWriter* vcd)
    : sc_module(name), settings_(settings), workload_(workload), clock_("core", settings.core_mhz) {
  context_.workload = &workload_;
  context_.clock = &clock_;
  context_.fidelity = settings.fidelity;
  context_.data = data;
  context_.vcd = vcd;
  context_.traced_pes = settings.vcd_pes;
  context_.seed = settings.seed;

  ConfigNode core = accelerator.child("core");
  for (const UnitRole& role : unit_roles()) {
    ConfigNode node = core.child(role.name);
    const UnitRegistry& registry = unit_registry(role.name);
    const std::string impl = node.get_choice("impl", role.default_impl, registry.names());
    slots_.push_back({role.name, registry.create(impl, role.name, node, context_)});
  }
  core.finish();
  accelerator.finish();

  // Every traced PE must exist in some array.
  for (const TracedPe& pe : settings.vcd_pes) {
    const bool found = std::any_of(slots_.begin(), slots_.end(),
                                   [&](const Slot& s) { return s.unit->has_pe(pe.row, pe.col); });
    if (!found) {
      throw InputError(settings.vcd_pes_origin + ": sim.vcd_pes: PE " + std::to_string(pe.row) +
                       "," + std::to_string(pe.col) + " is outside every array of the core");
    }
  }

  // Every op must have a unit able to run it, before anything runs.
  op_slot_.reserve(workload.ops.size());
  for (const Op& op : workload.ops) {
    const std::size_t slot = route(op);
    try {
      slots_[slot].unit->check(op);
    } catch (const InputError& e) {
      throw InputError(workload.file + ": " + e.what());
    }
    op_slot_.push_back(slot);
  }
  records_.reserve(workload.ops.size());
  SC_THREAD(control);
}

Accelerator::~Accelerator() = default;

// The specialised units first; the MAC array takes every GEMM they leave.
std::size_t Accelerator::route(const Op& op) const {
  for (const char* role : {"log_grad", "rescale", "sfu", "mac_array"}) {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].role == role && slots_[i].unit->accepts(op)) return i;
    }
  }
  throw InputError(workload_.file + ": op \"" + op.name + "\": no unit of the core runs a " +
                   to_string(op.type) + " op");
}

std::vector<std::pair<std::string, std::string>> Accelerator::required_energy_events() const {
  std::vector<std::pair<std::string, std::string>> events;
  for (std::size_t i = 0; i < workload_.ops.size(); ++i) {
    const Op& op = workload_.ops[i];
    for (const std::string& e : slots_[op_slot_[i]].unit->energy_events(op)) {
      const bool seen = std::any_of(events.begin(), events.end(),
                                    [&](const auto& known) { return known.first == e; });
      if (!seen) events.emplace_back(e, op.name);
    }
  }
  return events;
}

void Accelerator::control() {
  for (uint32_t i = 0; i < workload_.ops.size(); ++i) {
    if (interrupt_requested()) break;
    OpRecord rec;
    rec.slot = op_slot_[i];
    ComputeUnit& unit = *slots_[rec.slot].unit;
    rec.start_cycle = clock_.now();
    unit.tasks.write(i);
    uint32_t finished = 0;
    unit.done.read(finished);
    if (finished != i) throw std::logic_error("a unit finished ops out of order");
    rec.end_cycle = clock_.now();
    rec.unit = unit.last_record();
    records_.push_back(std::move(rec));
  }
  complete_ = records_.size() == workload_.ops.size();
  sc_core::sc_stop();
}

RunResult Accelerator::result() const {
  RunResult r;
  r.complete = complete_;
  r.clock_mhz = settings_.core_mhz;
  r.cycles = records_.empty() ? 0 : records_.back().end_cycle;
  r.hardware = {{"cores", 1}, {"fidelity", to_string(settings_.fidelity)}};
  for (const Slot& s : slots_) r.hardware[s.role] = s.unit->describe();
  r.hardware["memory"] = "ideal";
  for (const Slot& s : slots_) {
    r.peak_macs_per_cycle = std::max(r.peak_macs_per_cycle, s.unit->peak_macs_per_cycle());
  }
  for (std::size_t i = 0; i < records_.size(); ++i) {
    const OpRecord& rec = records_[i];
    OpResult o;
    o.start_cycle = rec.start_cycle;
    o.end_cycle = rec.end_cycle;
    o.unit = slots_[rec.slot].role;
    o.macs = rec.unit.macs;
    o.elements = rec.unit.elements;
    o.tiles = rec.unit.tiles;
    o.peak_work_per_cycle = rec.unit.peak_work_per_cycle;
    o.energy = rec.unit.energy;
    o.mapping = rec.unit.mapping;
    o.checks = rec.unit.checks;
    r.ops.push_back(std::move(o));
  }
  // The controller stops only between ops, so the units' counters are the finished ops' sums.
  for (const Slot& s : slots_) s.unit->add_stats(r.stats, "core0." + s.role + ".");
  return r;
}

RunResult simulate(const Json& config, const Workload& workload, std::vector<OpData>* data) {
  const ConfigDoc doc = ConfigDoc::from_json(config, "config");
  Json resolved = Json::object();
  ConfigNode root(doc, &resolved);
  const SimSettings settings = SimSettings::from_config(root);
  Accelerator top("accelerator", root.child("accelerator"), settings, workload, data);
  root.finish();
  sc_core::sc_start();
  return top.result();
}

}  // namespace nibble
