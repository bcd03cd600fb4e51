// The cores' DMA engines in front of a DRAM controller (a QueuedDram), advanced in time order.
// Plain C++: the memory arbiter (models/accelerator/arbiter.h) drives it between SystemC events.
//
// A descriptor (bytes from an address, read or write) from core c is cut into bursts of at most
// `burst_bytes`, issued in order on the core clock, at most `outstanding` in flight per engine:
// a burst issues at the cycle its descriptor arrives, or the cycle a burst in flight completes
// and frees its slot, whichever is later (as models/dma/dma.h has it, but with the completions the
// controller actually produces, so another core's requests fill whatever the controller leaves).
// A burst completes for the engine at the first core cycle at or after the controller finished it;
// a descriptor completes when its last burst has.
//
// Time order and the caller: run(limit) makes every move (burst completions, issues, the
// controller's decisions) before `limit`, and stops early at the first cycle a descriptor
// completes, so that whatever the completion causes (new descriptors at that cycle) is submitted
// before anything at that cycle happens. Moves at one time go: completions, then issues (core
// order), then the controller. Outcomes therefore do not depend on how far each run() reaches.
#pragma once

#include <cstdint>
#include <deque>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "models/dma/dma.h"
#include "models/interfaces/memory.h"

namespace nibble {

class QueuedDma {
 public:
  static constexpr uint64_t kNever = QueuedDram::kNever;
  // `period_ps`: the core clock's period; `latency_cycles`: a descriptor's last cycles counted as
  // DRAM latency in its timeline (the controller's unloaded read latency), the rest as bandwidth.
  QueuedDma(QueuedDram& dram, const DmaParams& params, uint64_t cores, uint64_t period_ps,
            uint64_t latency_cycles);

  struct Done {
    uint64_t id = 0;
    uint64_t cycle = 0;  // core cycle it completed
    Timeline timeline;   // from its submission: latency last-but-counted-first, then bandwidth
  };

  // Queues a descriptor of core `core` arriving at core cycle `cycle` (never earlier than a
  // previous submission or the time run() has reached); returns its id.
  uint64_t submit(uint64_t core, uint64_t cycle, uint64_t address, uint64_t bytes, bool write);
  // Moves on to `limit_ps` (see the top of this file), appending completed descriptors to `done`.
  void run(uint64_t limit_ps, std::vector<Done>& done);
  // Descriptors submitted and not yet completed.
  uint64_t in_flight() const { return in_flight_; }
  // The time of the next move (kNever when there is none).
  uint64_t next_event_ps() const;

  uint64_t descriptors(uint64_t core) const { return engines_[core].descriptors; }
  uint64_t bursts(uint64_t core) const { return engines_[core].bursts; }
  uint64_t peak_outstanding(uint64_t core) const { return engines_[core].peak_outstanding; }

 private:
  struct Descriptor {
    uint64_t id = 0, cycle = 0, address = 0, bytes = 0;
    bool write = false;
    uint64_t issued = 0;     // bytes sent as bursts
    uint64_t pending = 0;    // bursts in flight
    uint64_t last_done = 0;  // core cycle its latest burst completed
  };
  struct Engine {
    std::deque<Descriptor> queue;  // submitted, not completed, in order
    std::size_t next = 0;          // first descriptor with bytes left to issue
    uint64_t in_flight = 0;        // bursts
    uint64_t free_cycle = 0;       // cycle the latest slot freed
    uint64_t descriptors = 0, bursts = 0, peak_outstanding = 0;
  };
  struct Burst {
    uint64_t core = 0, descriptor = 0;  // descriptor id
  };
  // When core `c` could issue its next burst (kNever: nothing to issue or no free slot), in ps.
  uint64_t issue_ps(const Engine& e) const;
  void issue(uint64_t core);
  void complete(uint64_t tag, uint64_t cycle, std::vector<Done>& done);

  QueuedDram& dram_;
  DmaParams params_;
  uint64_t period_ps_, latency_cycles_;
  std::vector<Engine> engines_;
  std::vector<Burst> bursts_;        // by tag
  std::vector<uint64_t> free_tags_;  // tags of completed bursts, for reuse
  // Burst completions reported by the controller, by the cycle they reach the engine.
  using Pending = std::pair<uint64_t, uint64_t>;  // (core cycle, tag)
  std::priority_queue<Pending, std::vector<Pending>, std::greater<Pending>> completions_;
  std::vector<DramCompletion> scratch_;
  uint64_t next_id_ = 0, in_flight_ = 0;
  uint64_t now_ps_ = 0;  // everything before this has been done
};

}  // namespace nibble
