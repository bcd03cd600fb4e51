// Energy tables and pricing: counts × pJ, by unit and by event; missing entries are errors.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>

#include "sim/energy.h"
#include "sim/error.h"
#include "tests/support/error_of.h"

namespace nibble {
namespace {

using testing_support::error_of;

TEST(EnergyLedger, PricesCountsByUnitAndEvent) {
  EnergyTable t;
  t.set("mac.int4_int4", {0.1, "MAC", "H14", ""});
  t.set("scratchpad.read_byte", {2.5, "byte", "H14", ""});
  EnergyLedger l;
  l.add("mac_array", "mac.int4_int4", 1000);          // 1000 · 0.1 = 100 pJ
  l.add("scratchpad", "scratchpad.read_byte", 12.5);  // 12.5 · 2.5 = 31.25 pJ
  l.add("scratchpad", "scratchpad.read_byte",
        7.5);  // 7.5 · 2.5 = 18.75 pJ, same key: 20 bytes, 50 pJ
  const EnergyTotals e = l.price(t);
  EXPECT_DOUBLE_EQ(e.total_pj, 150.0);  // 100 + 50
  EXPECT_DOUBLE_EQ(e.by_unit_pj.at("mac_array"), 100.0);
  EXPECT_DOUBLE_EQ(e.by_unit_pj.at("scratchpad"), 50.0);
  EXPECT_DOUBLE_EQ(e.by_event_pj.at("scratchpad.read_byte"), 50.0);
}

TEST(EnergyLedger, AMissingEntryIsAnErrorNotAZero) {
  EnergyTable t = EnergyTable::load(std::string(NIBBLE_SOURCE_DIR) + "/configs/energy/45nm.json");
  EnergyLedger l;
  l.add("mac_array", "mac.int4_int7", 1);
  EXPECT_NE(
      error_of([&] { l.price(t); }).find("configs/energy/45nm.json: events.mac.int4_int7: missing"),
      std::string::npos);
}

TEST(EnergyTable, ShippedTableHasSourcedEntries) {
  const EnergyTable t =
      EnergyTable::load(std::string(NIBBLE_SOURCE_DIR) + "/configs/energy/45nm.json");
  EXPECT_EQ(t.name(), "45nm");
  // INT8 mult 0.2 pJ · (4/8)² + 16-bit add 0.05 pJ = 0.1 pJ
  EXPECT_DOUBLE_EQ(t.entry("mac.int4_int4").pj, 0.2 * 0.25 + 0.05);
  // 0.55 / 4 of an FP16 FMA (1.1 + 0.4 pJ) = 0.20625 pJ
  EXPECT_DOUBLE_EQ(t.entry("mac.int4_fp4").pj, 0.55 / 4 * 1.5);
  // 64-bit read of a 32 KB SRAM, 20 pJ / 8 bytes = 2.5 pJ per byte
  EXPECT_DOUBLE_EQ(t.entry("scratchpad.read_byte").pj, 20.0 / 8);
  EXPECT_EQ(t.entry("scratchpad.read_byte").source, "H14");
}

TEST(EnergyTable, RejectsEntriesWithoutAKnownSource) {
  EXPECT_NE(error_of([] {
              EnergyTable::load(std::string(NIBBLE_SOURCE_DIR) +
                                "/tests/unit/data/energy_unsourced.json");
            })
                .find("energy_unsourced.json: events.mac.int4_int4.source: \"X\" is not a key of "
                      "the table's \"sources\""),
            std::string::npos);
}

// Writes a table with `body` (members after "sources") and returns its path.
std::string table_with(const std::string& name, const std::string& body) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << R"({"name": "t", "sources": {"H14": "Horowitz"}, )" << body << "}";
  return path;
}

TEST(EnergyTable, SramEventsScaleWithCapacity) {
  const EnergyTable t = EnergyTable::load(table_with("size.json", R"("events": {
    "scratchpad.read_byte": {"pj": 2.5, "per": "byte", "source": "H14", "ref_bytes": 32768,
                             "size_exponent": 0.5},
    "mac.int4_int4": {"pj": 0.1, "per": "MAC", "source": "H14"}})"));
  EnergyContext c;
  c.capacity_bytes["scratchpad"] = 131072;  // 4 × the reference: 2.5 · 4^0.5 = 5 pJ per byte
  EXPECT_DOUBLE_EQ(t.pj("scratchpad.read_byte", &c), 5.0);
  EXPECT_DOUBLE_EQ(t.pj("mac.int4_int4", &c), 0.1);  // not size-dependent
  EnergyLedger l;
  l.add("scratchpad", "scratchpad.read_byte", 10);  // 10 · 5 = 50 pJ
  l.add("mac_array", "mac.int4_int4", 100);         // 100 · 0.1 = 10 pJ
  EXPECT_DOUBLE_EQ(l.price(t, &c).total_pj, 60.0);
  // Without the capacity the price cannot be known: a bug in the caller, not a zero.
  EXPECT_THROW(l.price(t), std::logic_error);
}

TEST(EnergyTable, LeakageCountsInstancesAndCapacity) {
  const EnergyTable t = EnergyTable::load(table_with("leak.json", R"("events": {
    "mac.int4_int4": {"pj": 0.1, "per": "MAC", "source": "H14"}},
    "leakage": {"mac_array": {"mw": 2.5, "per": "core", "source": "H14"},
                "scratchpad": {"mw_per_kib": 0.02, "per": "core", "source": "H14"},
                "sfu": {"mw_per_lane": 0.25, "per": "core", "source": "H14"},
                "dram": {"mw": 40, "per": "chip", "source": "H14"}})"));
  EnergyContext c;
  c.units = {
      {"mac_array", 4, 0, 0}, {"scratchpad", 4, 1048576, 0}, {"sfu", 4, 0, 64}, {"dram", 1, 0, 0}};
  const auto mw = t.leakage_mw(c);
  EXPECT_DOUBLE_EQ(mw.at("mac_array"), 10.0);    // 4 cores × 2.5 mW
  EXPECT_DOUBLE_EQ(mw.at("scratchpad"), 81.92);  // 4 × 1024 KiB × 0.02 mW
  EXPECT_DOUBLE_EQ(mw.at("sfu"), 64.0);          // 4 cores × 64 lanes × 0.25 mW
  EXPECT_DOUBLE_EQ(mw.at("dram"), 40.0);         // one per chip
  c.units.push_back({"ring", 1, 0, 0});
  EXPECT_NE(error_of([&] { t.leakage_mw(c); }).find("leak.json: leakage.ring: missing"),
            std::string::npos);
}

TEST(EnergyTable, BadLeakageAndSizeFieldsNameThePath) {
  const char* mac = R"("mac.int4_int4": {"pj": 0.1, "per": "MAC", "source": "H14")";
  EXPECT_NE(
      error_of([&] {
        EnergyTable::load(table_with("both.json", std::string(R"("events": {)") + mac +
                                                      R"(}}, "leakage": {"sfu": {"mw": 1,
                  "mw_per_kib": 1, "per": "core", "source": "H14"}})"));
      }).find("both.json: leakage.sfu: expected one of mw, mw_per_kib and mw_per_lane, not two"),
      std::string::npos);
  EXPECT_NE(
      error_of([&] {
        EnergyTable::load(table_with("per.json", std::string(R"("events": {)") + mac +
                                                     R"(}}, "leakage": {"sfu": {"mw": 1,
                  "per": "die", "source": "H14"}})"));
      }).find("per.json: leakage.sfu.per: expected \"core\" or \"chip\", found string \"die\""),
      std::string::npos);
  EXPECT_NE(error_of([&] {
              EnergyTable::load(table_with("half.json", R"("events": {
                "scratchpad.read_byte": {"pj": 2.5, "per": "byte", "source": "H14",
                                         "ref_bytes": 32768}})"));
            })
                .find("half.json: events.scratchpad.read_byte: expected ref_bytes and "
                      "size_exponent together"),
            std::string::npos);
}

}  // namespace
}  // namespace nibble
