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

MemoryArbiter::TransferPtr MemoryArbiter::known(const Timeline& timeline, const char* source) {
  auto t = std::make_shared<Transfer>();
  t->timeline = timeline;
  t->complete = true;
  t->source = source;
  return t;
}

MemoryArbiter::TransferPtr MemoryArbiter::submit(uint64_t core, uint64_t now, uint64_t address,
                                                 uint64_t bytes, bool write,
                                                 sc_core::sc_event* wake) {
  auto t = std::make_shared<Transfer>();
  t->timeline = Timeline(now);
  t->wake = wake;
  if (bytes == 0) {
    t->complete = true;
    return t;
  }
  in_flight_[queued_->submit(core, now, address, bytes, write)] = t;
  return t;
}

Timeline MemoryArbiter::view(const Transfer& t) {
  if (!t.after) return t.timeline;
  Timeline mine(t.arrival);
  mine.add(t.joined, StallCause::kDependency);
  const Timeline after = view(*t.after);
  for (const auto& [end, cause] : after.segments()) mine.add(end, cause);
  return mine;
}

Timeline MemoryArbiter::await(const TransferPtr& t) {
  const Transfer* last = t.get();
  while (last->after) last = last->after.get();
  while (!last->complete) sc_core::wait(*last->wake);
  const Timeline mine = view(*t);
  const uint64_t now = clock_.now(), done = mine.done();
  if (done > now) sc_core::wait(clock_.cycles(done - now));
  return mine;
}

void MemoryArbiter::advance(uint64_t cycle) {
  done_.clear();
  queued_->run(cycle == QueuedDma::kNever ? QueuedDma::kNever : cycle * clock_.period_ps(), done_);
  for (QueuedDma::Done& d : done_) {
    const auto it = in_flight_.find(d.id);
    TransferPtr t = std::move(it->second);
    in_flight_.erase(it);
    t->timeline = std::move(d.timeline);
    t->complete = true;
    if (t->wake != nullptr) t->wake->notify(sc_core::SC_ZERO_TIME);
  }
}

void MemoryArbiter::serve() {
  for (;;) {
    sc_core::wait(wake_);
    // Let every process that can still run at this time run (and perhaps request) first.
    while (sc_core::sc_pending_activity_at_current_time()) sc_core::wait(sc_core::SC_ZERO_TIME);
    const uint64_t now = clock_.now();
    // Everything before this cycle (the last turn ran ahead to at least here: nothing is left).
    if (queued_ != nullptr) advance(now);
    if (!pending_.empty()) {
      std::sort(pending_.begin(), pending_.end(),
                [](const Request* a, const Request* b) { return a->key < b->key; });
      for (std::size_t i = 1; i < pending_.size(); ++i) {
        if (pending_[i - 1]->key == pending_[i]->key) {
          throw std::logic_error("two memory requests pending under one arbiter key");
        }
      }
      for (Request* r : pending_) {
        r->result = r->act(now);
        r->done = true;
      }
      pending_.clear();
      ++rounds_;
      served_.notify(sc_core::SC_ZERO_TIME);
    }
    if (queued_ != nullptr) run_ahead();
  }
}

// After this turn's requests: while the kernel still has something to run at this cycle, turn
// again once it has done it; otherwise run the DMA engines and the controller up to the kernel's
// next activity, or to the first cycle a transfer completes, and wake then while transfers are in
// flight. A transfer found complete ahead is delivered now: its thread waits out the cycles to
// its end (Arbiter::await), so it resumes at the same cycle either way.
void MemoryArbiter::run_ahead() {
  if (queued_->in_flight() == 0) return;  // nothing anybody waits for: catch up at the next turn
  if (sc_core::sc_pending_activity_at_current_time()) {
    wake_.notify(sc_core::SC_ZERO_TIME);
    return;
  }
  const uint64_t now = clock_.now(), period = clock_.period_ps();
  uint64_t horizon = QueuedDma::kNever;
  if (sc_core::sc_pending_activity_at_future_time()) {
    horizon = now + sc_core::sc_time_to_pending_activity().value() / period;
  }
  advance(horizon);
  const uint64_t next = queued_->next_event_ps();
  uint64_t wake = horizon;
  if (next != QueuedDma::kNever) wake = std::min(wake, next / period);
  if (wake != QueuedDma::kNever && queued_->in_flight() > 0) {
    if (wake > now) {
      wake_.notify(clock_.cycles(wake - now));
    } else {
      wake_.notify(sc_core::SC_ZERO_TIME);
    }
  }
}

}  // namespace nibble
