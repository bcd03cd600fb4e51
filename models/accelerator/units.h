// The registry of compute-unit implementations, one per role of a core.
#pragma once

#include <string>
#include <vector>

#include "models/interfaces/compute_unit.h"
#include "models/interfaces/memory.h"

namespace nibble {

struct UnitRole {
  const char* name;          // config key under accelerator.core, and the module name
  const char* default_impl;  // `impl` when the config gives none
};

// The roles of a core, in the order the controller builds them.
const std::vector<UnitRole>& unit_roles();
// The implementations registered for `role`.
const UnitRegistry& unit_registry(const std::string& role);

// DRAM models by `impl` (accelerator.dram.impl), built from their config object and the core
// clock in MHz.
using DramRegistry = Registry<DramPort, ConfigNode&, double>;
const DramRegistry& dram_registry();

}  // namespace nibble
