#pragma once
// e2e_bench's analysis: exsim's truth log for one measurement window, the bus's and the
// floor's samples matched to it by (stream, sequence), and the percentiles printed.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench/e2e_floor.hpp"
#include "mdbus/records.hpp"
#include "tools/exsim/truth_reader.hpp"

namespace mdbus::bench {

/// One record as the bench's consumer saw it: the truth stream and sequence that name the
/// event, when the consumer got it, and the stamps the record carries (feeder receive of the
/// winning copy, merger publish).
struct bus_sample {
  std::int64_t seq;
  std::int64_t recv_ns;
  std::int64_t feeder_ns;
  std::int64_t publish_ns;
  std::uint16_t stream;
  slot_id slot;
  std::uint8_t pad[5];
};

/// (stream, sequence) as one 64-bit key: sequences stay far below 2^48 (ids around 1e10).
inline std::uint64_t event_key(std::uint16_t stream, std::int64_t seq) noexcept {
  return (std::uint64_t{stream} << 48) ^ (static_cast<std::uint64_t>(seq) & ((std::uint64_t{1} << 48) - 1));
}

/// The truth of one window: the events of the wanted streams that exsim fanned out to every
/// subscriber (no per-connection snapshots, no OKX heartbeats, which repeat a seqId) with
/// gen_time_ns in [t0, t1).
struct truth_window {
  std::unordered_map<std::uint64_t, std::int64_t> gen_ns;  ///< event_key -> gen_time_ns
  std::uint64_t all_events = 0;  ///< every stream, every entry in the window (what exsim generated)

  /// Reads what `r` has appended since the last call; entries before t0 and after t1 are
  /// consumed and dropped (the next window starts after a rate change and a warm-up).
  void read(exsim::truth_reader& r, const std::vector<bool>& wanted, std::int64_t t0, std::int64_t t1) {
    while (const auto e = r.next()) {
      if (e->gen_time_ns < t0 || e->gen_time_ns >= t1) continue;
      ++all_events;
      if (e->stream_id >= wanted.size() || !wanted[e->stream_id] || e->conn_id != 0 ||
          (e->flags & (exsim::kTruthSnapshot | exsim::kTruthHeartbeat)) != 0)
        continue;
      gen_ns.emplace(event_key(e->stream_id, e->last_seq), e->gen_time_ns);
    }
  }
};

/// p50 / p99 / p99.9 / max of a set of nanosecond values (nearest rank).
struct percentiles {
  std::size_t n = 0;
  double p50 = 0, p99 = 0, p999 = 0, max = 0;

  static percentiles of(std::vector<std::int64_t> v) {
    percentiles p;
    p.n = v.size();
    if (v.empty()) return p;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
      const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
      return static_cast<double>(v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)]);
    };
    p.p50 = at(0.5);
    p.p99 = at(0.99);
    p.p999 = at(0.999);
    p.max = static_cast<double>(v.back());
    return p;
  }
};

/// Every latency the bench reports for one window.
struct window_latencies {
  std::uint64_t truth_events = 0;
  std::uint64_t bus_matched = 0, bus_duplicates = 0;
  std::uint64_t floor_matched = 0, floor_duplicates = 0;
  std::uint64_t paired = 0;
  std::uint64_t first_arrivals[3][2] = {};  ///< [venue][slot] among matched bus records
  std::vector<std::int64_t> bus, floor;  ///< receive - gen_time
  std::vector<std::int64_t> floor_first_of_tick;    ///< per gen_time value: the floor's earliest receive - gen
  std::vector<std::int64_t> bus_minus_floor;        ///< same event: consumer receive - floor receive
  std::vector<std::int64_t> feeder_minus_floor;     ///< same event: winning feeder's receive - floor receive
  std::vector<std::int64_t> feeder_to_publish;      ///< merger publish - feeder receive
  std::vector<std::int64_t> publish_to_consumer;    ///< consumer receive - merger publish
  std::vector<std::int64_t> feeder_to_consumer;     ///< consumer receive - winning feeder's receive (the bus's own hops)
  std::vector<std::int64_t> bus_last_second;        ///< bus latency of the events of the window's last second
  std::vector<std::int64_t> bus_first_second;

  void match(const truth_window& t, const bus_sample* bus_s, std::size_t bus_n, const floor_sample* floor_s,
             std::size_t floor_n, const std::vector<venue>& stream_venue, std::int64_t t0, std::int64_t t1) {
    truth_events = t.gen_ns.size();
    std::unordered_map<std::uint64_t, std::int64_t> floor_recv;
    floor_recv.reserve(t.gen_ns.size());
    std::unordered_map<std::int64_t, std::int64_t> first_of_tick;  // gen_time_ns -> earliest floor receive
    for (std::size_t i = 0; i < floor_n; ++i) {
      const auto k = event_key(floor_s[i].stream, floor_s[i].seq);
      const auto g = t.gen_ns.find(k);
      if (g == t.gen_ns.end()) continue;
      if (!floor_recv.emplace(k, floor_s[i].recv_ns).second) {
        ++floor_duplicates;
        continue;
      }
      floor.push_back(floor_s[i].recv_ns - g->second);
      const auto [tick, fresh] = first_of_tick.emplace(g->second, floor_s[i].recv_ns);
      if (!fresh) tick->second = std::min(tick->second, floor_s[i].recv_ns);
    }
    for (const auto& [gen, recv] : first_of_tick) floor_first_of_tick.push_back(recv - gen);
    floor_matched = floor_recv.size();
    std::unordered_map<std::uint64_t, bool> seen;
    seen.reserve(t.gen_ns.size());
    for (std::size_t i = 0; i < bus_n; ++i) {
      const bus_sample& s = bus_s[i];
      const auto k = event_key(s.stream, s.seq);
      const auto g = t.gen_ns.find(k);
      if (g == t.gen_ns.end()) continue;
      if (!seen.emplace(k, true).second) {
        ++bus_duplicates;
        continue;
      }
      const std::int64_t lat = s.recv_ns - g->second;
      bus.push_back(lat);
      if (g->second >= t1 - 1'000'000'000) bus_last_second.push_back(lat);
      if (g->second < t0 + 1'000'000'000) bus_first_second.push_back(lat);
      feeder_to_publish.push_back(s.publish_ns - s.feeder_ns);
      publish_to_consumer.push_back(s.recv_ns - s.publish_ns);
      feeder_to_consumer.push_back(s.recv_ns - s.feeder_ns);
      const auto v = static_cast<std::size_t>(stream_venue.at(s.stream));
      if (v < 3 && (s.slot == slot_id::a || s.slot == slot_id::b)) ++first_arrivals[v][static_cast<std::size_t>(s.slot)];
      const auto f = floor_recv.find(k);
      if (f == floor_recv.end()) continue;
      ++paired;
      bus_minus_floor.push_back(s.recv_ns - f->second);
      feeder_minus_floor.push_back(s.feeder_ns - f->second);
    }
    bus_matched = seen.size();
  }
};

/// One trade as a third-party client (ccxt) delivered it: truth stream, trade id, receive time.
struct client_sample {
  std::int64_t seq;
  std::int64_t recv_ns;
  std::uint16_t stream;
};

/// The same events through a third-party client, the bus and the floor: per event in the
/// window that all three got, client - floor and bus - floor.
struct client_comparison {
  std::uint64_t client_events = 0;  ///< the client's trades that are events of the window
  std::uint64_t all_three = 0;
  std::vector<std::int64_t> client_minus_floor, bus_minus_floor, client_from_gen;

  void match(const truth_window& t, const std::vector<client_sample>& client, const bus_sample* bus_s, std::size_t bus_n,
             const floor_sample* floor_s, std::size_t floor_n) {
    std::unordered_map<std::uint64_t, std::int64_t> got;  // event -> client receive
    for (const client_sample& c : client) {
      const auto k = event_key(c.stream, c.seq);
      const auto g = t.gen_ns.find(k);
      if (g == t.gen_ns.end() || !got.emplace(k, c.recv_ns).second) continue;
      client_from_gen.push_back(c.recv_ns - g->second);
    }
    client_events = got.size();
    std::unordered_map<std::uint64_t, std::int64_t> floor_recv, bus_recv;
    for (std::size_t i = 0; i < floor_n; ++i) {
      const auto k = event_key(floor_s[i].stream, floor_s[i].seq);
      if (got.count(k) != 0) floor_recv.emplace(k, floor_s[i].recv_ns);
    }
    for (std::size_t i = 0; i < bus_n; ++i) {
      const auto k = event_key(bus_s[i].stream, bus_s[i].seq);
      if (got.count(k) != 0) bus_recv.emplace(k, bus_s[i].recv_ns);
    }
    for (const auto& [k, c] : got) {
      const auto f = floor_recv.find(k);
      const auto b = bus_recv.find(k);
      if (f == floor_recv.end() || b == bus_recv.end()) continue;
      ++all_three;
      client_minus_floor.push_back(c - f->second);
      bus_minus_floor.push_back(b->second - f->second);
    }
  }
};

}  // namespace mdbus::bench
