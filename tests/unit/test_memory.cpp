// Memory units as timing services: timelines, DRAM, DMA, ring, scratchpad and shared buffer. Every
// expected number is derived in the comment beside it.
#include <gtest/gtest.h>

#include <stdexcept>

#include "models/dma/dma.h"
#include "models/dram/bandwidth_latency.h"
#include "models/interfaces/memory.h"
#include "models/ring/ring.h"
#include "models/scratchpad/banked_sram.h"
#include "models/shared_buffer/shared_buffer.h"

namespace nibble {
namespace {

uint64_t stalled(const StallCycles& stalls, StallCause cause) {
  return stalls[static_cast<std::size_t>(cause)];
}

// 64 GB/s at 1000 MHz: 64 · 1000 / 1000 = 64 bytes per cycle over all channels; 100 ns at
// 1000 MHz = 100 cycles.
BandwidthLatencyDram make_dram(uint64_t channels) {
  BandwidthLatencyParams p;
  p.bandwidth_gbps = 64;
  p.channels = channels;
  p.latency_ns = 100;
  return BandwidthLatencyDram(p, 1000);
}

Dma make_dma(uint64_t burst_bytes, uint64_t outstanding) {
  DmaParams p;
  p.burst_bytes = burst_bytes;
  p.outstanding = outstanding;
  return Dma(p);
}

// --- Timeline ------------------------------------------------------------------------------------

TEST(MemoryTimeline, AddKeepsSegmentsContiguousAndIgnoresEndsNotPastDone) {
  Timeline t(10);
  EXPECT_EQ(t.start(), 10u);
  EXPECT_EQ(t.done(), 10u);      // no segments: done = start
  t.add(10, StallCause::kRing);  // not past done (10): no segment
  EXPECT_TRUE(t.segments().empty());
  t.add(15, StallCause::kDramLatency);
  t.add(12, StallCause::kRing);  // 12 <= done (15): no segment
  t.add(25, StallCause::kDramBandwidth);
  ASSERT_EQ(t.segments().size(), 2u);
  EXPECT_EQ(t.segments()[0].first, 15u);
  EXPECT_EQ(t.segments()[0].second, StallCause::kDramLatency);
  EXPECT_EQ(t.segments()[1].first, 25u);
  EXPECT_EQ(t.segments()[1].second, StallCause::kDramBandwidth);
  EXPECT_EQ(t.done(), 25u);
}

TEST(MemoryTimeline, AttributeSplitsCyclesOverSegmentsAndOutside) {
  Timeline t(10);
  t.add(15, StallCause::kDramLatency);    // [10, 15)
  t.add(25, StallCause::kDramBandwidth);  // [15, 25)
  StallCycles s{};
  t.attribute(5, 30, s, StallCause::kDependency);
  // [5, 10) before start: 5; [25, 30) after done: 5; outside = 5 + 5 = 10.
  EXPECT_EQ(stalled(s, StallCause::kDependency), 10u);
  EXPECT_EQ(stalled(s, StallCause::kDramLatency), 5u);     // 15 − 10
  EXPECT_EQ(stalled(s, StallCause::kDramBandwidth), 10u);  // 25 − 15
  EXPECT_EQ(stalled(s, StallCause::kRing), 0u);

  // A window inside the timeline: [12, 20) is 3 cycles of latency (12..15) and 5 of bandwidth
  // (15..20), nothing outside. The counts add to what `s` already holds.
  t.attribute(12, 20, s, StallCause::kDependency);
  EXPECT_EQ(stalled(s, StallCause::kDependency), 10u);     // unchanged
  EXPECT_EQ(stalled(s, StallCause::kDramLatency), 8u);     // 5 + 3
  EXPECT_EQ(stalled(s, StallCause::kDramBandwidth), 15u);  // 10 + 5

  // A window wholly before start: [0, 4) is 4 cycles outside.
  t.attribute(0, 4, s, StallCause::kBankConflict);
  EXPECT_EQ(stalled(s, StallCause::kBankConflict), 4u);
  // A window wholly after done: [40, 47) is 7 cycles outside.
  t.attribute(40, 47, s, StallCause::kRing);
  EXPECT_EQ(stalled(s, StallCause::kRing), 7u);
  // An empty or reversed window adds nothing.
  t.attribute(20, 20, s, StallCause::kRing);
  t.attribute(20, 12, s, StallCause::kRing);
  EXPECT_EQ(stalled(s, StallCause::kRing), 7u);
  EXPECT_EQ(stalled(s, StallCause::kDramLatency), 8u);
}

TEST(MemoryTimeline, AttributeOfAnEmptyTimelineIsAllOutside) {
  const Timeline t(10);
  StallCycles s{};
  t.attribute(4, 16, s, StallCause::kBankConflict);
  // [4, 10) before start: 6; [10, 16) after done (= start 10): 6; 6 + 6 = 12.
  EXPECT_EQ(stalled(s, StallCause::kBankConflict), 12u);
}

TEST(MemoryTransferCycles, RoundsUpUnlessTheQuotientIsWhole) {
  EXPECT_EQ(transfer_cycles(1000, 64), 16u);          // 1000 / 64 = 15.625 -> 16
  EXPECT_EQ(transfer_cycles(128, 64), 2u);            // 128 / 64 = 2 exactly
  EXPECT_EQ(transfer_cycles(65, 64), 2u);             // 65 / 64 = 1.016 -> 2
  EXPECT_EQ(transfer_cycles(0, 64), 0u);              // nothing to move
  EXPECT_EQ(transfer_cycles(64, 64.0000000001), 1u);  // 0.9999999999 -> 1
  // 64 / 63.9999999999 = 1.0000000016: within a millionth of 1, so 1 (a plain ceil gives 2).
  EXPECT_EQ(transfer_cycles(64, 63.9999999999), 1u);
  // 100000 / 1000.0001 = 99.99999: 1e-5 short of 100, within 1e-6 · 100 = 1e-4, so 100.
  EXPECT_EQ(transfer_cycles(100000, 1000.0001), 100u);
  // 100 / 0.999 = 100.1001: 0.1 past 100, beyond 1e-6 · 100 = 1e-4, so 101.
  EXPECT_EQ(transfer_cycles(100, 0.999), 101u);
}

// --- DRAM ----------------------------------------------------------------------------------------

TEST(MemoryDram, ConvertsBandwidthAndLatencyToCoreCycles) {
  const BandwidthLatencyDram one = make_dram(1);
  EXPECT_DOUBLE_EQ(one.peak_bytes_per_cycle(), 64.0);  // 64 GB/s · 1000 / 1000 MHz
  EXPECT_EQ(one.latency_cycles(), 100u);               // 100 ns · 1000 MHz = 100
  const BandwidthLatencyDram two = make_dram(2);
  EXPECT_DOUBLE_EQ(two.peak_bytes_per_cycle(), 64.0);  // 2 channels · 32 bytes per cycle

  BandwidthLatencyParams p;
  p.bandwidth_gbps = 25.6;
  p.channels = 2;
  p.latency_ns = 50;
  BandwidthLatencyDram slow(p, 800);
  // 25.6 · 1000 / 800 = 32 bytes per cycle, 16 per channel; 50 ns · 800 MHz = 40 cycles.
  EXPECT_DOUBLE_EQ(slow.peak_bytes_per_cycle(), 32.0);
  EXPECT_EQ(slow.latency_cycles(), 40u);
  const DramAccess a = slow.access(0, 160, false);
  EXPECT_EQ(a.transfer_end, 10u);  // 160 bytes / 16 per cycle
  EXPECT_EQ(a.done, 50u);          // 10 + 40

  // 19.2 GB/s over 3 channels at 1000 MHz: 6.4 bytes per cycle per channel, which the double
  // arithmetic makes 6.3999999999999995; 96 bytes / 6.4 = 15 cycles, not 16.
  p.bandwidth_gbps = 19.2;
  p.channels = 3;
  BandwidthLatencyDram odd(p, 1000);
  EXPECT_DOUBLE_EQ(odd.peak_bytes_per_cycle(), 19.2);  // 3 · 6.4
  EXPECT_EQ(odd.latency_cycles(), 50u);                // 50 ns · 1000 MHz
  EXPECT_EQ(odd.access(0, 96, false).transfer_end, 15u);

  p.bandwidth_gbps = 64;
  p.channels = 1;
  p.latency_ns = 7.5;
  EXPECT_EQ(BandwidthLatencyDram(p, 1000).latency_cycles(), 8u);  // 7.5 ns · 1000 MHz -> 8
}

TEST(MemoryDram, OneRequestOccupiesItsChannelThenPaysTheLatency) {
  BandwidthLatencyDram dram = make_dram(1);
  const DramAccess a = dram.access(5, 1000, false);
  EXPECT_EQ(a.issue, 5u);
  EXPECT_EQ(a.start, 5u);          // idle channel: no queueing
  EXPECT_EQ(a.transfer_end, 21u);  // 1000 bytes / 64 per cycle = 15.625 -> 16 cycles; 5 + 16
  EXPECT_EQ(a.done, 121u);         // 21 + 100 latency
  EXPECT_EQ(dram.busy_cycles(), 16u);
}

TEST(MemoryDram, BackToBackRequestsOnOneChannelQueue) {
  BandwidthLatencyDram dram = make_dram(1);
  const DramAccess a = dram.access(0, 1000, false);  // [0, 16), done 116
  const DramAccess b = dram.access(0, 256, true);    // queues to 16: 256 / 64 = 4 -> [16, 20)
  const DramAccess c = dram.access(50, 64, false);   // channel free since 20: [50, 51)
  EXPECT_EQ(a.done, 116u);
  EXPECT_EQ(b.start, 16u);
  EXPECT_EQ(b.transfer_end, 20u);
  EXPECT_EQ(b.done, 120u);  // 20 + 100
  EXPECT_EQ(c.start, 50u);
  EXPECT_EQ(c.transfer_end, 51u);
  EXPECT_EQ(c.done, 151u);              // 51 + 100
  EXPECT_EQ(dram.busy_cycles(), 21u);   // 16 + 4 + 1
  EXPECT_EQ(dram.read_bytes(), 1064u);  // 1000 + 64
  EXPECT_EQ(dram.write_bytes(), 256u);
}

TEST(MemoryDram, TwoChannelsServeTwoRequestsInParallel) {
  BandwidthLatencyDram dram = make_dram(2);         // 32 bytes per cycle per channel
  const DramAccess a = dram.access(0, 320, false);  // channel 0: 320 / 32 = 10 -> [0, 10)
  const DramAccess b = dram.access(0, 64, false);   // channel 1 (free at 0): 64 / 32 = 2 -> [0, 2)
  EXPECT_EQ(a.start, 0u);
  EXPECT_EQ(a.transfer_end, 10u);
  EXPECT_EQ(a.done, 110u);  // 10 + 100
  EXPECT_EQ(b.start, 0u);
  EXPECT_EQ(b.transfer_end, 2u);
  EXPECT_EQ(b.done, 102u);  // 2 + 100
  // The third queues behind the channel that frees first: channel 1 at 2, not channel 0 at 10.
  const DramAccess c = dram.access(0, 96, true);  // 96 / 32 = 3 -> [2, 5)
  EXPECT_EQ(c.start, 2u);
  EXPECT_EQ(c.transfer_end, 5u);
  EXPECT_EQ(c.done, 105u);
  // Channels now free at 10 and 5: the next one takes channel 1 again, [5, 6).
  const DramAccess d = dram.access(1, 32, false);
  EXPECT_EQ(d.start, 5u);
  EXPECT_EQ(d.transfer_end, 6u);
  EXPECT_EQ(dram.read_bytes(), 416u);  // 320 + 64 + 32
  EXPECT_EQ(dram.write_bytes(), 96u);
  EXPECT_EQ(dram.busy_cycles(), 16u);  // 10 + 2 + 3 + 1 channel-cycles
}

TEST(MemoryDram, EqualChannelsTieToTheLowestIndex) {
  BandwidthLatencyDram dram = make_dram(2);
  dram.access(0, 320, false);  // channel 0: [0, 10)
  dram.access(0, 320, false);  // channel 1: [0, 10), in parallel
  // Both free at 10: the third starts at 10 on channel 0 ([10, 12)); the fourth on channel 1
  // also starts at 10 ([10, 11)), which it could not if the third had taken channel 1.
  EXPECT_EQ(dram.access(0, 64, false).start, 10u);
  const DramAccess d = dram.access(0, 32, false);
  EXPECT_EQ(d.start, 10u);
  EXPECT_EQ(d.transfer_end, 11u);  // 32 / 32 = 1
}

// --- DMA -----------------------------------------------------------------------------------------

TEST(MemoryDma, OneOutstandingBurstIsLatencyBound) {
  BandwidthLatencyDram dram = make_dram(1);
  Dma dma = make_dma(256, 1);
  // 1024 bytes in 256-byte bursts: 4 bursts of 256 / 64 = 4 cycles each. Each waits for the
  // previous one's data: 4 · (4 + 100) = 416.
  const Timeline t = dma.transfer(0, 1024, false, dram);
  EXPECT_EQ(t.start(), 0u);
  EXPECT_EQ(t.done(), 416u);
  // The last burst runs [312, 316) and is done at 416: the first 416 − 316 = 100 cycles are
  // latency, the other 316 bandwidth (here the request limit).
  ASSERT_EQ(t.segments().size(), 2u);
  EXPECT_EQ(t.segments()[0].first, 100u);
  EXPECT_EQ(t.segments()[0].second, StallCause::kDramLatency);
  EXPECT_EQ(t.segments()[1].first, 416u);
  EXPECT_EQ(t.segments()[1].second, StallCause::kDramBandwidth);
  EXPECT_EQ(dma.descriptors(), 1u);
  EXPECT_EQ(dma.bursts(), 4u);
  EXPECT_EQ(dma.peak_outstanding(), 1u);
  EXPECT_EQ(dram.read_bytes(), 1024u);
  EXPECT_EQ(dram.busy_cycles(), 16u);  // 4 bursts · 4 cycles
}

TEST(MemoryDma, ManyOutstandingBurstsAreBandwidthBound) {
  BandwidthLatencyDram dram = make_dram(1);
  Dma dma = make_dma(256, 16);
  // 2048 bytes: 8 bursts, all issued at 10, back to back on the channel: [10, 42), the last
  // done at 10 + 8 · 4 + 100 = 142.
  const Timeline t = dma.transfer(10, 2048, true, dram);
  EXPECT_EQ(t.start(), 10u);
  EXPECT_EQ(t.done(), 142u);
  // done − last transfer_end = 142 − 42 = 100 latency cycles first: [10, 110); then [110, 142).
  ASSERT_EQ(t.segments().size(), 2u);
  EXPECT_EQ(t.segments()[0].first, 110u);
  EXPECT_EQ(t.segments()[0].second, StallCause::kDramLatency);
  EXPECT_EQ(t.segments()[1].first, 142u);
  EXPECT_EQ(t.segments()[1].second, StallCause::kDramBandwidth);
  EXPECT_EQ(dma.bursts(), 8u);
  EXPECT_EQ(dma.peak_outstanding(), 8u);  // all 8 issued at 10, none done before 114
  EXPECT_EQ(dram.write_bytes(), 2048u);
  EXPECT_EQ(dram.read_bytes(), 0u);
}

TEST(MemoryDma, TheRequestLimitHoldsBackLaterBursts) {
  BandwidthLatencyDram dram = make_dram(1);
  Dma dma = make_dma(256, 2);
  // 4 bursts of 4 cycles, 2 in flight:
  //   burst 0 at 0: [0, 4), done 104;  burst 1 at 0: [4, 8), done 108;
  //   burst 2 waits for burst 0: at 104, [104, 108), done 208;
  //   burst 3 waits for burst 1: at 108, [108, 112), done 212.
  const Timeline t = dma.transfer(0, 1024, false, dram);
  EXPECT_EQ(t.done(), 212u);
  ASSERT_EQ(t.segments().size(), 2u);
  EXPECT_EQ(t.segments()[0].first, 100u);  // 212 − 112 = 100 latency
  EXPECT_EQ(t.segments()[1].first, 212u);
  EXPECT_EQ(dma.peak_outstanding(), 2u);
}

TEST(MemoryDma, APartialLastBurstAndAQueuedChannel) {
  BandwidthLatencyDram dram = make_dram(1);
  dram.access(0, 3200, false);  // another core holds the channel: 3200 / 64 = 50 -> [0, 50)
  Dma dma = make_dma(256, 16);
  // 1000 bytes: bursts of 256, 256, 256 and 1000 − 768 = 232 bytes; the last takes
  // 232 / 64 = 3.625 -> 4 cycles. Queued behind the other access: [50, 66), done 166.
  const Timeline t = dma.transfer(0, 1000, false, dram);
  EXPECT_EQ(dma.bursts(), 4u);
  EXPECT_EQ(t.done(), 166u);
  // 166 − 66 = 100 cycles latency [0, 100), then queueing and transfer [100, 166).
  ASSERT_EQ(t.segments().size(), 2u);
  EXPECT_EQ(t.segments()[0].first, 100u);
  EXPECT_EQ(t.segments()[1].first, 166u);
  EXPECT_EQ(dram.read_bytes(), 4200u);  // 3200 + 1000
  // Zero bytes: no descriptor, an empty timeline at now.
  const Timeline none = dma.transfer(200, 0, false, dram);
  EXPECT_EQ(none.done(), 200u);
  EXPECT_TRUE(none.segments().empty());
  EXPECT_EQ(dma.descriptors(), 1u);
}

// The engine's request limit covers every burst in flight, whichever descriptor issued it (the
// header: "at most `outstanding` in flight"; the core issues a tile's A and B loads, and stores,
// on one engine at once). Disabled: Dma::transfer numbers bursts from 0 in each descriptor, so a
// second descriptor's first `outstanding` bursts never wait for the first descriptor's.
TEST(MemoryDma, TheRequestLimitSpansDescriptors) {
  BandwidthLatencyDram dram = make_dram(1);
  Dma dma = make_dma(256, 4);
  // First descriptor: 4 bursts issued at 0, [0, 16), done 104, 108, 112, 116.
  const Timeline first = dma.transfer(0, 1024, false, dram);
  EXPECT_EQ(first.done(), 116u);  // 4 · 4 + 100
  // Second, also at 0: its bursts are the engine's 5th to 8th; each waits for the one 4 before
  // it: issued at 104, 108, 112, 116, each 4 cycles on the idle channel, the last done at
  // 116 + 4 + 100 = 220 (not 16 + 16 + 100 = 132, which needs 8 bursts in flight).
  const Timeline second = dma.transfer(0, 1024, false, dram);
  EXPECT_EQ(second.done(), 220u);
  EXPECT_LE(dma.peak_outstanding(), 4u);
}

// --- Ring ----------------------------------------------------------------------------------------

RingParams ring_params() {
  RingParams p;
  p.bytes_per_cycle = 64;
  p.hop_cycles = 2;
  return p;
}

TEST(MemoryRing, CollectiveCostsOnFourCores) {
  const Ring ring(ring_params(), 4);
  // broadcast: ceil(1000 / 64) = 16, + floor(4 / 2) · 2 = 4 -> 20.
  EXPECT_EQ(ring.broadcast_cycles(1000), 20u);
  // 64 bytes: 1 + 4 = 5.
  EXPECT_EQ(ring.broadcast_cycles(64), 5u);
  // reduce_scatter(4097): ceil(4097 / 4) = 1025; ceil(1025 / 2) = 513; ceil(513 / 64) = 9;
  // (4 − 1) · (2 + 9) = 33.
  EXPECT_EQ(ring.reduce_scatter_cycles(4097), 33u);
  // reduce_scatter(1000): ceil(1000 / 4) = 250; 125; ceil(125 / 64) = 2; 3 · (2 + 2) = 12.
  EXPECT_EQ(ring.reduce_scatter_cycles(1000), 12u);
  EXPECT_EQ(ring.broadcast_cycles(0), 0u);
  EXPECT_EQ(ring.reduce_scatter_cycles(0), 0u);
}

TEST(MemoryRing, OddCoreCountsReachFloorOfHalfTheRing) {
  const Ring ring(ring_params(), 5);
  EXPECT_EQ(ring.broadcast_cycles(64), 5u);  // 64 / 64 = 1, + floor(5 / 2) · 2 = 4
  // ceil(640 / 5) = 128; 64; 64 / 64 = 1; (5 − 1) · (2 + 1) = 12.
  EXPECT_EQ(ring.reduce_scatter_cycles(640), 12u);
}

TEST(MemoryRing, ACollectiveOnABusyRingQueues) {
  Ring ring(ring_params(), 4);
  const Timeline b = ring.broadcast(0, 1000);  // 20 cycles: [0, 20)
  EXPECT_EQ(b.start(), 0u);
  EXPECT_EQ(b.done(), 20u);
  ASSERT_EQ(b.segments().size(), 1u);
  EXPECT_EQ(b.segments()[0].second, StallCause::kRing);
  // Requested at 5 while the broadcast holds the ring until 20: runs [20, 53) (33 cycles); its
  // timeline runs from the request, all of it (waiting included) a ring stall.
  const Timeline r = ring.reduce_scatter(5, 4097);
  EXPECT_EQ(r.start(), 5u);
  EXPECT_EQ(r.done(), 53u);  // 20 + 33
  ASSERT_EQ(r.segments().size(), 1u);
  EXPECT_EQ(r.segments()[0].second, StallCause::kRing);
  // On a ring idle again (free since 53), a broadcast at 100 takes [100, 120).
  const Timeline late = ring.broadcast(100, 1000);
  EXPECT_EQ(late.done(), 120u);
  // byte-hops: 1000 · (4 − 1) = 3000 per broadcast, (4 − 1) · 4 · ceil(4097 / 4) = 12 · 1025 =
  // 12300 for the reduction: 3000 + 12300 + 3000 = 18300.
  EXPECT_EQ(ring.byte_hops(), 18300u);
}

TEST(MemoryRing, OneCoreHasNoRing) {
  Ring ring(ring_params(), 1);
  EXPECT_EQ(ring.broadcast_cycles(1000), 0u);
  EXPECT_EQ(ring.reduce_scatter_cycles(1000), 0u);
  const Timeline t = ring.broadcast(7, 1000);
  EXPECT_EQ(t.start(), 7u);
  EXPECT_EQ(t.done(), 7u);
  EXPECT_TRUE(t.segments().empty());
  EXPECT_EQ(ring.reduce_scatter(7, 1000).done(), 7u);
  EXPECT_EQ(ring.byte_hops(), 0u);
}

// --- Banked scratchpad ---------------------------------------------------------------------------

BankedSramParams sram_params(uint64_t ports, uint64_t row_pad_words) {
  BankedSramParams p;
  p.capacity_bytes = 64 * 1024;
  p.banks = 16;
  p.ports = ports;
  p.bank_width_bytes = 16;
  p.row_pad_words = row_pad_words;
  return p;
}

TEST(MemorySram, VectorCyclesFollowTheBanksTheLanesFallInto) {
  const BankedSram one_port(sram_params(1, 0));
  // stride 1: gcd(1, 16) = 1, 16 distinct banks; ceil(16 / 16) = 1 cycle.
  EXPECT_EQ(one_port.vector_cycles(16, 1), 1u);
  // stride 3 (coprime to 16): conflict-free too.
  EXPECT_EQ(one_port.vector_cycles(16, 3), 1u);
  // 20 lanes at stride 1: ceil(20 / 16) = 2.
  EXPECT_EQ(one_port.vector_cycles(20, 1), 2u);
  // stride 16 = banks: gcd(0, 16) = 16, one bank; 16 lanes / 1 port = 16 cycles.
  EXPECT_EQ(one_port.vector_cycles(16, 16), 16u);
  EXPECT_EQ(one_port.vector_cycles(16, 32), 16u);  // 32 mod 16 = 0: one bank again
  // stride 2: gcd(2, 16) = 2, 16 / 2 = 8 distinct banks; ceil(16 / 8) = 2.
  EXPECT_EQ(one_port.vector_cycles(16, 2), 2u);
  // stride 4: gcd 4, 4 banks; ceil(16 / 4) = 4.
  EXPECT_EQ(one_port.vector_cycles(16, 4), 4u);
  EXPECT_EQ(one_port.vector_cycles(0, 16), 0u);  // no lanes

  const BankedSram two_ports(sram_params(2, 0));
  EXPECT_EQ(two_ports.vector_cycles(16, 16), 8u);  // ceil(16 / 1 bank) = 16 words / 2 ports
  EXPECT_EQ(two_ports.vector_cycles(16, 2), 1u);   // ceil(16 / 8) = 2 words / 2 ports
  EXPECT_EQ(two_ports.vector_cycles(20, 1), 1u);   // ceil(20 / 16) = 2 words / 2 ports
  EXPECT_EQ(two_ports.vector_cycles(40, 1), 2u);   // ceil(40 / 16) = 3 words, ceil(3 / 2) = 2
}

TEST(MemorySram, RowsArePackedToWordsAndPaddedToThePitch) {
  const BankedSram plain(sram_params(1, 0));
  EXPECT_EQ(plain.row_words(256), 2u);  // 256 bits = 32 bytes = 2 words of 16
  EXPECT_EQ(plain.row_words(260), 3u);  // ceil(260 / 8) = 33 bytes -> ceil(33 / 16) = 3 words
  EXPECT_EQ(plain.row_words(4), 1u);    // half a byte still takes a word
  EXPECT_EQ(plain.pitch_words(256), 2u);
  const BankedSram padded(sram_params(1, 1));
  EXPECT_EQ(padded.row_words(256), 2u);
  EXPECT_EQ(padded.pitch_words(256), 3u);                // 2 + 1 pad word
  EXPECT_EQ(plain.params().bytes_per_cycle(), 256u);     // 16 banks · 1 port · 16 bytes
  EXPECT_EQ(sram_params(2, 0).bytes_per_cycle(), 512u);  // 16 · 2 · 16
}

TEST(MemorySram, RowVectorCostCountsBankConflicts) {
  // 2 repeats of 16 lanes of rows of 2048 bits = 256 bytes = 16 words.
  const RowVectors v{2, 16, 2048};
  const BankedSram plain(sram_params(1, 0));
  // Pitch 16 words: every lane in one bank, 16 cycles per column; 2 · 16 columns · 16 = 512.
  // Conflict-free: 2 · 16 · 1 = 32.
  const BankedSram::ReadCost c = plain.row_vector_cost(v);
  EXPECT_EQ(c.cycles, 512u);
  EXPECT_EQ(c.conflict_free_cycles, 32u);
  // One pad word: pitch 17, 17 mod 16 = 1, conflict-free: 2 · 16 · 1 = 32 both.
  const BankedSram padded(sram_params(1, 1));
  const BankedSram::ReadCost p = padded.row_vector_cost(v);
  EXPECT_EQ(p.cycles, 32u);
  EXPECT_EQ(p.conflict_free_cycles, 32u);
  // Rows of 2 words (256 bits) at pitch 2: 8 banks; ceil(16 / 8) = 2 per column;
  // 3 repeats · 2 columns · 2 = 12; conflict-free 3 · 2 · 1 = 6.
  const BankedSram::ReadCost q = plain.row_vector_cost({3, 16, 256});
  EXPECT_EQ(q.cycles, 12u);
  EXPECT_EQ(q.conflict_free_cycles, 6u);
}

TEST(MemorySram, StreamCyclesUseEveryBankAndPort) {
  const BankedSram one_port(sram_params(1, 0));
  EXPECT_EQ(one_port.stream_cycles(8 * 4096), 16u);  // 4096 bytes = 256 words / 16 banks
  EXPECT_EQ(one_port.stream_cycles(8 * 4097), 17u);  // 4097 bytes -> 257 words -> ceil(/16) = 17
  EXPECT_EQ(one_port.stream_cycles(4), 1u);          // half a byte: 1 word, 1 cycle
  EXPECT_EQ(one_port.stream_cycles(0), 0u);
  const BankedSram two_ports(sram_params(2, 0));
  EXPECT_EQ(two_ports.stream_cycles(8 * 4096), 8u);  // 256 words / (16 banks · 2 ports)
}

TEST(MemorySram, HoldReleaseAndHighWater) {
  BankedSram s(sram_params(1, 0));
  s.hold(100);
  s.hold(50);
  EXPECT_EQ(s.held(), 150u);  // 100 + 50
  EXPECT_EQ(s.high_water(), 150u);
  s.release(120);
  EXPECT_EQ(s.held(), 30u);  // 150 − 120
  s.hold(40);
  EXPECT_EQ(s.held(), 70u);         // 30 + 40
  EXPECT_EQ(s.high_water(), 150u);  // still the earlier peak
  s.reset_high_water();
  EXPECT_EQ(s.high_water(), 70u);  // restarts from what is held
  EXPECT_THROW(s.release(71), std::logic_error);
  EXPECT_EQ(s.held(), 70u);
  s.count_read(10);
  s.count_write(20);
  s.count_read(5);
  EXPECT_EQ(s.read_bytes(), 15u);  // 10 + 5
  EXPECT_EQ(s.write_bytes(), 20u);
}

// --- Shared buffer -------------------------------------------------------------------------------

SharedBufferParams buffer_params() {
  SharedBufferParams p;
  p.capacity_bytes = 1000;
  p.bytes_per_cycle = 64;
  p.latency_cycles = 8;
  return p;
}

TEST(MemorySharedBuffer, KeepsWhatFitsAndForgetsAnOpsTilesWhenItEnds) {
  SharedBuffer b(buffer_params());
  EXPECT_TRUE(b.keeps(1000));  // 1000 <= 1000
  EXPECT_FALSE(b.keeps(1001));
  b.begin_op(0);
  const TileKey t0{0, 1, 0, 0}, t1{0, 1, 0, 1}, t2{0, 1, 0, 2};
  EXPECT_FALSE(b.holds(t0));
  b.fill(t0, 600);
  EXPECT_TRUE(b.holds(t0));
  b.fill(t1, 500);  // 600 + 500 = 1100 > 1000: not kept
  EXPECT_FALSE(b.holds(t1));
  b.fill(t2, 400);  // 600 + 400 = 1000 <= 1000: kept
  EXPECT_TRUE(b.holds(t2));
  EXPECT_EQ(b.write_bytes(), 1000u);  // 600 + 400; the refused fill wrote nothing
  EXPECT_EQ(b.high_water(0), 1000u);
  // Keys differ in every field: operand A with the same coordinates is another tile.
  EXPECT_FALSE(b.holds(TileKey{0, 0, 0, 0}));

  b.end_op(0);
  b.begin_op(1);
  EXPECT_FALSE(b.holds(t0));
  EXPECT_FALSE(b.holds(t2));
  EXPECT_EQ(b.high_water(1), 0u);  // op 1 began with nothing held
  const TileKey u0{1, 1, 0, 0}, u1{1, 1, 0, 1};
  b.fill(u1, 500);  // empty again: 500 <= 1000
  EXPECT_TRUE(b.holds(u1));
  EXPECT_EQ(b.high_water(1), 500u);
  b.fill(u1, 500);                    // already held: not counted twice
  EXPECT_EQ(b.write_bytes(), 1500u);  // 1000 + 500
  b.fill(u0, 500);                    // 500 + 500 = 1000: fits, so the duplicate held nothing
  EXPECT_TRUE(b.holds(u0));
  EXPECT_EQ(b.high_water(1), 1000u);  // 500 + 500
  EXPECT_EQ(b.run_high_water(), 1000u);
}

TEST(MemorySharedBuffer, OpsThatOverlapShareTheCapacityAndEachKeepsItsHighWater) {
  SharedBuffer b(buffer_params());
  b.begin_op(3);
  b.fill(TileKey{3, 0, 0, 0}, 300);  // held 300
  b.begin_op(4);                     // op 4's mark starts at what is held: 300
  EXPECT_EQ(b.high_water(4), 300u);
  b.fill(TileKey{4, 0, 0, 0}, 600);  // 300 + 600 = 900: both marks see it
  EXPECT_EQ(b.high_water(3), 900u);
  EXPECT_EQ(b.high_water(4), 900u);
  b.fill(TileKey{4, 0, 0, 1}, 200);  // 900 + 200 = 1100 > 1000: not kept
  EXPECT_FALSE(b.holds(TileKey{4, 0, 0, 1}));
  b.end_op(3);  // frees op 3's 300; op 4's 600 stay
  EXPECT_FALSE(b.holds(TileKey{3, 0, 0, 0}));
  EXPECT_TRUE(b.holds(TileKey{4, 0, 0, 0}));
  b.fill(TileKey{4, 0, 0, 1}, 400);  // 600 + 400 = 1000: kept now
  EXPECT_TRUE(b.holds(TileKey{4, 0, 0, 1}));
  EXPECT_EQ(b.high_water(4), 1000u);
  EXPECT_EQ(b.high_water(3), 0u);  // ended: no longer tracked
}

TEST(MemorySharedBuffer, ReadsPayLatencyFirstThenBandwidthAndQueue) {
  SharedBuffer b(buffer_params());
  // 640 bytes at 10: 640 / 64 = 10 cycles, port busy [10, 20). Timeline: latency [10, 18),
  // bandwidth [18, 28) (20 + 8).
  const Timeline r = b.read(10, 640);
  EXPECT_EQ(r.start(), 10u);
  ASSERT_EQ(r.segments().size(), 2u);
  EXPECT_EQ(r.segments()[0].first, 18u);
  EXPECT_EQ(r.segments()[0].second, StallCause::kDramLatency);
  EXPECT_EQ(r.segments()[1].first, 28u);
  EXPECT_EQ(r.segments()[1].second, StallCause::kDramBandwidth);
  // 64 bytes at 12 wait for the port until 20, take [20, 21): latency [12, 20), then bandwidth
  // to 21 + 8 = 29 (8 cycles of queueing, 1 of transfer, 8 of latency = 17 after 12).
  const Timeline q = b.read(12, 64);
  EXPECT_EQ(q.start(), 12u);
  ASSERT_EQ(q.segments().size(), 2u);
  EXPECT_EQ(q.segments()[0].first, 20u);
  EXPECT_EQ(q.segments()[1].first, 29u);
  EXPECT_EQ(q.done(), 29u);
  EXPECT_EQ(b.read_bytes(), 704u);  // 640 + 64
}

}  // namespace
}  // namespace nibble
