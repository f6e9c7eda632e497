#include "bus/config/reload.hpp"

#include "bus/config/config.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <set>

namespace mdbus::config {
namespace {

using json = nlohmann::json;

/// The config without what a reload may change: every venue's "symbols".
json without_symbols(json j) {
  if (j.contains("venues") && j["venues"].is_object())
    for (auto& [name, v] : j["venues"].items())
      if (v.is_object()) v.erase("symbols");
  return j;
}

}  // namespace

reload_plan plan_reload(const bus_config& now, const bus_config& next) {
  reload_plan p;
  auto refuse = [&p](std::string why) {
    p.refusal = std::move(why);
    return p;
  };
  if (now.bus != next.bus) return refuse("bus: changed");
  if (now.venues.size() != next.venues.size()) return refuse("venues: a venue added or removed");
  for (std::size_t i = 0; i < now.venues.size(); ++i) {
    const auto& a = now.venues[i];
    const auto& b = next.venues[i];
    const std::string v(to_string(a.id));
    if (a.id != b.id) return refuse("venues: " + v + " replaced by " + std::string(to_string(b.id)));
    if (a.groups != b.groups) return refuse(v + ".groups: changed (it moves every symbol)");
    if (a.routes != b.routes) return refuse(v + ".channels: their routes changed");
    if (a.slots != b.slots) return refuse(v + ".slots: changed");
    const auto same_name = [](const channel_spec& x, const channel_spec& y) { return x.name == y.name; };
    if (!std::equal(a.channels.begin(), a.channels.end(), b.channels.begin(), b.channels.end(), same_name))
      return refuse(v + ".channels: changed");
  }
  if (now.rings.feeder_bytes != next.rings.feeder_bytes || now.rings.feeder_max_frame != next.rings.feeder_max_frame ||
      now.rings.output_bytes != next.rings.output_bytes || now.rings.output_max_frame != next.rings.output_max_frame)
    return refuse("rings: changed");
  for (std::size_t i = 0; i < now.venues.size(); ++i) {
    const auto& was = now.venues[i];
    const auto& is = next.venues[i];
    const std::set<std::string> before(was.symbols.begin(), was.symbols.end()), after(is.symbols.begin(), is.symbols.end());
    for (const auto& s : is.symbols)
      if (!before.contains(s)) p.added.emplace_back(is.id, s);
    for (const auto& s : was.symbols)
      if (!after.contains(s)) p.removed.emplace_back(is.id, s);
    for (std::uint32_t g = 0; g < is.connections(); ++g)
      if (config_identity(now, group_view(was, g)) != config_identity(next, group_view(is, g))) p.changed.emplace_back(is.id, g);
  }
  return p;
}

std::string reload_refusal(std::string_view running, std::string_view next) {
  json a, b;
  try {
    a = json::parse(running);
    b = json::parse(next);
  } catch (const json::parse_error& e) {
    return std::string("not valid JSON: ") + e.what();
  }
  if (!a.is_object() || !b.is_object()) return "not a JSON object";
  const json patch = json::diff(without_symbols(std::move(a)), without_symbols(std::move(b)));
  if (patch.empty()) return {};
  // json::diff gives RFC 6902 operations, each an object with string "op" and "path".
  const json& first = patch.front();
  auto text = [&first](const char* key) -> std::string {
    const auto it = first.find(key);
    return it != first.end() && it->is_string() ? it->get_ref<const std::string&>() : std::string();
  };
  const std::string op = text("op");
  const std::string what = op == "add" ? "added" : op == "remove" ? "removed" : "changed";
  std::string path = text("path");
  if (path.ends_with("/-")) path.resize(path.size() - 2);  // "-": appended to the array
  return path + ": " + what +
         " (a reload may change the venues' \"symbols\" only; restart the bus for the rest)";
}

std::string running_copy(std::string_view text, const std::string& base_dir) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw config_error(std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw config_error("not a JSON object");
  std::error_code ec;
  const std::string dir = std::filesystem::absolute(base_dir.empty() ? "." : base_dir, ec).lexically_normal().string();
  if (j.contains("venues") && j["venues"].is_object())
    for (auto& [name, v] : j["venues"].items()) {
      if (!v.is_object()) continue;
      for (const char* key : {"endpoint", "rest_endpoint"}) {
        if (!v.contains(key) || !v[key].is_object() || !v[key].contains("ca_file") || !v[key]["ca_file"].is_string()) continue;
        const std::string f = v[key]["ca_file"].get<std::string>();
        if (!f.empty() && f.front() != '/' && !ec) v[key]["ca_file"] = (std::filesystem::path(dir) / f).lexically_normal().string();
      }
    }
  return j.dump(2) + "\n";
}

}  // namespace mdbus::config
