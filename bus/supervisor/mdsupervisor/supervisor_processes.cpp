// mdsupervisor's processes: starting, adopting, reaping and restarting the feeders and the
// merger, and judging whether one runs (its pidfd) and how it ended (process_exit.hpp).
#include "bus/supervisor/mdsupervisor/supervisor.hpp"

#include "bus/clock.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace mdbus::supervise {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kStartupGraceNs = 2'000 * kMs;      // heartbeats are judged only after this
constexpr std::int64_t kHeartbeatCheckEveryNs = 250 * kMs;  // inspecting a segment maps it: not every tick

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


/// A pidfd for `pid` (Linux >= 5.3), or -1: it turns readable when the process ends, zombie
/// or not, and never names a later process that reuses the pid.
int open_pidfd(pid_t pid) noexcept { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

bool process_running(const child_process& p) noexcept {
  if (p.pid <= 0) return false;
  if (p.pidfd < 0) return pid_exists(p.pid);
  pollfd fd{p.pidfd, POLLIN, 0};
  return ::poll(&fd, 1, 0) == 0;
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
  p.pidfd = open_pidfd(pid);
  p.pid_gauge.set(pid);
  p.adopted = false;
  p.state = child_process::phase::running;
  p.started_mono = mono_ns();
  log("started %s: pid %d", what.c_str(), static_cast<int>(pid));
}

void supervisor::start_feeder(slot_runtime& s) {
  if (s.reload_pending) {
    // The process about to start reads the reloaded config: its control block must be laid out
    // by the group's new symbols, or it refuses the block (exit 2).
    replace_control(s);
    s.reload_pending = false;
    planner_->withdraw(s.index, slot_reason::config_reload);  // this start is the reload's restart
  }
  start_process(s.proc, "feeder " + s.name);
}

bool supervisor::adopt(child_process& p, const std::string& what) {
  // The pid a predecessor recorded (its counters live on in the segment), if that process
  // still runs the same program (not a reused pid).
  const auto pid = static_cast<pid_t>(p.pid_gauge.get());
  if (!pid_exists(pid)) return false;
  // The pidfd first, then the check of its program: if the pid is ours at the check, the
  // pidfd is of that process, and it tells us when it ends (no pid-reuse race afterwards).
  const int pidfd = open_pidfd(pid);
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/cmdline").c_str(), "r");
  if (f == nullptr) return false;
  char cmd[4096] = {};
  const std::size_t n = std::fread(cmd, 1, sizeof cmd - 1, f);
  std::fclose(f);
  if (n == 0 || std::string(cmd) != p.argv[0] || !pid_exists(pid)) {
    if (pidfd >= 0) ::close(pidfd);
    return false;
  }
  p.pid = pid;
  p.pidfd = pidfd;
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

// ---- processes ---------------------------------------------------------------------------

void supervisor::on_exit(child_process& p, const std::string& what, const exit_cause& cause, slot_runtime* slot) {
  p.pid = -1;
  if (p.pidfd >= 0) ::close(p.pidfd);
  p.pidfd = -1;
  p.pid_gauge.set(0);
  p.last_exit = cause;
  if (stopping_) {
    p.state = child_process::phase::stopped;
    return;
  }
  const std::int64_t now = mono_ns();
  if (slot != nullptr) {
    // The merger sees the feeder let go of its ring and publishes the slot's down marker
    // (the ring is the feeder's: nobody else writes into it).
    // A rotation cut short by the death: its reconnect, if the feeder had begun it, was asked
    // for (not forced), though it never went live.
    const bool reconnect_begun = slot->status.segment().valid() &&
                                 slot->status.fields().reconnects.load(std::memory_order_relaxed) > slot->rotation_reconnects_before;
    if (planner_->process_exited(slot->index, reconnect_begun)) ++slot->rotations_cut_short;
    if (slot->last_state == feeder_state::live && slot->left_live_mono == 0) slot->left_live_mono = now;
  }
  // Exit 2 is a refusal a restart would repeat: mdfeed's refused configuration (an unknown or
  // non-trading symbol, a control block of another config; the venue's budget would pay for
  // every try), or a segment of the bus that another user created first (mdfeed and mdmerge).
  // A feeder's reason stays in its status block's last error (mdctl status); the merger's is
  // its one stderr line, in this log.
  if (cause.exited_with(2) && !p.restart_requested) {
    p.state = child_process::phase::stopped;
    log("%s refused its configuration or a segment (exit 2): not restarted; its last error says why", what.c_str());
    return;
  }
  if (p.restart_requested) {
    p.restart_requested = false;
    ++p.operator_restarts;
    log("%s exited (%s) for the requested restart", what.c_str(), describe(cause).c_str());
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
        describe(cause).c_str(), static_cast<long long>(cfg_.supervisor.restart_backoff_max_ms));
  }
  log("%s died (%s); restart %s", what.c_str(), describe(cause).c_str(),
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
    const exit_cause cause = from_wait_status(status);
    if (pid == merger_.pid) {
      on_exit(merger_, "merger", cause, nullptr);
      continue;
    }
    for (auto& s : slots_)
      if (pid == s->proc.pid) on_exit(s->proc, "feeder " + s->name, cause, s.get());
  }
  // Adopted processes are not our children: their wait status goes to their real parent,
  // and their end shows on their pidfd (or, without one, as a vanished pid).
  if (merger_.adopted && merger_.pid > 0 && !process_running(merger_))
    on_exit(merger_, "merger (adopted)", unknown_exit("its wait status went to its real parent"), nullptr);
  for (auto& s : slots_) {
    if (!s->proc.adopted || s->proc.pid <= 0 || process_running(s->proc)) continue;
    // What the feeder's status block last said is what there is to know.
    std::string known = "no status block";
    if (s->status_open) {
      const feeder_state st = s->status.state();
      known = st == feeder_state::stopped ? "its status block says it stopped cleanly"
                                          : "its status block says " + std::string(to_string(st)) +
                                                ": it did not stop cleanly (a signal or a crash)";
    }
    on_exit(s->proc, "feeder " + s->name + " (adopted)", unknown_exit(known), s.get());
  }
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
      if (planner_->paused(s->index) && !has_flag) p.argv.push_back("--start-down");
      if (!planner_->paused(s->index) && has_flag) p.argv.erase(std::find(p.argv.begin(), p.argv.end(), "--start-down"));
      start_feeder(*s);
    }
    if (p.crash_loop && p.pid > 0 && now - p.started_mono > window) {
      p.crash_loop = false;
      log("feeder %s: no longer in a crash loop (up %lld s)", s->name.c_str(), static_cast<long long>((now - p.started_mono) / 1'000'000'000));
    }
    hung(p, feeder_status_name(cfg_.bus, s->v, s->s, s->group), "feeder " + s->name);
  }
  if (merger_.state == child_process::phase::restarting && now >= merger_.restart_at_mono) start_process(merger_, "merger");
  if (merger_.crash_loop && merger_.pid > 0 && now - merger_.started_mono > window) merger_.crash_loop = false;
  hung(merger_, segment_name(cfg_.bus, "out"), "merger");
}


}  // namespace mdbus::supervise
