#pragma once
/// exsim configuration: one struct, loadable from JSON (every field optional, validated,
/// errors name the field) and overridable from the command line.
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace mdbus::exsim {

/// A configuration error; the message names the file and field.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One simulated instrument. Prices are integers in units of 10^-price_scale.
struct instrument_config {
  std::string symbol;       ///< venue spelling: "BTCUSDT" (Binance), "BTC-USDT" (OKX)
  int price_scale = 2;      ///< decimals of the tick size (2 → 0.01)
  int qty_scale = 5;        ///< decimals of the lot size
  std::int64_t start_price = 6183763;  ///< initial mid, in ticks
};

/// Binance spot behaviour (web-socket-streams.md "General WSS information"); the same struct
/// with usdm_defaults() describes Binance USD-M futures ("WebSocket Market Streams").
struct binance_config {
  /// USD-M futures: routed paths (/public, /market), depth with pu and ids that skip, partial
  /// depth as depthUpdate events, bookTicker with e/E/T, /fapi/v1 REST.
  bool futures = false;
  std::vector<instrument_config> instruments;
  std::int64_t max_age_ms = 24LL * 3600 * 1000;  ///< a connection lives at most this long
  std::int64_t ping_interval_ms = 20000;         ///< server ping frame period
  std::int64_t pong_timeout_ms = 60000;          ///< no pong for this long → close
  int max_incoming_per_s = 5;                    ///< incoming messages per second (0: no limit)
  int max_streams = 1024;                        ///< streams per connection
  std::int64_t depth_interval_ms = 1000;         ///< @depth / @depthN
  std::int64_t depth_fast_interval_ms = 100;     ///< @depth@100ms / @depthN@100ms
  std::int64_t depth_mid_interval_ms = 500;      ///< USD-M @depth@500ms / @depthN@500ms (@0ms: every change)
  std::int64_t mark_interval_ms = 3000;          ///< USD-M @markPrice ("Mark Price Stream": 3000 ms)
  std::int64_t mark_fast_interval_ms = 1000;     ///< USD-M @markPrice@1s
  /// Listed in exchangeInfo with status BREAK, never streamed (instruments.hpp).
  std::vector<std::string> halted;
  /// REST listener (api.binance.com is its own host): 0 = any free port, -1 = off.
  int rest_port = 9445;
  std::int64_t weight_limit = 6000;              ///< request weight per IP per window (rest-api.md "LIMITS")
  std::int64_t weight_window_ms = 60000;         ///< fixed windows (the venue's minute), compressible
  std::int64_t ban_ms = 120000;                  ///< 418 IP ban after ignoring a 429's Retry-After
  int connect_limit = 300;                       ///< WebSocket connection attempts per IP per window
  std::int64_t connect_window_ms = 300000;       ///< (web-socket-streams.md: 300 per 5 minutes)
};

/// Binance USD-M's documented behaviour (USDⓈ-M Futures "WebSocket Market Streams", "General
/// Info: Limits", 2026-12): 24 h connections, a ping every 3 minutes, a pong within 10, 10
/// incoming messages per second, @depth every 250 ms, REST weight 2400 per minute. No symbols:
/// USD-M is served only when symbols are configured.
binance_config usdm_defaults();

/// OKX v5 public behaviour.
struct okx_config {
  std::vector<instrument_config> instruments;
  std::int64_t idle_timeout_ms = 30000;      ///< nothing received and nothing pushed → close
  bool snapshot_on_subscribe = false;        ///< true: the pre-Aug-2026 snapshot push on subscribe
  bool checksum = false;                     ///< true: the real CRC (production sends 0 since 2026-06-23)
  bool public_l2_tbt = false;                ///< true: serve books(50)-l2-tbt without login (60011 otherwise)
  std::int64_t books_interval_ms = 100;      ///< books and books5 cadence
  std::int64_t tickers_interval_ms = 100;
  std::int64_t book_heartbeat_ms = 60000;    ///< empty books update after this long unchanged
  /// mark-price ("Mark price channel": every 200 ms when the mark price changed, every 10 s otherwise).
  std::int64_t mark_interval_ms = 200;
  std::int64_t mark_idle_interval_ms = 10000;
  /// funding-rate, -SWAP instIds only ("Funding rate channel": every 30 to 90 s).
  std::int64_t funding_interval_ms = 30000;
  /// Listed in public/instruments with state "suspend", never streamed (instruments.hpp).
  std::vector<std::string> suspended;
  /// REST listener (www.okx.com is its own host): 0 = any free port, -1 = off.
  int rest_port = 9446;
  int books_rest_limit = 40;                 ///< GET /api/v5/market/books requests per IP per window
  std::int64_t books_rest_window_ms = 2000;
  int connect_limit = 3;                     ///< WebSocket connection requests per IP per window
  std::int64_t connect_window_ms = 1000;
  int subscribe_limit = 480;                 ///< subscribe/unsubscribe requests per connection per window (0: off)
  std::int64_t subscribe_window_ms = 3600000;
};

struct exsim_config {
  std::string host = "127.0.0.1";  ///< listen address (venue and control)
  int port = 9443;                 ///< venue (stream) port, both venues, told apart by path; 0 = any
  int control_port = 9444;         ///< control HTTP port (plain, loopback); 0 = any, -1 = off
  bool tls = true;                 ///< wss:// and https:// on the venue port
  std::string tls_cert;            ///< server certificate (PEM)
  std::string tls_key;             ///< server private key (PEM)
  std::uint64_t seed = 1;          ///< market seed
  double rate = 1000;              ///< market actions per second across all instruments
  std::string truth_log;           ///< ground-truth log path ("" = none)
  std::size_t queue_limit_bytes = 64U << 20;  ///< per-connection send queue bound
  bool close_slow = true;          ///< over the bound: close (true) or drop frames with a count
  std::int64_t tick_us = 1000;     ///< market and housekeeping timer period
  bool rest_on_stream_port = false;  ///< legacy: REST also on the venue (stream) port
  bool connect_limits = true;        ///< enforce the venues' connection-attempt limits
  /// Trades kept per instrument for the trade-history REST endpoints (trade_history.hpp);
  /// Binance also keeps as many aggregate trades.
  std::size_t trade_history = 10000;
  /// Instrument (either venue's spelling) → seconds after start with no market actions.
  std::map<std::string, double> quiet;
  binance_config binance;
  okx_config okx;
  binance_config usdm = usdm_defaults();  ///< config key "binance_usdm"
};

/// The built-in defaults: BTCUSDT/ETHUSDT on Binance, BTC-USDT/ETH-USDT on OKX, no USD-M.
exsim_config default_config();

/// Parameters for a symbol given only by name (known majors get realistic scales).
instrument_config instrument_for(const std::string& symbol);

/// Takes `names` out of the streamed `instruments` and returns them, for the halted/suspended
/// lists (a listed-only symbol is never streamed).
std::vector<std::string> listed_only(std::vector<instrument_config>& instruments, const std::vector<std::string>& names);

/// Applies the fields present in `j` onto `cfg`. `origin` names the file in errors.
void apply_config_json(exsim_config& cfg, const nlohmann::json& j, const std::string& origin);

/// Loads a JSON config file over the defaults.
exsim_config load_config_file(const std::string& path);

/// Checks ranges and file presence; throws config_error naming the field.
void validate(const exsim_config& cfg);

/// The effective configuration as JSON (printed at start-up, served by GET /status).
nlohmann::json to_json(const exsim_config& cfg);

}  // namespace mdbus::exsim
