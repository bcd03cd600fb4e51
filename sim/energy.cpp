#include "sim/energy.h"

#include <cmath>
#include <fstream>
#include <stdexcept>

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
    } else if (key != "events" && key != "leakage") {
      throw InputError(path + ": " + key +
                       ": unknown key (expected one of: name, description, technology, sources, "
                       "events, leakage)");
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
      } else if (f.key() == "ref_bytes" || f.key() == "size_exponent") {
        const bool ref = f.key() == "ref_bytes";
        if (!f->is_number() || !std::isfinite(f->get<double>()) ||
            (ref ? f->get<double>() <= 0 : f->get<double>() < 0)) {
          fail(where + "." + f.key(), ref ? "a number > 0" : "a number >= 0", *f);
        }
        (ref ? e.ref_bytes : e.size_exponent) = f->get<double>();
      } else {
        throw InputError(path + ": " + where + "." + f.key() +
                         ": unknown key (expected one of: pj, per, source, derivation, ref_bytes, "
                         "size_exponent)");
      }
    }
    if ((e.ref_bytes > 0) != it->contains("size_exponent")) {
      fail(where, "ref_bytes and size_exponent together (or neither)", *it);
    }
    if (!it->contains("pj")) fail(where + ".pj", "a number >= 0", Json());
    if (e.source.empty()) fail(where + ".source", "a non-empty string naming the source", Json());
    if (sources == root.end() || !sources->contains(e.source)) {
      throw InputError(path + ": " + where + ".source: \"" + e.source +
                       "\" is not a key of the table's \"sources\"");
    }
    table.entries_[it.key()] = e;
  }
  if (const auto leakage = root.find("leakage"); leakage != root.end()) {
    if (!leakage->is_object())
      fail("leakage", "an object of unit -> {mw or mw_per_kib, per}", *leakage);
    for (auto it = leakage->begin(); it != leakage->end(); ++it) {
      const std::string where = "leakage." + it.key();
      if (!it->is_object())
        fail(where, "an object {mw or mw_per_kib, per, source, derivation}", *it);
      LeakageEntry l;
      bool have_power = false;
      for (auto f = it->begin(); f != it->end(); ++f) {
        if (f.key() == "mw" || f.key() == "mw_per_kib" || f.key() == "mw_per_lane") {
          if (!f->is_number() || !std::isfinite(f->get<double>()) || f->get<double>() < 0) {
            fail(where + "." + f.key(), "a number >= 0", *f);
          }
          if (have_power) fail(where, "one of mw, mw_per_kib and mw_per_lane, not two", *it);
          have_power = true;
          (f.key() == "mw"           ? l.mw
           : f.key() == "mw_per_kib" ? l.mw_per_kib
                                     : l.mw_per_lane) = f->get<double>();
        } else if (f.key() == "per") {
          if (*f != "core" && *f != "chip") fail(where + ".per", "\"core\" or \"chip\"", *f);
          l.per_core = *f == "core";
        } else if (f.key() == "source" || f.key() == "derivation") {
          if (!f->is_string()) fail(where + "." + f.key(), "a string", *f);
          (f.key() == "source" ? l.source : l.derivation) = f->get<std::string>();
        } else {
          throw InputError(path + ": " + where + "." + f.key() +
                           ": unknown key (expected one of: mw, mw_per_kib, mw_per_lane, per, "
                           "source, derivation)");
        }
      }
      if (!have_power) fail(where + ".mw", "a number >= 0 (or mw_per_kib, mw_per_lane)", Json());
      if (!it->contains("per")) fail(where + ".per", "\"core\" or \"chip\"", Json());
      if (sources == root.end() || !sources->contains(l.source)) {
        throw InputError(path + ": " + where + ".source: \"" + l.source +
                         "\" is not a key of the table's \"sources\"");
      }
      table.leakage_[it.key()] = l;
    }
  }
  if (table.name_.empty()) table.name_ = path;
  return table;
}

double EnergyTable::pj(const std::string& event, const EnergyContext* context) const {
  const EnergyEntry& e = entry(event);
  if (e.ref_bytes <= 0 || e.size_exponent == 0) return e.pj;
  const std::string unit = event.substr(0, event.find('.'));
  if (context == nullptr || context->capacity_bytes.count(unit) == 0) {
    throw std::logic_error("energy event " + event + " depends on the capacity of " + unit +
                           ", which the run did not give");
  }
  return e.pj * std::pow(context->capacity_bytes.at(unit) / e.ref_bytes, e.size_exponent);
}

std::map<std::string, double> EnergyTable::leakage_mw(const EnergyContext& context) const {
  std::map<std::string, double> mw;
  for (const EnergyContext::Unit& u : context.units) {
    const auto it = leakage_.find(u.name);
    if (it == leakage_.end()) {
      throw InputError(file_ + ": leakage." + u.name +
                       ": missing; the run has this unit, so its static power is needed (add an "
                       "entry with its source)");
    }
    const LeakageEntry& l = it->second;
    mw[u.name] +=
        static_cast<double>(u.instances) * (l.mw + l.mw_per_kib * u.capacity_bytes / 1024 +
                                            l.mw_per_lane * static_cast<double>(u.lanes));
  }
  return mw;
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

EnergyTotals EnergyLedger::price(const EnergyTable& table, const EnergyContext* context) const {
  EnergyTotals t;
  for (const auto& [key, count] : counts_) {
    const double pj = count * table.pj(key.second, context);
    t.total_pj += pj;
    t.by_unit_pj[key.first] += pj;
    t.by_event_pj[key.second] += pj;
  }
  return t;
}

}  // namespace nibble
