// HTTP on the venue port (REST: Binance /api/v3/depth, OKX /api/v5/market/books) and the
// control endpoint (GET /status, GET /connections, POST /fault, POST /market).
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include <libwebsockets.h>

#include "tools/exsim/server.hpp"

namespace mdbus::exsim {
namespace {

using json = nlohmann::json;

// Value of `name` in the request's query string ("" if absent).
std::string query_arg(lws* wsi, const char* name) {
  char buf[512];
  const std::size_t nlen = std::strlen(name);
  for (int i = 0; i < 32; ++i) {
    const int n = lws_hdr_copy_fragment(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0) break;
    const std::string_view kv(buf, static_cast<std::size_t>(n));
    if (kv.size() > nlen && kv.compare(0, nlen, name) == 0 && kv[nlen] == '=') return std::string(kv.substr(nlen + 1));
  }
  return {};
}

const char* const kFaultHelp =
    "type: drop | drop_venue | stall | unstall | malformed | oversized | duplicate | reorder | refuse | delay | "
    "shutdown_notice";

}  // namespace

void server::venue_http(lws* wsi, session* s, const std::string& path) {
  if (path == "/api/v3/depth") {
    int status = 200;
    std::string body = binance_.rest_depth(query_arg(wsi, "symbol"), query_arg(wsi, "limit"), status);
    http_reply(wsi, s, status, std::move(body));
    return;
  }
  if (path == "/api/v5/market/books") {
    http_reply(wsi, s, 200, okx_.rest_books(query_arg(wsi, "instId"), query_arg(wsi, "sz"), now_ms_));
    return;
  }
  http_reply(wsi, s, 404, R"({"code":-1,"msg":"Not found: )" + path + "\"}");
}

void server::control_request(lws* wsi, session* s, const std::string& method, const std::string& path,
                             const std::string& body) {
  int status = 200;
  json reply;
  if (method == "GET" && path == "/status") {
    reply = status_json();
  } else if (method == "GET" && path == "/connections") {
    reply = connections_json();
  } else if (method == "POST" && (path == "/fault" || path == "/market")) {
    json req;
    try {
      req = json::parse(body);
    } catch (const json::parse_error& e) {
      http_reply(wsi, s, 400, json{{"ok", false}, {"error", std::string("invalid JSON: ") + e.what()}}.dump());
      return;
    }
    if (!req.is_object()) {
      http_reply(wsi, s, 400, json{{"ok", false}, {"error", "body must be a JSON object"}}.dump());
      return;
    }
    if (path == "/fault") {
      reply = fault(req, status);
    } else {
      if (req.contains("rate")) {
        if (!req["rate"].is_number() || req["rate"].get<double>() < 0) {
          http_reply(wsi, s, 400, json{{"ok", false}, {"error", "rate: must be a number >= 0"}}.dump());
          return;
        }
        rate_ = req["rate"].get<double>();
        rate_epoch_us_ = now_us_;
        actions_done_ = 0;
      }
      if (req.contains("paused")) paused_ = req["paused"].is_boolean() && req["paused"].get<bool>();
      reply = status_json();
      reply["ok"] = true;
    }
  } else {
    status = 404;
    reply = {{"ok", false},
             {"error", "unknown endpoint " + method + " " + path +
                           "; use GET /status, GET /connections, POST /fault, POST /market"}};
  }
  http_reply(wsi, s, status, reply.dump());
}

json server::fault(const json& req, int& status) {
  auto bad = [&](const std::string& msg) {
    status = 400;
    return json{{"ok", false}, {"error", msg}};
  };
  const std::string type = req.value("type", "");
  const auto ms = req.value("ms", std::int64_t{0});
  json affected = json::array();

  if (type == "refuse") {
    if (ms <= 0) return bad("refuse: ms must be > 0");
    refuse_until_us_ = now_us_ + ms * 1000;
    return {{"ok", true}, {"refuse_until_ms_from_now", ms}};
  }
  if (type == "drop_venue" || (type == "shutdown_notice" && req.contains("venue"))) {
    const auto v = venue_from_string(req.value("venue", ""));
    if (!v) return bad(type + ": venue must be \"binance\" or \"okx\"");
    for (auto& [id, c] : conns_)
      if (c->venue_id == *v) affected.push_back(id);
  } else {
    if (!req.contains("conn") || !req["conn"].is_number_integer()) return bad(type + ": conn (connection id) required");
    const auto id = req["conn"].get<std::uint32_t>();
    if (find_connection(id) == nullptr) {
      status = 404;
      return {{"ok", false}, {"error", "no connection " + std::to_string(id)}};
    }
    affected.push_back(id);
  }

  for (const auto& idj : affected) {
    connection& c = *find_connection(idj.get<std::uint32_t>());
    auto* wsi = static_cast<lws*>(c.wsi);
    if (type == "drop" || type == "drop_venue") {
      // Default: the TCP connection just goes away (no close handshake), like a network fault.
      if (req.value("abrupt", true)) {
        c.request_close(1006, "dropped", true);
        ::shutdown(lws_get_socket_fd(wsi), SHUT_RDWR);
      } else {
        c.request_close(req.value("code", 1001), req.value("reason", std::string("going away")), false);
      }
    } else if (type == "stall") {
      c.stall(ms > 0 ? now_us_ + ms * 1000 : connection::kForever);
    } else if (type == "unstall") {
      c.stall(0);
    } else if (type == "delay") {
      if (ms < 0) return bad("delay: ms must be >= 0");
      c.set_delay(ms * 1000);
    } else if (type == "duplicate") {
      c.duplicate_next(req.value("count", 1));
    } else if (type == "reorder") {
      c.reorder_next(req.value("count", 1));
    } else if (type == "malformed") {
      // A frame cut mid-event, as a broken proxy or a truncated write would deliver it.
      c.push_frame(ws_opcode::text,
                   c.venue_id == venue::binance ? R"({"stream":"btcusdt@trade","data":{"e":"trade","E":17231612)"
                                                : R"({"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":")",
                   now_us_);
    } else if (type == "oversized") {
      const auto bytes = req.value("bytes", std::size_t{4} << 20);
      std::string big = R"({"e":"exsim-oversized","pad":")";
      big.append(bytes > big.size() + 2 ? bytes - big.size() - 2 : 0, 'x');
      big.append("\"}");
      c.push_frame(ws_opcode::text, big, now_us_);
    } else if (type == "shutdown_notice") {
      // Binance (2026-05): {"e":"serverShutdown","E":..}; OKX: notice 64008, 60 s before an upgrade.
      if (c.venue_id == venue::binance) {
        const std::string ev = R"({"e":"serverShutdown","E":)" + std::to_string(now_ms_) + "}";
        c.push_frame(ws_opcode::text, c.combined ? R"({"stream":"!serverShutdown","data":)" + ev + "}" : ev, now_us_);
      } else {
        c.push_frame(ws_opcode::text,
                     json{{"event", "notice"},
                          {"code", "64008"},
                          {"msg", "The connection will soon be closed for a service upgrade. Please reconnect."},
                          {"connId", std::to_string(c.id)}}
                         .dump(),
                     now_us_);
      }
    } else {
      return bad(std::string("unknown fault type '") + type + "'; " + kFaultHelp);
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
