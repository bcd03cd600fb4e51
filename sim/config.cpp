#include "sim/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "sim/error.h"

namespace nibble {

std::string abbreviate(const std::string& text, std::size_t max_chars) {
  if (text.size() <= max_chars) return text;
  return text.substr(0, max_chars - 3) + "...";
}

std::string describe_json(const Json& value) {
  const std::string text = abbreviate(value.dump());
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean " + text;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer " + text;
    case Json::value_t::number_float:
      return "number " + text;
    case Json::value_t::string:
      return "string " + text;
    case Json::value_t::array:
      return "array " + text;
    case Json::value_t::object:
      return "object " + text;
    default:
      return text;
  }
}

namespace {

std::vector<std::string> split_dotted(const std::string& dotted) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(dotted);
  while (std::getline(in, part, '.')) parts.push_back(part);
  if (!dotted.empty() && dotted.back() == '.') parts.emplace_back();
  return parts;
}

bool is_prefix_path(const std::string& prefix, const std::string& path) {
  return path == prefix ||
         (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
          path[prefix.size()] == '.');
}

}  // namespace

ConfigDoc ConfigDoc::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open config file (does it exist and is it readable?)");
  ConfigDoc doc;
  doc.file_ = path;
  try {
    doc.root_ = Json::parse(in);
  } catch (const Json::parse_error& e) {
    throw InputError(path + ": not valid JSON: " + e.what());
  }
  if (!doc.root_.is_object()) {
    throw InputError(path + ": expected a JSON object at the top level, found " +
                     describe_json(doc.root_));
  }
  return doc;
}

ConfigDoc ConfigDoc::from_json(Json root, std::string origin) {
  ConfigDoc doc;
  doc.file_ = std::move(origin);
  doc.root_ = std::move(root);
  if (!doc.root_.is_object()) {
    throw InputError(doc.file_ + ": expected a JSON object at the top level, found " +
                     describe_json(doc.root_));
  }
  return doc;
}

void ConfigDoc::apply_set(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw InputError("--set " + assignment + ": expected dotted.key=value");
  }
  const std::string dotted = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  const auto parts = split_dotted(dotted);
  for (const auto& p : parts) {
    if (p.empty()) throw InputError("--set " + assignment + ": empty key in '" + dotted + "'");
  }
  Json value;
  try {
    value = Json::parse(text);
  } catch (const Json::parse_error&) {
    value = text;  // a bare word such as os or pipelined
  }
  Json* node = &root_;
  std::string walked;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    walked += (walked.empty() ? "" : ".") + parts[i];
    Json& next = (*node)[parts[i]];
    if (next.is_null()) next = Json::object();
    if (!next.is_object()) {
      throw InputError("--set " + assignment + ": " + walked + " is " + describe_json(next) +
                       " in " + file_ + ", not an object, so it has no key '" + parts[i + 1] + "'");
    }
    node = &next;
  }
  (*node)[parts.back()] = value;
  sets_.emplace_back(dotted, assignment);
}

std::string ConfigDoc::origin_of(const std::string& dotted_path) const {
  // The last --set wins, as it does for the value itself.
  for (auto it = sets_.rbegin(); it != sets_.rend(); ++it) {
    if (is_prefix_path(dotted_path, it->first) || is_prefix_path(it->first, dotted_path)) {
      return "--set " + it->second;
    }
  }
  return file_;
}

ConfigNode::ConfigNode(const ConfigDoc& doc, Json* resolved)
    : ConfigNode(&doc, &doc.root(), "", "", resolved) {}

ConfigNode::ConfigNode(const ConfigDoc* doc, const Json* node, std::string path,
                       std::string pointer, Json* resolved)
    : doc_(doc),
      node_(node),
      path_(std::move(path)),
      pointer_(std::move(pointer)),
      resolved_(resolved) {}

std::string ConfigNode::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void ConfigNode::fail(const std::string& key, const std::string& expected,
                      const Json& found) const {
  const std::string where = key_path(key);
  throw InputError(doc_->origin_of(where) + ": " + where + ": expected " + expected + ", found " +
                   describe_json(found));
}

const Json* ConfigNode::find(const std::string& key) {
  read_.push_back(key);
  if (node_ == nullptr) return nullptr;
  const auto it = node_->find(key);
  return it == node_->end() ? nullptr : &*it;
}

void ConfigNode::record(const std::string& key, Json value) {
  (*resolved_)[Json::json_pointer(pointer_ + "/" + key)] = std::move(value);
}

int64_t ConfigNode::get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
  const std::string expected =
      "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  int64_t value = fallback;
  if (const Json* j = find(key)) {
    if (j->is_number_unsigned()) {
      const auto u = j->get<uint64_t>();
      if (u > static_cast<uint64_t>(max)) fail(key, expected, *j);
      value = static_cast<int64_t>(u);
    } else if (j->is_number_integer()) {
      value = j->get<int64_t>();
    } else {
      fail(key, expected, *j);
    }
    if (value < min || value > max) fail(key, expected, *j);
  }
  record(key, value);
  return value;
}

double ConfigNode::get_double(const std::string& key, double fallback, double min, double max) {
  std::ostringstream expected;
  expected << "a number in [" << min << ", " << max << "]";
  double value = fallback;
  if (const Json* j = find(key)) {
    if (!j->is_number()) fail(key, expected.str(), *j);
    value = j->get<double>();
    if (!std::isfinite(value) || value < min || value > max) fail(key, expected.str(), *j);
  }
  record(key, value);
  return value;
}

bool ConfigNode::get_bool(const std::string& key, bool fallback) {
  bool value = fallback;
  if (const Json* j = find(key)) {
    if (!j->is_boolean()) fail(key, "true or false", *j);
    value = j->get<bool>();
  }
  record(key, value);
  return value;
}

std::string ConfigNode::get_string(const std::string& key, const std::string& fallback) {
  std::string value = fallback;
  if (const Json* j = find(key)) {
    if (!j->is_string()) fail(key, "a string", *j);
    value = j->get<std::string>();
  }
  record(key, value);
  return value;
}

std::string ConfigNode::get_choice(const std::string& key, const std::string& fallback,
                                   std::initializer_list<const char*> choices) {
  return get_choice(key, fallback, std::vector<std::string>(choices.begin(), choices.end()));
}

std::vector<std::string> ConfigNode::keys() const {
  std::vector<std::string> out;
  if (node_ == nullptr) return out;
  for (auto it = node_->begin(); it != node_->end(); ++it) out.push_back(it.key());
  return out;
}

std::string ConfigNode::get_choice(const std::string& key, const std::string& fallback,
                                   const std::vector<std::string>& choices) {
  std::string expected = "one of";
  for (const std::string& c : choices) expected += " \"" + c + "\"";
  std::string value = fallback;
  if (const Json* j = find(key)) {
    if (!j->is_string()) fail(key, expected, *j);
    value = j->get<std::string>();
    if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
      fail(key, expected, *j);
    }
  }
  record(key, value);
  return value;
}

ConfigNode ConfigNode::child(const std::string& key) {
  const Json* j = find(key);
  if (j != nullptr && !j->is_object()) fail(key, "an object", *j);
  record(key, Json::object());
  return ConfigNode(doc_, j, key_path(key), pointer_ + "/" + key, resolved_);
}

std::string ConfigNode::origin_of(const std::string& key) const {
  return doc_->origin_of(key_path(key));
}

void ConfigNode::finish() const {
  if (node_ == nullptr) return;
  for (auto it = node_->begin(); it != node_->end(); ++it) {
    if (std::find(read_.begin(), read_.end(), it.key()) != read_.end()) continue;
    const std::string where = key_path(it.key());
    std::string known;
    for (const auto& k : read_) known += (known.empty() ? "" : ", ") + k;
    throw InputError(doc_->origin_of(where) + ": " + where +
                     ": unknown key (expected one of: " + known + ")");
  }
}

}  // namespace nibble
