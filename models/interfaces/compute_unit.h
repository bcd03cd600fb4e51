// How a compute unit meets its core's controller, whatever it computes.
//
// The controller writes an op's index to `tasks`; the unit runs the whole op in its own SystemC
// thread (tile fidelity: one timed wait per tile op; cycle fidelity: one wait per clock cycle),
// fills a record of what it did, and writes the index to `done`. Units run one op at a time, in
// the order given. An idle unit blocks on its task FIFO and costs no kernel activations.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <systemc>

#include "models/interfaces/memory.h"
#include "models/interfaces/op_data.h"
#include "sim/clock.h"
#include "sim/config.h"
#include "sim/energy.h"
#include "sim/registry.h"
#include "sim/stats.h"
#include "sim/vcd.h"
#include "sim/workload.h"

namespace nibble {

enum class Fidelity { kTile, kCycle };
const char* to_string(Fidelity fidelity);

// A PE whose registers go into the waveform file (cycle fidelity only).
struct TracedPe {
  uint64_t row = 0, col = 0;
};

// The ops a unit may be asked to run, by index in the trace, with their tensor data.
class OpSource {
 public:
  virtual ~OpSource() = default;
  virtual const Op& op(uint32_t index) const = 0;
  // The op's tensor data in and the unit's results out (the op may carry none).
  virtual OpData* data(uint32_t index) = 0;
};

// The ops of a Workload with, optionally, a vector of their data (the same order): an OpSource for
// a unit driven directly (tests, tools).
class WorkloadOps : public OpSource {
 public:
  explicit WorkloadOps(const Workload& workload, std::vector<OpData>* data = nullptr)
      : workload_(workload), data_(data) {}
  const Op& op(uint32_t index) const override { return workload_.ops.at(index); }
  OpData* data(uint32_t index) override {
    return data_ == nullptr || index >= data_->size() ? nullptr : &(*data_)[index];
  }

 private:
  const Workload& workload_;
  std::vector<OpData>* data_;
};

// Everything a unit sees of the rest of the simulation.
struct UnitContext {
  OpSource* ops = nullptr;
  const ClockDomain* clock = nullptr;
  Fidelity fidelity = Fidelity::kTile;
  VcdWriter* vcd = nullptr;          // waveform sink (cycle fidelity), may be null
  std::vector<TracedPe> traced_pes;  // which PEs of the GEMM units to trace
  uint64_t seed = 1;                 // sim.seed, for stochastic rounding
  bool fast_forward = true;          // sim.fast_forward: exact shortcuts (the same report)
};

// What a unit reports about one finished op. Counts are integers; energy events are priced at
// dump time.
struct UnitOpRecord {
  uint64_t macs = 0;                 // multiply-accumulates (GEMM units)
  uint64_t elements = 0;             // elements processed (element-wise units)
  uint64_t tiles = 0;                // tile operations the op was split into
  uint64_t peak_work_per_cycle = 0;  // MACs or elements the unit can do per cycle in this op's mode
  EnergyLedger energy;
  Json mapping;  // how the op was laid onto the unit
  Json checks;   // values an RTL designer checks (overflows, flush/saturate counts, depths)
};

// One piece of work for a unit: op `index` whole (`whole`: with its tensor data, values computed
// as the unit runs), or one tile of it of `shape` (timing only; element-wise ops: shape.m
// elements).
struct UnitTask {
  uint32_t index = 0;
  GemmShape shape;
  bool whole = true;
};
std::ostream& operator<<(std::ostream& out, const UnitTask& task);

// The work shape of an op: its GEMM, or {elements, 1, 1} for an element-wise op.
GemmShape work_shape(const Op& op);
// `op` with its work cut to `shape` (a tile of it).
Op with_shape(const Op& op, const GemmShape& shape);

class ComputeUnit : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(ComputeUnit);

  sc_core::sc_fifo<UnitTask> tasks;  // work from the controller
  sc_core::sc_fifo<uint32_t> done;   // op indices, in order, when finished

  // Throws InputError when this unit, as configured, cannot run `op` (say which config key).
  virtual void check(const Op& op) const = 0;
  // The energy-table events running `op` will price.
  virtual std::vector<std::string> energy_events(const Op& op) const = 0;
  // Totals over the run, under `prefix` (e.g. "core0.mac_array.").
  virtual void add_stats(Stats& stats, const std::string& prefix) const = 0;
  // A short description of the configured unit for the report.
  virtual Json describe() const = 0;
  // MACs per cycle at full use in the unit's widest mode (0 for units that do no MACs).
  virtual uint64_t peak_macs_per_cycle() const { return 0; }
  // Datapath lanes (PEs × SIMD lanes for arrays, lanes for element-wise units): the unit's size,
  // for leakage priced per lane.
  virtual uint64_t lanes() const = 0;
  // Whether this unit, whatever its configuration, is the one that runs ops like `op`.
  virtual bool accepts(const Op& op) const = 0;
  // Whether the unit has a PE at (row, col) whose registers can be traced.
  virtual bool has_pe(uint64_t row, uint64_t col) const {
    (void)row, (void)col;
    return false;
  }

  // For the mapper and the core: the closed-form cycles of `op` cut to `shape`, what the unit
  // reads from the scratchpad doing it, and the operands' bits per element in memory.
  virtual uint64_t tile_cycles(const Op& op, const GemmShape& shape) const = 0;
  virtual ScratchpadReads tile_reads(const Op& op, const GemmShape& shape) const = 0;
  virtual TileBits tile_bits(const Op& op) const = 0;
  // Computes the values of op `index` (whole, from its tensor data, untimed) for an op that runs
  // as tiles, adding what RTL checks to `checks`. Units without values do nothing.
  virtual void compute_values(uint32_t index, const Op& op, Json& checks) {
    (void)index, (void)op, (void)checks;
  }

  // The record of the op last reported on `done`.
  const UnitOpRecord& last_record() const { return record_; }

 protected:
  ComputeUnit(sc_core::sc_module_name name, const UnitContext& context);
  // Runs op `index` in the unit's thread: waits its cycles and fills `record`.
  virtual void execute(uint32_t index, const Op& op, UnitOpRecord& record) = 0;
  // The op's tensor data, or null when it carries none or the task is a tile.
  OpData* data_of(uint32_t index) const;
  // The op's tensor data whatever the task (null when it carries none).
  OpData* op_data(uint32_t index) const;

  // Cycle fidelity of a pipeline of lanes, for element-wise units: `depth` stage registers, each
  // holding the work of the beat it carries (0: a bubble). Every clock cycle each beat moves one
  // stage on, up to `per_cycle` units of the waiting `work` enter stage 0, and the beat in the last
  // stage leaves at the end of the cycle; one wait per cycle until all work has left. Nothing here
  // evaluates a closed form.
  struct PipelineRun {
    uint64_t cycles = 0;          // cycles stepped
    uint64_t work = 0;            // work that left the pipeline
    uint64_t peak_occupancy = 0;  // most stages holding a beat at once
  };
  PipelineRun step_lane_pipeline(uint64_t work, uint64_t per_cycle, std::size_t depth);

  const UnitContext context_;

 private:
  void run();
  UnitOpRecord record_;
  bool whole_ = true;             // the running task is a whole op
  std::vector<uint64_t> stages_;  // step_lane_pipeline's stage registers
};

// Creates a unit from its config object (after `impl` has chosen the factory).
using UnitRegistry = Registry<ComputeUnit, const char*, ConfigNode&, const UnitContext&>;

}  // namespace nibble
