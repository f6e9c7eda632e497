// Binance WebSocket protocol, spot (web-socket-streams.md): raw /ws/<stream> and combined
// /stream?streams=a/b/c endpoints, and the live control methods with id/result replies; USD-M
// ("WebSocket Market Streams", routed paths since 2026-04-23): the same under /public and
// /market, where a stream of the other path is accepted and stays silent ("Streams belonging
// to /market or /private will not push data on unrouted connections"; observed the same for a
// /market stream named on /public). On exsim's one venue port the unrouted /ws and /stream
// paths are spot's (stream.binance.com): USD-M is served on its routed paths only.
#include <nlohmann/json.hpp>

#include "tools/exsim/server.hpp"

namespace mdbus::exsim {
namespace {

using json = nlohmann::json;
// Replies keep the venue's key order ({"result":null,"id":1}); nlohmann::json would sort keys.
using reply_json = nlohmann::ordered_json;

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto pos = s.find(sep, start);
    const auto end = pos == std::string_view::npos ? s.size() : pos;
    if (end > start) out.emplace_back(s.substr(start, end - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

// Binance error shape: {"code":N,"msg":"...","id":...}
std::string error_reply(int code, const std::string& msg, const json& id) {
  return reply_json{{"code", code}, {"msg", msg}, {"id", id}}.dump();
}

// "Invalid JSON: expected value at line %s column %s" needs a line/column from a byte offset.
std::string json_position(std::string_view text, std::size_t byte) {
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + " column " + std::to_string(col);
}

}  // namespace

bool server::binance_parse_path(const std::string& full_path, const std::string& query, venue& v, std::string& route,
                                std::vector<std::uint16_t>& streams, bool& combined) const {
  std::vector<std::string> names;
  v = venue::binance;
  route.clear();
  std::string path = full_path;
  for (const char* r : {"/public", "/market"})
    if (!cfg_.usdm.instruments.empty() && path.rfind(std::string(r) + "/", 0) == 0) {
      v = venue::binance_usdm;
      route = r;
      path.erase(0, route.size());
    }
  const binance_config& bc = v == venue::binance_usdm ? cfg_.usdm : cfg_.binance;
  if (path == "/ws" || path == "/ws/") {
    combined = false;
  } else if (path.rfind("/ws/", 0) == 0) {
    combined = false;
    names = split(std::string_view(path).substr(4), '/');
  } else if (path == "/stream" || path == "/stream/") {
    combined = true;
    for (const auto& kv : split(query, '&'))
      if (kv.rfind("streams=", 0) == 0) names = split(std::string_view(kv).substr(8), '/');
  } else {
    return false;
  }
  if (names.size() > static_cast<std::size_t>(bc.max_streams)) return false;
  // The venue accepts any name in the path and pushes nothing for one that is not a stream:
  // clients dial a placeholder (ccxt: /ws/0, /ws/1, …) and SUBSCRIBE afterwards.
  // web-socket-streams.md "General WSS information" / "Live Subscribing/Unsubscribing" (2026-07).
  for (const auto& n : names) {
    const stream_info* si = registry_.find(v, n);
    if (si != nullptr && si->route == route) streams.push_back(si->id);
  }
  return true;
}

void server::binance_message(connection& c, std::string_view text) {
  json req;
  try {
    req = json::parse(text);
  } catch (const json::parse_error& e) {
    send_reply(c, error_reply(3, "Invalid JSON: expected value at " + json_position(text, e.byte), nullptr));
    return;
  }
  if (!req.is_object()) {
    send_reply(c, error_reply(2, "Invalid request: expected a JSON object", nullptr));
    return;
  }
  json id = nullptr;
  if (const auto it = req.find("id"); it != req.end()) {
    // id: a 64-bit integer, a string of at most 36 characters, or null.
    const bool ok = it->is_null() || it->is_number_integer() || (it->is_string() && it->get<std::string>().size() <= 36);
    if (!ok) {
      send_reply(c, error_reply(2, "Invalid request: request ID must be an unsigned integer or a string of at most 36 characters", nullptr));
      return;
    }
    id = *it;
  }
  const auto method_it = req.find("method");
  if (method_it == req.end() || !method_it->is_string()) {
    send_reply(c, error_reply(2, "Invalid request: missing field `method`", id));
    return;
  }
  const std::string method = method_it->get<std::string>();
  const json params = req.value("params", json::array());

  if (method == "SUBSCRIBE" || method == "UNSUBSCRIBE") {
    if (!params.is_array()) {
      send_reply(c, error_reply(2, "Invalid request: params must be an array of stream names", id));
      return;
    }
    std::vector<std::uint16_t> ids;
    for (const auto& p : params) {
      if (!p.is_string() || p.get<std::string>().empty()) {
        send_reply(c, error_reply(2, "Invalid request: params must be an array of stream names, got " + p.dump(), id));
        return;
      }
      // A well-formed name that is no stream is acknowledged and delivers nothing, as on the
      // venue (web-socket-streams.md lists no error for unknown stream names, 2026-07).
      // USD-M: a stream of the other routed path is acknowledged and delivers nothing.
      const stream_info* si = registry_.find(c.venue_id, p.get<std::string>());
      if (si != nullptr && si->route == c.route) ids.push_back(si->id);
    }
    const int max_streams = (c.venue_id == venue::binance_usdm ? cfg_.usdm : cfg_.binance).max_streams;
    if (method == "SUBSCRIBE") {
      if (c.streams.size() + ids.size() > static_cast<std::size_t>(max_streams)) {
        send_reply(c, error_reply(2, "Invalid request: too many streams (limit " + std::to_string(max_streams) + ")", id));
        return;
      }
      // The reply goes first; events follow from the next fan-out on.
      send_reply(c, reply_json{{"result", nullptr}, {"id", id}}.dump());
      for (const auto s : ids) subscribe(c, s);
    } else {
      for (const auto s : ids) unsubscribe(c, s);
      send_reply(c, reply_json{{"result", nullptr}, {"id", id}}.dump());
    }
    return;
  }
  if (method == "LIST_SUBSCRIPTIONS") {
    json names = json::array();
    for (const auto s : c.streams) names.push_back(registry_.at(s).name);
    send_reply(c, reply_json{{"result", names}, {"id", id}}.dump());
    return;
  }
  if (method == "SET_PROPERTY" || method == "GET_PROPERTY") {
    if (!params.is_array() || params.empty() || !params[0].is_string()) {
      send_reply(c, error_reply(2, "Invalid request: property name must be a string", id));
      return;
    }
    if (params[0].get<std::string>() != "combined") {
      send_reply(c, error_reply(0, "Unknown property", id));
      return;
    }
    if (method == "GET_PROPERTY") {
      send_reply(c, reply_json{{"result", c.combined}, {"id", id}}.dump());
      return;
    }
    if (params.size() < 2 || !params[1].is_boolean()) {
      send_reply(c, error_reply(1, "Invalid value type: expected Boolean", id));
      return;
    }
    c.combined = params[1].get<bool>();
    send_reply(c, reply_json{{"result", nullptr}, {"id", id}}.dump());
    return;
  }
  send_reply(c, error_reply(2,
                            "Invalid request: unknown variant `" + method +
                                "`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, "
                                "`SET_PROPERTY`, `GET_PROPERTY`",
                            id));
}

}  // namespace mdbus::exsim
