#include "bus/supervisor/mdsupervisor/rotation_planner.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace mdbus::supervise {
namespace {

/// life·k/n without overflow (life up to 2^62 ns, k < n): whole lifetimes and remainder apart.
std::int64_t phase_of(std::int64_t life, std::size_t k, std::size_t n) noexcept {
  const auto nn = static_cast<std::int64_t>(n), kk = static_cast<std::int64_t>(k);
  return (life / nn) * kk + (life % nn) * kk / nn;
}

/// S: a schedule point closer than this to a connection's start is skipped (see the header).
std::int64_t skip_ns(const planned_venue& v) noexcept {
  const std::int64_t margin = v.max_age_ns > v.lifetime_ns ? v.max_age_ns - v.lifetime_ns : 0;
  return std::min(margin / 2, v.lifetime_ns / 2);
}

}  // namespace

rotation_planner::rotation_planner(std::vector<planned_venue> venues, std::vector<planned_slot> slots,
                                   planner_limits limits, std::int64_t epoch_wall_ns)
    : limits_(limits), epoch_(epoch_wall_ns) {
  venues_.reserve(venues.size());
  for (const auto& v : venues) venues_.push_back({v, connect_pace_state{v.connect, 0}});
  slots_.resize(slots.size());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    slot_state& s = slots_[i];
    s.id = slots[i];
    const auto it = std::find_if(venues_.begin(), venues_.end(), [&](const venue_state& v) { return v.cfg.id == s.id.v; });
    if (it == venues_.end()) throw std::invalid_argument("rotation planner: a slot names a venue it was not given");
    s.venue_index = static_cast<std::size_t>(it - venues_.begin());
    for (std::size_t j = 0; j < slots.size(); ++j)
      if (j != i && slots[j].v == s.id.v && slots[j].group == s.id.group) s.partner = j;
  }
  // Phases: per venue, the A slots in group order, then the B slots, evenly over the lifetime,
  // so a group's two lines are half a lifetime apart and the groups' cuts interleave.
  for (std::size_t vi = 0; vi < venues_.size(); ++vi) {
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].venue_index == vi) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
      const auto& a = slots_[x].id;
      const auto& b = slots_[y].id;
      if (a.slot != b.slot) return a.slot < b.slot;
      return a.group < b.group;
    });
    const std::int64_t life = venues_[vi].cfg.lifetime_ns;
    for (std::size_t k = 0; k < order.size(); ++k)
      slots_[order[k]].phase = life > 0 ? phase_of(life, k, order.size()) : 0;
  }
}

std::optional<std::int64_t> rotation_planner::due_wall_ns(std::size_t i, std::int64_t connect_wall_ns) const noexcept {
  const slot_state& s = slots_[i];
  const std::int64_t life = venues_[s.venue_index].cfg.lifetime_ns;
  if (life <= 0 || connect_wall_ns <= 0) return std::nullopt;
  // The one schedule point base + k·L in (connected, connected + L]: with
  // connected − base = q·L + r, 0 <= r < L (floor division), it is connected − r + L.
  // Closer than S to the connection: the point after it (at most L + S after the connection).
  const std::int64_t base = epoch_ + s.phase;
  std::int64_t r = (connect_wall_ns - base) % life;
  if (r < 0) r += life;
  const std::int64_t point = connect_wall_ns - r + life;
  return point - connect_wall_ns < skip_ns(venues_[s.venue_index].cfg) ? point + life : point;
}

void rotation_planner::look(std::size_t i, const slot_look& l, std::int64_t now_mono, std::vector<plan_event>& out) {
  slot_state& s = slots_[i];
  const bool live = l.attached && l.state == feeder_state::live;
  // A new connection went live — also when the whole down-connect-live cycle fell between
  // two looks (a rotation takes ~20 ms): the connection number moved.
  if (live && (!s.live || l.connection != s.live_connection)) {
    s.live_connection = l.connection;
    // An age rotation planned for a connection that is gone: the new one has its own due time.
    if (s.pending == slot_reason::age_limit && l.connection != s.pending_connection) s.pending = slot_reason::none;
    if (s.rotating && l.connection > s.rotation_connection_before) {
      s.rotating = false;
      out.push_back({.kind = plan_event_kind::rotated, .slot = i, .reason = s.rotation_reason, .ns = now_mono - s.rotation_started});
    }
  }
  s.live = live;
  s.connection = l.connection;
  s.connect_wall = live ? l.connect_wall_ns : 0;
  if (s.rotating && now_mono - s.rotation_started > limits_.give_up_ns) {
    s.rotating = false;
    out.push_back({.kind = plan_event_kind::gave_up, .slot = i, .reason = s.rotation_reason, .ns = now_mono - s.rotation_started});
  }
}

bool rotation_planner::request(std::size_t i, slot_reason why) noexcept {
  slot_state& s = slots_[i];
  if (s.paused) return false;
  // A reload's restart replaces whatever is queued (its new connection serves a notice or an
  // age limit as well) and nothing replaces it: the slot must come back with its new symbols.
  if (s.pending == slot_reason::config_reload) return why == slot_reason::config_reload;
  if (why != slot_reason::operator_request && why != slot_reason::config_reload && s.pending != slot_reason::none)
    return false;
  s.pending = why;
  return true;
}

void rotation_planner::set_paused(std::size_t i, bool paused) noexcept {
  slots_[i].paused = paused;
  if (paused) slots_[i].pending = slot_reason::none;
}

bool rotation_planner::process_exited(std::size_t i, bool reconnect_begun) noexcept {
  slot_state& s = slots_[i];
  s.live = false;
  s.connect_wall = 0;
  // A reload's restart ends the process on purpose: the rotation goes on until its successor
  // is live (or gives up like any other).
  if (s.rotating && s.rotation_reason == slot_reason::config_reload) return false;
  const bool cut_short = s.rotating && reconnect_begun;
  s.rotating = false;
  return cut_short;
}

void rotation_planner::judge_health(std::int64_t now_mono, std::vector<plan_event>& out) {
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    slot_state& s = slots_[i];
    const slot_state* p = s.partner != npos ? &slots_[s.partner] : nullptr;
    const bool judged = p != nullptr && s.live && p->live && !s.rotating && !p->rotating && !s.paused &&
                        p->rate >= limits_.health_min_partner_rate &&
                        s.rate * 100.0 < p->rate * limits_.health_min_rate_percent;
    if (!judged) {
      s.unhealthy_since = 0;
      continue;
    }
    if (s.unhealthy_since == 0) s.unhealthy_since = now_mono;
    if (now_mono - s.unhealthy_since >= limits_.health_window_ns && s.pending == slot_reason::none) {
      s.pending = slot_reason::stale_stream;
      out.push_back({.kind = plan_event_kind::unhealthy, .slot = i, .reason = slot_reason::stale_stream,
                     .ns = now_mono - s.unhealthy_since, .rate = s.rate, .partner_rate = p->rate});
      s.unhealthy_since = 0;
    }
  }
}

namespace {

/// Which due rotation takes the venue's next connection attempt: the age limit first (the
/// venue's cut is a known time away), then a venue's notice (a cut soon, time unknown), the
/// operator (a rotation or a reload's restart), and an unhealthy slot last (its partner
/// carries the group meanwhile).
int urgency(slot_reason r) noexcept {
  switch (r) {
    case slot_reason::age_limit: return 0;
    case slot_reason::venue_notice: return 1;
    case slot_reason::operator_request:
    case slot_reason::config_reload: return 2;
    default: return 3;
  }
}

}  // namespace

void rotation_planner::plan(std::int64_t now_mono, std::int64_t now_wall, const view_fn& view_of, std::vector<plan_event>& out) {
  due_.clear();
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    slot_state& s = slots_[i];
    if (s.rotating || s.paused || !s.live) continue;
    if (s.pending == slot_reason::none) {
      const auto due = due_wall_ns(i, s.connect_wall);
      if (due && now_wall >= *due) {
        s.pending = slot_reason::age_limit;
        s.pending_connection = s.connection;
      }
    }
    if (s.pending != slot_reason::none) due_.push_back(i);
  }
  std::stable_sort(due_.begin(), due_.end(),
                   [&](std::size_t a, std::size_t b) { return urgency(slots_[a].pending) < urgency(slots_[b].pending); });
  for (const std::size_t i : due_) {
    slot_state& s = slots_[i];
    if (s.held_for != s.pending) {
      s.held_for = s.pending;
      s.held_since = now_mono;
      s.held = gate_verdict::go;
      s.paced = false;
      s.catching_since = 0;
    }
    // Make-before-break: judged on what is observed right now, just before the command goes
    // out (a partner killed a moment ago still reads "live" in its status block). A partner
    // that started its rotation earlier in this pass reads as busy.
    rotation_view v = view_of(i, s.partner);
    v.has_partner = s.partner != npos;
    if (v.has_partner) {
      v.partner_rotating = slots_[s.partner].rotating;
      v.partner_paused = slots_[s.partner].paused;
    }
    // The gate's bound on waiting is for a live partner catching up, so it counts from when
    // the partner was first seen catching up — not from when the rotation was first held: a
    // partner that was dead for 20 s and is live now gets its sync_wait_max to get in step.
    v.waited_ns = s.catching_since != 0 ? now_mono - s.catching_since : 0;
    const gate_verdict verdict = rotation_gate(v, limits_.gate);
    if (verdict == gate_verdict::partner_catching_up) {
      if (s.catching_since == 0) s.catching_since = now_mono;
    } else if (verdict != gate_verdict::go_after_wait) {
      s.catching_since = 0;
    }
    const std::int64_t held_ns = now_mono - s.held_since;
    if (!may_cut(verdict)) {
      if (verdict != s.held || s.paced) {
        s.held = verdict;
        s.paced = false;
        out.push_back({.kind = plan_event_kind::held, .slot = i, .reason = s.pending, .verdict = verdict, .ns = held_ns, .view = v});
      }
      continue;
    }
    // The gate passed: the venue's connection pace is spent only for a cut that goes now.
    if (!venues_[s.venue_index].pace.try_attempt(now_mono).granted()) {
      if (!s.paced) {
        s.paced = true;
        out.push_back({.kind = plan_event_kind::paced, .slot = i, .reason = s.pending, .verdict = verdict, .ns = held_ns, .view = v});
      }
      continue;
    }
    out.push_back({.kind = plan_event_kind::rotate, .slot = i, .reason = s.pending, .verdict = verdict,
                   .after_wait = s.held != gate_verdict::go || s.paced, .ns = held_ns, .view = v});
    s.rotation_reason = s.pending;
    s.pending = slot_reason::none;
    s.held_for = slot_reason::none;
    s.held = gate_verdict::go;
    s.paced = false;
    s.catching_since = 0;
    s.rotating = true;
    s.rotation_started = now_mono;
    s.rotation_connection_before = s.connection;
  }
}

std::string_view rotation_planner::waits(std::size_t i) const noexcept {
  const slot_state& s = slots_[i];
  if (s.rotating || s.pending == slot_reason::none || s.held_for != s.pending) return {};
  if (s.paced) return "venue connection pace";
  if (s.held != gate_verdict::go) return to_string(s.held);
  return {};
}

}  // namespace mdbus::supervise
