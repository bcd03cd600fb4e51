// The special-function unit (SFU): the non-GEMM work of training (activations, normalisation,
// pooling, loss, optimizer updates, gradient-scaling overhead) on a vector of FP16/FP32 lanes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/interfaces/compute_unit.h"

namespace nibble {

// What one element of a vector function costs.
struct SfuFunction {
  uint64_t cycles_per_element = 1;  // lane-cycles (operations issued) per element
  uint64_t flops_per_element = 1;   // floating-point operations per element (an FMA is 2)
};

// The built-in table, by function name; sfu_unit.cpp says where each number comes from.
const std::map<std::string, SfuFunction>& default_sfu_functions();

struct SfuParams {
  uint64_t lanes = 32;           // FP16 lanes: operations issued per cycle on FP16 data
  uint64_t fp32_lanes = 16;      // FP32 lanes (default: lanes / 2, two FP16 lanes ganged)
  uint64_t pipeline_cycles = 4;  // lane pipeline depth (cycles)
  std::map<std::string, SfuFunction> functions = default_sfu_functions();

  // Reads accelerator.core.sfu strictly: lanes, fp32_lanes, pipeline_cycles, and functions.<name>
  // with cycles_per_element and flops_per_element. A function in the config overrides a built-in
  // one key by key, or adds a new one (which must give both keys); unknown keys are errors that
  // name their full path. `impl` has already been read by the caller.
  static SfuParams from_config(ConfigNode& node);
  // Throws InputError naming accelerator.core.sfu.<key> for a value out of range.
  void validate() const;
  // The lanes an op on `precision` data issues on.
  uint64_t lanes_for(Precision precision) const {
    return precision == Precision::kFp32 ? fp32_lanes : lanes;
  }
};

// Integer event counters; rates and energy are derived from them at dump time.
struct SfuCounters {
  uint64_t ops = 0;
  uint64_t elements = 0;
  uint64_t lane_cycles = 0;              // work issued: elements × cycles_per_element
  uint64_t flops = 0;                    // elements × flops_per_element, both precisions
  uint64_t fp32_flops = 0;               // of which on the FP32 lanes
  uint64_t busy_cycles = 0;              // cycles from an op's start to its end
  uint64_t read_bits = 0;                // operands read from the buffer
  uint64_t write_bits = 0;               // results written to the buffer
  uint64_t peak_pipeline_occupancy = 0;  // most pipeline stages holding issued work at once
};

// `lanes` FP16 lanes (`fp32_lanes` for FP32) issuing into a `pipeline_cycles`-stage pipeline, each
// function costing its table's lane-cycles per element. Tile fidelity: one timed wait per op of
// the closed form in sfu_timing.h; cycle fidelity: the stage registers stepped one clock at a
// time, which reaches the same counts. Runs vector ops whose function the table knows.
class SfuUnit : public ComputeUnit {
 public:
  SfuUnit(sc_core::sc_module_name name, const SfuParams& params, const UnitContext& context);

  bool accepts(const Op& op) const override { return op.type == OpType::kVector; }
  void check(const Op& op) const override;
  std::vector<std::string> energy_events(const Op& op) const override;
  void add_stats(Stats& stats, const std::string& prefix) const override;
  Json describe() const override;
  uint64_t lanes() const override { return params_.lanes; }
  uint64_t tile_cycles(const Op& op, const GemmShape& shape) const override;
  ScratchpadReads tile_reads(const Op& op, const GemmShape& shape) const override;
  TileBits tile_bits(const Op& op) const override;

  const SfuCounters& counters() const { return counters_; }
  const SfuParams& params() const { return params_; }

 protected:
  void execute(uint32_t index, const Op& op, UnitOpRecord& record) override;

 private:
  SfuParams params_;
  SfuCounters counters_;
};

std::unique_ptr<ComputeUnit> make_sfu_unit(const char* name, ConfigNode& node,
                                           const UnitContext& context);

}  // namespace nibble
