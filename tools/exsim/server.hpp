#pragma once
/// The exsim server: one libwebsockets context, single-threaded, with up to four vhosts — the
/// venue (stream) port (Binance and OKX WebSocket, told apart by path; TLS or plain), one REST
/// port per venue (the venues serve REST from other hosts than their streams), and a plain
/// HTTP control port on loopback. A timer drives the market, the venues' interval streams,
/// their connection cuts and the per-connection faults.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tools/exsim/binance_feed.hpp"
#include "tools/exsim/connection.hpp"
#include "tools/exsim/exsim_config.hpp"
#include "tools/exsim/okx_feed.hpp"
#include "tools/exsim/rate_limits.hpp"
#include "tools/exsim/stream_registry.hpp"
#include "tools/exsim/truth_writer.hpp"

struct lws;
struct lws_context;
struct lws_vhost;

namespace mdbus::exsim {

class server final : public event_sink {
 public:
  /// Builds the market, feeds and truth log; opens no socket yet. Throws on a bad config.
  explicit server(exsim_config cfg);
  ~server() override;
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Creates the listening sockets. Throws std::runtime_error if a port cannot be bound.
  void start();
  [[nodiscard]] int venue_port() const noexcept { return venue_port_; }
  [[nodiscard]] int control_port() const noexcept { return control_port_; }
  /// REST listener ports; -1 when that listener is off.
  [[nodiscard]] int binance_rest_port() const noexcept { return binance_rest_port_; }
  [[nodiscard]] int okx_rest_port() const noexcept { return okx_rest_port_; }
  [[nodiscard]] int usdm_rest_port() const noexcept { return usdm_rest_port_; }
  /// Services connections until `stop` becomes true (set it, then call wake()).
  void run(const std::atomic<bool>& stop);
  /// Wakes run() from another thread or a signal handler.
  void wake() noexcept;

  void publish(std::uint16_t stream_id, std::string_view payload, const event_meta& meta) override;

  // ---- entry points for the libwebsockets callbacks (server.cpp) ----
  struct session;
  struct timer_slot;
  int venue_callback(lws* wsi, int reason, session* s, void* in, std::size_t len);
  int control_callback(lws* wsi, int reason, session* s, void* in, std::size_t len);
  int rest_callback(lws* wsi, int reason, session* s, void* in, std::size_t len, venue v);
  void on_tick();

 private:

  // Connections and fan-out (server.cpp).
  connection* open_connection(lws* wsi, venue v, const std::string& path);
  void close_connection(connection& c);
  bool subscribe(connection& c, std::uint16_t stream);
  void unsubscribe(connection& c, std::uint16_t stream);
  void send_reply(connection& c, std::string_view text);
  void mark_dirty(connection& c);
  void flush_dirty();
  int write_connection(lws* wsi, connection& c);
  void housekeeping();
  void step_market();
  [[nodiscard]] connection* find_connection(std::uint32_t id);

  // Venue protocols (binance_protocol.cpp, okx_protocol.cpp).
  /// Binance spot ("/ws/...", "/stream?streams=...") or USD-M on a routed path ("/public/...",
  /// "/market/..."): which venue and route, the streams named, combined or raw. False: no such path.
  [[nodiscard]] bool binance_parse_path(const std::string& path, const std::string& query, venue& v, std::string& route,
                                        std::vector<std::uint16_t>& streams, bool& combined) const;
  void binance_message(connection& c, std::string_view text);
  void okx_message(connection& c, std::string_view text);
  void okx_subscribe(connection& c, const nlohmann::json& arg, const std::string& id, bool subscribe);

  // Connection-attempt limits (server.cpp): false = refuse this WebSocket upgrade with 429.
  [[nodiscard]] bool admit_connection(lws* wsi, venue v);
  // Market: is instrument i (Binance first, then OKX, then USD-M) still in its quiet time?
  [[nodiscard]] bool quiet(std::size_t i) const noexcept { return i < quiet_until_us_.size() && now_us_ < quiet_until_us_[i]; }

  // HTTP: REST (rest.cpp) and control (control.cpp).
  void venue_http(lws* wsi, session* s, const std::string& path);
  /// One dispatch function per venue REST listener: only that venue's paths, else 404.
  void binance_rest(lws* wsi, session* s, const std::string& path, venue v);  // spot or USD-M
  void okx_rest(lws* wsi, session* s, const std::string& path);
  struct binance_route;
  struct okx_route;
  std::string binance_depth(lws* wsi, int& status);  // GET /api/v3/depth
  std::string usdm_depth(lws* wsi, int& status);     // GET /fapi/v1/depth
  std::string okx_books(lws* wsi, int& status);      // GET /api/v5/market/books
  std::string trades(lws* wsi, int& status);         // the trade-history paths of both venues (trade_rest.cpp)
  std::string reference(lws* wsi, int& status);      // exchangeInfo, ping, time, public/instruments (instruments.cpp)
  std::string rest_path_;                            ///< the REST path being served (for reference())
  void control_request(lws* wsi, session* s, const std::string& method, const std::string& path,
                       const std::string& body);
  [[nodiscard]] nlohmann::json fault(const nlohmann::json& req, int& status);
  [[nodiscard]] nlohmann::json status_json() const;
  [[nodiscard]] nlohmann::json connections_json() const;
  [[nodiscard]] nlohmann::json limits_json() const;
  /// Extra response headers, name with its colon ("retry-after:") and value.
  using http_headers = std::vector<std::pair<std::string, std::string>>;
  static int http_reply(lws* wsi, session* s, int status, std::string body, const http_headers& headers = {});

  exsim_config cfg_;
  stream_registry registry_;
  std::unique_ptr<truth_writer> truth_;
  binance_feed binance_;
  okx_feed okx_;
  binance_feed usdm_;  ///< Binance USD-M: after spot, so spot keeps the shared stream names' first lookup
  std::vector<std::vector<connection*>> subscribers_;  ///< per stream id
  std::unordered_map<std::uint32_t, std::unique_ptr<connection>> conns_;
  std::vector<connection*> dirty_;
  std::uint32_t next_conn_id_ = 1;

  lws_context* ctx_ = nullptr;
  lws_vhost* venue_vhost_ = nullptr;
  lws_vhost* control_vhost_ = nullptr;
  lws_vhost* binance_rest_vhost_ = nullptr;
  lws_vhost* okx_rest_vhost_ = nullptr;
  lws_vhost* usdm_rest_vhost_ = nullptr;
  std::unique_ptr<timer_slot> timer_;
  int venue_port_ = 0;
  int control_port_ = 0;
  int binance_rest_port_ = -1;
  int okx_rest_port_ = -1;
  int usdm_rest_port_ = -1;

  // Venue limits (rate_limits.hpp), per client IP.
  binance_weight_budget binance_weight_;
  binance_weight_budget usdm_weight_;
  okx_request_budget okx_requests_;
  std::map<std::string, sliding_counter> connect_attempts_[3];  ///< [0] Binance, [1] OKX, [2] USD-M; by IP
  std::uint64_t connect_refused_[3] = {0, 0, 0};
  std::uint64_t okx_subscribe_refused_ = 0;
  std::vector<std::int64_t> quiet_until_us_;  ///< per instrument (Binance first, then OKX, then USD-M)

  std::int64_t now_us_ = 0;    ///< CLOCK_MONOTONIC, refreshed per callback/tick
  std::int64_t now_ms_ = 0;    ///< CLOCK_REALTIME ms (venue event times)
  double rate_ = 0;
  bool paused_ = false;
  std::int64_t rate_epoch_us_ = 0;
  double actions_done_ = 0;
  std::size_t next_instrument_ = 0;
  std::int64_t refuse_until_us_ = 0;
  std::int64_t last_flush_us_ = 0;
  std::uint64_t actions_ = 0;
  std::uint64_t events_ = 0;
  std::uint64_t frames_fanned_ = 0;
  std::uint64_t refused_ = 0;
  std::string wrap_;  ///< combined-stream wrapper scratch
};

}  // namespace mdbus::exsim
