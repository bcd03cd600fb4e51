// Workloads: the ops a trace asks the accelerator to run, after reading and lowering.
//
// GEMM-like ops (gemm, conv2d) reach the models as a GEMM C[M×N] = A[M×K]·B[K×N] plus what they
// were before lowering (for reports); element-wise ops (quantize, vector) as an element count.
// Reading checks every field; lowering is exact integer arithmetic.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/config.h"

namespace nibble {

enum class Pass { kFwd, kBwdData, kBwdWeight, kUpdate };
const char* to_string(Pass pass);
std::optional<Pass> parse_pass(const std::string& text);
constexpr const char* kPassNames = "\"fwd\", \"bwd_data\", \"bwd_weight\", \"update\"";

// Operand and result number formats a trace may name.
enum class Precision {
  kInt2,
  kInt4,
  kUint4,
  kInt8,
  kFp4,
  kHfp8_143,
  kHfp8_152,
  kFp16,
  kDlfloat16,
  kFp32
};
const char* to_string(Precision precision);
std::optional<Precision> parse_precision(const std::string& text);
// Storage bits of one element (INT4 and FP4 pack two to a byte).
uint32_t bits_of(Precision precision);
// The datapath family an operand uses, for naming energy events: INT4 and UINT4 share one
// multiplier, the two HFP8 formats share one FMA, FP16 and DLFloat16 one FPU.
const char* datapath_of(Precision precision);
extern const char* const kPrecisionNames;

struct OperandPrecisions {
  Precision a = Precision::kInt4;    // the M×K operand
  Precision b = Precision::kInt4;    // the K×N operand
  Precision out = Precision::kFp16;  // the M×N result
};

struct GemmShape {
  uint64_t m = 0, n = 0, k = 0;
  uint64_t macs() const { return m * n * k; }
};

struct ConvShape {
  uint64_t batch = 1, c = 0, h = 0, w = 0, filters = 0, r = 0, s = 0, stride = 1, padding = 0;
  uint64_t groups = 1;  // C and filters in `groups` independent groups (depthwise: groups = C)
  uint64_t out_h() const { return (h + 2 * padding - r) / stride + 1; }
  uint64_t out_w() const { return (w + 2 * padding - s) / stride + 1; }
};

// Tensors an op may carry (NumPy .npy, float32/float64), for per-op accuracy. A gemm names its
// operand matrices `a` [M, K] and `b` [K, N]; a conv2d names the layer's tensors, two per pass:
// fwd input+weight, bwd_data grad_output+weight, bwd_weight input+grad_output, with shapes
// input [batch, C, H, W], weight [filters, C, R, S], grad_output [batch, filters, P, Q].
// A quantize op names `input`, any shape of `elements` values.
// Paths are resolved against the trace file's directory when read.
struct OpTensors {
  std::string a, b;
  std::string input, weight, grad_output;
  std::optional<double> pact_alpha;    // clip of UINT4 (PACT) operands; default: the tensor max
  std::optional<int> grad_scale_log2;  // GradScale of FP4 operands; default: its fixed point
};

// gemm, conv2d: run by a GEMM unit (the MAC array, or the log-domain gradient unit when one
//   operand is FP4). Pass `update` is the weight-gradient GEMM under Sun et al.'s name for it
//   ("update GEMM"); it is lowered and rounded exactly like `bwd_weight`.
// quantize: the rescaling unit converts `elements` values from precision.a (FP16/FP32 results)
//   to precision.out: uint4/int4/int2 (PACT scale, clip, round) or fp4 (both TPR phases at once,
//   GradScale applied and its vote taken).
// vector: the special-function unit runs `function` (relu, batchnorm, sgd, ...) over `elements`
//   values of precision.a (fp16 or fp32).
// rescale: the rescaling unit converts `elements` values between float formats with a per-layer
//   scale (precision.a → precision.out: an FP32 result to FP16, a gradient scaled by 2^s).
// allreduce: the ring sums `elements` values of precision.a held by every core (a gradient
//   reduction across cores in data-parallel training); no compute unit runs it.
enum class OpType { kGemm, kConv2d, kQuantize, kVector, kRescale, kAllReduce };
const char* to_string(OpType type);

struct VectorShape {
  uint64_t elements = 0;
  std::string function;  // vector ops: what the SFU computes; quantize ops: empty
};

// A field that a unit's timing or the mapper reads must also go into PlanCache::key
// (models/mapper/mapper.cpp), or ops differing only in it would share a plan.
struct Op {
  std::string name;
  OpType type = OpType::kGemm;
  Pass pass = Pass::kFwd;
  OperandPrecisions precision;
  GemmShape gemm;                     // what the array computes, `gemm_batch` times
  uint64_t gemm_batch = 1;            // independent GEMMs of shape `gemm`: a batched matmul's
                                      // batch, a grouped convolution's groups
  std::optional<ConvShape> conv;      // the layer before lowering, for conv2d
  std::string lowering;               // how conv2d became `gemm`: "im2col" or "scalesim"
  std::optional<VectorShape> vector;  // element-wise ops (quantize, vector, rescale, allreduce)
  std::optional<OpTensors> tensors;
  std::string split;  // how to split the op across cores ("m", "n", "k"; "" lets the mapper choose)
  std::string fp4_phase =
      "both";                     // quantize to fp4: the TPR phases written ("both", "even", "odd")
  std::vector<std::string> deps;  // names of the earlier ops whose results it reads
  // Whether the trace gave `deps` (an empty list included); without it the op depends on the op
  // before it, so traces written without deps run in order.
  bool deps_listed = false;

  bool is_gemm() const { return type == OpType::kGemm || type == OpType::kConv2d; }
  uint64_t macs() const { return is_gemm() ? gemm_batch * gemm.macs() : 0; }
};

struct Workload {
  std::string name;
  std::string file;
  std::string format;       // "nibble-trace" or "scalesim-csv"
  uint64_t iterations = 1;  // training iterations the ops make up (the report scales by it)
  Json source;              // the trace's optional "source" object (who wrote it, from what)
  std::vector<Op> ops;
};

// Reads a workload one op at a time, so that a trace of any length takes bounded memory: the
// header is read and checked on construction; next() reads, checks and returns each op in turn
// (op names are remembered as 64-bit hashes, 8 bytes per op, for the uniqueness and `deps`
// checks). A JSON trace is scanned, not parsed whole: only one op is built at a time. SCALE-Sim
// CSVs are small and read whole. Throws InputError as read_workload does.
class WorkloadReader {
 public:
  explicit WorkloadReader(const std::string& path);
  ~WorkloadReader();
  WorkloadReader(const WorkloadReader&) = delete;
  WorkloadReader& operator=(const WorkloadReader&) = delete;

  const Workload& header() const;  // everything but the ops
  bool next(Op& op);               // false after the last op
  void rewind();                   // back to the first op
  uint64_t index() const;          // ops returned since the start

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a workload, choosing the reader by content: a JSON trace (first non-blank character '{')
// or a SCALE-Sim topology CSV. Throws InputError naming the file, the op and the field.
Workload read_workload(const std::string& path);
Workload read_json_trace(const std::string& path);
Workload read_scalesim_csv(const std::string& path);

// The GEMM a conv2d layer becomes in each pass (im2col; see workloads/README.md):
//   fwd        M = batch·P·Q  N = filters  K = R·S·C     (Y = X_col · W)
//   bwd_data   M = batch·P·Q  N = R·S·C    K = filters   (dX_col = dY · Wᵀ, then col2im)
//   bwd_weight M = R·S·C      N = filters  K = batch·P·Q (dW = X_colᵀ · dY)
//   update     as bwd_weight (the "update GEMM")
// All do the same number of MACs.
GemmShape lower_conv2d(const ConvShape& conv, Pass pass, const std::string& where);

// SCALE-Sim's lowering of a conv layer (no padding, batch 1):
// M = ceil((H − R + stride)/stride) · ceil((W − S + stride)/stride), N = filters, K = R·S·C.
GemmShape lower_conv2d_scalesim(const ConvShape& conv);

}  // namespace nibble
