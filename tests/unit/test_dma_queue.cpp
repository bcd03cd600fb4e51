// The DMA engines in front of the DRAM controller (models/dma/dma_queue.h): bursts, the limit on
// bursts in flight, completions on the core clock, and run() limits that change nothing. The
// controller is the hbm2 preset (models/dram/presets.cpp): tCK 1 ns, tRCD 14 ns, tCL 14 ns, a
// 32-byte burst on the bus for 2 ns, 256-byte channel interleave, a 30 ns front end; the core
// clock is 1 GHz, so a core cycle is 1 ns.
#include <gtest/gtest.h>

#include <vector>

#include "models/dma/dma_queue.h"
#include "models/dram/controller.h"

namespace nibble {
namespace {

constexpr uint64_t kPeriodPs = 1000;  // 1 GHz

DmaParams dma(uint64_t burst_bytes, uint64_t outstanding) {
  DmaParams p;
  p.burst_bytes = burst_bytes;
  p.outstanding = outstanding;
  return p;
}

std::vector<QueuedDma::Done> run_all(QueuedDma& q) {
  std::vector<QueuedDma::Done> done;
  while (q.in_flight() > 0) q.run(QueuedDma::kNever, done);
  return done;
}

TEST(QueuedDma, OneReadIsTheControllersLatency) {
  DramController dram(DramControllerParams{}, 1000);
  // An unloaded read: ACT 0, tRCD 14, RD, tCL 14, one 2 ns burst, 30 ns front end = 60 ns.
  EXPECT_EQ(dram.latency_cycles(), 60u);
  QueuedDma q(dram, dma(512, 32), 1, kPeriodPs, dram.latency_cycles());
  q.submit(0, 0, 0, 64, false);
  const std::vector<QueuedDma::Done> done = run_all(q);
  ASSERT_EQ(done.size(), 1u);
  // 64 bytes are two 32-byte bursts of one row: ACT at 0, RD at 14 (data 28..30), RD at 16 (data
  // 30..32, the bus's next free slot); + 30 ns front end = 62 ns = cycle 62.
  EXPECT_EQ(done[0].cycle, 62u);
  // The last 60 cycles (the unloaded latency) count first, then the rest: [0, 60) latency,
  // [60, 62) bandwidth.
  ASSERT_EQ(done[0].timeline.segments().size(), 2u);
  EXPECT_EQ(done[0].timeline.segments()[0].first, 60u);
  EXPECT_EQ(done[0].timeline.segments()[0].second, StallCause::kDramLatency);
  EXPECT_EQ(done[0].timeline.segments()[1].first, 62u);
  EXPECT_EQ(done[0].timeline.segments()[1].second, StallCause::kDramBandwidth);
  EXPECT_EQ(q.bursts(0), 1u);
  EXPECT_EQ(q.peak_outstanding(0), 1u);
}

TEST(QueuedDma, ABurstWaitsForASlotThenHitsTheOpenRow) {
  DramController dram(DramControllerParams{}, 1000);
  QueuedDma q(dram, dma(64, 1), 1, kPeriodPs, dram.latency_cycles());
  q.submit(0, 0, 0, 128, false);
  const std::vector<QueuedDma::Done> done = run_all(q);
  ASSERT_EQ(done.size(), 1u);
  // Burst 1 (bytes 0..64) completes at 62 as above; burst 2 (64..128) issues at cycle 62 and finds
  // row 0 open: RD at 62 (data 76..78), RD at 64 (data 78..80), + 30 = 110.
  EXPECT_EQ(done[0].cycle, 110u);
  EXPECT_EQ(q.bursts(0), 2u);
  EXPECT_EQ(q.peak_outstanding(0), 1u);
}

// Two cores, reads and writes, submitted over time; the engines and the controller moved on with
// run() limits of every cycle or of one big step give the same completions.
TEST(QueuedDma, RunLimitsChangeNothing) {
  const auto scenario = [](uint64_t step) {
    DramController dram(DramControllerParams{}, 1000);
    QueuedDma q(dram, dma(512, 4), 2, kPeriodPs, dram.latency_cycles());
    std::vector<QueuedDma::Done> done;
    struct Submit {
      uint64_t core, cycle, address, bytes;
      bool write;
    };
    const Submit submits[] = {{0, 0, 0, 4096, false},
                              {1, 0, 1 << 20, 3000, false},
                              {0, 5, 1 << 24, 1024, true},
                              {1, 40, 4096, 700, true},
                              {0, 41, 1 << 21, 8192, false}};
    uint64_t now = 0;
    for (const Submit& s : submits) {
      while (now < s.cycle) {
        now = std::min(s.cycle, now + step);
        q.run(now * kPeriodPs, done);
      }
      q.submit(s.core, s.cycle, s.address, s.bytes, s.write);
    }
    while (q.in_flight() > 0) {
      now += step;
      q.run(now * kPeriodPs, done);
    }
    return done;
  };
  const std::vector<QueuedDma::Done> fine = scenario(1), coarse = scenario(1000000);
  ASSERT_EQ(fine.size(), 5u);
  ASSERT_EQ(coarse.size(), fine.size());
  for (std::size_t i = 0; i < fine.size(); ++i) {
    EXPECT_EQ(fine[i].id, coarse[i].id);
    EXPECT_EQ(fine[i].cycle, coarse[i].cycle);
  }
}

// Two cores streaming from different places share the channels: together they take longer than
// either alone and less than one after the other (the controller interleaves their bursts).
TEST(QueuedDma, TwoCoresInterleaveTheirBursts) {
  const auto finish = [](bool core0, bool core1) {
    DramController dram(DramControllerParams{}, 1000);
    QueuedDma q(dram, dma(512, 32), 2, kPeriodPs, dram.latency_cycles());
    if (core0) q.submit(0, 0, 0, 64 * 1024, false);
    if (core1) q.submit(1, 0, (uint64_t{1} << 30) + 8192, 64 * 1024, false);
    uint64_t last = 0;
    for (const QueuedDma::Done& d : run_all(q)) last = std::max(last, d.cycle);
    return last;
  };
  const uint64_t alone0 = finish(true, false), alone1 = finish(false, true);
  const uint64_t both = finish(true, true);
  EXPECT_GT(both, std::max(alone0, alone1));
  EXPECT_LT(both, alone0 + alone1);
}

}  // namespace
}  // namespace nibble
