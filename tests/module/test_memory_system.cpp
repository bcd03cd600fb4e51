// The memory hierarchy and the cores end to end, on small cases whose cycles are derived by hand
// in the comments: a DRAM-bound op, a compute-bound op, double-buffered overlap, a bank-conflict
// pattern (and the padding that removes it), a reduction over the ring; then conservation of the
// DRAM traffic the mapper plans over a sweep of shapes, splits and core counts, and the invariant
// that every core-cycle of an op is either busy or a stall with a cause. One simulation per test.
#include <gtest/gtest.h>

#include <string>

#include "models/accelerator/accelerator.h"

namespace nibble {
namespace {

constexpr OperandPrecisions kInt4Int4{Precision::kInt4, Precision::kInt4, Precision::kFp16};

// One core, 1 GHz, a 4×4 output-stationary array (1 MAC per PE per cycle), a wide scratchpad
// that never holds the array up, DRAM of `bpc` bytes per cycle on `channels` channels with a
// 10-cycle latency, bursts large enough that a tile is one request.
Json base_config(double bpc, uint64_t channels) {
  return {
      {"sim", {{"fidelity", "tile"}}},
      {"clock", {{"core_mhz", 1000}}},
      {"accelerator",
       {{"cores", 1},
        {"core",
         {{"mac_array", {{"rows", 4}, {"cols", 4}, {"dataflow", "os"}}},
          {"sfu", {{"lanes", 32}, {"pipeline_cycles", 8}}},
          {"scratchpad", {{"capacity_bytes", 1 << 20}, {"banks", 64}, {"bank_width_bytes", 64}}},
          {"dma", {{"burst_bytes", 1 << 20}, {"outstanding", 16}}}}},
        // GB/s = bytes per cycle at 1 GHz.
        {"dram", {{"bandwidth_gbps", bpc}, {"channels", channels}, {"latency_ns", 10}}}}}};
}

Op relu(uint64_t elements) {
  Op op;
  op.name = "relu";
  op.type = OpType::kVector;
  op.vector = VectorShape{elements, "relu"};
  op.precision = {Precision::kFp16, Precision::kFp16, Precision::kFp16};
  return op;
}

Op gemm(const std::string& name, uint64_t m, uint64_t n, uint64_t k) {
  Op op;
  op.name = name;
  op.gemm = {m, n, k};
  op.precision = kInt4Int4;
  return op;
}

uint64_t stall(const OpResult& o, const char* cause) {
  return o.memory["stall_core_cycles"][cause].get<uint64_t>();
}

// Every core-cycle of an op is busy or stalled for a cause: busy + stalls = cycles × cores.
void expect_accounted(const OpResult& o, uint64_t cores) {
  uint64_t sum = o.memory["busy_core_cycles"].get<uint64_t>();
  for (const auto& [cause, cycles] : o.memory["stall_core_cycles"].items()) {
    sum += cycles.get<uint64_t>();
  }
  EXPECT_EQ(sum, (o.end_cycle - o.start_cycle) * cores);
}

// A relu over 4096 FP16 values in 4 tiles of 1024 (2048 bytes in, 2048 out). The SFU (32
// lanes, relu 1 cycle an element, 8-stage pipeline) computes a tile in 1024/32 + 8 - 1 = 39
// cycles. DRAM: 16 bytes a cycle on one channel, so every transfer occupies it 2048/16 = 128
// cycles, and data arrives 10 cycles after its transfer ends. The loader asks for a tile's load as
// soon as an input buffer is free (two buffers), the storer for each store as its tile is done;
// loads and stores share the channel in the order they ask for it (a store first on a tie):
//   load 0 asks 0, channel   0..128 -> in 138      compute 0 138..177
//   load 1 asks 0, channel 128..256 -> in 266      store 0 asks 177, channel 256..384 (done 394)
//   load 2 asks 177 (buffer 0 free), channel 384..512 -> in 522
//   compute 1 266..305; store 1 asks 305, channel 512..640 (done 650)
//   load 3 asks 305, channel 640..768 -> in 778
//   compute 2 522..561; store 2 asks 561, channel 768..896 (done 906)
//   compute 3 778..817; store 3 asks 817, channel 896..1024, done 1034.
// The channel is busy 8 × 128 = 1024 of the 1034 cycles: DRAM-bound.
TEST(MemorySystem, DramBoundOpWaitsForTheChannel) {
  Json config = base_config(16, 1);
  config["accelerator"]["mapper"] = {{"tile_m", 1024}};
  Workload w;
  w.ops = {relu(4096)};
  const RunResult r = simulate(config, w);
  ASSERT_EQ(r.ops.size(), 1u);
  const OpResult& o = r.ops[0];
  EXPECT_EQ(o.mapping["tile"]["m"], 1024);
  EXPECT_EQ(o.mapping["tiles_per_core"], 4);
  EXPECT_EQ(o.end_cycle, 1034u);
  EXPECT_EQ(o.memory["busy_core_cycles"], 4 * 39);
  EXPECT_EQ(o.memory["bytes"]["dram_read"], 8192);
  EXPECT_EQ(o.memory["bytes"]["dram_write"], 8192);
  // Waiting at the start: load 0 is 10 cycles of latency then 128 of transfer (latency first).
  EXPECT_GE(stall(o, "dram_bandwidth"), 128u);
  EXPECT_EQ(stall(o, "bank_conflict"), 0u);
  expect_accounted(o, 1);
}

// The same relu with DRAM at 1024 bytes a cycle on two channels: a tile's transfer takes
// 2048/512 = 4 cycles per channel... one request uses one channel: 2048/512 = 4 cycles, + 10
// latency = 14. Double-buffered, every load after the first hides under a compute:
//   load 0 0..14, compute 0 14..53, 1 53..92, 2 92..131, 3 131..170 (loads 1-3 were in long
//   before: load 1 at 0..14 on the other channel, load 2 when compute 0 freed its buffer at 53,
//   load 3 at 92), store 3 170..174 + 10 = 184.  Total = 14 + 4 × 39 + 14 = 184.
TEST(MemorySystem, ComputeBoundOpHidesItsLoads) {
  Json config = base_config(1024, 2);
  config["accelerator"]["mapper"] = {{"tile_m", 1024}};
  Workload w;
  w.ops = {relu(4096)};
  const RunResult r = simulate(config, w);
  const OpResult& o = r.ops[0];
  EXPECT_EQ(o.end_cycle, 184u);
  EXPECT_EQ(o.memory["busy_core_cycles"], 156);
  // Stalls: the first load (14) and the last store (14).
  EXPECT_EQ(stall(o, "dram_latency") + stall(o, "dram_bandwidth"), 28u);
  expect_accounted(o, 1);
}

// Without double buffering a tile's load waits for the previous compute to free the one input
// buffer: 4 × (14 + 39) + 14 = 226, against 184 with two buffers (loads 1-3 hidden: 3 × 14 = 42
// cycles saved).
TEST(MemorySystem, SingleBufferingSerialisesLoadsAndCompute) {
  Json config = base_config(1024, 2);
  config["accelerator"]["mapper"] = {{"tile_m", 1024}, {"double_buffer", false}};
  Workload w;
  w.ops = {relu(4096)};
  const RunResult r = simulate(config, w);
  EXPECT_EQ(r.ops[0].end_cycle, 226u);
  expect_accounted(r.ops[0], 1);
}

// A 4×4×32 INT4 GEMM, one tile. A's rows are 32 × 4 bits = 16 bytes; on a scratchpad of 4 banks
// of 1-byte words the os array reads a vector of one word from each of its 4 rows per word
// column. Rows 16 words apart all start in the same bank (16 mod 4 = 0): each vector takes 4
// cycles, 16 columns → 64 cycles (conflict-free: 16). B streams 32 × 4 × 4 bits = 64 bytes = 64
// words over 4 banks: 16 cycles. The scratchpad needs 64 + 16 = 80 cycles, conflict-free 32; the
// array computes in K + R + C - 1 = 32 + 4 + 4 - 1 = 39, so it stalls 80 - 39 = 41 cycles, all
// bank conflicts (80 - 32 = 48 >= 41).
// DRAM 1024 B/cycle, 2 channels: A (64 B) and B (64 B) load in parallel, 1 cycle + 10 = 11; the
// result (4 × 4 FP16 = 32 bytes) stores in 1 + 10 = 11. Total 11 + 39 + 41 + 11 = 102.
// With one word of padding per row the pitch is 17 words, coprime to 4 banks: no conflicts,
// 16 + 16 = 32 <= 39, no stall: 11 + 39 + 11 = 61.
Json conflict_config(uint64_t pad) {
  Json config = base_config(1024, 2);
  config["accelerator"]["core"]["scratchpad"] = {
      {"capacity_bytes", 1 << 20}, {"banks", 4}, {"bank_width_bytes", 1}, {"row_pad_words", pad}};
  config["accelerator"]["mapper"] = {{"tile_m", 4}, {"tile_n", 4}, {"tile_k", 32}};  // one tile
  return config;
}

TEST(MemorySystem, StridedRowsInOneBankSerialise) {
  Workload w;
  w.ops = {gemm("g", 4, 4, 32)};
  const RunResult r = simulate(conflict_config(0), w);
  const OpResult& o = r.ops[0];
  EXPECT_EQ(o.mapping["tiles_per_core"], 1);
  EXPECT_EQ(o.end_cycle, 102u);
  EXPECT_EQ(stall(o, "bank_conflict"), 41u);
  EXPECT_EQ(stall(o, "scratchpad_bandwidth"), 0u);
  expect_accounted(o, 1);
}

TEST(MemorySystem, PaddedRowsSpreadOverTheBanks) {
  Workload w;
  w.ops = {gemm("g", 4, 4, 32)};
  const RunResult r = simulate(conflict_config(1), w);
  EXPECT_EQ(r.ops[0].end_cycle, 61u);
  EXPECT_EQ(stall(r.ops[0], "bank_conflict"), 0u);
}

// Two cores split a 4×4×64 INT4 GEMM over K (32 each). Each loads its A half (4 × 32 × 4 bits =
// 64 B) and B half (64 B): four 1-cycle requests on two channels. The arbiter serves one request
// per core per round: both A halves at cycle 0 (one per channel), then both B halves queued one
// cycle behind them: every tile is in at 1 + 1 + 10 = 12. Each core computes 32 + 4 + 4 - 1 = 39
// cycles (done at 51). The ring reduce-scatters the 4 × 4 partial sums (32-bit accumulators, 64
// bytes): P - 1 = 1 step of hop 2 + ceil(ceil(64/2 / 2) / 8 B per cycle) = 2 + 2 = 4 cycles,
// from 51 to 55. Each core then stores its half of the 32-byte FP16 result: 1
// cycle + 10 latency: done at 66. Ring traffic: (P-1)·P·ceil(64/2) = 64 byte-hops.
TEST(MemorySystem, SplitOverKReducesOverTheRing) {
  Json config = base_config(1024, 2);
  config["accelerator"]["cores"] = 2;
  config["accelerator"]["ring"] = {{"bytes_per_cycle", 8}, {"hop_cycles", 2}};
  // Each core's part as one tile (the mapper's walk would take a smaller footprint within the
  // margin).
  config["accelerator"]["mapper"] = {{"tile_m", 4}, {"tile_n", 4}, {"tile_k", 32}};
  Workload w;
  Op op = gemm("g", 4, 4, 64);
  op.split = "k";
  w.ops = {op};
  const RunResult r = simulate(config, w);
  const OpResult& o = r.ops[0];
  EXPECT_EQ(o.mapping["split"], "k");
  EXPECT_EQ(o.mapping["chunk"], 32);
  EXPECT_EQ(o.end_cycle, 66u);
  EXPECT_EQ(o.memory["bytes"]["ring_byte_hops"], 64);
  EXPECT_EQ(o.memory["bytes"]["dram_write"], 32);
  EXPECT_EQ(stall(o, "ring"), 8u);        // 4 cycles on each core
  EXPECT_EQ(stall(o, "dependency"), 0u);  // both cores reach the reduction at 51
  EXPECT_EQ(o.macs, 4u * 4 * 64);
  expect_accounted(o, 2);
}

// A gradient reduction across 2 cores: 100 FP32 values = 400 bytes. The ring (8 bytes per
// cycle per direction, hop 2) all-reduces: a reduce-scatter of P - 1 = 1 step moving
// ceil(400/2) = 200 bytes, half each way: 2 + ceil(100/8) = 15 cycles; then the all-gather, the
// same again: 30 cycles, both cores waiting on the ring (60 core-cycles). Byte-hops:
// 2 · (P-1) · P · 200 = 800. No unit runs it and nothing touches DRAM.
TEST(MemorySystem, AllReduceIsAReduceScatterThenAnAllGatherOnTheRing) {
  Json config = base_config(64, 2);
  config["accelerator"]["cores"] = 2;
  config["accelerator"]["ring"] = {{"bytes_per_cycle", 8}, {"hop_cycles", 2}};
  Workload w;
  Op op;
  op.name = "dw.allreduce";
  op.type = OpType::kAllReduce;
  op.pass = Pass::kUpdate;
  op.vector = VectorShape{100, ""};
  op.precision = {Precision::kFp32, Precision::kFp32, Precision::kFp32};
  w.ops = {op};
  const RunResult r = simulate(config, w);
  const OpResult& o = r.ops[0];
  EXPECT_EQ(o.unit, "ring");
  EXPECT_EQ(o.end_cycle - o.start_cycle, 30u);
  EXPECT_EQ(stall(o, "ring"), 60u);
  EXPECT_EQ(o.memory["bytes"]["ring_byte_hops"], 800);
  EXPECT_EQ(o.memory["bytes"]["dram_read"], 0);
  EXPECT_EQ(o.mapping["steps"], 2);
  EXPECT_EQ(o.mapping["bytes"], 400);
  expect_accounted(o, 2);
}

// Conservation: for every op of a sweep (shapes around the array and tile sizes, every split,
// 1, 2 and 3 cores, with and without operand sharing), the bytes the DRAM served equal what the
// mapper's plan says it moves, and MACs are all done once.
struct ConservationCase {
  uint64_t cores;
  bool share;
  uint64_t capacity;
};

class Conservation : public testing::TestWithParam<ConservationCase> {};

TEST_P(Conservation, DramBytesMatchThePlan) {
  const ConservationCase c = GetParam();
  Json config = base_config(64, 2);
  config["accelerator"]["cores"] = c.cores;
  config["accelerator"]["core"]["scratchpad"]["capacity_bytes"] = c.capacity;
  config["accelerator"]["mapper"] = {{"share_operands", c.share}};
  Workload w;
  const uint64_t sizes[] = {1, 7, 33, 100};
  const char* splits[] = {"", "m", "n", "k"};
  for (uint64_t m : sizes) {
    for (uint64_t n : sizes) {
      for (uint64_t k : sizes) {
        Op op =
            gemm(std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k), m, n, k);
        op.split = splits[w.ops.size() % 4];
        w.ops.push_back(op);
      }
    }
  }
  // Batched GEMMs: with at least as many instances as cores, whole instances per core.
  const uint64_t batched[][4] = {{7, 33, 100, 2}, {33, 7, 33, 3}, {100, 100, 7, 5}};
  for (const auto& b : batched) {
    Op op = gemm("batch" + std::to_string(b[3]), b[0], b[1], b[2]);
    op.gemm_batch = b[3];
    w.ops.push_back(op);
  }
  w.ops.push_back(relu(10007));
  const RunResult r = simulate(config, w);
  ASSERT_EQ(r.ops.size(), w.ops.size());
  for (std::size_t i = 0; i < w.ops.size(); ++i) {
    const OpResult& o = r.ops[i];
    SCOPED_TRACE(w.ops[i].name);
    EXPECT_EQ(o.memory["bytes"]["dram_read"], o.mapping["dram_read_bytes"]);
    EXPECT_EQ(o.memory["bytes"]["dram_write"], o.mapping["dram_write_bytes"]);
    if (w.ops[i].is_gemm()) {
      EXPECT_EQ(o.macs, w.ops[i].macs());  // batch × M·N·K
    }
    if (w.ops[i].gemm_batch > 1) {
      EXPECT_EQ(o.mapping["instances"], w.ops[i].gemm_batch);
      // Fewer instances than cores: each instance is split as the heuristic chooses.
      const bool by_instance = c.cores > 1 && w.ops[i].gemm_batch >= c.cores;
      if (by_instance || c.cores == 1) {
        EXPECT_EQ(o.mapping["split"], by_instance ? "batch" : "none");
      } else {
        EXPECT_NE(o.mapping["split"], "batch");
      }
    }
    expect_accounted(o, c.cores);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sweep, Conservation,
    testing::Values(ConservationCase{1, true, 1 << 20}, ConservationCase{1, true, 4096},
                    ConservationCase{2, true, 1 << 20}, ConservationCase{2, false, 4096},
                    ConservationCase{3, true, 8192}, ConservationCase{3, false, 1 << 20}));

}  // namespace
}  // namespace nibble
