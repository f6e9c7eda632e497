#include "bus/supervisor/mdsupervisor/rotation_gate.hpp"

namespace mdbus::supervise {

std::string_view to_string(gate_verdict v) noexcept {
  switch (v) {
    case gate_verdict::go: return "go";
    case gate_verdict::go_after_wait: return "go after waiting for the partner to catch up";
    case gate_verdict::partner_dead: return "partner process gone";
    case gate_verdict::partner_hung: return "partner heartbeat stale";
    case gate_verdict::partner_not_live: return "partner not live";
    case gate_verdict::partner_busy: return "partner rotating or paused";
    case gate_verdict::partner_silent: return "partner not delivering";
    case gate_verdict::partner_catching_up: return "partner not in step yet";
  }
  return "unknown";
}

gate_verdict rotation_gate(const rotation_view& v, const gate_limits& limits) noexcept {
  if (!v.has_partner) return gate_verdict::go;
  // The process first: a status block keeps saying "live" after its writer was killed.
  if (!v.partner_process || !v.partner_locked) return gate_verdict::partner_dead;
  if (v.partner_heartbeat_age_ns > limits.heartbeat_max_age_ns) return gate_verdict::partner_hung;
  if (v.partner_rotating || v.partner_paused) return gate_verdict::partner_busy;
  if (v.partner_state != feeder_state::live) return gate_verdict::partner_not_live;
  // Delivering: not far behind the slot to be cut. Relative, so a quiet market (both
  // silent) passes, and a stalled partner line next to a busy one does not.
  const std::int64_t slack = limits.delivery_slack_ns + 3 * (v.self_interval_ns > 0 ? v.self_interval_ns : 0);
  if (v.partner_last_message_ns + slack < v.self_last_message_ns) return gate_verdict::partner_silent;
  // In step: the merger has seen this connection of the partner, and the partner delivers
  // in step on at least every stream the slot to be cut does (a book waits for its snapshot).
  const bool in_step = v.merger_saw_partner_live && v.partner_in_step >= v.self_in_step;
  if (in_step) return gate_verdict::go;
  return v.waited_ns >= limits.sync_wait_max_ns ? gate_verdict::go_after_wait : gate_verdict::partner_catching_up;
}

}  // namespace mdbus::supervise
