#include "models/mapper/mapper.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <tuple>
#include <vector>

#include "sim/error.h"

namespace nibble {

namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
// DRAM bytes of a rows×cols tile: rows packed one after another (a GEMM operand's tile is a
// block of a row-major matrix); an element-wise op's tile (rows×1) is one contiguous run.
uint64_t packed(const OpPlan& p, uint64_t rows, uint64_t cols, uint64_t bits) {
  return p.elementwise ? ceil_div(rows * cols * bits, 8) : rows * ceil_div(cols * bits, 8);
}
// Scratchpad bytes of the same tile, rows at the scratchpad's pitch.
uint64_t laid_out(const OpPlan& p, uint64_t rows, uint64_t cols, uint64_t bits) {
  if (bits == 0) return 0;
  return p.elementwise ? p.row_bytes(rows * cols * bits) : rows * p.row_bytes(cols * bits);
}

// The tile sizes of an extent cut into tiles of `t`: (size, count), at most two classes.
struct Class {
  uint64_t size = 0, count = 0;
};
struct Classes {  // in place (the estimates call this per tile shape, millions of times)
  Class c[2];
  std::size_t n = 0;
  const Class* begin() const { return c; }
  const Class* end() const { return c + n; }
};
Classes classes(uint64_t extent, uint64_t t) {
  Classes out;
  if (extent == 0) return out;
  if (extent / t > 0) out.c[out.n++] = {t, extent / t};
  if (extent % t > 0) out.c[out.n++] = {extent % t, 1};
  return out;
}

// Size of tile `i` of an extent cut into tiles of `t` (0 past the end).
uint64_t tile_size(uint64_t extent, uint64_t t, uint64_t i) {
  return i * t >= extent ? 0 : std::min(t, extent - i * t);
}

// Candidate tile sizes of a dimension: the whole, then powers of two >= 8 below it, largest first.
std::vector<uint64_t> candidates(uint64_t extent, bool whole_only, uint64_t fixed) {
  std::vector<uint64_t> out = {std::max<uint64_t>(extent, 1)};
  if (fixed > 0) return {std::max<uint64_t>(1, std::min(fixed, extent))};
  if (whole_only) return out;
  uint64_t p = 8;
  while (p * 2 < extent) p *= 2;
  for (; p >= 8; p /= 2) {
    if (p < extent) out.push_back(p);
  }
  return out;
}

// Extent of `dim` (0 m, 1 n, 2 k) on `core` when `split` cuts it into chunks of `chunk`.
uint64_t extent_on(const GemmShape& whole, Split split, uint64_t chunk, uint64_t core, int dim) {
  const uint64_t full = dim == 0 ? whole.m : dim == 1 ? whole.n : whole.k;
  const bool cut = (split == Split::kM && dim == 0) || (split == Split::kN && dim == 1) ||
                   (split == Split::kK && dim == 2);
  if (!cut) return full;
  const uint64_t begin = core * chunk;
  return begin >= full ? 0 : std::min(chunk, full - begin);
}

// Exact DRAM traffic of a plan, over all cores, by tile classes (independent of OpPlan::tile).
void traffic(OpPlan& p) {
  p.dram_read_bytes = 0;
  p.dram_write_bytes = 0;
  const bool reuse_a = p.k_tiles == 1 && p.m_outer, reuse_b = p.k_tiles == 1 && !p.m_outer;
  for (uint64_t c = 0; c < p.cores; ++c) {
    const uint64_t em = extent_on(p.whole, p.split, p.chunk, c, 0);
    const uint64_t en = extent_on(p.whole, p.split, p.chunk, c, 1);
    const uint64_t ek = extent_on(p.whole, p.split, p.chunk, c, 2);
    if (em == 0 || en == 0 || ek == 0) {
      // An idle core loads nothing of its own; it only receives broadcasts. A k-split core
      // with no k still stores its share of the reduced outputs (added below).
    } else {
      uint64_t a_once = 0, b_once = 0;
      for (const Class& m : classes(em, p.tm)) {
        for (const Class& k : classes(ek, p.tk))
          a_once += m.count * k.count * packed(p, m.size, k.size, p.bits.a);
      }
      for (const Class& k : classes(ek, p.tk)) {
        for (const Class& n : classes(en, p.tn))
          b_once += k.count * n.count * packed(p, k.size, n.size, p.bits.b);
      }
      const uint64_t n_tiles = ceil_div(en, p.tn), m_tiles = ceil_div(em, p.tm);
      if (p.shared_operand != 0) p.dram_read_bytes += reuse_a ? a_once : a_once * n_tiles;
      if (p.shared_operand != 1) p.dram_read_bytes += reuse_b ? b_once : b_once * m_tiles;
    }
    if (p.split != Split::kK) {
      for (const Class& m : classes(em, p.tm)) {
        for (const Class& n : classes(en, p.tn))
          p.dram_write_bytes += m.count * n.count * packed(p, m.size, n.size, p.bits.out);
      }
    }
  }
  if (p.split == Split::kK) {
    for (const Class& m : classes(p.whole.m, p.tm)) {
      for (const Class& n : classes(p.whole.n, p.tn))
        p.dram_write_bytes += m.count * n.count * packed(p, m.size, n.size, p.bits.out);
    }
  }
  // A broadcast operand is read once per loop iteration that loads it, whatever the cores.
  if (p.shared_operand == 1) {
    uint64_t b_once = 0;
    for (const Class& k : classes(p.whole.k, p.tk)) {
      for (const Class& n : classes(p.whole.n, p.tn))
        b_once += k.count * n.count * packed(p, k.size, n.size, p.bits.b);
    }
    p.dram_read_bytes += p.k_tiles == 1 && !p.m_outer ? b_once : b_once * p.m_tiles;
  } else if (p.shared_operand == 0) {
    uint64_t a_once = 0;
    for (const Class& m : classes(p.whole.m, p.tm)) {
      for (const Class& k : classes(p.whole.k, p.tk))
        a_once += m.count * k.count * packed(p, m.size, k.size, p.bits.a);
    }
    p.dram_read_bytes += p.k_tiles == 1 && p.m_outer ? a_once : a_once * p.n_tiles;
  }
  // Instances share nothing.
  p.dram_read_bytes *= p.instances;
  p.dram_write_bytes *= p.instances;
}

uint64_t footprint(const OpPlan& p) {
  const uint64_t buffers = p.double_buffer ? 2 : 1;
  const uint64_t a = laid_out(p, p.tm, p.tk, p.bits.a);
  const uint64_t b = laid_out(p, p.tk, p.tn, p.bits.b);
  const uint64_t c = laid_out(p, p.tm, p.tn, p.bits.psum);
  return buffers * (a + b + c);
}

// A core's share of the DRAM bandwidth, in bytes per cycle: the chip's divided among the cores
// the op runs on, or what one DMA engine keeps in flight, whichever is less.
double core_bytes_per_cycle(const OpPlan& p, const MapperTarget& t) {
  return std::min(t.dram_bytes_per_cycle / static_cast<double>(p.active_cores()),
                  t.core_bytes_per_cycle);
}

// A lower bound of replay(): core 0's compute, and its DMA engine's share of every byte the plan
// moves at the core's bandwidth (core 0 has the largest chunk of a split, so at least the average
// share; the replay charges each transfer at least its bytes over that bandwidth). Candidates are
// replayed in the order of this bound until it passes what the choice can still take.
uint64_t lower_bound(const OpPlan& p, const MapperTarget& t) {
  uint64_t compute = 0;
  const uint64_t em = extent_on(p.whole, p.split, p.chunk, 0, 0);
  const uint64_t en = extent_on(p.whole, p.split, p.chunk, 0, 1);
  const uint64_t ek = extent_on(p.whole, p.split, p.chunk, 0, 2);
  for (const Class& m : classes(em, p.tm)) {
    for (const Class& n : classes(en, p.tn)) {
      for (const Class& k : classes(ek, p.tk)) {
        compute += m.count * n.count * k.count * t.compute_cycles({m.size, n.size, k.size});
      }
    }
  }
  compute *= p.instances_per_core();
  const double bytes = static_cast<double>(p.dram_read_bytes + p.dram_write_bytes) /
                       static_cast<double>(p.active_cores());
  return std::max(compute, static_cast<uint64_t>(bytes / core_bytes_per_cycle(p, t)));
}

// The estimate of a plan's cycles: core 0's tiles replayed through the pipeline a core runs
// (models/accelerator/core.h), with its one in-order DMA engine moving each transfer at the core's
// share of the DRAM bandwidth (bytes ÷ min(DRAM bytes per cycle ÷ cores, what the DMA keeps in
// flight)) and delivering it a latency later:
//   load i    asks when tile i-buffers has freed its input buffer;
//   compute i starts when tile i is in, tile i-1 is done and (at its first k step) an output buffer
//             is free; it takes compute_cycles (the unit, or the scratchpad feeding it if slower);
//   store     of an output tile asks when its last k step is done (after the ring's reduction, for
//             a k split); its buffer is free again once it is out.
// Requests take the DMA in the order they ask (a store first on a tie). A broadcast operand tile
// arrives a transfer, a latency and a ring broadcast after it was asked for, without holding this
// core's engine (its owner rotates over the cores). What the replay leaves out: other ops running
// at the same time, DRAM channel and bank effects beyond bandwidth and latency, shared-buffer hits.
//
// A plan of more than kReplayTiles tiles is replayed for a prefix of whole periods of its tile
// sequence (a row of output tiles, or else one output tile's k steps, or else single tiles: after
// the first rows every period repeats the one before, save the last row's edge tiles) and the rest
// is extrapolated at the rate of the prefix's second half, which is past the pipeline's warm-up.
// The estimate of a small plan is its full replay; a large one's costs at most kReplayTiles steps.
constexpr uint64_t kReplayTiles = 1024;

uint64_t replay(const OpPlan& p, const MapperTarget& t) {
  const uint64_t all_tiles = p.tiles_per_core();
  if (all_tiles == 0) return 0;
  uint64_t tiles = all_tiles;
  if (all_tiles > kReplayTiles) {
    const uint64_t row = p.k_tiles * (p.m_outer ? p.n_tiles : p.m_tiles);
    const uint64_t period = 2 * row <= kReplayTiles         ? row
                            : 2 * p.k_tiles <= kReplayTiles ? p.k_tiles
                                                            : 1;
    tiles = kReplayTiles / (2 * period) * 2 * period;  // an even number of periods
  }
  const uint64_t buffers = p.double_buffer ? 2 : 1;
  const double core_bpc = core_bytes_per_cycle(p, t);
  const uint64_t latency = t.dram_latency_cycles;
  const auto dma_cycles = [&](uint64_t bytes) { return transfer_cycles(bytes, core_bpc); };
  // A plan's tiles come in a few shapes (full and edge per dimension): price each once.
  std::vector<std::pair<GemmShape, uint64_t>> priced;
  const auto compute_cycles = [&](const GemmShape& shape) {
    for (const auto& [s, cycles] : priced) {
      if (s.m == shape.m && s.n == shape.n && s.k == shape.k) return cycles;
    }
    priced.emplace_back(shape, t.compute_cycles(shape));
    return priced.back().second;
  };

  std::vector<uint64_t> ready(tiles, 0), compute_end(tiles, 0);
  std::vector<uint64_t> out_free(buffers, 0);  // per output buffer (round robin), when it is free
  struct Store {
    uint64_t ask = 0, reduce = 0;
    uint64_t bytes = 0, buffer = 0;
  };
  std::vector<Store> stores;  // asked and not yet on the DMA, in order
  std::size_t next_store = 0;
  uint64_t dma_free = 0, end = 0;
  uint64_t loaded = 0, computed = 0, outputs = 0;
  std::vector<TileWork> work(tiles);
  for (uint64_t i = 0; i < tiles; ++i) work[i] = p.tile(0, i);
  const auto book_store = [&](const Store& s) {
    const uint64_t start = std::max(s.ask + s.reduce, dma_free);
    dma_free = start + dma_cycles(s.bytes);
    const uint64_t done = s.bytes > 0 ? dma_free + latency : s.ask + s.reduce;
    out_free[s.buffer] = done;
    end = std::max(end, done);
  };
  while (computed < tiles) {
    // Compute every tile whose inputs are known.
    while (computed < loaded) {
      const TileWork& c = work[computed];
      uint64_t start = std::max(ready[computed], computed > 0 ? compute_end[computed - 1] : 0);
      const uint64_t buffer = outputs % buffers;
      if (c.first_k) {
        // Output tile `outputs` reuses the buffer of output tile outputs - buffers, whose store
        // must be on the DMA to know when the buffer frees.
        if (outputs >= buffers && next_store <= outputs - buffers) break;
        start = std::max(start, out_free[buffer]);
      }
      const bool work_here = c.shape.m > 0 && c.shape.n > 0 && c.shape.k > 0;
      compute_end[computed] = start + (work_here ? compute_cycles(c.shape) : 0);
      end = std::max(end, compute_end[computed]);
      if (c.last_k) {
        const uint64_t reduce = c.reduce_bytes > 0 ? t.reduce_scatter_cycles(c.reduce_bytes) : 0;
        stores.push_back({compute_end[computed], reduce, c.store_bytes, buffer});
        ++outputs;
      }
      ++computed;
    }
    if (computed == tiles) break;
    // The next request to take the DMA: the next load, or a store that asked no later.
    const uint64_t load_ask = loaded >= buffers ? compute_end[loaded - buffers] : 0;
    const bool load_possible = loaded < tiles && (loaded < buffers || loaded - buffers < computed);
    if (next_store < stores.size() && (!load_possible || stores[next_store].ask <= load_ask)) {
      book_store(stores[next_store++]);
      continue;
    }
    if (!load_possible) break;  // cannot happen: a compute or a store always unblocks
    const TileWork& l = work[loaded];
    uint64_t in = load_ask;
    for (int k = 0; k < l.load_count; ++k) {
      const TileLoad& one = l.loads[k];
      if (one.shared && p.active_cores() > 1) {
        // The owner rotates over the cores: this engine carries its share of the tile.
        const uint64_t start = std::max(load_ask, dma_free);
        dma_free = start + dma_cycles(one.bytes / p.active_cores());
        in = std::max(in,
                      load_ask + dma_cycles(one.bytes) + latency + t.broadcast_cycles(one.bytes));
      } else {
        const uint64_t start = std::max(load_ask, dma_free);
        dma_free = start + dma_cycles(one.bytes);
        in = std::max(in, dma_free + latency);
      }
    }
    ready[loaded++] = in;
  }
  while (next_store < stores.size()) book_store(stores[next_store++]);
  if (tiles == all_tiles) return end;
  const uint64_t half = tiles / 2;
  const double rate = static_cast<double>(compute_end[tiles - 1] - compute_end[half - 1]) /
                      static_cast<double>(half);
  return end + static_cast<uint64_t>(std::llround(rate * static_cast<double>(all_tiles - tiles)));
}

Split parse_split(const std::string& text, const std::string& where) {
  if (text == "m") return Split::kM;
  if (text == "n") return Split::kN;
  if (text == "k") return Split::kK;
  throw InputError(where + ": expected a split of \"m\", \"n\" or \"k\", found \"" + text + "\"");
}

}  // namespace

const char* to_string(Split split) {
  switch (split) {
    case Split::kNone:
      return "none";
    case Split::kM:
      return "m";
    case Split::kN:
      return "n";
    case Split::kK:
      return "k";
  }
  return "?";
}

void MapperParams::read(ConfigNode& node) {
  split = node.get_choice("split", split, {"auto", "m", "n", "k"});
  double_buffer = node.get_bool("double_buffer", double_buffer);
  share_operands = node.get_bool("share_operands", share_operands);
  const auto tile = [&](const char* key, uint64_t& value) {
    value = static_cast<uint64_t>(node.get_int(key, 0, 0, int64_t{1} << 40));
  };
  tile("tile_m", tile_m);
  tile("tile_n", tile_n);
  tile("tile_k", tile_k);
  margin = node.get_double("margin", margin, 0, 10);
}

Json MapperParams::describe() const {
  return {{"split", split},
          {"double_buffer", double_buffer},
          {"share_operands", share_operands},
          {"tile_m", tile_m},
          {"tile_n", tile_n},
          {"tile_k", tile_k},
          {"margin", margin}};
}

GemmShape OpPlan::core_shape(uint64_t core) const {
  return {extent_on(whole, split, chunk, core, 0), extent_on(whole, split, chunk, core, 1),
          extent_on(whole, split, chunk, core, 2)};
}

TileWork OpPlan::tile(uint64_t core, uint64_t index) const {
  const uint64_t local = index / tiles_per_instance();
  const uint64_t instance = instance_cores > 1 ? local * instance_cores + core : local;
  if (instance >= instances) {
    // This core has no instance left: an empty tile that keeps the k-step bookkeeping.
    const uint64_t ki = index % tiles_per_instance() % k_tiles;
    TileWork w;
    w.first_k = ki == 0;
    w.last_k = ki + 1 == k_tiles;
    return w;
  }
  TileWork w = instance_tile(instance_cores > 1 ? 0 : core, index % tiles_per_instance());
  // Instance i's operands follow instance i - 1's in DRAM (distinct shared-buffer keys).
  for (int l = 0; l < w.load_count; ++l) {
    w.loads[l].row += instance * (w.loads[l].operand == 0 ? whole.m : whole.k);
  }
  w.out_row += instance * whole.m;
  return w;
}

TileWork OpPlan::instance_tile(uint64_t core, uint64_t index) const {
  const GemmShape e = core_shape(core);
  // Where this core's part starts in the op, per dimension.
  const uint64_t m0 = split == Split::kM ? core * chunk : 0;
  const uint64_t n0 = split == Split::kN ? core * chunk : 0;
  const uint64_t k0 = split == Split::kK ? core * chunk : 0;
  const uint64_t ki = index % k_tiles;
  const uint64_t outer = index / k_tiles;
  const uint64_t mi = m_outer ? outer / n_tiles : outer % m_tiles;
  const uint64_t ni = m_outer ? outer % n_tiles : outer / m_tiles;
  TileWork w;
  w.shape = {tile_size(e.m, tm, mi), tile_size(e.n, tn, ni), tile_size(e.k, tk, ki)};
  w.first_k = ki == 0;
  w.last_k = ki + 1 == k_tiles;
  const bool empty = w.shape.m == 0 || w.shape.n == 0 || w.shape.k == 0;
  const bool load_a = !(k_tiles == 1 && m_outer && ni > 0);
  const bool load_b = bits.b > 0 && !(k_tiles == 1 && !m_outer && mi > 0);
  // The shared operand's tile is the same on every core (its dimensions are not split).
  const uint64_t sk = shared_operand >= 0 ? tile_size(whole.k, tk, ki) : w.shape.k;
  // A and B tiles as this core holds them (the shared one whole, whatever this core's part).
  const uint64_t a_rows = shared_operand == 0 ? tile_size(whole.m, tm, mi) : w.shape.m;
  const uint64_t b_cols = shared_operand == 1 ? tile_size(whole.n, tn, ni) : w.shape.n;
  const uint64_t a_fp = laid_out(*this, a_rows, sk, bits.a);
  const uint64_t b_fp = laid_out(*this, sk, b_cols, bits.b);
  if (!empty || shared_operand == 0) w.in_footprint += a_fp;
  if (!empty || shared_operand == 1) w.in_footprint += b_fp;
  if (load_a && (shared_operand == 0 || !empty)) {
    w.loads[w.load_count++] = {
        0,    m0 + mi * tm,       k0 + ki * tk, a_rows, packed(*this, a_rows, sk, bits.a),
        a_fp, shared_operand == 0};
  }
  if (load_b && (shared_operand == 1 || !empty)) {
    w.loads[w.load_count++] = {
        1,    k0 + ki * tk,       n0 + ni * tn, sk, packed(*this, sk, b_cols, bits.b),
        b_fp, shared_operand == 1};
  }
  w.out_footprint = laid_out(*this, w.shape.m, w.shape.n, bits.psum);
  w.out_row = m0 + mi * tm;
  w.out_col = n0 + ni * tn;
  if (w.last_k) {
    const uint64_t out = packed(*this, w.shape.m, w.shape.n, bits.out);
    if (split == Split::kK) {
      // Every core holds the partial sums of the same output tile; after the reduction each
      // stores its share of the result.
      w.reduce_bytes = packed(*this, w.shape.m, w.shape.n, bits.psum);
      w.store_offset = out * core / cores;
      w.store_bytes = out * (core + 1) / cores - w.store_offset;
    } else {
      w.store_bytes = out;
    }
  }
  return w;
}

uint64_t OpPlan::offset(uint32_t operand, uint64_t row, uint64_t col, uint64_t rows) const {
  const uint64_t cols = operand == 0 ? whole.k : whole.n;
  const uint64_t b = operand == 0 ? bits.a : operand == 1 ? bits.b : bits.out;
  if (elementwise) return row * b / 8;
  return row * ceil_div(cols * b, 8) + rows * (col * b / 8);
}

uint64_t OpPlan::operand_bytes(uint32_t operand) const {
  return instances * (operand == 0 ? packed(*this, whole.m, whole.k, bits.a)
                                   : packed(*this, whole.k, whole.n, bits.b));
}

Json OpPlan::to_json() const {
  return {{"split", instance_cores > 1 ? "batch" : to_string(split)},
          {"cores", active_cores()},
          {"instances", instances},
          {"chunk", chunk},
          {"tile", {{"m", tm}, {"n", tn}, {"k", tk}}},
          {"loop", m_outer ? "m,n,k" : "n,m,k"},
          {"tiles_per_core", tiles_per_core()},
          {"double_buffer", double_buffer},
          {"shared_operand", shared_operand == 0   ? "a"
                             : shared_operand == 1 ? "b"
                                                   : "none"},
          {"scratchpad_bytes", footprint_bytes},
          {"dram_read_bytes", dram_read_bytes},
          {"dram_write_bytes", dram_write_bytes},
          {"estimate_cycles", estimate_cycles}};
}

OpPlan map_op(const Op& op, const GemmShape& shape, const TileBits& bits,
              const MapperParams& params, const MapperTarget& target, const std::string& forced) {
  std::vector<Split> splits;
  const std::string chosen = !forced.empty() ? forced : params.split;
  const bool elementwise = bits.b == 0;
  const uint64_t instances = op.is_gemm() ? op.gemm_batch : 1;
  // Enough instances for every core: whole instances per core (see mapper.h).
  const bool by_instance =
      instances >= target.cores && target.cores > 1 && forced.empty() && params.split == "auto";
  if (target.cores < 2 || by_instance) {
    splits = {Split::kNone};
  } else if (chosen != "auto") {
    splits = {parse_split(chosen, "op \"" + op.name + "\"")};
    if (elementwise && splits[0] != Split::kM) splits = {Split::kM};
  } else if (elementwise) {
    splits = {Split::kM};
  } else {
    splits = {Split::kM, Split::kN, Split::kK};
  }

  // Every tiling that fits, with its lower bound; then replay them cheapest bound first.
  struct Candidate {
    OpPlan plan;
    uint64_t bound = 0, traffic = 0;
  };
  std::vector<Candidate> fitting;
  for (const Split split : splits) {
    OpPlan p;
    p.split = split;
    p.cores = split == Split::kNone ? 1 : target.cores;
    p.whole = shape;
    p.bits = bits;
    p.double_buffer = params.double_buffer;
    p.row_bytes = target.row_bytes;
    p.elementwise = elementwise;
    p.instances = instances;
    p.instance_cores = by_instance ? target.cores : 1;
    const uint64_t dim = split == Split::kM ? shape.m : split == Split::kN ? shape.n : shape.k;
    p.chunk = split == Split::kNone ? 0 : ceil_div(dim, p.cores);
    if (params.share_operands && p.cores > 1) {
      p.shared_operand = split == Split::kM && bits.b > 0 ? 1 : split == Split::kN ? 0 : -1;
    }
    const GemmShape part = p.core_shape(0);
    for (const uint64_t tm : candidates(part.m, target.whole_tiles, params.tile_m)) {
      for (const uint64_t tn : elementwise
                                   ? std::vector<uint64_t>{1}
                                   : candidates(part.n, target.whole_tiles, params.tile_n)) {
        for (const uint64_t tk : elementwise
                                     ? std::vector<uint64_t>{1}
                                     : candidates(part.k, target.whole_tiles, params.tile_k)) {
          for (const bool m_outer : {true, false}) {
            p.tm = tm, p.tn = tn, p.tk = tk, p.m_outer = m_outer;
            p.m_tiles = ceil_div(part.m, tm);
            p.n_tiles = ceil_div(part.n, tn);
            p.k_tiles = ceil_div(part.k, tk);
            // The loop order matters only when an operand can be reused.
            if (!m_outer && (p.k_tiles > 1 || elementwise)) continue;
            p.footprint_bytes = footprint(p);
            if (p.footprint_bytes > target.scratchpad_bytes) continue;
            traffic(p);
            fitting.push_back({p, lower_bound(p, target), p.dram_read_bytes + p.dram_write_bytes});
          }
        }
      }
    }
  }
  // A tiling whose tile loads keep the DRAM streaming goes before one whose do not (the replay
  // does not see the DRAM's row hits); a tile can be no larger than the core's part of the op.
  const auto streams = [&target](const OpPlan& p) {
    const GemmShape part = p.core_shape(0);
    const uint64_t m = std::min(p.tm, part.m), n = std::min(p.tn, part.n),
                   k = std::min(p.tk, part.k);
    const uint64_t tile = packed(p, m, k, p.bits.a) + packed(p, k, n, p.bits.b);
    const uint64_t all = packed(p, part.m, part.k, p.bits.a) + packed(p, part.k, part.n, p.bits.b);
    return tile >= std::min(target.streaming_bytes, all);
  };
  const bool any_streams = std::any_of(fitting.begin(), fitting.end(),
                                       [&](const Candidate& c) { return streams(c.plan); });
  // The choice runs over the tilings from the smallest footprint up and moves to a later one only
  // when its estimate beats the current choice's by more than the margin (ties of footprint go to
  // the least DRAM traffic, then the enumeration order: m, n, k splits, larger tiles first). A
  // larger scratchpad appends tilings of larger footprint to that walk and leaves everything
  // before them as it was, so it changes the choice only for a tiling estimated better than it by
  // more than the margin: the choice does not follow estimate differences smaller than the
  // estimate's own error.
  std::stable_sort(fitting.begin(), fitting.end(), [](const Candidate& a, const Candidate& b) {
    return std::tie(a.plan.footprint_bytes, a.traffic) <
           std::tie(b.plan.footprint_bytes, b.traffic);
  });
  const Candidate* pick = nullptr;
  for (Candidate& c : fitting) {
    if (any_streams && !streams(c.plan)) continue;
    // Only a tiling that could beat the choice by more than the margin is worth replaying.
    const uint64_t to_beat =
        pick == nullptr ? ~uint64_t{0}
                        : static_cast<uint64_t>(static_cast<double>(pick->plan.estimate_cycles) /
                                                (1.0 + params.margin));
    if (pick != nullptr && c.bound >= to_beat) continue;
    c.plan.estimate_cycles = replay(c.plan, target);
    if (pick == nullptr || c.plan.estimate_cycles < to_beat) pick = &c;
  }
  const bool found = pick != nullptr;
  if (!found) {
    throw InputError("op \"" + op.name + "\": no tiling fits the scratchpad of " +
                     std::to_string(target.scratchpad_bytes) +
                     " bytes (accelerator.core.scratchpad.capacity_bytes), even tiles of 8 " +
                     "in every dimension; give the scratchpad more capacity");
  }
  return pick->plan;
}

namespace {

void put(std::string& key, uint64_t value) {
  key.append(reinterpret_cast<const char*>(&value), sizeof value);
}

void put(std::string& key, const std::string& value) {
  put(key, value.size());
  key += value;
}

}  // namespace

// Every field of the op that a unit or the mapper may read (all of Op but name, deps, tensors).
std::string PlanCache::key(std::size_t slot, const Op& op) {
  std::string key;
  key.reserve(160);
  put(key, slot);
  for (const uint64_t v :
       {static_cast<uint64_t>(op.type), static_cast<uint64_t>(op.pass),
        static_cast<uint64_t>(op.precision.a), static_cast<uint64_t>(op.precision.b),
        static_cast<uint64_t>(op.precision.out), op.gemm.m, op.gemm.n, op.gemm.k, op.gemm_batch}) {
    put(key, v);
  }
  put(key, op.conv.has_value());
  if (op.conv) {
    const ConvShape& c = *op.conv;
    for (const uint64_t v :
         {c.batch, c.c, c.h, c.w, c.filters, c.r, c.s, c.stride, c.padding, c.groups}) {
      put(key, v);
    }
  }
  put(key, op.lowering);
  put(key, op.vector.has_value());
  if (op.vector) {
    put(key, op.vector->elements);
    put(key, op.vector->function);
  }
  put(key, op.split);
  put(key, op.fp4_phase);
  return key;
}

const OpPlan* PlanCache::find(const std::string& key) const {
  const auto it = plans_.find(key);
  return it == plans_.end() ? nullptr : &it->second;
}

void PlanCache::add(std::string key, const OpPlan& plan) {
  if (plans_.size() >= capacity_) plans_.clear();
  plans_.emplace(std::move(key), plan);
}

}  // namespace nibble
