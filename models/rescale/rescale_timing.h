// Closed-form timing of the rescaling unit running one quantize op of E elements.
//
// Plain C++ (no SystemC) so that every number can be tested exactly. The unit's tile fidelity
// waits these cycles; its cycle fidelity steps a register pipeline and must land on the same
// numbers (tests hold it to them).
//
// The hardware: `lanes` converters side by side behind a pipeline of `pipeline_cycles` stages
// (P). The op's elements are cut into groups of `lanes` (the last one may be partial), one group
// enters stage 0 per cycle, and every stage hands its group on at each clock edge, so
//   G = ceil(E / lanes) groups; group g occupies stage s during cycle g + s (s = 0..P−1) and has
//   left the pipeline at the end of cycle g + P − 1.
// The op therefore ends when the last group (g = G − 1) leaves: (G − 1) + P cycles,
//   cycles = G + P − 1.
// FP4 targets add GradScale's vote: every group's |x| values go through a binary max-reduction
// tree over the lanes, ceil(log2(lanes)) pipelined register stages (T) placed after the P
// conversion stages, into a running-max register whose bin test (GradScale::vote) is
// combinational. The tree lengthens the pipeline to P + T stages, so the op takes
//   cycles = G + P + T − 1     (T = 0 when lanes = 1: one lane needs no tree).
// Exact because nothing stalls: the input buffer supplies a group every cycle and the output side
// takes one every cycle (bandwidth contention is the memory model's business, not this unit's).
// An op with no elements takes no cycles.
#pragma once

#include <cstdint>

namespace nibble {

// ceil(log2(n)) for n >= 1: the depth of a binary reduction tree over n inputs (0 for n = 1).
constexpr uint64_t rescale_tree_depth(uint64_t lanes) {
  uint64_t depth = 0;
  while (depth < 64 && (uint64_t{1} << depth) < lanes) ++depth;
  return depth;
}

struct RescaleTiming {
  uint64_t groups = 0;          // G = ceil(E / lanes)
  uint64_t stages = 0;          // P, plus T for the vote's reduction tree
  uint64_t cycles = 0;          // G + stages − 1 (0 when E = 0)
  uint64_t peak_occupancy = 0;  // most stages holding a group at once: min(G, stages)
};

// `vote`: the op converts to FP4 and so takes GradScale's vote.
constexpr RescaleTiming rescale_timing(uint64_t elements, uint64_t lanes, uint64_t pipeline_cycles,
                                       bool vote) {
  RescaleTiming t;
  t.groups = (elements + lanes - 1) / lanes;
  t.stages = pipeline_cycles + (vote ? rescale_tree_depth(lanes) : 0);
  t.cycles = t.groups == 0 ? 0 : t.groups + t.stages - 1;
  // Groups g with c − stages < g <= c are in flight during cycle c: at most `stages` of them, and
  // never more than there are groups.
  t.peak_occupancy = t.groups < t.stages ? t.groups : t.stages;
  return t;
}

}  // namespace nibble
