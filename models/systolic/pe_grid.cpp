#include "models/systolic/pe_grid.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace nibble {

namespace {

constexpr uint16_t kLive = 1;   // a token is in the register
constexpr uint16_t kValid = 2;  // it stands for GEMM data (clear: a bubble of a partial fold)
constexpr uint16_t kFirst = 4;  // first element of its fold's stream
constexpr uint16_t kLast = 8;   // last element of its fold's stream

constexpr uint64_t kMaxSide = uint64_t{1} << 16;  // a destination row fits Token::row
constexpr uint64_t kMaxDim = uint64_t{1} << 31;   // any index + one array side fits 32 bits

// Kept out of line so that the checks in the PE loop cost one predictable branch each.
[[noreturn, gnu::noinline, gnu::cold]] void broken(const char* what, uint64_t cycle, uint64_t row,
                                                   uint64_t col) {
  throw std::logic_error(std::string("PE grid: ") + what + " at cycle " + std::to_string(cycle) +
                         ", PE (" + std::to_string(row) + ", " + std::to_string(col) + ")");
}

}  // namespace

PeGrid::PeGrid(ArrayShape array, Dataflow dataflow, Schedule schedule)
    : array_(array), dataflow_(dataflow), schedule_(schedule) {
  if (array.rows == 0 || array.cols == 0 || array.rows > kMaxSide || array.cols > kMaxSide) {
    throw std::invalid_argument("PeGrid: rows and cols must be in [1, 65536], got " +
                                std::to_string(array.rows) + "×" + std::to_string(array.cols));
  }
  const uint64_t pes = array.rows * array.cols;
  for (std::vector<Token>* reg : {&h_, &v_, &held_}) reg->resize(pes);
  if (dataflow != Dataflow::kOs) {
    shadow_.resize(pes);
    load_.resize(pes);
  }
  row_in_.resize(array.rows);
  col_in_.resize(array.cols);
  bus_busy_.resize(array.cols);
  bus_free_.resize(array.cols);
  streams_.reserve(4);
  loads_.reserve(4);

  // Waveform names follow the GEMM operand each token carries in this dataflow.
  auto add = [this](const char* name, uint32_t width, uint8_t token, uint8_t field) {
    registers_.push_back({name, width});
    fields_.push_back({token, field});
  };
  switch (dataflow) {
    case Dataflow::kOs:
      add("a_flags", 4, 0, 0), add("a_m", 32, 0, 1), add("a_k", 32, 0, 2);
      add("b_flags", 4, 1, 0), add("b_n", 32, 1, 1), add("b_k", 32, 1, 2);
      add("out_flags", 4, 2, 0), add("out_m", 32, 2, 1), add("out_n", 32, 2, 2);
      break;
    case Dataflow::kWs:
      add("a_flags", 4, 0, 0), add("a_m", 32, 0, 1), add("a_k", 32, 0, 2);
      add("psum_flags", 4, 1, 0), add("psum_m", 32, 1, 1), add("psum_n", 32, 1, 2);
      add("w_flags", 4, 2, 0), add("w_n", 32, 2, 1), add("w_k", 32, 2, 2);
      add("shadow_flags", 4, 3, 0), add("load_flags", 4, 4, 0);
      break;
    case Dataflow::kIs:
      add("b_flags", 4, 0, 0), add("b_n", 32, 0, 1), add("b_k", 32, 0, 2);
      add("psum_flags", 4, 1, 0), add("psum_m", 32, 1, 2), add("psum_n", 32, 1, 1);
      add("w_flags", 4, 2, 0), add("w_m", 32, 2, 1), add("w_k", 32, 2, 2);
      add("shadow_flags", 4, 3, 0), add("load_flags", 4, 4, 0);
      break;
  }
}

void PeGrid::start(const GemmShape& gemm, MacSink* sink) {
  if (!done_) throw std::logic_error("PeGrid::start: the previous op is not done");
  for (const uint64_t d : {gemm.m, gemm.n, gemm.k}) {
    if (d == 0 || d > kMaxDim) {
      throw std::invalid_argument("PeGrid::start: M, N and K must be in [1, 2^31], got " +
                                  std::to_string(gemm.m) + "×" + std::to_string(gemm.n) + "×" +
                                  std::to_string(gemm.k));
    }
  }
  map_ = map_gemm(gemm, dataflow_, array_);
  folds_ = map_.folds();
  sink_ = sink;
  done_ = false;
  cycle_ = next_start_ = next_load_ = col0_loaded_ = 0;
  macs_ = pe_steps_ = results_out_ = 0;
  const uint64_t r = array_.rows, c = array_.cols;
  // os: every PE of every fold puts one result on its column's bus; ws/is: every column of every
  // fold emits T partial sums at the bottom.
  results_total_ = folds_ * (dataflow_ == Dataflow::kOs ? r * c : c * map_.t);
  pe_steps_total_ = folds_ * r * c * map_.t;
  // A pipelined op leaves the array empty; a scalesim one may leave results draining.
  for (std::vector<Token>* reg : {&h_, &v_, &held_, &shadow_, &load_}) {
    std::fill(reg->begin(), reg->end(), Token{});
  }
  std::fill(bus_busy_.begin(), bus_busy_.end(), 0);
  std::fill(bus_free_.begin(), bus_free_.end(), 0);
  streams_.clear();
  loads_.clear();
}

void PeGrid::step() {
  if (done_) throw std::logic_error("PeGrid::step: no op in progress");
  const uint64_t cycle = cycle_;
  issue_folds(cycle);
  drive_edges(cycle);
  if (dataflow_ == Dataflow::kOs) {
    step_output_stationary(cycle);
  } else {
    step_stationary(cycle);
  }
  retire(cycle);
  cycle_ = cycle + 1;
  done_ = schedule_ == Schedule::kPipelined ? results_out_ == results_total_
                                            : pe_steps_ == pe_steps_total_;
}

// Whether no issue in `issues` drives its first edge register (row 0 or column 0) in `cycle`:
// each edge register serves `length` consecutive cycles of one issue, and the others follow with
// the same skew, so an issue may start in a cycle where the first one is idle.
bool PeGrid::idle(const std::vector<Issue>& issues, uint64_t cycle, uint64_t length) const {
  for (const Issue& s : issues) {
    if (cycle < s.start + length) return false;
  }
  return true;
}

// os: a fold started at s puts PE(i,j)'s result on column j's bus at s+i+j+T, i.e. it holds bus
// j for [s+j+T, s+j+T+R). The controller keeps a scoreboard of those reservations.
bool PeGrid::buses_free(uint64_t start) const {
  for (uint64_t j = 0; j < array_.cols; ++j) {
    if (start + j + map_.t < bus_free_[j]) return false;
  }
  return true;
}

// Scalesim runs folds strictly one after another: fold g's first action (os: its operand
// stream; ws/is: its block load) waits until every PE step of folds 0..g−1 has been done, i.e. the
// cycle after the previous fold's last MAC.
bool PeGrid::previous_folds_computed(uint64_t fold) const {
  return schedule_ == Schedule::kPipelined ||
         pe_steps_ >= fold * array_.rows * array_.cols * map_.t;
}

// The controller, evaluated at the start of every cycle on the state the previous cycles left.
void PeGrid::issue_folds(uint64_t cycle) {
  const uint64_t t = map_.t, r = array_.rows;
  if (dataflow_ == Dataflow::kOs) {
    // Start when the left and top injectors are done with the previous fold's T operands and the
    // column buses will be free when this fold's results come out. Pipelined, that gives starts
    // max(T, R) apart: the injectors free up T cycles after a start, the buses R.
    if (next_start_ < folds_ && idle(streams_, cycle, t) && buses_free(cycle) &&
        previous_folds_computed(next_start_)) {
      for (uint64_t j = 0; j < array_.cols; ++j) bus_free_[j] = cycle + j + t + r;
      streams_.push_back({next_start_++, cycle});
    }
    return;
  }
  // ws/is. A fold's stream starts once its block has landed in column 0's shadow registers (the
  // other columns' blocks land j cycles later, as the stream reaches them) and the left
  // injectors are done with the previous fold's T elements.
  if (next_start_ < next_load_ && col0_loaded_ > next_start_ && idle(streams_, cycle, t)) {
    streams_.push_back({next_start_++, cycle});
  }
  // A block load may begin once the previous fold has started: its block is leaving the shadow
  // registers with the stream's first element, skewed like the load, and the new block lands
  // R−1 cycles behind that wavefront, no earlier than each PE has moved the old one to active.
  // The load chain must also be free (one block every R cycles). Checked after the start above so
  // that a load can begin in the very cycle its predecessor starts: pipelined, starts are then
  // max(T, R) apart, and only the first load (R cycles) is exposed.
  if (next_load_ < folds_ && next_start_ >= next_load_ && idle(loads_, cycle, r) &&
      previous_folds_computed(next_load_)) {
    loads_.push_back({next_load_++, cycle});
  }
}

// The edge injectors: row i sends element q of a stream started at s in cycle s+i+q; column j of
// an os stream sends B element q in s+j+q; column j of a block load sends the element for row
// R−1−q in L+j+q (deepest row first, so that all R land together after R cycles).
void PeGrid::drive_edges(uint64_t cycle) {
  const uint64_t r = array_.rows, c = array_.cols, t = map_.t;
  std::fill(row_in_.begin(), row_in_.end(), Token{});
  std::fill(col_in_.begin(), col_in_.end(), Token{});
  const bool os = dataflow_ == Dataflow::kOs;
  const uint64_t sr = map_.sr, sc = map_.sc;
  auto flags = [t](bool valid, uint64_t q) {
    return static_cast<uint16_t>(kLive | (valid ? kValid : 0) | (q == 0 ? kFirst : 0) |
                                 (q + 1 == t ? kLast : 0));
  };
  for (const Issue& s : streams_) {
    const uint64_t d = cycle - s.start;  // edge register e sends element q = d − e
    const uint64_t row_base = s.fold / map_.col_folds * r, col_base = s.fold % map_.col_folds * c;
    const uint64_t lo = d >= t ? d - t + 1 : 0;
    for (uint64_t i = lo; i <= d && i < r; ++i) {
      const uint64_t q = d - i;
      Token& tok = row_in_[i];
      if (tok.flags & kLive) broken("two streams on one row injector", cycle, i, 0);
      if (os) {  // A[m][k], m = row_base + i, k = q
        const uint64_t m = row_base + i;
        tok = {static_cast<uint32_t>(m), static_cast<uint32_t>(q), 0, flags(m < sr, q)};
      } else {  // streamed element t = q of k-row k = row_base + i
        const uint64_t k = row_base + i;
        tok = {static_cast<uint32_t>(q), static_cast<uint32_t>(k), 0, flags(k < sr, q)};
      }
    }
    if (!os) continue;
    for (uint64_t j = lo; j <= d && j < c; ++j) {  // B[k][n], n = col_base + j, k = q
      const uint64_t q = d - j, n = col_base + j;
      Token& tok = col_in_[j];
      if (tok.flags & kLive) broken("two streams on one column injector", cycle, 0, j);
      tok = {static_cast<uint32_t>(n), static_cast<uint32_t>(q), 0, flags(n < sc, q)};
    }
  }
  for (const Issue& l : loads_) {
    const uint64_t d = cycle - l.start;
    const uint64_t row_base = l.fold / map_.col_folds * r, col_base = l.fold % map_.col_folds * c;
    const uint64_t lo = d >= r ? d - r + 1 : 0;
    for (uint64_t j = lo; j <= d && j < c; ++j) {  // stationary (x, k), x = col_base + j
      const uint64_t row = r - 1 - (d - j), x = col_base + j, k = row_base + row;
      Token& tok = col_in_[j];
      if (tok.flags & kLive) broken("two blocks on one load injector", cycle, 0, j);
      tok = {static_cast<uint32_t>(x), static_cast<uint32_t>(k), static_cast<uint16_t>(row),
             static_cast<uint16_t>(kLive | (x < sc && k < sr ? kValid : 0))};
    }
  }
}

// Drops issues whose last edge register has sent its last element in `cycle`.
void PeGrid::retire(uint64_t cycle) {
  const uint64_t r = array_.rows, c = array_.cols;
  const uint64_t edges = dataflow_ == Dataflow::kOs ? std::max(r, c) : r;
  auto over = [cycle](uint64_t span) {
    return [cycle, span](const Issue& s) { return cycle + 1 >= s.start + span; };
  };
  streams_.erase(std::remove_if(streams_.begin(), streams_.end(), over(edges - 1 + map_.t)),
                 streams_.end());
  loads_.erase(std::remove_if(loads_.begin(), loads_.end(), over(c - 1 + r)), loads_.end());
}

// os. PE(i,j) gets A from its left neighbour and B from the one above, both as they were at the
// end of the previous cycle: the h registers shift one column right and the v registers one row
// down as two block moves, the edge injectors' tokens entering column 0 and row 0. A row-i
// element q sent at s+i+q thus reaches column j at s+i+j+q, where B's column-j element q (sent at
// s+j+q) meets it: MAC k = q at s+i+j+k. The last MAC latches the result, which drives column
// j's bus in the next cycle, s+i+j+T. PEs are then visited bottom-up and right to left, the order
// in which the sink sees a cycle's MACs.
void PeGrid::step_output_stationary(uint64_t cycle) {
  const uint64_t rows = array_.rows, cols = array_.cols, pes = rows * cols;
  Token* const h = h_.data();
  Token* const v = v_.data();
  Token* const held = held_.data();
  // The last register of row i moves into row i+1's first, which its row's injector overwrites.
  std::memmove(h + 1, h, (pes - 1) * sizeof(Token));
  for (uint64_t i = 0; i < rows; ++i) h[i * cols] = row_in_[i];
  std::memmove(v + cols, v, (pes - cols) * sizeof(Token));
  std::memcpy(v, col_in_.data(), cols * sizeof(Token));

  MacSink* const sink = sink_;
  uint64_t macs = 0, steps = 0, results = 0;
  const uint64_t stamp = cycle + 1;  // bus_busy_ holds the last driven cycle + 1 (0: never)
  for (uint64_t i = rows; i-- > 0;) {
    for (uint64_t j = cols; j-- > 0;) {
      const uint64_t p = i * cols + j;
      if (held[p].flags & kLive) {
        if (bus_busy_[j] == stamp) broken("two results on one column bus", cycle, i, j);
        bus_busy_[j] = stamp;
        ++results;
        held[p] = Token{};
      }
      const Token& a = h[p];
      const Token& b = v[p];
      if ((a.flags | b.flags) & kLive) {
        if (!(a.flags & b.flags & kLive) || a.b != b.b)
          broken("A and B of different k", cycle, i, j);
        ++steps;
        const auto valid = static_cast<uint16_t>(a.flags & b.flags & kValid);
        if (valid) {
          ++macs;
          if (sink != nullptr) sink->mac(a.a, b.a, a.b);
        }
        if (a.flags & kLast) held[p] = {a.a, b.a, 0, static_cast<uint16_t>(kLive | valid)};
      }
    }
  }
  macs_ += macs;
  pe_steps_ += steps;
  results_out_ += results;
}

// ws/is. The streamed element t of k-row i reaches PE(i,j) at s+i+j+t, as in os. Its first
// element carries the fold switch: the PE moves its shadow element to active as it uses it, so
// the switch sweeps the array with the stream and fold f+1 can follow fold f element by element.
// The partial sum of PE(i−1,j) from the previous cycle comes in from above (same t, one k-row
// up), so sums run down the column in increasing k and leave the bottom of column j at s+R+j+t.
// Load tokens move down one row per cycle and are latched by their destination row.
void PeGrid::step_stationary(uint64_t cycle) {
  const uint64_t rows = array_.rows, cols = array_.cols;
  MacSink* const sink = sink_;
  const bool is = dataflow_ == Dataflow::kIs;
  uint64_t macs = 0, steps = 0, results = 0, col0_loaded = 0;
  for (uint64_t i = rows; i-- > 0;) {
    const bool top = i == 0, bottom = i + 1 == rows;
    for (uint64_t j = cols; j-- > 0;) {
      const uint64_t at = i * cols + j;
      Token &p_h = h_[at], &p_v = v_[at], &p_held = held_[at];
      Token &p_shadow = shadow_[at], &p_load = load_[at];
      const Token h = j > 0 ? h_[at - 1] : row_in_[i];
      const Token in = !top ? v_[at - cols] : Token{};
      const Token load = !top ? load_[at - cols] : col_in_[j];
      if (bottom && (p_v.flags & kLive)) ++results;  // last cycle's sum leaves the array
      Token out{};
      if (h.flags & kLive) {
        if (h.flags & kFirst) {
          if (!(p_shadow.flags & kLive)) broken("fold reached a PE before its block", cycle, i, j);
          p_held = p_shadow;
          p_shadow = Token{};
        }
        if (!(p_held.flags & kLive) || p_held.b != h.b) {
          broken("streamed and stationary elements of different k", cycle, i, j);
        }
        if (!top && (!(in.flags & kLive) || in.a != h.a)) {
          broken("partial sum of another row", cycle, i, j);
        }
        ++steps;
        const auto valid = static_cast<uint16_t>(h.flags & p_held.flags & kValid);
        if (valid) {
          ++macs;
          if (sink != nullptr) {
            if (is) {
              sink->mac(p_held.a, h.a, h.b);
            } else {
              sink->mac(h.a, p_held.a, h.b);
            }
          }
        }
        out = {h.a, p_held.a, 0, static_cast<uint16_t>(kLive | ((in.flags | valid) & kValid))};
      } else if (in.flags & kLive) {
        broken("partial sum without a streamed element", cycle, i, j);
      }
      p_h = h;
      p_v = out;
      // Latched after the fold switch above: in the cycle the old block's last element moves to
      // active (bottom row), the new one may land in the same shadow register.
      if ((load.flags & kLive) && load.row == i) {
        if (p_shadow.flags & kLive) broken("block landed on an unused one", cycle, i, j);
        p_shadow = load;
        p_load = Token{};
        if (i == 0 && j == 0) ++col0_loaded;  // row 0's element is sent last
      } else {
        p_load = load;
      }
    }
  }
  macs_ += macs;
  pe_steps_ += steps;
  results_out_ += results;
  col0_loaded_ += col0_loaded;
}

uint64_t PeGrid::pe_register(uint64_t row, uint64_t col, std::size_t index) const {
  if (row >= array_.rows || col >= array_.cols || index >= fields_.size()) {
    throw std::out_of_range("PeGrid::pe_register: no register " + std::to_string(index) +
                            " at PE (" + std::to_string(row) + ", " + std::to_string(col) + ")");
  }
  const uint64_t at = row * array_.cols + col;
  const RegisterField f = fields_[index];
  const std::vector<Token>* const registers[] = {&h_, &v_, &held_, &shadow_, &load_};
  const Token& tok = (*registers[f.token])[at];
  return f.field == 0 ? tok.flags : f.field == 1 ? tok.a : tok.b;
}

}  // namespace nibble
