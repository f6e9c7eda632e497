#include "bus/spsc_ring.hpp"

#include "support/frame_pattern.hpp"
#include "support/spawn.hpp"
#include "support/unique_bus.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

using namespace mdbus;

namespace {

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span{s.data(), s.size()}); }
std::string string_of(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

}  // namespace

TEST_CASE("geometry is checked: power-of-two capacity, frames that fit a quarter") {
  CHECK(check_geometry(spsc_ring_geometry{4096, 1000}).empty());
  CHECK(check_geometry(spsc_ring_geometry{1 << 22, 65536}).empty());
  CHECK(check_geometry(spsc_ring_geometry{5000, 100}).find("power of two") != std::string::npos);
  CHECK(check_geometry(spsc_ring_geometry{2048, 100}).find("power of two >= 4096") != std::string::npos);
  CHECK(check_geometry(spsc_ring_geometry{4096, 1024}).find("quarter") != std::string::npos);
  CHECK(check_geometry(spsc_ring_geometry{4096, 0}).find("max_payload 0") != std::string::npos);
  CHECK(check_geometry(spsc_ring_geometry{std::uint64_t{1} << 50, 10}).find("absurd") != std::string::npos);
}

TEST_CASE("positions: what a writer and reader leave passes, what none makes is refused") {
  const spsc_ring_geometry g{4096, 512};
  CHECK(check_control({0, 0}, g, true).empty());
  CHECK(check_control({4096, 8192}, g, true).empty());  // a full ring
  CHECK(check_control({3, 8}, g, false) == "tail 3 is not a frame position");
  CHECK(check_control({0, 12}, g, false) == "head 12 is not a frame position");
  CHECK(check_control({16, 8}, g, false) == "tail 16 is past head 8");
  CHECK(check_control({0, 8192}, g, false).empty());  // tail may have moved since it was loaded
  CHECK(check_control({0, 8192}, g, true) == "head 8192 is more than the capacity past tail 0");
}

TEST_CASE("the reader refuses a ring whose positions no writer could have made") {
  test::unique_bus bus;
  auto w = spsc_ring_writer::create(bus.segment("r"), {4096, 512});
  auto* control = reinterpret_cast<spsc_ring_control*>(w.segment().body());
  control->tail.store(64);  // garbage: past the head (0)
  CHECK_THROWS_WITH_AS(spsc_ring_reader::open(bus.segment("r")),
                       ("segment " + bus.segment("r") + ": control block contradicts the ring: tail 64 is past head 0").c_str(),
                       segment_error);
}

TEST_CASE("frames come out in order with their type and bytes, an empty ring says empty") {
  test::unique_bus bus;
  auto w = spsc_ring_writer::create(bus.segment("r"), {4096, 512});
  auto r = spsc_ring_reader::open(bus.segment("r"));
  spsc_frame f;
  CHECK(r.peek(f) == spsc_read_status::empty);
  REQUIRE(w.try_write(7, bytes_of("hello")));
  REQUIRE(w.try_write(9, bytes_of("")));
  REQUIRE(r.peek(f) == spsc_read_status::ok);
  CHECK(f.type == 7);
  CHECK(string_of(f.payload) == "hello");
  CHECK(r.peek(f) == spsc_read_status::ok);  // peek does not consume
  CHECK(string_of(f.payload) == "hello");
  r.release();
  REQUIRE(r.peek(f) == spsc_read_status::ok);
  CHECK(f.type == 9);
  CHECK(f.payload.empty());
  r.release();
  CHECK(r.peek(f) == spsc_read_status::empty);
  CHECK(r.backlog() == 0);
}

TEST_CASE("claim and commit write in place and may use fewer bytes than claimed") {
  test::unique_bus bus;
  auto w = spsc_ring_writer::create(bus.segment("r"), {4096, 512});
  auto r = spsc_ring_reader::open(bus.segment("r"));
  auto buf = w.try_claim(300);
  REQUIRE(buf.size() == 300);
  std::memcpy(buf.data(), "abc", 3);
  w.commit(3, 3);
  spsc_frame f;
  REQUIRE(r.peek(f) == spsc_read_status::ok);
  CHECK(string_of(f.payload) == "abc");
}

TEST_CASE("wrap-around with random frame sizes keeps every byte and the order") {
  test::unique_bus bus;
  constexpr std::uint32_t kMax = 1000;
  auto w = spsc_ring_writer::create(bus.segment("r"), {4096, kMax});
  auto r = spsc_ring_reader::open(bus.segment("r"));
  std::mt19937_64 rng(42);
  std::vector<std::byte> buf(kMax);
  std::uint64_t written = 0, read = 0;
  for (int round = 0; round < 20000; ++round) {
    const int writes = static_cast<int>(rng() % 4);
    for (int i = 0; i < writes; ++i) {
      const std::uint32_t len = test::pattern_length(written, kMax);
      test::fill_pattern({buf.data(), len}, written);
      if (!w.try_write(1, {buf.data(), len})) break;
      ++written;
    }
    const int reads = static_cast<int>(rng() % 4);
    for (int i = 0; i < reads; ++i) {
      spsc_frame f;
      const auto st = r.peek(f);
      REQUIRE(st != spsc_read_status::corrupt);
      if (st == spsc_read_status::empty) break;
      REQUIRE(test::check_pattern(f.payload, read, kMax));
      r.release();
      ++read;
    }
  }
  CHECK(written > 10000);  // the ring wrapped thousands of times
  CHECK(read + 4 >= written / 2);
}

TEST_CASE("a full ring refuses and counts the write, never overwrites, and accepts again once read") {
  test::unique_bus bus;
  auto w = spsc_ring_writer::create(bus.segment("r"), {4096, 512});
  auto r = spsc_ring_reader::open(bus.segment("r"));
  std::vector<std::byte> buf(120);  // 128-byte frames: 31 fit (the last 8 bytes hold the end-of-frames word)
  int accepted = 0;
  for (std::uint64_t i = 0; i < 40; ++i) {
    std::memcpy(buf.data(), &i, 8);
    if (w.try_write(1, buf)) ++accepted;
  }
  CHECK(accepted == 31);
  CHECK(w.overflows() == 9);
  std::uint64_t expect = 0;
  CHECK(r.poll([&](const spsc_frame& f) {
          std::uint64_t got;
          std::memcpy(&got, f.payload.data(), 8);
          CHECK(got == expect++);
        }, 1000) == 31);
  CHECK(w.try_write(1, buf));
}

TEST_CASE("an oversize frame is refused and counted separately") {
  test::unique_bus bus;
  auto w = spsc_ring_writer::create(bus.segment("r"), {4096, 512});
  std::vector<std::byte> big(513);
  CHECK_FALSE(w.try_write(1, big));
  CHECK(w.try_claim(513).empty());
  const auto& c = *reinterpret_cast<const spsc_ring_control*>(w.segment().body());
  CHECK(c.oversize.load() == 2);
  CHECK(c.overflows.load() == 0);
}

TEST_CASE("only one reader may attach") {
  test::unique_bus bus;
  auto w = spsc_ring_writer::create(bus.segment("r"), {4096, 512});
  auto r = spsc_ring_reader::open(bus.segment("r"));
  CHECK_THROWS_WITH_AS(spsc_ring_reader::open(bus.segment("r")), doctest::Contains("already has a reader"),
                       segment_error);
}

TEST_CASE("a restarted writer and a restarted reader resume where they were") {
  test::unique_bus bus;
  const auto name = bus.segment("r");
  std::vector<std::byte> buf(100);
  auto w = std::make_unique<spsc_ring_writer>(spsc_ring_writer::create(name, {4096, 512}));
  auto r = std::make_unique<spsc_ring_reader>(spsc_ring_reader::open(name));
  for (std::uint64_t i = 0; i < 10; ++i) {
    test::fill_pattern({buf.data(), test::pattern_length(i, 100)}, i);
    REQUIRE(w->try_write(1, {buf.data(), test::pattern_length(i, 100)}));
  }
  std::uint64_t next = 0;
  CHECK(r->poll([&](const spsc_frame& f) { CHECK(test::check_pattern(f.payload, next++, 100)); }, 4) == 4);
  w.reset();
  r.reset();
  w = std::make_unique<spsc_ring_writer>(spsc_ring_writer::create(name, {4096, 512}));
  r = std::make_unique<spsc_ring_reader>(spsc_ring_reader::open(name));
  for (std::uint64_t i = 10; i < 20; ++i) {
    test::fill_pattern({buf.data(), test::pattern_length(i, 100)}, i);
    REQUIRE(w->try_write(1, {buf.data(), test::pattern_length(i, 100)}));
  }
  CHECK(r->poll([&](const spsc_frame& f) { CHECK(test::check_pattern(f.payload, next++, 100)); }, 100) == 16);
  CHECK(next == 20);
}

TEST_CASE("a frame header that lies about its length is reported corrupt, not read past") {
  test::unique_bus bus;
  auto w = spsc_ring_writer::create(bus.segment("r"), {4096, 512});
  auto r = spsc_ring_reader::open(bus.segment("r"));
  REQUIRE(w.try_write(1, bytes_of("abcdefgh")));
  auto* h = reinterpret_cast<spsc_frame_header*>(w.segment().base() + kSpscDataOffset);
  spsc_frame f;
  SUBCASE("longer than max_payload") { h->length = 100000; }
  SUBCASE("past the end of the buffer") {
    std::vector<std::byte> p(56);
    for (int i = 0; i < 62; ++i) REQUIRE(w.try_write(1, p));  // frames end at 16 + 62 * 64 = 3984
    CHECK(r.poll([](const spsc_frame&) {}, 100) == 63);
    h = reinterpret_cast<spsc_frame_header*>(w.segment().base() + kSpscDataOffset + 3984);
    h->length = 200;  // a 208-byte frame in the last 112 bytes
    h->type = 1;
  }
  SUBCASE("bad padding") {
    h->type = kPaddingType;
    h->length = 16;
  }
  CHECK(r.peek(f) == spsc_read_status::corrupt);
}

TEST_CASE("two threads pass 10^6 frames with every byte intact (run under TSan too)") {
  test::unique_bus bus;
  constexpr std::uint32_t kMax = 256;
  auto w = spsc_ring_writer::create(bus.segment("r"), {1 << 16, kMax});
  auto r = spsc_ring_reader::open(bus.segment("r"));
  constexpr std::uint64_t kFrames = 1'000'000;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::atomic<bool> give_up{false};
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kFrames && !give_up.load(std::memory_order_relaxed);) {
      const std::uint32_t len = test::pattern_length(i, kMax);
      auto dst = w.try_claim(len);
      if (dst.empty()) {
        std::this_thread::yield();
        continue;
      }
      test::fill_pattern(dst, i);
      w.commit(2, len);
      ++i;
    }
  });
  std::uint64_t next = 0;
  bool ok = true;
  while (next < kFrames && std::chrono::steady_clock::now() < deadline) {
    if (r.poll([&](const spsc_frame& f) { ok = ok && test::check_pattern(f.payload, next++, kMax); }, 64) == 0)
      std::this_thread::yield();
  }
  give_up.store(true, std::memory_order_relaxed);
  producer.join();
  CHECK(ok);
  CHECK(next == kFrames);
}

TEST_CASE("across processes: 10^7 frames, every byte checked, none lost, in order") {
  test::unique_bus bus;
  const auto name = bus.segment("xproc");
  constexpr std::uint32_t kMax = 200;
  constexpr std::uint64_t kFrames = 10'000'000;
  // The child creates the ring (it is the writer); we attach as the reader once it exists.
  test::child writer({MDBUS_RING_PEER, "spsc-writer", name, std::to_string(kFrames), std::to_string(kMax)});
  auto r = spsc_ring_reader::open(name, 10'000);
  std::uint64_t next = 0, bad = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (next < kFrames && std::chrono::steady_clock::now() < deadline) {
    const auto n = r.poll([&](const spsc_frame& f) {
      if (!test::check_pattern(f.payload, next, kMax) || f.type != 1) ++bad;
      ++next;
    }, 256);
    REQUIRE(r.last_status() != spsc_read_status::corrupt);
    if (n == 0) std::this_thread::yield();
  }
  CHECK(writer.wait(30'000) == 0);
  CHECK(next == kFrames);
  CHECK(bad == 0);
}
