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

class BandwidthLatencyDram : public ReservationDram {
 public:
  BandwidthLatencyDram(const BandwidthLatencyParams& params, double core_mhz);

  DramAccess access(uint64_t issue, uint64_t bytes, bool write) override;
  double peak_bytes_per_cycle() const override {
    return channel_bytes_per_cycle_ * static_cast<double>(free_.size());
  }
  uint64_t latency_cycles() const override { return latency_cycles_; }
  Json describe() const override;
  void add_stats(Stats& stats, const std::string& prefix) const override;
  Json summary(uint64_t end_cycle) const override;

  uint64_t busy_cycles() const { return busy_cycles_; }
  uint64_t channel_count() const override { return free_.size(); }

 private:
  BandwidthLatencyParams params_;
  double core_mhz_;
  double channel_bytes_per_cycle_;
  uint64_t latency_cycles_;
  std::vector<uint64_t> free_;  // per channel, the cycle it is free again
  struct Channel {
    uint64_t read_bytes = 0, write_bytes = 0, busy_cycles = 0;
  };
  std::vector<Channel> channel_stats_;
  uint64_t requests_ = 0, busy_cycles_ = 0;
};

}  // namespace nibble
