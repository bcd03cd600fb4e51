#include "sim/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "sim/error.h"

namespace nibble {

namespace fs = std::filesystem;

fs::path temporary_beside(const fs::path& target) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::string tag = host;
  for (char& c : tag) {
    if (c == '/' || c == '.') c = '_';
  }
  return target.parent_path() /
         ("." + target.filename().string() + "." + tag + "-" + std::to_string(getpid()) + ".tmp");
}

fs::path write_temporary(const fs::path& target, const std::string& text) {
  const fs::path tmp = temporary_beside(target);
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (!out) {
    const std::string why = std::strerror(errno);
    std::error_code ec;
    fs::remove(tmp, ec);
    throw InputError(target.string() + ": cannot write (" + why + ")");
  }
  return tmp;
}

void rename_into_place(const fs::path& tmp, const fs::path& target) {
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw InputError(target.string() + ": cannot write (" + ec.message() + ")");
  }
}

void write_file_atomically(const fs::path& target, const std::string& text) {
  rename_into_place(write_temporary(target, text), target);
}

}  // namespace nibble
