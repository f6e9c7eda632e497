// Every frame of the real captures in MDBUS_CAPTURES (SOURCES.txt there: cryptofeed and
// hftbacktest recordings of Binance spot, Binance USD-M and OKX) replayed through an adapter
// subscribed to what the recording subscribed to: the validation refuses nothing the venues
// really send. Frames of streams no subscription can name (kline_1m) are
// unknown_stream; every other frame decodes with no error. The USD-M captures replay through
// the binance_usdm venue's adapter.
#include "mdbus/venues/registry.hpp"
#include "feeders/venue_adapter.hpp"
#include "tests/feeders/adapter_test_support.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace mdbus;
using namespace mdbus::feed;
using namespace mdbus::feed::test;

namespace {

struct capture {
  std::vector<std::string> frames;  ///< received text frames
  std::vector<std::string> sent;    ///< frames the recorder sent (OKX subscribe requests)
  std::string url;                  ///< connect URL when recorded
};

/// The captures, or a skip: exit 77 (SKIP_RETURN_CODE in tests/feeders/CMakeLists.txt), so
/// CTest reports the case as skipped, not as a pass that checked nothing.
bool have_captures() {
  if (std::filesystem::is_directory(MDBUS_CAPTURES)) return true;
  std::printf("SKIPPED: no captures at %s\n", MDBUS_CAPTURES);
  std::fflush(stdout);
  std::_Exit(77);
}

/// cryptofeed: "<url> <-> <epoch>" (connect), "<url> <- <epoch>: <json>" (sent),
/// "<epoch>: <json>" (received). hftbacktest: "<ns> <json>".
capture load(const std::string& name) {
  capture c;
  for (const auto& line : read_lines(std::string(MDBUS_CAPTURES) + "/" + name)) {
    if (const auto at = line.find(" <-> "); at != std::string::npos) {
      c.url = line.substr(0, at);
    } else if (line.find(" <- ") != std::string::npos) {
      c.sent.push_back(line.substr(line.find(": ") + 2));
    } else if (const auto colon = line.find(": "); colon != std::string::npos && colon < line.find('{')) {
      c.frames.push_back(line.substr(colon + 2));
    } else {
      c.frames.push_back(line.substr(line.find(' ') + 1));
    }
  }
  return c;
}

/// The subscription a Binance stream name stands for on venue `v` (its descriptor's grammar),
/// if one can name it.
std::optional<subscription> binance_sub(venue v, std::string_view stream) {
  const auto at = stream.find('@');
  if (at == std::string_view::npos) return std::nullopt;
  std::string symbol(stream.substr(0, at));
  for (char& ch : symbol) ch = static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
  const parsed_channel p = find_venue(v)->parse_channel(stream.substr(at + 1));
  if (p.id == channel::unknown) return std::nullopt;  // kline_1m; spot: depth@0ms (a USD-M speed)
  return subscription{p.id, symbol, std::string(p.variant)};
}

std::string stream_of(const std::string& frame) {
  constexpr std::string_view kKey = R"({"stream":")";
  if (!frame.starts_with(kKey)) return {};
  return frame.substr(kKey.size(), frame.find('"', kKey.size()) - kKey.size());
}

struct tally {
  std::size_t frames = 0, records = 0, unsubscribable = 0;
};

/// Replays a Binance capture; subscriptions from its URL when recorded, else from the stream
/// names it holds (hftbacktest records no URL).
tally replay_binance(const std::string& name, venue v, channel depth) {
  const capture c = load(name);
  std::vector<subscription> subs;
  std::set<std::string> names;
  if (const auto at = c.url.find("streams="); at != std::string::npos) {
    std::string_view list = std::string_view(c.url).substr(at + 8);
    while (!list.empty()) {
      const auto slash = list.find('/');
      names.emplace(list.substr(0, slash));
      list = slash == std::string_view::npos ? std::string_view{} : list.substr(slash + 1);
    }
  } else {
    for (const auto& f : c.frames)
      if (const auto s = stream_of(f); !s.empty()) names.insert(s);
  }
  for (const auto& n : names)
    if (const auto sub = binance_sub(v, n)) subs.push_back(*sub);
  REQUIRE(!subs.empty());
  auto a = make(v);
  a->set_subscriptions(subs);
  tally t;
  vector_sink sink;
  for (const auto& f : c.frames) {
    CAPTURE(name);
    CAPTURE(f);
    ++t.frames;
    sink.clear();
    const std::string stream = stream_of(f);
    if (stream.empty()) {  // hftbacktest's one REST depth snapshot
      REQUIRE(f.find("\"lastUpdateId\"") != std::string::npos);
      const auto r = parse_snapshot(*a, {depth, "BTCUSDT", ""}, f, sink);
      CHECK(r.error == parse_error::none);
      CHECK(r.records >= 1);
      t.records += r.records;
      continue;
    }
    const auto r = parse(*a, f, sink);
    if (!binance_sub(v, stream)) {
      CHECK(r.error == parse_error::unknown_stream);
      ++t.unsubscribable;
      continue;
    }
    CHECK(r.error == parse_error::none);
    CHECK(r.records == 1);
    t.records += r.records;
  }
  MESSAGE(name << ": " << t.frames << " frames, " << t.records << " records, " << t.unsubscribable
               << " of streams no subscription names");
  return t;
}

}  // namespace

TEST_CASE("adapter captures: every Binance spot frame of a subscribed stream decodes with no error") {
  if (!have_captures()) return;
  const tally cf = replay_binance("cryptofeed_BINANCE.ws.1.0", venue::binance, channel::binance_depth);
  CHECK(cf.frames == 265);
  CHECK(cf.unsubscribable == 2);  // kline_1m
  CHECK(cf.records == 263);
  const tally hb = replay_binance("hftbacktest_spot_btcusdt_20240808.head3000.txt", venue::binance, channel::binance_depth);
  CHECK(hb.frames == 3000);
  CHECK(hb.unsubscribable == 0);
}

TEST_CASE("adapter captures: every Binance USD-M frame of a subscribed stream decodes with no error") {
  // The binance_usdm venue's adapter: trade, aggTrade, bookTicker, depth@100ms and depth@0ms
  // with pu (and the spot adapter refuses what only USD-M names).
  if (!have_captures()) return;
  const tally cf = replay_binance("cryptofeed_BINANCE_FUTURES.ws.1.0", venue::binance_usdm, channel::usdm_depth);
  CHECK(cf.frames == 1535);
  CHECK(cf.unsubscribable == 67);  // kline_1m
  CHECK(cf.records == 1535 - 67);
  const tally hb = replay_binance("hftbacktest_usdm_btcusdt_20240808.head3000.txt", venue::binance_usdm, channel::usdm_depth);
  CHECK(hb.frames == 3000);
  CHECK(hb.unsubscribable == 0);  // depth@0ms is a USD-M speed
  CHECK(hb.records == 3000);      // one each: the REST snapshot (1000 levels a side) fits one record
  CHECK_FALSE(binance_sub(venue::binance, "btcusdt@depth@0ms").has_value());
}

TEST_CASE("adapter captures: every OKX frame decodes with no error under the recorded subscriptions") {
  if (!have_captures()) return;
  const capture c = load("cryptofeed_OKX.ws.1.0");
  std::vector<subscription> subs;
  for (const auto& req : c.sent) {  // {"op":"subscribe","args":[{"channel":"tickers","instId":"BTC-USDT"},…]}
    for (std::size_t at = req.find(R"({"channel":")"); at != std::string::npos; at = req.find(R"({"channel":")", at + 1)) {
      const std::size_t ch = at + 12;
      const std::string channel_name = req.substr(ch, req.find('"', ch) - ch);
      const std::size_t inst = req.find(R"("instId":")", ch) + 10;
      const auto id = channel_from_string(venue::okx, channel_name);
      REQUIRE(id.has_value());
      subs.push_back({*id, req.substr(inst, req.find('"', inst) - inst), ""});
    }
  }
  REQUIRE(subs.size() >= 9);
  auto a = make(venue::okx);
  a->set_subscriptions(subs);
  vector_sink sink;
  std::size_t frames = 0, records = 0, events = 0;
  for (const auto& f : c.frames) {
    CAPTURE(f);
    ++frames;
    sink.clear();
    const auto r = parse(*a, f, sink);
    CHECK(r.error == parse_error::none);
    if (r.event == control_event::subscribed) ++events;
    records += r.records;
  }
  MESSAGE("cryptofeed_OKX.ws.1.0: " << frames << " frames, " << records << " records, " << events << " acks");
  CHECK(frames == 410);
  CHECK(events == 18);
  CHECK(records >= 392);
}

TEST_CASE("adapter captures: bench data: every line decodes with subscriptions set, as without") {
  // bench/data is cut from the captures (make_data.sh); parse_bench runs it without
  // subscriptions, mdfeed with them: both must see the same records.
  for (const venue v : {venue::binance, venue::okx, venue::binance_usdm}) {
    const auto lines = read_lines(std::string(MDBUS_BENCH_DATA) + (v == venue::binance  ? "/binance_spot.jsonl"
                                                                   : v == venue::okx ? "/okx_v5.jsonl"
                                                                                     : "/binance_usdm.jsonl"));
    std::vector<subscription> subs;
    for (const auto& l : lines) {
      if (v != venue::okx) {
        if (const auto s = binance_sub(v, stream_of(l))) subs.push_back(*s);
      } else if (const auto at = l.find(R"("arg":{"channel":")"); at != std::string::npos) {
        const std::size_t ch = at + 18;
        const std::size_t inst = l.find(R"("instId":")", ch) + 10;
        if (const auto id = channel_from_string(venue::okx, l.substr(ch, l.find('"', ch) - ch)))
          subs.push_back({*id, l.substr(inst, l.find('"', inst) - inst), ""});
      }
    }
    auto open = make(v);
    auto filtered = make(v);
    filtered->set_subscriptions(subs);
    vector_sink a, b;
    std::size_t same = 0;
    for (const auto& l : lines) {
      a.clear();
      b.clear();
      const auto ra = parse(*open, l, a);
      const auto rb = parse(*filtered, l, b);
      CAPTURE(l);
      CHECK(ra.error == rb.error);
      CHECK(a.frames == b.frames);
      same += a.frames == b.frames ? 1 : 0;
    }
    CHECK(same == lines.size());
  }
}
