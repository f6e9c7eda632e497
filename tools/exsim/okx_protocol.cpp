// OKX v5 public WebSocket protocol: text ping/pong, subscribe/unsubscribe with one event
// reply per arg, error events (60012 invalid request, 60013 invalid args, 60018 unknown
// channel or instId, 60019 invalid op, 60011 login-only channel, 60014 too many subscribe
// requests), and the snapshot a new book subscriber receives when snapshots are pushed.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "tools/exsim/server.hpp"
#include "tools/exsim/server_detail.hpp"

namespace mdbus::exsim {
namespace {

using json = nlohmann::json;
// Replies keep the venue's key order (id, event, arg, connId); nlohmann::json would sort keys.
using reply_json = nlohmann::ordered_json;

std::string error_event(const std::string& id, const char* code, const std::string& msg, const connection& c) {
  reply_json j;
  if (!id.empty()) j["id"] = id;
  j["event"] = "error";
  j["code"] = code;
  j["msg"] = msg;
  j["connId"] = okx_conn_id(c.id);
  // msg echoes the client's text, which need not be UTF-8: replace, never throw.
  return j.dump(-1, ' ', false, reply_json::error_handler_t::replace);
}

}  // namespace

void server::okx_message(connection& c, std::string_view text) {
  if (text == "ping") {
    send_reply(c, "pong");
    return;
  }
  json req;
  try {
    req = json::parse(text);
  } catch (const json::parse_error&) {
    send_reply(c, error_event("", "60012", "Invalid request: " + std::string(text), c));
    return;
  }
  if (!req.is_object() || !req.contains("op") || !req["op"].is_string()) {
    send_reply(c, error_event("", "60012", "Invalid request: " + std::string(text), c));
    return;
  }
  std::string id;
  if (const auto it = req.find("id"); it != req.end() && it->is_string()) id = it->get<std::string>();
  const std::string op = req["op"].get<std::string>();
  if (op != "subscribe" && op != "unsubscribe") {
    send_reply(c, error_event(id, "60019", "Invalid op: " + op, c));
    return;
  }
  // OKX "WebSocket" / "Connect" (checked 2026-12): the total number of subscribe, unsubscribe
  // and login requests per connection is limited to 480 per hour; exsim refuses the request
  // with 60014 (too frequent) and keeps the connection (each request counts once, whatever
  // its number of args).
  if (!c.subscribe_requests.admit(now_us_ / 1000, cfg_.okx.subscribe_limit, cfg_.okx.subscribe_window_ms, false)) {
    ++okx_subscribe_refused_;
    send_reply(c, error_event(id, "60014", "Requests too frequent.", c));
    return;
  }
  const auto args = req.find("args");
  if (args == req.end() || !args->is_array() || args->empty()) {
    send_reply(c, error_event(id, "60013", "Invalid args", c));
    return;
  }
  for (const auto& arg : *args) okx_subscribe(c, arg, id, op == "subscribe");
}

void server::okx_subscribe(connection& c, const json& arg, const std::string& id, bool sub) {
  if (!arg.is_object() || !arg.contains("channel") || !arg["channel"].is_string() || !arg.contains("instId") ||
      !arg["instId"].is_string()) {
    send_reply(c, error_event(id, "60013", "Invalid args", c));
    return;
  }
  const std::string ch = arg["channel"].get<std::string>();
  const std::string inst = arg["instId"].get<std::string>();
  // OKX "Order book channel" (checked 2026-12): books-l2-tbt (VIP5+) and books50-l2-tbt
  // (VIP4+) need login; a public connection gets 60011 "Please log in".
  if (sub && !cfg_.okx.public_l2_tbt && (ch == "books-l2-tbt" || ch == "books50-l2-tbt")) {
    send_reply(c, error_event(id, "60011", "Please log in", c));
    return;
  }
  const stream_info* si = registry_.find(ch + ":" + inst);
  if (si == nullptr || si->venue_id != venue::okx) {
    send_reply(c, error_event(id, "60018",
                              "Wrong URL or channel:" + ch + ",instId:" + inst +
                                  " doesn't exist. Please use the correct URL, channel and parameters referring to API document.",
                              c));
    return;
  }
  reply_json ack;
  if (!id.empty()) ack["id"] = id;
  ack["event"] = sub ? "subscribe" : "unsubscribe";
  ack["arg"] = {{"channel", ch}, {"instId", inst}};
  ack["connId"] = okx_conn_id(c.id);
  send_reply(c, ack.dump());
  if (!sub) {
    unsubscribe(c, si->id);
    return;
  }
  if (std::find(c.streams.begin(), c.streams.end(), si->id) != c.streams.end()) return;
  // OKX changelog "Delist initial snapshot and checksum field in order book channels"
  // (production August 2026, checked 2026-12): books pushes no snapshot on subscribe; the
  // client takes GET /api/v5/market/books. --okx-snapshot push restores the old push.
  if (cfg_.okx.snapshot_on_subscribe) {
    event_meta meta;
    // Flushes a pending books update to the current subscribers first (publish), then the
    // snapshot's seqId is exactly the prevSeqId of the next update this connection gets.
    if (auto snap = okx_.subscribe_snapshot(si->id, now_ms_, meta)) {
      if (truth_) truth_->append(*si, *snap, meta, c.id, detail::real_ns());
      ++events_;
      send_reply(c, *snap);
    }
  }
  subscribe(c, si->id);
}

}  // namespace mdbus::exsim
