#pragma once
/// How a supervised process ended, told as it is: an exit status, a signal by name, or —
/// for a process the supervisor adopted (not its child, so no wait status reaches it) —
/// "unknown" with what is known instead. Pure; tested in process_exit_test.
#include <cstdint>
#include <string>

namespace mdbus::supervise {

struct exit_cause {
  enum class kind : std::uint8_t { exited, signaled, unknown };
  kind how = kind::unknown;
  int code = 0;       ///< exit status (exited) or signal number (signaled)
  bool core = false;  ///< signaled, and a core was dumped
  std::string known;  ///< unknown: what the supervisor knows instead (e.g. what the status block said)

  [[nodiscard]] bool exited_with(int status) const noexcept { return how == kind::exited && code == status; }
};

/// From a waitpid() status.
[[nodiscard]] exit_cause from_wait_status(int status) noexcept;
/// An adopted process that ended: its wait status went to its real parent.
[[nodiscard]] exit_cause unknown_exit(std::string known);

/// "exit status 2", "killed by SIGKILL (signal 9)", "killed by SIGSEGV (signal 11), core
/// dumped", "ended, exit status unknown (not our child): <known>".
[[nodiscard]] std::string describe(const exit_cause& c);

}  // namespace mdbus::supervise
