#include "bus/supervisor/mdsupervisor/control_server.hpp"

#include "bus/runtime_dir.hpp"

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace mdbus::supervise {
namespace {

constexpr std::size_t kMaxLine = 64 * 1024;
constexpr std::size_t kMaxClients = 32;

sockaddr_un address_of(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) throw std::runtime_error("control socket path too long: " + path);
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

/// Who accepts connections on the socket file at `path` (its listener's credentials), if anybody.
std::optional<ucred> listener_of(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  const sockaddr_un a = address_of(path);
  std::optional<ucred> who;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) cred = {0, static_cast<uid_t>(-1), static_cast<gid_t>(-1)};
    who = cred;
  }
  ::close(fd);
  return who;
}

/// Writes the response; a client that stops reading gets at most ~1 s of waiting (the
/// supervisor's loop must not hang on it), then the rest is dropped.
void write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  int waits = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && ++waits <= 1000) {
      usleep(1000);
      continue;
    }
    return;
  }
}

}  // namespace

control_server::control_server(std::string path, handler h) : path_(std::move(path)), handler_(std::move(h)) {
  // The directory first: in one that only we can write, nobody else can have taken the name
  // (a shared /tmp would let any local user listen there first).
  if (auto why = ensure_private_dir(parent_dir(path_), true)) throw std::runtime_error("control socket " + path_ + ": " + *why);
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) throw std::runtime_error("control socket " + path_ + ": exists and is not a socket");
    if (st.st_uid != ::geteuid())
      throw std::runtime_error("control socket " + path_ + ": owned by uid " + std::to_string(st.st_uid) + ", not ours (uid " +
                               std::to_string(::geteuid()) + "), refused");
    if (const auto who = listener_of(path_)) {
      if (who->uid != ::geteuid())
        throw std::runtime_error("control socket " + path_ + ": a process of uid " + std::to_string(who->uid) + " (pid " +
                                 std::to_string(who->pid) + ") answers on it, refused");
      throw std::runtime_error("control socket " + path_ + ": another mdsupervisor answers on it (pid " + std::to_string(who->pid) + ")");
    }
    ::unlink(path_.c_str());  // a dead supervisor's
  }
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) throw std::runtime_error("control socket: socket(): " + std::string(std::strerror(errno)));
  const sockaddr_un a = address_of(path_);
  // Owner only from the first moment: the umask covers the window before the chmod.
  const mode_t old = ::umask(0177);
  const int rc = ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  ::umask(old);
  if (rc != 0 || ::chmod(path_.c_str(), 0600) != 0 || ::listen(listen_fd_, 16) != 0) {
    const std::string why = std::strerror(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    throw std::runtime_error("control socket " + path_ + ": " + why);
  }
}

control_server::~control_server() {
  for (auto& c : clients_) ::close(c.fd);
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
}

void control_server::drop(std::size_t i) {
  ::close(clients_[i].fd);
  clients_.erase(clients_.begin() + static_cast<std::ptrdiff_t>(i));
}

void control_server::poll_once() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != ::geteuid() ||
        clients_.size() >= kMaxClients) {
      ++refused_;
      ::close(fd);
      continue;
    }
    clients_.push_back({fd, {}});
  }
  for (std::size_t i = 0; i < clients_.size();) {
    char buf[4096];
    bool closed = false;
    for (;;) {
      const ssize_t n = ::recv(clients_[i].fd, buf, sizeof buf, 0);
      if (n > 0) {
        clients_[i].in.append(buf, static_cast<std::size_t>(n));
        if (clients_[i].in.size() > kMaxLine) {
          write_all(clients_[i].fd, R"({"ok":false,"error":"request longer than 64 KiB"})" "\n");
          closed = true;
          break;
        }
        continue;
      }
      if (n == 0) closed = true;  // the client is done; answer what it sent first
      else if (errno == EINTR) continue;
      break;
    }
    std::string& in = clients_[i].in;
    std::size_t eol;
    while ((eol = in.find('\n')) != std::string::npos) {
      const std::string line = in.substr(0, eol);
      in.erase(0, eol + 1);
      if (line.empty()) continue;
      write_all(clients_[i].fd, handler_(line) + "\n");
    }
    if (closed) {
      drop(i);
      continue;
    }
    ++i;
  }
}

}  // namespace mdbus::supervise
