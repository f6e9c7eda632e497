#include "tools/exsim/exsim_config.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace mdbus::exsim {
namespace {

using json = nlohmann::json;

// Errors read "<file>: <field.path>: <problem>", one line.
template <class T>
void read_field(const json& obj, const char* key, T& out, const std::string& where) {
  const auto it = obj.find(key);
  if (it == obj.end()) return;
  auto bad = [&](const char* expected) {
    throw config_error(where + key + ": expected " + expected + ", got " + it->type_name() +
                       (it->is_primitive() ? " " + it->dump() : std::string()));
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) bad("true or false");
    out = it->get<bool>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) bad("a string");
    out = it->get<std::string>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!it->is_number()) bad("a number");
    out = it->get<T>();
  } else {
    static_assert(std::is_integral_v<T>);
    // Integers only (1.5 is not silently 1), and in range of the field (no wrap-around).
    if (!it->is_number_integer()) bad("an integer");
    const bool fits = it->is_number_unsigned()
                          ? it->get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())
                          : it->get<std::int64_t>() >= static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
                                (std::is_unsigned_v<T> || it->get<std::int64_t>() <= static_cast<std::int64_t>(std::numeric_limits<T>::max()));
    if (!fits) bad(std::is_unsigned_v<T> ? "a non-negative integer in range" : "an integer in range");
    out = it->is_number_unsigned() ? static_cast<T>(it->get<std::uint64_t>()) : static_cast<T>(it->get<std::int64_t>());
  }
}

// Every key of `obj` must be one of `known`: a misspelt field is an error, not a default.
void check_keys(const json& obj, std::initializer_list<const char*> known, const std::string& where) {
  for (const auto& [k, v] : obj.items()) {
    bool ok = false;
    for (const char* t : known) ok = ok || k == t;
    if (!ok) throw config_error(where + k + ": unknown field");
  }
}

std::vector<instrument_config> read_instruments(const json& arr, const std::string& where) {
  if (!arr.is_array()) throw config_error(where + ": expected an array of symbols");
  std::vector<instrument_config> out;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const auto& e = arr[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (e.is_string()) {
      out.push_back(instrument_for(e.get<std::string>()));
    } else if (e.is_object()) {
      check_keys(e, {"symbol", "price_scale", "qty_scale", "start_price"}, at + ".");
      std::string sym;
      read_field(e, "symbol", sym, at + ".");
      if (sym.empty()) throw config_error(at + ".symbol: missing");
      auto inst = instrument_for(sym);
      read_field(e, "price_scale", inst.price_scale, at + ".");
      read_field(e, "qty_scale", inst.qty_scale, at + ".");
      read_field(e, "start_price", inst.start_price, at + ".");
      out.push_back(inst);
    } else {
      throw config_error(at + ": expected a symbol string or object");
    }
  }
  return out;
}

// A list of listed-only symbol names (binance.halted, okx.suspended).
std::vector<std::string> read_names(const json& arr, const std::string& where) {
  if (!arr.is_array()) throw config_error(where + ": expected an array of symbols");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_string()) throw config_error(where + "[" + std::to_string(i) + "]: expected a symbol string");
    out.push_back(arr[i].get<std::string>());
  }
  return out;
}

json instruments_json(const std::vector<instrument_config>& v) {
  json a = json::array();
  for (const auto& i : v)
    a.push_back({{"symbol", i.symbol}, {"price_scale", i.price_scale}, {"qty_scale", i.qty_scale},
                 {"start_price", i.start_price}});
  return a;
}

bool file_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

}  // namespace

instrument_config instrument_for(const std::string& symbol) {
  instrument_config i;
  i.symbol = symbol;
  const bool okx = symbol.find('-') != std::string::npos;
  if (symbol.rfind("BTC", 0) == 0) {
    i.price_scale = okx ? 1 : 2;
    i.qty_scale = okx ? 8 : 5;
    i.start_price = okx ? 618401 : 6183763;
  } else if (symbol.rfind("ETH", 0) == 0) {
    i.price_scale = 2;
    i.qty_scale = okx ? 6 : 4;
    i.start_price = okx ? 265055 : 265012;
  } else {
    i.price_scale = 4;
    i.qty_scale = 2;
    i.start_price = 1000000;
  }
  return i;
}

std::vector<std::string> listed_only(std::vector<instrument_config>& instruments, const std::vector<std::string>& names) {
  for (const auto& n : names)
    instruments.erase(std::remove_if(instruments.begin(), instruments.end(),
                                     [&](const instrument_config& i) { return i.symbol == n; }),
                      instruments.end());
  return names;
}

binance_config usdm_defaults() {
  binance_config b;
  b.futures = true;
  b.ping_interval_ms = 180'000;
  b.pong_timeout_ms = 600'000;
  b.max_incoming_per_s = 10;
  b.depth_interval_ms = 250;
  b.depth_fast_interval_ms = 100;
  b.depth_mid_interval_ms = 500;
  b.rest_port = 9447;
  b.weight_limit = 2400;
  // No documented connection-attempt limit for fstream (checked 2026-12): spot's figure, off
  // unless configured.
  b.connect_limit = 0;
  return b;
}

exsim_config default_config() {
  exsim_config c;
  c.binance.instruments = {instrument_for("BTCUSDT"), instrument_for("ETHUSDT")};
  c.okx.instruments = {instrument_for("BTC-USDT"), instrument_for("ETH-USDT")};
  return c;
}

void apply_config_json(exsim_config& cfg, const json& j, const std::string& origin) {
  if (!j.is_object()) throw config_error(origin + ": top level must be an object");
  const std::string top = origin + ": ";
  check_keys(j,
             {"host", "port", "control_port", "tls", "tls_cert", "tls_key", "seed", "rate", "truth_log",
              "queue_limit_bytes", "close_slow", "tick_us", "rest_on_stream_port", "connect_limits", "trade_history", "quiet", "binance",
              "okx", "binance_usdm"},
             top);
  read_field(j, "host", cfg.host, top);
  read_field(j, "port", cfg.port, top);
  read_field(j, "control_port", cfg.control_port, top);
  read_field(j, "tls", cfg.tls, top);
  read_field(j, "tls_cert", cfg.tls_cert, top);
  read_field(j, "tls_key", cfg.tls_key, top);
  read_field(j, "seed", cfg.seed, top);
  read_field(j, "rate", cfg.rate, top);
  read_field(j, "truth_log", cfg.truth_log, top);
  read_field(j, "queue_limit_bytes", cfg.queue_limit_bytes, top);
  read_field(j, "close_slow", cfg.close_slow, top);
  read_field(j, "tick_us", cfg.tick_us, top);
  read_field(j, "rest_on_stream_port", cfg.rest_on_stream_port, top);
  read_field(j, "connect_limits", cfg.connect_limits, top);
  read_field(j, "trade_history", cfg.trade_history, top);
  if (const auto it = j.find("quiet"); it != j.end()) {
    if (!it->is_object()) throw config_error(top + "quiet: expected an object {\"SYMBOL\": seconds}");
    cfg.quiet.clear();
    for (const auto& [sym, secs] : it->items()) {
      double v = 0;
      read_field(*it, sym.c_str(), v, top + "quiet.");
      cfg.quiet[sym] = v;
    }
  }
  for (const char* key : {"binance", "binance_usdm"}) {
    const auto it = j.find(key);
    if (it == j.end()) continue;
    const std::string w = top + key + ".";
    if (!it->is_object()) throw config_error(top + key + ": expected an object");
    check_keys(*it,
               {"symbols", "max_age_ms", "ping_interval_ms", "pong_timeout_ms", "max_incoming_per_s", "max_streams",
                "depth_interval_ms", "depth_fast_interval_ms", "depth_mid_interval_ms", "mark_interval_ms",
                "mark_fast_interval_ms", "halted", "rest_port", "weight_limit",
                "weight_window_ms", "ban_ms", "connect_limit", "connect_window_ms"},
               w);
    auto& b = std::string_view(key) == "binance" ? cfg.binance : cfg.usdm;
    if (it->contains("symbols")) b.instruments = read_instruments(it->at("symbols"), w + "symbols");
    read_field(*it, "max_age_ms", b.max_age_ms, w);
    read_field(*it, "ping_interval_ms", b.ping_interval_ms, w);
    read_field(*it, "pong_timeout_ms", b.pong_timeout_ms, w);
    read_field(*it, "max_incoming_per_s", b.max_incoming_per_s, w);
    read_field(*it, "max_streams", b.max_streams, w);
    read_field(*it, "depth_interval_ms", b.depth_interval_ms, w);
    read_field(*it, "depth_fast_interval_ms", b.depth_fast_interval_ms, w);
    read_field(*it, "depth_mid_interval_ms", b.depth_mid_interval_ms, w);
    read_field(*it, "mark_interval_ms", b.mark_interval_ms, w);
    read_field(*it, "mark_fast_interval_ms", b.mark_fast_interval_ms, w);
    if (it->contains("halted")) b.halted = read_names(it->at("halted"), w + "halted");
    read_field(*it, "rest_port", b.rest_port, w);
    read_field(*it, "weight_limit", b.weight_limit, w);
    read_field(*it, "weight_window_ms", b.weight_window_ms, w);
    read_field(*it, "ban_ms", b.ban_ms, w);
    read_field(*it, "connect_limit", b.connect_limit, w);
    read_field(*it, "connect_window_ms", b.connect_window_ms, w);
  }
  if (const auto it = j.find("okx"); it != j.end()) {
    const std::string w = top + "okx.";
    if (!it->is_object()) throw config_error(top + "okx: expected an object");
    check_keys(*it,
               {"symbols", "idle_timeout_ms", "snapshot_on_subscribe", "checksum", "books_interval_ms",
                "tickers_interval_ms", "book_heartbeat_ms", "mark_interval_ms", "mark_idle_interval_ms",
                "funding_interval_ms", "suspended", "public_l2_tbt", "rest_port", "books_rest_limit", "books_rest_window_ms", "connect_limit", "connect_window_ms", "subscribe_limit", "subscribe_window_ms"},
               w);
    auto& o = cfg.okx;
    if (it->contains("symbols")) o.instruments = read_instruments(it->at("symbols"), w + "symbols");
    read_field(*it, "idle_timeout_ms", o.idle_timeout_ms, w);
    read_field(*it, "snapshot_on_subscribe", o.snapshot_on_subscribe, w);
    read_field(*it, "checksum", o.checksum, w);
    read_field(*it, "books_interval_ms", o.books_interval_ms, w);
    read_field(*it, "tickers_interval_ms", o.tickers_interval_ms, w);
    read_field(*it, "book_heartbeat_ms", o.book_heartbeat_ms, w);
    read_field(*it, "mark_interval_ms", o.mark_interval_ms, w);
    read_field(*it, "mark_idle_interval_ms", o.mark_idle_interval_ms, w);
    read_field(*it, "funding_interval_ms", o.funding_interval_ms, w);
    if (it->contains("suspended")) o.suspended = read_names(it->at("suspended"), w + "suspended");
    read_field(*it, "public_l2_tbt", o.public_l2_tbt, w);
    read_field(*it, "rest_port", o.rest_port, w);
    read_field(*it, "books_rest_limit", o.books_rest_limit, w);
    read_field(*it, "books_rest_window_ms", o.books_rest_window_ms, w);
    read_field(*it, "connect_limit", o.connect_limit, w);
    read_field(*it, "connect_window_ms", o.connect_window_ms, w);
    read_field(*it, "subscribe_limit", o.subscribe_limit, w);
    read_field(*it, "subscribe_window_ms", o.subscribe_window_ms, w);
  }
}

exsim_config load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw config_error(path + ": cannot open");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw config_error(path + ": " + e.what());
  }
  auto cfg = default_config();
  apply_config_json(cfg, j, path);
  return cfg;
}

void validate(const exsim_config& cfg) {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw config_error(what);
  };
  need(cfg.port >= 0 && cfg.port <= 65535, "port: must be 0..65535");
  need(cfg.control_port >= -1 && cfg.control_port <= 65535, "control_port: must be -1..65535");
  need(cfg.binance.rest_port >= -1 && cfg.binance.rest_port <= 65535, "binance.rest_port: must be -1..65535");
  need(cfg.okx.rest_port >= -1 && cfg.okx.rest_port <= 65535, "okx.rest_port: must be -1..65535");
  need(cfg.usdm.rest_port >= -1 && cfg.usdm.rest_port <= 65535, "binance_usdm.rest_port: must be -1..65535");
  // Two listeners on one fixed port cannot both bind; say which, rather than lws's bind error.
  const std::pair<const char*, int> ports[] = {{"port", cfg.port},
                                               {"control_port", cfg.control_port},
                                               {"binance.rest_port", cfg.binance.rest_port},
                                               {"okx.rest_port", cfg.okx.rest_port},
                                               {"binance_usdm.rest_port", cfg.usdm.instruments.empty() ? -1 : cfg.usdm.rest_port}};
  for (std::size_t i = 0; i < std::size(ports); ++i)
    for (std::size_t k = 0; k < i; ++k)
      need(ports[i].second <= 0 || ports[i].second != ports[k].second,
           std::string(ports[i].first) + ": " + std::to_string(ports[i].second) + " is also " + ports[k].first);
  for (const auto& [name, b] : {std::pair<std::string, const binance_config*>{"binance", &cfg.binance},
                               std::pair<std::string, const binance_config*>{"binance_usdm", &cfg.usdm}}) {
    need(b->weight_limit > 0, name + ".weight_limit: must be > 0");
    need(b->weight_window_ms > 0, name + ".weight_window_ms: must be > 0");
    need(b->ban_ms > 0, name + ".ban_ms: must be > 0");
    need(b->connect_limit >= 0 && b->connect_window_ms > 0,
         name + ".connect_limit: must be >= 0 (0: off) with connect_window_ms > 0");
    need(b->max_age_ms > 0, name + ".max_age_ms: must be > 0");
    need(b->ping_interval_ms > 0, name + ".ping_interval_ms: must be > 0");
    need(b->pong_timeout_ms > 0, name + ".pong_timeout_ms: must be > 0");
    need(b->max_streams > 0, name + ".max_streams: must be > 0");
    need(b->depth_interval_ms > 0 && b->depth_fast_interval_ms > 0 && b->depth_mid_interval_ms > 0,
         name + ".depth_interval_ms: must be > 0");
    need(b->mark_interval_ms > 0 && b->mark_fast_interval_ms > 0, name + ".mark_interval_ms: must be > 0");
    need(b->max_incoming_per_s >= 0, name + ".max_incoming_per_s: must be >= 0 (0: no limit)");
    for (const auto& i : b->instruments)
      need(i.symbol.find('-') == std::string::npos, name + ".symbols: '" + i.symbol + "' is not a Binance symbol");
  }
  need(cfg.okx.books_rest_limit >= 0 && cfg.okx.books_rest_window_ms > 0,
       "okx.books_rest_limit: must be >= 0 (0: off) with books_rest_window_ms > 0");
  need(cfg.okx.connect_limit >= 0 && cfg.okx.connect_window_ms > 0,
       "okx.connect_limit: must be >= 0 (0: off) with connect_window_ms > 0");
  need(cfg.okx.subscribe_limit >= 0 && cfg.okx.subscribe_window_ms > 0,
       "okx.subscribe_limit: must be >= 0 (0: off) with subscribe_window_ms > 0");
  for (const auto& [sym, secs] : cfg.quiet) {
    bool known = false;
    for (const auto* list : {&cfg.binance.instruments, &cfg.okx.instruments, &cfg.usdm.instruments})
      for (const auto& i : *list) known = known || i.symbol == sym;
    need(known, "quiet." + sym + ": not a configured symbol");
    need(secs >= 0 && secs <= 86400, "quiet." + sym + ": seconds must be 0..86400");
  }
  need(cfg.rate >= 0 && cfg.rate <= 10e6, "rate: must be 0..10000000 actions/s");
  need(cfg.tick_us >= 100 && cfg.tick_us <= 1000000, "tick_us: must be 100..1000000");
  need(cfg.trade_history >= 1 && cfg.trade_history <= 10'000'000, "trade_history: must be 1..10000000");
  need(cfg.queue_limit_bytes >= 4096, "queue_limit_bytes: must be >= 4096");
  if (cfg.tls) {
    need(!cfg.tls_cert.empty(), "tls_cert: required with tls (or use plain ws)");
    need(!cfg.tls_key.empty(), "tls_key: required with tls (or use plain ws)");
    need(file_exists(cfg.tls_cert), "tls_cert: no such file: " + cfg.tls_cert);
    need(file_exists(cfg.tls_key), "tls_key: no such file: " + cfg.tls_key);
  }
  need(cfg.okx.idle_timeout_ms > 0, "okx.idle_timeout_ms: must be > 0");
  need(cfg.okx.book_heartbeat_ms >= 0, "okx.book_heartbeat_ms: must be >= 0 (0: off)");
  need(cfg.okx.books_interval_ms > 0, "okx.books_interval_ms: must be > 0");
  need(cfg.okx.tickers_interval_ms > 0, "okx.tickers_interval_ms: must be > 0");
  need(cfg.okx.mark_interval_ms > 0 && cfg.okx.mark_idle_interval_ms >= cfg.okx.mark_interval_ms,
       "okx.mark_interval_ms: must be > 0 and <= mark_idle_interval_ms");
  need(cfg.okx.funding_interval_ms > 0, "okx.funding_interval_ms: must be > 0");
  for (const auto* list : {&cfg.binance.instruments, &cfg.okx.instruments, &cfg.usdm.instruments})
    for (const auto& i : *list) {
      need(!i.symbol.empty() && i.symbol.size() < 16, "symbols: symbol '" + i.symbol + "' must be 1..15 chars");
      need(i.price_scale >= 0 && i.price_scale <= 8, "symbols." + i.symbol + ".price_scale: must be 0..8");
      need(i.qty_scale >= 0 && i.qty_scale <= 8, "symbols." + i.symbol + ".qty_scale: must be 0..8");
      need(i.start_price > 1000, "symbols." + i.symbol + ".start_price: must be > 1000 ticks");
    }
  // A listed-only symbol is never streamed: it must not also be a streamed one.
  auto streamed = [](const std::vector<instrument_config>& v, const std::string& s) {
    for (const auto& i : v)
      if (i.symbol == s) return true;
    return false;
  };
  for (const auto& s : cfg.binance.halted) {
    need(!s.empty() && s.size() < 16 && s.find('-') == std::string::npos, "binance.halted: '" + s + "' is not a Binance symbol");
    need(!streamed(cfg.binance.instruments, s), "binance.halted: '" + s + "' is also in binance.symbols");
  }
  for (const auto& s : cfg.okx.suspended) {
    need(!s.empty() && s.size() < 16 && s.find('-') != std::string::npos, "okx.suspended: '" + s + "' is not an OKX instId");
    need(!streamed(cfg.okx.instruments, s), "okx.suspended: '" + s + "' is also in okx.symbols");
  }
  for (const auto& i : cfg.okx.instruments)
    need(i.symbol.find('-') != std::string::npos, "okx.symbols: '" + i.symbol + "' is not an OKX instId");
}

static json binance_json(const binance_config& b) {
  return {{"symbols", instruments_json(b.instruments)},
          {"max_age_ms", b.max_age_ms},
          {"ping_interval_ms", b.ping_interval_ms},
          {"pong_timeout_ms", b.pong_timeout_ms},
          {"max_incoming_per_s", b.max_incoming_per_s},
          {"max_streams", b.max_streams},
          {"depth_interval_ms", b.depth_interval_ms},
          {"depth_fast_interval_ms", b.depth_fast_interval_ms},
          {"depth_mid_interval_ms", b.depth_mid_interval_ms},
          {"halted", b.halted},
          {"rest_port", b.rest_port},
          {"weight_limit", b.weight_limit},
          {"weight_window_ms", b.weight_window_ms},
          {"ban_ms", b.ban_ms},
          {"connect_limit", b.connect_limit},
          {"connect_window_ms", b.connect_window_ms}};
}

json to_json(const exsim_config& cfg) {
  return {{"host", cfg.host},
          {"port", cfg.port},
          {"control_port", cfg.control_port},
          {"tls", cfg.tls},
          {"tls_cert", cfg.tls_cert},
          {"tls_key", cfg.tls_key},
          {"seed", cfg.seed},
          {"rate", cfg.rate},
          {"truth_log", cfg.truth_log},
          {"queue_limit_bytes", cfg.queue_limit_bytes},
          {"close_slow", cfg.close_slow},
          {"tick_us", cfg.tick_us},
          {"trade_history", cfg.trade_history},
          {"rest_on_stream_port", cfg.rest_on_stream_port},
          {"connect_limits", cfg.connect_limits},
          {"quiet", cfg.quiet},
          {"binance", binance_json(cfg.binance)},
          {"binance_usdm", binance_json(cfg.usdm)},
          {"okx",
           {{"symbols", instruments_json(cfg.okx.instruments)},
            {"idle_timeout_ms", cfg.okx.idle_timeout_ms},
            {"snapshot_on_subscribe", cfg.okx.snapshot_on_subscribe},
            {"checksum", cfg.okx.checksum},
            {"books_interval_ms", cfg.okx.books_interval_ms},
            {"tickers_interval_ms", cfg.okx.tickers_interval_ms},
            {"book_heartbeat_ms", cfg.okx.book_heartbeat_ms},
            {"suspended", cfg.okx.suspended},
            {"public_l2_tbt", cfg.okx.public_l2_tbt},
            {"rest_port", cfg.okx.rest_port},
            {"books_rest_limit", cfg.okx.books_rest_limit},
            {"books_rest_window_ms", cfg.okx.books_rest_window_ms},
            {"connect_limit", cfg.okx.connect_limit},
            {"connect_window_ms", cfg.okx.connect_window_ms},
            {"subscribe_limit", cfg.okx.subscribe_limit},
            {"subscribe_window_ms", cfg.okx.subscribe_window_ms}}}};
}

}  // namespace mdbus::exsim
