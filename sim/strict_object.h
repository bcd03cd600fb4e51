// Strict reading of one JSON object of an input file (a trace, a layer graph): like ConfigNode,
// but for files whose paths include array indices (.ops[3].M). It remembers every key it was
// asked for; finish() refuses the others. Every error is an InputError naming the file, the JSON
// path, what was expected and what was found.
#pragma once

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/config.h"
#include "sim/error.h"

namespace nibble {

class StrictObject {
 public:
  static constexpr uint64_t kMaxDim = uint64_t{1} << 30;  // the bound on shapes and counts

  // `origin` (the file) must outlive the object, as must `node`.
  StrictObject(const std::string& origin, const Json& node, std::string path)
      : origin_(origin), node_(node), path_(std::move(path)) {}

  const Json* find(const std::string& key) {
    read_.push_back(key);
    const auto it = node_.find(key);
    return it == node_.end() ? nullptr : &*it;
  }
  const Json& require(const std::string& key, const std::string& expected) {
    const Json* j = find(key);
    if (j == nullptr) {
      throw InputError(origin_ + ": " + where(key) + ": missing; expected " + expected);
    }
    return *j;
  }
  [[noreturn]] void fail(const std::string& key, const std::string& expected,
                         const Json& found) const {
    throw InputError(origin_ + ": " + where(key) + ": expected " + expected + ", found " +
                     describe_json(found));
  }
  std::string where(const std::string& key) const { return path_ + "." + key; }

  std::string string(const std::string& key) {
    const Json& j = require(key, "a non-empty string");
    if (!j.is_string() || j.get<std::string>().empty()) fail(key, "a non-empty string", j);
    return j.get<std::string>();
  }
  // An array of non-empty strings: required (and then non-empty) or optional (empty when absent);
  // with `unique`, a string listed twice is refused.
  std::vector<std::string> strings(const std::string& key, bool required, bool unique) {
    const std::string expected =
        required ? "a non-empty array of non-empty strings" : "an array of non-empty strings";
    const Json* j = required ? &require(key, expected) : find(key);
    std::vector<std::string> out;
    if (j == nullptr) return out;
    if (!j->is_array() || (required && j->empty())) fail(key, expected, *j);
    for (std::size_t i = 0; i < j->size(); ++i) {
      const Json& item = (*j)[i];
      const std::string at = origin_ + ": " + where(key) + "[" + std::to_string(i) + "]: ";
      if (!item.is_string() || item.get<std::string>().empty()) {
        throw InputError(at + "expected a non-empty string, found " + describe_json(item));
      }
      const std::string s = item.get<std::string>();
      if (unique && std::find(out.begin(), out.end(), s) != out.end()) {
        throw InputError(at + "\"" + s + "\" is listed twice");
      }
      out.push_back(s);
    }
    return out;
  }
  // An integer in [min, kMaxDim]; `fallback` when absent (required when there is none).
  uint64_t dim(const std::string& key, std::optional<uint64_t> fallback, uint64_t min) {
    const std::string expected =
        "an integer in [" + std::to_string(min) + ", " + std::to_string(kMaxDim) + "]";
    const Json* j = fallback ? find(key) : &require(key, expected);
    if (j == nullptr) return *fallback;
    if (j->is_number_unsigned()) {
      const auto v = j->get<uint64_t>();
      if (v >= min && v <= kMaxDim) return v;
    } else if (j->is_number_integer()) {
      const auto v = j->get<int64_t>();
      if (v >= static_cast<int64_t>(min) && v <= static_cast<int64_t>(kMaxDim)) {
        return static_cast<uint64_t>(v);
      }
    }
    fail(key, expected, *j);
  }
  // The document's "format" must be `format` and its "version" 1; `what` names it in the message
  // ("this build reads <what> version 1, the file says …").
  void require_format(const std::string& format, const std::string& what) {
    const std::string quoted = "\"" + format + "\"";
    const Json& f = require("format", quoted);
    if (f != format) fail("format", quoted, f);
    const Json& version = require("version", "1");
    if (version != 1) {
      throw InputError(origin_ + ": .version: this build reads " + what +
                       " version 1, the file says " + describe_json(version));
    }
  }
  // Refuses a key nobody asked for, listing the known ones; `what` names the object in the
  // message ("a conv2d layer has: …"), or the message says "expected one of: …".
  void finish(const std::string& what = "") const {
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (std::find(read_.begin(), read_.end(), it.key()) != read_.end()) continue;
      std::string known;
      for (const auto& k : read_) known += (known.empty() ? "" : ", ") + k;
      throw InputError(origin_ + ": " + where(it.key()) + ": unknown key (" +
                       (what.empty() ? "expected one of" : what + " has") + ": " + known + ")");
    }
  }

 private:
  const std::string& origin_;
  const Json& node_;
  std::string path_;
  std::vector<std::string> read_;
};

// Reads `file` as one JSON object; `what` names the document when it cannot be opened ("the sweep
// spec"). InputError when it cannot be opened, is not JSON or is not an object.
inline Json read_json_object(const std::string& file, const std::string& what) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw InputError(file + ": cannot open " + what + " (does it exist and is it readable?)");
  Json root;
  try {
    root = Json::parse(in);
  } catch (const Json::parse_error& e) {
    throw InputError(file + ": not valid JSON: " + e.what());
  }
  if (!root.is_object()) {
    throw InputError(file + ": (top): expected an object, found " + describe_json(root));
  }
  return root;
}

}  // namespace nibble
