#include "models/systolic/scalesim_memory.h"

#include <algorithm>
#include <deque>
#include <string>
#include <utility>

#include "sim/error.h"

namespace nibble {

namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// SCALE-Sim sizes every buffer in elements of 1 byte (single_layer_sim.py: word_size = 1,
// sizes 1024·KB) and gives each read and write buffer half of its SRAM as the active part
// (active_buf_frac = 0.5; active = ceil(0.5·total), the rest prefetches or drains).
constexpr uint64_t kBytesPerKb = 1024;

// #{(x, y) : 0 ≤ x < h, 0 ≤ y < w, x + y < d}: the elements of an h×w block on the first d
// anti-diagonals. Inclusion–exclusion over the quarter plane, where the count is d(d+1)/2.
uint64_t count_below_diagonal(uint64_t h, uint64_t w, int64_t d) {
  auto tri = [](int64_t e) {
    return e > 0 ? static_cast<uint64_t>(e) * static_cast<uint64_t>(e + 1) / 2 : 0;
  };
  const auto hh = static_cast<int64_t>(h), ww = static_cast<int64_t>(w);
  return tri(d) - tri(d - hh) - tri(d - ww) + tri(d - hh - ww);
}

// One operand's prefetch order (compute/systolic_compute_*.py, create_*_prefetch_mat): its fold
// blocks, `rows` × `width` each, stacked vertically; every block has all `width` columns valid but
// the last, which has `last_valid` (the partial fold is padded with −1, which fetches skip). A
// rolled operand (the skewed ones) is read anti-diagonal by anti-diagonal, each diagonal from its
// bottom row up (= column ascending); a flat one row-major.
struct PrefetchOrder {
  bool rolled = false;
  uint64_t rows = 0, width = 0, blocks = 0, last_valid = 0;

  uint64_t valid_cols(uint64_t block) const { return block + 1 == blocks ? last_valid : width; }
  uint64_t valid_elements() const { return ((blocks - 1) * width + last_valid) * rows; }

  // Index among the valid elements, in prefetch order, of the valid element at global row g,
  // column c.
  uint64_t position(uint64_t g, uint64_t c) const {
    if (!rolled) {
      const uint64_t b = g / rows;
      return b * rows * width + (g - b * rows) * valid_cols(b) + c;
    }
    const uint64_t height = blocks * rows, g0 = (blocks - 1) * rows;  // g0: the last block's top
    const auto d = static_cast<int64_t>(g + c);
    // Valid elements on earlier diagonals: all, less the padded rectangle rows [g0, height) ×
    // columns [last_valid, width).
    const uint64_t before = count_below_diagonal(height, width, d) -
                            count_below_diagonal(height - g0, width - last_valid,
                                                 d - static_cast<int64_t>(g0 + last_valid));
    // On this diagonal, the columns from its first, c_lo, up to c, less the padded ones among them
    // (column ≥ last_valid with row d − c' ≥ g0).
    const uint64_t d_u = g + c;
    const uint64_t c_lo = d_u + 1 > height ? d_u + 1 - height : 0;
    const uint64_t pad_lo = std::max(c_lo, last_valid);
    const uint64_t pad_hi = d_u + 1 > g0 ? std::min(c, d_u + 1 - g0) : 0;  // exclusive
    const uint64_t padded = pad_hi > pad_lo ? pad_hi - pad_lo : 0;
    return before + (c - c_lo) - padded;
  }
};

// scalesim/memory/read_buffer.py in USER mode: the set window and the back-to-back prefetches.
class ReadBuffer {
 public:
  ReadBuffer(uint64_t sram_kb, uint64_t bandwidth, uint64_t valid_elements) {
    const uint64_t total = sram_kb * kBytesPerKb;
    const uint64_t active = ceil_div(total, 2), prefetch = total - active;
    set_elems_ = ceil_div(total, 100);        // prepare_hashed_buffer: 100 sets per SRAM
    sets_ = valid_elements / set_elems_ + 1;  // the last set is kept even when empty
    window_ = std::min(ceil_div(active, set_elems_), sets_);
    step_ = std::min(ceil_div(prefetch, set_elems_), sets_ - window_);
    prefetch_cycles_ = ceil_div(prefetch, bandwidth) + 1;  // DRAM lines, then read_port latency 1
  }

  // Serves the valid positions [first, last] of one demand row (consecutive in prefetch order);
  // true if it missed. SCALE-Sim checks element by element; elements of one set share the answer,
  // so one check per set spanned gives the same window moves.
  bool serve(uint64_t first, uint64_t last) {
    if (window_ == sets_) return false;  // the whole operand is resident: never a miss
    bool missed = false;
    for (uint64_t s = first / set_elems_; s <= last / set_elems_; ++s) {
      // Circular distance from the window's start (no division: the hot path is all hits).
      const uint64_t ahead = s >= start_ ? s - start_ : s + sets_ - start_;
      if (ahead < window_) continue;
      // new_prefetch moves the window by step_ until the set is inside: the fewest j with
      // ahead − j·step_ < window_ (step_ ≤ window_, so no move overshoots).
      const uint64_t j = ceil_div(ahead - window_ + 1, step_);
      start_ = (start_ + j * step_) % sets_;
      prefetches_ += j;
      missed = true;
    }
    return missed;
  }

  // Completion cycle of the latest prefetch: the first fill ends at −1 (prefetch_active_buffer
  // times it to end just before cycle 0) and each new one is issued the cycle after the last.
  int64_t last_prefetch_cycle() const {
    return -1 + static_cast<int64_t>(prefetches_ * prefetch_cycles_);
  }
  uint64_t prefetches() const { return prefetches_; }

 private:
  uint64_t set_elems_ = 1, sets_ = 1, window_ = 1, step_ = 0, prefetch_cycles_ = 1;
  uint64_t start_ = 0, prefetches_ = 0;
};

// scalesim/memory/write_buffer.py: lines of b words, a drain of half the buffer at a time.
class WriteBuffer {
 public:
  WriteBuffer(uint64_t sram_kb, uint64_t bandwidth) : bw_(bandwidth) {
    total_ = static_cast<int64_t>(sram_kb * kBytesPerKb);
    active_ = static_cast<int64_t>(ceil_div(sram_kb * kBytesPerKb, 2));
    drain_lines_ = ceil_div(static_cast<uint64_t>(total_ - active_), bw_);
    free_ = total_;
  }

  // Stores `count` elements of one demand row issued at `cycle`; returns the row's stall
  // (service_writes' offset). Bulk steps reproduce the per-element checks of service_writes:
  // store (free − 1), then stall if a drain runs and the buffer is full, else drain if free is
  // below the active half.
  int64_t serve(uint64_t count, int64_t cycle) {
    int64_t current = cycle;
    uint64_t left = count;
    while (left > 0) {
      if (current < drain_end_) {
        if (free_ > static_cast<int64_t>(left)) {  // free stays ≥ 1 after every store
          store(left);
          break;
        }
        const uint64_t n = free_ >= 1 ? static_cast<uint64_t>(free_) : 1;  // the n-th fills it
        store(n);
        left -= n;
        current = drain_end_;  // offset += drain_end − current
      } else {
        // The first element that leaves free < active starts a drain.
        const uint64_t n = (free_ > active_ ? static_cast<uint64_t>(free_ - active_) : 0) + 1;
        if (n > left) {
          store(left);
          break;
        }
        store(n);
        left -= n;
        drain(current);
      }
    }
    return current - cycle;
  }

  uint64_t drains() const { return drains_; }

 private:
  void store(uint64_t n) {
    free_ -= static_cast<int64_t>(n);
    closed_lines_ += (line_fill_ + n) / bw_;
    line_fill_ = (line_fill_ + n) % bw_;
  }

  // append_to_trace_mat(force=True), then empty_drain_buf(cycle).
  void drain(int64_t cycle) {
    if (line_fill_ > 0) {  // the open line is closed part-filled
      partial_.emplace_back(closed_lines_, line_fill_);
      ++closed_lines_;
      line_fill_ = 0;
    }
    const uint64_t lines = std::min(drain_lines_, closed_lines_ - drained_lines_);
    // A drain starts only with free < active, so some stored line is still undrained (SCALE-Sim
    // would fail on an empty drain); the guard keeps an impossible case from wrapping around.
    if (lines == 0) return;
    const uint64_t last_line = drained_lines_ + lines - 1;
    uint64_t freed = lines * bw_;
    // Only the last drained line's unused words are discounted; a part-filled line earlier in
    // the drain frees its whole width (SCALE-Sim's adjustment looks at the last row only).
    while (!partial_.empty() && partial_.front().first <= last_line) {
      if (partial_.front().first == last_line) freed -= bw_ - partial_.front().second;
      partial_.pop_front();
    }
    drained_lines_ += lines;
    free_ += static_cast<int64_t>(freed);
    drain_end_ = cycle + static_cast<int64_t>(lines) - 1;  // one line per cycle, write latency 0
    ++drains_;
  }

  uint64_t bw_;
  int64_t total_ = 0, active_ = 0, free_ = 0, drain_end_ = 0;
  uint64_t drain_lines_ = 1, closed_lines_ = 0, line_fill_ = 0, drained_lines_ = 0, drains_ = 0;
  std::deque<std::pair<uint64_t, uint64_t>> partial_;  // (line index, words used), undrained
};

// One read operand of a fold: its prefetch order, which block a fold reads, and how its demand
// rows walk that block (compute/systolic_compute_*.py, create_*_demand_mat).
struct ReadOperand {
  PrefetchOrder order;
  bool block_is_row_fold = true;  // the fold's block: its row fold (else its column fold)
  uint64_t prefix = 0;            // rolled: leading empty rows of a fold (ws/is: R)
  uint64_t array_rows = 0;        // flat: the R rows of a stationary block, loaded flipped
  uint64_t row_fold_rows = 0;     // flat: R, the rows of the K extent per row fold

  // The valid positions [first, last] that row t of fold (fc, fr) demands; false if none.
  // `used_rows`: the valid rows of row fold fr (flat operands only).
  bool row_run(uint64_t fc, uint64_t fr, uint64_t used_rows, uint64_t t, uint64_t& first,
               uint64_t& last) const {
    const uint64_t b = block_is_row_fold ? fr : fc;
    const uint64_t valid = order.valid_cols(b);
    if (order.rolled) {
      // Skewed: column c carries block row t − prefix − c, for 0 ≤ that < rows.
      if (t < prefix) return false;
      const uint64_t diag = t - prefix;
      const uint64_t c_first = diag + 1 > order.rows ? diag + 1 - order.rows : 0;
      const uint64_t c_last = std::min(diag, valid - 1);
      if (c_first > c_last) return false;
      first = order.position(b * order.rows + diag - c_first, c_first);
      last = first + (c_last - c_first);
      return true;
    }
    // Stationary block: rows 0..R−1 of the fold carry block rows R−1..0 (flipped), R·fr onwards.
    if (t >= array_rows) return false;
    const uint64_t rho = array_rows - 1 - t;
    if (rho >= used_rows) return false;  // padding of a partial row fold
    first = order.position(b * order.rows + fr * row_fold_rows + rho, 0);
    last = first + valid - 1;
    return true;
  }
};

void check_positive(uint64_t value, const char* name) {
  if (value == 0) {
    throw InputError(std::string("scalesim_user: ") + name +
                     ": expected a positive integer, found 0");
  }
}

}  // namespace

void ScaleSimMemoryParams::validate() const {
  check_positive(ifmap_sram_kb, "ifmap_sram_kb");
  check_positive(filter_sram_kb, "filter_sram_kb");
  check_positive(ofmap_sram_kb, "ofmap_sram_kb");
  check_positive(bandwidth_words_per_cycle, "bandwidth_words_per_cycle");
  // Keeps every cycle and element count far inside 64 bits.
  constexpr uint64_t kMaxKb = uint64_t{1} << 30;
  for (auto [value, name] :
       {std::pair{ifmap_sram_kb, "ifmap_sram_kb"}, std::pair{filter_sram_kb, "filter_sram_kb"},
        std::pair{ofmap_sram_kb, "ofmap_sram_kb"}}) {
    if (value > kMaxKb) {
      throw InputError(std::string("scalesim_user: ") + name + ": expected at most " +
                       std::to_string(kMaxKb) + " KB, found " + std::to_string(value));
    }
  }
}

ScaleSimMemoryResult scalesim_user_cycles(const GemmShape& gemm, Dataflow dataflow,
                                          const ArrayShape& array, const ScaleSimMemoryParams& p) {
  p.validate();
  check_positive(gemm.m, "gemm.m");
  check_positive(gemm.n, "gemm.n");
  check_positive(gemm.k, "gemm.k");
  check_positive(array.rows, "array.rows");
  check_positive(array.cols, "array.cols");

  const FoldMapping map = map_gemm(gemm, dataflow, array);
  const uint64_t r = array.rows, c = array.cols, t_len = map.t;
  const uint64_t row_folds = map.row_folds, col_folds = map.col_folds;
  const uint64_t last_rows = map.sr - (row_folds - 1) * r;  // valid rows of the last row fold
  const uint64_t last_cols = map.sc - (col_folds - 1) * c;  // valid columns of the last col fold
  const uint64_t per_fold = scalesim_fold_cycles(dataflow, array, t_len);

  // The read operands (see scalesim_memory.md for the source of each line).
  //   os  ifmap: rolled, blocks = row folds (K × R);  filter: rolled, blocks = col folds (K × C)
  //   ws  ifmap: rolled, blocks = row folds (M × R), after R load rows; filter: flat (K × C)
  //   is  ifmap: flat (K × C over M);  filter: rolled, blocks = row folds (N × R), after R rows
  ReadOperand ifmap, filter;
  auto rolled = [&](uint64_t rows, uint64_t width, uint64_t blocks, uint64_t last, bool by_row,
                    uint64_t prefix) {
    ReadOperand op;
    op.order = {true, rows, width, blocks, last};
    op.block_is_row_fold = by_row;
    op.prefix = prefix;
    return op;
  };
  auto flat = [&]() {
    ReadOperand op;
    op.order = {false, map.sr, c, col_folds, last_cols};
    op.block_is_row_fold = false;
    op.array_rows = r;
    op.row_fold_rows = r;
    return op;
  };
  switch (dataflow) {
    case Dataflow::kOs:
      ifmap = rolled(t_len, r, row_folds, last_rows, true, 0);
      filter = rolled(t_len, c, col_folds, last_cols, false, 0);
      break;
    case Dataflow::kWs:
      ifmap = rolled(t_len, r, row_folds, last_rows, true, r);
      filter = flat();
      break;
    case Dataflow::kIs:
      ifmap = flat();
      filter = rolled(t_len, r, row_folds, last_rows, true, r);
      break;
  }

  ReadBuffer ifmap_buf(p.ifmap_sram_kb, p.bandwidth_words_per_cycle, ifmap.order.valid_elements());
  ReadBuffer filter_buf(p.filter_sram_kb, p.bandwidth_words_per_cycle,
                        filter.order.valid_elements());
  WriteBuffer ofmap_buf(p.ofmap_sram_kb, p.bandwidth_words_per_cycle);

  // Ofmap writes of row t of a fold: column j < used_cols writes when lo ≤ t − j ≤ hi.
  //   os: the R×C block leaves flipped after T − 1 rows: rows [T−1+R−used_rows, T+R−2]
  //   ws, is: each of the T output rows after 2R − 1 rows: [2R−1, 2R+T−2]
  auto writes = [&](uint64_t t, uint64_t used_rows, uint64_t used_cols) -> uint64_t {
    uint64_t lo = 0, hi = 0;
    if (dataflow == Dataflow::kOs) {
      lo = t_len - 1 + r - used_rows;
      hi = t_len + r - 2;
    } else {
      lo = 2 * r - 1;
      hi = 2 * r + t_len - 2;
    }
    if (t < lo) return 0;
    const uint64_t j_first = t > hi ? t - hi : 0;
    const uint64_t j_last = std::min(used_cols - 1, t - lo);
    return j_first <= j_last ? j_last - j_first + 1 : 0;
  };

  ScaleSimMemoryResult result;
  result.compute_cycles = map.folds() * per_fold - 1;
  int64_t stalls = 0;  // S_i
  int64_t last_row_out = 0;
  uint64_t row = 0;
  for (uint64_t fc = 0; fc < col_folds; ++fc) {
    const uint64_t used_cols = fc + 1 == col_folds ? last_cols : c;
    for (uint64_t fr = 0; fr < row_folds; ++fr) {
      const uint64_t used_rows = fr + 1 == row_folds ? last_rows : r;
      for (uint64_t t = 0; t < per_fold; ++t, ++row) {
        const int64_t cycle = static_cast<int64_t>(row) + stalls;
        uint64_t first = 0, last = 0;
        int64_t if_stall = 0, f_stall = 0;
        if (ifmap.row_run(fc, fr, used_rows, t, first, last) && ifmap_buf.serve(first, last)) {
          if_stall = ifmap_buf.last_prefetch_cycle() - cycle - 1;
        }
        if (filter.row_run(fc, fr, used_rows, t, first, last) && filter_buf.serve(first, last)) {
          f_stall = filter_buf.last_prefetch_cycle() - cycle - 1;
        }
        const int64_t w = ofmap_buf.serve(writes(t, used_rows, used_cols), cycle);
        stalls += std::max({if_stall, f_stall, w - 1});
        last_row_out = cycle + w;
      }
    }
  }
  result.total_cycles = last_row_out;
  result.stall_cycles = stalls;
  result.ifmap_prefetches = ifmap_buf.prefetches();
  result.filter_prefetches = filter_buf.prefetches();
  result.ofmap_drains = ofmap_buf.drains();
  return result;
}

}  // namespace nibble
