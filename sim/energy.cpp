#include "sim/energy.h"

#include <cmath>
#include <fstream>

#include "sim/config.h"
#include "sim/error.h"

namespace nibble {

EnergyTable EnergyTable::load(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw InputError(path + ": cannot open energy table (does it exist and is it readable?)");
  Json root;
  try {
    root = Json::parse(in);
  } catch (const Json::parse_error& e) {
    throw InputError(path + ": not valid JSON: " + e.what());
  }
  auto fail = [&](const std::string& where, const std::string& expected, const Json& found) {
    throw InputError(path + ": " + where + ": expected " + expected + ", found " +
                     describe_json(found));
  };
  if (!root.is_object()) fail("(top)", "an object", root);
  EnergyTable table;
  table.file_ = path;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& key = it.key();
    if (key == "name") {
      if (!it->is_string()) fail("name", "a string", *it);
      table.name_ = it->get<std::string>();
    } else if (key == "description" || key == "technology") {
      if (!it->is_string()) fail(key, "a string", *it);
    } else if (key == "sources") {
      if (!it->is_object()) fail(key, "an object of source key -> citation", *it);
    } else if (key != "events") {
      throw InputError(path + ": " + key +
                       ": unknown key (expected one of: name, description, technology, sources, "
                       "events)");
    }
  }
  const auto events = root.find("events");
  if (events == root.end() || !events->is_object() || events->empty()) {
    fail("events", "a non-empty object of event name -> entry",
         events == root.end() ? Json() : *events);
  }
  const auto sources = root.find("sources");
  for (auto it = events->begin(); it != events->end(); ++it) {
    const std::string where = "events." + it.key();
    if (!it->is_object()) fail(where, "an object {pj, per, source, derivation}", *it);
    EnergyEntry e;
    for (auto f = it->begin(); f != it->end(); ++f) {
      if (f.key() == "pj") {
        if (!f->is_number() || !std::isfinite(f->get<double>()) || f->get<double>() < 0) {
          fail(where + ".pj", "a number >= 0", *f);
        }
        e.pj = f->get<double>();
      } else if (f.key() == "per" || f.key() == "source" || f.key() == "derivation") {
        if (!f->is_string()) fail(where + "." + f.key(), "a string", *f);
        (f.key() == "per"      ? e.per
         : f.key() == "source" ? e.source
                               : e.derivation) = f->get<std::string>();
      } else {
        throw InputError(path + ": " + where + "." + f.key() +
                         ": unknown key (expected one of: pj, per, source, derivation)");
      }
    }
    if (!it->contains("pj")) fail(where + ".pj", "a number >= 0", Json());
    if (e.source.empty()) fail(where + ".source", "a non-empty string naming the source", Json());
    if (sources == root.end() || !sources->contains(e.source)) {
      throw InputError(path + ": " + where + ".source: \"" + e.source +
                       "\" is not a key of the table's \"sources\"");
    }
    table.entries_[it.key()] = e;
  }
  if (table.name_.empty()) table.name_ = path;
  return table;
}

const EnergyEntry& EnergyTable::entry(const std::string& event) const {
  const auto it = entries_.find(event);
  if (it == entries_.end()) {
    throw InputError(file_ + ": events." + event +
                     ": missing; the run needs the energy of this event (add an entry with its "
                     "source)");
  }
  return it->second;
}

void EnergyLedger::add(const std::string& unit, const std::string& event, double count) {
  counts_[{unit, event}] += count;
}

void EnergyLedger::add(const EnergyLedger& other) {
  for (const auto& [key, count] : other.counts_) counts_[key] += count;
}

EnergyTotals EnergyLedger::price(const EnergyTable& table) const {
  EnergyTotals t;
  for (const auto& [key, count] : counts_) {
    const double pj = count * table.entry(key.second).pj;
    t.total_pj += pj;
    t.by_unit_pj[key.first] += pj;
    t.by_event_pj[key.second] += pj;
  }
  return t;
}

}  // namespace nibble
