#include "mdbus/broadcast_ring.hpp"

#include "support/frame_pattern.hpp"
#include "support/spawn.hpp"
#include "support/unique_bus.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

using namespace mdbus;

namespace {

constexpr std::uint64_t kCap = 4096;

// Frames of exactly 128 ring bytes (16 header + 112 payload): 32 make one ring.
void write_fixed(broadcast_ring_writer& w, std::uint64_t seq) {
  std::vector<std::byte> buf(112);
  test::fill_pattern(buf, seq);
  REQUIRE(w.write(1, buf));
}

bool read_fixed(broadcast_ring_reader& r, std::uint64_t expect_seq) {
  std::vector<std::byte> buf(112);
  const auto res = r.try_read(buf);
  if (res.status != broadcast_read_status::ok || res.seq != expect_seq || res.length != 112) return false;
  std::uint64_t got;
  std::memcpy(&got, buf.data(), 8);
  return got == expect_seq;
}

/// A thread publishing pattern frames 0..frames-1 as fast as it can, never waiting for a
/// reader; `done` is set after the last.
std::thread free_running_writer(broadcast_ring_writer& w, std::uint64_t frames, std::uint32_t max_len,
                                std::atomic<bool>& done) {
  return std::thread([&w, &done, frames, max_len] {
    std::vector<std::byte> buf(max_len);
    for (std::uint64_t i = 0; i < frames; ++i) {
      const auto len = test::pattern_length(i, max_len);
      test::fill_pattern({buf.data(), len}, i);
      (void)w.write(1, {buf.data(), len});
    }
    done.store(true);
  });
}

}  // namespace

TEST_CASE("broadcast geometry is checked like the SPSC ring's") {
  CHECK(check_geometry(broadcast_ring_geometry{kCap, 1000}).empty());
  CHECK_FALSE(check_geometry(broadcast_ring_geometry{kCap, 1024}).empty());
  CHECK_FALSE(check_geometry(broadcast_ring_geometry{3000, 10}).empty());
}

TEST_CASE("control words: every state a writer leaves passes, positions no writer makes are refused") {
  CHECK(check_control({}).empty());                              // created, nothing published
  CHECK(check_control({0, 1, 128, 1}).empty());                  // one frame at 0
  CHECK(check_control({512, 4097, 4224, 40}).empty());           // lapped once, reclaim moved
  CHECK(check_control({0, 0, 128, 1}).empty());                  // a reader may load last_frame before the first store
  CHECK(check_control({5, 1, 128, 1}) == "reclaim 0x5 is not a frame position");
  CHECK(check_control({0, 1, 0xa5a5a5a5a5a5a5a5, 1}) == "head 0xa5a5a5a5a5a5a5a5 is not a frame position");
  CHECK(check_control({0, 8, 128, 1}) == "last frame 0x7 is not a frame position");
  CHECK(check_control({256, 1, 128, 1}) == "reclaim 0x100 is past head 0x80");
  CHECK(check_control({0, 129, 128, 1}) == "last frame 0x80 is not below head 0x80");
  CHECK(check_control({0, 1, 128, 0}) == "a last frame but no sequence published");
}

TEST_CASE("a reader refuses a ring whose control block contradicts it, before reading a frame") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kCap, 256});
  for (std::uint64_t i = 0; i < 5; ++i) write_fixed(w, i);
  auto* control = reinterpret_cast<broadcast_ring_control*>(w.segment().body());
  const std::uint64_t head = control->head.load();
  control->reclaim.store(head + 16);  // garbage: past the head
  broadcast_ring_reader r;
  std::string why;
  CHECK(broadcast_ring_reader::try_open(bus.segment("out"), r, why, start_position::oldest) == attach_status::incompatible);
  CHECK(why == "segment " + bus.segment("out") + ": control block contradicts the ring: reclaim 0x290 is past head 0x280");
  std::memset(static_cast<void*>(control), 0xa5, sizeof *control);  // all garbage
  CHECK_THROWS_WITH_AS(broadcast_ring_reader::open(bus.segment("out")),
                       doctest::Contains("control block contradicts the ring: reclaim 0xa5a5a5a5a5a5a5a5 is not a frame position"),
                       segment_error);
}

TEST_CASE("readers start at the oldest frame or after the newest, and see frames in order") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kCap, 256});
  for (std::uint64_t i = 0; i < 5; ++i) write_fixed(w, i);
  auto oldest = broadcast_ring_reader::open(bus.segment("out"), start_position::oldest);
  auto newest = broadcast_ring_reader::open(bus.segment("out"), start_position::newest);
  std::vector<std::byte> buf(256);
  CHECK(newest.try_read(buf).status == broadcast_read_status::empty);
  for (std::uint64_t i = 0; i < 5; ++i) CHECK(read_fixed(oldest, i));
  CHECK(oldest.try_read(buf).status == broadcast_read_status::empty);
  write_fixed(w, 5);
  CHECK(read_fixed(oldest, 5));
  CHECK(read_fixed(newest, 5));
}

TEST_CASE("a reader on an empty ring sees the first frame ever written") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kCap, 256});
  auto r = broadcast_ring_reader::open(bus.segment("out"), start_position::newest);
  write_fixed(w, 0);
  CHECK(read_fixed(r, 0));
}

TEST_CASE("a reader one frame short of a full ring behind is not lapped and reads everything") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kCap, 256});
  auto r = broadcast_ring_reader::open(bus.segment("out"), start_position::oldest);
  for (std::uint64_t i = 0; i < 31; ++i) write_fixed(w, i);
  for (std::uint64_t i = 0; i < 31; ++i) CHECK(read_fixed(r, i));
}

TEST_CASE("a reader lapped by exactly one ring is told so, learns what it missed, and resumes at the oldest") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kCap, 256});
  auto r = broadcast_ring_reader::open(bus.segment("out"), start_position::oldest);
  for (std::uint64_t i = 0; i < 32; ++i) write_fixed(w, i);
  std::vector<std::byte> buf(256);
  const auto res = r.try_read(buf);
  REQUIRE(res.status == broadcast_read_status::lapped);
  CHECK(res.missed_frames > 0);
  CHECK(res.missed_frames < 32);
  CHECK(res.missed_bytes == res.missed_frames * 128);
  CHECK(r.next_seq() == res.missed_frames);
  for (std::uint64_t i = res.missed_frames; i < 32; ++i) CHECK(read_fixed(r, i));
  CHECK(r.try_read(buf).status == broadcast_read_status::empty);
}

TEST_CASE("a reader lapped by many rings is told so, and can resume at the newest") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kCap, 256});
  auto oldest_policy = broadcast_ring_reader::open(bus.segment("out"), start_position::oldest, lap_policy::resume_oldest);
  auto newest_policy = broadcast_ring_reader::open(bus.segment("out"), start_position::oldest, lap_policy::resume_newest);
  for (std::uint64_t i = 0; i < 32 * 10 + 7; ++i) write_fixed(w, i);
  std::vector<std::byte> buf(256);
  auto res = newest_policy.try_read(buf);
  REQUIRE(res.status == broadcast_read_status::lapped);
  CHECK(res.missed_frames == 327);
  CHECK(newest_policy.try_read(buf).status == broadcast_read_status::empty);
  res = oldest_policy.try_read(buf);
  REQUIRE(res.status == broadcast_read_status::lapped);
  CHECK(res.missed_frames > 32 * 9);
  for (std::uint64_t i = res.missed_frames; i < 327; ++i) CHECK(read_fixed(oldest_policy, i));
}

TEST_CASE("variable sizes with padding at the wrap, across many laps, stay byte-exact") {
  test::unique_bus bus;
  constexpr std::uint32_t kMax = 1000;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kCap, kMax});
  auto r = broadcast_ring_reader::open(bus.segment("out"), start_position::oldest);
  std::vector<std::byte> buf(kMax);
  std::uint64_t seq = 0;
  for (int round = 0; round < 5000; ++round) {
    for (int k = 0; k < 2; ++k, ++seq) {
      const auto len = test::pattern_length(seq, kMax);
      test::fill_pattern({buf.data(), len}, seq);
      REQUIRE(w.write(3, {buf.data(), len}));
    }
    for (int k = 0; k < 2; ++k) {
      const auto res = r.try_read(buf);
      REQUIRE(res.status == broadcast_read_status::ok);
      CHECK(res.type == 3);
      REQUIRE(test::check_pattern({buf.data(), res.length}, res.seq, kMax));
    }
  }
  CHECK(r.next_seq() == seq);
}

TEST_CASE("a buffer too small for the frame is reported with the size needed and nothing is consumed") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kCap, 256});
  auto r = broadcast_ring_reader::open(bus.segment("out"), start_position::oldest);
  write_fixed(w, 0);
  std::vector<std::byte> small(50);
  const auto res = r.try_read(small);
  CHECK(res.status == broadcast_read_status::too_small);
  CHECK(res.length == 112);
  CHECK(read_fixed(r, 0));
}

TEST_CASE("oversize frames and the padding type are refused by the writer") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kCap, 256});
  std::vector<std::byte> big(257);
  CHECK_FALSE(w.write(1, big));
  CHECK_FALSE(w.write(kPaddingType, std::span<const std::byte>{}));
}

TEST_CASE("a restarted writer continues the sequence and readers carry on without a gap") {
  test::unique_bus bus;
  const auto name = bus.segment("out");
  auto w = std::make_unique<broadcast_ring_writer>(broadcast_ring_writer::create(name, {kCap, 256}));
  auto r = broadcast_ring_reader::open(name, start_position::oldest);
  for (std::uint64_t i = 0; i < 20; ++i) write_fixed(*w, i);
  w.reset();
  w = std::make_unique<broadcast_ring_writer>(broadcast_ring_writer::create(name, {kCap, 256}));
  CHECK(w->next_seq() == 20);
  CHECK(w->segment().header().writer_epoch.load() == 2);
  for (std::uint64_t i = 20; i < 60; ++i) write_fixed(*w, i);
  std::vector<std::byte> buf(256);
  auto res = r.try_read(buf);
  REQUIRE(res.status == broadcast_read_status::lapped);  // 60 frames > one ring
  for (std::uint64_t i = res.missed_frames; i < 60; ++i) CHECK(read_fixed(r, i));
}

TEST_CASE("consumers map the output ring read-only: a stray write kills the consumer, not the bus") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kCap, 256});
  write_fixed(w, 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::signal(SIGSEGV, SIG_DFL);  // let the kernel kill us, as it would a real consumer
    auto r = broadcast_ring_reader::open(bus.segment("out"));
    auto* p = const_cast<std::byte*>(r.segment().base());
    p[kBroadcastDataOffset] = std::byte{1};  // must fault
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGSEGV);
  auto r = broadcast_ring_reader::open(bus.segment("out"), start_position::oldest);
  CHECK(read_fixed(r, 0));
}

TEST_CASE("threads: a free-running writer, a fast and a slow reader, no torn frame ever reaches a caller") {
  test::unique_bus bus;
  constexpr std::uint32_t kMax = 300;
  constexpr std::uint64_t kFrames = 400'000;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 16, kMax});
  std::atomic<int> ready{0};
  auto reader = [&](bool slow, std::uint64_t& got, std::uint64_t& missed, std::uint64_t& laps, std::uint64_t& bad) {
    auto r = broadcast_ring_reader::open(bus.segment("out"), start_position::oldest);
    std::vector<std::byte> buf(kMax);
    std::uint64_t expected = 0;
    ready.fetch_add(1);
    while (r.next_seq() < kFrames) {
      const auto res = r.try_read(buf);
      if (res.status == broadcast_read_status::ok) {
        if (!test::check_pattern({buf.data(), res.length}, res.seq, kMax)) ++bad;
        if (res.seq != expected) ++bad;  // a frame skipped without a lap report
        expected = res.seq + 1;
        ++got;
        if (slow && got % 16 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
      } else if (res.status == broadcast_read_status::lapped) {
        ++laps;
        missed += res.missed_frames;
        expected = r.next_seq();
      } else if (res.status != broadcast_read_status::empty) {
        ++bad;
      }
    }
  };
  std::uint64_t got[2] = {}, missed[2] = {}, laps[2] = {}, bad[2] = {};
  std::thread fast([&] { reader(false, got[0], missed[0], laps[0], bad[0]); });
  std::thread slow([&] { reader(true, got[1], missed[1], laps[1], bad[1]); });
  std::vector<std::byte> buf(kMax);
  while (ready.load() < 2) std::this_thread::yield();  // both attached at seq 0 before the first write
  for (std::uint64_t i = 0; i < kFrames; ++i) {
    const auto len = test::pattern_length(i, kMax);
    test::fill_pattern({buf.data(), len}, i);
    REQUIRE(w.write(1, {buf.data(), len}));
  }
  fast.join();
  slow.join();
  for (int k = 0; k < 2; ++k) {
    CHECK(bad[k] == 0);
    CHECK(got[k] + missed[k] == kFrames);
  }
  CHECK(laps[1] > 0);
}

TEST_CASE("across processes: 10^7 frames to 3 reader processes, the slow one is lapped, the others never") {
  test::unique_bus bus;
  const auto ring = bus.segment("out");
  const auto progress = bus.segment("progress");
  constexpr std::uint64_t kFrames = 10'000'000;
  const std::string frames = std::to_string(kFrames);
  segment_spec spec;
  spec.name = progress;
  spec.kind = segment_kind::control_block;
  spec.total_size = kSegmentHeaderSize + 4 * kCacheLine;
  auto prog = shm_segment::create_or_adopt(spec);

  test::child writer({MDBUS_RING_PEER, "bcast-writer", ring, frames, "200", progress, "2"});
  const std::string out_dir = "/tmp/" + bus.name();
  auto reader = [&](int slot, bool slow) {
    return std::make_unique<test::child>(std::vector<std::string>{
        "/bin/sh", "-c",
        std::string(MDBUS_RING_PEER) + " bcast-reader " + ring + " " + frames + " 200 " + progress + " " +
            std::to_string(slot) + " " + (slow ? "1" : "0") + " > " + out_dir + "." + std::to_string(slot)});
  };
  auto fast0 = reader(0, false);
  auto fast1 = reader(1, false);
  auto slow = reader(2, true);
  CHECK(writer.wait(240'000) == 0);
  const int rc0 = fast0->wait(60'000), rc1 = fast1->wait(60'000), rc2 = slow->wait(240'000);
  auto summary = [&](int slot) {
    std::ifstream in(out_dir + "." + std::to_string(slot));
    std::stringstream ss;
    ss << in.rdbuf();
    std::remove((out_dir + "." + std::to_string(slot)).c_str());
    return ss.str();
  };
  const std::string s0 = summary(0), s1 = summary(1), s2 = summary(2);
  INFO("fast0: " << s0 << "fast1: " << s1 << "slow: " << s2);
  CHECK(rc0 == 0);
  CHECK(rc1 == 0);
  CHECK(rc2 == 0);
  CHECK(s0.find("frames=" + frames + " laps=0 missed=0 bad=0") != std::string::npos);
  CHECK(s1.find("frames=" + frames + " laps=0 missed=0 bad=0") != std::string::npos);
  CHECK(s2.find(" bad=0") != std::string::npos);
  CHECK(s2.find(" laps=0") == std::string::npos);
}

TEST_CASE("stale payload bytes equal to the next expected stamp are never taken for a frame") {
  // One lap of big frames whose payload words all equal 6, then small frames: a reader at
  // the live edge expecting stamp 6 sits on a stale payload word of exactly 6. Only the
  // writer's zeroing of the next header slot keeps it from reading garbage as a frame.
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kCap, 1000});
  std::vector<std::uint64_t> words(125, 6);  // 1000 bytes
  for (int i = 0; i < 4; ++i) REQUIRE(w.write(1, std::as_bytes(std::span{words})));  // 4 × 1024 = one lap
  auto r = broadcast_ring_reader::open(bus.segment("out"), start_position::newest);
  REQUIRE(r.next_seq() == 4);
  const std::uint64_t small = 42;
  REQUIRE(w.write(2, std::as_bytes(std::span{&small, 1})));  // at index 0; the next header goes at index 32
  std::vector<std::byte> buf(1000);
  auto res = r.try_read(buf);
  REQUIRE(res.status == broadcast_read_status::ok);
  CHECK(res.seq == 4);
  res = r.try_read(buf);
  CHECK(res.status == broadcast_read_status::empty);
}

TEST_CASE("a reader racing the writer on a tiny ring is lapped constantly yet never handed a torn frame") {
  // Resuming at the oldest intact frame puts the reader right where the writer overwrites
  // next, so copies are overtaken mid-way all the time: only the check after the copy
  // keeps those bytes from the caller.
  test::unique_bus bus;
  constexpr std::uint32_t kMax = 1000;
  constexpr std::uint64_t kFrames = 2'000'000;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kCap, kMax});
  auto r = broadcast_ring_reader::open(bus.segment("out"), start_position::oldest, lap_policy::resume_oldest);
  std::atomic<bool> done{false};
  std::thread writer = free_running_writer(w, kFrames, kMax, done);
  std::vector<std::byte> buf(kMax);
  std::uint64_t got = 0, missed = 0, laps = 0, bad = 0, expected = 0;
  while (!done.load() || r.next_seq() < kFrames) {
    const auto res = r.try_read(buf);
    if (res.status == broadcast_read_status::ok) {
      if (!test::check_pattern({buf.data(), res.length}, res.seq, kMax) || res.seq != expected) ++bad;
      expected = res.seq + 1;
      ++got;
    } else if (res.status == broadcast_read_status::lapped) {
      ++laps;
      missed += res.missed_frames;
      expected = r.next_seq();
    } else if (res.status != broadcast_read_status::empty) {
      ++bad;
    }
  }
  writer.join();
  INFO("got " << got << " laps " << laps << " missed " << missed);
  CHECK(bad == 0);
  CHECK(got + missed == kFrames);
  CHECK(laps > 0);
}

namespace {

/// The first n bytes of `head` are the start of frame `seq` (fill_pattern).
bool check_prefix(std::span<const std::byte> head, std::uint64_t seq) {
  std::uint64_t got = 0;
  std::memcpy(&got, head.data(), head.size() < 8 ? head.size() : 8);
  if (head.size() >= 8 && got != seq) return false;
  for (std::size_t i = 8; i < head.size(); ++i)
    if (head[i] != test::pattern_byte(seq, i)) return false;
  return true;
}

/// A filtering reader's tally: frames whose sequence is 3 mod 10 are wanted (one "symbol"
/// in ten), the rest skipped after a peek at their first 80 bytes.
struct filter_tally {
  std::uint64_t got = 0, skipped = 0, missed = 0, laps = 0, bad = 0, expected = 0;
  static bool wanted(std::uint64_t seq) { return seq % 10 == 3; }

  /// One read step; false when the ring was empty.
  bool step(broadcast_ring_reader& r, std::span<std::byte> buf, std::uint32_t max_len) {
    const auto peek = r.try_peek(buf.first(80));
    if (peek.status == broadcast_read_status::empty) return false;
    if (peek.status == broadcast_read_status::lapped) {
      ++laps;
      missed += peek.missed_frames;
      expected = r.next_seq();
      return true;
    }
    if (peek.status != broadcast_read_status::ok) {
      ++bad;
      return true;
    }
    // The peeked bytes were validated: they are frame `seq`'s, never a mix.
    if (peek.seq != expected || !check_prefix(buf.first(std::min<std::size_t>(80, peek.length)), peek.seq)) ++bad;
    if (!wanted(peek.seq)) {
      r.skip_peeked();
      ++skipped;
      expected = peek.seq + 1;
      return true;
    }
    const auto res = r.read_peeked(buf);
    if (res.status == broadcast_read_status::lapped) {  // overwritten after the peek
      ++laps;
      missed += res.missed_frames;
      expected = r.next_seq();
      return true;
    }
    if (res.status != broadcast_read_status::ok || res.seq != peek.seq ||
        !test::check_pattern({buf.data(), res.length}, res.seq, max_len))
      ++bad;
    ++got;
    expected = res.seq + 1;
    return true;
  }
};

}  // namespace

TEST_CASE("peek copies only a frame's first bytes, skip drops the frame, read_peeked completes it byte-exact") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kCap, 256});
  auto r = broadcast_ring_reader::open(bus.segment("out"), start_position::oldest);
  std::vector<std::byte> buf(256);
  CHECK(r.try_peek(std::span(buf).first(80)).status == broadcast_read_status::empty);
  for (std::uint64_t i = 0; i < 3; ++i) write_fixed(w, i);
  std::vector<std::byte> tiny(20);
  test::fill_pattern(tiny, 3);
  REQUIRE(w.write(7, tiny));

  std::fill(buf.begin(), buf.end(), std::byte{0xEE});
  auto p = r.try_peek(std::span(buf).first(80));
  REQUIRE(p.status == broadcast_read_status::ok);
  CHECK(p.seq == 0);
  CHECK(p.length == 112);  // the whole payload's length
  CHECK(p.type == 1);
  CHECK(check_prefix(std::span(buf).first(80), 0));
  CHECK(buf[80] == std::byte{0xEE});  // nothing beyond the peek was copied
  CHECK(r.next_seq() == 0);           // not consumed
  r.skip_peeked();
  CHECK(r.next_seq() == 1);

  p = r.try_peek(std::span(buf).first(13));  // a prefix that ends inside a word
  REQUIRE(p.status == broadcast_read_status::ok);
  CHECK(p.seq == 1);
  auto res = r.read_peeked(std::span(buf).first(50));
  CHECK(res.status == broadcast_read_status::too_small);  // the peek stays
  CHECK(res.length == 112);
  res = r.read_peeked(buf);
  REQUIRE(res.status == broadcast_read_status::ok);
  CHECK(res.seq == 1);
  CHECK(res.length == 112);
  CHECK(check_prefix({buf.data(), 112}, 1));  // every byte, the re-copied word included

  p = r.try_peek(std::span(buf).first(80));  // a peek abandoned for a plain read: read again whole
  REQUIRE(p.status == broadcast_read_status::ok);
  CHECK(read_fixed(r, 2));

  p = r.try_peek(std::span(buf).first(80));  // a frame shorter than the peek
  REQUIRE(p.status == broadcast_read_status::ok);
  CHECK(p.length == 20);
  res = r.read_peeked(buf);
  REQUIRE(res.status == broadcast_read_status::ok);
  CHECK(res.type == 7);
  CHECK(check_prefix({buf.data(), 20}, 3));
  r.skip_peeked();  // no peek pending: nothing happens
  CHECK(r.next_seq() == 4);
  CHECK(r.read_peeked(buf).status == broadcast_read_status::empty);  // without a peek: try_read
}

TEST_CASE("a frame overwritten between peek and read_peeked is reported as a lap, never handed out") {
  test::unique_bus bus;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kCap, 256});
  auto r = broadcast_ring_reader::open(bus.segment("out"), start_position::oldest);
  write_fixed(w, 0);
  std::vector<std::byte> buf(256);
  REQUIRE(r.try_peek(std::span(buf).first(80)).status == broadcast_read_status::ok);
  for (std::uint64_t i = 1; i < 40; ++i) write_fixed(w, i);  // more than a ring: frame 0 is gone
  const auto res = r.read_peeked(buf);
  REQUIRE(res.status == broadcast_read_status::lapped);
  CHECK(res.missed_frames > 0);
  CHECK(r.next_seq() == res.missed_frames);
  r.skip_peeked();  // the lap cleared the peek: nothing skipped
  CHECK(r.next_seq() == res.missed_frames);
  for (std::uint64_t i = res.missed_frames; i < 40; ++i) CHECK(read_fixed(r, i));
}

TEST_CASE("threads: a filtering reader peeks at every frame, gets every wanted one intact and in order, skips the rest") {
  // The writer stays within half a ring of the reader, so nothing is lost: exact counts.
  test::unique_bus bus;
  constexpr std::uint32_t kMax = 400;
  constexpr std::uint64_t kFrames = 200'000;
  constexpr std::uint64_t kRing = 1 << 16;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kRing, kMax});
  auto r = broadcast_ring_reader::open(bus.segment("out"), start_position::oldest);
  std::atomic<std::uint64_t> reader_pos{0};
  std::thread writer([&] {
    std::vector<std::byte> buf(kMax);
    for (std::uint64_t i = 0; i < kFrames; ++i) {
      // acquire: pairs with the reader's release of its position; it is done with what is before.
      while (w.head() - reader_pos.load(std::memory_order_acquire) > kRing / 2) std::this_thread::yield();
      const auto len = test::pattern_length(i, kMax);
      test::fill_pattern({buf.data(), len}, i);
      REQUIRE(w.write(1, {buf.data(), len}));
    }
  });
  filter_tally t;
  std::vector<std::byte> buf(kMax);
  while (t.expected < kFrames) {
    if (!t.step(r, buf, kMax)) std::this_thread::yield();
    // release: our copies of the frames before are complete; pairs with the writer's acquire.
    reader_pos.store(r.position(), std::memory_order_release);
  }
  writer.join();
  CHECK(t.bad == 0);
  CHECK(t.laps == 0);
  CHECK(t.got == kFrames / 10);
  CHECK(t.skipped == kFrames - kFrames / 10);
}

TEST_CASE("threads: a filtering reader racing the writer on a tiny ring is lapped, even between peek and copy, never torn") {
  test::unique_bus bus;
  constexpr std::uint32_t kMax = 1000;
  constexpr std::uint64_t kFrames = 1'000'000;
  auto w = broadcast_ring_writer::create(bus.segment("out"), {kCap, kMax});
  auto r = broadcast_ring_reader::open(bus.segment("out"), start_position::oldest, lap_policy::resume_oldest);
  std::atomic<bool> done{false};
  std::thread writer = free_running_writer(w, kFrames, kMax, done);
  filter_tally t;
  std::vector<std::byte> buf(kMax);
  while (!done.load() || r.next_seq() < kFrames) (void)t.step(r, buf, kMax);
  writer.join();
  INFO("got " << t.got << " skipped " << t.skipped << " laps " << t.laps << " missed " << t.missed);
  CHECK(t.bad == 0);
  CHECK(t.got + t.skipped + t.missed == kFrames);
  CHECK(t.laps > 0);
}
