// What a config reload may change (the venues' symbol lists, nothing else) and the running
// copy the supervisor's children read (relative ca_file paths made absolute).
#include <doctest/doctest.h>

#include "bus/config/config.hpp"
#include "bus/config/reload.hpp"

#include <nlohmann/json.hpp>

using namespace mdbus;
using json = nlohmann::json;

namespace {

json base() {
  return json::parse(R"({
    "bus": "t1",
    "venues": {
      "binance": {"symbols": ["BTCUSDT", "ETHUSDT"], "channels": ["trade", "depth@100ms"], "slots": ["A", "B"], "groups": 1,
                  "endpoint": {"host": "127.0.0.1", "port": 9443, "tls": true, "ca_file": "certs/ca.pem"},
                  "rest_endpoint": {"host": "127.0.0.1", "port": 9444, "tls": true, "ca_file": "certs/ca.pem"}},
      "okx": {"symbols": ["BTC-USDT"], "channels": ["trades"], "slots": ["A", "B"]}
    },
    "supervisor": {"restart_backoff_min_ms": 100}
  })");
}

}  // namespace

TEST_CASE("reload: symbols added, removed or reordered are a reload, anything else is refused, naming the first field") {
  const std::string running = base().dump();
  json next = base();
  next["venues"]["binance"]["symbols"] = {"ETHUSDT", "SOLUSDT", "BTCUSDT", "XRPUSDT"};
  next["venues"]["okx"]["symbols"] = json::array();
  CHECK(config::reload_refusal(running, next.dump()) == "");
  CHECK(config::reload_refusal(running, running) == "");

  json groups = base();
  groups["venues"]["binance"]["groups"] = 2;
  CHECK(config::reload_refusal(running, groups.dump()) ==
        "/venues/binance/groups: changed (a reload may change the venues' \"symbols\" only; restart the bus for the rest)");
  json channel = base();
  channel["venues"]["okx"]["channels"].push_back("books");
  CHECK(config::reload_refusal(running, channel.dump()) ==
        "/venues/okx/channels: added (a reload may change the venues' \"symbols\" only; restart the bus for the rest)");
  json venue = base();
  venue["venues"].erase("okx");
  CHECK(config::reload_refusal(running, venue.dump()).starts_with("/venues/okx: removed"));
  json sup = base();
  sup["supervisor"]["restart_backoff_min_ms"] = 200;
  CHECK(config::reload_refusal(running, sup.dump()).starts_with("/supervisor/restart_backoff_min_ms: changed"));
  json bus = base();
  bus["bus"] = "t2";
  CHECK(config::reload_refusal(running, bus.dump()).starts_with("/bus: changed"));
  CHECK(config::reload_refusal(running, "{\"bus\": ").starts_with("not valid JSON: "));
  CHECK(config::reload_refusal(running, "[1]") == "not a JSON object");
}

TEST_CASE("reload: the running copy makes relative ca_file paths absolute and keeps everything else") {
  const std::string copy = config::running_copy(base().dump(), "/etc/mdbus");
  const json j = json::parse(copy);
  CHECK(j["venues"]["binance"]["endpoint"]["ca_file"] == "/etc/mdbus/certs/ca.pem");
  json expected = base();
  expected["venues"]["binance"]["endpoint"]["ca_file"] = "/etc/mdbus/certs/ca.pem";
  expected["venues"]["binance"]["rest_endpoint"]["ca_file"] = "/etc/mdbus/certs/ca.pem";
  CHECK(j == expected);
  // Read from its new place, it is the same config as the original read from its own.
  const config::bus_config a = config::parse_config(base().dump(), "bus.json", "/etc/mdbus");
  const config::bus_config b = config::parse_config(copy, "running.json", "/run/user/1/mdbus");
  CHECK(a.venues[0].ep.ca_file == b.venues[0].ep.ca_file);
  CHECK(config::config_identity(a, a.venues[0]) == config::config_identity(b, b.venues[0]));
  // Absolute paths stay as written; a relative base directory is made absolute.
  json abs = base();
  abs["venues"]["binance"]["endpoint"]["ca_file"] = "/etc/ssl/certs/ca-certificates.crt";
  abs["venues"]["binance"]["rest_endpoint"]["ca_file"] = "/etc/ssl/certs/ca-certificates.crt";
  CHECK(json::parse(config::running_copy(abs.dump(), "x"))["venues"]["binance"]["endpoint"]["ca_file"] ==
        "/etc/ssl/certs/ca-certificates.crt");
  CHECK(json::parse(config::running_copy(base().dump(), "conf"))["venues"]["binance"]["endpoint"]["ca_file"].get<std::string>().front() == '/');
  CHECK_THROWS_AS((void)config::running_copy("nope", "/"), config::config_error);
}

TEST_CASE("reload: the plan names the connection groups whose symbols changed and the symbols that come and go, or the layout change it refuses") {
  const std::string text = R"({"bus": "t1", "venues": {
      "binance": {"symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT"], "channels": ["trade"], "groups": 2},
      "binance_usdm": {"symbols": ["BTCUSDT", "ETHUSDT"], "channels": ["depth@100ms", "aggTrade"]}}})";
  const config::bus_config now = config::parse_config(text, "cfg.json");
  const config::venue_config& b = *now.find(venue::binance);
  // Drop one symbol of binance's group 0 or 1 and add one to USD-M: its two route groups change.
  json j = json::parse(text);
  const std::string gone = config::group_view(b, 0).symbols.size() > 1 ? config::group_view(b, 0).symbols.back()
                                                                         : config::group_view(b, 1).symbols.back();
  json syms = json::array();
  for (const auto& s : b.symbols)
    if (s != gone) syms.push_back(s);
  j["venues"]["binance"]["symbols"] = syms;
  j["venues"]["binance_usdm"]["symbols"].push_back("SOLUSDT");
  const config::bus_config next = config::parse_config(j.dump(), "cfg.json");
  const config::reload_plan p = config::plan_reload(now, next);
  CHECK(p.refusal.empty());
  CHECK(p.added == std::vector<std::pair<venue, std::string>>{{venue::binance_usdm, "SOLUSDT"}});
  CHECK(p.removed == std::vector<std::pair<venue, std::string>>{{venue::binance, gone}});
  CHECK(p.changed == std::vector<std::pair<venue, std::uint32_t>>{
                         {venue::binance, b.group_of(gone)}, {venue::binance_usdm, 0}, {venue::binance_usdm, 1}});
  CHECK(config::plan_reload(now, now).changed.empty());
  // A layout change is refused, nothing planned.
  json g = json::parse(text);
  g["venues"]["binance"]["groups"] = 3;
  const config::reload_plan r = config::plan_reload(now, config::parse_config(g.dump(), "cfg.json"));
  CHECK(r.refusal == "binance.groups: changed (it moves every symbol)");
  CHECK(r.changed.empty());
  json c = json::parse(text);
  c["venues"]["binance_usdm"]["channels"] = {"depth@100ms", "trade"};
  CHECK(config::plan_reload(now, config::parse_config(c.dump(), "cfg.json")).refusal == "binance_usdm.channels: changed");
}
