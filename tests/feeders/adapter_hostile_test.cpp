// Hostile messages: each of these once became a record. A bad message must be counted (its
// parse_error), dropped whole, and leave nothing in the sink (venue_adapter.hpp
// "Atomicity": a message is all or nothing). Every test checks both the reason and the
// empty sink, per venue.
#include "feeders/venue_adapter.hpp"
#include "tests/feeders/adapter_test_support.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace mdbus;
using namespace mdbus::feed;
using namespace mdbus::feed::test;

namespace {

// Real shapes (hftbacktest spot capture 2024-08-08, cryptofeed captures; see
// binance_adapter_test.cpp and okx_adapter_test.cpp).
constexpr std::string_view kTrade =
    R"({"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}})";
constexpr std::string_view kAggTrade =
    R"({"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,"s":"BTCUSDT","a":15683430,"p":"0.35280000","q":"58.00000000","f":19862790,"l":19862790,"T":1633998523963,"m":false,"M":true}})";
constexpr std::string_view kBookTicker =
    R"({"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}})";
constexpr std::string_view kDepth =
    R"({"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255308,"s":"BTCUSDT","U":50093239203,"u":50093239207,"b":[["55653.87000000","0.00000000"]],"a":[["61838.04000000","0.32332000"]]}})";

constexpr std::string_view kOkxTrade =
    R"({"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"sell","ts":"1630048897897","count":"3"}]})";
constexpr std::string_view kOkxTwoTrades =
    R"({"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"10","px":"2000.1","sz":"1","side":"buy","ts":"1"},{"instId":"BTC-USDT","tradeId":"12","px":"2000.2","sz":"2","side":"sell","ts":"2"}]})";
constexpr std::string_view kOkxBooksUpdate =
    R"({"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["8476.98","0","0","0"],["8478","12","0","3"]],"bids":[],"ts":"1597026383185","checksum":0,"prevSeqId":123456,"seqId":123460}]})";
constexpr std::string_view kOkxTicker =
    R"({"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT","last":"30236","askPx":"30228.7","askSz":"1.55896972","bidPx":"30228.6","bidSz":"0.23393","ts":"1652459224956"}]})";
constexpr std::string_view kOkxBbo =
    R"({"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[["111.06","55154","0","2"]],"bids":[["111.05","57745","0","2"]],"ts":"1670324386802","seqId":363996337}]})";

std::string replace(std::string_view text, std::string_view from, std::string_view to) {
  std::string s(text);
  const auto at = s.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, "'" << from << "' not in the message");
  s.replace(at, from.size(), to);
  return s;
}

/// Parse and expect the message refused for `why`, with nothing in the sink.
void refused(venue_adapter& a, std::string_view msg, parse_error why) {
  vector_sink sink;
  CAPTURE(msg);
  const auto r = parse(a, msg, sink);
  CHECK(r.error == why);
  CHECK(r.records == 0);
  CHECK(sink.size() == 0);
}

/// Parse and expect `n` records and no error.
void accepted(venue_adapter& a, std::string_view msg, std::uint32_t n = 1) {
  vector_sink sink;
  CAPTURE(msg);
  const auto r = parse(a, msg, sink);
  CHECK(r.error == parse_error::none);
  CHECK(r.records == n);
  CHECK(sink.size() == n);
}

std::unique_ptr<venue_adapter> binance_subscribed() {
  auto a = make(venue::binance);
  const subscription subs[] = {{channel::binance_trade, "BTCUSDT", ""},
                               {channel::binance_agg_trade, "BTCUSDT", ""},
                               {channel::binance_book_ticker, "BTCUSDT", ""},
                               {channel::binance_depth, "BTCUSDT", "100ms"},
                               {channel::binance_depth_partial, "BTCUSDT", "5@100ms"}};
  a->set_subscriptions(subs);
  return a;
}

std::unique_ptr<venue_adapter> okx_subscribed() {
  auto a = make(venue::okx);
  const subscription subs[] = {{channel::okx_trades, "BTC-USDT", ""},
                               {channel::okx_books, "BTC-USDT", ""},
                               {channel::okx_tickers, "BTC-USDT", ""},
                               {channel::okx_bbo_tbt, "BTC-USDT", ""}};
  a->set_subscriptions(subs);
  return a;
}

}  // namespace

// ---- 1. Truncated JSON ------------------------------------------------------------------
// On Demand reads lazily: the event was decoded before the missing '}' was noticed. Records
// are staged and only committed once at_document_end() holds.

TEST_CASE("adapter hostile binance: a message missing its final brace writes no record") {
  auto a = binance_subscribed();
  for (const std::string_view m : {kTrade, kAggTrade, kBookTicker, kDepth}) {
    accepted(*a, m);
    refused(*a, m.substr(0, m.size() - 1), parse_error::not_json);
  }
  // Raw stream (the event is the root) and data before stream (read after the loop).
  const std::string raw = R"({"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.5","q":"2","m":true})";
  accepted(*a, raw);
  refused(*a, std::string_view(raw).substr(0, raw.size() - 1), parse_error::not_json);
  const std::string swapped = R"({"data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.5","q":"2","m":true},"stream":"btcusdt@trade"})";
  accepted(*a, swapped);
  refused(*a, std::string_view(swapped).substr(0, swapped.size() - 1), parse_error::not_json);
}

TEST_CASE("adapter hostile okx: a message missing its final brace writes no record") {
  auto a = okx_subscribed();
  for (const std::string_view m : {kOkxTrade, kOkxBooksUpdate, kOkxTicker, kOkxBbo}) {
    accepted(*a, m);
    refused(*a, m.substr(0, m.size() - 1), parse_error::not_json);
  }
  // Several elements: none of them is written (all or nothing), truncated or with a bad last one.
  accepted(*a, kOkxTwoTrades, 2);
  refused(*a, kOkxTwoTrades.substr(0, kOkxTwoTrades.size() - 1), parse_error::not_json);
  refused(*a, kOkxTwoTrades.substr(0, kOkxTwoTrades.size() - 2), parse_error::not_json);
  refused(*a, replace(kOkxTwoTrades, R"("px":"2000.2")", R"("px":"x")"), parse_error::bad_number);
}

TEST_CASE("adapter hostile binance: a REST snapshot body missing its final brace writes no record") {
  auto a = make(venue::binance);
  const subscription sub{channel::binance_depth, "BTCUSDT", ""};
  const std::string body = R"({"lastUpdateId":5,"bids":[["1.5","2"]],"asks":[["1.6","3"]]})";
  vector_sink sink;
  CHECK(parse_snapshot(*a, sub, body, sink).records == 1);
  sink.clear();
  const auto r = parse_snapshot(*a, sub, body.substr(0, body.size() - 1), sink);
  CHECK(r.error == parse_error::not_json);
  CHECK(sink.size() == 0);
}

TEST_CASE("adapter hostile okx: a REST snapshot body missing its final brace writes no record") {
  auto a = make(venue::okx);
  const subscription sub{channel::okx_books, "BTC-USDT", ""};
  const std::string body = R"({"code":"0","msg":"","data":[{"asks":[["8476.98","415","0","13"]],"bids":[],"ts":"1","seqId":5}]})";
  vector_sink sink;
  CHECK(parse_snapshot(*a, sub, body, sink).records == 1);
  sink.clear();
  const auto r = parse_snapshot(*a, sub, body.substr(0, body.size() - 1), sink);
  CHECK(r.error == parse_error::not_json);
  CHECK(sink.size() == 0);
}

// ---- 2. Prices and quantities out of range ---------------------------------------------

TEST_CASE("adapter hostile binance: zero or negative trade prices and zero trade quantities are invalid_value") {
  auto a = binance_subscribed();
  // web-socket-streams.md "Trade Streams" / "Aggregate Trade Streams": p is the price, q the
  // quantity of a trade that happened.
  refused(*a, replace(kTrade, R"("p":"61837.63000000")", R"("p":"0.00000000")"), parse_error::invalid_value);
  refused(*a, replace(kTrade, R"("p":"61837.63000000")", R"("p":"-61837.63000000")"), parse_error::invalid_value);
  refused(*a, replace(kTrade, R"("q":"0.02000000")", R"("q":"0.00000000")"), parse_error::invalid_value);
  refused(*a, replace(kTrade, R"("q":"0.02000000")", R"("q":"-0.02000000")"), parse_error::bad_number);
  refused(*a, replace(kAggTrade, R"("p":"0.35280000")", R"("p":"0")"), parse_error::invalid_value);
  refused(*a, replace(kAggTrade, R"("q":"58.00000000")", R"("q":"0")"), parse_error::invalid_value);
}

TEST_CASE("adapter hostile binance: book levels need a price above zero, a quantity of 0 still deletes") {
  auto a = binance_subscribed();
  refused(*a, replace(kDepth, R"("61838.04000000","0.32332000")", R"("0.00000000","0.32332000")"), parse_error::invalid_value);
  refused(*a, replace(kDepth, R"("55653.87000000","0.00000000")", R"("-55653.87000000","0.00000000")"), parse_error::invalid_value);
  refused(*a, replace(kDepth, R"("61838.04000000","0.32332000")", R"("61838.04000000","-0.32332000")"), parse_error::bad_number);
  accepted(*a, kDepth);  // its bid has quantity 0: a delete (web-socket-streams.md "How to manage a local order book")
  const std::string partial = R"({"stream":"btcusdt@depth5@100ms","data":{"lastUpdateId":160,"bids":[["0","10"]],"asks":[]}})";
  refused(*a, partial, parse_error::invalid_value);
}

TEST_CASE("adapter hostile binance: a bookTicker side with a quantity needs a price above zero") {
  auto a = binance_subscribed();
  refused(*a, replace(kBookTicker, R"("b":"61837.63000000")", R"("b":"0.00000000")"), parse_error::invalid_value);
  refused(*a, replace(kBookTicker, R"("a":"61837.64000000")", R"("a":"-1")"), parse_error::invalid_value);
  // An empty side reads 0 / 0: kept, as a zero level.
  accepted(*a, replace(replace(kBookTicker, R"("b":"61837.63000000")", R"("b":"0.00000000")"), R"("B":"3.78826000")",
                       R"("B":"0.00000000")"));
}

TEST_CASE("adapter hostile okx: zero or negative trade prices and zero trade sizes are invalid_value") {
  auto a = okx_subscribed();
  refused(*a, replace(kOkxTrade, R"("px":"42219.9")", R"("px":"0")"), parse_error::invalid_value);
  refused(*a, replace(kOkxTrade, R"("px":"42219.9")", R"("px":"-42219.9")"), parse_error::invalid_value);
  refused(*a, replace(kOkxTrade, R"("sz":"0.12060306")", R"("sz":"0")"), parse_error::invalid_value);
  refused(*a, replace(kOkxTrade, R"("sz":"0.12060306")", R"("sz":"-0.1")"), parse_error::bad_number);
}

TEST_CASE("adapter hostile okx: book and bbo-tbt levels need a price above zero, size 0 still deletes") {
  auto a = okx_subscribed();
  // "Order book channel": levels are [price, size, "0", orders]; size "0" deletes the price level.
  refused(*a, replace(kOkxBooksUpdate, R"(["8478","12","0","3"])", R"(["0","12","0","3"])"), parse_error::invalid_value);
  refused(*a, replace(kOkxBooksUpdate, R"(["8476.98","0","0","0"])", R"(["-8476.98","0","0","0"])"), parse_error::invalid_value);
  accepted(*a, kOkxBooksUpdate);  // its first ask has size 0: a delete
  refused(*a, replace(kOkxBbo, R"(["111.05","57745","0","2"])", R"(["0","57745","0","2"])"), parse_error::invalid_value);
}

TEST_CASE("adapter hostile okx: a tickers side with a size needs a price above zero") {
  auto a = okx_subscribed();
  refused(*a, replace(kOkxTicker, R"("bidPx":"30228.6")", R"("bidPx":"0")"), parse_error::invalid_value);
  refused(*a, replace(kOkxTicker, R"("askPx":"30228.7")", R"("askPx":"-30228.7")"), parse_error::invalid_value);
  // An empty side is "" / "" (illiquid instrument): kept as a zero level.
  accepted(*a, replace(replace(kOkxTicker, R"("bidPx":"30228.6")", R"("bidPx":"")"), R"("bidSz":"0.23393")", R"("bidSz":"")"));
}

// ---- 3. Sequence fields that contradict themselves -------------------------------------

TEST_CASE("adapter hostile binance: a depthUpdate with U greater than u is invalid_value") {
  // web-socket-streams.md "Diff. Depth Stream": U is the first update id in the event, u the
  // final one; U == u for an event of one update.
  auto a = binance_subscribed();
  refused(*a, replace(kDepth, R"("U":50093239203)", R"("U":50093239208)"), parse_error::invalid_value);
  accepted(*a, replace(kDepth, R"("U":50093239203)", R"("U":50093239207)"));
  const std::string raw = R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":9,"u":8,"b":[],"a":[]})";
  refused(*a, raw, parse_error::invalid_value);
}

TEST_CASE("adapter hostile binance: an aggTrade whose first trade id is after its last is invalid_value") {
  // web-socket-streams.md "Aggregate Trade Streams": f first trade id, l last trade id.
  auto a = binance_subscribed();
  refused(*a, replace(kAggTrade, R"("f":19862790)", R"("f":19862791)"), parse_error::invalid_value);
}

TEST_CASE("adapter hostile okx: a negative seqId or a prevSeqId below -1 is refused") {
  // "Order book channel": prevSeqId is -1 on a snapshot, else the previous message's seqId.
  auto a = okx_subscribed();
  refused(*a, replace(kOkxBooksUpdate, R"("seqId":123460)", R"("seqId":-1)"), parse_error::bad_number);
  refused(*a, replace(kOkxBooksUpdate, R"("prevSeqId":123456)", R"("prevSeqId":-2)"), parse_error::invalid_value);
  accepted(*a, replace(kOkxBooksUpdate, R"("prevSeqId":123456)", R"("prevSeqId":-1)"));
  refused(*a, replace(kOkxBbo, R"("seqId":363996337)", R"("seqId":-363996337)"), parse_error::bad_number);
}

// ---- 4. Streams we did not subscribe to ------------------------------------------------

TEST_CASE("adapter hostile binance: combined streams outside the subscriptions are unknown_stream") {
  auto a = binance_subscribed();
  refused(*a, replace(kTrade, "btcusdt@trade", "ethusdt@trade"), parse_error::unknown_stream);
  // Same symbol, same channel, another speed: a stream of its own (web-socket-streams.md
  // "Diff. Depth Stream": <symbol>@depth or <symbol>@depth@100ms).
  refused(*a, replace(kDepth, "btcusdt@depth@100ms", "btcusdt@depth"), parse_error::unknown_stream);
  refused(*a, replace(kDepth, "btcusdt@depth@100ms", "btcusdt@depth10@100ms"), parse_error::unknown_stream);
  refused(*a, replace(kTrade, "btcusdt@trade", "BTCUSDT@trade"), parse_error::unknown_stream);
  // Without set_subscriptions() the adapter takes any stream it decodes (tools, replays).
  auto open = make(venue::binance);
  accepted(*open, replace(replace(kTrade, "btcusdt@trade", "ethusdt@trade"), R"("s":"BTCUSDT")", R"("s":"ETHUSDT")"));
}

TEST_CASE("adapter hostile binance: raw events outside the subscriptions are unknown_stream") {
  auto a = binance_subscribed();
  accepted(*a, R"({"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.5","q":"2","m":true})");
  refused(*a, R"({"e":"trade","E":1,"s":"ETHUSDT","t":1,"p":"1.5","q":"2","m":true})", parse_error::unknown_stream);
  accepted(*a, R"({"e":"depthUpdate","E":1,"s":"BTCUSDT","U":8,"u":9,"b":[],"a":[]})");
  refused(*a, R"({"e":"depthUpdate","E":1,"s":"BNBUSDT","U":8,"u":9,"b":[],"a":[]})", parse_error::unknown_stream);
  refused(*a, R"({"u":5,"s":"ETHUSDT","b":"1","B":"1","a":"2","A":"1"})", parse_error::unknown_stream);
}

TEST_CASE("adapter hostile binance: an event whose s disagrees with the combined stream name is unknown_stream") {
  auto a = binance_subscribed();
  refused(*a, replace(kTrade, R"("s":"BTCUSDT")", R"("s":"ETHUSDT")"), parse_error::unknown_stream);
  refused(*a, replace(kDepth, R"("s":"BTCUSDT")", R"("s":"BTCUSDC")"), parse_error::unknown_stream);
  refused(*a, replace(kBookTicker, R"("s":"BTCUSDT")", R"("s":"ETHUSDT")"), parse_error::unknown_stream);
  refused(*a, replace(kAggTrade, R"("s":"BTCUSDT")", R"("s":"ETHUSDT")"), parse_error::unknown_stream);
  // An event type that is not the stream's: the payload belongs to another stream.
  refused(*a, replace(kTrade, R"("e":"trade")", R"("e":"aggTrade")"), parse_error::unexpected_shape);
}

TEST_CASE("adapter hostile okx: pushes outside the subscriptions are unknown_stream") {
  auto a = okx_subscribed();
  refused(*a, replace(kOkxTrade, R"("instId":"BTC-USDT"},)", R"("instId":"ETH-USDT"},)"), parse_error::unknown_stream);
  // The books5 channel of a subscribed instrument is still another stream.
  const std::string books5 =
      R"({"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[["111.06","55154","0","2"]],"bids":[],"instId":"BTC-USDT","ts":"1","seqId":1}]})";
  refused(*a, books5, parse_error::unknown_stream);
  // data before arg: checked once arg is known.
  refused(*a, R"({"data":[{"tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1"}],"arg":{"channel":"trades","instId":"LTC-USDT"}})",
          parse_error::unknown_stream);
  accepted(*a, R"({"data":[{"tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1"}],"arg":{"channel":"trades","instId":"BTC-USDT"}})");
  // Acks and errors are not data: never refused for their stream.
  vector_sink sink;
  CHECK(parse(*a, R"({"event":"subscribe","arg":{"channel":"trades","instId":"ETH-USDT"},"connId":"a"})", sink).event ==
        control_event::subscribed);
}

TEST_CASE("adapter hostile okx: a data element whose instId differs from arg.instId is unknown_stream") {
  auto a = okx_subscribed();
  refused(*a, replace(kOkxTrade, R"([{"instId":"BTC-USDT")", R"([{"instId":"ETH-USDT")"), parse_error::unknown_stream);
  refused(*a, replace(kOkxTicker, R"("instId":"BTC-USDT","last")", R"("instId":"ETH-USDT","last")"), parse_error::unknown_stream);
  // The second of two trades belongs elsewhere: neither is written.
  refused(*a, replace(kOkxTwoTrades, R"({"instId":"BTC-USDT","tradeId":"12")", R"({"instId":"BTC-USDC","tradeId":"12")"),
          parse_error::unknown_stream);
}

// ---- 5. Duplicate keys -----------------------------------------------------------------
// RFC 8259: names within an object SHOULD be unique; with a repeat, which value the venue
// meant is unknowable. Any key the adapter reads may appear once.

TEST_CASE("adapter hostile binance: a repeated key the adapter reads is duplicate_key") {
  auto a = binance_subscribed();
  const std::string data = R"("data":{"e":"trade","E":1,"s":"BTCUSDT","t":2,"p":"1.5","q":"2","m":true})";
  refused(*a, replace(kTrade, "}}", "}," + data + "}"), parse_error::duplicate_key);
  refused(*a, R"({"data":{"e":"trade","E":1,"s":"BTCUSDT","t":2,"p":"1.5","q":"2","m":true},)" + data +
                  R"(,"stream":"btcusdt@trade"})",
          parse_error::duplicate_key);
  refused(*a, replace(kTrade, R"("stream":"btcusdt@trade")", R"("stream":"btcusdt@trade","stream":"btcusdt@trade")"),
          parse_error::duplicate_key);
  refused(*a, replace(kTrade, R"("p":"61837.63000000")", R"("p":"61837.63000000","p":"1.00000000")"), parse_error::duplicate_key);
  refused(*a, replace(kTrade, R"("t":3735683259)", R"("t":3735683259,"t":3735683260)"), parse_error::duplicate_key);
  refused(*a, replace(kTrade, R"("s":"BTCUSDT")", R"("s":"BTCUSDT","s":"BTCUSDT")"), parse_error::duplicate_key);
  refused(*a, replace(kTrade, R"("e":"trade")", R"("e":"trade","e":"trade")"), parse_error::duplicate_key);
  refused(*a, replace(kAggTrade, R"("a":15683430)", R"("a":15683430,"a":15683431)"), parse_error::duplicate_key);
  refused(*a, replace(kBookTicker, R"("u":50093239212)", R"("u":50093239212,"u":1)"), parse_error::duplicate_key);
  refused(*a, replace(kDepth, R"("a":[)", R"("a":[],"a":[)"), parse_error::duplicate_key);
  refused(*a, replace(kDepth, R"("U":50093239203)", R"("U":50093239203,"U":50093239203)"), parse_error::duplicate_key);
  refused(*a, R"({"stream":"btcusdt@depth5@100ms","data":{"lastUpdateId":160,"bids":[],"asks":[],"bids":[["1","1"]]}})",
          parse_error::duplicate_key);
  // Raw stream: the root is the event.
  refused(*a, R"({"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.5","q":"2","m":true,"q":"3"})", parse_error::duplicate_key);
}

TEST_CASE("adapter hostile okx: a repeated key the adapter reads is duplicate_key") {
  auto a = okx_subscribed();
  refused(*a, replace(kOkxTrade, "]}", R"(],"data":[{"tradeId":"2","px":"1","sz":"1","side":"buy","ts":"1"}]})"),
          parse_error::duplicate_key);
  refused(*a, replace(kOkxTrade, R"("arg":)", R"("arg":{"channel":"trades","instId":"BTC-USDT"},"arg":)"), parse_error::duplicate_key);
  refused(*a, replace(kOkxTrade, R"("instId":"BTC-USDT"},)", R"("instId":"BTC-USDT","instId":"ETH-USDT"},)"),
          parse_error::duplicate_key);
  refused(*a, replace(kOkxTrade, R"("channel":"trades")", R"("channel":"trades","channel":"books")"), parse_error::duplicate_key);
  refused(*a, replace(kOkxTrade, R"("px":"42219.9")", R"("px":"42219.9","px":"1")"), parse_error::duplicate_key);
  refused(*a, replace(kOkxTrade, R"("tradeId":"130639474")", R"("tradeId":"130639474","tradeId":"1")"), parse_error::duplicate_key);
  refused(*a, replace(kOkxBooksUpdate, R"("action":"update")", R"("action":"update","action":"snapshot")"), parse_error::duplicate_key);
  refused(*a, replace(kOkxBooksUpdate, R"("bids":[])", R"("bids":[],"bids":[["1","1","0","1"]])"), parse_error::duplicate_key);
  refused(*a, replace(kOkxBooksUpdate, R"("seqId":123460)", R"("seqId":123460,"seqId":123461)"), parse_error::duplicate_key);
  refused(*a, replace(kOkxBooksUpdate, R"("prevSeqId":123456)", R"("prevSeqId":123456,"prevSeqId":1)"), parse_error::duplicate_key);
  refused(*a, replace(kOkxTicker, R"("bidPx":"30228.6")", R"("bidPx":"30228.6","bidPx":"1")"), parse_error::duplicate_key);
  // A REST body with two data arrays.
  vector_sink sink;
  const auto r = parse_snapshot(*a, {channel::okx_books, "BTC-USDT", ""},
                                R"({"code":"0","data":[{"asks":[],"bids":[],"ts":"1"}],"data":[{"asks":[],"bids":[],"ts":"2"}]})", sink);
  CHECK(r.error == parse_error::duplicate_key);
  CHECK(sink.size() == 0);
}

TEST_CASE("adapter hostile okx: an event that also carries data is unexpected_shape") {
  auto a = okx_subscribed();
  refused(*a, replace(kOkxTrade, R"("arg":)", R"("event":"subscribe","arg":)"), parse_error::unexpected_shape);
}

// ---- set-up ------------------------------------------------------------------------------

TEST_CASE("adapter set-up: set_subscriptions refuses what ws_path refuses, and a second call replaces the list") {
  auto b = make(venue::binance);
  const subscription bad_b[] = {{channel::binance_trade, "BTC USDT", ""}};
  CHECK_THROWS_AS(b->set_subscriptions(bad_b), std::invalid_argument);
  auto o = make(venue::okx);
  const subscription bad_o[] = {{channel::binance_trade, "BTC-USDT", ""}};
  CHECK_THROWS_AS(o->set_subscriptions(bad_o), std::invalid_argument);

  const subscription first[] = {{channel::binance_trade, "BTCUSDT", ""}};
  const subscription second[] = {{channel::binance_trade, "ETHUSDT", ""}};
  b->set_subscriptions(first);
  accepted(*b, kTrade);
  b->set_subscriptions(second);
  refused(*b, kTrade, parse_error::unknown_stream);
  accepted(*b, replace(replace(kTrade, "btcusdt@trade", "ethusdt@trade"), R"("s":"BTCUSDT")", R"("s":"ETHUSDT")"));
  // An empty list subscribes to nothing: every push is refused.
  o->set_subscriptions({});
  refused(*o, kOkxTrade, parse_error::unknown_stream);
}

TEST_CASE("adapter set-up: many subscriptions: every one is found, a near miss is not") {
  auto a = make(venue::okx);
  std::vector<subscription> subs;
  for (int i = 0; i < 1000; ++i) subs.push_back({channel::okx_trades, "C" + std::to_string(i) + "-USDT", ""});
  a->set_subscriptions(subs);
  for (int i = 0; i < 1000; i += 37) {
    const std::string inst = "C" + std::to_string(i) + "-USDT";
    const std::string msg = R"({"arg":{"channel":"trades","instId":")" + inst + R"("},"data":[{"tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1"}]})";
    accepted(*a, msg);
    refused(*a, replace(msg, R"("channel":"trades")", R"("channel":"tickers")"), parse_error::unknown_stream);
  }
  refused(*a, R"({"arg":{"channel":"trades","instId":"C1000-USDT"},"data":[{"tradeId":"1","px":"1","sz":"1","side":"buy","ts":"1"}]})",
          parse_error::unknown_stream);
}
