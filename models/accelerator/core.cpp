#include "models/accelerator/core.h"

#include <algorithm>
#include <stdexcept>

#include "models/accelerator/units.h"

namespace nibble {

Timeline ChipMemory::join(int kind, uint64_t op, uint64_t seq, uint64_t key,
                          const MemoryArbiter::Act& act) {
  const uint64_t arrival = clock->now();
  Collective& c = collectives_[{kind, op, seq}];
  if (++c.arrived == cores) {
    c.last_arrival = arrival;
    c.result = arbiter->request(key, act);
    c.complete = true;
    collective_done_.notify(sc_core::SC_ZERO_TIME);
  }
  while (!c.complete) sc_core::wait(collective_done_);
  Timeline mine(arrival);
  mine.add(c.last_arrival, StallCause::kDependency);
  for (const auto& [end, cause] : c.result.segments()) mine.add(end, cause);
  if (++c.left == cores) collectives_.erase({kind, op, seq});
  return mine;
}

void merge_record(UnitOpRecord& into, const UnitOpRecord& tile, bool first) {
  if (first) {
    into.mapping = tile.mapping;
    into.peak_work_per_cycle = tile.peak_work_per_cycle;
  }
  into.macs += tile.macs;
  into.elements += tile.elements;
  into.tiles += tile.tiles;
  into.energy.add(tile.energy);
  if (into.checks.is_null()) into.checks = Json::object();
  for (const auto& [key, value] : tile.checks.items()) {
    Json& slot = into.checks[key];
    if (slot.is_null() || (value.is_number() && slot.is_number() && value > slot)) slot = value;
  }
}

Core::Core(sc_core::sc_module_name name, uint64_t index, ConfigNode core,
           const UnitContext& context, ChipMemory& chip)
    : sc_module(name), index_(index), chip_(chip), context_(context) {
  for (const UnitRole& role : unit_roles()) {
    ConfigNode node = core.child(role.name);
    const UnitRegistry& registry = unit_registry(role.name);
    const std::string impl = node.get_choice("impl", role.default_impl, registry.names());
    slots_.push_back({role.name, registry.create(impl, role.name, node, context_)});
  }
  ConfigNode sp = core.child("scratchpad");
  sp.get_choice("impl", "BankedSram", {"BankedSram"});
  BankedSramParams sp_params;
  sp_params.read(sp);
  sp.finish();
  sram_ = std::make_unique<BankedSram>(sp_params);
  ConfigNode dma = core.child("dma");
  DmaParams dma_params;
  dma_params.read(dma);
  dma.finish();
  dma_ = std::make_unique<Dma>(dma_params);
  core.finish();
  set_buffers(2);
  SC_THREAD(loader);
  SC_THREAD(compute);
  SC_THREAD(storer);
}

void Core::set_buffers(uint64_t buffers) {
  buffers_ = buffers;
  in_slots_.set_capacity(buffers);
  ready_.set_capacity(buffers);
  out_slots_.set_capacity(buffers);
  stores_.set_capacity(buffers);
}

void Core::start(uint32_t op) {
  start_load_.put(op);
  start_compute_.put(op);
  start_store_.put(op);
}

void Core::wait_until(uint64_t cycle) {
  const uint64_t now = context_.clock->now();
  if (cycle > now) wait(context_.clock->cycles(cycle - now));
}

// One operand tile into the scratchpad: broadcast when every core loads it, else from the shared
// buffer when it holds it, else from DRAM (through the shared buffer when the operand fits it).
// Shared state is touched only inside the arbiter's turn, so same-cycle requests of the cores are
// served in the same order at every fidelity.
Timeline Core::load(uint32_t op, uint64_t t, const TileLoad& l) {
  const uint64_t now = context_.clock->now();
  sram_->count_write(l.bytes);
  if (l.shared && chip_.cores > 1) {
    const uint64_t owner = t % chip_.cores;
    const auto broadcast = [this, owner, &l](uint64_t at) {
      Timeline fetched = chip_.dmas[owner]->transfer(at, l.bytes, false, *chip_.reservation_dram);
      chip_.dram_read_bytes += l.bytes;
      const Timeline sent = chip_.ring->broadcast(fetched.done(), l.bytes);
      for (const auto& [end, cause] : sent.segments()) fetched.add(end, cause);
      return fetched;
    };
    const uint64_t key = MemoryArbiter::key(owner, MemoryArbiter::kBroadcast);
    if (chip_.ideal) {
      // Counted once, never waited for.
      if (index_ == owner) chip_.arbiter->request(key, broadcast);
      return Timeline(now);
    }
    return chip_.join(0, op, t, key, broadcast);
  }
  const auto fetch = [this, op, &l](uint64_t at) {
    SharedBuffer* sb = chip_.shared_buffer.get();
    const uint64_t operand_bytes = chip_.plans[op].operand_bytes(l.operand);
    const TileKey key{op, l.operand, l.row, l.col};
    if (sb != nullptr && sb->keeps(operand_bytes) && sb->holds(key)) return sb->read(at, l.bytes);
    Timeline got = dma_->transfer(at, l.bytes, false, *chip_.reservation_dram);
    chip_.dram_read_bytes += l.bytes;
    if (sb != nullptr && sb->keeps(operand_bytes)) sb->fill(key, l.bytes);
    return got;
  };
  const Timeline got =
      chip_.arbiter->request(MemoryArbiter::key(index_, MemoryArbiter::kLoad), fetch);
  return chip_.ideal ? Timeline(now) : got;
}

void Core::loader() {
  for (int i = 0; i < static_cast<int>(buffers_); ++i) in_slots_.put(i);
  for (;;) {
    const uint32_t op = start_load_.get();
    const OpPlan& plan = chip_.plans[op];
    for (uint64_t t = 0; t < plan.tiles_per_core(); ++t) {
      in_slots_.get();
      ReadyTile tile{plan.tile(index_, t), Timeline(context_.clock->now())};
      sram_->hold(tile.work.in_footprint);
      for (int i = 0; i < tile.work.load_count; ++i) {
        const Timeline got = load(op, t, tile.work.loads[i]);
        if (got.done() > tile.ready.done()) tile.ready = got;
      }
      wait_until(tile.ready.done());
      ready_.put(std::move(tile));
    }
  }
}

void Core::compute() {
  for (uint64_t i = 0; i < buffers_; ++i) out_slots_.put(Timeline(0));
  const ClockDomain& clock = *context_.clock;
  for (;;) {
    const uint32_t op = start_compute_.get();
    const OpPlan& plan = chip_.plans[op];
    const Op& o = chip_.workload->ops[op];
    ComputeUnit& unit = *slots_[chip_.op_slot[op]].unit;
    const bool whole = chip_.whole[op] != 0;
    CoreOpResult result;
    sram_->reset_high_water();
    uint64_t free_at = clock.now();
    for (uint64_t t = 0; t < plan.tiles_per_core(); ++t) {
      ReadyTile tile = ready_.get();
      tile.ready.attribute(free_at, clock.now(), result.stalls, StallCause::kDependency);
      const TileWork& w = tile.work;
      if (w.first_k) {
        const uint64_t before = clock.now();
        const Timeline freed = out_slots_.get();
        freed.attribute(before, clock.now(), result.stalls, StallCause::kDramBandwidth);
        sram_->hold(w.out_footprint);
      }
      if (w.shape.m > 0 && w.shape.n > 0 && w.shape.k > 0) {
        const uint64_t start = clock.now();
        unit.tasks.write({op, w.shape, whole});
        uint32_t finished = 0;
        unit.done.read(finished);
        if (finished != op) throw std::logic_error("a unit finished ops out of order");
        const uint64_t ran = clock.now() - start;
        result.busy_cycles += ran;
        merge_record(result.record, unit.last_record(), !result.ran);
        result.ran = true;
        // The array stalls while the scratchpad cannot deliver the tile's operands in the cycles
        // it computed: first for the conflicts, then for plain bandwidth.
        if (!chip_.ideal) {
          const ScratchpadReads reads = unit.tile_reads(o, w.shape);
          uint64_t need = sram_->stream_cycles(reads.contiguous_bits), free_need = need;
          for (const RowVectors& v : reads.strided) {
            const BankedSram::ReadCost c = sram_->row_vector_cost(v);
            need += c.cycles;
            free_need += c.conflict_free_cycles;
          }
          if (need > ran) {
            const uint64_t extra = need - ran;
            const uint64_t conflicts = std::min(extra, need - free_need);
            result.stalls[static_cast<std::size_t>(StallCause::kBankConflict)] += conflicts;
            result.stalls[static_cast<std::size_t>(StallCause::kScratchpadBandwidth)] +=
                extra - conflicts;
            wait(clock.cycles(extra));
          }
        }
      }
      sram_->release(w.in_footprint);
      in_slots_.put(0);
      if (w.last_k) stores_.put(w);
      free_at = clock.now();
    }
    const uint64_t before = clock.now();
    const Timeline last = stored_all_.get();
    last.attribute(before, clock.now(), result.stalls, StallCause::kDramBandwidth);
    result.end_cycle = clock.now();
    result.scratchpad_high_water = sram_->high_water();
    finished_.put(std::move(result));
  }
}

void Core::storer() {
  const ClockDomain& clock = *context_.clock;
  for (;;) {
    const uint32_t op = start_store_.get();
    const OpPlan& plan = chip_.plans[op];
    Timeline last(clock.now());
    const uint64_t outputs = plan.outputs_per_core();
    for (uint64_t j = 0; j < outputs; ++j) {
      const TileWork w = stores_.get();
      const uint64_t now = clock.now();
      Timeline done(now);
      if (w.reduce_bytes > 0 && chip_.cores > 1) {
        const uint64_t key = MemoryArbiter::key(0, MemoryArbiter::kReduce);
        const auto reduce = [this, &w](uint64_t at) {
          return chip_.ring->reduce_scatter(at, w.reduce_bytes);
        };
        if (chip_.ideal) {
          if (index_ == 0) chip_.arbiter->request(key, reduce);
        } else {
          done = chip_.join(1, op, j, key, reduce);
        }
      }
      if (w.store_bytes > 0) {
        const auto store = [this, &w, &done](uint64_t at) {
          chip_.dram_write_bytes += w.store_bytes;
          return dma_->transfer(std::max(at, done.done()), w.store_bytes, true,
                                *chip_.reservation_dram);
        };
        const Timeline stored =
            chip_.arbiter->request(MemoryArbiter::key(index_, MemoryArbiter::kStore), store);
        sram_->count_read(w.store_bytes);
        if (!chip_.ideal) {
          for (const auto& [end, cause] : stored.segments()) done.add(end, cause);
        }
      }
      wait_until(done.done());
      sram_->release(w.out_footprint);
      out_slots_.put(done);
      last = done;
    }
    stored_all_.put(last);
  }
}

}  // namespace nibble
