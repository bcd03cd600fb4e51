// A registry of named implementations of one role: `impl` strings in a config pick a factory.
//
// Plain C++, no static-initialisation tricks: implementations are added by explicit calls (see
// models/accelerator/units.cpp), so nothing depends on the linker keeping an unreferenced object.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace nibble {

template <typename Product, typename... Args>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Product>(Args...)>;

  // Adds `impl`; adding a name twice is a programming error.
  void add(const std::string& impl, Factory factory) {
    if (!factories_.emplace(impl, std::move(factory)).second) {
      throw std::logic_error("registry: \"" + impl + "\" registered twice");
    }
  }
  bool has(const std::string& impl) const { return factories_.count(impl) != 0; }
  // Registered names in alphabetical order (for "expected one of" messages).
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : factories_) out.push_back(entry.first);
    return out;
  }
  std::unique_ptr<Product> create(const std::string& impl, Args... args) const {
    const auto it = factories_.find(impl);
    if (it == factories_.end()) throw std::logic_error("registry: no \"" + impl + "\"");
    return it->second(std::forward<Args>(args)...);
  }

 private:
  std::map<std::string, Factory> factories_;
};

}  // namespace nibble
