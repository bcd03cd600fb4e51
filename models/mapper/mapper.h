// The mapper: lays one op onto the cores and their scratchpads.
//
// An op is a GEMM C[M×N] = A[M×K]·B[K×N] (element-wise ops are M = elements, N = K = 1, no B).
//
// Split across cores (P cores): over M (`m`: the batch and pixels of a forward or data-gradient
// GEMM), over N (`n`: output channels), or over K (`k`: the reduction, i.e. the batch of a
// weight-gradient GEMM; partial outputs are summed over the ring by a reduce-scatter, then each
// core stores its share). Each core takes a chunk of ceil(D / P) of the split dimension (the last
// ones may get less or nothing). With `share_operands`, the operand every core needs whole (B for
// an `m` split, A for an `n` split) is read from DRAM once per tile and broadcast over the ring.
//
// Tiling: each core's part is cut into tiles tm×tn×tk; k is innermost, so an output tile stays in
// the scratchpad while its k tiles accumulate and is stored once. When k fits one tile, the
// operand of the outer loop is loaded once and reused by the inner loop's tiles. A tiling fits
// when buffers·(A tile + B tile) + buffers·(C tile at partial-sum width) <= scratchpad bytes,
// with buffers = 2 when double-buffering (loads of the next tile overlap the compute of this one)
// and 1 otherwise; tile rows are laid out at the scratchpad's pitch.
//
// Batched ops (a batched matmul, a grouped convolution: `gemm_batch` independent GEMMs of one
// shape): each instance is planned as above and instances run one after another. When there are
// at least as many instances as cores, whole instances are dealt to the cores instead (instance
// i to core i mod P, no split inside an instance, nothing shared or reduced); the report's split
// is then "batch".
//
// Choice (documented heuristic): every split and every tiling (each dimension from the powers
// of two >= 8 below it, and the whole dimension; both loop orders) that fits is scored by an
// estimate of its cycles: core 0's tiles replayed through the core's pipeline (loads, compute,
// stores and the buffers between them on one in-order DMA engine at the core's share of the DRAM
// bandwidth plus its latency; see replay() in mapper.cpp; a plan of more than 1024 tiles is
// replayed for a prefix of whole periods of its tile sequence and extrapolated at its steady
// rate). Only tilings whose tile loads are large enough to keep the DRAM streaming
// (MapperTarget::streaming_bytes) compete, when there are any. The choice walks them from the
// smallest footprint up and moves to a larger one only when its estimate beats the current
// choice's by more than mapper.margin (10%; ties of footprint go to the least DRAM traffic, then
// the order m, n, k and larger tiles). A larger scratchpad only appends tilings of larger
// footprint to that walk, so it changes the choice only for one estimated faster by more than the
// margin: the choice does not follow estimate differences smaller than the estimate's error (the
// replay does not see the DRAM controller's row conflicts and write drains, so on DRAM-bound ops
// its estimates are low by up to a third). A split named in the config (mapper.split) or on the op
// (`split` in the trace) overrides the choice of split; mapper.tile_m/_n/_k fix the tile sizes
// (capped by each core's part), for RTL comparisons and tests.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

#include "models/interfaces/memory.h"
#include "sim/config.h"
#include "sim/workload.h"

namespace nibble {

enum class Split { kNone, kM, kN, kK };
const char* to_string(Split split);

struct MapperParams {
  std::string split = "auto";  // auto | m | n | k
  bool double_buffer = true;   // two tile buffers, loads overlap compute
  bool share_operands = true;  // broadcast the operand all cores need over the ring
  uint64_t tile_m = 0, tile_n = 0, tile_k = 0;  // fixed tile sizes (0: the heuristic chooses)
  // A tiling of larger footprint replaces a smaller one only when estimated faster by more than
  // this share (see "Choice" above); 0 takes the best estimate.
  double margin = 0.1;

  void read(ConfigNode& node);
  Json describe() const;
};

// What the mapper knows of the hardware an op runs on.
struct MapperTarget {
  uint64_t cores = 1;
  bool whole_tiles = false;  // one tile per core (ideal memory): only the split is chosen
  uint64_t scratchpad_bytes = 0;
  std::function<uint64_t(uint64_t row_bits)> row_bytes;      // scratchpad bytes of a tile row
  std::function<uint64_t(const GemmShape&)> compute_cycles;  // one tile on the op's unit
  double dram_bytes_per_cycle = 1;
  double core_bytes_per_cycle = 1e30;  // what one core's DMA can keep in flight per cycle
  uint64_t dram_latency_cycles = 0;
  // A tile's loads of at least this many bytes keep the DRAM streaming (a row of every channel);
  // smaller ones leave it too few requests to find row hits in. 0: any size is as good.
  uint64_t streaming_bytes = 0;
  std::function<uint64_t(uint64_t bytes)> broadcast_cycles;       // ring
  std::function<uint64_t(uint64_t bytes)> reduce_scatter_cycles;  // ring
};

// One load a tile needs.
struct TileLoad {
  uint32_t operand = 0;       // 0: A, 1: B
  uint64_t row = 0, col = 0;  // the tile's coordinates in the operand (for the shared buffer)
  uint64_t rows = 0;          // the tile's rows (for its DRAM address)
  uint64_t bytes = 0;         // DRAM bytes (rows packed, no padding)
  uint64_t footprint = 0;     // scratchpad bytes (rows at the pitch)
  bool shared = false;        // the same tile every core loads at this index (broadcast)
};

// One tile of one core, in the order the core runs them.
struct TileWork {
  GemmShape shape;  // 0 in a dimension: this core has nothing at this index
  TileLoad loads[2];
  int load_count = 0;
  bool first_k = false, last_k = false;  // first / last k tile of its output tile
  uint64_t in_footprint = 0;             // scratchpad bytes of its A and B tiles (loaded or kept)
  uint64_t out_footprint = 0;            // scratchpad bytes of the output tile (partial sums)
  uint64_t store_bytes = 0;              // DRAM bytes this core stores after it (last_k)
  uint64_t out_row = 0, out_col = 0;     // the output tile's coordinates in the result
  uint64_t store_offset = 0;             // where this core's share starts in the stored tile
  uint64_t reduce_bytes = 0;             // partial-sum bytes reduced over the ring first (k split)
};

struct OpPlan {
  Split split = Split::kNone;
  uint64_t cores = 1;
  GemmShape whole;     // the op
  uint64_t chunk = 0;  // extent of the split dimension per core
  uint64_t tm = 0, tn = 0, tk = 0;
  bool m_outer = true;
  bool double_buffer = true;
  bool elementwise = false;  // M elements, no B operand
  int shared_operand = -1;   // 0: A, 1: B, -1: none
  TileBits bits;
  uint64_t m_tiles = 0, n_tiles = 0, k_tiles = 0;  // per core (every core runs as many)
  uint64_t footprint_bytes = 0;                    // scratchpad bytes the tiling needs
  // What the plan moves, over all cores.
  uint64_t dram_read_bytes = 0, dram_write_bytes = 0;
  uint64_t estimate_cycles = 0;
  std::function<uint64_t(uint64_t)> row_bytes;

  uint64_t instances = 1;       // independent GEMMs of shape `whole` (Op::gemm_batch)
  uint64_t instance_cores = 1;  // > 1: whole instances dealt round-robin to this many cores

  uint64_t tiles_per_instance() const { return m_tiles * n_tiles * k_tiles; }
  uint64_t instances_per_core() const { return (instances + instance_cores - 1) / instance_cores; }
  uint64_t tiles_per_core() const { return instances_per_core() * tiles_per_instance(); }
  uint64_t outputs_per_core() const { return instances_per_core() * m_tiles * n_tiles; }
  uint64_t active_cores() const { return cores * instance_cores; }
  // The core's part of the op: [begin, end) of the split dimension.
  GemmShape core_shape(uint64_t core) const;
  TileWork tile(uint64_t core, uint64_t index) const;
  // Tile `index` of one instance on `core` (core as in the split inside an instance).
  TileWork instance_tile(uint64_t core, uint64_t index) const;
  // DRAM bytes of the whole operand (0: A or the element-wise input, 1: B), packed as tiles are.
  uint64_t operand_bytes(uint32_t operand) const;
  // Where in its operand's DRAM region (0: A, 1: B, 2: the result) the tile at (`row`, `col`) of
  // `rows` rows starts. Operands are laid out as tiles: each block row (the tiles that start at
  // one row) holds its tiles one after another, each contiguous, so a tile moves as one run of
  // addresses.
  uint64_t offset(uint32_t operand, uint64_t row, uint64_t col, uint64_t rows) const;
  Json to_json() const;
};

// Maps `op` (its GEMM shape; element-wise ops as {elements, 1, 1}). `forced`: the op's own split
// ("" for none). Throws InputError when no tiling fits the scratchpad.
OpPlan map_op(const Op& op, const GemmShape& shape, const TileBits& bits,
              const MapperParams& params, const MapperTarget& target, const std::string& forced);

// The plans already made, for traces that repeat an op (every layer of a network, every step of a
// stream): map_op is a function of the op and the target alone, so an op equal to an earlier one
// on the same unit slot, in everything but its name, deps and tensors (which no timing reads),
// takes the earlier plan. Bounded: when full it starts again empty.
class PlanCache {
 public:
  explicit PlanCache(std::size_t capacity = 4096) : capacity_(capacity) {}
  // What identifies an op's plan on `slot`.
  static std::string key(std::size_t slot, const Op& op);
  const OpPlan* find(const std::string& key) const;
  void add(std::string key, const OpPlan& plan);
  std::size_t size() const { return plans_.size(); }

 private:
  std::size_t capacity_;
  std::unordered_map<std::string, OpPlan> plans_;
};

}  // namespace nibble
