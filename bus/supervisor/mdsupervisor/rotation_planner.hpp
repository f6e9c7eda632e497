#pragma once
/// The rotation planner: when each connection slot of a bus is rotated, and when not yet.
/// Pure decision logic (ARCHITECTURE.md "Code conventions", rule 11; the arbiter is the
/// model): the supervisor feeds it what it observed of every slot and carries out the
/// actions it returns; no clock reads, no I/O, so unit tests run days of a thousand slots in
/// milliseconds.
///
/// What it decides:
/// * **Age rotations on a venue-wide schedule.** A venue that cuts connections at an age
///   (Binance: 24 h) has a lifetime L = max_age − rotate_margin. Its n slots get phases
///   spread evenly over L, the A slots in group order first, then the B slots (with G
///   groups of two: A of group g at g·L/2G, its B half a lifetime later), and a
///   connection is rotated at the first point epoch + phase + k·L at least S after it was
///   made, S = min(margin / 2, L / 2): so at most L + S < max_age after it (before the
///   venue's cut), and never moments after it (a connection made just before its point, by
///   a rotation the gate held or an operator's, skips that point instead of living
///   seconds). Every connection is so rotated before the venue's cut, the
///   planned cuts of a venue stay L/n apart whatever happened (a crash, a notice, an
///   operator's rotation gives the new connection a shorter first life instead of shifting
///   the schedule), and a restarted supervisor that finds the epoch keeps the same plan.
/// * **Requested rotations**: a venue's notice, an unhealthy slot (health_judge), the
///   operator, a config reload (`config_reload`: the supervisor restarts the slot's process
///   with the group's new symbols instead of sending it the rotate command; the process's
///   end is then part of the rotation, which ends when the successor is live). Queued until
///   the slot can be cut.
/// * **Make-before-break**: a slot is cut only when the rotation gate passes for its partner
///   (rotation_gate.hpp) — never while the partner rotates, is paused, dead, hung, not live
///   or not in step — so the two slots of a group are never down at once by our hand.
/// * **The venue's connection-attempt pace**: a rotation is a connection attempt, so the
///   rotations of a venue start no faster than its pace (bus/venue_budget_core.hpp, the
///   same GCRA the feeders share), e.g. when a venue notice reaches every group at once.
///   The feeders' own reconnects draw on the venue's shared pace besides.
#include "mdbus/records.hpp"
#include "bus/supervisor/mdsupervisor/rotation_gate.hpp"
#include "mdbus/venue.hpp"
#include "bus/venue_budget_core.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

namespace mdbus::supervise {

/// One venue as the planner sees it.
struct planned_venue {
  venue id = venue::unknown;
  std::int64_t lifetime_ns = 0;  ///< max_age − rotate_margin; 0: the venue has no age limit (no age rotations)
  rate_limit connect;            ///< the venue's connection-attempt pace (default_venue_limits(v).connect)
  std::int64_t max_age_ns = 0;   ///< the venue's cut (>= lifetime_ns; 0: lifetime_ns, no room to skip a point)
};

/// One connection slot: a group's A or B line of a venue.
struct planned_slot {
  venue v = venue::unknown;
  std::uint32_t group = 0;
  slot_id slot = slot_id::a;
};

struct planner_limits {
  gate_limits gate;
  std::int64_t give_up_ns = 60'000'000'000;  ///< a rotation not live again by then is over (the feeder's own reconnect carries on)
  /// Health: a live slot below min_rate_percent of its live partner's rate for window_ns,
  /// while the partner gets at least min_partner_rate msgs/s, is rotated (stale_stream).
  std::int64_t health_window_ns = 3'000'000'000;
  double health_min_rate_percent = 10;
  double health_min_partner_rate = 20;
};

/// What the supervisor observed of one slot at one look.
struct slot_look {
  bool attached = false;                      ///< its status block is readable
  feeder_state state = feeder_state::starting;  ///< observed (a block without a writer reads down)
  std::uint64_t connection = 0;               ///< the status block's connection count
  std::int64_t connect_wall_ns = 0;           ///< CLOCK_REALTIME of the current connection's handshake (0: none)
};

enum class plan_event_kind : std::uint8_t {
  rotate,     ///< action: send the slot the rotate command now (reason)
  held,       ///< a due rotation waits at the gate (verdict; logged once per verdict)
  paced,      ///< a due rotation waits for the venue's connection pace (logged once)
  rotated,    ///< a rotation's new connection is live (ns: how long it took)
  gave_up,    ///< a rotation not live again after give_up_ns: left to the feeder's reconnect
  unhealthy,  ///< a slot judged unhealthy: a stale_stream rotation is queued (rate, partner_rate, ns)
};

struct plan_event {
  plan_event_kind kind = plan_event_kind::rotate;
  std::size_t slot = 0;
  slot_reason reason = slot_reason::none;
  gate_verdict verdict = gate_verdict::go;  ///< rotate: go or go_after_wait; held: why
  bool after_wait = false;                  ///< rotate: it had been held (gate or pace) first
  std::int64_t ns = 0;                      ///< rotate/held: time held; rotated/gave_up: time since the cut; unhealthy: time below
  rotation_view view{};                     ///< rotate/held/paced: what the gate judged
  double rate = 0, partner_rate = 0;        ///< unhealthy
};

class rotation_planner {
 public:
  static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();
  /// The gate's view of slot `i`'s partner `p` (p == npos: none), observed now. The planner
  /// fills in what it knows itself (has_partner, partner_rotating, partner_paused, waited_ns).
  using view_fn = std::function<rotation_view(std::size_t i, std::size_t p)>;

  /// `epoch_wall_ns`: the schedule's origin (CLOCK_REALTIME); keep it across supervisor
  /// restarts so adopted connections keep their plan. Slots name venues of `venues`; a
  /// group's partner is the other slot of the same venue and group.
  rotation_planner(std::vector<planned_venue> venues, std::vector<planned_slot> slots, planner_limits limits,
                   std::int64_t epoch_wall_ns);

  [[nodiscard]] std::size_t size() const noexcept { return slots_.size(); }
  [[nodiscard]] std::size_t partner(std::size_t i) const noexcept { return slots_[i].partner; }
  [[nodiscard]] std::int64_t epoch_wall_ns() const noexcept { return epoch_; }

  // ---- inputs ----

  /// One look at slot `i` (every look, every slot): notes a connection going live, ends the
  /// rotation it completes (rotated) or that timed out (gave_up).
  void look(std::size_t i, const slot_look& l, std::int64_t now_mono, std::vector<plan_event>& out);
  /// Queue a rotation for `why` (venue_notice, stale_stream, operator_request, config_reload).
  /// An operator request replaces a queued one; others are dropped when one is queued. A
  /// config_reload replaces anything and is replaced by nothing. False when dropped.
  bool request(std::size_t i, slot_reason why) noexcept;
  /// Drop a queued rotation for `why`, if that is what is queued (a reload's restart that
  /// happened another way: the slot's process was started anew with the new symbols).
  void withdraw(std::size_t i, slot_reason why) noexcept {
    if (slots_[i].pending == why) slots_[i].pending = slot_reason::none;
  }
  /// Paused by the operator: never rotated, its queue emptied; resumed: planned again.
  void set_paused(std::size_t i, bool paused) noexcept;
  /// The slot's process ended. True when a rotation was under way and its reconnect had
  /// begun (`reconnect_begun`): a rotation cut short, asked for though never live. A
  /// config_reload rotation goes on (the end was its own).
  bool process_exited(std::size_t i, bool reconnect_begun) noexcept;
  /// The slot's message rate (msgs/s) over the last sample.
  void rate(std::size_t i, double msgs_per_s) noexcept { slots_[i].rate = msgs_per_s; }

  // ---- decisions ----

  /// Health, after each rate sample: queue stale_stream for slots slow against their partner.
  void judge_health(std::int64_t now_mono, std::vector<plan_event>& out);
  /// Age schedule, queue, gate and pace: the rotations to start now (rotate events), most
  /// urgent first (age limit, venue notice, operator, health; then slot order), and why the
  /// others wait. `view_of` is asked only for slots with a due rotation.
  void plan(std::int64_t now_mono, std::int64_t now_wall, const view_fn& view_of, std::vector<plan_event>& out);

  // ---- state, for status ----

  [[nodiscard]] bool rotating(std::size_t i) const noexcept { return slots_[i].rotating; }
  [[nodiscard]] std::int64_t rotation_started_mono(std::size_t i) const noexcept { return slots_[i].rotation_started; }
  [[nodiscard]] slot_reason rotation_reason(std::size_t i) const noexcept { return slots_[i].rotation_reason; }
  [[nodiscard]] slot_reason pending(std::size_t i) const noexcept { return slots_[i].pending; }
  [[nodiscard]] bool paused(std::size_t i) const noexcept { return slots_[i].paused; }
  /// Why the queued rotation waits ("partner not live", "venue connection pace"), or empty.
  [[nodiscard]] std::string_view waits(std::size_t i) const noexcept;
  /// The slot's schedule phase within the venue's lifetime (0 when no age limit).
  [[nodiscard]] std::int64_t phase_ns(std::size_t i) const noexcept { return slots_[i].phase; }
  /// When a connection made at `connect_wall_ns` is due for its age rotation (CLOCK_REALTIME),
  /// or nullopt (no age limit, no connection).
  [[nodiscard]] std::optional<std::int64_t> due_wall_ns(std::size_t i, std::int64_t connect_wall_ns) const noexcept;

 private:
  struct slot_state {
    planned_slot id;
    std::size_t venue_index = 0;
    std::size_t partner = npos;
    std::int64_t phase = 0;
    // Observed.
    bool live = false;
    std::uint64_t connection = 0;
    std::uint64_t live_connection = 0;
    std::int64_t connect_wall = 0;
    double rate = 0;
    std::int64_t unhealthy_since = 0;
    // Queue and hold.
    slot_reason pending = slot_reason::none;
    std::uint64_t pending_connection = 0;    ///< the connection an age_limit rotation was planned for
    slot_reason held_for = slot_reason::none;  ///< the pending reason the hold below is about
    std::int64_t held_since = 0;
    gate_verdict held = gate_verdict::go;    ///< last verdict reported for the hold
    bool paced = false;                      ///< held by the venue's pace (reported)
    std::int64_t catching_since = 0;         ///< first look the partner was live but not in step (0: not so)
    // Rotation under way.
    bool rotating = false;
    std::int64_t rotation_started = 0;
    std::uint64_t rotation_connection_before = 0;
    slot_reason rotation_reason = slot_reason::none;
    bool paused = false;
  };
  struct venue_state {
    planned_venue cfg;
    connect_pace_state pace;
  };

  std::vector<venue_state> venues_;
  std::vector<slot_state> slots_;
  planner_limits limits_;
  std::int64_t epoch_ = 0;
  std::vector<std::size_t> due_;  ///< plan()'s slots with a due rotation, most urgent first (kept: no allocation per pass)
};

}  // namespace mdbus::supervise
