// mdmerge's config reload (SIGHUP; mdsupervisor sends it on `mdctl reload`): a venue's symbol
// list changed. Only the connection groups whose symbols changed are touched; their feeders
// are restarted by the supervisor, one slot at a time, with the new symbols.
#include "bus/merge/merger.hpp"

#include "bus/config/reload.hpp"

#include <algorithm>

namespace mdbus::merge {

std::string merger::reload(const config::bus_config& next) {
  const config::reload_plan plan = config::plan_reload(cfg_, next);
  if (!plan.refusal.empty())
    throw config::config_error(plan.refusal + " (a reload may change the venues' symbols only; restart the bus for the rest)");
  // Room first (the only allocation): every stream the new symbols bring (+1: its instrument
  // records), and the spare the arbiter keeps for streams a feeder sends unannounced.
  std::size_t adding = 0;
  for (const auto& [v, s] : plan.added) adding += next.find(v)->channels.size() + 1;
  arbiter_.reserve_streams(arbiter_.stream_count() + adding + 64);

  // Removed: their streams stop asking for snapshots; records a feeder not yet restarted still
  // sends are merged as before.
  for (const auto& [v, s] : plan.removed) {
    (void)arbiter_.retire_symbol(v, s);
    for (const auto& ch : next.find(v)->channels) resync_places_.erase({v, ch.id, s});
  }
  for (const auto& [v, grp] : plan.changed) {
    const config::venue_config& vc = *next.find(v);
    const config::venue_config gv = config::group_view(vc, grp);
    for (std::size_t i = 0; i < gv.symbols.size(); ++i) {
      const std::string& s = gv.symbols[i];
      const bool added = std::find(plan.added.begin(), plan.added.end(), std::make_pair(v, s)) != plan.added.end();
      for (const auto& ch : gv.channels) {
        if (!vc.carries(s, ch.id)) continue;
        if (added) (void)arbiter_.add_stream(v, ch.id, s, grp);
        resync_places_[{v, ch.id, s}] = {grp, i};  // positions after an insertion or removal move
      }
    }
    // The group's slots get new control blocks (sized and stamped for the new symbols) when
    // the supervisor restarts their feeders: forget the old ones and look for the new ones.
    const std::uint64_t id = config::config_identity(next, gv);
    for (auto& in : inputs_) {
      if (in.v != v || in.group != grp) continue;
      in.config_id = id;
      in.symbols = gv.symbols.size();
      in.resync = feeder_resync_requester{};
      in.last_control_reason.clear();
      in.reloaded = true;
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
  std::string changed;
  for (const auto& [v, grp] : plan.changed)
    changed += (changed.empty() ? "" : ", ") + std::string(to_string(v)) + "/g" + std::to_string(grp);
  std::string line = std::to_string(plan.added.size()) + " symbol(s) added, " + std::to_string(plan.removed.size()) +
                     " removed, " + std::to_string(plan.changed.size()) + " group(s) changed";
  if (!changed.empty()) line += " (" + changed + ")";
  return line + "; " + std::to_string(arbiter_.stream_count()) + " streams";
}

}  // namespace mdbus::merge
