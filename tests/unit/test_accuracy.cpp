// Per-op accuracy on real tensors, and the .npy reader it uses.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "models/accuracy/op_accuracy.h"
#include "sim/error.h"
#include "sim/npy.h"
#include "tests/support/error_of.h"
#include "tests/support/npy_writer.h"

namespace nibble {
namespace {

using testing_support::write_npy;

std::string dir() {
  const auto d =
      std::filesystem::temp_directory_path() / ("nibble-acc-" + std::to_string(getpid()));
  std::filesystem::create_directories(d);
  return d.string();
}

using testing_support::error_of;

Op gemm_op(Pass pass, Precision a, Precision b, GemmShape g, const std::string& fa,
           const std::string& fb) {
  Op op;
  op.name = "g";
  op.pass = pass;
  op.precision = {a, b, Precision::kFp16};
  op.gemm = g;
  op.tensors = OpTensors{};
  op.tensors->a = fa;
  op.tensors->b = fb;
  return op;
}

TEST(Npy, ReadsFloat32AndFloat64WithTheirShapes) {
  const std::string f4 = dir() + "/f4.npy", f8 = dir() + "/f8.npy";
  write_npy<float>(f4, {2, 3}, {1, 2, 3, 4, 5, 6.5f});
  write_npy<double>(f8, {4}, {0.1, -2, 3, 1e-300});
  const NpyArray a = read_npy(f4);
  EXPECT_EQ(a.shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(a.values, (std::vector<double>{1, 2, 3, 4, 5, 6.5}));
  const NpyArray b = read_npy(f8);
  EXPECT_EQ(b.shape, (std::vector<uint64_t>{4}));
  EXPECT_EQ(b.values, (std::vector<double>{0.1, -2, 3, 1e-300}));
}

TEST(Npy, RefusesWhatItCannotRead) {
  const std::string bad = dir() + "/bad.npy";
  std::ofstream(bad) << "not numpy";
  EXPECT_EQ(error_of([&] { read_npy(bad); }), bad + ": not a NumPy .npy file (bad magic string)");
  const std::string ints = dir() + "/ints.npy";
  {
    std::string header = "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }";
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    std::ofstream out(ints, std::ios::binary);
    out.write("\x93NUMPY\x01\x00", 8);
    const char len[2] = {static_cast<char>(header.size() + 1), 0};
    out.write(len, 2);
    out << header << '\n' << "abcd";
  }
  EXPECT_EQ(error_of([&] { read_npy(ints); }),
            ints + ": expected a float32 or float64 array ('<f4' or '<f8'), found dtype '<i4'");
  const std::string short_file = dir() + "/short.npy";
  write_npy<float>(short_file, {3}, {1, 2});  // promises 3, holds 2
  EXPECT_EQ(error_of([&] { read_npy(short_file); }),
            short_file + ": truncated data: the header promises 3 elements");
}

TEST(Accuracy, ExactOperandsGiveZeroError) {
  // Small integers are exact in FP16, and so are their products and sums here:
  // [1 2; 3 4]·[5 6; 7 8] = [19 22; 43 50].
  const std::string a = dir() + "/ea.npy", b = dir() + "/eb.npy";
  write_npy<float>(a, {2, 2}, {1, 2, 3, 4});
  write_npy<float>(b, {2, 2}, {5, 6, 7, 8});
  const OpAccuracy r = evaluate_accuracy(
      gemm_op(Pass::kFwd, Precision::kFp16, Precision::kFp16, {2, 2, 2}, a, b), {});
  EXPECT_EQ(r.kernel, "fp16 x fp16, fp16 accumulation");
  EXPECT_EQ(r.outputs, 4u);
  EXPECT_EQ(r.rel_l2, 0.0);
  EXPECT_TRUE(std::isinf(r.sqnr_db));
  EXPECT_DOUBLE_EQ(r.cosine, 1.0);  // r·t / (|r|·|t|) goes through sqrt: equal within 4 ulps
  EXPECT_EQ(r.max_abs, 0.0);
  EXPECT_EQ(r.fp4_elements, 0u);
}

TEST(Accuracy, Fp4FlushAndSaturateFractionsAndGradScale) {
  // Gradient row [64, 0.001, 1, 4]: max 64 = 0.5·2^7, so GradScale's fixed point is 2^0 (64 lies in
  // (32, 64]). 0.001·1.6 = 0.0016 < 4^-3 = 0.015625 flushes; 64, 1 and 4 are on the grid.
  // Weights are irrelevant here (the fractions count the FP4 operand only).
  const std::string g = dir() + "/g.npy", w = dir() + "/w.npy";
  write_npy<float>(g, {1, 4}, {64, 0.001f, 1, 4});
  write_npy<float>(w, {4, 1}, {0.5f, -0.25f, 1, 2});
  Op op = gemm_op(Pass::kBwdData, Precision::kFp4, Precision::kInt4, {1, 1, 4}, g, w);
  OpAccuracy r = evaluate_accuracy(op, {});
  EXPECT_EQ(r.fp4_elements, 4u);
  EXPECT_EQ(r.fp4_flushed, 1u);
  EXPECT_EQ(r.fp4_saturated, 0u);
  EXPECT_EQ(r.grad_scale_log2, 0);
  EXPECT_EQ(r.fp4_phase, "even");
  // A trace-given scale of 2^2: 64·4 = 256 ≥ 160 is clipped to 64 (saturated); 0.004·1.6 = 0.0064
  // still flushes.
  op.tensors->grad_scale_log2 = 2;
  r = evaluate_accuracy(op, {});
  EXPECT_EQ(r.fp4_flushed, 1u);
  EXPECT_EQ(r.fp4_saturated, 1u);
  EXPECT_EQ(r.grad_scale_log2, 2);
  // The update GEMM uses the odd phase.
  op = gemm_op(Pass::kBwdWeight, Precision::kUint4, Precision::kFp4, {1, 1, 4}, dir() + "/x.npy",
               "");
  write_npy<float>(op.tensors->a, {1, 4}, {1, 2, 3, 4});
  op.tensors->b = dir() + "/gt.npy";
  write_npy<float>(op.tensors->b, {4, 1}, {64, 0.001f, 1, 4});
  EXPECT_EQ(evaluate_accuracy(op, {}).fp4_phase, "odd");
}

TEST(Accuracy, GradScaleStaysInItsRangeForTinyGradients) {
  // max|g| = 1e-38 < 2^-121 would need a scale above 2^127 to reach (32, 64]; the fixed point is
  // clamped to 127, so values stay finite (1e-38 · 2^127 ≈ 1.70) and nothing saturates.
  const std::string g = dir() + "/tiny.npy", w = dir() + "/tw.npy";
  write_npy<float>(g, {1, 4}, {1e-38f, 2.5e-39f, 0.0f, -2.5e-39f});
  write_npy<float>(w, {4, 1}, {0.5f, -0.25f, 1, 2});
  const OpAccuracy r = evaluate_accuracy(
      gemm_op(Pass::kBwdData, Precision::kFp4, Precision::kInt4, {1, 1, 4}, g, w), {});
  EXPECT_EQ(r.grad_scale_log2, 127);
  EXPECT_EQ(r.fp4_saturated, 0u);
}

TEST(Accuracy, PactCountsNegativeInputsAsClipped) {
  // PACT clips to [0, alpha]; alpha defaults to the max, 4: only -1 is outside.
  const std::string x = dir() + "/px.npy", w = dir() + "/pw.npy";
  write_npy<float>(x, {1, 4}, {-1, 2, 3, 4});
  write_npy<float>(w, {4, 1}, {1, 2, 3, 4});
  const OpAccuracy r = evaluate_accuracy(
      gemm_op(Pass::kFwd, Precision::kUint4, Precision::kUint4, {1, 1, 4}, x, w), {});
  EXPECT_EQ(r.int_saturated, 1u);
}

TEST(Accuracy, CountsResultsBeyondTheFp16Range) {
  // 300·300 + 300·300 = 180000 > 65504, the largest FP16: the result overflows to inf.
  const std::string a = dir() + "/big_a.npy", b = dir() + "/big_b.npy";
  write_npy<float>(a, {1, 2}, {300, 300});
  write_npy<float>(b, {2, 1}, {300, 300});
  const OpAccuracy r = evaluate_accuracy(
      gemm_op(Pass::kFwd, Precision::kFp16, Precision::kFp16, {1, 1, 2}, a, b), {});
  EXPECT_EQ(r.non_finite_outputs, 1u);
  EXPECT_TRUE(std::isinf(r.rel_l2));
}

TEST(Accuracy, CountsAccumulatorOverflows) {
  // UINT4 × UINT4, all ones: PACT with alpha = max = 1 gives code 15 everywhere. With an 8-bit
  // wrapping accumulator (−128..127) and K = 2: 0 + 225 = 225 overflows (wraps to −31), then
  // −31 + 225 = 194 overflows again: 2 overflows for the one output.
  const std::string a = dir() + "/oa.npy", b = dir() + "/ob.npy";
  write_npy<float>(a, {1, 2}, {1, 1});
  write_npy<float>(b, {2, 1}, {1, 1});
  AccuracyParams p;
  p.acc_bits = 8;
  const OpAccuracy r = evaluate_accuracy(
      gemm_op(Pass::kFwd, Precision::kUint4, Precision::kUint4, {1, 1, 2}, a, b), p);
  EXPECT_EQ(r.acc_overflows, 2u);
  EXPECT_EQ(r.kernel, "uint4 x uint4, int8 accumulator");
}

TEST(Accuracy, ConvolutionIm2colMatchesTheReferenceExactlyInFp32) {
  // 3×3 all-ones filter over a 1-channel 3×3 input with padding 1: every output is a box sum of
  // small integers, exact in FP32, so the FP32 kernel and the double reference agree exactly.
  const std::string x = dir() + "/cx.npy", w = dir() + "/cw.npy";
  write_npy<float>(x, {1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  write_npy<float>(w, {1, 1, 3, 3}, std::vector<float>(9, 1.0f));
  Op op;
  op.name = "c";
  op.type = OpType::kConv2d;
  op.conv = ConvShape{1, 1, 3, 3, 1, 3, 3, 1, 1};
  op.gemm = lower_conv2d(*op.conv, Pass::kFwd, "c");  // M = 9, N = 1, K = 9
  op.precision = {Precision::kFp32, Precision::kFp32, Precision::kFp32};
  op.tensors = OpTensors{};
  op.tensors->input = x;
  op.tensors->weight = w;
  const OpAccuracy r = evaluate_accuracy(op, {});
  EXPECT_EQ(r.outputs, 9u);
  EXPECT_EQ(r.rel_l2, 0.0);
}

TEST(Accuracy, BadTensorsAndPairsAreInputErrors) {
  const std::string a = dir() + "/sa.npy", b = dir() + "/sb.npy";
  write_npy<float>(a, {2, 3}, {1, 2, 3, 4, 5, 6});
  write_npy<float>(b, {3, 1}, {1, 2, 3});
  EXPECT_EQ(error_of([&] {
              evaluate_accuracy(
                  gemm_op(Pass::kFwd, Precision::kFp16, Precision::kFp16, {3, 1, 2}, a, b), {});
            }),
            a + ": tensor 'a' of op \"g\": expected shape [3, 2], found [2, 3]");
  EXPECT_EQ(error_of([&] {
              evaluate_accuracy(
                  gemm_op(Pass::kFwd, Precision::kInt8, Precision::kFp4, {2, 1, 3}, a, b), {});
            }),
            "op \"g\": no reference kernel for int8 x fp4 operands, so its accuracy cannot be "
            "computed");
  EXPECT_NE(error_of([&] {
              evaluate_accuracy(gemm_op(Pass::kFwd, Precision::kFp16, Precision::kFp16, {2, 1, 3},
                                        dir() + "/none.npy", b),
                                {});
            }).find("none.npy: cannot open tensor file"),
            std::string::npos);
}

}  // namespace
}  // namespace nibble
