// What a simulation hands to the report writer, in terms that know nothing about the hardware:
// per-op cycles, MACs and energy events, plus the units' statistics.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/config.h"
#include "sim/energy.h"
#include "sim/stats.h"

namespace nibble {

struct OpResult {
  uint64_t start_cycle = 0;
  uint64_t end_cycle = 0;
  // Its share of the run's cycles: each cycle split evenly among the ops running in it. The op's
  // leakage and clock energy are priced over these; they add up over ops to the busy cycles.
  uint64_t attributed_cycles = 0;
  std::string unit;                  // the unit that ran it ("mac_array", "sfu", ...)
  uint64_t macs = 0;                 // GEMM ops
  uint64_t elements = 0;             // element-wise ops
  uint64_t tiles = 0;                // tile operations (array folds, vector groups)
  uint64_t peak_work_per_cycle = 0;  // MACs or elements the unit could do per cycle on this op
  EnergyLedger energy;               // events of this op
  Json mapping;                      // how the op was laid onto the hardware, for the report
  Json checks;                       // values an RTL designer checks (overflows, depths, ...)
  Json memory;  // stalls by cause, bytes per level, bandwidth, high-water marks
};

struct RunResult {
  bool complete = true;  // false when interrupted: `ops` then holds the finished ones
  double clock_mhz = 0;
  uint64_t cycles = 0;               // end of the last finished op
  uint64_t peak_macs_per_cycle = 0;  // the MAC array in its widest mode
  std::vector<OpResult> ops;         // in workload order
  Stats stats;                       // the units' counters
  Json hardware;                     // a short description of the simulated machine
  Json memory;                       // run totals of the per-op memory figures
  Json checks;                       // RTL assumption checks: needed, declared limit, held
};

}  // namespace nibble
