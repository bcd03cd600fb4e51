// The mapper: splits, tilings and the traffic a plan moves. Every expected number is derived in
// the comment beside it; the sweep checks that the tiles a plan hands the cores move exactly the
// bytes and MACs the plan accounts for.
#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "models/mapper/mapper.h"
#include "models/ring/ring.h"
#include "sim/error.h"
#include "sim/workload.h"
#include "tests/support/error_of.h"

namespace nibble {
namespace {

using testing_support::error_of;

// INT4 operands, FP16 results, 32-bit partial sums.
constexpr TileBits kGemmBits{4, 4, 16, 32};
// An element-wise op: FP16 in, 4-bit out, no B.
constexpr TileBits kVectorBits{16, 0, 4, 4};

// Scratchpad bytes of a row: ceil(bits / 8) bytes rounded up to 16-byte words.
uint64_t row_bytes(uint64_t bits) { return (bits + 127) / 128 * 16; }

// DRAM bytes of a rows×cols GEMM tile: rows packed, each ceil(cols · bits / 8) bytes.
uint64_t packed_rows(uint64_t rows, uint64_t cols, uint64_t bits) {
  return rows * ((cols * bits + 7) / 8);
}

struct TargetSpec {
  uint64_t cores = 1;
  bool whole_tiles = false;
  uint64_t scratchpad_bytes = 1ull << 40;
  double dram_bytes_per_cycle = 64;
  uint64_t dram_latency_cycles = 100;
};

MapperTarget make_target(const TargetSpec& spec) {
  MapperTarget t;
  t.cores = spec.cores;
  t.whole_tiles = spec.whole_tiles;
  t.scratchpad_bytes = spec.scratchpad_bytes;
  t.row_bytes = row_bytes;
  t.compute_cycles = [](const GemmShape& s) { return s.m * s.n * s.k / 64 + 10; };
  t.dram_bytes_per_cycle = spec.dram_bytes_per_cycle;
  t.dram_latency_cycles = spec.dram_latency_cycles;
  RingParams rp;
  rp.bytes_per_cycle = 64;
  rp.hop_cycles = 2;
  const auto ring = std::make_shared<Ring>(rp, spec.cores);
  t.broadcast_cycles = [ring](uint64_t bytes) { return ring->broadcast_cycles(bytes); };
  t.reduce_scatter_cycles = [ring](uint64_t bytes) { return ring->reduce_scatter_cycles(bytes); };
  return t;
}

Op gemm_op(const GemmShape& shape) {
  Op op;
  op.name = "g";
  op.type = OpType::kGemm;
  op.gemm = shape;
  return op;
}

Op vector_op(uint64_t elements) {
  Op op;
  op.name = "v";
  op.type = OpType::kVector;
  op.vector = VectorShape{elements, "relu"};
  return op;
}

MapperParams mapper_params(bool share_operands, bool double_buffer) {
  MapperParams p;
  p.share_operands = share_operands;
  p.double_buffer = double_buffer;
  return p;
}

// Whether `t` is a candidate tile size of `extent`: the whole, or a power of two >= 8 below it.
bool is_candidate(uint64_t t, uint64_t extent) {
  if (t == extent) return true;
  return t >= 8 && t < extent && (t & (t - 1)) == 0;
}

// Scratchpad bytes a GEMM tiling needs: buffers · (A + B + C at psum width), rows at the pitch.
uint64_t gemm_footprint(const OpPlan& p) {
  const uint64_t buffers = p.double_buffer ? 2 : 1;
  return buffers * (p.tm * row_bytes(p.tk * p.bits.a) + p.tk * row_bytes(p.tn * p.bits.b) +
                    p.tm * row_bytes(p.tn * p.bits.psum));
}

std::string describe(const OpPlan& p) {
  std::ostringstream s;
  s << p.to_json().dump();
  return s.str();
}

// Walks every tile of every core and checks that the tiles move what the plan says:
//   loads (a shared load once per tile index) = dram_read_bytes, stores = dram_write_bytes,
//   MACs = M·N·K, each tile fits the plan's footprint, and for a k split the cores' store shares
//   of an output tile add to that tile once.
void check_conservation(const OpPlan& p, const std::string& label) {
  const std::string where = label + " plan " + describe(p);
  const uint64_t buffers = p.double_buffer ? 2 : 1;
  uint64_t read = 0, write = 0, macs = 0;
  for (uint64_t t = 0; t < p.tiles_per_core(); ++t) {
    bool shared_seen = false;
    uint64_t shared_bytes = 0, shares = 0;
    TileWork first{};
    for (uint64_t c = 0; c < p.cores; ++c) {
      const TileWork w = p.tile(c, t);
      if (c == 0) first = w;
      macs += w.shape.macs();
      EXPECT_LE(buffers * (w.in_footprint + w.out_footprint), p.footprint_bytes)
          << where << " core " << c << " tile " << t;
      for (int i = 0; i < w.load_count; ++i) {
        const TileLoad& l = w.loads[i];
        if (!l.shared) {
          read += l.bytes;
        } else if (!shared_seen) {
          shared_seen = true;
          shared_bytes = l.bytes;
        } else {
          EXPECT_EQ(l.bytes, shared_bytes) << where << " core " << c << " tile " << t;
        }
      }
      write += w.store_bytes;
      shares += w.store_bytes;
      if (p.split == Split::kK) {
        EXPECT_EQ(w.shape.m, first.shape.m) << where;
        EXPECT_EQ(w.shape.n, first.shape.n) << where;
        EXPECT_EQ(w.reduce_bytes, first.reduce_bytes) << where;
      }
    }
    read += shared_bytes;
    if (p.split == Split::kK && first.last_k) {
      // Every core holds partial sums of the same output tile; the reduced tile, stored once.
      EXPECT_EQ(shares, packed_rows(first.shape.m, first.shape.n, p.bits.out))
          << where << " tile " << t;
      EXPECT_EQ(first.reduce_bytes, packed_rows(first.shape.m, first.shape.n, p.bits.psum))
          << where << " tile " << t;
    }
  }
  EXPECT_EQ(read, p.dram_read_bytes) << where;
  EXPECT_EQ(write, p.dram_write_bytes) << where;
  EXPECT_EQ(macs, p.whole.m * p.whole.n * p.whole.k) << where;
}

// Ideal memory: the accelerator asks for whole tiles (MapperTarget::whole_tiles), so only the
// split is chosen.
TEST(Mapper, OneCoreWithIdealMemoryRunsTheOpAsOneTile) {
  TargetSpec spec;
  spec.cores = 1;
  spec.whole_tiles = true;
  spec.scratchpad_bytes = 1ull << 40;
  spec.dram_bytes_per_cycle = 1e12;  // the DRAM terms round to 0
  spec.dram_latency_cycles = 0;
  const GemmShape shape{64, 48, 40};
  // Forcing a split on one core changes nothing: there is nothing to split over.
  const OpPlan p =
      map_op(gemm_op(shape), shape, kGemmBits, mapper_params(true, true), make_target(spec), "m");
  EXPECT_EQ(p.split, Split::kNone);
  EXPECT_EQ(p.cores, 1u);
  EXPECT_EQ(p.chunk, 0u);
  EXPECT_EQ(p.shared_operand, -1);
  EXPECT_EQ(p.tm, 64u);
  EXPECT_EQ(p.tn, 48u);
  EXPECT_EQ(p.tk, 40u);
  EXPECT_EQ(p.tiles_per_core(), 1u);
  // 64·48·40 / 64 + 10 = 1920 + 10 = 1930; DRAM, ring and the first load round to 0.
  EXPECT_EQ(p.estimate_cycles, 1930u);
  // A: 64 rows · ceil(40 · 4 / 8) = 20 bytes = 1280; B: 40 rows · ceil(48 · 4 / 8) = 24 = 960.
  EXPECT_EQ(p.dram_read_bytes, 2240u);  // 1280 + 960
  // C: 64 rows · 48 · 16 / 8 = 96 bytes = 6144.
  EXPECT_EQ(p.dram_write_bytes, 6144u);
  // Scratchpad: A 64 · row_bytes(160 bits) = 64 · 32 = 2048; B 40 · row_bytes(192) = 40 · 32 =
  // 1280; C 64 · row_bytes(48 · 32 = 1536) = 64 · 192 = 12288; 2 · (2048 + 1280 + 12288) = 31232.
  EXPECT_EQ(p.footprint_bytes, 31232u);

  const TileWork w = p.tile(0, 0);
  EXPECT_EQ(w.shape.macs(), 122880u);  // 64 · 48 · 40
  EXPECT_TRUE(w.first_k);
  EXPECT_TRUE(w.last_k);
  ASSERT_EQ(w.load_count, 2);
  EXPECT_EQ(w.loads[0].operand, 0u);
  EXPECT_EQ(w.loads[0].bytes, 1280u);
  EXPECT_EQ(w.loads[0].footprint, 2048u);
  EXPECT_EQ(w.loads[1].operand, 1u);
  EXPECT_EQ(w.loads[1].bytes, 960u);
  EXPECT_EQ(w.loads[1].footprint, 1280u);
  EXPECT_EQ(w.in_footprint, 3328u);    // 2048 + 1280
  EXPECT_EQ(w.out_footprint, 12288u);  // C at psum width
  EXPECT_EQ(w.store_bytes, 6144u);
  EXPECT_EQ(w.reduce_bytes, 0u);
}

// The choice walks the tilings from the smallest footprint up (then the least traffic) and moves
// to a later one only when it is estimated faster than the current choice by more than the 10%
// margin. Compute per tile is m·n·k / 64 + 10 and DRAM costs nothing here, so a tiling of T tiles
// of 64×48×40 takes 1920 + 10·T. Footprints are 2·(A + B + C) with rows in 16-byte words (4-bit A
// and B, 32-bit partial sums). The walk's choices:
//   (8,8,8)    1024 bytes, 8·6·5 = 240 tiles, 4320
//   (8,8,16)   1280 bytes, 8·6·3 = 144 tiles, 3360  (< 4320 / 1.1 = 3927)
//   (8,16,16)  1792 bytes, 8·3·3 = 72 tiles,  2640  (< 3360 / 1.1 = 3054)
//   (8,16,40)  2816 bytes, 8·3 = 24 tiles,    2160  (< 2640 / 1.1 = 2400), n outer: with one k
//              tile it reads B once and A three times (960 + 3·1280 = 4800), m outer the reverse
//              (1280 + 8·960 = 8960), so n outer comes first at equal footprint
//   (16,48,40) 2·(16·32 + 40·32 + 16·192) = 9728 bytes, 4·1 = 4 tiles, 1960 (< 2160 / 1.1 = 1963),
//              n outer (A once, B once: 1280 + 960 = 2240)
// and nothing after it beats 1960 / 1.1 = 1781: the best possible is one tile, 1930.
TEST(Mapper, ALargerTilingWinsOnlyWhenFasterByMoreThanTheMargin) {
  const GemmShape shape{64, 48, 40};
  TargetSpec spec;
  spec.dram_bytes_per_cycle = 1e12;
  spec.dram_latency_cycles = 0;
  const OpPlan p =
      map_op(gemm_op(shape), shape, kGemmBits, mapper_params(true, true), make_target(spec), "");
  EXPECT_EQ(p.tm, 16u);
  EXPECT_EQ(p.tn, 48u);
  EXPECT_EQ(p.tk, 40u);
  EXPECT_EQ(p.tiles_per_core(), 4u);
  EXPECT_EQ(p.estimate_cycles, 1960u);  // 4 · (16·48·40 / 64 + 10) = 4 · 490
  EXPECT_EQ(p.footprint_bytes, 9728u);
  EXPECT_FALSE(p.m_outer);
  EXPECT_EQ(p.dram_read_bytes, 2240u);
  // With 100 cycles a tile the same walk reaches (16,48,40) at 1920 + 4·100 = 2320, and the whole
  // op as one tile, 2020, beats 2320 / 1.1 = 2109: it wins whatever its footprint.
  MapperTarget costly = make_target(spec);
  costly.compute_cycles = [](const GemmShape& g) { return g.m * g.n * g.k / 64 + 100; };
  const OpPlan whole =
      map_op(gemm_op(shape), shape, kGemmBits, mapper_params(true, true), costly, "");
  EXPECT_EQ(whole.tiles_per_core(), 1u);
  EXPECT_EQ(whole.estimate_cycles, 2020u);  // 1920 + 100
  // With no margin the walk takes the best estimate: one tile, 1930.
  MapperParams eager = mapper_params(true, true);
  eager.margin = 0;
  const OpPlan best = map_op(gemm_op(shape), shape, kGemmBits, eager, make_target(spec), "");
  EXPECT_EQ(best.tiles_per_core(), 1u);
  EXPECT_EQ(best.estimate_cycles, 1930u);  // 1920 + 10
}

// A plan of more than 1024 tiles is estimated from a replayed prefix of whole periods of its tile
// sequence, extrapolated at the prefix's steady rate. Forced 8×8×8 tiles of 256×256×64: 32·32·8
// = 8192 tiles; a row of output tiles is 32·8 = 256 tiles, so the prefix is 1024 tiles (4 rows).
// Each tile computes for 8·8·8 / 64 + 10 = 18 cycles and loads 2·32 bytes; DRAM is free, so the
// compute never waits: the prefix ends at 1024·18 and its second half runs at 18 a tile, giving
// 1024·18 + (8192 − 1024)·18 = 8192·18 = 147456, what a full replay gives.
TEST(Mapper, ALongPlanIsEstimatedFromItsSteadyPrefix) {
  const GemmShape shape{256, 256, 64};
  TargetSpec spec;
  spec.dram_bytes_per_cycle = 1e12;
  spec.dram_latency_cycles = 0;
  MapperParams params = mapper_params(true, true);
  params.tile_m = params.tile_n = params.tile_k = 8;
  const OpPlan p = map_op(gemm_op(shape), shape, kGemmBits, params, make_target(spec), "");
  EXPECT_EQ(p.tiles_per_core(), 8192u);
  EXPECT_EQ(p.estimate_cycles, 147456u);  // 8192 · 18
  // With a 100-cycle latency, double buffering keeps two loads in flight: tile i's load asks when
  // tile i − 2 is done, so tiles go in pairs every 100 + 18 = 118 cycles after the first pair
  // (tile 1 ends at 100 + 2·18 = 136), and the last output tile's store lands 100 cycles after
  // the last compute. Full replay: 136 + 118·4095 + 100 = 483446. The prefix: tile 1023 ends at
  // 136 + 118·511 = 60434, its store at 60534; the second half runs at 118·256 / 512 = 59 a tile;
  // 60534 + 7168·59 = 483446, the same.
  spec.dram_latency_cycles = 100;
  const OpPlan late = map_op(gemm_op(shape), shape, kGemmBits, params, make_target(spec), "");
  EXPECT_EQ(late.estimate_cycles, 483446u);
}

TEST(Mapper, TheChosenTilingFitsTheScratchpad) {
  TargetSpec spec;
  spec.scratchpad_bytes = 8192;  // the whole op needs 31232 (above): it must be tiled
  const GemmShape shape{64, 48, 40};
  for (const bool double_buffer : {true, false}) {
    const OpPlan p = map_op(gemm_op(shape), shape, kGemmBits, mapper_params(true, double_buffer),
                            make_target(spec), "");
    EXPECT_EQ(p.split, Split::kNone);
    EXPECT_GT(p.tiles_per_core(), 1u) << describe(p);
    EXPECT_TRUE(is_candidate(p.tm, 64)) << describe(p);
    EXPECT_TRUE(is_candidate(p.tn, 48)) << describe(p);
    EXPECT_TRUE(is_candidate(p.tk, 40)) << describe(p);
    EXPECT_EQ(p.footprint_bytes, gemm_footprint(p)) << describe(p);
    EXPECT_LE(p.footprint_bytes, 8192u) << describe(p);
    EXPECT_EQ(p.double_buffer, double_buffer);
    check_conservation(p, "fits");
  }
}

TEST(Mapper, AScratchpadTooSmallForTheSmallestTilingIsAnInputError) {
  TargetSpec spec;
  const GemmShape shape{64, 64, 64};
  // The smallest tiling is 8×8×8: A 8 rows · row_bytes(8 · 4 = 32 bits) = 8 · 16 = 128;
  // B 8 · 16 = 128; C 8 · row_bytes(8 · 32 = 256 bits) = 8 · 32 = 256; 128 + 128 + 256 = 512,
  // twice that double-buffered: 1024.
  spec.scratchpad_bytes = 1023;
  EXPECT_THROW(
      map_op(gemm_op(shape), shape, kGemmBits, mapper_params(true, true), make_target(spec), ""),
      InputError);
  EXPECT_NE(error_of([&] {
              map_op(gemm_op(shape), shape, kGemmBits, mapper_params(true, true), make_target(spec),
                     "");
            }).find("no tiling fits the scratchpad of 1023 bytes"),
            std::string::npos);
  spec.scratchpad_bytes = 1024;
  const OpPlan fits =
      map_op(gemm_op(shape), shape, kGemmBits, mapper_params(true, true), make_target(spec), "");
  EXPECT_EQ(fits.tm, 8u);
  EXPECT_EQ(fits.tn, 8u);
  EXPECT_EQ(fits.tk, 8u);
  EXPECT_EQ(fits.footprint_bytes, 1024u);
  // Single-buffered the same tiling needs 512.
  spec.scratchpad_bytes = 511;
  EXPECT_THROW(
      map_op(gemm_op(shape), shape, kGemmBits, mapper_params(true, false), make_target(spec), ""),
      InputError);
  spec.scratchpad_bytes = 512;
  EXPECT_EQ(
      map_op(gemm_op(shape), shape, kGemmBits, mapper_params(true, false), make_target(spec), "")
          .footprint_bytes,
      512u);
}

TEST(Mapper, AForcedSplitIsHonoured) {
  TargetSpec spec;
  spec.cores = 4;
  const GemmShape shape{37, 48, 40};
  const Op op = gemm_op(shape);
  const MapperTarget target = make_target(spec);

  const OpPlan m = map_op(op, shape, kGemmBits, mapper_params(true, true), target, "m");
  EXPECT_EQ(m.split, Split::kM);
  EXPECT_EQ(m.cores, 4u);
  EXPECT_EQ(m.chunk, 10u);            // ceil(37 / 4)
  EXPECT_EQ(m.core_shape(0).m, 10u);  // [0, 10)
  EXPECT_EQ(m.core_shape(3).m, 7u);   // [30, 37): 37 − 30
  EXPECT_EQ(m.core_shape(3).n, 48u);  // n and k are not split
  EXPECT_EQ(m.core_shape(3).k, 40u);
  EXPECT_EQ(m.shared_operand, 1);  // every core needs all of B: broadcast it

  const OpPlan n = map_op(op, shape, kGemmBits, mapper_params(true, true), target, "n");
  EXPECT_EQ(n.split, Split::kN);
  EXPECT_EQ(n.chunk, 12u);         // ceil(48 / 4)
  EXPECT_EQ(n.shared_operand, 0);  // every core needs all of A

  const OpPlan k = map_op(op, shape, kGemmBits, mapper_params(true, true), target, "k");
  EXPECT_EQ(k.split, Split::kK);
  EXPECT_EQ(k.chunk, 10u);          // ceil(40 / 4)
  EXPECT_EQ(k.shared_operand, -1);  // each core reads its own part of both

  const OpPlan own = map_op(op, shape, kGemmBits, mapper_params(false, true), target, "m");
  EXPECT_EQ(own.split, Split::kM);
  EXPECT_EQ(own.shared_operand, -1);  // share_operands off: each core reads B itself

  // The config's split applies when the op names none; the op's own split overrides it.
  MapperParams by_config = mapper_params(true, true);
  by_config.split = "k";
  EXPECT_EQ(map_op(op, shape, kGemmBits, by_config, target, "").split, Split::kK);
  EXPECT_EQ(map_op(op, shape, kGemmBits, by_config, target, "n").split, Split::kN);

  // An element-wise op has only M to split.
  const GemmShape elements{1000, 1, 1};
  const OpPlan v =
      map_op(vector_op(1000), elements, kVectorBits, mapper_params(true, true), target, "n");
  EXPECT_EQ(v.split, Split::kM);
  EXPECT_EQ(v.chunk, 250u);  // 1000 / 4
  EXPECT_TRUE(v.elementwise);
  EXPECT_EQ(v.shared_operand, -1);  // no B to share

  EXPECT_NE(error_of([&] {
              map_op(op, shape, kGemmBits, mapper_params(true, true), target, "x");
            }).find("op \"g\": expected a split of \"m\", \"n\" or \"k\", found \"x\""),
            std::string::npos);
}

TEST(Mapper, FixedTileSizesAreCappedByTheCorePart) {
  TargetSpec spec;
  spec.cores = 2;
  const GemmShape shape{64, 48, 40};
  MapperParams params = mapper_params(true, true);
  params.tile_m = 16;
  params.tile_n = 100;  // more than N = 48: the whole of it
  params.tile_k = 24;
  const OpPlan p = map_op(gemm_op(shape), shape, kGemmBits, params, make_target(spec), "m");
  EXPECT_EQ(p.tm, 16u);
  EXPECT_EQ(p.tn, 48u);  // min(100, 48)
  EXPECT_EQ(p.tk, 24u);
  EXPECT_EQ(p.m_tiles, 2u);  // chunk ceil(64 / 2) = 32, 32 / 16 = 2
  EXPECT_EQ(p.n_tiles, 1u);
  EXPECT_EQ(p.k_tiles, 2u);  // ceil(40 / 24): tiles of 24 and 16
  check_conservation(p, "fixed");
}

TEST(Mapper, ABroadcastOperandIsReadOncePerTileIndex) {
  TargetSpec spec;
  spec.cores = 2;
  const GemmShape shape{64, 48, 40};
  MapperParams params = mapper_params(true, true);
  params.tile_m = 16;  // chunk ceil(64 / 2) = 32: 2 m tiles per core
  params.tile_n = 48;  // n and k whole: 1 tile each
  params.tile_k = 40;
  const OpPlan p = map_op(gemm_op(shape), shape, kGemmBits, params, make_target(spec), "m");
  EXPECT_EQ(p.tn, 48u);
  EXPECT_EQ(p.tk, 40u);
  EXPECT_EQ(p.shared_operand, 1);
  // With one k tile, n outermost keeps the broadcast B tile for both m tiles: B is read once
  // (960) instead of once per m tile (2 · 960); compute, the ring (1 broadcast instead of 2) and
  // the DRAM time are no worse, so the order with less traffic wins.
  EXPECT_FALSE(p.m_outer);
  // A: each core its own 32 rows · 20 bytes = 640, once (n_tiles = 1); 2 · 640 = 1280.
  // B: 40 · 24 = 960, once for both cores. 1280 + 960 = 2240.
  EXPECT_EQ(p.dram_read_bytes, 2240u);
  EXPECT_EQ(p.dram_write_bytes, 6144u);  // 64 · 48 · 2 bytes

  const TileWork c0t0 = p.tile(0, 0), c0t1 = p.tile(0, 1), c1t0 = p.tile(1, 0);
  ASSERT_EQ(c0t0.load_count, 2);
  EXPECT_EQ(c0t0.loads[0].operand, 0u);
  EXPECT_EQ(c0t0.loads[0].row, 0u);
  EXPECT_EQ(c0t0.loads[0].bytes, 320u);  // 16 rows · 20 bytes
  EXPECT_FALSE(c0t0.loads[0].shared);
  EXPECT_EQ(c0t0.loads[1].operand, 1u);
  EXPECT_EQ(c0t0.loads[1].bytes, 960u);
  EXPECT_TRUE(c0t0.loads[1].shared);
  // The second m tile reuses B: only A, rows from 16.
  ASSERT_EQ(c0t1.load_count, 1);
  EXPECT_EQ(c0t1.loads[0].operand, 0u);
  EXPECT_EQ(c0t1.loads[0].row, 16u);
  // Core 1's part starts at row 32; it takes the same broadcast B tile.
  ASSERT_EQ(c1t0.load_count, 2);
  EXPECT_EQ(c1t0.loads[0].row, 32u);
  EXPECT_TRUE(c1t0.loads[1].shared);
  EXPECT_EQ(c1t0.loads[1].row, 0u);
  EXPECT_EQ(c1t0.loads[1].col, 0u);
  check_conservation(p, "broadcast");
}

TEST(Mapper, AKSplitStoresSharesOfTheReducedOutput) {
  TargetSpec spec;
  spec.cores = 4;
  const GemmShape shape{5, 5, 9};
  const OpPlan p =
      map_op(gemm_op(shape), shape, kGemmBits, mapper_params(true, true), make_target(spec), "k");
  EXPECT_EQ(p.split, Split::kK);
  EXPECT_EQ(p.chunk, 3u);            // ceil(9 / 4): parts of 3, 3, 3 and 0
  EXPECT_EQ(p.core_shape(3).k, 0u);  // 9 − 9
  // Core 0's part is 5×5×3: under 8 in every dimension, the whole is the only candidate tile.
  EXPECT_EQ(p.tiles_per_core(), 1u);
  // Output tile 5 rows · ceil(5 · 16 / 8) = 10 bytes = 50; core c stores
  // 50·(c+1)/4 − 50·c/4: 12 − 0, 25 − 12, 37 − 25, 50 − 37 = 12, 13, 12, 13.
  const uint64_t expected[] = {12, 13, 12, 13};
  for (uint64_t c = 0; c < 4; ++c) {
    const TileWork w = p.tile(c, 0);
    EXPECT_EQ(w.store_bytes, expected[c]) << "core " << c;
    EXPECT_EQ(w.reduce_bytes, 100u);  // 5 rows · ceil(5 · 32 / 8) = 20 bytes
  }
  EXPECT_EQ(p.tile(3, 0).load_count, 0);  // no k of its own: nothing to load
  EXPECT_EQ(p.dram_write_bytes, 50u);
  // A: 3 cores · 5 rows · ceil(3 · 4 / 8) = 2 bytes = 30; B: 3 cores · 3 rows · ceil(5 · 4 / 8)
  // = 3 bytes = 27; 30 + 27 = 57.
  EXPECT_EQ(p.dram_read_bytes, 57u);
  check_conservation(p, "k split");
}

// The sweep: every tile of every plan moves what the plan accounts for.
TEST(Mapper, TilesConserveTrafficAndMacsAcrossASweep) {
  const std::vector<GemmShape> shapes = {{64, 48, 40}, {37, 29, 53}, {100, 9, 17},
                                         {9, 70, 5},   {5, 3, 130},  {1, 1, 1}};
  struct Setting {
    uint64_t scratchpad_bytes;
    double dram_bytes_per_cycle;
    uint64_t tile_m, tile_n, tile_k;
  };
  const std::vector<Setting> settings = {{2048, 64, 0, 0, 0},         {8192, 64, 0, 0, 0},
                                         {8192, 4, 0, 0, 0},          {1ull << 20, 64, 0, 0, 0},
                                         {1ull << 20, 64, 24, 8, 24}, {1ull << 20, 64, 8, 24, 0}};
  uint64_t n_outer = 0, multi_k = 0, shared = 0, k_split = 0, idle_core = 0;
  for (const GemmShape& shape : shapes) {
    for (const uint64_t cores : {1u, 2u, 4u}) {
      for (const char* forced : {"", "m", "n", "k"}) {
        for (const bool share : {true, false}) {
          for (const bool double_buffer : {true, false}) {
            for (const Setting& s : settings) {
              TargetSpec spec;
              spec.cores = cores;
              spec.scratchpad_bytes = s.scratchpad_bytes;
              spec.dram_bytes_per_cycle = s.dram_bytes_per_cycle;
              MapperParams params = mapper_params(share, double_buffer);
              params.tile_m = s.tile_m;
              params.tile_n = s.tile_n;
              params.tile_k = s.tile_k;
              const OpPlan p =
                  map_op(gemm_op(shape), shape, kGemmBits, params, make_target(spec), forced);
              std::ostringstream label;
              label << "shape " << shape.m << "x" << shape.n << "x" << shape.k << " cores " << cores
                    << " forced '" << forced << "' share " << share << " db " << double_buffer
                    << " scratchpad " << s.scratchpad_bytes;
              check_conservation(p, label.str());
              // C is FP16: 2 bytes per element, stored once whatever the tiling.
              EXPECT_EQ(p.dram_write_bytes, shape.m * shape.n * 2) << label.str();
              EXPECT_LE(p.footprint_bytes, s.scratchpad_bytes) << label.str();
              EXPECT_EQ(p.footprint_bytes, gemm_footprint(p)) << label.str();
              n_outer += p.m_outer ? 0 : 1;
              multi_k += p.k_tiles > 1 ? 1 : 0;
              shared += p.shared_operand >= 0 ? 1 : 0;
              k_split += p.split == Split::kK ? 1 : 0;
              for (uint64_t c = 0; c < p.cores; ++c) {
                const GemmShape part = p.core_shape(c);
                if (part.m * part.n * part.k == 0) {
                  ++idle_core;
                  break;
                }
              }
            }
          }
        }
      }
    }
  }
  // The sweep reaches both loop orders, k tiling, broadcasts, k splits and idle cores.
  EXPECT_GT(n_outer, 0u);
  EXPECT_GT(multi_k, 0u);
  EXPECT_GT(shared, 0u);
  EXPECT_GT(k_split, 0u);
  EXPECT_GT(idle_core, 0u);
}

TEST(Mapper, ElementwiseTilesConserveTrafficAcrossASweep) {
  uint64_t multi_tile = 0;
  for (const uint64_t elements : {1000u, 999u, 37u, 8u, 3u, 1u}) {
    for (const uint64_t cores : {1u, 2u, 4u}) {
      for (const char* forced : {"", "m", "n", "k"}) {
        for (const bool double_buffer : {true, false}) {
          for (const uint64_t scratchpad : {64u, 256u, 1u << 20}) {
            TargetSpec spec;
            spec.cores = cores;
            spec.scratchpad_bytes = scratchpad;
            const GemmShape shape{elements, 1, 1};
            const OpPlan p = map_op(vector_op(elements), shape, kVectorBits,
                                    mapper_params(true, double_buffer), make_target(spec), forced);
            std::ostringstream label;
            label << "elements " << elements << " cores " << cores << " forced '" << forced
                  << "' db " << double_buffer << " scratchpad " << scratchpad;
            EXPECT_TRUE(p.elementwise) << label.str();
            EXPECT_EQ(p.split, cores > 1 ? Split::kM : Split::kNone) << label.str();
            EXPECT_EQ(p.tn, 1u);
            EXPECT_EQ(p.tk, 1u);
            EXPECT_LE(p.footprint_bytes, scratchpad) << label.str();
            check_conservation(p, label.str());
            multi_tile += p.tiles_per_core() > 1 ? 1 : 0;
          }
        }
      }
    }
  }
  EXPECT_GT(multi_tile, 0u);  // the small scratchpads force tiling
}

TEST(Mapper, ElementwiseTrafficIsPackedAcrossTheWholeTile) {
  TargetSpec spec;
  spec.cores = 2;
  const GemmShape shape{999, 1, 1};
  MapperParams params = mapper_params(true, true);
  params.tile_m = 1000;  // capped to the core's part: one tile per core
  const OpPlan p = map_op(vector_op(999), shape, kVectorBits, params, make_target(spec), "");
  EXPECT_EQ(p.chunk, 500u);  // ceil(999 / 2): parts of 500 and 499
  EXPECT_EQ(p.tm, 500u);     // min(1000, 500)
  ASSERT_EQ(p.tiles_per_core(), 1u);
  // Reads: 999 elements · 2 bytes = 1998. Writes, 4 bits each, per tile: ceil(500 · 4 / 8) = 250
  // and ceil(499 · 4 / 8) = 250 (249.5 rounded up): 500.
  EXPECT_EQ(p.dram_read_bytes, 1998u);
  EXPECT_EQ(p.dram_write_bytes, 500u);
  // Footprint: 2 · (row_bytes(500 · 16 = 8000 bits) = 1008 + row_bytes(500 · 4 = 2000) = 256)
  // = 2 · 1264 = 2528.
  EXPECT_EQ(p.footprint_bytes, 2528u);
  check_conservation(p, "elementwise");
}

// The cache's key: the op's name, deps and tensor paths leave the plan alone; every other field
// of the op, and the unit slot, may change it.
TEST(PlanCache, KeyIgnoresNameDepsAndTensorsOnly) {
  Op base = gemm_op({64, 64, 64});
  base.conv = ConvShape{};
  base.vector = VectorShape{16, "relu"};
  const std::string key = PlanCache::key(0, base);

  Op renamed = base;
  renamed.name = "other";
  renamed.deps = {"a", "b"};
  renamed.deps_listed = true;
  renamed.tensors = OpTensors{"a.npy", "b.npy", "", "", "", 2.0, 3};
  EXPECT_EQ(PlanCache::key(0, renamed), key);

  EXPECT_NE(PlanCache::key(1, base), key);
  const std::vector<void (*)(Op&)> changes = {
      [](Op& o) { o.type = OpType::kConv2d; },
      [](Op& o) { o.pass = Pass::kBwdData; },
      [](Op& o) { o.precision.a = Precision::kUint4; },
      [](Op& o) { o.precision.b = Precision::kFp4; },
      [](Op& o) { o.precision.out = Precision::kFp32; },
      [](Op& o) { o.gemm.m = 65; },
      [](Op& o) { o.gemm.n = 65; },
      [](Op& o) { o.gemm.k = 65; },
      [](Op& o) { o.gemm_batch = 2; },
      [](Op& o) { o.conv.reset(); },
      [](Op& o) { o.conv->batch = 2; },
      [](Op& o) { o.conv->c = 1; },
      [](Op& o) { o.conv->h = 1; },
      [](Op& o) { o.conv->w = 1; },
      [](Op& o) { o.conv->filters = 1; },
      [](Op& o) { o.conv->r = 1; },
      [](Op& o) { o.conv->s = 1; },
      [](Op& o) { o.conv->stride = 2; },
      [](Op& o) { o.conv->padding = 1; },
      [](Op& o) { o.conv->groups = 2; },
      [](Op& o) { o.lowering = "im2col"; },
      [](Op& o) { o.vector.reset(); },
      [](Op& o) { o.vector->elements = 17; },
      [](Op& o) { o.vector->function = "gelu"; },
      [](Op& o) { o.split = "k"; },
      [](Op& o) { o.fp4_phase = "even"; },
  };
  for (std::size_t i = 0; i < changes.size(); ++i) {
    Op changed = base;
    changes[i](changed);
    EXPECT_NE(PlanCache::key(0, changed), key) << "change " << i;
  }
}

// A plan taken from the cache is the one map_op made; a full cache starts again empty.
TEST(PlanCache, ReturnsThePlanAddedAndStaysBounded) {
  const Op op = gemm_op({100, 60, 300});
  const OpPlan made =
      map_op(op, op.gemm, kGemmBits, mapper_params(true, true), make_target(TargetSpec{}), "");
  PlanCache cache(2);
  EXPECT_EQ(cache.find(PlanCache::key(0, op)), nullptr);
  cache.add(PlanCache::key(0, op), made);
  const OpPlan* found = cache.find(PlanCache::key(0, op));
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->to_json(), made.to_json());
  cache.add(PlanCache::key(1, op), made);
  EXPECT_EQ(cache.size(), 2u);
  cache.add(PlanCache::key(2, op), made);  // full at 2: emptied, then this one added
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find(PlanCache::key(0, op)), nullptr);
  EXPECT_NE(cache.find(PlanCache::key(2, op)), nullptr);
}

}  // namespace
}  // namespace nibble
