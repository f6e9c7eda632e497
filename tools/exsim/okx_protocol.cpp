// OKX v5 public WebSocket protocol: text ping/pong, subscribe/unsubscribe with one event
// reply per arg, error events (60012 invalid request, 60013 invalid args, 60018 unknown
// channel or instId, 60019 invalid op), and the snapshot a new book subscriber receives.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "tools/exsim/server.hpp"

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
  if (cfg_.okx.snapshot_on_subscribe) {
    event_meta meta;
    // Flushes a pending books update to the current subscribers first (publish), then the
    // snapshot's seqId is exactly the prevSeqId of the next update this connection gets.
    if (auto snap = okx_.subscribe_snapshot(si->id, now_ms_, meta)) {
      if (truth_) truth_->append(*si, *snap, meta, c.id, now_ms_ * 1'000'000);
      ++events_;
      send_reply(c, *snap);
    }
  }
  subscribe(c, si->id);
}

}  // namespace mdbus::exsim
