// A core's DMA engine: turns a descriptor (bytes to move between DRAM and the scratchpad) into
// bursts of at most `burst_bytes`, issued in order, at most `outstanding` in flight: burst j is
// issued when burst j - outstanding has completed. Each burst is one DRAM access. The
// descriptor's timeline: first as many cycles as the last burst's latency count as DRAM latency,
// the rest (queueing, transfer, the request limit) as DRAM bandwidth.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/interfaces/memory.h"

namespace nibble {

struct DmaParams {
  uint64_t burst_bytes = 256;  // largest DRAM request
  uint64_t outstanding = 16;   // bursts in flight at once

  void read(ConfigNode& node);
  Json describe() const;
};

class Dma {
 public:
  explicit Dma(const DmaParams& params);

  const DmaParams& params() const { return params_; }
  // Moves `bytes` (> 0) between `dram` and the scratchpad, starting at cycle `now`.
  Timeline transfer(uint64_t now, uint64_t bytes, bool write, ReservationDram& dram);

  uint64_t descriptors() const { return descriptors_; }
  uint64_t bursts() const { return bursts_; }
  // Most bursts that were in flight at once.
  uint64_t peak_outstanding() const { return peak_outstanding_; }
  void add_stats(Stats& stats, const std::string& prefix) const;

 private:
  DmaParams params_;
  std::vector<uint64_t> completions_;  // completion cycle of the last `outstanding` bursts
  uint64_t descriptors_ = 0, bursts_ = 0, peak_outstanding_ = 0;
};

}  // namespace nibble
