#include "models/interfaces/compute_unit.h"

#include <algorithm>
#include <ostream>

namespace nibble {

const char* to_string(Fidelity fidelity) { return fidelity == Fidelity::kTile ? "tile" : "cycle"; }

ComputeUnit::ComputeUnit(sc_core::sc_module_name name, const UnitContext& context)
    : sc_module(name), tasks("tasks", 1), done("done", 1), context_(context) {
  SC_THREAD(run);
}

std::ostream& operator<<(std::ostream& out, const UnitTask& task) {
  return out << "op " << task.index << (task.whole ? "" : " tile ") << task.shape.m << "x"
             << task.shape.n << "x" << task.shape.k;
}

GemmShape work_shape(const Op& op) {
  if (op.vector) return {op.vector->elements, 1, 1};
  return op.gemm;
}

Op with_shape(const Op& op, const GemmShape& shape) {
  Op tile = op;
  if (tile.vector) {
    tile.vector->elements = shape.m;
  } else {
    tile.gemm = shape;
  }
  return tile;
}

OpData* ComputeUnit::op_data(uint32_t index) const {
  return context_.ops == nullptr ? nullptr : context_.ops->data(index);
}

OpData* ComputeUnit::data_of(uint32_t index) const { return whole_ ? op_data(index) : nullptr; }

ComputeUnit::PipelineRun ComputeUnit::step_lane_pipeline(uint64_t work, uint64_t per_cycle,
                                                         std::size_t depth) {
  const sc_core::sc_time one = context_.clock->cycles(1);
  stages_.assign(depth, 0);
  PipelineRun run;
  uint64_t waiting = work, in_flight = 0;
  while (waiting > 0 || in_flight > 0) {
    std::copy_backward(stages_.begin(), stages_.end() - 1, stages_.end());
    const uint64_t beat = std::min(per_cycle, waiting);
    stages_[0] = beat;
    waiting -= beat;
    in_flight += beat > 0 ? 1 : 0;
    run.peak_occupancy = std::max(run.peak_occupancy, in_flight);
    wait(one);
    ++run.cycles;
    uint64_t& last = stages_.back();
    if (last > 0) {
      run.work += last;
      last = 0;
      --in_flight;
    }
  }
  return run;
}

void ComputeUnit::run() {
  for (;;) {
    UnitTask task;
    tasks.read(task);
    record_ = UnitOpRecord{};
    whole_ = task.whole;
    const Op& op = context_.ops->op(task.index);
    if (task.whole) {
      execute(task.index, op, record_);
    } else {
      execute(task.index, with_shape(op, task.shape), record_);
    }
    done.write(task.index);
  }
}

}  // namespace nibble
