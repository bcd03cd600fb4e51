// Cycle fidelity of the systolic array: the stepped PE grid against hand-worked cycle counts and
// against the closed forms of systolic_timing.h on hundreds of shapes; and the VCD writer.
#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/systolic/pe_grid.h"
#include "models/systolic/systolic_timing.h"
#include "sim/vcd.h"

namespace nibble {
namespace {

constexpr Dataflow kOs = Dataflow::kOs;
constexpr Dataflow kWs = Dataflow::kWs;
constexpr Dataflow kIs = Dataflow::kIs;
constexpr Schedule kPipe = Schedule::kPipelined;
constexpr Schedule kSim = Schedule::kScaleSim;

// Checks that every MAC of the GEMM arrives once and each output sees k = 0, 1, ... in order;
// keeps the first violation.
class CheckingSink : public MacSink {
 public:
  explicit CheckingSink(const GemmShape& g) : g_(g), next_k_(g.m * g.n, 0) {}
  void mac(uint64_t m, uint64_t n, uint64_t k) override {
    ++count_;
    if (m >= g_.m || n >= g_.n || next_k_[m * g_.n + n] != k) {
      if (error_.empty()) {
        error_ = "MAC (" + std::to_string(m) + ", " + std::to_string(n) + ", " + std::to_string(k) +
                 ") out of range or order";
      }
      return;
    }
    ++next_k_[m * g_.n + n];
  }
  // Empty when all M·N·K MACs came, in k order per output.
  std::string verdict() const {
    if (!error_.empty()) return error_;
    for (const uint64_t k : next_k_) {
      if (k != g_.k) return "an output saw " + std::to_string(k) + " of K MACs";
    }
    return count_ == g_.macs() ? "" : "MAC count " + std::to_string(count_);
  }

 private:
  GemmShape g_;
  std::vector<uint64_t> next_k_;
  uint64_t count_ = 0;
  std::string error_;
};

// Records the MAC sequence, for comparing two runs.
class RecordingSink : public MacSink {
 public:
  void mac(uint64_t m, uint64_t n, uint64_t k) override { seq.push_back({m, n, k}); }
  std::vector<std::vector<uint64_t>> seq;
};

uint64_t run(PeGrid& grid, const GemmShape& g, MacSink* sink = nullptr) {
  grid.start(g, sink);
  while (!grid.done()) grid.step();
  return grid.steps();
}

uint64_t run(ArrayShape a, Dataflow d, Schedule s, GemmShape g, MacSink* sink = nullptr) {
  PeGrid grid(a, d, s);
  return run(grid, g, sink);
}

// What systolic_timing.h predicts for the number of steps (see PeGrid::steps()).
uint64_t closed_form(ArrayShape a, Dataflow d, Schedule s, GemmShape g) {
  const FoldMapping m = map_gemm(g, d, a);
  return s == kPipe ? fold_timing(d, kPipe, a, m.t).op_cycles(m.folds())
                    : m.folds() * scalesim_fold_cycles(d, a, m.t);
}

TEST(PeGrid, OneByOneArray) {
  const ArrayShape a{1, 1};
  // One MAC, os: PE(0,0) does MAC k=0 at s+i+j+k = 0, its result is on the bus at s+i+j+T = 1:
  // 2 steps (T+R+C−1 = 1+1+1−1). Scalesim stops after the MAC in cycle 0: 1 step.
  EXPECT_EQ(run(a, kOs, kPipe, {1, 1, 1}), 2u);
  EXPECT_EQ(run(a, kOs, kSim, {1, 1, 1}), 1u);
  // ws/is: the one-row block loads in cycle 0, the fold starts at R = 1, MAC at 1, the partial
  // sum leaves the bottom at s+R+j+m = 1+1 = 2: 3 steps (R + T+R+C−1 = 1+2). Scalesim: load 0,
  // MAC 1, 2 steps (2R+C+T−2 = 2).
  for (const Dataflow d : {kWs, kIs}) {
    EXPECT_EQ(run(a, d, kPipe, {1, 1, 1}), 3u);
    EXPECT_EQ(run(a, d, kSim, {1, 1, 1}), 2u);
  }
  // os M=2 N=3 K=4: 2·3 = 6 folds of T = 4; the one injector frees up T cycles after a start and
  // the one bus is held R = 1 cycle, so folds start at 0, 4, ..., 20; the last does MACs
  // 20..23 and drives the bus at 24: 25 steps ((F−1)·max(T,R) + T+R+C−1 = 5·4 + 5).
  CheckingSink sink({2, 3, 4});
  EXPECT_EQ(run(a, kOs, kPipe, {2, 3, 4}, &sink), 25u);
  EXPECT_EQ(sink.verdict(), "");
}

TEST(PeGrid, OutputStationaryFullArray) {
  // 8×8, M=N=K=8: one fold, T = 8. PE(7,7) does its last MAC at s+i+j+k = 7+7+7 = 21 and puts
  // its result on column 7's bus at 22: 23 steps (T+R+C−1 = 8+8+8−1). Scalesim ends with the
  // last MAC: 22 steps (T+R+C−2).
  const ArrayShape a{8, 8};
  PeGrid grid(a, kOs, kPipe);
  CheckingSink sink({8, 8, 8});
  EXPECT_EQ(run(grid, {8, 8, 8}, &sink), 23u);
  EXPECT_EQ(sink.verdict(), "");
  EXPECT_EQ(grid.macs(), 512u);
  EXPECT_EQ(run(a, kOs, kSim, {8, 8, 8}), 22u);
}

TEST(PeGrid, WeightStationaryShallowK) {
  // 8×8 ws, M=5 N=8 K=3: (Sr, Sc, T) = (K, N, M) = (3, 8, 5), one fold using 3 of 8 rows. The
  // block loads in cycles 0..7 (column 0; column j lands j cycles later), the stream starts at
  // s = R = 8; the last partial sum (t = 4) leaves column 7 at s+R+j+t = 8+8+7+4 = 27: 28 steps
  // (R + T+R+C−1 = 8 + 20). Rows 3..7 pass bubbles and cost the same time.
  const ArrayShape a{8, 8};
  PeGrid grid(a, kWs, kPipe);
  CheckingSink sink({5, 8, 3});
  EXPECT_EQ(run(grid, {5, 8, 3}, &sink), 28u);
  EXPECT_EQ(sink.verdict(), "");
  EXPECT_EQ(grid.macs(), 5u * 8 * 3);
  EXPECT_EQ(grid.pe_steps(), 8u * 8 * 5);  // every PE steps all T = 5 elements, valid or not
  // Scalesim: last MAC at PE(7,7), t = 4: s+i+j+t = 8+7+7+4 = 26, so 27 steps (2R+C+T−2).
  EXPECT_EQ(run(a, kWs, kSim, {5, 8, 3}), 27u);
}

TEST(PeGrid, PartialFoldsOccupyTheWholeArray) {
  // 4×4 os, M=6 N=5 K=3: folds ceil(6/4)·ceil(5/4) = 4, three of them partial (2 rows and/or 1
  // column used). A fold holds each column bus R = 4 cycles > T = 3, so starts are 4 apart:
  // 0, 4, 8, 12. The last fold's PE(3,3) does MAC k=2 at 12+3+3+2 = 20 and drives the bus at
  // 21: 22 steps (3·max(3,4) + 3+4+4−1).
  const ArrayShape a{4, 4};
  PeGrid grid(a, kOs, kPipe);
  CheckingSink sink({6, 5, 3});
  EXPECT_EQ(run(grid, {6, 5, 3}, &sink), 22u);
  EXPECT_EQ(sink.verdict(), "");
  EXPECT_EQ(grid.macs(), 90u);
  EXPECT_EQ(grid.pe_steps(), 4u * 16 * 3);
  // Scalesim: each fold T+R+C−2 = 9 cycles, strictly in turn: 36.
  EXPECT_EQ(run(a, kOs, kSim, {6, 5, 3}), 36u);
}

TEST(PeGrid, ShadowLoadHidesBehindTheStream) {
  // 4×4 ws, M=2 N=4 K=8: (Sr, Sc, T) = (8, 4, 2), two row folds (k-blocks 0..3, 4..7).
  // Block 0 loads in 0..3, fold 0 starts at 4. Block 1 may load once fold 0 has started (its
  // block is leaving the shadows) and the load chain is free: 4..7; fold 1 starts at 8 (its block
  // has landed, and the injectors freed up at 4+T = 6). Its last sum (t = 1) leaves column 3 at
  // 8+4+3+1 = 16: 17 steps (R + max(T,R) + T+R+C−1 = 4+4+9).
  CheckingSink sink({2, 4, 8});
  EXPECT_EQ(run({4, 4}, kWs, kPipe, {2, 4, 8}, &sink), 17u);
  EXPECT_EQ(sink.verdict(), "");  // fold k-blocks in order: each output sees k = 0..7 in turn
  // Scalesim: per fold load R + stream 2R... = 2R+C+T−2 = 8+4+2−2 = 12, two folds: 24.
  EXPECT_EQ(run({4, 4}, kWs, kSim, {2, 4, 8}), 24u);
  // 4×4 is, M=8 N=6 K=4: (Sr, Sc, T) = (K, M, N) = (4, 8, 6), two column folds. Loads 0..3 and
  // 4..7; fold 0 starts at 4, fold 1 when the injectors are free at 4+T = 10; its last sum
  // (t = 5) leaves column 3 at 10+4+3+5 = 22: 23 steps (R + max(T,R) + T+R+C−1 = 4+6+13).
  EXPECT_EQ(run({4, 4}, kIs, kPipe, {8, 6, 4}), 23u);
}

TEST(PeGrid, RegistersShowTheWavefront) {
  // 2×2 os, M=N=K=2. After cycle 2 (3 steps) PE(1,1) holds A(m=1, k=0) and B(n=1, k=0), its
  // first MAC (i+j+k = 2); PE(0,0) finished at cycle 1 and its result drives the bus in cycle 2.
  PeGrid grid({2, 2}, kOs, kPipe);
  const std::vector<PeRegisterInfo>& regs = grid.pe_registers();
  ASSERT_EQ(regs.size(), 9u);
  EXPECT_STREQ(regs[1].name, "a_m");
  EXPECT_EQ(regs[1].width_bits, 32u);
  grid.start({2, 2, 2});
  for (int c = 0; c < 3; ++c) grid.step();
  EXPECT_EQ(grid.pe_register(1, 1, 0), 1u | 2u | 4u);  // a_flags: live, valid, first
  EXPECT_EQ(grid.pe_register(1, 1, 1), 1u);            // a_m
  EXPECT_EQ(grid.pe_register(1, 1, 2), 0u);            // a_k
  EXPECT_EQ(grid.pe_register(1, 1, 4), 1u);            // b_n
  EXPECT_EQ(grid.pe_register(0, 0, 0), 0u);            // A stream of row 0 has passed
  EXPECT_THROW(grid.pe_register(2, 0, 0), std::out_of_range);
}

TEST(PeGrid, Contract) {
  PeGrid grid({2, 3}, kWs, kPipe);
  EXPECT_TRUE(grid.done());
  EXPECT_THROW(grid.step(), std::logic_error);
  EXPECT_THROW(grid.start({0, 1, 1}), std::invalid_argument);
  grid.start({1, 1, 1});
  grid.step();
  EXPECT_THROW(grid.start({1, 1, 1}), std::logic_error);  // op still running
  EXPECT_THROW(PeGrid({0, 4}, kOs, kPipe), std::invalid_argument);
}

// Every shape of the sweep against the closed form, with MAC order and count checked.
TEST(PeGrid, SweepMatchesClosedForms) {
  const uint64_t dims[] = {1, 2, 3, 5, 7, 8, 13, 16, 17, 33};
  const ArrayShape arrays[] = {{1, 1}, {4, 4}, {5, 7}, {8, 8}, {16, 4}, {4, 16}};
  int failures = 0, cases = 0;
  for (const ArrayShape a : arrays) {
    for (const Dataflow d : {kOs, kWs, kIs}) {
      for (const Schedule s : {kPipe, kSim}) {
        PeGrid grid(a, d, s);  // reused across shapes: start() must leave nothing behind
        for (const uint64_t m : dims) {
          for (const uint64_t n : dims) {
            for (const uint64_t k : dims) {
              const GemmShape g{m, n, k};
              CheckingSink sink(g);
              const uint64_t steps = run(grid, g, &sink);
              const uint64_t expected = closed_form(a, d, s, g);
              const FoldMapping map = map_gemm(g, d, a);
              const std::string verdict = sink.verdict();
              ++cases;
              if (steps != expected || grid.macs() != g.macs() || !verdict.empty() ||
                  grid.pe_steps() != map.folds() * a.rows * a.cols * map.t) {
                if (++failures <= 10) {
                  ADD_FAILURE() << a.rows << "×" << a.cols << " " << to_string(d) << " "
                                << to_string(s) << " M=" << m << " N=" << n << " K=" << k
                                << ": steps " << steps << " vs closed form " << expected
                                << ", macs " << grid.macs() << ", pe_steps " << grid.pe_steps()
                                << ", sink: " << (verdict.empty() ? "ok" : verdict);
                }
              }
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(cases, 6 * 3 * 2 * 1000);
}

TEST(PeGrid, BackToBackOpsMatchFreshGrids) {
  const GemmShape ops[] = {{9, 3, 17}, {1, 1, 1}, {13, 8, 2}, {5, 16, 7}};
  const ArrayShape a{5, 7};
  for (const Dataflow d : {kOs, kWs, kIs}) {
    for (const Schedule s : {kPipe, kSim}) {
      PeGrid shared(a, d, s);
      for (const GemmShape& g : ops) {
        RecordingSink reused, fresh;
        const uint64_t steps = run(shared, g, &reused);
        PeGrid grid(a, d, s);
        EXPECT_EQ(steps, run(grid, g, &fresh)) << to_string(d) << " " << to_string(s);
        EXPECT_EQ(shared.macs(), grid.macs());
        EXPECT_EQ(shared.pe_steps(), grid.pe_steps());
        EXPECT_EQ(reused.seq, fresh.seq) << to_string(d) << " " << to_string(s);
      }
    }
  }
}

TEST(Vcd, TwoSignalsThreeTimestamps) {
  std::ostringstream out;
  {
    VcdWriter vcd(out, "1ps");
    const uint32_t k = vcd.add_signal("mac_array.pe_0_0", "a_k", 4);
    const uint32_t valid = vcd.add_signal("mac_array", "valid", 1);
    vcd.at(0);
    vcd.set(k, 3);  // folded into $dumpvars
    vcd.at(1000);
    vcd.set(k, 10);
    vcd.set(valid, 1);
    vcd.at(2000);
    vcd.set(k, 10);  // unchanged: not written
    vcd.set(valid, 0);
    vcd.at(3000);
    vcd.close();  // no change at 3000: the time alone marks the end
  }
  EXPECT_EQ(out.str(),
            "$timescale 1ps $end\n"
            "$scope module mac_array $end\n"
            "$scope module pe_0_0 $end\n"
            "$var wire 4 ! a_k $end\n"
            "$upscope $end\n"
            "$var wire 1 \" valid $end\n"
            "$upscope $end\n"
            "$enddefinitions $end\n"
            "#0\n"
            "$dumpvars\n"
            "b11 !\n"
            "0\"\n"
            "$end\n"
            "#1000\n"
            "b1010 !\n"
            "1\"\n"
            "#2000\n"
            "0\"\n"
            "#3000\n");
}

TEST(Vcd, RejectsMisuse) {
  std::ostringstream out;
  VcdWriter vcd(out);
  EXPECT_THROW(vcd.add_signal("top", "x", 0), std::invalid_argument);
  EXPECT_THROW(vcd.add_signal("top", "two words", 4), std::invalid_argument);
  EXPECT_THROW(vcd.add_signal("top..pe", "x", 4), std::invalid_argument);
  EXPECT_THROW(vcd.add_signal("top", "x", 2, 4), std::invalid_argument);
  const uint32_t x = vcd.add_signal("top", "x", 2);
  vcd.at(5);
  EXPECT_THROW(vcd.add_signal("top", "y", 2), std::logic_error);
  EXPECT_THROW(vcd.set(x, 4), std::out_of_range);
  EXPECT_THROW(vcd.set(x + 1, 0), std::out_of_range);
  EXPECT_THROW(vcd.at(4), std::invalid_argument);
}

TEST(Vcd, ManySignalsGetDistinctCodes) {
  // Codes are base 94 over '!'..'~': the 95th signal (id 94) is the first with two characters.
  std::ostringstream out;
  VcdWriter vcd(out);
  for (int i = 0; i < 95; ++i) vcd.add_signal("", "s" + std::to_string(i), 64);
  vcd.close();
  const std::string text = out.str();
  EXPECT_NE(text.find("$var wire 64 ~ s93 $end\n"), std::string::npos);
  EXPECT_NE(text.find("$var wire 64 !\" s94 $end\n"), std::string::npos);
  EXPECT_NE(text.find("#0\n$dumpvars\nb0 !\n"), std::string::npos);
}

TEST(Vcd, GridWaveformIsDeterministic) {
  // The registers of one PE of a stepped grid, one timestamp per cycle: same bytes every run.
  auto dump = [] {
    std::ostringstream out;
    VcdWriter vcd(out, "1ns");
    PeGrid grid({3, 3}, kWs, kPipe);
    std::vector<uint32_t> ids;
    for (const PeRegisterInfo& r : grid.pe_registers()) {
      ids.push_back(vcd.add_signal("mac_array.pe_1_2", r.name, r.width_bits));
    }
    grid.start({4, 3, 5});
    for (uint64_t t = 0; !grid.done(); ++t) {
      grid.step();
      vcd.at(t);
      for (std::size_t i = 0; i < ids.size(); ++i) vcd.set(ids[i], grid.pe_register(1, 2, i));
    }
    vcd.close();
    return out.str();
  };
  const std::string first = dump();
  EXPECT_EQ(first, dump());
  EXPECT_NE(first.find("$var wire 32 ( w_n $end"), std::string::npos) << first;
}

}  // namespace
}  // namespace nibble
