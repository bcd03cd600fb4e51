// Closed-form timing of the special-function unit (SFU) running one vector op of E elements.
//
// Plain C++ (no SystemC) so that every number can be tested exactly. The unit's tile fidelity
// waits these cycles; its cycle fidelity steps a register pipeline and must land on the same
// numbers (tests hold it to them).
//
// The hardware: L lanes (FP16 lanes, or the FP32 lanes for FP32 ops), each issuing one operation
// per cycle into a pipeline of P stages (`pipeline_cycles`). A function costs c lane-cycles per
// element (`cycles_per_element`: the operations one element needs), so the op is
//   W = E·c lane-cycles of work,
// issued L per cycle: ceil(W / L) issue cycles, the last one possibly partly filled. The beat
// issued in cycle i leaves the pipeline at the end of cycle i + P − 1, so the op ends when the
// last beat (i = ceil(W/L) − 1) leaves:
//   cycles = ceil(W / L) + P − 1.
// The assumption that makes it exact: the operations of one element may depend on each other,
// but the lanes interleave enough independent elements that a dependent operation never waits
// for its producer (no stalls), and the buffer keeps up with the lanes. For ops of fewer elements
// than L·P this is optimistic by at most the dependency chain's latency.
// An op with no elements takes no cycles.
#pragma once

#include <cstdint>

namespace nibble {

struct SfuTiming {
  uint64_t work = 0;            // W = E·c lane-cycles
  uint64_t issue_cycles = 0;    // ceil(W / L)
  uint64_t cycles = 0;          // ceil(W / L) + P − 1 (0 when W = 0)
  uint64_t peak_occupancy = 0;  // most stages holding a beat at once: min(ceil(W/L), P)
};

constexpr SfuTiming sfu_timing(uint64_t elements, uint64_t cycles_per_element, uint64_t lanes,
                               uint64_t pipeline_cycles) {
  SfuTiming t;
  t.work = elements * cycles_per_element;
  t.issue_cycles = (t.work + lanes - 1) / lanes;
  t.cycles = t.issue_cycles == 0 ? 0 : t.issue_cycles + pipeline_cycles - 1;
  t.peak_occupancy = t.issue_cycles < pipeline_cycles ? t.issue_cycles : pipeline_cycles;
  return t;
}

}  // namespace nibble
