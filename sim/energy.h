// Energy accounting: event counts (integers during simulation) priced at dump time from a table.
//
// An EnergyTable maps event names ("mac.int4_int4", "scratchpad.read_byte") to picojoules per
// count, each entry with its source. An EnergyLedger collects (unit, event, count) during or after
// a run. Pricing a ledger against a table gives totals by unit and by event; an event missing from
// the table is an InputError that names the table and the event, never a silent zero.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace nibble {

struct EnergyEntry {
  double pj = 0;           // energy of one count (at `ref_bytes` for a size-dependent SRAM event)
  std::string per;         // what one count is ("MAC", "byte")
  std::string source;      // a key of the table's "sources"
  std::string derivation;  // how the number was obtained when it is not read off the source
  // SRAM events: pj is for a memory of ref_bytes; a memory of C bytes costs
  // pj · (C / ref_bytes)^size_exponent per count (0: not size-dependent).
  double ref_bytes = 0;
  double size_exponent = 0;
};

// Static power of one unit: `mw` per instance, `mw_per_kib` per KiB of its capacity, or
// `mw_per_lane` per datapath lane (a compute unit leaks in proportion to its size).
struct LeakageEntry {
  double mw = 0;
  double mw_per_kib = 0;
  double mw_per_lane = 0;
  bool per_core = true;  // "per": "core" (one per core) or "chip" (one per chip)
  std::string source, derivation;
};

// What the priced hardware is, beyond the event counts: the capacities that size-dependent
// events depend on (by the event's unit prefix: "scratchpad", "shared_buffer"), and the units
// present, for leakage.
struct EnergyContext {
  std::map<std::string, double> capacity_bytes;  // per unit name (per instance)
  struct Unit {
    std::string name;
    uint64_t instances = 1;
    double capacity_bytes = 0;  // for mw_per_kib entries
    uint64_t lanes = 0;         // datapath lanes per instance, for mw_per_lane entries
  };
  std::vector<Unit> units;
  double clock_mhz = 0;
};

class EnergyTable {
 public:
  // Reads `path` strictly; throws InputError naming the file and the JSON path on bad content.
  static EnergyTable load(const std::string& path);

  const EnergyEntry& entry(const std::string& event) const;  // throws InputError when missing
  bool has(const std::string& event) const { return entries_.count(event) != 0; }
  // pJ of one count of `event` in the hardware `context` describes (size scaling applied).
  double pj(const std::string& event, const EnergyContext* context) const;
  // Static power (mW) of all instances of every unit of `context`; throws InputError naming
  // the table and the unit when one has no leakage entry.
  std::map<std::string, double> leakage_mw(const EnergyContext& context) const;
  bool has_leakage(const std::string& unit) const { return leakage_.count(unit) != 0; }
  const std::string& name() const { return name_; }
  const std::string& file() const { return file_; }
  // For tests and tools: an in-memory table.
  void set(const std::string& event, EnergyEntry entry) { entries_[event] = std::move(entry); }

 private:
  std::string name_;
  std::string file_;
  std::map<std::string, EnergyEntry> entries_;
  std::map<std::string, LeakageEntry> leakage_;
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
  EnergyTotals price(const EnergyTable& table, const EnergyContext* context = nullptr) const;
  const std::map<std::pair<std::string, std::string>, double>& counts() const { return counts_; }

 private:
  std::map<std::pair<std::string, std::string>, double> counts_;  // (unit, event) -> count
};

}  // namespace nibble
