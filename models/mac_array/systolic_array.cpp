#include "models/mac_array/systolic_array.h"

#include <algorithm>
#include <utility>

#include "sim/error.h"

namespace nibble {

const char* const SystolicParams::kModeNames[6] = {"int2", "int4", "int8", "hfp8", "fp16", "fp32"};

SystolicParams SystolicParams::from_config(ConfigNode& node) {
  SystolicParams p;
  p.array.read(node, true);
  ConfigNode modes = node.child("modes");
  for (const char* name : kModeNames) {
    ConfigNode m = modes.child(name);
    PeMode mode;
    mode.simd = static_cast<uint32_t>(m.get_int("simd", 1, 1, 1024));
    mode.dot = static_cast<uint32_t>(m.get_int("dot", 1, 1, 1024));
    m.finish();
    p.modes[name] = mode;
  }
  modes.finish();
  node.finish();
  return p;
}

std::string mac_event_of(const Op& op) {
  std::string a = datapath_of(op.precision.a), b = datapath_of(op.precision.b);
  if (datapath_rank(b) < datapath_rank(a)) std::swap(a, b);
  return "mac." + a + "_" + b;
}

SystolicArray::SystolicArray(sc_core::sc_module_name name, const SystolicParams& params,
                             const UnitContext& context)
    : SystolicUnit(name, params.array, context), params_(params) {}

std::string SystolicArray::mode_name(const Op& op) const {
  const std::string a = datapath_of(op.precision.a), b = datapath_of(op.precision.b);
  return datapath_rank(a) >= datapath_rank(b) ? a : b;
}

PeMode SystolicArray::mode_of(const Op& op) const { return params_.modes.at(mode_name(op)); }

std::string SystolicArray::mac_event(const Op& op) const { return mac_event_of(op); }

void SystolicArray::check(const Op& op) const {
  const std::string mode = mode_name(op);
  if (params_.modes.count(mode) == 0) {
    throw InputError("op \"" + op.name + "\" (" + to_string(op.precision.a) + " x " +
                     to_string(op.precision.b) + ") needs a \"" + mode +
                     "\" mode, which no PE of the MAC array has (accelerator.core.mac_array.modes: "
                     "int2, int4, int8, hfp8, fp16, fp32; INT4 x FP4 GEMMs run on the "
                     "log-domain gradient unit)");
  }
  check_size(op);
}

uint64_t SystolicArray::peak_macs_per_cycle() const {
  uint64_t widest = 0;
  for (const auto& [name, mode] : params_.modes) widest = std::max(widest, mode.macs_per_cycle());
  return params_.array.rows * params_.array.cols * widest;
}

// Rows × cols PEs of as many lanes as the widest SIMD mode uses.
uint64_t SystolicArray::lanes() const {
  uint64_t simd = 0;
  for (const auto& [name, mode] : params_.modes) simd = std::max<uint64_t>(simd, mode.simd);
  return params_.array.rows * params_.array.cols * simd;
}

Json SystolicArray::describe() const {
  Json d = params_.array.describe();
  Json modes = Json::object();
  for (const char* name : SystolicParams::kModeNames) {
    const PeMode& m = params_.modes.at(name);
    modes[name] = {{"simd", m.simd}, {"dot", m.dot}};
  }
  d["modes"] = modes;
  return d;
}

std::unique_ptr<ComputeUnit> make_systolic_array(const char* name, ConfigNode& node,
                                                 const UnitContext& context) {
  return std::make_unique<SystolicArray>(name, SystolicParams::from_config(node), context);
}

}  // namespace nibble
