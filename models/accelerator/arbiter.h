// The chip's memory arbiter: serves the requests that reach shared memory state in one cycle in a
// fixed order, whatever order the SystemC kernel happened to run the requesting threads in.
//
// DRAM channels, the ring, the shared buffer and a core's DMA engine are reservation models: a
// request issued at cycle c gets the earliest slots free after c, so two requests of the same
// cycle get different slots depending on which is served first. The kernel runs the processes of
// one time step in an order that depends on how they were woken, which differs between the tile
// and cycle fidelities; served directly, the same workload could then take different cycles at
// the two fidelities. So a request blocks its thread, and once nothing else can run at the current
// time (sc_pending_activity_at_current_time() is false) the arbiter serves every pending request
// in ascending key order and wakes them together. Keys are fixed priorities: core-major, then the
// requester's unit slot and role (MemoryArbiter::key), so on a tie core 0 wins, as with a
// fixed-priority arbiter in hardware. Requests that a served request causes in the same cycle form
// the next round, served the same way.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include <systemc>

#include "models/dma/dma_queue.h"
#include "models/interfaces/memory.h"
#include "sim/clock.h"

namespace nibble {

class MemoryArbiter : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(MemoryArbiter);
  // What a request does once it is its turn: reserve the units at cycle `now`, return the timeline.
  using Act = std::function<Timeline(uint64_t now)>;
  // Requester roles, in priority order within a unit's pipeline: a store first, as it frees an
  // output buffer.
  enum Role : uint64_t { kStore = 0, kLoad = 1, kBroadcast = 2, kReduce = 3, kRoles = 4 };
  // The pipelines of a core (one per unit slot) are served in slot order.
  static constexpr uint64_t kSlots = 8;
  static uint64_t key(uint64_t core, uint64_t slot, Role role) {
    return (core * kSlots + slot) * kRoles + role;
  }

  MemoryArbiter(sc_core::sc_module_name name, const ClockDomain& clock);

  // A transfer through a DMA engine: its timeline once complete.
  struct Transfer;
  using TransferPtr = std::shared_ptr<Transfer>;
  struct Transfer {
    Timeline timeline;
    bool complete = false;
    sc_core::sc_event* wake = nullptr;  // notified when it completes
    const char* source = "dram";        // where the data came from (for timelines)
    // A member's view of a collective's transfer (ChipMemory::join): it arrived at `arrival`,
    // waited for the others until `joined`, then for `after`.
    TransferPtr after;
    uint64_t arrival = 0, joined = 0;
  };
  // A transfer already known (a reservation model answered at once).
  static TransferPtr known(const Timeline& timeline, const char* source = "dram");
  // The DMA engines in front of a DRAM controller, which this arbiter then runs (see above).
  void attach(QueuedDma* dma) { queued_ = dma; }
  QueuedDma* queued() const { return queued_; }
  // Inside an act: queues a transfer on core `core`'s engine at cycle `now`; `wake` (owned by the
  // caller, outliving the transfer) is notified when it completes.
  TransferPtr submit(uint64_t core, uint64_t now, uint64_t address, uint64_t bytes, bool write,
                     sc_core::sc_event* wake);
  // Blocks the calling thread until `t` is complete and its last cycle has come; returns its
  // timeline.
  Timeline await(const TransferPtr& t);
  // The timeline of a complete transfer (a collective member's: its wait, then the transfer's).
  static Timeline view(const Transfer& t);

  // Blocks the calling thread until the arbiter has served the request in this cycle's order;
  // returns what `act` returned. One request per key may be pending at a time.
  Timeline request(uint64_t key, Act act);

  uint64_t requests() const { return requests_; }
  uint64_t rounds() const { return rounds_; }

 private:
  struct Request {
    uint64_t key;
    Act act;
    Timeline result;
    bool done = false;
  };
  void serve();
  // The queued DMA engines up to (not including) `cycle` (QueuedDma::kNever: until a transfer
  // completes); delivers what completed.
  void advance(uint64_t cycle);
  void run_ahead();

  const ClockDomain& clock_;
  QueuedDma* queued_ = nullptr;
  std::unordered_map<uint64_t, TransferPtr> in_flight_;  // by descriptor id
  std::vector<QueuedDma::Done> done_;
  std::vector<Request*> pending_;
  sc_core::sc_event wake_, served_;
  uint64_t requests_ = 0, rounds_ = 0;
};

}  // namespace nibble
