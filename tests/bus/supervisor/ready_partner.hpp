#pragma once
// A partner the rotation gate lets a cut through for: alive, locked, fresh heartbeat, live,
// delivering, in step. Shared by the gate's and the planner's tests.
#include "bus/supervisor/mdsupervisor/rotation_gate.hpp"

namespace mdbus::supervise::test {

inline rotation_view ready_partner() {
  constexpr std::int64_t kMs = 1'000'000;
  rotation_view v;
  v.partner_process = true;
  v.partner_locked = true;
  v.partner_heartbeat_age_ns = 5 * kMs;
  v.partner_state = feeder_state::live;
  v.partner_last_message_ns = 1'000'000 * kMs;
  v.self_last_message_ns = 1'000'000 * kMs + 3 * kMs;
  v.self_interval_ns = 10 * kMs;
  v.merger_saw_partner_live = true;
  v.partner_in_step = 6;
  v.self_in_step = 6;
  return v;
}

}  // namespace mdbus::supervise::test
