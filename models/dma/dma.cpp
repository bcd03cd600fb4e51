#include "models/dma/dma.h"

#include <algorithm>

namespace nibble {

void DmaParams::read(ConfigNode& node) {
  burst_bytes = static_cast<uint64_t>(
      node.get_int("burst_bytes", static_cast<int64_t>(burst_bytes), 1, int64_t{1} << 30));
  outstanding = static_cast<uint64_t>(
      node.get_int("outstanding", static_cast<int64_t>(outstanding), 1, 4096));
}

Json DmaParams::describe() const {
  return {{"burst_bytes", burst_bytes}, {"outstanding", outstanding}};
}

Dma::Dma(const DmaParams& params) : params_(params), completions_(params.outstanding, 0) {}

Timeline Dma::transfer(uint64_t now, uint64_t bytes, bool write, ReservationDram& dram) {
  Timeline t(now);
  if (bytes == 0) return t;
  const uint64_t out = params_.outstanding;
  const uint64_t n = (bytes + params_.burst_bytes - 1) / params_.burst_bytes;
  uint64_t issue = now, transfer_end = now, done = now;
  // Bursts are numbered over the engine's life, so the limit spans descriptors: burst g waits
  // for burst g - out, whichever descriptor it belonged to.
  for (uint64_t j = 0; j < n; ++j) {
    const uint64_t g = bursts_ + j;
    uint64_t& slot = completions_[g % out];
    if (g >= out) issue = std::max(issue, slot);
    const uint64_t size = std::min(params_.burst_bytes, bytes - j * params_.burst_bytes);
    const DramAccess a = dram.access(issue, size, write);
    slot = a.done;
    transfer_end = std::max(transfer_end, a.transfer_end);
    done = std::max(done, a.done);
    // In flight at this issue: this burst and the earlier ones (at most out - 1) not yet done.
    uint64_t in_flight = 1;
    for (uint64_t back = 1; back < out && back <= g; ++back) {
      if (completions_[(g - back) % out] > issue) ++in_flight;
    }
    peak_outstanding_ = std::max(peak_outstanding_, in_flight);
  }
  // The last burst's latency is counted first and the rest as bandwidth: a core that waits at
  // the end of a long, queued transfer waits for bandwidth; one that waits for a short
  // transfer waits mostly for latency.
  t.add(now + (done - transfer_end), StallCause::kDramLatency);
  t.add(done, StallCause::kDramBandwidth);
  ++descriptors_;
  bursts_ += n;
  return t;
}

void Dma::add_stats(Stats& stats, const std::string& prefix) const {
  stats.add(prefix + "descriptors", descriptors_, "descriptor", "transfers requested");
  stats.add(prefix + "bursts", bursts_, "burst", "DRAM requests issued");
  stats.add(prefix + "peak_outstanding", peak_outstanding_, "burst",
            "most bursts in flight at once");
}

}  // namespace nibble
