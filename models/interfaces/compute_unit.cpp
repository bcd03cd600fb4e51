#include "models/interfaces/compute_unit.h"

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
