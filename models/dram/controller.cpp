#include "models/dram/controller.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "models/dram/presets.h"
#include "sim/error.h"

namespace nibble {

namespace {

constexpr uint64_t kNever = QueuedDram::kNever;
constexpr int kIdle = -1;
constexpr int kColumn = 0, kPre = 1, kAct = 2, kRef = 3;

int stall(DramStall s) { return static_cast<int>(s); }

uint64_t sat_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// Products of times and femtoseconds exceed 64 bits after some hours of simulated time.
__extension__ using Wide = unsigned __int128;

// ceil(ns / tck_ns) in whole cycles, as controllers program timings; a quotient within a
// millionth of a whole number is that number (13.75 ns at 0.625 ns is 22 cycles, not 23).
uint64_t to_cycles(double ns, double tck_ns) {
  const double q = ns / tck_ns;
  const double nearest = std::round(q);
  if (std::fabs(q - nearest) <= 1e-6 * std::max(1.0, nearest)) {
    return static_cast<uint64_t>(nearest);
  }
  return static_cast<uint64_t>(std::ceil(q));
}

// tCK and tBurst after `bandwidth_gbps` (a faster interface, same core timings in ns): the
// burst takes channels x burst_bytes / bandwidth ns (bytes / (GB/s) = ns), the clock scales with
// it so tBurst stays the same number of cycles.
double effective_tburst_ns(const DramControllerParams& p) {
  if (p.bandwidth_gbps <= 0) return p.tburst_ns;
  return static_cast<double>(p.channels * p.burst_bytes) / p.bandwidth_gbps;
}
double effective_tck_ns(const DramControllerParams& p) {
  return p.tck_ns * effective_tburst_ns(p) / p.tburst_ns;
}

std::string number(double v) { return format_double(v); }

}  // namespace

const char* to_string(DramMapping mapping) {
  return mapping == DramMapping::kRowBankColumnChannel ? "row_bank_column_channel"
                                                       : "row_column_bank_channel";
}

const char* to_string(DramStall s) {
  switch (s) {
    case DramStall::kRow:
      return "row";
    case DramStall::kRefresh:
      return "refresh";
    case DramStall::kTurnaround:
      return "turnaround";
    case DramStall::kActivationWindow:
      return "activation_window";
    case DramStall::kBank:
      return "bank";
    case DramStall::kLatency:
      return "latency";
  }
  return "?";
}

// --- Params --------------------------------------------------------------------------------------

void DramControllerParams::read(ConfigNode& node) {
  const std::string name = node.get_choice("preset", preset, dram_preset_names());
  *this = dram_preset(name);
  auto count = [&](const char* key, uint64_t& field, int64_t max) {
    field = static_cast<uint64_t>(node.get_int(key, static_cast<int64_t>(field), 1, max));
  };
  auto ns = [&](const char* key, double& field) { field = node.get_double(key, field, 0, 1e9); };
  count("channels", channels, 1024);
  count("banks", banks, 1024);
  count("row_bytes", row_bytes, int64_t{1} << 30);
  count("burst_bytes", burst_bytes, int64_t{1} << 20);
  count("interleave_bytes", interleave_bytes, int64_t{1} << 30);
  mapping = node.get_choice("mapping", to_string(mapping),
                            {"row_bank_column_channel", "row_column_bank_channel"}) ==
                    "row_bank_column_channel"
                ? DramMapping::kRowBankColumnChannel
                : DramMapping::kRowColumnBankChannel;
  bank_xor = node.get_bool("bank_xor", bank_xor);
  count("queue_depth", queue_depth, 1 << 16);
  count("write_queue_depth", write_queue_depth, 1 << 16);
  ns("tck_ns", tck_ns);
  ns("tcl_ns", tcl_ns);
  ns("tcwl_ns", tcwl_ns);
  ns("trcd_ns", trcd_ns);
  ns("trp_ns", trp_ns);
  ns("tras_ns", tras_ns);
  ns("trrd_ns", trrd_ns);
  ns("tfaw_ns", tfaw_ns);
  ns("twr_ns", twr_ns);
  ns("twtr_ns", twtr_ns);
  ns("trtw_ns", trtw_ns);
  ns("trtp_ns", trtp_ns);
  ns("tburst_ns", tburst_ns);
  ns("trefi_ns", trefi_ns);
  ns("trfc_ns", trfc_ns);
  ns("frontend_latency_ns", frontend_latency_ns);
  bandwidth_gbps = node.get_double("bandwidth_gbps", bandwidth_gbps, 0, 1e6);
  validate([&node](const std::string& key) {
    return node.origin_of(key) + ": " + (node.path().empty() ? key : node.path() + "." + key);
  });
}

void DramControllerParams::validate() const {
  validate([](const std::string& key) { return "accelerator.dram." + key; });
}

void DramControllerParams::validate(
    const std::function<std::string(const std::string& key)>& where) const {
  auto fail = [&](const std::string& key, const std::string& expected, const std::string& found) {
    throw InputError(where(key) + ": expected " + expected + ", found " + found);
  };
  const std::vector<std::string>& names = dram_preset_names();
  if (std::find(names.begin(), names.end(), preset) == names.end()) {
    std::string list;
    for (const std::string& n : names) list += " \"" + n + "\"";
    fail("preset", "one of" + list, "\"" + preset + "\"");
  }
  auto at_least_one = [&](const char* key, uint64_t v) {
    if (v < 1) fail(key, "at least 1", std::to_string(v));
  };
  at_least_one("channels", channels);
  at_least_one("banks", banks);
  at_least_one("burst_bytes", burst_bytes);
  at_least_one("queue_depth", queue_depth);
  at_least_one("write_queue_depth", write_queue_depth);
  if (row_bytes < burst_bytes || row_bytes % burst_bytes != 0) {
    fail("row_bytes", "a multiple of burst_bytes (" + std::to_string(burst_bytes) + ")",
         std::to_string(row_bytes));
  }
  if (interleave_bytes < burst_bytes || interleave_bytes % burst_bytes != 0) {
    fail("interleave_bytes", "a multiple of burst_bytes (" + std::to_string(burst_bytes) + ")",
         std::to_string(interleave_bytes));
  }
  if (interleave_bytes > row_bytes || row_bytes % interleave_bytes != 0) {
    fail("interleave_bytes",
         "a divisor of row_bytes (" + std::to_string(row_bytes) + "), so chunks fill rows",
         std::to_string(interleave_bytes));
  }
  const std::pair<const char*, double> timings[] = {{"tck_ns", tck_ns},
                                                    {"tcl_ns", tcl_ns},
                                                    {"tcwl_ns", tcwl_ns},
                                                    {"trcd_ns", trcd_ns},
                                                    {"trp_ns", trp_ns},
                                                    {"tras_ns", tras_ns},
                                                    {"trrd_ns", trrd_ns},
                                                    {"tfaw_ns", tfaw_ns},
                                                    {"twr_ns", twr_ns},
                                                    {"twtr_ns", twtr_ns},
                                                    {"trtw_ns", trtw_ns},
                                                    {"trtp_ns", trtp_ns},
                                                    {"tburst_ns", tburst_ns},
                                                    {"trefi_ns", trefi_ns},
                                                    {"trfc_ns", trfc_ns},
                                                    {"frontend_latency_ns", frontend_latency_ns},
                                                    {"bandwidth_gbps", bandwidth_gbps}};
  for (const auto& [key, v] : timings) {
    if (!std::isfinite(v) || v < 0 || v > 1e9) fail(key, "a number in [0, 1e9]", number(v));
  }
  if (tck_ns < 1e-3) fail("tck_ns", "at least 0.001 (1 ps)", number(tck_ns));
  if (tburst_ns < tck_ns) {
    fail("tburst_ns", "at least tck_ns (" + number(tck_ns) + "): a burst takes whole clocks",
         number(tburst_ns));
  }
  if (tras_ns < trcd_ns) {
    fail("tras_ns", "at least trcd_ns (" + number(trcd_ns) + "): a row opens before it closes",
         number(tras_ns));
  }
  if (trefi_ns <= trfc_ns) {
    fail("trefi_ns", "more than trfc_ns (" + number(trfc_ns) + "), or refresh never ends",
         number(trefi_ns));
  }
  if (bandwidth_gbps > 0 && effective_tck_ns(*this) < 1e-3) {
    fail("bandwidth_gbps", "a bandwidth that leaves tck_ns at least 1 ps", number(bandwidth_gbps));
  }
}

// --- Controller ----------------------------------------------------------------------------------

DramController::DramController(const DramControllerParams& params, double core_mhz)
    : params_(params), core_mhz_(core_mhz) {
  params_.validate();
  if (!(core_mhz > 0)) throw std::invalid_argument("DramController: core_mhz must be positive");
  const double tck = effective_tck_ns(params_);
  tck_fs_ = static_cast<uint64_t>(std::llround(tck * 1e6));
  auto cyc = [&](double ns) { return to_cycles(ns, tck); };
  t_.cl = cyc(params_.tcl_ns);
  t_.cwl = cyc(params_.tcwl_ns);
  t_.rcd = cyc(params_.trcd_ns);
  t_.rp = cyc(params_.trp_ns);
  t_.ras = cyc(params_.tras_ns);
  t_.rrd = cyc(params_.trrd_ns);
  t_.faw = cyc(params_.tfaw_ns);
  t_.wr = cyc(params_.twr_ns);
  t_.wtr = cyc(params_.twtr_ns);
  t_.rtw = cyc(params_.trtw_ns);
  t_.rtp = cyc(params_.trtp_ns);
  t_.burst = std::max<uint64_t>(1, cyc(effective_tburst_ns(params_)));
  t_.refi = cyc(params_.trefi_ns);
  t_.rfc = cyc(params_.trfc_ns);
  // tREFI > tRFC in ns can still round to equal cycle counts on a coarse clock.
  t_.refi = std::max(t_.refi, t_.rfc + 1);
  frontend_ps_ = static_cast<uint64_t>(std::llround(params_.frontend_latency_ns * 1e3));
  // Drain writes from 3/4 full down to 1/4 (rounded so that a depth of 1 drains at 1).
  high_watermark_ = (3 * params_.write_queue_depth + 3) / 4;
  low_watermark_ = params_.write_queue_depth / 4;
  channels_.resize(params_.channels);
  for (Channel& ch : channels_) {
    ch.banks.resize(params_.banks);
    ch.refresh_due = t_.refi;
    ch.internal_next = t_.refi;
  }
  // Leaves past the last channel repeat channel 0, which never loses a tie to them.
  while (leaves_ < channels_.size()) leaves_ *= 2;
  earliest_.assign(2 * leaves_, 0);
  for (std::size_t c = 0; c < channels_.size(); ++c)
    earliest_[leaves_ + c] = static_cast<uint32_t>(c);
  for (std::size_t c = 0; c < channels_.size(); ++c) promote(c);
  split_slot_.assign(params_.channels * params_.banks, {0, 0});
  candidates_.resize(2 * params_.banks);
}

double DramController::peak_gbps() const {
  // bytes per ps x 1000 = GB/s.
  return static_cast<double>(params_.channels * params_.burst_bytes) * 1e3 /
         (static_cast<double>(t_.burst * tck_fs_) / 1000.0);
}

double DramController::peak_bytes_per_cycle() const { return peak_gbps() * 1e3 / core_mhz_; }

uint64_t DramController::latency_cycles() const {
  const uint64_t ps = edge_ps(t_.rcd + t_.cl + t_.burst) + frontend_ps_;
  return transfer_cycles(ps, 1e6 / core_mhz_);
}

DramController::Location DramController::locate(uint64_t address) const {
  const uint64_t il = params_.interleave_bytes;
  const uint64_t chunk = address / il, offset = address % il;
  const uint64_t cc = chunk / params_.channels;  // the chunk's index within its channel
  const uint64_t per_row = params_.row_bytes / il;
  Location l;
  l.channel = chunk % params_.channels;
  uint64_t column_chunk = 0;
  if (params_.mapping == DramMapping::kRowBankColumnChannel) {
    column_chunk = cc % per_row;
    l.bank = (cc / per_row) % params_.banks;
    l.row = cc / (per_row * params_.banks);
  } else {
    l.bank = cc % params_.banks;
    column_chunk = (cc / params_.banks) % per_row;
    l.row = cc / (params_.banks * per_row);
  }
  if (params_.bank_xor) {
    // Fold the row into the bank index's digits: XOR for a power-of-two bank count, a digit sum
    // otherwise.
    const uint64_t banks = params_.banks;
    uint64_t fold = 0;
    for (uint64_t r = l.row; r > 0; r /= banks) {
      fold = (banks & (banks - 1)) == 0 ? fold ^ (r % banks) : (fold + r % banks) % banks;
    }
    l.bank = (banks & (banks - 1)) == 0 ? l.bank ^ fold : (l.bank + fold) % banks;
  }
  l.column_byte = column_chunk * il + offset;
  return l;
}

void DramController::enqueue(uint64_t arrival_ps, const DramRequest& request) {
  if (request.bytes == 0) throw std::invalid_argument("DramController: a request of 0 bytes");
  if (arrival_ps < last_arrival_ps_) {
    throw std::invalid_argument("DramController: arrivals out of time order");
  }
  last_arrival_ps_ = arrival_ps;
  // The first tCK edge at or after the arrival: the smallest n with n x tCK >= arrival.
  const uint64_t edge =
      static_cast<uint64_t>((static_cast<Wide>(arrival_ps) * 1000 + tck_fs_ - 1) / tck_fs_);
  uint32_t slot = 0;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  const uint64_t serial = ++requests_;
  // Split into per-channel transactions, one per (bank, row) the request touches; pieces of one
  // row in one channel (which need not be adjacent in the address) share a transaction.
  std::vector<std::pair<std::size_t, Txn>>& txns = split_;
  txns.clear();
  const uint64_t il = params_.interleave_bytes, bb = params_.burst_bytes;
  const uint64_t end = request.address + request.bytes;
  for (uint64_t pos = request.address; pos < end;) {
    const uint64_t offset = pos % il;
    const uint64_t len = std::min(il - offset, end - pos);
    const Location l = locate(pos);
    // Bursts the piece covers within its chunk (chunks hold whole bursts).
    const uint64_t first = l.column_byte / bb, last = (l.column_byte + len - 1) / bb;
    auto& used = split_slot_[l.channel * params_.banks + l.bank];
    if (used.first == serial && txns[used.second].second.row == l.row) {
      Txn& t = txns[used.second].second;
      t.bursts_left += last - first + 1;
      t.bytes += len;
    } else {
      Txn t;
      t.request = slot;
      t.bank = static_cast<uint32_t>(l.bank);
      t.row = l.row;
      t.bursts_left = last - first + 1;
      t.bytes = len;
      t.write = request.write;
      used = {serial, txns.size()};
      txns.emplace_back(l.channel, t);
    }
    pos += len;
  }
  slots_[slot] = {request.tag, txns.size(), 0};
  for (auto& [c, t] : txns) {
    Channel& ch = channels_[c];
    // A channel that already decided at this edge sees the request from its next decision on.
    t.arrival = std::max(edge, ch.next_allowed);
    ch.arrivals.push_back(t);
    publish(ch);
  }
}

uint64_t DramController::next_event_ps() const {
  const uint64_t t = channels_[earliest_[1]].published;
  return t == kNever ? kNever : edge_ps(t);
}

bool DramController::run(uint64_t limit_ps, std::vector<DramCompletion>& done) {
  while (true) {
    const std::size_t best = earliest_[1];
    const uint64_t t = channels_[best].published;
    if (t == kNever || edge_ps(t) >= limit_ps) return false;
    if (step(best, t, done)) return true;
  }
}

void DramController::promote(std::size_t channel) {
  for (std::size_t k = (leaves_ + channel) / 2; k >= 1; k /= 2) {
    const uint32_t l = earliest_[2 * k], r = earliest_[2 * k + 1];
    earliest_[k] = channels_[r].published < channels_[l].published ? r : l;
  }
}

bool DramController::queued(const Channel& ch) const {
  return !ch.queue[0].empty() || !ch.queue[1].empty() || !ch.overflow[0].empty() ||
         !ch.overflow[1].empty();
}

// Writes are served while draining (the write queue reached the high watermark and has not yet
// fallen to the low one) or when no read is queued; reads otherwise.
bool DramController::write_mode(const Channel& ch) const {
  return ch.draining || (ch.queue[0].empty() && !ch.queue[1].empty());
}

void DramController::publish(Channel& ch) {
  const uint64_t arrival = ch.arrivals.empty() ? kNever : ch.arrivals.front().arrival;
  ch.published = std::min(arrival, queued(ch) ? ch.internal_next : kNever);
  promote(static_cast<std::size_t>(&ch - channels_.data()));
}

uint64_t DramController::faw_bound(const Channel& ch) const {
  return ch.act_count < 4 ? 0 : ch.acts[ch.act_count % 4] + t_.faw;
}

// The earliest ACT of closed bank `b` at or after `now`, and what binds it.
uint64_t DramController::act_earliest(const Channel& ch, const Bank& b, uint64_t now,
                                      int* cause) const {
  uint64_t e = std::max(now, b.next_act);
  *cause = stall(DramStall::kRow);
  const uint64_t window = std::max(ch.rrd_bound, faw_bound(ch));
  if (window > e) {
    e = window;
    *cause = stall(DramStall::kActivationWindow);
  }
  if (ch.refresh_end > e) {
    e = ch.refresh_end;
    *cause = stall(DramStall::kRefresh);
  }
  return e;
}

// The earliest column command to the open row of `b` at or after `now`, and what binds it
// (nothing but `now`: the burst is only waiting for its CAS latency).
uint64_t DramController::column_earliest(const Channel& ch, const Bank& b, bool write, uint64_t now,
                                         int* cause) const {
  uint64_t e = now;
  *cause = stall(DramStall::kLatency);
  if (b.next_col > e) {
    e = b.next_col;
    *cause = stall(DramStall::kRow);
  }
  const uint64_t turn = write ? sat_sub(ch.wr_turn, t_.cwl) : ch.rd_turn;
  if (turn > e) {
    e = turn;
    *cause = stall(DramStall::kTurnaround);
  }
  // The bus bound leaves no idle cycle before the data, so it names no cause.
  return std::max(e, sat_sub(ch.bus_free, write ? t_.cwl : t_.cl));
}

DramController::Scan DramController::scan(const Channel& ch, uint64_t now, bool issue_only) const {
  Scan s;
  const bool any = queued(ch);
  if (now >= ch.refresh_due) {
    // Refresh is due: close every bank as its timing allows (lowest index first), then REF once
    // all are closed and precharged; nothing else issues meanwhile.
    s.cause = any ? stall(DramStall::kRefresh) : kIdle;
    bool all_closed = true;
    uint64_t ref = std::max(now, ch.refresh_end);
    for (uint32_t i = 0; i < ch.banks.size(); ++i) {
      const Bank& b = ch.banks[i];
      if (b.open) {
        all_closed = false;
        const uint64_t e = std::max(now, b.next_pre);
        if (e == now && s.issue < 0) {
          s.issue = kPre;
          s.bank = i;
        }
        s.next = std::min(s.next, e);
      } else {
        ref = std::max(ref, b.next_act);
      }
    }
    if (all_closed) {
      if (ref == now) s.issue = kRef;
      s.next = ref;
    }
    return s;
  }
  s.next = ch.refresh_due;  // refresh becomes due then
  if (!any) return s;       // idle: cause stays kIdle
  const bool write = write_mode(ch);
  const std::vector<Txn>& q = ch.queue[write ? 1 : 0];
  const uint64_t lat = write ? t_.cwl : t_.cl;
  const uint64_t turn = write ? sat_sub(ch.wr_turn, t_.cwl) : ch.rd_turn;
  const uint64_t bus = sat_sub(ch.bus_free, lat);
  int col_issue = -1, row_issue = -1;
  uint64_t best_data = kNever;
  // The earliest column and row commands and the first transaction of each (for then_issue).
  uint64_t col_min = kNever, row_min = kNever;
  std::size_t col_first = 0, row_first = 0;
  // For Scan::stream_until: the earliest row command + 1 (a row command at a burst's own time
  // waits for the next tCK), the earliest tRCD end of the open rows of hit candidates seen so far
  // (older than the current one) and its value when col_first was chosen.
  uint64_t row_until = kNever, older_col_ready = kNever, col_first_older = kNever;
  // Transactions of one bank that hit its open row share their candidate, as do those that do
  // not (slot 2 x bank + hit). A candidate is decided by its oldest transaction: its times are
  // computed there, and its younger ones change nothing below (no time is strictly earlier,
  // the first ready one is already chosen), so they are passed over.
  const uint64_t serial = ++scan_serial_;
  for (std::size_t i = 0; i < q.size(); ++i) {
    const Txn& t = q[i];
    const Bank& b = ch.banks[t.bank];
    const bool hit = b.open && b.row == t.row;
    Candidate& c = candidates_[2 * t.bank + (hit ? 1 : 0)];
    if (c.serial == serial) continue;
    c.serial = serial;
    uint64_t column = 0;  // its column command
    if (hit) {
      c.cmd = column = column_earliest(ch, b, write, now, &c.cause);
    } else {
      uint64_t act = 0;
      if (b.open) {
        // Another row is open: close it unless a queued request still hits it.
        if (b.hits[write ? 1 : 0] > 0) continue;
        c.cmd = std::max(now, b.next_pre);
        c.cause =
            b.next_pre > now && b.pre_by_bank ? stall(DramStall::kBank) : stall(DramStall::kRow);
        act = c.cmd + t_.rp;
        const uint64_t window = std::max(ch.rrd_bound, faw_bound(ch));
        if (window > act) {
          act = window;
          c.cause = stall(DramStall::kActivationWindow);
        }
      } else {
        c.cmd = act = act_earliest(ch, b, now, &c.cause);
      }
      column = act + t_.rcd;
      if (turn > column) {
        column = turn;
        c.cause = stall(DramStall::kTurnaround);
      }
      column = std::max(column, bus);
    }
    c.data = column + lat;
    if (!hit) row_until = std::min(row_until, c.cmd + 1);
    if (c.cmd == now) {
      int& first = hit ? col_issue : row_issue;
      if (first < 0) first = static_cast<int>(i);
      // The oldest ready column command goes: the rest of the scan could change nothing but
      // `next` and `cause`, which the scan after the command recomputes.
      if (hit && issue_only) break;
    }
    s.next = std::min(s.next, c.cmd);
    uint64_t& least = hit ? col_min : row_min;
    if (c.cmd < least) {
      least = c.cmd;
      (hit ? col_first : row_first) = i;
      if (hit) col_first_older = older_col_ready;
    }
    if (hit) older_col_ready = std::min(older_col_ready, b.next_col);
    if (c.data < best_data) {
      best_data = c.data;
      s.cause = c.cause;
    }
  }
  if (col_issue >= 0) {
    s.issue = kColumn;
    s.txn = static_cast<std::size_t>(col_issue);
  } else if (row_issue >= 0) {
    s.txn = static_cast<std::size_t>(row_issue);
    s.issue = ch.banks[q[s.txn].bank].open ? kPre : kAct;
  }
  if (s.issue >= 0 && s.issue != kRef) s.bank = q[s.txn].bank;
  // At `next` (before refresh is due) the candidates' times are as computed here: each is the
  // max of `now` and bounds that only a command or an arrival moves, and none is below `next`.
  if (s.next < ch.refresh_due) {
    s.then_issue = col_min == s.next ? kColumn : kPre;  // kPre: a row command (PRE or ACT)
    s.then_txn = col_min == s.next ? col_first : row_first;
    // While only that transaction's bursts issue, each is ready tBurst after the previous one
    // (the bus bound) and every other candidate's bounds stay as they are: a row command's (PRE
    // and ACT timing move with row commands only) and an older hit's tRCD end. The turnaround
    // bound of this direction moves with the other direction's data only. Its bursts before
    // the earliest of those, and before refresh is due, are therefore the only decisions.
    if (s.then_issue == kColumn) {
      s.stream_until = std::min({ch.refresh_due, row_until, col_first_older});
    }
  }
  return s;
}

int DramController::cause_of(const Channel& ch) const {
  // A stale cause is that of the scan the last decision skipped: nothing has changed since.
  return ch.cause_stale ? scan(ch, ch.next_allowed).cause : ch.cause;
}

void DramController::account(Channel& ch, uint64_t now) {
  if (ch.cursor >= now) return;
  const uint64_t n = now - ch.cursor;
  const int cause = cause_of(ch);
  if (cause < 0) {
    ch.stats.idle_cycles += n;
  } else {
    ch.stats.stall_cycles[static_cast<std::size_t>(cause)] += n;
  }
  ch.cursor = now;
}

void DramController::finish_txn(const Txn& txn, uint64_t done_ps, std::vector<DramCompletion>& done,
                                bool* any) {
  Request& r = slots_[txn.request];
  r.done_ps = std::max(r.done_ps, done_ps);
  if (--r.remaining == 0) {
    done.push_back({r.tag, r.done_ps});
    free_slots_.push_back(txn.request);
    *any = true;
  }
}

void DramController::accept(Channel& ch, const Txn& txn, uint64_t now,
                            std::vector<DramCompletion>& done, bool* any) {
  const int w = txn.write ? 1 : 0;
  const uint64_t depth = txn.write ? params_.write_queue_depth : params_.queue_depth;
  if (ch.queue[w].size() < depth && ch.overflow[w].empty()) {
    enter(ch, txn, now, done, any);
    return;
  }
  // Back-pressure: invisible to the scheduler until a slot frees, in arrival order.
  ch.overflow[w].push_back(txn);
  ++ch.stats.overflowed;
  ch.stats.peak_overflow =
      std::max<uint64_t>(ch.stats.peak_overflow, ch.overflow[0].size() + ch.overflow[1].size());
}

void DramController::enter(Channel& ch, const Txn& txn, uint64_t now,
                           std::vector<DramCompletion>& done, bool* any) {
  const int w = txn.write ? 1 : 0;
  ch.stats.overflow_wait_cycles += now - txn.arrival;
  Bank& b = ch.banks[txn.bank];
  if (b.open && b.row == txn.row) ++b.hits[w];
  ch.queue[w].push_back(txn);
  ch.stream_until = 0;  // a new candidate: the stream's horizon is recomputed
  uint64_t& peak = txn.write ? ch.stats.peak_write_queue : ch.stats.peak_read_queue;
  peak = std::max<uint64_t>(peak, ch.queue[w].size());
  if (txn.write) {
    // Posted: the write is done for the requester once the controller holds it.
    finish_txn(txn, edge_ps(now) + frontend_ps_, done, any);
    if (ch.queue[1].size() >= high_watermark_) ch.draining = true;
  }
}

void DramController::recount_hits(Channel& ch, uint32_t bank) {
  Bank& b = ch.banks[bank];
  for (int w = 0; w < 2; ++w) {
    b.hits[w] = 0;
    for (const Txn& t : ch.queue[w]) {
      if (t.bank == bank && t.row == b.row) ++b.hits[w];
    }
  }
}

bool DramController::step(std::size_t c, uint64_t now, std::vector<DramCompletion>& done) {
  Channel& ch = channels_[c];
  bool any = false;
  // A channel with nothing queued sleeps (next_event_ps() ignores it); the refresh decisions it
  // skipped are made now, at their own times, before this one (no arrival is visible to them).
  while (ch.internal_next < now) decide(ch, ch.internal_next, done, &any);
  decide(ch, now, done, &any);
  publish(ch);
  return any;
}

void DramController::decide(Channel& ch, uint64_t now, std::vector<DramCompletion>& done,
                            bool* any_done) {
  bool& any = *any_done;
  account(ch, now);
  bool arrived = false;
  while (!ch.arrivals.empty() && ch.arrivals.front().arrival <= now) {
    const Txn t = ch.arrivals.front();
    ch.arrivals.pop_front();
    accept(ch, t, now, done, &any);
    arrived = true;
  }
  Scan s;
  if (!arrived && ch.internal_next == now && ch.planned_issue >= 0) {
    // Nothing changed since the last decision's complete scan: its plan is this scan's result.
    s.txn = ch.planned_txn;
    s.bank = ch.queue[write_mode(ch) ? 1 : 0][s.txn].bank;
    s.issue = ch.planned_issue == kColumn ? kColumn : ch.banks[s.bank].open ? kPre : kAct;
  } else {
    s = scan(ch, now, true);
  }
  if (s.issue >= 0) {
    Bank& b = ch.banks[s.bank];
    const bool write = write_mode(ch);
    const int w = write ? 1 : 0;
    std::vector<Txn>& q = ch.queue[w];
    switch (s.issue) {
      case kColumn: {
        Txn& t = q[s.txn];
        const uint64_t lat = write ? t_.cwl : t_.cl;
        const uint64_t data = now + lat, data_end = data + t_.burst;
        // What held this burst back, for the idle bus cycles before its data.
        int tag = stall(DramStall::kLatency);
        if (b.next_col == now) tag = stall(DramStall::kRow);
        const uint64_t turn = write ? sat_sub(ch.wr_turn, t_.cwl) : ch.rd_turn;
        if (turn == now && turn > b.next_col) tag = stall(DramStall::kTurnaround);
        if (ch.cursor < data)
          ch.stats.stall_cycles[static_cast<std::size_t>(tag)] += data - ch.cursor;
        ch.stats.busy_cycles += t_.burst;
        if (observer_ != nullptr) {
          observer_->on_transfer(static_cast<uint64_t>(&ch - channels_.data()), edge_ps(data),
                                 edge_ps(data_end), write);
        }
        ch.cursor = data_end;
        ch.bus_free = data_end;
        if (write) {
          ch.rd_turn = std::max(ch.rd_turn, data_end + t_.wtr);
          if (data_end + t_.wr > b.next_pre) {
            b.next_pre = data_end + t_.wr;
            b.pre_by_bank = true;
          }
          ++ch.stats.write_bursts;
        } else {
          ch.wr_turn = std::max(ch.wr_turn, data_end + t_.rtw);
          if (now + t_.rtp > b.next_pre) {
            b.next_pre = now + t_.rtp;
            b.pre_by_bank = true;
          }
          ++ch.stats.read_bursts;
        }
        if (!t.started) {
          t.started = true;
          if (!t.act_for_it) {
            ++ch.stats.row_hits;
          } else if (t.pre_for_it) {
            ++ch.stats.row_conflicts;
          } else {
            ++ch.stats.row_misses;
          }
        }
        if (--t.bursts_left > 0 && stream_skip_ && ch.stream_until > 0 && s.txn == ch.planned_txn &&
            now + t_.burst < ch.stream_until) {
          // The stream's next burst is the next decision (Scan::stream_until): what a scan
          // at now + 1 would find, without it.
          ++scans_skipped_;
          ch.next_allowed = now + 1;
          ch.internal_next = now + t_.burst;
          ch.cause_stale = true;
          ch.planned_issue = kColumn;  // planned_txn stays s.txn
          return;
        }
        if (t.bursts_left == 0) {
          const Txn finished = t;
          q.erase(q.begin() + static_cast<std::ptrdiff_t>(s.txn));
          --b.hits[w];
          if (write) {
            ++ch.stats.writes;
            ch.stats.write_bytes += finished.bytes;
            write_bytes_ += finished.bytes;
          } else {
            ++ch.stats.reads;
            ch.stats.read_bytes += finished.bytes;
            read_bytes_ += finished.bytes;
            finish_txn(finished, edge_ps(data_end) + frontend_ps_, done, &any);
          }
          if (!ch.overflow[w].empty()) {
            const Txn next = ch.overflow[w].front();
            ch.overflow[w].pop_front();
            enter(ch, next, now, done, &any);
          }
          if (ch.queue[1].size() <= low_watermark_) ch.draining = false;
        }
        break;
      }
      case kPre:
        b.open = false;
        b.next_act = std::max(b.next_act, now + t_.rp);
        b.hits[0] = b.hits[1] = 0;
        ++ch.stats.precharges;
        if (now < ch.refresh_due) q[s.txn].pre_for_it = true;
        break;
      case kAct: {
        Txn& t = q[s.txn];
        b.open = true;
        b.row = t.row;
        b.next_col = now + t_.rcd;
        b.next_pre = now + t_.ras;
        b.pre_by_bank = false;
        ch.rrd_bound = now + t_.rrd;
        ch.acts[ch.act_count % 4] = now;
        ++ch.act_count;
        ++ch.stats.activates;
        t.act_for_it = true;
        recount_hits(ch, s.bank);
        break;
      }
      case kRef:
        ch.refresh_end = now + t_.rfc;
        ch.refresh_due += t_.refi;
        ++ch.stats.refreshes;
        break;
    }
    s = scan(ch, now + 1);
  }
  ch.next_allowed = now + 1;
  ch.internal_next = s.next;
  ch.cause = s.cause;
  ch.cause_stale = false;
  ch.planned_issue = s.then_issue;
  ch.planned_txn = s.then_txn;
  ch.stream_until = s.stream_until;
}

// --- Reporting -----------------------------------------------------------------------------------

Json DramController::describe() const {
  const DramControllerParams& p = params_;
  Json cycles = {{"tcl", t_.cl},     {"tcwl", t_.cwl}, {"trcd", t_.rcd}, {"trp", t_.rp},
                 {"tras", t_.ras},   {"trrd", t_.rrd}, {"tfaw", t_.faw}, {"twr", t_.wr},
                 {"twtr", t_.wtr},   {"trtw", t_.rtw}, {"trtp", t_.rtp}, {"tburst", t_.burst},
                 {"trefi", t_.refi}, {"trfc", t_.rfc}};
  return {{"impl", "DramController"},
          {"preset", p.preset},
          {"channels", p.channels},
          {"banks", p.banks},
          {"row_bytes", p.row_bytes},
          {"burst_bytes", p.burst_bytes},
          {"interleave_bytes", p.interleave_bytes},
          {"mapping", to_string(p.mapping)},
          {"bank_xor", p.bank_xor},
          {"queue_depth", p.queue_depth},
          {"write_queue_depth", p.write_queue_depth},
          {"write_drain_high", high_watermark_},
          {"write_drain_low", low_watermark_},
          {"tck_ns", p.tck_ns},
          {"tcl_ns", p.tcl_ns},
          {"tcwl_ns", p.tcwl_ns},
          {"trcd_ns", p.trcd_ns},
          {"trp_ns", p.trp_ns},
          {"tras_ns", p.tras_ns},
          {"trrd_ns", p.trrd_ns},
          {"tfaw_ns", p.tfaw_ns},
          {"twr_ns", p.twr_ns},
          {"twtr_ns", p.twtr_ns},
          {"trtw_ns", p.trtw_ns},
          {"trtp_ns", p.trtp_ns},
          {"tburst_ns", p.tburst_ns},
          {"trefi_ns", p.trefi_ns},
          {"trfc_ns", p.trfc_ns},
          {"frontend_latency_ns", p.frontend_latency_ns},
          {"bandwidth_gbps", p.bandwidth_gbps},
          {"effective_tck_ns", static_cast<double>(tck_fs_) / 1e6},
          {"effective_tburst_ns", static_cast<double>(t_.burst * tck_fs_) / 1e6},
          {"cycles", std::move(cycles)},
          {"peak_gbps", peak_gbps()},
          {"unloaded_read_latency_ns",
           static_cast<double>(edge_ps(t_.rcd + t_.cl + t_.burst) + frontend_ps_) / 1e3},
          {"latency_cycles", latency_cycles()}};
}

namespace {

struct StatLine {
  const char* name;
  uint64_t DramController::ChannelStats::*field;
  const char* unit;
  const char* description;
  bool peak;  // a maximum over channels in the totals (else a sum)
};

const StatLine kStatLines[] = {
    {"reads", &DramController::ChannelStats::reads, "transaction", "read transactions served",
     false},
    {"writes", &DramController::ChannelStats::writes, "transaction",
     "write transactions written to the devices", false},
    {"read_bytes", &DramController::ChannelStats::read_bytes, "byte", "bytes read", false},
    {"write_bytes", &DramController::ChannelStats::write_bytes, "byte", "bytes written", false},
    {"read_bursts", &DramController::ChannelStats::read_bursts, "burst", "RD commands", false},
    {"write_bursts", &DramController::ChannelStats::write_bursts, "burst", "WR commands", false},
    {"activates", &DramController::ChannelStats::activates, "command", "ACT commands", false},
    {"precharges", &DramController::ChannelStats::precharges, "command", "PRE commands", false},
    {"refreshes", &DramController::ChannelStats::refreshes, "command",
     "all-bank REF commands (a channel with nothing queued catches up when it next has work)",
     false},
    {"row_hits", &DramController::ChannelStats::row_hits, "transaction",
     "transactions whose first column command found their row open, no ACT issued for them", false},
    {"row_misses", &DramController::ChannelStats::row_misses, "transaction",
     "transactions that needed an ACT of a closed bank", false},
    {"row_conflicts", &DramController::ChannelStats::row_conflicts, "transaction",
     "transactions that needed a PRE of another open row, then an ACT", false},
    {"peak_read_queue", &DramController::ChannelStats::peak_read_queue, "transaction",
     "most read queue entries at once", true},
    {"peak_write_queue", &DramController::ChannelStats::peak_write_queue, "transaction",
     "most write queue entries at once", true},
    {"peak_overflow", &DramController::ChannelStats::peak_overflow, "transaction",
     "most transactions waiting for a queue slot at once (back-pressure)", true},
    {"overflowed", &DramController::ChannelStats::overflowed, "transaction",
     "transactions that found their queue full and waited", false},
    {"overflow_wait_cycles", &DramController::ChannelStats::overflow_wait_cycles, "dram-cycle",
     "tCK transactions waited for a queue slot, summed", false},
    {"bus_busy_cycles", &DramController::ChannelStats::busy_cycles, "dram-cycle",
     "tCK the data bus carried data", false},
    {"bus_idle_cycles", &DramController::ChannelStats::idle_cycles, "dram-cycle",
     "tCK the data bus was idle with nothing queued, up to the channel's last decision", false},
};

double rate(uint64_t num, uint64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

}  // namespace

void DramController::add_stats(Stats& stats, const std::string& prefix) const {
  stats.add(prefix + "requests", requests_, "request", "requests (DMA bursts) enqueued");
  auto emit = [&](const std::string& pre, const ChannelStats& cs) {
    for (const StatLine& l : kStatLines)
      stats.add(pre + l.name, cs.*l.field, l.unit, l.description);
    for (std::size_t k = 0; k < kDramStalls; ++k) {
      const std::string cause = to_string(static_cast<DramStall>(k));
      stats.add(pre + "bus_stall_cycles." + cause, cs.stall_cycles[k], "dram-cycle",
                "tCK the data bus was idle with requests queued, held back by " + cause +
                    ", up to the channel's last decision");
    }
  };
  // Totals: sums over channels, maxima for the peaks.
  ChannelStats total;
  for (const Channel& ch : channels_) {
    for (const StatLine& l : kStatLines) {
      total.*l.field =
          l.peak ? std::max(total.*l.field, ch.stats.*l.field) : total.*l.field + ch.stats.*l.field;
    }
    for (std::size_t k = 0; k < kDramStalls; ++k) total.stall_cycles[k] += ch.stats.stall_cycles[k];
  }
  emit(prefix, total);
  for (std::size_t c = 0; c < channels_.size(); ++c) {
    emit(prefix + "channel" + std::to_string(c) + ".", channels_[c].stats);
  }
}

// Per channel: bytes, achieved bandwidth over the run, row-buffer outcomes, queue peaks,
// refreshes, and the data bus tCK by what it did (busy, stalled by cause, idle), the tail from
// the channel's last decision to end_cycle counted under the state it was left in.
Json DramController::summary(uint64_t end_cycle) const {
  const double seconds = static_cast<double>(end_cycle) / (core_mhz_ * 1e6);
  const uint64_t end_ps =
      static_cast<uint64_t>(std::llround(static_cast<double>(end_cycle) * 1e6 / core_mhz_));
  const uint64_t end_tck = static_cast<uint64_t>(static_cast<Wide>(end_ps) * 1000 / tck_fs_);
  Json channels = Json::array();
  uint64_t bytes_total = 0, hits_total = 0, txns_total = 0;
  for (const Channel& ch : channels_) {
    const ChannelStats& s = ch.stats;
    const uint64_t bytes = s.read_bytes + s.write_bytes;
    const uint64_t txns = s.row_hits + s.row_misses + s.row_conflicts;
    bytes_total += bytes;
    hits_total += s.row_hits;
    txns_total += txns;
    std::array<uint64_t, kDramStalls> stalls = s.stall_cycles;
    uint64_t idle = s.idle_cycles;
    if (end_tck > ch.cursor) {
      const int cause = cause_of(ch);
      (cause < 0 ? idle : stalls[static_cast<std::size_t>(cause)]) += end_tck - ch.cursor;
    }
    Json stall_json = Json::object();
    for (std::size_t k = 0; k < kDramStalls; ++k) {
      stall_json[to_string(static_cast<DramStall>(k))] = stalls[k];
    }
    channels.push_back({{"read_bytes", s.read_bytes},
                        {"write_bytes", s.write_bytes},
                        {"gbps", end_cycle == 0 ? 0.0 : static_cast<double>(bytes) / seconds / 1e9},
                        {"row_hits", s.row_hits},
                        {"row_misses", s.row_misses},
                        {"row_conflicts", s.row_conflicts},
                        {"row_hit_rate", rate(s.row_hits, txns)},
                        {"peak_read_queue", s.peak_read_queue},
                        {"peak_write_queue", s.peak_write_queue},
                        {"peak_overflow", s.peak_overflow},
                        {"overflowed", s.overflowed},
                        {"refreshes", s.refreshes},
                        {"bus_busy_cycles", s.busy_cycles},
                        {"bus_stall_cycles", std::move(stall_json)},
                        {"bus_idle_cycles", idle}});
  }
  return {{"model", "controller"},
          {"requests", requests_},
          {"peak_gbps", peak_gbps()},
          {"gbps", end_cycle == 0 ? 0.0 : static_cast<double>(bytes_total) / seconds / 1e9},
          {"row_hit_rate", rate(hits_total, txns_total)},
          {"channels", std::move(channels)}};
}

}  // namespace nibble
