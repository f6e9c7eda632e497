// Unit tests of exsim's building blocks: decimal text, CRC32/OKX checksum (checked against a
// real OKX capture), the deterministic market, and the truth log round trip.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "mdbus/okx_checksum.hpp"
#include "tools/exsim/decimal.hpp"
#include "tools/exsim/market.hpp"
#include "tools/exsim/stream_registry.hpp"
#include "tools/exsim/trade_history.hpp"
#include "tools/exsim/truth_reader.hpp"
#include "tools/exsim/truth_writer.hpp"

using namespace mdbus::exsim;
using mdbus::crc32;
using mdbus::okx_crc32;

namespace {
// Top 25 levels per side of a real OKX BTC-USDT books snapshot (tests/data/captures/cryptofeed_OKX.ws.1.0,
// 2022-05-13) with the checksum OKX sent for the full snapshot: only the top 25 count.
constexpr const char* kOkxSnapshot = R"json({"asks":[["30243.5","1.44679","0","6"],["30244","0.08","0","1"],["30246.1","0.05426064","0","1"],["30247.5","0.635","0","1"],["30248.1","0.0132","0","1"],["30249.1","0.09999997","0","1"],["30249.4","0.16562579","0","1"],["30249.7","0.06523858","0","1"],["30251.8","0.00047612","0","1"],["30251.9","0.1808","0","2"],["30252.3","0.27412546","0","1"],["30252.6","0.01648681","0","1"],["30252.9","0.19984","0","1"],["30254","0.05","0","1"],["30255","0.16","0","1"],["30255.2","0.04844827","0","1"],["30257","0.02484658","0","1"],["30257.1","0.93333757","0","2"],["30258.1","0.16","0","1"],["30259.5","0.00052769","0","1"],["30259.6","0.1","0","1"],["30260.3","0.04632884","0","1"],["30260.4","0.28027349","0","2"],["30260.5","0.74399463","0","1"],["30261","0.03","0","1"]],"bids":[["30243.4","0.0012029","0","1"],["30236.6","0.007903","0","1"],["30236.1","0.05452","0","1"],["30235.9","0.1016","0","2"],["30235","0.0002","0","1"],["30234.1","0.16","0","1"],["30234","0.07239171","0","4"],["30233.9","0.79685801","0","2"],["30232","0.01","0","1"],["30230.8","0.28156443","0","2"],["30230.2","0.85","0","1"],["30230.1","0.12784965","0","1"],["30229.3","0.00798335","0","1"],["30229.2","5.04689973","0","1"],["30228.9","0.07189416","0","1"],["30228.7","0.85286652","0","2"],["30228.6","0.01223199","0","1"],["30227.7","0.16","0","1"],["30226.8","0.12158052","0","1"],["30225.2","0.02098","0","1"],["30225.1","0.05","0","1"],["30224.8","0.01137","0","1"],["30223.4","0.33086945","0","1"],["30222.8","0.12","0","2"],["30222.5","0.00662176","0","1"]],"checksum":47640993})json";
}  // namespace

TEST_CASE("exsim decimals print as Binance fixed 8 places and as OKX shortest form") {
  CHECK(decimal_string(6183763, 2, 8) == "61837.63000000");
  CHECK(decimal_string(2, 5, 8) == "0.00002000");
  CHECK(decimal_string(302388, 1, 0) == "30238.8");
  CHECK(decimal_string(200000000, 8, 0) == "2");
  CHECK(decimal_string(6523858, 8, 0) == "0.06523858");
  CHECK(decimal_string(0, 8, 0) == "0");
  CHECK(decimal_string(0, 2, 8) == "0.00000000");
  std::int64_t v = 0;
  CHECK(parse_decimal("61837.63000000", 2, v));
  CHECK(v == 6183763);
  CHECK(parse_decimal("30238.8", 1, v));
  CHECK(v == 302388);
  CHECK_FALSE(parse_decimal("1.234", 2, v));
}

TEST_CASE("exsim crc32 matches the zlib reference value") {
  CHECK(crc32("123456789") == 0xCBF43926U);
  CHECK(okx_crc32("123456789") == static_cast<std::int32_t>(0xCBF43926U));
}

TEST_CASE("exsim okx checksum construction reproduces the checksum of a real OKX snapshot") {
  const auto j = nlohmann::json::parse(kOkxSnapshot);
  std::string s;
  const auto& bids = j["bids"];
  const auto& asks = j["asks"];
  for (std::size_t i = 0; i < 25; ++i) {
    for (const auto* side : {&bids, &asks}) {
      if (i >= side->size()) continue;
      if (!s.empty()) s += ':';
      s += (*side)[i][0].get<std::string>() + ":" + (*side)[i][1].get<std::string>();
    }
  }
  CHECK(okx_crc32(s) == j["checksum"].get<std::int32_t>());
}

TEST_CASE("exsim the market is deterministic for a seed and keeps the book uncrossed") {
  const auto inst = instrument_for("BTCUSDT");
  book_sim a(inst, 42), b(inst, 42), c(inst, 43);
  market_action x, y, z;
  bool differs = false;
  for (int i = 0; i < 20000; ++i) {
    a.step(x);
    b.step(y);
    c.step(z);
    REQUIRE(x.change_count == y.change_count);
    for (std::size_t k = 0; k < x.change_count; ++k) {
      CHECK(x.changes[k].second.price == y.changes[k].second.price);
      CHECK(x.changes[k].second.qty == y.changes[k].second.qty);
    }
    if (z.change_count != x.change_count || (x.change_count > 0 && z.changes[0].second.price != x.changes[0].second.price))
      differs = true;
    const auto bid = a.book().best(side::bid);
    const auto ask = a.book().best(side::ask);
    REQUIRE(bid);
    REQUIRE(ask);
    REQUIRE(bid->price < ask->price);
    REQUIRE(a.book().size(side::bid) >= book_sim::kMinLevels);
    REQUIRE(a.book().size(side::ask) <= book_sim::kMaxLevels + 1);
  }
  CHECK(differs);
}

TEST_CASE("exsim truth log entries read back with their stream table") {
  char path[] = "/tmp/exsim_truth_unit_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  stream_registry reg;
  stream_info s;
  s.venue_id = mdbus::venue::binance;
  s.channel_id = mdbus::channel::binance_trade;
  s.symbol = "BTCUSDT";
  s.name = "btcusdt@trade";
  reg.add(s);
  s.venue_id = mdbus::venue::okx;
  s.channel_id = mdbus::channel::okx_books;
  s.symbol = "BTC-USDT";
  s.name = "books:BTC-USDT";
  reg.add(s);
  {
    truth_writer w(path, reg, 7, 123);
    w.append(reg.at(0), "hello", {10, 10, -1, 1000, 0}, 0, 5);
    w.append(reg.at(1), "world", {20, 21, 19, 1001, kTruthSnapshot}, 3, 6);
  }
  truth_reader r(path);
  CHECK(r.header().seed == 7);
  REQUIRE(r.streams().size() == 2);
  CHECK(r.streams()[1].name == "books:BTC-USDT");
  CHECK(r.streams()[1].venue_id == mdbus::venue::okx);
  REQUIRE(r.find("btcusdt@trade") != nullptr);
  const auto all = r.read_all();
  REQUIRE(all.size() == 2);
  CHECK(all[0].payload_hash == truth_hash("hello"));
  CHECK(all[1].prev_seq == 19);
  CHECK(all[1].conn_id == 3);
  CHECK(all[1].flags == kTruthSnapshot);
  CHECK_FALSE(r.next().has_value());
  std::remove(path);
}

TEST_CASE("exsim truth reader names the file when it is not a truth log") {
  char path[] = "/tmp/exsim_truth_bad_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, "not a truth log at all, but long enough to hold a header of 64 bytes....", 72) == 72);
  close(fd);
  CHECK_THROWS_WITH_AS(truth_reader{path}, doctest::Contains(path), truth_error);
  std::remove(path);
}

namespace {
std::vector<std::int64_t> ids_of(const std::vector<trade_row>& rows) {
  std::vector<std::int64_t> v;
  for (const auto& r : rows) v.push_back(r.id);
  return v;
}
}  // namespace

TEST_CASE("exsim trade history pages like the venues: fromId inclusive, after/before by id or time, bounded") {
  trade_history h(5);
  for (std::int64_t id = 101; id <= 108; ++id) h.push({id, 10 * id, 1, 1000 + id / 2, id % 2 == 0, 0, 0});
  // Bounded: 5 kept, the oldest (101..103) gone.
  CHECK(h.size() == 5);
  CHECK(h.oldest_id() == 104);
  CHECK(h.newest_id() == 108);
  // Binance fromId: inclusive, oldest first; older than what is kept gets what is left.
  CHECK(ids_of(h.from_id(106, 10)) == std::vector<std::int64_t>{106, 107, 108});
  CHECK(ids_of(h.from_id(106, 2)) == std::vector<std::int64_t>{106, 107});
  CHECK(ids_of(h.from_id(50, 2)) == std::vector<std::int64_t>{104, 105});
  CHECK(h.from_id(109, 10).empty());
  CHECK(ids_of(h.latest(2)) == std::vector<std::int64_t>{107, 108});
  CHECK(ids_of(h.latest(99)) == std::vector<std::int64_t>{104, 105, 106, 107, 108});
  // Binance aggTrades startTime..endTime, inclusive: times 1052, 1052, 1053, 1053, 1054.
  CHECK(ids_of(h.in_time(1053, 1053, 10)) == std::vector<std::int64_t>{106, 107});
  CHECK(ids_of(h.in_time(0, 1052, 1)) == std::vector<std::int64_t>{104});
  // OKX after (older than) / before (newer than), newest first.
  using key = trade_history::key;
  CHECK(ids_of(h.older_than(key::id, 107, 10)) == std::vector<std::int64_t>{106, 105, 104});
  CHECK(ids_of(h.older_than(key::id, 107, 2)) == std::vector<std::int64_t>{106, 105});
  CHECK(h.older_than(key::id, 104, 10).empty());
  CHECK(ids_of(h.newer_than(key::id, 105, 10)) == std::vector<std::int64_t>{108, 107, 106});
  CHECK(ids_of(h.newer_than(key::id, -1, 2)) == std::vector<std::int64_t>{108, 107});
  CHECK(ids_of(h.older_than(key::time, 1053, 10)) == std::vector<std::int64_t>{105, 104});
  CHECK(ids_of(h.newer_than(key::time, 1053, 10)) == std::vector<std::int64_t>{108});
  // A row keeps what it was given.
  const auto r = h.from_id(108, 1).at(0);
  CHECK(r.price == 1080);
  CHECK(r.taker_sold);
}
