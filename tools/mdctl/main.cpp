// mdctl — the command-line client of mdsupervisor's control socket (bus/supervisor/PROTOCOL.md):
// status table, switchover, rotation, restart, pause/resume, reload, metrics. See README.md.
#include "bus/config/config.hpp"
#include "mdbus/records.hpp"
#include "tools/mdctl/commands.hpp"
#include "tools/mdctl/control_client.hpp"
#include "tools/mdctl/status_table.hpp"

// GCC 12 reports a false -Wnull-dereference inside CLI11's inlined string splitting.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

using namespace mdbus;
using namespace mdbus::mdctl;

namespace {

constexpr const char* kCommands = "status, switchover, rotate, restart, pause, resume, reload, metrics";

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

/// SIGINT/SIGTERM set g_stop; without SA_RESTART so a wait on the socket ends at once.
void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

struct where_options {
  std::string config, bus, socket;
};

struct target_setup {
  control_target target;
  known_names known;
};

bool valid_bus_name(const std::string& b) {
  if (b.empty() || b.size() > 64) return false;
  for (const char c : b)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

/// Which supervisor to talk to, from --config / --bus / --socket. Throws usage_error or
/// config::config_error.
target_setup resolve(const where_options& w) {
  target_setup s;
  if (!w.config.empty()) {
    const config::bus_config cfg = config::load_config(w.config);
    s.target.bus = cfg.bus;
    s.target.path = cfg.supervisor.control_socket;  // the loader fills in the default path
    // Names are checked against what this bus configures, not just what mdbus knows.
    s.known = known_names{{}, {}, w.config};
    for (const auto& v : cfg.venues) {
      s.known.venues.emplace_back(to_string(v.id));
      auto& slots = s.known.slots.emplace_back();
      for (const slot_id id : v.slots) slots.emplace_back(to_string(id));
    }
  } else if (!w.bus.empty()) {
    if (!valid_bus_name(w.bus))
      throw usage_error("bad bus name \"" + fit_text(w.bus, 40) + "\" (1-64 of A-Z a-z 0-9 _ -)");
    s.target = {default_socket_path(w.bus), w.bus};
  }
  if (!w.socket.empty()) s.target.path = w.socket;
  if (s.target.path.empty())
    throw usage_error("which supervisor? give --bus NAME, --config FILE or --socket PATH");
  return s;
}

/// Columns of the terminal on stdout; 0 when it is not one (no truncation then).
std::size_t terminal_width() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 0;
}

/// The supervisor's own error line of an "ok": false reply.
std::string refusal(const nlohmann::json& r) {
  const auto it = r.find("error");
  if (it != r.end() && it->is_string()) return "supervisor: " + fit_text(it->get_ref<const std::string&>(), 400);
  return "supervisor refused the request (no error text)";
}

void fail(const std::string& line) { std::fprintf(stderr, "mdctl: %s\n", line.c_str()); }

/// One request, one reply, printed: the reply line as received with --json, else `show(reply)`.
template <class Show>
int run_once(const control_target& target, std::chrono::milliseconds timeout, const nlohmann::ordered_json& req,
             bool json, Show show) {
  control_client client(target, timeout);
  client.set_interrupt_flag(&g_stop);
  const reply r = client.request(req);
  if (json) {
    std::fwrite(r.line.data(), 1, r.line.size(), stdout);
    std::fputc('\n', stdout);
  }
  if (!r.ok()) {
    fail(refusal(r.value));
    return kExitRefused;
  }
  if (!json) {
    const std::string out = show(r.value);
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return kExitOk;
}

/// Ends every line with "erase to end of line" and the frame with "erase below", so a redraw
/// over a longer previous frame leaves nothing of it behind (no flicker of a full clear).
std::string in_place(const std::string& frame) {
  std::string out = "\x1b[H";
  std::size_t start = 0;
  for (std::size_t nl = frame.find('\n'); nl != std::string::npos; start = nl + 1, nl = frame.find('\n', start))
    out += frame.substr(start, nl - start) + "\x1b[K\n";
  return out + frame.substr(start) + "\x1b[J";
}

/// `status --watch`: a status every second, redrawn in place on a terminal (like watch(1)),
/// one table (or JSON line) after another otherwise, until SIGINT/SIGTERM. A supervisor that
/// goes away after the first frame is shown as an error line and reconnected to each second.
int watch_status(const control_target& target, std::chrono::milliseconds timeout, bool json) {
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  std::unique_ptr<control_client> client;
  bool first = true;
  while (g_stop == 0) {
    std::string frame;
    try {
      if (!client) {
        client = std::make_unique<control_client>(target, timeout);
        client->set_interrupt_flag(&g_stop);
      }
      const reply r = client->request(status_request());
      if (json) {
        frame = r.line + "\n";
        if (!r.ok()) fail(refusal(r.value));
      } else if (r.ok()) {
        frame = format_status(r.value, tty, tty ? terminal_width() : 0);
      } else {
        frame = "mdctl: " + refusal(r.value) + "\n";
      }
    } catch (const client_error& e) {
      if (e.exit_code() == kExitInterrupted) break;
      client.reset();
      if (first) {
        fail(e.what());
        return e.exit_code();
      }
      if (json) {
        fail(std::string(e.what()) + " (retrying)");
      } else {
        frame = "mdctl: " + std::string(e.what()) + " (retrying every second)\n";
      }
    }
    if (!frame.empty()) {
      const std::string out = json ? frame : tty ? (first ? "\x1b[2J" : "") + in_place(frame) : (first ? "" : "\n") + frame;
      std::fwrite(out.data(), 1, out.size(), stdout);
      std::fflush(stdout);
    }
    first = false;
    // Short steps, so Ctrl-C ends the wait at once.
    for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
         g_stop == 0 && std::chrono::steady_clock::now() < until;)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mdctl — control and inspect a running mdsupervisor (status, switchover, rotate, restart, reload, metrics)"};
  app.fallthrough();  // the global options may follow the subcommand too (subcommands inherit this)
  where_options where;
  bool json = false;
  double timeout_s = 5.0;
  app.add_option("-c,--config", where.config, "the bus's config file (bus name, control socket, venues)");
  app.add_option("-b,--bus", where.bus, "bus name: socket <runtime dir>/<bus>.ctl (the supervisor's default)")->excludes("--config");
  app.add_option("-s,--socket", where.socket, "the supervisor's control socket (overrides the path --config/--bus give)");
  app.add_flag("--json", json, "print the supervisor's reply line as it is (for scripts)");
  app.add_option("--timeout", timeout_s, "seconds to wait for a reply")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            char* end = nullptr;
            const double d = std::strtod(v.c_str(), &end);
            return end != v.c_str() && *end == '\0' && d >= 0.001 && d <= 3600 ? "" : "must be seconds, 0.001 to 3600";
          },
          "SECONDS"))
      ->capture_default_str();

  auto* status = app.add_subcommand("status", "per slot: process, state, age, next rotation, rates, lag, reconnects, errors; totals");
  bool watch = false;
  status->add_flag("-w,--watch", watch, "redraw every second until Ctrl-C");
  std::string venue_arg, slot_arg;
  auto* switchover = app.add_subcommand("switchover", "rotate the venue's leading slot (make-before-break)");
  switchover->add_option("VENUE", venue_arg, "binance | okx")->required();
  auto* rotate = app.add_subcommand("rotate", "rotate one slot (make-before-break)");
  rotate->add_option("VENUE/SLOT", slot_arg, "e.g. okx/B")->required();
  auto* restart = app.add_subcommand("restart", "restart a feeder or the merger process");
  // Not require_subcommand(1): CLI11's "A subcommand is required" does not say which.
  auto* restart_feeder = restart->add_subcommand("feeder", "SIGTERM the slot's feeder and start a new one");
  restart_feeder->add_option("VENUE/SLOT", slot_arg, "e.g. okx/A")->required();
  auto* restart_merger = restart->add_subcommand("merger", "SIGTERM mdmerge and start a new one");
  auto* pause = app.add_subcommand("pause", "drain and close a slot and keep it down (refused unless its partner is live)");
  pause->add_option("VENUE/SLOT", slot_arg, "e.g. okx/A")->required();
  auto* resume = app.add_subcommand("resume", "connect a paused slot again");
  resume->add_option("VENUE/SLOT", slot_arg, "e.g. okx/A")->required();
  auto* reload = app.add_subcommand("reload", "read the config file again: apply its venues' edited symbol lists (the changed groups restart one slot at a time); anything else is refused");
  auto* metrics = app.add_subcommand("metrics", "the Prometheus text of the metrics port");
  // Extras reach the top level (subcommands fall through to it) and are reported below with
  // a better line than CLI11's "A subcommand is required" for a mistyped command.
  app.allow_extras();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --version and the like
    fail(std::string(e.what()) + " (mdctl --help)");
    return kExitUsage;
  }
  if (const auto extra = app.remaining(); !extra.empty()) {
    if (app.get_subcommands().empty())
      fail("unknown command \"" + fit_text(extra.front(), 40) + "\" (" + kCommands + ")");
    else
      fail("unexpected argument \"" + fit_text(extra.front(), 40) + "\" (mdctl --help)");
    return kExitUsage;
  }
  if (app.get_subcommands().empty()) {
    fail(std::string("which command? ") + kCommands + " (mdctl --help)");
    return kExitUsage;
  }
  install_signals();
  const auto timeout = std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000.0));

  try {
    // Everything local first: a wrong name is reported without touching the socket.
    if (*restart && !*restart_feeder && !*restart_merger) throw usage_error("restart what? feeder VENUE/SLOT or merger");
    const target_setup ts = resolve(where);
    nlohmann::ordered_json req;
    if (*status) {
      req = status_request();
    } else if (*switchover) {
      req = switchover_request(check_venue(venue_arg, ts.known));
    } else if (*rotate) {
      req = rotate_request(parse_slot_ref(slot_arg, ts.known));
    } else if (*restart_feeder) {
      req = restart_feeder_request(parse_slot_ref(slot_arg, ts.known));
    } else if (*restart_merger) {
      req = restart_merger_request();
    } else if (*pause) {
      req = pause_request(parse_slot_ref(slot_arg, ts.known));
    } else if (*resume) {
      req = resume_request(parse_slot_ref(slot_arg, ts.known));
    } else if (*reload) {
      req = reload_request();
    } else if (*metrics) {
      req = metrics_request();
    }

    if (*status && watch) return watch_status(ts.target, timeout, json);
    if (*status) {
      const bool tty = ::isatty(STDOUT_FILENO) == 1;
      return run_once(ts.target, timeout, req, json,
                      [&](const nlohmann::json& r) { return format_status(r, tty, tty ? terminal_width() : 0); });
    }
    if (*metrics) {
      return run_once(ts.target, timeout, req, json, [](const nlohmann::json& r) {
        const auto it = r.find("text");
        std::string t = it != r.end() && it->is_string() ? it->get<std::string>() : std::string();
        if (t.empty()) fail("the supervisor has no metrics text (empty reply text)");  // not silence
        if (!t.empty() && t.back() != '\n') t += '\n';
        return t;
      });
    }
    return run_once(ts.target, timeout, req, json,
                    [&](const nlohmann::json& r) { return describe_reply(req, r) + "\n"; });
  } catch (const usage_error& e) {
    fail(e.what());
    return kExitUsage;
  } catch (const config::config_error& e) {
    fail(e.what());
    return kExitUsage;
  } catch (const client_error& e) {
    fail(e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    fail(e.what());
    return kExitTimeout;
  }
}
