// The SystemC accelerator on hundreds of GEMM shapes: each op's simulated cycles equal the
// schedule's closed form (written out again here, independently of systolic_timing.cpp), MACs and
// operand traffic are conserved, and ops run back to back. One simulation per test process.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>

#include "models/accelerator/accelerator.h"

namespace nibble {
namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// A workload of every (M, N, K) over a set of awkward sizes: 1, primes, sizes just around the
// array dimensions, K smaller than the array.
Workload shape_sweep() {
  const uint64_t sizes[] = {1, 2, 5, 7, 8, 13, 16, 33};
  const OperandPrecisions precisions[] = {{Precision::kInt4, Precision::kInt4, Precision::kFp16},
                                          {Precision::kFp4, Precision::kInt4, Precision::kFp16},
                                          {Precision::kInt2, Precision::kInt2, Precision::kFp32}};
  Workload w;
  w.name = "shape-sweep";
  for (uint64_t m : sizes) {
    for (uint64_t n : sizes) {
      for (uint64_t k : sizes) {
        Op op;
        op.name = std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
        op.gemm = {m, n, k};
        op.precision = precisions[w.ops.size() % 3];
        w.ops.push_back(op);
      }
    }
  }
  return w;  // 8³ = 512 ops
}

struct Case {
  Dataflow dataflow;
  Schedule schedule;
  uint64_t rows, cols;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << to_string(c.dataflow) << ' ' << to_string(c.schedule) << ' ' << c.rows << 'x' << c.cols;
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return std::string(to_string(c.dataflow)) + "_" + to_string(c.schedule) + "_" +
         std::to_string(c.rows) + "x" + std::to_string(c.cols);
}

class ArraySweep : public testing::TestWithParam<Case> {};

TEST_P(ArraySweep, CyclesTrafficAndMacsMatchTheClosedForms) {
  const Case c = GetParam();
  AcceleratorParams params;
  params.mac_array.rows = c.rows;
  params.mac_array.cols = c.cols;
  params.mac_array.dataflow = c.dataflow;
  params.mac_array.schedule = c.schedule;
  params.mac_array.acc_bits = 24;
  const Workload w = shape_sweep();
  const RunResult r = simulate(params, w);
  ASSERT_TRUE(r.complete);
  ASSERT_EQ(r.ops.size(), w.ops.size());

  const uint64_t R = c.rows, C = c.cols;
  uint64_t previous_end = 0;
  for (std::size_t i = 0; i < w.ops.size(); ++i) {
    const Op& op = w.ops[i];
    const OpResult& o = r.ops[i];
    const uint64_t M = op.gemm.m, N = op.gemm.n, K = op.gemm.k;
    // (Sr, Sc, T) per dataflow: os (M,N,K), ws (K,N,M), is (K,M,N).
    const uint64_t sr = c.dataflow == Dataflow::kOs ? M : K;
    const uint64_t sc = c.dataflow == Dataflow::kIs ? M : N;
    const uint64_t t = c.dataflow == Dataflow::kOs ? K : c.dataflow == Dataflow::kWs ? M : N;
    const uint64_t folds = ceil_div(sr, R) * ceil_div(sc, C);
    uint64_t expected;
    if (c.schedule == Schedule::kScaleSim) {
      const uint64_t per_fold = c.dataflow == Dataflow::kOs ? t + R + C - 2 : 2 * R + C + t - 2;
      expected = folds * per_fold - 1;
    } else {
      const uint64_t preload = c.dataflow == Dataflow::kOs ? 0 : R;
      expected = preload + (folds - 1) * std::max(t, R) + t + R + C - 1;
    }
    SCOPED_TRACE(op.name);
    EXPECT_EQ(o.start_cycle, previous_end);
    EXPECT_EQ(o.end_cycle - o.start_cycle, expected);
    EXPECT_EQ(o.macs, M * N * K);
    EXPECT_EQ(o.tiles, folds);
    previous_end = o.end_cycle;

    // Operand traffic, from how often each operand passes into the array:
    //   os: A once per column fold, B once per row fold, each result written once;
    //   ws: B (stationary) once, A once per column fold; is: A once, B once per column fold;
    //   ws/is: each of the M·N outputs is produced ceil(K/R) times: the last is the result, the
    //   others are partial sums written at acc_bits and read back by the next fold.
    const uint64_t a = bits_of(op.precision.a), b = bits_of(op.precision.b);
    const uint64_t out = bits_of(op.precision.out), acc = 24;
    uint64_t read_bits, write_bits;
    if (c.dataflow == Dataflow::kOs) {
      read_bits = M * K * ceil_div(N, C) * a + K * N * ceil_div(M, R) * b;
      write_bits = M * N * out;
    } else {
      const uint64_t psums = M * N * (ceil_div(K, R) - 1);
      read_bits = (c.dataflow == Dataflow::kWs ? K * N * b + M * K * ceil_div(N, C) * a
                                               : K * M * a + N * K * ceil_div(M, C) * b) +
                  psums * acc;
      write_bits = M * N * out + psums * acc;
    }
    const auto& counts = o.energy.counts();
    EXPECT_DOUBLE_EQ(counts.at({"buffer", "buffer.read_byte"}), static_cast<double>(read_bits) / 8);
    EXPECT_DOUBLE_EQ(counts.at({"buffer", "buffer.write_byte"}),
                     static_cast<double>(write_bits) / 8);
  }
  EXPECT_EQ(r.cycles, previous_end);
}

INSTANTIATE_TEST_SUITE_P(Shapes, ArraySweep,
                         testing::Values(Case{Dataflow::kOs, Schedule::kScaleSim, 8, 8},
                                         Case{Dataflow::kWs, Schedule::kScaleSim, 8, 8},
                                         Case{Dataflow::kIs, Schedule::kScaleSim, 8, 8},
                                         Case{Dataflow::kOs, Schedule::kPipelined, 8, 8},
                                         Case{Dataflow::kWs, Schedule::kPipelined, 8, 8},
                                         Case{Dataflow::kIs, Schedule::kPipelined, 8, 8},
                                         Case{Dataflow::kOs, Schedule::kScaleSim, 5, 7},
                                         Case{Dataflow::kWs, Schedule::kScaleSim, 5, 7},
                                         Case{Dataflow::kIs, Schedule::kScaleSim, 5, 7},
                                         Case{Dataflow::kOs, Schedule::kPipelined, 5, 7},
                                         Case{Dataflow::kWs, Schedule::kPipelined, 5, 7},
                                         Case{Dataflow::kIs, Schedule::kPipelined, 5, 7},
                                         Case{Dataflow::kOs, Schedule::kScaleSim, 1, 1},
                                         Case{Dataflow::kWs, Schedule::kPipelined, 1, 1},
                                         Case{Dataflow::kIs, Schedule::kScaleSim, 16, 4},
                                         Case{Dataflow::kOs, Schedule::kPipelined, 4, 16}),
                         case_name);

TEST(Accelerator, CountsMacEventsByDatapath) {
  // fp4 × int4 and int4 × fp4 are the same shift-MAC hardware, so one event; 2·3·4 = 24 MACs each.
  Workload w;
  Op a;
  a.name = "a";
  a.gemm = {2, 3, 4};
  a.precision = {Precision::kFp4, Precision::kInt4, Precision::kFp16};
  Op b = a;
  b.name = "b";
  b.precision = {Precision::kUint4, Precision::kFp4, Precision::kFp16};
  w.ops = {a, b};
  const RunResult r = simulate(AcceleratorParams{}, w);
  EXPECT_DOUBLE_EQ(r.ops[0].energy.counts().at({"mac_array", "mac.int4_fp4"}), 24.0);
  EXPECT_DOUBLE_EQ(r.ops[1].energy.counts().at({"mac_array", "mac.int4_fp4"}), 24.0);
  const auto events = required_energy_events(w);  // the first op to need each event
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0], (std::pair<std::string, std::string>{"mac.int4_fp4", "a"}));
  EXPECT_EQ(events[1], (std::pair<std::string, std::string>{"buffer.read_byte", "a"}));
}

}  // namespace
}  // namespace nibble
