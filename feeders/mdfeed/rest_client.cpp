#include "feeders/mdfeed/rest_client.hpp"

#include "bus/clock.hpp"

#include <libwebsockets.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace mdbus::feed {
namespace {

/// A header's decimal value; -1 when it is not a plain non-negative integer (a Retry-After
/// HTTP-date is not what the venues send).
std::int64_t header_number(const char* v) noexcept {
  std::int64_t n = 0;
  if (*v == '\0') return -1;
  for (; *v != '\0'; ++v) {
    if (*v < '0' || *v > '9' || n > 1'000'000'000'000LL) return -1;
    n = n * 10 + (*v - '0');
  }
  return n;
}

}  // namespace

int rest_protocol_callback(lws* wsi, int reason, void* user, void* in, std::size_t len) {
  (void)user;
  if (wsi == nullptr) return 0;
  // Every request carries its lane in the opaque user data; lws's own protocol-wide calls
  // (init, destroy) carry none.
  auto* l = static_cast<rest_client::lane*>(lws_get_opaque_user_data(wsi));
  if (l == nullptr || l->owner == nullptr) return 0;
  return l->owner->handle(wsi, reason, in, len);
}

rest_client::rest_client(rest_events& events, lws_context* context, bool tls, std::size_t lanes, std::size_t max_body_bytes)
    : events_(events), context_(context), tls_(tls), max_body_(max_body_bytes), lanes_(lanes) {
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    lane& l = lanes_[i];
    l.owner = this;
    l.index = i;
    // Default-initialised (not zeroed): the pages become resident only when a snapshot
    // lands in them, so an idle feeder does not pay max_message_bytes per lane in RSS.
    l.body.reset(new char[max_body_ + simdjson::SIMDJSON_PADDING]);
  }
}

rest_client::~rest_client() {
  // The context (and with it every request's connection) is gone by now: nothing to close.
  for (lane& l : lanes_) l.owner = nullptr;
}

std::size_t rest_client::free_lane() const noexcept {
  for (std::size_t i = 0; i < lanes_.size(); ++i)
    if (lanes_[i].wsi == nullptr) return i;
  return lanes_.size();
}

bool rest_client::get(std::size_t index, const ws_target& target, const std::string& path, std::int64_t deadline_ns) {
  lane& l = lanes_[index];
  if (l.wsi != nullptr) {
    std::snprintf(error_, sizeof error_, "lane %zu is busy", index);
    return false;
  }
  l.len = 0;
  l.status = 0;
  l.used_weight = -1;
  l.retry_after_s = -1;
  l.first_byte_ns = 0;
  l.deadline_ns = deadline_ns;

  lws_client_connect_info i{};
  i.context = context_;
  i.address = target.host.c_str();
  i.port = target.port;
  i.path = path.c_str();
  i.host = target.server_name.c_str();  // Host header, SNI and the certificate name checked
  i.origin = target.server_name.c_str();
  i.method = "GET";                     // an HTTP client, not a WebSocket upgrade
  i.alpn = "http/1.1";                  // one plain response; no h2 even if the server offers it
  // Verification stays on, as for the WebSocket: no _ALLOW_SELFSIGNED / _INSECURE / _SKIP_..._HOSTNAME_CHECK.
  i.ssl_connection = tls_ ? LCCSCF_USE_SSL : 0;
  i.local_protocol_name = kRestProtocolName;
  i.opaque_user_data = &l;
  // Not i.pwsi: the return value is the connection, and lws reports a failure inside this
  // call by returning nullptr (CONNECTION_ERROR is suppressed until it returns).
  lws* wsi = lws_client_connect_via_info(&i);
  if (wsi == nullptr) {
    std::snprintf(error_, sizeof error_, "cannot start the request (lws refused it)");
    return false;
  }
  l.wsi = wsi;
  return true;
}

void rest_client::check_deadlines(std::int64_t now_ns) noexcept {
  for (lane& l : lanes_) {
    if (l.wsi == nullptr || now_ns < l.deadline_ns) continue;
    // Closed at the next service round; its callbacks no longer match the lane.
    lws_set_timeout(l.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    fail(l, "timeout%s", l.status != 0 ? " reading the body" : "");
  }
}

void rest_client::detach(lane& l) noexcept { l.wsi = nullptr; }

void rest_client::fail(lane& l, const char* fmt, ...) noexcept {
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(error_, sizeof error_, fmt, ap);
  va_end(ap);
  detach(l);
  rest_result r;
  r.status = l.status;
  r.first_byte_ns = l.first_byte_ns;
  r.used_weight = l.used_weight;
  r.retry_after_s = l.retry_after_s;
  r.error = std::string_view(error_, n < 0 ? 0 : std::min(static_cast<std::size_t>(n), sizeof error_ - 1));
  events_.on_rest_done(l.index, r);
}

int rest_client::handle(lws* wsi, int reason, void* in, std::size_t len) {
  auto* lp = static_cast<lane*>(lws_get_opaque_user_data(wsi));
  // A connection the lane gave up on (timeout) may still report while lws closes it.
  if (lp == nullptr || lp->wsi != wsi) return 0;
  lane& l = *lp;
  switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
      const char* text = in != nullptr ? static_cast<const char*>(in) : "connection error";
      const int n = in != nullptr ? static_cast<int>(strnlen(text, len > 0 ? len : 256)) : static_cast<int>(std::strlen(text));
      long verify = X509_V_OK;
      if (tls_)
        if (SSL* ssl = lws_get_ssl(wsi)) verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        fail(l, "certificate verify failed: %s (%.*s)", X509_verify_cert_error_string(verify), n, text);
      } else {
        fail(l, "%.*s", n, text);
      }
      return 0;
    }

    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP: {
      l.status = static_cast<int>(lws_http_client_http_response(wsi));
      l.first_byte_ns = wall_ns();
      // The venue's budget headers (Binance rest-api.md "LIMITS", 2026-12): the IP's weight
      // used this minute on every answer, and Retry-After on a 429 / 418. The shared REST
      // budget (bus/venue_budget.hpp) takes both.
      char v[32];
      if (lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_RETRY_AFTER) > 0) l.retry_after_s = header_number(v);
      static constexpr char kWeight[] = "x-mbx-used-weight-1m:";
      if (lws_hdr_custom_copy(wsi, v, sizeof v, kWeight, sizeof kWeight - 1) > 0) l.used_weight = header_number(v);
      return 0;
    }

    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
      // lws reads from the socket into this buffer and hands the (de-chunked) body to
      // RECEIVE_CLIENT_HTTP_READ below, which copies it into the lane's buffer.
      char buffer[LWS_PRE + 4096];
      char* p = buffer + LWS_PRE;
      int n = static_cast<int>(sizeof buffer - LWS_PRE);
      if (lws_http_client_read(wsi, &p, &n) < 0) return -1;
      return 0;
    }

    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
      if (l.len + len > max_body_) {
        fail(l, "response body larger than %zu bytes (max_message_bytes)", max_body_);
        return -1;  // close it: nothing more of this body is wanted
      }
      std::memcpy(l.body.get() + l.len, in, len);
      l.len += len;
      return 0;

    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP: {
      // simdjson reads up to SIMDJSON_PADDING bytes past the end: keep them defined.
      std::memset(l.body.get() + l.len, 0, simdjson::SIMDJSON_PADDING);
      detach(l);
      rest_result r;
      r.complete = true;
      r.status = l.status;
      r.first_byte_ns = l.first_byte_ns;
      r.used_weight = l.used_weight;
      r.retry_after_s = l.retry_after_s;
      r.body = simdjson::padded_string_view(l.body.get(), l.len, l.len + simdjson::SIMDJSON_PADDING);
      events_.on_rest_done(l.index, r);
      return 0;  // lws closes the connection (no pipelining asked for)
    }

    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
    case LWS_CALLBACK_WSI_DESTROY:  // fallback: torn down without either report
      fail(l, "connection closed before the response ended%s", l.status != 0 ? "" : " (no response)");
      return 0;

    default:
      return 0;
  }
}

}  // namespace mdbus::feed
