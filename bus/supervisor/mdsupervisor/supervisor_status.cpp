// mdsupervisor's views of the bus: the status answer (mdctl status, PROTOCOL.md) and the
// Prometheus metrics (metrics.hpp renders them).
#include "bus/supervisor/mdsupervisor/supervisor.hpp"

#include "bus/clock.hpp"
#include "bus/supervisor/metrics.hpp"
#include "tools/mdctl/status_table.hpp"

#include <algorithm>
#include <unistd.h>

namespace mdbus::supervise {
namespace {

using json = nlohmann::json;

constexpr std::int64_t kMs = 1'000'000;

json null_or(bool has, double v) { return has ? json(v) : json(nullptr); }

}  // namespace

json supervisor::status_json() {
  const std::int64_t wall = wall_ns();
  json j;
  j["ok"] = true;
  j["bus"] = cfg_.bus;
  j["time_ns"] = wall;
  j["supervisor"] = {{"pid", static_cast<int>(::getpid())},
                     {"uptime_ms", (mono_ns() - start_mono_) / kMs},
                     {"config", options_.config_path},
                     // The config the bus runs: the file as of the start or the last reload
                     // (generation 1 at start), in the running copy the children read.
                     {"config_generation", config_generation_},
                     {"config_running_copy", running_path_},
                     {"reloaded_ms_ago", reloaded_wall_ > 0 ? json((wall - reloaded_wall_) / kMs) : json(nullptr)},
                     {"metrics_port", metrics_port_ >= 0 ? json(metrics_port_) : json(nullptr)}};
  json slots = json::array();
  std::uint64_t proactive = 0, forced = 0, timed = 0, overflows = 0;
  double sum_ms = 0, max_ms = 0;
  for (auto& sp : slots_) {
    slot_runtime& s = *sp;
    json o;
    o["venue"] = std::string(to_string(s.v));
    o["slot"] = std::string(to_string(s.s));
    o["group"] = s.group;
    o["process"] = to_string(s.proc.state);
    o["pid"] = s.proc.pid > 0 ? json(s.proc.pid) : json(nullptr);
    o["restarts"] = s.proc.restarts;
    o["operator_restarts"] = s.proc.operator_restarts;
    o["crash_loop"] = s.proc.crash_loop;
    o["paused"] = planner_->paused(s.index);
    // A reload changed the group's symbols and this slot's process does not run them yet.
    o["reload_pending"] = s.reload_pending;
    o["proactive_rotations"] = s.proactive;
    o["forced_reconnects"] = s.forced;
    o["msgs_per_s"] = s.msgs_per_s;
    const bool rotating = planner_->rotating(s.index);
    const slot_reason pending = planner_->pending(s.index);
    o["rotation_due"] = rotating ? json(std::string(to_string(planner_->rotation_reason(s.index))))
                                 : pending != slot_reason::none ? json(std::string(to_string(pending))) : json(nullptr);
    // A queued rotation held at the rotation gate or by the venue's pace: why (rotation_planner.hpp).
    const std::string_view waits = planner_->waits(s.index);
    o["rotation_waits"] = waits.empty() ? json(nullptr) : json(std::string(waits));
    proactive += s.proactive;
    forced += s.forced;
    timed += s.reconnect_count;
    sum_ms += s.reconnect_sum_ms;
    max_ms = std::max(max_ms, s.reconnect_max_ms);
    if (s.status_open) {
      const feeder_status_snapshot f = s.status.snapshot();
      o["state"] = std::string(to_string(f.state));  // observed: a block whose writer is gone reads as down
      o["reason"] = std::string(to_string(f.reason));
      const bool live = f.state == feeder_state::live && f.connect_time_ns > 0;
      o["connected_ms"] = live ? (wall - f.connect_time_ns) / kMs : 0;
      // How long the line has been quiet: a stalled line reads live with a growing age.
      o["last_message_age_ms"] = f.last_message_ns > 0 ? json(std::max<std::int64_t>(0, (wall - f.last_message_ns) / kMs)) : json(nullptr);
      // The planned cut of this connection (the planner's venue-wide schedule).
      const auto due = live ? planner_->due_wall_ns(s.index, f.connect_time_ns) : std::nullopt;
      o["next_rotation_ms"] = due ? json(std::max<std::int64_t>(0, (*due - wall) / kMs)) : json(nullptr);
      o["reconnects"] = f.reconnects;
      o["parse_errors"] = f.parse_errors_total;
      o["ring_overflows"] = f.ring_overflows;
      o["last_error"] = f.last_error;
      overflows += f.ring_overflows;
    } else {
      // Closed after its writer went away (observe() opens it again by name): as last observed.
      o["state"] = s.base_known ? std::string(to_string(s.last_state)) : std::string("starting");
      o["reason"] = s.base_known ? "process_exit" : "none";
      o["connected_ms"] = 0;
      o["last_message_age_ms"] = nullptr;
      o["next_rotation_ms"] = nullptr;
      o["reconnects"] = 0;
      o["parse_errors"] = 0;
      o["ring_overflows"] = 0;
      o["last_error"] = "";
    }
    // The race, from the merger's counters: share of the venue's first arrivals, average lead.
    slot_runtime* p = partner(s);
    const double mine = static_cast<double>(merger_value(s, merge_slot_stat::first_arrivals));
    double theirs = 0, their_lead = 0;
    bool partner_has = false;
    if (p != nullptr) {
      theirs = static_cast<double>(merger_value(*p, merge_slot_stat::first_arrivals));
      const auto samples = merger_value(*p, merge_slot_stat::lead_samples);
      partner_has = samples > 0;
      if (samples > 0) their_lead = static_cast<double>(merger_value(*p, merge_slot_stat::lead_sum_ns)) / static_cast<double>(samples) / 1e3;
    }
    o["first_arrival_share"] = null_or(mine + theirs > 0, mine + theirs > 0 ? mine / (mine + theirs) : 0);
    const auto my_samples = merger_value(s, merge_slot_stat::lead_samples);
    const double my_lead = my_samples > 0 ? static_cast<double>(merger_value(s, merge_slot_stat::lead_sum_ns)) / static_cast<double>(my_samples) / 1e3 : 0;
    o["lead_avg_us"] = null_or(my_samples > 0, my_lead);
    o["lag_vs_partner_us"] = null_or(my_samples > 0 || partner_has,
                                     (theirs + mine > 0) ? (their_lead * theirs - my_lead * mine) / (theirs + mine) : 0);
    slots.push_back(std::move(o));
  }
  j["slots"] = std::move(slots);
  j["merger"] = {{"process", to_string(merger_.state)},
                 {"pid", merger_.pid > 0 ? json(merger_.pid) : json(nullptr)},
                 {"restarts", merger_.restarts},
                 {"operator_restarts", merger_.operator_restarts},
                 {"crash_loop", merger_.crash_loop}};
  j["totals"] = {{"published", merger_value(merge_total::published)},
                 {"duplicates", merger_value(merge_total::duplicates)},
                 {"gaps", merger_value(merge_total::gaps)},
                 {"data_loss_events", merger_value(merge_total::gaps)},
                 {"ring_overflows", overflows},
                 {"proactive_reconnects", proactive},
                 {"forced_reconnects", forced},
                 {"reconnect_avg_ms", timed > 0 ? sum_ms / static_cast<double>(timed) : 0.0},
                 {"reconnect_max_ms", max_ms}};
  return j;
}

void supervisor::sample_history() {
  const std::int64_t mono = mono_ns();
  if (!history_.due(mono)) return;
  std::vector<slot_counters> in;
  in.reserve(slots_.size());
  for (auto& sp : slots_) {
    slot_runtime& s = *sp;
    slot_counters c;
    c.slot = s.name;
    c.msgs_per_s = s.msgs_per_s;
    c.lead_sum_ns = static_cast<std::uint64_t>(merger_value(s, merge_slot_stat::lead_sum_ns));
    c.lead_samples = static_cast<std::uint64_t>(merger_value(s, merge_slot_stat::lead_samples));
    if (s.status_open) c.reconnects = s.status.snapshot().reconnects;  // none while its feeder is gone
    in.push_back(std::move(c));
  }
  history_.sample(mono, wall_ns(), in);
}

std::string supervisor::status_page_json() {
  json j;
  j["status"] = status_json();
  j["table"] = mdctl::status_cells(j["status"]);  // the cells `mdctl status` prints, by its rules
  history_.to_json(j["history"]);
  // A feeder's last error is cut to a fixed length (maybe inside a UTF-8 sequence) and may
  // carry a venue's text: replace what is not UTF-8 rather than fail the page.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string supervisor::metrics_text() {
  auto process = [](const child_process& p) {
    process_metrics m;
    m.pid = p.pid > 0 ? p.pid : 0;
    m.running = p.pid > 0;
    m.restarts = p.restarts;
    m.crash_loop = p.crash_loop;
    if (m.running) m.usage = read_process_usage(p.pid);
    return m;
  };
  metrics_input in;
  in.bus = cfg_.bus;
  in.now_wall_ns = wall_ns();
  in.supervisor_uptime_seconds = static_cast<double>(mono_ns() - start_mono_) / 1e9;
  in.supervisor.pid = ::getpid();
  in.supervisor.running = true;
  in.supervisor.usage = read_process_usage(::getpid());
  in.merger = process(merger_);
  for (auto& sp : slots_) {
    const slot_runtime& s = *sp;
    slot_metrics m;
    m.venue_id = s.v;
    m.slot = s.s;
    m.group = s.group;
    m.group_label = std::to_string(s.group);
    m.feeder_attached = s.status_open;
    if (s.status_open) m.feeder = s.status.snapshot();
    m.proactive_rotations = s.proactive;
    m.forced_reconnections = s.forced;
    m.reconnection_time = {s.reconnect_sum_ms / 1e3, s.reconnect_max_ms / 1e3, s.reconnect_count};
    m.connected_seconds = static_cast<double>(s.connected_ms) / 1e3;
    m.observed_seconds = static_cast<double>(s.observed_ms) / 1e3;
    m.process = process(s.proc);
    in.slots.push_back(std::move(m));
  }
  read_merger_counters(counters_, in);
  return render_metrics(in);
}

}  // namespace mdbus::supervise
