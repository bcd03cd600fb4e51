// The optional shared buffer between the cores and DRAM: an SRAM of `capacity_bytes` that keeps
// the operand tiles of the running op when that operand fits whole, so that a tile the cores read
// again (another core's copy of shared weights, an operand re-read by a later tile) comes from
// here instead of DRAM. One port of `bytes_per_cycle`, `latency_cycles` per access; reads are
// served in the order requested. Fills (the copy of a tile fetched from DRAM) ride along with the
// DRAM read and cost no extra time. It holds the operands of the ops running now: an op's tiles
// are forgotten when it ends.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "models/interfaces/memory.h"

namespace nibble {

struct SharedBufferParams {
  uint64_t capacity_bytes = 2 * 1024 * 1024;
  double bytes_per_cycle = 256;
  uint64_t latency_cycles = 8;

  void read(ConfigNode& node);
  Json describe() const;
};

// Which tile of which operand of which op.
struct TileKey {
  uint32_t op = 0;
  uint32_t operand = 0;  // 0: A, 1: B, 2: element-wise input
  uint64_t row = 0, col = 0;
  bool operator<(const TileKey& o) const {
    return std::tie(op, operand, row, col) < std::tie(o.op, o.operand, o.row, o.col);
  }
};

class SharedBuffer {
 public:
  explicit SharedBuffer(const SharedBufferParams& params);

  const SharedBufferParams& params() const { return params_; }
  // Starts op `op` (its high-water mark from the bytes held now) and ends it (its tiles are
  // forgotten); ops may overlap.
  void begin_op(uint32_t op);
  void end_op(uint32_t op);
  // Whether an operand of `bytes` in total is kept here.
  bool keeps(uint64_t operand_bytes) const { return operand_bytes <= params_.capacity_bytes; }
  bool holds(const TileKey& key) const { return tiles_.count(key) != 0; }
  // Records a tile copied in from DRAM (its bytes written), when it still fits.
  void fill(const TileKey& key, uint64_t bytes);
  // Reads a held tile: its timeline (queueing and transfer as DRAM bandwidth-like, the access
  // latency as latency).
  Timeline read(uint64_t now, uint64_t bytes);

  uint64_t read_bytes() const { return read_bytes_; }
  uint64_t write_bytes() const { return write_bytes_; }
  // Most bytes held at once while op `op` ran (it has begun and not ended), and over the run.
  uint64_t high_water(uint32_t op) const;
  uint64_t run_high_water() const { return run_high_water_; }
  void add_stats(Stats& stats, const std::string& prefix) const;

 private:
  SharedBufferParams params_;
  std::map<TileKey, uint64_t> tiles_;        // bytes of each tile held
  std::map<uint32_t, uint64_t> high_water_;  // per running op
  uint64_t held_ = 0, run_high_water_ = 0;
  uint64_t free_ = 0;
  uint64_t reads_ = 0, read_bytes_ = 0, write_bytes_ = 0;
};

}  // namespace nibble
