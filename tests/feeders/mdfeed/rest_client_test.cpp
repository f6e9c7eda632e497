// mdfeed's REST client on its own, against a tiny blocking HTTP stub on loopback (plain
// HTTP; the TLS path is covered by mdfeed_resync_test against exsim): whole bodies padded for
// simdjson, statuses passed through, chunked bodies, the body limit, deadlines, and a request
// still in flight when the lws context is destroyed.
#include "bus/clock.hpp"
#include "feeders/mdfeed/rest_client.hpp"
#include "feeders/mdfeed/ws_client.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace mdbus;
using namespace mdbus::feed;

namespace {

/// Accepts connections on 127.0.0.1:<free port>, reads each request's head and answers it
/// with `reply` (nothing at all when `reply` is empty: a server that hangs).
class http_stub {
 public:
  explicit http_stub(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    socklen_t n = sizeof a;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &n) == 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~http_stub() {
    quit_ = true;
    thread_.join();
    for (const int c : held_) ::close(c);
    ::close(fd_);
  }
  http_stub(const http_stub&) = delete;
  http_stub& operator=(const http_stub&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] int requests() const { return requests_.load(); }

 private:
  void serve() {
    while (!quit_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      held_.push_back(c);
      std::string head;
      char buf[1024];
      while (!quit_ && head.find("\r\n\r\n") == std::string::npos) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 10) <= 0) continue;
        const ssize_t got = ::read(c, buf, sizeof buf);
        if (got <= 0) break;
        head.append(buf, static_cast<std::size_t>(got));
      }
      if (head.rfind("GET ", 0) == 0) ++requests_;
      if (!reply_.empty()) {
        std::size_t off = 0;
        while (off < reply_.size()) {
          const ssize_t w = ::write(c, reply_.data() + off, reply_.size() - off);
          if (w <= 0) break;
          off += static_cast<std::size_t>(w);
        }
      }
    }
  }

  std::string reply_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> quit_{false};
  std::atomic<int> requests_{0};
  std::vector<int> held_;  ///< answered or not, closed only at the end (the client closes first)
};

std::string response(int status, const std::string& reason, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

struct done {
  std::size_t lane = 0;
  bool complete = false;
  int status = 0;
  std::string body;
  bool padding_zero = false;
  std::string error;
  std::int64_t first_byte_ns = 0;
};

/// The transport's events are not used here; the REST reports are collected.
struct collector final : ws_events, rest_events {
  std::vector<done> results;
  void on_established() noexcept override {}
  void on_message(simdjson::padded_string_view, bool, std::int64_t) noexcept override {}
  void on_oversize(std::uint64_t) noexcept override {}
  void on_pong() noexcept override {}
  void on_closed(const close_info&) noexcept override {}
  void on_tick() noexcept override {}
  void on_rest_done(std::size_t lane, const rest_result& r) noexcept override {
    done d;
    d.lane = lane;
    d.complete = r.complete;
    d.status = r.status;
    d.body.assign(r.body.data() != nullptr ? r.body.data() : "", r.body.size());
    d.padding_zero = true;
    if (r.complete)
      for (std::size_t i = 0; i < simdjson::SIMDJSON_PADDING; ++i) d.padding_zero = d.padding_zero && r.body.data()[r.body.size() + i] == 0;
    d.error = std::string(r.error);
    d.first_byte_ns = r.first_byte_ns;
    results.push_back(std::move(d));
  }
};

/// One lws context (plain) and a REST client with two lanes on it.
struct client_rig {
  collector ev;
  std::unique_ptr<ws_client> ws;
  std::unique_ptr<rest_client> rest;
  explicit client_rig(std::size_t max_body = 4096) {
    ws_client_options o;
    o.tls = false;
    ws = std::make_unique<ws_client>(ev, o);
    rest = std::make_unique<rest_client>(ev, ws->context(), false, 2, max_body);
  }
  ~client_rig() { ws.reset(); }  // the context first: the client must outlive it
  static ws_target at(std::uint16_t port) { return {"127.0.0.1", port, "localhost", ""}; }
  /// Services the loop until `n` reports arrived or 5 s passed.
  bool pump(std::size_t n) {
    const std::int64_t deadline = mono_ns() + 5'000'000'000;
    while (ev.results.size() < n && mono_ns() < deadline) {
      ws->service();
      rest->check_deadlines(mono_ns());
    }
    return ev.results.size() >= n;
  }
};

constexpr std::int64_t kSecond = 1'000'000'000;

}  // namespace

TEST_CASE("rest_client: a GET brings the whole body, padded for simdjson, on the lane it ran on") {
  const std::string body = R"({"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[]})";
  http_stub server(response(200, "OK", body));
  client_rig c;
  CHECK(c.rest->lanes() == 2);
  CHECK(c.rest->free_lane() == 0);
  REQUIRE(c.rest->get(1, client_rig::at(server.port()), "/api/v3/depth?symbol=BTCUSDT&limit=1000", mono_ns() + 5 * kSecond));
  CHECK(c.rest->busy(1));
  CHECK(c.rest->free_lane() == 0);
  CHECK_FALSE(c.rest->get(1, client_rig::at(server.port()), "/again", mono_ns() + kSecond));  // one request per lane
  REQUIRE(c.pump(1));
  const done& d = c.ev.results[0];
  CHECK(d.lane == 1);
  CHECK(d.complete);
  CHECK(d.status == 200);
  CHECK(d.body == body);
  CHECK(d.padding_zero);
  CHECK(d.first_byte_ns > 0);
  CHECK_FALSE(c.rest->busy(1));
  CHECK(server.requests() == 1);
}

TEST_CASE("rest_client: a non-200 answer is complete, with its status and body") {
  const std::string body = R"({"code":-1121,"msg":"Invalid symbol."})";
  http_stub server(response(400, "Bad Request", body));
  client_rig c;
  REQUIRE(c.rest->get(0, client_rig::at(server.port()), "/api/v3/depth?symbol=NOPE", mono_ns() + 5 * kSecond));
  REQUIRE(c.pump(1));
  CHECK(c.ev.results[0].complete);
  CHECK(c.ev.results[0].status == 400);
  CHECK(c.ev.results[0].body == body);
}

TEST_CASE("rest_client: a chunked body arrives de-chunked") {
  http_stub server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n3\r\n12}\r\n0\r\n\r\n");
  client_rig c;
  REQUIRE(c.rest->get(0, client_rig::at(server.port()), "/x", mono_ns() + 5 * kSecond));
  REQUIRE(c.pump(1));
  CHECK(c.ev.results[0].complete);
  CHECK(c.ev.results[0].body == R"({"a":12})");
}

TEST_CASE("rest_client: a body larger than the lane's buffer ends the request, it is never grown into") {
  http_stub server(response(200, "OK", std::string(200, 'x')));
  client_rig c(64);
  REQUIRE(c.rest->get(0, client_rig::at(server.port()), "/big", mono_ns() + 5 * kSecond));
  REQUIRE(c.pump(1));
  CHECK_FALSE(c.ev.results[0].complete);
  CHECK(c.ev.results[0].error.find("larger than 64 bytes") != std::string::npos);
  CHECK_FALSE(c.rest->busy(0));
}

TEST_CASE("rest_client: no answer by the deadline is a timeout, and a request in flight when the context goes is reported once") {
  http_stub server("");  // accepts, never answers
  client_rig c;
  REQUIRE(c.rest->get(0, client_rig::at(server.port()), "/slow", mono_ns() + kSecond / 5));
  REQUIRE(c.pump(1));
  CHECK(c.ev.results[0].lane == 0);
  CHECK_FALSE(c.ev.results[0].complete);
  CHECK(c.ev.results[0].error.rfind("timeout", 0) == 0);
  CHECK_FALSE(c.rest->busy(0));

  REQUIRE(c.rest->get(1, client_rig::at(server.port()), "/slower", mono_ns() + 60 * kSecond));
  const std::int64_t until = mono_ns() + kSecond / 10;
  while (mono_ns() < until) c.ws->service();
  CHECK(c.ev.results.size() == 1);
  c.ws.reset();  // lws closes the request's connection while it destroys the context
  REQUIRE(c.ev.results.size() == 2);
  CHECK(c.ev.results[1].lane == 1);
  CHECK_FALSE(c.ev.results[1].complete);
  CHECK(c.ev.results[1].error.find("closed") != std::string::npos);
}

TEST_CASE("rest_client: a refused connection is a failure with lws's reason") {
  // A port nothing listens on: bound, then closed.
  std::uint16_t port = 0;
  {
    http_stub gone("x");
    port = gone.port();
  }
  client_rig c;
  if (!c.rest->get(0, client_rig::at(port), "/x", mono_ns() + 5 * kSecond)) {
    CHECK(std::string(c.rest->error_text()).size() > 0);  // refused at once: no report follows
    return;
  }
  REQUIRE(c.pump(1));
  CHECK_FALSE(c.ev.results[0].complete);
  CHECK_FALSE(c.ev.results[0].error.empty());
  CHECK_FALSE(c.rest->busy(0));
}
