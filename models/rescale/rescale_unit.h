// The rescaling unit: converts FP16/FP32 results to the low-precision operands of the next GEMM.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/interfaces/compute_unit.h"

namespace nibble {

struct RescaleParams {
  uint64_t lanes = 64;           // elements converted per cycle (lanes)
  uint64_t pipeline_cycles = 4;  // conversion pipeline depth (cycles)

  // Reads accelerator.core.rescale strictly (every key ranged, unknown keys are errors); `impl`
  // has already been read by the caller.
  static RescaleParams from_config(ConfigNode& node);
  // Throws InputError naming accelerator.core.rescale.<key> for a value out of range.
  void validate() const;
};

// Integer event counters; rates and energy are derived from them at dump time.
struct RescaleCounters {
  uint64_t ops = 0;
  uint64_t elements = 0;
  uint64_t groups = 0;       // lane groups issued
  uint64_t busy_cycles = 0;  // cycles from an op's start to its end
  uint64_t read_bits = 0;    // FP16/FP32 input read from the buffer
  uint64_t write_bits = 0;   // codes written to the buffer (both phases for fp4)
  uint64_t int_clipped = 0;  // integer targets, ops with data: elements clipped
  uint64_t fp4_flushed_even = 0, fp4_flushed_odd = 0;      // fp4, ops with data
  uint64_t fp4_saturated_even = 0, fp4_saturated_odd = 0;  // fp4, ops with data
  uint64_t votes_up = 0, votes_hold = 0, votes_down = 0;   // GradScale votes (fp4, with data)
  uint64_t peak_pipeline_occupancy = 0;  // most pipeline stages holding a group at once
};

// `lanes` FP16/FP32-to-4-bit converters behind a `pipeline_cycles`-stage pipeline (plus GradScale's
// max-reduction tree for FP4). Tile fidelity: one timed wait of rescale_timing.h's closed form per
// op; cycle fidelity: the stage registers stepped once per clock, reaching the same counts. Runs
// quantize ops to uint4/int4/int2/fp4 and fills their QuantizeData, identically in both.
class RescaleUnit : public ComputeUnit {
 public:
  RescaleUnit(sc_core::sc_module_name name, const RescaleParams& params,
              const UnitContext& context);

  bool accepts(const Op& op) const override {
    return op.type == OpType::kQuantize || op.type == OpType::kRescale;
  }
  void check(const Op& op) const override;
  std::vector<std::string> energy_events(const Op& op) const override;
  void add_stats(Stats& stats, const std::string& prefix) const override;
  Json describe() const override;
  uint64_t lanes() const override { return params_.lanes; }
  uint64_t tile_cycles(const Op& op, const GemmShape& shape) const override;
  ScratchpadReads tile_reads(const Op& op, const GemmShape& shape) const override;
  TileBits tile_bits(const Op& op) const override;
  void compute_values(uint32_t index, const Op& op, Json& checks) override;

  const RescaleCounters& counters() const { return counters_; }
  const RescaleParams& params() const { return params_; }

 protected:
  void execute(uint32_t index, const Op& op, UnitOpRecord& record) override;

 private:
  RescaleParams params_;
  RescaleCounters counters_;
};

std::unique_ptr<ComputeUnit> make_rescale_unit(const char* name, ConfigNode& node,
                                               const UnitContext& context);

}  // namespace nibble
