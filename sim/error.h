// Error types shared by the whole program.
//
// InputError is for anything a user can fix (a config, a trace, a command line): its message is
// one line that names the file, the JSON path, what was expected and what was found. The
// program prints it and exits with status 2. Anything else that escapes is a bug (status 1).
#pragma once

#include <stdexcept>
#include <string>

namespace nibble {

class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& message) : std::runtime_error(message) {}
};

// Shortens a JSON dump or other user text for an error message.
std::string abbreviate(const std::string& text, std::size_t max_chars = 60);

}  // namespace nibble
