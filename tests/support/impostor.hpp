#pragma once
// Another local user for the hijack tests (issue 17): uid/gid 65534 ("nobody", which Debian
// has, so no account is created or left behind). The impostor's actions run in a forked
// child that drops to that uid; tests that need it are skipped (exit 77, SKIP_RETURN_CODE in
// CMake) with a message when the test does not run as root.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace mdbus::test {

inline constexpr uid_t kImpostorUid = 65534;
inline constexpr int kSkipExitCode = 77;  // SKIP_RETURN_CODE of the test executables that use this

/// Skips the whole test (CTest shows it as skipped) unless we are root, who alone can act as
/// a second user.
inline void require_root_or_skip(const char* what) {
  if (::geteuid() == 0) return;
  MESSAGE("skipped: " << std::string(what) << " needs root to act as a second user (uid " << kImpostorUid << ")");
  std::printf("SKIPPED: %s needs root to act as a second user (uid %u)\n", what, static_cast<unsigned>(kImpostorUid));
  std::fflush(stdout);
  std::_Exit(kSkipExitCode);
}

/// Drops this (forked) process to the impostor's uid and gid, no supplementary groups.
inline bool become_impostor() noexcept {
  return ::setgroups(0, nullptr) == 0 && ::setresgid(kImpostorUid, kImpostorUid, kImpostorUid) == 0 &&
         ::setresuid(kImpostorUid, kImpostorUid, kImpostorUid) == 0 && ::geteuid() == kImpostorUid;
}

/// Runs `fn()` in a forked child as the impostor; its int result is the child's exit status
/// (126: the identity switch failed). Waits with a deadline; -1 if the child had to be killed.
template <class F>
int run_as_impostor(F&& fn, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (!become_impostor()) ::_exit(126);
    ::umask(0);  // the impostor makes what it makes world-accessible
    ::_exit(fn());
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

/// An impostor process listening on a unix socket at `path` (its directory must let uid 65534
/// create it). It accepts every connection and counts the bytes each one sends until the peer
/// closes; `bytes_received()` says how many arrived over all connections so far. Killed and
/// reaped (and its socket removed) when this object ends.
class impostor_listener {
 public:
  explicit impostor_listener(std::string path) : path_(std::move(path)) {
    int ready[2];
    REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(report_, O_CLOEXEC | O_NONBLOCK) == 0);
    std::fflush(nullptr);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::close(ready[0]);
      ::close(report_[0]);
      if (!become_impostor()) ::_exit(126);
      ::umask(0);
      const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::memcpy(a.sun_path, path_.c_str(), path_.size() + 1);
      const char ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd, 16) == 0 ? 'y' : 'n';
      (void)!::write(ready[1], &ok, 1);
      if (ok != 'y') ::_exit(1);
      for (;;) {
        const int c = ::accept(fd, nullptr, nullptr);
        if (c < 0) continue;
        std::uint64_t n = 0;
        char buf[4096];
        for (;;) {
          pollfd p{c, POLLIN, 0};
          if (::poll(&p, 1, 5000) <= 0) break;
          const ssize_t r = ::read(c, buf, sizeof buf);
          if (r <= 0) break;
          n += static_cast<std::uint64_t>(r);
        }
        ::close(c);
        (void)!::write(report_[1], &n, sizeof n);  // one report per connection, when it ends
      }
    }
    ::close(ready[1]);
    ::close(report_[1]);
    char ok = 'n';
    pollfd p{ready[0], POLLIN, 0};
    if (::poll(&p, 1, 10000) == 1) (void)!::read(ready[0], &ok, 1);
    ::close(ready[0]);
    listening_ = ok == 'y';
  }
  ~impostor_listener() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    ::close(report_[0]);
    ::unlink(path_.c_str());
  }
  impostor_listener(const impostor_listener&) = delete;
  impostor_listener& operator=(const impostor_listener&) = delete;

  [[nodiscard]] bool listening() const noexcept { return listening_; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// Connections that ended so far and the bytes they sent in all.
  std::pair<int, std::uint64_t> reports() {
    std::uint64_t n = 0;
    while (::read(report_[0], &n, sizeof n) == static_cast<ssize_t>(sizeof n)) {
      ++connections_;
      bytes_ += n;
    }
    return {connections_, bytes_};
  }

 private:
  std::string path_;
  pid_t pid_ = -1;
  int report_[2] = {-1, -1};
  bool listening_ = false;
  int connections_ = 0;
  std::uint64_t bytes_ = 0;
};

/// A directory under /tmp that the impostor made first (as if it had got there before us),
/// with mode `mode`; removed with everything in it when this object ends.
class impostor_dir {
 public:
  impostor_dir(const std::string& tag, mode_t mode) {
    static int counter = 0;
    path_ = "/tmp/mdbus-hijack-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    std::filesystem::remove_all(path_);
    const int rc = run_as_impostor([&] { return ::mkdir(path_.c_str(), mode) == 0 && ::chmod(path_.c_str(), mode) == 0 ? 0 : 1; });
    REQUIRE_MESSAGE(rc == 0, "uid " << kImpostorUid << " could not make " << path_);
  }
  ~impostor_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  impostor_dir(const impostor_dir&) = delete;
  impostor_dir& operator=(const impostor_dir&) = delete;

  [[nodiscard]] const std::string& str() const noexcept { return path_; }
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace mdbus::test
