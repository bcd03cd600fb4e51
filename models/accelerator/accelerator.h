// The accelerator top: one core whose controller tiles each op of a workload onto a systolic MAC
// array fed by an ideal memory (operands always ready, traffic counted for energy).
//
// Ops run one after another: an op starts when the previous op's last result has left the array.
// The controller checks for an interrupt between ops and stops cleanly, so that the finished ops
// can still be reported.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <systemc>

#include "models/mac_array/systolic_array.h"
#include "sim/clock.h"
#include "sim/config.h"
#include "sim/run_result.h"
#include "sim/workload.h"

namespace nibble {

struct AcceleratorParams {
  double core_mhz = 1000;  // core clock (MHz)
  SystolicParams mac_array;

  // Reads `clock` and `accelerator` from the root of a config.
  static AcceleratorParams from_config(ConfigNode& root);
};

class Accelerator : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Accelerator);
  Accelerator(sc_core::sc_module_name name, const AcceleratorParams& params,
              const Workload& workload);

  // Per-op results so far and unit statistics; call after sc_start() returns.
  RunResult result() const;

 private:
  struct OpRecord {
    uint64_t start_cycle = 0, end_cycle = 0;
    FoldMapping mapping;
    SystolicCounters counters;
  };

  void control();
  void issue_folds(uint32_t index, const Op& op, const FoldMapping& m);

  AcceleratorParams params_;
  const Workload& workload_;
  ClockDomain clock_;
  SystolicArray array_;
  std::vector<OpRecord> records_;
  bool complete_ = false;
};

// The energy-table events a run of `workload` will price, so that a missing entry is reported
// before simulating rather than after.
// Each event comes with the name of the first op that needs it.
std::vector<std::pair<std::string, std::string>> required_energy_events(const Workload& workload);

// Elaborates the accelerator for `workload`, simulates it, and returns the result. A process can
// do this once (a SystemC kernel elaborates once).
RunResult simulate(const AcceleratorParams& params, const Workload& workload);

}  // namespace nibble
