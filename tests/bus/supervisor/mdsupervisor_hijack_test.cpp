// Issue 17, "a bus no other local user can hijack": the owner's mdsupervisor against another
// local user (uid 65534, support/impostor.hpp) who got to the control socket's path or to a
// segment name first. Each case is refused with one line naming the impostor and leaves the
// owner's bus running. Run as root (the only way to be a second user); skipped otherwise.
// No venue is needed: the feeders point at a closed port and keep retrying, which is enough
// for a supervisor, its merger and its control socket to be up.
#include "bus/runtime_dir.hpp"
#include "mdbus/shm_segment.hpp"
#include "support/eventually.hpp"
#include "support/impostor.hpp"
#include "support/kill_mentioning.hpp"
#include "support/private_runtime_dir.hpp"
#include "support/read_file.hpp"
#include "support/spawn.hpp"
#include "support/temp_dir.hpp"
#include "support/unique_bus.hpp"
#include "tools/mdctl/control_client.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

using namespace mdbus;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// One venue, one slot, at a port nobody listens on; `socket` empty: the default path.
std::string write_config(const std::string& path, const std::string& bus, const std::string& socket) {
  const json ep = {{"host", "127.0.0.1"}, {"port", 9}, {"tls", false}};  // discard: nobody there
  json sv = {{"restart_backoff_min_ms", 100}};
  if (!socket.empty()) sv["control_socket"] = socket;
  const json cfg = {{"bus", bus},
                    {"rings", {{"feeder_bytes", 1 << 16}, {"feeder_max_frame", 4096}, {"output_bytes", 1 << 16}, {"output_max_frame", 4096}}},
                    {"merge", {{"idle", "backoff"}}},
                    {"supervisor", sv},
                    {"venues",
                     {{"okx",
                       {{"endpoint", ep}, {"rest_endpoint", ep}, {"symbols", {"BTC-USDT"}}, {"channels", {"trades"}}, {"slots", {"A"}}}}}}};
  std::ofstream(path) << cfg.dump(2);
  return path;
}

/// The supervisor process and its log; stopped (SIGTERM, then leftovers killed) at the end.
struct supervisor_run {
  std::string config, log_path;
  test::child proc;
  supervisor_run(std::string cfg, std::string log)
      : config(std::move(cfg)), log_path(std::move(log)), proc({MDSUPERVISOR_BINARY, "--config", config}, log_path) {}
  supervisor_run(const supervisor_run&) = delete;
  supervisor_run& operator=(const supervisor_run&) = delete;
  ~supervisor_run() {
    if (proc.running()) {
      proc.signal(SIGTERM);
      (void)proc.wait(20000);
    }
    // The children outlive a failed test; they name the supervisor's running copy of the config
    // (<socket dir>/<bus>.running.json).
    test::kill_processes_mentioning(config);
    try {
      test::kill_processes_mentioning("/" + json::parse(test::read_file(config))["bus"].get<std::string>() + ".running.json");
    } catch (const std::exception&) {
    }
  }
  [[nodiscard]] std::string log() const { return test::read_file(log_path); }
};

json status(const std::string& socket) {
  mdctl::control_client c({socket, ""}, 5s);
  return c.request(nlohmann::ordered_json{{"cmd", "status"}}).value;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("hijack: an impostor listening first on the old /tmp/mdbus.<bus>.ctl: the supervisor refuses the shared directory in one line") {
  test::require_root_or_skip("a listener of another user");
  test::unique_bus bus("hijack");
  test::temp_dir dir("hijack");
  const std::string sock = "/tmp/mdbus." + bus.name() + ".ctl";  // what live.json and sim.json used to get
  test::impostor_listener impostor(sock);
  REQUIRE(impostor.listening());
  supervisor_run sup(write_config(dir.file("bus.json"), bus.name(), sock), dir.file("supervisor.log"));
  CHECK(sup.proc.wait(20000) == 1);
  CHECK(sup.log() == "mdsupervisor: bus " + bus.name() + ": control socket " + sock +
                         ": socket directory /tmp: owner uid 0, mode 1777: writable by group or others, refused\n");
  CHECK(impostor.reports().first == 0);  // not even probed: the directory alone decides
  CHECK(list_segments(bus.name()).empty());  // and no segment of the bus was touched
}

TEST_CASE("hijack: a socket directory another user made first is refused, naming its owner uid and mode") {
  test::require_root_or_skip("a directory of another user");
  test::unique_bus bus("hijack");
  test::temp_dir dir("hijack");
  const test::impostor_dir taken("sockdir", 0777);
  const std::string sock = taken.file(bus.name() + ".ctl");
  test::impostor_listener impostor(sock);
  REQUIRE(impostor.listening());
  supervisor_run sup(write_config(dir.file("bus.json"), bus.name(), sock), dir.file("supervisor.log"));
  CHECK(sup.proc.wait(20000) == 1);
  CHECK(sup.log() == "mdsupervisor: bus " + bus.name() + ": control socket " + sock + ": socket directory " + taken.str() +
                         ": owner uid 65534, mode 0777: not ours (uid 0), refused\n");
  CHECK(impostor.reports().first == 0);
}

TEST_CASE("hijack: in the default runtime directory no other user can take the socket, and the owner's bus starts and answers") {
  test::require_root_or_skip("a second user");
  test::private_runtime_dir xdg;
  test::unique_bus bus("hijack");
  test::temp_dir dir("hijack");
  const std::string sock = default_control_socket(bus.name());
  CHECK(sock == xdg.str() + "/mdbus/" + bus.name() + ".ctl");
  supervisor_run sup(write_config(dir.file("bus.json"), bus.name(), ""), dir.file("supervisor.log"));
  REQUIRE_MESSAGE(test::eventually([&] { return sup.log().find("MDSUPERVISOR_READY") != std::string::npos; }, 20s), sup.log());
  struct stat st {};
  REQUIRE(::stat(parent_dir(sock).c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  CHECK(st.st_uid == 0);
  // The impostor can neither replace the socket nor plant one beside it.
  CHECK(test::run_as_impostor([&] {
          const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
          sockaddr_un a{};
          a.sun_family = AF_UNIX;
          const std::string other = parent_dir(sock) + "/x.ctl";
          std::memcpy(a.sun_path, other.c_str(), other.size() + 1);
          const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
          const bool unlinked = ::unlink(sock.c_str()) == 0;
          return bound || unlinked ? 1 : 0;
        }) == 0);
  const json s = status(sock);
  CHECK(s["ok"] == true);
  CHECK(sup.proc.running());
}

TEST_CASE("hijack: an output ring another user created first: mdmerge refuses in one line naming the uid, the bus stays up, no restart loop") {
  test::require_root_or_skip("a segment of another user");
  test::private_runtime_dir xdg;
  test::unique_bus bus("hijack");
  test::temp_dir dir("hijack");
  const std::string out = bus.segment("out");
  REQUIRE(test::run_as_impostor([&] {
            const int fd = ::shm_open(("/" + out).c_str(), O_RDWR | O_CREAT | O_EXCL, 0666);
            return fd >= 0 && ::ftruncate(fd, 4096) == 0 ? 0 : 1;
          }) == 0);
  supervisor_run sup(write_config(dir.file("bus.json"), bus.name(), ""), dir.file("supervisor.log"));
  REQUIRE_MESSAGE(test::eventually([&] { return sup.log().find("MDSUPERVISOR_READY") != std::string::npos; }, 20s), sup.log());
  const std::string refusal = "mdmerge: bus " + bus.name() + ": segment " + out + ": owned by uid 65534, expected uid 0, refused\n";
  REQUIRE_MESSAGE(test::eventually([&] { return sup.log().find("merger refused its configuration or a segment (exit 2): not restarted") != std::string::npos; }, 20s),
                  sup.log());
  const std::string log = sup.log();
  CHECK(count(log, refusal) == 1);  // one line, once: stopped, not restarted
  CHECK(count(log, "started merger") == 1);
  CHECK(log.find("fchmod") == std::string::npos);
  // The bus is still up: the supervisor answers and says the merger is stopped, not restarting.
  const std::string sock = default_control_socket(bus.name());
  const json s = status(sock);
  CHECK(s["ok"] == true);
  CHECK(s["merger"]["process"] == "stopped");
  CHECK(sup.proc.running());
  // The impostor's file is as it made it.
  struct stat st {};
  REQUIRE(::stat(("/dev/shm/" + out).c_str(), &st) == 0);
  CHECK(st.st_uid == test::kImpostorUid);
  CHECK((st.st_mode & 07777) == 0666);
  // At its end the supervisor removes the bus's segments, but not another user's.
  {
    test::private_runtime_dir xdg2;
    test::temp_dir dir2("hijack");
    supervisor_run other(write_config(dir2.file("bus.json"), bus.name() + "x", ""), dir2.file("supervisor.log"));
    const std::string foreign = "mdbus." + bus.name() + "x.readers-of-nobody";
    REQUIRE(test::run_as_impostor([&] { return ::shm_open(("/" + foreign).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600) >= 0 ? 0 : 1; }) == 0);
    REQUIRE_MESSAGE(test::eventually([&] { return other.log().find("MDSUPERVISOR_READY") != std::string::npos; }, 20s), other.log());
    other.proc.signal(SIGTERM);
    CHECK(other.proc.wait(20000) == 0);
    CHECK(other.log().find("left " + foreign + ": owned by uid 65534, not ours") != std::string::npos);
    CHECK(::stat(("/dev/shm/" + foreign).c_str(), &st) == 0);
    shm_segment::remove(foreign);
  }
  // Once the name is freed, the operator starts the merger again without restarting the bus.
  REQUIRE(shm_segment::remove(out));
  mdctl::control_client c({sock, ""}, 5s);
  CHECK(c.request(nlohmann::ordered_json{{"cmd", "restart"}, {"process", "merger"}}).value["ok"] == true);
  CHECK(test::eventually([&] { return status(sock)["merger"]["process"] == "running" && sup.log().find("MDMERGE_READY") != std::string::npos; }, 20s));
  CHECK(::stat(("/dev/shm/" + out).c_str(), &st) == 0);
  CHECK(st.st_uid == 0);
}
