// mdsupervisor's config reload (`mdctl reload`): the config file is read again; a change of
// the venues' symbol lists is applied to the running bus, anything else refused whole
// (bus/config/reload.hpp). The connection groups whose symbols changed restart their feeders
// one slot at a time through the rotation planner (reason config_reload: make-before-break,
// the venue's connection pace), each with a new control block laid out by the new symbols; the
// merger is told with SIGHUP and adds the new streams without a restart; every other group
// keeps its connections.
#include "bus/supervisor/mdsupervisor/supervisor.hpp"

#include "bus/clock.hpp"
#include "bus/config/reload.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

namespace mdbus::supervise {
namespace {

using json = nlohmann::json;

}  // namespace

void supervisor::write_running_copy(const std::string& text) {
  // Relative ca_file paths were relative to the file's directory: absolute in the copy.
  const std::string copy = config::running_copy(text, config::config_dir(options_.config_path));
  const std::string tmp = running_path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < copy.size()) {
    const ssize_t n = ::write(fd, copy.data() + done, copy.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(e));
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  // rename: a child starting now reads the old copy or the new one, never half of one.
  if (::rename(tmp.c_str(), running_path_.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot replace " + running_path_ + ": " + std::strerror(e));
  }
}

void supervisor::replace_control(slot_runtime& s) {
  const config::venue_config gv = config::group_view(*s.vc, s.group);
  const std::string name = feeder_control_name(cfg_.bus, s.v, s.s, s.group);
  // Let go of the old block and unlink it: a reader still mapping it (the merger, until its
  // reload) finds the new one by name; the old feeder is gone.
  s.control = feeder_control_writer{};
  (void)shm_segment::remove(name);
  try {
    s.control = feeder_control_writer::create(name, s.v, s.s, gv.symbols.size(), cfg_.segment_mode,
                                              config::config_identity(cfg_, gv));
    log("%s: new control block for the reloaded config (%zu symbols)", s.name.c_str(), gv.symbols.size());
  } catch (const segment_error& e) {
    // The feeder refuses to run without its block (exit 2): the status shows why.
    log("%s: cannot make its control block for the reloaded config: %s", s.name.c_str(), e.what());
  }
}

json supervisor::reload_config() {
  auto fail = [](const std::string& why) { return json{{"ok", false}, {"error", why}}; };
  const std::string& path = options_.config_path;
  // A reload while another's restarts are still under way is fine: a slot restarts with the
  // config of the moment it starts (its control block is laid out by cfg_ then).
  std::string text;
  config::bus_config next;
  try {
    text = config::read_config_text(path);
    if (const std::string why = config::reload_refusal(options_.config_text, text); !why.empty()) return fail(path + ": " + why);
    next = config::parse_config(text, path, config::config_dir(path));
  } catch (const config::config_error& e) {
    return fail(e.what());
  }
  // The counters segment is sized at start (config::counters_capacity: twice what the config
  // needs); a reload may use the headroom, not more.
  if (const std::uint32_t want = config::counters_capacity(next) / 2; want > counters_.max_counters())
    return fail("the new symbols need about " + std::to_string(want) + " counters; the counters segment holds " +
                std::to_string(counters_.max_counters()) + ": restart the bus to grow it");

  // What changed, per venue and group (the group layout itself cannot: the JSON check above
  // refused that already, and the plan says so too).
  const config::reload_plan plan = config::plan_reload(cfg_, next);
  if (!plan.refusal.empty()) return fail(path + ": " + plan.refusal);
  json added = json::array(), removed = json::array(), groups = json::array();
  for (const auto& [v, s] : plan.added) added.push_back(std::string(to_string(v)) + ":" + s);
  for (const auto& [v, s] : plan.removed) removed.push_back(std::string(to_string(v)) + ":" + s);
  for (const auto& [v, g] : plan.changed) groups.push_back(std::string(to_string(v)) + "/g" + std::to_string(g));
  const auto& changed = plan.changed;
  if (changed.empty()) {
    options_.config_text = text;  // formatting or an unchanged list: nothing to restart
    return json{{"ok", true}, {"file", path}, {"generation", config_generation_}, {"added", added}, {"removed", removed},
                {"groups", groups}, {"restarts", 0}};
  }
  try {
    write_running_copy(text);
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  // From here on the new config is the bus's. The slots keep their places (same venues, groups,
  // slots); their section pointers move to the new config's.
  cfg_ = std::move(next);
  for (auto& s : slots_) s->vc = cfg_.find(s->v);
  options_.config_text = text;
  ++config_generation_;
  reloaded_wall_ = wall_ns();
  if (merger_.pid > 0) ::kill(merger_.pid, SIGHUP);  // a merger not running reads the new copy when it starts
  std::size_t restarts = 0;
  for (auto& s : slots_) {
    if (std::find(changed.begin(), changed.end(), std::make_pair(s->v, s->group)) == changed.end()) continue;
    s->reload_pending = true;
    ++restarts;
    // A live slot restarts when its partner carries the group (the planner's gate); one that
    // is not live carries nothing: restarted now (or started, if it was stopped), and one
    // waiting for its restart starts with the new config anyway.
    if (planner_->request(s->index, slot_reason::config_reload) && s->last_state == feeder_state::live) continue;
    planner_->withdraw(s->index, slot_reason::config_reload);
    if (s->proc.pid > 0) {
      s->proc.restart_requested = true;
      ::kill(s->proc.pid, SIGTERM);
    } else if (s->proc.state == child_process::phase::stopped && !stopping_) {
      start_feeder(*s);
    }
  }
  log("reloaded %s (generation %llu): %zu symbol(s) added, %zu removed; groups %s restart their %zu feeder(s) one slot at a time",
      path.c_str(), static_cast<unsigned long long>(config_generation_), added.size(), removed.size(), groups.dump().c_str(),
      restarts);
  return json{{"ok", true}, {"file", path}, {"generation", config_generation_}, {"added", added}, {"removed", removed},
              {"groups", groups}, {"restarts", restarts}};
}

}  // namespace mdbus::supervise
