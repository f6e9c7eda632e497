#include "bus/merge/outage_tracker.hpp"

#include <algorithm>

namespace mdbus::merge {
namespace {

/// A slot carries its streams once its subscriptions went out (syncing: the venue delivers from
/// there, and a quiet market may send nothing for long) and while it is up.
bool carrying(slot_state s) noexcept { return s == slot_state::up || s == slot_state::syncing; }

}  // namespace

std::optional<outage_window> outage_tracker::note(venue v, std::uint32_t group, slot_id slot, slot_state state,
                                                  std::int64_t time_ns, std::int64_t last_data_ns) {
  if (slot != slot_id::a && slot != slot_id::b) return std::nullopt;
  group_state& g = groups_[{v, group}];
  const int me = slot == slot_id::b ? 1 : 0;
  const bool up_before = carrying(g.slots[0]) || carrying(g.slots[1]);
  const bool i_carried = carrying(g.slots[me]);
  g.slots[me] = state;
  if (!i_carried && carrying(state)) g.carrying_since_ns[me] = time_ns;
  if (i_carried && !carrying(state)) g.stopped_ns[me] = time_ns;
  const bool up_after = carrying(g.slots[0]) || carrying(g.slots[1]);
  if (up_before && !up_after) {
    // The last carrying slot went: an outage begins — where its data stopped, if that was
    // earlier (a silent connection found by a watchdog), but not before its partner stopped
    // (which delivered until then) nor before this connection began to carry.
    std::int64_t start = time_ns;
    if (last_data_ns > 0 && last_data_ns < time_ns)
      start = std::max({last_data_ns, g.stopped_ns[1 - me], g.carrying_since_ns[me]});
    g.down_since_ns = std::min(start, time_ns);
    return std::nullopt;
  }
  if (!up_before && up_after) {
    const bool was_outage = g.ever_up && g.down_since_ns != 0;
    const outage_window w{g.down_since_ns, time_ns};
    g.ever_up = true;
    g.down_since_ns = 0;
    if (was_outage) return w;
  }
  return std::nullopt;
}

bool outage_tracker::in_outage(venue v, std::uint32_t group) const {
  const auto it = groups_.find({v, group});
  return it != groups_.end() && it->second.ever_up && it->second.down_since_ns != 0;
}

}  // namespace mdbus::merge
