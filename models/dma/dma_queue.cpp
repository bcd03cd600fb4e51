#include "models/dma/dma_queue.h"

#include <algorithm>
#include <stdexcept>

namespace nibble {

QueuedDma::QueuedDma(QueuedDram& dram, const DmaParams& params, uint64_t cores, uint64_t period_ps,
                     uint64_t latency_cycles)
    : dram_(dram),
      params_(params),
      period_ps_(period_ps),
      latency_cycles_(latency_cycles),
      engines_(cores) {}

uint64_t QueuedDma::submit(uint64_t core, uint64_t cycle, uint64_t address, uint64_t bytes,
                           bool write) {
  if (bytes == 0) throw std::logic_error("a DMA descriptor of no bytes");
  Engine& e = engines_[core];
  Descriptor d;
  d.id = next_id_++;
  d.cycle = cycle;
  d.address = address;
  d.bytes = bytes;
  d.write = write;
  e.queue.push_back(d);
  ++e.descriptors;
  ++in_flight_;
  return d.id;
}

uint64_t QueuedDma::issue_ps(const Engine& e) const {
  if (e.next >= e.queue.size() || e.in_flight >= params_.outstanding) return kNever;
  return std::max(e.queue[e.next].cycle, e.free_cycle) * period_ps_;
}

void QueuedDma::issue(uint64_t core) {
  Engine& e = engines_[core];
  const uint64_t at = issue_ps(e);
  Descriptor& d = e.queue[e.next];
  const uint64_t size = std::min(params_.burst_bytes, d.bytes - d.issued);
  uint64_t tag = bursts_.size();
  if (!free_tags_.empty()) {
    tag = free_tags_.back();
    free_tags_.pop_back();
  } else {
    bursts_.emplace_back();
  }
  bursts_[tag] = {core, d.id};
  dram_.enqueue(at, {tag, d.address + d.issued, size, d.write});
  d.issued += size;
  ++d.pending;
  ++e.in_flight;
  ++e.bursts;
  e.peak_outstanding = std::max(e.peak_outstanding, e.in_flight);
  if (d.issued == d.bytes) ++e.next;
}

void QueuedDma::complete(uint64_t tag, uint64_t cycle, std::vector<Done>& done) {
  const Burst b = bursts_[tag];
  free_tags_.push_back(tag);
  Engine& e = engines_[b.core];
  --e.in_flight;
  e.free_cycle = std::max(e.free_cycle, cycle);
  std::size_t i = 0;
  while (e.queue[i].id != b.descriptor) ++i;
  Descriptor& d = e.queue[i];
  --d.pending;
  d.last_done = std::max(d.last_done, cycle);
  if (d.pending > 0 || d.issued < d.bytes) return;
  // The last cycles of the transfer count as the latency of an access, the rest as bandwidth
  // (queueing, transfer, the request limit), as for the reservation engine.
  Done out;
  out.id = d.id;
  out.cycle = d.last_done;
  out.timeline = Timeline(d.cycle);
  const uint64_t latency = std::min(d.last_done - d.cycle, latency_cycles_);
  out.timeline.add(d.cycle + latency, StallCause::kDramLatency);
  out.timeline.add(d.last_done, StallCause::kDramBandwidth);
  done.push_back(std::move(out));
  e.queue.erase(e.queue.begin() + static_cast<std::ptrdiff_t>(i));
  if (i < e.next) --e.next;
  --in_flight_;
}

uint64_t QueuedDma::next_event_ps() const {
  uint64_t t = dram_.next_event_ps();
  if (!completions_.empty()) t = std::min(t, completions_.top().first * period_ps_);
  for (const Engine& e : engines_) t = std::min(t, issue_ps(e));
  return t;
}

void QueuedDma::run(uint64_t limit_ps, std::vector<Done>& done) {
  uint64_t stop = limit_ps;
  for (;;) {
    const uint64_t completion =
        completions_.empty() ? kNever : completions_.top().first * period_ps_;
    uint64_t issue_at = kNever;
    std::size_t core = 0;
    for (std::size_t c = 0; c < engines_.size(); ++c) {
      const uint64_t t = issue_ps(engines_[c]);
      if (t < issue_at) issue_at = t, core = c;
    }
    const uint64_t decision = dram_.next_event_ps();
    const uint64_t t = std::min({completion, issue_at, decision});
    if (t >= stop) break;
    now_ps_ = t;
    if (completion == t) {
      // Every burst that reaches its engine at this cycle; a finished descriptor ends the run
      // here, before anything else at this cycle happens.
      const std::size_t before = done.size();
      while (!completions_.empty() && completions_.top().first * period_ps_ == t) {
        const uint64_t tag = completions_.top().second;
        const uint64_t cycle = completions_.top().first;
        completions_.pop();
        complete(tag, cycle, done);
      }
      if (done.size() > before) stop = t;
      continue;
    }
    if (issue_at == t) {
      issue(core);
      continue;
    }
    scratch_.clear();
    dram_.run(std::min({stop, completion, issue_at}), scratch_);
    for (const DramCompletion& c : scratch_) {
      completions_.emplace((c.done_ps + period_ps_ - 1) / period_ps_, c.tag);
    }
  }
}

}  // namespace nibble
