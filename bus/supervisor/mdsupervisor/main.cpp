// mdsupervisor — owns a bus: starts, watches, rotates and restarts its feeders and merger.
//   mdsupervisor --config config/sim.json [--keep-shm]
// See bus/supervisor/README.md (behaviour, logs, exit codes) and PROTOCOL.md (mdctl's socket).
#include "bus/clock.hpp"
#include "bus/stop_signal.hpp"
#include "bus/supervisor/mdsupervisor/supervisor.hpp"

// GCC 12 reports a false -Wnull-dereference inside CLI11's inlined string splitting.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <libwebsockets.h>

#include <climits>
#include <cstdio>
#include <ctime>
#include <unistd.h>

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitRuntime = 1;

/// The directory of this executable.
std::string self_dir() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<std::size_t>(n));
  return p.substr(0, p.rfind('/'));
}

/// A sibling program: next to this one (installed), else where this build tree put it.
std::string find_program(const std::string& name, const char* built_at) {
  const std::string beside = self_dir() + "/" + name;
  return ::access(beside.c_str(), X_OK) == 0 ? beside : std::string(built_at);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mdbus;
  CLI::App app{"mdsupervisor: starts, watches, rotates and restarts an mdbus bus's feeders and merger"};
  supervise::supervisor_options o;
  app.add_option("-c,--config", o.config_path, "JSON config file (config/sim.json, config/live.json)")->required();
  app.add_flag("--keep-shm", o.keep_shm, "leave the bus's shared memory in place at exit");
  std::string expect_bus;
  app.add_option("--bus", expect_bus,
                 "the bus the config must name (mdsupervisor@<bus>.service passes its instance): another is refused, exit 2");
  app.add_option("--mdfeed", o.mdfeed, "the mdfeed binary (default: beside this one, or in the build tree)");
  app.add_option("--mdmerge", o.mdmerge, "the mdmerge binary (default: beside this one, or in the build tree)");
  CLI11_PARSE(app, argc, argv);
  if (o.mdfeed.empty()) o.mdfeed = find_program("mdfeed", MDBUS_MDFEED_BUILT_AT);
  if (o.mdmerge.empty()) o.mdmerge = find_program("mdmerge", MDBUS_MDMERGE_BUILT_AT);
  for (const auto* p : {&o.mdfeed, &o.mdmerge})
    if (::access(p->c_str(), X_OK) != 0) {
      std::fprintf(stderr, "mdsupervisor: %s: not an executable program\n", p->c_str());
      return kExitUsage;
    }

  config::bus_config cfg;
  try {
    // Read once: the text is what a reload compares against and what the running copy holds.
    o.config_text = config::read_config_text(o.config_path);
    cfg = config::parse_config(o.config_text, o.config_path, config::config_dir(o.config_path));
  } catch (const config::config_error& e) {
    std::fprintf(stderr, "mdsupervisor: %s\n", e.what());
    return kExitUsage;
  }
  // The unit names the segments it cleans up and the socket operators use after its instance:
  // a config for another bus would run under the wrong name.
  if (!expect_bus.empty() && cfg.bus != expect_bus) {
    std::fprintf(stderr, "mdsupervisor: %s: \"bus\" is \"%s\", --bus says \"%s\": refused\n", o.config_path.c_str(),
                 cfg.bus.c_str(), expect_bus.c_str());
    return kExitUsage;
  }
  lws_set_log_level(LLL_ERR | LLL_WARN, nullptr);  // the metrics endpoint's libwebsockets: errors only
  install_stop_signals();

  std::unique_ptr<supervise::supervisor> s;
  try {
    s = std::make_unique<supervise::supervisor>(cfg, o);
    s->start();
  } catch (const std::exception& e) {
    // Nothing of the bus is touched: a supervisor that could not start leaves it as it was
    // (it may belong to another, running supervisor).
    std::fprintf(stderr, "mdsupervisor: bus %s: %s\n", cfg.bus.c_str(), e.what());
    return kExitRuntime;
  }
  std::printf("MDSUPERVISOR_READY {\"bus\":\"%s\",\"socket\":\"%s\",\"metrics_port\":%d}\n", cfg.bus.c_str(),
              s->socket_path().c_str(), s->metrics_port());
  std::fflush(stdout);
  while (stop_requested == 0) {
    s->tick();
    timespec ts{0, 2'000'000};  // 2 ms: nothing here is latency-critical
    nanosleep(&ts, nullptr);
  }
  s->shutdown();
  return 0;
}
