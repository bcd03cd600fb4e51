#include "models/systolic/systolic_timing.h"

#include <algorithm>

namespace nibble {

const char* to_string(Dataflow dataflow) {
  switch (dataflow) {
    case Dataflow::kOs:
      return "os";
    case Dataflow::kWs:
      return "ws";
    case Dataflow::kIs:
      return "is";
  }
  return "?";
}

const char* to_string(Schedule schedule) {
  return schedule == Schedule::kScaleSim ? "scalesim" : "pipelined";
}

namespace {
uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
}  // namespace

GemmShape lane_gemm(const GemmShape& gemm, Dataflow dataflow, const PeMode& mode) {
  GemmShape g = gemm;
  g.k = ceil_div(gemm.k, mode.dot);
  if (dataflow == Dataflow::kIs) {
    g.m = ceil_div(gemm.m, mode.simd);
  } else {
    g.n = ceil_div(gemm.n, mode.simd);
  }
  return g;
}

FoldMapping map_gemm(const GemmShape& full, Dataflow dataflow, const ArrayShape& array,
                     const PeMode& mode) {
  const GemmShape gemm = lane_gemm(full, dataflow, mode);
  FoldMapping m;
  switch (dataflow) {
    case Dataflow::kOs:
      m.sr = gemm.m, m.sc = gemm.n, m.t = gemm.k;
      break;
    case Dataflow::kWs:
      m.sr = gemm.k, m.sc = gemm.n, m.t = gemm.m;
      break;
    case Dataflow::kIs:
      m.sr = gemm.k, m.sc = gemm.m, m.t = gemm.n;
      break;
  }
  m.row_folds = ceil_div(m.sr, array.rows);
  m.col_folds = ceil_div(m.sc, array.cols);
  return m;
}

uint64_t scalesim_fold_cycles(Dataflow dataflow, const ArrayShape& array, uint64_t t) {
  const uint64_t r = array.rows, c = array.cols;
  return dataflow == Dataflow::kOs ? t + r + c - 2 : 2 * r + c + t - 2;
}

FoldTiming fold_timing(Dataflow dataflow, Schedule schedule, const ArrayShape& array, uint64_t t) {
  const uint64_t r = array.rows, c = array.cols;
  if (schedule == Schedule::kScaleSim) {
    const uint64_t per_fold = scalesim_fold_cycles(dataflow, array, t);
    return {0, per_fold, per_fold - 1};
  }
  const uint64_t preload = dataflow == Dataflow::kOs ? 0 : r;
  return {preload, std::max(t, r), t + r + c - 1};
}

}  // namespace nibble
