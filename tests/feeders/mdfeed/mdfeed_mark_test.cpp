// Perpetuals' mark price and funding rate end to end: exsim (over TLS) serves Binance USD-M
// @markPrice@1s on /market and OKX mark-price / funding-rate for -SWAP instIds; a real mdfeed
// writes mark_funding records to its ring. Every record is one event of exsim's ground truth,
// per stream, in order, none lost, none doubled; its values equal what an independent client
// received for the same event (the same bytes: exsim sends every subscriber alike).
#include <doctest/doctest.h>

#include "mdbus/decimal.hpp"
#include "tests/feeders/mdfeed/mdfeed_test_support.hpp"
#include "tests/tools/exsim/ws_test_client.hpp"
#include "tools/exsim/truth_reader.hpp"

#include <algorithm>
#include <cstring>
#include <map>

using namespace mdbus;
using namespace mdbus::test;
using namespace std::chrono_literals;

namespace {

std::string dec(decimal d) { return std::to_string(d.mantissa) + "e" + std::to_string(d.exponent); }
std::string dec(const std::string& text) {
  decimal d{};
  REQUIRE(parse_decimal(text, d) == parse_status::ok);
  return dec(d);
}

/// A mark_funding record's values, only those it holds.
std::string values_of(const mark_funding_record& m) {
  std::string s;
  if (m.has(kHasMarkPx)) s += "mark " + dec(m.mark_px()) + " ";
  if (m.has(kHasIndexPx)) s += "index " + dec(m.index_px()) + " ";
  if (m.has(kHasSettlePx)) s += "settle " + dec(m.settle_px()) + " ";
  if (m.has(kHasFundingRate)) s += "rate " + dec(m.funding_rate()) + " ";
  if (m.has(kHasFundingTime)) s += "at " + std::to_string(m.funding_time_ns / 1'000'000) + " ";
  return s;
}

struct ring_mark {
  std::int64_t event_ms = 0;
  std::string values;
};

struct mark_run {
  std::string venue;
  std::vector<std::string> exsim_args;
  std::vector<std::string> symbols, channels;
  std::string raw_path, raw_subscribe;
  /// The truth log's stream name for a record.
  std::function<std::string(const record_header&)> stream_of;
  /// An independent client's message → (stream, event ms) → values.
  std::function<void(const json&, std::map<std::pair<std::string, std::int64_t>, std::string>&)> expect;
  std::size_t per_stream = 3;  ///< records wanted on every stream
  std::string log_line;        ///< the feeder's log must say this
  json policy = json::object();
};

/// A symbol's instrument records (reference data), in ring order.
using instrument_log = std::map<std::string, std::vector<instrument_record>>;

instrument_log run(const mark_run& run) {
  instrument_log instruments;
  unique_bus bus;
  temp_dir dir;
  const std::string truth_path = dir.file("truth.bin");
  std::map<std::string, std::vector<ring_mark>> ring;  // stream → mark records in ring order
  std::map<std::pair<std::string, std::int64_t>, std::string> expected;
  std::size_t other = 0;
  std::uint32_t raw_conn = 0;
  const venue v = *venue_from_string(run.venue);
  std::string feeder_log;
  {
    std::vector<std::string> args = tls({"--truth-log", truth_path});
    args.insert(args.end(), run.exsim_args.begin(), run.exsim_args.end());
    exsim_process x(args);
    ws_loop raw(exsim_cert_dir() + "/ca.pem");
    auto& rc = raw.connect(x.venue_port(), run.raw_path, true);
    if (!run.raw_subscribe.empty()) rc.send(run.raw_subscribe);
    REQUIRE(raw.pump_until([&] { return rc.connected; }, 10s));
    raw_conn = exsim_conn_ids(x, run.raw_path).at(0);

    feed_setup s;
    s.bus = bus.name();
    s.venue = run.venue;
    s.port = x.venue_port();
    s.okx_rest_port = x.okx_rest_port();
    s.usdm_rest_port = x.usdm_rest_port();
    s.symbols = run.symbols;
    s.channels = run.channels;
    s.policy = run.policy;
    feeder_process f(write_config(dir.file("cfg.json"), s), run.venue, "A", dir.file("feeder.log"));
    ring_drain drain(feeder_ring_name(bus.name(), v, slot_id::a));
    auto on_record = [&](const record_view& r) {
      if (const auto m = r.mark_funding()) {
        ring[run.stream_of(m->header)].push_back({m->header.venue_time_ns / 1'000'000, values_of(*m)});
      } else if (const auto i = r.instrument()) {
        instruments[std::string(i->header.symbol_view())].push_back(*i);
      } else {
        ++other;
      }
    };
    auto drain_raw = [&] {
      while (!rc.messages.empty()) run.expect(json::parse(rc.pop()), expected);
    };
    const std::size_t streams = run.symbols.size() * std::count_if(run.channels.begin(), run.channels.end(), [](const std::string& c) {
                                  return c.starts_with("markPrice") || c == "mark-price" || c == "funding-rate";
                                });
    auto enough = [&] {
      if (ring.size() < streams) return false;
      for (const auto& [name, recs] : ring)
        if (recs.size() < run.per_stream) return false;
      return true;
    };
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!enough() && std::chrono::steady_clock::now() < deadline) {
      REQUIRE(f.running());
      raw.pump_for(2ms);
      drain_raw();
      drain.poll(on_record);
    }
    CHECK(f.stop() == 0);
    drain.poll(on_record);
    raw.pump_for(200ms);
    drain_raw();
    feeder_log = f.log();
    REQUIRE(enough());
    CHECK(drain.invalid() == 0);
    const auto st = open_status(bus.name(), v, slot_id::a).snapshot();
    CHECK(st.parse_errors_total == 0);
    CHECK(st.reconnects == 0);
    x.stop();  // flushes the truth log
  }
  INFO(feeder_log);
  CHECK(feeder_log.find(run.log_line) != std::string::npos);

  exsim::truth_reader truth(truth_path);
  std::map<std::uint16_t, std::vector<exsim::truth_entry>> by_stream;
  while (auto e = truth.next())
    if (e->conn_id == 0 || e->conn_id != raw_conn) by_stream[e->stream_id].push_back(*e);
  std::size_t matched = 0, value_checked = 0;
  for (const auto& [stream, recs] : ring) {
    INFO("stream " << stream);
    const auto* ts = truth.find(stream);
    REQUIRE(ts != nullptr);
    const auto& t = by_stream[ts->id];
    // From where the feeder joined, its records are the truth's events one for one: no
    // venue sequence here, so event times tell them apart (each push has its own).
    std::size_t k = 0;
    while (k < t.size() && t[k].event_time_ms != recs.front().event_ms) ++k;
    REQUIRE(k < t.size());
    REQUIRE(t.size() - k >= recs.size());
    for (std::size_t i = 0; i < recs.size(); ++i) {
      CHECK(t[k + i].event_time_ms == recs[i].event_ms);
      ++matched;
      const auto it = expected.find({stream, recs[i].event_ms});
      if (it == expected.end()) continue;
      ++value_checked;
      CHECK(it->second == recs[i].values);
    }
  }
  MESSAGE(run.venue << ": " << matched << " mark_funding records on " << ring.size() << " streams matched the truth log, "
                    << value_checked << " value-checked against an independent client; " << other << " other records");
  CHECK(value_checked >= matched * 9 / 10);
  return instruments;
}

/// What every venue's instrument records share: two symbols, each a perpetual of `v` on the
/// reference stream from slot A, republished every `interval_ms` (each copy a newer interval
/// on its boundary, with the same values). Returns each symbol's first record.
std::map<std::string, instrument_record> check_republished(const instrument_log& instruments, venue v, std::uint64_t interval_ms) {
  std::map<std::string, instrument_record> first;
  REQUIRE(instruments.size() == 2);
  for (const auto& [sym, recs] : instruments) {
    INFO(sym);
    REQUIRE(recs.size() >= 2);
    const instrument_record& i = recs.front();
    CHECK(i.header.venue_id == v);
    CHECK(i.header.channel_id == channel::reference);
    CHECK(i.header.slot == slot_id::a);
    CHECK(i.kind == instrument_kind::perpetual);
    for (std::size_t k = 1; k < recs.size(); ++k) {
      CHECK(recs[k].header.seq > recs[k - 1].header.seq);  // each interval once, newer each time
      CHECK(recs[k].header.seq % interval_ms == 0);
      CHECK(std::memcmp(&recs[k].contract_value_mantissa, &i.contract_value_mantissa, 48) == 0);  // same values
    }
    first.emplace(sym, i);
  }
  return first;
}

}  // namespace

TEST_CASE("mdfeed binance_usdm: markPrice@1s on /market → mark_funding records: mark, index, settle, funding rate and time") {
  mark_run r;
  r.venue = "binance_usdm";
  r.exsim_args = {"--rate", "2000", "--usdm-symbols", "BTCUSDT", "ETHUSDT"};
  r.symbols = {"BTCUSDT", "ETHUSDT"};
  r.channels = {"markPrice@1s", "aggTrade"};  // one routed path: /market
  r.raw_path = "/market/stream?streams=btcusdt@markPrice@1s/ethusdt@markPrice@1s";
  r.log_line = "/market/stream?streams=btcusdt@markPrice@1s/btcusdt@aggTrade/ethusdt@markPrice@1s/ethusdt@aggTrade";
  r.stream_of = [](const record_header& h) {
    std::string s(h.symbol_view());
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s + "@markPrice@1s";
  };
  r.expect = [](const json& j, auto& out) {
    if (!j.contains("stream")) return;
    const json& d = j["data"];
    REQUIRE(d["e"] == "markPriceUpdate");
    out[{j["stream"].get<std::string>(), d["E"].get<std::int64_t>()}] =
        "mark " + dec(d["p"].get<std::string>()) + " index " + dec(d["i"].get<std::string>()) + " settle " +
        dec(d["P"].get<std::string>()) + " rate " + dec(d["r"].get<std::string>()) + " at " + std::to_string(d["T"].get<std::int64_t>()) + " ";
  };
  r.policy = {{"reference_interval_ms", 300}};
  const instrument_log instruments = run(r);
  // From GET /fapi/v1/exchangeInfo: a perpetual (contractType PERPETUAL) sized in its base asset,
  // tick and step from PRICE_FILTER and LOT_SIZE as exsim lists them (BTCUSDT 0.01 / 0.00001,
  // ETHUSDT 0.01 / 0.0001), republished every reference_interval_ms.
  for (const auto& [sym, i] : check_republished(instruments, venue::binance_usdm, 300)) {
    INFO(sym);
    CHECK(i.contract_value() == decimal{1, 0});
    CHECK(i.contract_currency_view() == (sym == "BTCUSDT" ? "BTC" : "ETH"));
    CHECK(i.tick_size() == decimal{1, -2});
    CHECK(i.lot_size() == (sym == "BTCUSDT" ? decimal{1, -5} : decimal{1, -4}));
  }
}

TEST_CASE("mdfeed okx: -SWAP instIds are checked as instType SWAP, mark-price and funding-rate → mark_funding records") {
  temp_dir cfg_dir;
  const std::string exsim_cfg = cfg_dir.file("exsim.json");
  std::ofstream(exsim_cfg) << R"({"okx":{"funding_interval_ms":400}})";
  mark_run r;
  r.venue = "okx";
  r.exsim_args = {"--config", exsim_cfg, "--rate", "2000", "--okx-symbols", "BTC-USDT-SWAP", "ETH-USDT-SWAP"};
  r.symbols = {"BTC-USDT-SWAP", "ETH-USDT-SWAP"};
  r.channels = {"mark-price", "funding-rate", "trades"};
  r.raw_path = "/ws/v5/public";
  r.log_line = "instrument check: all 2 symbols are listed and trading";
  r.policy = {{"reference_interval_ms", 300}};
  json args = json::array();
  for (const auto& s : r.symbols)
    for (const char* c : {"mark-price", "funding-rate"}) args.push_back({{"channel", c}, {"instId", s}});
  r.raw_subscribe = json{{"op", "subscribe"}, {"args", args}}.dump();
  r.stream_of = [](const record_header& h) { return std::string(to_string(h.channel_id)) + ":" + std::string(h.symbol_view()); };
  r.expect = [](const json& j, auto& out) {
    if (!j.contains("data")) return;
    const std::string ch = j["arg"]["channel"];
    const std::string stream = ch + ":" + j["arg"]["instId"].get<std::string>();
    for (const auto& d : j["data"]) {
      const std::int64_t ts = std::stoll(d["ts"].get<std::string>());
      if (ch == "mark-price") {
        out[{stream, ts}] = "mark " + dec(d["markPx"].get<std::string>()) + " ";
      } else {
        out[{stream, ts}] = "rate " + dec(d["fundingRate"].get<std::string>()) + " at " + d["fundingTime"].get<std::string>() + " ";
      }
    }
  };
  const instrument_log instruments = run(r);
  // The contract value from GET /api/v5/public/instruments?instType=SWAP, on the bus: one
  // instrument record per instId, republished every reference_interval_ms (300 here).
  for (const auto& [sym, i] : check_republished(instruments, venue::okx, 300)) {
    INFO(sym);
    CHECK(i.has(kHasContractValue | kHasTickSize | kHasLotSize));
    CHECK(i.contract_value() == (sym == "BTC-USDT-SWAP" ? decimal{1, -2} : decimal{1, -1}));  // exsim lists OKX's own ctVal
    CHECK(i.contract_currency_view() == (sym == "BTC-USDT-SWAP" ? "BTC" : "ETH"));
    CHECK(*base_quantity(i, {25, 0}) == (sym == "BTC-USDT-SWAP" ? decimal{25, -2} : decimal{25, -1}));  // 25 contracts
  }
}
