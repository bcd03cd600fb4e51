// Report assembly from a hand-made RunResult: every derived figure is checked with its arithmetic.
#include <gtest/gtest.h>

#include <sstream>

#include "sim/report.h"
#include "sim/stats.h"

namespace nibble {
namespace {

struct Fixture {
  Workload workload;
  EnergyTable table;
  RunResult result;
  RunInputs inputs;

  Fixture() {
    Op a;
    a.name = "a";
    a.gemm = {4, 4, 4};
    Op b;
    b.name = "b,\"quoted\"";
    b.pass = Pass::kBwdWeight;
    b.gemm = {2, 2, 2};
    workload.name = "w";
    workload.file = "w.json";
    workload.format = "nibble-trace";
    workload.ops = {a, b};
    table.set("mac.int4_int4", {0.5, "MAC", "T", ""});
    result.clock_mhz = 500;  // 2 ns per cycle
    result.peak_macs_per_cycle = 4;
    OpResult ra;
    ra.start_cycle = 0;
    ra.end_cycle = 20;
    ra.macs = 64;  // 4·4·4
    ra.tiles = 2;
    ra.unit = "mac_array";
    ra.peak_work_per_cycle = 4;  // a 2×2 array, one MAC per PE per cycle
    ra.energy.add("mac_array", "mac.int4_int4", 64);
    OpResult rb;
    rb.start_cycle = 20;
    rb.end_cycle = 25;
    rb.macs = 8;  // 2·2·2
    rb.tiles = 1;
    rb.unit = "mac_array";
    rb.peak_work_per_cycle = 4;
    rb.energy.add("mac_array", "mac.int4_int4", 8);
    result.ops = {ra, rb};
    result.cycles = 25;
    result.hardware = {
        {"mac_array", {{"rows", 2}, {"cols", 2}, {"dataflow", "os"}, {"schedule", "pipelined"}}}};
    inputs.config_file = "c.json";
    inputs.workload = &workload;
    inputs.energy = &table;
  }
};

TEST(Report, DerivedFiguresFollowFromCounts) {
  Fixture f;
  const Json r = build_report(f.inputs, f.result);
  EXPECT_EQ(r["cycles"], 25);
  EXPECT_DOUBLE_EQ(r["seconds"].get<double>(), 25 / 500e6);  // 50 ns
  EXPECT_EQ(r["macs"], 72);                                  // 64 + 8
  // Σ (work / peak per cycle) / cycles = (64/4 + 8/4) / 25 = 18/25, which for GEMMs on one array
  // is MACs / (cycles · peak): 72 / (25·4).
  EXPECT_DOUBLE_EQ(r["utilization"].get<double>(), 72.0 / (25 * 4));
  EXPECT_EQ(r["units"]["mac_array"]["ops"], 2);
  EXPECT_EQ(r["units"]["mac_array"]["busy_cycles"], 25);  // 20 + 5
  EXPECT_DOUBLE_EQ(r["units"]["mac_array"]["busy_fraction"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(r["energy_pj"]["total"].get<double>(), 36.0);  // 72 MACs · 0.5 pJ
  EXPECT_DOUBLE_EQ(r["energy_pj"]["by_unit"]["mac_array"].get<double>(), 36.0);
  EXPECT_DOUBLE_EQ(r["average_power_w"].get<double>(), 36e-12 / 50e-9);  // 0.72 mW
  EXPECT_EQ(r["status"], "complete");
  const Json& b = r["ops"][1];
  EXPECT_EQ(b["pass"], "bwd_weight");
  EXPECT_EQ(b["cycles"], 5);
  EXPECT_DOUBLE_EQ(b["utilization"].get<double>(), 8.0 / (5 * 4));
  EXPECT_DOUBLE_EQ(b["energy_pj"].get<double>(), 4.0);  // 8 · 0.5
}

TEST(Report, InterruptedRunsSaySo) {
  Fixture f;
  f.result.complete = false;
  f.result.ops.pop_back();
  f.result.cycles = 20;
  const Json r = build_report(f.inputs, f.result);
  EXPECT_EQ(r["status"], "interrupted");
  EXPECT_EQ(r["workload"]["ops"], 2);
  EXPECT_EQ(r["workload"]["ops_finished"], 1);
  EXPECT_EQ(r["ops"].size(), 1u);
}

TEST(Report, OpsCsvQuotesNamesThatNeedIt) {
  Fixture f;
  std::ostringstream csv;
  write_ops_csv(csv, build_report(f.inputs, f.result));
  EXPECT_EQ(
      csv.str(),
      "name,type,pass,a,b,out,M,N,K,tiles,start_cycle,end_cycle,cycles,macs,utilization,"
      "energy_pj,unit,elements\n"
      "a,gemm,fwd,int4,int4,fp16,4,4,4,2,0,20,20,64,0.8,32,mac_array,\n"  // 64/(20·4)
      "\"b,\"\"quoted\"\"\",gemm,bwd_weight,int4,int4,fp16,2,2,2,1,20,25,5,8,0.4,4,mac_array,\n");
}

TEST(Report, ElementWiseOpsReportElementsAndTheirUnitsUtilization) {
  Fixture f;
  Op v;
  v.name = "relu";
  v.type = OpType::kVector;
  v.vector = VectorShape{100, "relu"};
  v.precision = {Precision::kFp16, Precision::kFp16, Precision::kFp16};
  f.workload.ops.push_back(v);
  OpResult rv;
  rv.start_cycle = 25;
  rv.end_cycle = 36;  // ceil(100/32) + 8 − 1 = 11 cycles on a 32-lane SFU
  rv.unit = "sfu";
  rv.elements = 100;
  rv.tiles = 4;
  rv.peak_work_per_cycle = 32;
  f.result.ops.push_back(rv);
  f.result.cycles = 36;
  const Json r = build_report(f.inputs, f.result);
  const Json& op = r["ops"][2];
  EXPECT_FALSE(op.contains("gemm"));
  EXPECT_EQ(op["elements"], 100);
  EXPECT_EQ(op["function"], "relu");
  EXPECT_EQ(op["unit"], "sfu");
  EXPECT_DOUBLE_EQ(op["utilization"].get<double>(), (100.0 / 32) / 11);  // 3.125 full of 11
  // (64/4 + 8/4 + 100/32) = 21.125 full-throughput cycles over 36.
  EXPECT_DOUBLE_EQ(r["utilization"].get<double>(), 21.125 / 36);
  EXPECT_DOUBLE_EQ(r["units"]["sfu"]["busy_fraction"].get<double>(), 11.0 / 36);
  std::ostringstream csv;
  write_ops_csv(csv, r);
  EXPECT_NE(csv.str().find("\nrelu,vector,fwd,fp16,fp16,fp16,,,,4,25,36,11,0,"), std::string::npos);
  EXPECT_NE(csv.str().find(",sfu,100\n"), std::string::npos);
}

TEST(Stats, TextIsOneNameValueDescriptionUnitPerLine) {
  Stats s;
  s.add("sim.cycles", uint64_t{25}, "cycle", "simulated cycles");
  s.add("sim.seconds", 5e-8, "s", "simulated time");
  std::ostringstream out;
  s.write_text(out);
  EXPECT_EQ(out.str(),
            "sim.cycles 25 # simulated cycles (cycle)\n"
            "sim.seconds 5e-08 # simulated time (s)\n");
}

}  // namespace
}  // namespace nibble
