#include "sim/clock.h"

#include <cmath>
#include <stdexcept>

namespace nibble {

ClockDomain::ClockDomain(std::string name, double mhz)
    : name_(std::move(name)),
      mhz_(mhz),
      period_ps_(static_cast<uint64_t>(std::llround(1e6 / mhz))) {
  if (sc_core::sc_get_time_resolution() != sc_core::sc_time(1, sc_core::SC_PS)) {
    throw std::logic_error("ClockDomain needs a 1 ps SystemC time resolution");
  }
  if (period_ps_ == 0) throw std::logic_error("clock " + name_ + " is faster than 1 THz");
}

}  // namespace nibble
