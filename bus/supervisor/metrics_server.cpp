#include "bus/supervisor/metrics_server.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include <libwebsockets.h>

namespace mdbus::supervise {

/// Per-connection state, allocated and zeroed by libwebsockets.
struct metrics_server::session {
  std::string* body;  ///< reply body not yet written (owned); nullptr when idle
  std::size_t sent;   ///< bytes of *body already written
};

/// A timer whose only job is to end lws_service()'s poll after service()'s timeout: since
/// v3.2 libwebsockets ignores the timeout argument and sleeps until its next scheduled event.
struct metrics_server::wakeup {
  lws_sorted_usec_list_t sul;
};

namespace {

/// Written per WRITEABLE callback: a scrape of a large bus is tens of kB, and lws would
/// otherwise buffer what the socket does not take at once.
constexpr std::size_t kWriteChunk = 16 * 1024;

metrics_server* server_of(lws* wsi) {
  if (wsi == nullptr) return nullptr;
  lws_context* ctx = lws_get_context(wsi);
  return ctx == nullptr ? nullptr : static_cast<metrics_server*>(lws_context_user(ctx));
}

// No exception may unwind through libwebsockets (C): one that escapes costs the connection.
int trampoline(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  metrics_server* srv = server_of(wsi);
  if (srv == nullptr) return lws_callback_http_dummy(wsi, reason, user, in, len);
  try {
    return srv->on_http(wsi, static_cast<int>(reason), static_cast<metrics_server::session*>(user), in, len);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "metrics: connection closed after an internal error: %s\n", e.what());
    return -1;
  }
}

void wakeup_noop(lws_sorted_usec_list_t*) {}

// Must outlive the context.
const lws_protocols kProtocols[] = {
    {"mdbus-metrics", trampoline, sizeof(metrics_server::session), 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

void free_session(metrics_server::session* s) noexcept {
  if (s == nullptr) return;
  delete s->body;
  s->body = nullptr;
  s->sent = 0;
}

/// Sends the status line and headers now and queues the body for HTTP_WRITEABLE.
int reply(lws* wsi, metrics_server::session* s, unsigned status, std::string_view content_type, std::string body) {
  unsigned char hdr[LWS_PRE + 512];
  unsigned char* start = hdr + LWS_PRE;
  unsigned char* p = start;
  unsigned char* end = hdr + sizeof hdr - 1;
  const std::string type(content_type);
  if (lws_add_http_common_headers(wsi, status, type.c_str(), body.size(), &p, end) != 0) return -1;
  if (lws_finalize_write_http_header(wsi, start, &p, end) != 0) return -1;
  free_session(s);
  s->body = new std::string(std::move(body));
  lws_callback_on_writable(wsi);
  return 0;
}

}  // namespace

metrics_server::metrics_server(int port, std::vector<route> routes)
    : routes_(std::move(routes)), wakeup_(std::make_unique<wakeup>()) {
  lws_context_creation_info info{};
  info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.user = this;
  info.gid = -1;
  info.uid = -1;
  // Without a limit lws sizes its fd table from RLIMIT_NOFILE; a scraper or two is all this serves.
  info.fd_limit_per_thread = 64;
  context_ = lws_create_context(&info);
  if (context_ == nullptr) throw metrics_server_error("metrics: cannot create the libwebsockets context");

  lws_context_creation_info v{};
  v.vhost_name = "metrics";
  v.port = port;
  v.iface = "127.0.0.1";  // the metrics never leave loopback
  v.protocols = kProtocols;
  v.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  vhost_ = lws_create_vhost(context_, &v);
  if (vhost_ == nullptr) {
    lws_context_destroy(context_);
    context_ = nullptr;
    throw metrics_server_error("metrics: cannot listen on 127.0.0.1:" + std::to_string(port));
  }
  port_ = lws_get_vhost_listen_port(vhost_);
}

metrics_server::~metrics_server() {
  if (context_ == nullptr) return;
  lws_sul_cancel(&wakeup_->sul);
  lws_context_destroy(context_);  // closes every connection (CLOSED_HTTP frees the sessions)
}

void metrics_server::service(int timeout_ms) {
  if (timeout_ms <= 0) {
    lws_service(context_, -1);  // negative: poll without waiting
    return;
  }
  lws_sul_schedule(context_, 0, &wakeup_->sul, wakeup_noop, static_cast<lws_usec_t>(timeout_ms) * LWS_US_PER_MS);
  lws_service(context_, 0);
  lws_sul_cancel(&wakeup_->sul);
}

int metrics_server::on_http(lws* wsi, int reason_int, session* s, void* in, std::size_t len) {
  const auto reason = static_cast<lws_callback_reasons>(reason_int);
  switch (reason) {
    case LWS_CALLBACK_HTTP: {
      if (s == nullptr) return -1;
      const std::string_view path(static_cast<const char*>(in), len);
      const bool get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
      const auto r = std::find_if(routes_.begin(), routes_.end(), [&](const route& x) { return x.path == path; });
      if (r == routes_.end()) return reply(wsi, s, HTTP_STATUS_NOT_FOUND, "text/plain", "not found\n");
      if (!get) return reply(wsi, s, HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain", "only GET\n");
      std::string body;
      try {
        body = r->render();
      } catch (const std::exception& e) {
        return reply(wsi, s, HTTP_STATUS_INTERNAL_SERVER_ERROR, "text/plain", std::string(path) + " failed: " + e.what() + "\n");
      }
      ++scrapes_;
      return reply(wsi, s, HTTP_STATUS_OK, r->content_type, std::move(body));
    }

    case LWS_CALLBACK_HTTP_WRITEABLE: {
      if (s == nullptr || s->body == nullptr) return 0;
      const std::size_t left = s->body->size() - s->sent;
      const std::size_t n = std::min(left, kWriteChunk);
      const bool last = n == left;
      if (n > 0) {
        std::vector<unsigned char> buf(LWS_PRE + n);
        std::memcpy(buf.data() + LWS_PRE, s->body->data() + s->sent, n);
        if (lws_write(wsi, buf.data() + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0) return -1;
        s->sent += n;
      }
      if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
      }
      free_session(s);
      // Keep-alive: ready for the next request, or close when the client asked to.
      return lws_http_transaction_completed(wsi) != 0 ? -1 : 0;
    }

    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
      free_session(s);
      return 0;

    default:
      break;
  }
  return lws_callback_http_dummy(wsi, reason, s, in, len);
}

}  // namespace mdbus::supervise
