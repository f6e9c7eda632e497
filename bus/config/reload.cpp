#include "bus/config/reload.hpp"

#include "bus/config/config.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

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
