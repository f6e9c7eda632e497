#pragma once
/// The rotation gate: whether a slot may be cut now for a planned rotation. Pure decision
/// logic, apart from the supervisor's I/O, so it can be tested case by case (the arbiter is
/// the model). Make-before-break holds only if the *partner* carries the venue while the
/// slot is cut, and a partner's own word is not enough: a feeder killed with SIGKILL still
/// reads "live" in its status block. So every input below is something the supervisor
/// observed: the process (reaped or not, pidfd), the status block's writer lock (the kernel
/// drops it when the process dies), the writer's heartbeat, the partner's deliveries, and
/// the merger's view of the partner's streams.
#include "bus/feeder_block.hpp"

#include <cstdint>
#include <string_view>

namespace mdbus::supervise {

/// What the supervisor sees of the partner slot (the one that must carry the venue) and
/// of the slot it wants to cut, at one instant.
struct rotation_view {
  bool has_partner = true;        ///< a venue of one slot has no partner: a rotation cuts it (as configured)
  bool partner_process = false;   ///< its process runs: our child not reaped, or an adopted one's pidfd not readable
  bool partner_locked = false;    ///< its status block's writer lock is held by someone
  std::int64_t partner_heartbeat_age_ns = 0;  ///< now − the status block's writer heartbeat (CLOCK_MONOTONIC)
  feeder_state partner_state = feeder_state::starting;  ///< its status block (trusted only with the three above, and only once the block names our child's pid)
  bool partner_rotating = false;  ///< the supervisor's own bookkeeping
  bool partner_paused = false;
  /// CLOCK_REALTIME of the partner's and this slot's last message (status blocks).
  std::int64_t partner_last_message_ns = 0;
  std::int64_t self_last_message_ns = 0;
  /// This slot's usual time between messages (1 / its message rate; 0: unknown).
  std::int64_t self_interval_ns = 0;
  /// The merger has read the marker of the partner's current connection going live, so
  /// the in-step counts below are about that connection, not an older one.
  bool merger_saw_partner_live = false;
  std::uint32_t partner_in_step = 0;  ///< streams of the venue on which the partner delivers in step (merger)
  std::uint32_t self_in_step = 0;     ///< the same for the slot to cut
  std::int64_t waited_ns = 0;         ///< how long this rotation has been held at the gate
};

struct gate_limits {
  std::int64_t heartbeat_max_age_ns = 500'000'000;  ///< a partner heartbeat older than this is a hung process
  std::int64_t delivery_slack_ns = 250'000'000;     ///< the partner may be this much (+ 3 intervals) behind the slot's last message
  std::int64_t sync_wait_max_ns = 10'000'000'000;   ///< how long a live partner may take to catch up before the rotation goes anyway
};

enum class gate_verdict : std::uint8_t {
  go,                   ///< the partner is alive, live, delivering and in step: cut
  go_after_wait,        ///< alive, live and delivering, not in step on every stream after sync_wait_max: cut, logged
  partner_dead,         ///< its process is gone or its status block has no writer: wait for its restart
  partner_hung,         ///< its heartbeat is stale: wait (the hang check kills and restarts it)
  partner_not_live,     ///< connecting, syncing, down: wait
  partner_busy,         ///< rotating itself, or paused by the operator: wait
  partner_silent,       ///< it has not delivered while this slot did: wait (the health check acts on it)
  partner_catching_up,  ///< live, but the merger does not see it in step yet: wait, at most sync_wait_max
};

[[nodiscard]] std::string_view to_string(gate_verdict v) noexcept;
[[nodiscard]] constexpr bool may_cut(gate_verdict v) noexcept {
  return v == gate_verdict::go || v == gate_verdict::go_after_wait;
}

/// The verdict for one look. Only partner_catching_up is bounded (by sync_wait_max): a
/// partner that is dead, hung, not live, busy or silent never gets its venue's other line
/// cut, since a rotation then would be a both-slot outage — the thing the slots exist to
/// prevent. (An age-limited venue still cuts the old line at its age: no worse than cutting it.)
[[nodiscard]] gate_verdict rotation_gate(const rotation_view& v, const gate_limits& limits) noexcept;

}  // namespace mdbus::supervise
