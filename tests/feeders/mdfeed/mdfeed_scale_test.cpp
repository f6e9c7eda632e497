// Hundreds of instruments on one connection (issue 15): a real mdfeed against exsim over TLS.
// Binance takes a connection's streams in the URL or in SUBSCRIBE messages; a URL of
// hundreds of streams is refused by servers' request-head limits, and every SUBSCRIBE counts
// against the 5 incoming messages a second (pongs included) whose excess closes the
// connection (web-socket-streams.md "WebSocket Limits", 2026-12; exsim enforces both the
// rate and the 1024 streams). The feeder puts what fits in the URL and paces the rest.
#include <doctest/doctest.h>

#include "tests/feeders/mdfeed/mdfeed_test_support.hpp"

#include <cctype>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace mdbus;
using namespace mdbus::test;

TEST_CASE("mdfeed binance: 300 symbols x 2 channels on one connection: the URL holds some, paced SUBSCRIBEs the rest, every stream delivers") {
  unique_bus bus;
  temp_dir dir;
  std::vector<std::string> symbols;
  for (int i = 0; i < 300; ++i) symbols.push_back("S" + std::to_string(i) + "USDT");
  std::vector<std::string> args = {"--rate", "6000", "--binance-symbols"};
  args.insert(args.end(), symbols.begin(), symbols.end());
  exsim_process x(tls(args));
  feed_setup s;
  s.bus = bus.name();
  s.venue = "binance";
  s.port = x.venue_port();
  s.binance_rest_port = x.binance_rest_port();
  s.symbols = symbols;
  s.channels = {"trade", "depth@100ms"};
  feeder_process f(write_config(dir.file("cfg.json"), s), "binance", "A", dir.file("feeder.log"));
  ring_drain drain(feeder_ring_name(bus.name(), venue::binance, slot_id::a));

  std::set<std::pair<channel, std::string>> seen;
  const auto status = open_status(bus.name(), venue::binance, slot_id::a);
  const bool all = eventually(
      [&] {
        drain.poll([&](const record_view& r) {
          if (r.type() == record_type::trade || r.type() == record_type::book_delta)
            seen.insert({r.header().channel_id, std::string(r.header().symbol_view())});
        });
        return seen.size() == 600;
      },
      30s);
  INFO(f.log());
  CHECK(all);
  CHECK(seen.size() == 600);
  CHECK(drain.invalid() == 0);
  // One connection all along: never closed for too many incoming messages.
  const auto st = status.snapshot();
  CHECK(st.reconnects == 0);
  CHECK(st.venue_errors == 0);
  const json conns = http_request(x.control_port(), "GET", "/connections").json();
  REQUIRE(conns.size() == 1);
  CHECK(conns[0]["streams"].size() == 600);
  CHECK(conns[0]["path"].get<std::string>().size() <= 2000);  // the URL holds what fits, not all 600
  // ~90 streams in the URL, the other ~510 in three SUBSCRIBE messages, one every 400 ms
  // (half the 5/s limit: the server's pings are answered with pongs that count too).
  CHECK(f.log().find("established; 1 of 3 subscribe request(s) sent, the rest paced") != std::string::npos);
  // The instrument check names the symbols in its query (exchangeInfo?symbols=[…]): 300 of
  // them do not fit one request head, so they are asked in several queries, each within 2000
  // characters, and every symbol is checked.
  CHECK(eventually([&] { return f.log().find("instrument check: all 300 symbols are listed and trading") != std::string::npos; }, 20s));
  CHECK(f.log().find("header data space") == std::string::npos);
  const json rest = exsim_status(x)["limits"]["binance"];
  CHECK(rest["rest_429"].get<int>() == 0);
  CHECK(f.stop() == 0);
}
