// A rows×cols systolic MAC array (SystemC, tile fidelity).
//
// Takes one fold command at a time from its input FIFO, occupies the array for the cycles the
// closed-form timing in systolic_timing.h gives (one timed wait per fold, no clock, no per-PE
// signals), counts MACs and operand traffic in integers, and reports each finished op's index on
// its done FIFO. One MAC per PE per cycle in every precision (per-mode throughput comes later).
#pragma once

#include <cstdint>
#include <ostream>

#include <systemc>

#include "models/mac_array/systolic_timing.h"
#include "sim/clock.h"
#include "sim/config.h"

namespace nibble {

struct SystolicParams {
  uint64_t rows = 8;                         // PE rows (R)
  uint64_t cols = 8;                         // PE columns (C)
  Dataflow dataflow = Dataflow::kOs;         // which operand stays in the PEs
  Schedule schedule = Schedule::kPipelined;  // timing model, see systolic_timing.h
  uint32_t acc_bits = 32;                    // integer accumulator and partial-sum width (bits)
  bool acc_saturate = false;                 // the integer accumulator saturates (else it wraps)
  int64_t fp16_chunk = 64;                   // FP16 accumulation chunk length (0: no chunking)
  bool stochastic_rounding = false;          // stochastic rounding of FP16 partial sums

  static SystolicParams from_config(ConfigNode node);
  ArrayShape shape() const { return {rows, cols}; }
};

// One fold of an op: an R×C (or smaller) block of the Sr×Sc plane, streamed over T.
struct FoldCommand {
  uint32_t op = 0;         // index of the op in the workload
  uint64_t rows_used = 0;  // PE rows holding data in this fold (≤ R)
  uint64_t cols_used = 0;  // PE columns holding data (≤ C)
  uint64_t t = 0;          // streamed extent
  bool first = false;      // first fold of the op
  bool last = false;       // last fold of the op
  bool first_k = false;    // ws/is: first fold of its output block (no partial sums to read)
  bool last_k = false;     // ws/is: last fold of its output block (writes final results)
  uint8_t a_bits = 4, b_bits = 4, out_bits = 16;
};

// sc_fifo needs to print its contents (sc_fifo::print/dump).
std::ostream& operator<<(std::ostream& out, const FoldCommand& fold);

// Integer event counters; energy and rates are derived from them at dump time.
struct SystolicCounters {
  uint64_t macs = 0;
  uint64_t folds = 0;
  uint64_t busy_cycles = 0;      // cycles from an op's first fold start to its last result
  uint64_t a_read_bits = 0;      // operand A read from the buffer
  uint64_t b_read_bits = 0;      // operand B read from the buffer
  uint64_t out_write_bits = 0;   // final results written
  uint64_t psum_read_bits = 0;   // ws/is partial sums read back for accumulation
  uint64_t psum_write_bits = 0;  // ws/is partial sums written (not final)

  SystolicCounters operator-(const SystolicCounters& o) const;
};

class SystolicArray : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(SystolicArray);
  SystolicArray(sc_core::sc_module_name name, const SystolicParams& params,
                const ClockDomain& clock);

  sc_core::sc_fifo<FoldCommand> commands;  // from the controller
  sc_core::sc_fifo<uint32_t> done;         // op indices, in order, when their last result left

  const SystolicCounters& counters() const { return counters_; }
  const SystolicParams& params() const { return params_; }

 private:
  void run();
  void count(const FoldCommand& fold);

  SystolicParams params_;
  const ClockDomain& clock_;
  SystolicCounters counters_;
};

}  // namespace nibble
