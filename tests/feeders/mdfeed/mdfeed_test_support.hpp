#pragma once
// Helpers for mdfeed's process-level tests: exsim over TLS on free ports, a config file per
// test, the mdfeed process with its stderr captured, the feeder's segments, deadlines.
#include "bus/clock.hpp"
#include "bus/feeder_block.hpp"
#include "mdbus/records.hpp"
#include "bus/spsc_ring.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/temp_dir.hpp"  // temp_dir: dir.file("name"), removed with its contents
#include "tests/support/unique_bus.hpp"
#include "tests/tools/exsim/exsim_process.hpp"
#include "tests/tools/exsim/http_client.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace mdbus::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

inline std::string mdfeed_binary() { return MDFEED_BINARY; }

/// exsim arguments for TLS with the test certificates, plus `extra`.
inline std::vector<std::string> tls(std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"--tls-cert", exsim_cert_dir() + "/server.pem", "--tls-key", exsim_cert_dir() + "/server.key"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

/// One venue section of a test config.
struct feed_setup {
  std::string bus;
  std::string venue = "binance";
  int port = 0;
  int binance_rest_port = 0;  ///< exsim's REST listeners (the stream port serves no REST)
  int okx_rest_port = 0;
  int usdm_rest_port = 0;
  std::vector<std::string> symbols;
  std::vector<std::string> channels;
  json policy = json::object();
  bool tls = true;
  std::string ca_file = exsim_cert_dir() + "/ca.pem";
  json rings = json::object();
};

/// Writes the config for `s` to `path` and returns the path.
inline std::string write_config(const std::string& path, const feed_setup& s) {
  json ep = {{"host", "127.0.0.1"}, {"port", s.port}, {"tls", s.tls}, {"server_name", "localhost"}};
  if (s.tls) ep["ca_file"] = s.ca_file;
  json p = {{"reconnect_min_ms", 50}, {"reconnect_max_ms", 1000}, {"connect_timeout_ms", 5000}, {"drain_timeout_ms", 1000}};
  for (auto& [k, v] : s.policy.items()) p[k] = v;
  json rest = ep;
  rest["port"] = s.venue == "okx" ? s.okx_rest_port : s.venue == "binance_usdm" ? s.usdm_rest_port : s.binance_rest_port;
  if (rest["port"] == 0) rest["port"] = s.port;  // a test without exsim's REST listeners (no REST asked)
  json cfg = {{"bus", s.bus},
              {"venues", {{s.venue, {{"endpoint", ep}, {"rest_endpoint", rest}, {"symbols", s.symbols}, {"channels", s.channels}, {"policy", p}}}}}};
  if (!s.rings.empty()) cfg["rings"] = s.rings;
  std::ofstream(path) << cfg.dump(2);
  return path;
}

/// An mdfeed child process; stderr goes to `log_path`. Killed and reaped on destruction.
class feeder_process {
 public:
  feeder_process(const std::string& config, const std::string& venue, const std::string& slot, std::string log_path,
                 const std::vector<std::string>& extra = {})
      : log_path_(std::move(log_path)) {
    std::vector<std::string> argv = {mdfeed_binary(), "--config", config, "--venue", venue, "--slot", slot};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    const int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot spawn " + argv[0]);
  }
  feeder_process(const feeder_process&) = delete;
  feeder_process& operator=(const feeder_process&) = delete;
  ~feeder_process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  [[nodiscard]] pid_t pid() const { return pid_; }
  void signal(int sig) const {
    if (pid_ > 0) kill(pid_, sig);
  }
  [[nodiscard]] bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
      return false;
    }
    return true;
  }
  /// Exit status (128+signal if killed by one), or -1 when still running after timeout_ms
  /// (it is then killed).
  int wait(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (running()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(2ms);
    }
    return exit_;
  }
  /// SIGTERM and wait.
  int stop(int timeout_ms = 10000) {
    signal(SIGTERM);
    return wait(timeout_ms);
  }
  [[nodiscard]] std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_ = -1;
};


/// exsim's control endpoint.
inline json exsim_fault(const exsim_process& x, const json& req) {
  return http_request(x.control_port(), "POST", "/fault", req.dump()).json();
}
inline json exsim_status(const exsim_process& x) { return http_request(x.control_port(), "GET", "/status").json(); }
inline json exsim_connections(const exsim_process& x) {
  return http_request(x.control_port(), "GET", "/connections").json();
}
/// Ids of the open connections whose path starts with `prefix`, oldest first.
inline std::vector<std::uint32_t> exsim_conn_ids(const exsim_process& x, const std::string& prefix) {
  std::vector<std::uint32_t> ids;
  for (const auto& c : exsim_connections(x))
    if (c["path"].get<std::string>().rfind(prefix, 0) == 0 && !(c.contains("closing") && c["closing"] == true)) ids.push_back(c["id"].get<std::uint32_t>());
  std::sort(ids.begin(), ids.end());
  return ids;
}

/// The feeder's status block, opened read-only once the feeder has created it.
inline feeder_status_reader open_status(const std::string& bus, venue v, slot_id s, int wait_ms = 10000) {
  return feeder_status_reader::open(feeder_status_name(bus, v, s), wait_ms);
}
/// A connection group's slot (group > 0: feed.<venue>.g<group>.<slot>.status).
inline feeder_status_reader open_status(const std::string& bus, venue v, slot_id s, std::uint32_t group, int wait_ms = 10000) {
  return feeder_status_reader::open(feeder_status_name(bus, v, s, group), wait_ms);
}

/// Reads every frame of a feeder ring as the one SPSC consumer, decoding records.
class ring_drain {
 public:
  explicit ring_drain(const std::string& name, int wait_ms = 10000) : reader_(spsc_ring_reader::open(name, wait_ms)) {}

  /// Calls f(const record_view&) for each record available now; counts what is not a
  /// valid record. Returns the number of frames read.
  template <class F>
  std::size_t poll(F&& f) {
    std::size_t n = 0;
    for (;;) {
      const std::size_t got = reader_.poll(
          [&](const spsc_frame& fr) {
            record_view v;
            if (record_view::parse(fr.payload, v) != record_status::ok || static_cast<std::uint32_t>(v.type()) != fr.type) {
              ++invalid_;
              return;
            }
            f(static_cast<const record_view&>(v));
          },
          4096);
      n += got;
      if (reader_.last_status() == spsc_read_status::corrupt) ++corrupt_;
      if (got == 0 || reader_.last_status() != spsc_read_status::ok) break;
    }
    return n;
  }
  [[nodiscard]] std::size_t invalid() const { return invalid_; }
  [[nodiscard]] std::size_t corrupt() const { return corrupt_; }
  [[nodiscard]] spsc_ring_reader& reader() { return reader_; }

 private:
  spsc_ring_reader reader_;
  std::size_t invalid_ = 0;
  std::size_t corrupt_ = 0;
};

}  // namespace mdbus::test
