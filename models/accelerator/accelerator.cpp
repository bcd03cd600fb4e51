#include "models/accelerator/accelerator.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <stdexcept>
#include <string>

#include "models/accelerator/units.h"
#include "models/systolic/systolic_unit.h"
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
  s.fast_forward = sim.get_bool("fast_forward", true);
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

void SchedulerParams::read(ConfigNode& node) {
  serial =
      node.get_choice("policy", serial ? "serial" : "dataflow", {"dataflow", "serial"}) == "serial";
  lookahead_ops = static_cast<uint64_t>(
      node.get_int("lookahead_ops", static_cast<int64_t>(lookahead_ops), 1, int64_t{1} << 20));
  elementwise_scratchpad_fraction = node.get_double("elementwise_scratchpad_fraction",
                                                    elementwise_scratchpad_fraction, 0.001, 0.999);
}

Json SchedulerParams::describe() const {
  return {{"policy", serial ? "serial" : "dataflow"},
          {"lookahead_ops", lookahead_ops},
          {"elementwise_scratchpad_fraction", elementwise_scratchpad_fraction}};
}

void MemoryModeParams::read(ConfigNode& node) {
  scalesim_user =
      node.get_choice("mode", "hierarchy", {"hierarchy", "scalesim_user"}) == "scalesim_user";
  ConfigNode ss = node.child("scalesim");
  const auto kb = [&](const char* key, uint64_t& value) {
    value =
        static_cast<uint64_t>(ss.get_int(key, static_cast<int64_t>(value), 1, int64_t{1} << 30));
  };
  kb("ifmap_sram_kb", scalesim.ifmap_sram_kb);
  kb("filter_sram_kb", scalesim.filter_sram_kb);
  kb("ofmap_sram_kb", scalesim.ofmap_sram_kb);
  kb("bandwidth_words_per_cycle", scalesim.bandwidth_words_per_cycle);
  ss.finish();
}

Json MemoryModeParams::describe() const {
  Json j = {{"mode", scalesim_user ? "scalesim_user" : "hierarchy"}};
  if (scalesim_user) {
    j["scalesim"] = {{"ifmap_sram_kb", scalesim.ifmap_sram_kb},
                     {"filter_sram_kb", scalesim.filter_sram_kb},
                     {"ofmap_sram_kb", scalesim.ofmap_sram_kb},
                     {"bandwidth_words_per_cycle", scalesim.bandwidth_words_per_cycle},
                     {"word_bytes", 1}};
  }
  return j;
}

Accelerator::Accelerator(sc_core::sc_module_name name, ConfigNode accelerator,
                         const SimSettings& settings, const Workload& workload,
                         std::vector<OpData>* data, VcdWriter* vcd)
    : sc_module(name),
      settings_(settings),
      workload_(workload),
      clock_("core", settings.core_mhz),
      ring_ops_(~std::size_t{0}) {
  context_.ops = &ops_;
  context_.clock = &clock_;
  context_.fidelity = settings.fidelity;
  context_.vcd = vcd;
  context_.traced_pes = settings.vcd_pes;
  context_.seed = settings.seed;
  context_.fast_forward = settings.fast_forward;

  chip_.clock = &clock_;
  chip_.ops = &ops_;
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
  const std::string dram_impl = dram.get_choice("impl", "simple", dram_impls.names());
  chip_.dram = dram_impls.create(dram_impl, dram, settings.core_mhz);
  chip_.reservation_dram = dynamic_cast<ReservationDram*>(chip_.dram.get());
  chip_.dram->fast_forward(settings.fast_forward);
  dram.finish();
  if (auto* queued = dynamic_cast<QueuedDram*>(chip_.dram.get())) {
    queued_dma_ = std::make_unique<QueuedDma>(*queued, cores_[0]->dma().params(), chip_.cores,
                                              clock_.period_ps(), chip_.dram->latency_cycles());
    arbiter_->attach(queued_dma_.get());
    for (uint64_t c = 0; c < chip_.cores; ++c) {
      const std::string module = "broadcaster" + std::to_string(c);
      broadcasters_.push_back(std::make_unique<RingBroadcaster>(module.c_str(), chip_));
      chip_.broadcasts.push_back(&broadcasters_.back()->jobs);
    }
  }
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
  ConfigNode scheduler = accelerator.child("scheduler");
  scheduler_.read(scheduler);
  scheduler.finish();
  ConfigNode memory = accelerator.child("memory");
  memory_mode_.read(memory);
  memory.finish();
  if (memory_mode_.scalesim_user) {
    if (chip_.cores != 1) {
      throw InputError(accelerator.origin_of("cores") +
                       ": accelerator.cores: accelerator.memory.mode \"scalesim_user\" models " +
                       "SCALE-Sim's one array; expected 1, found " + std::to_string(chip_.cores));
    }
    // SCALE-Sim's memory replaces the hierarchy: the units' transfers take no time.
    chip_.ideal = true;
    for (const Core::Slot& slot : cores_[0]->slots()) {
      // Where each array's schedule came from, for the message if an op needs it.
      schedule_origins_.push_back(accelerator.child("core").child(slot.role).origin_of("schedule"));
    }
  }
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

  queued_.resize(cores_[0]->slots().size() + 1);
  std::vector<OpData> first;
  if (data != nullptr) first = *data;
  add_window(workload.ops, std::move(first), true);
  SC_THREAD(control);
  SC_THREAD(ring_runner);
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

// What the mapper knows of the hardware the ops of a unit slot run on.
MapperTarget Accelerator::mapper_target(std::size_t slot) const {
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
    return target;
  }
  const uint64_t capacity = sram.params().capacity_bytes;
  target.scratchpad_bytes = capacity;
  if (!scheduler_.serial) {
    // The element-wise units plan in their share of the scratchpad, the GEMM units in the rest,
    // so a GEMM and an element-wise op fit at once (admission waits for the space otherwise).
    const auto elementwise = static_cast<uint64_t>(static_cast<double>(capacity) *
                                                   scheduler_.elementwise_scratchpad_fraction);
    const std::string& role = cores_[0]->slots()[slot].role;
    target.scratchpad_bytes =
        role == "rescale" || role == "sfu" ? elementwise : capacity - elementwise;
  }
  target.dram_bytes_per_cycle = chip_.dram->peak_bytes_per_cycle();
  target.dram_latency_cycles = chip_.dram->latency_cycles();
  target.streaming_bytes = chip_.dram->streaming_bytes();
  const DmaParams& dma = cores_[0]->dma().params();
  target.core_bytes_per_cycle =
      static_cast<double>(dma.outstanding * dma.burst_bytes) /
      static_cast<double>(std::max<uint64_t>(1, target.dram_latency_cycles));
  const Ring* ring = chip_.ring.get();
  target.broadcast_cycles = [ring](uint64_t bytes) { return ring->broadcast_cycles(bytes); };
  target.reduce_scatter_cycles = [ring](uint64_t bytes) {
    return ring->reduce_scatter_cycles(bytes);
  };
  return target;
}

// Every op of the window must have a unit able to run it, and a mapping, before any runs.
void Accelerator::add_window(const std::vector<Op>& ops, std::vector<OpData> data, bool last) {
  std::vector<std::size_t> slots;
  std::vector<OpPlan> plans;
  slots.reserve(ops.size());
  plans.reserve(ops.size());
  std::vector<MapperTarget> targets;
  for (std::size_t s = 0; s < cores_[0]->slots().size(); ++s) targets.push_back(mapper_target(s));
  for (const Op& op : ops) {
    const std::size_t slot = check_op(op);
    slots.push_back(slot);
    if (slot == kRingSlot) {  // the ring runs it; nothing to map
      plans.emplace_back();
      continue;
    }
    const ComputeUnit& unit = *cores_[0]->slots()[slot].unit;
    MapperTarget& target = targets[slot];
    const BankedSram& sram = cores_[0]->scratchpad();
    const bool ideal = chip_.ideal;
    // A tile takes its unit's cycles, or longer while the scratchpad cannot feed them (as the
    // compute thread waits, models/accelerator/core.cpp).
    target.compute_cycles = [&unit, &op, &sram, ideal](const GemmShape& shape) {
      const uint64_t ran = unit.tile_cycles(op, shape);
      if (ideal) return ran;
      const ScratchpadReads reads = unit.tile_reads(op, shape);
      uint64_t need = sram.stream_cycles(reads.contiguous_bits);
      for (const RowVectors& v : reads.strided) need += sram.row_vector_cost(v).cycles;
      return std::max(ran, need);
    };
    std::string key = PlanCache::key(slot, op);
    if (const OpPlan* known = plans_made_.find(key)) {
      plans.push_back(*known);
    } else {
      try {
        plans.push_back(map_op(op, work_shape(op), unit.tile_bits(op), mapper_, target, op.split));
      } catch (const InputError& e) {
        throw InputError(workload_.file + ": " + e.what());
      }
      plans_made_.add(std::move(key), plans.back());
    }
    if (op.is_gemm() && integer_precision(op.precision.a) && integer_precision(op.precision.b)) {
      acc_bits_needed_ =
          std::max(acc_bits_needed_,
                   bits_of(op.precision.a) + bits_of(op.precision.b) + ceil_log2(op.gemm.k));
    }
  }
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const uint64_t index = ops_.end();
    LiveOp& live = ops_.append(ops[i], i < data.size() ? std::move(data[i]) : OpData{});
    live.slot = slots[i];
    live.plan = std::move(plans[i]);
    live.whole =
        live.slot != kRingSlot && live.plan.active_cores() == 1 && live.plan.tiles_per_core() == 1;
    live.parts.resize(chip_.cores);
    if (memory_mode_.scalesim_user && live.slot != kRingSlot) {
      const auto* array =
          dynamic_cast<const SystolicUnit*>(cores_[0]->slots()[live.slot].unit.get());
      if (array != nullptr) {
        const std::string& role = cores_[0]->slots()[live.slot].role;
        if (array->array_params().schedule != Schedule::kScaleSim) {
          throw InputError(schedule_origins_[live.slot] + ": accelerator.core." + role +
                           ".schedule: accelerator.memory.mode \"scalesim_user\" needs the " +
                           "\"scalesim\" schedule on the arrays that run its ops (op \"" +
                           live.op.name + "\"), found \"" +
                           to_string(array->array_params().schedule) + "\"");
        }
        try {
          live.scalesim =
              array->scalesim_user(live.op, memory_mode_.scalesim, "accelerator.core." + role);
        } catch (const InputError& e) {
          throw InputError(workload_.file + ": op \"" + live.op.name + "\": " + e.what());
        }
      }
    }
    queued_[live.slot == kRingSlot ? queued_.size() - 1 : live.slot].push_back(index);
  }
  unfinished_ += ops.size();
  last_window_ = last;
  if (waiting_for_ops_) {
    waiting_for_ops_ = false;
    window_ready_.notify(sc_core::SC_ZERO_TIME);
  }
}

Accelerator::~Accelerator() = default;

// Ops finish once and are taken from the front only when finished, so the cursor only moves on.
uint64_t Accelerator::oldest_unfinished() const {
  while (oldest_unfinished_ < ops_.end() && ops_.at(oldest_unfinished_).finished) {
    ++oldest_unfinished_;
  }
  return oldest_unfinished_;
}

// Serial: only the oldest unfinished op; dataflow: the next lookahead_ops from it.
bool Accelerator::visible(uint64_t index) const { return index < sight(); }

uint64_t Accelerator::sight() const {
  return oldest_unfinished() + (scheduler_.serial ? 1 : scheduler_.lookahead_ops);
}

// Each unit takes, in trace order, every queued op that is visible and whose deps have finished
// (an op waiting for its inputs does not hold back a later one that has them).
// A queue is in trace order, so it is looked at only up to its first op out of sight.
bool Accelerator::dispatch() {
  bool any = false;
  const uint64_t limit = sight();  // nothing finishes while ops start
  for (std::vector<uint64_t>& queue : queued_) {
    std::size_t kept = 0, i = 0;
    for (; i < queue.size() && queue[i] < limit; ++i) {
      const uint64_t index = queue[i];
      LiveOp& live = ops_.at(index);
      const bool ready = std::all_of(live.deps.begin(), live.deps.end(), [&](uint64_t d) {
        return d < ops_.begin() || ops_.at(d).finished;
      });
      if (!ready) {
        queue[kept++] = index;
        continue;
      }
      start(index);
      any = true;
    }
    if (kept < i) {
      queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(kept),
                  queue.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  return any;
}

void Accelerator::start(uint64_t index) {
  LiveOp& live = ops_.at(index);
  live.dispatched = true;
  running_.push_back(index);
  if (live.slot == kRingSlot) {
    ring_ops_.put(index);
    return;
  }
  Json value_checks = Json::object();
  if (!live.whole) {
    cores_[0]->slots()[live.slot].unit->compute_values(static_cast<uint32_t>(index), live.op,
                                                       value_checks);
  }
  live.result.checks = std::move(value_checks);
  if (chip_.shared_buffer) chip_.shared_buffer->begin_op(static_cast<uint32_t>(index));
  for (auto& core : cores_) core->start(live.slot, static_cast<uint32_t>(index));
}

void Accelerator::attribute_cycles() {
  const uint64_t now = clock_.now();
  std::vector<uint64_t> active;
  for (const uint64_t index : running_) {
    if (ops_.at(index).parts_started > 0) active.push_back(index);
  }
  const uint64_t elapsed = now - last_attributed_;
  last_attributed_ = now;
  if (active.empty() || elapsed == 0) return;
  std::sort(active.begin(), active.end());
  const uint64_t share = elapsed / active.size(), rest = elapsed % active.size();
  for (std::size_t i = 0; i < active.size(); ++i) {
    ops_.at(active[i]).attributed_cycles += share + (i < rest ? 1 : 0);
  }
}

void Accelerator::control() {
  for (;;) {
    attribute_cycles();
    for (std::size_t i = 0; i < running_.size();) {  // ops that finished on every core
      const uint64_t index = running_[i];
      if (ops_.at(index).parts_done == chip_.cores) {
        running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
        finish(index);
      } else {
        ++i;
      }
    }
    if (interrupt_requested()) interrupted_ = true;
    if (!interrupted_) dispatch();
    if (running_.empty() && (interrupted_ || (last_window_ && unfinished_ == 0))) break;
    // Ops the scheduler may look at have not been read yet: the kernel pauses (sc_start returns)
    // until the next window is added; the running ops go on from where they are.
    if (!interrupted_ && !last_window_ && visible(ops_.end())) {
      waiting_for_ops_ = true;
      sc_core::sc_pause();
      wait(window_ready_);
      continue;
    }
    wait(chip_.progress);
  }
  complete_ = !interrupted_;
  sc_core::sc_stop();
}

// A gradient reduction across the cores: the ring's all-reduce (models/ring/ring.h) of the op's
// bytes; every core waits for it (ring stalls), no unit computes.
void Accelerator::ring_runner() {
  for (;;) {
    const uint64_t index = ring_ops_.get();
    LiveOp& live = ops_.at(index);
    const uint64_t elements = live.op.vector->elements;
    const uint64_t bytes = (elements * bits_of(live.op.precision.a) + 7) / 8;
    const uint64_t start = clock_.now();
    live.start_cycle = start;
    live.parts_started = chip_.cores;
    chip_.progress.notify(sc_core::SC_ZERO_TIME);
    const Timeline done =
        arbiter_->request(MemoryArbiter::key(0, MemoryArbiter::kSlots - 1, MemoryArbiter::kReduce),
                          [this, bytes, &live](uint64_t at) {
                            const uint64_t hops = chip_.ring->byte_hops();
                            const Timeline t = chip_.ring->all_reduce(at, bytes);
                            live.bytes.ring_byte_hops += chip_.ring->byte_hops() - hops;
                            return t;
                          });
    if (!chip_.ideal && done.done() > start) wait(clock_.cycles(done.done() - start));
    const uint64_t steps = chip_.cores > 1 ? 2 * (chip_.cores - 1) : 0;
    for (CoreOpResult& part : live.parts) {
      part.start_cycle = start;
      part.end_cycle = clock_.now();
      part.stalls[static_cast<std::size_t>(StallCause::kRing)] = clock_.now() - start;
    }
    UnitOpRecord& record = live.parts[0].record;
    record.elements = elements;
    record.tiles = steps;
    record.mapping = {{"unit", "ring"}, {"cores", chip_.cores}, {"steps", steps}, {"bytes", bytes}};
    record.checks = Json::object();
    live.parts[0].ran = true;
    live.parts_done = chip_.cores;
    if (chip_.timeline != nullptr && clock_.now() > start) {
      chip_.timeline->slice(chip_.timeline->track("ring", "all-reduce"), live.op.name,
                            to_string(live.op.pass), start, clock_.now(),
                            {{"op", index}, {"bytes", bytes}});
    }
    chip_.progress.notify(sc_core::SC_ZERO_TIME);
  }
}

// An op has finished on every core: its result from the cores' parts and the bytes it moved.
void Accelerator::finish(uint64_t index) {
  LiveOp& live = ops_.at(index);
  live.finished = true;
  --unfinished_;
  const bool ring = live.slot == kRingSlot;
  const OpPlan& plan = live.plan;
  OpResult& r = live.result;
  const Json value_checks = std::move(r.checks);
  r = OpResult{};
  live.end_cycle = live.start_cycle;
  for (const CoreOpResult& part : live.parts)
    live.end_cycle = std::max(live.end_cycle, part.end_cycle);
  r.start_cycle = live.start_cycle;
  r.end_cycle = live.end_cycle;
  r.attributed_cycles = live.attributed_cycles;
  r.unit = ring ? "ring" : cores_[0]->slots()[live.slot].role;

  StallCycles stalls{};
  UnitOpRecord record;
  uint64_t busy = 0, busiest = 0, high_water = 0;
  bool first = true;
  for (const CoreOpResult& part : live.parts) {
    for (std::size_t c = 0; c < kStallCauses; ++c) stalls[c] += part.stalls[c];
    // A core waits before its part (its unit still busy with an earlier op) and after it.
    stalls[static_cast<std::size_t>(StallCause::kDependency)] +=
        (part.start_cycle - live.start_cycle) + (live.end_cycle - part.end_cycle);
    busy += part.busy_cycles;
    busiest = std::max(busiest, part.busy_cycles);
    high_water = std::max(high_water, part.scratchpad_high_water);
    if (part.ran) {
      merge_record(record, part.record, first);
      first = false;
    }
  }
  if (record.checks.is_null()) record.checks = Json::object();
  for (const auto& [key, value] : value_checks.items()) record.checks[key] = value;
  record.peak_work_per_cycle *= ring ? 1 : plan.active_cores();
  for (std::size_t c = 0; c < kStallCauses; ++c) total_stalls_[c] += stalls[c];
  total_busy_ += busy;

  // Memory energy of the op: DMA fills and drains of the scratchpads, DRAM, shared buffer, ring.
  const OpBytes& b = live.bytes;
  EnergyLedger& e = record.energy;
  if (!ring) {
    e.add("scratchpad", "scratchpad.write_byte", static_cast<double>(b.scratchpad_fill));
    e.add("scratchpad", "scratchpad.read_byte", static_cast<double>(b.scratchpad_drain));
    e.add("dram", "dram.read_byte", static_cast<double>(b.dram_read));
    e.add("dram", "dram.write_byte", static_cast<double>(b.dram_write));
  }
  if (chip_.cores > 1) e.add("ring", "ring.byte_hop", static_cast<double>(b.ring_byte_hops));
  if (chip_.shared_buffer && !ring) {
    e.add("shared_buffer", "shared_buffer.read_byte", static_cast<double>(b.shared_buffer_read));
    e.add("shared_buffer", "shared_buffer.write_byte", static_cast<double>(b.shared_buffer_write));
  }
  // Clock tree and control run on every core every cycle; an op is charged its share of them.
  e.add("clock", "clock.core_cycle", static_cast<double>(live.attributed_cycles * chip_.cores));

  const uint64_t cycles = live.end_cycle - live.start_cycle;
  const uint64_t dram_bytes = b.dram_read + b.dram_write;
  const double gb_per_cycle = settings_.core_mhz * 1e6 / 1e9;  // GB/s per byte/cycle
  const double achieved =
      cycles == 0 ? 0
                  : static_cast<double>(dram_bytes) / static_cast<double>(cycles) * gb_per_cycle;
  const double needed =
      busiest == 0 ? 0
                   : static_cast<double>(dram_bytes) / static_cast<double>(busiest) * gb_per_cycle;
  peak_dram_gbps_needed_ = std::max(peak_dram_gbps_needed_, needed);
  peak_scratchpad_ = std::max(peak_scratchpad_, high_water);
  uint64_t sb_high = 0;
  if (chip_.shared_buffer && !ring) {
    sb_high = chip_.shared_buffer->high_water(static_cast<uint32_t>(index));
    chip_.shared_buffer->end_op(static_cast<uint32_t>(index));
  }
  peak_shared_buffer_ = std::max(peak_shared_buffer_, sb_high);
  if (record.checks.contains("psum_buffer_bytes")) {
    peak_psum_buffer_ =
        std::max(peak_psum_buffer_, record.checks["psum_buffer_bytes"].get<uint64_t>());
  }
  r.memory = {{"busy_core_cycles", busy},
              {"stall_core_cycles", to_json(stalls)},
              {"bytes",
               {{"dram_read", b.dram_read},
                {"dram_write", b.dram_write},
                {"shared_buffer_read", b.shared_buffer_read},
                {"shared_buffer_write", b.shared_buffer_write},
                {"ring_byte_hops", b.ring_byte_hops},
                {"scratchpad_fill", b.scratchpad_fill},
                {"scratchpad_drain", b.scratchpad_drain}}},
              {"dram_gbps", achieved},
              {"scratchpad_high_water_bytes", high_water},
              {"shared_buffer_high_water_bytes", sb_high}};
  if (live.scalesim) {
    const ScaleSimMemoryResult& ss = *live.scalesim;
    r.memory["scalesim"] = {
        {"compute_cycles", ss.compute_cycles},       {"total_cycles", ss.total_cycles},
        {"stall_cycles", ss.stall_cycles},           {"ifmap_prefetches", ss.ifmap_prefetches},
        {"filter_prefetches", ss.filter_prefetches}, {"ofmap_drains", ss.ofmap_drains}};
  }
  // The plan's split and tiles join the unit's mapping of the op's first tile.
  if (!ring) {
    Json mapping = plan.to_json();
    for (const auto& [key, value] : record.mapping.items()) mapping[key] = value;
    record.mapping = std::move(mapping);
  }
  r.macs = record.macs;
  r.elements = record.elements;
  r.tiles = record.tiles;
  r.peak_work_per_cycle = record.peak_work_per_cycle;
  r.energy = std::move(record.energy);
  r.mapping = std::move(record.mapping);
  r.checks = std::move(record.checks);
  last_end_cycle_ = std::max(last_end_cycle_, live.end_cycle);
  dram_read_total_ += b.dram_read;
  dram_write_total_ += b.dram_write;
}

Accelerator::ChannelTracks::ChannelTracks(TimelineWriter& writer, uint64_t channels) {
  for (uint64_t c = 0; c < channels; ++c) {
    tracks_.emplace_back(&writer, writer.track("dram", "channel " + std::to_string(c)), "dram");
  }
}

void Accelerator::ChannelTracks::on_transfer(uint64_t channel, uint64_t start_ps, uint64_t end_ps,
                                             bool write) {
  tracks_[channel].add_ps(start_ps, end_ps, write);
}

void Accelerator::ChannelTracks::flush() {
  for (BusyTrack& t : tracks_) t.flush();
}

void Accelerator::set_timeline(TimelineWriter* timeline) {
  chip_.timeline = timeline;
  if (timeline == nullptr) return;
  // Tracks in a fixed order: the cores' units first, then the memory.
  for (uint64_t c = 0; c < chip_.cores; ++c) {
    for (const Core::Slot& s : cores_[c]->slots())
      timeline->track("core" + std::to_string(c), s.role);
  }
  if (!chip_.ideal) {
    channel_tracks_ = std::make_unique<ChannelTracks>(*timeline, chip_.dram->channel_count());
    chip_.dram->observe(channel_tracks_.get());
  }
}

void Accelerator::finish_timeline() {
  if (channel_tracks_) channel_tracks_->flush();
}

std::vector<FinishedOp> Accelerator::take_ops() {
  std::vector<FinishedOp> out;
  while (!ops_.empty() && ops_.front().finished) {
    LiveOp& live = ops_.front();
    out.push_back({std::move(live.op), std::move(live.result), std::move(live.data)});
    ops_.pop_front();
  }
  return out;
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

Json Accelerator::assumption_checks() const {
  uint64_t queue = 0;
  for (uint64_t c = 0; c < chip_.cores; ++c) {
    queue = std::max(queue, queued_dma_ ? queued_dma_->peak_outstanding(c)
                                        : cores_[c]->dma().peak_outstanding());
  }
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
  r.hardware["scheduler"] = scheduler_.describe();
  r.hardware["memory"] = memory_mode_.scalesim_user ? "scalesim_user"
                         : chip_.ideal              ? "ideal"
                                                    : "modelled";
  if (memory_mode_.scalesim_user) r.hardware["memory_mode"] = memory_mode_.describe();
  for (const Core::Slot& s : cores_[0]->slots()) {
    r.peak_macs_per_cycle = std::max(r.peak_macs_per_cycle, s.unit->peak_macs_per_cycle());
  }
  r.peak_macs_per_cycle *= chip_.cores;
  for (uint64_t i = ops_.begin(); i < ops_.end() && ops_.at(i).finished; ++i) {
    r.ops.push_back(ops_.at(i).result);
  }
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
  if (!chip_.ideal) r.memory["dram"] = chip_.dram->summary(r.cycles);
  r.checks = assumption_checks();
  // The controller ends only once no op runs, so the counters are the finished ops' sums.
  for (std::size_t c = 0; c < cores_.size(); ++c) {
    const std::string prefix = "core" + std::to_string(c) + ".";
    for (const Core::Slot& s : cores_[c]->slots())
      s.unit->add_stats(r.stats, prefix + s.role + ".");
    cores_[c]->scratchpad().add_stats(r.stats, prefix + "scratchpad.", peak_scratchpad_);
    if (queued_dma_) {
      const std::string dma = prefix + "dma.";
      r.stats.add(dma + "descriptors", queued_dma_->descriptors(c), "descriptor",
                  "transfers requested");
      r.stats.add(dma + "bursts", queued_dma_->bursts(c), "burst", "DRAM requests issued");
      r.stats.add(dma + "peak_outstanding", queued_dma_->peak_outstanding(c), "burst",
                  "most bursts in flight at once");
    } else {
      cores_[c]->dma().add_stats(r.stats, prefix + "dma.");
    }
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
  RunResult r = top.result();
  if (data != nullptr) {
    std::vector<FinishedOp> done = top.take_ops();
    for (std::size_t i = 0; i < done.size() && i < data->size(); ++i) {
      (*data)[i] = std::move(done[i].data);
    }
  }
  return r;
}

}  // namespace nibble
