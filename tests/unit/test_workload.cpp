// Reading workloads (JSON traces, SCALE-Sim CSVs) and lowering convolutions to GEMMs.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "sim/error.h"
#include "sim/workload.h"
#include "tests/support/error_of.h"

namespace nibble {
namespace {

// Writes `text` to a fresh file in the test's temporary directory and returns its path.
std::string file_with(const std::string& name, const std::string& text) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("nibble-unit-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / name).string();
  std::ofstream(path) << text;
  return path;
}

using testing_support::error_of;

const char* const kPrecision = R"("precision": {"a": "int4", "b": "int4", "out": "fp16"})";

std::string trace_with(const std::string& op) {
  return std::string(R"({"format": "nibble-trace", "version": 1, "ops": [)") + op + "]}";
}

TEST(ConvLowering, ForwardIsIm2col) {
  // batch 2, C=3, 8×8 input, 4 filters 3×3, stride 1, padding 1: P = Q = (8+2−3)/1+1 = 8.
  // M = 2·8·8 = 128, N = 4, K = 3·3·3 = 27.
  ConvShape c{2, 3, 8, 8, 4, 3, 3, 1, 1};
  const GemmShape g = lower_conv2d(c, Pass::kFwd, "x");
  EXPECT_EQ(g.m, 128u);
  EXPECT_EQ(g.n, 4u);
  EXPECT_EQ(g.k, 27u);
}

TEST(ConvLowering, BackwardPassesDoTheForwardMacs) {
  // stride 2, no padding, 9×9 input, 3×3 filter: P = Q = (9−3)/2+1 = 4; pixels = 1·4·4 = 16;
  // window = 3·3·5 = 45; filters 6.  MACs of every pass = 16·6·45 = 4320.
  ConvShape c{1, 5, 9, 9, 6, 3, 3, 2, 0};
  const GemmShape data = lower_conv2d(c, Pass::kBwdData, "x");      // (16, 45, 6)
  const GemmShape weight = lower_conv2d(c, Pass::kBwdWeight, "x");  // (45, 6, 16)
  EXPECT_EQ(data.m, 16u);
  EXPECT_EQ(data.n, 45u);
  EXPECT_EQ(data.k, 6u);
  EXPECT_EQ(weight.m, 45u);
  EXPECT_EQ(weight.n, 6u);
  EXPECT_EQ(weight.k, 16u);
  EXPECT_EQ(data.macs(), 4320u);
  EXPECT_EQ(weight.macs(), 4320u);
  // `update` is Sun et al.'s name for the weight-gradient GEMM: lowered as bwd_weight.
  const GemmShape update = lower_conv2d(c, Pass::kUpdate, "t.json: .ops[0]");
  EXPECT_EQ(update.m, weight.m);
  EXPECT_EQ(update.n, weight.n);
  EXPECT_EQ(update.k, weight.k);
}

TEST(ConvLowering, ScaleSimRoundsOutputsUp) {
  // SCALE-Sim: H=6, R=3, stride 2: ceil((6−3+2)/2) = ceil(2.5) = 3 rows (a true convolution has
  // (6−3)/2+1 = 2); W=7, S=3: ceil((7−3+2)/2) = 3. M = 3·3 = 9, N = 8, K = 3·3·4 = 36.
  ConvShape c{1, 4, 6, 7, 8, 3, 3, 2, 0};
  const GemmShape g = lower_conv2d_scalesim(c);
  EXPECT_EQ(g.m, 9u);
  EXPECT_EQ(g.n, 8u);
  EXPECT_EQ(g.k, 36u);
}

TEST(JsonTrace, ReadsGemmAndConvOps) {
  const std::string path = file_with(
      "ok.json",
      R"({"format": "nibble-trace", "version": 1, "name": "t", "ops": [
        {"name": "fc", "type": "gemm", "pass": "bwd_data",
         "precision": {"a": "fp4", "b": "int4", "out": "fp16"}, "M": 3, "N": 5, "K": 7},
        {"name": "c1", "type": "conv2d", "pass": "fwd", )" +
          std::string(kPrecision) +
          R"(, "batch": 2, "C": 3, "H": 8, "W": 8, "filters": 4, "R": 3, "S": 3, "padding": 1}]})");
  const Workload w = read_workload(path);
  EXPECT_EQ(w.name, "t");
  EXPECT_EQ(w.format, "nibble-trace");
  ASSERT_EQ(w.ops.size(), 2u);
  EXPECT_EQ(w.ops[0].pass, Pass::kBwdData);
  EXPECT_EQ(w.ops[0].precision.a, Precision::kFp4);
  EXPECT_EQ(w.ops[0].gemm.macs(), 105u);  // 3·5·7
  EXPECT_EQ(w.ops[1].type, OpType::kConv2d);
  EXPECT_EQ(w.ops[1].conv->stride, 1u);  // default
  EXPECT_EQ(w.ops[1].gemm.m, 128u);      // 2·8·8, as in ConvLowering.ForwardIsIm2col
}

TEST(JsonTrace, BadOpsNameTheFileTheOpAndTheField) {
  const auto err = [](const std::string& name, const std::string& op) {
    return error_of([&] { read_workload(file_with(name, trace_with(op))); });
  };
  const std::string dir = std::filesystem::path(file_with("probe", "")).parent_path().string();
  EXPECT_EQ(err("zero.json", std::string(R"({"name": "g", "type": "gemm", "pass": "fwd", )") +
                                 kPrecision + R"(, "M": 0, "N": 1, "K": 1})"),
            dir + "/zero.json: .ops[0].M: expected an integer in [1, 1073741824], found integer 0");
  EXPECT_EQ(err("neg.json", std::string(R"({"name": "g", "type": "gemm", "pass": "fwd", )") +
                                kPrecision + R"(, "M": 2, "N": -4, "K": 1})"),
            dir + "/neg.json: .ops[0].N: expected an integer in [1, 1073741824], found integer -4");
  EXPECT_EQ(err("pass.json", std::string(R"({"name": "g", "type": "gemm", "pass": "back", )") +
                                 kPrecision + R"(, "M": 2, "N": 4, "K": 1})"),
            dir +
                "/pass.json: .ops[0].pass: expected one of \"fwd\", \"bwd_data\", "
                "\"bwd_weight\", \"update\", found string \"back\"");
  EXPECT_EQ(err("key.json", std::string(R"({"name": "g", "type": "gemm", "pass": "fwd", )") +
                                kPrecision + R"(, "M": 2, "N": 4, "K": 1, "L": 2})"),
            dir +
                "/key.json: .ops[0].L: unknown key (expected one of: name, type, pass, "
                "precision, M, N, K, batch, split, tensors, deps)");
  EXPECT_EQ(err("miss.json", std::string(R"({"name": "g", "type": "gemm", "pass": "fwd", )") +
                                 kPrecision + R"(, "M": 2, "K": 1})"),
            dir + "/miss.json: .ops[0].N: missing; expected an integer in [1, 1073741824]");
  EXPECT_EQ(err("prec.json", R"({"name": "g", "type": "gemm", "pass": "fwd", "M": 2, "N": 4,
                                 "K": 1, "precision": {"a": "int3", "b": "int4", "out": "fp16"}})"),
            dir +
                "/prec.json: .ops[0].precision.a: expected one of \"int2\", \"int4\", "
                "\"uint4\", \"int8\", \"fp4\", \"hfp8_143\", \"hfp8_152\", \"fp16\", "
                "\"dlfloat16\", \"fp32\", found string \"int3\"");
}

TEST(JsonTrace, RefusesOtherFormatsVersionsAndDuplicateNames) {
  EXPECT_NE(error_of([] {
              read_workload(file_with("v2.json", R"({"format": "nibble-trace", "version": 2,
                                                   "ops": []})"));
            })
                .find("v2.json: .version: this build reads trace format version 1, the file says "
                      "integer 2"),
            std::string::npos);
  const std::string op = std::string(R"({"name": "g", "type": "gemm", "pass": "fwd", )") +
                         kPrecision + R"(, "M": 2, "N": 4, "K": 1})";
  EXPECT_NE(error_of([&] {
              read_workload(file_with("dup.json", trace_with(op + "," + op)));
            }).find("dup.json: .ops[1].name: the name \"g\" is used by an earlier op"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              read_workload(file_with("empty.json", trace_with("")));
            }).find(".ops: expected a non-empty array of ops, found array []"),
            std::string::npos);
}

TEST(JsonTrace, TensorsResolveAgainstTheTraceDirectoryAndNeedTheirPassRoles) {
  const std::string prec = R"("precision": {"a": "fp4", "b": "int4", "out": "fp16"})";
  const std::string conv = R"("C": 1, "H": 4, "W": 4, "filters": 2, "R": 3, "S": 3, )" + prec;
  const std::string path = file_with(
      "tensors.json", trace_with(R"({"name": "c", "type": "conv2d", "pass": "bwd_data", )" + conv +
                                 R"(, "tensors": {"grad_output": "t/dy.npy", "weight": "/abs/w.npy",
                                      "grad_scale_log2": 12}})"));
  const Workload w = read_workload(path);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  EXPECT_EQ(w.ops[0].tensors->grad_output, dir + "/t/dy.npy");
  EXPECT_EQ(w.ops[0].tensors->weight, "/abs/w.npy");
  EXPECT_EQ(w.ops[0].tensors->grad_scale_log2, 12);
  // bwd_data needs grad_output and weight; an input alone is not enough.
  const std::string missing = file_with(
      "missing.json", trace_with(R"({"name": "c", "type": "conv2d", "pass": "bwd_data", )" + conv +
                                 R"(, "tensors": {"input": "x.npy"}})"));
  EXPECT_EQ(error_of([&] { read_workload(missing); }),
            missing +
                ": .ops[0].tensors.grad_output: missing; a conv2d op in pass \"bwd_data\" "
                "needs it");
}

TEST(JsonTrace, ReadsGroupsBatchesPhasesDepsAndIterations) {
  const std::string path = file_with("v1.json", R"({"format": "nibble-trace", "version": 1,
    "iterations": 3, "source": {"generator": "test"}, "ops": [
    {"name": "dw", "type": "conv2d", "pass": "fwd", )" +
                                                    std::string(kPrecision) + R"(,
     "batch": 2, "C": 8, "H": 6, "W": 6, "filters": 8, "R": 3, "S": 3, "padding": 1, "groups": 8},
    {"name": "g2", "type": "conv2d", "pass": "bwd_weight", )" +
                                                    kPrecision + R"(,
     "C": 4, "H": 5, "W": 5, "filters": 6, "R": 1, "S": 1, "groups": 2, "deps": ["dw"]},
    {"name": "qk", "type": "gemm", "pass": "fwd", )" +
                                                    kPrecision + R"(,
     "M": 16, "N": 16, "K": 8, "batch": 12, "deps": ["dw", "g2"]},
    {"name": "dy", "type": "quantize", "pass": "bwd_data", "elements": 64, "to": "fp4",
     "phase": "even"}]})");
  const Workload w = read_json_trace(path);
  ASSERT_EQ(w.ops.size(), 4u);
  EXPECT_EQ(w.iterations, 3u);
  EXPECT_EQ(w.source["generator"], "test");
  // Depthwise: 8 groups of 1 channel into 1 filter; P = Q = (6 + 2 − 3)/1 + 1 = 6:
  // per group M = 2·6·6 = 72, N = 1, K = 3·3·1 = 9; MACs = 8 · 72 · 1 · 9 = 5184.
  EXPECT_EQ(w.ops[0].gemm_batch, 8u);
  EXPECT_EQ(w.ops[0].gemm.m, 72u);
  EXPECT_EQ(w.ops[0].gemm.n, 1u);
  EXPECT_EQ(w.ops[0].gemm.k, 9u);
  EXPECT_EQ(w.ops[0].macs(), 5184u);
  EXPECT_EQ(w.ops[0].conv->groups, 8u);
  // 2 groups of 2 channels into 3 filters, 1×1, 5×5 pixels: bwd_weight M = 1·1·2 = 2, N = 3,
  // K = 1·5·5 = 25; MACs = 2 · 2·3·25 = 300.
  EXPECT_EQ(w.ops[1].gemm.m, 2u);
  EXPECT_EQ(w.ops[1].gemm.n, 3u);
  EXPECT_EQ(w.ops[1].gemm.k, 25u);
  EXPECT_EQ(w.ops[1].macs(), 300u);
  EXPECT_EQ(w.ops[1].deps, (std::vector<std::string>{"dw"}));
  // Batched matmul: 12 · 16·16·8 = 24576 MACs.
  EXPECT_EQ(w.ops[2].gemm_batch, 12u);
  EXPECT_EQ(w.ops[2].macs(), 24576u);
  EXPECT_EQ(w.ops[2].deps, (std::vector<std::string>{"dw", "g2"}));
  EXPECT_EQ(w.ops[3].fp4_phase, "even");
  EXPECT_EQ(w.ops[0].fp4_phase, "both");  // the default
}

TEST(JsonTrace, ReadsRescaleAndAllReduceOps) {
  const Workload w = read_json_trace(file_with("more.json", R"({"format": "nibble-trace",
    "version": 1, "ops": [
    {"name": "s", "type": "rescale", "pass": "bwd_weight", "elements": 10, "from": "fp32",
     "to": "hfp8_152"},
    {"name": "s2", "type": "rescale", "pass": "fwd", "elements": 3},
    {"name": "a", "type": "allreduce", "pass": "update", "elements": 7, "precision": "fp16"}]})"));
  ASSERT_EQ(w.ops.size(), 3u);
  EXPECT_EQ(w.ops[0].type, OpType::kRescale);
  EXPECT_EQ(w.ops[0].precision.a, Precision::kFp32);
  EXPECT_EQ(w.ops[0].precision.out, Precision::kHfp8_152);
  EXPECT_EQ(w.ops[1].precision.a, Precision::kFp32);    // default from
  EXPECT_EQ(w.ops[1].precision.out, Precision::kFp16);  // default to
  EXPECT_EQ(w.ops[2].type, OpType::kAllReduce);
  EXPECT_EQ(w.ops[2].vector->elements, 7u);
  EXPECT_EQ(w.ops[2].precision.a, Precision::kFp16);
  EXPECT_TRUE(error_of([] {
                read_json_trace(file_with("bad-rescale.json", R"({"format": "nibble-trace",
                  "version": 1, "ops": [{"name": "s", "type": "rescale", "pass": "fwd",
                  "elements": 4, "to": "int4"}]})"));
              }).find(".ops[0].to: expected one of \"fp32\", \"fp16\"") != std::string::npos);
}

TEST(JsonTrace, BadGroupsDepsAndPhasesNameTheField) {
  const auto err = [](const std::string& name, const std::string& ops) {
    return error_of([&] {
      read_json_trace(
          file_with(name, R"({"format": "nibble-trace", "version": 1, "ops": [)" + ops + "]}"));
    });
  };
  const std::string conv = std::string(R"({"name": "c", "type": "conv2d", "pass": "fwd", )") +
                           kPrecision + R"(, "C": 6, "H": 4, "W": 4, "filters": 8, "R": 1, "S": 1)";
  EXPECT_TRUE(err("groups.json", conv + R"(, "groups": 4})")
                  .find(".ops[0].groups: 4 groups do not divide C = 6") != std::string::npos);
  const std::string g = std::string(R"({"name": "g", "type": "gemm", "pass": "fwd", )") +
                        kPrecision + R"(, "M": 2, "N": 2, "K": 2)";
  EXPECT_TRUE(err("deps.json", g + R"(, "deps": ["later"]}, {"name": "later", "type": "vector",
                  "pass": "fwd", "function": "relu", "elements": 4})")
                  .find(".ops[0].deps[0]: expected the name of an earlier op, found \"later\"") !=
              std::string::npos);
  EXPECT_TRUE(err("deps2.json", g + R"(, "deps": "g"})")
                  .find(".ops[0].deps: expected an array of names of earlier ops, found") !=
              std::string::npos);
  EXPECT_TRUE(
      err("phase.json",
          R"({"name": "q", "type": "quantize", "pass": "fwd", "elements": 4, "to": "int4", "phase": "odd"})")
          .find(".ops[0].phase: only a quantize op to \"fp4\" has TPR phases") !=
      std::string::npos);
  EXPECT_TRUE(
      err("phase2.json",
          R"({"name": "q", "type": "quantize", "pass": "fwd", "elements": 4, "to": "fp4", "phase": 1})")
          .find(".ops[0].phase: expected \"both\", \"even\" or \"odd\"") != std::string::npos);
  const std::string zero = error_of([] {
    read_json_trace(file_with("iter.json", std::string(R"({"format": "nibble-trace", "version": 1,
      "iterations": 0, "ops": [{"name": "r", "type": "vector", "pass": "fwd", "function": "relu",
      "elements": 4}]})")));
  });
  EXPECT_TRUE(zero.find("iter.json: .iterations: expected an integer in [1, ") != std::string::npos)
      << zero;
}

TEST(WorkloadReader, StreamsOpsWhereverTheHeaderIsAndRewinds) {
  // "ops" before "version": the header is still checked before any op is returned.
  const std::string relu = R"({"name": "r%", "type": "vector", "pass": "fwd", "function": "relu",
                               "elements": 4})";
  std::string ops;
  for (int i = 0; i < 3; ++i) {
    std::string op = relu;
    op.replace(op.find('%'), 1, std::to_string(i));
    ops += (i ? ", " : "") + op;
  }
  const std::string path = file_with(
      "late-header.json",
      R"({"ops": [)" + ops + R"(], "name": "late", "format": "nibble-trace", "version": 1})");
  WorkloadReader reader(path);
  EXPECT_EQ(reader.header().name, "late");
  EXPECT_TRUE(reader.header().ops.empty());
  Op op;
  std::vector<std::string> names;
  while (reader.next(op)) names.push_back(op.name);
  EXPECT_EQ(names, (std::vector<std::string>{"r0", "r1", "r2"}));
  EXPECT_EQ(reader.index(), 3u);
  reader.rewind();  // the name checks restart too: r0 is not a duplicate now
  ASSERT_TRUE(reader.next(op));
  EXPECT_EQ(op.name, "r0");

  const std::string v2 =
      file_with("late-v2.json", R"({"ops": [{"bad": 1}], "format": "nibble-trace", "version": 2})");
  EXPECT_TRUE(error_of([&] {
                WorkloadReader r(v2);
              }).find("late-v2.json: .version: this build reads trace format version 1") !=
              std::string::npos);
  // A broken op is reported when it is reached, naming it and its line.
  std::string first = relu;
  first.replace(first.find('%'), 1, "0");
  const std::string broken =
      file_with("broken.json", "{\"format\": \"nibble-trace\", \"version\": 1, \"ops\": [\n" +
                                   first + ",\n{\"name\": 3,}]}");
  WorkloadReader r(broken);
  ASSERT_TRUE(r.next(op));
  const std::string e = error_of([&] { r.next(op); });
  // Line 1 the header, lines 2-3 the first op (its text spans two), line 4 the broken one.
  EXPECT_TRUE(e.find("broken.json: not valid JSON: line 4: .ops[1]: ") != std::string::npos) << e;
  // Unbalanced brackets are found while the header is read.
  const std::string open = file_with("open.json", R"({"format": "nibble-trace", "ops": [{})");
  EXPECT_EQ(error_of([&] { WorkloadReader x(open); }),
            open + ": not valid JSON: line 1: expected ']', found the end of the file");
}

TEST(ScaleSimCsv, ReadsBothTopologyFormats) {
  const Workload gemm = read_workload(file_with("g.csv", "Layer Name, M, N, K,\ng0,64,32,16,\n"));
  ASSERT_EQ(gemm.ops.size(), 1u);
  EXPECT_EQ(gemm.format, "scalesim-csv");
  EXPECT_EQ(gemm.ops[0].gemm.m, 64u);
  EXPECT_EQ(gemm.ops[0].gemm.n, 32u);
  EXPECT_EQ(gemm.ops[0].gemm.k, 16u);
  const Workload conv = read_workload(
      file_with("c.csv",
                "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num "
                "Filter, Strides,\nConv1, 230, 230, 7, 7, 3, 64, 2,\n"));
  // ceil((230−7+2)/2)² = 113² = 12769 output pixels; N = 64; K = 7·7·3 = 147.
  EXPECT_EQ(conv.ops[0].gemm.m, 12769u);
  EXPECT_EQ(conv.ops[0].gemm.n, 64u);
  EXPECT_EQ(conv.ops[0].gemm.k, 147u);
  EXPECT_EQ(conv.ops[0].lowering, "scalesim");
  EXPECT_EQ(conv.ops[0].precision.a, Precision::kInt4);
  EXPECT_EQ(conv.ops[0].pass, Pass::kFwd);
}

TEST(ScaleSimCsv, BadRowsNameTheLineAndColumn) {
  const auto path = file_with("bad.csv", "Layer Name, M, N, K,\ng0,64,x,16,\n");
  EXPECT_EQ(error_of([&] { read_workload(path); }),
            path + ": line 2, column 'N': expected an integer in [1, 1073741824], found 'x'");
  const auto zero = file_with("zero.csv", "Layer Name, M, N, K,\ng0,0,64,64,\n");
  EXPECT_EQ(error_of([&] { read_workload(zero); }),
            zero + ": line 2, column 'M': expected an integer in [1, 1073741824], found '0'");
  const auto header = file_with("hdr.csv", "name,a,b\n");
  EXPECT_NE(error_of([&] { read_workload(header); }).find("expected a SCALE-Sim topology header"),
            std::string::npos);
  const auto dup = file_with("dup.csv", "Layer Name, M, N, K,\ng0,1,2,3,\n\ng0,4,5,6,\n");
  EXPECT_EQ(error_of([&] { read_workload(dup); }),
            dup + ": line 4: the name \"g0\" is used by an earlier op; op names must be unique");
  const auto fields = file_with("fields.csv", "Layer Name, M, N, K,\ng0,1,2,\n");
  EXPECT_EQ(error_of([&] { read_workload(fields); }),
            fields + ": line 2: expected 4 fields, found 3");
}

TEST(Workload, MissingFileIsAnInputError) {
  EXPECT_EQ(error_of([] { read_workload("/nonexistent/w.json"); }),
            "/nonexistent/w.json: cannot open workload file (does it exist and is it readable?)");
}

}  // namespace
}  // namespace nibble
