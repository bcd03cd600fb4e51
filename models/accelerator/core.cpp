#include "models/accelerator/core.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "models/accelerator/units.h"

namespace nibble {

namespace {
constexpr std::size_t kUnbounded = std::numeric_limits<std::size_t>::max();
}  // namespace

MemoryArbiter::TransferPtr ChipMemory::join(
    int kind, uint64_t op, uint64_t seq, const std::function<MemoryArbiter::TransferPtr()>& work) {
  const uint64_t arrival = clock->now();
  Collective& c = collectives_[{kind, op, seq}];
  if (++c.arrived == cores) {
    c.last_arrival = arrival;
    c.result = work();
    c.complete = true;
    collective_done_.notify(sc_core::SC_ZERO_TIME);
  }
  while (!c.complete) sc_core::wait(collective_done_);
  auto mine = std::make_shared<MemoryArbiter::Transfer>();
  mine->after = c.result;
  mine->arrival = arrival;
  mine->joined = c.last_arrival;
  mine->source = c.result->source;
  if (++c.left == cores) collectives_.erase({kind, op, seq});
  return mine;
}

RingBroadcaster::RingBroadcaster(sc_core::sc_module_name name, ChipMemory& chip)
    : sc_module(name), jobs(std::numeric_limits<std::size_t>::max()), chip_(chip) {
  SC_THREAD(run);
}

void RingBroadcaster::run() {
  for (;;) {
    ChipMemory::Broadcast b = jobs.get();
    Timeline got = chip_.arbiter->await(b.fetched);
    const Timeline sent = chip_.arbiter->request(b.key, [this, &b](uint64_t at) {
      const uint64_t hops = chip_.ring->byte_hops();
      const Timeline ring = chip_.ring->broadcast(at, b.bytes);
      b.live->bytes.ring_byte_hops += chip_.ring->byte_hops() - hops;
      return ring;
    });
    for (const auto& [end, cause] : sent.segments()) got.add(end, cause);
    b.sent->timeline = got;
    b.sent->complete = true;
    chip_.broadcast_done.notify(sc_core::SC_ZERO_TIME);
  }
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
    slots_.push_back({role.name, registry.create(impl, role.name, node, context_), nullptr});
  }
  for (std::size_t s = 0; s < slots_.size(); ++s) {
    const std::string pipeline = slots_[s].role + "_pipeline";
    slots_[s].pipeline = std::make_unique<UnitPipeline>(pipeline.c_str(), *this, s);
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
}

void Core::set_buffers(uint64_t buffers) {
  for (Slot& s : slots_) s.pipeline->set_buffers(buffers);
}

void Core::wait_until(uint64_t cycle) {
  const uint64_t now = context_.clock->now();
  if (cycle > now) wait(context_.clock->cycles(cycle - now));
}

void Core::hold(uint64_t bytes) {
  sram_->hold(bytes);
  for (Slot& s : slots_) {
    UnitPipeline& p = *s.pipeline;
    if (p.in_op_) p.high_water_ = std::max(p.high_water_, sram_->held());
  }
}

void Core::admit(uint64_t bytes) {
  const uint64_t capacity = sram_->params().capacity_bytes;
  // An op's footprint never exceeds the capacity (the mapper plans it so), so it fits once the
  // ops before it have gone.
  while (admitted_bytes_ > 0 && admitted_bytes_ + bytes > capacity) wait(admitted_changed_);
  admitted_bytes_ += bytes;
}

void Core::release(uint64_t bytes) {
  admitted_bytes_ -= bytes;
  admitted_changed_.notify(sc_core::SC_ZERO_TIME);
}

UnitPipeline::UnitPipeline(sc_core::sc_module_name name, Core& core, std::size_t slot)
    : sc_module(name),
      core_(core),
      slot_(slot),
      start_load_(kUnbounded),
      start_compute_(kUnbounded),
      start_store_(kUnbounded),
      start_retire_(kUnbounded) {
  SC_THREAD(loader);
  SC_THREAD(compute);
  SC_THREAD(storer);
  SC_THREAD(retirer);
}

int UnitPipeline::track(int which) {
  if (tracks_[which] < 0) {
    static const char* const kinds[] = {"", " loads", " stores"};
    tracks_[which] = core_.chip_.timeline->track("core" + std::to_string(core_.index_),
                                                 core_.slots_[slot_].role + kinds[which]);
  }
  return tracks_[which];
}

void UnitPipeline::set_buffers(uint64_t buffers) {
  buffers_ = buffers;
  in_slots_.set_capacity(buffers);
  ready_.set_capacity(buffers);
  out_slots_.set_capacity(buffers);
  stores_.set_capacity(buffers);
  retiring_.set_capacity(buffers);
}

void UnitPipeline::start(uint32_t op) {
  start_load_.put(op);
  start_compute_.put(op);
  start_store_.put(op);
  start_retire_.put(op);
}

namespace {

// Each op's operands and result live in DRAM regions of their own (64 GiB per op, 16 GiB per
// operand), laid out as the mapper's tiles (OpPlan::offset).
uint64_t dram_address(uint32_t op, uint32_t operand, uint64_t offset) {
  return (uint64_t{op} << 36) + (uint64_t{operand} << 34) + offset;
}

}  // namespace

// One operand tile into the scratchpad: broadcast when every core loads it, else from the shared
// buffer when it holds it, else from DRAM (through the shared buffer when the operand fits it).
// Shared state is touched only inside the arbiter's turn, so same-cycle requests of the cores are
// served in the same order at every fidelity. With a DRAM controller the DMA transfer completes
// later: the returned transfer says when.
MemoryArbiter::TransferPtr UnitPipeline::load(uint32_t op, uint64_t t, const TileLoad& l) {
  ChipMemory& chip = core_.chip_;
  MemoryArbiter& arbiter = *chip.arbiter;
  LiveOp& live = chip.ops->at(op);
  const uint64_t now = core_.context_.clock->now();
  const uint64_t address =
      dram_address(op, l.operand, live.plan.offset(l.operand, l.row, l.col, l.rows));
  core_.sram_->count_write(l.bytes);
  live.bytes.scratchpad_fill += l.bytes;
  if (l.shared && chip.cores > 1) {
    const uint64_t owner = t % chip.cores;
    const uint64_t key = MemoryArbiter::key(owner, slot_, MemoryArbiter::kBroadcast);
    const auto broadcast = [&chip, &live, owner, &l](uint64_t at) {
      Timeline fetched = chip.dmas[owner]->transfer(at, l.bytes, false, *chip.reservation_dram);
      live.bytes.dram_read += l.bytes;
      const uint64_t hops = chip.ring->byte_hops();
      const Timeline sent = chip.ring->broadcast(fetched.done(), l.bytes);
      live.bytes.ring_byte_hops += chip.ring->byte_hops() - hops;
      for (const auto& [end, cause] : sent.segments()) fetched.add(end, cause);
      return fetched;
    };
    if (chip.ideal) {
      // Counted once, never waited for.
      if (core_.index_ == owner) {
        if (arbiter.queued() == nullptr) {
          arbiter.request(key, broadcast);
        } else {
          live.bytes.dram_read += l.bytes;
          const uint64_t hops = chip.ring->byte_hops();
          arbiter.request(key,
                          [&chip, &l](uint64_t at) { return chip.ring->broadcast(at, l.bytes); });
          live.bytes.ring_byte_hops += chip.ring->byte_hops() - hops;
        }
      }
      return MemoryArbiter::known(Timeline(now));
    }
    // The last core to ask fetches the tile through the owner's DMA engine; it goes over the ring
    // once it is in (at once with a reservation DRAM, from the owner's broadcaster with a
    // controller, so no loader waits for it).
    const auto fetch_and_send = [&]() -> MemoryArbiter::TransferPtr {
      if (arbiter.queued() == nullptr) {
        return MemoryArbiter::known(arbiter.request(key, broadcast), "broadcast");
      }
      ChipMemory::Broadcast b;
      arbiter.request(key, [&](uint64_t at) {
        b.fetched = arbiter.submit(owner, at, address, l.bytes, false, &load_done_);
        live.bytes.dram_read += l.bytes;
        return Timeline(at);
      });
      b.sent = std::make_shared<MemoryArbiter::Transfer>();
      b.sent->wake = &chip.broadcast_done;
      b.sent->source = "broadcast";
      b.bytes = l.bytes;
      b.key = key;
      b.live = &live;
      MemoryArbiter::TransferPtr sent = b.sent;
      chip.broadcasts[owner]->put(std::move(b));
      return sent;
    };
    return chip.join(0, op, t, fetch_and_send);
  }
  MemoryArbiter::TransferPtr pending;
  bool from_buffer = false;
  const auto fetch = [this, &chip, &arbiter, &live, &pending, &from_buffer, op, address,
                      &l](uint64_t at) {
    SharedBuffer* sb = chip.shared_buffer.get();
    const uint64_t operand_bytes = live.plan.operand_bytes(l.operand);
    const TileKey key{op, l.operand, l.row, l.col};
    if (sb != nullptr && sb->keeps(operand_bytes) && sb->holds(key)) {
      live.bytes.shared_buffer_read += l.bytes;
      from_buffer = true;
      return sb->read(at, l.bytes);
    }
    Timeline got(at);
    if (arbiter.queued() == nullptr) {
      got = core_.dma_->transfer(at, l.bytes, false, *chip.reservation_dram);
    } else if (!chip.ideal) {  // ideal memory: counted, not sent
      pending = arbiter.submit(core_.index_, at, address, l.bytes, false, &load_done_);
    }
    live.bytes.dram_read += l.bytes;
    if (sb != nullptr && sb->keeps(operand_bytes)) {
      const uint64_t written = sb->write_bytes();
      sb->fill(key, l.bytes);
      live.bytes.shared_buffer_write += sb->write_bytes() - written;
    }
    return got;
  };
  const Timeline got =
      arbiter.request(MemoryArbiter::key(core_.index_, slot_, MemoryArbiter::kLoad), fetch);
  if (chip.ideal) return MemoryArbiter::known(Timeline(now));
  return pending ? pending : MemoryArbiter::known(got, from_buffer ? "shared_buffer" : "dram");
}

void UnitPipeline::loader() {
  for (int i = 0; i < static_cast<int>(buffers_); ++i) in_slots_.put(i);
  for (;;) {
    const uint32_t op = start_load_.get();
    const OpPlan& plan = core_.chip_.ops->at(op).plan;
    if (!core_.chip_.ideal) core_.admit(plan.footprint_bytes);
    for (uint64_t t = 0; t < plan.tiles_per_core(); ++t) {
      in_slots_.get();
      ReadyTile tile{plan.tile(core_.index_, t), {}};
      core_.hold(tile.work.in_footprint);
      for (int i = 0; i < tile.work.load_count; ++i)
        tile.loads[i] = load(op, t, tile.work.loads[i]);
      ready_.put(std::move(tile));
    }
  }
}

void UnitPipeline::compute() {
  for (uint64_t i = 0; i < buffers_; ++i) out_slots_.put(Timeline(0));
  ChipMemory& chip = core_.chip_;
  BankedSram& sram = *core_.sram_;
  const ClockDomain& clock = *core_.context_.clock;
  ComputeUnit& unit = *core_.slots_[slot_].unit;
  for (;;) {
    const uint32_t op = start_compute_.get();
    LiveOp& live = chip.ops->at(op);
    const OpPlan& plan = live.plan;
    const Op& o = live.op;
    CoreOpResult result;
    result.start_cycle = clock.now();
    if (live.parts_started++ == 0) live.start_cycle = result.start_cycle;
    chip.progress.notify(sc_core::SC_ZERO_TIME);
    in_op_ = true;
    high_water_ = sram.held();
    TimelineWriter* tl = chip.timeline;
    // A wait of the compute thread: its cycles by cause, and as stall slices on the timeline.
    const auto waited = [&](const Timeline& what, uint64_t from, uint64_t to, StallCause outside) {
      what.pieces(from, to, outside, [&](uint64_t lo, uint64_t hi, StallCause cause) {
        result.stalls[static_cast<std::size_t>(cause)] += hi - lo;
        if (tl != nullptr) tl->slice(track(0), to_string(cause), "stall", lo, hi, {{"op", op}});
      });
    };
    const auto stalled = [&](StallCause cause, uint64_t from, uint64_t cycles) {
      result.stalls[static_cast<std::size_t>(cause)] += cycles;
      if (tl != nullptr && cycles > 0) {
        tl->slice(track(0), to_string(cause), "stall", from, from + cycles, {{"op", op}});
      }
    };
    uint64_t free_at = clock.now();
    for (uint64_t t = 0; t < plan.tiles_per_core(); ++t) {
      ReadyTile tile = ready_.get();
      // The tile is in when its last load is.
      Timeline ready(clock.now());
      for (int i = 0; i < tile.work.load_count; ++i) {
        const Timeline got = chip.arbiter->await(tile.loads[i]);
        if (got.done() > ready.done()) ready = got;
        if (tl != nullptr && got.done() > got.start()) {
          tl->async_slice(track(1), tile.work.loads[i].operand == 0 ? "load A" : "load B",
                          tile.loads[i]->source, got.start(), got.done(),
                          {{"op", op}, {"tile", t}, {"bytes", tile.work.loads[i].bytes}});
        }
      }
      waited(ready, free_at, clock.now(), StallCause::kDependency);
      const TileWork& w = tile.work;
      if (w.first_k) {
        const uint64_t before = clock.now();
        const Timeline freed = out_slots_.get();
        waited(freed, before, clock.now(), StallCause::kDramBandwidth);
        core_.hold(w.out_footprint);
      }
      if (w.shape.m > 0 && w.shape.n > 0 && w.shape.k > 0) {
        const uint64_t start = clock.now();
        unit.tasks.write({op, w.shape, live.whole});
        uint32_t finished = 0;
        unit.done.read(finished);
        if (finished != op) throw std::logic_error("a unit finished ops out of order");
        const uint64_t ran = clock.now() - start;
        result.busy_cycles += ran;
        merge_record(result.record, unit.last_record(), !result.ran);
        result.ran = true;
        // SCALE-Sim's memory (memory.mode scalesim_user): its stalls follow the compute.
        if (live.scalesim && live.scalesim->total_cycles > static_cast<int64_t>(ran)) {
          const auto extra = static_cast<uint64_t>(live.scalesim->total_cycles) - ran;
          stalled(StallCause::kDramBandwidth, clock.now(), extra);
          wait(clock.cycles(extra));
        }
        // The array stalls while the scratchpad cannot deliver the tile's operands in the cycles
        // it computed: first for the conflicts, then for plain bandwidth.
        if (!chip.ideal) {
          const ScratchpadReads reads = unit.tile_reads(o, w.shape);
          uint64_t need = sram.stream_cycles(reads.contiguous_bits), free_need = need;
          for (const RowVectors& v : reads.strided) {
            const BankedSram::ReadCost c = sram.row_vector_cost(v);
            need += c.cycles;
            free_need += c.conflict_free_cycles;
          }
          if (need > ran) {
            const uint64_t extra = need - ran;
            const uint64_t conflicts = std::min(extra, need - free_need);
            stalled(StallCause::kBankConflict, clock.now(), conflicts);
            stalled(StallCause::kScratchpadBandwidth, clock.now() + conflicts, extra - conflicts);
            wait(clock.cycles(extra));
          }
        }
      }
      sram.release(w.in_footprint);
      in_slots_.put(0);
      if (w.last_k) stores_.put(w);
      free_at = clock.now();
    }
    const uint64_t before = clock.now();
    const Timeline last = stored_all_.get();
    waited(last, before, clock.now(), StallCause::kDramBandwidth);
    result.end_cycle = clock.now();
    if (tl != nullptr && result.end_cycle > result.start_cycle) {
      tl->slice(
          track(0), o.name, to_string(o.pass), result.start_cycle, result.end_cycle,
          {{"op", op}, {"tiles", plan.tiles_per_core()}, {"busy_cycles", result.busy_cycles}});
    }
    result.scratchpad_high_water = high_water_;
    in_op_ = false;
    core_.release(plan.footprint_bytes);
    live.parts[core_.index_] = std::move(result);
    ++live.parts_done;
    chip.progress.notify(sc_core::SC_ZERO_TIME);
  }
}

void UnitPipeline::storer() {
  ChipMemory& chip = core_.chip_;
  const ClockDomain& clock = *core_.context_.clock;
  for (;;) {
    const uint32_t op = start_store_.get();
    LiveOp& live = chip.ops->at(op);
    const uint64_t outputs = live.plan.outputs_per_core();
    for (uint64_t j = 0; j < outputs; ++j) {
      const TileWork w = stores_.get();
      const uint64_t now = clock.now();
      Timeline done(now);
      if (w.reduce_bytes > 0 && chip.cores > 1) {
        const uint64_t key = MemoryArbiter::key(0, slot_, MemoryArbiter::kReduce);
        const auto reduce = [&chip, &live, &w](uint64_t at) {
          const uint64_t hops = chip.ring->byte_hops();
          const Timeline t = chip.ring->reduce_scatter(at, w.reduce_bytes);
          live.bytes.ring_byte_hops += chip.ring->byte_hops() - hops;
          return t;
        };
        if (chip.ideal) {
          if (core_.index_ == 0) chip.arbiter->request(key, reduce);
        } else {
          done = MemoryArbiter::view(*chip.join(
              1, op, j, [&] { return MemoryArbiter::known(chip.arbiter->request(key, reduce)); }));
        }
      }
      MemoryArbiter::TransferPtr stored;
      if (w.store_bytes > 0) {
        MemoryArbiter& arbiter = *chip.arbiter;
        if (arbiter.queued() != nullptr && !chip.ideal) core_.wait_until(done.done());
        const uint64_t address =
            dram_address(op, 2, live.plan.offset(2, w.out_row, w.out_col, w.shape.m)) +
            w.store_offset;
        const auto store = [this, &chip, &arbiter, &live, &w, &done, &stored,
                            address](uint64_t at) {
          live.bytes.dram_write += w.store_bytes;
          if (arbiter.queued() != nullptr) {
            if (!chip.ideal) {  // ideal memory: counted, not sent
              stored = arbiter.submit(core_.index_, at, address, w.store_bytes, true, &store_done_);
            }
            return Timeline(at);
          }
          return core_.dma_->transfer(std::max(at, done.done()), w.store_bytes, true,
                                      *chip.reservation_dram);
        };
        const Timeline booked =
            arbiter.request(MemoryArbiter::key(core_.index_, slot_, MemoryArbiter::kStore), store);
        if (!stored) stored = MemoryArbiter::known(booked);
        core_.sram_->count_read(w.store_bytes);
        live.bytes.scratchpad_drain += w.store_bytes;
      }
      if (chip.ideal || !stored) stored = MemoryArbiter::known(done);
      retiring_.put({stored, done, w.out_footprint});
    }
  }
}

void UnitPipeline::retirer() {
  ChipMemory& chip = core_.chip_;
  const ClockDomain& clock = *core_.context_.clock;
  for (;;) {
    const uint32_t op = start_retire_.get();
    Timeline last(clock.now());
    const uint64_t outputs = chip.ops->at(op).plan.outputs_per_core();
    for (uint64_t j = 0; j < outputs; ++j) {
      const Store s = retiring_.get();
      // After the reduction (k split), the store's own segments.
      Timeline done = s.reduced;
      const Timeline stored = chip.arbiter->await(s.store);
      if (chip.timeline != nullptr && stored.done() > stored.start()) {
        chip.timeline->async_slice(track(2), "store", s.store->source, stored.start(),
                                   stored.done(), {{"op", op}, {"output", j}});
      }
      if (!chip.ideal && s.store != nullptr) {
        for (const auto& [end, cause] : stored.segments()) done.add(end, cause);
      }
      core_.wait_until(done.done());
      core_.sram_->release(s.footprint);
      out_slots_.put(done);
      last = done;
    }
    stored_all_.put(last);
  }
}

}  // namespace nibble
