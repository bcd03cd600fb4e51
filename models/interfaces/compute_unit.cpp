#include "models/interfaces/compute_unit.h"

#include <algorithm>

namespace nibble {

const char* to_string(Fidelity fidelity) { return fidelity == Fidelity::kTile ? "tile" : "cycle"; }

ComputeUnit::ComputeUnit(sc_core::sc_module_name name, const UnitContext& context)
    : sc_module(name), tasks("tasks", 1), done("done", 1), context_(context) {
  SC_THREAD(run);
}

OpData* ComputeUnit::data_of(uint32_t index) const {
  if (context_.data == nullptr || index >= context_.data->size()) return nullptr;
  return &(*context_.data)[index];
}

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
    uint32_t index = 0;
    tasks.read(index);
    record_ = UnitOpRecord{};
    execute(index, context_.workload->ops[index], record_);
    done.write(index);
  }
}

}  // namespace nibble
