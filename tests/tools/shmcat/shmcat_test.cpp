#include "bus/broadcast_ring.hpp"
#include "bus/counters.hpp"
#include "bus/records.hpp"
#include "bus/spsc_ring.hpp"
#include "support/run_capture.hpp"
#include "support/spawn.hpp"
#include "support/unique_bus.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

using namespace mdbus;

namespace {

const std::string kShmcat = MDBUS_SHMCAT;

std::string cmd(const std::string& args) { return kShmcat + " " + args + " 2>&1"; }

trade_record make_trade(std::uint64_t id, const char* symbol) {
  auto t = make_record<trade_record>();
  t.header.venue_id = venue::binance;
  t.header.channel_id = channel::binance_trade;
  t.header.slot = slot_id::a;
  t.header.seq = id;
  t.header.set_symbol(symbol);
  t.set_px({6543210, -2});
  t.set_qty({5, -3});
  t.aggressor = aggressor_side::buy;
  return t;
}

bbo_record make_bbo(std::uint64_t id) {
  auto b = make_record<bbo_record>();
  b.header.venue_id = venue::okx;
  b.header.channel_id = channel::okx_bbo_tbt;
  b.header.slot = slot_id::b;
  b.header.seq = id;
  b.header.set_symbol("BTC-USDT");
  return b;
}

template <class R>
void publish(broadcast_ring_writer& w, const R& r) {
  REQUIRE(w.write(static_cast<std::uint32_t>(R::kType), record_bytes(r)));
}

std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) v.push_back(nlohmann::json::parse(line));
  return v;
}

}  // namespace

TEST_CASE("shmcat list shows each segment of the bus with kind, writer and liveness") {
  test::unique_bus bus;
  auto ring = spsc_ring_writer::create(bus.segment("feed.binance.A"), {1 << 16, 4096});
  auto out = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096});
  const auto r = test::run_capture(cmd("list --bus " + bus.name()));
  CHECK(r.status == 0);
  CHECK(r.out.find("feed.binance.A") != std::string::npos);
  CHECK(r.out.find("spsc_ring") != std::string::npos);
  CHECK(r.out.find("broadcast_ring") != std::string::npos);
  CHECK(r.out.find(std::to_string(getpid())) != std::string::npos);

  const auto j = test::run_capture(kShmcat + " --json list --bus " + bus.name());
  REQUIRE(j.status == 0);
  const auto arr = nlohmann::json::parse(j.out);
  REQUIRE(arr.size() == 2);
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
  SUBCASE("tail of a ring that is not the output ring") {
    auto ring = spsc_ring_writer::create(bus.segment("feed"), {4096, 512});
    const auto r = test::run_capture(cmd("tail " + bus.segment("feed")));
    CHECK(r.status == 4);
    CHECK(r.out.find("is a spsc_ring") != std::string::npos);
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

TEST_CASE("shmcat tail prints the latest records of the output ring, filtered, as text or JSON") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096});
  for (std::uint64_t i = 1; i <= 20; ++i) {
    publish(w, make_trade(1000 + i, "BTCUSDT"));
    publish(w, make_bbo(i));
  }
  const auto all = test::run_capture(kShmcat + " --json tail -n 6 " + bus.segment("out"));
  REQUIRE(all.status == 0);
  const auto lines = json_lines(all.out);
  REQUIRE(lines.size() == 6);
  CHECK(lines.back()["type"] == "bbo");
  CHECK(lines.back()["seq"] == 20);
  CHECK(lines[4]["type"] == "trade");
  CHECK(lines[4]["seq"] == 1020);
  CHECK(lines[4]["symbol"] == "BTCUSDT");
  CHECK(lines[4]["venue"] == "binance");

  const auto trades = test::run_capture(kShmcat + " --json tail -n 40 --type trade --symbol BTCUSDT " + bus.segment("out"));
  REQUIRE(trades.status == 0);
  const auto tl = json_lines(trades.out);
  REQUIRE(tl.size() == 20);
  for (std::size_t k = 0; k < tl.size(); ++k) CHECK(tl[k]["seq"] == 1001 + k);

  const auto text = test::run_capture(cmd("tail -n 1 --venue okx " + bus.segment("out")));
  CHECK(text.status == 0);
  CHECK(text.out.find("BTC-USDT") != std::string::npos);
}

TEST_CASE("shmcat tail -f follows records published after it started") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, 4096});
  publish(w, make_trade(1, "ETHUSDT"));
  const std::string out_file = "/tmp/" + bus.name() + ".tail";
  test::child tail({"/bin/sh", "-c", "exec " + kShmcat + " --json tail -f -n 1 " + bus.segment("out") + " > " + out_file});
  auto count_lines = [&] {
    std::ifstream in(out_file);
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (count_lines() < 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(count_lines() == 1);
  for (std::uint64_t i = 2; i <= 5; ++i) publish(w, make_trade(i, "ETHUSDT"));
  while (count_lines() < 5 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(count_lines() == 5);
  tail.signal(SIGTERM);
  CHECK(tail.wait(10'000) == 0);
  std::remove(out_file.c_str());
}
