// mdbridge's refusals (issue 18): each bad start is one line naming the problem and its own
// exit code, against a real nats-server (one node, JetStream, started here) where one is needed.
#include "mdbus/broadcast_ring.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/free_port.hpp"
#include "tests/support/read_file.hpp"
#include "tests/support/run_capture.hpp"
#include "tests/support/spawn.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/unique_bus.hpp"

#include <doctest/doctest.h>

#include <fstream>

#include <nlohmann/json.hpp>

using namespace mdbus;
using namespace mdbus::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// One nats-server with JetStream on a free port, its store in `dir`.
struct nats_node {
  int port = free_port();
  std::string log;
  child proc;
  explicit nats_node(const temp_dir& dir)
      : log(dir.file("nats.log")),
        proc({NATS_SERVER_BINARY, "-a", "127.0.0.1", "-p", std::to_string(port), "-js", "-sd", dir.file("js")}, log) {
    REQUIRE_MESSAGE(eventually([&] { return read_file(log).find("Server is ready") != std::string::npos; }, 10s), read_file(log));
  }
  [[nodiscard]] std::string url() const { return "nats://127.0.0.1:" + std::to_string(port); }
};

std::string config(const temp_dir& dir, const std::string& name, const std::string& bus, const json& bridge) {
  json cfg = {{"bus", bus}, {"venues", {{"okx", {{"symbols", {"BTC-USDT"}}, {"channels", {"trades"}}}}}}};
  if (!bridge.is_null()) cfg["bridge"] = bridge;
  const std::string path = dir.file(name);
  std::ofstream(path) << cfg.dump(2);
  return path;
}

run_result bridge(const std::string& args) { return run_capture(std::string(MDBRIDGE_BINARY) + " " + args + " 2>&1"); }

}  // namespace

TEST_CASE("mdbridge refuses a config without a bridge section, and a broken one, in one line, exit 2") {
  temp_dir dir;
  unique_bus bus;
  const auto none = bridge("publish --config " + config(dir, "a.json", bus.name(), nullptr));
  CHECK(none.status == 2);
  CHECK(none.out.find("no \"bridge\" section") != std::string::npos);
  const auto bad = bridge("subscribe --config " + config(dir, "b.json", bus.name(), {{"servers", json::array()}}));
  CHECK(bad.status == 2);
  CHECK(bad.out.find("bridge.servers: must be a non-empty array of NATS URLs") != std::string::npos);
}

TEST_CASE("mdbridge publish: no ring to follow is exit 3, no NATS server is exit 5, each one line") {
  temp_dir dir;
  unique_bus bus;
  const std::string cfg = config(dir, "a.json", bus.name(), {{"servers", {"nats://127.0.0.1:" + std::to_string(free_port())}}});
  const auto no_ring = bridge("publish --config " + cfg + " --wait-ms 100");
  CHECK(no_ring.status == 3);
  CHECK(no_ring.out.find("mdbus." + bus.name() + ".out") != std::string::npos);
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 20, 65536});
  const auto no_nats = bridge("publish --config " + cfg + " --wait-ms 300");
  CHECK(no_nats.status == 5);
  CHECK(no_nats.out.find("NATS connect to nats://127.0.0.1:") != std::string::npos);
}

TEST_CASE("mdbridge: a stream that exists with other settings is refused, naming each field, exit 5") {
  temp_dir dir;
  nats_node nats(dir);
  unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 20, 65536});
  json b = {{"servers", {nats.url()}}, {"stream", "ERRS"}, {"storage", "memory"}, {"max_age_ms", 60000}, {"duplicate_window_ms", 1000}};
  child first({MDBRIDGE_BINARY, "publish", "--config", config(dir, "a.json", bus.name(), b)}, dir.file("first.log"));
  REQUIRE_MESSAGE(eventually([&] { return read_file(dir.file("first.log")).find("following") != std::string::npos; }, 20s),
                  read_file(dir.file("first.log")));
  CHECK(read_file(dir.file("first.log")).find("created stream ERRS (md.>, 1 replicas, memory)") != std::string::npos);
  first.signal(SIGTERM);
  CHECK(first.wait(10000) == 0);
  b["max_age_ms"] = 120000;
  b["storage"] = "file";
  const auto other = bridge("publish --config " + config(dir, "b.json", bus.name(), b));
  CHECK(other.status == 5);
  CHECK(other.out.find("stream ERRS exists but storage is memory, the config says file; max_age_ms is 60000, the config says 120000") !=
        std::string::npos);
  // The subscriber checks it the same way.
  const auto sub = bridge("subscribe --config " + dir.file("b.json") + " --ring in --state " + dir.file("r"));
  CHECK(sub.status == 5);
  CHECK(sub.out.find("stream ERRS exists but") != std::string::npos);
}

TEST_CASE("mdbridge subscribe: a resume file of another stream is refused, exit 4") {
  temp_dir dir;
  nats_node nats(dir);
  unique_bus bus;
  const std::string state = dir.file("resume");
  json b = {{"servers", {nats.url()}}, {"stream", "ONE"}, {"storage", "memory"}};
  child sub({MDBRIDGE_BINARY, "subscribe", "--config", config(dir, "a.json", bus.name(), b), "--state", state}, dir.file("sub.log"));
  REQUIRE_MESSAGE(eventually([&] { return read_file(dir.file("sub.log")).find("writing stream ONE") != std::string::npos; }, 20s),
                  read_file(dir.file("sub.log")));
  sub.signal(SIGTERM);
  CHECK(sub.wait(10000) == 0);
  b["stream"] = "TWO";
  const auto other = bridge("subscribe --config " + config(dir, "b.json", bus.name(), b) + " --state " + state);
  CHECK(other.status == 4);
  CHECK(other.out.find(state + ": belongs to another stream, subject prefix or ring") != std::string::npos);
}
