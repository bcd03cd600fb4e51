// Cycle fidelity of a rows×cols systolic array of one-MAC PEs: the micro-architecture that the
// closed forms of systolic_timing.h assume, stepped one clock cycle at a time by a loop over a flat
// array of PE registers. Runs one GEMM op at a time (the caller reduces SIMD modes with lane_gemm).
//
// Operands, stationary elements and partial sums move as tokens: a live bit (a token is there), a
// valid bit (live but a bubble when clear: padding of a partial fold) and the GEMM indices it
// stands for, never values. Every PE's registers are shifted every cycle, bubbles included, so a
// partial fold costs the time of a full one. A controller inside the grid starts each fold at the
// first cycle its hardware conditions hold; nothing is computed from the closed forms, which the
// tests hold to the cycle counts stepped here.
//
// Contract: between start() and done() every valid MAC (m, n, k) of the GEMM is reported to the
// sink exactly once, and each output (m, n) sees k = 0, 1, ..., K−1 in that order (os: a PE's own
// accumulator; ws/is: the partial-sum chain runs down a column in k order and row folds, which
// hold the k-blocks, are visited in increasing order). A broken invariant of the datapath (two
// results on one output bus, operands of different k meeting, a fold reaching a PE before its
// stationary block) throws std::logic_error: it would be a bug here, never a user error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "models/systolic/systolic_timing.h"
#include "sim/workload.h"

namespace nibble {

// Receives the MACs a PeGrid performs, in cycle order.
class MacSink {
 public:
  virtual ~MacSink() = default;
  virtual void mac(uint64_t m, uint64_t n, uint64_t k) = 0;
};

// One PE register as a waveform signal: its name ("a_m", "psum_n", ...) and width.
struct PeRegisterInfo {
  const char* name;
  uint32_t width_bits;
};

class PeGrid {
 public:
  // rows and cols in [1, 65536]; throws std::invalid_argument otherwise.
  PeGrid(ArrayShape array, Dataflow dataflow, Schedule schedule);

  // Begins C = A·B on an idle array (a fresh grid, or one whose op is done()). M, N and K in
  // [1, 2^31]. Under the scalesim schedule an op ends at its last MAC, with results still
  // draining; start() drops them, as SCALE-Sim counts no drain. `sink` may be null.
  void start(const GemmShape& gemm, MacSink* sink = nullptr);
  // One clock cycle: the controller may start a fold or a block load, the edge injectors drive
  // their tokens, every PE's registers are updated and valid MACs go to the sink.
  void step();
  // The op is over: pipelined, its last result (valid or bubble) has left the array; scalesim,
  // its last MAC step is done. True before the first start().
  bool done() const { return done_; }

  // Cycles stepped since start(). Pipelined: fold_timing(d, kPipelined, array, T).op_cycles(F);
  // scalesim: F·scalesim_fold_cycles(d, array, T), one more than SCALE-Sim reports.
  uint64_t steps() const { return cycle_; }
  uint64_t macs() const { return macs_; }  // valid MACs done in this op
  // PE-cycles in which a PE had a live operand pair, valid or bubble: F·R·C·T for a whole op.
  uint64_t pe_steps() const { return pe_steps_; }
  uint64_t folds_started() const { return next_start_; }
  const FoldMapping& mapping() const { return map_; }
  const ArrayShape& array() const { return array_; }
  Dataflow dataflow() const { return dataflow_; }
  Schedule schedule() const { return schedule_; }

  // Read-only view of one PE for waveforms: this dataflow's registers (token flags are 4 bits:
  // live, valid, first of fold, last of fold; indices are 32 bits) and their current values.
  //   os:     a_* (A moving right), b_* (B moving down), out_* (result waiting for the bus)
  //   ws, is: a_*/b_* (streamed operand moving right), psum_* (moving down), w_* (stationary
  //           element in use), shadow_flags, load_flags (next block: held, and in transit)
  const std::vector<PeRegisterInfo>& pe_registers() const { return registers_; }
  uint64_t pe_register(uint64_t row, uint64_t col, std::size_t index) const;

 private:
  // Indices a and b by role: os A (m, k), B (n, k), result (m, n); ws/is streamed (t, k),
  // stationary (x, k), partial sum (t, x), where t indexes T and x indexes Sc (map_gemm). `row`
  // is the destination row of a stationary element on its way down the load chain.
  struct Token {
    uint32_t a = 0;
    uint32_t b = 0;
    uint16_t row = 0;
    // 16 bits although 4 are used: with no padding byte a token copies as two whole words; an
    // 11-byte copy compiled to overlapping stores that stalled store forwarding (3× slower).
    uint16_t flags = 0;
  };
  // A fold's operand stream (start = the cycle row 0 gets its first element) or a block load
  // (start = the cycle column 0 gets its first element).
  struct Issue {
    uint64_t fold = 0;
    uint64_t start = 0;
  };
  struct RegisterField {
    uint8_t token;  // 0 h, 1 v, 2 held, 3 shadow, 4 load
    uint8_t field;  // 0 flags, 1 a, 2 b
  };

  void issue_folds(uint64_t cycle);
  bool idle(const std::vector<Issue>& issues, uint64_t cycle, uint64_t length) const;
  bool buses_free(uint64_t start) const;
  bool previous_folds_computed(uint64_t fold) const;
  void drive_edges(uint64_t cycle);
  void step_output_stationary(uint64_t cycle);
  void step_stationary(uint64_t cycle);
  void retire(uint64_t cycle);

  ArrayShape array_;
  Dataflow dataflow_;
  Schedule schedule_;
  // The PE registers, one array per register, each row-major rows×cols (a register of every PE
  // side by side, so that a cycle's shifts are block moves). h moves right, v moves down; held
  // is the os result waiting for the column bus or the ws/is stationary element in use; shadow
  // (next block) and load (in transit down the column) are ws/is only (empty under os).
  std::vector<Token> h_, v_, held_, shadow_, load_;
  std::vector<Token> row_in_;       // this cycle's token at the left edge of each row
  std::vector<Token> col_in_;       // at the top of each column: os B, ws/is the load chain
  std::vector<uint64_t> bus_busy_;  // os: per column, last cycle + 1 its output bus was driven
  std::vector<uint64_t> bus_free_;  // os: per column, first cycle its bus is not reserved
  std::vector<Issue> streams_;      // fold operand streams still being injected
  std::vector<Issue> loads_;        // block loads still being injected (ws/is)
  std::vector<PeRegisterInfo> registers_;
  std::vector<RegisterField> fields_;

  FoldMapping map_;
  MacSink* sink_ = nullptr;
  bool done_ = true;
  uint64_t folds_ = 0;
  uint64_t cycle_ = 0;
  uint64_t next_start_ = 0;   // folds whose operand stream has started
  uint64_t next_load_ = 0;    // folds whose block load has started (ws/is)
  uint64_t col0_loaded_ = 0;  // blocks fully landed in column 0's shadow registers (ws/is)
  uint64_t macs_ = 0;
  uint64_t pe_steps_ = 0;
  uint64_t results_out_ = 0;  // results (valid or bubble) that have left the array
  uint64_t results_total_ = 0;
  uint64_t pe_steps_total_ = 0;
};

}  // namespace nibble
