#include "tools/mdctl/control_client.hpp"

#include "tools/mdctl/status_table.hpp"

#include "bus/runtime_dir.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

namespace mdbus::mdctl {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

std::string default_socket_path(const std::string& bus) { return default_control_socket(bus); }

std::string control_client::who() const {
  return target_.bus.empty() ? "supervisor at " + target_.path : "supervisor of bus " + target_.bus;
}

std::string control_client::timeout_text() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(timeout_.count()) / 1000.0);
  return buf;
}

control_client::control_client(control_target target, std::chrono::milliseconds timeout)
    : target_(std::move(target)), timeout_(timeout) {
  const std::string& path = target_.path;
  const std::string no_sup = target_.bus.empty() ? "no supervisor: " : "no supervisor for bus " + target_.bus + ": ";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    throw client_error(kExitUsage, "socket path \"" + fit_text(path, 60) + "\" is empty or longer than " +
                                       std::to_string(sizeof addr.sun_path - 1) + " bytes");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  // stat first: "does not exist" and "is not a socket" say more than connect's errno would.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) throw client_error(kExitNoSupervisor, no_sup + path + " does not exist");
    if (err == EACCES) throw client_error(kExitPermission, "permission denied: " + path + " (a supervisor of another user?)");
    throw client_error(kExitNoSupervisor, no_sup + path + ": " + errno_text(err));
  }
  if (!S_ISSOCK(st.st_mode)) throw client_error(kExitNoSupervisor, no_sup + path + " is not a socket");

  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) throw client_error(kExitTimeout, "socket(): " + errno_text(errno));
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) break;
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == ECONNREFUSED)
      throw client_error(kExitNoSupervisor, no_sup + path + " not accepting connections (stale socket?)");
    if (err == EACCES || err == EPERM)
      throw client_error(kExitPermission, "permission denied: " + path + " (a supervisor of another user?)");
    if (err == ENOENT) throw client_error(kExitNoSupervisor, no_sup + path + " does not exist");
    // A non-blocking unix connect fails with EAGAIN while the listen queue is full (a busy or
    // hung supervisor): retry until the deadline instead of blocking without one.
    if (err != EAGAIN && err != EINTR) throw client_error(kExitNoSupervisor, no_sup + "connect " + path + ": " + errno_text(err));
    if (stop_ != nullptr && *stop_ != 0) throw client_error(kExitInterrupted, "interrupted");
    if (std::chrono::steady_clock::now() >= deadline)
      throw client_error(kExitTimeout, who() + " did not accept the connection within " + timeout_text() + " (" + path + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) throw client_error(kExitTimeout, "socket(): " + errno_text(errno));
  }
  // Before a byte is sent: whoever listens must be our own user. The kernel records the
  // listener's credentials at listen(), so an impostor cannot fake them; a socket of another
  // user's process (one that took the path first, or one root lets us reach) gets nothing.
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd_, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw client_error(kExitPermission, "cannot check who answers on " + path + " (SO_PEERCRED: " + errno_text(err) + "), nothing sent");
  }
  if (cred.uid != ::geteuid()) {
    ::close(fd_);
    fd_ = -1;
    throw client_error(kExitPermission, "refused: " + path + " is answered by uid " + std::to_string(cred.uid) + " (pid " +
                                            std::to_string(cred.pid) + "), not by this user (uid " +
                                            std::to_string(::geteuid()) + "); nothing sent");
  }
}

control_client::~control_client() noexcept {
  if (fd_ >= 0) ::close(fd_);
}

void control_client::wait_for(short events, std::chrono::steady_clock::time_point deadline, const char* doing) {
  for (;;) {
    if (stop_ != nullptr && *stop_ != 0) throw client_error(kExitInterrupted, "interrupted");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      throw client_error(kExitTimeout, "no reply from " + who() + " within " + timeout_text() + " (" + doing + ", " +
                                           target_.path + ")");
    pollfd p{fd_, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count() + 1, 100)));
    if (n > 0) return;  // ready, or an error/hang-up the next read/write reports
    if (n < 0 && errno != EINTR) throw client_error(kExitTimeout, std::string("poll: ") + errno_text(errno));
  }
}

reply control_client::request(const nlohmann::ordered_json& req) {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  const std::string line = req.dump() + "\n";
  for (std::size_t sent = 0; sent < line.size();) {
    // MSG_NOSIGNAL: a supervisor that closed on us is an error to report, not a SIGPIPE.
    const ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      wait_for(POLLOUT, deadline, "sending the request");
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
      throw client_error(kExitBadReply, who() + " closed the connection before the request was sent (" + target_.path + ")");
    throw client_error(kExitTimeout, "send to " + target_.path + ": " + errno_text(errno));
  }

  std::size_t nl;
  while ((nl = buffer_.find('\n')) == std::string::npos) {
    if (buffer_.size() > kMaxReplyBytes)
      throw client_error(kExitBadReply, "bad reply from " + who() + ": a line longer than " +
                                            std::to_string(kMaxReplyBytes) + " bytes");
    char buf[16384];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      buffer_.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0 || (errno == ECONNRESET)) {
      // The supervisor closes a peer of another uid without a word (SO_PEERCRED check).
      throw client_error(kExitBadReply, who() + " closed the connection without " +
                                            (buffer_.empty() ? "replying" : "finishing its reply line") +
                                            " (" + target_.path + "; not the supervisor's user?)");
    }
    if (errno == EAGAIN || errno == EINTR) {
      wait_for(POLLIN, deadline, "waiting for the reply");
      continue;
    }
    throw client_error(kExitTimeout, "recv from " + target_.path + ": " + errno_text(errno));
  }
  reply r;
  r.line = buffer_.substr(0, nl);
  buffer_.erase(0, nl + 1);
  if (!r.line.empty() && r.line.back() == '\r') r.line.pop_back();

  r.value = nlohmann::json::parse(r.line, nullptr, /*allow_exceptions=*/false);
  if (r.value.is_discarded())
    throw client_error(kExitBadReply, "bad reply from " + who() + ": not JSON: " + fit_text(r.line, 80));
  const auto ok = r.value.is_object() ? r.value.find("ok") : r.value.end();
  if (!r.value.is_object() || ok == r.value.end() || !ok->is_boolean())
    throw client_error(kExitBadReply, "bad reply from " + who() + ": no boolean \"ok\": " + fit_text(r.line, 80));
  return r;
}

}  // namespace mdbus::mdctl
