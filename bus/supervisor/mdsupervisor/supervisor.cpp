#include "bus/supervisor/mdsupervisor/supervisor.hpp"

#include "bus/clock.hpp"
#include "bus/spsc_ring.hpp"
#include "bus/supervisor/metrics.hpp"

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

using json = nlohmann::json;

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kObserveEveryNs = 10 * kMs;
constexpr std::int64_t kSampleEveryNs = 1'000 * kMs;
constexpr std::int64_t kRotationGiveUpNs = 60'000 * kMs;  // a rotation not live again by then is over (logged)

json null_or(bool has, double v) { return has ? json(v) : json(nullptr); }

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
  // The counters segment is the supervisor's; a merger that ran alone may have made it.
  const std::string counters_name = segment_name(cfg_.bus, "counters");
  try {
    counters_ = counters_segment::create(counters_name, config::counters_capacity(cfg_),
                                         cfg_.segment_mode);
  } catch (const segment_error&) {
    counters_ = counters_segment::open(counters_name, access_mode::read_write, 0);
  }
  c_merger_restarts_ = counters_.register_counter("supervisor.merger.restarts");
  merger_.pid_gauge = counters_.register_counter("supervisor.merger.pid");
  for (const auto& vc : cfg_.venues) {
    for (const slot_id s : vc.slots) {
      auto r = std::make_unique<slot_runtime>();
      r->v = vc.id;
      r->s = s;
      r->vc = &vc;
      r->name = std::string(to_string(vc.id)) + "/" + std::string(to_string(s));
      r->control = feeder_control_writer::create_or_share(feeder_control_name(cfg_.bus, vc.id, s), vc.id, s, vc.symbols.size(),
                                                           cfg_.segment_mode, config::config_identity(cfg_, vc));
      r->proc.argv = {options_.mdfeed, "--config", options_.config_path, "--venue", std::string(to_string(vc.id)), "--slot",
                      std::string(to_string(s))};
      const std::string p = "supervisor." + std::string(to_string(vc.id)) + "." + std::string(to_string(s)) + ".";
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
  merger_.argv = {options_.mdmerge, "--config", options_.config_path};
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
    metrics_ = std::make_unique<metrics_server>(cfg_.supervisor.metrics_port, [this] { return metrics_text(); });
    metrics_port_ = metrics_->port();
    log("metrics: http://127.0.0.1:%d/metrics", metrics_port_);
  }
  adopt_existing();
  for (auto& s : slots_)
    if (s->proc.pid <= 0) start_process(s->proc, "feeder " + s->name);
  if (merger_.pid <= 0) start_process(merger_, "merger");
  log("bus %s: %zu feeder slot(s) and the merger under supervision; control socket %s", cfg_.bus.c_str(), slots_.size(),
      cfg_.supervisor.control_socket.c_str());
}

// ---- slots -------------------------------------------------------------------------------

supervisor::slot_runtime* supervisor::partner(const slot_runtime& s) noexcept {
  for (auto& o : slots_)
    if (o.get() != &s && o->v == s.v) return o.get();
  return nullptr;
}

supervisor::slot_runtime* supervisor::find_slot(const std::string& venue_name, const std::string& slot_name) noexcept {
  for (auto& s : slots_)
    if (to_string(s->v) == venue_name && to_string(s->s) == slot_name) return s.get();
  return nullptr;
}

void supervisor::observe(slot_runtime& s, std::int64_t now, std::int64_t elapsed_ms) {
  if (!s.status_open) {
    std::string why;
    if (feeder_status_reader::try_open(feeder_status_name(cfg_.bus, s.v, s.s), s.status, why) != attach_status::ok) return;
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
  // A new connection went live — also when the whole down-connect-live cycle fell between two
  // looks (a rotation takes ~20 ms, the look is every 10 ms): the connection number moved.
  if (live && (s.last_state != feeder_state::live || connections != s.live_connection)) {
    s.live_since_mono = now;
    s.live_connection = connections;
    ++s.live_connections_seen;
    if (s.left_live_mono == 0 && s.rotating) s.left_live_mono = s.rotation_started_mono;
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
    if (s.pending == slot_reason::age_limit && connections != s.pending_connection) {
      s.pending = slot_reason::none;  // planned for a connection that is gone: the new one has its own age
    }
    if (s.rotating && connections > s.rotation_connections_before) {
      s.rotating = false;
      ++s.proactive;
      s.c_proactive.set(static_cast<std::int64_t>(s.proactive));
      log("rotated %s (%s) in %.1f ms: connection %llu live", s.name.c_str(), std::string(to_string(s.rotation_reason)).c_str(),
          static_cast<double>(now - s.rotation_started_mono) / 1e6, static_cast<unsigned long long>(connections));
    }
  } else if (!live && s.last_state == feeder_state::live) {
    s.left_live_mono = now;
  }
  s.last_state = st;
  s.last_connections = connections;
  // Reconnections the supervisor did not ask for: the venue's cuts, network errors, watchdogs.
  const std::uint64_t total = reconnects - std::min(reconnects, s.base_reconnects);
  const std::uint64_t asked = s.proactive + s.rotations_cut_short;
  const std::uint64_t forced = total > asked ? total - asked : 0;
  if (forced != s.forced) {
    s.forced = forced;
    s.c_forced.set(static_cast<std::int64_t>(forced));
  }
  if (s.rotating && now - s.rotation_started_mono > kRotationGiveUpNs) {
    s.rotating = false;
    log("rotation of %s (%s) not live again after %lld s: left to the feeder's reconnect", s.name.c_str(),
        std::string(to_string(s.rotation_reason)).c_str(), static_cast<long long>(kRotationGiveUpNs / 1'000'000'000));
  }
  if (notices > s.last_notices) {
    s.last_notices = notices;
    if (s.pending == slot_reason::none) s.pending = slot_reason::venue_notice;
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
    const auto first = static_cast<std::uint64_t>(
        std::max<std::int64_t>(0, counter_value("merge." + std::string(to_string(s->v)) + "." + std::string(to_string(s->s)) + ".first_arrivals")));
    s->first_per_s = static_cast<double>(first - std::min(first, s->first_at_sample)) / secs;
    s->first_at_sample = first;
  }
  // Health: a live slot far below its live partner's message rate for health_window_ms.
  const auto& sv = cfg_.supervisor;
  for (auto& s : slots_) {
    slot_runtime* p = partner(*s);
    const bool judged = p != nullptr && s->last_state == feeder_state::live && p->last_state == feeder_state::live &&
                        !s->rotating && !p->rotating && !s->paused &&
                        p->msgs_per_s >= static_cast<double>(sv.health_min_partner_rate) &&
                        s->msgs_per_s * 100.0 < p->msgs_per_s * static_cast<double>(sv.health_min_rate_percent);
    if (!judged) {
      s->unhealthy_since_mono = 0;
      continue;
    }
    if (s->unhealthy_since_mono == 0) s->unhealthy_since_mono = now;
    if (now - s->unhealthy_since_mono >= sv.health_window_ms * kMs && s->pending == slot_reason::none) {
      s->pending = slot_reason::stale_stream;
      log("%s: %.0f msgs/s against its partner's %.0f for %lld ms: unhealthy, rotation queued", s->name.c_str(),
          s->msgs_per_s, p->msgs_per_s, static_cast<long long>((now - s->unhealthy_since_mono) / kMs));
      s->unhealthy_since_mono = 0;
    }
  }
  last_sample_mono_ = now;
}

void supervisor::plan_rotations(std::int64_t now) {
  const std::int64_t wall = wall_ns();
  for (auto& sp : slots_) {
    slot_runtime& s = *sp;
    if (s.rotating || s.paused || s.last_state != feeder_state::live || !s.status_open) continue;
    const auto& pol = s.vc->policy;
    if (s.pending == slot_reason::none && pol.max_age_ms > 0) {
      const std::int64_t lifetime = (pol.max_age_ms - pol.rotate_margin_ms) * kMs;
      const std::int64_t connected = s.status.fields().connect_time_ns.load(std::memory_order_relaxed);
      if (lifetime > 0 && connected > 0) {
        // Staggered ages: slot B's first connection under this supervisor lives half a
        // lifetime, so afterwards the two slots' planned cuts are half a lifetime apart.
        const bool first_b = s.s == slot_id::b && s.live_connections_seen <= 1 && s.proactive == 0;
        const std::int64_t due = connected + (first_b ? lifetime / 2 : lifetime);
        if (wall >= due) {
          s.pending = slot_reason::age_limit;
          s.pending_connection = s.last_connections;
        }
      }
    }
    if (s.pending == slot_reason::none) continue;
    if (s.gate_reason != s.pending) {
      s.gate_reason = s.pending;
      s.gate_since_mono = now;
      s.gate_logged = gate_verdict::go;
    }
    // Make-before-break: the partner must carry the venue while this slot is cut. Judged
    // on what is observed right now (its process, writer lock, heartbeat, deliveries and
    // the merger's view), just before the command goes out: a partner killed a moment ago
    // still reads "live" in its status block.
    slot_runtime* p = partner(s);
    gate_limits limits;
    limits.sync_wait_max_ns = cfg_.supervisor.rotation_sync_wait_ms * kMs;
    const rotation_view view = gate_view(s, p, now);
    const gate_verdict verdict = rotation_gate(view, limits);
    const std::string why(to_string(s.pending));
    if (!may_cut(verdict)) {
      if (verdict != s.gate_logged) {
        log("rotation of %s (%s) waits: %s (%s; in step on %u of the %u streams %s is)", s.name.c_str(), why.c_str(),
            std::string(to_string(verdict)).c_str(), p != nullptr ? p->name.c_str() : "-", view.partner_in_step,
            view.self_in_step, s.name.c_str());
        s.gate_logged = verdict;
      }
      continue;
    }
    if (verdict == gate_verdict::go_after_wait) {
      log("rotation of %s (%s): %s live and delivering but in step on %u of %u streams after %lld ms: rotating anyway",
          s.name.c_str(), why.c_str(), p->name.c_str(), view.partner_in_step, view.self_in_step,
          static_cast<long long>(view.waited_ns / kMs));
    } else if (s.gate_logged != gate_verdict::go) {
      log("rotation of %s (%s): %s ready after %lld ms", s.name.c_str(), why.c_str(), p != nullptr ? p->name.c_str() : "-",
          static_cast<long long>(view.waited_ns / kMs));
    }
    begin_rotation(s, now);
  }
}

rotation_view supervisor::gate_view(const slot_runtime& s, const slot_runtime* p, std::int64_t now) {
  auto prefix = [](const slot_runtime& x) {
    return "merge." + std::string(to_string(x.v)) + "." + std::string(to_string(x.s)) + ".";
  };
  rotation_view v;
  v.has_partner = p != nullptr;
  v.waited_ns = now - s.gate_since_mono;
  if (s.status_open) v.self_last_message_ns = s.status.fields().last_message_ns.load(std::memory_order_relaxed);
  v.self_interval_ns = s.msgs_per_s > 0 ? static_cast<std::int64_t>(1e9 / s.msgs_per_s) : 0;
  v.self_in_step = static_cast<std::uint32_t>(std::max<std::int64_t>(0, counter_value(prefix(s) + "streams_in_step")));
  if (p == nullptr) return v;
  v.partner_process = process_running(p->proc);
  v.partner_rotating = p->rotating;
  v.partner_paused = p->paused;
  if (!p->status_open) return v;  // no status block to judge: as dead
  const shm_segment& seg = p->status.segment();
  v.partner_locked = p->status.writer_alive();
  v.partner_heartbeat_age_ns = now - seg.header().writer_heartbeat_ns.load(std::memory_order_relaxed);
  const feeder_status& f = p->status.fields();
  // A restarted feeder adopts the block (lock, heartbeat) a moment before it resets the
  // state a killed writer left at "live"; its pid is written last (feeder_block.cpp), so the
  // state counts only once the block names the process we know.
  const bool state_is_ours = f.pid.load(std::memory_order_acquire) == static_cast<std::int64_t>(p->proc.pid);
  v.partner_state = state_is_ours ? p->status.state() : feeder_state::starting;
  v.partner_last_message_ns = f.last_message_ns.load(std::memory_order_relaxed);
  // The marker before the count: the merger sets the count first (merger::update_counters).
  const std::int64_t marker = counter_value(prefix(*p) + "live_marker_ns");
  v.partner_in_step = static_cast<std::uint32_t>(std::max<std::int64_t>(0, counter_value(prefix(*p) + "streams_in_step")));
  v.merger_saw_partner_live = marker > 0 && marker >= f.state_since_ns.load(std::memory_order_relaxed);
  return v;
}

void supervisor::begin_rotation(slot_runtime& s, std::int64_t now) {
  s.rotation_reason = s.pending;
  s.pending = slot_reason::none;
  s.gate_reason = slot_reason::none;
  s.rotating = true;
  s.rotation_started_mono = now;
  s.rotation_connections_before = s.last_connections;
  s.rotation_reconnects_before = s.status.fields().reconnects.load(std::memory_order_relaxed);
  const std::int64_t connected = s.status.fields().connect_time_ns.load(std::memory_order_relaxed);
  log("rotating %s (%s): connection age %.1f s", s.name.c_str(), std::string(to_string(s.rotation_reason)).c_str(),
      connected > 0 ? static_cast<double>(wall_ns() - connected) / 1e9 : 0.0);
  s.control.send(feeder_command::rotate, static_cast<std::uint8_t>(s.rotation_reason));
}

std::int64_t supervisor::counter_value(const std::string& label) const {
  // The merger's counters by label, looked up once: a rotation gate asks ~300 times a second
  // and a scan of a large bus's segment (48 000 slots for 300 symbols a venue) is megabytes.
  if (const auto it = counter_slots_.find(label); it != counter_slots_.end()) {
    if (const auto v = counters_.value_if(it->second, label)) return *v;
    counter_slots_.erase(it);  // released or re-registered elsewhere (a restarted merger)
  }
  const auto id = counters_.locate(label);
  if (!id) return 0;  // not registered (yet): no merger
  counter_slots_.emplace(label, *id);
  return counters_.value_if(*id, label).value_or(0);
}

void supervisor::tick() {
  const std::int64_t now = mono_ns();
  reap();
  check_processes(now);
  if (now - last_observe_mono_ >= kObserveEveryNs) {
    const std::int64_t elapsed_ms = last_observe_mono_ == 0 ? 0 : (now - last_observe_mono_) / kMs;
    last_observe_mono_ = now;
    for (auto& s : slots_) observe(*s, now, elapsed_ms);
    if (!stopping_) plan_rotations(now);
  }
  if (now - last_sample_mono_ >= kSampleEveryNs) sample_rates(now);
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

// ---- control requests ----------------------------------------------------------------------

json supervisor::status_json() {
  const std::int64_t wall = wall_ns();
  json j;
  j["ok"] = true;
  j["bus"] = cfg_.bus;
  j["time_ns"] = wall;
  j["supervisor"] = {{"pid", static_cast<int>(::getpid())},
                     {"uptime_ms", (mono_ns() - start_mono_) / kMs},
                     {"config", options_.config_path},
                     {"metrics_port", metrics_port_ >= 0 ? json(metrics_port_) : json(nullptr)}};
  json slots = json::array();
  std::uint64_t proactive = 0, forced = 0, timed = 0, overflows = 0;
  double sum_ms = 0, max_ms = 0;
  for (auto& sp : slots_) {
    slot_runtime& s = *sp;
    json o;
    o["venue"] = std::string(to_string(s.v));
    o["slot"] = std::string(to_string(s.s));
    o["process"] = to_string(s.proc.state);
    o["pid"] = s.proc.pid > 0 ? json(s.proc.pid) : json(nullptr);
    o["restarts"] = s.proc.restarts;
    o["operator_restarts"] = s.proc.operator_restarts;
    o["crash_loop"] = s.proc.crash_loop;
    o["paused"] = s.paused;
    o["proactive_rotations"] = s.proactive;
    o["forced_reconnects"] = s.forced;
    o["msgs_per_s"] = s.msgs_per_s;
    o["rotation_due"] = s.rotating ? json(std::string(to_string(s.rotation_reason)))
                                   : s.pending != slot_reason::none ? json(std::string(to_string(s.pending))) : json(nullptr);
    // A pending rotation held at the rotation gate: why (rotation_gate.hpp).
    o["rotation_waits"] = !s.rotating && s.pending != slot_reason::none && s.gate_reason == s.pending && s.gate_logged != gate_verdict::go
                              ? json(std::string(to_string(s.gate_logged)))
                              : json(nullptr);
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
      const auto& pol = s.vc->policy;
      if (live && pol.max_age_ms > 0) {
        const std::int64_t lifetime = (pol.max_age_ms - pol.rotate_margin_ms) * kMs;
        const bool first_b = s.s == slot_id::b && s.live_connections_seen <= 1 && s.proactive == 0;
        o["next_rotation_ms"] = std::max<std::int64_t>(0, (f.connect_time_ns + (first_b ? lifetime / 2 : lifetime) - wall) / kMs);
      } else {
        o["next_rotation_ms"] = nullptr;
      }
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
    const std::string me = "merge." + std::string(to_string(s.v)) + "." + std::string(to_string(s.s)) + ".";
    slot_runtime* p = partner(s);
    const double mine = static_cast<double>(counter_value(me + "first_arrivals"));
    double theirs = 0, their_lead = 0;
    bool partner_has = false;
    if (p != nullptr) {
      const std::string pp = "merge." + std::string(to_string(p->v)) + "." + std::string(to_string(p->s)) + ".";
      theirs = static_cast<double>(counter_value(pp + "first_arrivals"));
      const auto samples = counter_value(pp + "lead_samples");
      partner_has = samples > 0;
      if (samples > 0) their_lead = static_cast<double>(counter_value(pp + "lead_sum_ns")) / static_cast<double>(samples) / 1e3;
    }
    o["first_arrival_share"] = null_or(mine + theirs > 0, mine + theirs > 0 ? mine / (mine + theirs) : 0);
    const auto my_samples = counter_value(me + "lead_samples");
    const double my_lead = my_samples > 0 ? static_cast<double>(counter_value(me + "lead_sum_ns")) / static_cast<double>(my_samples) / 1e3 : 0;
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
  j["totals"] = {{"published", counter_value("merge.published")},
                 {"duplicates", counter_value("merge.duplicates")},
                 {"gaps", counter_value("merge.gaps")},
                 {"data_loss_events", counter_value("merge.gaps")},
                 {"ring_overflows", overflows},
                 {"proactive_reconnects", proactive},
                 {"forced_reconnects", forced},
                 {"reconnect_avg_ms", timed > 0 ? sum_ms / static_cast<double>(timed) : 0.0},
                 {"reconnect_max_ms", max_ms}};
  return j;
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

std::string supervisor::handle(const std::string& request) {
  auto fail = [](const std::string& why) { return json{{"ok", false}, {"error", why}}.dump(); };
  json req;
  try {
    req = json::parse(request);
  } catch (const json::parse_error&) {
    return fail("request is not JSON");
  }
  if (!req.is_object() || !req.contains("cmd") || !req["cmd"].is_string()) return fail("cmd: missing (a string)");
  const std::string cmd = req["cmd"];
  auto text_field = [&](const char* name, std::string& out) -> bool {
    if (!req.contains(name) || !req[name].is_string()) return false;
    out = req[name].get<std::string>();
    return true;
  };
  std::string venues_known;
  for (const auto& v : cfg_.venues) venues_known += (venues_known.empty() ? "" : ", ") + std::string(to_string(v.id));
  auto slot_of = [&](std::string& error) -> slot_runtime* {
    std::string v, s;
    if (!text_field("venue", v)) {
      error = "venue: missing (a string)";
      return nullptr;
    }
    if (cfg_.find(venue_from_string(v).value_or(venue::unknown)) == nullptr) {
      error = "unknown venue \"" + v + "\" (configured: " + venues_known + ")";
      return nullptr;
    }
    if (!text_field("slot", s)) {
      error = "slot: missing (a string)";
      return nullptr;
    }
    slot_runtime* r = find_slot(v, s);
    if (r == nullptr) error = "unknown slot \"" + v + "/" + s + "\"";
    return r;
  };
  if (cmd == "status") return status_json().dump();
  if (cmd == "metrics") return json{{"ok", true}, {"text", metrics_text()}}.dump();
  if (cmd == "switchover") {
    std::string v;
    if (!text_field("venue", v)) return fail("venue: missing (a string)");
    if (cfg_.find(venue_from_string(v).value_or(venue::unknown)) == nullptr)
      return fail("unknown venue \"" + v + "\" (configured: " + venues_known + ")");
    // The leading slot: the larger share of the venue's first arrivals over the last second
    // (over the whole run when the last second had none).
    slot_runtime* lead = nullptr;
    double best = -1;
    for (auto& s : slots_) {
      if (to_string(s->v) != v) continue;
      double score = s->first_per_s;
      if (score <= 0) score = static_cast<double>(counter_value("merge." + v + "." + std::string(to_string(s->s)) + ".first_arrivals")) * 1e-9;
      if (score > best) {
        best = score;
        lead = s.get();
      }
    }
    if (lead == nullptr) return fail("venue " + v + " has no slot");
    if (lead->rotating) return fail(lead->name + " is rotating already");
    lead->pending = slot_reason::operator_request;
    slot_runtime* p = partner(*lead);
    const bool queued = p != nullptr && p->last_state != feeder_state::live;
    log("switchover %s requested: rotating the leading slot %s", v.c_str(), lead->name.c_str());
    return json{{"ok", true}, {"slot", std::string(to_string(lead->s))}, {"queued", queued}}.dump();
  }
  if (cmd == "rotate" || cmd == "pause" || cmd == "resume") {
    std::string error;
    slot_runtime* s = slot_of(error);
    if (s == nullptr) return fail(error);
    slot_runtime* p = partner(*s);
    if (cmd == "rotate") {
      if (s->rotating) return fail(s->name + " is rotating already");
      if (s->paused) return fail(s->name + " is paused: resume it first");
      s->pending = slot_reason::operator_request;
      log("rotation of %s requested", s->name.c_str());
      return json{{"ok", true}, {"queued", p != nullptr && p->last_state != feeder_state::live}}.dump();
    }
    if (cmd == "pause") {
      if (p == nullptr || p->last_state != feeder_state::live || p->paused)
        return fail("refused: pausing " + s->name + " would leave " + std::string(to_string(s->v)) + " without a live connection");
      s->paused = true;
      s->pending = slot_reason::none;
      s->control.send(feeder_command::disconnect);
      log("%s paused (disconnected on request)", s->name.c_str());
      return json{{"ok", true}}.dump();
    }
    s->paused = false;
    s->control.send(feeder_command::connect);
    log("%s resumed", s->name.c_str());
    return json{{"ok", true}}.dump();
  }
  if (cmd == "restart") {
    std::string process;
    if (!text_field("process", process)) return fail("process: missing (\"feeder\" or \"merger\")");
    child_process* p = nullptr;
    std::string what;
    if (process == "merger") {
      p = &merger_;
      what = "merger";
    } else if (process == "feeder") {
      std::string error;
      slot_runtime* s = slot_of(error);
      if (s == nullptr) return fail(error);
      p = &s->proc;
      what = "feeder " + s->name;
    } else {
      return fail("process: \"" + process + "\" is not \"feeder\" or \"merger\"");
    }
    if (p->pid <= 0 && p->state == child_process::phase::stopped && !stopping_) {
      // Stopped after a refusal (exit 2): the operator has fixed the cause (a config, a
      // segment another user had taken); start it again.
      log("start of %s requested (it was stopped, last %s)", what.c_str(), describe(p->last_exit).c_str());
      start_process(*p, what);
      return json{{"ok", true}, {"started", true}}.dump();
    }
    if (p->pid <= 0) return fail(what + " is not running (" + to_string(p->state) + ")");
    const pid_t old = p->pid;
    p->restart_requested = true;
    ::kill(old, SIGTERM);
    log("restart of %s requested: SIGTERM to pid %d", what.c_str(), static_cast<int>(old));
    return json{{"ok", true}, {"pid", old}}.dump();
  }
  return fail("cmd: unknown \"" + cmd + "\" (status, switchover, rotate, restart, pause, resume, metrics)");
}

}  // namespace mdbus::supervise
