// mdsupervisor's control API: one JSON request line from mdctl, one JSON answer
// (PROTOCOL.md). Rotations, pauses and switchovers go to the rotation planner.
#include "bus/supervisor/mdsupervisor/supervisor.hpp"

#include <signal.h>

namespace mdbus::supervise {
namespace {

using json = nlohmann::json;

}  // namespace

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
  // "group": the venue's connection group (optional, 0 by default: a venue of one group has only 0).
  auto group_of = [&](const std::string& v, std::uint32_t& out, std::string& error) -> bool {
    out = 0;
    if (!req.contains("group")) return true;
    const config::venue_config* vc = cfg_.find(venue_from_string(v).value_or(venue::unknown));
    if (!req["group"].is_number_unsigned() || vc == nullptr || req["group"].get<std::uint64_t>() >= vc->connections()) {
      error = "group: must be a number 0.." + std::to_string(vc != nullptr ? vc->connections() - 1 : 0) + " (" + v +
              "'s connection groups)";
      return false;
    }
    out = req["group"].get<std::uint32_t>();
    return true;
  };
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
    std::uint32_t g = 0;
    if (!group_of(v, g, error)) return nullptr;
    slot_runtime* r = find_slot(v, s, g);
    if (r == nullptr) error = "unknown slot \"" + v + (g > 0 ? "/g" + std::to_string(g) : std::string()) + "/" + s + "\"";
    return r;
  };
  if (cmd == "status") return status_json().dump();
  if (cmd == "reload") return reload_config().dump();
  if (cmd == "metrics") return json{{"ok", true}, {"text", metrics_text()}}.dump();
  if (cmd == "switchover") {
    std::string v;
    if (!text_field("venue", v)) return fail("venue: missing (a string)");
    if (cfg_.find(venue_from_string(v).value_or(venue::unknown)) == nullptr)
      return fail("unknown venue \"" + v + "\" (configured: " + venues_known + ")");
    std::uint32_t g = 0;
    if (std::string error; !group_of(v, g, error)) return fail(error);
    // The leading slot of the group: the larger share of its first arrivals over the last
    // second (over the whole run when the last second had none).
    slot_runtime* lead = nullptr;
    double best = -1;
    for (auto& s : slots_) {
      if (to_string(s->v) != v || s->group != g) continue;
      double score = s->first_per_s;
      if (score <= 0) score = static_cast<double>(merger_value(*s, merge_slot_stat::first_arrivals)) * 1e-9;
      if (score > best) {
        best = score;
        lead = s.get();
      }
    }
    if (lead == nullptr) return fail("venue " + v + " has no slot");
    if (planner_->rotating(lead->index)) return fail(lead->name + " is rotating already");
    if (!planner_->request(lead->index, slot_reason::operator_request)) return fail(lead->name + " is paused: resume it first");
    slot_runtime* p = partner(*lead);
    const bool queued = p != nullptr && p->last_state != feeder_state::live;
    log("switchover %s (group %u) requested: rotating the leading slot %s", v.c_str(), g, lead->name.c_str());
    return json{{"ok", true}, {"slot", std::string(to_string(lead->s))}, {"queued", queued}}.dump();
  }
  if (cmd == "rotate" || cmd == "pause" || cmd == "resume") {
    std::string error;
    slot_runtime* s = slot_of(error);
    if (s == nullptr) return fail(error);
    slot_runtime* p = partner(*s);
    if (cmd == "rotate") {
      if (planner_->rotating(s->index)) return fail(s->name + " is rotating already");
      if (!planner_->request(s->index, slot_reason::operator_request)) return fail(s->name + " is paused: resume it first");
      log("rotation of %s requested", s->name.c_str());
      return json{{"ok", true}, {"queued", p != nullptr && p->last_state != feeder_state::live}}.dump();
    }
    if (cmd == "pause") {
      if (p == nullptr || p->last_state != feeder_state::live || planner_->paused(p->index))
        return fail("refused: pausing " + s->name + " would leave " + std::string(to_string(s->v)) + " without a live connection");
      planner_->set_paused(s->index, true);
      s->control.send(feeder_command::disconnect);
      log("%s paused (disconnected on request)", s->name.c_str());
      return json{{"ok", true}}.dump();
    }
    planner_->set_paused(s->index, false);
    s->control.send(feeder_command::connect);
    log("%s resumed", s->name.c_str());
    return json{{"ok", true}}.dump();
  }
  if (cmd == "restart") {
    std::string process;
    if (!text_field("process", process)) return fail("process: missing (\"feeder\" or \"merger\")");
    child_process* p = nullptr;
    slot_runtime* slot = nullptr;
    std::string what;
    if (process == "merger") {
      p = &merger_;
      what = "merger";
    } else if (process == "feeder") {
      std::string error;
      slot_runtime* s = slot_of(error);
      if (s == nullptr) return fail(error);
      p = &s->proc;
      slot = s;
      what = "feeder " + s->name;
    } else {
      return fail("process: \"" + process + "\" is not \"feeder\" or \"merger\"");
    }
    if (p->pid <= 0 && p->state == child_process::phase::stopped && !stopping_) {
      // Stopped after a refusal (exit 2): the operator has fixed the cause (a config, a
      // segment another user had taken); start it again.
      log("start of %s requested (it was stopped, last %s)", what.c_str(), describe(p->last_exit).c_str());
      if (slot != nullptr) start_feeder(*slot);
      else start_process(*p, what);
      return json{{"ok", true}, {"started", true}}.dump();
    }
    if (p->pid <= 0) return fail(what + " is not running (" + to_string(p->state) + ")");
    const pid_t old = p->pid;
    p->restart_requested = true;
    ::kill(old, SIGTERM);
    log("restart of %s requested: SIGTERM to pid %d", what.c_str(), static_cast<int>(old));
    return json{{"ok", true}, {"pid", old}}.dump();
  }
  return fail("cmd: unknown \"" + cmd + "\" (status, switchover, rotate, restart, pause, resume, reload, metrics)");
}

}  // namespace mdbus::supervise
