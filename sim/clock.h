// A clock domain: converts between cycles (uint64_t, what models count) and sc_time (what the
// SystemC kernel waits on). Models keep cycles and convert only at the wait() boundary.
// The kernel's time resolution is 1 ps (sc_main sets it before anything else), and a domain's
// period is its frequency's period rounded to a whole picosecond; reported seconds are computed
// from cycles and the exact frequency, so the rounding never reaches a report.
#pragma once

#include <cstdint>
#include <string>

#include <systemc>

namespace nibble {

class ClockDomain {
 public:
  ClockDomain(std::string name, double mhz);

  sc_core::sc_time cycles(uint64_t n) const { return sc_core::sc_time::from_value(n * period_ps_); }
  // The current simulated time in this domain's cycles (time is always a whole number of cycles
  // when every wait in the domain goes through cycles()).
  uint64_t now() const { return sc_core::sc_time_stamp().value() / period_ps_; }
  double mhz() const { return mhz_; }
  uint64_t period_ps() const { return period_ps_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  double mhz_;
  uint64_t period_ps_;
};

}  // namespace nibble
