// The other side of the cross-process ring tests: a writer or a reader in its own process.
//   ring_peer spsc-writer  <segment> <frames> <max_len>
//   ring_peer bcast-writer <segment> <frames> <max_len> <progress-segment> <fast-readers>
//   ring_peer bcast-reader <segment> <frames> <max_len> <progress-segment> <slot> <slow 0|1>
//   ring_peer spsc-bell-writer <segment> <bell> <frames> <max_len>
//     writes bursts of 1..8 frames, rings the bell after each, and pauses between bursts for
//     0..200 µs (sleeping or spinning), so the reader falls asleep often and at every point.
// Readers check every frame they receive against the deterministic pattern and print
// "frames=<n> laps=<l> missed=<m> bad=<b>"; exit 0 when their accounting adds up.
//
// The broadcast writer never waits on the ring (it cannot); the *test* keeps the fast
// readers unlapped on a 2-core machine by throttling the writer on a side channel (the
// progress segment) where only the fast readers report. The slow reader is not counted
// there, so it is lapped for certain.
#include "mdbus/broadcast_ring.hpp"
#include "mdbus/doorbell.hpp"
#include "bus/spsc_ring.hpp"
#include "support/frame_pattern.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace mdbus;

namespace {

struct progress_block {
  alignas(kCacheLine) std::atomic<std::uint64_t> seq;  // frames consumed by one fast reader
};

std::atomic<std::uint64_t>& progress_slot(shm_segment& s, int i) {
  return reinterpret_cast<progress_block*>(s.body())[i].seq;
}

int spsc_writer(const std::string& name, std::uint64_t frames, std::uint32_t max_len) {
  auto w = spsc_ring_writer::create(name, {1 << 20, max_len});
  for (std::uint64_t i = 0; i < frames;) {
    const std::uint32_t len = test::pattern_length(i, max_len);
    auto dst = w.try_claim(len);
    if (dst.empty()) {  // a test that must lose nothing waits; a feeder would drop and count
      std::this_thread::yield();
      continue;
    }
    test::fill_pattern(dst, i);
    w.commit(1, len);
    ++i;
  }
  return 0;
}

int spsc_bell_writer(const std::string& name, const std::string& bell_name, std::uint64_t frames, std::uint32_t max_len) {
  auto w = spsc_ring_writer::create(name, {1 << 20, max_len});
  doorbell_segment bell;
  std::string why;
  for (int i = 0; doorbell_segment::try_open(bell_name, bell, why) != attach_status::ok; ++i) {
    if (i == 10'000) throw std::runtime_error("no doorbell: " + why);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  w.attach_doorbell(bell.line());
  std::uint64_t rng = 0x9e3779b97f4a7c15ULL;
  for (std::uint64_t i = 0; i < frames;) {
    rng = test::splitmix64(rng);
    const std::uint64_t burst = 1 + rng % 8;
    for (std::uint64_t k = 0; k < burst && i < frames;) {
      const std::uint32_t len = test::pattern_length(i, max_len);
      auto dst = w.try_claim(len);
      if (dst.empty()) {
        w.notify();
        std::this_thread::yield();
        continue;
      }
      test::fill_pattern(dst, i);
      w.commit(1, len);
      ++i;
      ++k;
    }
    w.notify();
    const auto pause = std::chrono::microseconds((rng >> 8) % 200);
    if ((rng >> 16) % 2) {
      std::this_thread::sleep_for(pause);
    } else {
      const auto until = std::chrono::steady_clock::now() + pause;
      while (std::chrono::steady_clock::now() < until) {
      }
    }
  }
  return 0;
}

int bcast_writer(const std::string& name, std::uint64_t frames, std::uint32_t max_len, const std::string& progress,
                 int fast_readers) {
  constexpr std::uint64_t kCapacity = 1 << 24;
  auto w = broadcast_ring_writer::create(name, {kCapacity, max_len});
  auto prog = shm_segment::open(progress, segment_kind::control_block, access_mode::read_write, 10'000);
  // At most this many frames ahead of the slowest fast reader: well inside one ring.
  const std::uint64_t window = kCapacity / 4 / (max_len + 16);
  std::vector<std::byte> buf(max_len);
  for (std::uint64_t i = 0; i < frames; ++i) {
    for (;;) {
      std::uint64_t slowest = ~std::uint64_t{0};
      for (int r = 0; r < fast_readers; ++r)
        slowest = std::min(slowest, progress_slot(prog, r).load(std::memory_order_acquire));
      if (i < slowest + window) break;
      std::this_thread::yield();
    }
    const std::uint32_t len = test::pattern_length(i, max_len);
    test::fill_pattern({buf.data(), len}, i);
    if (!w.write(1, {buf.data(), len})) return 3;
  }
  return 0;
}

int bcast_reader(const std::string& name, std::uint64_t frames, std::uint32_t max_len, const std::string& progress,
                 int slot, bool slow) {
  auto prog = shm_segment::open(progress, segment_kind::control_block, access_mode::read_write, 10'000);
  auto r = broadcast_ring_reader::open(name, start_position::oldest, lap_policy::resume_oldest, 10'000);
  std::vector<std::byte> buf(max_len);
  std::uint64_t got = 0, laps = 0, missed = 0, bad = 0;
  while (r.next_seq() < frames) {
    const auto res = r.try_read(buf);
    switch (res.status) {
      case broadcast_read_status::ok:
        if (!test::check_pattern({buf.data(), res.length}, res.seq, max_len)) ++bad;
        ++got;
        if (!slow) progress_slot(prog, slot).store(r.next_seq(), std::memory_order_release);
        if (slow && got % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
        break;
      case broadcast_read_status::lapped:
        ++laps;
        missed += res.missed_frames;
        break;
      case broadcast_read_status::empty:
        std::this_thread::yield();
        break;
      default:
        ++bad;
        break;
    }
  }
  std::printf("frames=%llu laps=%llu missed=%llu bad=%llu\n", static_cast<unsigned long long>(got),
              static_cast<unsigned long long>(laps), static_cast<unsigned long long>(missed),
              static_cast<unsigned long long>(bad));
  std::fflush(stdout);
  const bool accounted = got + missed == r.next_seq();
  if (bad != 0 || !accounted) return 2;
  if (slow && laps == 0) return 4;   // the slow reader must have been lapped
  if (!slow && laps != 0) return 5;  // the fast ones never
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv, argv + argc);
  try {
    if (a.size() == 5 && a[1] == "spsc-writer")
      return spsc_writer(a[2], std::stoull(a[3]), static_cast<std::uint32_t>(std::stoul(a[4])));
    if (a.size() == 6 && a[1] == "spsc-bell-writer")
      return spsc_bell_writer(a[2], a[3], std::stoull(a[4]), static_cast<std::uint32_t>(std::stoul(a[5])));
    if (a.size() == 7 && a[1] == "bcast-writer")
      return bcast_writer(a[2], std::stoull(a[3]), static_cast<std::uint32_t>(std::stoul(a[4])), a[5],
                          std::stoi(a[6]));
    if (a.size() == 8 && a[1] == "bcast-reader")
      return bcast_reader(a[2], std::stoull(a[3]), static_cast<std::uint32_t>(std::stoul(a[4])), a[5],
                          std::stoi(a[6]), a[7] == "1");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ring_peer: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "ring_peer: bad arguments\n");
  return 64;
}
