// DRAM as bandwidth and latency: `channels` independent channels share the total bandwidth
// equally; a request takes the channel that frees first (lowest index on a tie), occupies it for
// ceil(bytes ÷ channel bytes per cycle) cycles after any queueing, and its data arrives
// `latency` later. No banks, rows or refresh: a first-order model behind DramPort, so that a
// detailed one can replace it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/interfaces/memory.h"

namespace nibble {

struct BandwidthLatencyParams {
  double bandwidth_gbps = 64;  // total over all channels, GB/s (10^9 bytes per second)
  uint64_t channels = 1;       // independent channels, each with bandwidth_gbps / channels
  double latency_ns = 100;     // from a channel starting a request to its data arriving

  void read(ConfigNode& node);
};

class BandwidthLatencyDram : public DramPort {
 public:
  BandwidthLatencyDram(const BandwidthLatencyParams& params, double core_mhz);

  DramAccess access(uint64_t issue, uint64_t bytes, bool write) override;
  double peak_bytes_per_cycle() const override {
    return channel_bytes_per_cycle_ * static_cast<double>(free_.size());
  }
  uint64_t latency_cycles() const override { return latency_cycles_; }
  Json describe() const override;
  void add_stats(Stats& stats, const std::string& prefix) const override;

  uint64_t busy_cycles() const { return busy_cycles_; }

 private:
  BandwidthLatencyParams params_;
  double channel_bytes_per_cycle_;
  uint64_t latency_cycles_;
  std::vector<uint64_t> free_;  // per channel, the cycle it is free again
  uint64_t requests_ = 0, busy_cycles_ = 0;
};

}  // namespace nibble
