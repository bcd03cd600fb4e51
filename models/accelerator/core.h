// One core of the chip and the memory it shares with the others.
//
// A core holds the four compute units, a banked scratchpad and a DMA engine. Each unit has its own
// pipeline (UnitPipeline) of three SystemC threads that run the unit's ops, one after another in
// the order they are given, tile by tile as the mapper planned them (models/mapper/mapper.h):
//   loader:  takes a free input buffer and has the DMA bring the tile's operands from DRAM (or
//            the shared buffer, or a broadcast over the ring), then goes on to the next tile;
//   compute: takes the next tile (waiting until its loads are in), an output buffer at the tile's
//            first k step (waiting while the stores hold them all), runs the tile on its unit,
//            waits while the scratchpad cannot feed the array, frees the input buffer, and passes
//            the output tile to the storer after its last k step;
//   storer:  reduces the output tile across cores over the ring (k split) and has the DMA store
//            it, then goes on to the next output tile;
//   retirer: frees each output buffer as its store completes.
// With double buffering two input and two output buffers let tile i+1 load and tile i-1 store
// while tile i computes; without it, one of each serialises them. Every cycle the compute thread
// is not running a tile is attributed to a stall cause from the timeline of what it waited for.
// The pipelines of a core's units run concurrently when the controller gives them ops at once;
// they share the core's DMA engine and scratchpad (an op starts only when its tiles' footprint
// fits beside those of the ops already running there).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <systemc>

#include "models/accelerator/arbiter.h"
#include "models/accelerator/live_ops.h"
#include "models/dma/dma.h"
#include "models/interfaces/compute_unit.h"
#include "models/mapper/mapper.h"
#include "models/ring/ring.h"
#include "models/scratchpad/banked_sram.h"
#include "models/shared_buffer/shared_buffer.h"
#include "sim/queue.h"
#include "sim/timeline.h"

namespace nibble {

// What the cores share: the ops, DRAM, ring, shared buffer, and the collectives in flight.
struct ChipMemory {
  const ClockDomain* clock = nullptr;
  LiveOps* ops = nullptr;
  uint64_t cores = 1;
  bool ideal = false;  // no memory stalls: transfers take no time (still counted)
  std::unique_ptr<DramPort> dram;
  ReservationDram* reservation_dram = nullptr;  // dram, when it books requests as they come
  std::unique_ptr<Ring> ring;
  std::unique_ptr<SharedBuffer> shared_buffer;  // may be null
  std::vector<Dma*> dmas;                       // per core
  MemoryArbiter* arbiter = nullptr;             // every use of the above goes through it
  TimelineWriter* timeline = nullptr;           // timeline.json, when asked for
  sc_core::sc_event progress;                   // an op started or finished on some core

  // A collective among all cores: each arrives with its own cycle; the last to arrive does
  // `work` (memory requests through the arbiter, from its arrival), which returns the transfer
  // they all wait for (known at once, or completing later). Returns the member's view of it:
  // waiting for the others (dependency), then the transfer.
  MemoryArbiter::TransferPtr join(int kind, uint64_t op, uint64_t seq,
                                  const std::function<MemoryArbiter::TransferPtr()>& work);
  // Broadcasts of a tile fetched through a DRAM controller: per owner core, the thread that waits
  // for the fetch and then sends it over the ring (so the cores' loaders need not wait).
  struct Broadcast {
    MemoryArbiter::TransferPtr fetched, sent;
    uint64_t bytes = 0, key = 0;
    LiveOp* live = nullptr;
  };
  std::vector<BoundedQueue<Broadcast>*> broadcasts;  // per core (queued DRAM only)
  sc_core::sc_event broadcast_done;                  // a broadcast's `sent` completed

 private:
  struct Collective {
    uint64_t arrived = 0, left = 0, last_arrival = 0;
    bool complete = false;
    MemoryArbiter::TransferPtr result;
  };
  std::map<std::tuple<int, uint64_t, uint64_t>, Collective> collectives_;
  sc_core::sc_event collective_done_;
};

// Merges one part's record (a tile, a core's share) into an op's: work and energy add up, checks
// keep their largest value, the first part's mapping stands for the op's.
void merge_record(UnitOpRecord& into, const UnitOpRecord& part, bool first);

// Sends tiles over the ring once their fetch through the DRAM controller is in (one per core,
// for the tiles it owns; see ChipMemory::broadcasts).
class RingBroadcaster : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(RingBroadcaster);
  RingBroadcaster(sc_core::sc_module_name name, ChipMemory& chip);
  BoundedQueue<ChipMemory::Broadcast> jobs;

 private:
  void run();
  ChipMemory& chip_;
};

class Core;

// The four threads that run one unit's ops on one core (see the top of this file).
class UnitPipeline : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(UnitPipeline);
  UnitPipeline(sc_core::sc_module_name name, Core& core, std::size_t slot);

  // Queues op `op` (an index into the live ops); the pipeline takes its ops in order.
  void start(uint32_t op);
  void set_buffers(uint64_t buffers);

 private:
  friend class Core;
  struct ReadyTile {
    TileWork work;
    MemoryArbiter::TransferPtr loads[2];  // its loads, in flight or done (work.load_count)
  };
  struct Store {
    MemoryArbiter::TransferPtr store;  // the DMA's store of the tile
    Timeline reduced;                  // the reduction over the ring before it (k split)
    uint64_t footprint = 0;            // its scratchpad bytes
  };
  void loader();
  void compute();
  void storer();
  void retirer();
  MemoryArbiter::TransferPtr load(uint32_t op, uint64_t t, const TileLoad& load);

  Core& core_;
  sc_core::sc_event load_done_, store_done_;  // a transfer of the loader / storer completed
  std::size_t slot_;
  // Timeline tracks (created when first used): the unit's ops and stalls, its loads and stores.
  int track(int which);
  int tracks_[3] = {-1, -1, -1};
  uint64_t buffers_ = 2;
  bool in_op_ = false;       // the compute thread is in an op
  uint64_t high_water_ = 0;  // most bytes the core's scratchpad held since that op started
  BoundedQueue<uint32_t> start_load_, start_compute_, start_store_, start_retire_;
  BoundedQueue<int> in_slots_{2};
  BoundedQueue<ReadyTile> ready_{2};
  BoundedQueue<Timeline> out_slots_{2};
  BoundedQueue<TileWork> stores_{2};
  BoundedQueue<Store> retiring_{2};
  BoundedQueue<Timeline> stored_all_{1};
};

class Core : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Core);
  struct Slot {
    std::string role;
    std::unique_ptr<ComputeUnit> unit;
    std::unique_ptr<UnitPipeline> pipeline;
  };

  Core(sc_core::sc_module_name name, uint64_t index, ConfigNode core, const UnitContext& context,
       ChipMemory& chip);

  uint64_t index() const { return index_; }
  std::vector<Slot>& slots() { return slots_; }
  const std::vector<Slot>& slots() const { return slots_; }
  BankedSram& scratchpad() { return *sram_; }
  const BankedSram& scratchpad() const { return *sram_; }
  Dma& dma() { return *dma_; }
  const Dma& dma() const { return *dma_; }
  void set_buffers(uint64_t buffers);

  // Starts op `op` on the pipeline of `slot`, after the ops already given to it. Each core reports
  // through the op's LiveOp (parts) and chip.progress.
  void start(std::size_t slot, uint32_t op) { slots_[slot].pipeline->start(op); }

 private:
  friend class UnitPipeline;
  void wait_until(uint64_t cycle);
  // Scratchpad occupancy, with each running op's high-water mark.
  void hold(uint64_t bytes);
  // Reserves an op's scratchpad footprint, waiting while the ops running on this core hold too
  // much of it; release() gives it back.
  void admit(uint64_t bytes);
  void release(uint64_t bytes);

  uint64_t index_;
  ChipMemory& chip_;
  UnitContext context_;
  std::vector<Slot> slots_;
  std::unique_ptr<BankedSram> sram_;
  std::unique_ptr<Dma> dma_;
  uint64_t admitted_bytes_ = 0;
  sc_core::sc_event admitted_changed_;
};

}  // namespace nibble
