// Running `nibble run` in child processes of this binary, for the subcommands built on it
// (compare, calibrate): a SystemC kernel elaborates once per process, so every run needs a
// process of its own.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace nibble {

// Starts this binary again (/proc/self/exe) with `args` (args[0] is the program name), passed as
// they are (no shell): stdout discarded, stderr into `err_file`, SIGINT and SIGTERM at their
// default actions. `what` names the run in the error thrown (std::runtime_error) when it cannot
// start ("compare: the candidate run").
pid_t spawn_self(const std::vector<std::string>& args, const std::filesystem::path& err_file,
                 const std::string& what);

// The exit status of a child (128 + the signal that killed it).
int wait_child(pid_t pid);

// What a failed run said: the first non-blank line of `err_file` without the "nibble: error: "
// (or "nibble: ") prefix; empty when there is none.
std::string first_error_line(const std::filesystem::path& err_file);

// Ctrl-C reaches the whole process group: the runs write their interrupted reports and exit 130,
// and this process, which ignores it meanwhile, reports that and cleans up.
class IgnoreInterrupts {
 public:
  IgnoreInterrupts();
  ~IgnoreInterrupts();
  IgnoreInterrupts(const IgnoreInterrupts&) = delete;
  IgnoreInterrupts& operator=(const IgnoreInterrupts&) = delete;

 private:
  struct sigaction saved_ {};
};

// A staging folder DIR/NAME for the runs of one command: created fresh (a leftover of a killed
// run is removed) with `inner` inside it when given; on destruction removed, and unless keep()
// was called, so are the folders above it that its creation made (so a failed command leaves
// nothing behind). Throws InputError naming DIR when it cannot be created.
class Staging {
 public:
  Staging(const std::filesystem::path& dir, const std::string& name,
          const std::filesystem::path& inner = {});
  ~Staging();
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;
  const std::filesystem::path& path() const { return path_; }
  void keep() { kept_ = true; }

 private:
  void cleanup();
  std::filesystem::path path_;
  std::vector<std::filesystem::path> created_;  // made for it, deepest first
  bool kept_ = false;
};

}  // namespace nibble
