#pragma once
// Shared helpers for exsim's integration tests: start exsim, talk to its control endpoint,
// and keep books the way a venue client does.
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mdbus/okx_checksum.hpp"
#include "tests/tools/exsim/exsim_process.hpp"
#include "tests/tools/exsim/http_client.hpp"
#include "tests/tools/exsim/ws_test_client.hpp"

namespace mdbus::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

/// Plain ws:// exsim with the given extra flags.
inline std::vector<std::string> plain(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> a = {"--plain"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

/// POST /fault; returns the reply (CHECK the "ok" field in the test).
inline json post_fault(const exsim_process& x, const json& req) {
  return http_request(x.control_port(), "POST", "/fault", req.dump()).json();
}

inline json get_connections(const exsim_process& x) { return http_request(x.control_port(), "GET", "/connections").json(); }

/// Id of the connection whose path is `path` (the newest if several), or 0.
inline std::uint32_t conn_id_by_path(const exsim_process& x, const std::string& path) {
  std::uint32_t id = 0;
  for (const auto& c : get_connections(x))
    if (c["path"] == path) id = std::max(id, c["id"].get<std::uint32_t>());
  return id;
}

/// Waits until `n` messages are queued on `c`.
inline bool wait_messages(ws_loop& loop, ws_conn& c, std::size_t n, std::chrono::milliseconds t = 5000ms) {
  return loop.pump_until([&] { return c.messages.size() >= n || c.closed; }, t) && c.messages.size() >= n;
}

/// An OKX book as a client keeps it: price → (px text, sz text), ordered best-first.
struct okx_book {
  std::map<double, std::pair<std::string, std::string>, std::greater<>> bids;
  std::map<double, std::pair<std::string, std::string>> asks;

  void apply(const json& levels, bool bid) {
    for (const auto& l : levels) {
      const double p = std::strtod(l[0].get<std::string>().c_str(), nullptr);
      const std::string sz = l[1].get<std::string>();
      if (bid) {
        if (sz == "0") bids.erase(p); else bids[p] = {l[0].get<std::string>(), sz};
      } else {
        if (sz == "0") asks.erase(p); else asks[p] = {l[0].get<std::string>(), sz};
      }
    }
  }
  void apply(const json& data) {
    apply(data["bids"], true);
    apply(data["asks"], false);
  }
  /// OKX checksum over the top 25 levels of the venue's text (bus/include/mdbus/okx_checksum.hpp).
  [[nodiscard]] std::int32_t checksum() const {
    okx_checksum_builder<crc32_state> crc;
    auto b = bids.begin();
    auto a = asks.begin();
    okx_checksum_walk(bids.size(), asks.size(), [&](bool is_bid, std::size_t) {
      const auto& level = is_bid ? (b++)->second : (a++)->second;  // each side in order
      crc.add(level.first, level.second);
    });
    return crc.value();
  }
};

}  // namespace mdbus::test
