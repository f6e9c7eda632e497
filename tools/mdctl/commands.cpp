#include "tools/mdctl/commands.hpp"

#include "mdbus/venues/registry.hpp"
#include "tools/mdctl/status_table.hpp"

#include <algorithm>

namespace mdbus::mdctl {

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

/// The user's word, quoted and made printable for an error message.
std::string quoted(std::string_view s) { return "\"" + fit_text(s, 40) + "\""; }

std::string where(const known_names& known) { return known.source.empty() ? "known" : "configured in " + known.source; }

std::size_t venue_index(std::string_view name, const known_names& known) {
  const auto it = std::find(known.venues.begin(), known.venues.end(), name);
  if (it == known.venues.end()) {
    if (name.empty()) throw usage_error("missing venue (" + where(known) + ": " + join(known.venues) + ")");
    throw usage_error("unknown venue " + quoted(name) + " (" + where(known) + ": " + join(known.venues) + ")");
  }
  return static_cast<std::size_t>(it - known.venues.begin());
}

nlohmann::ordered_json slot_request(const char* cmd, const slot_ref& s) {
  nlohmann::ordered_json r = {{"cmd", cmd}, {"venue", s.venue}, {"slot", s.slot}};
  if (s.group > 0) r["group"] = s.group;
  return r;
}

std::string reply_text(const nlohmann::json& reply, const char* key) {
  const auto it = reply.find(key);
  return it != reply.end() && it->is_string() ? fit_text(it->get_ref<const std::string&>(), 40) : std::string();
}

bool reply_flag(const nlohmann::json& reply, const char* key) {
  const auto it = reply.find(key);
  return it != reply.end() && it->is_boolean() && it->get<bool>();
}

std::string old_pid(const nlohmann::json& reply) {
  const auto it = reply.find("pid");
  return it != reply.end() && it->is_number_integer() ? " (old pid " + it->dump() + ")" : "";
}

}  // namespace

std::vector<std::string> all_venue_names() {
  std::vector<std::string> out;
  for (const venue_descriptor* d : all_venues()) out.emplace_back(d->name);
  return out;
}

std::string check_venue(std::string_view name, const known_names& known) {
  return known.venues[venue_index(name, known)];
}

slot_ref parse_slot_ref(std::string_view text, const known_names& known) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos)
    throw usage_error("expected VENUE/SLOT (like okx/A) or VENUE/gGROUP/SLOT (like binance/g2/A), got " + quoted(text));
  const std::string_view v = text.substr(0, slash);
  std::string_view s = text.substr(slash + 1);
  // A connection group: binance/g2/A.
  std::uint32_t group = 0;
  if (const auto second = s.find('/'); second != std::string_view::npos) {
    const std::string_view g = s.substr(0, second);
    bool digits = g.size() > 1 && g.size() <= 5 && g[0] == 'g';
    for (std::size_t i = 1; digits && i < g.size(); ++i) digits = g[i] >= '0' && g[i] <= '9';
    if (!digits) throw usage_error("expected a group like g2 in " + quoted(text) + ", got " + quoted(g));
    for (std::size_t i = 1; i < g.size(); ++i) group = group * 10 + static_cast<std::uint32_t>(g[i] - '0');
    s = s.substr(second + 1);
  }
  const std::size_t vi = venue_index(v, known);
  const auto& slots = vi < known.slots.size() ? known.slots[vi] : std::vector<std::string>{};
  if (std::find(slots.begin(), slots.end(), s) == slots.end()) {
    const std::string list = join(slots);
    const std::string hint = " (slots of " + known.venues[vi] + (known.source.empty() ? "" : " in " + known.source) + ": " + list + ")";
    if (s.empty()) throw usage_error("missing slot in " + quoted(text) + hint);
    throw usage_error("unknown slot " + quoted(s) + " in " + quoted(text) + hint);
  }
  return {std::string(v), std::string(s), group};
}

nlohmann::ordered_json status_request() { return {{"cmd", "status"}}; }
nlohmann::ordered_json switchover_request(const std::string& venue) { return {{"cmd", "switchover"}, {"venue", venue}}; }
nlohmann::ordered_json rotate_request(const slot_ref& s) { return slot_request("rotate", s); }
nlohmann::ordered_json restart_feeder_request(const slot_ref& s) {
  nlohmann::ordered_json r = {{"cmd", "restart"}, {"process", "feeder"}, {"venue", s.venue}, {"slot", s.slot}};
  if (s.group > 0) r["group"] = s.group;
  return r;
}
nlohmann::ordered_json restart_merger_request() { return {{"cmd", "restart"}, {"process", "merger"}}; }
nlohmann::ordered_json pause_request(const slot_ref& s) { return slot_request("pause", s); }
nlohmann::ordered_json resume_request(const slot_ref& s) { return slot_request("resume", s); }
nlohmann::ordered_json metrics_request() { return {{"cmd", "metrics"}}; }
nlohmann::ordered_json reload_request() { return {{"cmd", "reload"}}; }

std::string describe_reply(const nlohmann::ordered_json& request, const nlohmann::json& reply) {
  const std::string cmd = request.value("cmd", "");
  const std::string venue = request.value("venue", "");
  const std::uint32_t group = request.value("group", 0u);
  const std::string target = venue + (group > 0 ? "/g" + std::to_string(group) : std::string()) + "/" + request.value("slot", "");
  const bool queued = reply_flag(reply, "queued");
  if (cmd == "switchover") {
    const std::string slot = reply_text(reply, "slot");
    const std::string which = slot.empty() ? venue + ": leading slot" : venue + "/" + slot + " (leading slot)";
    return which + (queued ? ": rotation queued until its partner is live" : ": rotating");
  }
  if (cmd == "rotate") return target + (queued ? ": rotation queued until its partner is live" : ": rotating");
  if (cmd == "restart") {
    if (request.value("process", "") == "merger") return "merger: restarting" + old_pid(reply);
    return target + ": feeder restarting" + old_pid(reply);
  }
  if (cmd == "pause") return target + ": paused (drained and closed; stays down until resume)";
  if (cmd == "resume") return target + ": resuming (connecting)";
  if (cmd == "reload") {
    // "reloaded /etc/mdbus/live.json (generation 2): +2 symbols, -1; groups binance/g1, okx/g0
    // restart their 4 feeders one slot at a time"
    auto list = [&](const char* key) {
      std::vector<std::string> out;
      if (const auto it = reply.find(key); it != reply.end() && it->is_array())
        for (const auto& x : *it)
          if (x.is_string()) out.push_back(x.get<std::string>());
      return out;
    };
    const auto groups = list("groups");
    std::string line = "reloaded " + reply_text(reply, "file");
    auto count = [&](const char* key) -> std::int64_t {
      const auto it = reply.find(key);
      return it != reply.end() && it->is_number_integer() ? it->get<std::int64_t>() : -1;
    };
    if (const std::int64_t g = count("generation"); g >= 0) line += " (generation " + std::to_string(g) + ")";
    line += ": +" + std::to_string(list("added").size()) + " symbols, -" + std::to_string(list("removed").size());
    if (groups.empty()) return line + "; no group changed, nothing restarts";
    return line + "; groups " + join(groups) + " restart their " + std::to_string(std::max<std::int64_t>(0, count("restarts"))) +
           " feeder(s) one slot at a time (mdctl status)";
  }
  return cmd + ": ok";
}

}  // namespace mdbus::mdctl
