// The ground-truth log holds every event exsim generated, once, in order, with the hash of
// the exact bytes subscribers received — so a verifier can prove nothing was lost or doubled.
// Fan-out is identical for every subscriber of a stream, so two lines can be arbitrated.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <map>

#include "tests/tools/exsim/exsim_test_util.hpp"
#include "tools/exsim/truth_reader.hpp"

using namespace mdbus::test;
using mdbus::exsim::truth_hash;

namespace {

std::string temp_path(const char* tag) {
  char path[64];
  std::snprintf(path, sizeof path, "/tmp/exsim_%s_XXXXXX", tag);
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  return path;
}

/// Stream name and the exact payload bytes the truth hash covers, for a received message.
std::pair<std::string, std::string> stream_and_payload(const std::string& msg) {
  const auto j = json::parse(msg);
  if (j.contains("stream")) {  // Binance combined: hash covers the "data" value, byte for byte
    const std::string prefix = "{\"stream\":\"" + j["stream"].get<std::string>() + "\",\"data\":";
    REQUIRE(msg.rfind(prefix, 0) == 0);
    return {j["stream"].get<std::string>(), msg.substr(prefix.size(), msg.size() - prefix.size() - 1)};
  }
  return {j["arg"]["channel"].get<std::string>() + ":" + j["arg"]["instId"].get<std::string>(), msg};
}

}  // namespace

TEST_CASE("exsim every event a subscriber received is in the truth log once, in order, with the same hash") {
  const auto path = temp_path("truth");
  std::map<std::string, std::vector<std::uint64_t>> received;
  std::uint32_t okx_conn = 0;
  {
    // The per-connection snapshot is the old OKX behaviour, logged with its own flag.
    exsim_process x(plain({"--rate", "3000", "--truth-log", path, "--okx-snapshot", "push", "--okx-public-l2-tbt"}));
    ws_loop loop;
    auto& b = loop.connect(x.venue_port(), "/stream?streams=btcusdt@trade/btcusdt@depth@100ms/ethusdt@aggTrade/ethusdt@bookTicker");
    auto& o = loop.connect(x.venue_port(), "/ws/v5/public");
    o.send(R"({"op":"subscribe","args":[{"channel":"books-l2-tbt","instId":"BTC-USDT"},{"channel":"books","instId":"ETH-USDT"},{"channel":"trades","instId":"ETH-USDT"}]})");
    REQUIRE(loop.pump_until([&] { return b.connected && o.connected; }, 5s));
    okx_conn = conn_id_by_path(x, "/ws/v5/public");
    loop.pump_until([&] { return b.received > 3000 && o.received > 1000; }, 10s);
    x.stop();  // flushes the log
    for (const auto* c : {&b, &o})
      for (const auto& m : c->messages) {
        if (json::parse(m).contains("event")) continue;
        const auto [name, payload] = stream_and_payload(m);
        received[name].push_back(truth_hash(payload));
      }
  }
  mdbus::exsim::truth_reader r(path);
  std::map<std::uint16_t, std::vector<mdbus::exsim::truth_entry>> by_stream;
  std::uint64_t n = 0;
  while (auto e = r.next()) {
    ++n;
    if (e->conn_id == 0 || e->conn_id == okx_conn) by_stream[e->stream_id].push_back(*e);
  }
  CHECK(n > 3000);
  REQUIRE(received.size() == 7);
  for (const auto& [name, hashes] : received) {
    INFO("stream " << name);
    const auto* s = r.find(name);
    REQUIRE(s != nullptr);
    const auto& truth = by_stream[s->id];
    // The received sequence is one contiguous run of the truth sequence: nothing lost, nothing doubled.
    std::size_t start = 0;
    while (start < truth.size() && truth[start].payload_hash != hashes.front()) ++start;
    REQUIRE(start < truth.size());
    REQUIRE(truth.size() - start >= hashes.size());
    for (std::size_t i = 0; i < hashes.size(); ++i) REQUIRE(truth[start + i].payload_hash == hashes[i]);
    if (s->channel_id == mdbus::channel::binance_trade)
      for (std::size_t i = start + 1; i < start + hashes.size(); ++i) CHECK(truth[i].first_seq == truth[i - 1].first_seq + 1);
    if (s->channel_id == mdbus::channel::okx_books_l2_tbt) {
      CHECK((truth[start].flags & mdbus::exsim::kTruthSnapshot) != 0);  // the per-connection snapshot
      for (std::size_t i = start + 1; i < start + hashes.size(); ++i) CHECK(truth[i].prev_seq == truth[i - 1].last_seq);
    }
  }
  std::remove(path.c_str());
}

TEST_CASE("exsim two subscribers of a stream receive the identical event sequence") {
  exsim_process x(plain({"--rate", "3000"}));
  ws_loop loop;
  auto& a = loop.connect(x.venue_port(), "/ws/btcusdt@bookTicker");
  auto& b = loop.connect(x.venue_port(), "/stream?streams=btcusdt@bookTicker");
  REQUIRE(loop.pump_until([&] { return a.received > 500 && b.received > 500; }, 10s));
  std::vector<std::string> va(a.messages.begin(), a.messages.end());
  std::vector<std::string> vb;
  for (const auto& m : b.messages) vb.push_back(stream_and_payload(m).second);
  // Align on the later first event; from there on both lines carry the same bytes.
  std::size_t ia = 0, ib = 0;
  const auto ua = json::parse(va[0])["u"].get<std::int64_t>();
  const auto ub = json::parse(vb[0])["u"].get<std::int64_t>();
  if (ua < ub)
    while (ia < va.size() && va[ia] != vb[0]) ++ia;
  else
    while (ib < vb.size() && vb[ib] != va[0]) ++ib;
  std::size_t same = 0;
  while (ia < va.size() && ib < vb.size()) {
    REQUIRE(va[ia] == vb[ib]);
    ++ia;
    ++ib;
    ++same;
  }
  CHECK(same > 400);
}
