// SCALE-Sim v2's USER-bandwidth total and stall cycles (models/systolic/scalesim_memory.h).
// Each hand-derived number has its arithmetic beside it; the rule's terms are named as in the
// header: e = ceil(1024·KB/100) elements per set, n = floor(V/e) + 1 sets, a window of
// A = min(ceil(512·KB/e), n) sets that advances P = min(ceil(512·KB/e), n − A) sets per prefetch,
// prefetch j done at −1 + j·(ceil(512·KB/b) + 1). For 1 KB: e = 11, A = P = 47 (n ≥ 94); for
// 64 KB: e = 656, A = 50. The totals, stalls and counts of every layer below (after the first
// test, which compares with systolic_timing.h) were also obtained
// by running SCALE-Sim (scale-sim-v2 51074edc, its memory and compute modules, numpy 1.24) on the
// same layer as the GEMM-form conv (H, W, R, S, C, filters, stride) = (M, K, 1, K, 1, N, 1); see
// models/systolic/scalesim_memory.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/systolic/scalesim_memory.h"
#include "models/systolic/systolic_timing.h"
#include "sim/error.h"

namespace nibble {
namespace {

ScaleSimMemoryResult run(Dataflow d, ArrayShape a, GemmShape g, uint64_t ifmap_kb,
                         uint64_t filter_kb, uint64_t ofmap_kb, uint64_t bw) {
  return scalesim_user_cycles(g, d, a, {ifmap_kb, filter_kb, ofmap_kb, bw});
}

TEST(ScaleSimMemory, ComputeCyclesAreTheScaleSimSchedule) {
  // compute_cycles is systolic_timing.h's scalesim schedule, F·per_fold − 1, on every dataflow.
  for (Dataflow d : {Dataflow::kOs, Dataflow::kWs, Dataflow::kIs}) {
    for (GemmShape g : {GemmShape{8, 6, 5}, GemmShape{1, 1, 1}, GemmShape{70, 3, 33}}) {
      for (ArrayShape a : {ArrayShape{4, 4}, ArrayShape{1, 8}, ArrayShape{8, 1}}) {
        const FoldMapping m = map_gemm(g, d, a);
        const uint64_t expected = fold_timing(d, Schedule::kScaleSim, a, m.t).op_cycles(m.folds());
        EXPECT_EQ(run(d, a, g, 64, 64, 64, 10).compute_cycles, expected);
      }
    }
  }
}

TEST(ScaleSimMemory, AmpleBandwidthAndSramGiveNoStalls) {
  // 4×4, M=8, N=6, K=5, 64 KB SRAMs: no operand exceeds the active half (ifmap 40, filter 30
  // elements: n = floor(40/656) + 1 = 1 = A sets, resident) and 48 outputs never bring the ofmap's
  // free space (65536) below 32768, so nothing stalls and total = compute.
  // os: (Sr, Sc, T) = (8, 6, 5), F = 2·2, per fold 5+4+4−2 = 11: 4·11 − 1 = 43.
  ScaleSimMemoryResult r = run(Dataflow::kOs, {4, 4}, {8, 6, 5}, 64, 64, 64, 10);
  EXPECT_EQ(r.total_cycles, 43);
  EXPECT_EQ(r.stall_cycles, 0);
  EXPECT_EQ(r.ifmap_prefetches + r.filter_prefetches + r.ofmap_drains, 0u);
  // ws: (5, 6, 8), F = 2·2, per fold 2·4+4+8−2 = 18: 4·18 − 1 = 71.
  r = run(Dataflow::kWs, {4, 4}, {8, 6, 5}, 64, 64, 64, 10);
  EXPECT_EQ(r.total_cycles, 71);
  EXPECT_EQ(r.stall_cycles, 0);
  // is: (5, 8, 6), F = 2·2, per fold 8+4+6−2 = 16: 4·16 − 1 = 63.
  r = run(Dataflow::kIs, {4, 4}, {8, 6, 5}, 64, 64, 64, 10);
  EXPECT_EQ(r.total_cycles, 63);
  EXPECT_EQ(r.stall_cycles, 0);
}

TEST(ScaleSimMemory, KSmallerThanTheArray) {
  // ws, 8×8, M=20, N=10, K=3 < R: (Sr, Sc, T) = (3, 10, 20), F = 1·2, a partial row fold of 3
  // valid rows; per fold 2·8+8+20−2 = 42, 2·42 − 1 = 83. Resident operands, no stall.
  ScaleSimMemoryResult r = run(Dataflow::kWs, {8, 8}, {20, 10, 3}, 64, 64, 64, 10);
  EXPECT_EQ(r.total_cycles, 83);
  EXPECT_EQ(r.stall_cycles, 0);
  // os, 8×8, M=20, N=10, K=2: (20, 10, 2), F = 3·2 = 6, per fold 2+8+8−2 = 16: 6·16 − 1 = 95.
  r = run(Dataflow::kOs, {8, 8}, {20, 10, 2}, 64, 64, 64, 10);
  EXPECT_EQ(r.total_cycles, 95);
  EXPECT_EQ(r.stall_cycles, 0);
  // is, 8×8, M=20, N=10, K=2: (2, 20, 10), F = 1·3, per fold 16+8+10−2 = 32: 3·32 − 1 = 95.
  r = run(Dataflow::kIs, {8, 8}, {20, 10, 2}, 64, 64, 64, 10);
  EXPECT_EQ(r.total_cycles, 95);
  EXPECT_EQ(r.stall_cycles, 0);
}

TEST(ScaleSimMemory, LowBandwidthStallsOneFold) {
  // os, 4×1, M=4, N=1, K=1000: one fold of T+R+C−2 = 1003 rows. The ifmap (4000 elements, 1 KB)
  // is rolled out by anti-diagonals and demanded diagonal by diagonal: row t (4 ≤ t ≤ 999) reads
  // positions [4t−6, 4t−3]. n = floor(4000/11) + 1 = 364 sets; the window [0, 47) holds positions
  // < 517. Set 47·j starts at position 517·j, first read in row t_j = ceil((517j + 3)/4):
  // t = 130, 260, 389, 518, 647, 777, 906 (j = 1..7; after 7 moves the window wraps over set 363).
  // b = 1: each prefetch takes ceil(512/1) + 1 = 513 cycles, prefetch j done at 513j − 1, so the
  // row's stall is 513j − 1 − (t_j + S) − 1 and S becomes 513j − 2 − t_j (each stall positive:
  // 513 > t_j − t_{j−1}). S = 513·7 − 2 − 906 = 2683. The filter (1000 elements, 64 KB) and the
  // 4 outputs never stall. Total = (L−1) + S = 1002 + 2683 = 3685.
  ScaleSimMemoryResult r = run(Dataflow::kOs, {4, 1}, {4, 1, 1000}, 1, 64, 64, 1);
  EXPECT_EQ(r.compute_cycles, 1002u);
  EXPECT_EQ(r.ifmap_prefetches, 7u);
  EXPECT_EQ(r.filter_prefetches, 0u);
  EXPECT_EQ(r.stall_cycles, 2683);
  EXPECT_EQ(r.total_cycles, 3685);

  // b = 10: a prefetch takes ceil(512/10) + 1 = 53 cycles, done at 53j − 1 < t_j: every stall is
  // negative (53 − 1 − 130 − 1 = −79 for j = 1) and the row's max with the filter's 0 is 0.
  r = run(Dataflow::kOs, {4, 1}, {4, 1, 1000}, 1, 64, 64, 10);
  EXPECT_EQ(r.ifmap_prefetches, 7u);
  EXPECT_EQ(r.stall_cycles, 0);
  EXPECT_EQ(r.total_cycles, 1002);

  // 8 KB ifmap at b = 1: e = ceil(8192/100) = 82, n = floor(4000/82) + 1 = 49 ≤ ceil(4096/82) = 50:
  // the operand is resident after the free first fill, no prefetch, no stall (small SRAM was the
  // cause above).
  r = run(Dataflow::kOs, {4, 1}, {4, 1, 1000}, 8, 64, 64, 1);
  EXPECT_EQ(r.ifmap_prefetches, 0u);
  EXPECT_EQ(r.stall_cycles, 0);
  EXPECT_EQ(r.total_cycles, 1002);
}

TEST(ScaleSimMemory, FlippedStationaryBlockThrashesASmallWindow) {
  // ws, 32×32, M=8, N=32, K=32: one fold of 2·32+32+8−2 = 102 rows. The filter block (1024
  // elements, 1 KB: n = floor(1024/11) + 1 = 94 sets, A = P = 47) is prefetched row-major but
  // loaded flipped: row t reads block row 31 − t, positions [32(31−t), 32(31−t)+31].
  //   t=0  (sets 90..93): outside [0,47) → 1 move, window [47, 94)
  //   t=15 (block row 16, sets 46..49): set 46 is behind → window [0,47), then set 47 → [47,94)
  //   t=16 (block row 15, sets 43..46): → window [0, 47), which holds the rest.
  // 4 prefetches. b = 1000: a prefetch takes ceil(512/1000) + 1 = 2 cycles, done at 1, 5, 7:
  // stalls 1−0−1 = 0, 5−15−1 < 0, 7−16−1 < 0 → none. Total 101.
  ScaleSimMemoryResult r = run(Dataflow::kWs, {32, 32}, {8, 32, 32}, 64, 1, 64, 1000);
  EXPECT_EQ(r.filter_prefetches, 4u);
  EXPECT_EQ(r.stall_cycles, 0);
  EXPECT_EQ(r.total_cycles, 101);
  // b = 1: 513 cycles each, done at 512, 1538 (3rd), 2051 (4th).
  //   t=0:  512 − 0 − 1 = 511                 S = 511
  //   t=15: cycle 15+511 = 526, 1538 − 526 − 1 = 1011    S = 1522
  //   t=16: cycle 16+1522 = 1538, 2051 − 1538 − 1 = 512  S = 2034
  // Total = 101 + 2034 = 2135.
  r = run(Dataflow::kWs, {32, 32}, {8, 32, 32}, 64, 1, 64, 1);
  EXPECT_EQ(r.stall_cycles, 2034);
  EXPECT_EQ(r.total_cycles, 2135);
}

TEST(ScaleSimMemory, OfmapWriteBackStalls) {
  // ws, 1×4, M=1000, N=4, K=1, ofmap 1 KB, b = 1 (reads resident in 64 KB). One fold of
  // 2+4+1000−2 = 1004 rows; outputs in rows 1..1003: 1, 2, 3, then 4 per row to row 1000, then
  // 3, 2, 1; after row t (3 ≤ t ≤ 1000) 4t − 6 are stored. Lines are 1 word (b = 1), a drain is
  // ceil(512/1) = 512 lines in 511 cycles.
  //   row 130: the 513th element leaves free 511 < 512: drain at cycle 130, ends 641, frees 512.
  //   row 386 (free 2 before it): its 2nd element fills the buffer while the drain runs: the row
  //     waits 641 − 386 = 255 cycles, its 3rd element starts the next drain (641 → 1152). The
  //     row counts 255 − 1 = 254 (a write stall w counts w − 1).
  //   then every 128 rows (512 elements) the buffer fills again: rows 514, 642, 770, 898, at
  //     cycles t + S = 768, 1279, 1790, 2301, each waiting 384 for the drain: 383 each.
  // S = 254 + 4·383 = 1786; the last drain (from 2685 to 3196) outlasts the rows. Total =
  // 1003 + 1786 = 2789; 6 drains (rows 130, 386, 514, 642, 770, 898).
  ScaleSimMemoryResult r = run(Dataflow::kWs, {1, 4}, {1000, 4, 1}, 64, 64, 1, 1);
  EXPECT_EQ(r.compute_cycles, 1003u);
  EXPECT_EQ(r.ofmap_drains, 6u);
  EXPECT_EQ(r.stall_cycles, 1786);
  EXPECT_EQ(r.total_cycles, 2789);
}

TEST(ScaleSimMemory, StallsCanBeNegative) {
  // os, 1×1, M=N=1, K=2000, all SRAMs 1 KB, b = 1: one fold of 2000 rows, row t reads ifmap and
  // filter position t. Both (2000 elements, n = 182 sets) miss at rows 517j (j = 1, 2, 3: 3 moves
  // reach set 141 and the window wraps over 181) with prefetch j done at 513j − 1, long before:
  //   row 517:  cycle 517,  512 − 517 − 1 = −6 for both; the ofmap adds 0 − 1: max = −1, S = −1
  //   row 1034: cycle 1033, 1025 − 1033 − 1 = −9: S = −2
  //   row 1551: cycle 1549, 1538 − 1549 − 1 = −12: S = −3
  // SCALE-Sim reports Stall Cycles −3 and Total Cycles 1999 − 3 = 1996 < the stall-free 1999.
  ScaleSimMemoryResult r = run(Dataflow::kOs, {1, 1}, {1, 1, 2000}, 1, 1, 1, 1);
  EXPECT_EQ(r.ifmap_prefetches, 3u);
  EXPECT_EQ(r.filter_prefetches, 3u);
  EXPECT_EQ(r.stall_cycles, -3);
  EXPECT_EQ(r.total_cycles, 1996);
}

TEST(ScaleSimMemory, SeveralFoldsMatchScaleSimRuns) {
  // Several folds, partial folds and both reads and writes stalling; the numbers are SCALE-Sim's
  // own (scale-sim-v2 51074edc run on the GEMM-form layer), too long to derive by hand.
  struct Case {
    Dataflow d;
    ArrayShape a;
    GemmShape g;  // M, N, K
    uint64_t ifmap_kb, filter_kb, ofmap_kb, bw;
    int64_t total, stall;
    uint64_t ifmap_prefetches, filter_prefetches, drains;
  };
  const Case cases[] = {
      {Dataflow::kOs, {5, 4}, {67, 24, 57}, 1, 3, 3, 5, 6925, 1550, 66, 0, 1},
      {Dataflow::kOs, {6, 4}, {62, 26, 49}, 2, 2, 1, 8, 4623, 235, 26, 1, 3},
      {Dataflow::kOs, {8, 8}, {64, 16, 72}, 1, 1, 1, 2, 8522, 7147, 26, 33, 1},
      {Dataflow::kWs, {6, 4}, {37, 20, 61}, 2, 1, 1, 2, 5658, 2854, 11, 9, 15},
      {Dataflow::kWs, {8, 8}, {64, 16, 72}, 1, 1, 1, 2, 6738, 5191, 26, 6, 17},
      {Dataflow::kIs, {7, 5}, {30, 38, 69}, 1, 2, 1, 3, 7037, 3738, 40, 17, 21},
      {Dataflow::kIs, {8, 8}, {64, 16, 72}, 1, 1, 1, 2, 50407, 47672, 196, 24, 17},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(to_string(c.d)) + " M=" + std::to_string(c.g.m));
    const ScaleSimMemoryResult r = run(c.d, c.a, c.g, c.ifmap_kb, c.filter_kb, c.ofmap_kb, c.bw);
    EXPECT_EQ(r.total_cycles, c.total);
    EXPECT_EQ(r.stall_cycles, c.stall);
    EXPECT_EQ(r.ifmap_prefetches, c.ifmap_prefetches);
    EXPECT_EQ(r.filter_prefetches, c.filter_prefetches);
    EXPECT_EQ(r.ofmap_drains, c.drains);
  }
}

ConvShape conv_layer(uint64_t h, uint64_t w, uint64_t r, uint64_t s, uint64_t c, uint64_t filters,
                     uint64_t stride) {
  ConvShape conv;
  conv.h = h, conv.w = w, conv.r = r, conv.s = s, conv.c = c, conv.filters = filters;
  conv.stride = stride;
  return conv;
}

TEST(ScaleSimMemory, PointwiseConvolutionIsItsGemm) {
  // A 1×1 stride-1 conv addresses pixel·C + channel for im2col cell (pixel, channel): distinct,
  // so it is the GEMM (M, N, K) = (H·W, filters, C) exactly (here with misses and stalls).
  const ConvShape conv = conv_layer(12, 10, 1, 1, 6, 20, 1);  // (120, 20, 6)
  for (Dataflow d : {Dataflow::kOs, Dataflow::kWs, Dataflow::kIs}) {
    const ScaleSimMemoryParams p{1, 1, 1, 2};
    const ScaleSimMemoryResult a = scalesim_user_cycles(conv, d, {4, 4}, p);
    const ScaleSimMemoryResult b = scalesim_user_cycles(GemmShape{120, 20, 6}, d, {4, 4}, p);
    EXPECT_EQ(a.total_cycles, b.total_cycles);
    EXPECT_EQ(a.stall_cycles, b.stall_cycles);
    EXPECT_EQ(a.ifmap_prefetches, b.ifmap_prefetches);
  }
}

TEST(ScaleSimMemory, ConvolutionsMatchScaleSimRuns) {
  // SCALE-Sim's numbers (scale-sim-v2 51074edc compute and memory modules, addresses from
  // operand_matrix.calc_ifmap_elem_addr) for conv layers whose ifmap overflows its 1 KB SRAM, so
  // that repeated addresses matter; the last but one has windows past the input's right edge
  // ((16 − 3) mod 2 = 1, SCALE-Sim rounds the output width up to 7).
  struct Case {
    ConvShape conv;
    Dataflow d;
    ArrayShape a;
    uint64_t bw;
    int64_t total, stall;
    uint64_t ifmap_prefetches, filter_prefetches, drains;
    int64_t gemm_total;  // the same layer as its GEMM (distinct addresses), for contrast
  };
  const Case cases[] = {
      {conv_layer(10, 10, 3, 3, 8, 16, 1), Dataflow::kOs, {8, 8}, 2, 8522, 7147, 26, 33, 1, 8522},
      {conv_layer(10, 10, 3, 3, 8, 16, 1), Dataflow::kWs, {8, 8}, 2, 6738, 5191, 26, 6, 17, 6738},
      {conv_layer(10, 10, 3, 3, 8, 16, 1), Dataflow::kIs, {8, 8}, 2, 6257, 3522, 8, 24, 17, 50407},
      {conv_layer(10, 17, 3, 3, 7, 5, 1), Dataflow::kOs, {3, 3}, 5, 5668, 309, 43, 0, 1, -1},
      {conv_layer(11, 16, 3, 3, 5, 9, 2), Dataflow::kWs, {3, 8}, 2, 2680, 1121, 6, 0, 10, -1},
      {conv_layer(12, 13, 3, 3, 7, 2, 1), Dataflow::kWs, {7, 8}, 1, 13407, 12238, 26, 0, 3, -1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(to_string(c.d)) + " conv " + std::to_string(c.conv.h) + "x" +
                 std::to_string(c.conv.w));
    const ScaleSimMemoryParams p{1, 1, 1, c.bw};
    const ScaleSimMemoryResult r = scalesim_user_cycles(c.conv, c.d, c.a, p);
    EXPECT_EQ(r.total_cycles, c.total);
    EXPECT_EQ(r.stall_cycles, c.stall);
    EXPECT_EQ(r.ifmap_prefetches, c.ifmap_prefetches);
    EXPECT_EQ(r.filter_prefetches, c.filter_prefetches);
    EXPECT_EQ(r.ofmap_drains, c.drains);
    if (c.gemm_total >= 0) {
      EXPECT_EQ(scalesim_user_cycles(lower_conv2d_scalesim(c.conv), c.d, c.a, p).total_cycles,
                c.gemm_total);
    }
  }
}

TEST(ScaleSimMemory, BadParamsThrowInputErrorNamingTheParameter) {
  auto message = [](const ScaleSimMemoryParams& p, GemmShape g = {8, 8, 8},
                    ArrayShape a = {4, 4}) -> std::string {
    try {
      scalesim_user_cycles(g, Dataflow::kOs, a, p);
    } catch (const InputError& e) {
      return e.what();
    }
    return "no error";
  };
  const ScaleSimMemoryParams ok{64, 64, 64, 10};
  ScaleSimMemoryParams p = ok;
  p.bandwidth_words_per_cycle = 0;
  EXPECT_EQ(message(p),
            "scalesim_user: bandwidth_words_per_cycle: expected a positive integer, found 0");
  p = ok;
  p.filter_sram_kb = 0;
  EXPECT_EQ(message(p), "scalesim_user: filter_sram_kb: expected a positive integer, found 0");
  p = ok;
  p.ofmap_sram_kb = uint64_t{1} << 31;
  EXPECT_EQ(message(p),
            "scalesim_user: ofmap_sram_kb: expected at most 1073741824 KB, found 2147483648");
  EXPECT_EQ(message(ok, {8, 0, 8}), "scalesim_user: gemm.n: expected a positive integer, found 0");
  EXPECT_EQ(message(ok, {8, 8, 8}, {4, 0}),
            "scalesim_user: array.cols: expected a positive integer, found 0");

  auto conv_message = [&](const ConvShape& conv) -> std::string {
    try {
      scalesim_user_cycles(conv, Dataflow::kWs, {4, 4}, ok);
    } catch (const InputError& e) {
      return e.what();
    }
    return "no error";
  };
  ConvShape conv = conv_layer(8, 8, 3, 3, 2, 4, 1);
  EXPECT_EQ(conv_message(conv), "no error");
  conv.padding = 1;
  EXPECT_EQ(conv_message(conv),
            "scalesim_user: conv.padding: expected 0 (SCALE-Sim pads nothing; add it to h and w), "
            "found 1");
  conv = conv_layer(8, 8, 9, 3, 2, 4, 1);
  EXPECT_EQ(conv_message(conv), "scalesim_user: conv.r: expected at most conv.h, found 9");
  conv = conv_layer(8, 8, 3, 3, 2, 4, 0);
  EXPECT_EQ(conv_message(conv), "scalesim_user: conv.stride: expected a positive integer, found 0");
}

// An element-level replica of SCALE-Sim's structures, written from the rule (scalesim_memory.md)
// without the closed forms: it materializes the prefetch order and the demand matrices with one
// address per element, keeps the sets as address → set maps, checks every address, and stores
// the ofmap word by word into explicit lines. The fast model must agree with it on any shape.
namespace replica {

using Matrix = std::vector<std::vector<int64_t>>;  // −1 = no request

Matrix skew(const Matrix& m) {  // column c shifted down by c rows
  const size_t rows = m.size(), cols = m.empty() ? 0 : m[0].size();
  Matrix out(rows + cols - 1, std::vector<int64_t>(cols, -1));
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) out[r + c][c] = m[r][c];
  return out;
}

std::vector<int64_t> roll_out(const Matrix& m) {  // anti-diagonals, each from its bottom row up
  std::vector<int64_t> out;
  const int64_t rows = static_cast<int64_t>(m.size()), cols = static_cast<int64_t>(m[0].size());
  for (int64_t d = 0; d < rows + cols; ++d)
    for (int64_t r = std::min(d, rows - 1); r >= std::max<int64_t>(0, d - cols + 1); --r)
      out.push_back(m[static_cast<size_t>(r)][static_cast<size_t>(d - r)]);
  return out;
}

std::vector<int64_t> flatten(const Matrix& m) {
  std::vector<int64_t> out;
  for (const auto& row : m) out.insert(out.end(), row.begin(), row.end());
  return out;
}

// rows [r0, r0+nr) × cols [c0, c0+nc) of m, padded with −1 to pr × pc.
Matrix block(const Matrix& m, size_t r0, size_t nr, size_t c0, size_t nc, size_t pr, size_t pc) {
  Matrix out(pr, std::vector<int64_t>(pc, -1));
  for (size_t r = 0; r < nr; ++r)
    for (size_t c = 0; c < nc; ++c) out[r][c] = m[r0 + r][c0 + c];
  return out;
}

Matrix transpose(const Matrix& m) {
  Matrix out(m[0].size(), std::vector<int64_t>(m.size()));
  for (size_t r = 0; r < m.size(); ++r)
    for (size_t c = 0; c < m[0].size(); ++c) out[c][r] = m[r][c];
  return out;
}

void append(Matrix& to, const Matrix& m) { to.insert(to.end(), m.begin(), m.end()); }
Matrix empty_rows(size_t rows, size_t cols) { return Matrix(rows, std::vector<int64_t>(cols, -1)); }
Matrix flip(Matrix m) {
  std::reverse(m.begin(), m.end());
  return m;
}

struct Read {
  std::unordered_map<int64_t, std::vector<uint64_t>> sets_of;  // an address may repeat
  uint64_t sets = 0, window = 0, step = 0, start = 0, lines = 0;
  int64_t last = -1;
  uint64_t prefetches = 0;
  Read(const std::vector<int64_t>& order, uint64_t kb, uint64_t bw) {
    const uint64_t total = kb * 1024, active = (total + 1) / 2, e = (total + 99) / 100;
    uint64_t valid = 0;
    for (int64_t a : order)
      if (a != -1) sets_of[a].push_back(valid++ / e);
    sets = valid / e + 1;
    window = std::min((active + e - 1) / e, sets);
    step = std::min((total - active + e - 1) / e, sets - window);
    lines = (total - active + bw - 1) / bw;
  }
  bool hit(int64_t a) const {
    const uint64_t end = (start + window) % sets;
    for (uint64_t s : sets_of.at(a)) {
      if (start < end ? (s >= start && s < end) : (s >= start || s < end)) return true;
    }
    return false;
  }
  int64_t serve(const std::vector<int64_t>& row, int64_t cycle) {
    int64_t offset = 1;
    for (int64_t a : row) {
      if (a == -1) continue;
      while (!hit(a)) {
        start = (start + step) % sets;
        last += static_cast<int64_t>(lines) + 1;
        ++prefetches;
        offset = last - cycle;
      }
    }
    return cycle + offset;
  }
};

struct Write {
  int64_t total, active, free, drain_end = 0;
  uint64_t bw, drain_lines, drained = 0, drains = 0;
  std::vector<uint64_t> lines;  // words used per line
  uint64_t open = 0;            // words in the open line
  Write(uint64_t kb, uint64_t b) : bw(b) {
    total = static_cast<int64_t>(kb * 1024);
    active = (total + 1) / 2;
    free = total;
    drain_lines = (static_cast<uint64_t>(total - active) + bw - 1) / bw;
  }
  int64_t serve(const std::vector<int64_t>& row, int64_t cycle) {
    int64_t current = cycle;
    for (int64_t a : row) {
      if (a == -1) continue;
      --free;
      if (++open == bw) lines.push_back(open), open = 0;
      if (current < drain_end) {
        if (free <= 0) current = drain_end;
      } else if (free < active) {
        if (open > 0) lines.push_back(open), open = 0;
        const uint64_t n = std::min<uint64_t>(drain_lines, lines.size() - drained);
        free += static_cast<int64_t>(n * bw - (bw - lines[drained + n - 1]));
        drained += n;
        drain_end = current + static_cast<int64_t>(n) - 1;
        ++drains;
      }
    }
    return current;
  }
};

// A GEMM (conv == nullptr) or SCALE-Sim's conv layer (operand_matrix.calc_ifmap_elem_addr).
ScaleSimMemoryResult simulate(const GemmShape& g, Dataflow d, ArrayShape a,
                              const ScaleSimMemoryParams& p, const ConvShape* conv = nullptr) {
  const size_t m = g.m, n = g.n, k = g.k, r = a.rows, c = a.cols;
  Matrix am(m, std::vector<int64_t>(k)), bm(k, std::vector<int64_t>(n)),
      cm(m, std::vector<int64_t>(n));
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < k; ++j) {
      am[i][j] = static_cast<int64_t>(i * k + j);
      if (conv == nullptr) continue;
      const size_t ow = (conv->w - conv->s + 2 * conv->stride - 1) / conv->stride;
      const size_t i_row = i / ow * conv->stride, i_col = i % ow * conv->stride;
      const size_t c_row = j / (conv->s * conv->c), c_col = j % (conv->s * conv->c) / conv->c;
      am[i][j] = i_row + c_row >= conv->h || i_col + c_col >= conv->w
                     ? -1
                     : static_cast<int64_t>((i_row + c_row) * conv->w * conv->c +
                                            (i_col + c_col) * conv->c + j % conv->c);
    }
  }
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < n; ++j) bm[i][j] = static_cast<int64_t>(10000000 + j * k + i);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) cm[i][j] = static_cast<int64_t>(20000000 + i * n + j);
  const Matrix at = transpose(am), bt = transpose(bm), ct = transpose(cm);
  const FoldMapping map = map_gemm(g, d, a);
  const size_t sr = map.sr, sc = map.sc, t = map.t, rf = map.row_folds, cf = map.col_folds;
  auto rows_in = [&](size_t f) { return std::min(r, sr - f * r); };
  auto cols_in = [&](size_t f) { return std::min(c, sc - f * c); };
  Matrix if_stack, f_stack, if_demand, f_demand, of_demand;
  // Prefetch stacks.
  if (d == Dataflow::kOs) {
    for (size_t fr = 0; fr < rf; ++fr) append(if_stack, block(at, 0, t, fr * r, rows_in(fr), t, r));
    for (size_t fc = 0; fc < cf; ++fc) append(f_stack, block(bm, 0, t, fc * c, cols_in(fc), t, c));
  } else if (d == Dataflow::kWs) {
    for (size_t fr = 0; fr < rf; ++fr) append(if_stack, block(am, 0, t, fr * r, rows_in(fr), t, r));
    for (size_t fc = 0; fc < cf; ++fc)
      append(f_stack, block(bm, 0, sr, fc * c, cols_in(fc), sr, c));
  } else {
    for (size_t fc = 0; fc < cf; ++fc)
      append(if_stack, block(at, 0, sr, fc * c, cols_in(fc), sr, c));
    for (size_t fr = 0; fr < rf; ++fr) append(f_stack, block(bt, 0, t, fr * r, rows_in(fr), t, r));
  }
  const std::vector<int64_t> if_order = d == Dataflow::kIs ? flatten(if_stack) : roll_out(if_stack);
  const std::vector<int64_t> f_order = d == Dataflow::kWs ? flatten(f_stack) : roll_out(f_stack);
  // Demand matrices, fold by fold.
  for (size_t fc = 0; fc < cf; ++fc) {
    for (size_t fr = 0; fr < rf; ++fr) {
      const size_t ur = rows_in(fr), uc = cols_in(fc);
      Matrix x, y, z;
      if (d == Dataflow::kOs) {
        x = block(at, 0, t, fr * r, ur, t, r);
        append(x, empty_rows(c - 1, r));
        y = block(bm, 0, t, fc * c, uc, t, c);
        append(y, empty_rows(r - 1, c));
        z = empty_rows(t - 1, c);
        append(z, flip(block(cm, fr * r, ur, fc * c, uc, r, c)));
        append(if_demand, skew(x)), append(f_demand, skew(y)), append(of_demand, skew(z));
        continue;
      }
      const Matrix& skewed_src = d == Dataflow::kWs ? am : bt;  // T × Sr
      const Matrix& flat_src = d == Dataflow::kWs ? bm : at;    // Sr × (N or M)
      x = empty_rows(r, r);
      append(x, block(skewed_src, 0, t, fr * r, ur, t, r));
      append(x, empty_rows(c - 1, r));
      y = flip(block(flat_src, fr * r, ur, fc * c, uc, r, c));
      append(y, empty_rows(r + c + t - 2, c));
      z = empty_rows(2 * r - 1, c);
      append(z, block(d == Dataflow::kWs ? cm : ct, 0, t, fc * c, uc, t, c));
      append(d == Dataflow::kWs ? if_demand : f_demand, skew(x));
      append(d == Dataflow::kWs ? f_demand : if_demand, y);
      append(of_demand, skew(z));
    }
  }
  Read ifmap(if_order, p.ifmap_sram_kb, p.bandwidth_words_per_cycle);
  Read filter(f_order, p.filter_sram_kb, p.bandwidth_words_per_cycle);
  Write ofmap(p.ofmap_sram_kb, p.bandwidth_words_per_cycle);
  int64_t stalls = 0, out = 0;
  for (size_t i = 0; i < of_demand.size(); ++i) {
    const int64_t cycle = static_cast<int64_t>(i) + stalls;
    const int64_t s1 = ifmap.serve(if_demand[i], cycle) - cycle - 1;
    const int64_t s2 = filter.serve(f_demand[i], cycle) - cycle - 1;
    out = ofmap.serve(of_demand[i], cycle);
    stalls += std::max({s1, s2, out - cycle - 1});
  }
  ScaleSimMemoryResult res;
  res.compute_cycles = of_demand.size() - 1;
  res.total_cycles = out;
  res.stall_cycles = stalls;
  res.ifmap_prefetches = ifmap.prefetches;
  res.filter_prefetches = filter.prefetches;
  res.ofmap_drains = ofmap.drains;
  return res;
}

}  // namespace replica

TEST(ScaleSimMemory, MatchesAnElementLevelReplicaOnRandomShapes) {
  std::mt19937_64 rng(20260502);
  auto pick = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  const uint64_t bandwidths[] = {1, 2, 3, 5, 8, 16, 100};
  for (int i = 0; i < 150; ++i) {
    const GemmShape g{pick(1, 48), pick(1, 48), pick(1, 48)};
    const ArrayShape a{pick(1, 9), pick(1, 9)};
    const Dataflow d = static_cast<Dataflow>(pick(0, 2));
    const ScaleSimMemoryParams p{pick(1, 2), pick(1, 2), pick(1, 2), bandwidths[pick(0, 6)]};
    SCOPED_TRACE(std::string(to_string(d)) + " M,N,K=" + std::to_string(g.m) + "," +
                 std::to_string(g.n) + "," + std::to_string(g.k) +
                 " R,C=" + std::to_string(a.rows) + "," + std::to_string(a.cols) +
                 " KB=" + std::to_string(p.ifmap_sram_kb) + "," + std::to_string(p.filter_sram_kb) +
                 "," + std::to_string(p.ofmap_sram_kb) +
                 " b=" + std::to_string(p.bandwidth_words_per_cycle));
    const ScaleSimMemoryResult fast = scalesim_user_cycles(g, d, a, p);
    const ScaleSimMemoryResult slow = replica::simulate(g, d, a, p);
    ASSERT_EQ(fast.compute_cycles, slow.compute_cycles);
    ASSERT_EQ(fast.total_cycles, slow.total_cycles);
    ASSERT_EQ(fast.stall_cycles, slow.stall_cycles);
    ASSERT_EQ(fast.ifmap_prefetches, slow.ifmap_prefetches);
    ASSERT_EQ(fast.filter_prefetches, slow.filter_prefetches);
    ASSERT_EQ(fast.ofmap_drains, slow.ofmap_drains);
  }
}

TEST(ScaleSimMemory, ConvolutionsMatchTheReplicaWithRepeatedAddresses) {
  std::mt19937_64 rng(20261202);
  auto pick = [&](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  const uint64_t bandwidths[] = {1, 2, 5, 10, 100};
  for (int i = 0; i < 120; ++i) {
    ConvShape conv;
    conv.r = pick(1, 4), conv.s = pick(1, 4), conv.stride = pick(1, 3), conv.c = pick(1, 6);
    conv.h = pick(conv.r, 16), conv.w = pick(conv.s, 16), conv.filters = pick(1, 20);
    const ArrayShape a{pick(1, 8), pick(1, 8)};
    const Dataflow d = static_cast<Dataflow>(pick(0, 2));
    const ScaleSimMemoryParams p{1, pick(1, 2), pick(1, 2), bandwidths[pick(0, 4)]};
    SCOPED_TRACE(std::string(to_string(d)) + " conv " + std::to_string(conv.h) + "x" +
                 std::to_string(conv.w) + " filter " + std::to_string(conv.r) + "x" +
                 std::to_string(conv.s) + " C=" + std::to_string(conv.c) +
                 " F=" + std::to_string(conv.filters) + " stride " + std::to_string(conv.stride) +
                 " R,C=" + std::to_string(a.rows) + "," + std::to_string(a.cols) +
                 " b=" + std::to_string(p.bandwidth_words_per_cycle));
    const ScaleSimMemoryResult fast = scalesim_user_cycles(conv, d, a, p);
    const ScaleSimMemoryResult slow =
        replica::simulate(lower_conv2d_scalesim(conv), d, a, p, &conv);
    ASSERT_EQ(fast.total_cycles, slow.total_cycles);
    ASSERT_EQ(fast.stall_cycles, slow.stall_cycles);
    ASSERT_EQ(fast.ifmap_prefetches, slow.ifmap_prefetches);
    ASSERT_EQ(fast.filter_prefetches, slow.filter_prefetches);
    ASSERT_EQ(fast.ofmap_drains, slow.ofmap_drains);
  }
}

}  // namespace
}  // namespace nibble
