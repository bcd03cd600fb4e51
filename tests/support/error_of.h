// Test helper: the message of the InputError that `f` throws, or "(no error)".
#pragma once

#include <functional>
#include <string>

#include "sim/error.h"

namespace nibble::testing_support {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace nibble::testing_support
