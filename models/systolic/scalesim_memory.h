// SCALE-Sim v2's total and stall cycles of one GEMM or conv layer under its USER interface
// bandwidth.
//
// Plain C++ (no SystemC): an event-level re-implementation of the rule in SCALE-Sim v2's
// double-buffered scratchpad (scalesim/memory/*.py at scale-sim-v2 51074edc; the derivation,
// with the SCALE-Sim function behind every term, is in models/systolic/scalesim_memory.md). It
// needs no address traces: each operand's prefetch order and demand order are closed forms of the
// fold mapping, so for a GEMM the work is O(1) per demand row (one row = one cycle of SCALE-Sim's
// stall-free schedule) plus O(1) per buffer refill or drain, never per element (a conv's ifmap:
// see Addresses below).
//
// The rule, as SCALE-Sim computes it (R×C array, F folds of `rows_per_fold` rows each; all
// SRAMs double-buffered with half active, 1-byte words, b = bandwidth_words_per_cycle):
//
// Demand. The compute model turns the layer into three demand matrices with one row per
// stall-free cycle, L = F·rows_per_fold rows (rows_per_fold = T+R+C−2 for os, 2R+C+T−2 for
// ws/is; see systolic_timing.h). Folds run column fold outer, row fold inner. Row i is issued at
// cycle  c_i = i + S_i,  S_i = the stalls counted in rows 0..i−1.
//
// Read buffers (ifmap, filter). Each operand's elements are put in a fixed prefetch order (the
// operand's fold blocks stacked; the skewed operands rolled out anti-diagonal by anti-diagonal)
// and cut into sets of e = ceil(1024·KB/100) elements; there are n = floor(V/e) + 1 sets for V
// elements (the last may be empty). The active window is A = min(ceil(512·KB/e), n) consecutive
// sets (circular), starting at set 0; the first fill is free (it completes at cycle −1). A demanded
// element whose set lies outside the window is a miss: the window advances by
// P = min(ceil(512·KB/e), n − A) sets, as often as needed, and each advance is one prefetch of
// ceil(512·KB/b) DRAM lines, one line per cycle plus one cycle of latency, issued back to back
// with the previous prefetch whatever the demand's time: prefetch j completes at cycle
//   last_j = −1 + j·(ceil(512·KB/b) + 1).
// A row that missed is served at last_j of its final prefetch, so its stall is last_j − c_i − 1,
// which is negative when the prefetch finished long before (SCALE-Sim adds it all the same); a
// row that hit is served at c_i + 1, stall 0.
//
// Write buffer (ofmap). Elements enter in demand order and are packed into DRAM lines of b
// words. With no drain running (cycle ≥ drain_end), the element that leaves free space below
// half the buffer closes the open line and starts a drain at the current cycle: the next
// ceil(512·KB/b) undrained lines (fewer if fewer are stored) leave at one line per cycle, ending
// at drain_end = start + lines − 1, and their space (lines·b words, less the unused words of the
// last line only) is freed at once. While a drain runs, the element that fills the buffer stalls
// the row until drain_end. A row's write stall w counts as w − 1 (SCALE-Sim subtracts a latency
// of 1 that writes do not have). The final drain after the last row is not counted.
//
// Report. Each row adds max(ifmap stall, filter stall, write stall − 1) to S, which therefore
// shrinks by 1 when both reads missed long-finished prefetches and the row's writes did not wait.
// COMPUTE_REPORT's
//   Stall Cycles = S_L (all rows),
//   Total Cycles = c_{L−1} + w_{L−1} = (L − 1) + S_{L−1} + w_{L−1},
// so a read stall of the last row is counted as a stall but not in the total. With no stalls,
// Total Cycles = L − 1 = F·rows_per_fold − 1, systolic_timing.h's scalesim schedule.
//
// Addresses. Given (M, N, K), every operand element has its own address, as in SCALE-Sim's GEMM
// layers. A convolution's im2col ifmap repeats addresses where windows overlap, and a repeated
// address hits in whichever set of the window holds a copy; it also has no-request cells where
// SCALE-Sim's rounded-up output makes a window reach past the input. The ConvShape overload
// models both, element by element for the ifmap rows at the window's edge (O(R·S) per such
// element, still O(1) per row where the window holds the row); it matched SCALE-Sim exactly on
// every conv layer it was run against. Prefer it for conv layers: the GEMM overload on the
// lowered shape is exact for a conv only if the ifmap fits its active half or the conv is 1×1
// with stride 1.
#pragma once

#include <cstdint>

#include "models/systolic/systolic_timing.h"
#include "sim/workload.h"

namespace nibble {

struct ScaleSimMemoryParams {
  uint64_t ifmap_sram_kb = 0;              // IfmapSramSzkB: double-buffered ifmap SRAM, KB
  uint64_t filter_sram_kb = 0;             // FilterSramSzkB: double-buffered filter SRAM, KB
  uint64_t ofmap_sram_kb = 0;              // OfmapSramSzkB: double-buffered ofmap SRAM, KB
  uint64_t bandwidth_words_per_cycle = 0;  // Bandwidth (USER): words/cycle to and from DRAM,
                                           // each of the three SRAMs alike
  // Throws InputError naming the parameter, what was expected and what was found.
  void validate() const;
};

struct ScaleSimMemoryResult {
  uint64_t compute_cycles = 0;  // stall-free: F·rows_per_fold − 1 (systolic_timing.h, scalesim)
  int64_t total_cycles = 0;     // COMPUTE_REPORT "Total Cycles"
  int64_t stall_cycles = 0;     // COMPUTE_REPORT "Stall Cycles"
  uint64_t ifmap_prefetches = 0;   // window advances of the ifmap read buffer
  uint64_t filter_prefetches = 0;  // window advances of the filter read buffer
  uint64_t ofmap_drains = 0;       // drains started during the layer (the final flush excluded)
};

// A GEMM layer (M, N, K), all addresses distinct. One PE does one MAC per cycle (SCALE-Sim has no
// PE modes). Throws InputError for a zero extent, a zero array dimension or invalid params.
ScaleSimMemoryResult scalesim_user_cycles(const GemmShape& gemm, Dataflow dataflow,
                                          const ArrayShape& array, const ScaleSimMemoryParams& p);

// A conv layer of a SCALE-Sim topology (h, w, r, s, c, filters, stride; batch 1, padding 0,
// groups 1, else InputError), run as lower_conv2d_scalesim(conv) with SCALE-Sim's ifmap
// addresses. Memory: about 12 bytes per cell of the lowered ifmap (M·K).
ScaleSimMemoryResult scalesim_user_cycles(const ConvShape& conv, Dataflow dataflow,
                                          const ArrayShape& array, const ScaleSimMemoryParams& p);

}  // namespace nibble
