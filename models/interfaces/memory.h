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

// A DRAM as the DMA engines see it.
class DramPort {
 public:
  virtual ~DramPort() = default;
  // Serves `bytes` (> 0) read or written, requested at `issue` (never earlier than a previous
  // request's issue).
  virtual DramAccess access(uint64_t issue, uint64_t bytes, bool write) = 0;
  // Bytes per cycle of the core clock at full use of every channel (for the mapper's estimates).
  virtual double peak_bytes_per_cycle() const = 0;
  // The access latency in core cycles.
  virtual uint64_t latency_cycles() const = 0;
  virtual Json describe() const = 0;
  virtual void add_stats(Stats& stats, const std::string& prefix) const = 0;
  uint64_t read_bytes() const { return read_bytes_; }
  uint64_t write_bytes() const { return write_bytes_; }

 protected:
  uint64_t read_bytes_ = 0, write_bytes_ = 0;
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
