// A DRAM controller and its devices, command by command: independent channels of banks with a row
// buffer each, FR-FCFS scheduling of ACT/PRE/RD/WR/REF under JEDEC-style timing constraints, read
// and write queues with back-pressure, posted writes and all-bank refresh. Event-driven on the
// DRAM clock (a channel jumps to the next time a command could issue), plain C++ behind
// QueuedDram; README.md in this folder states the rules, the simplifications and the presets.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "models/interfaces/memory.h"

namespace nibble {

// How consecutive interleave_bytes chunks of one channel spread over its banks and rows.
enum class DramMapping {
  kRowBankColumnChannel,  // fill a row, then the next bank, then the next row (streams hit rows)
  kRowColumnBankChannel,  // rotate over the banks first (spreads a small working set over banks)
};

struct DramControllerParams {
  // The hbm2 preset (presets.cpp holds every preset's figures and their sources).
  DramControllerParams();

  std::string preset;             // the preset these values started from (for describe())
  uint64_t channels = 0;          // independent channels, each with its own command/data bus
  uint64_t banks = 0;             // banks per channel (one rank, no bank groups)
  uint64_t row_bytes = 0;         // row buffer (page) of one bank, bytes
  uint64_t burst_bytes = 0;       // one column access: bus width x burst length, bytes
  uint64_t interleave_bytes = 0;  // bytes a channel takes before the next channel's turn
  DramMapping mapping = DramMapping::kRowBankColumnChannel;
  // XOR the bank index with the row number folded to the bank index's width (permutation-based
  // interleaving, Zhang, Zhu and Zhang, MICRO 2000), as controllers do, so that streams starting
  // in the same bank of different rows (tensors at aligned addresses) spread over the banks.
  bool bank_xor = true;
  uint64_t queue_depth = 0;        // read queue entries per channel (transactions)
  uint64_t write_queue_depth = 0;  // write queue entries per channel (transactions)
  double tck_ns = 0;               // DRAM command clock period
  double tcl_ns = 0;               // RD to its first data on the bus (CAS latency)
  double tcwl_ns = 0;              // WR to its first data on the bus (CAS write latency)
  double trcd_ns = 0;              // ACT to a column command of the row
  double trp_ns = 0;               // PRE to the next ACT of the bank
  double tras_ns = 0;              // ACT to PRE of the bank
  double trrd_ns = 0;              // ACT to ACT, different banks of the channel
  double tfaw_ns = 0;              // window holding at most 4 ACTs of the channel
  double twr_ns = 0;               // write data end to PRE of the bank (write recovery)
  double twtr_ns = 0;              // write data end to a RD command of the channel
  double trtw_ns = 0;              // read data end to write data start on the bus (turnaround)
  double trtp_ns = 0;              // RD to PRE of the bank
  double tburst_ns = 0;            // data bus occupancy of one burst
  double trefi_ns = 0;             // all-bank refresh interval
  double trfc_ns = 0;              // REF to the next ACT (the channel is blocked)
  double frontend_latency_ns = 0;  // controller + PHY + interconnect round trip, every request
  double bandwidth_gbps = 0;       // > 0: scale tck and tburst so the peak is this (0: as is)

  // Reads `preset` (default: this->preset), starts from that preset and lets every key override
  // it, then validates; errors are InputErrors naming the file and the dotted path. The caller
  // reads `impl` and calls node.finish() (as for the other DRAM models).
  void read(ConfigNode& node);
  // Throws InputError "accelerator.dram.<key>: expected ..., found ..." for an impossible value.
  void validate() const;
  // The same, with each key's location (file and dotted path) given by `where`.
  void validate(const std::function<std::string(const std::string& key)>& where) const;
};

const char* to_string(DramMapping mapping);

// Why a channel's data bus sat idle while requests were queued (what held the next burst back).
enum class DramStall {
  kRow,               // PRE, ACT, tRCD, tRP, tRAS of the row the next burst needs
  kRefresh,           // closing banks for a due refresh, or tRFC
  kTurnaround,        // tWTR / tRTW between writes and reads
  kActivationWindow,  // tFAW / tRRD held an ACT back
  kBank,              // other bank timing: tWR / tRTP held a PRE back
  kLatency,           // a burst issued as soon as its request was visible: its tCL / tCWL
};
constexpr std::size_t kDramStalls = 6;
const char* to_string(DramStall stall);

// A DRAM controller with its devices, at command granularity on the DRAM clock: requests split
// into per-channel transactions, queued, scheduled FR-FCFS one command per tCK under the timing
// constraints; reads complete when their last data reaches the requester, writes when accepted.
// Same inputs, same outputs; outcomes do not depend on how far each run() call reaches.
class DramController : public QueuedDram {
 public:
  // `core_mhz`: the clock of peak_bytes_per_cycle(), latency_cycles() and summary(end_cycle).
  DramController(const DramControllerParams& params, double core_mhz);

  void enqueue(uint64_t arrival_ps, const DramRequest& request) override;
  bool run(uint64_t limit_ps, std::vector<DramCompletion>& done) override;
  uint64_t next_event_ps() const override;

  double peak_bytes_per_cycle() const override;
  // An unloaded read to a closed bank: ACT, tRCD, RD, tCL, tBurst, plus the front end.
  uint64_t latency_cycles() const override;
  // A row of every channel: a transfer this large keeps every bank busy with row hits.
  uint64_t streaming_bytes() const override { return params_.channels * params_.row_bytes; }
  Json describe() const override;
  void add_stats(Stats& stats, const std::string& prefix) const override;
  Json summary(uint64_t end_cycle) const override;

  // Where a byte address lives (for tests and tools).
  struct Location {
    uint64_t channel = 0, bank = 0, row = 0, column_byte = 0;
  };
  Location locate(uint64_t address) const;

  // The resolved timing in DRAM clock cycles (tCK), each ns figure rounded up.
  struct Cycles {
    uint64_t cl, cwl, rcd, rp, ras, rrd, faw, wr, wtr, rtw, rtp, burst, refi, rfc;
  };
  const Cycles& cycles() const { return t_; }
  uint64_t tck_fs() const { return tck_fs_; }
  uint64_t frontend_ps() const { return frontend_ps_; }
  double peak_gbps() const;

  // Per-channel counters (integers; rates are derived at dump).
  struct ChannelStats {
    uint64_t reads = 0, writes = 0;  // transactions
    uint64_t read_bytes = 0, write_bytes = 0;
    uint64_t read_bursts = 0, write_bursts = 0;
    uint64_t activates = 0, precharges = 0, refreshes = 0;
    uint64_t row_hits = 0, row_misses = 0, row_conflicts = 0;
    uint64_t peak_read_queue = 0, peak_write_queue = 0, peak_overflow = 0;
    uint64_t overflowed = 0;            // transactions that waited in the overflow FIFO
    uint64_t overflow_wait_cycles = 0;  // tCK they waited there, summed
    uint64_t busy_cycles = 0;           // tCK the data bus carried data
    std::array<uint64_t, kDramStalls> stall_cycles{};  // idle data bus, requests queued
    uint64_t idle_cycles = 0;                          // idle data bus, nothing queued
  };
  const ChannelStats& channel_stats(std::size_t channel) const { return channels_[channel].stats; }
  uint64_t channel_count() const override { return channels_.size(); }
  // Off: no stream skips (a scan after every command); the other shortcuts always apply.
  void fast_forward(bool on) override { stream_skip_ = on; }
  uint64_t requests() const { return requests_; }
  // For tests and benchmarks: the scans that streams skipped.
  uint64_t scans_skipped() const { return scans_skipped_; }

 private:
  struct Txn {
    uint32_t request = 0;  // slot in requests_
    uint32_t bank = 0;
    uint64_t row = 0;
    uint64_t bursts_left = 0;
    uint64_t bytes = 0;
    uint64_t arrival = 0;  // tCK it became visible to the channel
    bool write = false;
    bool started = false;     // a column command has issued for it
    bool act_for_it = false;  // the scheduler issued an ACT on its behalf
    bool pre_for_it = false;  // ... and a PRE before that
  };
  struct Bank {
    bool open = false;
    uint64_t row = 0;
    uint64_t next_act = 0;      // tRP after PRE
    uint64_t next_pre = 0;      // tRAS after ACT, tRTP after RD, tWR after write data
    uint64_t next_col = 0;      // tRCD after ACT
    bool pre_by_bank = false;   // next_pre was set by tWR / tRTP (else by tRAS)
    uint64_t hits[2] = {0, 0};  // queued reads [0] / writes [1] to the open row
  };
  struct Channel {
    std::vector<Bank> banks;
    std::vector<Txn> queue[2];  // reads [0], writes [1], oldest first
    std::deque<Txn> overflow[2];
    std::deque<Txn> arrivals;   // enqueued, not yet visible (arrival tCK ascending)
    uint64_t next_allowed = 0;  // one command per tCK: the earliest next decision
    uint64_t internal_next = QueuedDram::kNever;  // next decision of its own (refresh included)
    uint64_t published = QueuedDram::kNever;      // next decision run() sees
    uint64_t bus_free = 0;                        // end of the last scheduled data
    uint64_t rd_turn = 0;                         // earliest RD command (tWTR after write data)
    uint64_t wr_turn = 0;            // earliest write data start (tRTW after read data)
    uint64_t rrd_bound = 0;          // earliest ACT by tRRD
    std::array<uint64_t, 4> acts{};  // the last four ACT times (ring)
    uint64_t act_count = 0;
    uint64_t refresh_due = 0;
    uint64_t refresh_end = 0;  // REF + tRFC
    bool draining = false;     // write drain (high watermark reached, not yet at the low one)
    uint64_t cursor = 0;       // data bus tCK accounted up to here
    int cause = -1;            // stall cause of idle bus tCK from cursor on (-1: idle)
    // The last decision's plan for its next one, at internal_next (Scan::then_*): a decision then
    // that accepts no arrival issues it without scanning the queue again.
    int planned_issue = -1;
    std::size_t planned_txn = 0;
    // A stream: while only column commands of the planned transaction (planned_txn) issue and
    // nothing enters the queue, its next burst is the next decision as long as it comes before
    // stream_until (Scan::stream_until; 0: no stream). Its bursts then skip the scan after each
    // command, and `cause` is left to be computed when it is next needed (cause_stale).
    uint64_t stream_until = 0;
    bool cause_stale = false;
    ChannelStats stats;
  };
  struct Request {
    uint64_t tag = 0;
    uint64_t remaining = 0;  // transactions not done
    uint64_t done_ps = 0;
  };
  // The outcome of a scan of one channel's candidates at `now`.
  struct Scan {
    int issue = -1;  // command to issue now: 0 column, 1 PRE, 2 ACT, 3 REF; -1 none
    std::size_t txn = 0;
    uint32_t bank = 0;
    uint64_t next = QueuedDram::kNever;  // earliest time any candidate could issue
    int cause = -1;
    // What a scan at `next` would issue if nothing arrives first (complete scans before refresh
    // is due only; -1 otherwise): the first ready column command, else the first row command.
    int then_issue = -1;
    std::size_t then_txn = 0;
    // With then_issue a column command: the earliest time another command could compete with
    // that transaction's bursts (refresh due, a row command, an older transaction's row becoming
    // ready); its bursts before then follow each other at tBurst, nothing else deciding.
    uint64_t stream_until = 0;
  };

  // The ps of tCK edge `cycle`, floor(cycle x tCK) (exact in 64 bits for any edge < 2^64).
  uint64_t edge_ps(uint64_t cycle) const {
    return cycle / 1000 * tck_fs_ + cycle % 1000 * tck_fs_ / 1000;
  }
  uint64_t faw_bound(const Channel& ch) const;
  uint64_t act_earliest(const Channel& ch, const Bank& b, uint64_t now, int* cause) const;
  uint64_t column_earliest(const Channel& ch, const Bank& b, bool write, uint64_t now,
                           int* cause) const;
  bool write_mode(const Channel& ch) const;
  bool queued(const Channel& ch) const;
  // The policy's command at `now` and the earliest next decision. With `issue_only`, a scan that
  // finds a command may stop early (its `next` and `cause` are then incomplete).
  Scan scan(const Channel& ch, uint64_t now, bool issue_only = false) const;
  // Channel `c`'s decision at tCK `now` (after any it skipped while asleep); appends
  // completions, says whether it did.
  bool step(std::size_t c, uint64_t now, std::vector<DramCompletion>& done);
  // One decision: accept what arrived, issue at most one command, find the next decision time.
  void decide(Channel& ch, uint64_t now, std::vector<DramCompletion>& done, bool* any_done);
  void account(Channel& ch, uint64_t now);
  // The stall cause of the bus from the channel's last decision on (computed if stale).
  int cause_of(const Channel& ch) const;
  // An arrival: into its queue, or the overflow FIFO when the queue is full (or others wait).
  void accept(Channel& ch, const Txn& txn, uint64_t now, std::vector<DramCompletion>& done,
              bool* any);
  // Into its queue (a posted write completes here).
  void enter(Channel& ch, const Txn& txn, uint64_t now, std::vector<DramCompletion>& done,
             bool* any);
  void finish_txn(const Txn& txn, uint64_t done_ps, std::vector<DramCompletion>& done, bool* any);
  void recount_hits(Channel& ch, uint32_t bank);
  void publish(Channel& ch);

  DramControllerParams params_;
  double core_mhz_;
  uint64_t tck_fs_ = 0;
  Cycles t_{};
  uint64_t frontend_ps_ = 0;
  uint64_t high_watermark_ = 0, low_watermark_ = 0;
  std::vector<Channel> channels_;
  // A tournament over the channels' `published` times: node k (from 1) holds the channel of the
  // earliest of its two children, the lower index on a tie; leaves are at leaves_ + channel, the
  // earliest channel at node 1. run() and next_event_ps() read it, publish() updates one path.
  std::size_t leaves_ = 1;
  std::vector<uint32_t> earliest_;
  void promote(std::size_t channel);
  std::vector<Request> slots_;
  std::vector<uint32_t> free_slots_;
  // Per channel x bank, the transaction of the request being split that uses it (enqueue()).
  std::vector<std::pair<uint64_t, std::size_t>> split_slot_;
  std::vector<std::pair<std::size_t, Txn>> split_;  // the transactions of that request
  uint64_t requests_ = 0;
  uint64_t last_arrival_ps_ = 0;
  uint64_t scans_skipped_ = 0;
  bool stream_skip_ = true;
  // scan()'s per-bank candidates (scratch, valid while `serial` is the scan's).
  struct Candidate {
    uint64_t serial = 0, cmd = 0, data = 0;
    int cause = -1;
  };
  mutable std::vector<Candidate> candidates_;
  mutable uint64_t scan_serial_ = 0;
};

}  // namespace nibble
