#include "models/rescale/rescale_unit.h"

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "models/rescale/rescale_math.h"
#include "models/rescale/rescale_timing.h"
#include "sim/error.h"

namespace nibble {

namespace {

constexpr int64_t kMaxLanes = 65536;
constexpr int64_t kMaxPipelineCycles = 1024;
constexpr const char* kPath = "accelerator.core.rescale";

void check_range(const char* key, uint64_t value, int64_t max) {
  if (value < 1 || value > static_cast<uint64_t>(max)) {
    throw InputError(std::string(kPath) + "." + key + ": expected an integer in [1, " +
                     std::to_string(max) + "], found " + std::to_string(value));
  }
}

// Codes written per element: an FP4 conversion writes each TPR phase the op asks for.
uint64_t fp4_phases(const Op& op) {
  if (op.precision.out != Precision::kFp4) return 1;
  return op.fp4_phase == "both" ? 2 : 1;
}

// An FP4 conversion (GradScale multiply, radix-4 rounding of both TPR phases, the vote's max)
// is its own event; integer and float conversions are rescale.element.
const char* conversion_event(const Op& op) {
  return op.precision.out == Precision::kFp4 ? "rescale.fp4_element" : "rescale.element";
}

}  // namespace

RescaleParams RescaleParams::from_config(ConfigNode& node) {
  RescaleParams p;
  p.lanes =
      static_cast<uint64_t>(node.get_int("lanes", static_cast<int64_t>(p.lanes), 1, kMaxLanes));
  p.pipeline_cycles = static_cast<uint64_t>(node.get_int(
      "pipeline_cycles", static_cast<int64_t>(p.pipeline_cycles), 1, kMaxPipelineCycles));
  node.finish();
  p.validate();
  return p;
}

void RescaleParams::validate() const {
  check_range("lanes", lanes, kMaxLanes);
  check_range("pipeline_cycles", pipeline_cycles, kMaxPipelineCycles);
}

RescaleUnit::RescaleUnit(sc_core::sc_module_name name, const RescaleParams& params,
                         const UnitContext& context)
    : ComputeUnit(name, context), params_(params) {
  params_.validate();
}

void RescaleUnit::check(const Op& op) const {
  if (!accepts(op) || !op.vector) {
    throw InputError("op \"" + op.name + "\" is a " + to_string(op.type) +
                     " op; the rescaling unit (" + kPath + ") runs only quantize and rescale ops");
  }
  // A rescale is a float-to-float conversion with a per-layer scale: the same pipeline, no vote.
  if (op.type == OpType::kRescale) return;
  const bool input_ok = op.precision.a == Precision::kFp16 || op.precision.a == Precision::kFp32;
  if (!input_ok || !rescale_supports(op.precision.out)) {
    throw InputError("op \"" + op.name + "\" converts " + to_string(op.precision.a) + " to " +
                     to_string(op.precision.out) + ", which the rescaling unit (" + kPath +
                     ") cannot do: it converts fp16 or fp32 to uint4, int4, int2 or fp4");
  }
}

std::vector<std::string> RescaleUnit::energy_events(const Op& op) const {
  return {conversion_event(op), "scratchpad.read_byte", "scratchpad.write_byte"};
}

uint64_t RescaleUnit::tile_cycles(const Op& op, const GemmShape& shape) const {
  const bool fp4 = op.precision.out == Precision::kFp4;
  return rescale_timing(shape.m, params_.lanes, params_.pipeline_cycles, fp4).cycles;
}

ScratchpadReads RescaleUnit::tile_reads(const Op& op, const GemmShape& shape) const {
  return {bits_of(op.precision.a) * shape.m, {}};
}

// FP4 writes two code streams (both TPR phases).
TileBits RescaleUnit::tile_bits(const Op& op) const {
  const uint64_t out = bits_of(op.precision.out) * fp4_phases(op);
  return {bits_of(op.precision.a), 0, out, out};
}

void RescaleUnit::compute_values(uint32_t index, const Op& op, Json& checks) {
  OpData* data = op_data(index);
  QuantizeData* values = data != nullptr && data->quantize ? &*data->quantize : nullptr;
  if (values == nullptr) return;
  const bool fp4 = op.precision.out == Precision::kFp4;
  rescale_quantize(op.precision.out, *values);
  values->computed = true;
  if (fp4) {
    const numerics::TprTensorCounts& c = values->fp4;
    counters_.fp4_flushed_even += c.even.flushed;
    counters_.fp4_flushed_odd += c.odd.flushed;
    counters_.fp4_saturated_even += c.even.saturated;
    counters_.fp4_saturated_odd += c.odd.saturated;
    const int vote = values->grad_scale_vote;
    (vote > 0 ? counters_.votes_up : vote < 0 ? counters_.votes_down : counters_.votes_hold) += 1;
    checks["fp4_flushed_even"] = c.even.flushed;
    checks["fp4_flushed_odd"] = c.odd.flushed;
    checks["fp4_saturated_even"] = c.even.saturated;
    checks["fp4_saturated_odd"] = c.odd.saturated;
    checks["grad_scale_log2"] = values->grad_scale_log2_used;
    checks["grad_scale_vote"] = vote;
  } else {
    counters_.int_clipped += values->clipped;
    checks["clipped"] = values->clipped;
  }
}

void RescaleUnit::execute(uint32_t index, const Op& op, UnitOpRecord& record) {
  const uint64_t elements = op.vector ? op.vector->elements : 0;
  const bool fp4 = op.precision.out == Precision::kFp4;
  const RescaleTiming timing =
      rescale_timing(elements, params_.lanes, params_.pipeline_cycles, fp4);

  uint64_t cycles = timing.cycles, peak = timing.peak_occupancy;
  if (context_.fidelity == Fidelity::kTile) {
    if (cycles > 0) wait(context_.clock->cycles(cycles));
  } else {
    // The pipeline as built: the conversion stages, then the vote's reduction tree for FP4.
    const uint64_t stages = params_.pipeline_cycles + (fp4 ? rescale_tree_depth(params_.lanes) : 0);
    const PipelineRun s = step_lane_pipeline(elements, params_.lanes, stages);
    if (s.work != elements) {
      throw std::logic_error(std::string(name()) + ": the pipeline converted " +
                             std::to_string(s.work) + " of " + std::to_string(elements) +
                             " elements");
    }
    cycles = s.cycles;
    peak = s.peak_occupancy;
  }

  // Input in its FP16/FP32 width; output 4 bits a code (2 for int2), two code streams for FP4
  // (both TPR phases come out of the one conversion).
  const uint64_t read_bits = bits_of(op.precision.a) * elements;
  const uint64_t write_bits = bits_of(op.precision.out) * elements * fp4_phases(op);
  counters_.ops += 1;
  counters_.elements += elements;
  counters_.groups += timing.groups;
  counters_.busy_cycles += cycles;
  counters_.read_bits += read_bits;
  counters_.write_bits += write_bits;
  counters_.peak_pipeline_occupancy = std::max(counters_.peak_pipeline_occupancy, peak);

  record.elements = elements;
  record.tiles = timing.groups;
  record.peak_work_per_cycle = params_.lanes;
  record.energy.add("rescale", conversion_event(op), static_cast<double>(elements));
  // Bits are whole numbers; a byte count of x.5 or x.25 is exact in a double.
  record.energy.add("scratchpad", "scratchpad.read_byte", static_cast<double>(read_bits) / 8.0);
  record.energy.add("scratchpad", "scratchpad.write_byte", static_cast<double>(write_bits) / 8.0);
  record.mapping = {{"unit", "rescale"}, {"lanes", params_.lanes}, {"groups", timing.groups}};
  record.checks = Json::object();
  if (data_of(index) != nullptr) compute_values(index, op, record.checks);
  record.checks["peak_pipeline_occupancy"] = peak;
}

void RescaleUnit::add_stats(Stats& stats, const std::string& prefix) const {
  const RescaleCounters& c = counters_;
  stats.add(prefix + "ops", c.ops, "op", "quantize ops run");
  stats.add(prefix + "elements", c.elements, "element", "elements converted");
  stats.add(prefix + "groups", c.groups, "group", "lane groups issued into the pipeline");
  stats.add(prefix + "busy_cycles", c.busy_cycles, "cycle",
            "cycles the unit was occupied by an op");
  stats.add(prefix + "read_bits", c.read_bits, "bit", "FP16/FP32 input read from the buffer");
  stats.add(prefix + "write_bits", c.write_bits, "bit",
            "codes written to the buffer (both TPR phases for fp4)");
  stats.add(prefix + "int_clipped", c.int_clipped, "element",
            "integer targets: elements clipped to the range (ops with tensor data)");
  stats.add(prefix + "fp4_flushed_even", c.fp4_flushed_even, "element",
            "fp4: non-zero inputs flushed to 0 on the even grid (ops with tensor data)");
  stats.add(prefix + "fp4_flushed_odd", c.fp4_flushed_odd, "element",
            "fp4: non-zero inputs flushed to 0 on the odd grid (ops with tensor data)");
  stats.add(prefix + "fp4_saturated_even", c.fp4_saturated_even, "element",
            "fp4: inputs clipped to the top level on the even grid (ops with tensor data)");
  stats.add(prefix + "fp4_saturated_odd", c.fp4_saturated_odd, "element",
            "fp4: inputs clipped to the top level on the odd grid (ops with tensor data)");
  stats.add(prefix + "votes_up", c.votes_up, "vote",
            "GradScale votes to double the scale (max|g·2^s| <= 32)");
  stats.add(prefix + "votes_hold", c.votes_hold, "vote",
            "GradScale votes to hold the scale (max|g·2^s| in (32, 64])");
  stats.add(prefix + "votes_down", c.votes_down, "vote",
            "GradScale votes to halve the scale (max|g·2^s| > 64 or NaN)");
  stats.add(prefix + "peak_pipeline_occupancy", c.peak_pipeline_occupancy, "stage",
            "most pipeline stages (reduction tree included) holding valid data at once");
}

Json RescaleUnit::describe() const {
  return {{"lanes", params_.lanes}, {"pipeline_cycles", params_.pipeline_cycles}};
}

std::unique_ptr<ComputeUnit> make_rescale_unit(const char* name, ConfigNode& node,
                                               const UnitContext& context) {
  return std::make_unique<RescaleUnit>(name, RescaleParams::from_config(node), context);
}

}  // namespace nibble
