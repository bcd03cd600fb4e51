// How the memory units meet the cores that use them: timelines of memory transactions, the causes
// a core can stall on, and the port a DRAM model offers (so that a detailed DRAM model can be
// plugged in behind it).
//
// Memory units are timing services by reservation: a caller asks at the current cycle, the unit
// reserves its resources (channels, links, banks) in the order requests arrive and answers with
// the cycle the transaction completes and what it spent its time on; the caller's SystemC thread
// then waits until that cycle. Requests arriving in the same cycle are served in the order the
// kernel runs their threads, which is deterministic for a given build and input.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sim/config.h"
#include "sim/stats.h"

namespace nibble {

// Why a core's compute was not busy.
enum class StallCause {
  kDramBandwidth,        // data still streaming from or to DRAM (queueing, transfer, request limit)
  kDramLatency,          // the last bytes' access latency
  kBankConflict,         // the scratchpad serialised accesses that fell into one bank
  kScratchpadBandwidth,  // the scratchpad could not feed the array fast enough without conflicts
  kRing,                 // transfers between cores (operand sharing, reductions)
  kDependency,           // waiting for other cores (an op's barrier, a collective's members)
};
constexpr std::size_t kStallCauses = 6;
const char* to_string(StallCause cause);
using StallCycles = std::array<uint64_t, kStallCauses>;
Json to_json(const StallCycles& stalls);

// What a transaction spent its time on: contiguous segments from `start`, each ending at a cycle
// with a cause. `done()` is the end of the last segment (or `start` when it has none).
class Timeline {
 public:
  explicit Timeline(uint64_t start = 0) : start_(start) {}
  uint64_t start() const { return start_; }
  uint64_t done() const { return segments_.empty() ? start_ : segments_.back().first; }
  // Appends a segment up to `end` (nothing when `end` is not past done()).
  void add(uint64_t end, StallCause cause);
  // Adds to `stalls` how the cycles [from, to) split over the segments; cycles before start() or
  // after done() go to `outside`.
  void attribute(uint64_t from, uint64_t to, StallCycles& stalls, StallCause outside) const;
  // The same pieces, in time order: f(begin, end, cause) for each non-empty one.
  template <typename F>
  void pieces(uint64_t from, uint64_t to, StallCause outside, F&& f) const {
    if (to <= from) return;
    if (from < start_) f(from, std::min(to, start_), outside);
    uint64_t begin = start_;
    for (const auto& [end, cause] : segments_) {
      const uint64_t lo = std::max(begin, from), hi = std::min(end, to);
      if (hi > lo) f(lo, hi, cause);
      begin = end;
    }
    const uint64_t tail = std::max(from, done());
    if (to > tail) f(tail, to, outside);
  }
  const std::vector<std::pair<uint64_t, StallCause>>& segments() const { return segments_; }

 private:
  uint64_t start_;
  std::vector<std::pair<uint64_t, StallCause>> segments_;
};

// One access as the DRAM served it.
struct DramAccess {
  uint64_t issue = 0;         // cycle the request reached the DRAM
  uint64_t start = 0;         // cycle its channel began the transfer (after queueing)
  uint64_t transfer_end = 0;  // cycle the channel was free again
  uint64_t done = 0;          // cycle the data was delivered (transfer_end + latency)
};

// Sees what a DRAM model's channels do (for timelines): one call per data transfer on a channel's
// bus, in the order of their starts on that channel.
class DramObserver {
 public:
  virtual ~DramObserver() = default;
  virtual void on_transfer(uint64_t channel, uint64_t start_ps, uint64_t end_ps, bool write) = 0;
};

// A DRAM as the DMA engines see it. Two kinds sit behind this base: a ReservationDram answers
// each request at once with the cycles it will take (a first-order model: fast, but a request
// booked now cannot be overtaken by one that arrives later), and a QueuedDram is a controller
// that queues requests and decides, command by command and in time order, what each channel does.
class DramPort {
 public:
  virtual ~DramPort() = default;
  // Bytes per cycle of the core clock at full use of every channel (for the mapper's estimates).
  virtual double peak_bytes_per_cycle() const = 0;
  // The access latency of an unloaded read, in core cycles (for the mapper's estimates).
  virtual uint64_t latency_cycles() const = 0;
  // Bytes a transfer should have for the DRAM to stream it (for the mapper; 0: any size).
  virtual uint64_t streaming_bytes() const { return 0; }
  virtual Json describe() const = 0;
  virtual void add_stats(Stats& stats, const std::string& prefix) const = 0;
  // What the report's `memory.dram` shows of the run that ended at cycle `end_cycle`.
  virtual Json summary(uint64_t end_cycle) const = 0;
  uint64_t read_bytes() const { return read_bytes_; }
  uint64_t write_bytes() const { return write_bytes_; }
  virtual uint64_t channel_count() const = 0;
  void observe(DramObserver* observer) { observer_ = observer; }
  // Exact shortcuts (sim.fast_forward): on by default; off, the model takes the long way to the
  // same outcomes, which tests compare byte for byte.
  virtual void fast_forward(bool on) { (void)on; }

 protected:
  uint64_t read_bytes_ = 0, write_bytes_ = 0;
  DramObserver* observer_ = nullptr;
};

// A DRAM that books each request when it is made.
class ReservationDram : public DramPort {
 public:
  // Serves `bytes` (> 0) read or written, requested at `issue` (never earlier than a previous
  // request's issue).
  virtual DramAccess access(uint64_t issue, uint64_t bytes, bool write) = 0;
};

// One request to a QueuedDram: a DMA burst of `bytes` from `address` on.
struct DramRequest {
  uint64_t tag = 0;      // the caller's, given back with the completion
  uint64_t address = 0;  // byte address of the first byte
  uint64_t bytes = 0;    // > 0
  bool write = false;
};

// A request the DRAM has finished with: a read when its last byte is delivered back at the
// requester, a write when the controller has accepted all of it (writes are posted).
struct DramCompletion {
  uint64_t tag = 0;
  uint64_t done_ps = 0;
};

// A DRAM controller served in time order. Times are picoseconds of simulated time (the caller
// converts from its clock). The caller alternates: enqueue() what arrives at time t, then run()
// the model up to the next time something else could arrive. Decisions at time t see exactly the
// requests that arrived at or before t, so the outcome does not depend on how far each run() call
// reaches.
class QueuedDram : public DramPort {
 public:
  static constexpr uint64_t kNever = ~uint64_t{0};
  // Queues `request`, arriving at `arrival_ps`, which is never earlier than a previous arrival
  // nor than the time of the last decision run() made (a request arriving at the time of a
  // decision already made is considered from the next decision on).
  virtual void enqueue(uint64_t arrival_ps, const DramRequest& request) = 0;
  // Makes the model's decisions at times < limit_ps, in time order. Returns true right after the
  // first decision that appended completions to `done` (each with done_ps >= that decision's
  // time), false once no decision is left before limit_ps.
  virtual bool run(uint64_t limit_ps, std::vector<DramCompletion>& done) = 0;
  // The time of the next decision the model would make with no further arrivals; kNever when it
  // has nothing queued.
  virtual uint64_t next_event_ps() const = 0;
};

// A strided part of one tile's operand reads from the scratchpad: `repeats` times, every word of
// `lanes` rows of `row_bits` each, read one word column at a time (a vector of `lanes` words per
// column, as the rows of a systolic array take one operand word each).
struct RowVectors {
  uint64_t repeats = 0;
  uint64_t lanes = 0;
  uint64_t row_bits = 0;
};

// What one tile's compute reads from the scratchpad: contiguous streams plus strided row vectors.
struct ScratchpadReads {
  uint64_t contiguous_bits = 0;
  std::vector<RowVectors> strided;
};

// Bits per element of an op's operands as they sit in memory. b = 0: no B operand.
struct TileBits {
  uint64_t a = 0, b = 0, out = 0, psum = 0;  // psum: an output tile while it accumulates
};

// ceil(bytes / bytes_per_cycle) for a bandwidth given as a double, robust to the last bit of
// rounding (64 bytes at 64.0000000001 bytes per cycle is one cycle).
uint64_t transfer_cycles(uint64_t bytes, double bytes_per_cycle);

}  // namespace nibble
