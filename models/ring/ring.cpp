#include "models/ring/ring.h"

#include <algorithm>

namespace nibble {

namespace {
uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
}  // namespace

void RingParams::read(ConfigNode& node) {
  bytes_per_cycle = node.get_double("bytes_per_cycle", bytes_per_cycle, 1e-3, 1e6);
  hop_cycles = static_cast<uint64_t>(
      node.get_int("hop_cycles", static_cast<int64_t>(hop_cycles), 0, 1000000));
}

Json RingParams::describe() const {
  return {{"bytes_per_cycle", bytes_per_cycle}, {"hop_cycles", hop_cycles}};
}

Ring::Ring(const RingParams& params, uint64_t cores) : params_(params), cores_(cores) {}

uint64_t Ring::broadcast_cycles(uint64_t bytes) const {
  if (cores_ < 2 || bytes == 0) return 0;
  return transfer_cycles(bytes, params_.bytes_per_cycle) + (cores_ / 2) * params_.hop_cycles;
}

uint64_t Ring::reduce_scatter_cycles(uint64_t bytes) const {
  if (cores_ < 2 || bytes == 0) return 0;
  const uint64_t half_chunk = ceil_div(ceil_div(bytes, cores_), 2);
  return (cores_ - 1) * (params_.hop_cycles + transfer_cycles(half_chunk, params_.bytes_per_cycle));
}

Timeline Ring::reserve(uint64_t now, uint64_t cycles) {
  Timeline t(now);
  if (cycles == 0) return t;
  const uint64_t start = std::max(now, free_);
  free_ = start + cycles;
  t.add(free_, StallCause::kRing);  // waiting for the ring is a ring stall too
  ++collectives_;
  busy_cycles_ += cycles;
  return t;
}

Timeline Ring::broadcast(uint64_t now, uint64_t bytes) {
  const uint64_t cycles = broadcast_cycles(bytes);
  if (cycles > 0) byte_hops_ += bytes * (cores_ - 1);
  return reserve(now, cycles);
}

Timeline Ring::reduce_scatter(uint64_t now, uint64_t bytes) {
  const uint64_t cycles = reduce_scatter_cycles(bytes);
  if (cycles > 0) {
    const uint64_t chunk = ceil_div(bytes, cores_);
    byte_hops_ += (cores_ - 1) * cores_ * chunk;
  }
  return reserve(now, cycles);
}

Timeline Ring::all_reduce(uint64_t now, uint64_t bytes) {
  const uint64_t cycles = 2 * reduce_scatter_cycles(bytes);
  if (cycles > 0) byte_hops_ += 2 * (cores_ - 1) * cores_ * ceil_div(bytes, cores_);
  return reserve(now, cycles);
}

void Ring::add_stats(Stats& stats, const std::string& prefix) const {
  stats.add(prefix + "collectives", collectives_, "collective",
            "broadcasts and reductions carried");
  stats.add(prefix + "byte_hops", byte_hops_, "byte-hop",
            "bytes sent over links, times the hops each crossed");
  stats.add(prefix + "busy_cycles", busy_cycles_, "cycle", "cycles a collective held the ring");
}

}  // namespace nibble
