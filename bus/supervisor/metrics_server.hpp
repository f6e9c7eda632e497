#pragma once
/// The supervisor's HTTP endpoint: a small libwebsockets server on 127.0.0.1 that answers a
/// GET of each of its routes with the body that route's callback returns — `/metrics` (the
/// Prometheus text, `Content-Type: text/plain; version=0.0.4`), and in mdsupervisor also `/`
/// (the status page) and `/status.json` (what the page shows) — and 404 for any other path. It has no thread of its own: the supervisor's
/// loop calls service(), so the callback runs on the supervisor's thread and reads its state
/// without locks.
///
/// libwebsockets' log level is process-wide: the program sets it (lws_set_log_level), not
/// this class.
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

struct lws;
struct lws_context;
struct lws_vhost;

namespace mdbus::supervise {

/// The server could not be set up (context, or the port is taken).
class metrics_server_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class metrics_server {
 public:
  /// Produces the body of one scrape. An exception it throws becomes a 500 reply.
  using render_fn = std::function<std::string()>;

  /// One path it answers: the exact path (no query), the Content-Type, the body.
  struct route {
    std::string path;
    std::string content_type;
    render_fn render;
  };
  static constexpr const char* kPrometheusType = "text/plain; version=0.0.4";

  /// Listens on 127.0.0.1:`port` (0: a free port, see port()). Throws metrics_server_error
  /// naming the address when it cannot listen.
  metrics_server(int port, std::vector<route> routes);
  /// Only `/metrics`, answered by `render`.
  metrics_server(int port, render_fn render) : metrics_server(port, {route{"/metrics", kPrometheusType, std::move(render)}}) {}
  ~metrics_server();
  metrics_server(const metrics_server&) = delete;
  metrics_server& operator=(const metrics_server&) = delete;

  /// Accepts, reads and answers what is ready, waiting up to `timeout_ms` for something to
  /// happen (0: does not wait). One lws_service() pass; call it from the supervisor's loop.
  void service(int timeout_ms);

  /// The port it listens on (the one the kernel picked when constructed with 0).
  [[nodiscard]] int port() const noexcept { return port_; }
  /// Requests answered with 200 so far (any route).
  [[nodiscard]] std::uint64_t scrapes() const noexcept { return scrapes_; }

  /// Internal: the libwebsockets callback's view of the server (public for the C trampoline).
  struct session;
  struct wakeup;
  int on_http(lws* wsi, int reason, session* s, void* in, std::size_t len);

 private:
  std::vector<route> routes_;
  lws_context* context_ = nullptr;
  lws_vhost* vhost_ = nullptr;
  std::unique_ptr<wakeup> wakeup_;
  int port_ = 0;
  std::uint64_t scrapes_ = 0;
};

}  // namespace mdbus::supervise
