// Closed-form timing of a rows×cols systolic array of SIMD PEs running one GEMM
// C[M×N] = A[M×K]·B[K×N].
//
// Plain C++ (no SystemC) so that every number can be tested exactly. A shared building block of
// the GEMM units (models/mac_array, models/log_grad): their tile fidelity waits these cycles,
// their cycle fidelity steps pe_grid.h, and the tests hold both to the formulas derived below.
#pragma once

#include <cstdint>
#include <string>

#include "sim/workload.h"

namespace nibble {

enum class Dataflow { kOs, kWs, kIs };
enum class Schedule { kScaleSim, kPipelined };
const char* to_string(Dataflow dataflow);
const char* to_string(Schedule schedule);

struct ArrayShape {
  uint64_t rows = 0;  // R
  uint64_t cols = 0;  // C
};

// What one PE does per cycle in a mode: `simd` lanes, each on its own output, each an inner
// product of `dot` consecutive k (the RaPiD MPE's INT4 mode: 8 lanes × 8-way = 64 MACs; its FP16
// mode: 8 lanes × 1 FMA). Lanes widen the array's columns and the dot product shortens the
// reduction, so an op in mode (simd, dot) has exactly the timing of the GEMM
//   os, ws: (M, ceil(N/simd), ceil(K/dot))     is: (ceil(M/simd), N, ceil(K/dot))
// on a one-MAC-per-PE array (the dimension the columns hold is N for os/ws and M for is).
// simd = dot = 1 is the plain array.
struct PeMode {
  uint32_t simd = 1;
  uint32_t dot = 1;
  uint64_t macs_per_cycle() const { return uint64_t{simd} * dot; }
};

// The GEMM a one-MAC-per-PE array would run in the same cycles (see PeMode).
GemmShape lane_gemm(const GemmShape& gemm, Dataflow dataflow, const PeMode& mode);

// How a GEMM is laid onto the array, in SCALE-Sim's terms: Sr of the GEMM's extents is spread over
// the rows, Sc over the columns, and T is streamed through time.
//   os (output stationary): (Sr, Sc, T) = (M, N, K), each PE keeps one output
//   ws (weight stationary): (Sr, Sc, T) = (K, N, M), each PE keeps one element of B
//   is (input stationary):  (Sr, Sc, T) = (K, M, N), each PE keeps one element of A
// A fold is one placement of an R×C block of the Sr×Sc plane; folds = ceil(Sr/R)·ceil(Sc/C).
struct FoldMapping {
  uint64_t sr = 0, sc = 0, t = 0;
  uint64_t row_folds = 0;  // ceil(Sr/R)
  uint64_t col_folds = 0;  // ceil(Sc/C)
  uint64_t folds() const { return row_folds * col_folds; }
};
// map_gemm(g, d, a, mode) maps lane_gemm(g, d, mode).
FoldMapping map_gemm(const GemmShape& gemm, Dataflow dataflow, const ArrayShape& array,
                     const PeMode& mode = PeMode{});

// The cycles of an op of F folds: preload + (F − 1)·interval + last.
// `preload` is paid once before the first fold, `interval` separates the starts of consecutive
// folds, and `last` is the time from the start of the last fold until its last result has left.
struct FoldTiming {
  uint64_t preload = 0;
  uint64_t interval = 0;
  uint64_t last = 0;
  uint64_t op_cycles(uint64_t folds) const { return preload + (folds - 1) * interval + last; }
};

// scalesim: SCALE-Sim v2's stall-free compute cycles. One fold takes
//   os:     T + R + C − 2        (skewed operands fill R + C − 2 diagonals, then T MAC steps)
//   ws, is: 2R + C + T − 2       (R cycles to load the stationary block, then the same wavefront)
// and folds run back to back with nothing overlapped; SCALE-Sim counts the op as
// F·per_fold − 1 cycles (it numbers cycles from 0). As a FoldTiming:
//   preload = 0, interval = per_fold, last = per_fold − 1.
//
// pipelined: what a real array does. The micro-architecture assumed (every partial fold still
// occupies the full R×C array: operands and partial sums pass through idle PEs, so timing does not
// depend on how full a fold is):
//   os  A row i enters the left edge at cycle s+i, B column j the top edge at s+j, one element per
//       cycle, so PE(i,j) does MAC k of the fold at cycle s+i+j+k, k = 0..T−1, and puts its sum on
//       its column's output bus at s+i+j+T. Column j's bus carries one result per cycle, rows
//       0..R−1 at s+j+T .. s+j+T+R−1. The next fold's operands follow the current ones directly
//       (its first MAC at PE(i,j) is one cycle after the last), unless the output buses are
//       still busy: interval = max(T, R). The op ends when the last result of the last fold has
//       left, at s_last + (R−1) + (C−1) + T, i.e. after last = T + R + C − 1 cycles. No preload.
//   ws  The stationary R×C block of B shifts in from the top, one row per cycle: R cycles. PEs
//       have a shadow register, so fold f+1's block loads while fold f computes; only the first
//       load is exposed: preload = R. Row m of the streamed operand reaches PE(i,j) at s+i+j+m;
//       partial sums flow down and leave the bottom of column j at s+R+j+m, m = 0..T−1. The next
//       fold may start when the PEs are free (T cycles) and its shadow block is loaded (R cycles):
//       interval = max(T, R). last = R + (C−1) + (T−1) + 1 = T + R + C − 1.
//   is  As ws with A's block stationary and B streamed.
// So pipelined gives, for F folds:
//   os      (F − 1)·max(T, R) + T + R + C − 1
//   ws, is  R + (F − 1)·max(T, R) + T + R + C − 1
// Partial sums of ws/is folds that share an output block (K > R) are added in the output buffer
// at the rate they leave the array, which costs no cycles with an ideal memory.
FoldTiming fold_timing(Dataflow dataflow, Schedule schedule, const ArrayShape& array, uint64_t t);

// SCALE-Sim's cycles for one fold (see above).
uint64_t scalesim_fold_cycles(Dataflow dataflow, const ArrayShape& array, uint64_t t);

}  // namespace nibble
