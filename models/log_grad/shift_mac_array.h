// The log-domain gradient unit: a rows×cols systolic array of INT4×FP4 shift-MAC PEs (Sun et al.
// 2020, Sec. 3.3 and 6), SystemC, tile or cycle fidelity (models/systolic/systolic_unit.h).
//
// Each PE does `simd` lanes of `ways`-way inner products per cycle (the paper's engine: 4-way),
// multiplying an INT4 (or UINT4/INT2) code by a radix-4 FP4 gradient by shifting, accumulating in
// FP16. It runs the backward-data GEMM with the even TPR phase and the update (weight-gradient)
// GEMM with the odd phase, whose ×0.5 is an exponent decrement of the FP16 result.
#pragma once

#include <memory>
#include <string>

#include "models/systolic/systolic_unit.h"

namespace nibble {

// Whether `op` is an INT4×FP4 GEMM (either operand order), the work of this unit.
bool is_int4_fp4_gemm(const Op& op);

struct ShiftMacParams {
  SystolicUnitParams array;
  uint32_t ways = 4;  // products per lane per cycle (inner-product width)
  uint32_t simd = 1;  // lanes per PE, each on its own output

  static ShiftMacParams from_config(ConfigNode& node);  // `impl` already read by the caller
};

class ShiftMacArray : public SystolicUnit {
 public:
  ShiftMacArray(sc_core::sc_module_name name, const ShiftMacParams& params,
                const UnitContext& context);

  bool accepts(const Op& op) const override { return is_int4_fp4_gemm(op); }
  void check(const Op& op) const override;
  Json describe() const override;
  uint64_t peak_macs_per_cycle() const override;
  uint64_t lanes() const override;

 protected:
  PeMode mode_of(const Op& op) const override;
  std::string mode_name(const Op& op) const override;
  std::string mac_event(const Op& op) const override;
  GemmValueParams value_params(const Op& op, uint32_t index) const override;
  void execute(uint32_t index, const Op& op, UnitOpRecord& record) override;

 private:
  ShiftMacParams params_;
};

std::unique_ptr<ComputeUnit> make_shift_mac_array(const char* name, ConfigNode& node,
                                                  const UnitContext& context);

}  // namespace nibble
