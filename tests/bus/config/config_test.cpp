// The configuration file: every field validated, every error one line naming file and field,
// unknown keys refused, and the shipped config/sim.json and config/live.json valid.
#include "bus/config/config.hpp"
#include "bus/runtime_dir.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace mdbus;
using namespace mdbus::config;

namespace {

/// A valid file with one venue; tests splice their field in with replace().
const std::string kMinimal = R"({
  "bus": "t1",
  "venues": {
    "okx": {
      "endpoint": {"host": "127.0.0.1", "port": 9443},
      "rest_endpoint": {"host": "127.0.0.2", "port": 9446},
      "symbols": ["BTC-USDT", "ETH-USDT"],
      "channels": ["trades", "books", "bbo-tbt"]
    }
  }
})";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

/// The error text parse_config throws for `text` ("" when it loads).
std::string error_of(const std::string& text) {
  try {
    (void)parse_config(text, "cfg.json");
  } catch (const config_error& e) {
    return e.what();
  }
  return {};
}

const std::string kBinance = R"("binance": {
      "endpoint": {"host": "h", "port": 1, "tls": false},
      "rest_endpoint": {"host": "r", "port": 2, "tls": false},
      "symbols": ["BTCUSDT"],
      "channels": ["trade"]
    },
    "okx": {)";

}  // namespace

TEST_CASE("config: the shipped sim.json and live.json load") {
  const bus_config sim = load_config(std::string(MDBUS_CONFIG_DIR) + "/sim.json");
  CHECK(sim.bus == "sim");
  REQUIRE(sim.find(venue::binance) != nullptr);
  REQUIRE(sim.find(venue::okx) != nullptr);
  const auto& b = *sim.find(venue::binance);
  CHECK(b.ep.host == "127.0.0.1");
  CHECK(b.ep.port == 9443);
  CHECK(b.ep.tls);
  CHECK(b.ep.server_name == "localhost");
  // Relative to the config file's directory: config/../build/certs/ca.pem.
  CHECK(b.ep.ca_file == std::string(MDBUS_CONFIG_DIR) + "/../build/certs/ca.pem");
  CHECK(b.channels.size() == 5);
  CHECK(b.slots == std::vector<slot_id>{slot_id::a, slot_id::b});
  CHECK(sim.rings.feeder_bytes == 4194304);

  const bus_config live = load_config(std::string(MDBUS_CONFIG_DIR) + "/live.json");
  CHECK(live.bus == "live");
  CHECK(live.find(venue::binance)->ep.host == "stream.binance.com");
  CHECK(live.find(venue::okx)->ep.ca_file == "/etc/ssl/certs/ca-certificates.crt");
  for (const auto& v : live.venues) CHECK(v.ep.tls);
  // feeders/CONFORMANCE.md "Hosts and REST" (checked 2026-12): REST never goes to a stream host.
  CHECK(live.find(venue::binance)->rest_ep.host == "api.binance.com");
  CHECK(live.find(venue::binance)->rest_ep.port == 443);
  CHECK(live.find(venue::okx)->rest_ep.host == "www.okx.com");
  CHECK(live.find(venue::okx)->rest_ep.port == 443);
  for (const auto& v : live.venues) CHECK(v.rest_ep.host != v.ep.host);
  for (const auto& v : sim.venues) CHECK(v.rest_ep.port != v.ep.port);
}

TEST_CASE("config: rest_endpoint is required with an endpoint, has the endpoint's shape, and shares its TLS trust") {
  CHECK(error_of(replace(kMinimal, R"("rest_endpoint": {"host": "127.0.0.2", "port": 9446},)", "")) ==
        "cfg.json: venues.okx.rest_endpoint: missing (required)");
  CHECK(error_of(replace(kMinimal, R"("endpoint": {"host": "127.0.0.1", "port": 9443},)", "")) ==
        "cfg.json: venues.okx.endpoint: missing (required)");
  CHECK(error_of(replace(kMinimal, R"("port": 9446)", R"("port": 0)")) ==
        "cfg.json: venues.okx.rest_endpoint.port: 0 is outside [1, 65535]");
  CHECK(error_of(replace(kMinimal, R"("port": 9446)", R"("port": 9446, "tls": false)")) ==
        "cfg.json: venues.okx.rest_endpoint.tls: must equal endpoint.tls (one TLS setting per feeder)");
  CHECK(error_of(replace(kMinimal, R"("port": 9446)", R"("port": 9446, "ca_file": "/other.pem")")) ==
        "cfg.json: venues.okx.rest_endpoint.ca_file: \"/other.pem\" must equal endpoint.ca_file "
        "\"/etc/ssl/certs/ca-certificates.crt\" (one CA bundle per feeder)");
  const bus_config c = parse_config(kMinimal, "cfg.json");
  CHECK(c.venues[0].rest_ep.host == "127.0.0.2");
  CHECK(c.venues[0].rest_ep.port == 9446);
  CHECK(c.venues[0].rest_ep.server_name == "127.0.0.2");
}

TEST_CASE("config: OKX login-only channels are refused with one line naming the channel and why") {
  for (const char* ch : {"books-l2-tbt", "books50-l2-tbt"}) {
    const std::string e = error_of(replace(kMinimal, R"("bbo-tbt")", std::string("\"") + ch + "\""));
    CHECK(e.find(std::string("cfg.json: venues.okx.channels[2]: \"") + ch + "\" needs a logged-in connection") == 0);
    CHECK(e.find("60011") != std::string::npos);
    CHECK(e.find('\n') == std::string::npos);
  }
}

TEST_CASE("config: OKX funding-rate is for perpetual swaps: it applies to a section's swaps only, and a section without one is refused") {
  CHECK(error_of(replace(kMinimal, R"("bbo-tbt")", R"("funding-rate")")) ==
        "cfg.json: venues.okx.channels[2]: funding-rate is for perpetual swaps (an instId ending in -SWAP), not \"BTC-USDT\": "
        "no symbol of the section takes it");
  // Spot and swaps in one section: the channel applies to the swaps, the others to all.
  const std::string mixed = replace(replace(kMinimal, R"("bbo-tbt")", R"("funding-rate")"), R"(["BTC-USDT", "ETH-USDT"])",
                                    R"(["BTC-USDT", "BTC-USDT-SWAP"])");
  REQUIRE(error_of(mixed).empty());
  const venue_config m = parse_config(mixed, "cfg.json").venues[0];
  CHECK_FALSE(m.carries("BTC-USDT", channel::okx_funding_rate));
  CHECK(m.carries("BTC-USDT-SWAP", channel::okx_funding_rate));
  CHECK(m.carries("BTC-USDT", channel::okx_trades));
  CHECK(m.connections() == 1);
  const std::string swaps =
      replace(replace(kMinimal, R"("bbo-tbt")", R"("funding-rate", "mark-price")"), R"(["BTC-USDT", "ETH-USDT"])",
              R"(["BTC-USDT-SWAP", "ETH-USDT-SWAP"])");
  CHECK(error_of(swaps).empty());
  const bus_config c = parse_config(swaps, "cfg.json");
  REQUIRE(c.venues[0].channels.size() == 4);  // trades, books, funding-rate, mark-price
  CHECK(c.venues[0].channels[2].id == channel::okx_funding_rate);
  CHECK(c.venues[0].channels[3].id == channel::okx_mark_price);
}

TEST_CASE("config: the config identity changes with what segments are laid out by, and only that") {
  const bus_config a = parse_config(kMinimal, "cfg.json");
  const std::uint64_t id = config_identity(a, a.venues[0]);
  CHECK(id != 0);
  CHECK(config_identity(parse_config(kMinimal, "other.json"), parse_config(kMinimal, "other.json").venues[0]) == id);
  // A policy or endpoint change keeps the layout: same identity.
  const bus_config port = parse_config(replace(kMinimal, "9443", "9444"), "cfg.json");
  CHECK(config_identity(port, port.venues[0]) == id);
  // Symbol order (resync slots are symbol positions), a channel, the bus, ring sizes: new identity.
  const bus_config order = parse_config(replace(kMinimal, R"("BTC-USDT", "ETH-USDT")", R"("ETH-USDT", "BTC-USDT")"), "cfg.json");
  CHECK(config_identity(order, order.venues[0]) != id);
  const bus_config chans = parse_config(replace(kMinimal, R"(, "bbo-tbt")", ""), "cfg.json");
  CHECK(config_identity(chans, chans.venues[0]) != id);
  const bus_config busname = parse_config(replace(kMinimal, R"("t1")", R"("t2")"), "cfg.json");
  CHECK(config_identity(busname, busname.venues[0]) != id);
  const bus_config rings = parse_config(replace(kMinimal, R"("bus": "t1",)", R"("bus": "t1", "rings": {"feeder_bytes": 8388608},)"), "cfg.json");
  CHECK(config_identity(rings, rings.venues[0]) != id);
}

TEST_CASE("config: omitted optional fields take their documented defaults") {
  const bus_config c = parse_config(kMinimal, "cfg.json");
  CHECK(c.source == "cfg.json");
  CHECK(c.segment_mode == 0600);
  CHECK(c.rings.feeder_bytes == 4u << 20);
  CHECK(c.rings.feeder_max_frame == 65536);
  CHECK(c.rings.output_bytes == 64u << 20);
  REQUIRE(c.venues.size() == 1);
  const venue_config& v = c.venues[0];
  CHECK(v.id == venue::okx);
  CHECK(v.ep.tls);
  CHECK(v.ep.ca_file == "/etc/ssl/certs/ca-certificates.crt");  // verification on, system trust
  CHECK(v.ep.server_name == "127.0.0.1");
  CHECK(v.slots == std::vector<slot_id>{slot_id::a, slot_id::b});
  CHECK(v.policy.max_age_ms == 0);  // OKX: no age limit (its venue descriptor)
  const bus_config b = parse_config(replace(kMinimal, "\"okx\": {", kBinance), "cfg.json");
  REQUIRE(b.find(venue::binance) != nullptr);
  CHECK(b.find(venue::binance)->policy.max_age_ms == 86'400'000);  // Binance: 24 h (its venue descriptor)
  CHECK(v.policy.keepalive_ms == 25000);
  CHECK(v.policy.no_data_ms == 30000);
  CHECK(v.policy.reconnect_min_ms == 250);
  CHECK(v.policy.max_message_bytes == 1u << 20);
  CHECK(c.find(venue::binance) == nullptr);
}

TEST_CASE("config: an unknown channel names file, field path and value") {
  CHECK(error_of(replace(kMinimal, R"("bbo-tbt")", R"("bookz")")) ==
        R"(cfg.json: venues.okx.channels[2]: unknown OKX channel "bookz" (known: trades, tickers, bbo-tbt, books, books5, mark-price, funding-rate))");
  CHECK(error_of(replace(kMinimal, "\"okx\": {", kBinance + std::string(""))).empty());
  CHECK(error_of(replace(replace(kMinimal, "\"okx\": {", kBinance), R"(["trade"])", R"(["trade", "kline"])")) ==
        R"(cfg.json: venues.binance.channels[1]: unknown Binance channel "kline" (known: trade, aggTrade, bookTicker, depth[@100ms|@1000ms], depth5|10|20[@100ms|@1000ms]))");
}

TEST_CASE("config: Binance channel spellings map to channel and variant") {
  auto check = [](std::string_view name, channel ch, std::string_view variant) {
    INFO(name);
    const channel_spec c = parse_channel(venue::binance, name);
    CHECK(c.id == ch);
    CHECK(c.variant == variant);
    CHECK(c.name == name);
  };
  check("trade", channel::binance_trade, "");
  check("aggTrade", channel::binance_agg_trade, "");
  check("bookTicker", channel::binance_book_ticker, "");
  check("depth", channel::binance_depth, "");
  check("depth@100ms", channel::binance_depth, "100ms");
  check("depth@1000ms", channel::binance_depth, "1000ms");
  check("depth5", channel::binance_depth_partial, "5");
  check("depth20@100ms", channel::binance_depth_partial, "20@100ms");
  for (const char* bad : {"depth@10ms", "depth15", "trade@100ms", "Trade", "depth20@", "@100ms", "books", ""}) {
    INFO(bad);
    CHECK(parse_channel(venue::binance, bad).id == channel::unknown);
  }
  CHECK(parse_channel(venue::okx, "books-l2-tbt").id == channel::okx_books_l2_tbt);
  CHECK(parse_channel(venue::okx, "trade").id == channel::unknown);
}

TEST_CASE("config: unknown keys are errors at every level") {
  CHECK(error_of(replace(kMinimal, R"("bus": "t1",)", R"("bus": "t1", "buss": 1,)")) == "cfg.json: buss: unknown key");
  CHECK(error_of(replace(kMinimal, R"("port": 9443)", R"("port": 9443, "prot": 1)")) ==
        "cfg.json: venues.okx.endpoint.prot: unknown key");
  CHECK(error_of(replace(kMinimal, R"("symbols")", R"("policy": {"keepalive": 5}, "symbols")")) ==
        "cfg.json: venues.okx.policy.keepalive: unknown key");
  CHECK(error_of(replace(kMinimal, R"("symbols")", R"("slot": ["A"], "symbols")")) == "cfg.json: venues.okx.slot: unknown key");
  CHECK(error_of(replace(kMinimal, R"("bus": "t1",)", R"("bus": "t1", "rings": {"feeder_byte": 4096},)")) ==
        "cfg.json: rings.feeder_byte: unknown key");
  CHECK(error_of(replace(kMinimal, R"("okx": {)", R"("kraken": {}, "okx": {)")) ==
        "cfg.json: venues.kraken: unknown venue (known: binance, okx, binance_usdm)");
}

TEST_CASE("config: missing required fields are named") {
  CHECK(error_of(replace(kMinimal, R"("bus": "t1",)", "")) == "cfg.json: bus: missing (required)");
  CHECK(error_of(R"({"bus": "x"})") == "cfg.json: venues: missing (required)");
  CHECK(error_of(R"({"bus": "x", "venues": {}})") == "cfg.json: venues: must be an object with at least one venue");
  CHECK(error_of(replace(kMinimal, R"("host": "127.0.0.1", )", "")) == "cfg.json: venues.okx.endpoint.host: missing (required)");
  CHECK(error_of(replace(kMinimal, R"("symbols": ["BTC-USDT", "ETH-USDT"],)", "")) ==
        "cfg.json: venues.okx.symbols: missing (required)");
  CHECK(error_of(replace(kMinimal, R"(["BTC-USDT", "ETH-USDT"])", "[]")) ==
        "cfg.json: venues.okx.symbols: must be a non-empty array of strings");
}

TEST_CASE("config: wrong types and out-of-range values are refused") {
  CHECK(error_of(replace(kMinimal, "9443", R"("9443")")) == "cfg.json: venues.okx.endpoint.port: must be an integer");
  CHECK(error_of(replace(kMinimal, "9443", "9443.0")) == "cfg.json: venues.okx.endpoint.port: must be an integer");
  CHECK(error_of(replace(kMinimal, "9443", "70000")) == "cfg.json: venues.okx.endpoint.port: 70000 is outside [1, 65535]");
  CHECK(error_of(replace(kMinimal, "9443", "0")) == "cfg.json: venues.okx.endpoint.port: 0 is outside [1, 65535]");
  CHECK(error_of(replace(kMinimal, R"("port": 9443)", R"("port": 9443, "tls": "yes")")) ==
        "cfg.json: venues.okx.endpoint.tls: must be true or false");
  CHECK(error_of(replace(kMinimal, R"("t1")", "7")) == "cfg.json: bus: must be a string");
  CHECK(error_of(replace(kMinimal, R"("t1")", R"("a.b")")) == R"(cfg.json: bus: "a.b" must be 1-64 characters of [A-Za-z0-9_-])");
  CHECK(error_of(replace(kMinimal, R"("symbols")", R"("policy": {"no_data_ms": -5}, "symbols")")) ==
        "cfg.json: venues.okx.policy.no_data_ms: -5 is outside [1, 604800000]");
  CHECK(error_of(replace(kMinimal, R"("symbols")", R"("policy": {"max_message_bytes": 18446744073709551615}, "symbols")")) ==
        "cfg.json: venues.okx.policy.max_message_bytes: out of range");
  CHECK(error_of(replace(kMinimal, R"("symbols")", R"("policy": 3, "symbols")")) ==
        "cfg.json: venues.okx.policy: must be an object");
}

TEST_CASE("config: symbols must be spelled the venue's way, once each") {
  CHECK(error_of(replace(kMinimal, R"("ETH-USDT")", R"("ETHUSDT")")) ==
        R"(cfg.json: venues.okx.symbols[1]: "ETHUSDT" is not an OKX instId (upper-case parts joined by '-', e.g. "BTC-USDT"))");
  CHECK(error_of(replace(kMinimal, R"("ETH-USDT")", R"("BTC-USDT")")) == R"(cfg.json: venues.okx.symbols[1]: "BTC-USDT" listed twice)");
  CHECK(error_of(replace(kMinimal, R"("ETH-USDT")", R"("btc-usdt")")).find("symbols[1]") != std::string::npos);
  CHECK(error_of(replace(replace(kMinimal, "\"okx\": {", kBinance), R"(["BTCUSDT"])", R"(["btcusdt"])")) ==
        R"(cfg.json: venues.binance.symbols[0]: "btcusdt" is not a Binance symbol (upper-case letters and digits, e.g. "BTCUSDT"))");
  CHECK(error_of(replace(kMinimal, R"("ETH-USDT")", R"(")" + std::string(25, 'A') + "-B\"")).find("longer than 24") !=
        std::string::npos);
  CHECK(error_of(replace(kMinimal, R"("books", "bbo-tbt")", R"("books", "books")")) ==
        R"(cfg.json: venues.okx.channels[2]: "books" listed twice)");
}

TEST_CASE("config: slots are A and/or B") {
  CHECK(parse_config(replace(kMinimal, R"("symbols")", R"("slots": ["B"], "symbols")"), "c").venues[0].slots ==
        std::vector<slot_id>{slot_id::b});
  CHECK(error_of(replace(kMinimal, R"("symbols")", R"("slots": ["C"], "symbols")")) == R"(cfg.json: venues.okx.slots[0]: must be "A" or "B")");
  CHECK(error_of(replace(kMinimal, R"("symbols")", R"("slots": ["A", "A"], "symbols")")) == "cfg.json: venues.okx.slots[1]: slot listed twice");
  CHECK(error_of(replace(kMinimal, R"("symbols")", R"("slots": [], "symbols")")) ==
        R"(cfg.json: venues.okx.slots: must be an array of one or two of "A", "B")");
}

TEST_CASE("config: policy fields are checked against each other and the venue's rules") {
  CHECK(error_of(replace(kMinimal, R"("symbols")", R"("policy": {"reconnect_min_ms": 500, "reconnect_max_ms": 100}, "symbols")")) ==
        "cfg.json: venues.okx.policy.reconnect_max_ms: 100 is below reconnect_min_ms 500");
  CHECK(error_of(replace(kMinimal, R"("symbols")", R"("policy": {"max_age_ms": 1000, "rotate_margin_ms": 1000}, "symbols")")) ==
        "cfg.json: venues.okx.policy.rotate_margin_ms: 1000 must be below max_age_ms 1000");
  CHECK(error_of(replace(kMinimal, R"("symbols")", R"("policy": {"keepalive_ms": 30000}, "symbols")")) ==
        "cfg.json: venues.okx.policy.keepalive_ms: 30000 must be below 30000 (OKX closes a connection after 30 s of silence)");
  const auto c = parse_config(replace(kMinimal, R"("symbols")", R"("policy": {"keepalive_ms": 300, "pong_timeout_ms": 200, "no_data_ms": 900}, "symbols")"), "c");
  CHECK(c.venues[0].policy.keepalive_ms == 300);
  CHECK(c.venues[0].policy.pong_timeout_ms == 200);
  CHECK(c.venues[0].policy.no_data_ms == 900);
}

TEST_CASE("config: ring sizes must make valid rings") {
  auto with_rings = [&](const std::string& rings) { return replace(kMinimal, R"("bus": "t1",)", R"("bus": "t1", "rings": )" + rings + ","); };
  CHECK(error_of(with_rings(R"({"feeder_bytes": 5000})")) ==
        "cfg.json: rings.feeder_bytes: feeder ring: capacity 5000 must be a power of two >= 4096");
  CHECK(error_of(with_rings(R"({"feeder_bytes": 65536, "feeder_max_frame": 65536})")).find("rings.feeder_bytes: feeder ring: max_payload 65536") !=
        std::string::npos);
  CHECK(error_of(with_rings(R"({"output_max_frame": 64})")) == "cfg.json: rings.output_max_frame: 64 is outside [136, 1099511627776]");
  CHECK(parse_config(with_rings(R"({"feeder_bytes": 1048576, "feeder_max_frame": 4096})"), "c").rings.feeder_max_frame == 4096);
}

TEST_CASE("config: segment mode is owner-only or group-readable") {
  CHECK(parse_config(replace(kMinimal, R"("bus": "t1",)", R"("bus": "t1", "segment_mode": "0640",)"), "c").segment_mode == 0640);
  CHECK(error_of(replace(kMinimal, R"("bus": "t1",)", R"("bus": "t1", "segment_mode": "0644",)")) ==
        R"(cfg.json: segment_mode: "0644" must be "0600" (owner only) or "0640" (group-readable))");
}

TEST_CASE("config: TLS endpoints keep verification, ca_file paths resolve against the file's directory") {
  CHECK(error_of(replace(kMinimal, R"("port": 9443)", R"("port": 9443, "tls": false, "ca_file": "x.pem")")) ==
        "cfg.json: venues.okx.endpoint.ca_file: given but tls is false");
  const auto plain = parse_config(replace(replace(kMinimal, R"("port": 9443)", R"("port": 9443, "tls": false)"),
                                          R"("port": 9446)", R"("port": 9446, "tls": false)"), "c");
  CHECK(plain.venues[0].ep.ca_file.empty());

  char dir[] = "/tmp/mdbus_config_XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/c.json";
  {
    std::ofstream out(path);
    out << replace(replace(kMinimal, R"("port": 9443)", R"("port": 9443, "ca_file": "certs/ca.pem", "server_name": "localhost")"),
                   R"("port": 9446)", R"("port": 9446, "ca_file": "certs/ca.pem")");
  }
  const auto c = load_config(path);
  CHECK(c.venues[0].ep.ca_file == std::string(dir) + "/certs/ca.pem");
  CHECK(c.venues[0].ep.server_name == "localhost");
  std::remove(path.c_str());
  rmdir(dir);
}

TEST_CASE("config: a file that is missing or not JSON gets one line naming it") {
  CHECK_THROWS_WITH_AS((void)load_config("/nonexistent/mdbus.json"), "/nonexistent/mdbus.json: cannot open", config_error);
  const std::string e = error_of("{\"bus\": ");
  CHECK(e.rfind("cfg.json: not valid JSON: ", 0) == 0);
  CHECK(e.find('\n') == std::string::npos);
  CHECK(error_of("[1, 2]") == "cfg.json: (top level): must be an object");
}

TEST_CASE("config: scheduling.wake_slice_us: default 100, 0 or the kernel's 100..100000 range") {
  CHECK(parse_config(kMinimal, "cfg.json").scheduling.wake_slice_us == 100);
  const auto with = [](const std::string& v) {
    return replace(kMinimal, R"("bus": "t1",)", R"("bus": "t1", "scheduling": {"wake_slice_us": )" + v + "},");
  };
  CHECK(parse_config(with("0"), "cfg.json").scheduling.wake_slice_us == 0);
  CHECK(parse_config(with("250"), "cfg.json").scheduling.wake_slice_us == 250);
  CHECK(error_of(with("50")) ==
        "cfg.json: scheduling.wake_slice_us: 50 must be 0 (the kernel's default) or 100..100000 (the kernel clamps a slice to that range)");
  CHECK(error_of(with("100001")).find("cfg.json: scheduling.wake_slice_us:") == 0);
  CHECK(error_of(with("-1")).find("cfg.json: scheduling.wake_slice_us:") == 0);
  CHECK(error_of(replace(kMinimal, R"("bus": "t1",)", R"("bus": "t1", "scheduling": {"slice": 100},)"))
            .find("cfg.json: scheduling.slice: unknown key") == 0);
}

TEST_CASE("config: bridge section (issue 18), absent by default, servers required, every limit checked") {
  CHECK_FALSE(parse_config(kMinimal, "cfg.json").bridge.configured);
  auto with = [](const std::string& body) { return replace(kMinimal, R"("bus": "t1",)", R"("bus": "t1", "bridge": )" + body + ","); };
  const auto b = parse_config(with(R"({"servers": ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"]})"), "cfg.json").bridge;
  CHECK(b.configured);
  CHECK(b.servers.size() == 2);
  CHECK(b.stream == "MDBUS");
  CHECK(b.subject_prefix == "md");
  CHECK(b.replicas == 1);
  CHECK(b.file_storage);
  CHECK(b.duplicate_window_ms == 120'000);
  const auto full = parse_config(with(R"({"servers": ["nats://h:1"], "stream": "S-1", "subject_prefix": "a.b_c", "replicas": 3,
      "storage": "memory", "max_age_ms": 0, "max_bytes": 1000000, "duplicate_window_ms": 5000, "max_in_flight": 10, "ack_timeout_ms": 50})"),
                                 "cfg.json").bridge;
  CHECK(full.stream == "S-1");
  CHECK(full.subject_prefix == "a.b_c");
  CHECK(full.replicas == 3);
  CHECK_FALSE(full.file_storage);
  CHECK(full.max_age_ms == 0);
  CHECK(full.max_bytes == 1'000'000);
  CHECK(error_of(with("{}")) == "cfg.json: bridge.servers: missing (required)");
  CHECK(error_of(with(R"({"servers": []})")) == "cfg.json: bridge.servers: must be a non-empty array of NATS URLs");
  CHECK(error_of(with(R"({"servers": [""]})")).find("cfg.json: bridge.servers: must hold non-empty strings") == 0);
  CHECK(error_of(with(R"({"servers": ["n://h:1"], "stream": "a.b"})")).find("cfg.json: bridge.stream:") == 0);
  CHECK(error_of(with(R"({"servers": ["n://h:1"], "subject_prefix": "md.>"})")).find("cfg.json: bridge.subject_prefix:") == 0);
  CHECK(error_of(with(R"({"servers": ["n://h:1"], "subject_prefix": "md."})")).find("cfg.json: bridge.subject_prefix:") == 0);
  CHECK(error_of(with(R"({"servers": ["n://h:1"], "replicas": 7})")).find("cfg.json: bridge.replicas: 7 is outside [1, 5]") == 0);
  CHECK(error_of(with(R"({"servers": ["n://h:1"], "storage": "disk"})")) ==
        R"(cfg.json: bridge.storage: "disk" must be "file" or "memory")");
  CHECK(error_of(with(R"({"servers": ["n://h:1"], "max_bytes": 0})")).find("cfg.json: bridge.max_bytes:") == 0);
  CHECK(error_of(with(R"({"servers": ["n://h:1"], "max_age_ms": 1000, "duplicate_window_ms": 2000})"))
            .find("cfg.json: bridge.duplicate_window_ms: must not exceed max_age_ms") == 0);
  CHECK(error_of(with(R"({"servers": ["n://h:1"], "acks": 1})")) == "cfg.json: bridge.acks: unknown key");
}

TEST_CASE("config: merge and supervisor sections, their defaults and their errors") {
  const bus_config d = parse_config(kMinimal, "cfg.json");
  CHECK(d.merge.hole_fill_ms == 3);
  CHECK(d.merge.idle == idle_mode::wait);  // the default since the doorbells (issue 19)
  CHECK(d.merge.idle_spin_us == 5);
  CHECK(d.supervisor.control_socket == default_runtime_dir() + "/t1.ctl");  // never a shared /tmp path
  CHECK(d.supervisor.control_socket.rfind("/tmp/mdbus.", 0) != 0);
  CHECK(d.supervisor.metrics_port == -1);
  const std::string with = replace(kMinimal, R"("bus": "t1",)",
                                   R"("bus": "t1", "merge": {"hole_fill_ms": 50, "idle": "backoff"},
                                      "supervisor": {"control_socket": "/run/x.ctl", "metrics_port": 0, "health_window_ms": 500},)");
  const bus_config c = parse_config(with, "cfg.json");
  CHECK(c.merge.hole_fill_ms == 50);
  CHECK(c.merge.idle == idle_mode::backoff);
  const bus_config w = parse_config(replace(kMinimal, R"("bus": "t1",)", R"("bus": "t1", "merge": {"idle": "wait", "idle_spin_us": 0},)"), "cfg.json");
  CHECK(w.merge.idle == idle_mode::wait);
  CHECK(w.merge.idle_spin_us == 0);
  CHECK(error_of(replace(kMinimal, R"("bus": "t1",)", R"("bus": "t1", "merge": {"idle_spin_us": -1},)"))
            .find("cfg.json: merge.idle_spin_us:") == 0);
  for (const idle_mode m : {idle_mode::spin, idle_mode::backoff, idle_mode::wait}) {
    idle_mode back = idle_mode::spin;
    CHECK(idle_mode_from_string(to_string(m), back));
    CHECK(back == m);
  }
  idle_mode unchanged = idle_mode::backoff;
  CHECK_FALSE(idle_mode_from_string("Wait", unchanged));
  CHECK(unchanged == idle_mode::backoff);
  CHECK(c.supervisor.control_socket == "/run/x.ctl");
  CHECK(c.supervisor.metrics_port == 0);
  CHECK(c.supervisor.health_window_ms == 500);
  CHECK(error_of(replace(kMinimal, R"("bus": "t1",)", R"("bus": "t1", "merge": {"idle": "nap"},)")) ==
        R"(cfg.json: merge.idle: "nap" must be "wait" (sleep until a feeder rings), "spin" (busy-poll) or "backoff" (timed pauses))");
  CHECK(error_of(replace(kMinimal, R"("bus": "t1",)", R"("bus": "t1", "supervisor": {"metrics_port": 70000},)"))
            .find("cfg.json: supervisor.metrics_port:") == 0);
  CHECK(error_of(replace(kMinimal, R"("bus": "t1",)", R"("bus": "t1", "supervisor": {"restart": 1},)")) ==
        "cfg.json: supervisor.restart: unknown key");
  CHECK(error_of(replace(kMinimal, R"("bus": "t1",)", R"("bus": "t1", "merge": {"hold_bytes_per_stream": 100},)"))
            .find("merge.hold_bytes_per_stream: must be 0 or at least rings.feeder_max_frame") != std::string::npos);
}

TEST_CASE("config: a venue section without endpoints connects to the venue's production hosts (its descriptor)") {
  const bus_config c = parse_config(R"({"bus": "t1", "venues": {
      "binance_usdm": {"symbols": ["BTCUSDT"], "channels": ["depth@100ms", "bookTicker"]},
      "okx": {"symbols": ["BTC-USDT"], "channels": ["books"]}}})",
                                    "cfg.json");
  const venue_config& u = *c.find(venue::binance_usdm);
  CHECK(u.ep.host == "fstream.binance.com");
  CHECK(u.ep.port == 443);
  CHECK(u.ep.tls);
  CHECK(u.ep.server_name == "fstream.binance.com");
  CHECK(u.rest_ep.host == "fapi.binance.com");
  CHECK(u.rest_ep.ca_file == u.ep.ca_file);
  CHECK_FALSE(u.ep.ca_file.empty());
  CHECK(u.policy.max_age_ms == 86'400'000);  // "A single connection is only valid for 24 hours"
  const venue_config& o = *c.find(venue::okx);
  CHECK(o.ep.host == "ws.okx.com");
  CHECK(o.ep.port == 8443);
  CHECK(o.rest_ep.host == "www.okx.com");
}

TEST_CASE("config: Binance USD-M channels spelled its way, each routed path its own connection group") {
  auto cfg = [](const std::string& channels) {
    return R"({"bus": "t1", "venues": {"binance_usdm": {"symbols": ["BTCUSDT", "ETHUSDT_261225"], "channels": )" + channels +
           "}}}";
  };
  CHECK(error_of(cfg(R"(["depth@0ms", "depth20@100ms", "bookTicker"])")).empty());
  CHECK(error_of(cfg(R"(["aggTrade", "trade"])")).empty());
  // Both paths in one section: one connection group per route (the routes in the order the
  // channels first name them), each with its route's channels and every symbol.
  REQUIRE(error_of(cfg(R"(["depth@100ms", "aggTrade", "bookTicker", "markPrice@1s"])")).empty());
  const venue_config u = parse_config(cfg(R"(["depth@100ms", "aggTrade", "bookTicker", "markPrice@1s"])"), "cfg.json").venues[0];
  CHECK(u.routes == std::vector<std::string>{"/public", "/market"});
  CHECK(u.connections() == 2);
  const venue_config pub = group_view(u, 0), market = group_view(u, 1);
  REQUIRE(pub.channels.size() == 2);
  CHECK(pub.channels[0].id == channel::usdm_depth);
  CHECK(pub.channels[1].id == channel::usdm_book_ticker);
  REQUIRE(market.channels.size() == 2);
  CHECK(market.channels[0].id == channel::usdm_agg_trade);
  CHECK(market.channels[1].id == channel::usdm_mark_price);
  CHECK(pub.symbols == u.symbols);
  CHECK(market.symbols == u.symbols);
  CHECK(u.connection_of("ETHUSDT_261225", channel::usdm_mark_price) == 1);
  CHECK(u.connection_of("ETHUSDT_261225", channel::usdm_depth) == 0);
  // Each its own identity (its control block, its feeder), and counted among the slots.
  const bus_config whole = parse_config(cfg(R"(["depth@100ms", "aggTrade"])"), "cfg.json");
  CHECK(config_identity(whole, group_view(whole.venues[0], 0)) != config_identity(whole, group_view(whole.venues[0], 1)));
  // With symbol groups too: groups x routes, group g = route g / groups, symbols of g % groups.
  const std::string grouped = R"({"bus": "t1", "venues": {"binance_usdm": {"symbols": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT"],
      "channels": ["depth@100ms", "aggTrade"], "groups": 2}}})";
  REQUIRE(error_of(grouped).empty());
  const venue_config gu = parse_config(grouped, "cfg.json").venues[0];
  CHECK(gu.connections() == 4);
  for (std::uint32_t g = 0; g < 4; ++g) {
    const venue_config v = group_view(gu, g);
    REQUIRE(v.channels.size() == 1);
    CHECK(v.channels[0].id == (g < 2 ? channel::usdm_depth : channel::usdm_agg_trade));
    for (const auto& s : v.symbols) {
      CHECK(gu.group_of(s) == g % 2);
      CHECK(gu.connection_of(s, v.channels[0].id) == g);
    }
  }
  CHECK(error_of(cfg(R"(["depth@1000ms"])")).find("unknown Binance USD-M channel \"depth@1000ms\"") != std::string::npos);
  CHECK(error_of(R"({"bus": "t1", "venues": {"binance_usdm": {"symbols": ["btcusdt"], "channels": ["trade"]}}})")
            .find("is not a Binance USD-M symbol") != std::string::npos);
  const channel_spec d = parse_channel(venue::binance_usdm, "depth@0ms");
  CHECK(d.id == channel::usdm_depth);
  CHECK(d.variant == "0ms");
  CHECK(parse_channel(venue::binance_usdm, "depth10@500ms").id == channel::usdm_depth_partial);
  CHECK(parse_channel(venue::binance_usdm, "depth10@500ms").variant == "10@500ms");
  CHECK(parse_channel(venue::binance, "depth@0ms").id == channel::unknown);  // a USD-M speed, not spot's
}

// web-socket-streams.md "WebSocket Limits" (2026-12): "A single connection can listen to a
// maximum of 1024 streams"; a slot is one connection, so a section holds at most that many.
TEST_CASE("config: more streams than one Binance connection holds (1024) are refused in one line, OKX documents no such limit") {
  auto cfg = [](const std::string& venue, int n, const std::string& channels) {
    std::string syms;
    for (int i = 0; i < n; ++i)
      syms += std::string(i == 0 ? "" : ",") + "\"S" + std::to_string(i) + (venue == "okx" ? "-USDT\"" : "USDT\"");
    return R"({"bus": "t1", "venues": {")" + venue + R"(": {"symbols": [)" + syms + R"(], "channels": )" + channels + "}}}";
  };
  CHECK(error_of(cfg("binance", 512, R"(["trade", "depth@100ms"])")).empty());  // 1024: the limit itself
  CHECK(error_of(cfg("binance", 342, R"(["trade", "aggTrade", "depth@100ms"])")) ==
        "cfg.json: venues.binance.symbols: 342 symbols x 3 channels = 1026 streams on one connection; Binance allows 1024 "
        "(Binance web-socket-streams.md, WebSocket Limits (2026-12)): configure more groups, or fewer symbols or channels");
  CHECK(error_of(cfg("binance_usdm", 1025, R"(["bookTicker"])")).find("Binance USD-M allows 1024") != std::string::npos);
  CHECK(error_of(cfg("okx", 600, R"(["trades", "books"])")).empty());
  // The counters segment grows with the streams it must hold (bus/counters.hpp).
  const bus_config small = parse_config(cfg("okx", 2, R"(["trades"])"), "cfg.json");
  CHECK(counters_capacity(small) == 4096);
  const bus_config big = parse_config(cfg("okx", 600, R"(["trades", "books"])"), "cfg.json");
  CHECK(counters_capacity(big) >= 600 * 3 * 10 * 2);
}

TEST_CASE("config: connection groups split a venue's symbols by a hash of each name, each group inside the venue's limits") {
  auto cfg = [](int n, const std::string& extra) {
    std::string syms;
    for (int i = 0; i < n; ++i) syms += std::string(i == 0 ? "" : ",") + "\"S" + std::to_string(i) + "USDT\"";
    return R"({"bus": "t1", "venues": {"binance": {"symbols": [)" + syms +
           R"(], "channels": ["trade", "aggTrade", "depth@100ms"])" + extra + "}}}";
  };
  // 500 symbols x 3 channels = 1500 streams: too many for one Binance connection, fine in 2 groups.
  CHECK(error_of(cfg(500, "")).find("1500 streams on one connection") != std::string::npos);
  const bus_config two = parse_config(cfg(500, R"(, "groups": 2)"), "cfg.json");
  const venue_config& v = two.venues[0];
  CHECK(v.groups == 2);
  const venue_config g0 = group_view(v, 0), g1 = group_view(v, 1);
  CHECK(g0.symbols.size() + g1.symbols.size() == 500);
  CHECK(g0.symbols.size() * 3 <= 1024);
  CHECK(g1.symbols.size() * 3 <= 1024);
  CHECK(g1.group == 1);
  CHECK(g1.channels.size() == 3);
  for (const auto& s : g1.symbols) CHECK(v.group_of(s) == 1);
  // Stable: a symbol's group depends on its name alone; more symbols leave the others where they were.
  const bus_config more = parse_config(cfg(520, R"(, "groups": 2)"), "cfg.json");
  for (const auto& s : v.symbols) CHECK(more.venues[0].group_of(s) == v.group_of(s));
  // Each group's layout is its own identity (its control blocks hold its symbols only).
  CHECK(config_identity(two, g0) != config_identity(two, g1));
  CHECK(config_identity(two, g0) != config_identity(two, v));
  // A group the hash leaves empty, and a group count out of range, are one line each.
  CHECK(error_of(cfg(2, R"(, "groups": 8)")).find("has no symbol (a symbol's group is a hash of its name): configure fewer groups") !=
        std::string::npos);
  CHECK(error_of(cfg(2, R"(, "groups": 0)")) == "cfg.json: venues.binance.groups: must be an integer 1..1024");
  // One group: the default, the venue's one slot pair.
  CHECK(parse_config(cfg(2, ""), "cfg.json").venues[0].groups == 1);
  CHECK(parse_config(cfg(2, ""), "cfg.json").venues[0].group_of("S1USDT") == 0);
  // The counters segment has room for every group's slots.
  CHECK(counters_capacity(two) >= 2 * (500 * 4 * 10 + 4 * 32));
}
