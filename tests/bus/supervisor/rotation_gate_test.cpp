// The rotation gate (pure): every observation that must hold a rotation back, each alone;
// the bound on waiting for a partner to catch up; and exhaustively, that no combination
// with a dead, hung, busy or not-live partner ever lets a cut through, however long it waited.
#include <doctest/doctest.h>

#include "bus/supervisor/mdsupervisor/process_exit.hpp"
#include "bus/supervisor/mdsupervisor/rotation_gate.hpp"
#include "tests/bus/supervisor/ready_partner.hpp"

#include <csignal>
#include <sys/wait.h>

using namespace mdbus;
using namespace mdbus::supervise;

namespace {

constexpr std::int64_t kMs = 1'000'000;

/// A partner that is everything it should be: alive, locked, fresh, live, current, in step.
rotation_view ready() { return test::ready_partner(); }

}  // namespace

TEST_CASE("rotation gate: a ready partner lets the cut through, and so does having no partner at all") {
  const gate_limits l;
  CHECK(rotation_gate(ready(), l) == gate_verdict::go);
  rotation_view alone;
  alone.has_partner = false;
  CHECK(rotation_gate(alone, l) == gate_verdict::go);
  CHECK(may_cut(gate_verdict::go));
  CHECK(may_cut(gate_verdict::go_after_wait));
}

TEST_CASE("rotation gate: each observation alone holds the rotation, with its own verdict") {
  const gate_limits l;
  auto with = [&](auto change) {
    rotation_view v = ready();
    change(v);
    return rotation_gate(v, l);
  };
  // A SIGKILLed partner: its block still says live, its process and lock say otherwise.
  CHECK(with([](rotation_view& v) { v.partner_process = false; }) == gate_verdict::partner_dead);
  CHECK(with([](rotation_view& v) { v.partner_locked = false; }) == gate_verdict::partner_dead);
  CHECK(with([](rotation_view& v) { v.partner_heartbeat_age_ns = 501 * kMs; }) == gate_verdict::partner_hung);
  CHECK(with([](rotation_view& v) { v.partner_heartbeat_age_ns = 500 * kMs; }) == gate_verdict::go);
  CHECK(with([](rotation_view& v) { v.partner_rotating = true; }) == gate_verdict::partner_busy);
  CHECK(with([](rotation_view& v) { v.partner_paused = true; }) == gate_verdict::partner_busy);
  for (const feeder_state s : {feeder_state::starting, feeder_state::connecting, feeder_state::subscribed, feeder_state::draining,
                               feeder_state::down, feeder_state::stopped}) {
    CAPTURE(to_string(s));
    CHECK(with([&](rotation_view& v) { v.partner_state = s; }) == gate_verdict::partner_not_live);
  }
  CHECK(with([](rotation_view& v) { v.merger_saw_partner_live = false; }) == gate_verdict::partner_catching_up);
  CHECK(with([](rotation_view& v) { v.partner_in_step = 5; }) == gate_verdict::partner_catching_up);
  CHECK(with([](rotation_view& v) { v.partner_in_step = 7; }) == gate_verdict::go);
}

TEST_CASE("rotation gate: delivering is judged against the slot to be cut, so a quiet market passes and a stalled line does not") {
  const gate_limits l;  // slack 250 ms + 3 of the slot's intervals (10 ms here): 280 ms
  rotation_view v = ready();
  v.partner_last_message_ns = v.self_last_message_ns - 280 * kMs;
  CHECK(rotation_gate(v, l) == gate_verdict::go);
  v.partner_last_message_ns = v.self_last_message_ns - 281 * kMs;
  CHECK(rotation_gate(v, l) == gate_verdict::partner_silent);
  // Both silent for minutes (a quiet market): neither is behind the other.
  v.self_last_message_ns = v.partner_last_message_ns - 120'000 * kMs;
  CHECK(rotation_gate(v, l) == gate_verdict::go);
  // A slow stream (one message a second) earns its partner more slack.
  v = ready();
  v.self_interval_ns = 1'000 * kMs;
  v.partner_last_message_ns = v.self_last_message_ns - 3'000 * kMs;
  CHECK(rotation_gate(v, l) == gate_verdict::go);
}

TEST_CASE("rotation gate: a live partner not yet in step is waited for at most sync_wait_max, then the rotation goes") {
  gate_limits l;
  l.sync_wait_max_ns = 2'000 * kMs;
  rotation_view v = ready();
  v.partner_in_step = 4;
  v.waited_ns = 1'999 * kMs;
  CHECK(rotation_gate(v, l) == gate_verdict::partner_catching_up);
  v.waited_ns = 2'000 * kMs;
  CHECK(rotation_gate(v, l) == gate_verdict::go_after_wait);
  l.sync_wait_max_ns = 0;  // no waiting for sync at all
  v.waited_ns = 0;
  CHECK(rotation_gate(v, l) == gate_verdict::go_after_wait);
}

TEST_CASE("rotation gate: exhaustively, a dead, hung, busy, not-live or silent partner never gets the other line cut") {
  const gate_limits l;
  std::size_t combos = 0, cuts = 0;
  for (int process = 0; process < 2; ++process)
    for (int locked = 0; locked < 2; ++locked)
      for (const std::int64_t hb : {std::int64_t{0}, 499 * kMs, 501 * kMs, 60'000 * kMs})
        for (int st = 0; st <= static_cast<int>(feeder_state::stopped); ++st)
          for (int rotating = 0; rotating < 2; ++rotating)
            for (int paused = 0; paused < 2; ++paused)
              for (const std::int64_t behind : {std::int64_t{0}, 280 * kMs, 281 * kMs, 10'000 * kMs})
                for (int saw = 0; saw < 2; ++saw)
                  for (const std::uint32_t partner_in : {0U, 5U, 6U})
                    for (const std::int64_t waited : {std::int64_t{0}, 9'999 * kMs, 10'000 * kMs, 86'400'000 * kMs}) {
                      rotation_view v = ready();
                      v.partner_process = process != 0;
                      v.partner_locked = locked != 0;
                      v.partner_heartbeat_age_ns = hb;
                      v.partner_state = static_cast<feeder_state>(st);
                      v.partner_rotating = rotating != 0;
                      v.partner_paused = paused != 0;
                      v.partner_last_message_ns = v.self_last_message_ns - behind;
                      v.merger_saw_partner_live = saw != 0;
                      v.partner_in_step = partner_in;
                      v.waited_ns = waited;
                      const gate_verdict g = rotation_gate(v, l);
                      ++combos;
                      const bool carries = v.partner_process && v.partner_locked && hb <= l.heartbeat_max_age_ns &&
                                           v.partner_state == feeder_state::live && !v.partner_rotating &&
                                           !v.partner_paused && behind <= 280 * kMs;
                      const bool in_step = v.merger_saw_partner_live && partner_in >= v.self_in_step;
                      if (may_cut(g)) ++cuts;
                      CAPTURE(combos);
                      // A cut only with a partner that carries the venue...
                      CHECK((!may_cut(g) || carries));
                      // ...and, before the bound, only with one in step.
                      CHECK((g != gate_verdict::go || in_step));
                      CHECK((g != gate_verdict::go_after_wait || (!in_step && waited >= l.sync_wait_max_ns)));
                      // A partner that carries the venue is never held past the bound.
                      CHECK((!carries || waited < l.sync_wait_max_ns || may_cut(g)));
                    }
  CHECK(combos == 2 * 2 * 4 * 7 * 2 * 2 * 4 * 2 * 3 * 4);
  MESSAGE("rotation gate: ", combos, " combinations, ", cuts, " allowed a cut");
}

TEST_CASE("exit causes are told as they are: status, signal by name, core, and unknown for an adopted process") {
  CHECK(describe(from_wait_status(2 << 8)) == "exit status 2");
  CHECK(from_wait_status(2 << 8).exited_with(2));
  CHECK(describe(from_wait_status(0)) == "exit status 0");
  CHECK(describe(from_wait_status(SIGKILL)) == "killed by SIGKILL (signal 9)");
  CHECK(!from_wait_status(SIGKILL).exited_with(137 - 128));
  CHECK(describe(from_wait_status(SIGSEGV | 0x80)) == "killed by SIGSEGV (signal 11), core dumped");
  // 130 is an exit status, not SIGINT (the old encoding could not tell them apart).
  CHECK(describe(from_wait_status(130 << 8)) == "exit status 130");
  CHECK(describe(unknown_exit("its status block says live: it did not stop cleanly (a signal or a crash)")) ==
        "ended, exit status unknown (not our child): its status block says live: it did not stop cleanly (a signal or a crash)");
  CHECK(describe(unknown_exit("")) == "ended, exit status unknown (not our child)");
}
