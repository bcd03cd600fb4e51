// The ops the accelerator holds while it runs them: loaded a window at a time from the trace,
// addressed by their index in the whole trace, and dropped once finished and handed to the report
// in trace order. Units and cores see them through OpSource.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/interfaces/compute_unit.h"
#include "models/interfaces/op_data.h"
#include "models/mapper/mapper.h"
#include "models/systolic/scalesim_memory.h"
#include "sim/run_result.h"
#include "sim/workload.h"

namespace nibble {

// What one core did for one op.
struct CoreOpResult {
  uint64_t start_cycle = 0;  // the core's unit took the op
  uint64_t end_cycle = 0;    // its last store completed
  uint64_t busy_cycles = 0;  // cycles its unit ran the op's tiles
  StallCycles stalls{};      // the other cycles between start and end, by cause
  bool ran = false;          // some tile of the op ran here
  UnitOpRecord record;       // merged over the op's tiles
  uint64_t scratchpad_high_water = 0;
};

// Bytes an op moved, counted where each transfer is made.
struct OpBytes {
  uint64_t dram_read = 0, dram_write = 0, shared_buffer_read = 0, shared_buffer_write = 0;
  uint64_t ring_byte_hops = 0, scratchpad_fill = 0, scratchpad_drain = 0;
};

struct LiveOp {
  Op op;
  OpData data;
  std::size_t slot = 0;  // the unit slot of a core that runs it (Accelerator::kRingSlot: the ring)
  OpPlan plan;
  bool whole = false;          // runs as one task on one core, with its tensor data
  std::vector<uint64_t> deps;  // indices of the live ops it waits for
  bool dispatched = false, finished = false;
  uint64_t start_cycle = 0, end_cycle = 0;  // first core's start, last core's end
  uint64_t attributed_cycles = 0;           // its share of the cycles it ran in (Accelerator)
  std::vector<CoreOpResult> parts;          // per core
  uint64_t parts_started = 0, parts_done = 0;
  OpBytes bytes;
  std::optional<ScaleSimMemoryResult> scalesim;  // memory.mode scalesim_user: SCALE-Sim's cycles
  OpResult result;                               // filled when it finishes
};

class LiveOps : public OpSource {
 public:
  // Index of the oldest op held, and one past the newest.
  uint64_t begin() const { return base_; }
  uint64_t end() const { return base_ + ops_.size(); }
  bool empty() const { return ops_.empty(); }
  LiveOp& at(uint64_t index) { return ops_[index - base_]; }
  const LiveOp& at(uint64_t index) const { return ops_[index - base_]; }
  LiveOp& front() { return ops_.front(); }
  // Adds the next op of the trace; its deps become the indices of the ops it names that are still
  // held (a named op no longer held has finished). References to held ops stay valid.
  LiveOp& append(Op op, OpData data);
  void pop_front();

  const Op& op(uint32_t index) const override { return at(index).op; }
  OpData* data(uint32_t index) override { return &at(index).data; }

 private:
  std::deque<LiveOp> ops_;
  uint64_t base_ = 0;
  std::unordered_map<std::string, uint64_t> by_name_;
};

}  // namespace nibble
