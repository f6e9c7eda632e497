// The header-only book builder: snapshots in parts, deltas by each venue's continuity rule,
// gap records and laps, and the OKX checksum on the real OKX capture in bench/data.
#include "mdbus/order_book.hpp"

#include "feeders/venue_adapter.hpp"
#include "mdbus/okx_checksum.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

using namespace mdbus;

namespace {

decimal dec(std::string_view text) {
  decimal d{};
  REQUIRE(parse_decimal(text, d) == parse_status::ok);
  return d;
}

struct lv {
  book_side side;
  const char* px;
  const char* qty;
};

/// A book record's bytes and a view of them.
struct record_buf {
  std::vector<std::byte> bytes;
  [[nodiscard]] record_view view() const {
    record_view v;
    REQUIRE(record_view::parse(bytes, v) == record_status::ok);
    return v;
  }
  [[nodiscard]] book_view book() const { return *view().book(); }
};

record_buf make_book(record_type t, venue v, channel ch, std::string_view symbol, std::initializer_list<lv> levels,
                     std::uint8_t flags = 0) {
  auto f = make_book_record(t);
  f.header.venue_id = v;
  f.header.channel_id = ch;
  f.header.flags = flags;
  f.header.set_symbol(symbol);
  std::vector<book_level> ls;
  for (const auto& l : levels) ls.push_back(make_level(l.side, dec(l.px), dec(l.qty)));
  record_buf b;
  b.bytes.resize(book_record_size(ls.size()));
  REQUIRE(write_book_record(b.bytes, f, ls) == b.bytes.size());
  return b;
}

/// Binance: snapshot with lastUpdateId, delta with U..u.
record_buf binance_snapshot(std::uint64_t last_update_id, std::initializer_list<lv> levels) {
  auto b = make_book(record_type::book_snapshot, venue::binance, channel::binance_depth, "BTCUSDT", levels, kHeaderHasSeq);
  auto* f = reinterpret_cast<book_record*>(b.bytes.data());
  f->header.seq = last_update_id;
  return b;
}
record_buf binance_delta(std::uint64_t first, std::uint64_t last, std::initializer_list<lv> levels) {
  auto b = make_book(record_type::book_delta, venue::binance, channel::binance_depth, "BTCUSDT", levels,
                     kHeaderHasSeq | kHeaderHasFirstSeq);
  auto* f = reinterpret_cast<book_record*>(b.bytes.data());
  f->header.first_seq = first;
  f->header.seq = last;
  return b;
}
/// OKX: seqId with prevSeqId (-1 on snapshots).
record_buf okx_book(record_type t, std::int64_t prev, std::uint64_t seq, std::initializer_list<lv> levels) {
  auto b = make_book(t, venue::okx, channel::okx_books, "BTC-USDT", levels, kHeaderHasSeq | kHeaderHasPrevSeq);
  auto* f = reinterpret_cast<book_record*>(b.bytes.data());
  f->header.seq = seq;
  f->header.prev_seq = prev;
  return b;
}

constexpr auto bid = book_side::bid;
constexpr auto ask = book_side::ask;

std::string side_text(const order_book& b, book_side s) {
  std::string out;
  b.for_each_level(s, 100, [&](const price_level& l) { out += to_string(l.px) + "x" + to_string(l.qty) + " "; });
  return out;
}

}  // namespace

TEST_CASE("order book applies a snapshot, then deltas that set, replace and delete levels, best first") {
  order_book b;
  CHECK(b.state() == book_state::empty);
  CHECK(b.apply(binance_snapshot(100, {{bid, "99.5", "1"}, {bid, "100.0", "2"}, {ask, "101.0", "3"}, {ask, "100.5", "4"}}).book()) ==
        book_event::applied);
  CHECK(b.valid());
  CHECK(b.last_seq() == 100);
  CHECK(side_text(b, bid) == "100.0x2 99.5x1 ");
  CHECK(side_text(b, ask) == "100.5x4 101.0x3 ");
  CHECK(b.apply(binance_delta(101, 103, {{bid, "100.0", "0"}, {bid, "99.8", "5"}, {ask, "100.5", "7"}}).book()) ==
        book_event::applied);
  CHECK(side_text(b, bid) == "99.8x5 99.5x1 ");
  CHECK(side_text(b, ask) == "100.5x7 101.0x3 ");
  CHECK(b.best(bid)->px == dec("99.8"));
  CHECK(b.level(ask, 1).qty == dec("3"));
  CHECK(b.level(ask, 2).qty == decimal{});
  CHECK(b.depth(bid) == 2);
  CHECK(b.qty_at(ask, dec("101")) == dec("3"));  // exact comparison across scales
  CHECK_FALSE(b.qty_at(ask, dec("102")).has_value());
  CHECK(b.last_seq() == 103);
  CHECK(b.stats().deltas == 1);
}

TEST_CASE("order book follows Binance's U/u rule: stale deltas skipped, a hole invalidates until the next snapshot") {
  order_book b;
  CHECK(b.apply(binance_delta(1, 5, {{bid, "1", "1"}}).book()) == book_event::not_ready);  // no snapshot yet
  REQUIRE(b.apply(binance_snapshot(100, {{bid, "10", "1"}, {ask, "11", "1"}}).book()) == book_event::applied);
  CHECK(b.apply(binance_delta(90, 100, {{bid, "10", "9"}}).book()) == book_event::stale);  // u <= lastUpdateId
  CHECK(b.apply(binance_delta(95, 104, {{bid, "10", "2"}}).book()) == book_event::applied);  // U <= 101 <= u
  CHECK(b.apply(binance_delta(105, 105, {{bid, "10", "3"}}).book()) == book_event::applied);
  CHECK(b.qty_at(bid, dec("10")) == dec("3"));
  CHECK(b.apply(binance_delta(107, 110, {{bid, "10", "4"}}).book()) == book_event::sequence_break);  // 106 missing
  CHECK(b.state() == book_state::invalid);
  CHECK(b.why_invalid() == invalid_reason::sequence_break);
  CHECK(b.apply(binance_delta(111, 111, {{bid, "10", "5"}}).book()) == book_event::not_ready);
  CHECK(b.qty_at(bid, dec("10")) == dec("3"));  // nothing applied while invalid
  CHECK(b.apply(binance_snapshot(111, {{bid, "10", "5"}}).book()) == book_event::applied);
  CHECK(b.valid());
  CHECK(b.apply(binance_delta(112, 112, {{ask, "12", "1"}}).book()) == book_event::applied);
  CHECK(b.stats().sequence_breaks == 1);
  CHECK(b.stats().dropped_not_ready == 2);
}

TEST_CASE("order book follows OKX's seqId/prevSeqId rule: chain, heartbeat, join after a REST snapshot, reset") {
  order_book b;
  REQUIRE(b.apply(okx_book(record_type::book_snapshot, -1, 1000, {{bid, "10", "1"}, {ask, "11", "1"}}).book()) ==
          book_event::applied);
  CHECK(b.apply(okx_book(record_type::book_delta, 1000, 1000, {}).book()) == book_event::stale);  // heartbeat before any update
  CHECK(b.apply(okx_book(record_type::book_delta, 1000, 1003, {{bid, "10", "2"}}).book()) == book_event::applied);
  CHECK(b.apply(okx_book(record_type::book_delta, 1003, 1003, {}).book()) == book_event::applied);  // heartbeat
  CHECK(b.apply(okx_book(record_type::book_delta, 1000, 1003, {{bid, "10", "9"}}).book()) == book_event::stale);  // duplicate
  CHECK(b.apply(okx_book(record_type::book_delta, 1003, 7, {{bid, "10", "4"}}).book()) == book_event::applied);  // reset
  CHECK(b.last_seq() == 7);
  CHECK(b.apply(okx_book(record_type::book_delta, 9, 12, {{bid, "10", "5"}}).book()) == book_event::sequence_break);
  CHECK(b.why_invalid() == invalid_reason::sequence_break);
  CHECK(b.qty_at(bid, dec("10")) == dec("4"));

  // A REST snapshot (no prevSeqId chain of its own) joins at the first update with
  // prevSeqId <= snapshot seqId < seqId; older updates are stale.
  auto rest = okx_book(record_type::book_snapshot, -1, 2000, {{bid, "10", "6"}, {ask, "11", "1"}});
  REQUIRE(b.apply(rest.book()) == book_event::applied);
  CHECK(b.apply(okx_book(record_type::book_delta, 1995, 1998, {{bid, "10", "0"}}).book()) == book_event::stale);
  CHECK(b.apply(okx_book(record_type::book_delta, 1998, 2004, {{bid, "10", "7"}}).book()) == book_event::applied);
  CHECK(b.apply(okx_book(record_type::book_delta, 2004, 2005, {{ask, "11", "0"}}).book()) == book_event::applied);
  CHECK(b.depth(ask) == 0);
  CHECK(b.qty_at(bid, dec("10")) == dec("7"));
}

TEST_CASE("order book rebuilds a snapshot only from all of its parts, in order") {
  auto part = [](std::uint16_t index, std::uint8_t flags, std::initializer_list<lv> levels, std::uint64_t seq = 50) {
    auto r = binance_snapshot(seq, levels);
    auto* f = reinterpret_cast<book_record*>(r.bytes.data());
    f->part_index = index;
    f->book_flags = flags;
    return r;
  };
  order_book b;
  CHECK(b.apply(part(0, kBookFirstPart, {{bid, "10", "1"}}).book()) == book_event::snapshot_part);
  CHECK(b.state() == book_state::empty);  // nothing visible until the last part
  CHECK(b.apply(part(1, 0, {{bid, "9", "1"}, {ask, "12", "1"}}).book()) == book_event::snapshot_part);
  CHECK(b.apply(part(2, kBookLastPart, {{ask, "11", "2"}, {bid, "10", "3"}}).book()) == book_event::applied);
  CHECK(side_text(b, bid) == "10x3 9x1 ");  // a price listed twice keeps its last entry
  CHECK(side_text(b, ask) == "11x2 12x1 ");

  SUBCASE("a missing middle part (a lapped read) leaves the book invalid") {
    CHECK(b.apply(part(0, kBookFirstPart, {{bid, "10", "1"}}, 60).book()) == book_event::snapshot_part);
    CHECK(b.apply(part(2, kBookLastPart, {{ask, "11", "1"}}, 60).book()) == book_event::snapshot_incomplete);
    CHECK(b.why_invalid() == invalid_reason::snapshot_incomplete);
  }
  SUBCASE("a part without its first part is refused") {
    CHECK(b.apply(part(1, kBookLastPart, {{ask, "11", "1"}}, 60).book()) == book_event::snapshot_incomplete);
  }
  SUBCASE("parts of two different snapshots do not mix") {
    CHECK(b.apply(part(0, kBookFirstPart, {{bid, "10", "1"}}, 60).book()) == book_event::snapshot_part);
    CHECK(b.apply(part(1, kBookLastPart, {{ask, "11", "1"}}, 61).book()) == book_event::snapshot_incomplete);
  }
}

TEST_CASE("okx checksum: CRC-32 as zlib computes it, over the top 25 levels interleaved with the venue's text") {
  CHECK(crc32("123456789") == 0xCBF43926U);  // zlib's check value
  CHECK(okx_crc32("123456789") == static_cast<std::int32_t>(0xCBF43926U));
  // One side longer than the other: its remaining levels follow alone; only the top 25 count.
  std::vector<std::pair<std::string, std::string>> bids{{"8476.97", "256"}, {"8475.55", "101"}}, asks{{"8476.98", "415"}};
  for (int i = 0; i < 30; ++i) asks.emplace_back(std::to_string(8500 + i), "1");
  okx_checksum_builder<std::string> text;
  okx_checksum_builder<crc32_state> hash;
  okx_checksum_walk(bids.size(), asks.size(), [&](bool is_bid, std::size_t i) {
    const auto& l = is_bid ? bids[i] : asks[i];
    text.add(l.first, l.second);
    hash.add(dec(l.first), dec(l.second));  // decimals give the venue's text back
  });
  CHECK(text.out().rfind("8476.97:256:8476.98:415:8475.55:101:8500:1:8501:1:", 0) == 0);
  CHECK(text.out().find("8523:1") != std::string::npos);  // ask 24, the 25th level
  CHECK(text.out().find("8524:1") == std::string::npos);
  CHECK(hash.value() == okx_crc32(text.out()));
  order_book b;
  REQUIRE(b.apply(okx_book(record_type::book_snapshot, -1, 1,
                           {{bid, "8476.97", "256"}, {bid, "8475.55", "101"}, {ask, "8476.98", "415"}})
                      .book()) == book_event::applied);
  CHECK(b.okx_checksum() == okx_crc32("8476.97:256:8476.98:415:8475.55:101"));
}

TEST_CASE("order book verifies every OKX checksum of the recorded capture and catches a wrong one") {
  feed::adapter_options o;
  o.slot = slot_id::a;
  auto adapter = feed::make_adapter(venue::okx, o);
  REQUIRE(adapter != nullptr);
  struct sink final : feed::record_sink {
    std::vector<std::vector<std::byte>> frames;
    std::vector<std::byte> pending;
    std::span<std::byte> claim(std::size_t n) noexcept override {
      pending.assign(n, std::byte{0});
      return pending;
    }
    void commit(record_type, std::size_t used) noexcept override {
      frames.emplace_back(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
    }
  } s;
  std::ifstream in(std::string(MDBUS_BENCH_DATA) + "/okx_v5.jsonl");
  REQUIRE(in.good());
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const simdjson::padded_string msg(line);
    (void)adapter->parse(msg, 1, s);
  }
  book_set books;
  std::size_t applied = 0;
  for (const auto& f : s.frames) {
    record_view v;
    REQUIRE(record_view::parse(f, v) == record_status::ok);
    const book_event e = books.apply(v);
    if (e == book_event::applied) ++applied;
    CHECK(e != book_event::checksum_mismatch);
    CHECK(e != book_event::sequence_break);
  }
  std::uint64_t verified = 0;
  books.for_each([&](channel, std::string_view, const order_book& b) {
    verified += b.stats().checksums_verified;
    CHECK(b.stats().checksum_failures == 0);
    CHECK(b.valid());
  });
  CHECK(verified == 290);  // every checksum in the capture (okx_adapter_test counts the same)

  // The last OKX books record again, with one quantity changed: the checksum no longer holds.
  for (auto it = s.frames.rbegin(); it != s.frames.rend(); ++it) {
    record_view v;
    REQUIRE(record_view::parse(*it, v) == record_status::ok);
    if (v.header().channel_id != channel::okx_books || !v.book()->is_snapshot()) continue;
    auto bytes = *it;
    book_level l;
    std::memcpy(&l, bytes.data() + sizeof(book_record), sizeof l);
    l.qty_mantissa += 1;
    std::memcpy(bytes.data() + sizeof(book_record), &l, sizeof l);
    record_view bad;
    REQUIRE(record_view::parse(bytes, bad) == record_status::ok);
    order_book* touched = nullptr;
    CHECK(books.apply(bad, &touched) == book_event::checksum_mismatch);
    REQUIRE(touched != nullptr);
    CHECK(touched->why_invalid() == invalid_reason::checksum_mismatch);
    break;
  }
}

TEST_CASE("book set keeps one book per channel and symbol, gap records and laps invalidate the right ones") {
  book_set books;
  const auto btc = binance_snapshot(10, {{bid, "1", "1"}});
  auto eth = binance_snapshot(20, {{bid, "2", "1"}});
  reinterpret_cast<book_record*>(eth.bytes.data())->header.set_symbol("ETHUSDT");
  const auto okx = okx_book(record_type::book_snapshot, -1, 5, {{ask, "3", "1"}});
  const record_buf* all[] = {&btc, &eth, &okx};
  for (const auto* r : all) CHECK(books.apply(r->view()) == book_event::applied);
  CHECK(books.size() == 3);
  REQUIRE(books.find(channel::binance_depth, "ETHUSDT") != nullptr);
  CHECK(books.find(channel::binance_depth, "ETHUSDT")->last_seq() == 20);
  CHECK(books.find(channel::binance_trade, "ETHUSDT") == nullptr);

  auto gap = make_record<gap_record>();
  gap.header.venue_id = venue::binance;
  gap.header.channel_id = channel::binance_depth;
  gap.header.set_symbol("ETHUSDT");
  record_view gv;
  REQUIRE(record_view::parse(record_bytes(gap), gv) == record_status::ok);
  CHECK(books.apply(gv) == book_event::invalidated);
  CHECK(books.find(channel::binance_depth, "ETHUSDT")->why_invalid() == invalid_reason::gap_record);
  CHECK(books.find(channel::binance_depth, "BTCUSDT")->valid());

  gap.header.channel_id = channel::binance_trade;  // a trade-stream gap leaves books alone
  gap.header.set_symbol("BTCUSDT");
  REQUIRE(record_view::parse(record_bytes(gap), gv) == record_status::ok);
  CHECK(books.apply(gv) == book_event::ignored);

  gap.header.venue_id = venue::okx;  // no channel, no symbol: every book of the venue
  gap.header.channel_id = channel::unknown;
  gap.header.set_symbol("");
  REQUIRE(record_view::parse(record_bytes(gap), gv) == record_status::ok);
  CHECK(books.apply(gv) == book_event::invalidated);
  CHECK_FALSE(books.find(channel::okx_books, "BTC-USDT")->valid());
  CHECK(books.find(channel::binance_depth, "BTCUSDT")->valid());

  gap.header.venue_id = venue::unknown;  // loss of unknown scope: every book
  REQUIRE(record_view::parse(record_bytes(gap), gv) == record_status::ok);
  CHECK(books.apply(gv) == book_event::invalidated);
  CHECK_FALSE(books.find(channel::binance_depth, "BTCUSDT")->valid());
  CHECK(books.find(channel::binance_depth, "BTCUSDT")->why_invalid() == invalid_reason::gap_record);

  auto trade = make_record<trade_record>();
  record_view tv;
  REQUIRE(record_view::parse(record_bytes(trade), tv) == record_status::ok);
  CHECK(books.apply(tv) == book_event::ignored);

  REQUIRE(books.apply(btc.view()) == book_event::applied);  // a snapshot makes it whole again
  CHECK(books.find(channel::binance_depth, "BTCUSDT")->valid());
  books.on_lap();
  books.for_each([](channel, std::string_view, const order_book& b) { CHECK_FALSE(b.valid()); });
  CHECK(books.find(channel::binance_depth, "BTCUSDT")->why_invalid() == invalid_reason::lapped);
}
