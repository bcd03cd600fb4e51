// Named statistics for stats.txt and report.json.
//
// Each stat has a dotted name, a value (integer or real), a unit and a one-line description.
// Models keep plain integer counters in their hot paths and publish them here once, at dump.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

namespace nibble {

struct Stat {
  std::string name;
  std::variant<uint64_t, double> value;
  std::string unit;
  std::string description;
};

class Stats {
 public:
  void add(std::string name, uint64_t value, std::string unit, std::string description);
  void add(std::string name, double value, std::string unit, std::string description);
  void add_stat(Stat stat) { stats_.push_back(std::move(stat)); }
  const std::vector<Stat>& all() const { return stats_; }
  // One `dotted.name value # description (unit)` per line, in the order added.
  void write_text(std::ostream& out) const;

 private:
  std::vector<Stat> stats_;
};

// Shortest decimal text that reads back as the same double (deterministic across runs).
std::string format_double(double value);

}  // namespace nibble
