#include "tests/chaos/loss_attribution.hpp"

#include <algorithm>
#include <map>

namespace mdbus::chaos {

slot_event from_marker(venue v, slot_id slot, slot_state state, slot_reason reason, std::int64_t time_ns,
                       std::uint32_t group) noexcept {
  slot_event e;
  e.reason = reason;
  e.v = v;
  e.slot = slot;
  e.group = group;
  e.time_ns = time_ns;
  e.what = state == slot_state::up         ? slot_event::kind::up
           : state == slot_state::rotating ? slot_event::kind::rotating
                                           : slot_event::kind::not_up;
  return e;
}

std::size_t attribution::rotation_outages() const noexcept {
  return static_cast<std::size_t>(std::count_if(outages.begin(), outages.end(), [](const outage& o) { return o.by_rotation; }));
}

attribution attribute(std::vector<slot_event> events, const std::vector<std::pair<venue, std::int64_t>>& cut_both,
                      const std::vector<lost_event>& lost, const attribution_margins& m) {
  // Time order; at one instant, what takes a slot away before what brings one back.
  std::stable_sort(events.begin(), events.end(), [](const slot_event& a, const slot_event& b) {
    if (a.time_ns != b.time_ns) return a.time_ns < b.time_ns;
    auto takes = [](const slot_event& x) { return x.what != slot_event::kind::up && x.what != slot_event::kind::stall_end; };
    return takes(a) > takes(b);
  });
  attribution r;
  struct line {
    bool up = false;
    bool stalled = false;  ///< the harness holds it stalled
  };
  struct venue_state {
    std::map<slot_id, line> slots;
    int stalled_unknown = 0;  ///< stalled lines of no known slot
    bool seen_up = false;
    bool out = false;
  };
  std::map<std::pair<venue, std::uint32_t>, venue_state> state;  // per connection group
  auto carrying = [](const venue_state& s) {
    const auto n = std::count_if(s.slots.begin(), s.slots.end(), [](const auto& kv) { return kv.second.up && !kv.second.stalled; });
    return n - s.stalled_unknown;
  };
  for (const slot_event& e : events) {
    venue_state& s = state[{e.v, e.group}];
    const bool was = carrying(s) > 0;
    const bool stall = e.what == slot_event::kind::stall_begin || e.what == slot_event::kind::stall_end;
    if (stall && e.slot == slot_id::none) {
      s.stalled_unknown = std::max(0, s.stalled_unknown + (e.what == slot_event::kind::stall_begin ? 1 : -1));
    } else if (stall) {
      s.slots[e.slot].stalled = e.what == slot_event::kind::stall_begin;
    } else {
      // Any other event: the stalled line is gone (down, rotated, killed) or replaced (up).
      s.slots[e.slot] = {e.what == slot_event::kind::up, false};
    }
    const bool is = carrying(s) > 0;
    if (e.what == slot_event::kind::up) s.seen_up = true;
    if (was && !is && s.seen_up) {
      outage o;
      o.v = e.v;
      o.group = e.group;
      o.start_ns = e.time_ns;
      o.began_by = e;
      o.by_rotation = e.what == slot_event::kind::rotating;
      for (const auto& [cv, t] : cut_both)
        if (cv == e.v && e.time_ns >= t && e.time_ns - t <= m.cut_both_ns) o.harness_cut_both = true;
      r.outages.push_back(o);
      s.out = true;
    } else if (!was && is && s.out) {
      for (auto it = r.outages.rbegin(); it != r.outages.rend(); ++it)
        if (it->v == e.v && it->group == e.group) {
          it->end_ns = e.time_ns;
          break;
        }
      s.out = false;
    }
  }
  for (const lost_event& l : lost) {
    outage* found = nullptr;
    for (outage& o : r.outages) {
      if (o.v != l.v || o.group != l.group) continue;
      const bool after_start = l.time_ns >= o.start_ns - m.before_ns;
      const bool before_end = o.end_ns == 0 || l.time_ns <= o.end_ns + m.after_ns;
      if (after_start && before_end) {
        found = &o;
        break;
      }
    }
    if (found != nullptr) ++found->lost;
    else r.unexplained.push_back(l);
  }
  return r;
}

}  // namespace mdbus::chaos
