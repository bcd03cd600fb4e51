// Energy accounting: event counts (integers during simulation) priced at dump time from a table.
//
// An EnergyTable maps event names ("mac.int4_int4", "scratchpad.read_byte") to picojoules per
// count, each entry with its source. An EnergyLedger collects (unit, event, count) during or after
// a run. Pricing a ledger against a table gives totals by unit and by event; an event missing from
// the table is an InputError that names the table and the event, never a silent zero.
#pragma once

#include <map>
#include <string>
#include <utility>

namespace nibble {

struct EnergyEntry {
  double pj = 0;           // energy of one count
  std::string per;         // what one count is ("MAC", "byte")
  std::string source;      // a key of the table's "sources"
  std::string derivation;  // how the number was obtained when it is not read off the source
};

class EnergyTable {
 public:
  // Reads `path` strictly; throws InputError naming the file and the JSON path on bad content.
  static EnergyTable load(const std::string& path);

  const EnergyEntry& entry(const std::string& event) const;  // throws InputError when missing
  bool has(const std::string& event) const { return entries_.count(event) != 0; }
  const std::string& name() const { return name_; }
  const std::string& file() const { return file_; }
  // For tests and tools: an in-memory table.
  void set(const std::string& event, EnergyEntry entry) { entries_[event] = std::move(entry); }

 private:
  std::string name_;
  std::string file_;
  std::map<std::string, EnergyEntry> entries_;
};

struct EnergyTotals {
  double total_pj = 0;
  std::map<std::string, double> by_unit_pj;
  std::map<std::string, double> by_event_pj;
};

class EnergyLedger {
 public:
  void add(const std::string& unit, const std::string& event, double count);
  void add(const EnergyLedger& other);
  EnergyTotals price(const EnergyTable& table) const;
  const std::map<std::pair<std::string, std::string>, double>& counts() const { return counts_; }

 private:
  std::map<std::pair<std::string, std::string>, double> counts_;  // (unit, event) -> count
};

}  // namespace nibble
