// The registry of compute-unit implementations, one per role of a core.
#pragma once

#include <string>
#include <vector>

#include "models/interfaces/compute_unit.h"

namespace nibble {

struct UnitRole {
  const char* name;          // config key under accelerator.core, and the module name
  const char* default_impl;  // `impl` when the config gives none
};

// The roles of a core, in the order the controller builds them.
const std::vector<UnitRole>& unit_roles();
// The implementations registered for `role`.
const UnitRegistry& unit_registry(const std::string& role);

}  // namespace nibble
