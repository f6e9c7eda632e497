// The server's HTTP callbacks: the REST listeners (one per venue; dispatch in rest.cpp) and
// the control endpoint (requests in control.cpp), and the one way both answer (http_reply).
#include <cstdio>
#include <string>

#include <libwebsockets.h>

#include "tools/exsim/server_detail.hpp"

namespace mdbus::exsim {

using detail::free_http;
using detail::mono_us;
using detail::real_ns;

int server::http_reply(lws* wsi, session* s, int status, std::string body, const http_headers& headers) {
  unsigned char hdr[LWS_PRE + 1024];
  unsigned char* start = hdr + LWS_PRE;
  unsigned char* p = start;
  unsigned char* end = hdr + sizeof hdr - 1;
  if (lws_add_http_common_headers(wsi, static_cast<unsigned int>(status), "application/json", body.size(), &p, end) != 0)
    return -1;
  for (const auto& [name, value] : headers)
    if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name.c_str()),
                                    reinterpret_cast<const unsigned char*>(value.data()), static_cast<int>(value.size()),
                                    &p, end) != 0)
      return -1;
  if (lws_finalize_write_http_header(wsi, start, &p, end) != 0) return -1;
  delete s->reply;
  s->reply = new std::string(std::move(body));
  lws_callback_on_writable(wsi);
  return 0;
}

int server::rest_callback(lws* wsi, int reason_int, session* s, void* in, std::size_t len, venue v) {
  const auto reason = static_cast<lws_callback_reasons>(reason_int);
  now_us_ = mono_us();
  now_ms_ = real_ns() / 1'000'000;
  switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
      if (now_us_ < refuse_until_us_) {
        ++refused_;
        return 1;
      }
      return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      return 1;  // a REST host serves no WebSocket streams
    case LWS_CALLBACK_HTTP: {
      if (now_us_ < refuse_until_us_) return -1;
      const std::string path(static_cast<const char*>(in), len);
      if (v == venue::binance || v == venue::binance_usdm)
        binance_rest(wsi, s, path, v);
      else
        okx_rest(wsi, s, path);
      return 0;
    }
    case LWS_CALLBACK_HTTP_WRITEABLE:
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
      return venue_callback(wsi, reason_int, s, in, len);
    default:
      break;
  }
  return lws_callback_http_dummy(wsi, reason, s, in, len);
}

int server::control_callback(lws* wsi, int reason_int, session* s, void* in, std::size_t len) {
  const auto reason = static_cast<lws_callback_reasons>(reason_int);
  now_us_ = mono_us();
  now_ms_ = real_ns() / 1'000'000;
  switch (reason) {
    case LWS_CALLBACK_HTTP: {
      const std::string path(static_cast<const char*>(in), len);
      // A POST with a body is handled at BODY_COMPLETION; one without Content-Length never
      // gets there (curl -X POST with no -d), so it is answered now, as an empty body.
      if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0 && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
        std::snprintf(s->path, sizeof s->path, "%s", path.c_str());
        delete s->body;
        s->body = new std::string();
        return 0;
      }
      control_request(wsi, s, lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0 ? "POST" : "GET", path, {});
      return 0;
    }
    case LWS_CALLBACK_HTTP_BODY:
      if (s->body != nullptr && s->body->size() < (1U << 20)) s->body->append(static_cast<const char*>(in), len);
      return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
      const std::string body = s->body != nullptr ? *s->body : std::string();
      control_request(wsi, s, "POST", s->path, body);
      flush_dirty();
      return 0;
    }
    case LWS_CALLBACK_HTTP_WRITEABLE:
      return venue_callback(wsi, reason_int, s, in, len);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
      free_http(s);
      return 0;
    default:
      break;
  }
  return lws_callback_http_dummy(wsi, reason, s, in, len);
}

}  // namespace mdbus::exsim
