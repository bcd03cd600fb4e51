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
  s.ideal_memory = sim.get_bool("ideal_memory", false);
  sim.finish();
  return s;
}

namespace {

uint64_t ceil_log2(uint64_t x) {
  uint64_t bits = 0;
  while ((uint64_t{1} << bits) < x) ++bits;
  return bits;
}

bool integer_precision(Precision p) {
  const std::string d = datapath_of(p);
  return d == "int2" || d == "int4" || d == "int8";
}

struct LimitSpec {
  const char* name;
  const char* unit;
  const char* description;
};
// The limits a config may declare under accelerator.limits, and what each check measures.
const LimitSpec kLimits[] = {
    {"scratchpad_bytes", "byte", "most bytes a core's scratchpad held at once"},
    {"shared_buffer_bytes", "byte", "most bytes the shared buffer held at once"},
    {"dram_bandwidth_gbps", "GB/s",
     "DRAM bandwidth an op needs to keep its cores busy: its DRAM bytes over its busiest core's "
     "compute cycles (the most over ops)"},
    {"acc_bits", "bit",
     "integer accumulator width that cannot overflow: a_bits + b_bits + ceil(log2 K) (the most "
     "over integer GEMMs)"},
    {"psum_buffer_bytes", "byte", "partial-sum buffer a ws/is array needed (the most over tiles)"},
    {"dma_queue_depth", "burst", "most DMA bursts one core had in flight at once"},
};

}  // namespace

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

  chip_.clock = &clock_;
  chip_.workload = &workload_;
  chip_.ideal = settings.ideal_memory;
  chip_.cores = static_cast<uint64_t>(accelerator.get_int("cores", 1, 1, 256));
  arbiter_ = std::make_unique<MemoryArbiter>("memory_arbiter", clock_);
  chip_.arbiter = arbiter_.get();
  for (uint64_t c = 0; c < chip_.cores; ++c) {
    // Waveforms come from core 0's arrays.
    UnitContext ctx = context_;
    if (c > 0) ctx.vcd = nullptr, ctx.traced_pes.clear();
    const std::string core_name = "core" + std::to_string(c);
    cores_.push_back(
        std::make_unique<Core>(core_name.c_str(), c, accelerator.child("core"), ctx, chip_));
    chip_.dmas.push_back(&cores_.back()->dma());
  }

  ConfigNode dram = accelerator.child("dram");
  const DramRegistry& dram_impls = dram_registry();
  const std::string dram_impl = dram.get_choice("impl", "BandwidthLatency", dram_impls.names());
  chip_.dram = dram_impls.create(dram_impl, dram, settings.core_mhz);
  chip_.reservation_dram = dynamic_cast<ReservationDram*>(chip_.dram.get());
  dram.finish();
  ConfigNode ring = accelerator.child("ring");
  RingParams ring_params;
  ring_params.read(ring);
  ring.finish();
  chip_.ring = std::make_unique<Ring>(ring_params, chip_.cores);
  ConfigNode sb = accelerator.child("shared_buffer");
  if (sb.get_bool("enabled", false)) {
    SharedBufferParams sb_params;
    sb_params.read(sb);
    chip_.shared_buffer = std::make_unique<SharedBuffer>(sb_params);
  }
  sb.finish();
  ConfigNode mapper = accelerator.child("mapper");
  mapper_.read(mapper);
  mapper.finish();
  for (auto& core : cores_) core->set_buffers(mapper_.double_buffer ? 2 : 1);
  ConfigNode limits = accelerator.child("limits");
  const std::vector<std::string> declared = limits.keys();
  for (const LimitSpec& spec : kLimits) {
    if (std::find(declared.begin(), declared.end(), spec.name) == declared.end()) continue;
    limits_.push_back(
        {spec.name, spec.unit, spec.description, limits.get_double(spec.name, 0, 0, 1e18)});
  }
  limits.finish();
  accelerator.finish();

  // Every traced PE must exist in some array.
  for (const TracedPe& pe : settings.vcd_pes) {
    const auto& slots = cores_[0]->slots();
    const bool found = std::any_of(slots.begin(), slots.end(), [&](const Core::Slot& s) {
      return s.unit->has_pe(pe.row, pe.col);
    });
    if (!found) {
      throw InputError(settings.vcd_pes_origin + ": sim.vcd_pes: PE " + std::to_string(pe.row) +
                       "," + std::to_string(pe.col) + " is outside every array of the core");
    }
  }

  load_window();
  SC_THREAD(control);
}

std::size_t Accelerator::check_op(const Op& op) const {
  if (op.type == OpType::kAllReduce) return kRingSlot;
  const std::size_t slot = route(op);
  try {
    cores_[0]->slots()[slot].unit->check(op);
  } catch (const InputError& e) {
    throw InputError(workload_.file + ": " + e.what());
  }
  return slot;
}

// Every op of the window must have a unit able to run it, and a mapping, before any runs.
void Accelerator::load_window() {
  chip_.op_slot.clear();
  chip_.plans.clear();
  chip_.whole.clear();
  chip_.op_slot.reserve(workload_.ops.size());
  for (const Op& op : workload_.ops) chip_.op_slot.push_back(check_op(op));
  plan(mapper_);
  records_.reserve(workload_.ops.size());
}

void Accelerator::next_window(bool last) {
  load_window();
  last_window_ = last;
  window_ready_.notify(sc_core::SC_ZERO_TIME);
}

Accelerator::~Accelerator() = default;

void Accelerator::plan(const MapperParams& mapper) {
  const BankedSram& sram = cores_[0]->scratchpad();
  const uint64_t width = sram.params().bank_width_bytes;
  MapperTarget target;
  target.cores = chip_.cores;
  target.row_bytes = [&sram, width](uint64_t bits) { return sram.pitch_words(bits) * width; };
  if (chip_.ideal) {
    // Nothing to wait for: each core's part fits as one tile unless the compute says otherwise.
    target.whole_tiles = true;
    target.scratchpad_bytes = ~uint64_t{0} / 4;
    target.dram_bytes_per_cycle = 1e30;
    target.dram_latency_cycles = 0;
    target.broadcast_cycles = [](uint64_t) { return uint64_t{0}; };
    target.reduce_scatter_cycles = [](uint64_t) { return uint64_t{0}; };
  } else {
    target.scratchpad_bytes = sram.params().capacity_bytes;
    target.dram_bytes_per_cycle = chip_.dram->peak_bytes_per_cycle();
    target.dram_latency_cycles = chip_.dram->latency_cycles();
    const DmaParams& dma = cores_[0]->dma().params();
    target.core_bytes_per_cycle =
        static_cast<double>(dma.outstanding * dma.burst_bytes) /
        static_cast<double>(std::max<uint64_t>(1, target.dram_latency_cycles));
    const Ring* ring = chip_.ring.get();
    target.broadcast_cycles = [ring](uint64_t bytes) { return ring->broadcast_cycles(bytes); };
    target.reduce_scatter_cycles = [ring](uint64_t bytes) {
      return ring->reduce_scatter_cycles(bytes);
    };
  }
  for (std::size_t i = 0; i < workload_.ops.size(); ++i) {
    const Op& op = workload_.ops[i];
    if (chip_.op_slot[i] == kRingSlot) {  // the ring runs it; nothing to map
      chip_.plans.emplace_back();
      chip_.whole.push_back(0);
      continue;
    }
    const ComputeUnit& unit = *cores_[0]->slots()[chip_.op_slot[i]].unit;
    target.compute_cycles = [&unit, &op](const GemmShape& shape) {
      return unit.tile_cycles(op, shape);
    };
    try {
      chip_.plans.push_back(
          map_op(op, work_shape(op), unit.tile_bits(op), mapper, target, op.split));
    } catch (const InputError& e) {
      throw InputError(workload_.file + ": " + e.what());
    }
    const OpPlan& p = chip_.plans.back();
    chip_.whole.push_back(p.active_cores() == 1 && p.tiles_per_core() == 1 ? 1 : 0);
    if (op.is_gemm() && integer_precision(op.precision.a) && integer_precision(op.precision.b)) {
      acc_bits_needed_ =
          std::max(acc_bits_needed_,
                   bits_of(op.precision.a) + bits_of(op.precision.b) + ceil_log2(op.gemm.k));
    }
  }
}

// The specialised units first; the MAC array takes every GEMM they leave.
std::size_t Accelerator::route(const Op& op) const {
  const auto& slots = cores_[0]->slots();
  for (const char* role : {"log_grad", "rescale", "sfu", "mac_array"}) {
    for (std::size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].role == role && slots[i].unit->accepts(op)) return i;
    }
  }
  throw InputError(workload_.file + ": op \"" + op.name + "\": no unit of the core runs a " +
                   to_string(op.type) + " op");
}

std::vector<std::string> Accelerator::energy_events(const Op& op) const {
  if (op.type == OpType::kAllReduce) {
    if (chip_.cores > 1) return {"ring.byte_hop", "clock.core_cycle"};
    return {"clock.core_cycle"};
  }
  std::vector<std::string> events = cores_[0]->slots()[check_op(op)].unit->energy_events(op);
  for (const char* e : {"scratchpad.write_byte", "scratchpad.read_byte", "dram.read_byte",
                        "dram.write_byte", "clock.core_cycle"}) {
    events.emplace_back(e);
  }
  if (chip_.cores > 1) events.emplace_back("ring.byte_hop");
  if (chip_.shared_buffer) {
    events.emplace_back("shared_buffer.read_byte");
    events.emplace_back("shared_buffer.write_byte");
  }
  return events;
}

std::vector<std::pair<std::string, std::string>> Accelerator::required_energy_events() const {
  std::vector<std::pair<std::string, std::string>> events;
  for (const Op& op : workload_.ops) {
    for (const std::string& e : energy_events(op)) {
      const bool seen = std::any_of(events.begin(), events.end(),
                                    [&](const auto& known) { return known.first == e; });
      if (!seen) events.emplace_back(e, op.name);
    }
  }
  return events;
}

namespace {

// Memory counters of the whole chip, to take per-op differences.
struct MemorySnapshot {
  uint64_t dram_read = 0, dram_write = 0, sb_read = 0, sb_write = 0, ring_byte_hops = 0;
  uint64_t fill = 0, drain = 0;
};

MemorySnapshot snapshot(const ChipMemory& chip, const std::vector<std::unique_ptr<Core>>& cores) {
  MemorySnapshot s;
  s.dram_read = chip.dram_read_bytes;
  s.dram_write = chip.dram_write_bytes;
  if (chip.shared_buffer) {
    s.sb_read = chip.shared_buffer->read_bytes();
    s.sb_write = chip.shared_buffer->write_bytes();
  }
  s.ring_byte_hops = chip.ring->byte_hops();
  for (const auto& c : cores) {
    s.fill += c->scratchpad().write_bytes();
    s.drain += c->scratchpad().read_bytes();
  }
  return s;
}

}  // namespace

void Accelerator::control() {
  for (;;) {
    run_window();
    if (interrupted_ || last_window_) break;
    wait(window_ready_);  // nothing else runs: sc_start() returns until next_window()
  }
  complete_ = !interrupted_;
  sc_core::sc_stop();
}

void Accelerator::run_window() {
  for (uint32_t i = 0; i < workload_.ops.size(); ++i) {
    if (interrupt_requested()) {
      interrupted_ = true;
      break;
    }
    const Op& op = workload_.ops[i];
    const OpPlan& plan = chip_.plans[i];
    OpRecord rec;
    rec.slot = chip_.op_slot[i];
    rec.start_cycle = clock_.now();
    const bool ring = rec.slot == kRingSlot;
    Json value_checks = Json::object();
    if (!ring && !chip_.whole[i]) {
      cores_[0]->slots()[rec.slot].unit->compute_values(i, op, value_checks);
    }
    if (chip_.shared_buffer) chip_.shared_buffer->begin_op(i);
    const MemorySnapshot before = snapshot(chip_, cores_);
    std::vector<CoreOpResult> parts;
    if (ring) {
      parts = all_reduce(op, rec.unit);
    } else {
      for (auto& core : cores_) core->start(i);
      for (auto& core : cores_) parts.push_back(core->finished());
    }
    rec.end_cycle = clock_.now();
    const MemorySnapshot after = snapshot(chip_, cores_);

    StallCycles stalls{};
    uint64_t busy = 0, busiest = 0, high_water = 0;
    bool first = true;
    for (const CoreOpResult& part : parts) {
      for (std::size_t c = 0; c < kStallCauses; ++c) stalls[c] += part.stalls[c];
      stalls[static_cast<std::size_t>(StallCause::kDependency)] += rec.end_cycle - part.end_cycle;
      busy += part.busy_cycles;
      busiest = std::max(busiest, part.busy_cycles);
      high_water = std::max(high_water, part.scratchpad_high_water);
      if (part.ran) {
        merge_record(rec.unit, part.record, first);
        first = false;
      }
    }
    for (const auto& [key, value] : value_checks.items()) rec.unit.checks[key] = value;
    rec.unit.peak_work_per_cycle *= plan.active_cores();
    for (std::size_t c = 0; c < kStallCauses; ++c) total_stalls_[c] += stalls[c];
    total_busy_ += busy;

    // Memory energy of the op: DMA fills and drains of the scratchpads, DRAM, shared buffer, ring.
    EnergyLedger& e = rec.unit.energy;
    e.add("scratchpad", "scratchpad.write_byte", static_cast<double>(after.fill - before.fill));
    e.add("scratchpad", "scratchpad.read_byte", static_cast<double>(after.drain - before.drain));
    e.add("dram", "dram.read_byte", static_cast<double>(after.dram_read - before.dram_read));
    e.add("dram", "dram.write_byte", static_cast<double>(after.dram_write - before.dram_write));
    if (chip_.cores > 1) {
      e.add("ring", "ring.byte_hop",
            static_cast<double>(after.ring_byte_hops - before.ring_byte_hops));
    }
    if (chip_.shared_buffer) {
      e.add("shared_buffer", "shared_buffer.read_byte",
            static_cast<double>(after.sb_read - before.sb_read));
      e.add("shared_buffer", "shared_buffer.write_byte",
            static_cast<double>(after.sb_write - before.sb_write));
    }

    const uint64_t cycles = rec.end_cycle - rec.start_cycle;
    // Clock tree and control run on every core every cycle of the op.
    e.add("clock", "clock.core_cycle", static_cast<double>(cycles * chip_.cores));
    const uint64_t dram_bytes =
        after.dram_read - before.dram_read + after.dram_write - before.dram_write;
    const double gb_per_cycle = settings_.core_mhz * 1e6 / 1e9;  // GB/s per byte/cycle
    const double achieved =
        cycles == 0 ? 0
                    : static_cast<double>(dram_bytes) / static_cast<double>(cycles) * gb_per_cycle;
    const double needed = busiest == 0 ? 0
                                       : static_cast<double>(dram_bytes) /
                                             static_cast<double>(busiest) * gb_per_cycle;
    peak_dram_gbps_needed_ = std::max(peak_dram_gbps_needed_, needed);
    peak_scratchpad_ = std::max(peak_scratchpad_, high_water);
    uint64_t sb_high = 0;
    if (chip_.shared_buffer) sb_high = chip_.shared_buffer->high_water();
    peak_shared_buffer_ = std::max(peak_shared_buffer_, sb_high);
    if (rec.unit.checks.contains("psum_buffer_bytes")) {
      peak_psum_buffer_ =
          std::max(peak_psum_buffer_, rec.unit.checks["psum_buffer_bytes"].get<uint64_t>());
    }
    rec.memory = {{"busy_core_cycles", busy},
                  {"stall_core_cycles", to_json(stalls)},
                  {"bytes",
                   {{"dram_read", after.dram_read - before.dram_read},
                    {"dram_write", after.dram_write - before.dram_write},
                    {"shared_buffer_read", after.sb_read - before.sb_read},
                    {"shared_buffer_write", after.sb_write - before.sb_write},
                    {"ring_byte_hops", after.ring_byte_hops - before.ring_byte_hops},
                    {"scratchpad_fill", after.fill - before.fill},
                    {"scratchpad_drain", after.drain - before.drain}}},
                  {"dram_gbps", achieved},
                  {"scratchpad_high_water_bytes", high_water},
                  {"shared_buffer_high_water_bytes", sb_high}};
    // The plan's split and tiles join the unit's mapping of the op's first tile.
    if (!ring) {
      Json mapping = plan.to_json();
      for (const auto& [key, value] : rec.unit.mapping.items()) mapping[key] = value;
      rec.unit.mapping = std::move(mapping);
    }
    last_end_cycle_ = rec.end_cycle;
    dram_read_total_ += after.dram_read - before.dram_read;
    dram_write_total_ += after.dram_write - before.dram_write;
    records_.push_back(std::move(rec));
  }
}

// A gradient reduction across the cores: the ring's all-reduce (models/ring/ring.h) of the op's
// bytes; every core waits for it (ring stalls), no unit computes.
std::vector<CoreOpResult> Accelerator::all_reduce(const Op& op, UnitOpRecord& record) {
  const uint64_t elements = op.vector->elements;
  const uint64_t bytes = (elements * bits_of(op.precision.a) + 7) / 8;
  const uint64_t start = clock_.now();
  const Timeline done =
      arbiter_->request(MemoryArbiter::key(0, MemoryArbiter::kReduce),
                        [this, bytes](uint64_t at) { return chip_.ring->all_reduce(at, bytes); });
  if (!chip_.ideal && done.done() > start) wait(clock_.cycles(done.done() - start));
  const uint64_t steps = chip_.cores > 1 ? 2 * (chip_.cores - 1) : 0;
  record.elements = elements;
  record.tiles = steps;
  record.mapping = {{"unit", "ring"}, {"cores", chip_.cores}, {"steps", steps}, {"bytes", bytes}};
  record.checks = Json::object();
  std::vector<CoreOpResult> parts(chip_.cores);
  for (CoreOpResult& part : parts) {
    part.end_cycle = clock_.now();
    part.stalls[static_cast<std::size_t>(StallCause::kRing)] = clock_.now() - start;
  }
  return parts;
}

Json Accelerator::assumption_checks() const {
  uint64_t queue = 0;
  for (const auto& c : cores_) queue = std::max(queue, c->dma().peak_outstanding());
  const std::vector<std::pair<const char*, double>> needed = {
      {"scratchpad_bytes", static_cast<double>(peak_scratchpad_)},
      {"shared_buffer_bytes", static_cast<double>(peak_shared_buffer_)},
      {"dram_bandwidth_gbps", peak_dram_gbps_needed_},
      {"acc_bits", static_cast<double>(acc_bits_needed_)},
      {"psum_buffer_bytes", static_cast<double>(peak_psum_buffer_)},
      {"dma_queue_depth", static_cast<double>(queue)}};
  Json checks = Json::array();
  for (const LimitSpec& spec : kLimits) {
    const auto it = std::find_if(needed.begin(), needed.end(),
                                 [&](const auto& n) { return std::string(n.first) == spec.name; });
    Json c = {{"name", spec.name}, {"unit", spec.unit}, {"needed", it->second}};
    const auto limit = std::find_if(limits_.begin(), limits_.end(),
                                    [&](const Limit& l) { return l.name == spec.name; });
    if (limit != limits_.end()) {
      c["limit"] = limit->limit;
      c["held"] = it->second <= limit->limit;
    } else {
      c["limit"] = nullptr;
      c["held"] = nullptr;
    }
    c["description"] = spec.description;
    checks.push_back(std::move(c));
  }
  return checks;
}

std::vector<OpResult> Accelerator::ops_of(const std::vector<OpRecord>& records) const {
  std::vector<OpResult> ops;
  ops.reserve(records.size());
  for (const OpRecord& rec : records) {
    OpResult o;
    o.start_cycle = rec.start_cycle;
    o.end_cycle = rec.end_cycle;
    o.unit = rec.slot == kRingSlot ? "ring" : cores_[0]->slots()[rec.slot].role;
    o.macs = rec.unit.macs;
    o.elements = rec.unit.elements;
    o.tiles = rec.unit.tiles;
    o.peak_work_per_cycle = rec.unit.peak_work_per_cycle;
    o.energy = rec.unit.energy;
    o.mapping = rec.unit.mapping;
    o.checks = rec.unit.checks;
    o.memory = rec.memory;
    ops.push_back(std::move(o));
  }
  return ops;
}

EnergyContext Accelerator::energy_context() const {
  EnergyContext c;
  c.clock_mhz = settings_.core_mhz;
  const double scratchpad = static_cast<double>(cores_[0]->scratchpad().params().capacity_bytes);
  c.capacity_bytes["scratchpad"] = scratchpad;
  for (const Core::Slot& s : cores_[0]->slots()) {
    c.units.push_back({s.role, chip_.cores, 0, s.unit->lanes()});
  }
  c.units.push_back({"scratchpad", chip_.cores, scratchpad});
  c.units.push_back({"dma", chip_.cores, 0});
  c.units.push_back({"dram", 1, 0});
  if (chip_.cores > 1) c.units.push_back({"ring", 1, 0});
  if (chip_.shared_buffer) {
    const double sb = static_cast<double>(chip_.shared_buffer->params().capacity_bytes);
    c.capacity_bytes["shared_buffer"] = sb;
    c.units.push_back({"shared_buffer", 1, sb});
  }
  return c;
}

std::vector<OpResult> Accelerator::take_ops() {
  std::vector<OpResult> ops = ops_of(records_);
  records_.clear();
  return ops;
}

RunResult Accelerator::result() const {
  RunResult r;
  r.complete = complete_;
  r.clock_mhz = settings_.core_mhz;
  r.hardware = {{"cores", chip_.cores}, {"fidelity", to_string(settings_.fidelity)}};
  for (const Core::Slot& s : cores_[0]->slots()) r.hardware[s.role] = s.unit->describe();
  r.hardware["scratchpad"] = cores_[0]->scratchpad().params().describe();
  r.hardware["dma"] = cores_[0]->dma().params().describe();
  r.hardware["dram"] = chip_.dram->describe();
  r.hardware["ring"] = chip_.cores > 1 ? Json(chip_.ring->params().describe()) : Json(nullptr);
  r.hardware["shared_buffer"] =
      chip_.shared_buffer ? chip_.shared_buffer->params().describe() : Json(nullptr);
  r.hardware["mapper"] = mapper_.describe();
  r.hardware["memory"] = chip_.ideal ? "ideal" : "modelled";
  for (const Core::Slot& s : cores_[0]->slots()) {
    r.peak_macs_per_cycle = std::max(r.peak_macs_per_cycle, s.unit->peak_macs_per_cycle());
  }
  r.peak_macs_per_cycle *= chip_.cores;
  r.ops = ops_of(records_);
  r.cycles = last_end_cycle_;
  // Run totals of the memory figures.
  const uint64_t dram_read = dram_read_total_, dram_write = dram_write_total_;
  const double gb_per_cycle = settings_.core_mhz * 1e6 / 1e9;
  r.memory = {{"busy_core_cycles", total_busy_},
              {"stall_core_cycles", to_json(total_stalls_)},
              {"dram_read_bytes", dram_read},
              {"dram_write_bytes", dram_write},
              {"dram_gbps", r.cycles == 0 ? 0.0
                                          : static_cast<double>(dram_read + dram_write) /
                                                static_cast<double>(r.cycles) * gb_per_cycle},
              {"scratchpad_high_water_bytes", peak_scratchpad_},
              {"shared_buffer_high_water_bytes", peak_shared_buffer_}};
  r.checks = assumption_checks();
  // The controller stops only between ops, so the counters are the finished ops' sums.
  for (std::size_t c = 0; c < cores_.size(); ++c) {
    const std::string prefix = "core" + std::to_string(c) + ".";
    for (const Core::Slot& s : cores_[c]->slots())
      s.unit->add_stats(r.stats, prefix + s.role + ".");
    cores_[c]->scratchpad().add_stats(r.stats, prefix + "scratchpad.", peak_scratchpad_);
    cores_[c]->dma().add_stats(r.stats, prefix + "dma.");
  }
  chip_.dram->add_stats(r.stats, "dram.");
  if (chip_.cores > 1) chip_.ring->add_stats(r.stats, "ring.");
  if (chip_.shared_buffer) chip_.shared_buffer->add_stats(r.stats, "shared_buffer.");
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
