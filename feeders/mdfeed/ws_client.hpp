#pragma once
/// The feeder's WebSocket transport on libwebsockets: one client context, at most one
/// connection at a time, serviced on the caller's thread (no threads of its own).
///
/// * TLS through OpenSSL with certificate and host-name verification always on; the trust
///   is the CA file from the config (there is no "insecure" switch).
/// * Messages are reassembled from lws's fragments into one buffer allocated at start
///   (max_message_bytes + simdjson padding); a longer message is dropped whole and
///   reported as oversize, never grown into.
/// * Writes happen only from the WRITEABLE callback (lws's rule): text messages and pings
///   are queued and sent in order; a close is sent after them.
/// * A periodic timer (tick) drives everything time-based in the owner: watchdogs,
///   command polling, heartbeats, backoff.
/// * The context also serves the feeder's REST snapshot requests (rest_client.hpp, its own
///   lws protocol): same TLS trust, same loop.
///
/// Every attempt ends in exactly one on_closed(), whether it failed in TCP, TLS or the
/// upgrade, or ended after it was established.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct lws;
struct lws_context;
struct lws_sorted_usec_list;

namespace mdbus::feed {

/// How an attempt or a connection ended.
struct close_info {
  bool established = false;  ///< the WebSocket handshake had completed
  bool by_us = false;        ///< we closed or aborted it
  int code = 0;              ///< close code from the peer's close frame (0: none, e.g. a TCP drop)
  std::string_view text;     ///< peer's close reason or lws's error text; valid during the call
};

/// What the transport reports. Every call comes from inside ws_client::service().
class ws_events {
 public:
  virtual void on_established() noexcept = 0;
  /// One complete message. `data` has SIMDJSON_PADDING readable bytes past its end; valid
  /// during the call only. first_byte_ns: CLOCK_REALTIME when its first fragment arrived.
  virtual void on_message(simdjson::padded_string_view data, bool binary, std::int64_t first_byte_ns) noexcept = 0;
  /// A message longer than max_message_bytes, dropped; `bytes` is its length.
  virtual void on_oversize(std::uint64_t bytes) noexcept = 0;
  /// A WebSocket pong frame (answer to send_ping()).
  virtual void on_pong() noexcept = 0;
  virtual void on_closed(const close_info& info) noexcept = 0;
  /// The periodic timer.
  virtual void on_tick() noexcept = 0;

 protected:
  ~ws_events() = default;
};

struct ws_client_options {
  bool tls = true;
  std::string ca_file;  ///< trust for the server certificate (required with tls)
  std::size_t max_message_bytes = 1 << 20;
  std::int64_t tick_us = 10'000;
};

/// Where to connect.
struct ws_target {
  std::string host;         ///< address
  std::uint16_t port = 0;
  std::string server_name;  ///< SNI, Host header, certificate name
  std::string path;         ///< path and query
};

class ws_client {
 public:
  /// Creates the lws context (TLS initialised, CA loaded). Throws std::runtime_error.
  ws_client(ws_events& events, const ws_client_options& options);
  ~ws_client();
  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;

  /// Starts an attempt. False when lws refused it at once (on_closed was called already).
  bool connect(const ws_target& target);
  /// Queue a text message (sent after the handshake, in order).
  void send_text(std::string text);
  /// Queue a WebSocket ping frame.
  void send_ping();
  /// Graceful close: queued messages first, then a close frame (1000, `reason`); on_closed
  /// follows when the peer answers or lws gives up on it.
  void close(std::string_view reason);
  /// Drop the connection now (no close frame): watchdogs, a hung peer.
  void abort();
  /// An attempt or connection exists (on_closed not yet reported).
  [[nodiscard]] bool active() const noexcept { return attempt_open_; }
  [[nodiscard]] bool established() const noexcept { return established_; }

  /// The lws context, for the REST client that shares it (rest_client.hpp).
  [[nodiscard]] lws_context* context() const noexcept { return context_; }

  /// One round of the event loop: waits for socket activity or the next timer.
  void service();
  /// Wake service() from a signal handler or another thread.
  void wake() noexcept;

  // Entry points for the lws callbacks in ws_client.cpp; not for users.
  int handle(lws* wsi, int reason, void* in, std::size_t len);
  void on_tick_timer() noexcept;

 private:
  int on_writeable(lws* wsi);
  void receive(lws* wsi, const void* in, std::size_t len);
  void finish_attempt(const char* text, std::size_t len, int code);
  [[nodiscard]] bool current(lws* wsi) const noexcept;

  struct tick_timer;
  friend void tick_callback(lws_sorted_usec_list* sul) noexcept;

  ws_events& events_;
  ws_client_options options_;
  lws_context* context_ = nullptr;
  std::unique_ptr<tick_timer> tick_;
  ws_target target_;
  lws* wsi_ = nullptr;
  std::uintptr_t attempt_id_ = 0;
  bool attempt_open_ = false;
  bool established_ = false;
  bool by_us_ = false;
  bool close_requested_ = false;
  int peer_close_code_ = 0;
  char close_text_[192] = {};
  std::size_t close_text_len_ = 0;

  // Outgoing, in order: text messages and pings (an empty entry with ping_ set).
  struct outgoing {
    std::string text;
    bool ping = false;
  };
  std::vector<outgoing> outbox_;
  std::size_t outbox_head_ = 0;
  std::vector<unsigned char> send_buffer_;  ///< LWS_PRE + the largest queued message

  // Incoming message being reassembled.
  std::unique_ptr<char[]> rx_;
  std::size_t rx_capacity_ = 0;  ///< max_message_bytes (plus padding allocated)
  std::size_t rx_len_ = 0;
  std::uint64_t rx_total_ = 0;  ///< bytes of the current message, kept or not
  bool rx_in_message_ = false;
  bool rx_binary_ = false;
  std::int64_t rx_first_ns_ = 0;
};

}  // namespace mdbus::feed
