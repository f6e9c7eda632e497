#pragma once
// Ground-truth comparison for process-level tests of the whole bus: follow the output ring,
// read exsim's truth log (truth_streams.hpp), and CHECK stream by stream (nothing lost,
// nothing doubled, in order).
#include "mdbus/broadcast_ring.hpp"
#include "mdbus/records.hpp"
#include "tests/support/truth_streams.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace mdbus::test {

/// Follows the output ring from its oldest record and keeps, per stream, the sequence of
/// every record (snapshots apart) and the gap records.
struct output_log {
  broadcast_ring_reader reader;
  std::vector<std::uint64_t> buffer = std::vector<std::uint64_t>(65536 / 8);
  std::map<stream_ref, std::vector<std::uint64_t>> seqs;
  std::vector<std::string> gaps;
  std::vector<gap_record> gap_records;  ///< the same gap records, whole
  std::map<std::string, std::uint64_t> slot_statuses;  ///< "binance down remote_close" -> count
  /// Every slot-status marker in output order: who, what, and when its writer stamped it.
  struct marker {
    venue v;
    slot_id slot;
    slot_state state;
    slot_reason reason;
    std::int64_t time_ns;  ///< receive_time_ns: CLOCK_REALTIME at the feeder (or the merger, for a dead feeder) that wrote it
    std::uint16_t group = 0;  ///< the venue's connection group
  };
  std::vector<marker> markers;
  std::map<stream_ref, std::int64_t> first_snapshot_ns;  ///< publish time of each book stream's first snapshot
  /// Every trade in output order: its id, how many venue trades it stands for, and whether it
  /// came from the venue's history (OKX: a window's fills, one each).
  struct trade_mark {
    std::uint64_t seq;
    std::uint32_t count;
    bool backfilled;
  };
  std::map<stream_ref, std::vector<trade_mark>> trades;
  std::uint64_t records = 0, snapshots = 0, laps = 0, stamped_wrong = 0;

  explicit output_log(const std::string& name)
      : reader(broadcast_ring_reader::open(name, start_position::oldest, lap_policy::resume_oldest, 10000)) {}

  void poll() {
    std::span<std::byte> buf(reinterpret_cast<std::byte*>(buffer.data()), buffer.size() * 8);
    for (;;) {
      const auto r = reader.try_read(buf);
      if (r.status == broadcast_read_status::empty) return;
      if (r.status == broadcast_read_status::lapped) {
        ++laps;
        continue;
      }
      REQUIRE(r.status == broadcast_read_status::ok);
      record_view v;
      REQUIRE(record_view::parse(buf.first(r.length), v) == record_status::ok);
      const record_header& h = v.header();
      if (h.type == record_type::slot_status) {
        const auto st = *v.slot_status();
        ++slot_statuses[std::string(to_string(h.venue_id)) + " " + std::string(to_string(st.state)) + " " +
                        std::string(to_string(st.reason))];
        markers.push_back({h.venue_id, h.slot, st.state, st.reason, h.receive_time_ns, st.group});
        continue;
      }
      ++records;
      if (h.publish_time_ns < h.receive_time_ns || h.publish_time_ns == 0) ++stamped_wrong;
      const stream_ref key{h.venue_id, h.channel_id, std::string(h.symbol_view())};
      if (h.type == record_type::gap) {
        const auto g = *v.gap();
        gaps.push_back(name_of(key) + " after " + std::to_string(g.last_seq_held) + " next " +
                       std::to_string(g.first_seq_after) + " (" + std::string(to_string(g.reason)) + ")");
        gap_records.push_back(g);
        continue;
      }
      if (h.type == record_type::book_snapshot) {
        ++snapshots;
        first_snapshot_ns.emplace(key, h.publish_time_ns);
        continue;
      }
      seqs[key].push_back(h.seq);
      if (h.type == record_type::trade)
        trades[key].push_back({h.seq, v.trade()->trade_count, (h.flags & kHeaderBackfilled) != 0});
    }
  }
};

struct truth_totals {
  std::size_t expected = 0, delivered = 0;
};

/// CHECKs every wanted stream of the output against the truth: nothing lost, nothing doubled,
/// in order. Returns the sums.
inline truth_totals check_against_truth(const std::map<stream_ref, std::vector<std::uint64_t>>& truth, output_log& out,
                                        const std::set<stream_ref>& wanted) {
  truth_totals t;
  for (const auto& s : wanted) {
    const auto it = truth.find(s);
    const comparison c = compare(it == truth.end() ? std::vector<std::uint64_t>{} : it->second, out.seqs[s]);
    INFO(name_of(s), ": expected ", c.expected, " delivered ", c.delivered, " lost ", c.lost, " duplicated ",
         c.duplicated, " out of order ", c.out_of_order, " ", c.first_problem);
    CHECK(c.lost == 0);
    CHECK(c.duplicated == 0);
    CHECK(c.out_of_order == 0);
    CHECK(c.first_problem.empty());
    t.expected += c.expected;
    t.delivered += c.delivered;
  }
  return t;
}

/// Whether the output holds at least `n` records of every stream in `wanted` (polls it first).
inline bool every_stream_delivered(output_log& out, const std::set<stream_ref>& wanted, std::size_t n) {
  out.poll();
  for (const auto& s : wanted)
    if (out.seqs[s].size() < n) return false;
  return true;
}

/// Polls the output until its last record of every wanted stream is the truth's last event
/// (call with the market paused). `truth` gets the truth read at the end.
template <class Eventually>
bool output_caught_up(output_log& out, const std::string& truth_path, const std::set<stream_ref>& wanted,
                      std::map<stream_ref, std::vector<std::uint64_t>>& truth, Eventually&& eventually_fn) {
  return eventually_fn([&] {
    out.poll();
    truth = read_truth(truth_path, wanted);
    for (const auto& s : wanted) {
      const auto& got = out.seqs[s];
      if (truth[s].empty() || got.empty() || got.back() != truth[s].back()) return false;
    }
    return true;
  });
}

}  // namespace mdbus::test
