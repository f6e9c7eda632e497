#include "bus/supervisor/metrics_server.hpp"

#include "support/eventually.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

using namespace mdbus;
using namespace mdbus::supervise;

namespace {

/// One HTTP/1.1 request over loopback, stepped without blocking so the test thread can
/// service the server in between (the server has no thread of its own).
class loopback_request {
 public:
  /// `keep_alive` false asks the server to close after the reply; true keeps the connection
  /// for next() (as Prometheus does between scrapes).
  loopback_request(int port, const std::string& method, const std::string& target, bool keep_alive = false)
      : keep_alive_(keep_alive) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // A loopback connect completes in the kernel's backlog; nobody needs to accept yet.
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed");
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    next(method, target);
  }
  ~loopback_request() {
    if (fd_ >= 0) ::close(fd_);
  }
  loopback_request(const loopback_request&) = delete;
  loopback_request& operator=(const loopback_request&) = delete;

  /// Starts another request on the same connection (after the previous reply is complete).
  void next(const std::string& method, const std::string& target) {
    request_ = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    request_ += keep_alive_ ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    if (method == "POST") request_ += "Content-Length: 0\r\n";
    request_ += "\r\n";
    sent_ = 0;
    raw_.clear();
  }
  [[nodiscard]] bool closed() const noexcept { return eof_; }

  /// Sends and reads what it can; true once the whole reply is in (EOF, or Content-Length met).
  bool step() {
    while (sent_ < request_.size()) {
      const ssize_t n = ::send(fd_, request_.data() + sent_, request_.size() - sent_, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent_ += static_cast<std::size_t>(n);
    }
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        raw_.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) eof_ = true;
      break;
    }
    return eof_ || complete();
  }

  [[nodiscard]] int status() const { return raw_.size() >= 12 ? std::stoi(raw_.substr(9, 3)) : 0; }
  /// A header's value (name matched case-insensitively), "" when absent.
  [[nodiscard]] std::string header(const std::string& name) const {
    const std::string head = lower(raw_.substr(0, raw_.find("\r\n\r\n")));
    const auto at = head.find("\r\n" + lower(name) + ":");
    if (at == std::string::npos) return {};
    auto v = raw_.find_first_not_of(' ', at + 3 + name.size());
    return raw_.substr(v, raw_.find("\r\n", v) - v);
  }
  [[nodiscard]] std::string body() const {
    const auto at = raw_.find("\r\n\r\n");
    return at == std::string::npos ? std::string() : raw_.substr(at + 4);
  }

 private:
  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  [[nodiscard]] bool complete() const {
    const auto at = raw_.find("\r\n\r\n");
    if (at == std::string::npos) return false;
    const std::string length = header("Content-Length");
    return !length.empty() && raw_.size() >= at + 4 + std::stoul(length);
  }

  bool keep_alive_ = false;
  int fd_ = -1;
  std::string request_;
  std::size_t sent_ = 0;
  std::string raw_;
  bool eof_ = false;
};

/// Services the server from this thread until the request is answered (20 s deadline).
bool exchange(metrics_server& srv, loopback_request& req) {
  return test::eventually([&] {
    srv.service(5);
    return req.step();
  });
}

struct quiet_lws {
  quiet_lws() { lws_set_log_level(LLL_ERR, nullptr); }
};
const quiet_lws kQuiet;

}  // namespace

TEST_CASE("metrics_server: GET /metrics answers 200 with the exposition content type and the callback's text") {
  const auto test_thread = std::this_thread::get_id();
  std::thread::id callback_thread;
  int calls = 0;
  metrics_server srv(0, [&] {
    callback_thread = std::this_thread::get_id();
    ++calls;
    return std::string("# HELP mdbus_x_total X.\n# TYPE mdbus_x_total counter\nmdbus_x_total{bus=\"t\"} ") +
           std::to_string(calls) + "\n";
  });
  REQUIRE(srv.port() > 0);

  loopback_request req(srv.port(), "GET", "/metrics");
  REQUIRE(exchange(srv, req));
  CHECK(req.status() == 200);
  CHECK(req.header("Content-Type") == "text/plain; version=0.0.4");
  CHECK(req.body() == "# HELP mdbus_x_total X.\n# TYPE mdbus_x_total counter\nmdbus_x_total{bus=\"t\"} 1\n");
  CHECK(calls == 1);
  CHECK(callback_thread == test_thread);
  CHECK(srv.scrapes() == 1);

  // Each scrape renders afresh.
  loopback_request again(srv.port(), "GET", "/metrics");
  REQUIRE(exchange(srv, again));
  CHECK(again.status() == 200);
  CHECK(again.body().find("mdbus_x_total{bus=\"t\"} 2\n") != std::string::npos);
  CHECK(srv.scrapes() == 2);
}

TEST_CASE("metrics_server: a kept-alive connection is answered again (as Prometheus scrapes)") {
  int calls = 0;
  metrics_server srv(0, [&] { return "mdbus_scrape " + std::to_string(++calls) + "\n"; });
  loopback_request req(srv.port(), "GET", "/metrics", true);
  REQUIRE(exchange(srv, req));
  CHECK(req.status() == 200);
  CHECK(req.body() == "mdbus_scrape 1\n");
  CHECK_FALSE(req.closed());
  req.next("GET", "/metrics");
  REQUIRE(exchange(srv, req));
  CHECK(req.status() == 200);
  CHECK(req.body() == "mdbus_scrape 2\n");
  req.next("GET", "/nope");
  REQUIRE(exchange(srv, req));
  CHECK(req.status() == 404);
  CHECK(calls == 2);
}

TEST_CASE("metrics_server: other paths are 404, other methods 405, and neither calls the callback") {
  int calls = 0;
  metrics_server srv(0, [&] {
    ++calls;
    return std::string("x\n");
  });
  loopback_request other(srv.port(), "GET", "/other");
  REQUIRE(exchange(srv, other));
  CHECK(other.status() == 404);
  loopback_request root(srv.port(), "GET", "/");
  REQUIRE(exchange(srv, root));
  CHECK(root.status() == 404);
  loopback_request post(srv.port(), "POST", "/metrics");
  REQUIRE(exchange(srv, post));
  CHECK(post.status() == 405);
  CHECK(calls == 0);
  CHECK(srv.scrapes() == 0);
}

TEST_CASE("metrics_server: a large body arrives whole (written in chunks)") {
  std::string big;
  for (int i = 0; big.size() < 300'000; ++i) big += "mdbus_line{bus=\"t\",i=\"" + std::to_string(i) + "\"} 1\n";
  metrics_server srv(0, [&] { return big; });
  loopback_request req(srv.port(), "GET", "/metrics");
  REQUIRE(exchange(srv, req));
  CHECK(req.status() == 200);
  CHECK(req.body().size() == big.size());
  CHECK(req.body() == big);
}

TEST_CASE("metrics_server: a callback that throws gives 500 and the server keeps serving") {
  bool fail = true;
  metrics_server srv(0, [&]() -> std::string {
    if (fail) throw std::runtime_error("counters segment gone");
    return "ok\n";
  });
  loopback_request bad(srv.port(), "GET", "/metrics");
  REQUIRE(exchange(srv, bad));
  CHECK(bad.status() == 500);
  CHECK(bad.body().find("counters segment gone") != std::string::npos);
  fail = false;
  loopback_request good(srv.port(), "GET", "/metrics");
  REQUIRE(exchange(srv, good));
  CHECK(good.status() == 200);
  CHECK(good.body() == "ok\n");
}

TEST_CASE("metrics_server: a port in use is refused with the address named") {
  metrics_server first(0, [] { return std::string(); });
  const std::string port = std::to_string(first.port());
  lws_set_log_level(0, nullptr);  // the bind error is expected here
  CHECK_THROWS_WITH_AS(metrics_server(first.port(), [] { return std::string(); }),
                       doctest::Contains(("127.0.0.1:" + port).c_str()), metrics_server_error);
  lws_set_log_level(LLL_ERR, nullptr);
}

TEST_CASE("metrics_server: service() returns when idle: at once with 0, after about the timeout otherwise") {
  metrics_server srv(0, [] { return std::string(); });
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  srv.service(0);
  CHECK(clock::now() - t0 < std::chrono::milliseconds(500));
  t0 = clock::now();
  srv.service(20);
  // libwebsockets alone would sleep until its next timer (up to days): the wakeup bounds it.
  CHECK(clock::now() - t0 < std::chrono::seconds(2));
}
