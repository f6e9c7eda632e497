#pragma once
// Which outage caused each loss (issue 17: "every loss is a both-slot cut; none caused by a
// rotation"). Pure, so it is unit-tested apart from the harness. The inputs are what the
// harness knows: the slots' in-band markers from the recorded output (up, rotating, down...,
// each stamped by its writer), the times it SIGKILLed a feeder (a killed feeder writes no
// marker; the supervisor's "down" comes only when it reaps it), the times it cut both slots
// of a venue at once, and the lost events with the time exsim generated them.
#include "mdbus/records.hpp"
#include "mdbus/venue.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace mdbus::chaos {

struct slot_event {
  /// stall_begin / stall_end: the harness stalled one connection of the venue. With a slot:
  /// that slot's line (it does not carry until the stall ends or the slot's line changes: any
  /// other event of the slot). With slot_id::none (the harness could not tell whose): while it
  /// lasts, the venue has one carrying slot fewer.
  enum class kind : std::uint8_t { up, not_up, rotating, killed, stall_begin, stall_end };
  venue v = venue::unknown;
  slot_id slot = slot_id::none;
  kind what = kind::not_up;
  std::int64_t time_ns = 0;  ///< CLOCK_REALTIME
  slot_reason reason = slot_reason::none;  ///< the marker's (remote_close: the venue cut the line)
  std::uint32_t group = 0;  ///< the venue's connection group: its own slot pair carries its own streams
};

/// A slot-status marker as a slot event.
[[nodiscard]] slot_event from_marker(venue v, slot_id slot, slot_state state, slot_reason reason, std::int64_t time_ns,
                                     std::uint32_t group = 0) noexcept;

struct lost_event {
  venue v = venue::unknown;
  std::string stream;
  std::int64_t time_ns = 0;  ///< exsim's generation time
  std::uint32_t group = 0;   ///< the stream's connection group (config venue_config::group_of)
};

/// A time during which no slot of a venue's connection group was up (a venue of one group:
/// no slot of the venue). A loss is explained only by an outage of its own group.
struct outage {
  venue v = venue::unknown;
  std::uint32_t group = 0;
  std::int64_t start_ns = 0, end_ns = 0;  ///< end 0: never ended (the run stopped first)
  slot_event began_by;                   ///< the event that took the venue's last carrying slot away
  bool by_rotation = false;              ///< that event was a rotation: a rotation left the venue without a line
  bool harness_cut_both = false;         ///< the harness cut both slots of the venue at once just before
  std::size_t lost = 0;                  ///< lost events attributed to it
};

struct attribution {
  std::vector<outage> outages;
  std::vector<lost_event> unexplained;  ///< losses outside every outage (and its margins)
  [[nodiscard]] std::size_t rotation_outages() const noexcept;
  [[nodiscard]] bool ok() const noexcept { return unexplained.empty() && rotation_outages() == 0; }
};

struct attribution_margins {
  std::int64_t before_ns = 200'000'000;   ///< an event generated this long before an outage may still be lost in it (in flight)
  std::int64_t after_ns = 3'000'000'000;  ///< ... this long after it ended (books wait for a REST snapshot, paced)
  std::int64_t cut_both_ns = 1'000'000'000;  ///< an outage starting this long after a cut of both slots is that cut's
};

/// `events`: every slot event of the run, any order; `cut_both`: (venue, time) of each cut of
/// both slots (of every group of the venue); `lost`: every lost event. Outages before a venue's first "up" (start-up) are not outages.
[[nodiscard]] attribution attribute(std::vector<slot_event> events, const std::vector<std::pair<venue, std::int64_t>>& cut_both,
                                    const std::vector<lost_event>& lost, const attribution_margins& m = {});

}  // namespace mdbus::chaos
