// shmcat list, info and counters on segments the test creates; errors and exit codes.
#include "mdbus/broadcast_ring.hpp"
#include "bus/clock.hpp"
#include "bus/counters.hpp"
#include "bus/feeder_block.hpp"
#include "mdbus/reader_table.hpp"
#include "mdbus/records.hpp"
#include "bus/spsc_ring.hpp"
#include "bus/venue_budget.hpp"
#include "support/impostor.hpp"
#include "support/run_capture.hpp"
#include "support/spawn.hpp"
#include "support/unique_bus.hpp"
#include "tests/tools/shmcat/shmcat_test_util.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

using namespace mdbus;

using test::cmd;
using test::eventually;
using test::json_lines;
using test::kShmcat;
using test::make_bbo;
using test::make_trade;
using test::publish;
using test::read_file;

TEST_CASE("shmcat list shows each segment of the bus with kind, writer and liveness") {
  test::unique_bus bus;
  auto ring = spsc_ring_writer::create(bus.segment("feed.binance.A"), {1 << 16, 4096});
  auto out = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096});
  const auto r = test::run_capture(cmd("list --bus " + bus.name()));
  CHECK(r.status == 0);
  CHECK(r.out.find("feed.binance.A") != std::string::npos);
  CHECK(r.out.find("spsc_ring") != std::string::npos);
  CHECK(r.out.find("broadcast_ring") != std::string::npos);
  CHECK(r.out.find("out.readers") != std::string::npos);  // the output ring's reader table
  CHECK(r.out.find("reader_table") != std::string::npos);
  CHECK(r.out.find(std::to_string(getpid())) != std::string::npos);

  const auto j = test::run_capture(kShmcat + " --json list --bus " + bus.name());
  REQUIRE(j.status == 0);
  const auto arr = nlohmann::json::parse(j.out);
  REQUIRE(arr.size() == 3);
  for (const auto& e : arr) {
    CHECK(e["writer_alive"] == true);
    CHECK(e["ok"] == true);
    CHECK(e["layout_version"] == kLayoutVersion);
  }
}

TEST_CASE("shmcat info reports an SPSC ring's positions, fill and overflows") {
  test::unique_bus bus;
  auto ring = spsc_ring_writer::create(bus.segment("feed"), {4096, 512});
  std::vector<std::byte> payload(120);
  for (int i = 0; i < 40; ++i) (void)ring.try_write(1, payload);  // 31 fit (+ the 8-byte end word), 9 overflow
  const auto r = test::run_capture(kShmcat + " --json info " + bus.segment("feed"));
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["kind"] == "spsc_ring");
  CHECK(j["head"] == 31 * 128);
  CHECK(j["tail"] == 0);
  CHECK(j["fill_percent"] == 96.875);
  CHECK(j["overflows"] == 9);
  CHECK(j["reader_attached"] == false);
  CHECK(j["writer_alive"] == true);
  CHECK(j["readers"][0]["lag_bytes"] == 31 * 128);

  // The merger attached and read 10 frames: its lag shrinks; counters naming the ring show up.
  auto reader = spsc_ring_reader::open(bus.segment("feed"));
  CHECK(reader.poll([](const spsc_frame&) {}, 10) == 10);
  auto counters = counters_segment::create(bus.segment("counters"), 8);
  counters.register_counter("feeder_messages_total{ring=\"feed\"}").add(31);
  counters.register_counter("merger_duplicates_total").add(2);
  const auto j2 = nlohmann::json::parse(test::run_capture(kShmcat + " --json info " + bus.segment("feed")).out);
  CHECK(j2["reader_attached"] == true);
  CHECK(j2["readers"][0]["lag_bytes"] == 21 * 128);
  CHECK(j2["fill_bytes"] == 21 * 128);
  CHECK(j2["counters"] == nlohmann::json{{"feeder_messages_total{ring=\"feed\"}", 31}});
}

TEST_CASE("shmcat info reports a venue budget: its limits, what was granted and deferred, the 429s seen") {
  test::unique_bus bus;
  auto b = venue_budget::open_or_create(bus.name(), venue::binance, default_venue_limits(venue::binance));
  REQUIRE(b.try_rest(50).granted());
  REQUIRE(b.try_connect().granted());
  b.note_rest_answer(200, 120, -1);
  const auto r = test::run_capture(kShmcat + " --json info " + bus.segment("budget.binance"));
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(r.out);
  CHECK(j["kind"] == "venue_budget");
  CHECK(j["rest_budget"] == 3000);  // half of Binance's 6000 weight per minute
  CHECK(j["rest_window_ms"] == 60000);
  CHECK(j["rest_granted"] == 1);
  CHECK(j["rest_units_granted"] == 50);
  CHECK(j["last_used_weight_header"] == 120);  // the count was raised to it (rest_in_use, this minute)
  CHECK(j.contains("rest_in_use"));
  CHECK(j["http_429"] == 0);
  CHECK(j["connect_granted"] == 1);
}

TEST_CASE("shmcat info shows a feeder status block's state as written and as observed: a dead writer's live reads as down") {
  test::unique_bus bus;
  const std::string name = feeder_status_name(bus.name(), venue::okx, slot_id::b);
  auto info = [&] {
    const auto r = test::run_capture(kShmcat + " --json info " + name);
    REQUIRE(r.status == 0);
    return nlohmann::json::parse(r.out);
  };
  {
    auto w = feeder_status_writer::create(name, venue::okx, slot_id::b);
    w.set_state(feeder_state::live, slot_reason::none, wall_ns());
    bump(w.fields().messages, 5);
    const auto j = info();
    CHECK(j["kind"] == "status_block");
    CHECK(j["feeder_state"] == "live");
    CHECK(j["feeder_state_written"] == "live");
    CHECK(j["messages"] == 5);
  }  // the writer goes without a word (its lock with it), as a killed feeder does
  const auto j = info();
  CHECK(j["feeder_state_written"] == "live");
  CHECK(j["feeder_state"] == "down");
  CHECK(j["feeder_reason"] == "process_exit");
  CHECK(j["writer_alive"] == false);
}

TEST_CASE("shmcat info reports the output ring's positions, frames held and fill") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {4096, 256});
  for (std::uint64_t i = 0; i < 10; ++i) publish(w, make_trade(i, "BTCUSDT"));  // 144-byte frames
  auto j = nlohmann::json::parse(test::run_capture(kShmcat + " --json info --bus " + bus.name() + " out").out);
  CHECK(j["kind"] == "broadcast_ring");
  CHECK(j["frames_published"] == 10);
  CHECK(j["oldest_seq"] == 0);
  CHECK(j["frames_held"] == 10);
  CHECK(j["head"] == 1440);
  CHECK(j["fill_bytes"] == 1440);
  CHECK(j["readers"] == nlohmann::json::array());  // a reader table, nobody registered
  CHECK_FALSE(j.contains("readers_note"));
  for (std::uint64_t i = 10; i < 100; ++i) publish(w, make_trade(i, "BTCUSDT"));  // wraps: the oldest are gone
  j = nlohmann::json::parse(test::run_capture(kShmcat + " --json info " + bus.segment("out")).out);
  CHECK(j["frames_published"] == 100);
  CHECK(j["oldest_seq"].get<int>() > 70);
  CHECK(j["frames_held"].get<int>() == 100 - j["oldest_seq"].get<int>());
  CHECK(j["fill_percent"].get<double>() <= 100.0);
  const auto text = test::run_capture(cmd("info " + bus.segment("out")));
  CHECK(text.status == 0);
  CHECK(text.out.find("frames_published        100") != std::string::npos);
}

TEST_CASE("shmcat tail -f waits for a segment its creator is still setting up, then follows it") {
  test::unique_bus bus;
  const auto ring = bus.segment("out");
  // The name exists, its header not yet: a creator between shm_open and sizing it (what a
  // follower started right after the bus can meet; scripts/demo did).
  const int fd = ::shm_open(("/" + ring).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  REQUIRE(fd >= 0);
  ::close(fd);
  const test::scratch_file out(bus.name(), "tail-wait");
  test::child tail({"/bin/sh", "-c", "exec " + kShmcat + " tail -f " + ring + " > " + out.path});
  // The writer comes (it judges the empty name abandoned after 100 ms and makes the ring anew).
  auto w = broadcast_ring_writer::create(ring, {4096, 256});
  publish(w, make_trade(7, "BTCUSDT"));
  CHECK(eventually([&] { return read_file(out.path).find("BTCUSDT") != std::string::npos; }));
  CHECK(tail.running());
}

TEST_CASE("shmcat info lists the output ring's registered readers with their lag, liveness and losses") {
  test::unique_bus bus;
  const auto ring = bus.segment("out");
  auto w = broadcast_ring_writer::create(ring, {4096, 256});
  for (std::uint64_t i = 0; i < 10; ++i) publish(w, make_trade(i, "BTCUSDT"));  // 144-byte frames
  // A reader that read 4 of the 10 frames and keeps its line, as the consumer API does.
  auto reader = broadcast_ring_reader::open(ring, start_position::oldest);
  std::vector<std::byte> buf(256);
  for (int i = 0; i < 4; ++i) REQUIRE(reader.try_read(buf).status == broadcast_read_status::ok);
  std::string why;
  auto reg = reader_registration::claim(ring, "bbo_monitor", why);
  REQUIRE_MESSAGE(reg.valid(), why);
  reg.update(reader.position(), reader.next_seq());
  reg.update_losses(1, 3);
  reg.touch(mono_ns());
  // And one that died without unregistering.
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto dead = reader_registration::claim(ring, "crashed", why);
    _exit(dead.valid() ? 0 : 1);  // exits holding the slot
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WEXITSTATUS(status) == 0);

  auto j = nlohmann::json::parse(test::run_capture(kShmcat + " --json info " + ring).out);
  REQUIRE(j["readers"].size() == 2);
  const auto& r = j["readers"][0];
  CHECK(r["name"] == "bbo_monitor");
  CHECK(r["pid"] == getpid());
  CHECK(r["alive"] == true);
  CHECK(r["lag_frames"] == 6);
  CHECK(r["lag_bytes"] == 6 * 144);
  CHECK(r["next_seq"] == 4);
  CHECK(r["laps"] == 1);
  CHECK(r["missed_frames"] == 3);
  CHECK(r["update_age_ns"].get<std::int64_t>() < 60'000'000'000);
  CHECK(j["readers"][1]["name"] == "crashed");
  CHECK(j["readers"][1]["pid"] == pid);
  CHECK(j["readers"][1]["alive"] == false);
  CHECK(j["readers"][1]["lag_frames"] == 10);

  const auto text = test::run_capture(cmd("info " + ring));
  CHECK(text.status == 0);
  CHECK(text.out.find("readers                 2 registered, 64 slots") != std::string::npos);
  CHECK(text.out.find("bbo_monitor") != std::string::npos);
  // shmcat reads through the consumer API but never registers: it writes no byte of the bus.
  {
    const test::scratch_file out(bus.name(), "tail");
    test::child tail({"/bin/sh", "-c", "exec " + kShmcat + " tail -f -n 1 " + ring + " > " + out.path});
    REQUIRE(eventually([&] { return read_file(out.path).find('\n') != std::string::npos; }));  // opened and reading
    CHECK(test::has_mapped(tail.pid(), ring));
    CHECK_FALSE(test::has_mapped(tail.pid(), ring + ".readers"));
    CHECK(nlohmann::json::parse(test::run_capture(kShmcat + " --json info " + ring).out)["readers"].size() == 2);
  }

  // The table on its own: its slots and the same readers, lag against its ring.
  j = nlohmann::json::parse(test::run_capture(kShmcat + " --json info " + ring + ".readers").out);
  CHECK(j["kind"] == "reader_table");
  CHECK(j["slots"] == kReaderTableSlots);
  REQUIRE(j["readers"].size() == 2);
  CHECK(j["readers"][0]["lag_frames"] == 6);

  // A ring whose table is gone: no readers, and why.
  REQUIRE(shm_segment::remove(ring + ".readers"));
  j = nlohmann::json::parse(test::run_capture(kShmcat + " --json info " + ring).out);
  CHECK(j["readers"].is_null());
  CHECK(j["readers_note"] == "no reader table: segment " + ring + ".readers: does not exist (yet)");
}

TEST_CASE("shmcat names the problem and exits 3 / 4 / 5 for missing, incompatible and forbidden segments") {
  test::unique_bus bus;
  SUBCASE("missing") {
    const auto r = test::run_capture(cmd("info " + bus.segment("nothing")));
    CHECK(r.status == 3);
    CHECK(r.out == "shmcat: segment " + bus.segment("nothing") + ": does not exist\n");
  }
  SUBCASE("incompatible layout") {
    auto ring = spsc_ring_writer::create(bus.segment("feed"), {4096, 512});
    reinterpret_cast<segment_header*>(ring.segment().base())->layout_version.store(kLayoutVersion + 1);
    const auto r = test::run_capture(cmd("info " + bus.segment("feed")));
    CHECK(r.status == 4);
    CHECK(r.out.find("layout version " + std::to_string(kLayoutVersion + 1) + ", this build reads") !=
          std::string::npos);
  }
  SUBCASE("tail of a segment that is not a ring") {
    auto c = counters_segment::create(bus.segment("counters"), 8);
    const auto r = test::run_capture(cmd("tail " + bus.segment("counters")));
    CHECK(r.status == 4);
    CHECK(r.out == "shmcat: segment " + bus.segment("counters") + " is a counters; tail reads the output ring or a feeder ring\n");
  }
  SUBCASE("no such bus") {
    const auto l = test::run_capture(cmd("list --bus " + bus.name()));
    CHECK(l.status == 3);
    CHECK(l.out == "shmcat: no such bus '" + bus.name() + "' (no /dev/shm/mdbus." + bus.name() + ".* segment)\n");
    const auto c = test::run_capture(cmd("counters --bus " + bus.name()));
    CHECK(c.status == 3);
    CHECK(c.out.find("no such bus") != std::string::npos);
    const auto t = test::run_capture(cmd("tail --bus " + bus.name() + " out"));
    CHECK(t.status == 3);
    CHECK(t.out.find(bus.segment("out") + ": does not exist") != std::string::npos);
  }
  SUBCASE("incompatible output ring for tail") {
    auto w = broadcast_ring_writer::create(bus.segment("out"), {4096, 256});
    reinterpret_cast<segment_header*>(w.segment().base())->layout_version.store(kLayoutVersion + 1);
    const auto r = test::run_capture(cmd("tail " + bus.segment("out")));
    CHECK(r.status == 4);
    CHECK(r.out.find("this build reads " + std::to_string(kLayoutVersion)) != std::string::npos);
  }
  SUBCASE("usage") {
    CHECK(test::run_capture(cmd("counters")).status == 2);
    auto w = broadcast_ring_writer::create(bus.segment("out"), {4096, 256});
    const auto r = test::run_capture(cmd("tail --venue kraken " + bus.segment("out")));
    CHECK(r.status == 2);
    CHECK(r.out.find("unknown venue 'kraken'") != std::string::npos);
  }
  SUBCASE("permission denied") {
    auto ring = spsc_ring_writer::create(bus.segment("feed"), {4096, 512});
    // root ignores file modes, so as root drop to 'nobody'; otherwise remove our own access.
    std::string prefix;
    if (geteuid() == 0)
      prefix = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
    else
      REQUIRE(chmod(("/dev/shm/" + bus.segment("feed")).c_str(), 0) == 0);
    const auto r = test::run_capture(prefix + cmd("info " + bus.segment("feed")));
    CHECK(r.status == 5);
    CHECK(r.out.find("Permission denied") != std::string::npos);
  }
}

TEST_CASE("shmcat counters lists every counter by name with its value") {
  test::unique_bus bus;
  auto c = counters_segment::create(bus.segment("counters"), 32);
  c.register_counter("merger_duplicates_total{venue=\"okx\"}").add(17);
  c.register_counter("feeder_reconnects_total").add(3);
  const auto r = test::run_capture(kShmcat + " --json counters --bus " + bus.name());
  REQUIRE(r.status == 0);
  const auto arr = nlohmann::json::parse(r.out);
  REQUIRE(arr.size() == 2);
  CHECK(arr[0]["label"] == "merger_duplicates_total{venue=\"okx\"}");
  CHECK(arr[0]["value"] == 17);
  CHECK(arr[1]["value"] == 3);
  const auto text = test::run_capture(cmd("counters --bus " + bus.name()));
  CHECK(text.status == 0);
  CHECK(text.out.find("feeder_reconnects_total") != std::string::npos);
}

TEST_CASE("shmcat counters --watch refreshes with rates until stopped") {
  test::unique_bus bus;
  auto c = counters_segment::create(bus.segment("counters"), 32);
  auto frames = c.register_counter("merger_frames_total");
  frames.add(100);
  const test::scratch_file scratch(bus.name(), "counters");
  const std::string& out = scratch.path;
  test::child watch({"/bin/sh", "-c", "exec " + kShmcat + " --json counters --bus " + bus.name() + " -w --interval 0.05 > " + out});
  // Each refresh is one JSON line; the first has no rate yet, later ones do.
  REQUIRE(eventually([&] { return json_lines(read_file(out)).size() >= 2; }));
  frames.add(1000);
  REQUIRE(eventually([&] {
    const auto lines = json_lines(read_file(out));
    return !lines.empty() && lines.back()[0]["value"] == 1100;
  }));
  const auto lines = json_lines(read_file(out));
  CHECK(lines.front()[0]["rate_per_s"].is_null());
  CHECK(lines.back()[0]["rate_per_s"].is_number());
  bool saw_rise = false;
  for (const auto& l : lines) saw_rise = saw_rise || (l[0]["rate_per_s"].is_number() && l[0]["rate_per_s"].get<double>() > 0);
  CHECK(saw_rise);
  watch.signal(SIGTERM);
  CHECK(watch.wait(10'000) == 0);

  // Text: the screen is cleared and redrawn in place each time.
  test::child text({"/bin/sh", "-c", "exec " + kShmcat + " counters --bus " + bus.name() + " --watch --interval 0.05 > " + out});
  REQUIRE(eventually([&] {
    const std::string t = read_file(out);
    std::size_t n = 0;
    for (auto p = t.find("\x1b[H\x1b[2J"); p != std::string::npos; p = t.find("\x1b[H\x1b[2J", p + 1)) ++n;
    return n >= 2 && t.find("merger_frames_total") != std::string::npos;
  }));
  text.signal(SIGINT);
  CHECK(text.wait(10'000) == 0);
}

// ---- refused headers, geometries and owners (issue 17) -------------------------------------------

TEST_CASE("shmcat info exits 4 with one line for a geometry its kind refuses, never printing it") {
  test::unique_bus bus;
  SUBCASE("output ring") {
    auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096});
    reinterpret_cast<segment_header*>(w.segment().base())->geometry[0] = 3000;  // not a power of two
    const auto r = test::run_capture(cmd("info " + bus.segment("out")));
    CHECK(r.status == 4);
    CHECK(r.out == "shmcat: segment " + bus.segment("out") + ": capacity 3000 must be a power of two >= 4096\n");
  }
  SUBCASE("output ring whose capacity does not match its size") {
    auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096});
    reinterpret_cast<segment_header*>(w.segment().base())->geometry[0] = 1 << 15;
    const auto r = test::run_capture(cmd("--json info " + bus.segment("out")));
    CHECK(r.status == 4);
    CHECK(r.out.find("does not match capacity 32768") != std::string::npos);
    CHECK(r.out.find('{') == std::string::npos);  // no JSON document: nothing was printed from it
  }
  SUBCASE("feeder ring") {
    auto w = spsc_ring_writer::create(bus.segment("feed"), {4096, 512});
    reinterpret_cast<segment_header*>(w.segment().base())->geometry[1] = 4000;  // a frame larger than a quarter
    const auto r = test::run_capture(cmd("info " + bus.segment("feed")));
    CHECK(r.status == 4);
    CHECK(r.out.find("max_payload 4000 must be >= 1 and one frame must fit in a quarter") != std::string::npos);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
  }
  SUBCASE("output ring with a garbage control block") {
    auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096});
    std::memset(static_cast<void*>(w.segment().body()), 0xa5, sizeof(broadcast_ring_control));
    const auto r = test::run_capture(cmd("info " + bus.segment("out")));
    CHECK(r.status == 4);
    CHECK(r.out == "shmcat: segment " + bus.segment("out") +
                       ": control block contradicts the ring: reclaim 0xa5a5a5a5a5a5a5a5 is not a frame position\n");
  }
}

TEST_CASE("shmcat tail of a ring with a garbage control block prints no record and exits 4") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096});
  for (std::uint64_t i = 0; i < 5; ++i) publish(w, make_trade(i, "BTCUSDT"));
  auto* control = reinterpret_cast<broadcast_ring_control*>(w.segment().body());
  control->reclaim.store(control->head.load() + 64);  // past the head: no writer does that
  const auto r = test::run_capture(kShmcat + " tail " + bus.segment("out") + " 2>/dev/null");
  CHECK(r.status == 4);
  CHECK(r.out.empty());
  const auto e = test::run_capture(cmd("tail " + bus.segment("out")));
  CHECK(e.out.find("control block contradicts the ring: reclaim") != std::string::npos);
  CHECK(std::count(e.out.begin(), e.out.end(), '\n') == 1);

  auto f = spsc_ring_writer::create(bus.segment("feed"), {4096, 512});
  reinterpret_cast<spsc_ring_control*>(f.segment().body())->head.store(13);
  const auto t = test::run_capture(cmd("tail " + bus.segment("feed")));
  CHECK(t.status == 4);
  CHECK(t.out == "shmcat: segment " + bus.segment("feed") + ": control block contradicts the ring: head 13 is not a frame position\n");
}

TEST_CASE("shmcat --bus-uid and MDBUS_BUS_UID must be uids") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {4096, 256});
  const auto r = test::run_capture(cmd("--bus-uid nobody info " + bus.segment("out")));
  CHECK(r.status == 2);
  CHECK(r.out == "shmcat: --bus-uid \"nobody\": not a uid\n");
  const auto e = test::run_capture("MDBUS_BUS_UID=x " + cmd("info " + bus.segment("out")));
  CHECK(e.status == 2);
  CHECK(e.out == "shmcat: MDBUS_BUS_UID=\"x\" is not a uid\n");
  // Trusting a uid that does not own the ring refuses it: exit 6, naming both.
  const std::string other = std::to_string(::geteuid() + 1);
  const auto o = test::run_capture(cmd("--bus-uid " + other + " info " + bus.segment("out")));
  CHECK(o.status == 6);
  CHECK(o.out == "shmcat: segment " + bus.segment("out") + ": owned by uid " + std::to_string(::geteuid()) +
                     ", expected uid " + other + ", refused\n");
}

TEST_CASE("hijack: shmcat refuses a well-formed ring another user made under our bus name, unless --bus-uid trusts it") {
  test::require_root_or_skip("a ring of another user");
  test::unique_bus bus;
  const std::string ring = bus.segment("out");
  REQUIRE(test::run_as_impostor([&] {
            try {
              auto w = broadcast_ring_writer::create(ring, {1 << 16, 4096}, 0644);  // readable by all, like a real ring
              for (std::uint64_t i = 0; i < 3; ++i)
                if (!w.write(static_cast<std::uint32_t>(trade_record::kType), record_bytes(make_trade(i, "FAKEUSDT")))) return 1;
              return 0;
            } catch (const segment_error&) {
              return 1;
            }
          }) == 0);
  const std::string line = "shmcat: segment " + ring + ": owned by uid 65534, expected uid 0, refused\n";
  for (const std::string sub : {"info ", "tail ", "tail -f "}) {
    INFO(sub);
    const auto r = test::run_capture(cmd(sub + ring));
    CHECK(r.status == 6);
    CHECK(r.out == line);  // one line, no record
  }
  const auto l = test::run_capture(cmd("list --bus " + bus.name()));
  CHECK(l.status == 0);
  CHECK(l.out.find("65534  ! segment " + ring + ": owned by uid 65534") != std::string::npos);
  // A consumer of that user's bus says whose segments it trusts.
  const auto t = test::run_capture(kShmcat + " --bus-uid 65534 --json info " + ring);
  REQUIRE(t.status == 0);
  CHECK(nlohmann::json::parse(t.out)["owner_uid"] == 65534);
  const auto e = test::run_capture("MDBUS_BUS_UID=65534 " + kShmcat + " --json tail " + ring);
  CHECK(e.status == 0);
  CHECK(json_lines(e.out).size() == 3);
}
