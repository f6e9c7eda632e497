// OKX v5 public adapter on real-shaped payloads (lines from the cryptofeed OKX capture and
// the shapes of the current docs / exsim) and on every kind of malformed input.
#include "feeders/venue_adapter.hpp"
#include "tests/feeders/adapter_test_support.hpp"
#include "mdbus/okx_checksum.hpp"

#include <doctest/doctest.h>

#include <array>
#include <functional>
#include <map>
#include <string>

using namespace mdbus;
using namespace mdbus::feed;
using namespace mdbus::feed::test;

namespace {

// cryptofeed OKX capture, 2022-05-13 (pre-dates seqId/prevSeqId).
constexpr std::string_view kTrade =
    R"({"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"338476307","px":"30236","sz":"0.0002","side":"buy","ts":"1652459224818"}]})";
constexpr std::string_view kTicker =
    R"({"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT","last":"30236","lastSz":"0.0002","askPx":"30228.7","askSz":"1.55896972","bidPx":"30228.6","bidSz":"0.23393","open24h":"29700.4","high24h":"31073","low24h":"28020.3","sodUtc0":"29028.8","sodUtc8":"30337.7","volCcy24h":"525802090.62716611","vol24h":"17602.13085371","ts":"1652459224956"}]})";
constexpr std::string_view kCapturedUpdate =
    R"({"arg":{"channel":"books","instId":"BTC-USD-220527"},"action":"update","data":[{"asks":[["30249.4","0","0","0"],["30261","4","0","1"],["30310.3","19","0","1"]],"bids":[["30182.6","452","0","1"]],"ts":"1652459225464","checksum":-914047754}]})";
// Current shapes (OKX docs 2026, as exsim sends them).
constexpr std::string_view kTradeNow =
    R"({"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"sell","ts":"1630048897897","count":"3","source":"0","seqId":1234}]})";
constexpr std::string_view kBboTbt =
    R"({"arg":{"channel":"bbo-tbt","instId":"BCH-USDT-SWAP"},"data":[{"asks":[["111.06","55154","0","2"]],"bids":[["111.05","57745","0","2"]],"ts":"1670324386802","seqId":363996337}]})";
constexpr std::string_view kBooksSnapshot =
    R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["8476.98","415","0","13"],["8477","7","0","2"],["8477.34","85","0","1"]],"bids":[["8476.97","256","0","12"],["8475.55","101","0","1"]],"ts":"1597026383085","checksum":-855196043,"prevSeqId":-1,"seqId":123456}]})";
constexpr std::string_view kBooksUpdate =
    R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["8476.98","0","0","0"],["8478","12","0","3"]],"bids":[],"ts":"1597026383185","checksum":0,"prevSeqId":123456,"seqId":123460}]})";
constexpr std::string_view kBooksHeartbeat =
    R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1597026443185","checksum":0,"prevSeqId":123460,"seqId":123460}]})";
constexpr std::string_view kBooks5 =
    R"({"arg":{"channel":"books5","instId":"BCH-USDT-SWAP"},"data":[{"asks":[["111.06","55154","0","2"],["111.07","53276","0","2"],["111.08","72435","0","2"],["111.09","70312","0","2"],["111.1","67272","0","2"]],"bids":[["111.05","57745","0","2"],["111.04","57109","0","2"],["111.03","69563","0","2"],["111.02","71248","0","2"],["111.01","65090","0","2"]],"instId":"BCH-USDT-SWAP","ts":"1670324386802","seqId":363996337}]})";
constexpr std::string_view kL2Update =
    R"({"arg":{"channel":"books-l2-tbt","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["8476.98","0","0","0"]],"bids":[["8476.5","3.5","0","1"]],"ts":"1597026383095","checksum":1717371254,"prevSeqId":123456,"seqId":123457}]})";

std::string trade_with(std::string_view element) {
  return R"({"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{)" + std::string(element) + "}]}";
}
std::string books_with(std::string_view element, std::string_view action = "update") {
  return R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":")" + std::string(action) + R"(","data":[{)" +
         std::string(element) + "}]}";
}

void check_stream(const record_header& h, channel ch, std::string_view symbol) {
  CHECK(h.version == kRecordLayoutVersion);
  CHECK(h.venue_id == venue::okx);
  CHECK(h.channel_id == ch);
  CHECK(h.slot == slot_id::b);
  CHECK(h.symbol_view() == symbol);
  CHECK(h.receive_time_ns == kReceiveNs);
}

}  // namespace

TEST_CASE("okx: one public URL, subscribe requests with one arg per stream, text keepalive") {
  auto a = make(venue::okx);
  const subscription subs[] = {{channel::okx_books, "BTC-USDT", ""}, {channel::okx_trades, "BTC-USDT", ""},
                               {channel::okx_bbo_tbt, "ETH-USDT-SWAP", ""}};
  CHECK(a->ws_path(subs) == "/ws/v5/public");
  CHECK(a->id() == venue::okx);
  const auto msgs = a->subscribe_messages(subs);
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0] ==
        R"({"id":"1","op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},{"channel":"trades","instId":"BTC-USDT"},{"channel":"bbo-tbt","instId":"ETH-USDT-SWAP"}]})");
  CHECK(a->keepalive_text() == "ping");
  CHECK(a->subscribe_messages({}).empty());
}

TEST_CASE("okx: unsubscribe requests mirror the subscribe requests, a resubscribe is both, and books resync from a REST snapshot") {
  auto a = make(venue::okx);
  const subscription subs[] = {{channel::okx_books, "BTC-USDT", ""}, {channel::okx_trades, "ETH-USDT", ""}};
  const auto msgs = a->unsubscribe_messages(subs);
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0] ==
        R"({"id":"1","op":"unsubscribe","args":[{"channel":"books","instId":"BTC-USDT"},{"channel":"trades","instId":"ETH-USDT"}]})");
  CHECK(a->unsubscribe_messages({}).empty());
  const subscription bad{channel::okx_books, "BTC\"USDT", ""};
  CHECK_THROWS_AS((void)a->unsubscribe_messages(std::span<const subscription>(&bad, 1)), std::invalid_argument);
  // Only the chained book channels need one: a REST snapshot of 400 levels (OKX delisted the
  // snapshot pushed on subscribe, production from August 2026).
  CHECK(a->resync_plan_for(channel::okx_books).method == resync_method::rest_snapshot);
  CHECK(a->resync_plan_for(channel::okx_books).rest_depth == 400);
  CHECK(a->resync_plan_for(channel::okx_books_l2_tbt).method == resync_method::rest_snapshot);
  // The stale-stream cure: unsubscribe then subscribe, one request each.
  const subscription one{channel::okx_books, "BTC-USDT", ""};
  const auto re = a->resubscribe_messages(std::span<const subscription>(&one, 1));
  REQUIRE(re.size() == 2);
  CHECK(re[0].find(R"("op":"unsubscribe")") != std::string::npos);
  CHECK(re[1].find(R"("op":"subscribe")") != std::string::npos);
  CHECK(a->resync_plan_for(channel::okx_books5).method == resync_method::none);
  CHECK(a->resync_plan_for(channel::okx_bbo_tbt).method == resync_method::none);
  CHECK(a->resync_plan_for(channel::okx_trades).method == resync_method::none);
  CHECK(a->resync_plan_for(channel::binance_depth).method == resync_method::none);
}

TEST_CASE("okx: many subscriptions are split into requests under 64 KB") {
  auto a = make(venue::okx);
  std::vector<subscription> subs;
  for (int i = 0; i < 3000; ++i) subs.push_back({channel::okx_books, "INST-" + std::to_string(i) + "-USDT-SWAP", ""});
  const auto msgs = a->subscribe_messages(subs);
  REQUIRE(msgs.size() > 1);
  std::size_t args = 0;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    CHECK(msgs[i].size() <= 64 * 1024);
    CHECK(msgs[i].starts_with(R"({"id":")" + std::to_string(i + 1) + R"(","op":"subscribe","args":[{)"));
    CHECK(msgs[i].ends_with("}]}"));
    for (std::size_t p = msgs[i].find("\"channel\""); p != std::string::npos; p = msgs[i].find("\"channel\"", p + 1)) ++args;
  }
  CHECK(args == 3000);
}

TEST_CASE("okx: bad subscriptions and snapshot paths are refused at set-up") {
  auto a = make(venue::okx);
  auto path = [&](subscription s) { return a->ws_path(std::span<const subscription>(&s, 1)); };
  CHECK_THROWS_AS(path({channel::binance_trade, "BTC-USDT", ""}), std::invalid_argument);
  CHECK_THROWS_AS(path({channel::okx_books, "BTC-USDT", "5"}), std::invalid_argument);
  CHECK_THROWS_AS(path({channel::okx_books, R"(BTC"USDT)", ""}), std::invalid_argument);
  CHECK_THROWS_AS(path({channel::okx_books, "", ""}), std::invalid_argument);
  // One instId grammar, the venue descriptor's, in the config's words.
  CHECK_THROWS_WITH_AS(path({channel::okx_books, "btc-usdt", ""}),
                       R"(okx: "btc-usdt" is not an OKX instId (upper-case parts joined by '-', e.g. "BTC-USDT"))",
                       std::invalid_argument);
  CHECK_THROWS_AS(path({channel::okx_books, "BTC_USDT", ""}), std::invalid_argument);
  CHECK(a->snapshot_path({channel::okx_books, "BTC-USDT", ""}, 400) == "/api/v5/market/books?instId=BTC-USDT&sz=400");
  CHECK_THROWS_AS((void)a->snapshot_path({channel::okx_trades, "BTC-USDT", ""}, 400), std::invalid_argument);
  CHECK_THROWS_AS((void)a->snapshot_path({channel::okx_books, "BTC-USDT", ""}, 401), std::invalid_argument);
}

TEST_CASE("okx: trades → trade record with tradeId as sequence and the taker side") {
  auto a = make(venue::okx);
  vector_sink sink;
  auto r = parse(*a, kTrade, sink);
  CHECK(r.error == parse_error::none);
  REQUIRE(r.records == 1);
  auto t = sink.trade(0);
  check_stream(t.header, channel::okx_trades, "BTC-USDT");
  CHECK(t.header.flags == kHeaderHasSeq);
  CHECK(t.header.seq == 338476307U);
  CHECK(t.header.venue_time_ns == 1652459224818LL * 1'000'000);
  CHECK(same(t.px(), "30236"));
  CHECK(same(t.qty(), "0.0002"));
  CHECK(t.aggressor == aggressor_side::buy);
  CHECK(t.trade_count == 0);  // no count field in 2022: unknown

  sink.clear();
  REQUIRE(parse(*a, kTradeNow, sink).records == 1);
  t = sink.trade(0);
  CHECK(t.header.seq == 130639474U);
  CHECK(t.aggressor == aggressor_side::sell);
  CHECK(t.trade_count == 3);
  CHECK(same(t.qty(), "0.12060306"));
}

TEST_CASE("okx: several trades in one push give one record each") {
  auto a = make(venue::okx);
  vector_sink sink;
  const std::string_view msg =
      R"({"arg":{"channel":"trades","instId":"ETH-USDT"},"data":[{"instId":"ETH-USDT","tradeId":"10","px":"2000.1","sz":"1","side":"buy","ts":"1"},{"instId":"ETH-USDT","tradeId":"12","px":"2000.2","sz":"2","side":"sell","ts":"2"}]})";
  const auto r = parse(*a, msg, sink);
  CHECK(r.error == parse_error::none);
  REQUIRE(r.records == 2);
  CHECK(sink.trade(0).header.seq == 10U);
  CHECK(sink.trade(1).header.seq == 12U);
  CHECK(sink.trade(1).header.symbol_view() == "ETH-USDT");
  CHECK(sink.trade(1).header.venue_time_ns == 2'000'000);

  // A bad second element drops the whole message (all or nothing, venue_adapter.hpp) and
  // reports the error.
  sink.clear();
  const std::string_view half =
      R"({"arg":{"channel":"trades","instId":"ETH-USDT"},"data":[{"tradeId":"10","px":"1","sz":"1","side":"buy","ts":"1"},{"tradeId":"11","px":"x","sz":"1","side":"buy","ts":"1"}]})";
  const auto h = parse(*a, half, sink);
  CHECK(h.error == parse_error::bad_number);
  CHECK(h.detail == "trades.px");
  CHECK(h.records == 0);
  CHECK(sink.size() == 0);
}

TEST_CASE("okx: tickers → bbo without a sequence, an empty side is a zero level") {
  auto a = make(venue::okx);
  vector_sink sink;
  REQUIRE(parse(*a, kTicker, sink).records == 1);
  const auto b = sink.bbo(0);
  check_stream(b.header, channel::okx_tickers, "BTC-USDT");
  CHECK(b.header.flags == 0);
  CHECK(b.header.venue_time_ns == 1652459224956LL * 1'000'000);
  CHECK(same(b.bid.px(), "30228.6"));
  CHECK(same(b.bid.qty(), "0.23393"));
  CHECK(same(b.ask.px(), "30228.7"));
  CHECK(same(b.ask.qty(), "1.55896972"));

  sink.clear();
  const std::string_view empty_side =
      R"({"arg":{"channel":"tickers","instId":"X-USDT"},"data":[{"instId":"X-USDT","last":"1","askPx":"","askSz":"","bidPx":"0.5","bidSz":"10","ts":"1"}]})";
  REQUIRE(parse(*a, empty_side, sink).records == 1);
  CHECK(sink.bbo(0).ask.qty_mantissa == 0);
  CHECK(sink.bbo(0).ask.side == book_side::ask);
  CHECK(same(sink.bbo(0).bid.qty(), "10"));
}

TEST_CASE("okx: bbo-tbt → bbo with seqId") {
  auto a = make(venue::okx);
  vector_sink sink;
  REQUIRE(parse(*a, kBboTbt, sink).records == 1);
  const auto b = sink.bbo(0);
  check_stream(b.header, channel::okx_bbo_tbt, "BCH-USDT-SWAP");
  CHECK(b.header.flags == kHeaderHasSeq);
  CHECK(b.header.seq == 363996337U);
  CHECK(b.header.venue_time_ns == 1670324386802LL * 1'000'000);
  CHECK(same(b.bid.px(), "111.05"));
  CHECK(same(b.bid.qty(), "57745"));
  CHECK(same(b.ask.px(), "111.06"));

  sink.clear();
  REQUIRE(parse(*a, R"({"arg":{"channel":"bbo-tbt","instId":"A-B"},"data":[{"asks":[],"bids":[["1","2","0","1"]],"ts":"5","seqId":9}]})", sink).records == 1);
  CHECK(sink.bbo(0).ask.qty_mantissa == 0);
  CHECK(sink.bbo(0).ask.side == book_side::ask);
  CHECK(same(sink.bbo(0).bid.qty(), "2"));
}

TEST_CASE("okx: books snapshot → book snapshot with prevSeqId -1, seqId and the checksum") {
  auto a = make(venue::okx);
  vector_sink sink;
  REQUIRE(parse(*a, kBooksSnapshot, sink).records == 1);
  const auto b = sink.book(0);
  check_stream(b.header(), channel::okx_books, "BTC-USDT");
  CHECK(b.header().type == record_type::book_snapshot);
  CHECK(b.header().flags == (kHeaderHasSeq | kHeaderHasPrevSeq));
  CHECK(b.header().seq == 123456U);
  CHECK(b.header().prev_seq == -1);
  CHECK(b.header().venue_time_ns == 1597026383085LL * 1'000'000);
  REQUIRE(b.checksum().has_value());
  CHECK(*b.checksum() == -855196043);
  CHECK(b.first_part());
  CHECK(b.last_part());
  REQUIRE(b.level_count() == 5);
  CHECK(b.level(0).side == book_side::ask);
  CHECK(same(b.level(1).px(), "8477"));
  CHECK(b.level(3).side == book_side::bid);
  CHECK(same(b.level(4).qty(), "101"));
}

TEST_CASE("okx: books update → delta, sz \"0\" deletes; checksum 0 means none (deprecated)") {
  auto a = make(venue::okx);
  vector_sink sink;
  REQUIRE(parse(*a, kBooksUpdate, sink).records == 1);
  const auto b = sink.book(0);
  CHECK(b.header().type == record_type::book_delta);
  CHECK(b.header().flags == (kHeaderHasSeq | kHeaderHasPrevSeq));
  CHECK(b.header().prev_seq == 123456);
  CHECK(b.header().seq == 123460U);
  CHECK_FALSE(b.checksum().has_value());
  REQUIRE(b.level_count() == 2);
  CHECK(b.level(0).qty_mantissa == 0);
  CHECK(same(b.level(0).px(), "8476.98"));
  CHECK(same(b.level(1).qty(), "12"));

  sink.clear();
  REQUIRE(parse(*a, kCapturedUpdate, sink).records == 1);
  const auto c = sink.book(0);
  CHECK(c.header().flags == 0);  // 2022: no seqId/prevSeqId yet
  REQUIRE(c.checksum().has_value());
  CHECK(*c.checksum() == -914047754);
  CHECK(c.level_count() == 4);
}

TEST_CASE("okx: the no-change heartbeat is an empty delta with prevSeqId == seqId") {
  auto a = make(venue::okx);
  vector_sink sink;
  REQUIRE(parse(*a, kBooksHeartbeat, sink).records == 1);
  const auto b = sink.book(0);
  CHECK(b.level_count() == 0);
  CHECK(b.header().type == record_type::book_delta);
  CHECK(static_cast<std::int64_t>(b.header().seq) == b.header().prev_seq);
}

TEST_CASE("okx: books5 → a snapshot every push, books-l2-tbt like books") {
  auto a = make(venue::okx);
  vector_sink sink;
  REQUIRE(parse(*a, kBooks5, sink).records == 1);
  auto b = sink.book(0);
  check_stream(b.header(), channel::okx_books5, "BCH-USDT-SWAP");
  CHECK(b.header().type == record_type::book_snapshot);
  CHECK(b.header().flags == kHeaderHasSeq);
  CHECK(b.header().seq == 363996337U);
  CHECK(b.level_count() == 10);
  CHECK(same(b.level(4).px(), "111.1"));

  sink.clear();
  REQUIRE(parse(*a, kL2Update, sink).records == 1);
  b = sink.book(0);
  check_stream(b.header(), channel::okx_books_l2_tbt, "BTC-USDT");
  CHECK(b.header().type == record_type::book_delta);
  CHECK(b.header().prev_seq == 123456);
  CHECK(b.header().seq == 123457U);
  CHECK(*b.checksum() == 1717371254);
}

TEST_CASE("okx: field order does not matter (data before arg, action after data)") {
  auto a = make(venue::okx);
  vector_sink sink;
  const std::string_view msg =
      R"({"data":[{"seqId":123460,"prevSeqId":123456,"ts":"1597026383185","bids":[],"asks":[["8476.98","0","0","0"]]}],"arg":{"instId":"BTC-USDT","channel":"books"},"action":"update"})";
  const auto r = parse(*a, msg, sink);
  CHECK(r.error == parse_error::none);
  REQUIRE(sink.size() == 1);
  CHECK(sink.book(0).header().type == record_type::book_delta);
  CHECK(sink.book(0).header().seq == 123460U);
  sink.clear();
  const std::string_view action_last =
      R"({"arg":{"channel":"books","instId":"BTC-USDT"},"data":[{"asks":[],"bids":[],"ts":"1"}],"action":"snapshot"})";
  REQUIRE(parse(*a, action_last, sink).records == 1);
  CHECK(sink.book(0).header().type == record_type::book_snapshot);
}

TEST_CASE("okx: acks, errors, notices and pong are control events") {
  auto a = make(venue::okx);
  vector_sink sink;
  auto r = parse(*a, R"({"id":"1512","event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3ae55"})", sink);
  CHECK(r.error == parse_error::none);
  CHECK(r.event == control_event::subscribed);
  r = parse(*a, R"({"event":"subscribe","arg":{"channel":"tickers","instId":"BTC-USD-220527"}})", sink);  // 2022 capture
  CHECK(r.event == control_event::subscribed);
  // The first half of a resync: acknowledged, not an error.
  r = parse(*a, R"({"event":"unsubscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3ae55"})", sink);
  CHECK(r.error == parse_error::none);
  CHECK(r.event == control_event::unsubscribed);
  r = parse(*a, R"({"id":"1","event":"unsubscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"x"})", sink);
  CHECK(r.event == control_event::unsubscribed);
  r = parse(*a, R"({"id":"1512","event":"error","code":"60012","msg":"Invalid request: {\"op\": \"subscribe\"}","connId":"a4d3ae55"})", sink);
  CHECK(r.error == parse_error::venue_error);
  CHECK(r.event == control_event::venue_error);
  CHECK(r.detail == R"(Invalid request: {\"op\": \"subscribe\"})");
  r = parse(*a, R"({"event":"error","code":"60018","msg":"","connId":"x"})", sink);
  CHECK(r.event == control_event::venue_error);
  CHECK(r.detail == "60018");
  r = parse(*a, R"({"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"a4d3ae55"})", sink);
  CHECK(r.error == parse_error::none);
  CHECK(r.event == control_event::going_away);
  r = parse(*a, R"({"event":"notice","code":"64009","msg":"something else","connId":"a4d3ae55"})", sink);
  CHECK(r.event == control_event::none);
  r = parse(*a, R"({"event":"channel-conn-count","channel":"books","connCount":"2","connId":"x"})", sink);
  CHECK(r.error == parse_error::none);
  CHECK(r.event == control_event::none);
  r = parse(*a, "pong", sink);
  CHECK(r.error == parse_error::none);
  CHECK(r.event == control_event::pong);
  CHECK(sink.size() == 0);
}

TEST_CASE("okx: not JSON") {
  auto a = make(venue::okx);
  vector_sink sink;
  for (const std::string_view bad : {std::string_view(""), std::string_view("ping"), std::string_view("pong "),
                                     std::string_view("{"), std::string_view(R"({"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{)"),
                                     std::string_view(R"({"arg":{"channel":"trades" "instId":"BTC-USDT"}})"),
                                     std::string_view(R"({"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"px":"1)"),
                                     std::string_view(R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["1","1"],,],"bids":[],"ts":"1"}]})")}) {
    CAPTURE(bad);
    CHECK(parse(*a, bad, sink).error == parse_error::not_json);
  }
  CHECK(parse(*a, std::string(kTicker) + "x", sink).error == parse_error::not_json);
}

TEST_CASE("okx: valid JSON of the wrong shape") {
  auto a = make(venue::okx);
  vector_sink sink;
  for (const std::string_view bad : {"[]", "1", "true", "{}", R"({"op":"subscribe"})"}) {
    CAPTURE(bad);
    CHECK(parse(*a, bad, sink).error == parse_error::unexpected_shape);
  }
  CHECK(parse(*a, books_with(R"("asks":[],"bids":[],"ts":"1")", "partial"), sink).error == parse_error::unexpected_shape);
  CHECK(parse(*a, trade_with(R"("tradeId":"1","px":"1","sz":"1","side":"both","ts":"1")"), sink).error ==
        parse_error::unexpected_shape);
  CHECK(sink.size() == 0);
}

TEST_CASE("okx: missing required fields") {
  auto a = make(venue::okx);
  vector_sink sink;
  auto r = parse(*a, trade_with(R"("tradeId":"1","px":"1","side":"buy","ts":"1")"), sink);
  CHECK(r.error == parse_error::missing_field);
  CHECK(r.detail == "trades.sz");
  r = parse(*a, trade_with(R"("tradeId":"1","px":"1","sz":"1","side":"buy")"), sink);
  CHECK(r.detail == "trades.ts");
  r = parse(*a, books_with(R"("bids":[],"ts":"1")"), sink);
  CHECK(r.error == parse_error::missing_field);
  CHECK(r.detail == "book.asks");
  r = parse(*a, books_with(R"("asks":[["1"]],"bids":[],"ts":"1")"), sink);
  CHECK(r.error == parse_error::missing_field);
  r = parse(*a, R"({"arg":{"channel":"books","instId":"BTC-USDT"},"data":[{"asks":[],"bids":[],"ts":"1"}]})", sink);
  CHECK(r.error == parse_error::missing_field);
  CHECK(r.detail == "action");
  r = parse(*a, R"({"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"askPx":"1","askSz":"1","bidPx":"1","ts":"1"}]})", sink);
  CHECK(r.detail == "tickers.bidSz");
  CHECK(parse(*a, R"({"arg":{"channel":"trades"},"data":[]})", sink).error == parse_error::missing_field);
  CHECK(parse(*a, R"({"arg":{"channel":"trades","instId":"BTC-USDT"}})", sink).error == parse_error::missing_field);
  CHECK(parse(*a, R"({"data":[],"action":"update"})", sink).error == parse_error::missing_field);
  CHECK(sink.size() == 0);
}

TEST_CASE("okx: wrong JSON types") {
  auto a = make(venue::okx);
  vector_sink sink;
  const std::string_view trades[] = {
      R"("tradeId":1,"px":"1","sz":"1","side":"buy","ts":"1")",       // OKX ids are strings
      R"("tradeId":"1","px":1,"sz":"1","side":"buy","ts":"1")",       // decimals are strings
      R"("tradeId":"1","px":"1","sz":"1","side":"buy","ts":1)",       // times are strings
      R"("tradeId":"1","px":"1","sz":"1","side":true,"ts":"1")",
      R"("tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1","count":3)",
  };
  for (const auto e : trades) {
    CAPTURE(e);
    CHECK(parse(*a, trade_with(e), sink).error == parse_error::wrong_type);
  }
  CHECK(parse(*a, books_with(R"("asks":[],"bids":[],"ts":"1","seqId":"5")"), sink).error == parse_error::wrong_type);
  CHECK(parse(*a, books_with(R"("asks":{},"bids":[],"ts":"1")"), sink).error == parse_error::wrong_type);
  CHECK(parse(*a, books_with(R"("asks":[[8476.98,"1","0","1"]],"bids":[],"ts":"1")"), sink).error == parse_error::wrong_type);
  CHECK(parse(*a, R"({"arg":{"channel":"trades","instId":"BTC-USDT"},"data":{}})", sink).error == parse_error::wrong_type);
  CHECK(parse(*a, R"({"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[1]})", sink).error == parse_error::wrong_type);
  CHECK(parse(*a, R"({"arg":["trades"],"data":[]})", sink).error == parse_error::wrong_type);
  CHECK(parse(*a, R"({"arg":{"channel":5,"instId":"BTC-USDT"},"data":[]})", sink).error == parse_error::wrong_type);
  CHECK(parse(*a, R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":1,"data":[]})", sink).error == parse_error::wrong_type);
  CHECK(sink.size() == 0);
}

TEST_CASE("okx: bad numbers: huge, inexact, negative quantities, out-of-range checksum") {
  auto a = make(venue::okx);
  vector_sink sink;
  const std::string_view trades[] = {
      R"("tradeId":"123456789012345678901234","px":"1","sz":"1","side":"buy","ts":"1")",
      R"("tradeId":"-1","px":"1","sz":"1","side":"buy","ts":"1")",
      R"("tradeId":"1","px":"99999999999999999999.5","sz":"1","side":"buy","ts":"1")",
      R"("tradeId":"1","px":"1","sz":"-3","side":"buy","ts":"1")",
      R"("tradeId":"1","px":"1","sz":"1e","side":"buy","ts":"1")",
      R"("tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1.5")",
      R"("tradeId":"1","px":"1","sz":"1","side":"buy","ts":"")",
  };
  for (const auto e : trades) {
    CAPTURE(e);
    CHECK(parse(*a, trade_with(e), sink).error == parse_error::bad_number);
  }
  CHECK(parse(*a, books_with(R"("asks":[["1","-1","0","1"]],"bids":[],"ts":"1")"), sink).error == parse_error::bad_number);
  CHECK(parse(*a, books_with(R"("asks":[],"bids":[],"ts":"1","checksum":2147483648)"), sink).error == parse_error::bad_number);
  CHECK(parse(*a, books_with(R"("asks":[],"bids":[],"ts":"1","seqId":99999999999999999999999)"), sink).error ==
        parse_error::bad_number);
  CHECK(parse(*a, books_with(R"("asks":[],"bids":[],"ts":"1","prevSeqId":-9223372036854775809)"), sink).error ==
        parse_error::bad_number);
  CHECK(sink.size() == 0);
  // An int64 that fits but is no previous seqId (nor the snapshot's -1) is invalid_value.
  CHECK(parse(*a, books_with(R"("asks":[],"bids":[],"ts":"1","prevSeqId":-9223372036854775808)"), sink).error ==
        parse_error::invalid_value);
  CHECK(sink.size() == 0);
  // Edges that fit.
  REQUIRE(parse(*a, books_with(R"("asks":[],"bids":[],"ts":"1","checksum":-2147483648,"prevSeqId":-1,"seqId":18446744073709551615)"),
                sink).records == 1);
  CHECK(*sink.book(0).checksum() == INT32_MIN);
  CHECK(sink.book(0).header().prev_seq == -1);
  CHECK(sink.book(0).header().seq == UINT64_MAX);
}

TEST_CASE("okx: a channel we do not decode is unknown_stream") {
  auto a = make(venue::okx);
  vector_sink sink;
  const auto r = parse(*a, R"({"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1597026383085","8533.02","8553.74","8527.17","8548.26","45247","529.5858061","529.58","0"]]})", sink);
  CHECK(r.error == parse_error::unknown_stream);
  CHECK(r.detail == "candle1m");
  CHECK(parse(*a, R"({"arg":{"channel":"books50-l2-tbt","instId":"BTC-USDT"},"action":"snapshot","data":[]})", sink).error ==
        parse_error::unknown_stream);
  CHECK(sink.size() == 0);
}

TEST_CASE("okx: a 400-level snapshot is split for a small ring, a too-large delta is refused") {
  auto a = make(venue::okx, book_record_size(3));
  vector_sink sink;
  const auto r = parse(*a, kBooksSnapshot, sink);  // 5 levels
  CHECK(r.error == parse_error::none);
  REQUIRE(r.records == 2);
  CHECK(sink.book(0).level_count() == 3);
  CHECK(sink.book(1).level_count() == 2);
  CHECK(sink.book(0).first_part());
  CHECK(sink.book(1).last_part());
  CHECK(sink.book(1).fixed().part_index == 1);
  CHECK(*sink.book(1).checksum() == -855196043);
  CHECK(sink.book(1).header().prev_seq == -1);

  sink.clear();
  const std::string big_delta = books_with(R"("asks":[["1","1"],["2","1"],["3","1"],["4","1"]],"bids":[],"ts":"1")");
  const auto d = parse(*a, big_delta, sink);
  CHECK(d.error == parse_error::record_too_large);
  CHECK(sink.size() == 0);
}

TEST_CASE("okx: a full ring and an oversized message are counted, not fatal") {
  auto a = make(venue::okx, 65535, 200);
  vector_sink sink;
  CHECK(parse(*a, kTicker, sink).error == parse_error::message_too_large);
  CHECK(parse(*a, kBboTbt, sink).error == parse_error::none);
  sink.refuse_after = 0;
  CHECK(parse(*a, kBboTbt, sink).error == parse_error::ring_full);
  CHECK(sink.size() == 1);
}

TEST_CASE("okx: REST books snapshot and REST errors") {
  auto a = make(venue::okx);
  vector_sink sink;
  const subscription sub{channel::okx_books, "BTC-USDT", ""};
  const std::string_view body =
      R"({"code":"0","msg":"","data":[{"asks":[["41006.8","0.60038921","0","1"]],"bids":[["41006.3","0.30178218","0","2"],["41006.2","0.2","0","1"]],"ts":"1629966436396","seqId":3513}]})";
  auto r = parse_snapshot(*a, sub, body, sink);
  CHECK(r.error == parse_error::none);
  REQUIRE(r.records == 1);
  const auto b = sink.book(0);
  check_stream(b.header(), channel::okx_books, "BTC-USDT");
  CHECK(b.header().type == record_type::book_snapshot);
  CHECK(b.header().flags == (kHeaderHasSeq | kHeaderFromRest));
  CHECK(b.header().seq == 3513U);
  CHECK(b.level_count() == 3);

  sink.clear();
  r = parse_snapshot(*a, sub, R"({"code":"51001","msg":"Instrument ID does not exist","data":[]})", sink);
  CHECK(r.error == parse_error::venue_error);
  CHECK(r.event == control_event::venue_error);
  CHECK(r.detail == "Instrument ID does not exist");
  CHECK(parse_snapshot(*a, sub, R"({"code":"0","msg":""})", sink).error == parse_error::missing_field);
  CHECK(parse_snapshot(*a, sub, R"({"code":"0","data":[{"asks":[],"bids":[]}]})", sink).error == parse_error::missing_field);
  CHECK(parse_snapshot(*a, sub, R"({"code":"0","data":[{"asks":[],"bids":[],"ts":"1"}]} x)", sink).error == parse_error::not_json);
  CHECK(parse_snapshot(*a, {channel::okx_trades, "BTC-USDT", ""}, body, sink).error == parse_error::unknown_stream);
}

TEST_CASE("okx: every recorded message decodes, and the rebuilt books match all 290 venue checksums") {
  // The checksum is a CRC32 of the venue's own text of the top 25 levels: it only matches
  // when every price and quantity kept the exact digits and scale the venue sent.
  auto a = make(venue::okx);
  vector_sink sink;
  struct book {
    std::map<decimal, decimal, std::greater<>> bids;
    std::map<decimal, decimal, std::less<>> asks;
  };
  std::map<std::string, book> books;
  std::size_t messages = 0, events = 0, records = 0, verified = 0;
  for (const auto& line : read_lines(std::string(MDBUS_BENCH_DATA) + "/okx_v5.jsonl")) {
    ++messages;
    sink.clear();
    const auto r = parse(*a, line, sink);
    CAPTURE(line);
    REQUIRE(r.error == parse_error::none);
    if (r.event == control_event::subscribed) {
      ++events;
      continue;
    }
    REQUIRE(r.records == 1);
    ++records;
    const auto v = sink.view(0);
    if (v.header().channel_id != channel::okx_books) continue;
    const auto b = *v.book();
    auto& bk = books[std::string(b.header().symbol_view())];
    if (b.is_snapshot()) bk = {};
    for (std::size_t i = 0; i < b.level_count(); ++i) {
      const auto l = b.level(i);
      if (l.side == book_side::bid) {
        if (is_zero(l.qty())) bk.bids.erase(l.px());
        else bk.bids[l.px()] = l.qty();
      } else {
        if (is_zero(l.qty())) bk.asks.erase(l.px());
        else bk.asks[l.px()] = l.qty();
      }
    }
    okx_checksum_builder<crc32_state> crc;  // bus/include/mdbus/okx_checksum.hpp, over the decimals' text
    auto bi = bk.bids.begin();
    auto ai = bk.asks.begin();
    okx_checksum_walk(bk.bids.size(), bk.asks.size(), [&](bool is_bid, std::size_t) {
      const auto& [px, qty] = is_bid ? *bi++ : *ai++;
      crc.add(px, qty);
    });
    REQUIRE(b.checksum().has_value());
    CHECK(*b.checksum() == crc.value());
    ++verified;
  }
  CHECK(messages == 410);
  CHECK(events == 18);
  CHECK(records == 392);
  CHECK(verified == 290);
}

TEST_CASE("okx: corrupted recorded messages never crash and never yield an invalid record") {
  auto a = make(venue::okx, 1000);  // small records, so snapshots are split too
  corrupt_and_parse(*a, read_lines(std::string(MDBUS_BENCH_DATA) + "/okx_v5.jsonl"), 20);
}

// OKX v5 "Mark price channel" and "Funding rate channel" (2026-12): the docs' push examples.
constexpr std::string_view kMarkPricePush =
    R"({"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP","markPx":"42310.6","ts":"1630049139746"}]})";
constexpr std::string_view kFundingRatePush =
    R"({"arg":{"channel":"funding-rate","instId":"BTC-USD-SWAP"},"data":[{"formulaType":"noRate","fundingRate":"0.0001875391284828","fundingTime":"1700726400000","impactValue":"","instId":"BTC-USD-SWAP","instType":"SWAP","interestRate":"0.0001","maxFundingRate":"0.00375","method":"current_period","minFundingRate":"-0.00375","nextFundingRate":"","nextFundingTime":"1700755200000","premium":"0.0001233824646391","settFundingRate":"0.0001699799259033","settState":"settled","ts":"1700724675402"}]})";

TEST_CASE("okx: mark-price and funding-rate → mark_funding records carrying only what the channel sent") {
  auto a = make(venue::okx);
  vector_sink sink;
  const std::vector<subscription> subs{{channel::okx_mark_price, "BTC-USDT-SWAP", ""}, {channel::okx_funding_rate, "BTC-USD-SWAP", ""}};
  const auto msgs = a->subscribe_messages(subs);
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0] ==
        R"({"id":"1","op":"subscribe","args":[{"channel":"mark-price","instId":"BTC-USDT-SWAP"},{"channel":"funding-rate","instId":"BTC-USD-SWAP"}]})");
  a->set_subscriptions(subs);

  REQUIRE(parse(*a, kMarkPricePush, sink).error == parse_error::none);
  REQUIRE(sink.size() == 1);
  mark_funding_record m = sink.mark_funding(0);
  check_stream(m.header, channel::okx_mark_price, "BTC-USDT-SWAP");
  CHECK(m.header.flags == kHeaderHasSeq);  // no id: ts orders the pushes
  CHECK(m.header.seq == 1630049139746ULL);
  CHECK(m.header.venue_time_ns == 1630049139746LL * 1'000'000);
  CHECK(m.fields == kHasMarkPx);
  CHECK(same(m.mark_px(), "42310.6"));

  sink.clear();
  REQUIRE(parse(*a, kFundingRatePush, sink).error == parse_error::none);
  REQUIRE(sink.size() == 1);
  m = sink.mark_funding(0);
  check_stream(m.header, channel::okx_funding_rate, "BTC-USD-SWAP");
  CHECK(m.header.venue_time_ns == 1700724675402LL * 1'000'000);
  CHECK(m.header.seq == 1700724675402ULL);
  CHECK(m.fields == (kHasFundingRate | kHasFundingTime));
  CHECK(same(m.funding_rate(), "0.0001875391284828"));
  CHECK(m.funding_time_ns == 1700726400000LL * 1'000'000);

  SUBCASE("bad elements: an error, no record") {
    const std::pair<std::string_view, parse_error> bad[] = {
        {R"({"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP","ts":"1"}]})",
         parse_error::missing_field},
        {R"({"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP","markPx":"-1","ts":"1"}]})",
         parse_error::invalid_value},
        {R"({"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"data":[{"instId":"ETH-USDT-SWAP","markPx":"1","ts":"1"}]})",
         parse_error::unknown_stream},
        {R"({"arg":{"channel":"funding-rate","instId":"BTC-USD-SWAP"},"data":[{"fundingRate":"0.1","ts":"1"}]})",
         parse_error::missing_field},
        {R"({"arg":{"channel":"funding-rate","instId":"BTC-USD-SWAP"},"data":[{"fundingRate":"","fundingTime":"2","ts":"1"}]})",
         parse_error::bad_number},
        {R"({"arg":{"channel":"funding-rate","instId":"BTC-USD-SWAP"},"data":[{"fundingRate":"0.1","fundingTime":"0","ts":"1"}]})",
         parse_error::invalid_value},
    };
    for (const auto& [text, want] : bad) {
      CAPTURE(text);
      sink.clear();
      CHECK(parse(*a, text, sink).error == want);
      CHECK(sink.size() == 0);
    }
  }
}

TEST_CASE("okx: funding-rate on a spot instId is refused at set-up, mark-price is not") {
  auto a = make(venue::okx);
  CHECK_THROWS_WITH_AS((void)a->subscribe_messages(std::vector<subscription>{{channel::okx_funding_rate, "BTC-USDT", ""}}),
                       "okx: funding-rate is for perpetual swaps (an instId ending in -SWAP), not \"BTC-USDT\"", std::invalid_argument);
  CHECK(a->subscribe_messages(std::vector<subscription>{{channel::okx_mark_price, "BTC-USDT", ""}}).size() == 1);
}

TEST_CASE("okx: perpetuals are checked against instType SWAP, spot against SPOT, a mix instId by instId") {
  auto a = make(venue::okx);
  const std::vector<std::string> swaps{"BTC-USDT-SWAP", "ETH-USDT-SWAP"};
  const std::vector<std::string> mixed{"BTC-USDT", "BTC-USDT-SWAP"};
  CHECK(a->instruments_path(swaps) == "/api/v5/public/instruments?instType=SWAP");
  CHECK(a->instruments_path(std::span(swaps).first(1)) == "/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP");
  CHECK(a->instruments_path(std::span(mixed).first(1)) == "/api/v5/public/instruments?instType=SPOT&instId=BTC-USDT");
  const std::string swap_list =
      R"({"code":"0","msg":"","data":[{"instId":"BTC-USDT-SWAP","instType":"SWAP","ctVal":"0.01","state":"live"},{"instId":"ETH-USDT-SWAP","instType":"SWAP","ctVal":"0.1","state":"live"}]})";
  CHECK(a->check_instruments(200, swap_list, swaps).result == instrument_check::outcome::ok);
  CHECK(a->check_instruments(200, swap_list, mixed).result == instrument_check::outcome::ask_each);
  // The reference data the list gives: one instrument record per symbol, for the feeder to publish.
  const auto listed = a->check_instruments(
      200,
      R"({"code":"0","msg":"","data":[{"instId":"BTC-USDT-SWAP","instType":"SWAP","ctVal":"0.01","ctValCcy":"BTC","tickSz":"0.1","lotSz":"0.01","state":"live"},)"
      R"({"instId":"ETH-USDT-SWAP","instType":"SWAP","ctVal":"0.1","ctValCcy":"ETH","tickSz":"0.01","lotSz":"0.01","state":"live"}]})",
      swaps);
  REQUIRE(listed.result == instrument_check::outcome::ok);
  REQUIRE(listed.instruments.size() == 2);
  CHECK(listed.instruments[1].header.symbol_view() == "ETH-USDT-SWAP");
  CHECK(listed.instruments[1].header.channel_id == channel::reference);
  CHECK(listed.instruments[1].kind == instrument_kind::perpetual);
  CHECK(same(listed.instruments[1].contract_value(), "0.1"));
  CHECK(listed.instruments[1].contract_currency_view() == "ETH");
  CHECK(same(listed.instruments[1].tick_size(), "0.01"));
  const auto spot = a->check_instruments(
      200, R"({"code":"0","data":[{"instId":"BTC-USDT","instType":"SPOT","baseCcy":"BTC","ctVal":"","tickSz":"0.1","lotSz":"0.00000001","state":"live"}]})",
      std::vector<std::string>{"BTC-USDT"});
  REQUIRE(spot.instruments.size() == 1);
  CHECK(spot.instruments[0].kind == instrument_kind::spot);
  CHECK(same(spot.instruments[0].contract_value(), "1"));  // a spot size is in the base currency
  CHECK(spot.instruments[0].contract_currency_view() == "BTC");
  const auto bad = a->check_instruments(
      200, R"({"code":"0","data":[{"instId":"BTC-USDT-SWAP","instType":"SWAP","ctVal":"-1","state":"live"}]})",
      std::vector<std::string>{"BTC-USDT-SWAP"});
  CHECK(bad.result == instrument_check::outcome::refused);
  CHECK(bad.instruments.empty());
  REQUIRE(bad.problems.size() == 1);
  CHECK(bad.problems[0] == R"("BTC-USDT-SWAP": instruments ctVal "-1" is not a positive decimal)");
  const auto refused = a->check_instruments(200, swap_list, std::vector<std::string>{"SOL-USDT-SWAP"});
  CHECK(refused.result == instrument_check::outcome::refused);
  REQUIRE(refused.problems.size() == 1);
  CHECK(refused.problems[0] == R"("SOL-USDT-SWAP" is not listed by OKX (public/instruments SWAP))");
}

TEST_CASE("okx: corrupted mark-price and funding-rate pushes never crash and never yield an invalid record") {
  auto a = make(venue::okx);
  corrupt_and_parse(*a, {std::string(kMarkPricePush), std::string(kFundingRatePush)}, 3000);
}

TEST_CASE("okx: history-trades rows (fills, newest first) are the stream's trade records, one per fill, flagged backfilled") {
  auto a = make(venue::okx);
  vector_sink sink;
  REQUIRE(parse(*a, kTradeNow, sink).records == 1);
  const trade_record stream_trade = sink.trade(0);
  sink.clear();
  const subscription trades{channel::okx_trades, "BTC-USDT", ""};
  const backfill_plan plan = a->backfill_plan_for(channel::okx_trades);
  CHECK(plan.available);
  CHECK(plan.newest_first);
  CHECK(plan.max_rows == 100);
  CHECK(plan.rest_cost == 2);  // 20 requests / 2 s against the books' 40
  CHECK_FALSE(a->backfill_plan_for(channel::okx_bbo_tbt).available);
  // OKX v5 "Get trades history": type=1 pages by tradeId, `after` = older than.
  CHECK(a->backfill_path(trades, 130639475, 500) ==
        "/api/v5/market/history-trades?instId=BTC-USDT&type=1&after=130639475&limit=100");
  CHECK_THROWS_AS((void)a->backfill_path({channel::okx_tickers, "BTC-USDT", ""}, 1, 1), std::invalid_argument);

  // The three fills of the stream's trade 130639474 (count 3) and one older; ids 130639472..130639473 asked.
  sink.message = simdjson::padded_string(std::string(
      R"({"code":"0","msg":"","data":[)"
      R"({"instId":"BTC-USDT","side":"sell","sz":"0.1","px":"42219.9","source":"0","tradeId":"130639474","ts":"1630048897897"},)"
      R"({"instId":"BTC-USDT","side":"sell","sz":"0.02","px":"42219.9","source":"0","tradeId":"130639473","ts":"1630048897897"},)"
      R"({"instId":"BTC-USDT","side":"sell","sz":"0.00060306","px":"42219.9","source":"0","tradeId":"130639472","ts":"1630048897897"},)"
      R"({"instId":"BTC-USDT","side":"buy","sz":"1","px":"42219.8","source":"0","tradeId":"130639470","ts":"1630048897001"}]})"));
  backfill_page page;
  const parse_result r = a->parse_backfill(trades, sink.message, 130639472, 130639473, kReceiveNs, sink, page);
  CHECK(r.error == parse_error::none);
  CHECK(r.records == 2);
  CHECK(page.rows == 4);
  CHECK(page.first_id == 130639470);  // the lowest id: where the next page starts below
  CHECK(page.last_id == 130639474);
  CHECK(page.written == 2);
  const trade_record t = sink.trade(0);
  CHECK(t.header.seq == 130639473);  // as the page lists them: newest first (the feeder orders them)
  CHECK(t.header.flags == (stream_trade.header.flags | kHeaderBackfilled));
  CHECK(t.header.symbol_view() == "BTC-USDT");
  CHECK(t.header.channel_id == channel::okx_trades);
  CHECK(t.px() == stream_trade.px());
  CHECK(t.qty() == decimal{2, -2});
  CHECK(t.aggressor == stream_trade.aggressor);
  CHECK(t.trade_count == 1);  // a fill
  CHECK(t.header.venue_time_ns == 1'630'048'897'897'000'000);
  CHECK(sink.trade(1).header.seq == 130639472);
  sink.clear();

  const auto refused = [&](std::string text, parse_error want) {
    sink.message = simdjson::padded_string(text);
    const parse_result p = a->parse_backfill(trades, sink.message, 1, 1'000'000'000, kReceiveNs, sink, page);
    CHECK(p.error == want);
    CHECK(sink.size() == 0);
    CHECK(page.rows == 0);
  };
  refused(R"({"code":"51001","msg":"Instrument ID does not exist","data":[]})", parse_error::venue_error);
  refused(R"({"code":"0","msg":"","data":[{"instId":"BTC-USDT","side":"buy","sz":"1","px":"1","tradeId":"5","ts":"1"},)"
          R"({"instId":"BTC-USDT","side":"buy","sz":"1","px":"1","tradeId":"6","ts":"1"}]})",
          parse_error::invalid_value);  // ids must go down
  refused(R"({"code":"0","msg":"","data":[{"instId":"BTC-USDT","side":"buy","sz":"0","px":"1","tradeId":"5","ts":"1"}]})",
          parse_error::invalid_value);
  refused(R"({"code":"0","msg":"","data":[{"instId":"ETH-USDT","side":"buy","sz":"1","px":"1","tradeId":"5","ts":"1"}]})",
          parse_error::unknown_stream);  // another instrument's fills
  refused(R"({"code":"0","msg":"","data":[{"instId":"BTC-USDT","side":"buy","px":"1","tradeId":"5","ts":"1"}]})",
          parse_error::missing_field);
  refused(R"({"code":"0","msg":""})", parse_error::missing_field);
  refused(R"({"code":"0","data":[{"tradeId":)", parse_error::not_json);
  // An empty page: the venue has nothing older.
  sink.message = simdjson::padded_string(std::string(R"({"code":"0","msg":"","data":[]})"));
  CHECK(a->parse_backfill(trades, sink.message, 1, 9, kReceiveNs, sink, page).error == parse_error::none);
  CHECK(page.rows == 0);
}
