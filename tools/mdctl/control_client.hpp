#pragma once
/// The client side of the supervisor's control socket (bus/supervisor/PROTOCOL.md): where the
/// socket is, connecting to it, and one request line → one reply line with a deadline. Every
/// failure is a client_error whose what() is the one line mdctl prints and whose exit_code() is
/// mdctl's exit status for it (README.md, "Exit codes").
#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>

namespace mdbus::mdctl {

// mdctl's exit codes, one per kind of failure (shared with the other tools where they overlap:
// 2 usage, 3 nothing there, 5 permission denied).
constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;        ///< the supervisor answered "ok": false
constexpr int kExitUsage = 2;          ///< bad command line, venue, slot or config
constexpr int kExitNoSupervisor = 3;   ///< no socket, nobody listening, not a socket
constexpr int kExitBadReply = 4;       ///< reply not JSON / not an object with "ok" / cut off
constexpr int kExitPermission = 5;     ///< the socket, or the process answering on it, belongs to another user
constexpr int kExitTimeout = 6;        ///< no complete reply in time, or an I/O error on the socket
constexpr int kExitInterrupted = 130;  ///< SIGINT / SIGTERM while waiting

/// A failure talking to the supervisor: one line, and the exit code it maps to.
class client_error : public std::runtime_error {
 public:
  client_error(int exit_code, const std::string& what) : std::runtime_error(what), exit_code_(exit_code) {}
  [[nodiscard]] int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

/// Where the supervisor listens, and how to name it in messages.
struct control_target {
  std::string path;  ///< the unix socket
  std::string bus;   ///< the bus, when known (for "no supervisor for bus sim: …")
};

/// "<runtime dir>/<bus>.ctl", PROTOCOL.md's default path (bus/runtime_dir.hpp: the same the
/// config loader fills in for the supervisor).
[[nodiscard]] std::string default_socket_path(const std::string& bus);

/// The longest reply line accepted. PROTOCOL.md caps a line at 64 KiB; the client is lenient
/// (a metrics text may outgrow that before the supervisor is told) but not unbounded.
inline constexpr std::size_t kMaxReplyBytes = 4 << 20;

/// A reply: the line as received (what `--json` prints, byte for byte) and parsed.
struct reply {
  nlohmann::json value;  ///< an object with a boolean "ok"
  std::string line;      ///< without its '\n'
  [[nodiscard]] bool ok() const { return value.at("ok").get<bool>(); }
};

/// One connection to the supervisor; several requests may go over it, in order.
class control_client {
 public:
  /// Connects to `target.path` (waiting up to `timeout` when the listen queue is full) and
  /// checks with SO_PEERCRED that the listener runs as our effective uid before anything is
  /// sent. Throws client_error: kExitNoSupervisor (missing, refused, not a socket),
  /// kExitPermission (no access, or a listener of another uid), kExitUsage (path longer than
  /// a unix socket address holds), kExitTimeout.
  control_client(control_target target, std::chrono::milliseconds timeout);
  ~control_client() noexcept;
  control_client(const control_client&) = delete;
  control_client& operator=(const control_client&) = delete;

  /// Sends `request` as one line and returns the reply line, also parsed. The reply must be a JSON
  /// object with a boolean "ok" — otherwise kExitBadReply; no complete line within the timeout
  /// → kExitTimeout. The "ok" value is not judged here.
  [[nodiscard]] reply request(const nlohmann::ordered_json& request);

  /// While waiting, a nonzero `*flag` (set by a signal handler) ends the wait with
  /// kExitInterrupted. The handler must be installed without SA_RESTART to cut a wait short.
  void set_interrupt_flag(const volatile std::sig_atomic_t* flag) noexcept { stop_ = flag; }

  [[nodiscard]] const control_target& target() const noexcept { return target_; }

 private:
  [[nodiscard]] std::string who() const;
  [[nodiscard]] std::string timeout_text() const;
  void wait_for(short events, std::chrono::steady_clock::time_point deadline, const char* doing);

  control_target target_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::string buffer_;  // bytes received after the last reply line
  const volatile std::sig_atomic_t* stop_ = nullptr;
};

}  // namespace mdbus::mdctl
