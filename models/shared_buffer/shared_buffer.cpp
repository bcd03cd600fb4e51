#include "models/shared_buffer/shared_buffer.h"

#include <algorithm>

namespace nibble {

void SharedBufferParams::read(ConfigNode& node) {
  capacity_bytes = static_cast<uint64_t>(
      node.get_int("capacity_bytes", static_cast<int64_t>(capacity_bytes), 1, int64_t{1} << 42));
  bytes_per_cycle = node.get_double("bytes_per_cycle", bytes_per_cycle, 1e-3, 1e6);
  latency_cycles = static_cast<uint64_t>(
      node.get_int("latency_cycles", static_cast<int64_t>(latency_cycles), 0, 1000000));
}

Json SharedBufferParams::describe() const {
  return {{"capacity_bytes", capacity_bytes},
          {"bytes_per_cycle", bytes_per_cycle},
          {"latency_cycles", latency_cycles}};
}

SharedBuffer::SharedBuffer(const SharedBufferParams& params) : params_(params) {}

void SharedBuffer::begin_op(uint32_t op) { high_water_[op] = held_; }

void SharedBuffer::end_op(uint32_t op) {
  const auto first = tiles_.lower_bound(TileKey{op, 0, 0, 0});
  auto last = first;
  while (last != tiles_.end() && last->first.op == op) held_ -= (last++)->second;
  tiles_.erase(first, last);
  high_water_.erase(op);
}

uint64_t SharedBuffer::high_water(uint32_t op) const {
  const auto it = high_water_.find(op);
  return it == high_water_.end() ? 0 : it->second;
}

void SharedBuffer::fill(const TileKey& key, uint64_t bytes) {
  if (held_ + bytes > params_.capacity_bytes) return;  // full: the tile is not kept
  if (!tiles_.emplace(key, bytes).second) return;
  held_ += bytes;
  for (auto& [op, high] : high_water_) high = std::max(high, held_);
  run_high_water_ = std::max(run_high_water_, held_);
  write_bytes_ += bytes;
}

// Queueing and transfer are bandwidth (the buffer's port), the access latency is latency; both
// are reported under the DRAM causes, the level the data would otherwise have come from.
Timeline SharedBuffer::read(uint64_t now, uint64_t bytes) {
  Timeline t(now);
  const uint64_t start = std::max(now, free_);
  free_ = start + transfer_cycles(bytes, params_.bytes_per_cycle);
  t.add(now + params_.latency_cycles, StallCause::kDramLatency);  // latency first, as the DMA
  t.add(free_ + params_.latency_cycles, StallCause::kDramBandwidth);
  ++reads_;
  read_bytes_ += bytes;
  return t;
}

void SharedBuffer::add_stats(Stats& stats, const std::string& prefix) const {
  stats.add(prefix + "reads", reads_, "read", "tile reads served");
  stats.add(prefix + "read_bytes", read_bytes_, "byte", "bytes read by the cores");
  stats.add(prefix + "write_bytes", write_bytes_, "byte", "bytes filled from DRAM");
  stats.add(prefix + "high_water_bytes", run_high_water_, "byte",
            "most bytes held at once over the run");
}

}  // namespace nibble
