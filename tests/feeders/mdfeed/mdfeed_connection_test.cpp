// mdfeed keeps its connection the way the venues require: it reconnects and resubscribes
// after a cut, keeps a quiet OKX line open with text pings, answers Binance's pings, finds a
// stalled line with its watchdogs, paces its reconnects, and never trusts a certificate
// its CA did not sign.
#include <doctest/doctest.h>

#include "tests/feeders/mdfeed/mdfeed_test_support.hpp"
#include "tests/support/read_file.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

using namespace mdbus;
using namespace mdbus::test;

namespace {

/// exsim + one feeder with a test config; the feeder's status block and ring.
struct rig {
  unique_bus bus;
  temp_dir dir;
  exsim_process x;
  feed_setup setup;
  std::unique_ptr<feeder_process> feeder;
  feeder_status_reader status;
  venue v = venue::binance;

  rig(const std::vector<std::string>& exsim_args, const std::string& venue_name, std::vector<std::string> symbols,
      std::vector<std::string> channels, json policy = json::object())
      : x(tls(exsim_args)), v(*venue_from_string(venue_name)) {
    setup.bus = bus.name();
    setup.venue = venue_name;
    setup.port = x.venue_port();
    setup.binance_rest_port = x.binance_rest_port();
    setup.okx_rest_port = x.okx_rest_port();
    setup.symbols = std::move(symbols);
    setup.channels = std::move(channels);
    setup.policy = std::move(policy);
  }
  void start(const std::vector<std::string>& extra = {}) {
    feeder = std::make_unique<feeder_process>(write_config(dir.file("cfg.json"), setup), setup.venue, "A", dir.file("feeder.log"),
                                              extra);
    status = open_status(bus.name(), v, slot_id::a);
  }
  feeder_status_snapshot snap() const { return status.snapshot(); }
  bool wait_state(feeder_state s, std::chrono::milliseconds t = 10s) {
    return eventually([&] { return status.state() == s; }, t);
  }
  std::string log() const { return feeder ? feeder->log() : std::string(); }
  ~rig() {
    if (feeder) feeder->stop();
  }
};

const json kQuietPolicy = {{"no_data_ms", 60000}, {"keepalive_ms", 20000}, {"pong_timeout_ms", 5000}};

}  // namespace

TEST_CASE("mdfeed okx: after exsim drops the connection it reconnects, resubscribes and is live again") {
  rig r({"--rate", "2000"}, "okx", {"BTC-USDT"}, {"trades", "books"});
  r.start();
  REQUIRE(r.wait_state(feeder_state::live));
  ring_drain ring(feeder_ring_name(r.bus.name(), venue::okx, slot_id::a));
  std::vector<slot_status_record> marks;
  std::size_t snapshots = 0;
  auto on_record = [&](const record_view& v) {
    if (auto s = v.slot_status()) marks.push_back(*s);
    if (v.type() == record_type::book_snapshot) ++snapshots;
  };
  ring.poll(on_record);
  const auto ids = exsim_conn_ids(r.x, "/ws/v5/public");
  REQUIRE(ids.size() == 1);
  CHECK(exsim_fault(r.x, {{"type", "drop"}, {"conn", ids[0]}})["ok"] == true);

  REQUIRE(eventually([&] { return r.snap().reconnects >= 1 && r.status.state() == feeder_state::live; }, 10s));
  const auto before = r.snap().records;
  REQUIRE(eventually([&] { return r.snap().records > before + 100; }, 10s));
  const auto s = r.snap();
  CHECK(s.remote_closes == 1);
  CHECK(s.connections == 2);
  CHECK(s.reason == slot_reason::none);
  // exsim has the new connection, subscribed to both channels again.
  const auto conns = exsim_connections(r.x);
  bool resubscribed = false;
  for (const auto& c : conns)
    if (c["id"].get<std::uint32_t>() != ids[0] && c["streams"].size() == 2) resubscribed = true;
  CHECK(resubscribed);
  ring.poll(on_record);
  // OKX pushes no books snapshot on subscribe (delisted, production from August 2026): the
  // books updates of the new connection flow; joining them to a REST snapshot is the
  // merger's resync request (mdfeed_resync_test).
  CHECK(snapshots == 0);
  // In-band marks: up on connection 1, down (remote close), then connection 2 comes up.
  std::vector<std::pair<slot_state, std::uint32_t>> seq;
  for (const auto& m : marks) seq.emplace_back(m.state, m.connection_epoch);
  const std::vector<std::pair<slot_state, std::uint32_t>> want = {
      {slot_state::connecting, 1}, {slot_state::syncing, 1}, {slot_state::up, 1}, {slot_state::down, 1},
      {slot_state::connecting, 2}, {slot_state::syncing, 2}, {slot_state::up, 2}};
  CHECK(seq == want);
  REQUIRE(marks.size() >= 4);
  CHECK(marks[3].reason == slot_reason::remote_close);
  INFO(r.log());
  CHECK(r.log().find("reconnecting in") != std::string::npos);
}

TEST_CASE("mdfeed binance: after exsim drops the connection it reconnects to the same streams") {
  rig r({"--rate", "2000"}, "binance", {"BTCUSDT", "ETHUSDT"}, {"trade", "bookTicker"});
  r.start();
  REQUIRE(r.wait_state(feeder_state::live));
  const auto ids = exsim_conn_ids(r.x, "/stream");
  REQUIRE(ids.size() == 1);
  CHECK(exsim_fault(r.x, {{"type", "drop"}, {"conn", ids[0]}})["ok"] == true);
  REQUIRE(eventually([&] { return r.snap().reconnects >= 1 && r.status.state() == feeder_state::live; }, 10s));
  const auto after = exsim_conn_ids(r.x, "/stream");
  REQUIRE(after.size() == 1);
  CHECK(after[0] != ids[0]);
  for (const auto& c : exsim_connections(r.x))
    if (c["id"] == after[0]) CHECK(c["streams"].size() == 4);
}

TEST_CASE("mdfeed okx: text pings keep a quiet connection open past 3x the venue's idle timeout") {
  // rate 0: nothing is ever pushed; exsim closes a connection silent for 800 ms (code 4004).
  json policy = kQuietPolicy;
  policy["keepalive_ms"] = 250;
  policy["pong_timeout_ms"] = 500;
  rig r({"--rate", "0", "--okx-idle-timeout-ms", "800"}, "okx", {"BTC-USDT"}, {"trades"}, policy);
  r.start();
  REQUIRE(r.wait_state(feeder_state::subscribed));
  const auto ids = exsim_conn_ids(r.x, "/ws/v5/public");
  REQUIRE(ids.size() == 1);
  const auto quiet_until = std::chrono::steady_clock::now() + 2700ms;  // > 3 x 800 ms
  while (std::chrono::steady_clock::now() < quiet_until) {
    REQUIRE(r.snap().connections == 1);
    std::this_thread::sleep_for(5ms);
  }
  const auto s = r.snap();
  INFO(r.log());
  CHECK(s.remote_closes == 0);
  CHECK(s.pong_timeouts == 0);
  CHECK(s.keepalives_sent >= 8);
  CHECK(s.pongs_received >= s.keepalives_sent - 1);
  CHECK(exsim_conn_ids(r.x, "/ws/v5/public") == ids);
}

TEST_CASE("mdfeed okx: without the keepalive the same quiet connection is cut by the venue (control for the test above)") {
  rig r({"--rate", "0", "--okx-idle-timeout-ms", "800"}, "okx", {"BTC-USDT"}, {"trades"}, kQuietPolicy);
  r.start();
  REQUIRE(eventually([&] { return r.snap().remote_closes >= 1; }, 5s));
  CHECK(r.snap().keepalives_sent == 0);
  INFO(r.log());
  CHECK(r.status.last_error().find("4004") != std::string::npos);
}

TEST_CASE("mdfeed binance: server pings are answered, so the venue's pong timeout never cuts") {
  rig r({"--rate", "0", "--binance-ping-interval-ms", "150", "--binance-pong-timeout-ms", "500"}, "binance", {"BTCUSDT"},
        {"trade"}, kQuietPolicy);
  r.start();
  REQUIRE(r.wait_state(feeder_state::subscribed));
  const auto until = std::chrono::steady_clock::now() + 2000ms;  // 13 pings, 4 pong timeouts long
  while (std::chrono::steady_clock::now() < until) {
    REQUIRE(r.snap().connections == 1);
    std::this_thread::sleep_for(5ms);
  }
  CHECK(r.snap().remote_closes == 0);
  CHECK(r.status.state() == feeder_state::subscribed);
}

TEST_CASE("mdfeed: a stalled line is found by the no-data watchdog and replaced") {
  json policy = {{"no_data_ms", 500}, {"keepalive_ms", 5000}, {"pong_timeout_ms", 5000}};
  rig r({"--rate", "2000"}, "binance", {"BTCUSDT"}, {"trade", "bookTicker"}, policy);
  r.start();
  REQUIRE(r.wait_state(feeder_state::live));
  const auto ids = exsim_conn_ids(r.x, "/stream");
  REQUIRE(ids.size() == 1);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(exsim_fault(r.x, {{"type", "stall"}, {"conn", ids[0]}})["ok"] == true);  // silent until unstalled: never
  REQUIRE(eventually([&] { return r.snap().no_data_trips >= 1; }, 10s));
  const double detected = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(detected >= 0.45);
  CHECK(detected < 3.0);
  REQUIRE(eventually([&] { return r.snap().reconnects >= 1 && r.status.state() == feeder_state::live; }, 10s));
  CHECK(r.status.last_error().find("nothing received for") != std::string::npos);
  CHECK(r.snap().remote_closes == 0);  // we dropped it, the venue did not
  MESSAGE("stall detected after " << detected << " s (no_data_ms 500)");
}

TEST_CASE("mdfeed: a stream the venue silently stops is resubscribed by the stale-stream watchdog, the connection stays") {
  // ARCHITECTURE.md "Two watchdogs, not one": the connection keeps delivering bookTicker while its
  // trade stream goes silent (exsim's mute: the venue dropped that subscription). The
  // connection watchdog must not fire; the stale watch resubscribes that one stream.
  json policy = {{"stale_stream_ms", 1000}, {"no_data_ms", 10000}};
  rig r({"--rate", "2000"}, "binance", {"BTCUSDT"}, {"trade", "bookTicker"}, policy);
  r.start();
  REQUIRE(r.wait_state(feeder_state::live));
  ring_drain ring(feeder_ring_name(r.bus.name(), venue::binance, slot_id::a));
  std::size_t trades = 0;
  auto on_record = [&](const record_view& v) { trades += v.header().channel_id == channel::binance_trade ? 1 : 0; };
  REQUIRE(eventually([&] {
    ring.poll(on_record);
    return trades >= 50;
  }, 10s));
  const auto ids = exsim_conn_ids(r.x, "/stream");
  REQUIRE(ids.size() == 1);
  CHECK(exsim_fault(r.x, {{"type", "mute"}, {"conn", ids[0]}, {"stream", "btcusdt@trade"}})["ok"] == true);
  const auto muted_at = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return r.snap().stale_resubscribes >= 1; }, 10s));
  const double found = std::chrono::duration<double>(std::chrono::steady_clock::now() - muted_at).count();
  CHECK(found >= 0.9);  // not before stale_stream_ms of silence
  ring.poll(on_record);
  const std::size_t before = trades;
  REQUIRE(eventually([&] {
    ring.poll(on_record);
    return trades >= before + 50;
  }, 10s));
  const auto st = r.snap();
  CHECK(st.stale_resubscribes == 1);
  CHECK(st.reconnects == 0);
  CHECK(st.no_data_trips == 0);
  CHECK(st.venue_errors == 0);
  CHECK(read_file(r.dir.file("feeder.log")).find("stream trade BTCUSDT silent for more than 1000 ms while the connection delivers: resubscribed") !=
        std::string::npos);
  MESSAGE("stale stream resubscribed " << found << " s after it went silent (stale_stream_ms 1000)");
}

TEST_CASE("mdfeed okx: an unanswered keepalive is found by the pong watchdog") {
  json policy = {{"no_data_ms", 60000}, {"keepalive_ms", 200}, {"pong_timeout_ms", 300}};
  rig r({"--rate", "0", "--okx-idle-timeout-ms", "60000"}, "okx", {"BTC-USDT"}, {"trades"}, policy);
  r.start();
  REQUIRE(r.wait_state(feeder_state::subscribed));
  REQUIRE(eventually([&] { return r.snap().pongs_received >= 2; }, 5s));
  const auto ids = exsim_conn_ids(r.x, "/ws/v5/public");
  REQUIRE(ids.size() == 1);
  CHECK(exsim_fault(r.x, {{"type", "stall"}, {"conn", ids[0]}})["ok"] == true);
  REQUIRE(eventually([&] { return r.snap().pong_timeouts >= 1; }, 5s));
  REQUIRE(eventually([&] { return r.snap().connections >= 2; }, 5s));
  CHECK(r.status.last_error().find("no pong within 300 ms") != std::string::npos);
}

TEST_CASE("mdfeed: reconnect attempts against a refusing venue back off, then connect when it recovers") {
  json policy = {{"reconnect_min_ms", 100}, {"reconnect_max_ms", 800}};
  rig r({"--rate", "500"}, "binance", {"BTCUSDT"}, {"trade"}, policy);
  CHECK(exsim_fault(r.x, {{"type", "refuse"}, {"ms", 2500}})["ok"] == true);
  const auto t0 = std::chrono::steady_clock::now();
  r.start();
  REQUIRE(r.wait_state(feeder_state::live, 15s));
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto s = r.snap();
  INFO(r.log());
  // Delays of ~100, 200, 400, 800, 800 ms (each jittered to [d/2, d]): a handful of attempts
  // in 2.5 s, not one every few milliseconds.
  CHECK(s.connect_failures + s.remote_closes >= 2);
  CHECK(s.connections <= 10);  // 0, 50, 150, 350, 750 ms, then every >= 400 ms: at most 10 by 2.75 s
  CHECK(elapsed >= 2.4);
  MESSAGE(s.connections << " attempts while the venue refused for 2.5 s; live after " << elapsed << " s");
}

TEST_CASE("mdfeed: TLS verification is on: a certificate from another CA or for another name is refused") {
  temp_dir other;
  REQUIRE(std::system((std::string(MDBUS_SOURCE_DIR) + "/scripts/gen-test-certs " + other.file("ca") + " >/dev/null").c_str()) == 0);
  SUBCASE("unknown CA") {
    rig r({"--rate", "500"}, "binance", {"BTCUSDT"}, {"trade"});
    r.setup.ca_file = other.file("ca") + "/ca.pem";
    r.start();
    REQUIRE(eventually([&] { return r.snap().connect_failures >= 2; }, 10s));
    CHECK(r.snap().records == 0);
    CHECK(r.status.state() != feeder_state::live);
    CHECK(r.status.last_error().find("certificate verify failed: unable to get local issuer certificate") != std::string::npos);
  }
  SUBCASE("wrong server name") {
    rig r({"--rate", "500"}, "binance", {"BTCUSDT"}, {"trade"});
    r.start();  // the right CA first: proves the setup works
    REQUIRE(r.wait_state(feeder_state::live));
    r.feeder->stop();
    json cfg = json::parse(std::ifstream(r.dir.file("cfg.json")));
    cfg["venues"]["binance"]["endpoint"]["server_name"] = "not-localhost.example";
    std::ofstream(r.dir.file("cfg2.json")) << cfg.dump();
    feeder_process f(r.dir.file("cfg2.json"), "binance", "A", r.dir.file("feeder2.log"));
    REQUIRE(eventually([&] { return r.snap().connect_failures >= 2; }, 10s));
    CHECK(r.status.state() != feeder_state::live);
    CHECK(r.status.last_error().find("certificate verify failed: hostname mismatch") != std::string::npos);
    CHECK(f.stop() == 0);
  }
}

TEST_CASE("mdfeed: a handshake that never completes is abandoned at connect_timeout_ms and retried") {
  // A loopback listener that never accepts: the kernel completes TCP, nobody answers TLS.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(fd, 16) == 0);
  socklen_t len = sizeof a;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);

  unique_bus bus;
  temp_dir dir;
  feed_setup s;
  s.bus = bus.name();
  s.port = ntohs(a.sin_port);
  s.symbols = {"BTCUSDT"};
  s.channels = {"trade"};
  s.policy = {{"connect_timeout_ms", 300}, {"reconnect_min_ms", 50}, {"reconnect_max_ms", 100}};
  feeder_process f(write_config(dir.file("cfg.json"), s), "binance", "A", dir.file("feeder.log"));
  auto st = open_status(bus.name(), venue::binance, slot_id::a);
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return st.snapshot().connections >= 3; }, 10s));
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(elapsed >= 0.55);  // two timeouts of 300 ms each, at least
  CHECK(st.snapshot().records == 0);
  CHECK(st.last_error().find("connect timeout") != std::string::npos);
  CHECK(f.stop() == 0);
  CHECK(f.log().find("down (handshake_failed: connect timeout)") != std::string::npos);
  close(fd);
}
