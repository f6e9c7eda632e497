#pragma once
// A blocking HTTP/1.1 client over loopback TCP for exsim's plain REST and control endpoints.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace mdbus::test {

struct http_response {
  int status = 0;
  std::string head;  ///< status line and headers
  std::string body;
  /// Value of header `name` (case-insensitive), or "" if absent.
  [[nodiscard]] std::string header(std::string name) const {
    auto lower = [](std::string t) {
      for (auto& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return t;
    };
    const std::string h = lower(head);
    const auto at = h.find("\r\n" + lower(name) + ":");
    if (at == std::string::npos) return {};
    auto from = at + 3 + name.size();
    while (from < head.size() && head[from] == ' ') ++from;
    return head.substr(from, head.find("\r\n", from) - from);
  }
  [[nodiscard]] nlohmann::json json() const { return nlohmann::json::parse(body); }
};

/// Sends one request (Connection: close) and reads the whole reply. Throws on socket errors.
/// `send_length` false leaves the header out (as `curl -X POST` without data does).
inline http_response http_request(int port, const std::string& method, const std::string& target,
                                  const std::string& body = {}, bool send_length = true) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed");
  }
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (send_length && (!body.empty() || method == "POST"))
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    close(fd);
    throw std::runtime_error("send failed");
  }
  std::string raw;
  char buf[65536];
  ssize_t n;
  http_response r;
  std::size_t content_length = std::string::npos, header_end = std::string::npos;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
    raw.append(buf, static_cast<std::size_t>(n));
    if (header_end == std::string::npos && (header_end = raw.find("\r\n\r\n")) != std::string::npos) {
      const auto cl = raw.find("content-length:");
      const auto cl2 = raw.find("Content-Length:");
      const auto at = cl != std::string::npos ? cl : cl2;
      if (at != std::string::npos && at < header_end) content_length = std::stoul(raw.substr(at + 15));
    }
    if (header_end != std::string::npos && content_length != std::string::npos &&
        raw.size() >= header_end + 4 + content_length)
      break;
  }
  close(fd);
  if (raw.size() < 12) throw std::runtime_error("short HTTP reply: " + raw);
  r.status = std::stoi(raw.substr(9, 3));
  if (header_end != std::string::npos) {
    r.head = raw.substr(0, header_end);
    r.body = raw.substr(header_end + 4);
  }
  if (content_length != std::string::npos && r.body.size() > content_length) r.body.resize(content_length);
  return r;
}

}  // namespace mdbus::test
