// Named DRAM device and interface presets for DramController (JEDEC or datasheet figures; the
// sources are beside each preset in presets.cpp and in README.md).
#pragma once

#include <string>
#include <vector>

#include "models/dram/controller.h"

namespace nibble {

// "hbm2", "hbm2e", "lpddr4", "lpddr5", "ddr4", in that order.
const std::vector<std::string>& dram_preset_names();

// The parameters of preset `name`; throws InputError naming the choices for an unknown one.
DramControllerParams dram_preset(const std::string& name);

}  // namespace nibble
