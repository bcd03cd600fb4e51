// The SystemC accelerator on hundreds of GEMM shapes, in both fidelities: each op's simulated
// cycles equal the schedule's closed form (written out again here, independently of
// systolic_timing.cpp), MACs and operand traffic are conserved, ops run back to back, and the
// values computed by stepping the PE grid are bit-identical to the tile fidelity's kernels.
// One simulation per test process; tile and cycle fidelity meet through the same closed forms.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>

#include "models/accelerator/accelerator.h"
#include "models/numerics/minifloat.h"
#include "models/numerics/prng.h"
#include "models/systolic/gemm_values.h"
#include "tests/support/error_of.h"

namespace nibble {
namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

constexpr OperandPrecisions kInt4Int4{Precision::kInt4, Precision::kInt4, Precision::kFp16};
constexpr OperandPrecisions kFp4Int4{Precision::kFp4, Precision::kInt4, Precision::kFp16};
constexpr OperandPrecisions kInt2Int2{Precision::kInt2, Precision::kInt2, Precision::kFp32};
constexpr OperandPrecisions kInt8Int4{Precision::kInt8, Precision::kInt4, Precision::kFp16};
constexpr OperandPrecisions kHfp8{Precision::kHfp8_143, Precision::kHfp8_152, Precision::kFp16};
constexpr OperandPrecisions kFp16{Precision::kFp16, Precision::kFp16, Precision::kFp16};
constexpr OperandPrecisions kFp32{Precision::kFp32, Precision::kFp32, Precision::kFp32};

// A workload of every (M, N, K) over a set of awkward sizes: 1, primes, sizes just around the
// array dimensions, K smaller than the array. Precisions rotate (7 is prime to 8, so each size
// class meets each) over every mode of the MAC array and the log-domain gradient unit (fp4 × int4).
Workload shape_sweep() {
  const uint64_t sizes[] = {1, 2, 5, 7, 8, 13, 16, 33};
  const OperandPrecisions precisions[] = {kInt4Int4, kFp4Int4, kInt2Int2, kInt8Int4,
                                          kHfp8,     kFp16,    kFp32};
  Workload w;
  w.name = "shape-sweep";
  for (uint64_t m : sizes) {
    for (uint64_t n : sizes) {
      for (uint64_t k : sizes) {
        Op op;
        op.name = std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
        op.gemm = {m, n, k};
        op.precision = precisions[w.ops.size() % 7];
        op.pass = op.precision.a == Precision::kFp4 ? Pass::kBwdData : Pass::kFwd;
        w.ops.push_back(op);
      }
    }
  }
  return w;  // 8³ = 512 ops
}

struct Case {
  Dataflow dataflow;
  Schedule schedule;
  uint64_t rows, cols;
  Fidelity fidelity;
  uint32_t simd = 1, dot = 1;  // int4 and fp4×int4 modes; the others derive from it (mode_of)
};

// The PE mode each operand pair runs in under a Case: distinct per mode, so that a wrong mode
// choice changes the cycles.
PeMode mode_of(const Case& c, const OperandPrecisions& p) {
  switch (p.a) {
    case Precision::kInt2:
      return {c.simd, 2 * c.dot};
    case Precision::kInt8:
      return {c.simd, c.dot + 1};
    case Precision::kHfp8_143:
      return {c.simd, c.dot == 1 ? 1u : 2u};
    case Precision::kFp16:
      return {c.simd + 1, 1};
    case Precision::kFp32:
      return {1, 1};
    default:  // int4 × int4 and fp4 × int4
      return {c.simd, c.dot};
  }
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << to_string(c.dataflow) << ' ' << to_string(c.schedule) << ' ' << c.rows << 'x' << c.cols
      << ' ' << to_string(c.fidelity) << " simd " << c.simd << " dot " << c.dot;
}

std::string case_name(const testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return std::string(to_string(c.dataflow)) + "_" + to_string(c.schedule) + "_" +
         std::to_string(c.rows) + "x" + std::to_string(c.cols) + "_" + to_string(c.fidelity) +
         "_s" + std::to_string(c.simd) + "d" + std::to_string(c.dot);
}

Json config_for(const Case& c) {
  const Json array = {{"rows", c.rows},
                      {"cols", c.cols},
                      {"dataflow", to_string(c.dataflow)},
                      {"schedule", to_string(c.schedule)}};
  Json mac = array;
  mac["acc_bits"] = 24;
  mac["modes"] = Json::object();
  for (const auto& [name, p] :
       {std::pair{"int4", kInt4Int4}, std::pair{"int2", kInt2Int2}, std::pair{"int8", kInt8Int4},
        std::pair{"hfp8", kHfp8}, std::pair{"fp16", kFp16}, std::pair{"fp32", kFp32}}) {
    const PeMode m = mode_of(c, p);
    mac["modes"][name] = {{"simd", m.simd}, {"dot", m.dot}};
  }
  Json log_grad = array;
  log_grad["simd"] = c.simd;
  log_grad["ways"] = c.dot;
  return {{"sim", {{"fidelity", to_string(c.fidelity)}, {"ideal_memory", true}}},
          {"accelerator", {{"core", {{"mac_array", mac}, {"log_grad", log_grad}}}}}};
}

class ArraySweep : public testing::TestWithParam<Case> {};

TEST_P(ArraySweep, CyclesTrafficAndMacsMatchTheClosedForms) {
  const Case c = GetParam();
  const Workload w = shape_sweep();
  const RunResult r = simulate(config_for(c), w);
  ASSERT_TRUE(r.complete);
  ASSERT_EQ(r.ops.size(), w.ops.size());

  const uint64_t R = c.rows, C = c.cols;
  uint64_t previous_end = 0;
  for (std::size_t i = 0; i < w.ops.size(); ++i) {
    const Op& op = w.ops[i];
    const OpResult& o = r.ops[i];
    const uint64_t M = op.gemm.m, N = op.gemm.n, K = op.gemm.k;
    // A PE mode of `simd` lanes × `dot`-way products times like a plain array running
    // K' = ceil(K/dot) and, on the dimension the columns hold (N for os/ws, M for is),
    // ceil(·/simd).
    const PeMode mode = mode_of(c, op.precision);
    const uint64_t simd = mode.simd, dot = mode.dot;
    const uint64_t Kl = ceil_div(K, dot);
    const uint64_t Ml = c.dataflow == Dataflow::kIs ? ceil_div(M, simd) : M;
    const uint64_t Nl = c.dataflow == Dataflow::kIs ? N : ceil_div(N, simd);
    // (Sr, Sc, T) per dataflow: os (M,N,K), ws (K,N,M), is (K,M,N).
    const uint64_t sr = c.dataflow == Dataflow::kOs ? Ml : Kl;
    const uint64_t sc = c.dataflow == Dataflow::kIs ? Ml : Nl;
    const uint64_t t = c.dataflow == Dataflow::kOs ? Kl : c.dataflow == Dataflow::kWs ? Ml : Nl;
    const uint64_t folds = ceil_div(sr, R) * ceil_div(sc, C);
    uint64_t expected;
    if (c.schedule == Schedule::kScaleSim) {
      const uint64_t per_fold = c.dataflow == Dataflow::kOs ? t + R + C - 2 : 2 * R + C + t - 2;
      expected = folds * per_fold - 1;
    } else {
      const uint64_t preload = c.dataflow == Dataflow::kOs ? 0 : R;
      expected = preload + (folds - 1) * std::max(t, R) + t + R + C - 1;
    }
    SCOPED_TRACE(op.name);
    EXPECT_EQ(o.unit, op.precision.a == Precision::kFp4 ? "log_grad" : "mac_array");
    EXPECT_EQ(o.start_cycle, previous_end);
    EXPECT_EQ(o.end_cycle - o.start_cycle, expected);
    EXPECT_EQ(o.macs, M * N * K);
    EXPECT_EQ(o.tiles, folds);
    EXPECT_EQ(o.peak_work_per_cycle, R * C * simd * dot);
    previous_end = o.end_cycle;

    // Operand traffic, from how often each operand passes into the array:
    //   os: A once per column fold, B once per row fold, each result written once;
    //   ws: B (stationary) once, A once per column fold; is: A once, B once per column fold;
    //   ws/is: each of the M·N outputs is produced ceil(K'/R) times: the last is the result, the
    //   others are partial sums (24-bit integer accumulators, FP32 for fp32, FP16 for the float
    //   and shift-MAC datapaths) written and read back by the next fold.
    const uint64_t a = bits_of(op.precision.a), b = bits_of(op.precision.b);
    const uint64_t out = bits_of(op.precision.out);
    const bool integer = op.precision.a == Precision::kInt4 || op.precision.a == Precision::kInt2 ||
                         op.precision.a == Precision::kInt8;
    const uint64_t acc = integer ? 24 : op.precision.a == Precision::kFp32 ? 32 : 16;
    const uint64_t col_folds = ceil_div(sc, C);
    uint64_t read_bits, write_bits;
    if (c.dataflow == Dataflow::kOs) {
      read_bits = M * K * col_folds * a + K * N * ceil_div(M, R) * b;
      write_bits = M * N * out;
    } else {
      const uint64_t psums = M * N * (ceil_div(Kl, R) - 1);
      read_bits = (c.dataflow == Dataflow::kWs ? K * N * b + M * K * col_folds * a
                                               : K * M * a + N * K * col_folds * b) +
                  psums * acc;
      write_bits = M * N * out + psums * acc;
    }
    // The scratchpad also takes the DMA's fill of the operands (packed rows: M·ceil(K·a/8) and
    // K·ceil(N·b/8) bytes) and gives the result to the DMA's store (M·ceil(N·out/8) bytes).
    const auto& counts = o.energy.counts();
    const double fill = static_cast<double>(M * ceil_div(K * a, 8) + K * ceil_div(N * b, 8));
    const double drain = static_cast<double>(M * ceil_div(N * out, 8));
    EXPECT_DOUBLE_EQ(o.memory["bytes"]["scratchpad_fill"].get<double>(), fill);
    EXPECT_DOUBLE_EQ(o.memory["bytes"]["dram_read"].get<double>(), fill);
    EXPECT_DOUBLE_EQ(o.memory["bytes"]["dram_write"].get<double>(), drain);
    EXPECT_DOUBLE_EQ(counts.at({"scratchpad", "scratchpad.read_byte"}),
                     static_cast<double>(read_bits) / 8 + drain);
    EXPECT_DOUBLE_EQ(counts.at({"scratchpad", "scratchpad.write_byte"}),
                     static_cast<double>(write_bits) / 8 + fill);
  }
  EXPECT_EQ(r.cycles, previous_end);
}

// Every dataflow and schedule in both fidelities on small odd arrays, plus SIMD modes.
std::vector<Case> sweep_cases() {
  std::vector<Case> cases;
  for (Fidelity f : {Fidelity::kTile, Fidelity::kCycle}) {
    for (Dataflow d : {Dataflow::kOs, Dataflow::kWs, Dataflow::kIs}) {
      for (Schedule s : {Schedule::kScaleSim, Schedule::kPipelined}) {
        cases.push_back({d, s, 8, 8, f});
        cases.push_back({d, s, 5, 7, f});
        cases.push_back({d, s, 4, 3, f, 3, 2});
      }
    }
    cases.push_back({Dataflow::kOs, Schedule::kScaleSim, 1, 1, f});
    cases.push_back({Dataflow::kWs, Schedule::kPipelined, 1, 1, f});
    cases.push_back({Dataflow::kIs, Schedule::kScaleSim, 16, 4, f});
    cases.push_back({Dataflow::kOs, Schedule::kPipelined, 4, 16, f, 8, 8});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, ArraySweep, testing::ValuesIn(sweep_cases()), case_name);

// ---------------------------------------------------------------------------------------------
// Values: the PE grid's MACs (cycle fidelity) against the numerics kernels (tile fidelity).

struct ValueKind {
  const char* name;
  OperandPrecisions precision;
  Pass pass;
};

const ValueKind kValueKinds[] = {
    {"int4", {Precision::kInt4, Precision::kInt4, Precision::kFp16}, Pass::kFwd},
    {"uint4_int4_fp32", {Precision::kUint4, Precision::kInt4, Precision::kFp32}, Pass::kFwd},
    {"fp4_int4_even", {Precision::kFp4, Precision::kInt4, Precision::kFp16}, Pass::kBwdData},
    {"uint4_fp4_odd", {Precision::kUint4, Precision::kFp4, Precision::kFp16}, Pass::kBwdWeight},
    {"int4_fp4_update", {Precision::kInt4, Precision::kFp4, Precision::kFp16}, Pass::kUpdate},
    {"fp16", {Precision::kFp16, Precision::kFp16, Precision::kFp16}, Pass::kFwd},
    {"hfp8", {Precision::kHfp8_143, Precision::kHfp8_152, Precision::kFp16}, Pass::kBwdData},
    {"fp32", {Precision::kFp32, Precision::kFp32, Precision::kFp32}, Pass::kFwd},
};

OperandMatrix random_operand(Precision p, std::size_t count, numerics::SplitMix64& rng) {
  OperandMatrix o;
  const auto draw = [&](uint64_t range) { return rng.next() % range; };
  switch (p) {
    case Precision::kInt4:
    case Precision::kUint4:
      o.kind = OperandKind::kInt;
      o.int_format = p == Precision::kInt4 ? numerics::kInt4 : numerics::kUint4;
      for (std::size_t i = 0; i < count; ++i) {
        o.ints.push_back(
            static_cast<int8_t>(static_cast<int64_t>(draw(16)) + (p == Precision::kInt4 ? -8 : 0)));
      }
      o.scale = 0.125;
      break;
    case Precision::kFp4:
      o.kind = OperandKind::kFp4;
      for (std::size_t i = 0; i < count; ++i) o.bytes.push_back(static_cast<uint8_t>(draw(16)));
      o.scale = 1.0 / 1024;
      break;
    case Precision::kFp16:
      o.kind = OperandKind::kFp16;
      for (std::size_t i = 0; i < count; ++i) {
        const double v = (static_cast<double>(draw(20001)) - 10000) / 1000;  // [-10, 10]
        o.halves.push_back(static_cast<uint16_t>(numerics::fp16().encode(v)));
      }
      break;
    case Precision::kHfp8_143:
    case Precision::kHfp8_152: {
      o.kind = OperandKind::kHfp8;
      o.float_format = p == Precision::kHfp8_143 ? &numerics::hfp8_fwd() : &numerics::hfp8_bwd();
      for (std::size_t i = 0; i < count; ++i) {
        const double v = (static_cast<double>(draw(2001)) - 1000) / 100;  // [-10, 10]
        o.bytes.push_back(static_cast<uint8_t>(o.float_format->encode(v)));
      }
      break;
    }
    default:
      o.kind = OperandKind::kFp32;
      for (std::size_t i = 0; i < count; ++i) {
        o.floats.push_back(static_cast<float>(static_cast<double>(draw(2001)) - 1000) / 7.0f);
      }
  }
  return o;
}

class ValueSweep : public testing::TestWithParam<Case> {};

TEST_P(ValueSweep, SteppedGridValuesEqualTheKernelsBitForBit) {
  const Case c = GetParam();
  const uint64_t sizes[] = {1, 3, 8, 13};
  Workload w;
  std::vector<OpData> data;
  numerics::SplitMix64 rng(7);
  for (const ValueKind& kind : kValueKinds) {
    for (uint64_t m : sizes) {
      for (uint64_t n : sizes) {
        for (uint64_t k : {uint64_t{1}, uint64_t{5}, uint64_t{70}}) {  // 70 > the 64-chunk
          Op op;
          op.name = std::string(kind.name) + "-" + std::to_string(m) + "x" + std::to_string(n) +
                    "x" + std::to_string(k);
          op.gemm = {m, n, k};
          op.precision = kind.precision;
          op.pass = kind.pass;
          w.ops.push_back(op);
          GemmData d;
          d.a = random_operand(op.precision.a, m * k, rng);
          d.b = random_operand(op.precision.b, k * n, rng);
          d.phase = op.pass == Pass::kBwdWeight || op.pass == Pass::kUpdate
                        ? numerics::Fp4Phase::kOdd
                        : numerics::Fp4Phase::kEven;
          data.push_back({d, std::nullopt});
        }
      }
    }
  }
  // Narrow saturating accumulators make the integer adds overflow, which must also agree.
  Json config = config_for(c);
  config["accelerator"]["core"]["mac_array"]["acc_bits"] = 8;
  config["accelerator"]["core"]["mac_array"]["acc_overflow"] = "saturate";
  config["accelerator"]["core"]["mac_array"]["fp16_chunk"] = 64;
  std::vector<OpData> expected = data;
  GemmValueParams p;
  p.acc_bits = 8;
  p.acc_saturate = true;
  uint64_t overflows = 0;
  for (std::size_t i = 0; i < w.ops.size(); ++i) {
    p.fp32_out = w.ops[i].precision.out == Precision::kFp32;
    // The shift-MAC sums each lane's `ways` (= dot) products exactly before one FP16 add.
    const bool shift_mac =
        w.ops[i].precision.a == Precision::kFp4 || w.ops[i].precision.b == Precision::kFp4;
    p.group = shift_mac ? c.dot : 1;
    compute_gemm_values(w.ops[i].gemm, *expected[i].gemm, p);
    overflows += expected[i].gemm->acc_overflows;
  }
  EXPECT_GT(overflows, 0u);  // the saturating path is exercised

  const RunResult r = simulate(config, w, &data);
  ASSERT_TRUE(r.complete);
  for (std::size_t i = 0; i < w.ops.size(); ++i) {
    SCOPED_TRACE(w.ops[i].name);
    const GemmData& got = *data[i].gemm;
    const GemmData& want = *expected[i].gemm;
    ASSERT_TRUE(got.computed);
    EXPECT_EQ(got.kernel, want.kernel);
    EXPECT_EQ(got.c_scale, want.c_scale);
    EXPECT_EQ(got.acc_overflows, want.acc_overflows);
    ASSERT_EQ(got.c.size(), want.c.size());
    for (std::size_t j = 0; j < got.c.size(); ++j) ASSERT_EQ(got.c[j], want.c[j]) << "output " << j;
    if (r.ops[i].unit == "log_grad") {
      EXPECT_EQ(r.ops[i].mapping["phase"], got.phase == numerics::Fp4Phase::kOdd ? "odd" : "even");
    }
  }
}

std::vector<Case> value_cases() {
  std::vector<Case> cases;
  for (Fidelity f : {Fidelity::kTile, Fidelity::kCycle}) {
    for (Dataflow d : {Dataflow::kOs, Dataflow::kWs, Dataflow::kIs}) {
      cases.push_back({d, Schedule::kPipelined, 4, 3, f});
      cases.push_back({d, Schedule::kScaleSim, 5, 2, f, 2, 3});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Values, ValueSweep, testing::ValuesIn(value_cases()), case_name);

TEST(Accelerator, RoutesOpsAndCountsMacEventsByDatapath) {
  // fp4 × int4 and uint4 × fp4 are the same shift-MAC hardware (the log-domain gradient unit), so
  // one event; 2·3·4 = 24 MACs each. int4 × int4 runs on the MAC array.
  Workload w;
  Op a;
  a.name = "a";
  a.gemm = {2, 3, 4};
  a.precision = {Precision::kFp4, Precision::kInt4, Precision::kFp16};
  Op b = a;
  b.name = "b";
  b.precision = {Precision::kUint4, Precision::kFp4, Precision::kFp16};
  Op c = a;
  c.name = "c";
  c.precision = kInt4Int4;
  w.ops = {a, b, c};
  const Json config = Json::object();
  const ConfigDoc doc = ConfigDoc::from_json(config, "config");
  Json resolved = Json::object();
  ConfigNode root(doc, &resolved);
  Accelerator top("accelerator", root.child("accelerator"), SimSettings{}, w);
  const auto events = top.required_energy_events();  // the first op to need each event
  // One core, no shared buffer: no ring or shared-buffer events.
  ASSERT_EQ(events.size(), 7u);
  EXPECT_EQ(events[0], (std::pair<std::string, std::string>{"mac.int4_fp4", "a"}));
  EXPECT_EQ(events[1], (std::pair<std::string, std::string>{"scratchpad.read_byte", "a"}));
  EXPECT_EQ(events[2], (std::pair<std::string, std::string>{"scratchpad.write_byte", "a"}));
  EXPECT_EQ(events[3], (std::pair<std::string, std::string>{"dram.read_byte", "a"}));
  EXPECT_EQ(events[4], (std::pair<std::string, std::string>{"dram.write_byte", "a"}));
  EXPECT_EQ(events[5], (std::pair<std::string, std::string>{"clock.core_cycle", "a"}));
  EXPECT_EQ(events[6], (std::pair<std::string, std::string>{"mac.int4_int4", "c"}));
  sc_core::sc_start();
  const RunResult r = top.result();
  EXPECT_EQ(r.ops[0].unit, "log_grad");
  EXPECT_EQ(r.ops[1].unit, "log_grad");
  EXPECT_EQ(r.ops[2].unit, "mac_array");
  EXPECT_DOUBLE_EQ(r.ops[0].energy.counts().at({"log_grad", "mac.int4_fp4"}), 24.0);
  EXPECT_DOUBLE_EQ(r.ops[1].energy.counts().at({"log_grad", "mac.int4_fp4"}), 24.0);
  EXPECT_DOUBLE_EQ(r.ops[2].energy.counts().at({"mac_array", "mac.int4_int4"}), 24.0);
}

TEST(Accelerator, RefusesAModeTheArrayDoesNotHave) {
  Workload w;
  w.file = "t.json";
  Op a;
  a.name = "fp4fp4";
  a.gemm = {2, 3, 4};
  a.precision = {Precision::kFp4, Precision::kFp4, Precision::kFp16};
  w.ops = {a};
  const ConfigDoc doc = ConfigDoc::from_json(Json::object(), "config");
  Json resolved = Json::object();
  ConfigNode root(doc, &resolved);
  EXPECT_EQ(testing_support::error_of([&] {
              Accelerator top("accelerator", root.child("accelerator"), SimSettings{}, w);
            }),
            "t.json: op \"fp4fp4\" (fp4 x fp4) needs a \"fp4\" mode, which no PE of the MAC array "
            "has (accelerator.core.mac_array.modes: int2, int4, int8, hfp8, fp16, fp32; INT4 x FP4 "
            "GEMMs run on the log-domain gradient unit)");
}

TEST(Accelerator, RefusesOpsBeyondWhatCanBeSimulated) {
  // fp32 M=K=2^30, N=1 on an 8×8 os array: 2^27 folds of T = 2^30 cycles, about 2^57 cycles,
  // or 2^67 ps at 1 GHz: past 64-bit time. Refused before anything runs.
  Workload w;
  w.file = "t.json";
  Op a;
  a.name = "huge";
  a.gemm = {uint64_t{1} << 30, 1, uint64_t{1} << 30};
  a.precision = {Precision::kFp32, Precision::kFp32, Precision::kFp32};
  w.ops = {a};
  const ConfigDoc doc = ConfigDoc::from_json(Json::object(), "config");
  Json resolved = Json::object();
  ConfigNode root(doc, &resolved);
  const std::string e = testing_support::error_of(
      [&] { Accelerator top("accelerator", root.child("accelerator"), SimSettings{}, w); });
  EXPECT_EQ(e.rfind("t.json: op \"huge\" (M=1073741824, N=1, K=1073741824) on mac_array would take "
                    "about ",
                    0),
            0u)
      << e;
  EXPECT_NE(e.find("beyond what 64-bit cycle, time and traffic counters hold"), std::string::npos);
}

TEST(Accelerator, CycleFidelityRefusesDimensionsBeyondTheGrid) {
  // A lowered conv can exceed the 2^31 the stepped grid indexes; tile fidelity runs it.
  Workload w;
  w.file = "t.json";
  Op a;
  a.name = "wide";
  a.gemm = {uint64_t{1} << 32, 1, 1};
  w.ops = {a};
  const ConfigDoc doc = ConfigDoc::from_json(Json::object(), "config");
  Json resolved = Json::object();
  ConfigNode root(doc, &resolved);
  SimSettings cycle;
  cycle.fidelity = Fidelity::kCycle;
  EXPECT_NE(testing_support::error_of([&] {
              Accelerator top("accelerator", root.child("accelerator"), cycle, w);
            }).find("a dimension is beyond 2^31, the largest the cycle-stepped PE grid indexes"),
            std::string::npos);
}

}  // namespace
}  // namespace nibble
