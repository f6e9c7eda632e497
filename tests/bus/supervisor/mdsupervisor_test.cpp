// mdsupervisor as a process, with real feeders, merger and exsim over TLS on a compressed
// clock: planned cuts pre-empted by rotations, a switchover and a kill -9 under load, all
// against exsim's ground truth; a stalled line rotated, OKX kept alive through a quiet market;
// the control socket's errors, adoption after the supervisor itself is killed, and shutdown.
#include <doctest/doctest.h>

#include "tests/bus/supervisor/supervisor_test_support.hpp"

using namespace mdbus;
using namespace mdbus::test;

TEST_CASE("mdsupervisor: planned cuts pre-empted by rotations, switchover and kill -9 under load, nothing lost") {
  unique_bus bus;
  temp_dir dir;
  const std::string truth_path = dir.file("truth.bin");
  // Binance cuts connections at 3 s of age; the supervisor rotates at 2 s (margin 1 s), slot B
  // the first time at 1 s, so the two slots' cuts alternate every second.
  exsim_process x(tls({"--rate", "400", "--seed", "11", "--truth-log", truth_path, "--binance-max-age-ms", "3000"}));
  const std::string sock = dir.file("ctl.sock");
  bus_setup b;
  b.binance_policy = {{"max_age_ms", 3000}, {"rotate_margin_ms", 1000}};
  b.supervisor = {{"metrics_port", 0}};
  const std::string config = write_config(dir.file("bus.json"), bus.name(), x.venue_port(), x.binance_rest_port(), x.okx_rest_port(), sock, b);
  supervisor_process sup(config, dir.file("supervisor.log"));
  const std::string ready = sup.log().substr(sup.log().find("MDSUPERVISOR_READY ") + 19);
  const int metrics_port = json::parse(ready.substr(0, ready.find('\n')))["metrics_port"];
  REQUIRE(metrics_port > 0);

  output_log out(segment_name(bus.name(), "out"));
  const std::set<stream_ref> wanted = test_bus_streams();
  REQUIRE_MESSAGE(eventually([&] { return every_stream_delivered(out, wanted, 5); }, 30s),
                  "every stream reaches the output; supervisor log: " << sup.log());

  // A switchover of OKX (no age limit there): the leading slot is rotated, make-before-break.
  const json sw = ctl(sock, {{"cmd", "switchover"}, {"venue", "okx"}});
  REQUIRE(sw["ok"] == true);
  const std::string switched = sw["slot"];
  REQUIRE(eventually([&] {
    out.poll();
    return slot_status(ctl(sock, {{"cmd", "status"}}), "okx", switched)["proactive_rotations"] == 1;
  }));

  // kill -9 of a feeder: a new process within a second.
  const json before = slot_status(ctl(sock, {{"cmd", "status"}}), "binance", "A");
  const int victim = before["pid"];
  const auto killed_at = std::chrono::steady_clock::now();
  REQUIRE(::kill(victim, SIGKILL) == 0);
  REQUIRE(eventually([&] {
    const json s = slot_status(ctl(sock, {{"cmd", "status"}}), "binance", "A");
    return s["pid"].is_number() && s["pid"] != victim;
  }, 5s));
  const auto restart_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at).count();
  CHECK(restart_ms < 1000);
  CHECK(sup.log().find("feeder binance/A died (killed by SIGKILL (signal 9)); restart now") != std::string::npos);

  // Five planned cuts of each Binance slot, all pre-empted.
  REQUIRE_MESSAGE(eventually([&] {
                    out.poll();
                    const json st = ctl(sock, {{"cmd", "status"}});
                    return slot_status(st, "binance", "A")["proactive_rotations"] >= 5 &&
                           slot_status(st, "binance", "B")["proactive_rotations"] >= 5;
                  }, 40s),
                  "five rotations per Binance slot; log: " << sup.log());
  const json st = ctl(sock, {{"cmd", "status"}});
  for (const char* slot : {"A", "B"}) {
    const json s = slot_status(st, "binance", slot);
    INFO("binance/", slot, ": ", s.dump());
    CHECK_MESSAGE(s["forced_reconnects"] == 0, "supervisor log: " << sup.log());
    CHECK(s["restarts"] == (std::string(slot) == "A" ? 1 : 0));
  }
  CHECK(slot_status(st, "okx", "A")["forced_reconnects"] == 0);
  CHECK(slot_status(st, "okx", "B")["forced_reconnects"] == 0);
  CHECK(st["totals"]["gaps"] == 0);

  const truth_totals totals = freeze_and_check_truth(x, out, truth_path, wanted);
  // The venue never cut a connection for its age: every cut was the supervisor's rotation.
  // The output caught up with the truth through whichever slot delivered first; the last
  // rotation's marker sits in the other slot's ring, which the merger may not have read yet
  // (2 cores, a whole parallel test run): wait for it, with a deadline.
  const std::uint64_t rotations = slot_status(st, "binance", "A")["proactive_rotations"].get<std::uint64_t>() +
                                  slot_status(st, "binance", "B")["proactive_rotations"].get<std::uint64_t>();
  CHECK(eventually([&] {
    out.poll();
    return out.slot_statuses["binance rotating age_limit"] >= rotations;
  }, 10s));
  CHECK(out.slot_statuses["binance down remote_close"] == 0);
  CHECK(out.slot_statuses["binance rotating age_limit"] >= 10);
  CHECK(out.slot_statuses["okx rotating operator_request"] == 1);
  CHECK(out.slot_statuses["binance down process_exit"] == 1);
  MESSAGE("supervisor truth run: ", st["slots"][0]["proactive_rotations"], "+", st["slots"][1]["proactive_rotations"],
          " Binance rotations, 1 OKX switchover, 1 feeder kill -9 (new process after ", restart_ms, " ms), ",
          totals.expected, " events expected, ", totals.delivered, " delivered, ", out.gaps.size(), " gap records");

  // The metrics endpoint: valid exposition (promtool), and the numbers the status shows.
  const json final_status = ctl(sock, {{"cmd", "status"}});
  const auto scrape = http_request(metrics_port, "GET", "/metrics");
  REQUIRE(scrape.status == 200);
  const std::string promtool = MDBUS_PROMTOOL;
  REQUIRE_MESSAGE(!promtool.empty(), "promtool not found at configure time: install the Debian package prometheus");
  std::ofstream(dir.file("metrics.prom")) << scrape.body;
  const auto check = run_capture("'" + promtool + "' check metrics < '" + dir.file("metrics.prom") + "' 2>&1");
  INFO("promtool: ", check.out);
  CHECK(check.status == 0);
  for (const char* slot : {"A", "B"}) {
    const std::string line = "mdbus_reconnections_total{bus=\"" + bus.name() + "\",venue=\"binance\",slot=\"" + slot +
                             "\",kind=\"proactive\"} " +
                             std::to_string(slot_status(final_status, "binance", slot)["proactive_rotations"].get<int>());
    INFO("looking for: ", line);
    CHECK(scrape.body.find(line + "\n") != std::string::npos);
  }
  CHECK(scrape.body.find("mdbus_merge_gaps_total{bus=\"" + bus.name() + "\"} 0\n") != std::string::npos);
  CHECK(ctl(sock, {{"cmd", "metrics"}})["text"].get<std::string>().find("mdbus_merge_lead_seconds_bucket") != std::string::npos);

  // SIGTERM: feeders drain, then the merger; the bus's segments and the socket are gone.
  sup.proc->signal(SIGTERM);
  CHECK(sup.proc->wait(20000) == 0);
  CHECK(list_segments(bus.name()).empty());
  CHECK(::access(sock.c_str(), F_OK) != 0);
  const std::string log = sup.log();
  CHECK(log.find("stopping: feeders first") != std::string::npos);
  CHECK(log.find("removed") != std::string::npos);
}

TEST_CASE("mdsupervisor: a stalled line is rotated by the health check and OKX stays up through a quiet market") {
  unique_bus bus;
  temp_dir dir;
  exsim_process x(tls({"--rate", "400", "--okx-idle-timeout-ms", "1000"}));
  const std::string sock = dir.file("ctl.sock");
  bus_setup b;
  // OKX: keepalive well inside exsim's 1 s idle cut. Binance (no idle cut) takes the stall:
  // its feeders' own watchdogs are far out, so what acts is the supervisor's health check
  // (1 s below 10 % of the partner's message rate).
  b.okx_policy = {{"keepalive_ms", 300}, {"pong_timeout_ms", 5000}};
  b.binance_policy = {{"no_data_ms", 20000}, {"pong_timeout_ms", 20000}};
  b.supervisor = {{"health_window_ms", 1000}};
  const std::string config = write_config(dir.file("bus.json"), bus.name(), x.venue_port(), x.binance_rest_port(), x.okx_rest_port(), sock, b);
  supervisor_process sup(config, dir.file("supervisor.log"));
  REQUIRE(eventually([&] {
    const json st = ctl(sock, {{"cmd", "status"}});
    return slot_status(st, "okx", "A")["state"] == "live" && slot_status(st, "okx", "B")["state"] == "live" &&
           slot_status(st, "okx", "A")["msgs_per_s"] > 20 && slot_status(st, "okx", "B")["msgs_per_s"] > 20;
  }, 30s));

  // Quiet market: nothing to push for several idle periods; the pings keep both lines.
  auto keepalives = [&](slot_id s) { return open_status(bus.name(), venue::okx, s).fields().keepalives_sent.load(); };
  const std::uint64_t ka = keepalives(slot_id::a), kb = keepalives(slot_id::b);
  REQUIRE(http_request(x.control_port(), "POST", "/market", R"({"paused":true})").json()["ok"] == true);
  REQUIRE(eventually([&] { return keepalives(slot_id::a) >= ka + 8 && keepalives(slot_id::b) >= kb + 8; }, 20s));
  json st = ctl(sock, {{"cmd", "status"}});
  CHECK(slot_status(st, "okx", "A")["forced_reconnects"] == 0);
  CHECK(slot_status(st, "okx", "B")["forced_reconnects"] == 0);
  CHECK(slot_status(st, "okx", "A")["state"] == "live");
  REQUIRE(http_request(x.control_port(), "POST", "/market", R"({"paused":false})").json()["ok"] == true);

  // Stall the oldest Binance connection (until unstalled): its slot is rotated as unhealthy.
  REQUIRE(eventually([&] {
    st = ctl(sock, {{"cmd", "status"}});
    return slot_status(st, "binance", "A")["msgs_per_s"] > 20 && slot_status(st, "binance", "B")["msgs_per_s"] > 20;
  }, 20s));
  const auto ids = exsim_conn_ids(x, "/stream");
  REQUIRE(ids.size() == 2);
  REQUIRE(exsim_fault(x, {{"type", "stall"}, {"conn", ids[0]}})["ok"] == true);
  REQUIRE_MESSAGE(eventually([&] {
                    st = ctl(sock, {{"cmd", "status"}});
                    return slot_status(st, "binance", "A")["proactive_rotations"].get<int>() +
                               slot_status(st, "binance", "B")["proactive_rotations"].get<int>() == 1;
                  }, 20s),
                  "the stalled slot is rotated; log: " << sup.log());
  CHECK(sup.log().find("unhealthy, rotation queued") != std::string::npos);
  CHECK(sup.log().find("(stale_stream)") != std::string::npos);
  CHECK(slot_status(st, "binance", "A")["forced_reconnects"] == 0);
  CHECK(slot_status(st, "binance", "B")["forced_reconnects"] == 0);
  REQUIRE(eventually([&] {
    st = ctl(sock, {{"cmd", "status"}});
    return slot_status(st, "binance", "A")["state"] == "live" && slot_status(st, "binance", "B")["state"] == "live";
  }));
  sup.proc->signal(SIGTERM);
  CHECK(sup.proc->wait(20000) == 0);
}

TEST_CASE("mdsupervisor: control errors, one supervisor per bus, adoption after kill -9 of the supervisor") {
  unique_bus bus;
  temp_dir dir;
  exsim_process x(tls({"--rate", "200"}));
  const std::string sock = dir.file("ctl.sock");
  bus_setup b;
  b.binance = false;
  const std::string config = write_config(dir.file("bus.json"), bus.name(), x.venue_port(), x.binance_rest_port(), x.okx_rest_port(), sock, b);
  auto sup = std::make_unique<supervisor_process>(config, dir.file("supervisor1.log"));

  CHECK(ctl(sock, {{"cmd", "dance"}})["error"].get<std::string>().find("unknown \"dance\"") != std::string::npos);
  CHECK(ctl(sock, {{"cmd", "rotate"}, {"venue", "bnance"}, {"slot", "A"}})["error"] ==
        "unknown venue \"bnance\" (configured: okx)");
  CHECK(ctl(sock, {{"cmd", "rotate"}, {"venue", "okx"}, {"slot", "C"}})["error"] == "unknown slot \"okx/C\"");
  CHECK(ctl(sock, {{"cmd", "restart"}, {"process", "kernel"}})["ok"] == false);
  CHECK(ctl(sock, {{"cmd", "switchover"}})["error"] == "venue: missing (a string)");
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", sock.c_str());
    REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
    const std::string garbage = "not json\n";
    REQUIRE(::send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL) > 0);
    char buf[256] = {};
    REQUIRE(eventually([&] { return ::recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT) > 0; }));
    CHECK(std::string(buf).find("request is not JSON") != std::string::npos);
    ::close(fd);
  }
  struct stat sst {};
  REQUIRE(::stat(sock.c_str(), &sst) == 0);
  CHECK((sst.st_mode & 0777) == 0600);

  // A second supervisor for the same bus is refused.
  child second({supervisor_binary(), "--config", config}, dir.file("second.log"));
  CHECK(second.wait(10000) == 1);
  CHECK(read_file(dir.file("second.log")).find("another mdsupervisor answers on it") != std::string::npos);

  // Kill the supervisor: its children live on; a new supervisor adopts them (no second copies).
  REQUIRE(eventually([&] {
    const json st = ctl(sock, {{"cmd", "status"}});
    return slot_status(st, "okx", "A")["state"] == "live" && slot_status(st, "okx", "B")["state"] == "live";
  }, 30s));
  const json before = ctl(sock, {{"cmd", "status"}});
  sup->proc->signal(SIGKILL);
  REQUIRE(sup->proc->wait(5000) == 128 + SIGKILL);
  CHECK(running(before["merger"]["pid"].get<int>()));
  sup->leave_children = true;
  sup = std::make_unique<supervisor_process>(config, dir.file("supervisor2.log"));
  const json after = ctl(sock, {{"cmd", "status"}});
  CHECK(after["merger"]["process"] == "adopted");
  CHECK(after["merger"]["pid"] == before["merger"]["pid"]);
  CHECK(slot_status(after, "okx", "A")["process"] == "adopted");
  CHECK(slot_status(after, "okx", "A")["pid"] == slot_status(before, "okx", "A")["pid"]);
  CHECK(sup->log().find("adopted feeder okx/A") != std::string::npos);
  // An adopted feeder that dies is restarted like any other.
  REQUIRE(::kill(slot_status(after, "okx", "B")["pid"].get<int>(), SIGKILL) == 0);
  REQUIRE(eventually([&] {
    const json s = slot_status(ctl(sock, {{"cmd", "status"}}), "okx", "B");
    return s["process"] == "running" && s["pid"] != slot_status(after, "okx", "B")["pid"];
  }, 10s));
  // Told as it is: not "exit status 0" (its wait status went to its real parent, not to us),
  // but what is known: it ended while its status block still said it was live.
  CHECK(sup->log().find("feeder okx/B (adopted) died (ended, exit status unknown (not our child): its status block says live: "
                        "it did not stop cleanly (a signal or a crash))") != std::string::npos);
  CHECK(sup->log().find("(adopted) died (exit status 0)") == std::string::npos);
  sup->proc->signal(SIGTERM);
  CHECK(sup->proc->wait(20000) == 0);
  CHECK(!running(before["merger"]["pid"].get<int>()));  // the adopted merger was stopped too
  CHECK(list_segments(bus.name()).empty());
}
