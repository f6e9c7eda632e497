// mdfeed's steady state costs nothing but CPU: after warm-up the process makes no heap
// allocation at all while messages flow (counted inside the process — malloc is interposed,
// so libwebsockets and OpenSSL are counted too — and exported in the status block), and its
// peak RSS after 10^6 messages stays within 20 MB.
#include <doctest/doctest.h>

#include "tests/feeders/mdfeed/mdfeed_test_support.hpp"

using namespace mdbus;
using namespace mdbus::test;

namespace {

/// A field of /proc/<pid>/status in kB ("VmHWM", "VmRSS"), or -1.
long proc_status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

struct busy_feeder {
  unique_bus bus;
  temp_dir dir;
  exsim_process x;
  std::unique_ptr<feeder_process> f;
  feeder_status_reader st;
  std::unique_ptr<ring_drain> ring;
  std::uint64_t drained = 0;

  explicit busy_feeder(const std::string& rate) : x(tls({"--rate", rate, "--binance-ping-interval-ms", "600000"})) {
    feed_setup s;
    s.bus = bus.name();
    s.venue = "binance";
    s.port = x.venue_port();
    s.binance_rest_port = x.binance_rest_port();
    s.okx_rest_port = x.okx_rest_port();
    s.symbols = {"BTCUSDT", "ETHUSDT"};
    s.channels = {"trade", "aggTrade", "bookTicker", "depth@100ms", "depth20@100ms"};
    f = std::make_unique<feeder_process>(write_config(dir.file("cfg.json"), s), "binance", "A", dir.file("feeder.log"));
    st = open_status(bus.name(), venue::binance, slot_id::a);
    ring = std::make_unique<ring_drain>(feeder_ring_name(bus.name(), venue::binance, slot_id::a));
  }
  /// Reads the ring (as the merger would) until the feeder has received `n` messages.
  bool run_until_messages(std::uint64_t n, std::chrono::seconds timeout) {
    return eventually([&] {
      drained += ring->poll([](const record_view&) {});
      return st.fields().messages.load(std::memory_order_relaxed) >= n;
    }, timeout);
  }
  ~busy_feeder() {
    if (f) f->stop();
  }
};

}  // namespace

TEST_CASE("mdfeed makes no heap allocation per message after warm-up (10^4 messages, counted in the process)") {
  busy_feeder b("4000");
  REQUIRE(b.run_until_messages(10'000, 60s));  // warm-up: connection, TLS, first messages of every stream
  if (b.st.snapshot().alloc_counting == 0) {
    MESSAGE("allocation counting is off in this build (sanitizer): nothing to assert");
    return;
  }
  // The gauge is refreshed every 10 ms tick: read it once it has caught up with a message count.
  auto settled = [&](std::uint64_t& allocations, std::uint64_t& messages) {
    messages = b.st.snapshot().messages;
    const auto t = std::chrono::steady_clock::now() + 30ms;
    while (std::chrono::steady_clock::now() < t) b.ring->poll([](const record_view&) {});
    allocations = b.st.snapshot().allocations;
  };
  std::uint64_t a0 = 0, m0 = 0, a1 = 0, m1 = 0;
  settled(a0, m0);
  REQUIRE(b.run_until_messages(m0 + 10'000, 60s));
  settled(a1, m1);
  const auto s = b.st.snapshot();
  MESSAGE("allocations " << a0 << " at " << m0 << " messages, " << a1 << " at " << m1 << " messages (" << s.records
                         << " records)");
  CHECK(s.alloc_counting == 1);
  CHECK(a0 > 0);  // the counter counts: set-up allocated plenty
  CHECK(m1 - m0 >= 10'000);
  CHECK(a1 == a0);
  CHECK(s.reconnects == 0);
  CHECK(s.parse_errors_total == 0);
}

TEST_CASE("mdfeed peak RSS after 10^6 messages is at most 20 MB") {
  busy_feeder b("50000");
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(b.run_until_messages(1'000'000, 240s));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const long hwm = proc_status_kb(b.f->pid(), "VmHWM");
  const long rss = proc_status_kb(b.f->pid(), "VmRSS");
  const auto s = b.st.snapshot();
  MESSAGE("after " << s.messages << " messages (" << s.bytes / 1'000'000 << " MB of JSON, " << s.records << " records, "
                   << s.ring_overflows << " ring overflows) in " << secs << " s (" << static_cast<long>(s.messages / secs)
                   << " msg/s): VmHWM " << hwm << " kB, VmRSS " << rss << " kB");
  REQUIRE(hwm > 0);
  if (s.alloc_counting == 0) {
    MESSAGE("sanitizer build (shadow memory, quarantine): RSS not judged");
  } else {
    CHECK(hwm <= 20 * 1024);
  }
  CHECK(s.parse_errors_total == 0);
  CHECK(s.reconnects == 0);
}
