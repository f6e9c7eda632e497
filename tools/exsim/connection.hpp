#pragma once
/// One client WebSocket connection as exsim sees it: venue, subscriptions, the bounded send
/// queue of ready-framed bytes, the venue's timers, and the faults injected into this line
/// only (delay, stall, duplicate, reorder). No libwebsockets types here: server.cpp owns I/O.
#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "mdbus/venue.hpp"
#include "tools/exsim/rate_limits.hpp"
#include "tools/exsim/ws_frame.hpp"

namespace mdbus::exsim {

/// The connId OKX puts in event replies and notices: 8 hex digits, stable for a connection.
inline std::string okx_conn_id(std::uint32_t conn_id) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::uint32_t v = conn_id * 2654435761U;  // spread small ids over the whole range
  std::string s(8, '0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(7 - i)] = kHex[(v >> (4 * i)) & 0xFU];
  return s;
}

class connection {
 public:
  static constexpr std::int64_t kForever = std::numeric_limits<std::int64_t>::max();

  /// `pre` bytes are kept free at the front of the send buffer (libwebsockets' LWS_PRE).
  connection(std::uint32_t id, venue v, std::int64_t now_us, std::size_t pre, std::size_t limit, bool close_slow);

  enum class push_result { queued, dropped, overflow };

  /// A market-data text frame: subject to every fault (stall drops it, duplicate, reorder, delay).
  push_result push_data(std::string_view payload, std::int64_t now_us);
  /// A reply, ping, pong or injected frame: only delay and stall apply.
  push_result push_frame(ws_opcode op, std::string_view payload, std::int64_t now_us);

  /// Moves delayed frames whose time has come (and a reordered frame held too long) to the
  /// send buffer. Returns true if the send buffer has bytes.
  bool release_due(std::int64_t now_us);

  [[nodiscard]] bool stalled(std::int64_t now_us) const noexcept { return now_us < stall_until_us_; }
  [[nodiscard]] bool has_output() const noexcept { return out_.size() > pre_; }
  /// The send buffer including the reserved prefix; payload starts at pre().
  [[nodiscard]] std::string& out() noexcept { return out_; }
  [[nodiscard]] std::size_t pre() const noexcept { return pre_; }
  void clear_output() noexcept { out_.resize(pre_); }
  [[nodiscard]] std::size_t queued_bytes() const noexcept { return out_.size() - pre_ + delayed_bytes_; }

  // Fault controls.
  void stall(std::int64_t until_us) noexcept { stall_until_us_ = until_us; }
  void set_delay(std::int64_t us) noexcept { delay_us_ = us; }
  void duplicate_next(int n) noexcept { duplicate_ += n; }
  void reorder_next(int n) noexcept { reorder_ += n; }
  [[nodiscard]] std::int64_t delay_us() const noexcept { return delay_us_; }

  /// Asks the server to close: a close frame with code/reason, or (abrupt) a TCP drop.
  void request_close(int code, std::string reason, bool abrupt);

  // Identity and protocol state, read and written by the server.
  const std::uint32_t id;
  const venue venue_id;
  std::string route;  ///< Binance USD-M: the routed path it connected on ("/public", "/market")
  std::string path;                      ///< request path and query as the client sent them
  bool combined = false;                 ///< Binance: wrap events as {"stream":..,"data":..}
  std::vector<std::uint16_t> streams;    ///< subscribed stream ids
  std::int64_t opened_us;
  std::int64_t last_rx_us;               ///< last message from the client
  std::int64_t last_push_us;             ///< last frame queued to the client
  std::int64_t next_ping_us = 0;         ///< Binance: next server ping
  std::int64_t ping_outstanding_us = 0;  ///< Binance: when the unanswered ping was sent (0: none)
  std::string ping_payload;              ///< Binance: the pong must echo this
  std::int64_t rx_window_us = 0;         ///< Binance: incoming-message rate window start
  int rx_in_window = 0;
  sliding_counter subscribe_requests;    ///< OKX: subscribe/unsubscribe requests (480 per hour)
  std::int64_t unsubscribed_since_us;    ///< OKX: since when nothing is subscribed (30 s cut regardless of ping)
  std::string rx_message;                ///< reassembly of a fragmented incoming message
  void* wsi = nullptr;                   ///< the libwebsockets handle (opaque here)

  // Close request.
  bool close_pending = false;
  bool close_abrupt = false;
  int close_code = 1000;
  std::string close_reason;

  // Counters (GET /connections).
  std::uint64_t frames_queued = 0;
  std::uint64_t frames_dropped = 0;
  std::uint64_t bytes_written = 0;

 private:
  push_result enqueue(std::string_view framed, std::int64_t now_us);

  std::size_t pre_;
  std::size_t limit_;
  bool close_slow_;
  std::string out_;
  std::deque<std::pair<std::int64_t, std::string>> delayed_;  ///< (due time, framed bytes)
  std::size_t delayed_bytes_ = 0;
  std::int64_t stall_until_us_ = 0;
  std::int64_t delay_us_ = 0;
  int duplicate_ = 0;
  int reorder_ = 0;
  std::string held_;  ///< reorder: the frame that will follow the next one
  std::int64_t held_us_ = 0;
  std::string scratch_;
};

}  // namespace mdbus::exsim
