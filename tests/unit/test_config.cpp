// Strict, layered config: types, ranges, unknown keys, --set, and the resolved tree.
#include <gtest/gtest.h>

#include "sim/config.h"
#include "sim/error.h"
#include "tests/support/error_of.h"

namespace nibble {
namespace {

ConfigDoc doc_of(const char* text) { return ConfigDoc::from_json(Json::parse(text), "cfg.json"); }

using testing_support::error_of;

TEST(Config, ReadsValuesAndFillsDefaultsIntoTheResolvedTree) {
  const ConfigDoc doc = doc_of(R"({"a": {"rows": 16, "name": "x"}})");
  Json resolved = Json::object();
  ConfigNode root(doc, &resolved);
  ConfigNode a = root.child("a");
  EXPECT_EQ(a.get_int("rows", 8, 1, 64), 16);
  EXPECT_EQ(a.get_int("cols", 8, 1, 64), 8);  // absent: the default
  EXPECT_EQ(a.get_string("name", "y"), "x");
  EXPECT_DOUBLE_EQ(a.get_double("mhz", 1000, 1, 5000), 1000.0);
  a.finish();
  root.finish();
  EXPECT_EQ(resolved.dump(), R"({"a":{"rows":16,"cols":8,"name":"x","mhz":1000.0}})");
}

TEST(Config, UnknownKeyNamesFileAndFullPath) {
  const ConfigDoc doc = doc_of(R"({"a": {"rows": 16, "rowz": 3}})");
  Json resolved;
  ConfigNode root(doc, &resolved);
  ConfigNode a = root.child("a");
  a.get_int("rows", 8, 1, 64);
  EXPECT_EQ(error_of([&] { a.finish(); }), "cfg.json: a.rowz: unknown key (expected one of: rows)");
}

TEST(Config, WrongTypeAndOutOfRangeSayWhatWasExpectedAndFound) {
  const ConfigDoc doc = doc_of(R"({"rows": "8", "cols": 0, "mhz": -1, "df": "xs", "on": 1})");
  Json resolved;
  ConfigNode root(doc, &resolved);
  EXPECT_EQ(error_of([&] { root.get_int("rows", 8, 1, 64); }),
            "cfg.json: rows: expected an integer in [1, 64], found string \"8\"");
  EXPECT_EQ(error_of([&] { root.get_int("cols", 8, 1, 64); }),
            "cfg.json: cols: expected an integer in [1, 64], found integer 0");
  EXPECT_EQ(error_of([&] { root.get_double("mhz", 1, 1, 10); }),
            "cfg.json: mhz: expected a number in [1, 10], found integer -1");
  EXPECT_EQ(error_of([&] {
              root.get_choice("df", "os", {"os", "ws"});
            }),
            "cfg.json: df: expected one of \"os\" \"ws\", found string \"xs\"");
  EXPECT_EQ(error_of([&] { root.get_bool("on", false); }),
            "cfg.json: on: expected true or false, found integer 1");
}

TEST(Config, IntegerKeysRejectFractions) {
  const ConfigDoc doc = doc_of(R"({"rows": 8.5})");
  Json resolved;
  ConfigNode root(doc, &resolved);
  EXPECT_EQ(error_of([&] { root.get_int("rows", 8, 1, 64); }),
            "cfg.json: rows: expected an integer in [1, 64], found number 8.5");
}

TEST(Config, SetOverridesParseJsonOrFallBackToAString) {
  ConfigDoc doc = doc_of(R"({"a": {"rows": 16}})");
  doc.apply_set("a.rows=32");
  doc.apply_set("a.dataflow=ws");  // not JSON: a string
  doc.apply_set("b.c.d=[1, 2]");   // creates b and b.c
  doc.apply_set("a.label=\"7\"");  // quoted: the string "7"
  EXPECT_EQ(doc.root().dump(),
            R"({"a":{"rows":32,"dataflow":"ws","label":"7"},"b":{"c":{"d":[1,2]}}})");
}

TEST(Config, ErrorsAboutSetValuesNameTheSet) {
  ConfigDoc doc = doc_of(R"({"a": {"rows": 16}})");
  doc.apply_set("a.rows=0");
  doc.apply_set("no.such.key=1");
  Json resolved;
  ConfigNode root(doc, &resolved);
  ConfigNode a = root.child("a");
  EXPECT_EQ(error_of([&] { a.get_int("rows", 8, 1, 64); }),
            "--set a.rows=0: a.rows: expected an integer in [1, 64], found integer 0");
  EXPECT_EQ(error_of([&] { root.finish(); }),
            "--set no.such.key=1: no: unknown key (expected one of: a)");
}

TEST(Config, SetThroughANonObjectIsAnError) {
  ConfigDoc doc = doc_of(R"({"a": 3})");
  EXPECT_EQ(error_of([&] { doc.apply_set("a.b=1"); }),
            "--set a.b=1: a is integer 3 in cfg.json, not an object, so it has no key 'b'");
  EXPECT_EQ(error_of([&] { doc.apply_set("a.b"); }), "--set a.b: expected dotted.key=value");
  EXPECT_EQ(error_of([&] { doc.apply_set("a..b=1"); }), "--set a..b=1: empty key in 'a..b'");
}

TEST(Config, LoadReportsMissingAndMalformedFiles) {
  EXPECT_EQ(error_of([] { ConfigDoc::load("/nonexistent/x.json"); }),
            "/nonexistent/x.json: cannot open config file (does it exist and is it readable?)");
  const std::string bad = std::string(NIBBLE_SOURCE_DIR) + "/tests/unit/data/not_json.json";
  EXPECT_NE(error_of([&] { ConfigDoc::load(bad); }).find(bad + ": not valid JSON"),
            std::string::npos);
  const std::string array = std::string(NIBBLE_SOURCE_DIR) + "/tests/unit/data/array.json";
  EXPECT_EQ(error_of([&] { ConfigDoc::load(array); }),
            array + ": expected a JSON object at the top level, found array [1,2]");
}

TEST(Config, ChildMustBeAnObject) {
  const ConfigDoc doc = doc_of(R"({"clock": 5})");
  Json resolved;
  ConfigNode root(doc, &resolved);
  EXPECT_EQ(error_of([&] { root.child("clock"); }),
            "cfg.json: clock: expected an object, found integer 5");
}

}  // namespace
}  // namespace nibble
