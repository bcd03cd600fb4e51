#include "sim/stats.h"

#include <charconv>
#include <cmath>

namespace nibble {

void Stats::add(std::string name, uint64_t value, std::string unit, std::string description) {
  stats_.push_back({std::move(name), value, std::move(unit), std::move(description)});
}

void Stats::add(std::string name, double value, std::string unit, std::string description) {
  stats_.push_back({std::move(name), value, std::move(unit), std::move(description)});
}

std::string format_double(double value) {
  if (!std::isfinite(value)) return std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf");
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, res.ptr);
}

void Stats::write_text(std::ostream& out) const {
  for (const auto& s : stats_) {
    out << s.name << ' ';
    if (std::holds_alternative<uint64_t>(s.value)) {
      out << std::get<uint64_t>(s.value);
    } else {
      out << format_double(std::get<double>(s.value));
    }
    out << " # " << s.description << " (" << s.unit << ")\n";
  }
}

}  // namespace nibble
