// The accelerator top: one core whose controller hands each op of a workload to the compute unit
// that runs it, with an ideal memory (operands always ready, traffic counted for energy).
//
// The core's units are built from config through the unit registry (models/accelerator/units.cpp):
// accelerator.core.{mac_array, log_grad, rescale, sfu}, each `impl` naming a registered
// implementation. Routing: INT4×FP4 GEMMs go to the log-domain gradient unit, other GEMMs to the
// MAC array, quantize ops to the rescaling unit, vector ops to the SFU. Ops run one after another
// (an op starts when the previous one has finished); the controller checks for an interrupt
// between ops and stops cleanly, so that the finished ops can still be reported.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <systemc>

#include "models/interfaces/compute_unit.h"
#include "sim/clock.h"
#include "sim/config.h"
#include "sim/run_result.h"
#include "sim/vcd.h"
#include "sim/workload.h"

namespace nibble {

// Run-wide settings from the config's `clock` and `sim` objects.
struct SimSettings {
  double core_mhz = 1000;               // clock.core_mhz
  Fidelity fidelity = Fidelity::kTile;  // sim.fidelity
  uint64_t seed = 1;                    // sim.seed
  std::vector<TracedPe> vcd_pes;        // sim.vcd_pes: PEs whose registers go to a VCD file
  std::string vcd_pes_origin;           // where sim.vcd_pes came from, for messages

  // Reads `clock` and `sim` from the root of a config.
  static SimSettings from_config(ConfigNode& root);
};

class Accelerator : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Accelerator);
  // Builds the units from `accelerator` (the config object of that name); throws InputError for a
  // bad config or an op no unit can run. `data` (per op, may be null) carries tensor data in and
  // the units' results out; `vcd` (may be null) receives waveforms in cycle fidelity.
  Accelerator(sc_core::sc_module_name name, ConfigNode accelerator, const SimSettings& settings,
              const Workload& workload, std::vector<OpData>* data = nullptr,
              VcdWriter* vcd = nullptr);
  ~Accelerator() override;

  // The energy-table events a run will price, each with the name of the first op that needs it,
  // so that a missing entry is reported before simulating.
  std::vector<std::pair<std::string, std::string>> required_energy_events() const;

  // Per-op results so far and unit statistics; call after sc_start() returns.
  RunResult result() const;

 private:
  struct Slot {
    std::string role;
    std::unique_ptr<ComputeUnit> unit;
  };
  struct OpRecord {
    uint64_t start_cycle = 0, end_cycle = 0;
    std::size_t slot = 0;
    UnitOpRecord unit;
  };

  std::size_t route(const Op& op) const;  // index into slots_
  void control();

  SimSettings settings_;
  const Workload& workload_;
  ClockDomain clock_;
  UnitContext context_;
  std::vector<Slot> slots_;
  std::vector<std::size_t> op_slot_;  // per op
  std::vector<OpRecord> records_;
  bool complete_ = false;
};

// Elaborates an accelerator from a whole config (clock, sim, accelerator) for `workload`,
// simulates it and returns the result. A process can do this once (a SystemC kernel elaborates
// once). For tests and tools; `nibble run` drives Accelerator itself.
RunResult simulate(const Json& config, const Workload& workload,
                   std::vector<OpData>* data = nullptr);

}  // namespace nibble
