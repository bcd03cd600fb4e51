#include "models/accuracy/op_accuracy.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "models/numerics/fp4.h"
#include "models/numerics/gemm.h"
#include "models/numerics/metrics.h"
#include "models/numerics/minifloat.h"
#include "models/numerics/quantizers.h"
#include "models/systolic/gemm_values.h"
#include "sim/error.h"
#include "sim/npy.h"

namespace nibble {

namespace nn = numerics;

namespace {

// A tensor as the trace gave it (FP32 values) and its file, for messages.
struct Tensor {
  std::string file;
  std::vector<uint64_t> shape;
  std::vector<float> values;
};

std::string shape_text(const std::vector<uint64_t>& s) {
  std::string t = "[";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

Tensor load(const Op& op, const std::string& role, const std::string& file,
            const std::vector<uint64_t>& expected) {
  NpyArray a = read_npy(file);
  if (!expected.empty() && a.shape != expected) {
    throw InputError(file + ": tensor '" + role + "' of op \"" + op.name + "\": expected shape " +
                     shape_text(expected) + ", found " + shape_text(a.shape));
  }
  Tensor t{file, a.shape, std::vector<float>(a.values.size())};
  for (std::size_t i = 0; i < a.values.size(); ++i) {
    t.values[i] = static_cast<float>(a.values[i]);
    if (!std::isfinite(t.values[i])) {  // checked as FP32: 1e39 in a float64 file is inf here
      throw InputError(file + ": tensor '" + role + "' of op \"" + op.name + "\": element " +
                       std::to_string(i) + " is not a finite FP32 value");
    }
  }
  return t;
}

// One GEMM operand: a source tensor and, for every matrix element (row-major), the index of the
// source element it reads, or -1 for a zero (convolution padding).
struct Operand {
  const Tensor* tensor = nullptr;
  std::vector<int64_t> gather;
};

// The GEMM operands of `op` over its tensors (im2col for conv2d; see sim/workload.h).
void layout(const Op& op, const Tensor* x, const Tensor* w, const Tensor* dy, Operand& a,
            Operand& b) {
  const GemmShape& g = op.gemm;
  a.gather.assign(g.m * g.k, -1);
  b.gather.assign(g.k * g.n, -1);
  if (op.type == OpType::kGemm) {
    for (uint64_t i = 0; i < a.gather.size(); ++i) a.gather[i] = static_cast<int64_t>(i);
    for (uint64_t i = 0; i < b.gather.size(); ++i) b.gather[i] = static_cast<int64_t>(i);
    return;
  }
  const ConvShape& c = *op.conv;
  const uint64_t P = c.out_h(), Q = c.out_w(), window = c.r * c.s * c.c;
  // Window index k = (ci·R + r)·S + s; pixel index p = (n·P + y)·Q + x.
  auto input_at = [&](uint64_t pixel, uint64_t k) -> int64_t {
    const uint64_t n = pixel / (P * Q), y = pixel / Q % P, xo = pixel % Q;
    const uint64_t ci = k / (c.r * c.s), r = k / c.s % c.r, s = k % c.s;
    const int64_t h = static_cast<int64_t>(y * c.stride + r) - static_cast<int64_t>(c.padding);
    const int64_t wi = static_cast<int64_t>(xo * c.stride + s) - static_cast<int64_t>(c.padding);
    if (h < 0 || wi < 0 || h >= static_cast<int64_t>(c.h) || wi >= static_cast<int64_t>(c.w)) {
      return -1;
    }
    return static_cast<int64_t>(((n * c.c + ci) * c.h + static_cast<uint64_t>(h)) * c.w +
                                static_cast<uint64_t>(wi));
  };
  auto weight_at = [&](uint64_t f, uint64_t k) { return static_cast<int64_t>(f * window + k); };
  auto grad_at = [&](uint64_t pixel, uint64_t f) {
    const uint64_t n = pixel / (P * Q), yx = pixel % (P * Q);
    return static_cast<int64_t>((n * c.filters + f) * P * Q + yx);
  };
  if (op.pass == Pass::kFwd) {  // A = X_col [pixels × window], B = Wᵀ [window × filters]
    a.tensor = x, b.tensor = w;
    for (uint64_t i = 0; i < g.m; ++i)
      for (uint64_t k = 0; k < g.k; ++k) a.gather[i * g.k + k] = input_at(i, k);
    for (uint64_t k = 0; k < g.k; ++k)
      for (uint64_t f = 0; f < g.n; ++f) b.gather[k * g.n + f] = weight_at(f, k);
  } else if (op.pass == Pass::kBwdData) {  // A = dY [pixels × filters], B = W [filters × window]
    a.tensor = dy, b.tensor = w;
    for (uint64_t i = 0; i < g.m; ++i)
      for (uint64_t f = 0; f < g.k; ++f) a.gather[i * g.k + f] = grad_at(i, f);
    for (uint64_t f = 0; f < g.k; ++f)
      for (uint64_t k = 0; k < g.n; ++k) b.gather[f * g.n + k] = weight_at(f, k);
  } else {  // A = X_colᵀ [window × pixels], B = dY [pixels × filters]
    a.tensor = x, b.tensor = dy;
    for (uint64_t k = 0; k < g.m; ++k)
      for (uint64_t i = 0; i < g.k; ++i) a.gather[k * g.k + i] = input_at(i, k);
    for (uint64_t i = 0; i < g.k; ++i)
      for (uint64_t f = 0; f < g.n; ++f) b.gather[i * g.n + f] = grad_at(i, f);
  }
}

template <typename T, typename F>
std::vector<T> gather(const Operand& o, T zero, F code_of) {
  std::vector<T> out(o.gather.size(), zero);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (o.gather[i] >= 0) out[i] = code_of(static_cast<std::size_t>(o.gather[i]));
  }
  return out;
}

nn::GemmShape gemm_shape(const GemmShape& g) {
  return {static_cast<int64_t>(g.m), static_cast<int64_t>(g.n), static_cast<int64_t>(g.k)};
}

void set_metrics(const std::vector<double>& ref, const std::vector<double>& test, OpAccuracy& acc) {
  const nn::ErrorMetrics e = nn::compare(ref.data(), test.data(), ref.size());
  acc.outputs = ref.size();
  acc.rel_l2 = e.rel_l2;
  acc.sqnr_db = e.sqnr_db;
  acc.cosine = e.cosine;
  acc.max_abs = e.max_abs;
}

}  // namespace

namespace {

OperandMatrix quantize(const Op& op, const Operand& o, Precision p, nn::Fp4Phase phase,
                       OpAccuracy& acc) {
  const std::vector<float>& v = o.tensor->values;
  OperandMatrix q;
  switch (p) {
    case Precision::kInt2:
    case Precision::kInt4:
    case Precision::kInt8: {
      const int bits = static_cast<int>(bits_of(p));
      q.kind = OperandKind::kInt;
      q.int_format = p == Precision::kInt2   ? nn::kInt2
                     : p == Precision::kInt4 ? nn::kInt4
                                             : nn::kInt8;
      const nn::QuantizedTensor t = nn::sawb_quantize(v.data(), v.size(), bits);
      q.scale = t.scales[0];
      for (float x : v) acc.int_saturated += std::fabs(x) > t.alphas[0] ? 1 : 0;
      q.ints = gather<int8_t>(o, 0, [&](std::size_t i) { return t.codes[i]; });
      return q;
    }
    case Precision::kUint4: {
      float max = 0;
      for (float x : v) max = std::max(max, x);
      const double alpha = op.tensors->pact_alpha.value_or(max > 0 ? max : 1.0);
      q.kind = OperandKind::kInt;
      q.int_format = nn::kUint4;
      const nn::QuantizedTensor t = nn::pact_quantize(v.data(), v.size(), alpha, 4);
      q.scale = alpha / 15;
      // PACT clips to [0, alpha]: a negative input (an operand that is not post-ReLU) is clipped
      // too.
      for (float x : v) acc.int_saturated += x > alpha || x < 0 ? 1 : 0;
      q.ints = gather<int8_t>(o, 0, [&](std::size_t i) { return t.codes[i]; });
      return q;
    }
    case Precision::kFp4: {
      const int s =
          op.tensors->grad_scale_log2.value_or(nn::grad_scale_fixed_point(v.data(), v.size()));
      std::vector<uint8_t> codes(v.size());
      const nn::TprTensorCounts counts = nn::fp4_quantize_tpr(
          v.data(), v.size(), s, phase == nn::Fp4Phase::kEven ? codes.data() : nullptr,
          phase == nn::Fp4Phase::kOdd ? codes.data() : nullptr);
      const nn::Fp4Counts& c = phase == nn::Fp4Phase::kEven ? counts.even : counts.odd;
      acc.fp4_elements += v.size();
      acc.fp4_flushed += c.flushed;
      acc.fp4_saturated += c.saturated;
      acc.grad_scale_log2 = s;
      acc.fp4_phase = phase == nn::Fp4Phase::kEven ? "even" : "odd";
      q.kind = OperandKind::kFp4;
      q.scale = std::ldexp(1.0, -s);
      q.bytes = gather<uint8_t>(o, 0, [&](std::size_t i) { return codes[i]; });
      return q;
    }
    case Precision::kFp16: {
      q.kind = OperandKind::kFp16;
      q.halves = gather<uint16_t>(
          o, 0, [&](std::size_t i) { return static_cast<uint16_t>(nn::fp16().encode(v[i])); });
      return q;
    }
    case Precision::kHfp8_143:
    case Precision::kHfp8_152: {
      q.kind = OperandKind::kHfp8;
      q.float_format = p == Precision::kHfp8_143 ? &nn::hfp8_fwd() : &nn::hfp8_bwd();
      q.bytes = gather<uint8_t>(
          o, 0, [&](std::size_t i) { return static_cast<uint8_t>(q.float_format->encode(v[i])); });
      return q;
    }
    case Precision::kFp32:
      q.kind = OperandKind::kFp32;
      q.floats = gather<float>(o, 0.0f, [&](std::size_t i) { return v[i]; });
      return q;
    case Precision::kDlfloat16:
      break;
  }
  throw InputError("op \"" + op.name + "\": accuracy needs a reference kernel for " + to_string(p) +
                   " operands, which this build does not have");
}

}  // namespace

PreparedAccuracy prepare_gemm_accuracy(const Op& op, GemmData& data) {
  const OpTensors& t = *op.tensors;
  const GemmShape& g = op.gemm;
  PreparedAccuracy prep;
  OpAccuracy& acc = prep.accuracy;
  Tensor x, w, dy, ta, tb;
  Operand a, b;
  if (op.type == OpType::kGemm) {
    ta = load(op, "a", t.a, {g.m, g.k});
    tb = load(op, "b", t.b, {g.k, g.n});
    a.tensor = &ta, b.tensor = &tb;
    layout(op, nullptr, nullptr, nullptr, a, b);
  } else {
    const ConvShape& c = *op.conv;
    if (!t.input.empty()) x = load(op, "input", t.input, {c.batch, c.c, c.h, c.w});
    if (!t.weight.empty()) w = load(op, "weight", t.weight, {c.filters, c.c, c.r, c.s});
    if (!t.grad_output.empty()) {
      dy = load(op, "grad_output", t.grad_output, {c.batch, c.filters, c.out_h(), c.out_w()});
    }
    layout(op, &x, &w, &dy, a, b);
  }
  // TPR: the update (weight-gradient) GEMM uses the odd phase, every other pass the even one.
  data.phase = op.pass == Pass::kBwdWeight || op.pass == Pass::kUpdate ? nn::Fp4Phase::kOdd
                                                                       : nn::Fp4Phase::kEven;
  data.a = quantize(op, a, op.precision.a, data.phase, acc);
  data.b = quantize(op, b, op.precision.b, data.phase, acc);
  if (gemm_kernel_name(data, GemmValueParams{}).empty()) {
    throw InputError("op \"" + op.name + "\": no reference kernel for " +
                     to_string(op.precision.a) + " x " + to_string(op.precision.b) +
                     " operands, so its accuracy cannot be computed");
  }

  // The FP32 reference: the unquantized operands, multiplied and summed in double.
  const auto real = [](const Operand& o) {
    return gather<double>(o, 0.0, [&](std::size_t i) { return double{o.tensor->values[i]}; });
  };
  const std::vector<double> ra = real(a), rb = real(b);
  prep.reference.assign(g.m * g.n, 0.0);
  nn::gemm_f64(ra.data(), rb.data(), gemm_shape(g), prep.reference.data());
  return prep;
}

OpAccuracy finish_gemm_accuracy(const GemmData& data, PreparedAccuracy prep) {
  OpAccuracy& acc = prep.accuracy;
  acc.kernel = data.kernel;
  acc.acc_overflows = data.acc_overflows;
  std::vector<double> test(data.c.size());
  for (std::size_t i = 0; i < test.size(); ++i) {
    test[i] = static_cast<double>(data.c[i]) * data.c_scale;
    acc.non_finite_outputs += std::isfinite(test[i]) ? 0 : 1;  // FP16 overflow to inf
  }
  set_metrics(prep.reference, test, acc);
  return acc;
}

void prepare_quantize_data(const Op& op, QuantizeData& data) {
  const OpTensors& t = *op.tensors;
  const Tensor x = load(op, "input", t.input, {});
  if (x.values.size() != op.vector->elements) {
    throw InputError(t.input + ": tensor 'input' of op \"" + op.name + "\": expected " +
                     std::to_string(op.vector->elements) +
                     " elements (the op's \"elements\"), found " + std::to_string(x.values.size()) +
                     " (shape " + shape_text(x.shape) + ")");
  }
  data.input = x.values;
  // The values arrive in the format the op names: FP16 results are FP16 (beyond 65504: inf).
  if (op.precision.a == Precision::kFp16) {
    for (float& v : data.input) v = static_cast<float>(nn::round_to_fp16(v));
  }
  data.pact_alpha = t.pact_alpha;
  data.grad_scale_log2 = t.grad_scale_log2;
}

OpAccuracy quantize_accuracy(const Op& op, const QuantizeData& data) {
  OpAccuracy acc;
  const bool fp4 = op.precision.out == Precision::kFp4;
  acc.kernel = std::string(to_string(op.precision.a)) + " to " + to_string(op.precision.out) +
               (fp4                                     ? " (radix-4, both TPR phases, GradScale)"
                : op.precision.out == Precision::kUint4 ? " (PACT)"
                                                        : " (symmetric clip)");
  if (fp4) {
    acc.fp4_elements = data.input.size();
    acc.fp4_flushed = data.fp4.even.flushed;
    acc.fp4_saturated = data.fp4.even.saturated;
    acc.fp4_phase = "even";
    acc.grad_scale_log2 = data.grad_scale_log2_used;
  } else {
    acc.int_saturated = data.clipped;
  }
  const std::vector<double> ref(data.input.begin(), data.input.end());
  const std::vector<double> test(data.output.begin(), data.output.end());
  set_metrics(ref, test, acc);
  return acc;
}

OpAccuracy evaluate_accuracy(const Op& op, const AccuracyParams& params) {
  GemmData data;
  PreparedAccuracy prep = prepare_gemm_accuracy(op, data);
  GemmValueParams p;
  p.acc_bits = params.acc_bits;
  p.acc_saturate = params.acc_saturate;
  p.fp16_chunk = params.fp16_chunk;
  p.stochastic = params.stochastic_rounding;
  p.seed = params.seed;
  p.fp32_out = op.precision.out == Precision::kFp32;
  compute_gemm_values(op.gemm, data, p);
  return finish_gemm_accuracy(data, std::move(prep));
}

}  // namespace nibble
