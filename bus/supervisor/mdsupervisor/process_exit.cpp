#include "bus/supervisor/mdsupervisor/process_exit.hpp"

#include <cstring>
#include <sys/wait.h>

namespace mdbus::supervise {

exit_cause from_wait_status(int status) noexcept {
  exit_cause c;
  if (WIFEXITED(status)) {
    c.how = exit_cause::kind::exited;
    c.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    c.how = exit_cause::kind::signaled;
    c.code = WTERMSIG(status);
    c.core = WCOREDUMP(status);
  }
  return c;
}

exit_cause unknown_exit(std::string known) {
  exit_cause c;
  c.known = std::move(known);
  return c;
}

std::string describe(const exit_cause& c) {
  switch (c.how) {
    case exit_cause::kind::exited: return "exit status " + std::to_string(c.code);
    case exit_cause::kind::signaled: {
      const char* abbrev = sigabbrev_np(c.code);  // "KILL"; nullptr for an unknown number
      std::string s = "killed by " + (abbrev != nullptr ? "SIG" + std::string(abbrev) : std::string("an unknown signal")) +
                      " (signal " + std::to_string(c.code) + ")";
      if (c.core) s += ", core dumped";
      return s;
    }
    case exit_cause::kind::unknown: break;
  }
  return "ended, exit status unknown (not our child)" + (c.known.empty() ? std::string() : ": " + c.known);
}

}  // namespace mdbus::supervise
