// mdmerge's config reload (SIGHUP; mdsupervisor sends it on `mdctl reload`): a venue's symbol
// list changed. Only the connection groups whose symbols changed are touched; their feeders
// are restarted by the supervisor, one slot at a time, with the new symbols.
#include "bus/merge/merger.hpp"

#include <algorithm>
#include <set>

namespace mdbus::merge {
namespace {

/// Empty when `next` lays out the same inputs as `now` (venues, groups, slots, channels, bus):
/// what the merger's rings and arbiter are built on. Else the first difference.
std::string layout_difference(const config::bus_config& now, const config::bus_config& next) {
  if (now.bus != next.bus) return "bus: changed";
  if (now.venues.size() != next.venues.size()) return "venues: a venue added or removed";
  for (std::size_t i = 0; i < now.venues.size(); ++i) {
    const auto& a = now.venues[i];
    const auto& b = next.venues[i];
    const std::string v(to_string(a.id));
    if (a.id != b.id) return "venues: " + v + " replaced by " + std::string(to_string(b.id));
    if (a.groups != b.groups) return v + ".groups: changed (it moves every symbol)";
    if (a.routes != b.routes) return v + ".channels: their routes changed";
    if (a.slots != b.slots) return v + ".slots: changed";
    if (a.channels.size() != b.channels.size()) return v + ".channels: changed";
    for (std::size_t c = 0; c < a.channels.size(); ++c)
      if (a.channels[c].name != b.channels[c].name) return v + ".channels: changed";
  }
  if (now.rings.feeder_bytes != next.rings.feeder_bytes || now.rings.feeder_max_frame != next.rings.feeder_max_frame ||
      now.rings.output_bytes != next.rings.output_bytes || now.rings.output_max_frame != next.rings.output_max_frame)
    return "rings: changed";
  return {};
}

}  // namespace

std::string merger::reload(const config::bus_config& next) {
  if (const std::string why = layout_difference(cfg_, next); !why.empty())
    throw config::config_error(why + " (a reload may change the venues' symbols only; restart the bus for the rest)");
  // Room first (the only allocation): every stream the new symbols bring, and the spare the
  // arbiter keeps for streams a feeder sends unannounced.
  std::size_t adding = 0;
  for (std::size_t vi = 0; vi < next.venues.size(); ++vi) {
    const auto& was = cfg_.venues[vi].symbols;
    for (const auto& s : next.venues[vi].symbols)
      if (std::find(was.begin(), was.end(), s) == was.end()) adding += next.venues[vi].channels.size() + 1;
  }
  arbiter_.reserve_streams(arbiter_.stream_count() + adding + 64);

  std::size_t groups_changed = 0, added = 0, removed = 0;
  std::string changed;
  for (std::size_t vi = 0; vi < next.venues.size(); ++vi) {
    const auto& old_v = cfg_.venues[vi];
    const auto& new_v = next.venues[vi];
    const std::set<std::string> before(old_v.symbols.begin(), old_v.symbols.end());
    const std::set<std::string> after(new_v.symbols.begin(), new_v.symbols.end());
    for (const auto& s : before)
      if (!after.contains(s)) {
        // Removed: its streams stop asking for snapshots; its records, if any still come from
        // a feeder not yet restarted, are merged as before.
        (void)arbiter_.retire_symbol(new_v.id, s);
        for (const auto& ch : old_v.channels) resync_places_.erase({new_v.id, ch.id, s});
        ++removed;
      }
    for (std::uint32_t grp = 0; grp < new_v.connections(); ++grp) {
      const config::venue_config old_gv = config::group_view(old_v, grp);
      const config::venue_config new_gv = config::group_view(new_v, grp);
      const std::uint64_t id = config::config_identity(next, new_gv);
      if (id == config::config_identity(cfg_, old_gv)) continue;  // untouched: its feeders keep running
      ++groups_changed;
      changed += (changed.empty() ? "" : ", ") + std::string(to_string(new_v.id)) + "/g" + std::to_string(grp);
      for (std::size_t i = 0; i < new_gv.symbols.size(); ++i) {
        const std::string& s = new_gv.symbols[i];
        for (const auto& ch : new_gv.channels) {
          if (!new_v.carries(s, ch.id)) continue;
          if (!before.contains(s)) (void)arbiter_.add_stream(new_v.id, ch.id, s, grp);
          resync_places_[{new_v.id, ch.id, s}] = {grp, i};  // positions after an insertion or removal move
        }
        if (!before.contains(s) && grp < new_v.groups) ++added;  // counted once, on its first route
      }
      // The group's slots get new control blocks (sized and stamped for the new symbols) when
      // the supervisor restarts their feeders: forget the old ones and look for the new ones.
      for (auto& in : inputs_) {
        if (in.v != new_v.id || in.group != grp) continue;
        in.config_id = id;
        in.symbols = new_gv.symbols.size();
        in.resync = feeder_resync_requester{};
        in.last_control_reason.clear();
        in.reloaded = true;
      }
    }
  }
  cfg_.venues = next.venues;
  if (counters_ok_) {
    try {
      register_stream_counters();
    } catch (const segment_error& e) {
      log("counters: %s: the new streams go without them", e.what());
    }
  }
  next_attach_ns_ = 0;  // look for the changed groups' control blocks at the next housekeeping
  std::string line = std::to_string(added) + " symbol(s) added, " + std::to_string(removed) + " removed, " +
                     std::to_string(groups_changed) + " group(s) changed";
  if (!changed.empty()) line += " (" + changed + ")";
  return line + "; " + std::to_string(arbiter_.stream_count()) + " streams";
}

}  // namespace mdbus::merge
