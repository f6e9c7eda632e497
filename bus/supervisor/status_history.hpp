#pragma once
/// The last minutes of each slot for the status page's charts: message rate, race lead and
/// reconnects, one point per interval. Pure: the supervisor hands in each slot's cumulative
/// counters with the monotonic time (which paces the points) and the wall time (which labels
/// them); this turns them into per-interval points (deltas; a counter that went backwards — a
/// segment made anew — counted from zero; a slot whose feeder block is closed keeps its last
/// count) and keeps the newest `capacity` points. No I/O, no clock: unit-tested alone
/// (tests/bus/supervisor/status_history_test.cpp).
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace mdbus::supervise {

/// One slot's counters as of now, cumulative where the name says so.
struct slot_counters {
  std::string slot;                ///< "binance/g0/A": the key of its series
  double msgs_per_s = 0;           ///< the supervisor's own rate over its last sample
  std::uint64_t lead_sum_ns = 0;   ///< cumulative: merger's lead of this slot over its partner
  std::uint64_t lead_samples = 0;  ///< cumulative: first arrivals the lead was measured on
  /// Cumulative: connections after the first (the feeder's count); none while the slot's status
  /// block is closed (its feeder is gone): the last count stands, no point counts a reconnect.
  std::optional<std::uint64_t> reconnects;
};

/// One slot's point of one interval.
struct slot_point {
  double msgs_per_s = 0;
  std::optional<double> lead_us;  ///< mean lead over the interval; none when it led nothing
  std::uint64_t reconnects = 0;   ///< during the interval
};

class status_history {
 public:
  /// Keeps `capacity` points, one per `interval_ns` at most.
  status_history(std::size_t capacity, std::int64_t interval_ns);

  /// Takes a point when `interval_ns` of monotonic time (`mono_ns`) has passed since the last
  /// one (the first call only sets the baseline: a point needs an interval), labelled with
  /// `wall_ns` (a wall clock that steps back does not stop the points). Returns whether a
  /// point was taken.
  bool sample(std::int64_t mono_ns, std::int64_t wall_ns, const std::vector<slot_counters>& slots);

  /// Whether sample() at `mono_ns` would take a point (or the baseline): a cheap test first.
  [[nodiscard]] bool due(std::int64_t mono_ns) const noexcept { return !primed_ || mono_ns - last_ns_ >= interval_ns_; }
  [[nodiscard]] std::size_t size() const noexcept { return points_.size(); }
  [[nodiscard]] std::int64_t interval_ns() const noexcept { return interval_ns_; }
  /// The point of `slot` at index `i` (0 = oldest), if the slot existed then.
  [[nodiscard]] std::optional<slot_point> at(std::size_t i, const std::string& slot) const;

  /// {"interval_ms": N, "t_ms": [wall ms...], "slots": {"<slot>": {"msgs_per_s": [...],
  /// "lead_us": [...], "reconnects": [...]}}}: arrays aligned with t_ms, null where a slot
  /// did not exist yet (a reload added it) or led nothing.
  void to_json(nlohmann::json& out) const;

 private:
  struct point {
    std::int64_t t_ns;  ///< wall
    std::map<std::string, slot_point> slots;
  };
  std::size_t capacity_;
  std::int64_t interval_ns_;
  std::int64_t last_ns_ = 0;  ///< monotonic time of the last point
  bool primed_ = false;
  std::map<std::string, slot_counters> last_;  ///< the counters at the last point
  std::deque<point> points_;
};

}  // namespace mdbus::supervise
