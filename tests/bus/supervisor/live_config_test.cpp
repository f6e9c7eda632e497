// Venue conformance, end to end: config/live.json as shipped, with only its endpoints
// (hosts, ports, CA) pointed at exsim, and exsim in its default, documentation-faithful mode
// (REST on its own listeners, no OKX snapshot push, checksum 0, REST weights, connection and
// subscribe limits) with every OKX instrument silent for its first 45 s. For 75 s of real
// time (the venues' own timings: OKX's 30 s idle cut, Binance's 20 s pings) the bus must:
// sync every book stream within 10 s of its first update (a snapshot published, then deltas
// without a gap), deliver every trade once, publish no gap record, reconnect nothing, trip no
// watchdog while OKX is quiet, and stay inside every venue budget.
#include "bus/feeder_block.hpp"
#include "mdbus/shm_segment.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/read_file.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/truth_compare.hpp"
#include "tests/support/unique_bus.hpp"
#include "tests/tools/exsim/exsim_process.hpp"
#include "tests/tools/exsim/http_client.hpp"
#include "tools/exsim/truth_reader.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

using namespace mdbus;
using namespace mdbus::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// exsim's first event time (gen_time_ns, CLOCK_REALTIME) per stream.
std::map<stream_ref, std::int64_t> first_event_ns(const std::string& truth_path, const std::set<stream_ref>& wanted) {
  std::map<stream_ref, std::int64_t> out;
  for_each_truth_event(truth_path, wanted, [&](const stream_ref& key, const auto& e) { out.emplace(key, e.gen_time_ns); });
  return out;
}

}  // namespace

TEST_CASE("conformance: live.json with only its endpoints changed syncs every book, loses no trade, rides out 45 s of quiet OKX, inside every budget") {
  unique_bus bus;
  temp_dir dir;
  const std::string truth_path = dir.file("truth.bin");
  exsim_process x({"--tls-cert", exsim_cert_dir() + "/server.pem", "--tls-key", exsim_cert_dir() + "/server.key", "--rate",
                   "300", "--seed", "13", "--truth-log", truth_path, "--quiet", "BTC-USDT:45", "--quiet", "ETH-USDT:45",
                   "--quiet", "BTC-USDT-SWAP:45", "--quiet", "ETH-USDT-SWAP:45", "--okx-symbols", "BTC-USDT", "ETH-USDT",
                   "BTC-USDT-SWAP", "ETH-USDT-SWAP", "--usdm-symbols", "BTCUSDT", "ETHUSDT"});

  // config/live.json as shipped; only endpoints change (and the bus name, unique per test).
  json cfg = json::parse(read_file(std::string(MDBUS_CONFIG_DIR) + "/live.json"));
  cfg["bus"] = bus.name();
  REQUIRE(cfg["venues"].size() == 3);  // Binance spot, OKX, Binance USD-M: every one is pointed at exsim
  for (const char* v : {"binance", "okx", "binance_usdm"}) {
    auto& vc = cfg["venues"][v];
    for (const char* which : {"endpoint", "rest_endpoint"}) {
      vc[which]["host"] = "127.0.0.1";
      vc[which]["server_name"] = "localhost";
      vc[which]["ca_file"] = exsim_cert_dir() + "/ca.pem";
    }
    vc["endpoint"]["port"] = x.venue_port();
    vc["rest_endpoint"]["port"] = std::string(v) == "okx"            ? x.okx_rest_port()
                                  : std::string(v) == "binance_usdm" ? x.usdm_rest_port()
                                                                     : x.binance_rest_port();
  }
  const std::string config = dir.file("live.json");
  std::ofstream(config) << cfg.dump(2);

  const std::string log_path = dir.file("supervisor.log");
  const pid_t sup = fork();
  REQUIRE(sup >= 0);
  if (sup == 0) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    execl(MDSUPERVISOR_BINARY, MDSUPERVISOR_BINARY, "--config", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  struct stopper {
    pid_t pid;
    ~stopper() {
      ::kill(pid, SIGTERM);
      for (int i = 0; i < 2000; ++i) {  // up to 20 s: the supervisor stops its children first
        if (waitpid(pid, nullptr, WNOHANG) == pid) return;
        std::this_thread::sleep_for(10ms);
      }
      ::kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } stop_supervisor{sup};
  REQUIRE_MESSAGE(eventually([&] { return read_file(log_path).find("MDSUPERVISOR_READY") != std::string::npos; }, 20s),
                  read_file(log_path));

  output_log out(segment_name(bus.name(), "out"));
  std::set<stream_ref> wanted;
  for (const char* s : {"BTCUSDT", "ETHUSDT"})
    for (channel c : {channel::binance_trade, channel::binance_agg_trade, channel::binance_depth}) wanted.insert({venue::binance, c, s});
  // Spot and perpetuals on both venues: OKX swaps' funding rate (a channel for the swaps
  // only), USD-M /public depth and /market aggTrade and markPrice (one connection per path).
  for (const char* s : {"BTC-USDT", "ETH-USDT", "BTC-USDT-SWAP", "ETH-USDT-SWAP"})
    for (channel c : {channel::okx_trades, channel::okx_books}) wanted.insert({venue::okx, c, s});
  for (const char* s : {"BTC-USDT-SWAP", "ETH-USDT-SWAP"}) wanted.insert({venue::okx, channel::okx_funding_rate, s});
  for (const char* s : {"BTCUSDT", "ETHUSDT"})
    for (channel c : {channel::usdm_depth, channel::usdm_agg_trade, channel::usdm_mark_price}) wanted.insert({venue::binance_usdm, c, s});

  // 75 s of the venues' real timings; the output is followed meanwhile (it is never lapped).
  const auto end = std::chrono::steady_clock::now() + 75s;
  while (std::chrono::steady_clock::now() < end) {
    out.poll();
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE(http_request(x.control_port(), "POST", "/market", R"({"paused":true})").json()["ok"] == true);
  std::map<stream_ref, std::vector<std::uint64_t>> truth;
  REQUIRE_MESSAGE(output_caught_up(out, truth_path, wanted, truth, [](auto pred) { return eventually(pred, 30s); }),
                  "the output catches up with the truth; supervisor log: " << read_file(log_path));
  INFO("supervisor log: ", read_file(log_path));

  // Trades and books against exsim's truth: nothing lost, nothing doubled, in order; no gap.
  const truth_totals totals = check_against_truth(truth, out, wanted);
  CHECK(out.gaps.empty());
  for (const auto& g : out.gaps) MESSAGE("gap: ", g);
  CHECK(out.laps == 0);
  // Every book stream synced within 10 s of its first update.
  const auto first = first_event_ns(truth_path, wanted);
  for (const auto& s : wanted) {
    if (s.c != channel::binance_depth && s.c != channel::okx_books && s.c != channel::usdm_depth) continue;
    INFO(name_of(s));
    REQUIRE(first.count(s) == 1);
    REQUIRE(out.first_snapshot_ns.count(s) == 1);
    const double sync_s = static_cast<double>(out.first_snapshot_ns[s] - first.at(s)) / 1e9;
    CHECK(sync_s <= 10.0);
    MESSAGE(name_of(s), ": snapshot published ", sync_s, " s after the stream's first update");
  }
  // The OKX instruments really were quiet for 45 s: their first event came late.
  for (const char* s : {"BTC-USDT", "ETH-USDT"}) {
    const stream_ref k{venue::okx, channel::okx_books, s};
    CHECK(first.at(k) - first.at({venue::binance, channel::binance_trade, "BTCUSDT"}) > 40'000'000'000LL);
  }

  // No forced reconnect, no watchdog trip, no stale resubscribe, no 429/418 answer.
  std::uint64_t okx_pings = 0;
  std::size_t slots_seen = 0;
  // Every connection group's slots: USD-M has two (/public, /market).
  for (const auto& [v, groups] : {std::pair{venue::binance, 1u}, std::pair{venue::okx, 1u}, std::pair{venue::binance_usdm, 2u}})
    for (std::uint32_t g = 0; g < groups; ++g) {
      for (const slot_id sl : {slot_id::a, slot_id::b}) {
        feeder_status_reader r;
        std::string why;
        INFO(to_string(v), "/g", g, "/", to_string(sl), ": ", why);
        REQUIRE(feeder_status_reader::try_open(feeder_status_name(bus.name(), v, sl, g), r, why) == attach_status::ok);
        ++slots_seen;
        const auto st = r.snapshot();
        CHECK(st.reconnects == 0);
        CHECK(st.no_data_trips == 0);
        CHECK(st.pong_timeouts == 0);
        CHECK(st.remote_closes == 0);
        CHECK(st.stale_resubscribes == 0);
        CHECK(st.rest_rejections == 0);
        CHECK(st.parse_errors_total == 0);
        if (v == venue::okx) okx_pings += st.pongs_received;
      }
    }
  CHECK(slots_seen == 8);
  CHECK(okx_pings >= 2);  // the quiet connections lived on their keepalives
  // exsim's own account: nobody went over a REST budget or a connection/subscribe limit.
  const json st = http_request(x.control_port(), "GET", "/status").json();
  for (const char* v : {"binance", "okx", "binance_usdm"}) {
    const json& l = st["limits"][v];
    INFO(v, " limits: ", l.dump());
    CHECK(l["rest_429"] == 0);
    CHECK(l["rest_418"] == 0);
    CHECK(l["connect_refused_limit"] == 0);
    CHECK(l["rest_weight_max"].get<std::int64_t>() <= l["rest_weight_limit"].get<std::int64_t>());
  }
  CHECK(st["limits"]["okx"]["subscribe_refused_limit"] == 0);
  MESSAGE("live.json conformance: ", totals.expected, " events expected, ", totals.delivered, " delivered, ",
          out.gaps.size(), " gaps; binance REST weight max ", st["limits"]["binance"]["rest_weight_max"],
          " per window, okx books requests max ", st["limits"]["okx"]["rest_weight_max"], "; okx pongs ", okx_pings);
}
