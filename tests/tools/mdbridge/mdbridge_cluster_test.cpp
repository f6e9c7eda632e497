// Issue 18's kill test: two whole buses fed by one exsim each publish through their own
// mdbridge into a 3-node JetStream cluster (R3, file storage); one mdbridge subscribe writes a
// third bus's ring. During the run one NATS node, one publishing bridge and the subscriber are
// killed with SIGKILL (the subscriber is started again). The subscriber's ring must equal
// exsim's truth stream by stream: nothing lost, nothing doubled, in order, no gap record.
#include "tests/bus/supervisor/supervisor_test_support.hpp"
#include "tests/tools/mdbridge/nats_cluster.hpp"

#include <cstdlib>
#include <regex>

using namespace mdbus;
using namespace mdbus::test;
using namespace std::chrono_literals;

namespace {

std::string bridge_config(const std::string& base, const std::string& path, const std::string& bus, const std::vector<std::string>& servers) {
  json cfg = json::parse(read_file(base));
  cfg["bus"] = bus;
  cfg["bridge"] = {{"servers", servers}, {"stream", "MDTEST"}, {"subject_prefix", "md.test"}, {"replicas", 3},
                   {"storage", "file"}, {"max_age_ms", 600'000}, {"duplicate_window_ms", 120'000}, {"ack_timeout_ms", 1'000}};
  std::ofstream(path) << cfg.dump(2);
  return path;
}

std::vector<std::string> bridge(std::vector<std::string> args) {
  args.insert(args.begin(), MDBRIDGE_BINARY);
  return args;
}

/// The last line of `log` that starts with `prefix`.
std::string last_line(const std::string& log, const std::string& prefix) {
  std::string found, line;
  std::istringstream in(log);
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) found = line;
  return found;
}

std::uint64_t number_after(const std::string& line, const std::string& word) {
  const std::regex re(word + " ([0-9]+)");
  std::smatch m;
  return std::regex_search(line, m, re) ? std::stoull(m[1]) : ~std::uint64_t{0};
}

}  // namespace

TEST_CASE("mdbridge: two buses through a 3-node JetStream cluster into one ring, a NATS node, a publisher and the subscriber killed: the ring equals the truth") {
  temp_dir dir;
  nats_cluster nats(dir.str());
  unique_bus bus_a, bus_b, bus_c;  // t-<pid>-<n>: scripts/test checks that none is left behind
  const std::string truth_path = dir.file("truth.bin");
  exsim_process x({"--tls-cert", exsim_cert_dir() + "/server.pem", "--tls-key", exsim_cert_dir() + "/server.key", "--rate", "200",
                   "--seed", "18", "--truth-log", truth_path});
  auto base = [&](const std::string& name, const unique_bus& b) {
    return write_config(dir.file(name + ".base.json"), b.name(), x.venue_port(), x.binance_rest_port(), x.okx_rest_port(),
                        dir.file(name + ".ctl"), bus_setup{});
  };
  // Each client prefers its own node first (a different one for each), so the node killed below
  // holds a publisher's connection.
  const std::string cfg_a = bridge_config(base("a", bus_a), dir.file("a.json"), bus_a.name(), nats.urls(0));
  const std::string cfg_b = bridge_config(base("b", bus_b), dir.file("b.json"), bus_b.name(), nats.urls(1));
  const std::string cfg_c = bridge_config(base("c", bus_c), dir.file("c.json"), bus_c.name(), nats.urls(2));

  supervisor_process sup_a(cfg_a, dir.file("sup_a.log"));
  supervisor_process sup_b(cfg_b, dir.file("sup_b.log"));
  auto pub_a = std::make_unique<child>(bridge({"publish", "--config", cfg_a, "--wait-ms", "30000"}), dir.file("pub_a.log"));
  child pub_b(bridge({"publish", "--config", cfg_b, "--wait-ms", "30000"}), dir.file("pub_b.log"));
  for (const auto& log : {dir.file("pub_a.log"), dir.file("pub_b.log")})
    REQUIRE_MESSAGE(eventually([&] { return read_file(log).find("mdbridge publish: following") != std::string::npos; }, 40s),
                    log << ": " << read_file(log));
  // The subscriber comes once both buses carry every stream: from there on it takes what is
  // stored (--new). Two buses starting together begin each book at their own snapshots, and
  // the start of such a stream can interleave them in ways only holding records would order
  // (tools/mdbridge/README.md, "Limits"); this test is about the kills.
  const auto wanted = test_bus_streams();
  {
    output_log bus_a_out(segment_name(bus_a.name(), "out")), bus_b_out(segment_name(bus_b.name(), "out"));
    REQUIRE(eventually([&] { return every_stream_delivered(bus_a_out, wanted, 20) && every_stream_delivered(bus_b_out, wanted, 20); }, 60s));
  }
  const std::string resume = dir.file("c.resume");
  const std::vector<std::string> sub_args = bridge({"subscribe", "--config", cfg_c, "--state", resume, "--wait-ms", "30000", "--new"});
  auto sub = std::make_unique<child>(sub_args, dir.file("sub_c.log"));
  REQUIRE_MESSAGE(eventually([&] { return read_file(dir.file("sub_c.log")).find("mdbridge subscribe: writing") != std::string::npos; }, 40s),
                  read_file(dir.file("sub_c.log")));

  output_log out(segment_name(bus_c.name(), "out"));
  // `more` records more in the subscriber's ring; on failure, the bridges' logs say why.
  auto progress = [&](std::size_t more) {
    out.poll();
    const std::uint64_t target = out.records + more;
    const bool ok = eventually([&] {
      out.poll();
      return out.records >= target;
    }, 60s);
    if (!ok)
      for (const char* log : {"sub_c.log", "sub_c2.log", "pub_a.log", "pub_b.log", "pub_a2.log"})
        MESSAGE(log, ": ", read_file(dir.file(log)));
    return ok;
  };
  REQUIRE_MESSAGE(eventually([&] { return every_stream_delivered(out, wanted, 20); }, 60s),
                  "every stream reaches the subscriber's ring; sub: " << read_file(dir.file("sub_c.log")));

  // 1. A NATS node dies: the one publisher A prefers, unless it leads the stream (a leader's
  //    election stops every publish for seconds; see tools/mdbridge/README.md, "Limits").
  //    MDBUS_BRIDGE_KILL_LEADER=1 kills the leader instead (by hand: what an election costs).
  const int leader = nats.stream_leader("MDTEST");
  const bool kill_leader = std::getenv("MDBUS_BRIDGE_KILL_LEADER") != nullptr && leader >= 0;
  const int victim = kill_leader ? leader : leader == 0 ? 1 : 0;
  MESSAGE("stream leader n", leader + 1, "; killing n", victim + 1);
  nats.kill9(victim);
  REQUIRE_MESSAGE(progress(2000), "records keep coming after a NATS node died");

  // 2. Publisher A dies: B alone carries the bus.
  pub_a->signal(SIGKILL);
  (void)pub_a->wait(5000);
  REQUIRE_MESSAGE(progress(2000), "records keep coming with one publisher");

  // 3. The subscriber dies and comes back: it resumes after the last record its ring holds.
  sub->signal(SIGKILL);
  (void)sub->wait(5000);
  REQUIRE(progress(0));
  sub = std::make_unique<child>(sub_args, dir.file("sub_c2.log"));
  REQUIRE_MESSAGE(eventually([&] { return read_file(dir.file("sub_c2.log")).find("mdbridge subscribe: writing stream MDTEST after sequence") !=
                                          std::string::npos; }, 40s),
                  read_file(dir.file("sub_c2.log")));
  // 4. Publisher A back (from the ring's newest record): hot-hot again.
  pub_a = std::make_unique<child>(bridge({"publish", "--config", cfg_a, "--wait-ms", "30000"}), dir.file("pub_a2.log"));
  REQUIRE_MESSAGE(progress(2000), "records keep coming after the subscriber's restart");

  const truth_totals t = freeze_and_check_truth(x, out, truth_path, wanted);
  CHECK(t.expected > 5000);
  CHECK(out.laps == 0);

  for (child* c : {pub_a.get(), &pub_b, sub.get()}) c->signal(SIGTERM);
  for (auto [c, log] : {std::pair{sub.get(), "sub_c2.log"}, std::pair{&pub_b, "pub_b.log"}, std::pair{pub_a.get(), "pub_a2.log"}}) {
    const int status = c->wait(10000);
    CHECK_MESSAGE(status == 0, log, " exit ", status, ": ", read_file(dir.file(log)));
  }
  const std::string pb = last_line(read_file(dir.file("pub_b.log")), "mdbridge publish: read");
  const std::string pa = last_line(read_file(dir.file("pub_a2.log")), "mdbridge publish: read");
  const std::string sc = last_line(read_file(dir.file("sub_c2.log")), "mdbridge subscribe: last stream sequence");
  MESSAGE("truth: ", t.expected, " events expected, ", t.delivered, " delivered through JetStream");
  MESSAGE("publisher B: ", pb);
  MESSAGE("publisher A (restarted): ", pa);
  MESSAGE("subscriber (restarted): ", sc);
  MESSAGE("NATS node killed: n", victim + 1, "; first subscriber's log: ", read_file(dir.file("sub_c.log")));
  MESSAGE("publisher A's first log: ", read_file(dir.file("pub_a.log")));
  MESSAGE("publisher B's log: ", read_file(dir.file("pub_b.log")));
  CHECK(number_after(sc, "redelivered") == 0);
  CHECK(number_after(sc, "holes") == 0);
  CHECK(number_after(sc, "late") == 0);
  CHECK(number_after(sc, "not records") == 0);
  CHECK(number_after(pb, "laps") == 0);
  CHECK(number_after(pa, "published") != ~std::uint64_t{0});
}
