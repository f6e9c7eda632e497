#include "mdbus/records.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

using namespace mdbus;

namespace {

decimal dec(std::string_view text) {
  decimal d{};
  REQUIRE(parse_decimal(text, d) == parse_status::ok);
  return d;
}

std::vector<std::byte> copy_of(std::span<const std::byte> b) { return {b.begin(), b.end()}; }

template <class T>
void poke(std::vector<std::byte>& buf, std::size_t offset, T value) {
  std::memcpy(buf.data() + offset, &value, sizeof(T));
}

record_status parse(std::span<const std::byte> b) {
  record_view v;
  return record_view::parse(b, v);
}

trade_record sample_trade() {
  auto t = make_record<trade_record>();
  t.header.venue_id = venue::binance;
  t.header.channel_id = channel::binance_agg_trade;
  t.header.slot = slot_id::a;
  t.header.flags = kHeaderHasSeq | kHeaderHasFirstSeq;
  REQUIRE(t.header.set_symbol("BTCUSDT"));
  t.header.seq = 42;
  t.header.first_seq = 100;
  t.header.venue_time_ns = 1'700'000'000'000'000'000;
  t.header.receive_time_ns = 1'700'000'000'000'100'000;
  t.header.publish_time_ns = 1'700'000'000'000'200'000;
  t.set_px(dec("65432.10"));
  t.set_qty(dec("0.00100000"));
  t.first_trade_id = 100;
  t.last_trade_id = 102;
  t.trade_count = 3;
  t.aggressor = aggressor_side::sell;
  return t;
}

std::vector<book_level> sample_levels(std::size_t n) {
  std::vector<book_level> levels;
  for (std::size_t i = 0; i < n; ++i) {
    const bool bid = i % 2 == 0;
    const auto step = static_cast<std::int64_t>(i / 2);
    levels.push_back(make_level(bid ? book_side::bid : book_side::ask,
                                decimal{bid ? 6543200 - step : 6543201 + step, -2},
                                decimal{static_cast<std::int64_t>(i) * 1000 + 1, -8}));
  }
  return levels;
}

std::vector<std::byte> book_bytes(record_type t, std::span<const book_level> levels) {
  auto fixed = make_book_record(t);
  fixed.header.venue_id = venue::okx;
  fixed.header.channel_id = channel::okx_books;
  fixed.header.set_symbol("BTC-USDT");
  fixed.header.flags = kHeaderHasSeq | kHeaderHasPrevSeq;
  fixed.header.seq = 9001;
  fixed.header.prev_seq = 9000;
  fixed.checksum = -123456789;
  fixed.book_flags |= kBookChecksumPresent;
  std::vector<std::byte> buf(book_record_size(levels.size()));
  REQUIRE(write_book_record(buf, fixed, levels) == buf.size());
  return buf;
}

bool same_level(const book_level& a, const book_level& b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

/// Everything a reader may do with a validated record, so fuzzed records exercise it all.
void touch_everything(const record_view& v) {
  REQUIRE(v.bytes().size() == v.header().size);
  if (auto b = v.book()) {
    REQUIRE(book_record_size(b->level_count()) == v.header().size);
    for (std::size_t i = 0; i <= b->level_count(); ++i) (void)b->level(i);
  }
  (void)v.header().symbol_view();
  CHECK_FALSE(format_record(v).empty());
}

}  // namespace

TEST_CASE("records: layout constants: sizes every process relies on") {
  CHECK(sizeof(record_header) == 80);
  CHECK(sizeof(book_level) == 24);
  CHECK(sizeof(trade_record) == 120);
  CHECK(sizeof(bbo_record) == 128);
  CHECK(sizeof(book_record) == 96);
  CHECK(sizeof(gap_record) == 112);
  CHECK(sizeof(slot_status_record) == 136);
  CHECK(sizeof(mark_funding_record) == 128);
  CHECK(fixed_record_size(record_type::mark_funding) == 128);
  CHECK(kLastRecordType == record_type::instrument);
  CHECK(sizeof(instrument_record) == 128);
  CHECK(kMaxBookLevelsPerRecord == 2726);
  CHECK(book_record_size(kMaxBookLevelsPerRecord) == 65520);
  CHECK(book_levels_per_record(95) == 0);
  CHECK(book_levels_per_record(96 + 24 * 10 + 23) == 10);
  CHECK(book_levels_per_record(std::size_t{1} << 20) == kMaxBookLevelsPerRecord);
  CHECK(fixed_record_size(record_type::book_delta) == 0);
  CHECK(fixed_record_size(static_cast<record_type>(0)) == 0);
}

TEST_CASE("records: make_record fills size, version and type and zeroes every other byte") {
  const auto g = make_record<gap_record>();
  CHECK(g.header.size == sizeof(gap_record));
  CHECK(g.header.version == kRecordLayoutVersion);
  CHECK(g.header.type == record_type::gap);
  CHECK(g.header.slot == slot_id::none);
  const auto bytes = record_bytes(g);
  CHECK(std::count(bytes.begin() + 8, bytes.end(), std::byte{0}) == static_cast<long>(bytes.size() - 8));
  const auto b = make_book_record(record_type::book_snapshot);
  CHECK(b.header.size == sizeof(book_record));
  CHECK(b.book_flags == (kBookFirstPart | kBookLastPart));
}

TEST_CASE("records: symbol: NUL-padded, 24 characters fit exactly, longer names are cut and flagged") {
  auto h = make_record<trade_record>().header;
  CHECK(h.set_symbol("BTCUSDT"));
  CHECK(h.symbol_view() == "BTCUSDT");
  CHECK((h.flags & kHeaderSymbolTruncated) == 0);

  const std::string exact(24, 'X');
  CHECK(h.set_symbol(exact));
  CHECK(h.symbol_view() == exact);

  CHECK_FALSE(h.set_symbol("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
  CHECK(h.symbol_view() == "ABCDEFGHIJKLMNOPQRSTUVWX");
  CHECK((h.flags & kHeaderSymbolTruncated) != 0);

  // A shorter name clears the flag and leaves no trace of the long one.
  CHECK(h.set_symbol("BTC-USDT-SWAP"));
  CHECK(h.symbol_view() == "BTC-USDT-SWAP");
  CHECK((h.flags & kHeaderSymbolTruncated) == 0);
  CHECK(std::all_of(h.symbol + 13, h.symbol + kSymbolCapacity, [](char c) { return c == 0; }));

  CHECK_FALSE(h.set_symbol(std::string_view("BTC\0USDT", 8)));  // would read back as "BTC"
  CHECK(h.set_symbol(""));
  CHECK(h.symbol_view().empty());
  CHECK_FALSE(h.set_symbol(std::string(30, 'Z')));
  CHECK(h.set_symbol(std::string_view{}));  // null data(): must not reach memcpy
  CHECK(h.symbol_view().empty());
  CHECK((h.flags & kHeaderSymbolTruncated) == 0);

  // Corrupt bytes with no NUL: the view stops at the array's end.
  std::memset(h.symbol, 'Q', kSymbolCapacity);
  CHECK(h.symbol_view() == std::string(24, 'Q'));
}

TEST_CASE("records: a trade survives the trip through bytes, at any alignment") {
  const trade_record t = sample_trade();
  for (std::size_t offset : {0, 1, 3, 8}) {
    std::vector<std::byte> buf(offset);
    const auto bytes = record_bytes(t);
    buf.insert(buf.end(), bytes.begin(), bytes.end());
    record_view v;
    REQUIRE(record_view::parse(std::span<const std::byte>(buf).subspan(offset), v) == record_status::ok);
    CHECK(v.type() == record_type::trade);
    CHECK(v.header().symbol_view() == "BTCUSDT");
    const auto got = v.trade();
    REQUIRE(got.has_value());
    CHECK(std::memcmp(&*got, &t, sizeof(t)) == 0);
    CHECK(got->px() == dec("65432.1"));
    CHECK(same_representation(got->qty(), decimal{100000, -8}));
    CHECK_FALSE(v.bbo().has_value());
    CHECK_FALSE(v.gap().has_value());
    CHECK_FALSE(v.slot_status().has_value());
    CHECK_FALSE(v.book().has_value());
  }
}

TEST_CASE("records: bbo, gap and slot status records round-trip") {
  auto b = make_record<bbo_record>();
  b.header.seq = 7;
  b.bid = make_level(book_side::bid, dec("100.5"), dec("2"));
  b.ask = make_level(book_side::ask, dec("100.6"), dec("0"));
  record_view v;
  REQUIRE(record_view::parse(record_bytes(b), v) == record_status::ok);
  REQUIRE(v.bbo().has_value());
  CHECK(same_level(v.bbo()->bid, b.bid));
  CHECK(same_level(v.bbo()->ask, b.ask));

  auto g = make_record<gap_record>();
  g.last_seq_held = 10;
  g.first_seq_after = 15;
  g.held_ns = 5'000'000;
  g.reason = gap_reason::hole_timeout;
  REQUIRE(record_view::parse(record_bytes(g), v) == record_status::ok);
  REQUIRE(v.gap().has_value());
  CHECK(v.gap()->first_seq_after == 15);
  CHECK(v.gap()->reason == gap_reason::hole_timeout);

  auto s = make_record<slot_status_record>();
  s.header.venue_id = venue::okx;
  s.header.slot = slot_id::b;
  s.state = slot_state::rotating;
  s.reason = slot_reason::venue_notice;
  s.connection_epoch = 3;
  CHECK(s.set_reason_text("notice 64008"));
  REQUIRE(record_view::parse(record_bytes(s), v) == record_status::ok);
  REQUIRE(v.slot_status().has_value());
  CHECK(v.slot_status()->reason_text_view() == "notice 64008");
  CHECK(v.slot_status()->state == slot_state::rotating);

  CHECK_FALSE(s.set_reason_text(std::string(60, 'r')));
  CHECK(s.reason_text_view() == std::string(48, 'r'));
  CHECK(s.set_reason_text(std::string_view{}));
  CHECK(s.reason_text_view().empty());
}

TEST_CASE("records: a book record carries its levels and an out-of-range index reads nothing") {
  const auto levels = sample_levels(5);
  const auto buf = book_bytes(record_type::book_delta, levels);
  record_view v;
  REQUIRE(record_view::parse(buf, v) == record_status::ok);
  const auto book = v.book();
  REQUIRE(book.has_value());
  CHECK_FALSE(book->is_snapshot());
  CHECK(book->first_part());
  CHECK(book->last_part());
  CHECK(book->checksum() == -123456789);
  REQUIRE(book->level_count() == 5);
  for (std::size_t i = 0; i < 5; ++i) CHECK(same_level(book->level(i), levels[i]));
  CHECK(book->level(5).side == book_side::unknown);
  CHECK(book->level(static_cast<std::size_t>(-1)).qty_mantissa == 0);
  CHECK_FALSE(v.trade().has_value());
}

TEST_CASE("records: write_book_record refuses what cannot be a valid record") {
  const auto fixed = make_book_record(record_type::book_snapshot);
  const auto too_many = sample_levels(kMaxBookLevelsPerRecord + 1);
  std::vector<std::byte> big(book_record_size(too_many.size()));
  CHECK(write_book_record(big, fixed, too_many) == 0);

  const auto levels = sample_levels(3);
  std::vector<std::byte> small(book_record_size(3) - 1);
  CHECK(write_book_record(small, fixed, levels) == 0);

  auto not_a_book = fixed;
  not_a_book.header.type = record_type::trade;
  CHECK(write_book_record(big, not_a_book, levels) == 0);

  CHECK(write_book_record(big, fixed, {}) == sizeof(book_record));
  record_view v;
  REQUIRE(record_view::parse(std::span<const std::byte>(big).first(sizeof(book_record)), v) == record_status::ok);
  CHECK(v.book()->level_count() == 0);
}

TEST_CASE("records: the largest book record is valid and at most 64 KiB") {
  const auto levels = sample_levels(kMaxBookLevelsPerRecord);
  const auto buf = book_bytes(record_type::book_snapshot, levels);
  CHECK(buf.size() <= 65536);
  record_view v;
  REQUIRE(record_view::parse(buf, v) == record_status::ok);
  CHECK(v.book()->level_count() == kMaxBookLevelsPerRecord);
  CHECK(same_level(v.book()->level(kMaxBookLevelsPerRecord - 1), levels.back()));
}

TEST_CASE("records: a 5000-level-a-side snapshot splits into parts that fit a frame and rebuild exactly") {
  const auto levels = sample_levels(10000);
  const std::size_t per = book_levels_per_record(16384);
  REQUIRE(per == 678);
  const std::size_t parts = (levels.size() + per - 1) / per;
  std::vector<book_level> rebuilt;
  for (std::size_t p = 0; p < parts; ++p) {
    auto fixed = make_book_record(record_type::book_snapshot);
    fixed.part_index = static_cast<std::uint16_t>(p);
    fixed.book_flags = static_cast<std::uint8_t>((p == 0 ? kBookFirstPart : 0) | (p + 1 == parts ? kBookLastPart : 0));
    const auto chunk = std::span(levels).subspan(p * per, std::min(per, levels.size() - p * per));
    std::vector<std::byte> frame(16384);
    const std::size_t n = write_book_record(frame, fixed, chunk);
    REQUIRE(n > 0);
    REQUIRE(n <= 16384);
    record_view v;
    REQUIRE(record_view::parse(std::span<const std::byte>(frame).first(n), v) == record_status::ok);
    const auto book = v.book();
    REQUIRE(book.has_value());
    CHECK(book->is_snapshot());
    CHECK(book->fixed().part_index == p);
    CHECK(book->first_part() == (p == 0));
    CHECK(book->last_part() == (p + 1 == parts));
    for (std::size_t i = 0; i < book->level_count(); ++i) rebuilt.push_back(book->level(i));
  }
  REQUIRE(rebuilt.size() == levels.size());
  for (std::size_t i = 0; i < levels.size(); ++i) REQUIRE(same_level(rebuilt[i], levels[i]));
}

TEST_CASE("records: record_view refuses short, truncated, mislabelled and mis-sized buffers") {
  const trade_record t = sample_trade();
  const auto good = copy_of(record_bytes(t));

  CHECK(parse({}) == record_status::too_short);
  CHECK(parse(std::span(good).first(79)) == record_status::too_short);
  for (std::size_t n = 80; n < good.size(); ++n) CHECK(parse(std::span(good).first(n)) == record_status::truncated);

  // Trailing bytes after the record (an oversized frame) are ignored.
  auto longer = good;
  longer.resize(good.size() + 40, std::byte{0xAB});
  record_view v;
  REQUIRE(record_view::parse(longer, v) == record_status::ok);
  CHECK(v.bytes().size() == sizeof(trade_record));

  for (std::uint8_t version : {0, 2, 255}) {
    auto b = good;
    poke<std::uint8_t>(b, 2, version);
    CHECK(parse(b) == record_status::bad_version);
  }
  for (std::uint8_t type : {0, 9, 255}) {
    auto b = good;
    poke<std::uint8_t>(b, 3, type);
    CHECK(parse(b) == record_status::unknown_type);
  }
  // A trade labelled as another fixed type has the wrong size for it.
  for (auto type : {record_type::bbo, record_type::gap, record_type::slot_status, record_type::mark_funding, record_type::instrument}) {
    auto b = good;
    poke(b, 3, type);
    CHECK(parse(b) == record_status::bad_size);
  }
  {
    auto b = longer;
    poke<std::uint16_t>(b, 0, 140);  // fits the buffer, not the type
    CHECK(parse(b) == record_status::bad_size);
    poke<std::uint16_t>(b, 0, 8);  // smaller than a header
    CHECK(parse(b) == record_status::bad_size);
    poke<std::uint16_t>(b, 0, 65535);
    CHECK(parse(b) == record_status::truncated);
  }
  // A trade relabelled as a book: 120 bytes are a book with one level only if the count says so.
  {
    auto b = good;
    poke(b, 3, record_type::book_delta);
    poke<std::uint16_t>(b, offsetof(book_record, level_count), 1);
    CHECK(parse(b) == record_status::ok);
    poke<std::uint16_t>(b, offsetof(book_record, level_count), 2);
    CHECK(parse(b) == record_status::bad_level_count);
  }
}

TEST_CASE("records: a book whose level count disagrees with its size is refused") {
  const auto levels = sample_levels(3);
  const auto good = book_bytes(record_type::book_delta, levels);
  for (std::uint16_t count : {0, 2, 4, 5, 1000, 2726, 2727, 65535}) {
    auto b = good;
    poke(b, offsetof(book_record, level_count), count);
    CHECK(parse(b) == record_status::bad_level_count);
  }
  auto b = good;
  poke<std::uint16_t>(b, 0, 90);  // below the fixed part
  CHECK(parse(b) == record_status::bad_size);
  // A huge claimed count with a buffer that really is that large still has to match the size.
  std::vector<std::byte> huge(70000);
  std::copy(good.begin(), good.end(), huge.begin());
  poke<std::uint16_t>(huge, 0, 65535);
  poke<std::uint16_t>(huge, offsetof(book_record, level_count), 2726);
  CHECK(parse(huge) == record_status::bad_level_count);
}

TEST_CASE("records: random bytes never get past validation inconsistently") {
  std::mt19937_64 rng(99);
  int ok = 0;
  for (int i = 0; i < 200000; ++i) {
    std::vector<std::byte> buf(rng() % 400);
    for (auto& x : buf) x = static_cast<std::byte>(rng());
    // Half the time make the header plausible so the deeper checks are reached.
    if (buf.size() >= 96 && rng() % 2) {
      poke<std::uint8_t>(buf, 2, kRecordLayoutVersion);
      poke<std::uint8_t>(buf, 3, static_cast<std::uint8_t>(1 + rng() % 6));
      poke<std::uint16_t>(buf, 0, static_cast<std::uint16_t>(rng() % (buf.size() + 20)));
      poke<std::uint16_t>(buf, offsetof(book_record, level_count), static_cast<std::uint16_t>(rng() % 14));
    }
    record_view v;
    const record_status st = record_view::parse(buf, v);
    REQUIRE(to_string(st) != "unknown");
    if (st == record_status::ok) {
      ++ok;
      touch_everything(v);
    }
  }
  CHECK(ok > 0);
}

TEST_CASE("records: valid records with random bytes flipped are either refused or safe to read") {
  std::vector<std::vector<std::byte>> seeds;
  seeds.push_back(copy_of(record_bytes(sample_trade())));
  seeds.push_back(copy_of(record_bytes(make_record<bbo_record>())));
  seeds.push_back(copy_of(record_bytes(make_record<gap_record>())));
  seeds.push_back(copy_of(record_bytes(make_record<slot_status_record>())));
  seeds.push_back(book_bytes(record_type::book_snapshot, sample_levels(7)));
  std::mt19937_64 rng(2024);
  for (int i = 0; i < 100000; ++i) {
    auto b = seeds[rng() % seeds.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] = static_cast<std::byte>(rng());
    if (rng() % 4 == 0) b.resize(rng() % (b.size() + 1));
    record_view v;
    if (record_view::parse(b, v) == record_status::ok) touch_everything(v);
  }
}

TEST_CASE("records: format_record gives one readable line") {
  const trade_record t = sample_trade();
  record_view v;
  REQUIRE(record_view::parse(record_bytes(t), v) == record_status::ok);
  const std::string line = format_record(v);
  INFO(line);
  CHECK(line.find("trade binance/aggTrade BTCUSDT slot=A seq=42 first=100") == 0);
  CHECK(line.find("px=65432.10 qty=0.00100000 aggressor=sell ids=100..102 count=3") != std::string::npos);
  CHECK(line.find('\n') == std::string::npos);

  const auto book = book_bytes(record_type::book_snapshot, sample_levels(8));
  REQUIRE(record_view::parse(book, v) == record_status::ok);
  const std::string book_line = format_record(v, 2);
  INFO(book_line);
  CHECK(book_line.find("book_snapshot okx/books BTC-USDT") == 0);
  CHECK(book_line.find("levels=8 part=0 first last checksum=-123456789 bid:65432.00x0.00000001 ask:65432.01x0.00001001 ...+6") !=
        std::string::npos);
}

TEST_CASE("records: a mark_funding record round-trips at any alignment, says which values it holds, and prints only those") {
  auto m = make_record<mark_funding_record>();
  m.header.venue_id = venue::binance_usdm;
  m.header.channel_id = channel::usdm_mark_price;
  m.header.set_symbol("BTCUSDT");
  m.header.venue_time_ns = 1562305380000LL * 1'000'000;
  CHECK(m.fields == 0);
  m.set_mark_px({1179415000000, -8});
  m.set_index_px({1178462659091, -8});
  m.set_funding_rate({-38167, -8});
  m.set_funding_time_ns(1562306400000LL * 1'000'000);
  CHECK(m.fields == (kHasMarkPx | kHasIndexPx | kHasFundingRate | kHasFundingTime));
  CHECK_FALSE(m.has(kHasSettlePx));
  std::vector<std::byte> buf(sizeof(m) + 3);
  for (std::size_t offset = 0; offset < 4; ++offset) {
    std::memcpy(buf.data() + offset, &m, sizeof(m));
    record_view v;
    REQUIRE(record_view::parse(std::span(buf).subspan(offset, sizeof(m)), v) == record_status::ok);
    REQUIRE(v.mark_funding().has_value());
    CHECK_FALSE(v.trade().has_value());
    const mark_funding_record back = *v.mark_funding();
    CHECK(std::memcmp(&back, &m, sizeof(m)) == 0);
  }
  record_view v;
  REQUIRE(record_view::parse(record_bytes(m), v) == record_status::ok);
  const std::string line = format_record(v);
  INFO(line);
  CHECK(line.find("mark_funding binance_usdm/markPrice BTCUSDT slot=none mark=11794.15000000 index=11784.62659091 "
                  "funding=-0.00038167 funding_time=1562306400000000000 vt=1562305380000000000") == 0);
  CHECK(line.find("settle") == std::string::npos);
  CHECK(to_string(record_type::mark_funding) == "mark_funding");
}

TEST_CASE("records: an instrument record carries the contract value, and base_quantity converts contracts exactly") {
  auto i = make_record<instrument_record>();
  i.header.venue_id = venue::okx;
  i.header.channel_id = channel::reference;
  i.header.set_symbol("BTC-USDT-SWAP");
  i.kind = instrument_kind::perpetual;
  CHECK_FALSE(base_quantity(i, {1, 0}).has_value());  // no contract value: no conversion
  i.set_contract_value({1, -2});
  i.set_tick_size({1, -1});
  i.set_lot_size({1, -2});
  CHECK(i.set_contract_currency("BTC"));
  CHECK_FALSE(i.set_contract_currency("A_CURRENCY_NAME_TOO_LONG"));
  CHECK(i.contract_currency_view().empty());
  CHECK(i.set_contract_currency("BTC"));
  CHECK(same_representation(*base_quantity(i, {125, -1}), {125, -3}));  // 12.5 contracts of 0.01 BTC = 0.125 BTC
  CHECK(base_quantity(i, {INT64_MAX, 0}).has_value());                  // 0.01 × max: the mantissa fits
  i.set_contract_value({100, 0});
  CHECK_FALSE(base_quantity(i, {INT64_MAX, 0}).has_value());            // overflows: refused, not wrapped
  i.set_contract_value({1, -2});
  CHECK_FALSE(base_quantity(i, {1, -127}).has_value());                 // exponent -129: out of range
  record_view v;
  REQUIRE(record_view::parse(record_bytes(i), v) == record_status::ok);
  REQUIRE(v.instrument().has_value());
  const instrument_record back = *v.instrument();
  CHECK(std::memcmp(&back, &i, sizeof i) == 0);
  const std::string line = format_record(v);
  INFO(line);
  CHECK(line.find("instrument okx/reference BTC-USDT-SWAP slot=none kind=perpetual contract=0.01 ccy=BTC tick=0.1 lot=0.01") == 0);
  CHECK(to_string(instrument_kind::option) == "option");
  CHECK(to_string(static_cast<instrument_kind>(9)) == "unknown");
}

TEST_CASE("records: enum names, with unknown for values no writer should produce") {
  CHECK(to_string(record_type::book_snapshot) == "book_snapshot");
  CHECK(to_string(static_cast<record_type>(99)) == "unknown");
  CHECK(to_string(slot_id::b) == "B");
  CHECK(to_string(static_cast<slot_id>(7)) == "unknown");
  CHECK(to_string(book_side::ask) == "ask");
  CHECK(to_string(aggressor_side::buy) == "buy");
  CHECK(to_string(gap_reason::both_slots_down) == "both_slots_down");
  CHECK(to_string(static_cast<gap_reason>(200)) == "unknown");
  CHECK(to_string(slot_state::connecting) == "connecting");
  CHECK(to_string(slot_reason::pong_timeout) == "pong_timeout");
  CHECK(to_string(record_status::bad_level_count) == "bad_level_count");
  record_view empty;
  CHECK_FALSE(empty.trade().has_value());
  CHECK_FALSE(empty.book().has_value());
}
