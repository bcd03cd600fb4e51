// Closed-form array timing: every expected number is derived in the comment beside it.
#include <gtest/gtest.h>

#include "models/systolic/systolic_timing.h"

namespace nibble {
namespace {

uint64_t op_cycles(Dataflow d, Schedule s, ArrayShape a, GemmShape g) {
  const FoldMapping m = map_gemm(g, d, a);
  return fold_timing(d, s, a, m.t).op_cycles(m.folds());
}

TEST(SystolicMapping, DataflowsPlaceTheGemmAsScaleSimDoes) {
  const GemmShape g{10, 7, 9};  // M, N, K
  const ArrayShape a{8, 4};
  // os: (Sr, Sc, T) = (M, N, K) = (10, 7, 9); folds ceil(10/8)·ceil(7/4) = 2·2
  FoldMapping m = map_gemm(g, Dataflow::kOs, a);
  EXPECT_EQ(m.sr, 10u);
  EXPECT_EQ(m.sc, 7u);
  EXPECT_EQ(m.t, 9u);
  EXPECT_EQ(m.folds(), 4u);
  // ws: (K, N, M) = (9, 7, 10); folds ceil(9/8)·ceil(7/4) = 2·2
  m = map_gemm(g, Dataflow::kWs, a);
  EXPECT_EQ(m.sr, 9u);
  EXPECT_EQ(m.sc, 7u);
  EXPECT_EQ(m.t, 10u);
  EXPECT_EQ(m.folds(), 4u);
  // is: (K, M, N) = (9, 10, 7); folds ceil(9/8)·ceil(10/4) = 2·3
  m = map_gemm(g, Dataflow::kIs, a);
  EXPECT_EQ(m.sr, 9u);
  EXPECT_EQ(m.sc, 10u);
  EXPECT_EQ(m.t, 7u);
  EXPECT_EQ(m.row_folds, 2u);
  EXPECT_EQ(m.col_folds, 3u);
}

TEST(ScaleSimSchedule, OutputStationary) {
  // 32×32, M=N=K=64: folds 2·2 = 4; per fold T+R+C−2 = 64+32+32−2 = 126; op 4·126−1 = 503.
  EXPECT_EQ(op_cycles(Dataflow::kOs, Schedule::kScaleSim, {32, 32}, {64, 64, 64}), 503u);
  // 1×1, one MAC: per fold 1+1+1−2 = 1; op 1·1−1 = 0 (SCALE-Sim numbers cycles from 0).
  EXPECT_EQ(op_cycles(Dataflow::kOs, Schedule::kScaleSim, {1, 1}, {1, 1, 1}), 0u);
}

TEST(ScaleSimSchedule, WeightStationary) {
  // 32×32, M=N=K=64: (Sr,Sc,T) = (64,64,64), folds 4; per fold 2R+C+T−2 = 64+32+64−2 = 158;
  // op 4·158−1 = 631.
  EXPECT_EQ(op_cycles(Dataflow::kWs, Schedule::kScaleSim, {32, 32}, {64, 64, 64}), 631u);
}

TEST(ScaleSimSchedule, InputStationary) {
  // 8×4, M=10 N=7 K=9: (Sr,Sc,T) = (9,10,7), folds 2·3 = 6; per fold 2·8+4+7−2 = 25;
  // op 6·25−1 = 149.
  EXPECT_EQ(op_cycles(Dataflow::kIs, Schedule::kScaleSim, {8, 4}, {10, 7, 9}), 149u);
}

TEST(PipelinedSchedule, OutputStationaryStreamBound) {
  // 32×32, M=N=K=64: folds 4, T=64 ≥ R so interval = 64; last = T+R+C−1 = 64+32+32−1 = 127;
  // op 3·64 + 127 = 319.
  EXPECT_EQ(op_cycles(Dataflow::kOs, Schedule::kPipelined, {32, 32}, {64, 64, 64}), 319u);
}

TEST(PipelinedSchedule, OutputStationaryDrainBound) {
  // 8×8, M=16 N=8 K=4: folds 2·1 = 2; T=4 < R=8, so the column buses (R results each) set the
  // interval: max(4, 8) = 8; last = 4+8+8−1 = 19; op 8 + 19 = 27.
  EXPECT_EQ(op_cycles(Dataflow::kOs, Schedule::kPipelined, {8, 8}, {16, 8, 4}), 27u);
  // 1×1, one MAC: MAC at cycle 0, result on the bus at cycle 1: last = 1+1+1−1 = 2.
  EXPECT_EQ(op_cycles(Dataflow::kOs, Schedule::kPipelined, {1, 1}, {1, 1, 1}), 2u);
}

TEST(PipelinedSchedule, WeightStationaryExposesOnlyTheFirstLoad) {
  // 8×8, M=20 N=8 K=16: (Sr,Sc,T) = (16,8,20), folds 2·1 = 2; preload R = 8;
  // interval max(20, 8) = 20; last = 20+8+8−1 = 35; op 8 + 20 + 35 = 63.
  EXPECT_EQ(op_cycles(Dataflow::kWs, Schedule::kPipelined, {8, 8}, {20, 8, 16}), 63u);
  // The same op under scalesim: per fold 2·8+8+20−2 = 42; 2·42−1 = 83. Pipelining hides the
  // second fold's weight load and fill: 83 − 63 = 20 cycles.
  EXPECT_EQ(op_cycles(Dataflow::kWs, Schedule::kScaleSim, {8, 8}, {20, 8, 16}), 83u);
}

TEST(PipelinedSchedule, InputStationaryShadowLoadBound) {
  // 16×4, M=8 N=3 K=40: (Sr,Sc,T) = (K,M,N) = (40,8,3); folds ceil(40/16)·ceil(8/4) = 3·2 = 6;
  // preload 16; T=3 < R=16 so the shadow load sets the interval: 16; last = 3+16+4−1 = 22;
  // op 16 + 5·16 + 22 = 118.
  EXPECT_EQ(op_cycles(Dataflow::kIs, Schedule::kPipelined, {16, 4}, {8, 3, 40}), 118u);
}

TEST(PipelinedSchedule, NeverSlowerThanScaleSimPlusTwo) {
  // Pipelining only removes time: per fold it pays max(T, R) against SCALE-Sim's full T+R+C−2
  // (os) or 2R+C+T−2 (ws/is); the last fold costs one cycle more than SCALE-Sim's (the result
  // leaving the array) and SCALE-Sim subtracts one, so the bound is scalesim + 2.
  for (Dataflow d : {Dataflow::kOs, Dataflow::kWs, Dataflow::kIs}) {
    for (uint64_t r : {1u, 3u, 8u}) {
      for (uint64_t m : {1u, 5u, 17u}) {
        for (uint64_t k : {1u, 4u, 33u}) {
          const ArrayShape a{r, 4};
          const GemmShape g{m, 9, k};
          EXPECT_LE(op_cycles(d, Schedule::kPipelined, a, g),
                    op_cycles(d, Schedule::kScaleSim, a, g) + 2)
              << to_string(d) << " R=" << r << " M=" << m << " K=" << k;
        }
      }
    }
  }
}

TEST(PeModes, LanesWidenColumnsAndDotProductsShortenK) {
  // RaPiD-like INT4 mode, 8 lanes × 8-way: M=64 N=100 K=70 becomes, for os and ws,
  // (M, ceil(100/8), ceil(70/8)) = (64, 13, 9); for is the lanes hold M: (ceil(64/8), 100, 9).
  const PeMode int4{8, 8};
  const GemmShape g{64, 100, 70};
  const GemmShape os = lane_gemm(g, Dataflow::kOs, int4), is = lane_gemm(g, Dataflow::kIs, int4);
  EXPECT_EQ(os.m, 64u);
  EXPECT_EQ(os.n, 13u);
  EXPECT_EQ(os.k, 9u);
  EXPECT_EQ(is.m, 8u);
  EXPECT_EQ(is.n, 100u);
  EXPECT_EQ(is.k, 9u);
  EXPECT_EQ(int4.macs_per_cycle(), 64u);
  // One MAC per PE leaves the GEMM alone.
  const GemmShape same = lane_gemm(g, Dataflow::kWs, PeMode{});
  EXPECT_EQ(same.m, 64u);
  EXPECT_EQ(same.n, 100u);
  EXPECT_EQ(same.k, 70u);
}

TEST(PeModes, Int4ModeOnAnEightByEightArray) {
  // 8×8 array, 8 lanes × 8-way, M=N=K=64, os pipelined: lane GEMM (64, 8, 8) → (Sr,Sc,T) =
  // (64, 8, 8); folds ceil(64/8)·ceil(8/8) = 8; op (8−1)·max(8, 8) + 8+8+8−1 = 56 + 23 = 79
  // cycles for 64³ = 262,144 MACs at 8·8·64 = 4,096 MACs per cycle (64 cycles of work).
  const PeMode int4{8, 8};
  const FoldMapping m = map_gemm({64, 64, 64}, Dataflow::kOs, {8, 8}, int4);
  EXPECT_EQ(m.folds(), 8u);
  EXPECT_EQ(m.t, 8u);
  EXPECT_EQ(fold_timing(Dataflow::kOs, Schedule::kPipelined, {8, 8}, m.t).op_cycles(m.folds()),
            79u);
  // FP16 mode, 8 lanes × 1, ws: lane GEMM (64, 8, 64) → (Sr,Sc,T) = (K,N,M) = (64, 8, 64);
  // folds 8·1 = 8; op R + (F−1)·max(T, R) + T+R+C−1 = 8 + 7·64 + 79 = 535.
  const FoldMapping w = map_gemm({64, 64, 64}, Dataflow::kWs, {8, 8}, PeMode{8, 1});
  EXPECT_EQ(w.folds(), 8u);
  EXPECT_EQ(fold_timing(Dataflow::kWs, Schedule::kPipelined, {8, 8}, w.t).op_cycles(w.folds()),
            535u);
}

}  // namespace
}  // namespace nibble
