#include "models/log_grad/shift_mac_array.h"

#include <stdexcept>

#include "sim/error.h"

namespace nibble {

namespace {
bool small_int(Precision p) {
  return p == Precision::kInt4 || p == Precision::kUint4 || p == Precision::kInt2;
}
bool odd_phase(Pass pass) { return pass == Pass::kBwdWeight || pass == Pass::kUpdate; }
}  // namespace

bool is_int4_fp4_gemm(const Op& op) {
  const Precision a = op.precision.a, b = op.precision.b;
  return op.is_gemm() &&
         ((a == Precision::kFp4 && small_int(b)) || (b == Precision::kFp4 && small_int(a)));
}

ShiftMacParams ShiftMacParams::from_config(ConfigNode& node) {
  ShiftMacParams p;
  p.array.read(node, false);
  p.ways = static_cast<uint32_t>(node.get_int("ways", p.ways, 1, 1024));
  p.simd = static_cast<uint32_t>(node.get_int("simd", p.simd, 1, 1024));
  node.finish();
  return p;
}

ShiftMacArray::ShiftMacArray(sc_core::sc_module_name name, const ShiftMacParams& params,
                             const UnitContext& context)
    : SystolicUnit(name, params.array, context), params_(params) {}

void ShiftMacArray::check(const Op& op) const {
  if (!is_int4_fp4_gemm(op)) {
    throw InputError("op \"" + op.name +
                     "\": the log-domain gradient unit runs INT4 x FP4 GEMMs, not " +
                     to_string(op.precision.a) + " x " + to_string(op.precision.b));
  }
  check_size(op);
}

uint64_t ShiftMacArray::peak_macs_per_cycle() const {
  return params_.array.rows * params_.array.cols * params_.ways * params_.simd;
}

uint64_t ShiftMacArray::lanes() const {
  return params_.array.rows * params_.array.cols * params_.simd;
}

PeMode ShiftMacArray::mode_of(const Op&) const { return {params_.simd, params_.ways}; }

std::string ShiftMacArray::mode_name(const Op& op) const {
  return odd_phase(op.pass) ? "int4_fp4_odd" : "int4_fp4_even";
}

// Each lane sums its `ways` shift products exactly before one FP16 add.
GemmValueParams ShiftMacArray::value_params(const Op& op, uint32_t index) const {
  GemmValueParams p = SystolicUnit::value_params(op, index);
  p.group = params_.ways;
  return p;
}

// One shift-MAC whichever integer width rides the 4-bit shifter.
std::string ShiftMacArray::mac_event(const Op&) const { return "mac.int4_fp4"; }

void ShiftMacArray::execute(uint32_t index, const Op& op, UnitOpRecord& record) {
  if (OpData* d = data_of(index); d != nullptr && d->gemm) {
    // The operands were converted in this pass's phase; the engine applies its ×0.5.
    const auto phase = odd_phase(op.pass) ? numerics::Fp4Phase::kOdd : numerics::Fp4Phase::kEven;
    if (d->gemm->phase != phase)
      throw std::logic_error("log_grad: operands in the wrong TPR phase");
  }
  SystolicUnit::execute(index, op, record);
  record.mapping["phase"] = odd_phase(op.pass) ? "odd" : "even";
}

Json ShiftMacArray::describe() const {
  Json d = params_.array.describe();
  d["ways"] = params_.ways;
  d["simd"] = params_.simd;
  return d;
}

std::unique_ptr<ComputeUnit> make_shift_mac_array(const char* name, ConfigNode& node,
                                                  const UnitContext& context) {
  return std::make_unique<ShiftMacArray>(name, ShiftMacParams::from_config(node), context);
}

}  // namespace nibble
