#include "models/accelerator/live_ops.h"

#include <utility>

namespace nibble {

LiveOp& LiveOps::append(Op op, OpData data) {
  const uint64_t index = end();
  LiveOp& live = ops_.emplace_back();
  if (!op.deps_listed) {
    if (index > base_) live.deps.push_back(index - 1);  // in order after the op before it
  }
  for (const std::string& name : op.deps) {
    const auto it = by_name_.find(name);
    if (it != by_name_.end()) live.deps.push_back(it->second);
  }
  by_name_[op.name] = index;
  live.op = std::move(op);
  live.data = std::move(data);
  return live;
}

void LiveOps::pop_front() {
  const auto it = by_name_.find(ops_.front().op.name);
  if (it != by_name_.end() && it->second == base_) by_name_.erase(it);
  ops_.pop_front();
  ++base_;
}

}  // namespace nibble
