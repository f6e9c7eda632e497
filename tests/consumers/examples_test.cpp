// The example strategies as programs, on a ring the test populates: bbo_monitor's table and
// its live update, latency_probe's histograms, gap count and lap report (the probe is stopped
// with SIGSTOP while the writer laps it).
#include "mdbus/broadcast_ring.hpp"
#include "bus/clock.hpp"
#include "mdbus/records.hpp"

#include "support/eventually.hpp"
#include "support/run_capture.hpp"
#include "support/spawn.hpp"
#include "support/unique_bus.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

using namespace mdbus;
using test::eventually;
using test::scratch_file;

namespace {

const std::string kBboMonitor = MDBUS_BBO_MONITOR;
const std::string kLatencyProbe = MDBUS_LATENCY_PROBE;

decimal dec(std::string_view s) {
  decimal d{};
  REQUIRE(parse_decimal(s, d) == parse_status::ok);
  return d;
}

bbo_record make_bbo(venue v, channel ch, std::string_view symbol, const char* bid, const char* bid_qty, const char* ask,
                    const char* ask_qty) {
  auto b = make_record<bbo_record>();
  b.header.venue_id = v;
  b.header.channel_id = ch;
  b.header.set_symbol(symbol);
  b.bid = make_level(book_side::bid, dec(bid), dec(bid_qty));
  b.ask = make_level(book_side::ask, dec(ask), dec(ask_qty));
  return b;
}

void write_book(broadcast_ring_writer& w, record_type t, std::uint64_t first, std::uint64_t seq,
                std::initializer_list<book_level> levels) {
  auto f = make_book_record(t);
  f.header.venue_id = venue::binance;
  f.header.channel_id = channel::binance_depth;
  f.header.flags = kHeaderHasSeq | (t == record_type::book_delta ? kHeaderHasFirstSeq : 0);
  f.header.first_seq = first;
  f.header.seq = seq;
  f.header.set_symbol("ETHUSDT");
  std::vector<std::byte> buf(book_record_size(levels.size()));
  REQUIRE(write_book_record(buf, f, std::span<const book_level>(levels.begin(), levels.size())) == buf.size());
  REQUIRE(w.write(static_cast<std::uint32_t>(t), buf));
}

template <class R>
void publish(broadcast_ring_writer& w, const R& r) {
  REQUIRE(w.write(static_cast<std::uint32_t>(R::kType), record_bytes(r)));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}



std::string line_with(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  std::string found;
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) found = line;  // the last table's row
  return found;
}

}  // namespace

TEST_CASE("bbo_monitor shows best bid, ask and spread per symbol from BBO records and from books") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 8192});
  publish(w, make_bbo(venue::binance, channel::binance_book_ticker, "BTCUSDT", "65432.10", "0.500", "65432.20", "1.250"));
  publish(w, make_bbo(venue::binance, channel::binance_book_ticker, "BTCUSDT", "65432.00", "0.700", "65432.30", "2.000"));
  publish(w, make_bbo(venue::okx, channel::okx_bbo_tbt, "BTC-USDT", "65431.9", "3", "65432", "4"));
  write_book(w, record_type::book_snapshot, 0, 100,
             {make_level(book_side::bid, dec("2650.10"), dec("1.5")), make_level(book_side::bid, dec("2650.00"), dec("2")),
              make_level(book_side::ask, dec("2650.30"), dec("1"))});
  write_book(w, record_type::book_delta, 101, 101, {make_level(book_side::bid, dec("2650.10"), dec("0"))});
  auto trade = make_record<trade_record>();  // not a BBO source: no row
  trade.header.set_symbol("XRPUSDT");
  publish(w, trade);

  const auto r = test::run_capture(kBboMonitor + " --bus " + bus.name() + " --oldest --drain --plain 2>&1");
  REQUIRE(r.status == 0);
  INFO(r.out);
  const std::string btc = line_with(r.out, "BTCUSDT");
  CHECK(btc.find("65432.00") != std::string::npos);  // the latest bookTicker wins
  CHECK(btc.find("65432.30") != std::string::npos);
  CHECK(btc.find(" 0.30 ") != std::string::npos);     // exact spread
  CHECK(btc.find("bookTicker") != std::string::npos);
  const std::string okx = line_with(r.out, "BTC-USDT");
  CHECK(okx.find("65431.9") != std::string::npos);
  CHECK(okx.find("bbo-tbt") != std::string::npos);
  const std::string eth = line_with(r.out, "ETHUSDT");  // from the book: the delta removed 2650.10
  CHECK(eth.find("2650.00") != std::string::npos);
  CHECK(eth.find("2650.30") != std::string::npos);
  CHECK(eth.find(" depth ") != std::string::npos);
  CHECK(r.out.find("XRPUSDT") == std::string::npos);
  CHECK(r.out.find("records 5  gaps 0  laps 0") != std::string::npos);

  // A gap on the depth stream: the row says its book is waiting for a snapshot.
  auto gap = make_record<gap_record>();
  gap.header.venue_id = venue::binance;
  gap.header.channel_id = channel::binance_depth;
  gap.header.set_symbol("ETHUSDT");
  publish(w, gap);
  const auto g = test::run_capture(kBboMonitor + " --bus " + bus.name() + " --oldest --drain --plain --venue binance 2>&1");
  CHECK(line_with(g.out, "ETHUSDT").find("book invalid") != std::string::npos);
  CHECK(g.out.find("BTC-USDT") == std::string::npos);  // --venue binance
  CHECK(g.out.find("gaps 1") != std::string::npos);
}

TEST_CASE("bbo_monitor follows the ring live and redraws when a new best price arrives") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 8192});
  const scratch_file scratch(bus.name(), "bbo");
  const std::string& out = scratch.path;
  test::child mon({"/bin/sh", "-c", "exec " + kBboMonitor + " --bus " + bus.name() + " --plain -i 0.02 > " + out});
  // Its first table (headings only) means it is attached: nothing published from now is missed.
  REQUIRE(eventually([&] { return read_file(out).find("VENUE") != std::string::npos; }));
  publish(w, make_bbo(venue::okx, channel::okx_bbo_tbt, "ETH-USDT", "2650.1", "5", "2650.2", "6"));
  CHECK(eventually([&] { return read_file(out).find("2650.1") != std::string::npos; }));
  publish(w, make_bbo(venue::okx, channel::okx_bbo_tbt, "ETH-USDT", "2650.3", "5", "2650.4", "6"));
  CHECK(eventually([&] { return line_with(read_file(out), "ETH-USDT").find("2650.3") != std::string::npos; }));
  mon.signal(SIGTERM);
  CHECK(mon.wait(10'000) == 0);
}

TEST_CASE("bbo_monitor exits 3 with one line when the bus does not exist") {
  const auto r = test::run_capture(kBboMonitor + " --bus no-such-bus-" + std::to_string(getpid()) + " 2>&1");
  CHECK(r.status == 3);
  CHECK(r.out.find("does not exist") != std::string::npos);
}

TEST_CASE("latency_probe histograms the three latencies and counts gaps") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 20, 8192});
  const std::int64_t now = wall_ns();
  for (int i = 0; i < 1000; ++i) {
    auto t = make_record<trade_record>();
    t.header.venue_id = venue::binance;
    t.header.venue_time_ns = now - 3'000'000;         // venue → receive: 2 ms
    t.header.receive_time_ns = now - 1'000'000;       // receive → publish: 50 µs (or 80 µs for 1 in 10)
    t.header.publish_time_ns = now - 1'000'000 + (i % 10 == 9 ? 80'000 : 50'000);
    publish(w, t);
  }
  auto gap = make_record<gap_record>();
  gap.header.publish_time_ns = now;
  publish(w, gap);
  publish(w, gap);
  const auto r = test::run_capture(kLatencyProbe + " --bus " + bus.name() + " --oldest --drain --json");
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["records"] == 1002);
  CHECK(j["gaps"] == 2);
  CHECK(j["laps"] == 0);
  CHECK(j["no_venue_time"] == 2);
  const auto& v = j["venue_to_receive"];
  CHECK(v["count"] == 1000);
  // Buckets are within 12.5 %: the quantiles are upper bounds of the bucket holding them.
  CHECK(v["p50_ns"].get<std::int64_t>() >= 2'000'000);
  CHECK(v["p50_ns"].get<std::int64_t>() <= 2'250'000);
  const auto& p = j["receive_to_publish"];
  CHECK(p["p50_ns"].get<std::int64_t>() >= 50'000);
  CHECK(p["p50_ns"].get<std::int64_t>() < 56'250);
  CHECK(p["p99_ns"].get<std::int64_t>() >= 80'000);
  CHECK(p["max_ns"] == 80'000);
  CHECK(j["publish_to_consumer"]["count"] == 1002);

  const auto text = test::run_capture(kLatencyProbe + " --bus " + bus.name() + " --oldest --drain");
  CHECK(text.out.find("receive->publish") != std::string::npos);
  CHECK(text.out.find("gaps 2  laps 0") != std::string::npos);
}

TEST_CASE("latency_probe reports a lap with the records it lost while it was stopped") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {4096, 512});
  const scratch_file scratch_out(bus.name(), "probe"), scratch_err(bus.name(), "probe.err");
  const std::string &out = scratch_out.path, &err = scratch_err.path;
  test::child probe({"/bin/sh", "-c", "exec " + kLatencyProbe + " --bus " + bus.name() + " --json > " + out + " 2> " + err});
  // Its "reading ..." line means it is attached: every record published from now is counted.
  REQUIRE(eventually([&] { return read_file(err).find("reading " + bus.segment("out")) != std::string::npos; }));
  probe.signal(SIGSTOP);  // a consumer that is not scheduled: the writer laps it
  auto t = make_record<trade_record>();
  for (int i = 0; i < 200; ++i) publish(w, t);  // 144-byte frames: ~7 rings
  probe.signal(SIGCONT);
  probe.signal(SIGTERM);
  REQUIRE(probe.wait(10'000) == 0);
  const auto j = nlohmann::json::parse(read_file(out));
  CHECK(j["laps"].get<int>() >= 1);
  CHECK(j["missed_records"].get<int>() > 150);
  CHECK(j["missed_records"].get<int>() + j["records"].get<int>() == 200);
}
