#pragma once
// A test double of the supervisor's control socket, for mdctl's error and output cases ONLY:
// a thread that listens on a unix socket, records every request line it gets and answers each
// with the next scripted reply. The real supervisor's behaviour is tested with mdsupervisor.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mdbus::test {

class fake_supervisor {
 public:
  /// A scripted reply: sent verbatim (include the '\n'), or one of these two actions.
  static inline const std::string kCloseWithoutReply = "\x01close";
  static inline const std::string kNeverReply = "\x01hang";

  /// Listens on `path` and answers the i-th request with script[i]; past the end of the script
  /// the last entry is repeated. Connections are served one after another.
  fake_supervisor(std::string path, std::vector<std::string> script) : path_(std::move(path)), script_(std::move(script)) {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path) throw std::runtime_error("path too long: " + path_);
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    ::unlink(path_.c_str());
    if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 8) != 0)
      throw std::runtime_error("bind/listen " + path_ + ": " + std::strerror(errno));
    thread_ = std::thread([this] { serve(); });
  }
  ~fake_supervisor() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
  fake_supervisor(const fake_supervisor&) = delete;
  fake_supervisor& operator=(const fake_supervisor&) = delete;

  /// Every request line received so far (without '\n'), in order.
  [[nodiscard]] std::vector<std::string> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  /// Connections accepted so far.
  [[nodiscard]] int connections() const { return connections_.load(); }

 private:
  /// Waits (in 20 ms steps, so the destructor is never kept waiting) until fd is readable.
  bool readable(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) return true;
    }
    return false;
  }

  void serve() {
    while (readable(listen_fd_)) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      serve_connection(fd);
      ::close(fd);
    }
  }

  void serve_connection(int fd) {
    std::string buf;
    for (;;) {
      std::size_t nl;
      while ((nl = buf.find('\n')) == std::string::npos) {
        if (!readable(fd)) return;
        char tmp[4096];
        const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) return;  // the client is gone
        buf.append(tmp, static_cast<std::size_t>(n));
      }
      std::string answer;
      {
        std::lock_guard lock(mu_);
        requests_.push_back(buf.substr(0, nl));
        answer = script_.empty() ? kCloseWithoutReply : script_[std::min(next_++, script_.size() - 1)];
      }
      buf.erase(0, nl + 1);
      if (answer == kCloseWithoutReply) return;
      if (answer == kNeverReply) {
        while (readable(fd)) {  // hold the connection open, answer nothing, until the client leaves
          char tmp[256];
          if (::recv(fd, tmp, sizeof tmp, 0) <= 0) return;
        }
        return;
      }
      if (::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(answer.size())) return;
    }
  }

  std::string path_;
  std::vector<std::string> script_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<std::string> requests_;
  std::size_t next_ = 0;
  std::thread thread_;
};

}  // namespace mdbus::test
