// Running the nibble binary from integration tests: one scratch directory per test, the command
// run from the source directory (so shipped relative paths work), its exit status and output.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "sim/config.h"

namespace nibble::testing_support {

inline const std::string kSource = NIBBLE_SOURCE_DIR;
inline const std::string kBinary = NIBBLE_BINARY;

struct Outcome {
  int status = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A JSON file's document.
inline Json load(const std::filesystem::path& file) { return Json::parse(slurp(file)); }

// Writes `text` to `file` as it is.
inline void write(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
}

// A path single-quoted for the shell command line that nibble() runs.
inline std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

// A fresh scratch directory for the running test.
inline std::filesystem::path scratch() {
  namespace fs = std::filesystem;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::temp_directory_path() / ("nibble-it-" + std::to_string(::getpid())) /
                       (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// The temporaries (".<name>.<host>-<pid>.tmp", sim/atomic_file.h) left in `dir`: none after any
// exit.
inline std::string temporaries_in(const std::filesystem::path& dir) {
  std::string found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > 5 && name.front() == '.' && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      found += name + " ";
    }
  }
  return found;
}

// Runs `nibble ARGS` from the source directory; stdout and stderr go to files in `dir`.
inline Outcome nibble(const std::string& args, const std::filesystem::path& dir) {
  const std::string cmd = "cd '" + kSource + "' && '" + kBinary + "' " + args + " >'" +
                          (dir / "stdout").string() + "' 2>'" + (dir / "stderr").string() + "'";
  const int raw = std::system(cmd.c_str());
  Outcome o;
  o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  o.out = slurp(dir / "stdout");
  o.err = slurp(dir / "stderr");
  return o;
}

}  // namespace nibble::testing_support
