// The MAC array: a rows×cols systolic array of mixed-precision PEs (SystemC, tile or cycle
// fidelity; see models/systolic/systolic_unit.h for both).
//
// Each PE is a SIMD engine whose throughput depends on the mode the op's precisions select
// (int2, int4, int8, hfp8, fp16, fp32: the wider of the two operands): `simd` lanes of `dot`-way
// inner products per cycle (RaPiD's MPE: int4 8×8 = 64 MACs, int2 8×16, hfp8 8×2, fp16 8×1). With
// one MAC per PE per cycle in every mode (the default) both schedules time exactly as SCALE-Sim's
// array model does. Computes values with the numerics kernels when an op carries tensors.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "models/systolic/systolic_unit.h"

namespace nibble {

struct SystolicParams {
  SystolicUnitParams array;
  std::map<std::string, PeMode> modes;  // mode name -> PE throughput; every mode 1×1 by default

  static SystolicParams from_config(ConfigNode& node);  // `impl` already read by the caller
  // The modes, in datapath order.
  static const char* const kModeNames[6];
};

class SystolicArray : public SystolicUnit {
 public:
  SystolicArray(sc_core::sc_module_name name, const SystolicParams& params,
                const UnitContext& context);

  bool accepts(const Op& op) const override { return op.is_gemm(); }
  void check(const Op& op) const override;
  Json describe() const override;
  uint64_t peak_macs_per_cycle() const override;
  uint64_t lanes() const override;

 protected:
  PeMode mode_of(const Op& op) const override;
  std::string mode_name(const Op& op) const override;
  std::string mac_event(const Op& op) const override;

 private:
  SystolicParams params_;
};

std::unique_ptr<ComputeUnit> make_systolic_array(const char* name, ConfigNode& node,
                                                 const UnitContext& context);

// The energy event of one MAC of `op`: "mac.<narrower datapath>_<wider datapath>", so that
// FP4×INT4 and INT4×FP4 are the same event, as they are the same hardware.
std::string mac_event_of(const Op& op);

}  // namespace nibble
