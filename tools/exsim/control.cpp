// The control endpoint (GET /status, GET /connections, POST /fault, POST /market).
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <limits>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include <libwebsockets.h>

#include "tools/exsim/instruments.hpp"
#include "tools/exsim/server.hpp"

namespace mdbus::exsim {
namespace {

using json = nlohmann::json;

const char* const kFaultHelp =
    "type: drop | drop_venue | stall | unstall | malformed | oversized | duplicate | reorder | refuse | delay | "
    "shutdown_notice | mute";
// Control replies may echo client bytes (a path): invalid UTF-8 is replaced, never thrown on.
std::string text_of(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

constexpr const char* kFaultTypes[] = {"drop",     "drop_venue", "stall",   "unstall", "malformed",      "oversized",
                                       "duplicate", "reorder",    "refuse",  "delay",   "shutdown_notice", "mute"};
// The largest oversized frame: the default send-queue bound (64 MiB) is the useful ceiling.
constexpr std::int64_t kMaxOversizedBytes = 256LL << 20;

/// A control request field of the wrong type or range: answered 400 with this message.
struct bad_request : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Typed optional field of a control request; the error names the field.
std::int64_t int_field(const json& req, const char* name, std::int64_t fallback) {
  const auto it = req.find(name);
  if (it == req.end()) return fallback;
  if (!it->is_number_integer()) throw bad_request(std::string(name) + ": must be an integer");
  return it->get<std::int64_t>();
}
bool bool_field(const json& req, const char* name, bool fallback) {
  const auto it = req.find(name);
  if (it == req.end()) return fallback;
  if (!it->is_boolean()) throw bad_request(std::string(name) + ": must be true or false");
  return it->get<bool>();
}
std::string string_field(const json& req, const char* name, const std::string& fallback) {
  const auto it = req.find(name);
  if (it == req.end()) return fallback;
  if (!it->is_string()) throw bad_request(std::string(name) + ": must be a string");
  return it->get<std::string>();
}

}  // namespace

void server::control_request(lws* wsi, session* s, const std::string& method, const std::string& path,
                             const std::string& body) {
  int status = 200;
  json reply;
  try {
    if (method == "GET" && path == "/status") {
      reply = status_json();
    } else if (method == "GET" && path == "/connections") {
      reply = connections_json();
    } else if (method == "POST" && (path == "/fault" || path == "/market")) {
      json req;
      try {
        req = json::parse(body);
      } catch (const json::parse_error& e) {
        throw bad_request(std::string("invalid JSON: ") + e.what());
      }
      if (!req.is_object()) throw bad_request("body must be a JSON object");
      if (path == "/fault") {
        reply = fault(req, status);
      } else {
        const auto rate = req.find("rate");
        if (rate != req.end() && (!rate->is_number() || rate->get<double>() < 0 || rate->get<double>() > 10e6))
          throw bad_request("rate: must be a number in 0..10000000");
        const bool paused = bool_field(req, "paused", paused_);
        if (rate != req.end()) {
          rate_ = rate->get<double>();
          rate_epoch_us_ = now_us_;
          actions_done_ = 0;
        }
        paused_ = paused;
        reply = status_json();
        reply["ok"] = true;
      }
    } else {
      status = 404;
      reply = {{"ok", false},
               {"error", "unknown endpoint " + method + " " + path +
                             "; use GET /status, GET /connections, POST /fault, POST /market"}};
    }
  } catch (const bad_request& e) {
    status = 400;
    reply = {{"ok", false}, {"error", e.what()}};
  }
  http_reply(wsi, s, status, text_of(reply));
}

json server::fault(const json& req, int& status) {
  // Every field is checked before anything is changed: a bad request changes nothing.
  const std::string type = string_field(req, "type", "");
  if (std::find(std::begin(kFaultTypes), std::end(kFaultTypes), type) == std::end(kFaultTypes))
    throw bad_request("unknown fault type '" + type + "'; " + kFaultHelp);
  const std::int64_t ms = int_field(req, "ms", 0);
  const bool abrupt = bool_field(req, "abrupt", true);
  const std::int64_t code = int_field(req, "code", 1001);
  const std::string reason = string_field(req, "reason", "going away");
  const std::int64_t count = int_field(req, "count", 1);
  const std::int64_t bytes = int_field(req, "bytes", std::int64_t{4} << 20);
  if (type == "refuse" && ms <= 0) throw bad_request("refuse: ms must be > 0");
  if (type == "delay" && ms < 0) throw bad_request("delay: ms must be >= 0");
  if (type == "stall" && ms < 0) throw bad_request("stall: ms must be >= 0 (0: until unstall)");
  if ((type == "duplicate" || type == "reorder") && (count < 1 || count > 1000000))
    throw bad_request(type + ": count must be 1..1000000");
  if (type == "oversized" && (bytes < 64 || bytes > kMaxOversizedBytes))
    throw bad_request("oversized: bytes must be 64.." + std::to_string(kMaxOversizedBytes));
  // mute: the venue silently stops one stream of a live connection (a dropped subscription:
  // no close, no error, the other streams flow). A resubscribe of that stream restores it.
  const stream_info* muted = nullptr;
  if (type == "mute") {
    muted = registry_.find(string_field(req, "stream", ""));
    if (muted == nullptr) throw bad_request("mute: stream must name a stream (e.g. \"btcusdt@trade\", \"books:BTC-USDT\")");
  }
  if (type == "drop" && !abrupt && (code < 1000 || code > 4999 || reason.size() > 123))
    throw bad_request("drop: code must be 1000..4999 and reason at most 123 bytes");

  json affected = json::array();
  if (type == "refuse") {
    refuse_until_us_ = now_us_ + ms * 1000;
    return {{"ok", true}, {"type", type}, {"refuse_until_ms_from_now", ms}};
  }
  if (type == "drop_venue" || (type == "shutdown_notice" && req.contains("venue"))) {
    const auto v = venue_from_string(string_field(req, "venue", ""));
    if (!v) throw bad_request(type + ": venue must be \"binance\", \"okx\" or \"binance_usdm\"");
    // USD-M documents no going-away notice ("WebSocket Market Streams", 2026-12): its servers
    // just close. exsim does not invent one.
    if (type == "shutdown_notice" && *v == venue::binance_usdm)
      throw bad_request("shutdown_notice: Binance USD-M documents no going-away notice");
    for (auto& [id, c] : conns_)
      if (c->venue_id == *v) affected.push_back(id);
  } else {
    const auto conn = req.find("conn");
    if (conn == req.end() || !conn->is_number_unsigned()) throw bad_request(type + ": conn (connection id) required");
    const auto id = conn->get<std::uint64_t>();
    if (id > std::numeric_limits<std::uint32_t>::max() || find_connection(static_cast<std::uint32_t>(id)) == nullptr) {
      status = 404;
      return {{"ok", false}, {"error", "no connection " + std::to_string(id)}};
    }
    if (type == "shutdown_notice" && find_connection(static_cast<std::uint32_t>(id))->venue_id == venue::binance_usdm)
      throw bad_request("shutdown_notice: Binance USD-M documents no going-away notice");
    affected.push_back(id);
  }

  for (const auto& idj : affected) {
    connection& c = *find_connection(idj.get<std::uint32_t>());
    auto* wsi = static_cast<lws*>(c.wsi);
    if (type == "drop" || type == "drop_venue") {
      // Default: the TCP connection just goes away (no close handshake), like a network fault.
      if (abrupt) {
        c.request_close(1006, "dropped", true);
        ::shutdown(lws_get_socket_fd(wsi), SHUT_RDWR);
      } else {
        c.request_close(static_cast<int>(code), reason, false);
      }
    } else if (type == "stall") {
      c.stall(ms > 0 ? now_us_ + ms * 1000 : connection::kForever);
    } else if (type == "mute") {
      unsubscribe(c, muted->id);
    } else if (type == "unstall") {
      c.stall(0);
    } else if (type == "delay") {
      c.set_delay(ms * 1000);
    } else if (type == "duplicate") {
      c.duplicate_next(static_cast<int>(count));
    } else if (type == "reorder") {
      c.reorder_next(static_cast<int>(count));
    } else if (type == "malformed") {
      // A frame cut mid-event, as a broken proxy or a truncated write would deliver it.
      c.push_frame(ws_opcode::text,
                   c.venue_id != venue::okx ? R"({"stream":"btcusdt@trade","data":{"e":"trade","E":17231612)"
                                                : R"({"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":")",
                   now_us_);
    } else if (type == "oversized") {
      std::string big = R"({"e":"exsim-oversized","pad":")";
      big.append(static_cast<std::size_t>(bytes) - big.size() - 2, 'x');
      big.append("\"}");
      c.push_frame(ws_opcode::text, big, now_us_);
    } else if (type == "shutdown_notice") {
      // Binance (2026-05): {"e":"serverShutdown","E":..}; OKX: notice 64008, 60 s before an upgrade.
      if (c.venue_id == venue::binance) {
        const std::string ev = R"({"e":"serverShutdown","E":)" + std::to_string(now_ms_) + "}";
        c.push_frame(ws_opcode::text, c.combined ? R"({"stream":"!serverShutdown","data":)" + ev + "}" : ev, now_us_);
      } else {
        c.push_frame(ws_opcode::text,
                     nlohmann::ordered_json{{"event", "notice"},
                          {"code", "64008"},
                          {"msg", "The connection will soon be closed for a service upgrade. Please reconnect."},
                          {"connId", okx_conn_id(c.id)}}
                         .dump(),
                     now_us_);
      }
    }
    mark_dirty(c);
    if (c.close_pending && !c.close_abrupt) lws_callback_on_writable(wsi);
  }
  return {{"ok", true}, {"type", type}, {"affected", affected}};
}

json server::status_json() const {
  json b = json::array();
  for (std::size_t i = 0; i < binance_.instrument_count(); ++i)
    b.push_back({{"symbol", binance_.symbol(i)}, {"last_update_id", binance_.last_update_id(i)}});
  json o = json::array();
  for (std::size_t i = 0; i < okx_.instrument_count(); ++i)
    o.push_back({{"instId", okx_.inst_id(i)}, {"seqId", okx_.seq_id(i)}, {"checksum", okx_.checksum(i)}});
  return {{"venue_port", venue_port_},
          {"control_port", control_port_},
          {"binance_rest_port", binance_rest_port_},
          {"okx_rest_port", okx_rest_port_},
          {"usdm_rest_port", usdm_rest_port_},
          {"rest_on_stream_port", cfg_.rest_on_stream_port},
          {"limits", limits_json()},
          {"tls", cfg_.tls},
          {"rate", rate_},
          {"paused", paused_},
          {"connections", conns_.size()},
          {"actions", actions_},
          {"events", events_},
          {"frames_fanned", frames_fanned_},
          {"refused", refused_},
          {"truth_entries", truth_ ? truth_->count() : 0},
          {"binance", b},
          {"okx", o}};
}

json server::limits_json() const {
  // Per venue, for tests that assert a client never went over the venue's budget.
  const std::int64_t now = now_us_ / 1000;
  auto venue_limits = [&](const rest_stats& st, std::int64_t used, std::int64_t limit, std::uint64_t refused) {
    return json{{"rest_requests", st.requests},
                {"rest_weight_used", used},
                {"rest_weight_max", st.weight_max},
                {"rest_weight_limit", limit},
                {"rest_429", st.answered_429},
                {"rest_418", st.answered_418},
                {"connect_refused_limit", refused}};
  };
  json b = venue_limits(binance_weight_.stats(), binance_weight_.used_now(now), cfg_.binance.weight_limit,
                        connect_refused_[0]);
  b["rest_weight_window_ms"] = cfg_.binance.weight_window_ms;
  json o = venue_limits(okx_requests_.stats(), okx_requests_.used_now(now), cfg_.okx.books_rest_limit, connect_refused_[1]);
  o["rest_weight_window_ms"] = cfg_.okx.books_rest_window_ms;
  o["subscribe_refused_limit"] = okx_subscribe_refused_;
  json u = venue_limits(usdm_weight_.stats(), usdm_weight_.used_now(now), cfg_.usdm.weight_limit, connect_refused_[2]);
  u["rest_weight_window_ms"] = cfg_.usdm.weight_window_ms;
  return {{"binance", b}, {"okx", o}, {"binance_usdm", u}};
}

json server::connections_json() const {
  json a = json::array();
  for (const auto& [id, c] : conns_) {
    json streams = json::array();
    for (const auto s : c->streams) streams.push_back(registry_.at(s).name);
    a.push_back({{"id", id},
                 {"venue", std::string(to_string(c->venue_id))},
                 {"path", c->path},
                 {"age_ms", (now_us_ - c->opened_us) / 1000},
                 {"combined", c->combined},
                 {"streams", streams},
                 {"queued_bytes", c->queued_bytes()},
                 {"frames_queued", c->frames_queued},
                 {"frames_dropped", c->frames_dropped},
                 {"bytes_written", c->bytes_written},
                 {"delay_ms", c->delay_us() / 1000},
                 {"stalled", c->stalled(now_us_)},
                 {"closing", c->close_pending}});
  }
  return a;
}

}  // namespace mdbus::exsim
