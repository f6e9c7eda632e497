// The supervisor's side of mdfeed: commands on the control word are executed once and
// acknowledged in the status block, and a stopped feeder (command or signal) leaves its ring
// valid for the merger — and for the next feeder of the slot, which adopts it.
#include <doctest/doctest.h>

#include "tests/feeders/mdfeed/mdfeed_test_support.hpp"

using namespace mdbus;
using namespace mdbus::test;

namespace {

struct control_rig {
  unique_bus bus;
  temp_dir dir;
  exsim_process x{tls({"--rate", "1000"})};
  std::string config;
  control_rig() {
    feed_setup s;
    s.bus = bus.name();
    s.venue = "okx";
    s.port = x.venue_port();
    s.binance_rest_port = x.binance_rest_port();
    s.okx_rest_port = x.okx_rest_port();
    s.symbols = {"BTC-USDT"};
    s.channels = {"trades", "bbo-tbt"};
    config = write_config(dir.file("cfg.json"), s);
  }
  feeder_control_writer control() {
    return feeder_control_writer::create(feeder_control_name(bus.name(), venue::okx, slot_id::a), venue::okx, slot_id::a,
                                         1);  // the config's one symbol
  }
};

bool acked(const feeder_status_reader& st, std::uint64_t word, std::chrono::milliseconds t = 5s) {
  return eventually([&] { return st.ack_word() == word; }, t);
}

}  // namespace

TEST_CASE("mdfeed control: disconnect, connect, reconnect and stop are each executed once and acknowledged") {
  control_rig r;
  feeder_process f(r.config, "okx", "A", r.dir.file("feeder.log"));
  auto st = open_status(r.bus.name(), venue::okx, slot_id::a);
  REQUIRE(eventually([&] { return st.state() == feeder_state::live; }, 10s));
  auto ctl = r.control();
  // The feeder finds the block and acknowledges what it holds (nothing) without acting.
  REQUIRE(eventually([&] { return st.snapshot().ack_result == command_result::baseline; }, 5s));
  CHECK(st.ack_word() == 0);

  const auto w1 = ctl.send(feeder_command::disconnect);
  REQUIRE(acked(st, w1));
  CHECK(st.snapshot().ack_result == command_result::accepted);
  REQUIRE(eventually([&] { return st.state() == feeder_state::down; }, 5s));
  const auto down = st.snapshot();
  CHECK(down.reason == slot_reason::operator_request);
  CHECK(down.remote_closes == 0);
  // Down stays down: no reconnect on its own (well past reconnect_min_ms of 50 ms).
  const auto until = std::chrono::steady_clock::now() + 600ms;
  while (std::chrono::steady_clock::now() < until) {
    REQUIRE(st.snapshot().connections == down.connections);
    std::this_thread::sleep_for(5ms);
  }
  CHECK(exsim_conn_ids(r.x, "/ws/v5/public").empty());

  const auto w2 = ctl.send(feeder_command::connect);
  REQUIRE(acked(st, w2));
  REQUIRE(eventually([&] { return st.state() == feeder_state::live; }, 10s));
  CHECK(st.snapshot().connections == down.connections + 1);

  const auto w3 = ctl.send(feeder_command::reconnect);
  REQUIRE(acked(st, w3));
  REQUIRE(eventually([&] { return st.snapshot().connections == down.connections + 2 && st.state() == feeder_state::live; }, 10s));
  CHECK(command_seq(w3) == 3);

  const auto w4 = ctl.send(feeder_command::stop);
  REQUIRE(acked(st, w4));
  CHECK(f.wait(10000) == 0);
  CHECK(st.state() == feeder_state::stopped);
  CHECK(st.snapshot().remote_closes == 0);
}

TEST_CASE("mdfeed control: a command written before the feeder attached is acknowledged, not executed") {
  control_rig r;
  auto ctl = r.control();
  const auto stale = ctl.send(feeder_command::stop);
  feeder_process f(r.config, "okx", "A", r.dir.file("feeder.log"));
  auto st = open_status(r.bus.name(), venue::okx, slot_id::a);
  REQUIRE(acked(st, stale));
  CHECK(st.snapshot().ack_result == command_result::baseline);
  REQUIRE(eventually([&] { return st.state() == feeder_state::live; }, 10s));
  CHECK(f.running());
}

TEST_CASE("mdfeed --start-down waits for a connect command") {
  control_rig r;
  auto ctl = r.control();
  feeder_process f(r.config, "okx", "A", r.dir.file("feeder.log"), {"--start-down"});
  auto st = open_status(r.bus.name(), venue::okx, slot_id::a);
  REQUIRE(eventually([&] { return st.snapshot().ack_result == command_result::baseline; }, 5s));
  CHECK(st.state() == feeder_state::down);
  CHECK(st.snapshot().connections == 0);
  const auto w = ctl.send(feeder_command::connect);
  REQUIRE(acked(st, w));
  REQUIRE(eventually([&] { return st.state() == feeder_state::live; }, 10s));
}

namespace {
void stop_by_signal_keeps_the_ring_valid(int sig) {
  control_rig r;
  std::uint64_t records_before = 0;
  {
    feeder_process f(r.config, "okx", "A", r.dir.file("feeder.log"));
    auto st = open_status(r.bus.name(), venue::okx, slot_id::a);
    REQUIRE(eventually([&] { return st.snapshot().records > 200; }, 10s));
    f.signal(sig);
    CHECK(f.wait(10000) == 0);
    CHECK(st.state() == feeder_state::stopped);
    records_before = st.snapshot().records;
    INFO(f.log());
    CHECK(f.log().find("stopped:") != std::string::npos);
  }
  // The merger's view: every frame readable, each a valid record, the last one the slot's
  // down mark; the writer lock is free (dead writer), nothing half-written.
  ring_drain ring(feeder_ring_name(r.bus.name(), venue::okx, slot_id::a));
  CHECK(ring.reader().segment().writer_state(1'000'000'000, mono_ns()) == writer_liveness::dead);
  std::uint64_t market = 0;
  std::optional<slot_status_record> last_mark;
  bool mark_last = false;
  ring.poll([&](const record_view& v) {
    mark_last = false;
    if (auto s = v.slot_status()) {
      last_mark = *s;
      mark_last = true;
    } else {
      ++market;
    }
  });
  CHECK(ring.invalid() == 0);
  CHECK(ring.corrupt() == 0);
  CHECK(market == records_before);
  REQUIRE(last_mark.has_value());
  CHECK(mark_last);
  CHECK(last_mark->state == slot_state::down);

  // A new feeder for the slot resumes the same ring: the reader carries on, no corruption.
  feeder_process f2(r.config, "okx", "A", r.dir.file("feeder2.log"));
  std::uint64_t more = 0;
  REQUIRE(eventually([&] {
    ring.poll([&](const record_view& v) { more += v.type() == record_type::slot_status ? 0 : 1; });
    return more > 100;
  }, 10s));
  CHECK(ring.corrupt() == 0);
  CHECK(ring.invalid() == 0);
  CHECK(ring.reader().segment().header().writer_epoch.load() == 2);
  CHECK(f2.stop() == 0);
}
}  // namespace

TEST_CASE("mdfeed SIGTERM: clean exit, the ring stays valid and the next feeder of the slot adopts it") {
  stop_by_signal_keeps_the_ring_valid(SIGTERM);
}

TEST_CASE("mdfeed SIGINT: clean exit, the ring stays valid and the next feeder of the slot adopts it") {
  stop_by_signal_keeps_the_ring_valid(SIGINT);
}
