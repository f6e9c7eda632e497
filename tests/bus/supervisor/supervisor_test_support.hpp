#pragma once
// The supervisor's process tests' helpers: a config for a whole bus against exsim, the
// supervisor process and its log, the control socket, and cleanup of whatever a failed test
// leaves running.
#include <doctest/doctest.h>

#include "bus/counters.hpp"
#include "bus/feeder_block.hpp"
#include "tests/support/kill_mentioning.hpp"
#include "tests/support/read_file.hpp"
#include "tools/mdctl/control_client.hpp"
#include "tests/feeders/mdfeed/mdfeed_test_support.hpp"
#include "tests/support/run_capture.hpp"
#include "tests/support/spawn.hpp"
#include "tests/support/truth_compare.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

namespace mdbus::test {

inline std::string supervisor_binary() { return MDSUPERVISOR_BINARY; }

/// Running (not a zombie: an orphaned grandchild may never be reaped in a container).
inline bool running(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  const auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}


/// One request on the control socket (mdctl's client); the parsed response.
inline json ctl(const std::string& socket_path, const json& request) {
  mdctl::control_client c({socket_path, ""}, std::chrono::seconds(5));
  return c.request(nlohmann::ordered_json::parse(request.dump())).value;
}

inline json slot_status(const json& status, const std::string& venue_name, const std::string& slot) {
  for (const auto& s : status["slots"])
    if (s["venue"] == venue_name && s["slot"] == slot) return s;
  FAIL("no slot " << venue_name << "/" << slot);
  return {};
}

struct bus_setup {
  json binance_policy = json::object();
  json okx_policy = json::object();
  bool binance = true;
  json supervisor = json::object();
  /// Binance USD-M beside spot: its /public depth@100ms and bookTicker, on exsim's fapi listener.
  int usdm_rest_port = -1;  ///< -1: no binance_usdm section
  json usdm_policy = json::object();
};

inline std::string write_config(const std::string& path, const std::string& bus, int port, int binance_rest_port, int okx_rest_port, const std::string& socket_path,
                         const bus_setup& b) {
  json ep = {{"host", "127.0.0.1"}, {"port", port}, {"tls", true}, {"server_name", "localhost"},
             {"ca_file", exsim_cert_dir() + "/ca.pem"}};
  json brest = ep, orest = ep;  // exsim's REST listeners: the stream port serves no REST
  brest["port"] = binance_rest_port;
  orest["port"] = okx_rest_port;
  auto policy = [](const json& extra) {
    json p = {{"reconnect_min_ms", 50}, {"reconnect_max_ms", 500}, {"connect_timeout_ms", 5000}, {"drain_timeout_ms", 500}};
    for (auto& [k, v] : extra.items()) p[k] = v;
    return p;
  };
  json sv = {{"control_socket", socket_path}, {"restart_backoff_min_ms", 100}, {"heartbeat_timeout_ms", 3000}};
  for (auto& [k, v] : b.supervisor.items()) sv[k] = v;
  json venues = {{"okx",
                  {{"endpoint", ep}, {"rest_endpoint", orest}, {"symbols", {"BTC-USDT", "ETH-USDT"}}, {"channels", {"trades", "books", "bbo-tbt"}},
                   {"slots", {"A", "B"}}, {"policy", policy(b.okx_policy)}}}};
  if (b.binance)
    venues["binance"] = {{"endpoint", ep}, {"rest_endpoint", brest}, {"symbols", {"BTCUSDT", "ETHUSDT"}}, {"channels", {"trade", "aggTrade", "depth@100ms"}},
                         {"slots", {"A", "B"}}, {"policy", policy(b.binance_policy)}};
  if (b.usdm_rest_port > 0) {
    json urest = ep;
    urest["port"] = b.usdm_rest_port;
    venues["binance_usdm"] = {{"endpoint", ep}, {"rest_endpoint", urest}, {"symbols", {"BTCUSDT", "ETHUSDT"}},
                              {"channels", {"depth@100ms", "bookTicker"}}, {"slots", {"A", "B"}}, {"policy", policy(b.usdm_policy)}};
  }
  json cfg = {{"bus", bus},
              {"rings", {{"feeder_bytes", 8 << 20}, {"output_bytes", 64 << 20}}},
              {"merge", {{"hole_fill_ms", 200}, {"idle", "backoff"}, {"idle_sleep_max_us", 200}}},
              {"supervisor", sv},
              {"venues", venues}};
  std::ofstream(path) << cfg.dump(2);
  return path;
}

/// The supervisor process, its log, its readiness. Stopped (SIGTERM: it stops its children)
/// when the test ends, whatever happened; leftovers are killed.
struct supervisor_process {
  std::string config;
  std::string log_path;
  std::unique_ptr<child> proc;
  bool leave_children = false;  ///< the test killed the supervisor on purpose: its children are adopted next
  supervisor_process(std::string config_path, std::string log) : config(std::move(config_path)), log_path(std::move(log)) {
    proc = std::make_unique<child>(std::vector<std::string>{supervisor_binary(), "--config", config}, log_path);
    REQUIRE_MESSAGE(eventually([&] { return read_file(log_path).find("MDSUPERVISOR_READY") != std::string::npos; }, 20s),
                    "supervisor ready; log: " << read_file(log_path));
  }
  supervisor_process(const supervisor_process&) = delete;
  supervisor_process& operator=(const supervisor_process&) = delete;
  ~supervisor_process() {
    if (proc->running()) {
      proc->signal(SIGTERM);
      (void)proc->wait(20000);
    }
    // The children name the supervisor's running copy of the config (beside the control
    // socket, in the test's directory with the config): whatever mentions that directory.
    if (!leave_children) kill_processes_mentioning(config.substr(0, config.rfind('/') + 1));
  }
  [[nodiscard]] std::string log() const { return read_file(log_path); }
};

/// Freezes exsim's market, waits (30 s at most) until the output has caught up with the
/// truth, and checks every wanted stream against it: nothing lost, doubled or out of order,
/// and no gap record. Returns the sums.
inline truth_totals freeze_and_check_truth(exsim_process& x, output_log& out, const std::string& truth_path,
                                           const std::set<stream_ref>& wanted) {
  REQUIRE(http_request(x.control_port(), "POST", "/market", R"({"paused":true})").json()["ok"] == true);
  std::map<stream_ref, std::vector<std::uint64_t>> truth;
  REQUIRE_MESSAGE(output_caught_up(out, truth_path, wanted, truth, [](auto pred) { return eventually(pred, 30s); }),
                  "the output catches up with the truth");
  const truth_totals totals = check_against_truth(truth, out, wanted);
  CHECK(out.gaps.empty());
  for (const auto& g : out.gaps) MESSAGE("gap: ", g);
  return totals;
}

}  // namespace mdbus::test
