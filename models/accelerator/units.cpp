// Every compute-unit implementation, registered by name: adding one is one line here, one folder
// under models/, one CMake line, tests and a config block.
#include "models/accelerator/units.h"

#include <map>
#include <stdexcept>

#include "models/dram/bandwidth_latency.h"
#include "models/dram/controller.h"
#include "models/log_grad/shift_mac_array.h"
#include "models/mac_array/systolic_array.h"
#include "models/rescale/rescale_unit.h"
#include "models/sfu/sfu_unit.h"

namespace nibble {

namespace {

std::map<std::string, UnitRegistry> build() {
  std::map<std::string, UnitRegistry> r;
  r["mac_array"].add("Systolic", &make_systolic_array);
  r["log_grad"].add("ShiftMac", &make_shift_mac_array);
  r["rescale"].add("Rescale", &make_rescale_unit);
  r["sfu"].add("Sfu", &make_sfu_unit);
  return r;
}

}  // namespace

const std::vector<UnitRole>& unit_roles() {
  static const std::vector<UnitRole> roles = {
      {"mac_array", "Systolic"}, {"log_grad", "ShiftMac"}, {"rescale", "Rescale"}, {"sfu", "Sfu"}};
  return roles;
}

const UnitRegistry& unit_registry(const std::string& role) {
  static const std::map<std::string, UnitRegistry> registries = build();
  const auto it = registries.find(role);
  if (it == registries.end()) throw std::logic_error("no unit role \"" + role + "\"");
  return it->second;
}

}  // namespace nibble

namespace nibble {

const DramRegistry& dram_registry() {
  static const DramRegistry registry = [] {
    DramRegistry r;
    const auto simple = [](ConfigNode& node, double core_mhz) -> std::unique_ptr<DramPort> {
      BandwidthLatencyParams params;
      params.read(node);
      return std::make_unique<BandwidthLatencyDram>(params, core_mhz);
    };
    r.add("simple", simple);
    r.add("BandwidthLatency", simple);  // simple's name before the controller came
    r.add("controller", [](ConfigNode& node, double core_mhz) -> std::unique_ptr<DramPort> {
      DramControllerParams params;
      params.read(node);
      return std::make_unique<DramController>(params, core_mhz);
    });
    return r;
  }();
  return registry;
}

}  // namespace nibble
