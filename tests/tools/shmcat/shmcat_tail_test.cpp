// shmcat tail on rings the test populates: the output ring (last N, filters, JSON that matches
// what was written field by field, aligned text, -f, a lap reported inline) and feeder rings
// (read-only: the merger's reader lock and frames untouched; -f; overtaken when it falls a
// ring behind; never a torn record while the feeder and the merger race it).
#include "mdbus/broadcast_ring.hpp"
#include "mdbus/records.hpp"
#include "bus/spsc_ring.hpp"
#include "support/run_capture.hpp"
#include "support/spawn.hpp"
#include "support/unique_bus.hpp"
#include "tests/tools/shmcat/shmcat_test_util.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <fcntl.h>
#include <optional>
#include <sys/mman.h>
#include <unistd.h>
#include <cstdio>
#include <thread>

using namespace mdbus;
using test::cmd;
using test::eventually;
using test::has_mapped;
using test::json_lines;
using test::kShmcat;
using test::make_bbo;
using test::make_trade;
using test::publish;
using test::read_file;

namespace {

decimal dec(std::string_view s) {
  decimal d{};
  REQUIRE(parse_decimal(s, d) == parse_status::ok);
  return d;
}

/// A trade whose fields all derive from `id`, so a torn copy cannot pass check_trade_json.
trade_record patterned_trade(std::uint64_t id) {
  auto t = make_trade(id, "BTCUSDT");
  t.set_px({static_cast<std::int64_t>(id * 3 + 1), -2});
  t.set_qty({static_cast<std::int64_t>(id ^ 0x5555), -4});
  t.first_trade_id = id;
  t.last_trade_id = ~id;
  return t;
}

bool check_trade_json(const nlohmann::json& j) {
  const auto id = j["seq"].get<std::uint64_t>();
  return j["px"] == to_string(decimal{static_cast<std::int64_t>(id * 3 + 1), -2}) &&
         j["qty"] == to_string(decimal{static_cast<std::int64_t>(id ^ 0x5555), -4}) && j["first_trade_id"] == id &&
         j["last_trade_id"] == ~id && j["symbol"] == "BTCUSDT";
}


}  // namespace

TEST_CASE("shmcat tail prints the latest records of the output ring, filtered, as text or JSON") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096});
  for (std::uint64_t i = 1; i <= 20; ++i) {
    publish(w, make_trade(1000 + i, "BTCUSDT"));
    publish(w, make_bbo(i));
  }
  const auto all = test::run_capture(kShmcat + " --json tail -n 6 " + bus.segment("out"));
  REQUIRE(all.status == 0);
  const auto lines = json_lines(all.out);
  REQUIRE(lines.size() == 6);
  CHECK(lines.back()["type"] == "bbo");
  CHECK(lines.back()["seq"] == 20);
  CHECK(lines.back()["frame"] == 39);
  CHECK(lines[4]["type"] == "trade");
  CHECK(lines[4]["seq"] == 1020);
  CHECK(lines[4]["symbol"] == "BTCUSDT");
  CHECK(lines[4]["venue"] == "binance");

  // -n counts records that pass the filters: the last 3 trades, not trades among the last 3.
  const auto trades = test::run_capture(kShmcat + " --json tail -n 3 --type trade --symbol BTCUSDT " + bus.segment("out"));
  REQUIRE(trades.status == 0);
  const auto tl = json_lines(trades.out);
  REQUIRE(tl.size() == 3);
  for (std::size_t k = 0; k < tl.size(); ++k) CHECK(tl[k]["seq"] == 1018 + k);

  const auto text = test::run_capture(cmd("tail -n 1 --venue okx " + bus.segment("out")));
  CHECK(text.status == 0);
  CHECK(text.out.find("BTC-USDT") != std::string::npos);
  CHECK(text.out.find("bbo-tbt") != std::string::npos);
}

TEST_CASE("shmcat tail --json carries every field of every record type, exactly as written") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 8192});
  auto t = make_trade(42, "BTCUSDT");
  t.header.venue_time_ns = 1'700'000'000'000'000'000;
  t.header.receive_time_ns = 1'700'000'000'001'000'000;
  t.header.publish_time_ns = 1'700'000'000'001'050'000;
  t.set_px(dec("65432.10"));
  t.set_qty(dec("0.00500000"));
  t.aggressor = aggressor_side::sell;
  t.first_trade_id = 40;
  t.last_trade_id = 42;
  t.trade_count = 3;
  publish(w, t);
  auto b = make_bbo(7);
  b.bid = make_level(book_side::bid, dec("65431.9"), dec("3"));
  b.ask = make_level(book_side::ask, dec("65432"), dec("0.25"));
  publish(w, b);
  auto f = make_book_record(record_type::book_snapshot);
  f.header.venue_id = venue::okx;
  f.header.channel_id = channel::okx_books;
  f.header.flags = kHeaderHasSeq | kHeaderHasPrevSeq;
  f.header.seq = 123456;
  f.header.prev_seq = -1;
  f.header.set_symbol("BTC-USDT");
  f.checksum = -855196043;
  f.book_flags |= kBookChecksumPresent;
  const book_level levels[] = {make_level(book_side::ask, dec("8476.98"), dec("415")),
                               make_level(book_side::bid, dec("8476.97"), dec("256"))};
  std::vector<std::byte> buf(book_record_size(2));
  REQUIRE(write_book_record(buf, f, levels) == buf.size());
  REQUIRE(w.write(static_cast<std::uint32_t>(record_type::book_snapshot), buf));
  auto g = make_record<gap_record>();
  g.header.venue_id = venue::binance;
  g.header.channel_id = channel::binance_depth;
  g.header.set_symbol("ETHUSDT");
  g.reason = gap_reason::hole_timeout;
  g.last_seq_held = 100;
  g.first_seq_after = 105;
  g.held_ns = 2'000'000;
  publish(w, g);
  auto s = make_record<slot_status_record>();
  s.header.venue_id = venue::okx;
  s.header.slot = slot_id::b;
  s.state = slot_state::rotating;
  s.reason = slot_reason::age_limit;
  s.connection_epoch = 4;
  s.set_reason_text("max age 24h");
  publish(w, s);
  auto m = make_record<mark_funding_record>();
  m.header.venue_id = venue::binance_usdm;
  m.header.channel_id = channel::usdm_mark_price;
  m.header.set_symbol("BTCUSDT");
  m.set_mark_px(dec("11794.15000000"));
  m.set_funding_rate(dec("-0.00038167"));
  m.set_funding_time_ns(1'562'306'400'000'000'000);
  publish(w, m);

  const auto r = test::run_capture(kShmcat + " --json tail -n 100 " + bus.segment("out"));
  REQUIRE(r.status == 0);
  const auto j = json_lines(r.out);
  REQUIRE(j.size() == 6);
  CHECK(j[0] == nlohmann::json{{"frame", 0}, {"type", "trade"}, {"venue", "binance"}, {"channel", "trade"},
                               {"symbol", "BTCUSDT"}, {"slot", "A"}, {"flags", kHeaderHasSeq}, {"seq", 42},
                               {"first_seq", 0}, {"prev_seq", 0}, {"venue_time_ns", t.header.venue_time_ns},
                               {"receive_time_ns", t.header.receive_time_ns}, {"publish_time_ns", t.header.publish_time_ns},
                               {"px", "65432.10"}, {"qty", "0.00500000"}, {"aggressor", "sell"}, {"first_trade_id", 40},
                               {"last_trade_id", 42}, {"trade_count", 3}, {"backfilled", false}});
  CHECK(j[1]["bid"] == nlohmann::json{{"side", "bid"}, {"px", "65431.9"}, {"qty", "3"}});
  CHECK(j[1]["ask"] == nlohmann::json{{"side", "ask"}, {"px", "65432"}, {"qty", "0.25"}});
  CHECK(j[1]["slot"] == "B");
  CHECK(j[2]["type"] == "book_snapshot");
  CHECK(j[2]["channel"] == "books");
  CHECK(j[2]["seq"] == 123456);
  CHECK(j[2]["prev_seq"] == -1);
  CHECK(j[2]["checksum"] == -855196043);
  CHECK(j[2]["first_part"] == true);
  CHECK(j[2]["last_part"] == true);
  CHECK(j[2]["levels"] == nlohmann::json::array({{{"side", "ask"}, {"px", "8476.98"}, {"qty", "415"}},
                                                 {{"side", "bid"}, {"px", "8476.97"}, {"qty", "256"}}}));
  CHECK(j[3]["reason"] == "hole_timeout");
  CHECK(j[3]["last_seq_held"] == 100);
  CHECK(j[3]["first_seq_after"] == 105);
  CHECK(j[3]["held_ns"] == 2'000'000);
  CHECK(j[4]["state"] == "rotating");
  CHECK(j[4]["reason"] == "age_limit");
  CHECK(j[4]["connection_epoch"] == 4);
  CHECK(j[4]["reason_text"] == "max age 24h");
  CHECK(j[5]["type"] == "mark_funding");
  CHECK(j[5]["venue"] == "binance_usdm");
  CHECK(j[5]["channel"] == "markPrice");
  CHECK(j[5]["mark_px"] == "11794.15000000");
  CHECK(j[5]["funding_rate"] == "-0.00038167");
  CHECK(j[5]["funding_time_ns"] == 1'562'306'400'000'000'000);
  CHECK_FALSE(j[5].contains("index_px"));  // not sent is not zero
  CHECK_FALSE(j[5].contains("settle_px"));

  // Text: one aligned line per record under a fixed column layout.
  const auto text = test::run_capture(kShmcat + " tail -n 100 " + bus.segment("out"));
  REQUIRE(text.status == 0);
  std::istringstream in(text.out);
  std::vector<std::string> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(line);
  REQUIRE(rows.size() == 6);
  const auto type_col = rows[0].find("trade ", 40);
  CHECK(rows[1].find("bbo", 40) == type_col);
  CHECK(rows[2].find("book_snapshot") == type_col);
  CHECK(rows[3].find("gap ", 40) == type_col);
  CHECK(rows[4].find("slot_status") == type_col);
  CHECK(rows[5].find("mark_funding") == type_col);  // binance_usdm fits the venue column
  CHECK(rows[5].find("mark=11794.15000000 funding=-0.00038167 at=06:00:00.000000") != std::string::npos);
  CHECK(rows[0].find("22:13:20.001050") != std::string::npos);  // publish time, UTC
  CHECK(rows[0].find("40..42") != std::string::npos);
  CHECK(rows[2].find("checksum=-855196043") != std::string::npos);
  CHECK(rows[4].find("\"max age 24h\"") != std::string::npos);
}

TEST_CASE("shmcat tail -f follows records published after it started") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096});
  publish(w, make_trade(1, "ETHUSDT"));
  const test::scratch_file scratch(bus.name(), "tail");
  const std::string& out_file = scratch.path;
  test::child tail({"/bin/sh", "-c", "exec " + kShmcat + " --json tail -f -n 1 " + bus.segment("out") + " > " + out_file});
  REQUIRE(eventually([&] { return json_lines(read_file(out_file)).size() == 1; }));
  for (std::uint64_t i = 2; i <= 5; ++i) publish(w, make_trade(i, "ETHUSDT"));
  CHECK(eventually([&] { return json_lines(read_file(out_file)).size() == 5; }));
  tail.signal(SIGTERM);
  CHECK(tail.wait(10'000) == 0);
}

TEST_CASE("shmcat tail -f reports a lap inline with the records lost, then carries on") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {4096, 512});
  const test::scratch_file scratch(bus.name(), "lap");
  const std::string& out_file = scratch.path;
  publish(w, make_trade(0, "BTCUSDT"));
  test::child tail({"/bin/sh", "-c", "exec " + kShmcat + " --json tail -f " + bus.segment("out") + " > " + out_file});
  REQUIRE(eventually([&] { return json_lines(read_file(out_file)).size() == 1; }));  // attached and caught up
  tail.signal(SIGSTOP);  // a reader that is not scheduled while the writer laps it
  for (std::uint64_t i = 1; i <= 200; ++i) publish(w, make_trade(i, "BTCUSDT"));
  tail.signal(SIGCONT);
  REQUIRE(eventually([&] {
    const auto l = json_lines(read_file(out_file));
    return !l.empty() && l.back().contains("seq") && l.back()["seq"] == 200;
  }));
  const auto lines = json_lines(read_file(out_file));
  REQUIRE(lines.size() >= 2);
  REQUIRE(lines[1].contains("lapped"));
  const auto missed = lines[1]["missed_frames"].get<std::uint64_t>();
  CHECK(missed > 150);
  // After the notice, every later record in order: shown + lost = published.
  for (std::size_t k = 2; k < lines.size(); ++k) CHECK(lines[k]["seq"] == missed + k - 1);
  CHECK(1 + missed + (lines.size() - 2) == 201);
  tail.signal(SIGTERM);
  CHECK(tail.wait(10'000) == 0);
}

TEST_CASE("shmcat tail -f of a ring its owner truncates says so in one line and exits 4, no SIGBUS death") {
  test::unique_bus bus;
  const test::scratch_file scratch(bus.name(), "trunc");
  for (const std::string object : {"out", "feed.okx.A"}) {
    INFO(object);
    const std::string name = bus.segment(object);
    std::optional<broadcast_ring_writer> out;
    std::optional<spsc_ring_writer> feed;
    if (object == "out") {
      out.emplace(broadcast_ring_writer::create(name, {1 << 16, 4096}));
      publish(*out, make_trade(1, "BTCUSDT"));
    } else {
      feed.emplace(spsc_ring_writer::create(name, {1 << 16, 4096}));
    }
    test::child tail({"/bin/sh", "-c", "exec " + kShmcat + " tail -f " + name + " > " + scratch.path + " 2>&1"});
    REQUIRE(eventually([&] { return has_mapped(tail.pid(), name); }));
    // The owner shrinks the segment under the live reader (a buggy writer or a cleanup script).
    const int fd = shm_open(("/" + name).c_str(), O_RDWR, 0);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, 0) == 0);
    close(fd);
    CHECK(tail.wait(10'000) == 4);
    const std::string log = read_file(scratch.path);
    const std::string line = "shmcat: segment " + name + ": truncated under the reader by its owner (its mapping is gone)\n";
    CHECK(log.size() >= line.size());
    CHECK(log.substr(log.size() - std::min(log.size(), line.size())) == line);
  }
}

TEST_CASE("shmcat tail of a feeder ring is read-only: the merger keeps its lock and every frame") {
  test::unique_bus bus;
  auto feed = spsc_ring_writer::create(bus.segment("feed.binance.A"), {1 << 16, 4096});
  for (std::uint64_t i = 1; i <= 10; ++i) REQUIRE(feed.try_write(static_cast<std::uint32_t>(record_type::trade), record_bytes(make_trade(i, "BTCUSDT"))));
  auto merger = spsc_ring_reader::open(bus.segment("feed.binance.A"));
  CHECK(merger.poll([](const spsc_frame&) {}, 4) == 4);  // the merger has consumed 1..4

  // shmcat shows the unconsumed backlog (from the merger's tail), the last N of it.
  const auto r = test::run_capture(kShmcat + " --json tail -n 3 --bus " + bus.name() + " feed.binance.A");
  REQUIRE(r.status == 0);
  const auto j = json_lines(r.out);
  REQUIRE(j.size() == 3);
  CHECK(j[0]["seq"] == 8);
  CHECK(j[2]["seq"] == 10);
  CHECK(j[2]["frame"] == 9 * 128);  // feeder frames are named by ring position: 8 + 120 bytes each
  const auto all = json_lines(test::run_capture(kShmcat + " --json tail -n 100 " + bus.segment("feed.binance.A")).out);
  CHECK(all.size() == 6);
  const auto text = test::run_capture(cmd("tail " + bus.segment("feed.binance.A")));
  CHECK(text.out.find("trade ") != std::string::npos);

  // Nothing was taken: the merger still holds its lock and reads 5..10 itself.
  std::vector<std::uint64_t> seen;
  merger.poll(
      [&](const spsc_frame& f) {
        record_view v;
        REQUIRE(record_view::parse(f.payload, v) == record_status::ok);
        seen.push_back(v.header().seq);
      },
      100);
  CHECK(seen == std::vector<std::uint64_t>{5, 6, 7, 8, 9, 10});
  std::string reason;
  spsc_ring_reader second;
  CHECK(spsc_ring_reader::try_open(bus.segment("feed.binance.A"), second, reason) != attach_status::ok);
}

TEST_CASE("shmcat tail -f of a feeder ring follows it, and says so when the feeder overtakes it") {
  test::unique_bus bus;
  auto feed = spsc_ring_writer::create(bus.segment("feed"), {4096, 512});
  auto merger = spsc_ring_reader::open(bus.segment("feed"));
  auto write = [&](std::uint64_t id) {
    REQUIRE(feed.try_write(static_cast<std::uint32_t>(record_type::trade), record_bytes(make_trade(id, "BTCUSDT"))));
    CHECK(merger.poll([](const spsc_frame&) {}, 10) >= 1);  // a live merger: the ring never fills
  };
  // Record 1 waits unconsumed, so shmcat finds it in the backlog whenever it attaches.
  REQUIRE(feed.try_write(static_cast<std::uint32_t>(record_type::trade), record_bytes(make_trade(1, "BTCUSDT"))));
  const test::scratch_file scratch(bus.name(), "feed");
  const std::string& out_file = scratch.path;
  test::child tail({"/bin/sh", "-c", "exec " + kShmcat + " --json tail -f " + bus.segment("feed") + " > " + out_file});
  REQUIRE(eventually([&] { return json_lines(read_file(out_file)).size() == 1; }));
  tail.signal(SIGSTOP);
  for (std::uint64_t i = 2; i <= 100; ++i) write(i);  // 128-byte frames: 3 rings
  tail.signal(SIGCONT);
  // It notices on its own (it jumps to the newest frame), then follows again.
  REQUIRE(eventually([&] {
    const auto l = json_lines(read_file(out_file));
    return !l.empty() && l.back().contains("overtaken");
  }));
  write(101);
  REQUIRE(eventually([&] {
    const auto l = json_lines(read_file(out_file));
    return !l.empty() && l.back().contains("seq") && l.back()["seq"] == 101;
  }));
  const auto lines = json_lines(read_file(out_file));
  bool overtaken = false;
  for (const auto& l : lines) overtaken = overtaken || (l.contains("overtaken") && l["missed_bytes"].get<int>() > 0);
  CHECK(overtaken);
  tail.signal(SIGTERM);
  CHECK(tail.wait(10'000) == 0);
}

TEST_CASE("shmcat tail -f of a feeder ring never shows a torn record while the feeder and merger race it") {
  test::unique_bus bus;
  auto feed = spsc_ring_writer::create(bus.segment("feed"), {1 << 14, 512});
  auto merger = spsc_ring_reader::open(bus.segment("feed"));
  const test::scratch_file scratch(bus.name(), "race");
  const std::string& out_file = scratch.path;
  test::child tail({"/bin/sh", "-c", "exec " + kShmcat + " --json tail -f " + bus.segment("feed") + " > " + out_file});
  REQUIRE(eventually([&] { return has_mapped(tail.pid(), bus.segment("feed")); }));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (std::uint64_t id = 1; !stop.load(std::memory_order_relaxed); ++id) {
      const auto t = patterned_trade(id);
      while (!feed.try_write(static_cast<std::uint32_t>(record_type::trade), record_bytes(t)) && !stop.load()) {
      }
      (void)merger.poll([](const spsc_frame&) {}, 64);
    }
  });
  const bool enough = eventually([&] { return json_lines(read_file(out_file)).size() >= 3000; }, std::chrono::seconds(60));
  stop = true;
  writer.join();
  tail.signal(SIGTERM);
  CHECK(tail.wait(10'000) == 0);
  CHECK(enough);
  std::uint64_t records = 0, overtaken = 0, bad = 0, last = 0;
  for (const auto& l : json_lines(read_file(out_file))) {
    if (l.contains("overtaken")) {
      ++overtaken;
      continue;
    }
    ++records;
    if (!check_trade_json(l) || l["seq"].get<std::uint64_t>() <= last) ++bad;
    last = l["seq"].get<std::uint64_t>();
  }
  CHECK(bad == 0);
  MESSAGE("feeder-ring race: " << records << " records shown intact, " << overtaken << " overtaken notices");
}
