#pragma once
/// When every slot that carries a connection group was down at once (issue 16, item 2): the
/// windows in which a stream whose ids reveal no holes (OKX trades, bbo-tbt, tickers, Binance
/// bookTicker, mark prices) may have lost messages without any sign in its ids. The merger
/// publishes a "suspect" gap record for each such stream of the group when the window closes,
/// so that loss is never silent on any stream.
///
/// Pure: the merger tells it each slot's state as its slot-status markers are read (and the
/// markers it writes for a dead feeder); it answers with the window when a group comes back.
/// A slot carries from `syncing` (its subscriptions are out: the venue delivers from there, and
/// a quiet instrument may send nothing for a long time, so waiting for `up` would call a quiet
/// market an outage) and while `up`. A group that never had a carrying slot (start) has no
/// window: nothing was being carried.
///
/// A slot can stop delivering before it is known to be down: a connection that went silent
/// (no close, no data) is found by the feeder's watchdogs seconds later, and a lagging partner
/// may never deliver what it had not yet received when it fell. So the window starts where the
/// last carrying slot's data stopped, when that was before its marker: at the latest of its last
/// record, its partner stopping to carry (until then the partner delivered), and its own start
/// of carrying (the last record may be a previous connection's).
#include "mdbus/records.hpp"
#include "mdbus/venue.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <tuple>

namespace mdbus::merge {

struct outage_window {
  std::int64_t start_ns = 0;  ///< the marker time at which the group's last carrying slot stopped carrying
  std::int64_t end_ns = 0;    ///< the marker time at which a slot carried again (syncing or up)
};

class outage_tracker {
 public:
  /// Slot `slot` of venue `v`'s group `group` reports `state` at wall time `time_ns`;
  /// `last_data_ns`: the wall time of the last record it delivered (0: none). Returns the window
  /// that ends here when this brings the group back from having no slot up.
  std::optional<outage_window> note(venue v, std::uint32_t group, slot_id slot, slot_state state, std::int64_t time_ns,
                                    std::int64_t last_data_ns = 0);
  /// Whether no slot of the group is up now, after one has been (an outage under way).
  [[nodiscard]] bool in_outage(venue v, std::uint32_t group) const;

 private:
  struct group_state {
    slot_state slots[2] = {slot_state::unknown, slot_state::unknown};
    std::int64_t carrying_since_ns[2] = {0, 0};  ///< when each slot last began to carry
    std::int64_t stopped_ns[2] = {0, 0};         ///< when each slot last stopped carrying
    bool ever_up = false;
    std::int64_t down_since_ns = 0;  ///< 0: some slot is up (or never was)
  };
  std::map<std::tuple<venue, std::uint32_t>, group_state> groups_;
};

}  // namespace mdbus::merge
