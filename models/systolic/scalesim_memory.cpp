#include "models/systolic/scalesim_memory.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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
      const uint64_t d = ahead(s);
      if (d < window_) continue;
      // new_prefetch moves the window by step_ until the set is inside: the fewest j with
      // d − j·step_ < window_ (step_ ≤ window_, so no move overshoots).
      const uint64_t j = ceil_div(d - window_ + 1, step_);
      start_ = (start_ + j * step_) % sets_;
      prefetches_ += j;
      missed = true;
    }
    return missed;
  }

  // The same for one element whose address is also held in other sets (`sets`, its own among
  // them): active_buffer_hit finds it in any set of the window, and the loop stops at the first
  // window holding any copy, the fewest moves over all copies.
  bool serve_repeated(uint64_t own, const uint32_t* sets, const uint32_t* sets_end) {
    if (window_ == sets_ || ahead(own) < window_) return false;
    uint64_t moves = UINT64_MAX;
    for (const uint32_t* s = sets; s != sets_end; ++s) {
      const uint64_t d = ahead(*s);
      if (d < window_) return false;
      moves = std::min(moves, ceil_div(d - window_ + 1, step_));
    }
    start_ = (start_ + moves * step_) % sets_;
    prefetches_ += moves;
    return true;
  }

  // Whether every set of [first, last] (consecutive sets) is in the window.
  bool holds(uint64_t first, uint64_t last) const {
    if (window_ == sets_) return true;
    const uint64_t a = ahead(first), b = ahead(last);
    return a <= b && b < window_;
  }

  // Completion cycle of the latest prefetch: the first fill ends at −1 (prefetch_active_buffer
  // times it to end just before cycle 0) and each new one is issued the cycle after the last.
  int64_t last_prefetch_cycle() const {
    return -1 + static_cast<int64_t>(prefetches_ * prefetch_cycles_);
  }
  uint64_t prefetches() const { return prefetches_; }

 private:
  uint64_t ahead(uint64_t s) const { return s >= start_ ? s - start_ : s + sets_ - start_; }

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

// The cells of the stacked prefetch matrix (global row g, column c) that one demand row reads,
// in the row's column order: c = c_first..c_last, at g = g_first − (c − c_first) for a rolled
// operand (one anti-diagonal) and g = g_first for a flat one (one block row).
struct RowCells {
  uint64_t g_first = 0, c_first = 0, c_last = 0;
  bool diagonal = false;
  uint64_t g(uint64_t c) const { return diagonal ? g_first - (c - c_first) : g_first; }
};

// One read operand of a fold: its prefetch order, which block a fold reads, and how its demand
// rows walk that block (compute/systolic_compute_*.py, create_*_demand_mat).
struct ReadOperand {
  PrefetchOrder order;
  bool block_is_row_fold = true;  // the fold's block: its row fold (else its column fold)
  uint64_t prefix = 0;            // rolled: leading empty rows of a fold (ws/is: R)
  uint64_t array_rows = 0;        // flat: the R rows of a stationary block, loaded flipped
  uint64_t row_fold_rows = 0;     // flat: R, the rows of the K extent per row fold

  // The cells row t of fold (fc, fr) demands; false if none. `used_rows`: the valid rows of row
  // fold fr (flat operands only).
  bool row_cells(uint64_t fc, uint64_t fr, uint64_t used_rows, uint64_t t, RowCells& cells) const {
    const uint64_t b = block_is_row_fold ? fr : fc;
    const uint64_t valid = order.valid_cols(b);
    if (order.rolled) {
      // Skewed: column c carries block row t − prefix − c, for 0 ≤ that < rows.
      if (t < prefix) return false;
      const uint64_t diag = t - prefix;
      cells.c_first = diag + 1 > order.rows ? diag + 1 - order.rows : 0;
      cells.c_last = std::min(diag, valid - 1);
      if (cells.c_first > cells.c_last) return false;
      cells.g_first = b * order.rows + diag - cells.c_first;
      cells.diagonal = true;
      return true;
    }
    // Stationary block: rows 0..R−1 of the fold carry block rows R−1..0 (flipped), R·fr onwards.
    if (t >= array_rows) return false;
    const uint64_t rho = array_rows - 1 - t;
    if (rho >= used_rows) return false;  // padding of a partial row fold
    cells.g_first = b * order.rows + fr * row_fold_rows + rho;
    cells.c_first = 0;
    cells.c_last = valid - 1;
    cells.diagonal = false;
    return true;
  }

  // With distinct addresses every cell is valid, so the row is a run of consecutive positions.
  void positions(const RowCells& cells, uint64_t& first, uint64_t& last) const {
    first = order.position(cells.g_first, cells.c_first);
    last = first + (cells.c_last - cells.c_first);
  }
};

// The ifmap of a convolution as SCALE-Sim addresses it (compute/operand_matrix.py,
// calc_ifmap_elem_addr): element (m, k) of the im2col matrix is pixel (row, col, channel) of the
// input, so one address appears in up to R·S cells, and a window reaching past the input's edge
// (SCALE-Sim rounds the output size up) has −1 cells, which neither fetches nor demands count.
// Holds, per cell, its set (by its position among the valid cells in prefetch order) and, per
// address, the sets that hold a copy.
class ConvIfmap {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  ConvIfmap(const ConvShape& conv, Dataflow dataflow, const ReadOperand& op, uint64_t set_elems)
      : order_(op.order) {
    const uint64_t ow = (conv.w - conv.s + conv.stride + conv.stride - 1) / conv.stride;
    const uint64_t sc = conv.s * conv.c;  // one filter row of the window
    const uint64_t width = order_.width, rows = order_.rows;
    const uint64_t cells = order_.blocks * rows * width;
    const uint64_t addresses = conv.h * conv.w * conv.c;
    // Address of cell (g, c): the stacked blocks hold Aᵀ per row fold (os), A per row fold of K
    // (ws) or Aᵀ per column fold of M (is), A being the M×K im2col matrix.
    auto address = [&](uint64_t g, uint64_t c) -> uint32_t {
      const uint64_t b = g / rows;
      if (c >= order_.valid_cols(b)) return kNone;  // padding of a partial fold
      uint64_t m = 0, k = 0;
      if (dataflow == Dataflow::kWs) {
        m = g - b * rows, k = b * width + c;
      } else {
        m = b * width + c, k = g - b * rows;
      }
      const uint64_t i_row = m / ow * conv.stride, i_col = m % ow * conv.stride;
      const uint64_t c_row = k / sc, c_col = k % sc / conv.c, ch = k % conv.c;
      if (i_row + c_row >= conv.h || i_col + c_col >= conv.w) return kNone;
      return static_cast<uint32_t>(((i_row + c_row) * conv.w + i_col + c_col) * conv.c + ch);
    };
    own_.assign(cells, kNone);
    std::vector<uint32_t> addr(cells, kNone);
    // Pass 1: walk the prefetch order, number the valid cells, count each address's sets.
    std::vector<uint32_t> last_set(addresses, kNone);
    begin_.assign(addresses + 1, 0);
    uint64_t position = 0;
    walk([&](uint64_t g, uint64_t c) {
      const uint32_t a = address(g, c);
      if (a == kNone) return;
      const uint64_t cell = g * width + c;
      const auto set = static_cast<uint32_t>(position++ / set_elems);
      own_[cell] = set;
      addr[cell] = a;
      if (last_set[a] != set) last_set[a] = set, ++begin_[a + 1];
    });
    valid_ = position;
    for (uint64_t a = 0; a < addresses; ++a) begin_[a + 1] += begin_[a];
    // Pass 2: the sets of each address, ascending (the walk is in position order).
    sets_.assign(begin_[addresses], 0);
    std::vector<uint64_t> fill(begin_.begin(), begin_.end() - 1);
    std::fill(last_set.begin(), last_set.end(), kNone);
    walk([&](uint64_t g, uint64_t c) {
      const uint64_t cell = g * width + c;
      if (own_[cell] == kNone) return;
      const uint32_t a = addr[cell];
      if (last_set[a] != own_[cell]) last_set[a] = own_[cell], sets_[fill[a]++] = own_[cell];
    });
    addr_ = std::move(addr);
  }

  uint64_t valid_elements() const { return valid_; }

  // Serves the row's cells element by element; true if the window moved.
  bool serve(const RowCells& cells, ReadBuffer& buf) const {
    // The valid cells of a row are consecutive in prefetch order, so their own sets form a range:
    // when the window holds it, every element hits.
    uint64_t c_lo = cells.c_first, c_hi = cells.c_last;
    while (c_lo <= c_hi && own(cells, c_lo) == kNone) ++c_lo;
    if (c_lo > c_hi) return false;
    while (own(cells, c_hi) == kNone) --c_hi;
    if (buf.holds(own(cells, c_lo), own(cells, c_hi))) return false;
    bool moved = false;
    for (uint64_t c = c_lo; c <= c_hi; ++c) {
      const uint64_t cell = cells.g(c) * order_.width + c;
      if (own_[cell] == kNone) continue;
      const uint32_t a = addr_[cell];
      moved |=
          buf.serve_repeated(own_[cell], sets_.data() + begin_[a], sets_.data() + begin_[a + 1]);
    }
    return moved;
  }

 private:
  uint32_t own(const RowCells& cells, uint64_t c) const {
    return own_[cells.g(c) * order_.width + c];
  }

  // Calls f(g, c) for every cell in prefetch order (create_*_prefetch_mat and the roll-out).
  template <typename F>
  void walk(F&& f) const {
    const uint64_t height = order_.blocks * order_.rows, width = order_.width;
    if (!order_.rolled) {
      for (uint64_t g = 0; g < height; ++g)
        for (uint64_t c = 0; c < width; ++c) f(g, c);
      return;
    }
    for (uint64_t d = 0; d + 1 < height + width; ++d) {
      const uint64_t g_hi = std::min(d, height - 1), g_lo = d + 1 > width ? d + 1 - width : 0;
      for (uint64_t g = g_hi + 1; g-- > g_lo;) f(g, d - g);
    }
  }

  PrefetchOrder order_;
  uint64_t valid_ = 0;
  std::vector<uint32_t> own_, addr_, sets_;
  std::vector<uint64_t> begin_;
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

namespace {

// The layer (M, N, K); `conv`, when given, addresses the ifmap as that convolution (else every
// element has its own address).
ScaleSimMemoryResult simulate(const GemmShape& gemm, Dataflow dataflow, const ArrayShape& array,
                              const ScaleSimMemoryParams& p, const ConvShape* conv) {
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

  std::unique_ptr<ConvIfmap> conv_ifmap;
  if (conv != nullptr) {
    conv_ifmap = std::make_unique<ConvIfmap>(*conv, dataflow, ifmap,
                                             ceil_div(p.ifmap_sram_kb * kBytesPerKb, 100));
  }
  ReadBuffer ifmap_buf(p.ifmap_sram_kb, p.bandwidth_words_per_cycle,
                       conv_ifmap ? conv_ifmap->valid_elements() : ifmap.order.valid_elements());
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
        RowCells cells;
        uint64_t first = 0, last = 0;
        int64_t if_stall = 0, f_stall = 0;
        if (ifmap.row_cells(fc, fr, used_rows, t, cells)) {
          bool missed = false;
          if (conv_ifmap) {
            missed = conv_ifmap->serve(cells, ifmap_buf);
          } else {
            ifmap.positions(cells, first, last);
            missed = ifmap_buf.serve(first, last);
          }
          if (missed) if_stall = ifmap_buf.last_prefetch_cycle() - cycle - 1;
        }
        if (filter.row_cells(fc, fr, used_rows, t, cells)) {
          filter.positions(cells, first, last);
          if (filter_buf.serve(first, last)) {
            f_stall = filter_buf.last_prefetch_cycle() - cycle - 1;
          }
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

}  // namespace

ScaleSimMemoryResult scalesim_user_cycles(const GemmShape& gemm, Dataflow dataflow,
                                          const ArrayShape& array, const ScaleSimMemoryParams& p) {
  p.validate();
  check_positive(gemm.m, "gemm.m");
  check_positive(gemm.n, "gemm.n");
  check_positive(gemm.k, "gemm.k");
  check_positive(array.rows, "array.rows");
  check_positive(array.cols, "array.cols");
  return simulate(gemm, dataflow, array, p, nullptr);
}

ScaleSimMemoryResult scalesim_user_cycles(const ConvShape& conv, Dataflow dataflow,
                                          const ArrayShape& array, const ScaleSimMemoryParams& p) {
  p.validate();
  check_positive(conv.h, "conv.h");
  check_positive(conv.w, "conv.w");
  check_positive(conv.r, "conv.r");
  check_positive(conv.s, "conv.s");
  check_positive(conv.c, "conv.c");
  check_positive(conv.filters, "conv.filters");
  check_positive(conv.stride, "conv.stride");
  check_positive(array.rows, "array.rows");
  check_positive(array.cols, "array.cols");
  auto expect = [](bool ok, const char* name, const char* expected, uint64_t found) {
    if (!ok) {
      throw InputError(std::string("scalesim_user: ") + name + ": expected " + expected +
                       ", found " + std::to_string(found));
    }
  };
  // SCALE-Sim's layers: batch 1, no padding (fold it into h and w), no groups.
  expect(conv.batch == 1, "conv.batch", "1 (SCALE-Sim runs batch 1)", conv.batch);
  expect(conv.padding == 0, "conv.padding", "0 (SCALE-Sim pads nothing; add it to h and w)",
         conv.padding);
  expect(conv.groups == 1, "conv.groups", "1 (SCALE-Sim has no grouped convolution)", conv.groups);
  expect(conv.r <= conv.h, "conv.r", "at most conv.h", conv.r);
  expect(conv.s <= conv.w, "conv.s", "at most conv.w", conv.s);
  const GemmShape gemm = lower_conv2d_scalesim(conv);
  // The cell and address tables are 32-bit.
  expect(conv.h * conv.w * conv.c < (uint64_t{1} << 31), "conv.h·conv.w·conv.c",
         "below 2^31 addresses", conv.h * conv.w * conv.c);
  expect(gemm.m * gemm.k < (uint64_t{1} << 31), "M·K of the lowered conv", "below 2^31",
         gemm.m * gemm.k);
  return simulate(gemm, dataflow, array, p, &conv);
}

}  // namespace nibble
