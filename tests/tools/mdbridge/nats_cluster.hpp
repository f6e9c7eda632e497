#pragma once
// A 3-node NATS JetStream cluster on loopback for the bridge's tests (issue 18): each node its
// own client, route and monitoring port and store directory, started by the test from Debian's
// nats-server (scripts/setup installs it), killed and reaped with the test.
#include "tests/support/eventually.hpp"
#include "tests/support/free_port.hpp"
#include "tests/support/read_file.hpp"
#include "tests/support/spawn.hpp"
#include "tests/tools/exsim/http_client.hpp"

#include <array>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mdbus::test {

class nats_cluster {
 public:
  struct node {
    std::string name;
    int client_port = 0, route_port = 0, monitor_port = 0;
    std::string store, log;
    std::unique_ptr<child> proc;
    [[nodiscard]] std::string url() const { return "nats://127.0.0.1:" + std::to_string(client_port); }
  };

  /// Starts the three nodes (store dirs and logs under `dir`) and waits until they agree on a
  /// JetStream meta leader.
  explicit nats_cluster(const std::string& dir, const std::string& binary = NATS_SERVER_BINARY) : binary_(binary) {
    for (int i = 0; i < 3; ++i) {
      auto& n = nodes_[i];
      n.name = "n" + std::to_string(i + 1);
      n.client_port = free_port();
      n.route_port = free_port();
      n.monitor_port = free_port();
      n.store = dir + "/" + n.name;
      n.log = dir + "/" + n.name + ".log";
    }
    for (int i = 0; i < 3; ++i) start(i);
    REQUIRE_MESSAGE(eventually([&] { return !meta_leader().empty(); }, std::chrono::seconds(20)),
                    "the NATS cluster elects a JetStream meta leader; n1 log: " << read_file(nodes_[0].log));
  }

  void start(int i) {
    auto& n = nodes_[i];
    std::string routes;
    for (int j = 0; j < 3; ++j)
      if (j != i) routes += (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") + std::to_string(nodes_[j].route_port);
    n.proc = std::make_unique<child>(
        std::vector<std::string>{binary_, "-a", "127.0.0.1", "-p", std::to_string(n.client_port), "-m", std::to_string(n.monitor_port),
                                 "-n", n.name, "-js", "-sd", n.store, "--cluster_name", "mdbus-test", "--cluster",
                                 "nats://127.0.0.1:" + std::to_string(n.route_port), "--routes", routes},
        n.log);
  }

  /// SIGKILL, reaped.
  void kill9(int i) {
    nodes_[i].proc->signal(SIGKILL);
    (void)nodes_[i].proc->wait(5000);
  }

  [[nodiscard]] const node& at(int i) const { return nodes_[i]; }
  [[nodiscard]] std::vector<std::string> urls(int first) const {
    return {nodes_[first % 3].url(), nodes_[(first + 1) % 3].url(), nodes_[(first + 2) % 3].url()};
  }

  /// The JetStream meta leader's name as a running node reports it ("" while there is none).
  [[nodiscard]] std::string meta_leader() {
    for (auto& n : nodes_) {
      if (!n.proc || !n.proc->running()) continue;
      try {
        const auto j = nlohmann::json::parse(http_request(n.monitor_port, "GET", "/jsz").body);
        if (j.contains("meta_cluster") && j["meta_cluster"].contains("leader")) return j["meta_cluster"]["leader"].get<std::string>();
      } catch (const std::exception&) {
      }
    }
    return {};
  }

  /// The node index leading `stream`'s replicas, or -1 when no running node says.
  [[nodiscard]] int stream_leader(const std::string& stream) {
    for (auto& n : nodes_) {
      if (!n.proc || !n.proc->running()) continue;
      try {
        const auto j = nlohmann::json::parse(http_request(n.monitor_port, "GET", "/jsz?accounts=true&streams=true").body);
        if (!j.contains("account_details")) continue;
        for (const auto& acc : j["account_details"]) {
          if (!acc.contains("stream_detail")) continue;
          for (const auto& st : acc["stream_detail"]) {
            if (!st.contains("name") || st["name"] != stream || !st.contains("cluster") || !st["cluster"].contains("leader")) continue;
            const auto& leader = st["cluster"]["leader"];
            for (int i = 0; i < 3; ++i)
              if (leader == nodes_[i].name) return i;
          }
        }
      } catch (const std::exception&) {
      }
    }
    return -1;
  }

 private:
  std::string binary_;
  std::array<node, 3> nodes_;
};

}  // namespace mdbus::test
