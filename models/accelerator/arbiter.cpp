#include "models/accelerator/arbiter.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace nibble {

MemoryArbiter::MemoryArbiter(sc_core::sc_module_name name, const ClockDomain& clock)
    : sc_module(name), clock_(clock) {
  SC_THREAD(serve);
}

Timeline MemoryArbiter::request(uint64_t key, Act act) {
  Request r{key, std::move(act), Timeline(clock_.now())};
  pending_.push_back(&r);
  ++requests_;
  wake_.notify(sc_core::SC_ZERO_TIME);
  while (!r.done) sc_core::wait(served_);
  return r.result;
}

void MemoryArbiter::serve() {
  for (;;) {
    sc_core::wait(wake_);
    // Let every process that can still run at this time run (and perhaps request) first.
    while (sc_core::sc_pending_activity_at_current_time()) sc_core::wait(sc_core::SC_ZERO_TIME);
    if (pending_.empty()) continue;
    std::sort(pending_.begin(), pending_.end(),
              [](const Request* a, const Request* b) { return a->key < b->key; });
    for (std::size_t i = 1; i < pending_.size(); ++i) {
      if (pending_[i - 1]->key == pending_[i]->key) {
        throw std::logic_error("two memory requests pending under one arbiter key");
      }
    }
    const uint64_t now = clock_.now();
    for (Request* r : pending_) {
      r->result = r->act(now);
      r->done = true;
    }
    pending_.clear();
    ++rounds_;
    served_.notify(sc_core::SC_ZERO_TIME);
  }
}

}  // namespace nibble
