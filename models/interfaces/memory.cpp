#include "models/interfaces/memory.h"

#include <algorithm>
#include <cmath>

namespace nibble {

const char* to_string(StallCause cause) {
  switch (cause) {
    case StallCause::kDramBandwidth:
      return "dram_bandwidth";
    case StallCause::kDramLatency:
      return "dram_latency";
    case StallCause::kBankConflict:
      return "bank_conflict";
    case StallCause::kScratchpadBandwidth:
      return "scratchpad_bandwidth";
    case StallCause::kRing:
      return "ring";
    case StallCause::kDependency:
      return "dependency";
  }
  return "?";
}

Json to_json(const StallCycles& stalls) {
  Json j = Json::object();
  for (std::size_t i = 0; i < kStallCauses; ++i) {
    j[to_string(static_cast<StallCause>(i))] = stalls[i];
  }
  return j;
}

void Timeline::add(uint64_t end, StallCause cause) {
  if (end > done()) segments_.emplace_back(end, cause);
}

void Timeline::attribute(uint64_t from, uint64_t to, StallCycles& stalls,
                         StallCause outside) const {
  pieces(from, to, outside, [&stalls](uint64_t lo, uint64_t hi, StallCause cause) {
    stalls[static_cast<std::size_t>(cause)] += hi - lo;
  });
}

uint64_t transfer_cycles(uint64_t bytes, double bytes_per_cycle) {
  const double exact = static_cast<double>(bytes) / bytes_per_cycle;
  // A quotient within a millionth of a cycle of a whole number is that number.
  const double nearest = std::round(exact);
  if (std::fabs(exact - nearest) <= 1e-6 * std::max(1.0, nearest)) {
    return static_cast<uint64_t>(nearest);
  }
  return static_cast<uint64_t>(std::ceil(exact));
}

}  // namespace nibble
