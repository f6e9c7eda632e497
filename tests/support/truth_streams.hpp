#pragma once
// exsim's ground truth against what the bus delivered, per stream: the part of the comparison
// that needs no test framework (mdchaos uses it too). truth_compare.hpp adds the doctest side.
#include "mdbus/venue.hpp"
#include "tools/exsim/truth_reader.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace mdbus::test {

/// The key a stream's events are compared by: the venue's sequence of the event.
struct stream_ref {
  venue v;
  channel c;
  std::string symbol;
  bool operator<(const stream_ref& o) const {
    return std::tie(v, c, symbol) < std::tie(o.v, o.c, o.symbol);
  }
};
inline std::string name_of(const stream_ref& s) {
  return std::string(to_string(s.v)) + "/" + std::string(to_string(s.c)) + "/" + s.symbol;
}

/// The streams the process tests and mdchaos configure: Binance trade, aggTrade and
/// depth@100ms on BTCUSDT and ETHUSDT; OKX trades, books and bbo-tbt on BTC-USDT and ETH-USDT.
inline std::set<stream_ref> test_bus_streams(const std::vector<std::string>& binance = {"BTCUSDT", "ETHUSDT"},
                                             const std::vector<std::string>& okx = {"BTC-USDT", "ETH-USDT"}) {
  std::set<stream_ref> s;
  for (const auto& sym : binance)
    for (channel c : {channel::binance_trade, channel::binance_agg_trade, channel::binance_depth}) s.insert({venue::binance, c, sym});
  for (const auto& sym : okx)
    for (channel c : {channel::okx_trades, channel::okx_books, channel::okx_bbo_tbt}) s.insert({venue::okx, c, sym});
  return s;
}

/// Calls f(stream_ref, entry) for each event of exsim's ground truth on a `wanted` stream that
/// every subscriber got (not per-connection snapshots, not OKX's empty book heartbeats, which
/// carry no data and repeat the last seqId).
template <class F>
void for_each_truth_event(const std::string& path, const std::set<stream_ref>& wanted, F&& f) {
  exsim::truth_reader t(path);
  while (auto e = t.next()) {
    if (e->conn_id != 0 || (e->flags & (exsim::kTruthHeartbeat | exsim::kTruthSnapshot)) != 0) continue;
    const auto& s = t.streams()[e->stream_id];
    // The configs subscribe depth@100ms: the other speeds share the stream key ...
    const auto ch = static_cast<channel>(e->channel);
    if ((ch == channel::binance_depth || ch == channel::usdm_depth) && s.name.find("@100ms") == std::string::npos) continue;
    // ... and markPrice@1s: the 3 s markPrice stream shares its key.
    if (ch == channel::usdm_mark_price && !std::string_view(s.name).ends_with("@1s")) continue;
    const stream_ref key{static_cast<venue>(e->venue), static_cast<channel>(e->channel), s.symbol};
    if (wanted.count(key) != 0) f(key, *e);
  }
}

/// exsim's ground truth per stream: each event's sequence (for_each_truth_event).
inline std::map<stream_ref, std::vector<std::uint64_t>> read_truth(const std::string& path, const std::set<stream_ref>& wanted) {
  std::map<stream_ref, std::vector<std::uint64_t>> out;
  for_each_truth_event(path, wanted, [&](const stream_ref& key, const auto& e) { out[key].push_back(static_cast<std::uint64_t>(e.last_seq)); });
  return out;
}

struct comparison {
  std::size_t expected = 0, delivered = 0, lost = 0, duplicated = 0, out_of_order = 0;
  std::vector<std::uint64_t> lost_seqs;  ///< the truth events after the first delivered one that never came
  std::string first_problem;
};

/// From the first record the output has of the stream, every truth event must follow once, in order.
inline comparison compare(const std::vector<std::uint64_t>& truth, const std::vector<std::uint64_t>& got) {
  comparison c;
  c.delivered = got.size();
  if (got.empty()) {
    c.first_problem = "nothing delivered";
    return c;
  }
  const auto start = std::find(truth.begin(), truth.end(), got.front());
  if (start == truth.end()) {
    c.first_problem = "first delivered seq " + std::to_string(got.front()) + " not in the truth";
    return c;
  }
  const std::vector<std::uint64_t> expected(start, truth.end());
  c.expected = expected.size();
  std::set<std::uint64_t> seen;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!seen.insert(got[i]).second) ++c.duplicated;
    if (i > 0 && got[i] <= got[i - 1]) ++c.out_of_order;
  }
  for (const auto s : expected)
    if (seen.count(s) == 0) {
      if (c.lost == 0) c.first_problem = "lost " + std::to_string(s);
      ++c.lost;
      c.lost_seqs.push_back(s);
    }
  return c;
}


}  // namespace mdbus::test
