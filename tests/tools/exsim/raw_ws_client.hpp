#pragma once
// A bare RFC 6455 client over a blocking loopback socket, for what a libwebsockets client
// will not do: never answer a ping (the pong-timeout cut) and show each ping frame.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

namespace mdbus::test {

class raw_ws_client {
 public:
  struct frame {
    int opcode = -1;  ///< -1: the connection ended (EOF or reset)
    std::string payload;
  };

  raw_ws_client(int port, const std::string& path) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("raw ws: connect failed");
    const std::string req = "GET " + path +
                            " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    write_all(req);
    while (buf_.find("\r\n\r\n") == std::string::npos)
      if (!fill(std::chrono::milliseconds(5000))) throw std::runtime_error("raw ws: no handshake reply");
    const auto end = buf_.find("\r\n\r\n");
    if (buf_.compare(0, 12, "HTTP/1.1 101") != 0) throw std::runtime_error("raw ws: refused: " + buf_.substr(0, end));
    buf_.erase(0, end + 4);
  }
  raw_ws_client(const raw_ws_client&) = delete;
  raw_ws_client& operator=(const raw_ws_client&) = delete;
  ~raw_ws_client() {
    if (fd_ >= 0) close(fd_);
  }

  /// The next frame, or nullopt if none arrives within the timeout.
  std::optional<frame> read_frame(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto f = parse()) return f;
      if (eof_) return frame{};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      fill(left);
    }
  }

  /// Sends a masked frame (clients must mask, RFC 6455 §5.3).
  void send(int opcode, const std::string& payload) {
    std::string f;
    f.push_back(static_cast<char>(0x80 | opcode));
    if (payload.size() < 126) {
      f.push_back(static_cast<char>(0x80 | payload.size()));
    } else {
      f.push_back(static_cast<char>(0x80 | 126));
      f.push_back(static_cast<char>(payload.size() >> 8));
      f.push_back(static_cast<char>(payload.size() & 0xFF));
    }
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    f.append(mask, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    write_all(f);
  }

 private:
  void write_all(const std::string& s) {
    if (::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(s.size()))
      throw std::runtime_error("raw ws: send failed");
  }
  bool fill(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char b[65536];
    const ssize_t n = recv(fd_, b, sizeof b, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(b, static_cast<std::size_t>(n));
    return true;
  }
  std::optional<frame> parse() {
    if (buf_.size() < 2) return std::nullopt;
    const auto* p = reinterpret_cast<const unsigned char*>(buf_.data());
    std::size_t len = p[1] & 0x7F, hdr = 2;
    if (len == 126) {
      if (buf_.size() < 4) return std::nullopt;
      len = (std::size_t{p[2]} << 8) | p[3];
      hdr = 4;
    } else if (len == 127) {
      if (buf_.size() < 10) return std::nullopt;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      hdr = 10;
    }
    if (buf_.size() < hdr + len) return std::nullopt;
    frame f{p[0] & 0x0F, buf_.substr(hdr, len)};
    buf_.erase(0, hdr + len);
    return f;
  }

  int fd_ = -1;
  bool eof_ = false;
  std::string buf_;
};

}  // namespace mdbus::test
