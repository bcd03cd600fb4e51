// One core of the chip and the memory it shares with the others.
//
// A core holds the four compute units, a banked scratchpad and a DMA engine. Three SystemC
// threads run each op's tiles as the mapper planned them (models/mapper/mapper.h):
//   loader:  takes a free input buffer, has the DMA bring the tile's operands from DRAM (or the
//            shared buffer, or a broadcast over the ring), and hands the tile over when it is in;
//   compute: takes a loaded tile (waiting if it is not in yet), an output buffer at the tile's
//            first k step (waiting while the stores hold them all), runs the tile on its unit,
//            waits while the scratchpad cannot feed the array, frees the input buffer, and passes
//            the output tile to the storer after its last k step;
//   storer:  reduces the output tile across cores over the ring (k split), has the DMA store it,
//            and frees its output buffer.
// With double buffering two input and two output buffers let tile i+1 load and tile i-1 store
// while tile i computes; without it, one of each serialises them. Every cycle the compute thread
// is not running a tile is attributed to a stall cause from the timeline of what it waited for.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <systemc>

#include "models/accelerator/arbiter.h"
#include "models/dma/dma.h"
#include "models/interfaces/compute_unit.h"
#include "models/mapper/mapper.h"
#include "models/ring/ring.h"
#include "models/scratchpad/banked_sram.h"
#include "models/shared_buffer/shared_buffer.h"
#include "sim/queue.h"

namespace nibble {

// What the cores share: the plans, DRAM, ring, shared buffer, and the collectives in flight.
struct ChipMemory {
  const ClockDomain* clock = nullptr;
  const Workload* workload = nullptr;
  uint64_t cores = 1;
  bool ideal = false;                // no memory stalls: transfers take no time (still counted)
  std::vector<OpPlan> plans;         // per op
  std::vector<std::size_t> op_slot;  // per op, the unit slot that runs it
  std::vector<uint8_t> whole;        // per op, whether it runs as one whole task on one core
  std::unique_ptr<DramPort> dram;
  ReservationDram* reservation_dram = nullptr;  // dram, when it books requests as they come
  std::unique_ptr<Ring> ring;
  std::unique_ptr<SharedBuffer> shared_buffer;         // may be null
  std::vector<Dma*> dmas;                              // per core
  MemoryArbiter* arbiter = nullptr;                    // every use of the above goes through it
  uint64_t dram_read_bytes = 0, dram_write_bytes = 0;  // what the cores moved (both modes)

  // A collective among all cores: each arrives with its own cycle; the last to arrive has the
  // arbiter serve `act` (under `key`) at its arrival and every member then waits until the
  // result is done. Returns the member's timeline: waiting for the others (dependency), then
  // what `act` took.
  Timeline join(int kind, uint64_t op, uint64_t seq, uint64_t key, const MemoryArbiter::Act& act);

 private:
  struct Collective {
    uint64_t arrived = 0, left = 0, last_arrival = 0;
    bool complete = false;
    Timeline result;
  };
  std::map<std::tuple<int, uint64_t, uint64_t>, Collective> collectives_;
  sc_core::sc_event collective_done_;
};

// What a core reports about one op.
struct CoreOpResult {
  uint64_t end_cycle = 0;
  uint64_t busy_cycles = 0;  // cycles its units ran the op's tiles
  StallCycles stalls{};
  bool ran = false;     // some tile of the op ran here
  UnitOpRecord record;  // merged over the op's tiles
  uint64_t scratchpad_high_water = 0;
};

// Merges one part's record (a tile, a core's share) into an op's: work and energy add up, checks
// keep their largest value, the first part's mapping stands for the op's.
void merge_record(UnitOpRecord& into, const UnitOpRecord& part, bool first);

class Core : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Core);
  struct Slot {
    std::string role;
    std::unique_ptr<ComputeUnit> unit;
  };

  Core(sc_core::sc_module_name name, uint64_t index, ConfigNode core, const UnitContext& context,
       ChipMemory& chip);

  std::vector<Slot>& slots() { return slots_; }
  const std::vector<Slot>& slots() const { return slots_; }
  BankedSram& scratchpad() { return *sram_; }
  const BankedSram& scratchpad() const { return *sram_; }
  Dma& dma() { return *dma_; }
  const Dma& dma() const { return *dma_; }
  uint64_t buffers() const { return buffers_; }
  void set_buffers(uint64_t buffers);

  // Starts op `op` on all three threads; finished() then yields its result.
  void start(uint32_t op);
  CoreOpResult finished() { return finished_.get(); }

 private:
  struct ReadyTile {
    TileWork work;
    Timeline ready;
  };
  void loader();
  void compute();
  void storer();
  Timeline load(uint32_t op, uint64_t t, const TileLoad& load);
  void wait_until(uint64_t cycle);

  uint64_t index_;
  ChipMemory& chip_;
  UnitContext context_;
  std::vector<Slot> slots_;
  std::unique_ptr<BankedSram> sram_;
  std::unique_ptr<Dma> dma_;
  uint64_t buffers_ = 2;
  BoundedQueue<uint32_t> start_load_{1}, start_compute_{1}, start_store_{1};
  BoundedQueue<int> in_slots_{2};
  BoundedQueue<ReadyTile> ready_{2};
  BoundedQueue<Timeline> out_slots_{2};
  BoundedQueue<TileWork> stores_{2};
  BoundedQueue<Timeline> stored_all_{1};
  BoundedQueue<CoreOpResult> finished_{1};
};

}  // namespace nibble
