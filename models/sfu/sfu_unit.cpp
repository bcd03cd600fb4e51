#include "models/sfu/sfu_unit.h"

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "models/sfu/sfu_timing.h"
#include "sim/error.h"

namespace nibble {

namespace {

constexpr int64_t kMaxLanes = 65536;
constexpr int64_t kMaxPipelineCycles = 1024;
// Per-element costs above 2^20 are typos; the bound keeps elements × cost within 2^50.
constexpr int64_t kMaxPerElement = int64_t{1} << 20;
constexpr const char* kPath = "accelerator.core.sfu";

void check_range(const char* key, uint64_t value, int64_t max) {
  if (value < 1 || value > static_cast<uint64_t>(max)) {
    throw InputError(std::string(kPath) + "." + key + ": expected an integer in [1, " +
                     std::to_string(max) + "], found " + std::to_string(value));
  }
}

std::string known_functions(const std::map<std::string, SfuFunction>& functions) {
  std::string out;
  for (const auto& entry : functions) out += (out.empty() ? "" : ", ") + entry.first;
  return out;
}

}  // namespace

// The lane model behind the numbers: a lane issues one FP16 (FP32) operation per cycle, an add,
// a multiply, a compare-select or a fused multiply-add. exp, sqrt and reciprocal are iterative on
// the same lane: 4 lane-cycles and 4 FLOPs each (our assumption: a table seed plus three FMA
// refinement steps). FLOPs count an FMA as 2 and every other operation, compares included, as 1.
// Per-channel or per-row scalars (a batch-norm channel's 1/σ, a softmax row's 1/Σ, Adam's bias
// correction) are amortised over many elements and left out. The costs are our own operation
// counts of the textbook algorithms, not measurements; a config can override any of them.
const std::map<std::string, SfuFunction>& default_sfu_functions() {
  static const std::map<std::string, SfuFunction> table = {
      // max(x, 0): one compare-select.
      {"relu", {1, 1}},
      // dy where x > 0, else 0: one compare-select.
      {"relu_grad", {1, 1}},
      // PACT backward (Choi et al.; reference 1.5): dx = dy where 0 <= x < α (two compare-selects)
      // and the clip's gradient dα += dy where x >= α (one add): 3 operations.
      {"pact_grad", {3, 3}},
      // Training-mode forward, per element: Σx (add) and Σx² (FMA) for the batch statistics, then
      // y = x·(γ/σ) + (β − μγ/σ) (one FMA with per-channel constants): 3 operations, 1+2+2 FLOPs.
      {"batchnorm", {3, 5}},
      // Σdy (add), x̂ = x·(1/σ) − μ/σ (FMA), Σdy·x̂ (FMA), then
      // dx = (γ/σ)·(dy − Σdy/N − x̂·Σ(dy·x̂)/N) as two FMAs with per-channel constants:
      // 5 operations, 1+2+2+2+2 FLOPs.
      {"batchnorm_grad", {5, 9}},
      // Per input element: one compare against the window's running max.
      {"maxpool", {1, 1}},
      // Per input element: one compare-select routing dy to the argmax position.
      {"maxpool_grad", {1, 1}},
      // Per input element: one add into the window sum (the 1/k multiply per output is at most
      // a quarter of a cycle per input for 2×2 and larger windows, and left out).
      {"avgpool", {1, 1}},
      // Per input element: dy·(1/k), one multiply.
      {"avgpool_grad", {1, 1}},
      // Residual add: one add.
      {"add", {1, 1}},
      // Element-wise product (gates): one multiply. Its gradient: dx = dy·y and dy' = dy·x, two.
      {"mul", {1, 1}},
      {"mul_grad", {2, 2}},
      // 1/(1 + e^−x): exp (4), add (1), reciprocal (4): 9 operations, 9 FLOPs.
      // dx = dy·y·(1 − y): a subtract and two multiplies.
      {"sigmoid", {9, 9}},
      {"sigmoid_grad", {3, 3}},
      // tanh x = 2·sigmoid(2x) − 1: a multiply, the 9 of sigmoid, an FMA: 11 operations,
      // 12 FLOPs. dx = dy·(1 − y²): an FMA and a multiply.
      {"tanh", {11, 12}},
      {"tanh_grad", {2, 3}},
      // GELU, tanh approximation: x·½(1 + tanh(√(2/π)(x + 0.044715x³))): x² and x³ (2
      // multiplies), an FMA, a multiply, tanh (11 operations, 12 FLOPs), an add and two
      // multiplies: 18 operations, 20 FLOPs. Its gradient re-evaluates the inner part (15
      // operations, 17 FLOPs) and combines 0.5(1 + t) + 0.5x(1 − t²)·√(2/π)(1 + 3·0.044715x²)
      // with dy in 9 more (three of them FMAs): 24 operations, 29 FLOPs.
      {"gelu", {18, 20}},
      {"gelu_grad", {24, 29}},
      // Layer norm over a row, per element: Σx (add), Σx² (FMA), then y = (x − μ)·(γ/σ) + β as
      // a subtract, a multiply by the row's 1/σ and an FMA with γ, β: 5 operations, 7 FLOPs.
      {"layernorm", {5, 7}},
      // x̂ (subtract, multiply), dγ += dy·x̂ (FMA), dβ += dy (add), g = dy·γ (multiply),
      // Σg (add), Σg·x̂ (FMA), dx = (1/σ)(g − Σg/N − x̂·Σgx̂/N) (two FMAs, a multiply):
      // 10 operations, 14 FLOPs.
      {"layernorm_grad", {10, 14}},
      // Row softmax without the loss: running max (compare), x − max (add), exp (4), Σ (add),
      // ·(1/Σ) (multiply): 8 operations, 8 FLOPs. Its gradient
      // dx = y·(dy − Σ dy·y): an FMA for the sum, a subtract and a multiply: 3 operations, 4 FLOPs.
      {"softmax", {8, 8}},
      {"softmax_grad", {3, 4}},
      // Embedding lookup: one copy per output element. Its gradient: one add into the table row.
      {"embedding", {1, 0}},
      {"embedding_grad", {1, 1}},
      // Per logit: running max (compare), x − max (add), exp (4), Σ (add), ·(1/Σ) (multiply), and
      // the gradient p − onehot (add): 9 operations; the row's log for the loss is amortised.
      {"softmax_xent", {9, 9}},
      // w ← w − lr·g: one FMA.
      {"sgd", {1, 2}},
      // v ← μ·v + g, w ← w − lr·v: two FMAs.
      {"sgd_momentum", {2, 4}},
      // m ← β1·m + (1−β1)·g: multiply + FMA (2 ops, 3 FLOPs); v ← β2·v + (1−β2)·g²: two
      // multiplies + FMA (3, 4); w ← w − lr_t·m/(sqrt(v) + ε) with the bias corrections folded
      // into lr_t: sqrt (4), add ε (1), reciprocal (4), multiply (1), FMA (1 op, 2 FLOPs):
      // 16 operations, 19 FLOPs.
      {"adam", {16, 19}},
      // The whole non-GEMM overhead of 4-bit training per gradient element as one lump: Sun et
      // al. 2020 (Sec. 6, reference 1.7) put PACT backward, inter-radix conversion, TPR and
      // layer-wise scaling at about 10 FP16 FLOPs per gradient element; taken as 10 one-FLOP
      // operations. A trace that also runs quantize ops and pact_grad counts part of it twice.
      {"grad_scale", {10, 10}},
  };
  return table;
}

SfuParams SfuParams::from_config(ConfigNode& node) {
  SfuParams p;
  p.lanes =
      static_cast<uint64_t>(node.get_int("lanes", static_cast<int64_t>(p.lanes), 1, kMaxLanes));
  p.fp32_lanes = static_cast<uint64_t>(node.get_int(
      "fp32_lanes", static_cast<int64_t>(std::max<uint64_t>(1, p.lanes / 2)), 1, kMaxLanes));
  p.pipeline_cycles = static_cast<uint64_t>(node.get_int(
      "pipeline_cycles", static_cast<int64_t>(p.pipeline_cycles), 1, kMaxPipelineCycles));

  // Every built-in function is read too (absent ones at their defaults), so the resolved config
  // shows the whole table the run used.
  const std::map<std::string, SfuFunction>& defaults = default_sfu_functions();
  ConfigNode functions = node.child("functions");
  std::vector<std::string> names;
  for (const auto& entry : defaults) names.push_back(entry.first);
  for (const std::string& name : functions.keys()) {
    if (defaults.count(name) == 0) names.push_back(name);
  }
  p.functions.clear();
  for (const std::string& name : names) {
    ConfigNode f = functions.child(name);
    const auto known = defaults.find(name);
    if (known == defaults.end()) {
      const std::vector<std::string> given = f.keys();
      for (const char* key : {"cycles_per_element", "flops_per_element"}) {
        if (std::find(given.begin(), given.end(), key) == given.end()) {
          throw InputError(f.path() + "." + key +
                           ": missing; a function with no built-in default needs both "
                           "cycles_per_element and flops_per_element (built-in functions: " +
                           known_functions(defaults) + ")");
        }
      }
    }
    const SfuFunction base = known == defaults.end() ? SfuFunction{} : known->second;
    SfuFunction fn;
    fn.cycles_per_element = static_cast<uint64_t>(f.get_int(
        "cycles_per_element", static_cast<int64_t>(base.cycles_per_element), 1, kMaxPerElement));
    fn.flops_per_element = static_cast<uint64_t>(f.get_int(
        "flops_per_element", static_cast<int64_t>(base.flops_per_element), 0, kMaxPerElement));
    f.finish();
    p.functions[name] = fn;
  }
  functions.finish();
  node.finish();
  p.validate();
  return p;
}

void SfuParams::validate() const {
  check_range("lanes", lanes, kMaxLanes);
  check_range("fp32_lanes", fp32_lanes, kMaxLanes);
  check_range("pipeline_cycles", pipeline_cycles, kMaxPipelineCycles);
  for (const auto& [name, fn] : functions) {
    const std::string key = "functions." + name + ".cycles_per_element";
    check_range(key.c_str(), fn.cycles_per_element, kMaxPerElement);
    if (fn.flops_per_element > static_cast<uint64_t>(kMaxPerElement)) {
      throw InputError(std::string(kPath) + ".functions." + name +
                       ".flops_per_element: expected an integer in [0, " +
                       std::to_string(kMaxPerElement) + "], found " +
                       std::to_string(fn.flops_per_element));
    }
  }
}

SfuUnit::SfuUnit(sc_core::sc_module_name name, const SfuParams& params, const UnitContext& context)
    : ComputeUnit(name, context), params_(params) {
  params_.validate();
}

void SfuUnit::check(const Op& op) const {
  if (op.type != OpType::kVector || !op.vector) {
    throw InputError("op \"" + op.name + "\" is a " + to_string(op.type) +
                     " op; the special-function unit (" + kPath + ") runs only vector ops");
  }
  const std::string& function = op.vector->function;
  if (params_.functions.count(function) == 0) {
    throw InputError("op \"" + op.name + "\": vector function \"" + function +
                     "\" is not known to the special-function unit (" + kPath +
                     ".functions; known: " + known_functions(params_.functions) +
                     "); add it there with cycles_per_element and flops_per_element");
  }
  const std::string datapath = datapath_of(op.precision.a);
  if (datapath != "fp16" && datapath != "fp32") {
    throw InputError("op \"" + op.name + "\": the special-function unit (" + kPath +
                     ") computes in fp16 or fp32, not " + to_string(op.precision.a));
  }
}

std::vector<std::string> SfuUnit::energy_events(const Op& op) const {
  return {std::string("sfu.") + datapath_of(op.precision.a) + "_flop", "scratchpad.read_byte",
          "scratchpad.write_byte"};
}

uint64_t SfuUnit::tile_cycles(const Op& op, const GemmShape& shape) const {
  const SfuFunction& fn = params_.functions.at(op.vector ? op.vector->function : std::string());
  return sfu_timing(shape.m, fn.cycles_per_element, params_.lanes_for(op.precision.a),
                    params_.pipeline_cycles)
      .cycles;
}

ScratchpadReads SfuUnit::tile_reads(const Op& op, const GemmShape& shape) const {
  return {bits_of(op.precision.a) * shape.m, {}};
}

TileBits SfuUnit::tile_bits(const Op& op) const {
  return {bits_of(op.precision.a), 0, bits_of(op.precision.out), bits_of(op.precision.out)};
}

void SfuUnit::execute(uint32_t index, const Op& op, UnitOpRecord& record) {
  (void)index;  // vector ops carry no tensor data
  const uint64_t elements = op.vector ? op.vector->elements : 0;
  const SfuFunction& fn = params_.functions.at(op.vector ? op.vector->function : std::string());
  const uint64_t lanes = params_.lanes_for(op.precision.a);
  const SfuTiming timing =
      sfu_timing(elements, fn.cycles_per_element, lanes, params_.pipeline_cycles);

  uint64_t cycles = timing.cycles, peak = timing.peak_occupancy;
  if (context_.fidelity == Fidelity::kTile) {
    if (cycles > 0) wait(context_.clock->cycles(cycles));
  } else {
    const PipelineRun s =
        step_lane_pipeline(elements * fn.cycles_per_element, lanes, params_.pipeline_cycles);
    if (s.work != timing.work) {
      throw std::logic_error(std::string(name()) + ": the pipeline retired " +
                             std::to_string(s.work) + " of " + std::to_string(timing.work) +
                             " lane-cycles");
    }
    cycles = s.cycles;
    peak = s.peak_occupancy;
  }

  const bool fp32 = std::string(datapath_of(op.precision.a)) == "fp32";
  const uint64_t flops = elements * fn.flops_per_element;
  // One operand read and one result written per element. A simplification: functions with more
  // operands (add, sgd, adam) or state read and write more, which the table does not record.
  const uint64_t read_bits = bits_of(op.precision.a) * elements;
  const uint64_t write_bits = bits_of(op.precision.out) * elements;
  counters_.ops += 1;
  counters_.elements += elements;
  counters_.lane_cycles += timing.work;
  counters_.flops += flops;
  counters_.fp32_flops += fp32 ? flops : 0;
  counters_.busy_cycles += cycles;
  counters_.read_bits += read_bits;
  counters_.write_bits += write_bits;
  counters_.peak_pipeline_occupancy = std::max(counters_.peak_pipeline_occupancy, peak);

  record.elements = elements;
  record.tiles = timing.issue_cycles;
  // Elements a cycle at one lane-cycle each: the utilization the report derives then shows the
  // function's cost per element as well as pipeline fill.
  record.peak_work_per_cycle = lanes;
  record.energy.add("sfu", fp32 ? "sfu.fp32_flop" : "sfu.fp16_flop", static_cast<double>(flops));
  // Bits are whole numbers; a byte count of x.5 is exact in a double.
  record.energy.add("scratchpad", "scratchpad.read_byte", static_cast<double>(read_bits) / 8.0);
  record.energy.add("scratchpad", "scratchpad.write_byte", static_cast<double>(write_bits) / 8.0);
  record.mapping = {{"unit", "sfu"},
                    {"function", op.vector->function},
                    {"lanes", lanes},
                    {"cycles_per_element", fn.cycles_per_element},
                    {"issue_cycles", timing.issue_cycles}};
  record.checks = {{"peak_pipeline_occupancy", peak}};
}

void SfuUnit::add_stats(Stats& stats, const std::string& prefix) const {
  const SfuCounters& c = counters_;
  stats.add(prefix + "ops", c.ops, "op", "vector ops run");
  stats.add(prefix + "elements", c.elements, "element", "elements processed");
  stats.add(prefix + "lane_cycles", c.lane_cycles, "lane-cycle",
            "work issued: elements x the function's cycles per element");
  stats.add(prefix + "flops", c.flops, "FLOP", "floating-point operations, FP16 and FP32");
  stats.add(prefix + "fp32_flops", c.fp32_flops, "FLOP", "of the flops, those on the FP32 lanes");
  stats.add(prefix + "busy_cycles", c.busy_cycles, "cycle",
            "cycles the unit was occupied by an op");
  stats.add(prefix + "read_bits", c.read_bits, "bit", "operands read from the buffer");
  stats.add(prefix + "write_bits", c.write_bits, "bit", "results written to the buffer");
  stats.add(prefix + "peak_pipeline_occupancy", c.peak_pipeline_occupancy, "stage",
            "most pipeline stages holding issued work at once");
}

Json SfuUnit::describe() const {
  Json functions = Json::object();
  for (const auto& [name, fn] : params_.functions) {
    functions[name] = {{"cycles_per_element", fn.cycles_per_element},
                       {"flops_per_element", fn.flops_per_element}};
  }
  return {{"lanes", params_.lanes},
          {"fp32_lanes", params_.fp32_lanes},
          {"pipeline_cycles", params_.pipeline_cycles},
          {"functions", functions}};
}

std::unique_ptr<ComputeUnit> make_sfu_unit(const char* name, ConfigNode& node,
                                           const UnitContext& context) {
  return std::make_unique<SfuUnit>(name, SfuParams::from_config(node), context);
}

}  // namespace nibble
