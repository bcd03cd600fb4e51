// Energy tables and pricing: counts × pJ, by unit and by event; missing entries are errors.
#include <gtest/gtest.h>

#include <functional>

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

}  // namespace
}  // namespace nibble
