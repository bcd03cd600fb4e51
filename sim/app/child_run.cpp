#include "sim/app/child_run.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

extern char** environ;  // handed to the child runs unchanged

#include "sim/error.h"

namespace nibble {

pid_t spawn_self(const std::vector<std::string>& args, const std::filesystem::path& err_file,
                 const std::string& what) {
  std::vector<std::string> owned = args;
  std::vector<char*> argv;
  for (std::string& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&files, STDERR_FILENO, err_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // The parent ignores Ctrl-C while the runs go (they handle it); they must not inherit that.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, "/proc/self/exe", &files, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&files);
  if (rc != 0) throw std::runtime_error(what + ": cannot start: " + std::strerror(rc));
  return pid;
}

int wait_child(pid_t pid) {
  int raw = 0;
  while (waitpid(pid, &raw, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
  }
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
}

std::string first_error_line(const std::filesystem::path& err_file) {
  std::ifstream in(err_file);
  std::string line;
  while (std::getline(in, line) && line.find_first_not_of(" \t\r") == std::string::npos) {
  }
  if (line.find_first_not_of(" \t\r") == std::string::npos) return "";
  for (const char* prefix : {"nibble: error: ", "nibble: "}) {
    if (line.rfind(prefix, 0) == 0) return line.substr(std::strlen(prefix));
  }
  return line;
}

IgnoreInterrupts::IgnoreInterrupts() {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGINT, &ignore, &saved_);
}

IgnoreInterrupts::~IgnoreInterrupts() { sigaction(SIGINT, &saved_, nullptr); }

Staging::Staging(const std::filesystem::path& dir, const std::string& name,
                 const std::filesystem::path& inner)
    : path_(dir / name) {
  namespace fs = std::filesystem;
  for (fs::path p = dir; !p.empty() && !fs::exists(p); p = p.parent_path()) {
    created_.push_back(p);
    if (p == p.parent_path()) break;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);  // left by a command that was killed
  const fs::path made = inner.empty() ? path_ : path_ / inner;
  fs::create_directories(made, ec);
  if (ec || !fs::is_directory(made)) {
    const std::string why = ec ? ec.message() : "not a directory";
    cleanup();
    throw InputError(dir.string() + ": cannot create the output directory (" + why + ")");
  }
}

Staging::~Staging() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (!kept_) cleanup();
}

void Staging::cleanup() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  for (const auto& p : created_) std::filesystem::remove(p, ec);  // deepest first; only if empty
}

}  // namespace nibble
