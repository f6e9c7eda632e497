// mdfeed against exsim over TLS: every record the feeder writes to its ring is one event of
// exsim's ground truth, per stream, in order, none lost, none doubled — over 10^5 events per
// venue. Sequence fields and venue times are checked against the truth log; prices,
// quantities and sides against the same events as an independent client received them
// (exsim sends every subscriber of a stream the same bytes; the truth hash proves it).
#include <doctest/doctest.h>

#include "mdbus/decimal.hpp"
#include "tests/feeders/mdfeed/mdfeed_test_support.hpp"
#include "tests/tools/exsim/ws_test_client.hpp"
#include "tools/exsim/truth_reader.hpp"

#include <algorithm>
#include <limits>
#include <map>

using namespace mdbus;
using namespace mdbus::test;

namespace {

constexpr std::size_t kEvents = 100'000;

/// One record as the test keeps it.
struct seen {
  record_type type{};
  std::uint64_t seq = 0, first_seq = 0;
  std::int64_t prev_seq = 0, venue_time_ns = 0;
  std::uint8_t flags = 0;
  std::string values;  ///< fingerprint of prices, quantities and sides
};

std::string dec(decimal d) { return std::to_string(d.mantissa) + "e" + std::to_string(d.exponent); }
std::string dec(const json& text) {
  decimal d{};
  const std::string s = text.get<std::string>();
  if (s.empty()) return "0e0";  // OKX tickers: "" for a side with no orders
  REQUIRE(parse_decimal(s, d) == parse_status::ok);
  return dec(d);
}
std::string level(book_side side, const std::string& px, const std::string& qty) {
  return std::string(to_string(side)) + ":" + px + "/" + qty;
}
/// Levels as a sorted list: the order a venue lists sides in is not part of the contract.
std::string levels(std::vector<std::string> l) {
  std::sort(l.begin(), l.end());
  std::string out;
  for (const auto& s : l) out += s + " ";
  return out;
}

/// Fingerprint of a record's values.
std::string values_of(const record_view& v) {
  if (auto t = v.trade()) return dec(t->px()) + " " + dec(t->qty()) + " " + std::string(to_string(t->aggressor));
  if (auto b = v.bbo()) return level(book_side::bid, dec(b->bid.px()), dec(b->bid.qty())) + " " + level(book_side::ask, dec(b->ask.px()), dec(b->ask.qty()));
  if (auto bk = v.book()) {
    std::vector<std::string> l;
    for (std::size_t i = 0; i < bk->level_count(); ++i) l.push_back(level(bk->level(i).side, dec(bk->level(i).px()), dec(bk->level(i).qty())));
    return levels(std::move(l));
  }
  return {};
}

/// The same fingerprint from the venue's JSON, for (stream, record type, key).
struct expected_key {
  std::string stream;
  record_type type;
  std::int64_t key;
  auto operator<=>(const expected_key&) const = default;
};

void json_levels(const json& arr, book_side side, std::vector<std::string>& out) {
  for (const auto& l : arr) out.push_back(level(side, dec(l[0]), dec(l[1])));
}

/// Binance combined-stream message → (key, fingerprint).
void expect_binance(const std::string& msg, std::map<expected_key, std::string>& out) {
  const json j = json::parse(msg);
  if (!j.contains("stream")) return;
  const std::string stream = j["stream"];
  const json& d = j["data"];
  const std::string kind = stream.substr(stream.find('@') + 1);
  if (kind == "trade" || kind == "aggTrade") {
    const std::int64_t id = d[kind == "trade" ? "t" : "a"];
    out[{stream, record_type::trade, id}] = dec(d["p"]) + " " + dec(d["q"]) + " " + (d["m"].get<bool>() ? "sell" : "buy");
  } else if (kind == "bookTicker") {
    out[{stream, record_type::bbo, d["u"].get<std::int64_t>()}] =
        level(book_side::bid, dec(d["b"]), dec(d["B"])) + " " + level(book_side::ask, dec(d["a"]), dec(d["A"]));
  } else if (d.contains("U")) {
    std::vector<std::string> l;
    json_levels(d["b"], book_side::bid, l);
    json_levels(d["a"], book_side::ask, l);
    out[{stream, record_type::book_delta, d["u"].get<std::int64_t>()}] = levels(std::move(l));
  } else {
    std::vector<std::string> l;
    json_levels(d["bids"], book_side::bid, l);
    json_levels(d["asks"], book_side::ask, l);
    out[{stream, record_type::book_snapshot, d["lastUpdateId"].get<std::int64_t>()}] = levels(std::move(l));
  }
}

/// OKX message → (key, fingerprint) per data element.
void expect_okx(const std::string& msg, std::map<expected_key, std::string>& out) {
  const json j = json::parse(msg);
  if (!j.contains("data")) return;
  const std::string ch = j["arg"]["channel"];
  const std::string stream = ch + ":" + j["arg"]["instId"].get<std::string>();
  for (const auto& d : j["data"]) {
    if (ch == "trades") {
      out[{stream, record_type::trade, std::stoll(d["tradeId"].get<std::string>())}] =
          dec(d["px"]) + " " + dec(d["sz"]) + " " + d["side"].get<std::string>();
    } else if (ch == "tickers") {
      out[{stream, record_type::bbo, std::stoll(d["ts"].get<std::string>())}] =
          level(book_side::bid, dec(d["bidPx"]), dec(d["bidSz"])) + " " + level(book_side::ask, dec(d["askPx"]), dec(d["askSz"]));
    } else if (ch == "bbo-tbt") {
      auto side = [&](const char* k, book_side s) {
        return d[k].empty() ? level(s, "0e0", "0e0") : level(s, dec(d[k][0][0]), dec(d[k][0][1]));
      };
      out[{stream, record_type::bbo, d["seqId"].get<std::int64_t>()}] = side("bids", book_side::bid) + " " + side("asks", book_side::ask);
    } else {
      std::vector<std::string> l;
      json_levels(d["bids"], book_side::bid, l);
      json_levels(d["asks"], book_side::ask, l);
      const bool snapshot = ch == "books5" || (j.contains("action") && j["action"] == "snapshot");
      out[{stream, snapshot ? record_type::book_snapshot : record_type::book_delta, d["seqId"].get<std::int64_t>()}] =
          levels(std::move(l));
    }
  }
}

/// The stream name exsim's truth log uses for a record.
std::string stream_of(const record_view& v) {
  const auto& h = v.header();
  std::string sym(h.symbol_view());
  if (h.venue_id == venue::okx) return std::string(to_string(h.channel_id)) + ":" + sym;
  std::transform(sym.begin(), sym.end(), sym.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  switch (h.channel_id) {
    case channel::binance_depth: return sym + "@depth@100ms";        // the only depth variant subscribed
    case channel::binance_depth_partial: return sym + "@depth20@100ms";
    default: return sym + "@" + std::string(to_string(h.channel_id));
  }
}

/// Whether truth entry `t` is the event record `r` came from.
bool same_event(channel ch, const exsim::truth_entry& t, const seen& r) {
  if (r.venue_time_ns != 0 && r.venue_time_ns != t.event_time_ms * 1'000'000) return false;
  switch (ch) {
    case channel::binance_agg_trade: return r.seq == static_cast<std::uint64_t>(t.first_seq) && static_cast<std::int64_t>(r.first_seq) == t.prev_seq;
    case channel::binance_depth: return r.first_seq == static_cast<std::uint64_t>(t.first_seq) && r.seq == static_cast<std::uint64_t>(t.last_seq);
    case channel::okx_tickers: return r.venue_time_ns == t.event_time_ms * 1'000'000;
    case channel::okx_books:
    case channel::okx_books_l2_tbt:
      return r.seq == static_cast<std::uint64_t>(t.last_seq) && r.prev_seq == t.prev_seq &&
             (r.type == record_type::book_snapshot) == ((t.flags & exsim::kTruthSnapshot) != 0);
    default: return r.seq == static_cast<std::uint64_t>(t.first_seq);
  }
}

struct venue_run {
  std::string venue;
  std::vector<std::string> symbols, channels;
  std::string raw_path;        ///< the independent client's URL path
  std::string raw_subscribe;   ///< and its subscribe request ("" for none)
  std::string rate;
};

void run_against_truth(const venue_run& run) {
  unique_bus bus;
  temp_dir dir;
  const std::string truth_path = dir.file("truth.bin");
  std::map<std::string, std::vector<seen>> received;  // stream → records in ring order
  std::map<std::string, channel> channel_of;
  std::map<expected_key, std::string> expected;
  std::size_t events = 0, slot_status = 0, value_checked = 0, raw_messages = 0, past_raw = 0;
  std::vector<std::string> value_mismatches;
  std::uint32_t raw_conn = 0;
  const venue v = *venue_from_string(run.venue);
  feeder_status_snapshot final_status;
  {
    exsim_process x(tls({"--rate", run.rate, "--truth-log", truth_path}));
    ws_loop raw(exsim_cert_dir() + "/ca.pem");
    auto& rc = raw.connect(x.venue_port(), run.raw_path, true);
    if (!run.raw_subscribe.empty()) rc.send(run.raw_subscribe);
    REQUIRE(raw.pump_until([&] { return rc.connected; }, 10s));
    raw_conn = exsim_conn_ids(x, run.raw_path).at(0);

    feed_setup s;
    s.bus = bus.name();
    s.venue = run.venue;
    s.port = x.venue_port();
    s.binance_rest_port = x.binance_rest_port();
    s.okx_rest_port = x.okx_rest_port();
    s.symbols = run.symbols;
    s.channels = run.channels;
    feeder_process f(write_config(dir.file("cfg.json"), s), run.venue, "A", dir.file("feeder.log"));
    ring_drain ring(feeder_ring_name(bus.name(), v, slot_id::a));

    auto on_record = [&](const record_view& r) {
      if (r.type() == record_type::slot_status) {
        ++slot_status;
        return;
      }
      if (r.type() == record_type::instrument) return;  // reference data from REST, not a venue event
      const std::string stream = stream_of(r);
      channel_of[stream] = r.header().channel_id;
      seen s2{r.type(), r.header().seq, r.header().first_seq, r.header().prev_seq, r.header().venue_time_ns, r.header().flags, values_of(r)};
      received[stream].push_back(std::move(s2));
      ++events;
    };
    auto drain_raw = [&] {
      while (!rc.messages.empty()) {
        const std::string m = rc.pop();
        ++raw_messages;
        if (run.venue == "binance") expect_binance(m, expected); else expect_okx(m, expected);
      }
    };
    const auto deadline = std::chrono::steady_clock::now() + 150s;
    while (events < kEvents && std::chrono::steady_clock::now() < deadline) {
      REQUIRE(f.running());
      raw.pump_for(1ms);
      drain_raw();
      ring.poll(on_record);
    }
    REQUIRE(events >= kEvents);
    CHECK(f.stop() == 0);
    ring.poll(on_record);  // what the feeder wrote before it stopped
    raw.pump_for(200ms);
    drain_raw();
    CHECK(ring.invalid() == 0);
    CHECK(ring.corrupt() == 0);
    final_status = open_status(bus.name(), v, slot_id::a).snapshot();
    x.stop();  // flushes the truth log
    INFO(f.log());
    CHECK(final_status.reconnects == 0);
    CHECK(final_status.ring_overflows == 0);
    CHECK(final_status.parse_errors_total == 0);
    CHECK(final_status.state == feeder_state::stopped);
  }

  // Ground truth per stream; OKX books snapshots sent on subscribe belong to one connection.
  exsim::truth_reader truth(truth_path);
  std::map<std::uint16_t, std::vector<exsim::truth_entry>> by_stream;
  while (auto e = truth.next())
    if (e->conn_id == 0 || e->conn_id != raw_conn) by_stream[e->stream_id].push_back(*e);

  std::size_t matched = 0;
  REQUIRE(received.size() == run.symbols.size() * run.channels.size());
  for (const auto& [stream, recs] : received) {
    INFO("stream " << stream);
    const auto* ts = truth.find(stream);
    REQUIRE(ts != nullptr);
    const auto& t = by_stream[ts->id];
    const channel ch = channel_of[stream];
    // The feeder joined the stream somewhere: from there on its records are exactly the
    // truth's events, one for one.
    std::size_t k = 0;
    while (k < t.size() && !same_event(ch, t[k], recs.front())) ++k;
    REQUIRE(k < t.size());
    REQUIRE(t.size() - k >= recs.size());
    for (std::size_t i = 0; i < recs.size(); ++i) {
      if (!same_event(ch, t[k + i], recs[i])) {
        FAIL_CHECK("record " << i << " (seq " << recs[i].seq << ") differs from truth entry " << k + i << " (first_seq "
                             << t[k + i].first_seq << ", last_seq " << t[k + i].last_seq << ")");
        break;
      }
      ++matched;
    }
    // The last key the independent client saw on this stream: records past it are the ones it
    // had not read yet when the test stopped (it runs in this process, and lags it under a
    // sanitizer on a busy machine), not records it could check.
    std::int64_t raw_last = std::numeric_limits<std::int64_t>::min();
    for (const auto& [key, values] : expected)
      if (key.stream == stream) raw_last = std::max(raw_last, key.key);
    for (const auto& r : recs) {
      const std::int64_t key = ch == channel::okx_tickers ? r.venue_time_ns / 1'000'000 : static_cast<std::int64_t>(r.seq);
      const auto it = expected.find({stream, r.type, key});
      if (it == expected.end()) {
        if (key > raw_last) ++past_raw;
        continue;  // the independent client joined later, or its own snapshot
      }
      ++value_checked;
      if (it->second != r.values && value_mismatches.size() < 5)
        value_mismatches.push_back(stream + " seq " + std::to_string(r.seq) + ": ring " + r.values + " | venue " + it->second);
    }
  }
  MESSAGE(run.venue << ": " << matched << " records matched the truth log; " << value_checked << " value-checked against "
                    << raw_messages << " messages of an independent client (" << past_raw
                    << " records came after its last); " << slot_status << " slot_status records");
  CHECK(matched == events);
  CHECK(matched >= kEvents);
  CHECK(value_mismatches.empty());
  for (const auto& m : value_mismatches) MESSAGE(m);
  CHECK(value_checked >= (events - past_raw) * 95 / 100);  // of the records both saw
  CHECK(value_checked >= kEvents / 4);                      // and that is many
  CHECK(slot_status >= 3);  // connecting, syncing, up (and down at the stop)
}

}  // namespace

TEST_CASE("mdfeed binance over TLS: 10^5 ring records match exsim's ground truth, values included") {
  venue_run r;
  r.venue = "binance";
  r.symbols = {"BTCUSDT", "ETHUSDT"};
  r.channels = {"trade", "aggTrade", "bookTicker", "depth@100ms", "depth20@100ms"};
  r.raw_path = "/stream?streams=btcusdt@trade/btcusdt@aggTrade/btcusdt@bookTicker/btcusdt@depth@100ms/btcusdt@depth20@100ms/"
               "ethusdt@trade/ethusdt@aggTrade/ethusdt@bookTicker/ethusdt@depth@100ms/ethusdt@depth20@100ms";
  r.rate = "12000";
  run_against_truth(r);
}

TEST_CASE("mdfeed okx over TLS: 10^5 ring records match exsim's ground truth, values included") {
  venue_run r;
  r.venue = "okx";
  r.symbols = {"BTC-USDT", "ETH-USDT"};
  r.channels = {"trades", "tickers", "bbo-tbt", "books", "books5"};
  r.raw_path = "/ws/v5/public";
  json args = json::array();
  for (const auto& s : r.symbols)
    for (const auto& c : r.channels) args.push_back({{"channel", c}, {"instId", s}});
  r.raw_subscribe = json{{"op", "subscribe"}, {"args", args}}.dump();
  r.rate = "15000";
  run_against_truth(r);
}
