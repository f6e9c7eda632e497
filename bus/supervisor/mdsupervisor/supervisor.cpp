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
constexpr std::int64_t kStartupGraceNs = 2'000 * kMs;      // heartbeats are judged only after this
constexpr std::int64_t kHeartbeatCheckEveryNs = 250 * kMs;  // inspecting a segment maps it: not every tick

std::string exit_text(int status) {
  if (status >= 128) return "killed by signal " + std::to_string(status - 128) + " (" + strsignal(status - 128) + ")";
  return "exit status " + std::to_string(status);
}

/// Whether `pid` is a running process. A zombie (exited, not reaped: an adopted process's
/// parent is not us, and in a container pid 1 may never reap) is not.
bool pid_exists(pid_t pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) return false;
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return false;
  char line[512] = {};
  const bool read = std::fgets(line, sizeof line, f) != nullptr;
  std::fclose(f);
  const char* paren = read ? std::strrchr(line, ')') : nullptr;  // state follows "(comm) "
  return paren == nullptr || paren[1] == '\0' || paren[2] != 'Z';
}

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
    counters_ = counters_segment::create(counters_name, 4096, cfg_.segment_mode);
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
      r->control = feeder_control_writer::create_or_share(feeder_control_name(cfg_.bus, vc.id, s), vc.id, s, cfg_.segment_mode,
                                                           config::config_identity(cfg_, vc));
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

void supervisor::start_process(child_process& p, const std::string& what) {
  std::vector<char*> args;
  for (auto& a : p.argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Their own process group: a Ctrl-C at the terminal reaches the supervisor only, which then
  // stops the children in order (feeders drain first, the merger last).
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t dfl;
  sigemptyset(&dfl);
  sigaddset(&dfl, SIGTERM);
  sigaddset(&dfl, SIGINT);
  sigaddset(&dfl, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &dfl);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], nullptr, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    log("cannot start %s (%s): %s", what.c_str(), p.argv[0].c_str(), std::strerror(rc));
    p.pid = -1;
    p.state = child_process::phase::restarting;
    p.restart_at_mono = mono_ns() + cfg_.supervisor.restart_backoff_max_ms * kMs;
    return;
  }
  p.pid = pid;
  p.pid_gauge.set(pid);
  p.adopted = false;
  p.state = child_process::phase::running;
  p.started_mono = mono_ns();
  log("started %s: pid %d", what.c_str(), static_cast<int>(pid));
}

bool supervisor::adopt(child_process& p, const std::string& what) {
  // The pid a predecessor recorded (its counters live on in the segment), if that process
  // still runs the same program (not a reused pid).
  const auto pid = static_cast<pid_t>(p.pid_gauge.get());
  if (!pid_exists(pid)) return false;
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/cmdline").c_str(), "r");
  if (f == nullptr) return false;
  char cmd[4096] = {};
  const std::size_t n = std::fread(cmd, 1, sizeof cmd - 1, f);
  std::fclose(f);
  if (n == 0 || std::string(cmd) != p.argv[0]) return false;
  p.pid = pid;
  p.adopted = true;
  p.state = child_process::phase::adopted;
  p.started_mono = mono_ns();
  log("adopted %s: pid %d (running before this supervisor)", what.c_str(), static_cast<int>(pid));
  return true;
}

void supervisor::adopt_existing() {
  // A supervisor that was killed leaves its children running: take them over instead of
  // starting second copies (which their segments' writer locks would refuse anyway).
  for (auto& s : slots_) adopt(s->proc, "feeder " + s->name);
  adopt(merger_, "merger");
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

// ---- processes ---------------------------------------------------------------------------

void supervisor::note_down_in_ring(const slot_runtime& s, slot_reason why, const char* text) {
  // The feeder is gone, so its ring has no writer: borrow the writer role for one record, so
  // the merger (and the consumers after it) see the slot go down where it happened.
  try {
    auto w = spsc_ring_writer::create(feeder_ring_name(cfg_.bus, s.v, s.s),
                                      {cfg_.rings.feeder_bytes, cfg_.rings.feeder_max_frame}, cfg_.segment_mode);
    auto r = make_record<slot_status_record>();
    r.header.venue_id = s.v;
    r.header.slot = s.s;
    r.header.receive_time_ns = wall_ns();
    r.state = slot_state::down;
    r.reason = why;
    r.set_reason_text(text);
    (void)w.try_write(static_cast<std::uint32_t>(record_type::slot_status), record_bytes(r));
  } catch (const segment_error& e) {
    log("%s: could not mark the slot down in its ring: %s", s.name.c_str(), e.what());
  }
}

void supervisor::on_exit(child_process& p, const std::string& what, int status, slot_runtime* slot) {
  p.pid = -1;
  p.pid_gauge.set(0);
  p.last_exit = status;
  if (stopping_) {
    p.state = child_process::phase::stopped;
    return;
  }
  const std::int64_t now = mono_ns();
  if (slot != nullptr) {
    note_down_in_ring(*slot, slot_reason::process_exit, "feeder process exited");
    slot->rotating = false;
    if (slot->last_state == feeder_state::live && slot->left_live_mono == 0) slot->left_live_mono = now;
  }
  // Exit 2 is a refusal a restart would repeat: mdfeed's refused configuration (an unknown or
  // non-trading symbol, a control block of another config; the venue's budget would pay for
  // every try), or a segment of the bus that another user created first (mdfeed and mdmerge).
  // A feeder's reason stays in its status block's last error (mdctl status); the merger's is
  // its one stderr line, in this log.
  if (status == 2 && !p.restart_requested) {
    p.state = child_process::phase::stopped;
    log("%s refused its configuration or a segment (exit 2): not restarted; its last error says why", what.c_str());
    return;
  }
  if (p.restart_requested) {
    p.restart_requested = false;
    ++p.operator_restarts;
    log("%s exited (%s) for the requested restart", what.c_str(), exit_text(status).c_str());
    p.state = child_process::phase::restarting;
    p.restart_at_mono = now;
    return;
  }
  ++p.restarts;
  const std::int64_t window = cfg_.supervisor.crash_loop_window_ms * kMs;
  p.quick_deaths = now - p.started_mono < window ? p.quick_deaths + 1 : 1;
  p.recent[p.recent_next] = now;
  p.recent_next = (p.recent_next + 1) % p.recent.size();
  const auto in_window = std::count_if(p.recent.begin(), p.recent.end(), [&](std::int64_t t) { return t != 0 && now - t < window; });
  // The first death restarts at once; more in a row wait min, 2 min, 4 min, ... up to max.
  std::int64_t delay = 0;
  if (p.quick_deaths > 1) {
    delay = cfg_.supervisor.restart_backoff_min_ms * kMs;
    for (std::uint32_t i = 2; i < p.quick_deaths && delay < cfg_.supervisor.restart_backoff_max_ms * kMs; ++i) delay *= 2;
    delay = std::min(delay, cfg_.supervisor.restart_backoff_max_ms * kMs);
  }
  if (in_window >= cfg_.supervisor.crash_loop_restarts && !p.crash_loop) {
    p.crash_loop = true;
    log("CRASH LOOP: %s restarted %lld times within %lld ms (last: %s); restarts go on every <= %lld ms", what.c_str(),
        static_cast<long long>(in_window), static_cast<long long>(cfg_.supervisor.crash_loop_window_ms),
        exit_text(status).c_str(), static_cast<long long>(cfg_.supervisor.restart_backoff_max_ms));
  }
  log("%s died (%s); restart %s", what.c_str(), exit_text(status).c_str(),
      delay == 0 ? "now" : ("in " + std::to_string(delay / kMs) + " ms").c_str());
  p.state = child_process::phase::restarting;
  p.restart_at_mono = now + delay;
  if (slot != nullptr) slot->c_restarts.set(static_cast<std::int64_t>(p.restarts));
  else c_merger_restarts_.set(static_cast<std::int64_t>(p.restarts));
}

void supervisor::reap() {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (pid == merger_.pid) {
      on_exit(merger_, "merger", code, nullptr);
      continue;
    }
    for (auto& s : slots_)
      if (pid == s->proc.pid) on_exit(s->proc, "feeder " + s->name, code, s.get());
  }
  // Adopted processes are not our children: their end shows as a vanished pid.
  if (merger_.adopted && merger_.pid > 0 && !pid_exists(merger_.pid)) on_exit(merger_, "merger (adopted)", 0, nullptr);
  for (auto& s : slots_)
    if (s->proc.adopted && s->proc.pid > 0 && !pid_exists(s->proc.pid)) on_exit(s->proc, "feeder " + s->name + " (adopted)", 0, s.get());
}

void supervisor::check_processes(std::int64_t now) {
  const std::int64_t limit = cfg_.supervisor.heartbeat_timeout_ms * kMs;
  const std::int64_t window = cfg_.supervisor.crash_loop_window_ms * kMs;
  const bool check_heartbeats = now - last_heartbeat_check_mono_ >= kHeartbeatCheckEveryNs;
  if (check_heartbeats) last_heartbeat_check_mono_ = now;
  auto hung = [&](child_process& p, const std::string& segment, const std::string& what) {
    if (!check_heartbeats || p.pid <= 0 || now - p.started_mono < std::max(limit, kStartupGraceNs)) return;
    const auto info = inspect_segment(segment);
    if (info.status != attach_status::ok || !info.writer_alive) return;
    if (now - info.writer_heartbeat_ns <= limit) return;
    log("%s: heartbeat %lld ms old (limit %lld ms): hung, killing pid %d", what.c_str(),
        static_cast<long long>((now - info.writer_heartbeat_ns) / kMs), static_cast<long long>(limit / kMs),
        static_cast<int>(p.pid));
    ::kill(p.pid, SIGKILL);
  };
  for (auto& s : slots_) {
    child_process& p = s->proc;
    if (p.state == child_process::phase::restarting && now >= p.restart_at_mono) {
      // A paused slot stays down across a restart of its process.
      const bool has_flag = std::find(p.argv.begin(), p.argv.end(), "--start-down") != p.argv.end();
      if (s->paused && !has_flag) p.argv.push_back("--start-down");
      if (!s->paused && has_flag) p.argv.erase(std::find(p.argv.begin(), p.argv.end(), "--start-down"));
      start_process(p, "feeder " + s->name);
    }
    if (p.crash_loop && p.pid > 0 && now - p.started_mono > window) {
      p.crash_loop = false;
      log("feeder %s: no longer in a crash loop (up %lld s)", s->name.c_str(), static_cast<long long>((now - p.started_mono) / 1'000'000'000));
    }
    hung(p, feeder_status_name(cfg_.bus, s->v, s->s), "feeder " + s->name);
  }
  if (merger_.state == child_process::phase::restarting && now >= merger_.restart_at_mono) start_process(merger_, "merger");
  if (merger_.crash_loop && merger_.pid > 0 && now - merger_.started_mono > window) merger_.crash_loop = false;
  hung(merger_, segment_name(cfg_.bus, "out"), "merger");
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
  const feeder_state st = s.status.state();
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
      s.pending_logged = false;
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
  const std::uint64_t forced = total > s.proactive ? total - s.proactive : 0;
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
    // Make-before-break: only while the partner slot is live (and not rotating itself), so
    // the venue always keeps a synced connection.
    slot_runtime* p = partner(s);
    const bool partner_ok = p == nullptr || (p->last_state == feeder_state::live && !p->rotating && !p->paused);
    if (!partner_ok) {
      if (!s.pending_logged) {
        log("rotation of %s (%s) waits: its partner %s is not live", s.name.c_str(), std::string(to_string(s.pending)).c_str(),
            p->name.c_str());
        s.pending_logged = true;
      }
      continue;
    }
    begin_rotation(s, now);
  }
}

void supervisor::begin_rotation(slot_runtime& s, std::int64_t now) {
  s.rotation_reason = s.pending;
  s.pending = slot_reason::none;
  s.pending_logged = false;
  s.rotating = true;
  s.rotation_started_mono = now;
  s.rotation_connections_before = s.last_connections;
  const std::int64_t connected = s.status.fields().connect_time_ns.load(std::memory_order_relaxed);
  log("rotating %s (%s): connection age %.1f s", s.name.c_str(), std::string(to_string(s.rotation_reason)).c_str(),
      connected > 0 ? static_cast<double>(wall_ns() - connected) / 1e9 : 0.0);
  s.control.send(feeder_command::rotate, static_cast<std::uint8_t>(s.rotation_reason));
}

std::int64_t supervisor::counter_value(const std::string& label) const {
  return counters_.find(label).value_or(0);
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
    proactive += s.proactive;
    forced += s.forced;
    timed += s.reconnect_count;
    sum_ms += s.reconnect_sum_ms;
    max_ms = std::max(max_ms, s.reconnect_max_ms);
    if (s.status_open) {
      const feeder_status_snapshot f = s.status.snapshot();
      o["state"] = std::string(to_string(f.state));
      o["reason"] = std::string(to_string(f.reason));
      const bool live = f.state == feeder_state::live && f.connect_time_ns > 0;
      o["connected_ms"] = live ? (wall - f.connect_time_ns) / kMs : 0;
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
      o["state"] = "starting";
      o["reason"] = "none";
      o["connected_ms"] = 0;
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
      log("start of %s requested (it was stopped, last %s)", what.c_str(), exit_text(p->last_exit).c_str());
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
