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

}  // namespace nibble
