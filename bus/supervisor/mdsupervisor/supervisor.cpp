// mdsupervisor's core: building the bus's slots and the rotation planner, the loop (observe
// every slot, let the planner decide, carry out its actions), and shutdown. Processes are in
// supervisor_processes.cpp, status and metrics in supervisor_status.cpp, the control API in
// supervisor_control.cpp; the decisions in rotation_planner.cpp and rotation_gate.cpp.
#include "bus/supervisor/mdsupervisor/supervisor.hpp"

#include "bus/clock.hpp"
#include "bus/supervisor/metrics.hpp"
#include "bus/supervisor/status_page.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace mdbus::supervise {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kObserveEveryNs = 10 * kMs;
constexpr std::int64_t kSampleEveryNs = 1'000 * kMs;
constexpr std::int64_t kRotationGiveUpNs = 60'000 * kMs;  // a rotation not live again by then is over (logged)

}  // namespace

const char* to_string(child_process::phase p) noexcept {
  switch (p) {
    case child_process::phase::starting: return "starting";
    case child_process::phase::running: return "running";
    case child_process::phase::restarting: return "restarting";
    case child_process::phase::stopped: return "stopped";
    case child_process::phase::adopted: return "adopted";
  }
  return "unknown";
}

supervisor::supervisor(const config::bus_config& cfg, supervisor_options options)
    : cfg_(cfg), options_(std::move(options)) {
  start_mono_ = mono_ns();
  start_wall_ = wall_ns();
  // First, before touching any segment: the control socket, which is also the proof that no
  // other supervisor runs this bus (it would answer on it).
  server_ = std::make_unique<control_server>(cfg_.supervisor.control_socket, [this](const std::string& r) { return handle(r); });
  // The running copy of the config, beside the control socket (a directory only we can write):
  // the children read it, so an edit of the file takes effect at `mdctl reload`, not when a
  // feeder happens to restart.
  const std::string& sock = cfg_.supervisor.control_socket;
  running_path_ = sock.substr(0, sock.rfind('/') + 1) + cfg_.bus + ".running.json";
  write_running_copy(options_.config_text);
  // The counters segment is the supervisor's alone (ARCHITECTURE.md: one owner per segment): made here,
  // or adopted from a dead predecessor with every counter intact; the other processes open it.
  counters_ = counters_segment::create(segment_name(cfg_.bus, "counters"), config::counters_capacity(cfg_),
                                       cfg_.segment_mode);
  c_merger_restarts_ = counters_.register_counter("supervisor.merger.restarts");
  merger_.pid_gauge = counters_.register_counter("supervisor.merger.pid");
  for (const auto& vc : cfg_.venues) {
    for (std::uint32_t g = 0; g < vc.connections(); ++g) {
      // One slot pair per connection group, its control blocks laid out by the group's symbols.
      const config::venue_config gv = config::group_view(vc, g);
      for (const slot_id s : vc.slots) {
        auto r = std::make_unique<slot_runtime>();
        r->index = slots_.size();
        r->v = vc.id;
        r->s = s;
        r->group = g;
        r->vc = &vc;
        r->name = feeder_display_name(vc.id, s, g);
        r->control = feeder_control_writer::create_or_share(feeder_control_name(cfg_.bus, vc.id, s, g), vc.id, s,
                                                             gv.symbols.size(), cfg_.segment_mode, config::config_identity(cfg_, gv));
        r->proc.argv = {options_.mdfeed, "--config", running_path_, "--venue", std::string(to_string(vc.id)), "--slot",
                        std::string(to_string(s))};
        if (g > 0) {
          r->proc.argv.push_back("--group");
          r->proc.argv.push_back(std::to_string(g));
        }
        const std::string p = "supervisor." + slot_path(vc.id, s, g) + ".";
        r->c_proactive = counters_.register_counter(p + "proactive_rotations");
        r->c_forced = counters_.register_counter(p + "forced_reconnects");
        r->c_restarts = counters_.register_counter(p + "process_restarts");
        r->c_reconnect_sum_us = counters_.register_counter(p + "reconnect_time_sum_us");
        r->c_reconnect_max_us = counters_.register_counter(p + "reconnect_time_max_us");
        r->c_reconnect_count = counters_.register_counter(p + "reconnects_timed");
        r->proc.pid_gauge = counters_.register_counter(p + "pid");
        slots_.push_back(std::move(r));
      }
    }
  }
  merger_.argv = {options_.mdmerge, "--config", running_path_};
  merger_counters_ = merger_counter_reader(&counters_);
  // The rotation schedule's origin: a restarted supervisor finds its predecessor's in the
  // counters segment, so the feeders it adopts keep their planned cuts.
  c_schedule_epoch_ = counters_.register_counter("supervisor.schedule_epoch_ns");
  if (c_schedule_epoch_.get() <= 0) c_schedule_epoch_.set(start_wall_);
  std::vector<planned_venue> venues;
  for (const auto& vc : cfg_.venues) {
    const auto& pol = vc.policy;
    const std::int64_t life = pol.max_age_ms > 0 ? (pol.max_age_ms - pol.rotate_margin_ms) * kMs : 0;
    venues.push_back({vc.id, life > 0 ? life : 0, default_venue_limits(vc.id).connect, pol.max_age_ms * kMs});
  }
  std::vector<planned_slot> planned;
  for (const auto& s : slots_) planned.push_back({s->v, s->group, s->s});
  planner_limits limits;
  limits.gate.sync_wait_max_ns = cfg_.supervisor.rotation_sync_wait_ms * kMs;
  limits.give_up_ns = kRotationGiveUpNs;
  limits.health_window_ns = cfg_.supervisor.health_window_ms * kMs;
  limits.health_min_rate_percent = static_cast<double>(cfg_.supervisor.health_min_rate_percent);
  limits.health_min_partner_rate = static_cast<double>(cfg_.supervisor.health_min_partner_rate);
  planner_ = std::make_unique<rotation_planner>(std::move(venues), std::move(planned), limits, c_schedule_epoch_.get());
}

supervisor::~supervisor() = default;

void supervisor::log(const char* fmt, ...) {
  char line[600];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  const std::int64_t t = wall_ns();
  const std::time_t secs = t / 1'000'000'000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::fprintf(stderr, "mdsupervisor %02d:%02d:%02d.%03d: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
               static_cast<int>((t / 1'000'000) % 1000), line);
  std::fflush(stderr);
}

void supervisor::start() {
  if (cfg_.supervisor.metrics_port >= 0) {
    std::vector<metrics_server::route> routes;
    routes.push_back({"/metrics", metrics_server::kPrometheusType, [this] { return metrics_text(); }});
    routes.push_back({"/", "text/html; charset=utf-8", [] { return std::string(status_page_html()); }});
    routes.push_back({"/status.json", "application/json", [this] { return status_page_json(); }});
    metrics_ = std::make_unique<metrics_server>(cfg_.supervisor.metrics_port, std::move(routes));
    metrics_port_ = metrics_->port();
    log("metrics: http://127.0.0.1:%d/metrics, status page: http://127.0.0.1:%d/", metrics_port_, metrics_port_);
  }
  adopt_existing();
  for (auto& s : slots_)
    if (s->proc.pid <= 0) start_feeder(*s);
  if (merger_.pid <= 0) start_process(merger_, "merger");
  log("bus %s: %zu feeder slot(s) and the merger under supervision; control socket %s", cfg_.bus.c_str(), slots_.size(),
      cfg_.supervisor.control_socket.c_str());
}

// ---- slots -------------------------------------------------------------------------------

supervisor::slot_runtime* supervisor::partner(const slot_runtime& s) noexcept {
  const std::size_t p = planner_->partner(s.index);
  return p == rotation_planner::npos ? nullptr : slots_[p].get();
}

supervisor::slot_runtime* supervisor::find_slot(const std::string& venue_name, const std::string& slot_name,
                                                std::uint32_t group) noexcept {
  for (auto& s : slots_)
    if (to_string(s->v) == venue_name && to_string(s->s) == slot_name && s->group == group) return s.get();
  return nullptr;
}

void supervisor::observe(slot_runtime& s, std::int64_t now, std::int64_t elapsed_ms) {
  if (!s.status_open) {
    std::string why;
    if (feeder_status_reader::try_open(feeder_status_name(cfg_.bus, s.v, s.s, s.group), s.status, why) != attach_status::ok) {
      planner_->look(s.index, slot_look{}, now, events_);  // no status block: not live
      return;
    }
    s.status_open = true;
  }
  const feeder_status& f = s.status.fields();
  // Observed, not self-reported: a feeder killed with SIGKILL leaves "live" in its block,
  // but the kernel drops its writer lock with it. No writer: down (or stopped, if it said
  // so on its way out); and look the block up by name again next time, in case the next
  // writer replaces it.
  const feeder_state st = s.status.observed_state();
  if (!s.status.writer_alive()) s.status_open = false;
  const std::uint64_t connections = f.connections.load(std::memory_order_relaxed);
  const std::uint64_t reconnects = f.reconnects.load(std::memory_order_relaxed);
  const std::uint64_t notices = f.venue_notices.load(std::memory_order_relaxed);
  if (!s.base_known) {
    s.base_known = true;
    s.base_reconnects = reconnects;
    s.last_notices = notices;
    s.last_connections = connections;
  }
  const bool live = st == feeder_state::live;
  // Reconnection time: from leaving live to the next connection live — also when the whole
  // down-connect-live cycle fell between two looks (a rotation takes ~20 ms, the look is
  // every 10 ms): the connection number moved.
  if (live && (s.last_state != feeder_state::live || connections != s.live_connection)) {
    s.live_since_mono = now;
    s.live_connection = connections;
    if (s.left_live_mono == 0 && planner_->rotating(s.index)) s.left_live_mono = planner_->rotation_started_mono(s.index);
    if (s.left_live_mono != 0) {
      const double ms = static_cast<double>(now - s.left_live_mono) / 1e6;
      ++s.reconnect_count;
      s.reconnect_sum_ms += ms;
      s.reconnect_max_ms = std::max(s.reconnect_max_ms, ms);
      s.c_reconnect_count.set(static_cast<std::int64_t>(s.reconnect_count));
      s.c_reconnect_sum_us.set(static_cast<std::int64_t>(s.reconnect_sum_ms * 1000));
      s.c_reconnect_max_us.set(static_cast<std::int64_t>(s.reconnect_max_ms * 1000));
      s.left_live_mono = 0;
    }
  } else if (!live && s.last_state == feeder_state::live) {
    s.left_live_mono = now;
  }
  s.last_state = st;
  s.last_connections = connections;
  // Reconnections the supervisor did not ask for: the venue's cuts, network errors, watchdogs.
  // Asked for: completed rotations (counted in carry_out, after this look), rotations cut
  // short, and the one under way — judged before the look below, which may end it. A
  // counter: it never goes down.
  const std::uint64_t total = reconnects - std::min(reconnects, s.base_reconnects);
  const std::uint64_t asked = s.proactive + s.rotations_cut_short + (planner_->rotating(s.index) ? 1 : 0);
  const std::uint64_t forced = total > asked ? total - asked : 0;
  if (forced > s.forced) {
    s.forced = forced;
    s.c_forced.set(static_cast<std::int64_t>(forced));
  }
  planner_->look(s.index, {true, st, connections, live ? f.connect_time_ns.load(std::memory_order_relaxed) : 0}, now, events_);
  if (notices > s.last_notices) {
    s.last_notices = notices;
    planner_->request(s.index, slot_reason::venue_notice);
    log("%s: the venue announced it will close the connection: rotation queued", s.name.c_str());
  }
  if (live) s.connected_ms += elapsed_ms;
  s.observed_ms += elapsed_ms;
}

void supervisor::sample_rates(std::int64_t now) {
  const double secs = static_cast<double>(now - last_sample_mono_) / 1e9;
  if (secs <= 0) return;
  for (auto& s : slots_) {
    const std::uint64_t msgs = s->status_open ? s->status.fields().messages.load(std::memory_order_relaxed) : 0;
    s->msgs_per_s = static_cast<double>(msgs - std::min(msgs, s->msgs_at_sample)) / secs;
    s->msgs_at_sample = msgs;
    const auto first = static_cast<std::uint64_t>(std::max<std::int64_t>(0, merger_value(*s, merge_slot_stat::first_arrivals)));
    s->first_per_s = static_cast<double>(first - std::min(first, s->first_at_sample)) / secs;
    s->first_at_sample = first;
    planner_->rate(s->index, s->msgs_per_s);
  }
  // Health: a live slot far below its live partner's message rate for health_window_ms.
  if (!stopping_) planner_->judge_health(now, events_);
  carry_out(now);
  last_sample_mono_ = now;
}

void supervisor::plan_rotations(std::int64_t now) {
  planner_->plan(now, wall_ns(), [this, now](std::size_t i, std::size_t p) { return gate_view(i, p, now); }, events_);
  carry_out(now);
}

void supervisor::carry_out(std::int64_t now) {
  (void)now;
  for (const plan_event& e : events_) {
    slot_runtime& s = *slots_[e.slot];
    const slot_runtime* p = partner(s);
    const std::string why(to_string(e.reason));
    const char* pname = p != nullptr ? p->name.c_str() : "-";
    switch (e.kind) {
      case plan_event_kind::rotate:
        if (e.verdict == gate_verdict::go_after_wait) {
          log("rotation of %s (%s): %s live and delivering but in step on %u of %u streams after %lld ms: rotating anyway",
              s.name.c_str(), why.c_str(), pname, e.view.partner_in_step, e.view.self_in_step,
              static_cast<long long>(e.view.waited_ns / kMs));
        } else if (e.after_wait) {
          log("rotation of %s (%s): %s ready after %lld ms", s.name.c_str(), why.c_str(), pname, static_cast<long long>(e.ns / kMs));
        }
        begin_rotation(s, e);
        break;
      case plan_event_kind::held:
        log("rotation of %s (%s) waits: %s (%s; in step on %u of the %u streams %s is)", s.name.c_str(), why.c_str(),
            std::string(to_string(e.verdict)).c_str(), pname, e.view.partner_in_step, e.view.self_in_step, s.name.c_str());
        break;
      case plan_event_kind::paced:
        log("rotation of %s (%s) waits: %s's connection-attempt pace is spent", s.name.c_str(), why.c_str(),
            std::string(to_string(s.v)).c_str());
        break;
      case plan_event_kind::rotated:
        ++s.proactive;
        s.c_proactive.set(static_cast<std::int64_t>(s.proactive));
        log("rotated %s (%s) in %.1f ms: connection %llu live", s.name.c_str(), why.c_str(), static_cast<double>(e.ns) / 1e6,
            static_cast<unsigned long long>(s.live_connection));
        break;
      case plan_event_kind::gave_up:
        log("rotation of %s (%s) not live again after %lld s: left to the feeder's reconnect", s.name.c_str(), why.c_str(),
            static_cast<long long>(e.ns / 1'000'000'000));
        break;
      case plan_event_kind::unhealthy:
        log("%s: %.0f msgs/s against its partner's %.0f for %lld ms: unhealthy, rotation queued", s.name.c_str(), e.rate,
            e.partner_rate, static_cast<long long>(e.ns / kMs));
        break;
    }
  }
  events_.clear();
}

rotation_view supervisor::gate_view(std::size_t i, std::size_t pi, std::int64_t now) {
  const slot_runtime& s = *slots_[i];
  rotation_view v;
  if (s.status_open) v.self_last_message_ns = s.status.fields().last_message_ns.load(std::memory_order_relaxed);
  v.self_interval_ns = s.msgs_per_s > 0 ? static_cast<std::int64_t>(1e9 / s.msgs_per_s) : 0;
  v.self_in_step = static_cast<std::uint32_t>(std::max<std::int64_t>(0, merger_value(s, merge_slot_stat::streams_in_step)));
  if (pi == rotation_planner::npos) return v;
  const slot_runtime& p = *slots_[pi];
  v.partner_process = process_running(p.proc);
  if (!p.status_open) return v;  // no status block to judge: as dead
  const shm_segment& seg = p.status.segment();
  v.partner_locked = p.status.writer_alive();
  v.partner_heartbeat_age_ns = now - seg.header().writer_heartbeat_ns.load(std::memory_order_relaxed);
  const feeder_status& f = p.status.fields();
  // A restarted feeder adopts the block (lock, heartbeat) a moment before it resets the
  // state a killed writer left at "live"; its pid is written last (feeder_block.cpp), so the
  // state counts only once the block names the process we know.
  const bool state_is_ours = f.pid.load(std::memory_order_acquire) == static_cast<std::int64_t>(p.proc.pid);
  v.partner_state = state_is_ours ? p.status.state() : feeder_state::starting;
  v.partner_last_message_ns = f.last_message_ns.load(std::memory_order_relaxed);
  // The marker before the count: the merger sets the count first (merger::update_counters).
  const std::int64_t marker = merger_value(p, merge_slot_stat::live_marker_ns);
  v.partner_in_step = static_cast<std::uint32_t>(std::max<std::int64_t>(0, merger_value(p, merge_slot_stat::streams_in_step)));
  v.merger_saw_partner_live = marker > 0 && marker >= f.state_since_ns.load(std::memory_order_relaxed);
  return v;
}

void supervisor::begin_rotation(slot_runtime& s, const plan_event& e) {
  if (e.reason == slot_reason::config_reload) {
    // A reload's rotation is a new process (the group's new symbols; a new control block made
    // before it starts): the partner carries the group meanwhile, as for any rotation.
    log("restarting feeder %s for the reload (generation %llu): its partner carries the group", s.name.c_str(),
        static_cast<unsigned long long>(config_generation_));
    if (s.proc.pid > 0) {
      s.proc.restart_requested = true;
      ::kill(s.proc.pid, SIGTERM);
    }
    return;
  }
  s.rotation_reconnects_before = s.status.fields().reconnects.load(std::memory_order_relaxed);
  const std::int64_t connected = s.status.fields().connect_time_ns.load(std::memory_order_relaxed);
  log("rotating %s (%s): connection age %.1f s", s.name.c_str(), std::string(to_string(e.reason)).c_str(),
      connected > 0 ? static_cast<double>(wall_ns() - connected) / 1e9 : 0.0);
  s.control.send(feeder_command::rotate, static_cast<std::uint8_t>(e.reason));
}

std::int64_t supervisor::merger_value(const slot_runtime& s, merge_slot_stat stat) const {
  return merger_counters_.value(s.v, s.s, stat, s.group);
}

std::int64_t supervisor::merger_value(merge_total t) const { return merger_counters_.value(t); }

void supervisor::tick() {
  const std::int64_t now = mono_ns();
  reap();
  check_processes(now);
  if (now - last_observe_mono_ >= kObserveEveryNs) {
    const std::int64_t elapsed_ms = last_observe_mono_ == 0 ? 0 : (now - last_observe_mono_) / kMs;
    last_observe_mono_ = now;
    for (auto& s : slots_) observe(*s, now, elapsed_ms);
    carry_out(now);  // rotations completed or given up
    if (!stopping_) plan_rotations(now);
  }
  if (now - last_sample_mono_ >= kSampleEveryNs) sample_rates(now);
  sample_history();
  if (server_) server_->poll_once();
  if (metrics_) metrics_->service(0);
}

void supervisor::shutdown() {
  stopping_ = true;
  log("stopping: feeders first (they drain), then the merger");
  std::int64_t drain = 0;
  for (auto& s : slots_) {
    drain = std::max(drain, s->vc->policy.drain_timeout_ms);
    if (s->proc.pid > 0) ::kill(s->proc.pid, SIGTERM);
  }
  auto wait_all = [&](auto pred, std::int64_t limit_ns) {
    const std::int64_t end = mono_ns() + limit_ns;
    while (mono_ns() < end) {
      reap();
      if (pred()) return true;
      timespec ts{0, 5'000'000};
      nanosleep(&ts, nullptr);
    }
    return pred();
  };
  const bool feeders_done = wait_all([&] {
    return std::all_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->proc.pid <= 0; });
  }, (drain + 3'000) * kMs);
  if (!feeders_done)
    for (auto& s : slots_)
      if (s->proc.pid > 0) {
        log("feeder %s did not stop in time: SIGKILL", s->name.c_str());
        ::kill(s->proc.pid, SIGKILL);
      }
  wait_all([&] { return std::all_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->proc.pid <= 0; }); }, 2'000 * kMs);
  if (merger_.pid > 0) ::kill(merger_.pid, SIGTERM);
  if (!wait_all([&] { return merger_.pid <= 0; }, 5'000 * kMs) && merger_.pid > 0) {
    log("merger did not stop in time: SIGKILL");
    ::kill(merger_.pid, SIGKILL);
    wait_all([&] { return merger_.pid <= 0; }, 2'000 * kMs);
  }
  server_.reset();
  ::unlink(running_path_.c_str());
  if (!options_.keep_shm) {
    std::size_t n = 0;
    for (const auto& name : list_segments(cfg_.bus)) {
      // Another user's segment under our bus name is not ours to remove, even for root.
      if (struct stat st {}; ::stat(("/dev/shm/" + name).c_str(), &st) == 0 && st.st_uid != ::geteuid()) {
        log("left %s: owned by uid %u, not ours", name.c_str(), static_cast<unsigned>(st.st_uid));
        continue;
      }
      n += shm_segment::remove(name) ? 1 : 0;
    }
    log("removed %zu segment(s) of bus %s", n, cfg_.bus.c_str());
  } else {
    log("kept the segments of bus %s (--keep-shm)", cfg_.bus.c_str());
  }
}

}  // namespace mdbus::supervise
