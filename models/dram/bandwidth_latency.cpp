#include "models/dram/bandwidth_latency.h"

#include <algorithm>
#include <cmath>

namespace nibble {

void BandwidthLatencyParams::read(ConfigNode& node) {
  bandwidth_gbps = node.get_double("bandwidth_gbps", bandwidth_gbps, 1e-3, 1e6);
  channels =
      static_cast<uint64_t>(node.get_int("channels", static_cast<int64_t>(channels), 1, 1024));
  latency_ns = node.get_double("latency_ns", latency_ns, 0, 1e6);
}

// GB/s ÷ MHz = 10^9 / 10^6 bytes per cycle; the latency rounds up to whole cycles.
BandwidthLatencyDram::BandwidthLatencyDram(const BandwidthLatencyParams& params, double core_mhz)
    : params_(params),
      core_mhz_(core_mhz),
      channel_bytes_per_cycle_(params.bandwidth_gbps * 1000.0 / core_mhz /
                               static_cast<double>(params.channels)),
      latency_cycles_(transfer_cycles(static_cast<uint64_t>(std::llround(params.latency_ns * 1e3)),
                                      1e6 / core_mhz)),
      free_(params.channels, 0),
      channel_stats_(params.channels) {}

DramAccess BandwidthLatencyDram::access(uint64_t issue, uint64_t bytes, bool write) {
  const auto channel = std::min_element(free_.begin(), free_.end());
  DramAccess a;
  a.issue = issue;
  a.start = std::max(issue, *channel);
  const uint64_t occupancy = transfer_cycles(bytes, channel_bytes_per_cycle_);
  a.transfer_end = a.start + occupancy;
  a.done = a.transfer_end + latency_cycles_;
  *channel = a.transfer_end;
  ++requests_;
  busy_cycles_ += occupancy;
  (write ? write_bytes_ : read_bytes_) += bytes;
  const auto index = static_cast<std::size_t>(channel - free_.begin());
  Channel& c = channel_stats_[index];
  if (observer_ != nullptr) {
    const double ps = 1e6 / core_mhz_;
    observer_->on_transfer(index, static_cast<uint64_t>(static_cast<double>(a.start) * ps + 0.5),
                           static_cast<uint64_t>(static_cast<double>(a.transfer_end) * ps + 0.5),
                           write);
  }
  (write ? c.write_bytes : c.read_bytes) += bytes;
  c.busy_cycles += occupancy;
  return a;
}

Json BandwidthLatencyDram::describe() const {
  return {{"impl", "simple"},
          {"bandwidth_gbps", params_.bandwidth_gbps},
          {"channels", params_.channels},
          {"latency_ns", params_.latency_ns},
          {"latency_cycles", latency_cycles_}};
}

void BandwidthLatencyDram::add_stats(Stats& stats, const std::string& prefix) const {
  stats.add(prefix + "requests", requests_, "request", "requests (DMA bursts) served");
  stats.add(prefix + "read_bytes", read_bytes_, "byte", "bytes read");
  stats.add(prefix + "write_bytes", write_bytes_, "byte", "bytes written");
  stats.add(prefix + "busy_cycles", busy_cycles_, "channel-cycle",
            "cycles channels spent transferring, summed over channels");
}

// Per channel: bytes, the achieved bandwidth over the run and the share of it the channel was busy.
Json BandwidthLatencyDram::summary(uint64_t end_cycle) const {
  const double seconds = static_cast<double>(end_cycle) / (core_mhz_ * 1e6);
  Json channels = Json::array();
  for (const Channel& c : channel_stats_) {
    const uint64_t bytes = c.read_bytes + c.write_bytes;
    channels.push_back({{"read_bytes", c.read_bytes},
                        {"write_bytes", c.write_bytes},
                        {"gbps", end_cycle == 0 ? 0.0 : static_cast<double>(bytes) / seconds / 1e9},
                        {"busy_fraction", end_cycle == 0 ? 0.0
                                                         : static_cast<double>(c.busy_cycles) /
                                                               static_cast<double>(end_cycle)}});
  }
  return {{"model", "simple"}, {"requests", requests_}, {"channels", std::move(channels)}};
}

}  // namespace nibble
