// The values a GEMM unit computes when an op carries tensor data, in both fidelities.
//
// Tile fidelity calls compute_gemm_values(): the bit-exact reference kernels of models/numerics,
// which sum every output in increasing k, one rounding (or accumulator add) per product. Cycle
// fidelity feeds a GemmValueEngine with the MACs the stepped PE grid performs, one accumulator
// per output; it insists that each output sees k = 0, 1, ..., K−1 exactly once and in that order,
// which is the order a systolic array sums in (os: a PE's own register; ws/is: the partial-sum
// chain down a column, fold k-blocks in order). Same products, same order, same rounding: the two
// fidelities give bit-identical results, and a grid that dropped, repeated or reordered a MAC
// would be caught.
//
// The shift-MAC engine (group = its `ways`) sums each lane's `ways` exact INT4×FP4 products before
// one FP16 add, in both fidelities. Known simplification: the float modes of the MAC array with
// dot > 1 (HFP8's fused multiply-multiply-accumulate) still round once per product; a real FMMA
// that aligns both products before one rounding can differ in the last FP16 bit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/interfaces/op_data.h"
#include "models/numerics/int_formats.h"
#include "models/numerics/mac.h"
#include "models/systolic/pe_grid.h"
#include "models/systolic/systolic_timing.h"
#include "sim/workload.h"

namespace nibble {

struct GemmValueParams {
  uint32_t acc_bits = 32;     // integer accumulator width
  bool acc_saturate = false;  // integer accumulator saturates (else wraps)
  int64_t fp16_chunk = 64;    // FP16 accumulation chunk (0: one running sum)
  bool stochastic = false;    // stochastic rounding of FP16 partial sums
  uint64_t seed = 1;          // of the stochastic rounding streams
  bool fp32_out = false;      // integer results converted to FP32 (else FP16)
  int64_t group = 1;          // shift-MAC: products summed exactly per FP16 add (= the PE's dot)
};

// Whether a kernel exists for the operand pair, and its name ("int4 x fp4 shift-MAC, ...").
// Empty when there is none.
std::string gemm_kernel_name(const GemmData& data, const GemmValueParams& params);

// Tile fidelity: fills data.c, c_scale, acc_overflows, kernel and computed. Throws
// std::invalid_argument when the operand pair has no kernel.
void compute_gemm_values(const GemmShape& gemm, GemmData& data, const GemmValueParams& params);

// Cycle fidelity: accumulates the MACs a PeGrid reports. The grid runs lane_gemm(gemm, dataflow,
// mode); each lane MAC (m', n', k') stands for the real MACs of its SIMD lanes and dot products.
class GemmValueEngine : public MacSink {
 public:
  GemmValueEngine(const GemmShape& gemm, Dataflow dataflow, const PeMode& mode, GemmData& data,
                  const GemmValueParams& params);
  void mac(uint64_t m, uint64_t n, uint64_t k) override;
  // Checks that every output saw all K products, then fills `data` like compute_gemm_values.
  void finish();

 private:
  enum class Kind { kInt, kIntFp4, kFp4Int, kFloat16, kFp32 };
  void product(uint64_t m, uint64_t n, uint64_t k);
  double shift_product(uint64_t m, uint64_t n, uint64_t k);
  void claim(uint64_t m, uint64_t n, uint64_t k);  // checks and records that (m, n, k) is next

  GemmShape gemm_;
  Dataflow dataflow_;
  PeMode mode_;
  GemmData& data_;
  GemmValueParams params_;
  Kind kind_ = Kind::kInt;
  bool grouped_ = false;          // shift-MAC: one FP16 add per lane inner product
  std::vector<uint64_t> next_k_;  // per output: the k it must see next
  std::vector<numerics::IntAccumulator> ints_;
  std::vector<numerics::Fp16Accumulator> halves_;
  std::vector<float> floats_;
  std::vector<float> a_values_, b_values_;  // decoded FP16/HFP8 operands
};

}  // namespace nibble
