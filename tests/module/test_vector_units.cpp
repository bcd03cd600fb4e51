// The rescaling unit and the SFU in a small SystemC harness: each op's simulated cycles equal the
// closed form (written out again here, independently of the timing headers), tile and cycle
// fidelity agree exactly on a sweep of element counts and settings, quantize ops with data give
// identical values in both fidelities, and bad configs and ops are InputErrors naming their
// config path. One simulation per test process.
#include <gtest/gtest.h>

#include <deque>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "models/rescale/rescale_math.h"
#include "models/rescale/rescale_unit.h"
#include "models/sfu/sfu_unit.h"
#include "sim/energy.h"
#include "sim/error.h"
#include "tests/support/error_of.h"

namespace nibble {
namespace {

using testing_support::error_of;

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
// ceil(log2(n)), computed in floating point (exact for the powers of two involved).
uint64_t tree_depth(uint64_t lanes) {
  return static_cast<uint64_t>(std::ceil(std::log2(static_cast<double>(lanes))));
}

struct OpRun {
  uint64_t start = 0, end = 0;
  UnitOpRecord record;
};

// Feeds ops 0..n−1 to a unit one after another, as a core's controller does, and records the
// cycle each started and ended in and the unit's record of it.
class Feeder : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Feeder);
  Feeder(sc_core::sc_module_name name, ComputeUnit& unit, const ClockDomain& clock, uint32_t ops)
      : sc_module(name), unit_(unit), clock_(clock), ops_(ops) {
    SC_THREAD(run);
  }
  std::vector<OpRun> runs;

 private:
  void run() {
    for (uint32_t i = 0; i < ops_; ++i) {
      OpRun r;
      r.start = clock_.now();
      unit_.tasks.write(UnitTask{i, {}, true});
      EXPECT_EQ(unit_.done.read(), i);
      r.end = clock_.now();
      r.record = unit_.last_record();
      runs.push_back(r);
    }
  }
  ComputeUnit& unit_;
  const ClockDomain& clock_;
  uint32_t ops_;
};

UnitContext context_of(const Workload& w, const ClockDomain& clock, Fidelity fidelity,
                       std::vector<OpData>* data = nullptr) {
  static std::deque<WorkloadOps> sources;  // outlive the units of the test's process
  UnitContext c;
  c.ops = &sources.emplace_back(w, data);
  c.clock = &clock;
  c.fidelity = fidelity;
  return c;
}

Op quantize_op(std::string name, uint64_t elements, Precision from, Precision to) {
  Op op;
  op.name = std::move(name);
  op.type = OpType::kQuantize;
  op.precision = {from, from, to};
  op.vector = VectorShape{elements, ""};
  return op;
}

Op vector_op(std::string name, uint64_t elements, const std::string& function, Precision p) {
  Op op;
  op.name = std::move(name);
  op.type = OpType::kVector;
  op.precision = {p, p, p};
  op.vector = VectorShape{elements, function};
  return op;
}

// Element counts around the lane count: 1, lanes − 1, lanes, lanes + 1, small primes, several
// groups, and large primes.
std::vector<uint64_t> element_sweep(uint64_t lanes) {
  std::vector<uint64_t> out = {1, lanes, lanes + 1, 2, 3, 13, 97, 4 * lanes + 3, 5003, 65537};
  if (lanes > 1) out.push_back(lanes - 1);
  return out;
}

struct Setting {
  uint64_t lanes, pipeline_cycles;
};

void PrintTo(const Setting& s, std::ostream* os) {
  *os << s.lanes << " lanes, " << s.pipeline_cycles << " pipeline cycles";
}

std::string setting_name(const testing::TestParamInfo<Setting>& info) {
  return "lanes" + std::to_string(info.param.lanes) + "_p" +
         std::to_string(info.param.pipeline_cycles);
}

void expect_same_record(const UnitOpRecord& a, const UnitOpRecord& b) {
  EXPECT_EQ(a.elements, b.elements);
  EXPECT_EQ(a.tiles, b.tiles);
  EXPECT_EQ(a.peak_work_per_cycle, b.peak_work_per_cycle);
  EXPECT_EQ(a.energy.counts(), b.energy.counts());
  EXPECT_EQ(a.mapping, b.mapping);
  EXPECT_EQ(a.checks, b.checks);
}

class VectorUnitSweep : public testing::TestWithParam<Setting> {};

// Four units in one elaboration: the rescaling unit and the SFU, each in tile and in cycle
// fidelity, on the same ops.
TEST_P(VectorUnitSweep, BothFidelitiesReachTheClosedForms) {
  const Setting s = GetParam();
  const ClockDomain clock("core", 1000);

  Workload q;  // quantize ops: every target, every element count
  const Precision targets[] = {Precision::kUint4, Precision::kInt4, Precision::kInt2,
                               Precision::kFp4};
  for (uint64_t e : element_sweep(s.lanes)) {
    for (Precision to : targets) {
      const Precision from = q.ops.size() % 3 == 0 ? Precision::kFp32 : Precision::kFp16;
      q.ops.push_back(quantize_op("q" + std::to_string(q.ops.size()), e, from, to));
    }
  }
  Workload v;  // vector ops: functions of 1, 3, 9 and 16 lane-cycles, FP16 and FP32
  const char* functions[] = {"relu", "batchnorm", "softmax_xent", "adam"};
  for (uint64_t e : element_sweep(s.lanes)) {
    for (const char* f : functions) {
      const Precision p = v.ops.size() % 2 == 0 ? Precision::kFp16 : Precision::kFp32;
      v.ops.push_back(vector_op("v" + std::to_string(v.ops.size()), e, f, p));
    }
  }

  RescaleParams rp;
  rp.lanes = s.lanes;
  rp.pipeline_cycles = s.pipeline_cycles;
  SfuParams sp;
  sp.lanes = s.lanes;
  sp.fp32_lanes = (s.lanes + 1) / 2;
  sp.pipeline_cycles = s.pipeline_cycles;
  const auto q_ops = static_cast<uint32_t>(q.ops.size());
  const auto v_ops = static_cast<uint32_t>(v.ops.size());
  RescaleUnit rescale_tile("rescale_tile", rp, context_of(q, clock, Fidelity::kTile));
  RescaleUnit rescale_cycle("rescale_cycle", rp, context_of(q, clock, Fidelity::kCycle));
  SfuUnit sfu_tile("sfu_tile", sp, context_of(v, clock, Fidelity::kTile));
  SfuUnit sfu_cycle("sfu_cycle", sp, context_of(v, clock, Fidelity::kCycle));
  Feeder feed_rt("feed_rt", rescale_tile, clock, q_ops);
  Feeder feed_rc("feed_rc", rescale_cycle, clock, q_ops);
  Feeder feed_st("feed_st", sfu_tile, clock, v_ops);
  Feeder feed_sc("feed_sc", sfu_cycle, clock, v_ops);
  for (const Op& op : q.ops) rescale_tile.check(op);
  for (const Op& op : v.ops) sfu_tile.check(op);
  sc_core::sc_start();

  ASSERT_EQ(feed_rt.runs.size(), q.ops.size());
  ASSERT_EQ(feed_rc.runs.size(), q.ops.size());
  uint64_t previous_end = 0, busy = 0;
  for (std::size_t i = 0; i < q.ops.size(); ++i) {
    const Op& op = q.ops[i];
    SCOPED_TRACE(op.name + ": " + std::to_string(op.vector->elements) + " elements to " +
                 to_string(op.precision.out));
    const uint64_t E = op.vector->elements;
    const bool fp4 = op.precision.out == Precision::kFp4;
    // G = ceil(E/L) groups, one entering per cycle, each P (+ T for fp4's vote tree) cycles
    // long: the last leaves at G + P (+ T) − 1.
    const uint64_t groups = ceil_div(E, s.lanes);
    const uint64_t stages = s.pipeline_cycles + (fp4 ? tree_depth(s.lanes) : 0);
    const uint64_t expected = groups + stages - 1;
    const OpRun& t = feed_rt.runs[i];
    const OpRun& c = feed_rc.runs[i];
    EXPECT_EQ(t.start, previous_end);  // back to back
    EXPECT_EQ(t.end - t.start, expected);
    EXPECT_EQ(c.start, t.start);
    EXPECT_EQ(c.end, t.end);
    EXPECT_EQ(t.record.tiles, groups);
    EXPECT_EQ(t.record.checks.at("peak_pipeline_occupancy").get<uint64_t>(),
              std::min(groups, stages));
    expect_same_record(t.record, c.record);
    previous_end = t.end;
    busy += expected;
  }
  EXPECT_EQ(rescale_tile.counters().busy_cycles, busy);
  EXPECT_EQ(rescale_cycle.counters().busy_cycles, busy);
  EXPECT_EQ(rescale_cycle.counters().elements, rescale_tile.counters().elements);
  EXPECT_EQ(rescale_cycle.counters().peak_pipeline_occupancy,
            rescale_tile.counters().peak_pipeline_occupancy);

  ASSERT_EQ(feed_st.runs.size(), v.ops.size());
  ASSERT_EQ(feed_sc.runs.size(), v.ops.size());
  previous_end = busy = 0;
  for (std::size_t i = 0; i < v.ops.size(); ++i) {
    const Op& op = v.ops[i];
    SCOPED_TRACE(op.name + ": " + op.vector->function + " on " +
                 std::to_string(op.vector->elements) + " " + to_string(op.precision.a));
    const uint64_t lanes = op.precision.a == Precision::kFp32 ? sp.fp32_lanes : sp.lanes;
    const uint64_t cpe = sp.functions.at(op.vector->function).cycles_per_element;
    // W = E·c lane-cycles issued L a cycle: ceil(W/L) + P − 1.
    const uint64_t issue = ceil_div(op.vector->elements * cpe, lanes);
    const uint64_t expected = issue + s.pipeline_cycles - 1;
    const OpRun& t = feed_st.runs[i];
    const OpRun& c = feed_sc.runs[i];
    EXPECT_EQ(t.start, previous_end);
    EXPECT_EQ(t.end - t.start, expected);
    EXPECT_EQ(c.start, t.start);
    EXPECT_EQ(c.end, t.end);
    EXPECT_EQ(t.record.tiles, issue);
    EXPECT_EQ(t.record.checks.at("peak_pipeline_occupancy").get<uint64_t>(),
              std::min(issue, s.pipeline_cycles));
    expect_same_record(t.record, c.record);
    previous_end = t.end;
    busy += expected;
  }
  EXPECT_EQ(sfu_tile.counters().busy_cycles, busy);
  EXPECT_EQ(sfu_cycle.counters().busy_cycles, busy);
  EXPECT_EQ(sfu_cycle.counters().lane_cycles, sfu_tile.counters().lane_cycles);
}

INSTANTIATE_TEST_SUITE_P(Settings, VectorUnitSweep,
                         testing::Values(Setting{1, 1}, Setting{1, 4}, Setting{4, 3}, Setting{7, 5},
                                         Setting{16, 1}, Setting{48, 2}, Setting{64, 4}),
                         setting_name);

// A deterministic spread of values over many binades, signs and a few exact ties.
std::vector<float> sample_values(std::size_t n, uint32_t seed) {
  std::vector<float> out(n);
  uint32_t x = seed;
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;  // LCG (Numerical Recipes)
    const int exponent = static_cast<int>((x >> 8) % 24) - 14;
    const float mantissa = 1.0f + static_cast<float>((x >> 12) % 1024) / 1024.0f;
    const float sign = (x >> 31) != 0 ? -1.0f : 1.0f;
    out[i] = i % 17 == 0 ? 0.5f * static_cast<float>(i % 7) : sign * std::ldexp(mantissa, exponent);
  }
  return out;
}

TEST(RescaleUnit, QuantizeDataIsIdenticalInBothFidelities) {
  const ClockDomain clock("core", 1000);
  Workload w;
  w.ops = {quantize_op("uint4_alpha", 300, Precision::kFp16, Precision::kUint4),
           quantize_op("int4_default", 257, Precision::kFp32, Precision::kInt4),
           quantize_op("int2_alpha", 65, Precision::kFp16, Precision::kInt2),
           quantize_op("fp4_default", 1000, Precision::kFp16, Precision::kFp4),
           quantize_op("fp4_scaled", 129, Precision::kFp32, Precision::kFp4),
           quantize_op("no_data", 50, Precision::kFp16, Precision::kFp4)};
  std::vector<OpData> data(w.ops.size());
  for (std::size_t i = 0; i + 1 < w.ops.size(); ++i) {
    QuantizeData q;
    q.input = sample_values(w.ops[i].vector->elements, static_cast<uint32_t>(i + 1));
    data[i].quantize = q;
  }
  data[0].quantize->pact_alpha = 0.75;
  data[2].quantize->pact_alpha = 0.01;
  data[4].quantize->grad_scale_log2 = 3;
  std::vector<OpData> tile_data = data, cycle_data = data;

  RescaleParams p;
  p.lanes = 16;
  p.pipeline_cycles = 3;
  RescaleUnit tile("tile", p, context_of(w, clock, Fidelity::kTile, &tile_data));
  RescaleUnit cycle("cycle", p, context_of(w, clock, Fidelity::kCycle, &cycle_data));
  Feeder feed_t("feed_t", tile, clock, static_cast<uint32_t>(w.ops.size()));
  Feeder feed_c("feed_c", cycle, clock, static_cast<uint32_t>(w.ops.size()));
  sc_core::sc_start();
  ASSERT_EQ(feed_t.runs.size(), w.ops.size());
  ASSERT_EQ(feed_c.runs.size(), w.ops.size());

  for (std::size_t i = 0; i + 1 < w.ops.size(); ++i) {
    const Op& op = w.ops[i];
    SCOPED_TRACE(op.name);
    const QuantizeData& t = *tile_data[i].quantize;
    const QuantizeData& c = *cycle_data[i].quantize;
    QuantizeData reference = *data[i].quantize;
    rescale_quantize(op.precision.out, reference);
    for (const QuantizeData* d : {&t, &c}) {
      EXPECT_TRUE(d->computed);
      EXPECT_EQ(d->output, reference.output);
      EXPECT_EQ(d->clipped, reference.clipped);
      EXPECT_EQ(d->fp4.even.flushed, reference.fp4.even.flushed);
      EXPECT_EQ(d->fp4.even.saturated, reference.fp4.even.saturated);
      EXPECT_EQ(d->fp4.odd.flushed, reference.fp4.odd.flushed);
      EXPECT_EQ(d->fp4.odd.saturated, reference.fp4.odd.saturated);
      EXPECT_EQ(d->grad_scale_log2_used, reference.grad_scale_log2_used);
      EXPECT_EQ(d->grad_scale_vote, reference.grad_scale_vote);
    }
    const Json& checks = feed_t.runs[i].record.checks;
    EXPECT_EQ(checks, feed_c.runs[i].record.checks);
    if (op.precision.out == Precision::kFp4) {
      EXPECT_EQ(checks.at("fp4_flushed_odd").get<uint64_t>(), reference.fp4.odd.flushed);
      EXPECT_EQ(checks.at("grad_scale_log2").get<int>(), reference.grad_scale_log2_used);
      EXPECT_EQ(checks.at("grad_scale_vote").get<int>(), reference.grad_scale_vote);
      EXPECT_FALSE(checks.contains("clipped"));
    } else {
      EXPECT_EQ(checks.at("clipped").get<uint64_t>(), reference.clipped);
      EXPECT_FALSE(checks.contains("grad_scale_vote"));
    }
  }
  // The sample holds clipped values for the small clips, and a scale that holds or moves.
  EXPECT_GT(tile_data[2].quantize->clipped, 0u);
  EXPECT_EQ(tile_data[3].quantize->grad_scale_vote, 0);  // the fixed point holds
  // An op without data: no data checks, only the pipeline's.
  const Json& plain = feed_t.runs.back().record.checks;
  // min(G = ceil(50/16) = 4, stages 3 + log2(16) = 7) = 4
  EXPECT_EQ(plain, (Json{{"peak_pipeline_occupancy", 4}}));
}

// ---- Configs and checks ----

// The unit object accelerator.core.<role> of a config, with `impl` read as the caller does.
struct UnitConfig {
  UnitConfig(const std::string& role, Json unit)
      : doc(ConfigDoc::from_json({{"accelerator", {{"core", {{role, std::move(unit)}}}}}},
                                 "test.json")),
        root(doc, &resolved),
        node(root.child("accelerator").child("core").child(role)) {
    node.get_string("impl", "");
  }
  ConfigDoc doc;
  Json resolved;
  ConfigNode root;
  ConfigNode node;
};

std::string sfu_config_error(Json unit) {
  return error_of([&] {
    UnitConfig c("sfu", std::move(unit));
    SfuParams::from_config(c.node);
  });
}

std::string rescale_config_error(Json unit) {
  return error_of([&] {
    UnitConfig c("rescale", std::move(unit));
    RescaleParams::from_config(c.node);
  });
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(SfuConfig, OverridesAndAddsFunctionsOverTheBuiltInTable) {
  UnitConfig c("sfu", {{"impl", "Sfu"},
                       {"lanes", 8},
                       {"pipeline_cycles", 2},
                       {"functions",
                        {{"relu", {{"cycles_per_element", 2}}},
                         {"mish", {{"cycles_per_element", 8}, {"flops_per_element", 7}}}}}});
  const SfuParams p = SfuParams::from_config(c.node);
  EXPECT_EQ(p.lanes, 8u);
  EXPECT_EQ(p.fp32_lanes, 4u);  // default: lanes / 2
  EXPECT_EQ(p.pipeline_cycles, 2u);
  EXPECT_EQ(p.functions.at("relu").cycles_per_element, 2u);  // overridden
  EXPECT_EQ(p.functions.at("relu").flops_per_element, 1u);   // kept from the built-in entry
  EXPECT_EQ(p.functions.at("mish").cycles_per_element, 8u);  // added
  EXPECT_EQ(p.functions.at("mish").flops_per_element, 7u);
  EXPECT_EQ(p.functions.at("adam").cycles_per_element, 16u);  // built in
  EXPECT_EQ(p.functions.size(), default_sfu_functions().size() + 1);
  // The resolved config shows the whole table the run used.
  const Json& fns = c.resolved["accelerator"]["core"]["sfu"]["functions"];
  EXPECT_EQ(fns["adam"]["flops_per_element"], 19);
  EXPECT_EQ(fns["relu"]["cycles_per_element"], 2);
  EXPECT_EQ(fns["mish"]["flops_per_element"], 7);
  EXPECT_EQ(c.resolved["accelerator"]["core"]["sfu"]["fp32_lanes"], 4);
}

TEST(SfuConfig, TheBuiltInTableCoversTheNonGemmWorkOfTraining) {
  const char* names[] = {
      "relu",           "relu_grad", "pact_grad",    "batchnorm", "batchnorm_grad", "maxpool",
      "maxpool_grad",   "avgpool",   "avgpool_grad", "add",       "softmax_xent",   "sgd",
      "sgd_momentum",   "adam",      "grad_scale",   "mul",       "mul_grad",       "sigmoid",
      "sigmoid_grad",   "tanh",      "tanh_grad",    "gelu",      "gelu_grad",      "layernorm",
      "layernorm_grad", "softmax",   "softmax_grad", "embedding", "embedding_grad"};
  for (const char* name : names) {
    SCOPED_TRACE(name);
    ASSERT_EQ(default_sfu_functions().count(name), 1u);
    EXPECT_GE(default_sfu_functions().at(name).cycles_per_element, 1u);
  }
  EXPECT_EQ(default_sfu_functions().size(), std::size(names));
  // Sun et al.'s ~10 FP16 FLOPs of scaling and conversion overhead per gradient element.
  EXPECT_EQ(default_sfu_functions().at("grad_scale").flops_per_element, 10u);
  EXPECT_EQ(default_sfu_functions().at("sgd").flops_per_element, 2u);  // one FMA
}

TEST(SfuConfig, StrictErrorsNameTheFullPath) {
  EXPECT_TRUE(contains(sfu_config_error({{"functions", {{"relu", {{"cycles_per_elemnt", 2}}}}}}),
                       "test.json: accelerator.core.sfu.functions.relu.cycles_per_elemnt: "
                       "unknown key (expected one of: cycles_per_element, flops_per_element)"));
  EXPECT_TRUE(contains(sfu_config_error({{"functions", {{"mish", {{"cycles_per_element", 8}}}}}}),
                       "accelerator.core.sfu.functions.mish.flops_per_element: missing"));
  EXPECT_TRUE(contains(sfu_config_error({{"functions", {{"relu", {{"cycles_per_element", 0}}}}}}),
                       "accelerator.core.sfu.functions.relu.cycles_per_element: expected an "
                       "integer in [1, 1048576], found integer 0"));
  EXPECT_TRUE(contains(sfu_config_error({{"functions", {{"relu", 3}}}}),
                       "accelerator.core.sfu.functions.relu: expected an object"));
  EXPECT_TRUE(contains(sfu_config_error({{"lanes", 0}}),
                       "accelerator.core.sfu.lanes: expected an integer in [1, 65536]"));
  EXPECT_TRUE(contains(sfu_config_error({{"fp32_lanes", 65537}}),
                       "accelerator.core.sfu.fp32_lanes: expected an integer in [1, 65536]"));
  EXPECT_TRUE(contains(sfu_config_error({{"pipeline_cycles", 2000}}),
                       "accelerator.core.sfu.pipeline_cycles: expected an integer in [1, 1024]"));
  EXPECT_TRUE(contains(sfu_config_error({{"lane", 4}}),
                       "accelerator.core.sfu.lane: unknown key (expected one of: impl, lanes"));
  SfuParams p;
  p.functions["relu"].cycles_per_element = 0;
  EXPECT_TRUE(contains(error_of([&] { p.validate(); }),
                       "accelerator.core.sfu.functions.relu.cycles_per_element"));
}

TEST(RescaleConfig, ReadsAndChecksItsKeys) {
  UnitConfig c("rescale", {{"impl", "Rescale"}, {"lanes", 32}});
  const RescaleParams p = RescaleParams::from_config(c.node);
  EXPECT_EQ(p.lanes, 32u);
  EXPECT_EQ(p.pipeline_cycles, 4u);  // default
  EXPECT_EQ(c.resolved["accelerator"]["core"]["rescale"]["pipeline_cycles"], 4);
  EXPECT_TRUE(contains(rescale_config_error({{"lanes", 0}}),
                       "test.json: accelerator.core.rescale.lanes: expected an integer in "
                       "[1, 65536], found integer 0"));
  EXPECT_TRUE(contains(rescale_config_error({{"lanes", 65537}}),
                       "accelerator.core.rescale.lanes: expected an integer in [1, 65536]"));
  EXPECT_TRUE(contains(rescale_config_error({{"pipeline_cycles", 0}}),
                       "accelerator.core.rescale.pipeline_cycles: expected an integer in "
                       "[1, 1024]"));
  EXPECT_TRUE(contains(rescale_config_error({{"lanes", "many"}}),
                       "accelerator.core.rescale.lanes: expected an integer"));
  EXPECT_TRUE(contains(rescale_config_error({{"pipeline", 3}}),
                       "accelerator.core.rescale.pipeline: unknown key"));
  RescaleParams bad;
  bad.pipeline_cycles = 0;
  EXPECT_TRUE(contains(error_of([&] { bad.validate(); }),
                       "accelerator.core.rescale.pipeline_cycles: expected an integer in "
                       "[1, 1024], found 0"));
}

TEST(VectorUnits, OpsTheyCannotRunAreInputErrorsNamingTheConfig) {
  const ClockDomain clock("core", 1000);
  Workload w;
  UnitConfig sc("sfu",
                {{"impl", "Sfu"},
                 {"functions", {{"mish", {{"cycles_per_element", 8}, {"flops_per_element", 8}}}}}});
  UnitConfig rc("rescale", {{"impl", "Rescale"}});
  const std::unique_ptr<ComputeUnit> sfu =
      make_sfu_unit("sfu", sc.node, context_of(w, clock, Fidelity::kTile));
  const std::unique_ptr<ComputeUnit> rescale =
      make_rescale_unit("rescale", rc.node, context_of(w, clock, Fidelity::kTile));

  const std::string unknown =
      error_of([&] { sfu->check(vector_op("layer3.act", 10, "swish", Precision::kFp16)); });
  EXPECT_TRUE(contains(unknown, "op \"layer3.act\": vector function \"swish\" is not known"));
  EXPECT_TRUE(contains(unknown,
                       "accelerator.core.sfu.functions; known: adam, add, avgpool, "
                       "avgpool_grad, batchnorm, batchnorm_grad, embedding, embedding_grad, "
                       "gelu, gelu_grad, grad_scale, layernorm, layernorm_grad, maxpool, "
                       "maxpool_grad, mish,"));
  EXPECT_EQ(error_of([&] { sfu->check(vector_op("ok", 10, "mish", Precision::kFp32)); }),
            "(no error)");
  EXPECT_TRUE(contains(
      error_of([&] { sfu->check(quantize_op("q", 10, Precision::kFp16, Precision::kInt4)); }),
      "op \"q\" is a quantize op; the special-function unit (accelerator.core.sfu) runs only "
      "vector ops"));
  EXPECT_TRUE(contains(error_of([&] { sfu->check(vector_op("v", 10, "relu", Precision::kInt8)); }),
                       "(accelerator.core.sfu) computes in fp16 or fp32, not int8"));

  EXPECT_TRUE(contains(
      error_of([&] { rescale->check(vector_op("v", 10, "relu", Precision::kFp16)); }),
      "op \"v\" is a vector op; the rescaling unit (accelerator.core.rescale) runs only quantize "
      "and rescale ops"));
  EXPECT_TRUE(contains(
      error_of([&] { rescale->check(quantize_op("q8", 10, Precision::kFp16, Precision::kInt8)); }),
      "op \"q8\" converts fp16 to int8, which the rescaling unit (accelerator.core.rescale) "
      "cannot do"));
  EXPECT_EQ(
      error_of([&] { rescale->check(quantize_op("q4", 10, Precision::kFp32, Precision::kFp4)); }),
      "(no error)");
  EXPECT_EQ(rescale->describe(), (Json{{"lanes", 64}, {"pipeline_cycles", 4}}));
  EXPECT_EQ(sfu->describe()["functions"]["mish"]["flops_per_element"], 8);
  EXPECT_EQ(sfu->describe()["fp32_lanes"], 16);  // default: 32 / 2
}

// ---- Energy and stats ----

TEST(VectorUnits, EnergyEventsAndStats) {
  const ClockDomain clock("core", 1000);
  Workload q, v;
  q.ops = {quantize_op("fp4", 100, Precision::kFp16, Precision::kFp4),
           quantize_op("int2", 10, Precision::kFp16, Precision::kInt2),
           quantize_op("uint4", 3, Precision::kFp32, Precision::kUint4)};
  v.ops = {vector_op("adam", 10, "adam", Precision::kFp32),
           vector_op("relu", 5, "relu", Precision::kFp16)};
  RescaleUnit rescale("rescale", RescaleParams{}, context_of(q, clock, Fidelity::kTile));
  SfuUnit sfu("sfu", SfuParams{}, context_of(v, clock, Fidelity::kTile));
  Feeder feed_r("feed_r", rescale, clock, 3);
  Feeder feed_s("feed_s", sfu, clock, 2);
  sc_core::sc_start();
  ASSERT_EQ(feed_r.runs.size(), 3u);
  ASSERT_EQ(feed_s.runs.size(), 2u);

  using Key = std::pair<std::string, std::string>;
  const auto count = [](const OpRun& r, const char* unit, const char* event) {
    return r.record.energy.counts().at(Key{unit, event});
  };
  // fp4, 100 fp16 elements: 100 conversions; read 100·16/8 = 200 bytes; write two 4-bit phases
  // 2·100·4/8 = 100 bytes.
  EXPECT_DOUBLE_EQ(count(feed_r.runs[0], "rescale", "rescale.fp4_element"), 100.0);
  EXPECT_DOUBLE_EQ(count(feed_r.runs[0], "scratchpad", "scratchpad.read_byte"), 200.0);
  EXPECT_DOUBLE_EQ(count(feed_r.runs[0], "scratchpad", "scratchpad.write_byte"), 100.0);
  // int2, 10 fp16 elements: read 10·16/8 = 20; write 10·2/8 = 2.5.
  EXPECT_DOUBLE_EQ(count(feed_r.runs[1], "scratchpad", "scratchpad.read_byte"), 20.0);
  EXPECT_DOUBLE_EQ(count(feed_r.runs[1], "scratchpad", "scratchpad.write_byte"), 2.5);
  // uint4, 3 fp32 elements: read 3·32/8 = 12; write 3·4/8 = 1.5.
  EXPECT_DOUBLE_EQ(count(feed_r.runs[2], "scratchpad", "scratchpad.read_byte"), 12.0);
  EXPECT_DOUBLE_EQ(count(feed_r.runs[2], "scratchpad", "scratchpad.write_byte"), 1.5);
  // adam on 10 fp32 elements: 10·19 = 190 FP32 FLOPs; read and write 10·32/8 = 40 bytes.
  EXPECT_DOUBLE_EQ(count(feed_s.runs[0], "sfu", "sfu.fp32_flop"), 190.0);
  EXPECT_DOUBLE_EQ(count(feed_s.runs[0], "scratchpad", "scratchpad.read_byte"), 40.0);
  EXPECT_DOUBLE_EQ(count(feed_s.runs[0], "scratchpad", "scratchpad.write_byte"), 40.0);
  // relu on 5 fp16 elements: 5 FLOPs; 10 bytes each way.
  EXPECT_DOUBLE_EQ(count(feed_s.runs[1], "sfu", "sfu.fp16_flop"), 5.0);
  EXPECT_EQ(feed_s.runs[1].record.mapping, (Json{{"unit", "sfu"},
                                                 {"function", "relu"},
                                                 {"lanes", 32},
                                                 {"cycles_per_element", 1},
                                                 {"issue_cycles", 1}}));
  EXPECT_EQ(feed_r.runs[0].record.mapping,
            (Json{{"unit", "rescale"}, {"lanes", 64}, {"groups", 2}}));  // ceil(100/64) = 2

  // Every event the units name is priced by the shipped table. With a scratchpad of the table's
  // reference size (32 KiB, so its 2.5 pJ per byte apply unscaled), the fp4 op costs
  // 100·1.65 + (200 + 100)·2.5 = 915 pJ, the adam op 190·2.3 + (40 + 40)·2.5 = 637 pJ.
  const EnergyTable table =
      EnergyTable::load(std::string(NIBBLE_SOURCE_DIR) + "/configs/energy/45nm.json");
  for (const Op& op : q.ops) {
    for (const std::string& e : rescale.energy_events(op)) EXPECT_TRUE(table.has(e)) << e;
  }
  for (const Op& op : v.ops) {
    for (const std::string& e : sfu.energy_events(op)) EXPECT_TRUE(table.has(e)) << e;
  }
  EnergyContext at_reference;
  at_reference.capacity_bytes["scratchpad"] = 32768;
  EXPECT_DOUBLE_EQ(feed_r.runs[0].record.energy.price(table, &at_reference).total_pj, 915.0);
  EXPECT_DOUBLE_EQ(feed_s.runs[0].record.energy.price(table, &at_reference).total_pj, 637.0);

  Stats stats;
  rescale.add_stats(stats, "core0.rescale.");
  sfu.add_stats(stats, "core0.sfu.");
  const auto stat = [&](const std::string& name) -> const Stat& {
    for (const Stat& s : stats.all()) {
      if (s.name == name) return s;
    }
    throw std::runtime_error("no stat " + name);
  };
  EXPECT_EQ(std::get<uint64_t>(stat("core0.rescale.elements").value), 113u);  // 100 + 10 + 3
  EXPECT_EQ(std::get<uint64_t>(stat("core0.rescale.ops").value), 3u);
  EXPECT_EQ(std::get<uint64_t>(stat("core0.sfu.flops").value), 195u);  // 190 + 5
  EXPECT_EQ(std::get<uint64_t>(stat("core0.sfu.fp32_flops").value), 190u);
  EXPECT_EQ(std::get<uint64_t>(stat("core0.sfu.lane_cycles").value), 165u);  // 10·16 + 5·1
  for (const Stat& s : stats.all()) {
    EXPECT_FALSE(s.unit.empty()) << s.name;
    EXPECT_FALSE(s.description.empty()) << s.name;
  }
}

}  // namespace
}  // namespace nibble
