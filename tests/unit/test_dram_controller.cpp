// The DRAM controller model (models/dram/controller.h): exact completion times of small command
// sequences, the scheduling and back-pressure rules, address mapping, refresh, config strictness,
// determinism, and the sustained bandwidth of each preset. Every expected number is derived in the
// comment beside it; times are in DRAM clocks (tCK) of 1 ns unless a test says otherwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <queue>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "models/dram/controller.h"
#include "models/dram/presets.h"
#include "models/numerics/prng.h"
#include "sim/config.h"
#include "tests/support/error_of.h"

namespace nibble {
namespace {

using testing_support::error_of;

// Round numbers: tCK 1 ns, one channel of 4 banks, 1 KiB rows of 32 B bursts, 256 B chunks
// (4 per row), tCL 10, tCWL 4, tRCD 12, tRP 12, tRAS 28, tRRD 4, tFAW 20, tWR 8, tWTR 5, tRTW 2,
// tRTP 4, tBurst 2, refresh far away, front end 20 ns.
DramControllerParams round_params() {
  DramControllerParams p = dram_preset("hbm2");
  p.channels = 1;
  p.banks = 4;
  p.row_bytes = 1024;
  p.burst_bytes = 32;
  p.interleave_bytes = 256;
  p.mapping = DramMapping::kRowBankColumnChannel;
  p.bank_xor = false;  // banks as the mapping lays them out (BankXorSpreadsAlignedRows tests it)
  p.queue_depth = 8;
  p.write_queue_depth = 8;
  p.tck_ns = 1;
  p.tcl_ns = 10;
  p.tcwl_ns = 4;
  p.trcd_ns = 12;
  p.trp_ns = 12;
  p.tras_ns = 28;
  p.trrd_ns = 4;
  p.tfaw_ns = 20;
  p.twr_ns = 8;
  p.twtr_ns = 5;
  p.trtw_ns = 2;
  p.trtp_ns = 4;
  p.tburst_ns = 2;
  p.trefi_ns = 1e6;
  p.trfc_ns = 100;
  p.frontend_latency_ns = 20;
  return p;
}

constexpr double kCoreMhz = 1000;

DramRequest read(uint64_t tag, uint64_t address, uint64_t bytes = 32) {
  return {tag, address, bytes, false};
}
DramRequest write(uint64_t tag, uint64_t address, uint64_t bytes = 32) {
  return {tag, address, bytes, true};
}

// Runs the controller dry (no further arrivals) and returns every completion in the order run()
// reported them.
std::vector<DramCompletion> drain(DramController& d) {
  std::vector<DramCompletion> done;
  while (d.run(QueuedDram::kNever, done)) {
  }
  return done;
}

uint64_t done_of(const std::vector<DramCompletion>& done, uint64_t tag) {
  for (const DramCompletion& c : done) {
    if (c.tag == tag) return c.done_ps;
  }
  ADD_FAILURE() << "no completion for tag " << tag;
  return 0;
}

uint64_t stall_cycles(const DramController& d, DramStall s) {
  return d.channel_stats(0).stall_cycles[static_cast<std::size_t>(s)];
}

// --- Single requests and row-buffer outcomes ----------------------------------------------------

TEST(DramController, ReadToAClosedBank) {
  DramController d(round_params(), kCoreMhz);
  d.enqueue(0, read(1, 0));
  const auto done = drain(d);
  ASSERT_EQ(done.size(), 1u);
  // ACT at 0; RD at tRCD = 12; data [12 + tCL, + tBurst) = [22, 24); + 20 ns front end = 44 ns.
  EXPECT_EQ(done[0].done_ps, 44000u);
  EXPECT_EQ(d.channel_stats(0).row_misses, 1u);
  EXPECT_EQ(d.channel_stats(0).activates, 1u);
  // The unloaded latency the mapper sees is the same path: 12 + 10 + 2 + 20 = 44 core cycles.
  EXPECT_EQ(d.latency_cycles(), 44u);
}

TEST(DramController, RowHitAfterIt) {
  DramController d(round_params(), kCoreMhz);
  d.enqueue(0, read(1, 0));
  auto done = drain(d);
  d.enqueue(50000, read(2, 32));  // the next burst of the same row, after the first completed
  done = drain(d);
  ASSERT_EQ(done.size(), 1u);
  // Row 0 is still open: RD at 50, data [60, 62), + 20 = 82 ns.
  EXPECT_EQ(done[0].done_ps, 82000u);
  EXPECT_EQ(d.channel_stats(0).row_hits, 1u);
  EXPECT_EQ(d.channel_stats(0).activates, 1u);
}

TEST(DramController, RowConflictWaitsForTrasThenPrechargesAndActivates) {
  DramController d(round_params(), kCoreMhz);
  d.enqueue(0, read(1, 0));     // bank 0, row 0
  d.enqueue(0, read(2, 4096));  // chunk 16: bank (16 / 4) % 4 = 0, row 16 / 16 = 1
  const auto done = drain(d);
  // Tag 1: ACT 0, RD 12, data [22, 24): 44 ns.
  EXPECT_EQ(done_of(done, 1), 44000u);
  // Tag 2: PRE at max(ACT + tRAS = 28, RD + tRTP = 16) = 28; ACT at 28 + tRP = 40; RD at
  // 40 + tRCD = 52; data [62, 64); + 20 = 84 ns.
  EXPECT_EQ(done_of(done, 2), 84000u);
  EXPECT_EQ(d.channel_stats(0).row_misses, 1u);
  EXPECT_EQ(d.channel_stats(0).row_conflicts, 1u);
  EXPECT_EQ(d.channel_stats(0).precharges, 1u);
}

TEST(DramController, TwoBanksOverlapTheirActivations) {
  DramController d(round_params(), kCoreMhz);
  d.enqueue(0, read(1, 0));     // bank 0
  d.enqueue(0, read(2, 1024));  // chunk 4: bank (4 / 4) % 4 = 1, row 0
  const auto done = drain(d);
  // Bank 0: ACT 0, RD 12, data [22, 24): 44 ns. Bank 1: ACT at tRRD = 4 (not after bank 0's
  // read), RD at 4 + 12 = 16, data [26, 28): 48 ns (serialised it would be past 64 ns).
  EXPECT_EQ(done_of(done, 1), 44000u);
  EXPECT_EQ(done_of(done, 2), 48000u);
}

TEST(DramController, FawHoldsTheFifthActivation) {
  DramControllerParams p = round_params();
  p.banks = 8;
  p.trcd_ns = 30;  // column commands start after the five ACTs, so none takes an ACT's slot
  p.tras_ns = 40;
  DramController d(p, kCoreMhz);
  for (uint64_t b = 0; b < 5; ++b) d.enqueue(0, read(b, b * 1024));  // banks 0..4, row 0
  const auto done = drain(d);
  // ACTs at 0, 4, 8, 12 (tRRD); the fifth at max(16, first + tFAW = 20) = 20. Its RD at
  // 20 + 30 = 50, data [60, 62), + 20 = 82 ns. (Without tFAW: ACT 16, done 78 ns.)
  EXPECT_EQ(done_of(done, 4), 82000u);
  // The fourth: ACT 12, RD 42, data [52, 54): 74 ns.
  EXPECT_EQ(done_of(done, 3), 74000u);
  EXPECT_EQ(d.channel_stats(0).activates, 5u);
}

TEST(DramController, StallsAttributeIdleBusCyclesToWhatHeldTheNextBurst) {
  DramControllerParams p = round_params();
  p.banks = 8;
  p.trrd_ns = 3;
  p.tfaw_ns = 40;
  DramController d(p, kCoreMhz);
  for (uint64_t b = 0; b < 5; ++b) d.enqueue(0, read(b, b * 1024));  // banks 0..4, row 0
  const auto done = drain(d);
  // ACTs at 0, 3, 6, 9; RDs at 12, 15, 18, 21 (tRCD after each), data [22, 24), [25, 27),
  // [28, 30), [31, 33). The fifth ACT waits for tFAW: 0 + 40 = 40; RD 52, data [62, 64), 84 ns.
  EXPECT_EQ(done_of(done, 4), 84000u);
  // Idle bus: [0, 22) and the 1-tCK gaps at 24, 27, 30 wait for a row (tRCD, tCL); [33, 40) for
  // the activation window (the next burst needs the fifth ACT); [40, 62) for its row again.
  EXPECT_EQ(stall_cycles(d, DramStall::kActivationWindow), 7u);
  EXPECT_EQ(stall_cycles(d, DramStall::kRow), 22u + 3u + 22u);
  EXPECT_EQ(d.channel_stats(0).busy_cycles, 10u);
}

// --- Reads, writes and turnarounds --------------------------------------------------------------

TEST(DramController, ReadToWriteAndWriteToReadTurnarounds) {
  DramController d(round_params(), kCoreMhz);
  std::vector<DramCompletion> done;
  d.enqueue(0, read(1, 0));
  d.enqueue(0, write(2, 32));
  // Read A: ACT 0, RD 12, data [22, 24). The write is posted at 0: done 0 + 20 = 20 ns. With no
  // read left the write goes: its data may start tRTW = 2 after the read's ends, at 26, so WR at
  // 26 - tCWL = 22, data [26, 28).
  ASSERT_TRUE(d.run(23000, done));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].tag, 2u);
  EXPECT_EQ(done[0].done_ps, 20000u);
  while (d.run(23000, done)) {
  }
  // Read B arrives at 23 ns: RD waits tWTR = 5 after the write data ends (28): RD 33, data
  // [43, 45), + 20 = 65 ns. (Without tRTW the WR would be at 20 and B done at 63 ns.)
  d.enqueue(23000, read(3, 64));
  while (d.run(QueuedDram::kNever, done)) {
  }
  EXPECT_EQ(done_of(done, 1), 44000u);
  EXPECT_EQ(done_of(done, 3), 65000u);
  // The idle bus: [24, 26) read-to-write, [28, 43) write-to-read (tWTR to 33, then B's tCL),
  // 2 + 15 = 17 tCK of turnaround; [0, 22) before read A's data is its row (ACT, tRCD, tCL).
  EXPECT_EQ(stall_cycles(d, DramStall::kTurnaround), 17u);
  EXPECT_EQ(stall_cycles(d, DramStall::kRow), 22u);
  EXPECT_EQ(d.channel_stats(0).busy_cycles, 6u);  // three bursts of 2
}

TEST(DramController, WriteIsPostedAtAcceptance) {
  DramController d(round_params(), kCoreMhz);
  std::vector<DramCompletion> done;
  d.enqueue(1500, write(7, 0));
  // 1500 ps falls between the edges at 1 and 2 ns: accepted at the 2 ns edge, done 2 + 20 =
  // 22 ns, reported by that very decision.
  EXPECT_EQ(d.next_event_ps(), 2000u);
  ASSERT_TRUE(d.run(QueuedDram::kNever, done));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].done_ps, 22000u);
  // The write is still to be written: the controller has more to do.
  EXPECT_NE(d.next_event_ps(), QueuedDram::kNever);
  EXPECT_FALSE(d.run(QueuedDram::kNever, done));
  EXPECT_EQ(d.channel_stats(0).write_bursts, 1u);
  EXPECT_EQ(d.next_event_ps(), QueuedDram::kNever);
}

TEST(DramController, FullWriteQueueBackPressures) {
  DramControllerParams p = round_params();
  p.write_queue_depth = 2;  // drain from ceil(3 x 2 / 4) = 2 entries down to 2 / 4 = 0
  DramController d(p, kCoreMhz);
  for (uint64_t i = 0; i < 3; ++i) d.enqueue(0, write(i, i * 32));  // one row of bank 0
  const auto done = drain(d);
  // Two enter the queue at 0 (done 20 ns); the third waits for a slot. Draining: ACT 0, the
  // first WR at tRCD = 12 frees a slot, the third enters at 12: done 12 + 20 = 32 ns.
  EXPECT_EQ(done_of(done, 0), 20000u);
  EXPECT_EQ(done_of(done, 1), 20000u);
  EXPECT_EQ(done_of(done, 2), 32000u);
  const auto& s = d.channel_stats(0);
  EXPECT_EQ(s.overflowed, 1u);
  EXPECT_EQ(s.peak_overflow, 1u);
  EXPECT_EQ(s.overflow_wait_cycles, 12u);  // 0 to 12
  EXPECT_EQ(s.peak_write_queue, 2u);
  EXPECT_EQ(s.write_bursts, 3u);
}

TEST(DramController, WritesDrainFromTheHighWatermarkBeforeReads) {
  DramControllerParams p = round_params();
  p.write_queue_depth = 4;  // high ceil(3 x 4 / 4) = 3, low 4 / 4 = 1
  DramController d(p, kCoreMhz);
  for (uint64_t i = 0; i < 3; ++i) d.enqueue(0, write(i, i * 32));  // bank 0 row 0
  d.enqueue(0, read(9, 3 * 32));                                    // same row
  const auto done = drain(d);
  // Three writes reach the high watermark: writes go first although a read is queued. ACT 0,
  // WR at 12 (data [16, 18)) and 14 (data [18, 20)); the queue falls to 1 = low: reads again. RD
  // at write data end 20 + tWTR 5 = 25, data [35, 37), + 20 = 57 ns. The third write follows.
  EXPECT_EQ(done_of(done, 9), 57000u);
  EXPECT_EQ(d.channel_stats(0).write_bursts, 3u);
}

// --- Refresh ------------------------------------------------------------------------------------

TEST(DramController, RefreshBlocksAChannelForTrfcAtTrefi) {
  DramControllerParams p = round_params();
  p.trefi_ns = 200;
  p.trfc_ns = 50;
  DramController d(p, kCoreMhz);
  d.enqueue(190000, read(1, 0));
  const auto done = drain(d);
  // ACT at 190. Refresh is due at 200: no more reads; the bank closes as soon as tRAS allows, PRE
  // at 190 + 28 = 218; REF at 218 + tRP = 230; blocked until 230 + tRFC = 280. ACT 280, RD 292,
  // data [302, 304), + 20 = 324 ns.
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].done_ps, 324000u);
  EXPECT_EQ(d.channel_stats(0).refreshes, 1u);
  EXPECT_EQ(d.channel_stats(0).activates, 2u);
  // The read is a miss (its bank was closed), not a conflict: the refresh closed its row.
  EXPECT_EQ(d.channel_stats(0).row_misses, 1u);
}

TEST(DramController, AnIdleChannelRefreshesOnTimeAndCatchesUpLater) {
  DramControllerParams p = round_params();
  p.trefi_ns = 200;
  p.trfc_ns = 50;
  DramController d(p, kCoreMhz);
  d.enqueue(205000, read(1, 0));
  const auto done = drain(d);
  // The channel was idle (all banks closed) when the refresh fell due at 200: REF at 200, blocked
  // to 250. The read at 205 waits: ACT 250, RD 262, data [272, 274), + 20 = 294 ns.
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].done_ps, 294000u);
  EXPECT_EQ(d.channel_stats(0).refreshes, 1u);
  // A read at 900 ns: the refreshes due at 400 (row 0 still open: PRE 400, REF 412), 600 and
  // 800 happened meanwhile (the last ended at 850), so it goes at once: ACT 900, RD 912, data
  // [922, 924), + 20 = 944 ns.
  d.enqueue(900000, read(2, 0));
  const auto later = drain(d);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].done_ps, 944000u);
  EXPECT_EQ(d.channel_stats(0).refreshes, 4u);
  EXPECT_EQ(d.channel_stats(0).row_misses, 2u);  // the refresh at 400 closed row 0
}

// --- Scheduling ---------------------------------------------------------------------------------

TEST(DramController, YoungerRowHitOvertakesAnOlderMiss) {
  DramController d(round_params(), kCoreMhz);
  d.enqueue(0, read(1, 0));
  auto done = drain(d);             // row 0 of bank 0 is open from here on
  d.enqueue(50000, read(2, 4096));  // older: bank 0, row 1 (a conflict)
  d.enqueue(50000, read(3, 64));    // younger: bank 0, row 0 (a hit)
  done = drain(d);
  ASSERT_EQ(done.size(), 2u);
  // The hit goes first (and the queued hit keeps row 0 open): RD 50, data [60, 62): 82 ns.
  EXPECT_EQ(done[0].tag, 3u);
  EXPECT_EQ(done[0].done_ps, 82000u);
  // Then the conflict: PRE at max(tRAS 0 + 28, RD + tRTP = 54) = 54, ACT 66, RD 78, data
  // [88, 90): 110 ns.
  EXPECT_EQ(done[1].tag, 2u);
  EXPECT_EQ(done[1].done_ps, 110000u);
  EXPECT_EQ(d.channel_stats(0).row_hits, 1u);
  EXPECT_EQ(d.channel_stats(0).row_conflicts, 1u);
}

TEST(DramController, RequestSpanningTwoChannelsCompletesWhenBothHave) {
  DramControllerParams p = round_params();
  p.channels = 2;
  DramController d(p, kCoreMhz);
  // First a read that opens row 1 of channel 1's bank 0: chunk 33 = channel 1, index 16 in the
  // channel: bank (16 / 4) % 4 = 0, row 16 / 16 = 1.
  d.enqueue(0, read(1, 33 * 256));
  // Then 256 B from 128: 128 B at the end of chunk 0 (channel 0, bank 0 row 0, 4 bursts) and 128 B
  // at the start of chunk 1 (channel 1, bank 0 row 0, 4 bursts).
  d.enqueue(0, read(2, 128, 256));
  const auto done = drain(d);
  ASSERT_EQ(done.size(), 2u);
  // Tag 1: ACT 0, RD 12, data [22, 24): 44 ns.
  EXPECT_EQ(done_of(done, 1), 44000u);
  // Channel 0's half: ACT 0, RDs 12, 14, 16, 18, data ends 18 + 10 + 2 = 30 (50 ns alone).
  // Channel 1's half: PRE at max(0 + 28, 12 + 4) = 28, ACT 40, RDs 52..58, data ends
  // 58 + 12 = 70: the request is done at 70 + 20 = 90 ns, reported once.
  EXPECT_EQ(done_of(done, 2), 90000u);
  EXPECT_EQ(d.channel_stats(0).read_bytes, 128u);
  EXPECT_EQ(d.channel_stats(1).read_bytes, 32u + 128u);
}

TEST(DramController, UnalignedRequestsCoverEveryBurstTheyTouch) {
  DramController d(round_params(), kCoreMhz);
  d.enqueue(0, read(1, 30, 40));  // bytes [30, 70): bursts 0, 1 and 2 of row 0
  const auto done = drain(d);
  // ACT 0; RDs at 12, 14, 16; the last data ends 16 + 10 + 2 = 28: 48 ns.
  EXPECT_EQ(done_of(done, 1), 48000u);
  EXPECT_EQ(d.channel_stats(0).read_bursts, 3u);
  EXPECT_EQ(d.channel_stats(0).read_bytes, 40u);
  EXPECT_EQ(d.channel_stats(0).reads, 1u);  // one transaction: one bank, one row
}

TEST(DramController, ContractViolationsThrow) {
  DramController d(round_params(), kCoreMhz);
  EXPECT_THROW(d.enqueue(0, read(1, 0, 0)), std::invalid_argument);  // no bytes
  d.enqueue(5000, read(2, 0));
  EXPECT_THROW(d.enqueue(4000, read(3, 0)), std::invalid_argument);  // earlier than the last
}

// --- Address mapping ----------------------------------------------------------------------------

TEST(DramController, ChannelInterleaveAndBankMapping) {
  DramControllerParams p = round_params();
  p.channels = 2;  // 256 B chunks alternate channels; 4 chunks per 1 KiB row; 4 banks
  const DramController rbc(p, kCoreMhz);
  auto expect = [](const DramController::Location& l, uint64_t ch, uint64_t bank, uint64_t row,
                   uint64_t col) {
    EXPECT_EQ(l.channel, ch);
    EXPECT_EQ(l.bank, bank);
    EXPECT_EQ(l.row, row);
    EXPECT_EQ(l.column_byte, col);
  };
  expect(rbc.locate(0), 0, 0, 0, 0);
  expect(rbc.locate(300), 1, 0, 0, 44);   // chunk 1: channel 1, offset 300 - 256
  expect(rbc.locate(512), 0, 0, 0, 256);  // chunk 2: channel 0, its 2nd chunk: column 256
  expect(rbc.locate(2048), 0, 1, 0, 0);   // chunk 8: 4th of channel 0: row full, next bank
  expect(rbc.locate(8192), 0, 0, 1, 0);   // chunk 32: 16th of channel 0: banks full, row 1
  expect(rbc.locate(8192 + 1024 + 7), 0, 0, 1, 512 + 7);  // chunk 36, index 18: column 2
  p.mapping = DramMapping::kRowColumnBankChannel;
  const DramController rcb(p, kCoreMhz);
  expect(rcb.locate(512), 0, 1, 0, 0);     // index 1 in channel 0: next bank first
  expect(rcb.locate(2048), 0, 0, 0, 256);  // index 4: banks used, column chunk 1
  expect(rcb.locate(8192), 0, 0, 1, 0);    // index 16: row 1
}

// With bank_xor the bank index is XORed with the row's digits in base 4 (4 banks): row 1 -> 1,
// row 4 = (1,0) -> 1, row 5 = (1,1) -> 0, row 16 = (1,0,0) -> 1. Streams starting at the same bank
// of different rows land in different banks.
TEST(DramController, BankXorSpreadsAlignedRows) {
  DramControllerParams p = round_params();  // one channel, 4 banks, 4 chunks of 256 B per row
  p.bank_xor = true;
  const DramController c(p, kCoreMhz);
  const uint64_t row_span = 4 * 1024;      // bytes from one row of a bank to the next row of it
  EXPECT_EQ(c.locate(0).bank, 0u);         // row 0: 0 ^ 0
  EXPECT_EQ(c.locate(row_span).bank, 1u);  // row 1, bank 0: 0 ^ 1
  EXPECT_EQ(c.locate(row_span + 1024).bank, 0u);               // row 1, bank 1: 1 ^ 1
  EXPECT_EQ(c.locate(4 * row_span).bank, 1u);                  // row 4: digits (1, 0): 0 ^ 1 ^ 0
  EXPECT_EQ(c.locate(5 * row_span).bank, 0u);                  // row 5: digits (1, 1): 0 ^ 1 ^ 1
  EXPECT_EQ(c.locate(16 * row_span).bank, 1u);                 // row 16: digits (1, 0, 0)
  EXPECT_EQ(c.locate(16 * row_span).row, 16u);                 // the row itself is unchanged
  EXPECT_EQ(c.locate(16 * row_span + 3 * 1024 + 9).bank, 2u);  // bank 3 ^ 1
  EXPECT_EQ(c.locate(16 * row_span + 3 * 1024 + 9).column_byte, 9u);
}

// --- Config -------------------------------------------------------------------------------------

TEST(DramControllerParams, ReadStartsFromThePresetAndOverridesKeys) {
  ConfigDoc doc = ConfigDoc::from_json(
      Json{{"dram", {{"preset", "ddr4"}, {"channels", 2}, {"tras_ns", 35}}}}, "t.json");
  Json resolved;
  ConfigNode root(doc, &resolved);
  ConfigNode node = root.child("dram");
  DramControllerParams p;
  p.read(node);
  node.finish();
  const DramControllerParams ddr4 = dram_preset("ddr4");
  EXPECT_EQ(p.preset, "ddr4");
  EXPECT_EQ(p.channels, 2u);
  EXPECT_EQ(p.tras_ns, 35);
  EXPECT_EQ(p.tcl_ns, ddr4.tcl_ns);
  EXPECT_EQ(p.row_bytes, ddr4.row_bytes);
  // Every parameter lands in the resolved config.
  EXPECT_EQ(resolved["dram"]["tcl_ns"], 13.75);
  EXPECT_EQ(resolved["dram"]["mapping"], "row_bank_column_channel");
  // DDR4-3200 at 2 channels: 2 x 64 B / 2.5 ns = 51.2 GB/s; at 1000 MHz 51.2 bytes per cycle.
  const DramController d(p, kCoreMhz);
  EXPECT_NEAR(d.peak_gbps(), 51.2, 1e-9);
  EXPECT_NEAR(d.peak_bytes_per_cycle(), 51.2, 1e-9);
  // ns round up to whole tCK of 0.625 ns: tCL 13.75 = 22, tRAS 35 / 0.625 = 56, tFAW 21 -> 34.
  EXPECT_EQ(d.cycles().cl, 22u);
  EXPECT_EQ(d.cycles().ras, 56u);
  EXPECT_EQ(d.cycles().faw, 34u);
}

TEST(DramControllerParams, BandwidthScalesTheClockAndBurstTogether) {
  ConfigDoc doc =
      ConfigDoc::from_json(Json{{"dram", {{"preset", "hbm2"}, {"bandwidth_gbps", 512}}}}, "t.json");
  Json resolved;
  ConfigNode root(doc, &resolved);
  ConfigNode node = root.child("dram");
  DramControllerParams p;
  p.read(node);
  const DramController d(p, kCoreMhz);
  // 16 x 32 B / 512 GB/s = 1 ns a burst (was 2 ns): tCK 1 -> 0.5 ns, tBurst still 2 tCK; the
  // core timings stay in ns: tCL 14 ns = 28 tCK.
  EXPECT_EQ(d.tck_fs(), 500000u);
  EXPECT_EQ(d.cycles().burst, 2u);
  EXPECT_EQ(d.cycles().cl, 28u);
  EXPECT_NEAR(d.peak_gbps(), 512, 1e-9);
  EXPECT_EQ(d.describe()["effective_tck_ns"], 0.5);
}

TEST(DramControllerParams, ConfigErrorsNameFileAndPath) {
  auto read_dram = [](Json dram) {
    return error_of([&] {
      ConfigDoc doc = ConfigDoc::from_json(Json{{"accelerator", {{"dram", dram}}}}, "c.json");
      Json resolved;
      ConfigNode root(doc, &resolved);
      ConfigNode accel = root.child("accelerator");
      ConfigNode node = accel.child("dram");
      DramControllerParams p;
      p.read(node);
      node.finish();
    });
  };
  EXPECT_EQ(read_dram({{"preset", "gddr6"}}),
            "c.json: accelerator.dram.preset: expected one of \"hbm2\" \"hbm2e\" \"lpddr4\" "
            "\"lpddr5\" \"ddr4\", found string \"gddr6\"");
  EXPECT_EQ(read_dram({{"tras_ns", 10}}),
            "c.json: accelerator.dram.tras_ns: expected at least trcd_ns (14): a row opens before "
            "it closes, found 10");
  EXPECT_EQ(read_dram({{"mapping", "bank_first"}}),
            "c.json: accelerator.dram.mapping: expected one of \"row_bank_column_channel\" "
            "\"row_column_bank_channel\", found string \"bank_first\"");
  EXPECT_EQ(read_dram({{"banks", 0}}),
            "c.json: accelerator.dram.banks: expected an integer in [1, 1024], found integer 0");
  EXPECT_EQ(read_dram({{"trefi_ns", "fast"}}),
            "c.json: accelerator.dram.trefi_ns: expected a number in [0, 1e+09], found string "
            "\"fast\"");
  EXPECT_NE(read_dram({{"tRAS_ns", 30}}).find("accelerator.dram.tRAS_ns: unknown key"),
            std::string::npos);
}

TEST(DramControllerParams, ValidateRejectsImpossibleValues) {
  struct Case {
    std::function<void(DramControllerParams&)> change;
    std::string message;
  };
  const std::string at = "accelerator.dram.";
  const std::vector<Case> cases = {
      {[](DramControllerParams& p) { p.preset = "sdram"; },
       at + "preset: expected one of \"hbm2\" \"hbm2e\" \"lpddr4\" \"lpddr5\" \"ddr4\", found "
            "\"sdram\""},
      {[](DramControllerParams& p) { p.channels = 0; },
       at + "channels: expected at least 1, found 0"},
      {[](DramControllerParams& p) { p.banks = 0; }, at + "banks: expected at least 1, found 0"},
      {[](DramControllerParams& p) { p.burst_bytes = 0; },
       at + "burst_bytes: expected at least 1, found 0"},
      {[](DramControllerParams& p) { p.queue_depth = 0; },
       at + "queue_depth: expected at least 1, found 0"},
      {[](DramControllerParams& p) { p.write_queue_depth = 0; },
       at + "write_queue_depth: expected at least 1, found 0"},
      {[](DramControllerParams& p) { p.row_bytes = 1000; },
       at + "row_bytes: expected a multiple of burst_bytes (32), found 1000"},
      {[](DramControllerParams& p) { p.interleave_bytes = 48; },
       at + "interleave_bytes: expected a multiple of burst_bytes (32), found 48"},
      {[](DramControllerParams& p) { p.interleave_bytes = 2048; },
       at + "interleave_bytes: expected a divisor of row_bytes (1024), so chunks fill rows, "
            "found 2048"},
      {[](DramControllerParams& p) { p.interleave_bytes = 96; },
       at + "interleave_bytes: expected a divisor of row_bytes (1024), so chunks fill rows, "
            "found 96"},
      {[](DramControllerParams& p) { p.tras_ns = 10; },
       at + "tras_ns: expected at least trcd_ns (14): a row opens before it closes, found 10"},
      {[](DramControllerParams& p) { p.trefi_ns = 260; },
       at + "trefi_ns: expected more than trfc_ns (260), or refresh never ends, found 260"},
      {[](DramControllerParams& p) { p.tburst_ns = 0.5; },
       at + "tburst_ns: expected at least tck_ns (1): a burst takes whole clocks, found 0.5"},
      {[](DramControllerParams& p) { p.tck_ns = 0; },
       at + "tck_ns: expected at least 0.001 (1 ps), found 0"},
      {[](DramControllerParams& p) { p.tcl_ns = -1; },
       at + "tcl_ns: expected a number in [0, 1e9], found -1"},
      {[](DramControllerParams& p) { p.bandwidth_gbps = 1e6; },
       at + "bandwidth_gbps: expected a bandwidth that leaves tck_ns at least 1 ps, found "
            "1e+06"},
  };
  for (const Case& c : cases) {
    DramControllerParams p = dram_preset("hbm2");
    c.change(p);
    EXPECT_EQ(error_of([&] { p.validate(); }), c.message);
    // The constructor validates too.
    EXPECT_EQ(error_of([&] { DramController d(p, kCoreMhz); }), c.message);
  }
  EXPECT_EQ(error_of([] { dram_preset("sdram"); }),
            "dram preset: expected one of \"hbm2\" \"hbm2e\" \"lpddr4\" \"lpddr5\" \"ddr4\", found "
            "\"sdram\"");
  for (const std::string& name : dram_preset_names()) {
    EXPECT_EQ(error_of([&] { dram_preset(name).validate(); }), "(no error)") << name;
  }
}

// --- Determinism and run() limits ---------------------------------------------------------------

// A mixed workload over two channels: reads and writes of 32 B to 1 KiB at pseudo-random
// addresses of 64 KiB, arriving in bursts with idle gaps, with refresh every 500 ns so that
// sleeping channels catch up.
struct Arrival {
  uint64_t ps;
  DramRequest request;
};
std::vector<Arrival> workload() {
  numerics::SplitMix64 rng(42);
  std::vector<Arrival> out;
  uint64_t t = 0;
  for (uint64_t i = 0; i < 300; ++i) {
    t += (i % 50 == 49) ? 700000 : rng.next() % 4000;  // gaps of 0.7 us every 50 requests
    const uint64_t bytes = 32 * (1 + rng.next() % 32);
    const uint64_t address = (rng.next() % (64 * 1024)) & ~uint64_t{31};
    out.push_back({t, {i, address, bytes, rng.next() % 3 == 0}});
  }
  return out;
}

DramControllerParams workload_params() {
  DramControllerParams p = round_params();
  p.channels = 2;
  p.queue_depth = 4;
  p.write_queue_depth = 4;
  p.trefi_ns = 500;
  p.trfc_ns = 60;
  return p;
}

// All requests enqueued up front, then run with no limit.
std::vector<DramCompletion> run_upfront(DramController& d, const std::vector<Arrival>& arrivals) {
  for (const Arrival& a : arrivals) d.enqueue(a.ps, a.request);
  return drain(d);
}

// Enqueued as simulated time reaches them; run() limited to `step_ps` at a time.
std::vector<DramCompletion> run_stepped(DramController& d, const std::vector<Arrival>& arrivals,
                                        uint64_t step_ps) {
  std::vector<DramCompletion> done;
  std::size_t next = 0;
  for (uint64_t t = 0;; t += step_ps) {
    while (next < arrivals.size() && arrivals[next].ps < t + step_ps) {
      // Decisions before this arrival first, then the arrival.
      while (d.run(arrivals[next].ps, done)) {
      }
      d.enqueue(arrivals[next].ps, arrivals[next].request);
      ++next;
    }
    while (d.run(t + step_ps, done)) {
    }
    if (next == arrivals.size() && d.next_event_ps() == QueuedDram::kNever) break;
  }
  return done;
}

std::vector<std::pair<uint64_t, uint64_t>> sorted(const std::vector<DramCompletion>& done) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const DramCompletion& c : done) out.emplace_back(c.tag, c.done_ps);
  std::sort(out.begin(), out.end());
  return out;
}

std::string stats_text(const DramController& d) {
  Stats s;
  d.add_stats(s, "dram.");
  std::ostringstream out;
  s.write_text(out);
  return out.str();
}

TEST(DramController, SameInputSameOutput) {
  const auto arrivals = workload();
  DramController a(workload_params(), kCoreMhz), b(workload_params(), kCoreMhz);
  const auto da = run_upfront(a, arrivals), db = run_upfront(b, arrivals);
  ASSERT_EQ(da.size(), arrivals.size());
  ASSERT_EQ(da.size(), db.size());
  for (std::size_t i = 0; i < da.size(); ++i) {
    EXPECT_EQ(da[i].tag, db[i].tag);
    EXPECT_EQ(da[i].done_ps, db[i].done_ps);
  }
  EXPECT_EQ(a.summary(20000).dump(), b.summary(20000).dump());
  EXPECT_EQ(stats_text(a), stats_text(b));
  // The workload exercised what it is meant to: both kinds, back-pressure, refresh.
  const auto& s = a.channel_stats(0);
  EXPECT_GT(s.writes, 0u);
  EXPECT_GT(s.overflowed, 0u);
  EXPECT_GT(s.refreshes, 10u);
  EXPECT_GT(s.row_conflicts, 0u);
}

TEST(DramController, RunStopsAfterTheFirstDecisionThatCompletes) {
  DramController d(round_params(), kCoreMhz);
  d.enqueue(0, read(1, 0));
  d.enqueue(0, read(2, 1024));
  std::vector<DramCompletion> done;
  // Bank 0's RD at 12 completes tag 1 (its done time 44 ns lies ahead): run() returns then.
  ASSERT_TRUE(d.run(QueuedDram::kNever, done));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].tag, 1u);
  EXPECT_EQ(done[0].done_ps, 44000u);
  // The next decision is bank 1's RD at 16 ns.
  EXPECT_EQ(d.next_event_ps(), 16000u);
  // Not before a limit at 16 ns (decisions before the limit only).
  EXPECT_FALSE(d.run(16000, done));
  ASSERT_TRUE(d.run(16001, done));
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[1].done_ps, 48000u);
  EXPECT_FALSE(d.run(QueuedDram::kNever, done));
  EXPECT_EQ(d.next_event_ps(), QueuedDram::kNever);
}

TEST(DramController, OutcomeDoesNotDependOnRunLimits) {
  const auto arrivals = workload();
  DramController big(workload_params(), kCoreMhz);
  const auto reference = sorted(run_upfront(big, arrivals));
  ASSERT_EQ(reference.size(), arrivals.size());
  for (uint64_t step : {uint64_t{1}, uint64_t{37}, uint64_t{1000}, uint64_t{123457}}) {
    DramController d(workload_params(), kCoreMhz);
    const auto got = sorted(run_stepped(d, arrivals, step));
    EXPECT_EQ(got, reference) << "run() limits every " << step << " ps";
    EXPECT_EQ(d.summary(20000).dump(), big.summary(20000).dump()) << step;
    EXPECT_EQ(stats_text(d), stats_text(big)) << step;
  }
}

// --- Streams: skipped scans decide exactly as full ones -----------------------------------------

// Streams of `bytes`-sized requests, sequential within each of `streams` regions 1 MiB apart
// (reads, or writes for one in `write_every`), one every `spacing_ps` with a random jitter, and
// one in `random_every` to a random 32 B-aligned address of 64 MiB (row conflicts).
std::vector<Arrival> stream_workload(uint64_t seed, uint64_t n, uint64_t bytes, uint64_t streams,
                                     uint64_t write_every, uint64_t random_every,
                                     uint64_t spacing_ps) {
  numerics::SplitMix64 rng(seed);
  std::vector<Arrival> out;
  std::vector<uint64_t> next(streams, 0);
  uint64_t t = 0;
  for (uint64_t i = 0; i < n; ++i) {
    t += spacing_ps / 2 + rng.next() % (spacing_ps + 1);
    const uint64_t s = rng.next() % streams;
    uint64_t address = (s << 20) + next[s];
    next[s] += bytes;
    if (rng.next() % random_every == 0) address = (rng.next() % (64u << 20)) & ~uint64_t{31};
    out.push_back({t, {i, address, bytes, rng.next() % write_every == 0}});
  }
  return out;
}

struct Outcome {
  std::vector<std::pair<uint64_t, uint64_t>> done;  // in the order run() reported them
  std::string summary, stats;
  uint64_t skipped = 0;
};

Outcome run_with(const DramControllerParams& p, const std::vector<Arrival>& arrivals, bool skip,
                 uint64_t step_ps) {
  DramController d(p, kCoreMhz);
  d.fast_forward(skip);
  Outcome o;
  for (const DramCompletion& c : run_stepped(d, arrivals, step_ps)) {
    o.done.emplace_back(c.tag, c.done_ps);
  }
  // The tail after the last decision is counted under the cause the channel was left with.
  o.summary = d.summary(arrivals.back().ps / 1000 + 50000).dump();
  o.stats = stats_text(d);
  o.skipped = d.scans_skipped();
  return o;
}

TEST(DramController, StreamsSkipScansWithTheSameDecisions) {
  struct Case {
    const char* preset;
    uint64_t bytes, streams, write_every, random_every, spacing_ps, queue;
  };
  const Case cases[] = {
      {"hbm2", 512, 4, 3, 50, 1500, 32},         // RaPiD's DMA bursts, reads and writes
      {"hbm2", 256, 8, 2, 10, 500, 8},           // overloaded: back-pressure, drains
      {"hbm2e", 1024, 2, 1000, 1000, 3000, 32},  // long read streams
      {"lpddr4", 512, 3, 4, 20, 15000, 16},     {"lpddr5", 128, 4, 3, 5, 5000, 4},
      {"ddr4", 512, 2, 2, 30, 20000, 32},
  };
  uint64_t seed = 1;
  for (const Case& c : cases) {
    DramControllerParams p = dram_preset(c.preset);
    p.queue_depth = p.write_queue_depth = c.queue;
    const auto arrivals = stream_workload(seed++, 4000, c.bytes, c.streams, c.write_every,
                                          c.random_every, c.spacing_ps);
    const Outcome full = run_with(p, arrivals, false, 1000000);
    ASSERT_EQ(full.done.size(), arrivals.size()) << c.preset;
    EXPECT_EQ(full.skipped, 0u);
    for (uint64_t step : {uint64_t{1000000}, uint64_t{7777}}) {
      const Outcome fast = run_with(p, arrivals, true, step);
      EXPECT_EQ(fast.done, full.done) << c.preset << " step " << step;
      EXPECT_EQ(fast.summary, full.summary) << c.preset << " step " << step;
      EXPECT_EQ(fast.stats, full.stats) << c.preset << " step " << step;
      // The streams did skip scans (each request has several bursts per channel).
      EXPECT_GT(fast.skipped, 1000u) << c.preset;
    }
  }
}

// --- Sustained bandwidth of each preset ---------------------------------------------------------

// A closed loop of 512 B sequential reads, 256 in flight (more than any preset's bandwidth x
// latency: 409.6 GB/s x 100 ns = 41 KB = 80 requests), over 100 us of traffic at peak (25 tREFI
// of HBM, 13 of DDR4). Returns the achieved GB/s.
double sequential_gbps(const std::string& preset) {
  DramController d(dram_preset(preset), kCoreMhz);
  const uint64_t n = static_cast<uint64_t>(d.peak_gbps() * 1e3 * 100 / 512);  // 100 us at peak
  using Done = std::pair<uint64_t, uint64_t>;
  std::priority_queue<Done, std::vector<Done>, std::greater<Done>> pending;
  uint64_t issued = 0, completed = 0, last_ps = 0;
  for (; issued < 256; ++issued) d.enqueue(0, read(issued, issued * 512, 512));
  std::vector<DramCompletion> done;
  while (completed < n) {
    done.clear();
    if (d.run(pending.empty() ? QueuedDram::kNever : pending.top().first, done)) {
      for (const DramCompletion& c : done) pending.push({c.done_ps, c.tag});
      continue;
    }
    const uint64_t t = pending.top().first;
    pending.pop();
    ++completed;
    last_ps = t;
    if (issued < n) {
      d.enqueue(t, read(issued, issued * 512, 512));
      ++issued;
    }
  }
  return static_cast<double>(n * 512) / static_cast<double>(last_ps) * 1e3;
}

TEST(DramControllerPresets, SequentialReadsSustainMostOfThePeak) {
  for (const std::string& name : dram_preset_names()) {
    const DramController d(dram_preset(name), kCoreMhz);
    const double gbps = sequential_gbps(name);
    const double share = gbps / d.peak_gbps();
    std::printf("%-7s sequential reads: %.2f of %.2f GB/s peak = %.1f%%\n", name.c_str(), gbps,
                d.peak_gbps(), 100 * share);
    // All-bank refresh costs each channel tRFC + tRP + tRCD + tCL of every tREFI (the banks close,
    // the channel blocks, the rows reopen): hbm2 (260 + 14 + 14 + 14) / 3900 = 7.7%, lpddr4
    // (280 + 18 + 18 + 16.9) / 3904 = 8.5%, lpddr5 (210 + 18 + 18 + 21.25) / 3906 = 6.8%, ddr4
    // (350 + 13.75 x 3) / 7800 = 5.0%: 90% is reachable. hbm2e's 16 Gb dies refresh for 350 ns:
    // (350 + 14.375 x 3) / 3900 = 10.1% leaves at most 89.9%, so it is held to 89%.
    EXPECT_GE(share, name == "hbm2e" ? 0.89 : 0.90) << name;
    EXPECT_LE(share, 1.0) << name;
  }
}

TEST(DramControllerPresets, PeaksFollowTheirOrganisation) {
  // channels x burst bytes / tBurst.
  EXPECT_NEAR(DramController(dram_preset("hbm2"), kCoreMhz).peak_gbps(), 16 * 32 / 2.0, 1e-9);
  EXPECT_NEAR(DramController(dram_preset("hbm2e"), kCoreMhz).peak_gbps(), 16 * 32 / 1.25, 1e-9);
  // 4 x 32 B / (8 x 0.469 ns) = 34.115 GB/s.
  EXPECT_NEAR(DramController(dram_preset("lpddr4"), kCoreMhz).peak_gbps(), 4 * 32 / 3.752, 1e-9);
  EXPECT_NEAR(DramController(dram_preset("lpddr5"), kCoreMhz).peak_gbps(), 4 * 64 / 5.0, 1e-9);
  EXPECT_NEAR(DramController(dram_preset("ddr4"), kCoreMhz).peak_gbps(), 64 / 2.5, 1e-9);
  // hbm2e rounds its HBM2 ns timings up to 0.625 ns clocks: tCL 14 / 0.625 = 22.4 -> 23.
  EXPECT_EQ(DramController(dram_preset("hbm2e"), kCoreMhz).cycles().cl, 23u);
}

// --- Reporting ----------------------------------------------------------------------------------

TEST(DramController, SummaryAndStatsReportPerChannelFigures) {
  DramController d(round_params(), kCoreMhz);
  d.enqueue(0, read(1, 0));
  d.enqueue(0, read(2, 32));
  drain(d);
  // Tag 1 ACT 0, RD 12 data [22, 24); tag 2 RD 14 data [24, 26). Run ended at 100 core cycles.
  const Json s = d.summary(100);
  EXPECT_EQ(s["model"], "controller");
  const Json& c = s["channels"][0];
  EXPECT_EQ(c["read_bytes"], 64);
  // 64 B over 100 ns = 0.64 GB/s.
  EXPECT_NEAR(c["gbps"].get<double>(), 0.64, 1e-12);
  EXPECT_EQ(c["row_hits"], 1);
  EXPECT_EQ(c["row_misses"], 1);
  EXPECT_EQ(c["row_hit_rate"], 0.5);
  EXPECT_EQ(c["peak_read_queue"], 2);
  // The bus: [0, 22) row (ACT, tRCD, tCL), [22, 26) busy, [26, 100) idle with nothing queued.
  EXPECT_EQ(c["bus_stall_cycles"]["row"], 22);
  EXPECT_EQ(c["bus_busy_cycles"], 4);
  EXPECT_EQ(c["bus_idle_cycles"], 74);
  Stats stats;
  d.add_stats(stats, "dram.");
  bool total = false, channel = false;
  for (const Stat& st : stats.all()) {
    EXPECT_FALSE(st.unit.empty()) << st.name;
    EXPECT_FALSE(st.description.empty()) << st.name;
    if (st.name == "dram.row_hits") total = std::get<uint64_t>(st.value) == 1;
    if (st.name == "dram.channel0.bus_stall_cycles.row") {
      channel = std::get<uint64_t>(st.value) == 22;
    }
  }
  EXPECT_TRUE(total);
  EXPECT_TRUE(channel);
  const Json desc = d.describe();
  EXPECT_EQ(desc["impl"], "DramController");
  EXPECT_EQ(desc["trcd_ns"], 12.0);
  EXPECT_EQ(desc["write_drain_high"], 6);  // ceil(3 x 8 / 4)
  EXPECT_EQ(desc["write_drain_low"], 2);   // 8 / 4
}

}  // namespace
}  // namespace nibble
