#pragma once
/// The feeder's HTTPS GET client for REST book snapshots (a resync), on libwebsockets' HTTP
/// client in the same lws context and event loop as the WebSocket (ws_client.hpp): same TLS
/// trust (the config's CA, verification always on), same thread, no threads of its own.
///
/// A fixed number of *lanes*, each one request at a time with its own body buffer allocated
/// at start (max_body_bytes + simdjson padding), so a body is parsed where it landed. A body
/// longer than the buffer ends the request as a failure; it is never grown into. Each
/// request that started ends in exactly one on_rest_done(): a complete body (any HTTP
/// status), or a failure with its reason (connection error, TLS verification, timeout,
/// connection closed early, oversize).
///
/// Cost: a request is a new TCP + TLS connection, which lws and OpenSSL allocate for; the
/// resync path is not the message path (feeders/mdfeed/README.md, "Resync").
#include "feeders/mdfeed/ws_client.hpp"

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct lws;
struct lws_context;

namespace mdbus::feed {

/// The lws protocol name the REST connections bind to (ws_client registers it).
inline constexpr const char* kRestProtocolName = "mdfeed-rest";

/// How one request ended. Views are valid during on_rest_done only.
struct rest_result {
  bool complete = false;  ///< the whole body arrived (`status` says whether it is a 200)
  int status = 0;         ///< HTTP status; 0 when no response arrived
  /// The body, with SIMDJSON_PADDING readable (zeroed) bytes past its end.
  simdjson::padded_string_view body;
  std::int64_t first_byte_ns = 0;  ///< CLOCK_REALTIME when the response headers arrived
  std::string_view error;          ///< why it failed when !complete
  /// `X-MBX-USED-WEIGHT-1M` (Binance: the IP's request weight used this minute), -1 when absent.
  std::int64_t used_weight = -1;
  /// `Retry-After` in seconds (a 429 or 418), -1 when absent.
  std::int64_t retry_after_s = -1;
};

class rest_events {
 public:
  virtual void on_rest_done(std::size_t lane, const rest_result& r) noexcept = 0;

 protected:
  ~rest_events() = default;
};

class rest_client {
 public:
  /// One lane: a request's connection and its body buffer.
  struct lane {
    rest_client* owner = nullptr;
    std::size_t index = 0;
    lws* wsi = nullptr;  ///< the request's connection; nullptr when the lane is free
    std::unique_ptr<char[]> body;
    std::size_t len = 0;
    int status = 0;
    std::int64_t first_byte_ns = 0;
    std::int64_t used_weight = -1;
    std::int64_t retry_after_s = -1;
    std::int64_t deadline_ns = 0;
  };

  /// `context`: the ws_client's (it registers kRestProtocolName). The client must outlive the
  /// context: lws reports the closing of open requests while the context is destroyed.
  rest_client(rest_events& events, lws_context* context, bool tls, std::size_t lanes, std::size_t max_body_bytes);
  ~rest_client();
  rest_client(const rest_client&) = delete;
  rest_client& operator=(const rest_client&) = delete;

  [[nodiscard]] std::size_t lanes() const noexcept { return lanes_.size(); }
  [[nodiscard]] bool busy(std::size_t i) const noexcept { return lanes_[i].wsi != nullptr; }
  /// A free lane, or lanes() when all are busy.
  [[nodiscard]] std::size_t free_lane() const noexcept;

  /// GET `path` from `target`'s host, port and server name on free lane `i`; the request
  /// fails as a timeout when it has not ended by `deadline_ns` (CLOCK_MONOTONIC). False when
  /// lws refused it at once (no report follows; `error_text()` says why).
  bool get(std::size_t i, const ws_target& target, const std::string& path, std::int64_t deadline_ns);
  [[nodiscard]] const char* error_text() const noexcept { return error_; }

  /// Ends requests past their deadline (reported as "timeout"). Called from the tick.
  void check_deadlines(std::int64_t now_ns) noexcept;

  /// Entry point for the lws callback in rest_client.cpp; not for users.
  int handle(lws* wsi, int reason, void* in, std::size_t len);

 private:
  void fail(lane& l, const char* fmt, ...) noexcept __attribute__((format(printf, 3, 4)));
  void detach(lane& l) noexcept;

  rest_events& events_;
  lws_context* context_;
  bool tls_;
  std::size_t max_body_;
  std::vector<lane> lanes_;
  char error_[192] = {};  ///< the last failure's text
};

/// The lws protocol callback for kRestProtocolName (ws_client's protocol table names it).
int rest_protocol_callback(lws* wsi, int reason, void* user, void* in, std::size_t len);

}  // namespace mdbus::feed
