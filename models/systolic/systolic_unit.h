// A GEMM unit built on a rows×cols systolic array of SIMD PEs: the common body of the MAC array
// (models/mac_array) and the log-domain gradient unit (models/log_grad).
//
// Tile fidelity: the op's folds are timed by the closed forms of systolic_timing.h, one timed
// wait per fold, values from the numerics kernels. Cycle fidelity: a PeGrid is stepped once per
// clock cycle (one wait per cycle), values accumulated from the MACs it performs, optional VCD of
// chosen PEs. Both count the same operand traffic per fold, so everything but the host time is
// identical between them; tests hold them to it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/interfaces/compute_unit.h"
#include "models/systolic/gemm_values.h"
#include "models/systolic/pe_grid.h"
#include "models/systolic/scalesim_memory.h"
#include "models/systolic/systolic_timing.h"

namespace nibble {

struct SystolicUnitParams {
  uint64_t rows = 8;                         // PE rows (R)
  uint64_t cols = 8;                         // PE columns (C)
  Dataflow dataflow = Dataflow::kOs;         // which operand stays in the PEs
  Schedule schedule = Schedule::kPipelined;  // timing model, see systolic_timing.h
  uint32_t acc_bits = 32;                    // integer accumulator / partial-sum width (bits)
  bool acc_saturate = false;                 // the integer accumulator saturates (else wraps)
  int64_t fp16_chunk = 64;                   // FP16 accumulation chunk length (0: no chunking)
  bool stochastic_rounding = false;          // stochastic rounding of FP16 partial sums

  ArrayShape shape() const { return {rows, cols}; }
  // Reads rows, cols, dataflow, schedule, fp16_chunk, stochastic_rounding, and (when
  // `integer_accumulator`) acc_bits and acc_overflow, with ranges.
  void read(ConfigNode& node, bool integer_accumulator);
  Json describe() const;
};

// Integer event counters; energy and rates are derived from them at dump time.
struct SystolicCounters {
  uint64_t ops = 0;
  uint64_t macs = 0;
  uint64_t folds = 0;
  uint64_t busy_cycles = 0;             // cycles from an op's first fold start to its end
  uint64_t a_read_bits = 0;             // operand A read from the buffer
  uint64_t b_read_bits = 0;             // operand B read from the buffer
  uint64_t out_write_bits = 0;          // final results written
  uint64_t psum_read_bits = 0;          // ws/is partial sums read back for accumulation
  uint64_t psum_write_bits = 0;         // ws/is partial sums written (not final)
  uint64_t acc_overflows = 0;           // accumulator adds that overflowed (ops with data)
  uint64_t peak_psum_buffer_bytes = 0;  // largest partial-sum footprint an op needed (ws/is)
  uint64_t pe_cycles = 0;               // PE-cycles stepped (cycle fidelity)
};

class SystolicUnit : public ComputeUnit {
 public:
  void add_stats(Stats& stats, const std::string& prefix) const override;
  const SystolicCounters& counters() const { return counters_; }
  const SystolicUnitParams& array_params() const { return params_; }
  // SCALE-Sim v2's total and stall cycles of `op` under its USER interface bandwidth
  // (scalesim_memory.h): a conv layer lowered as SCALE-Sim lowers it with its own addresses, any
  // other GEMM as the GEMM the array runs. `where` names the array's config object (for
  // accelerator.core.<unit>); InputError unless the array runs the scalesim schedule with one MAC
  // per PE in the op's mode, as SCALE-Sim's arrays do.
  ScaleSimMemoryResult scalesim_user(const Op& op, const ScaleSimMemoryParams& p,
                                     const std::string& where) const;

 protected:
  SystolicUnit(sc_core::sc_module_name name, const SystolicUnitParams& params,
               const UnitContext& context);

  // The PE mode `op` runs in, and its name for reports.
  virtual PeMode mode_of(const Op& op) const = 0;
  virtual std::string mode_name(const Op& op) const = 0;
  // The energy-table event of one MAC of `op`.
  virtual std::string mac_event(const Op& op) const = 0;
  // Value-computation settings for op `index`.
  virtual GemmValueParams value_params(const Op& op, uint32_t index) const;
  // Throws InputError when `op`, in its mode, is beyond what can be simulated: cycles or traffic
  // past 64-bit counters and picosecond time, or (cycle fidelity) dimensions past the PE grid's.
  void check_size(const Op& op) const;
  bool has_pe(uint64_t row, uint64_t col) const override {
    return row < params_.rows && col < params_.cols;
  }
  uint64_t peak_macs_per_cycle() const override;

  void execute(uint32_t index, const Op& op, UnitOpRecord& record) override;
  std::vector<std::string> energy_events(const Op& op) const override;
  uint64_t tile_cycles(const Op& op, const GemmShape& shape) const override;
  ScratchpadReads tile_reads(const Op& op, const GemmShape& shape) const override;
  TileBits tile_bits(const Op& op) const override;
  void compute_values(uint32_t index, const Op& op, Json& checks) override;

 private:
  struct Traffic {
    uint64_t a_bits = 0, b_bits = 0, out_bits = 0, psum_read_bits = 0, psum_write_bits = 0;
  };
  Traffic fold_traffic(const Op& op, const FoldMapping& m, const PeMode& mode) const;
  void run_tile(const FoldMapping& m, uint64_t& cycles);
  void run_cycle(const Op& op, const PeMode& mode, GemmValueEngine* engine, uint64_t& cycles);
  void trace_pes(uint64_t time);

  SystolicUnitParams params_;
  SystolicCounters counters_;
  std::unique_ptr<PeGrid> grid_;                // cycle fidelity
  std::vector<TracedPe> traced_;                // PEs of this array in the waveform
  std::vector<std::vector<uint32_t>> vcd_ids_;  // per traced PE, its registers' signal ids
};

// The datapath name of a precision for energy events and modes ("int4", "hfp8", ...).
int datapath_rank(const std::string& datapath);

}  // namespace nibble
