// Strict, layered JSON configuration.
//
// A ConfigDoc is a base file with `--set dotted.key=value` overrides applied on top. Models read
// it through ConfigNode, which checks every value's type and range, fills in defaults, records the
// resolved value of every parameter it handed out, and rejects keys nobody read (typos). Every
// error is an InputError naming the file, the full dotted path, what was expected and what was
// found.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nibble {

using Json = nlohmann::ordered_json;

class ConfigDoc {
 public:
  // Reads and parses `path`; throws InputError if it is missing, unreadable, not JSON or not an
  // object at the top.
  static ConfigDoc load(const std::string& path);
  // A document with no file behind it (tests, defaults-only runs).
  static ConfigDoc from_json(Json root, std::string origin);

  // Applies one `dotted.key=value` override. The value is parsed as JSON when it is valid JSON
  // (numbers, true/false, null, "quoted", [..], {..}) and taken as a plain string otherwise.
  void apply_set(const std::string& assignment);

  const Json& root() const { return root_; }
  const std::string& file() const { return file_; }
  // Where the value at a dotted path came from, for error messages: the file, or the --set that
  // wrote it (or one of its parents).
  std::string origin_of(const std::string& dotted_path) const;

 private:
  Json root_ = Json::object();
  std::string file_;
  std::vector<std::pair<std::string, std::string>> sets_;  // (dotted path, assignment text)
};

// A read cursor on one JSON object of a ConfigDoc. Reads are recorded into `resolved` (the
// config.resolved.json tree), so that the resolved config holds every parameter after defaults.
class ConfigNode {
 public:
  // The root node of `doc`; `resolved` receives the resolved tree and must outlive the node.
  ConfigNode(const ConfigDoc& doc, Json* resolved);

  int64_t get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max);
  double get_double(const std::string& key, double fallback, double min, double max);
  bool get_bool(const std::string& key, bool fallback);
  std::string get_string(const std::string& key, const std::string& fallback);
  // A string that must be one of `choices`.
  std::string get_choice(const std::string& key, const std::string& fallback,
                         std::initializer_list<const char*> choices);
  std::string get_choice(const std::string& key, const std::string& fallback,
                         const std::vector<std::string>& choices);
  // The keys this object has in the document, in document order (for maps such as per-mode
  // tables, whose keys are data).
  std::vector<std::string> keys() const;
  // The object under `key` (an empty one when absent).
  ConfigNode child(const std::string& key);

  // Throws InputError for the first key of this object that no get_*/child call asked for.
  // Call it after reading every parameter of the object.
  void finish() const;

  const std::string& path() const { return path_; }
  // Where the value of `key` in this object came from (the file, or a --set), for messages.
  std::string origin_of(const std::string& key) const;

 private:
  ConfigNode(const ConfigDoc* doc, const Json* node, std::string path, std::string pointer,
             Json* resolved);
  void record(const std::string& key, Json value);
  const Json* find(const std::string& key);
  [[noreturn]] void fail(const std::string& key, const std::string& expected,
                         const Json& found) const;
  std::string key_path(const std::string& key) const;

  const ConfigDoc* doc_;
  const Json* node_;     // null when the object is absent from the document
  std::string path_;     // dotted path of this object ("" at the root)
  std::string pointer_;  // the same path as a JSON pointer, for writing into resolved_
  Json* resolved_;       // root of the resolved tree (pointers into it would not stay valid)
  std::vector<std::string> read_;
};

// A human description of a JSON value for error messages: its type and abbreviated text.
std::string describe_json(const Json& value);

}  // namespace nibble
