#pragma once
/// The supervisor's control socket (PROTOCOL.md): a unix stream socket, mode 0600, every
/// peer's uid checked with SO_PEERCRED; one JSON request per line, one JSON response per
/// line. Non-blocking, driven from the supervisor's loop by poll_once(): no thread.
#include <functional>
#include <string>
#include <vector>

namespace mdbus::supervise {

class control_server {
 public:
  /// Handles one request line, returns the response line (without the newline).
  using handler = std::function<std::string(const std::string& request)>;

  /// Binds `path`. Its directory must be ours and not group/world-writable (created 0700 when
  /// missing: bus/runtime_dir.hpp). An existing socket file of ours nobody answers on is
  /// replaced; one somebody answers on is an error (another supervisor, named by pid), as is
  /// one of another uid. Throws std::runtime_error with one line.
  control_server(std::string path, handler h);
  ~control_server();
  control_server(const control_server&) = delete;
  control_server& operator=(const control_server&) = delete;

  /// Accept, read, answer what is ready. Never blocks.
  void poll_once();
  [[nodiscard]] const std::string& path() const noexcept { return path_; }
  [[nodiscard]] std::uint64_t refused_peers() const noexcept { return refused_; }

 private:
  struct client {
    int fd = -1;
    std::string in;
  };
  void drop(std::size_t i);

  std::string path_;
  handler handler_;
  int listen_fd_ = -1;
  std::vector<client> clients_;
  std::uint64_t refused_ = 0;
};

}  // namespace mdbus::supervise
