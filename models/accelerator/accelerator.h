// The accelerator top: `cores` cores (models/accelerator/core.h) sharing a DRAM, a ring and an
// optional shared buffer, and a controller that runs the ops of a workload one after another.
//
// For every op the mapper (models/mapper) chooses, before anything runs, how to split it across
// the cores and tile it into their scratchpads; the controller then starts it on every core and
// waits until all have finished (an op depends on the one before it: the cores that finish first
// wait, a dependency stall). Routing inside a core: INT4×FP4 GEMMs to the log-domain gradient
// unit, other GEMMs to the MAC array, quantize ops to the rescaling unit, vector ops to the SFU.
// `sim.ideal_memory` keeps the mapping but lets every transfer take no time (bytes still counted),
// and tiles each core's part as one piece when it fits. The controller checks for an interrupt
// between ops and stops cleanly, so that the finished ops can still be reported.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <systemc>

#include "models/accelerator/core.h"
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
  bool ideal_memory = false;            // sim.ideal_memory: transfers take no time

  // Reads `clock` and `sim` from the root of a config.
  static SimSettings from_config(ConfigNode& root);
};

class Accelerator : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Accelerator);
  // Builds the cores and memory from `accelerator` (the config object of that name) and maps
  // every op; throws InputError for a bad config, an op no unit can run or one that fits no
  // tiling. `data` (per op, may be null) carries tensor data in and
  // the units' results out; `vcd` (may be null) receives waveforms in cycle fidelity.
  Accelerator(sc_core::sc_module_name name, ConfigNode accelerator, const SimSettings& settings,
              const Workload& workload, std::vector<OpData>* data = nullptr,
              VcdWriter* vcd = nullptr);
  ~Accelerator() override;

  // The energy-table events a run will price, each with the name of the first op that needs it,
  // so that a missing entry is reported before simulating.
  std::vector<std::pair<std::string, std::string>> required_energy_events() const;
  // What one op needs: a unit that runs it (InputError otherwise; returns its slot) and the
  // energy events it will price. For checking a streamed trace before any window runs.
  std::size_t check_op(const Op& op) const;
  std::vector<std::string> energy_events(const Op& op) const;
  // The capacities and units the energy table prices (size-dependent SRAM events, leakage).
  EnergyContext energy_context() const;

  // Windows: a long trace runs a window of ops at a time. The workload given to the constructor
  // holds the first window's ops (all of them for a single window); set_last_window(false)
  // before sc_start() makes the controller wait after the window, and sc_start() returns. The
  // caller then takes the window's results (take_ops), puts the next window's ops in that same
  // workload, calls next_window() and sc_start() again. Results do not depend on the window
  // size: the hardware's state carries over.
  void set_last_window(bool last) { last_window_ = last; }
  void next_window(bool last);
  std::vector<OpResult> take_ops();  // the finished ops not yet taken

  // Per-op results not yet taken, run totals and unit statistics; call after sc_start() returns.
  RunResult result() const;

 private:
  struct OpRecord {
    uint64_t start_cycle = 0, end_cycle = 0;
    std::size_t slot = 0;
    UnitOpRecord unit;
    Json memory;
  };
  struct Limit {
    std::string name, unit, description;
    double limit = 0;
  };

  std::size_t route(const Op& op) const;  // index into a core's slots
  void plan(const MapperParams& mapper);
  void load_window();
  void control();
  void run_window();
  std::vector<OpResult> ops_of(const std::vector<OpRecord>& records) const;
  std::vector<CoreOpResult> all_reduce(const Op& op, UnitOpRecord& record);
  // The slot of ops no unit runs: gradient reductions, which the ring carries.
  static constexpr std::size_t kRingSlot = ~std::size_t{0};
  Json assumption_checks() const;

  SimSettings settings_;
  const Workload& workload_;
  ClockDomain clock_;
  UnitContext context_;
  ChipMemory chip_;
  MapperParams mapper_;
  std::vector<std::unique_ptr<Core>> cores_;
  std::unique_ptr<MemoryArbiter> arbiter_;  // serves the cores' memory requests (chip_.arbiter)
  std::vector<OpRecord> records_;
  std::vector<Limit> limits_;
  // Run-wide figures for the assumption checks.
  uint64_t peak_scratchpad_ = 0, peak_shared_buffer_ = 0, peak_psum_buffer_ = 0;
  uint64_t acc_bits_needed_ = 0;
  double peak_dram_gbps_needed_ = 0;
  StallCycles total_stalls_{};
  uint64_t total_busy_ = 0;
  bool complete_ = false;
  bool last_window_ = true, interrupted_ = false;
  sc_core::sc_event window_ready_;
  uint64_t last_end_cycle_ = 0, dram_read_total_ = 0, dram_write_total_ = 0;
};

// Elaborates an accelerator from a whole config (clock, sim, accelerator) for `workload`,
// simulates it and returns the result. A process can do this once (a SystemC kernel elaborates
// once). For tests and tools; `nibble run` drives Accelerator itself.
RunResult simulate(const Json& config, const Workload& workload,
                   std::vector<OpData>* data = nullptr);

}  // namespace nibble
