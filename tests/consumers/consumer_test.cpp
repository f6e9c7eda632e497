// The consumer API against a real broadcast ring written by the test: typed access, start
// positions, filters, lap reports with exact counts (a deliberately slow consumer under a
// live writer thread), the idle policies, and the one-line errors of open().
#include "mdbus/consumer.hpp"

#include "support/impostor.hpp"
#include "support/scoped_env.hpp"
#include "support/unique_bus.hpp"

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

using namespace mdbus;

namespace {

trade_record make_trade(venue v, std::string_view symbol, std::uint64_t id) {
  auto t = make_record<trade_record>();
  t.header.venue_id = v;
  t.header.channel_id = v == venue::okx ? channel::okx_trades : channel::binance_trade;
  t.header.flags = kHeaderHasSeq;
  t.header.seq = id;
  t.header.set_symbol(symbol);
  // Every field derives from the id, so a record mixed from two writes cannot pass check_trade.
  t.set_px({static_cast<std::int64_t>(id * 3 + 1), -2});
  t.set_qty({static_cast<std::int64_t>(id ^ 0x5555), -4});
  t.first_trade_id = id;
  t.last_trade_id = ~id;
  t.trade_count = static_cast<std::uint32_t>(id);
  t.aggressor = id % 2 ? aggressor_side::buy : aggressor_side::sell;
  return t;
}

bool check_trade(const trade_record& t) {
  const std::uint64_t id = t.header.seq;
  return t.px_mantissa == static_cast<std::int64_t>(id * 3 + 1) && t.qty_mantissa == static_cast<std::int64_t>(id ^ 0x5555) &&
         t.first_trade_id == id && t.last_trade_id == ~id && t.trade_count == static_cast<std::uint32_t>(id) &&
         t.aggressor == (id % 2 ? aggressor_side::buy : aggressor_side::sell);
}

/// A delta with 1 + id % 9 levels derived from the id (records of varying size: the ring wraps
/// with padding frames at varying places).
std::vector<std::byte> make_delta(std::uint64_t id) {
  auto f = make_book_record(record_type::book_delta);
  f.header.venue_id = venue::binance;
  f.header.channel_id = channel::binance_depth;
  f.header.flags = kHeaderHasSeq | kHeaderHasFirstSeq;
  f.header.seq = id;
  f.header.first_seq = id;
  f.header.set_symbol("BTCUSDT");
  std::vector<book_level> levels;
  for (std::uint64_t i = 0; i < 1 + id % 9; ++i)
    levels.push_back(make_level(i % 2 ? book_side::ask : book_side::bid, {static_cast<std::int64_t>(id + i), -1},
                                {static_cast<std::int64_t>(id * 7 + i), 0}));
  std::vector<std::byte> out(book_record_size(levels.size()));
  REQUIRE(write_book_record(out, f, levels) == out.size());
  return out;
}

bool check_delta(const book_view& b) {
  const std::uint64_t id = b.header().seq;
  if (b.level_count() != 1 + id % 9 || b.header().first_seq != id) return false;
  for (std::uint64_t i = 0; i < b.level_count(); ++i) {
    const auto l = b.level(i);
    if (l.px_mantissa != static_cast<std::int64_t>(id + i) || l.qty_mantissa != static_cast<std::int64_t>(id * 7 + i) ||
        l.side != (i % 2 ? book_side::ask : book_side::bid))
      return false;
  }
  return true;
}

template <class R>
void publish(broadcast_ring_writer& w, const R& r) {
  REQUIRE(w.write(static_cast<std::uint32_t>(R::kType), record_bytes(r)));
}

consumer_options options_for(const test::unique_bus& bus, start_position start = start_position::oldest) {
  consumer_options o;
  o.bus = bus.name();
  o.start = start;
  return o;
}

}  // namespace

TEST_CASE("consumer reads every record type in order with typed access") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 8192});
  publish(w, make_trade(venue::binance, "BTCUSDT", 7));
  auto bbo = make_record<bbo_record>();
  bbo.header.venue_id = venue::okx;
  bbo.bid = make_level(book_side::bid, {100, 0}, {3, 0});
  bbo.ask = make_level(book_side::ask, {101, 0}, {4, 0});
  publish(w, bbo);
  const auto delta = make_delta(5);
  REQUIRE(w.write(static_cast<std::uint32_t>(record_type::book_delta), delta));
  auto gap = make_record<gap_record>();
  gap.reason = gap_reason::hole_timeout;
  gap.last_seq_held = 10;
  gap.first_seq_after = 13;
  publish(w, gap);
  auto st = make_record<slot_status_record>();
  st.state = slot_state::rotating;
  publish(w, st);
  auto mf = make_record<mark_funding_record>();
  mf.header.venue_id = venue::binance_usdm;
  mf.header.channel_id = channel::usdm_mark_price;
  mf.set_mark_px({6183763, -2});
  mf.set_funding_rate({-12, -6});
  publish(w, mf);

  auto c = consumer::open(options_for(bus));
  CHECK(c.filter().empty());
  std::vector<std::string> seen;
  for (int i = 0; i < 6; ++i) {
    const poll_result r = c.poll();
    REQUIRE(r.status == poll_status::record);
    CHECK(r.seq == static_cast<std::uint64_t>(i));
    visit_record(r.record, overloaded{
                               [&](const trade_record& t) {
                                 CHECK(check_trade(t));
                                 seen.push_back("trade");
                               },
                               [&](const bbo_record& b) {
                                 CHECK(b.bid.px() == decimal{100, 0});
                                 CHECK(b.ask.qty() == decimal{4, 0});
                                 seen.push_back("bbo");
                               },
                               [&](const book_view& b) {
                                 CHECK(check_delta(b));
                                 seen.push_back("book");
                               },
                               [&](const gap_record& g) {
                                 CHECK(g.first_seq_after == 13);
                                 seen.push_back("gap");
                               },
                               [&](const slot_status_record& s) {
                                 CHECK(s.state == slot_state::rotating);
                                 seen.push_back("slot");
                               },
                               [&](const instrument_record&) { seen.push_back("instrument"); },
                               [&](const mark_funding_record& m) {
                                 CHECK(m.header.channel_id == channel::usdm_mark_price);
                                 CHECK(m.mark_px() == decimal{6183763, -2});
                                 CHECK(m.has(kHasFundingRate));
                                 CHECK_FALSE(m.has(kHasIndexPx));
                                 CHECK(m.funding_rate() == decimal{-12, -6});
                                 seen.push_back("mark_funding");
                               },
                           });
  }
  CHECK(seen == std::vector<std::string>{"trade", "bbo", "book", "gap", "slot", "mark_funding"});
  CHECK(c.poll().status == poll_status::empty);
  CHECK(c.stats().records == 6);
  CHECK(c.lag_frames() == 0);
  CHECK(c.writer_state(1'000'000'000'000) == writer_liveness::alive);
}

TEST_CASE("consumer started at newest sees only later records, at oldest, everything the ring holds") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096});
  for (std::uint64_t i = 1; i <= 3; ++i) publish(w, make_trade(venue::binance, "BTCUSDT", i));
  auto newest = consumer::open(options_for(bus, start_position::newest));
  auto oldest = consumer::open(options_for(bus, start_position::oldest));
  CHECK(newest.poll().status == poll_status::empty);
  CHECK(newest.lag_frames() == 0);
  CHECK(oldest.lag_frames() == 3);
  publish(w, make_trade(venue::binance, "BTCUSDT", 4));
  const auto r = newest.poll();
  REQUIRE(r.status == poll_status::record);
  CHECK(r.record.header().seq == 4);
  for (std::uint64_t i = 1; i <= 4; ++i) {
    const auto o = oldest.poll();
    REQUIRE(o.status == poll_status::record);
    CHECK(o.record.trade()->header.seq == i);
  }
  CHECK(oldest.poll().status == poll_status::empty);
}

TEST_CASE("consumer filters by venue, symbol, channel and type, and counts what it skipped") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096});
  std::uint64_t id = 0;
  for (int round = 0; round < 4; ++round) {
    publish(w, make_trade(venue::binance, "BTCUSDT", ++id));
    publish(w, make_trade(venue::binance, "ETHUSDT", ++id));
    publish(w, make_trade(venue::okx, "BTC-USDT", ++id));
    auto b = make_record<bbo_record>();
    b.header.venue_id = venue::okx;
    b.header.channel_id = channel::okx_bbo_tbt;
    b.header.set_symbol("BTC-USDT");
    b.header.seq = ++id;
    publish(w, b);
  }
  auto drain = [](consumer& c) {
    std::vector<std::uint64_t> ids;
    for (poll_result r = c.poll(); r.status == poll_status::record; r = c.poll()) ids.push_back(r.record.header().seq);
    return ids;
  };
  SUBCASE("venue and type") {
    auto o = options_for(bus);
    o.filter.venue(venue::okx).type(record_type::trade);
    auto c = consumer::open(o);
    CHECK(drain(c) == std::vector<std::uint64_t>{3, 7, 11, 15});
    CHECK(c.stats().filtered == 12);
  }
  SUBCASE("symbols, any of several") {
    auto o = options_for(bus);
    o.filter.symbol("ETHUSDT").symbol("BTC-USDT");
    auto c = consumer::open(o);
    CHECK(drain(c).size() == 12);
  }
  SUBCASE("channel") {
    auto o = options_for(bus);
    o.filter.channel(channel::okx_bbo_tbt);
    auto c = consumer::open(o);
    CHECK(drain(c) == std::vector<std::uint64_t>{4, 8, 12, 16});
  }
  SUBCASE("names, as a command line gives them") {
    auto o = options_for(bus);
    o.filter.venue_name("binance").type_name("trade").symbol("BTCUSDT");
    auto c = consumer::open(o);
    CHECK(drain(c) == std::vector<std::uint64_t>{1, 5, 9, 13});
    CHECK_THROWS_WITH_AS(record_filter{}.venue_name("kraken"), doctest::Contains("unknown venue 'kraken'"),
                         std::invalid_argument);
    CHECK_THROWS_AS(record_filter{}.type_name("trades"), std::invalid_argument);
    CHECK_THROWS_AS(record_filter{}.symbol("A-SYMBOL-LONGER-THAN-24-CHARS"), std::invalid_argument);
  }
}

TEST_CASE("a filtering consumer under a live writer: wanted records intact and in order, the rest skipped unread") {
  // 1 symbol of 10, books of up to 9 levels among trades: the filter decides on the peeked
  // header, so skipped records are never copied; every frame is still accounted for.
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 512});
  auto o = options_for(bus);
  o.filter.symbol("SYM3");
  auto c = consumer::open(o);
  constexpr std::uint64_t kRecords = 100'000;
  std::atomic<std::uint64_t> consumed{0};
  std::thread writer([&] {
    for (std::uint64_t id = 0; id < kRecords; ++id) {
      // acquire: pairs with the reader's release below; 100 frames (< 34 KB) never lap a 64 KB ring.
      while (w.next_seq() - consumed.load(std::memory_order_acquire) > 100) std::this_thread::yield();
      const std::string sym = "SYM" + std::to_string(id % 10);
      if (id % 3 == 0) {
        auto d = make_delta(id);
        record_header h;
        std::memcpy(&h, d.data(), sizeof h);
        h.set_symbol(sym);
        std::memcpy(d.data(), &h, sizeof h);
        REQUIRE(w.write(static_cast<std::uint32_t>(record_type::book_delta), d));
      } else {
        publish(w, make_trade(venue::okx, sym, id));
      }
    }
  });
  std::uint64_t next = 3, bad = 0, got = 0;
  while (c.stats().records + c.stats().filtered < kRecords) {
    const poll_result r = c.poll();
    // release: this consumer is done with every frame before its position.
    consumed.store(c.stats().records + c.stats().filtered, std::memory_order_release);
    if (r.status == poll_status::empty) continue;
    if (r.status != poll_status::record || r.record.header().seq != next || r.record.header().symbol_view() != "SYM3") {
      ++bad;
      continue;
    }
    bool good = false;
    visit_record(r.record, overloaded{[&](const trade_record& t) { good = check_trade(t); },
                                      [&](const book_view& b) { good = check_delta(b); }, [](const auto&) {}});
    bad += good ? 0 : 1;
    next += 10;
    ++got;
  }
  writer.join();
  CHECK(bad == 0);
  CHECK(got == kRecords / 10);
  CHECK(c.stats().filtered == kRecords - kRecords / 10);
  CHECK(c.stats().laps == 0);
}

TEST_CASE("a filtering consumer still reports a malformed record the filter would have skipped") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096});
  auto t = make_trade(venue::binance, "ETHUSDT", 1);
  t.header.version = kRecordLayoutVersion + 1;  // a header not to be trusted with a filter decision
  publish(w, t);
  publish(w, make_trade(venue::binance, "ETHUSDT", 2));
  publish(w, make_trade(venue::binance, "BTCUSDT", 3));
  auto o = options_for(bus);
  o.filter.symbol("BTCUSDT");
  auto c = consumer::open(o);
  const auto bad = c.poll();
  CHECK(bad.status == poll_status::bad_record);
  CHECK(bad.error == record_status::bad_version);
  CHECK(c.poll().record.header().seq == 3);
  CHECK(c.stats().filtered == 1);
  CHECK(c.stats().bad_records == 1);
}

TEST_CASE("consumer that falls a ring behind is told once how many records and bytes it lost, then resumes") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {4096, 256});  // 128-byte trade frames: 32 per ring
  SUBCASE("resume at the oldest intact record") {
    auto c = consumer::open(options_for(bus));
    for (std::uint64_t i = 0; i < 100; ++i) publish(w, make_trade(venue::binance, "BTCUSDT", i));
    const auto lap = c.poll();
    REQUIRE(lap.status == poll_status::lapped);
    // 144-byte frames (16 header + 120 record, 16-aligned): 28 fit a 4096-byte ring.
    CHECK(lap.missed_frames >= 100 - 4096 / 144);
    CHECK(lap.missed_bytes >= lap.missed_frames * 144);
    std::uint64_t next = lap.missed_frames;
    for (poll_result r = c.poll(); r.status == poll_status::record; r = c.poll()) {
      CHECK(r.seq == next);
      CHECK(r.record.header().seq == next);
      ++next;
    }
    CHECK(next == 100);  // everything after the loss was delivered
    CHECK(c.stats().laps == 1);
    CHECK(c.stats().missed_frames == lap.missed_frames);
    CHECK(c.stats().records + c.stats().missed_frames == 100);
  }
  SUBCASE("resume at the newest record") {
    auto o = options_for(bus);
    o.on_lap = lap_policy::resume_newest;
    auto c = consumer::open(o);
    for (std::uint64_t i = 0; i < 100; ++i) publish(w, make_trade(venue::binance, "BTCUSDT", i));
    const auto lap = c.poll();
    REQUIRE(lap.status == poll_status::lapped);
    CHECK(lap.missed_frames == 100);
    CHECK(c.poll().status == poll_status::empty);
    publish(w, make_trade(venue::binance, "BTCUSDT", 100));
    CHECK(c.poll().record.header().seq == 100);
  }
}

TEST_CASE("a deliberately slow consumer under a live writer sees exact lap counts and never a torn record") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 14, 512});
  // Opened before the writer starts, so the consumer's first record is sequence 0.
  auto c = consumer::open(options_for(bus, start_position::oldest));
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> written{0};
  std::thread writer([&] {
    for (std::uint64_t id = 0; !stop.load(std::memory_order_relaxed); ++id) {
      bool ok = false;
      if (id % 3 == 0) {
        const auto d = make_delta(id);
        ok = w.write(static_cast<std::uint32_t>(record_type::book_delta), d);
      } else {
        const auto t = make_trade(venue::okx, "BTC-USDT", id);
        ok = w.write(static_cast<std::uint32_t>(record_type::trade), record_bytes(t));
      }
      if (!ok) break;
      written.store(id + 1, std::memory_order_relaxed);
    }
  });
  std::uint64_t next = 0, records = 0, laps = 0, bad = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while ((laps < 5 || records < 2000) && std::chrono::steady_clock::now() < deadline) {
    const poll_result r = c.poll();
    if (r.status == poll_status::lapped) {
      ++laps;
      next += r.missed_frames;
      continue;
    }
    if (r.status != poll_status::record) {
      if (r.status != poll_status::empty) ++bad;
      continue;
    }
    ++records;
    if (r.seq != next || r.record.header().seq != next) {
      ++bad;  // every frame accounted for
    }
    next = r.seq + 1;
    bool good = false;
    visit_record(r.record, overloaded{[&](const trade_record& t) { good = check_trade(t); },
                                      [&](const book_view& b) { good = check_delta(b); }, [](const auto&) {}});
    if (!good) ++bad;
    // Deliberately slow: ~20 µs of work per record, far slower than the writer.
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(20);
    while (std::chrono::steady_clock::now() < until) {
    }
  }
  stop = true;
  writer.join();
  CHECK(bad == 0);
  CHECK(laps >= 5);
  CHECK(records >= 2000);
  CHECK(c.stats().laps == laps);
  CHECK(c.stats().records + c.stats().missed_frames == next);
  MESSAGE("slow consumer: " << records << " records, " << laps << " laps, " << c.stats().missed_frames
                            << " frames missed of " << written.load());
}

TEST_CASE("consumer wait returns a record another thread publishes, and idles cheaply until its timeout") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096});
  auto c = consumer::open(options_for(bus, start_position::newest));
  for (const idle_mode mode : {idle_mode::busy_spin, idle_mode::yield, idle_mode::backoff, idle_mode::wait}) {
    CAPTURE(static_cast<int>(mode));
    std::atomic<bool> waiting{false};
    std::thread t([&] {
      while (!waiting.load()) std::this_thread::yield();
      // Long enough for a waiting consumer to be asleep on the doorbell, not still spinning.
      std::this_thread::sleep_for(std::chrono::milliseconds(mode == idle_mode::wait ? 5 : 0));
      publish(w, make_trade(venue::binance, "BTCUSDT", 42));
      w.notify();
    });
    waiting = true;
    const poll_result r = c.wait(20'000'000'000, idle_policy{mode, 100, 10, 100'000});
    t.join();
    REQUIRE(r.status == poll_status::record);
    CHECK(r.record.header().seq == 42);
  }
  CHECK(c.stats().sleeps >= 1);  // the wait-mode round slept on the doorbell, and was rung
  // Nothing comes: wait returns empty at the timeout; backoff spends little CPU doing it, wait
  // (the default) next to none: it sleeps in the kernel until the timeout.
  auto cpu_us = [](const rusage& u) {
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1'000'000LL + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
  };
  for (const idle_mode mode : {idle_mode::backoff, idle_mode::wait}) {
    CAPTURE(static_cast<int>(mode));
    idle_policy idle;
    idle.mode = mode;
    rusage before{}, after{};
    getrusage(RUSAGE_THREAD, &before);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(c.wait(300'000'000, idle).status == poll_status::empty);
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    getrusage(RUSAGE_THREAD, &after);
    CHECK(elapsed >= std::chrono::milliseconds(300));
    const auto used = cpu_us(after) - cpu_us(before);
    MESSAGE(std::string_view(mode == idle_mode::wait ? "wait" : "backoff") << " idle: " << used << " us of CPU in 300 ms");
    if (mode == idle_mode::backoff)
      CHECK(used < 100'000);  // < 1/3 of a core; a busy spin would use all of it
    else
      CHECK(used < 15'000);  // < 5 %: a few 100 ms sleeps, each after 5 µs of spinning
  }
  CHECK(c.wait(0).status == poll_status::empty);
}

TEST_CASE("waiting consumers on one ring: every one is woken for every burst, none waits out its timeout") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 20, 4096});
  constexpr int kConsumers = 3;
  constexpr std::uint64_t kBursts = 300;
  std::vector<consumer> cs;
  for (int i = 0; i < kConsumers; ++i) cs.push_back(consumer::open(options_for(bus, start_position::oldest)));
  std::atomic<int> done{0};
  std::vector<std::uint64_t> got(kConsumers, 0), timeouts(kConsumers, 0);
  std::vector<std::thread> readers;
  for (int i = 0; i < kConsumers; ++i)
    readers.emplace_back([&, i] {
      idle_policy idle;  // wait, 5 µs spin
      while (got[i] < kBursts * 4) {
        // 10 s: far longer than the test; a lost wake-up shows as a wait that times out.
        const poll_result r = cs[i].wait(10'000'000'000, idle);
        if (r.status == poll_status::record) ++got[i];
        else if (r.status == poll_status::empty) ++timeouts[i];
        else break;
      }
      done.fetch_add(1);
    });
  // Bursts of 4 with pauses long enough for the readers to fall asleep between most of them.
  for (std::uint64_t b = 0; b < kBursts; ++b) {
    for (std::uint64_t k = 0; k < 4; ++k) publish(w, make_trade(venue::binance, "BTCUSDT", b * 4 + k));
    w.notify();
    std::this_thread::sleep_for(std::chrono::microseconds(b % 3 == 0 ? 300 : 20));
  }
  for (auto& t : readers) t.join();
  for (int i = 0; i < kConsumers; ++i) {
    CAPTURE(i);
    CHECK(got[i] == kBursts * 4);
    CHECK(timeouts[i] == 0);
    CHECK(cs[i].stats().sleeps > 0);  // they did sleep (and were woken)
  }
}

TEST_CASE("consumer reports a frame that is not a valid record and carries on after it") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096});
  auto t = make_trade(venue::binance, "BTCUSDT", 1);
  t.header.version = kRecordLayoutVersion + 1;
  publish(w, t);
  publish(w, make_trade(venue::binance, "BTCUSDT", 2));
  auto c = consumer::open(options_for(bus));
  const auto bad = c.poll();
  CHECK(bad.status == poll_status::bad_record);
  CHECK(bad.error == record_status::bad_version);
  CHECK(c.poll().record.header().seq == 2);
  CHECK(c.stats().bad_records == 1);
}

TEST_CASE("consumer open names the problem: no such bus, version mismatch, permission denied, the map is read-only") {
  test::unique_bus bus;
  SUBCASE("no such bus") {
    consumer c;
    std::string reason;
    CHECK(consumer::try_open(options_for(bus), c, reason) == attach_status::await);
    CHECK(reason == "segment " + bus.segment("out") + ": does not exist (yet)");
    auto o = options_for(bus);
    o.open_wait_ms = 50;  // waits that long for a writer, then gives up with the same line
    CHECK_THROWS_WITH_AS(consumer::open(o), ("segment " + bus.segment("out") + ": does not exist (yet)").c_str(),
                         segment_error);
    o.bus = "bad name";
    CHECK(consumer::try_open(o, c, reason) == attach_status::incompatible);
    CHECK(reason.find("bad name") != std::string::npos);
  }
  SUBCASE("version mismatch") {
    auto w = broadcast_ring_writer::create(bus.segment("out"), {4096, 256});
    reinterpret_cast<segment_header*>(w.segment().base())->layout_version.store(kLayoutVersion + 1);
    CHECK_THROWS_WITH_AS(consumer::open(options_for(bus)),
                         doctest::Contains(("layout version " + std::to_string(kLayoutVersion + 1)).c_str()), segment_error);
  }
  SUBCASE("permission denied, from a process without access") {
    auto w = broadcast_ring_writer::create(bus.segment("out"), {4096, 256});
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      // root ignores file modes: become 'nobody' (the segment is 0600, owned by us).
      if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
      if (geteuid() != 0) chmod(("/dev/shm/" + bus.segment("out")).c_str(), 0);
      std::string msg = "opened";
      try {
        (void)consumer::open(options_for(bus));
      } catch (const segment_error& e) {
        msg = e.what();
      }
      (void)!write(fds[1], msg.data(), msg.size());
      _exit(0);
    }
    close(fds[1]);
    std::string msg;
    char buf[512];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<std::size_t>(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(msg.find("Permission denied") != std::string::npos);
    CHECK(msg.find(bus.segment("out")) != std::string::npos);
  }
  SUBCASE("the ring is mapped read-only") {
    auto w = broadcast_ring_writer::create(bus.segment("out"), {4096, 256});
    auto c = consumer::open(options_for(bus));
    CHECK(c.segment().name() == bus.segment("out"));
    CHECK(c.geometry().capacity == 4096);
    CHECK_FALSE(c.segment().writable());
  }
}

TEST_CASE("hijack: a consumer refuses a well-formed ring another user made under its bus name, unless MDBUS_BUS_UID trusts it") {
  test::require_root_or_skip("a ring of another user");
  test::unique_bus bus;
  REQUIRE(test::run_as_impostor([&] {
            try {
              auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096}, 0644);
              return 0;
            } catch (const segment_error&) {
              return 1;
            }
          }) == 0);
  consumer_options o;
  o.bus = bus.name();
  o.register_reader = false;
  {
    test::scoped_env own(kBusUidVariable, std::nullopt);
    CHECK_THROWS_WITH_AS(consumer::open(o), ("segment " + bus.segment("out") + ": owned by uid 65534, expected uid 0, refused").c_str(),
                         segment_error);
  }
  test::scoped_env trust(kBusUidVariable, "65534");
  consumer c = consumer::open(o);
  CHECK(c.poll().status == poll_status::empty);
}
