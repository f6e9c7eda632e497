#pragma once
// e2e_bench's process plumbing: child programs that never outlive the bench, CPU time from
// /proc, the supervisor's control socket, and the log lines programs announce readiness with.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bus/stop_signal.hpp"
#include "tests/support/read_file.hpp"
#include "tools/mdctl/control_client.hpp"

#include <nlohmann/json.hpp>

namespace mdbus::bench {

using test::read_file;

/// The last `n` lines of a file, for error messages.
inline std::string tail(const std::string& path, int n = 15) {
  const std::string s = read_file(path);
  std::size_t pos = s.size();
  for (int i = 0; i <= n && pos != std::string::npos && pos > 0; ++i) pos = s.rfind('\n', pos - 1);
  return pos == std::string::npos || pos >= s.size() ? s : s.substr(pos + 1);
}

/// A child program (fork + exec) whose stdout and stderr go to `log`. It gets `death_signal`
/// when the bench dies (PR_SET_PDEATHSIG), so even a killed bench leaves nothing running:
/// SIGTERM for the supervisor (it then stops its children and removes the bus's segments).
/// Destruction stops it: SIGTERM, then SIGKILL after the timeout.
class program {
 public:
  program(const std::vector<std::string>& argv, const std::string& log, int death_signal, int stop_timeout_ms)
      : name_(argv.at(0).substr(argv.at(0).rfind('/') + 1)), stop_timeout_ms_(stop_timeout_ms) {
    const pid_t parent = ::getpid();
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + log);
    pid_ = ::fork();
    if (pid_ < 0) {
      ::close(fd);
      throw std::runtime_error("fork failed");
    }
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, death_signal);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(fd);
  }
  program(const program&) = delete;
  program& operator=(const program&) = delete;
  ~program() { (void)stop(SIGTERM); }

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  /// Whether it still runs (reaps it when it has exited; exit_status() then tells how).
  [[nodiscard]] bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
      return false;
    }
    return true;
  }
  [[nodiscard]] int exit_status() const noexcept { return status_; }

  /// Sends `sig`, waits up to the stop timeout, then SIGKILL. Returns the exit status, or -1
  /// when it had to be killed.
  int stop(int sig) noexcept {
    if (pid_ <= 0) return status_;
    ::kill(pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(stop_timeout_ms_);
    while (running()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        status_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return status_;
  }

 private:
  std::string name_;
  int stop_timeout_ms_;
  pid_t pid_ = -1;
  int status_ = -1;
};

/// Waits until `log` has a line starting with `tag ` and returns the rest of that line;
/// throws with the log's tail when the program exits first or the deadline passes.
inline std::string wait_ready_line(program& p, const std::string& log, const std::string& tag, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const std::string s = read_file(log);
    const auto pos = s.find(tag + " ");
    const auto eol = pos == std::string::npos ? pos : s.find('\n', pos);
    if (eol != std::string::npos) return s.substr(pos + tag.size() + 1, eol - pos - tag.size() - 1);
    if (!p.running())
      throw std::runtime_error(p.name() + " exited (status " + std::to_string(p.exit_status()) + ") before " + tag +
                               "; its log:\n" + tail(log));
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error(p.name() + ": no " + tag + " within " + std::to_string(timeout_ms) + " ms; its log:\n" +
                               tail(log));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// User + system CPU time of a process (or of one thread: "/proc/<pid>/task/<tid>/stat") in
/// seconds, from /proc/<pid>/stat fields 14 and 15; -1 when it is gone.
inline double cpu_seconds(const std::string& stat_path) {
  std::ifstream in(stat_path);
  std::string line;
  if (!std::getline(in, line)) return -1;
  const auto paren = line.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(line.substr(paren + 2));  // field 3 (state) onwards
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && (fields >> f); ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}
inline double cpu_seconds(pid_t pid) { return cpu_seconds("/proc/" + std::to_string(pid) + "/stat"); }

/// One request on mdsupervisor's control socket (PROTOCOL.md), through mdctl's client.
inline nlohmann::json supervisor_request(const std::string& socket_path, const nlohmann::json& request) {
  mdctl::control_client c({socket_path, ""}, std::chrono::seconds(5));
  return c.request(nlohmann::ordered_json::parse(request.dump())).value;
}

/// Sleeps `seconds`, looking every 10 ms for a stop signal (throws "interrupted").
inline void sleep_checked(double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (stop_requested != 0) throw std::runtime_error("interrupted");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

/// The local CA and server certificate the tests use, made by `script` (scripts/gen-test-certs)
/// in `dir`; throws with the script's log when it fails or takes over 30 s.
inline void make_test_certs(const std::string& script, const std::string& dir) {
  program certs({script, dir}, dir + ".log", SIGKILL, 30000);
  for (int i = 0; i < 3000 && certs.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (certs.running() || certs.exit_status() != 0) throw std::runtime_error("gen-test-certs failed:\n" + tail(dir + ".log"));
}

/// Removes whatever segments of bus `bus` are left in /dev/shm (a supervisor that had to be
/// killed removes none); returns how many.
inline int remove_bus_segments(const std::string& bus) {
  int left = 0;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm"))
    if (e.path().filename().string().rfind("mdbus." + bus + ".", 0) == 0) {
      std::filesystem::remove(e.path());
      ++left;
    }
  return left;
}

/// Runs `f` when the scope ends, whatever happened: the bench's last line of cleanup.
class scope_exit {
 public:
  explicit scope_exit(std::function<void()> f) : f_(std::move(f)) {}
  ~scope_exit() {
    try {
      f_();
    } catch (...) {  // a destructor reports nothing: cleanup is best effort by then
    }
  }
  scope_exit(const scope_exit&) = delete;
  scope_exit& operator=(const scope_exit&) = delete;

 private:
  std::function<void()> f_;
};

}  // namespace mdbus::bench
