// mdctl's requests are PROTOCOL.md's request lines byte for byte; names are checked before
// anything is sent, with one line naming the bad part; replies become one readable line.
#include "tools/mdctl/commands.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

using namespace mdbus::mdctl;
using nlohmann::json;

namespace {

std::string protocol_md() {
  std::ifstream in(MDBUS_PROTOCOL_MD);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The usage_error message of f(), or "" when it did not throw one.
template <class F>
std::string usage_message(F f) {
  try {
    (void)f();
  } catch (const usage_error& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("every request is the line PROTOCOL.md shows for it") {
  const std::string doc = protocol_md();
  const std::pair<nlohmann::ordered_json, std::string> cases[] = {
      {status_request(), R"({"cmd":"status"})"},
      {switchover_request("binance"), R"({"cmd":"switchover","venue":"binance"})"},
      {rotate_request({"okx", "B"}), R"({"cmd":"rotate","venue":"okx","slot":"B"})"},
      {restart_feeder_request({"okx", "A"}), R"({"cmd":"restart","process":"feeder","venue":"okx","slot":"A"})"},
      {restart_merger_request(), R"({"cmd":"restart","process":"merger"})"},
      {pause_request({"okx", "A"}), R"({"cmd":"pause","venue":"okx","slot":"A"})"},
      {resume_request({"okx", "A"}), R"({"cmd":"resume","venue":"okx","slot":"A"})"},
      {metrics_request(), R"({"cmd":"metrics"})"},
      {reload_request(), R"({"cmd":"reload"})"},
  };
  for (const auto& [req, line] : cases) {
    CHECK(req.dump() == line);
    CHECK_MESSAGE(doc.find("`" + line + "`") != std::string::npos, line << " is not in PROTOCOL.md");
  }
}

TEST_CASE("VENUE/SLOT is parsed and checked, errors name the bad part") {
  const slot_ref r = parse_slot_ref("okx/B");
  CHECK(r.venue == "okx");
  CHECK(r.slot == "B");
  CHECK(r.str() == "okx/B");
  CHECK(parse_slot_ref("binance/A").str() == "binance/A");

  CHECK(usage_message([] { return parse_slot_ref("okx"); }) ==
        "expected VENUE/SLOT (like okx/A) or VENUE/gGROUP/SLOT (like binance/g2/A), got \"okx\"");
  CHECK(usage_message([] { return parse_slot_ref("bnance/A"); }) == "unknown venue \"bnance\" (known: binance, okx, binance_usdm)");
  CHECK(usage_message([] { return parse_slot_ref("okx/C"); }) == "unknown slot \"C\" in \"okx/C\" (slots of okx: A, B)");
  CHECK(usage_message([] { return parse_slot_ref("okx/a"); }) == "unknown slot \"a\" in \"okx/a\" (slots of okx: A, B)");
  CHECK(usage_message([] { return parse_slot_ref("okx/"); }) == "missing slot in \"okx/\" (slots of okx: A, B)");
  CHECK(usage_message([] { return parse_slot_ref("/A"); }) == "missing venue (known: binance, okx, binance_usdm)");
  CHECK(usage_message([] { return parse_slot_ref("okx/A/B"); }) == "expected a group like g2 in \"okx/A/B\", got \"A\"");
  // A connection group: binance/g2/A; the request carries it, the reply line names it.
  const slot_ref g = parse_slot_ref("binance/g2/A");
  CHECK(g.venue == "binance");
  CHECK(g.slot == "A");
  CHECK(g.group == 2);
  CHECK(g.str() == "binance/g2/A");
  CHECK(rotate_request(g).dump() == R"({"cmd":"rotate","venue":"binance","slot":"A","group":2})");
  CHECK(rotate_request(r).dump() == R"({"cmd":"rotate","venue":"okx","slot":"B"})");
  CHECK(describe_reply(rotate_request(g), nlohmann::json{{"ok", true}}) == "binance/g2/A: rotating");
  CHECK(usage_message([] { return parse_slot_ref("binance/gx/A"); }) == "expected a group like g2 in \"binance/gx/A\", got \"gx\"");
  CHECK(usage_message([] { return check_venue("OKX"); }) == "unknown venue \"OKX\" (known: binance, okx, binance_usdm)");
  CHECK(check_venue("binance") == "binance");
}

TEST_CASE("with a config, only what it configures is accepted, and the message names the file") {
  const known_names cfg{{"okx"}, {{"A"}}, "conf/okx-only.json"};
  CHECK(parse_slot_ref("okx/A", cfg).str() == "okx/A");
  CHECK(usage_message([&] { return parse_slot_ref("okx/B", cfg); }) ==
        "unknown slot \"B\" in \"okx/B\" (slots of okx in conf/okx-only.json: A)");
  CHECK(usage_message([&] { return check_venue("binance", cfg); }) ==
        "unknown venue \"binance\" (configured in conf/okx-only.json: okx)");
}

TEST_CASE("a hostile name is quoted printable and cut short in the message") {
  const std::string msg = usage_message([] { return check_venue(std::string(200, 'x') + "\n\x1b[2J"); });
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(msg.find('\x1b') == std::string::npos);
  CHECK(msg.size() < 120);
}

TEST_CASE("replies to actions read as one line") {
  CHECK(describe_reply(switchover_request("binance"), json{{"ok", true}, {"slot", "A"}, {"queued", true}}) ==
        "binance/A (leading slot): rotation queued until its partner is live");
  CHECK(describe_reply(switchover_request("binance"), json{{"ok", true}, {"slot", "B"}, {"queued", false}}) ==
        "binance/B (leading slot): rotating");
  CHECK(describe_reply(switchover_request("okx"), json{{"ok", true}}) == "okx: leading slot: rotating");
  CHECK(describe_reply(rotate_request({"okx", "B"}), json{{"ok", true}, {"queued", true}}) ==
        "okx/B: rotation queued until its partner is live");
  CHECK(describe_reply(rotate_request({"okx", "B"}), json{{"ok", true}, {"queued", false}}) == "okx/B: rotating");
  CHECK(describe_reply(restart_feeder_request({"okx", "A"}), json{{"ok", true}, {"pid", 1240}}) ==
        "okx/A: feeder restarting (old pid 1240)");
  CHECK(describe_reply(restart_merger_request(), json{{"ok", true}, {"pid", 1238}}) == "merger: restarting (old pid 1238)");
  CHECK(describe_reply(restart_merger_request(), json{{"ok", true}, {"pid", "x"}}) == "merger: restarting");
  CHECK(describe_reply(pause_request({"okx", "A"}), json{{"ok", true}}) ==
        "okx/A: paused (drained and closed; stays down until resume)");
  CHECK(describe_reply(resume_request({"okx", "A"}), json{{"ok", true}}) == "okx/A: resuming (connecting)");
  CHECK(describe_reply(reload_request(), json{{"ok", true}, {"file", "/etc/mdbus/live.json"}, {"generation", 2},
                                              {"added", {"binance:SOLUSDT", "okx:SOL-USDT"}}, {"removed", {"okx:XRP-USDT"}},
                                              {"groups", {"binance/g1", "okx/g0"}}, {"restarts", 4}}) ==
        "reloaded /etc/mdbus/live.json (generation 2): +2 symbols, -1; groups binance/g1, okx/g0 restart their 4 "
        "feeder(s) one slot at a time (mdctl status)");
  CHECK(describe_reply(reload_request(), json{{"ok", true}, {"file", "a.json"}, {"generation", 1}, {"added", json::array()},
                                              {"removed", json::array()}, {"groups", json::array()}, {"restarts", 0}}) ==
        "reloaded a.json (generation 1): +0 symbols, -0; no group changed, nothing restarts");
  CHECK(describe_reply(reload_request(), json{{"ok", true}}) == "reloaded : +0 symbols, -0; no group changed, nothing restarts");
}
