#include "models/systolic/gemm_values.h"

#include <stdexcept>
#include <string>

#include "models/numerics/gemm.h"
#include "models/numerics/minifloat.h"

namespace nibble {

namespace nn = numerics;

namespace {

bool small_int(const OperandMatrix& o) {
  return o.kind == OperandKind::kInt && o.int_format.bits <= 4;
}

std::string int_name(const OperandMatrix& o) { return o.int_format.is_signed ? "int" : "uint"; }

nn::Fp16AccumParams fp16_params(const GemmValueParams& p, int64_t group = 1) {
  return {p.fp16_chunk, p.stochastic, p.seed, group};
}

nn::GemmShape shape_of(const GemmShape& g) {
  return {static_cast<int64_t>(g.m), static_cast<int64_t>(g.n), static_cast<int64_t>(g.k)};
}

std::vector<float> decode_floats(const OperandMatrix& o) {
  std::vector<float> out;
  if (o.kind == OperandKind::kFp16) {
    out.reserve(o.halves.size());
    for (uint16_t h : o.halves) out.push_back(static_cast<float>(nn::fp16().decode(h)));
  } else if (o.kind == OperandKind::kHfp8) {
    out.reserve(o.bytes.size());
    for (uint8_t b : o.bytes) out.push_back(static_cast<float>(o.float_format->decode(b)));
  }
  return out;
}

}  // namespace

std::string gemm_kernel_name(const GemmData& d, const GemmValueParams& p) {
  const OperandMatrix &a = d.a, &b = d.b;
  const auto bits = [](const OperandMatrix& o) { return std::to_string(o.int_format.bits); };
  if (a.kind == OperandKind::kInt && b.kind == OperandKind::kInt) {
    return int_name(a) + bits(a) + " x " + int_name(b) + bits(b) + ", int" +
           std::to_string(p.acc_bits) + " accumulator";
  }
  if (small_int(a) && b.kind == OperandKind::kFp4) {
    return int_name(a) + bits(a) + " x fp4 shift-MAC, fp16 accumulation";
  }
  if (a.kind == OperandKind::kFp4 && small_int(b)) {
    return "fp4 x " + int_name(b) + bits(b) + " shift-MAC, fp16 accumulation";
  }
  if (a.kind == OperandKind::kFp16 && b.kind == OperandKind::kFp16) {
    return "fp16 x fp16, fp16 accumulation";
  }
  if (a.kind == OperandKind::kHfp8 && b.kind == OperandKind::kHfp8) {
    return "hfp8 x hfp8 via fp9, fp16 accumulation";
  }
  if (a.kind == OperandKind::kFp32 && b.kind == OperandKind::kFp32) return "fp32 x fp32";
  return "";
}

void compute_gemm_values(const GemmShape& g, GemmData& d, const GemmValueParams& p) {
  d.kernel = gemm_kernel_name(d, p);
  if (d.kernel.empty()) throw std::invalid_argument("no kernel for this operand pair");
  const nn::GemmShape s = shape_of(g);
  const OperandMatrix &a = d.a, &b = d.b;
  d.c.assign(g.m * g.n, 0.0f);
  d.c_scale = a.scale * b.scale;
  d.acc_overflows = 0;
  if (a.kind == OperandKind::kInt && b.kind == OperandKind::kInt) {
    const nn::IntGemmParams ip{static_cast<int>(p.acc_bits), p.acc_saturate
                                                                 ? nn::OverflowMode::kSaturate
                                                                 : nn::OverflowMode::kWrap};
    d.acc_overflows =
        nn::gemm_int(a.ints.data(), a.int_format, b.ints.data(), b.int_format, s, ip, d.c_scale,
                     p.fp32_out ? nn::OutputFormat::kFp32 : nn::OutputFormat::kFp16, d.c.data())
            .overflows;
    d.c_scale = 1;  // applied inside, as the rescale of the accumulator
  } else if (a.kind == OperandKind::kInt) {
    nn::gemm_int4_fp4(a.ints.data(), b.bytes.data(), s, d.phase, fp16_params(p, p.group),
                      d.c.data(), a.int_format);
  } else if (b.kind == OperandKind::kInt) {
    nn::gemm_fp4_int4(a.bytes.data(), b.ints.data(), s, d.phase, fp16_params(p, p.group),
                      d.c.data(), b.int_format);
  } else if (a.kind == OperandKind::kFp16) {
    nn::gemm_fp16(a.halves.data(), b.halves.data(), s, fp16_params(p), d.c.data());
  } else if (a.kind == OperandKind::kHfp8) {
    nn::gemm_hfp8(a.bytes.data(), *a.float_format, b.bytes.data(), *b.float_format, s,
                  fp16_params(p), d.c.data());
  } else {
    nn::gemm_fp32(a.floats.data(), b.floats.data(), s, d.c.data());
  }
  d.computed = true;
}

GemmValueEngine::GemmValueEngine(const GemmShape& gemm, Dataflow dataflow, const PeMode& mode,
                                 GemmData& data, const GemmValueParams& params)
    : gemm_(gemm), dataflow_(dataflow), mode_(mode), data_(data), params_(params) {
  data_.kernel = gemm_kernel_name(data_, params_);
  if (data_.kernel.empty()) throw std::invalid_argument("no kernel for this operand pair");
  const OperandMatrix &a = data_.a, &b = data_.b;
  const std::size_t outputs = gemm.m * gemm.n;
  next_k_.assign(outputs, 0);
  if (a.kind == OperandKind::kInt && b.kind == OperandKind::kInt) {
    kind_ = Kind::kInt;
    ints_.assign(outputs, nn::IntAccumulator(static_cast<int>(params.acc_bits),
                                             params.acc_saturate ? nn::OverflowMode::kSaturate
                                                                 : nn::OverflowMode::kWrap));
    return;
  }
  if (a.kind == OperandKind::kFp32) {
    kind_ = Kind::kFp32;
    floats_.assign(outputs, 0.0f);
    return;
  }
  kind_ = a.kind == OperandKind::kInt   ? Kind::kIntFp4
          : b.kind == OperandKind::kInt ? Kind::kFp4Int
                                        : Kind::kFloat16;
  // A group is one lane's inner product, so it must be the PE's dot width.
  if (kind_ != Kind::kFloat16 && params.group != 1 && params.group != int64_t{mode.dot}) {
    throw std::logic_error("GemmValueEngine: shift-MAC group " + std::to_string(params.group) +
                           " is not the PE's dot width " + std::to_string(mode.dot));
  }
  grouped_ = kind_ != Kind::kFloat16 && params.group > 1;
  if (kind_ == Kind::kFloat16) {
    a_values_ = decode_floats(a);
    b_values_ = decode_floats(b);
  }
  halves_.reserve(outputs);
  // One accumulator and random stream per output, stream = m·N + n, as the kernels do.
  for (std::size_t i = 0; i < outputs; ++i) halves_.emplace_back(fp16_params(params), i);
}

void GemmValueEngine::mac(uint64_t m, uint64_t n, uint64_t k) {
  // A lane MAC covers `simd` outputs along the dimension the columns hold and `dot` k's.
  const bool simd_on_m = dataflow_ == Dataflow::kIs;
  const uint64_t m0 = simd_on_m ? m * mode_.simd : m;
  const uint64_t m1 = simd_on_m ? std::min(gemm_.m, m0 + mode_.simd) : m0 + 1;
  const uint64_t n0 = simd_on_m ? n : n * mode_.simd;
  const uint64_t n1 = simd_on_m ? n0 + 1 : std::min(gemm_.n, n0 + mode_.simd);
  const uint64_t k0 = k * mode_.dot, k1 = std::min(gemm_.k, k0 + mode_.dot);
  for (uint64_t mi = m0; mi < m1; ++mi) {
    for (uint64_t ni = n0; ni < n1; ++ni) {
      if (grouped_) {
        // One lane's inner product: its shift products summed exactly, then one FP16 add.
        double inner = 0.0;
        for (uint64_t ki = k0; ki < k1; ++ki) inner += shift_product(mi, ni, ki);
        halves_[mi * gemm_.n + ni].add(inner);
      } else {
        for (uint64_t ki = k0; ki < k1; ++ki) product(mi, ni, ki);
      }
    }
  }
}

double GemmValueEngine::shift_product(uint64_t m, uint64_t n, uint64_t k) {
  claim(m, n, k);
  const std::size_t ia = m * gemm_.k + k, ib = k * gemm_.n + n;
  return kind_ == Kind::kIntFp4 ? nn::shift_mul_value(data_.a.ints[ia], data_.b.bytes[ib])
                                : nn::shift_mul_value(data_.b.ints[ib], data_.a.bytes[ia]);
}

void GemmValueEngine::claim(uint64_t m, uint64_t n, uint64_t k) {
  const std::size_t out = m * gemm_.n + n;
  if (m >= gemm_.m || n >= gemm_.n || next_k_[out] != k) {
    throw std::logic_error("PE grid: MAC (m " + std::to_string(m) + ", n " + std::to_string(n) +
                           ", k " + std::to_string(k) + ") out of order or out of range");
  }
  ++next_k_[out];
}

void GemmValueEngine::product(uint64_t m, uint64_t n, uint64_t k) {
  claim(m, n, k);
  const std::size_t out = m * gemm_.n + n;
  const std::size_t ia = m * gemm_.k + k, ib = k * gemm_.n + n;
  switch (kind_) {
    case Kind::kInt:
      ints_[out].add(int64_t{data_.a.ints[ia]} * int64_t{data_.b.ints[ib]});
      return;
    case Kind::kIntFp4:
      halves_[out].add(nn::shift_mul_value(data_.a.ints[ia], data_.b.bytes[ib]));
      return;
    case Kind::kFp4Int:
      halves_[out].add(nn::shift_mul_value(data_.b.ints[ib], data_.a.bytes[ia]));
      return;
    case Kind::kFloat16:
      halves_[out].add(static_cast<double>(a_values_[ia]) * static_cast<double>(b_values_[ib]));
      return;
    case Kind::kFp32:
      floats_[out] += data_.a.floats[ia] * data_.b.floats[ib];
      return;
  }
}

void GemmValueEngine::finish() {
  for (std::size_t i = 0; i < next_k_.size(); ++i) {
    if (next_k_[i] != gemm_.k) {
      throw std::logic_error("PE grid: output " + std::to_string(i) + " saw " +
                             std::to_string(next_k_[i]) + " of " + std::to_string(gemm_.k) +
                             " products");
    }
  }
  data_.c.assign(next_k_.size(), 0.0f);
  data_.c_scale = data_.a.scale * data_.b.scale;
  data_.acc_overflows = 0;
  for (std::size_t i = 0; i < next_k_.size(); ++i) {
    switch (kind_) {
      case Kind::kInt: {
        const double v = static_cast<double>(ints_[i].value()) * data_.c_scale;
        data_.c[i] =
            params_.fp32_out ? static_cast<float>(v) : static_cast<float>(nn::round_to_fp16(v));
        data_.acc_overflows += ints_[i].overflow_count();
        break;
      }
      case Kind::kFp32:
        data_.c[i] = floats_[i];
        break;
      default: {
        const double v = halves_[i].finish();
        const bool halve = kind_ != Kind::kFloat16 && data_.phase == nn::Fp4Phase::kOdd;
        data_.c[i] = static_cast<float>(halve ? nn::fp16_halve(v) : v);
      }
    }
  }
  if (kind_ == Kind::kInt) data_.c_scale = 1;
  data_.computed = true;
}

}  // namespace nibble
