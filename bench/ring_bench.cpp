// ring_bench: one-way hop latency and throughput of the SPSC and broadcast rings between
// two processes pinned to two cores, against two baselines measured in the same run —
// Boost.Interprocess message_queue (what a user would otherwise pick) and a raw cache-line
// ping-pong (the physical floor). Absolute numbers drift between runs; the ratios hold.
// What each measurement does and why, and the recorded figures: bench/RESULTS.md.
#include "mdbus/broadcast_ring.hpp"
#include "bus/clock.hpp"
#include "mdbus/doorbell.hpp"
#include "mdbus/shm_segment.hpp"
#include "bus/spsc_ring.hpp"

#include <CLI/CLI.hpp>
#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <sched.h>
#include <span>
#include <stdexcept>
#include <string>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace bip = boost::interprocess;
using namespace mdbus;

namespace {

constexpr std::uint32_t kFrameType = 1;
constexpr std::uint32_t kSmallPayload = 64;
// 56 B payload + the 8 B frame header = 64 B on the ring: one frame per cache line. The
// 64 B payload case is 72 B on the ring, so frames straddle lines.
constexpr std::uint32_t kLinePayload = 56;
constexpr std::uint32_t kLargePayload = 512;  // also every ring's max_payload
constexpr std::uint32_t kLatencyQueueDepth = 64;
constexpr int kOpenWaitMs = 5000;

class bench_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct options {
  std::uint64_t rounds = 200'000;
  std::uint64_t warmup = 20'000;
  std::uint64_t frames = 50'000'000;        // 64 B throughput runs
  std::uint64_t frames_large = 10'000'000;  // 512 B throughput runs
  std::uint64_t mq_frames = 2'000'000;      // message_queue throughput runs (both sizes)
  std::uint32_t payload = kSmallPayload;    // latency frames
  std::uint64_t ring_bytes = 1 << 20;
  std::size_t poll_batch = 256;
  int cpu_a = 0;
  int cpu_b = 1;
  int timeout_s = 300;
  bool quick = false;
};

// ---- shared state between the two processes --------------------------------------------

/// Written by the child, read by the parent after waitpid (child_done's release/acquire).
struct child_result {
  std::uint64_t received;
  std::uint64_t checksum;      ///< sum of the sequence numbers found in the payloads
  std::uint64_t out_of_order;  ///< frames whose sequence or length was not the expected one
  std::uint64_t lapped;        ///< broadcast: frames missed (must stay 0)
  std::int64_t end_ns;         ///< CLOCK_MONOTONIC when the last frame had been read
};

/// An anonymous MAP_SHARED mapping made before any fork, so every child shares it.
/// 128-byte spacing: the floor must not be slowed by the adjacent-line prefetcher pairing
/// the two ping-pong lines.
struct bench_control {
  alignas(128) std::atomic<std::uint32_t> ready;  // child: set up, spinning on go
  std::atomic<std::uint32_t> go;
  std::atomic<std::uint32_t> abort;       // either side failed: the other stops spinning
  std::atomic<std::uint32_t> child_done;  // child finished cleanly (its exit is no failure)
  alignas(128) std::atomic<std::uint64_t> ping;  // floor: parent writes, child spins
  alignas(128) std::atomic<std::uint64_t> pong;  // floor: child writes, parent spins
  alignas(128) std::atomic<std::uint64_t> reader_pos;  // broadcast flow control, reader's line
  alignas(128) child_result result;
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

bench_control* g_ctl = nullptr;
std::vector<std::string> g_shm_paths;  // "/name" of every object this run may create; fixed before handlers
std::int64_t g_timeout_ns = 0;
double g_ticks_per_ns = 1.0;

void unlink_all() noexcept {
  for (const auto& p : g_shm_paths) shm_unlink(p.c_str());
}

// SIGINT/SIGTERM: shm_unlink is a plain unlink(2) of a fixed path; then leave at once.
extern "C" void on_terminate(int sig) {
  unlink_all();
  _exit(128 + sig);
}

// A child that dies without finishing (a crash) must not leave the parent spinning.
extern "C" void on_child_exit(int) {
  if (g_ctl->child_done.load(std::memory_order_relaxed) == 0) g_ctl->abort.store(1, std::memory_order_relaxed);
}

// ---- timing ----------------------------------------------------------------------------

// rdtscp does not execute before earlier instructions have, so a stamp is never taken
// before the spin loop that precedes it saw the reply. Only the parent stamps: no
// cross-core TSC skew enters a sample.
inline std::uint64_t ticks() noexcept {
#if defined(__x86_64__)
  unsigned aux = 0;
  return __rdtscp(&aux);
#else
  return static_cast<std::uint64_t>(mono_ns());
#endif
}

void calibrate_ticks(std::int64_t window_ns) {
  const std::int64_t t0 = mono_ns();
  const std::uint64_t c0 = ticks();
  std::int64_t t1 = t0;
  while ((t1 = mono_ns()) - t0 < window_ns) {
  }
  const std::uint64_t c1 = ticks();
  g_ticks_per_ns = static_cast<double>(c1 - c0) / static_cast<double>(t1 - t0);
}

double stamp_cost_ns() {
  constexpr int kCalls = 1'000'000;
  std::uint64_t sink = 0;
  const std::uint64_t c0 = ticks();
  for (int i = 0; i < kCalls; ++i) sink += ticks();
  const std::uint64_t c1 = ticks();
  asm volatile("" : : "r"(sink));
  return static_cast<double>(c1 - c0) / kCalls / g_ticks_per_ns;
}

/// Called on every empty/full poll: a counter; every 65536 spins, the abort flag and the
/// phase deadline. The same guard sits in every spin loop, the floor's included.
class spin_guard {
 public:
  explicit spin_guard(const char* what) : what_(what), deadline_(mono_ns() + g_timeout_ns) {}
  void operator()() {
    if ((++spins_ & 0xFFFF) == 0) check();
  }
  [[gnu::cold, gnu::noinline]] void check() const {
    if (g_ctl->abort.load(std::memory_order_relaxed) != 0)
      throw bench_error(std::string(what_) + ": the other process failed");
    if (mono_ns() > deadline_) throw bench_error(std::string(what_) + ": no completion within the timeout");
  }

 private:
  const char* what_;
  std::int64_t deadline_;
  std::uint32_t spins_ = 0;
};

// ---- two processes ---------------------------------------------------------------------

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0)
    throw bench_error("sched_setaffinity to cpu " + std::to_string(cpu) + ": " + std::strerror(errno));
}

void child_ready_wait_go(spin_guard& guard) {
  // release: our set-up (rings opened) is done; pairs with the parent's acquire of ready.
  g_ctl->ready.store(1, std::memory_order_release);
  // acquire: pairs with the parent's release of go.
  while (g_ctl->go.load(std::memory_order_acquire) == 0) guard();
}

/// Returns CLOCK_MONOTONIC at the go signal.
std::int64_t parent_wait_ready_go(spin_guard& guard) {
  while (g_ctl->ready.load(std::memory_order_acquire) == 0) guard();  // pairs with child's release
  const std::int64_t t0 = mono_ns();
  g_ctl->go.store(1, std::memory_order_release);  // pairs with the child's acquire of go
  return t0;
}

/// Forks; the child pins to cpu_b and runs `child`, the parent (already on cpu_a) runs
/// `parent`; then waits for the child and throws if either side failed.
template <class Parent, class Child>
void run_pair(const options& o, const char* what, Parent&& parent, Child&& child) {
  g_ctl->ready.store(0);
  g_ctl->go.store(0);
  g_ctl->abort.store(0);
  g_ctl->child_done.store(0);
  g_ctl->ping.store(0);
  g_ctl->pong.store(0);
  g_ctl->reader_pos.store(0);
  g_ctl->result = {};
  std::fflush(stdout);
  const pid_t parent_pid = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw bench_error(std::string(what) + ": fork: " + std::strerror(errno));
  if (pid == 0) {
    int rc = 0;
    try {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent_pid) _exit(1);  // the parent died before prctl
      pin_to(o.cpu_b);
      child();
      // release: publishes g_ctl->result; pairs with the parent's acquire after waitpid.
      g_ctl->child_done.store(1, std::memory_order_release);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ring_bench: %s (child): %s\n", what, e.what());
      g_ctl->abort.store(1);
      rc = 1;
    }
    _exit(rc);  // no atexit handlers, no destructors of the parent's objects
  }
  std::exception_ptr failure;
  try {
    parent();
  } catch (...) {
    failure = std::current_exception();
    g_ctl->abort.store(1);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw bench_error(std::string(what) + ": waitpid: " + std::strerror(errno));
  }
  if (failure) std::rethrow_exception(failure);
  if (WIFSIGNALED(status))
    throw bench_error(std::string(what) + ": child killed by signal " + std::to_string(WTERMSIG(status)));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw bench_error(std::string(what) + ": child exited with status " + std::to_string(WEXITSTATUS(status)));
  if (g_ctl->child_done.load(std::memory_order_acquire) == 0)
    throw bench_error(std::string(what) + ": child exited without finishing");
}

/// Unlinks a phase's objects when the phase ends, however it ends.
struct scoped_unlink {
  std::vector<std::string> names;
  ~scoped_unlink() {
    for (const auto& n : names) shm_segment::remove(n);
  }
};

// ---- payloads --------------------------------------------------------------------------

std::uint64_t seq_of(const std::byte* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

/// A payload whose first 8 bytes carry the frame's sequence number.
struct payload_source {
  std::vector<std::byte> bytes;
  explicit payload_source(std::uint32_t len) : bytes(len) {
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(i * 31 + 7);
  }
  std::span<const std::byte> stamp(std::uint64_t seq) noexcept {
    std::memcpy(bytes.data(), &seq, 8);
    return bytes;
  }
};

// ---- latency ---------------------------------------------------------------------------

struct latency_stats {
  std::string name;
  double p50 = 0, p99 = 0, p999 = 0, max = 0;  // one-way ns
};

/// Round trips the echoing side must answer: warm-up, timed, and one to close the last sample.
std::uint64_t total_round_trips(const options& o) { return o.warmup + o.rounds + 1; }

/// Runs the warm-up round trips, then one sample (ticks) per timed round trip. The stamp is
/// taken right after each send, while the frame is in flight, so its own cost (tens of ns
/// in a VM) overlaps the hop instead of adding to it; sample i is the gap between the stamps
/// after send i and send i+1: exactly one round trip, reply handling included.
template <class Send, class Wait>
std::vector<std::uint64_t> time_round_trips(const options& o, Send&& send, Wait&& wait) {
  std::vector<std::uint64_t> samples(o.rounds);  // zero-filled: touched before timing
  for (std::uint64_t i = 0; i < o.warmup; ++i) {
    send(i);
    wait(i);
  }
  std::uint64_t prev = 0;
  for (std::uint64_t i = 0; i <= o.rounds; ++i) {
    send(o.warmup + i);
    const std::uint64_t now = ticks();
    if (i != 0) samples[i - 1] = now - prev;
    prev = now;
    wait(o.warmup + i);
  }
  return samples;
}

latency_stats summarize(std::string name, std::vector<std::uint64_t> s) {
  std::sort(s.begin(), s.end());
  const std::size_t n = s.size();
  auto one_way = [&](std::uint64_t num, std::uint64_t den) {  // nearest-rank percentile num/den
    const std::size_t k = std::max<std::size_t>((n * num + den - 1) / den, 1) - 1;
    return static_cast<double>(s[k]) / g_ticks_per_ns / 2.0;
  };
  return {std::move(name), one_way(1, 2), one_way(99, 100), one_way(999, 1000), one_way(1, 1)};
}

void check_echo(const char* what, std::uint64_t got_seq, std::size_t got_len, std::uint64_t seq, std::size_t len) {
  if (got_seq != seq || got_len != len)
    throw bench_error(std::string(what) + ": expected frame " + std::to_string(seq) + " of " + std::to_string(len) +
                      " B, got frame " + std::to_string(got_seq) + " of " + std::to_string(got_len) + " B");
}

latency_stats latency_floor(const options& o) {
  std::vector<std::uint64_t> samples;
  const std::uint64_t total = total_round_trips(o);
  run_pair(
      o, "floor",
      [&] {
        spin_guard guard("floor");
        parent_wait_ready_go(guard);
        samples = time_round_trips(
            o, [&](std::uint64_t seq) { g_ctl->ping.store(seq + 1, std::memory_order_release); },  // pairs with child's acquire
            [&](std::uint64_t seq) {
              while (g_ctl->pong.load(std::memory_order_acquire) != seq + 1) guard();  // pairs with child's release
            });
      },
      [&] {
        spin_guard guard("floor");
        child_ready_wait_go(guard);
        for (std::uint64_t seq = 0; seq < total; ++seq) {
          while (g_ctl->ping.load(std::memory_order_acquire) != seq + 1) guard();  // pairs with parent's release
          g_ctl->pong.store(seq + 1, std::memory_order_release);  // pairs with the parent's acquire of pong
        }
      });
  return summarize("cache-line floor", std::move(samples));
}

/// A reader in idle mode `wait` with no spin (bus/include/mdbus/doorbell.hpp): announce, look again, sleep
/// until the writer rings. Returns with the frame peeked; counts the sleeps.
spsc_read_status peek_or_sleep(spsc_ring_reader& r, spsc_frame& f, doorbell_line& bell, std::uint64_t& sleeps,
                               spin_guard& guard) {
  for (;;) {
    spsc_read_status s = r.peek(f);
    if (s != spsc_read_status::empty) return s;
    if (doorbell_wait(bell, kMergerSleeperBit, 100'000'000, [&] { return (s = r.peek(f)) != spsc_read_status::empty; }) ==
        doorbell_wake_reason::looked)
      return s;
    ++sleeps;
    guard.check();
  }
}

/// The SPSC ping-pong. Spinning (`asleep` false): both sides poll — the ring's hop. Asleep:
/// both sides in idle mode `wait` without the spin, each writer ringing its reader's doorbell
/// after the commit, so each one-way figure is publish + ring (FUTEX_WAKE) -> the sleeping
/// reader scheduled and back with the frame; fewer rounds, each takes tens of microseconds.
/// `sleeps` (asleep only): how many times the two readers slept.
latency_stats latency_spsc(const options& o, const std::string& bus, bool asleep = false, std::uint64_t* sleeps = nullptr) {
  const char* what = asleep ? "spsc wait latency" : "spsc latency";
  const std::string ab = asleep ? "lat-wait-ab" : "lat-spsc-ab", ba = asleep ? "lat-wait-ba" : "lat-spsc-ba";
  scoped_unlink names{{segment_name(bus, ab), segment_name(bus, ba), segment_name(bus, ab + ".bell"), segment_name(bus, ba + ".bell")}};
  options lo = o;
  if (asleep) {
    lo.rounds = std::min<std::uint64_t>(o.rounds, 20'000);
    lo.warmup = std::min<std::uint64_t>(o.warmup, 2'000);
  }
  const spsc_ring_geometry g{o.ring_bytes, kLargePayload};
  const std::uint32_t len = o.payload;
  const std::uint64_t total = total_round_trips(lo);
  // Created before the fork: both processes share the two lines.
  doorbell_segment bell_ab, bell_ba;
  if (asleep) {
    bell_ab = doorbell_segment::create(names.names[2]);
    bell_ba = doorbell_segment::create(names.names[3]);
  }
  std::vector<std::uint64_t> samples;
  std::uint64_t parent_sleeps = 0;
  // One side: write to `out`, read from `in`, the reader's bell `in_bell` (asleep only).
  struct side {
    spsc_ring_writer w;
    spsc_ring_reader r;
    doorbell_line* in_bell;
    std::uint64_t sleeps = 0;
    void send(std::span<const std::byte> bytes, spin_guard& guard) {
      std::span<std::byte> dst;
      while ((dst = w.try_claim(static_cast<std::uint32_t>(bytes.size()))).data() == nullptr) guard();
      std::memcpy(dst.data(), bytes.data(), bytes.size());
      w.commit(kFrameType, static_cast<std::uint32_t>(bytes.size()));
      w.notify();  // no bell attached when spinning: nothing
    }
    spsc_read_status receive(spsc_frame& f, spin_guard& guard) {
      if (in_bell != nullptr) return peek_or_sleep(r, f, *in_bell, sleeps, guard);
      spsc_read_status st;
      while ((st = r.peek(f)) == spsc_read_status::empty) guard();
      return st;
    }
  };
  const auto make_side = [&](const std::string& out, const std::string& in, doorbell_segment& out_bell, doorbell_segment& in_bell) {
    side sd{spsc_ring_writer::create(out, g), spsc_ring_reader::open(in, kOpenWaitMs), in_bell.line()};
    if (asleep) sd.w.attach_doorbell(out_bell.line());
    return sd;
  };
  run_pair(
      lo, what,
      [&] {
        spin_guard guard(what);
        side me = make_side(names.names[0], names.names[1], bell_ab, bell_ba);
        payload_source src(len);
        parent_wait_ready_go(guard);
        samples = time_round_trips(
            lo, [&](std::uint64_t seq) { me.send(src.stamp(seq), guard); },
            [&](std::uint64_t seq) {
              spsc_frame f;
              if (me.receive(f, guard) != spsc_read_status::ok) throw bench_error(std::string(what) + ": corrupt reply ring");
              check_echo(what, seq_of(f.payload.data()), f.payload.size(), seq, len);
              me.r.release();
            });
        parent_sleeps = me.sleeps;
      },
      [&] {
        spin_guard guard(what);
        side me = make_side(names.names[1], names.names[0], bell_ba, bell_ab);
        child_ready_wait_go(guard);
        for (std::uint64_t seq = 0; seq < total; ++seq) {
          spsc_frame f;
          if (me.receive(f, guard) != spsc_read_status::ok) throw bench_error(std::string(what) + ": corrupt request ring");
          check_echo(what, seq_of(f.payload.data()), f.payload.size(), seq, len);
          me.send(f.payload, guard);  // a hop reads the whole frame
          me.r.release();
        }
        g_ctl->result.received = me.sleeps;
      });
  if (sleeps != nullptr) *sleeps = parent_sleeps + g_ctl->result.received;
  return summarize(asleep ? "spsc ring, reader asleep" : "spsc ring", std::move(samples));
}

/// Spins until a frame arrives; returns its length. Any status but ok/empty is a failure.
std::uint32_t read_broadcast(const char* what, broadcast_ring_reader& r, std::span<std::byte> buf, spin_guard& guard) {
  for (;;) {
    const broadcast_read_result res = r.try_read(buf);
    if (res.status == broadcast_read_status::ok) return res.length;
    if (res.status != broadcast_read_status::empty)
      throw bench_error(std::string(what) + ": read status " + std::to_string(static_cast<int>(res.status)) +
                        ", missed " + std::to_string(res.missed_frames) + " frames");
    guard();
  }
}

latency_stats latency_broadcast(const options& o, const std::string& bus) {
  scoped_unlink names{{segment_name(bus, "lat-bcast-ab"), segment_name(bus, "lat-bcast-ba"),
                       // each broadcast writer also creates its reader table
                       segment_name(bus, "lat-bcast-ab.readers"), segment_name(bus, "lat-bcast-ba.readers")}};
  const broadcast_ring_geometry g{o.ring_bytes, kLargePayload};
  const std::uint32_t len = o.payload;
  const std::uint64_t total = total_round_trips(o);
  std::vector<std::uint64_t> samples;
  run_pair(
      o, "broadcast latency",
      [&] {
        spin_guard guard("broadcast latency");
        auto w = broadcast_ring_writer::create(names.names[0], g);
        auto r = broadcast_ring_reader::open(names.names[1], start_position::oldest, lap_policy::resume_oldest,
                                             kOpenWaitMs);
        payload_source src(len);
        std::array<std::byte, kLargePayload> buf{};
        parent_wait_ready_go(guard);
        auto send = [&](std::uint64_t seq) {
          if (!w.write(kFrameType, src.stamp(seq))) throw bench_error("broadcast latency: write refused");
        };
        samples = time_round_trips(o, send, [&](std::uint64_t seq) {
          const std::uint32_t got = read_broadcast("broadcast latency", r, buf, guard);
          check_echo("broadcast latency", seq_of(buf.data()), got, seq, len);
        });
      },
      [&] {
        spin_guard guard("broadcast latency");
        auto w = broadcast_ring_writer::create(names.names[1], g);
        auto r = broadcast_ring_reader::open(names.names[0], start_position::oldest, lap_policy::resume_oldest,
                                             kOpenWaitMs);
        std::array<std::byte, kLargePayload> buf{};
        child_ready_wait_go(guard);
        for (std::uint64_t seq = 0; seq < total; ++seq) {
          const std::uint32_t got = read_broadcast("broadcast latency", r, buf, guard);
          check_echo("broadcast latency", seq_of(buf.data()), got, seq, len);
          if (!w.write(kFrameType, std::span<const std::byte>(buf.data(), got)))
            throw bench_error("broadcast latency: write refused");
        }
      });
  return summarize("broadcast ring", std::move(samples));
}

latency_stats latency_mq(const options& o, const std::string& bus) {
  scoped_unlink names{{segment_name(bus, "mq-ab"), segment_name(bus, "mq-ba")}};
  const std::uint32_t len = o.payload;
  const std::uint64_t total = total_round_trips(o);
  // Created before the fork so the child can open them by name without a race.
  bip::message_queue ab(bip::create_only, names.names[0].c_str(), kLatencyQueueDepth, len);
  bip::message_queue ba(bip::create_only, names.names[1].c_str(), kLatencyQueueDepth, len);
  std::vector<std::uint64_t> samples;
  run_pair(
      o, "message_queue latency",
      [&] {
        spin_guard guard("message_queue latency");
        payload_source src(len);
        std::vector<std::byte> buf(len);
        parent_wait_ready_go(guard);
        auto send = [&](std::uint64_t seq) {
          while (!ab.try_send(src.stamp(seq).data(), len, 0)) guard();
        };
        samples = time_round_trips(o, send, [&](std::uint64_t seq) {
          bip::message_queue::size_type got = 0;
          unsigned prio = 0;
          while (!ba.try_receive(buf.data(), len, got, prio)) guard();
          check_echo("message_queue latency", seq_of(buf.data()), got, seq, len);
        });
      },
      [&] {
        spin_guard guard("message_queue latency");
        bip::message_queue in(bip::open_only, names.names[0].c_str());
        bip::message_queue out(bip::open_only, names.names[1].c_str());
        std::vector<std::byte> buf(len);
        child_ready_wait_go(guard);
        for (std::uint64_t seq = 0; seq < total; ++seq) {
          bip::message_queue::size_type got = 0;
          unsigned prio = 0;
          while (!in.try_receive(buf.data(), len, got, prio)) guard();
          check_echo("message_queue latency", seq_of(buf.data()), got, seq, len);
          while (!out.try_send(buf.data(), got, 0)) guard();
        }
      });
  return summarize("boost message_queue", std::move(samples));
}

// ---- throughput ------------------------------------------------------------------------

struct throughput_stats {
  std::string name;
  std::uint32_t payload = 0;
  std::uint64_t frames = 0;
  double seconds = 0;
  std::uint64_t writer_full = 0;  ///< times the writer found the ring/queue full and waited
  [[nodiscard]] double frames_per_s() const { return static_cast<double>(frames) / seconds; }
  [[nodiscard]] double gb_per_s() const { return frames_per_s() * payload / 1e9; }
};

/// Reader-side accounting shared by every throughput reader.
struct reader_tally {
  std::uint64_t expected = 0, checksum = 0, out_of_order = 0;
  void on_frame(const std::byte* p, std::size_t len, std::size_t want_len) noexcept {
    on_seq(seq_of(p), len == want_len);  // reads the payload: nothing is optimised away
  }
  void on_seq(std::uint64_t s, bool length_ok) noexcept {
    out_of_order += static_cast<std::uint64_t>(s != expected || !length_ok);
    checksum += s;
    ++expected;
  }
  void publish() const noexcept {
    g_ctl->result.received = expected;
    g_ctl->result.checksum = checksum;
    g_ctl->result.out_of_order = out_of_order;
    g_ctl->result.end_ns = mono_ns();
  }
};

/// Verifies the child's tally: every frame once, in order, none lapped.
throughput_stats finish_throughput(std::string name, std::uint32_t len, std::uint64_t frames, std::int64_t t0,
                                   std::uint64_t full) {
  const child_result& r = g_ctl->result;
  const std::uint64_t want_sum = frames * (frames - 1) / 2;
  if (r.received != frames || r.checksum != want_sum || r.out_of_order != 0 || r.lapped != 0)
    throw bench_error(name + " " + std::to_string(len) + " B: sent " + std::to_string(frames) + ", received " +
                      std::to_string(r.received) + ", out of order " + std::to_string(r.out_of_order) +
                      ", lapped " + std::to_string(r.lapped) + ", checksum " + std::to_string(r.checksum) +
                      " (want " + std::to_string(want_sum) + ")");
  return {std::move(name), len, frames, static_cast<double>(r.end_ns - t0) / 1e9, full};
}

throughput_stats throughput_spsc(const options& o, const std::string& bus, std::uint32_t len, std::uint64_t frames) {
  scoped_unlink names{{segment_name(bus, "tp-spsc")}};
  const spsc_ring_geometry g{o.ring_bytes, kLargePayload};
  std::int64_t t0 = 0;
  std::uint64_t full = 0;
  run_pair(
      o, "spsc throughput",
      [&] {
        spin_guard guard("spsc throughput");
        auto w = spsc_ring_writer::create(names.names[0], g);
        payload_source src(len);
        t0 = parent_wait_ready_go(guard);
        for (std::uint64_t seq = 0; seq < frames; ++seq) {
          std::span<std::byte> dst;
          while ((dst = w.try_claim(len)).data() == nullptr) {  // never drop: spin until room
            ++full;
            guard();
          }
          std::memcpy(dst.data(), src.stamp(seq).data(), len);
          w.commit(kFrameType, len);
        }
        if (w.overflows() != full)
          throw bench_error("spsc throughput: ring counted " + std::to_string(w.overflows()) + " full claims, we saw " +
                            std::to_string(full));
      },
      [&] {
        spin_guard guard("spsc throughput");
        auto r = spsc_ring_reader::open(names.names[0], kOpenWaitMs);
        reader_tally tally;
        child_ready_wait_go(guard);
        auto on_frame = [&](const spsc_frame& f) { tally.on_frame(f.payload.data(), f.payload.size(), len); };
        while (tally.expected < frames) {
          if (r.poll(on_frame, o.poll_batch) == 0) {
            _mm_pause();
            if (r.last_status() == spsc_read_status::corrupt) throw bench_error("spsc throughput: corrupt ring");
            guard();
          }
        }
        tally.publish();
        spsc_frame extra;
        if (r.peek(extra) != spsc_read_status::empty) throw bench_error("spsc throughput: frames beyond the count");
      });
  return finish_throughput("spsc ring", len, frames, t0, full);
}

throughput_stats throughput_broadcast(const options& o, const std::string& bus, std::uint32_t len,
                                      std::uint64_t frames) {
  scoped_unlink names{{segment_name(bus, "tp-bcast"), segment_name(bus, "tp-bcast.readers")}};
  const broadcast_ring_geometry g{o.ring_bytes, kLargePayload};
  // The bus's broadcast writer never waits; to lose nothing here the writer stays within
  // half a ring of the reader's published position. Reclaim runs up to capacity/8 plus a few
  // frames ahead of strict need, so half a ring can never lap the reader.
  const std::uint64_t window = o.ring_bytes / 2;
  std::int64_t t0 = 0;
  std::uint64_t full = 0;
  run_pair(
      o, "broadcast throughput",
      [&] {
        spin_guard guard("broadcast throughput");
        auto w = broadcast_ring_writer::create(names.names[0], g);
        payload_source src(len);
        std::uint64_t reader_pos = 0;
        t0 = parent_wait_ready_go(guard);
        for (std::uint64_t seq = 0; seq < frames; ++seq) {
          while (w.head() - reader_pos > window) {
            // acquire: pairs with the reader's release of its position; it is done with the bytes before.
            reader_pos = g_ctl->reader_pos.load(std::memory_order_acquire);
            if (w.head() - reader_pos > window) {
              ++full;
              guard();
            }
          }
          if (!w.write(kFrameType, src.stamp(seq))) throw bench_error("broadcast throughput: write refused");
        }
      },
      [&] {
        spin_guard guard("broadcast throughput");
        auto r = broadcast_ring_reader::open(names.names[0], start_position::oldest, lap_policy::resume_oldest,
                                             kOpenWaitMs);
        reader_tally tally;
        std::array<std::byte, kLargePayload> buf{};
        child_ready_wait_go(guard);
        while (tally.expected < frames) {
          const broadcast_read_result res = r.try_read(buf);
          if (res.status == broadcast_read_status::ok) {
            tally.on_frame(buf.data(), res.length, len);
            // Published once per poll_batch frames, as the SPSC reader publishes its tail once
            // per poll(): a store per frame would bounce the line with the waiting writer.
            // release: our copies of the frames are complete; pairs with the writer's acquire.
            if (tally.expected % o.poll_batch == 0)
              g_ctl->reader_pos.store(r.position(), std::memory_order_release);
          } else if (res.status == broadcast_read_status::lapped) {
            g_ctl->result.lapped += res.missed_frames;
            tally.expected += res.missed_frames;  // accounted as lost; the check fails the run
          } else if (res.status == broadcast_read_status::empty) {
            guard();
          } else {
            throw bench_error("broadcast throughput: read status " + std::to_string(static_cast<int>(res.status)));
          }
        }
        tally.publish();
      });
  return finish_throughput("broadcast ring", len, frames, t0, full);
}

/// The throughput ceiling of this machine: the least work a cross-core stream can do. Fixed
/// slots of `len` bytes in a plain shared mapping, no frame header, no index: the first word
/// of a slot is its sequence + 1, stored last; the reader spins on it. Flow control as for
/// the broadcast ring, the reader publishing its count every poll_batch frames. At 64 B this
/// moves exactly one cache line per frame (an SPSC frame is 72 B with its header).
throughput_stats throughput_line_stream(const options& o, std::uint32_t len, std::uint64_t frames) {
  const std::uint64_t slots = o.ring_bytes / len;
  void* mem = mmap(nullptr, o.ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (mem == MAP_FAILED) throw bench_error(std::string("line stream: mmap: ") + std::strerror(errno));
  struct unmap_at_exit {
    void* p;
    std::size_t n;
    ~unmap_at_exit() { munmap(p, n); }
  } unmap{mem, o.ring_bytes};
  auto* base = static_cast<std::byte*>(mem);
  auto stamp_of = [&](std::uint64_t seq) {
    return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(base + (seq % slots) * len));
  };
  std::int64_t t0 = 0;
  std::uint64_t full = 0;
  run_pair(
      o, "line stream",
      [&] {
        spin_guard guard("line stream");
        payload_source src(len);
        std::uint64_t reader_count = 0;
        t0 = parent_wait_ready_go(guard);
        for (std::uint64_t seq = 0; seq < frames; ++seq) {
          while (seq - reader_count >= slots) {
            // acquire: pairs with the reader's release of its count; it is done with those slots.
            reader_count = g_ctl->reader_pos.load(std::memory_order_acquire);
            if (seq - reader_count >= slots) {
              ++full;
              guard();
            }
          }
          std::memcpy(base + (seq % slots) * len + 8, src.bytes.data() + 8, len - 8);
          // release: publishes the slot's bytes; pairs with the reader's acquire of the stamp.
          stamp_of(seq).store(seq + 1, std::memory_order_release);
        }
      },
      [&] {
        spin_guard guard("line stream");
        reader_tally tally;
        child_ready_wait_go(guard);
        while (tally.expected < frames) {
          // acquire: pairs with the writer's release of the stamp.
          const std::uint64_t stamp = stamp_of(tally.expected).load(std::memory_order_acquire);
          if (stamp != tally.expected + 1) {
            guard();
            continue;
          }
          tally.on_seq(stamp - 1, true);
          // release: we are done with the slots before; pairs with the writer's acquire.
          if (tally.expected % o.poll_batch == 0) g_ctl->reader_pos.store(tally.expected, std::memory_order_release);
        }
        tally.publish();
      });
  return finish_throughput("raw line stream", len, frames, t0, full);
}

enum class mq_mode { spin, blocking };

throughput_stats throughput_mq(const options& o, const std::string& bus, std::uint32_t len, std::uint64_t frames,
                               mq_mode mode) {
  scoped_unlink names{{segment_name(bus, "mq-tp")}};
  // As many messages as the SPSC ring holds frames of this size.
  const std::uint64_t depth = o.ring_bytes / detail::align_up(sizeof(spsc_frame_header) + len, kSpscFrameAlign);
  bip::message_queue q(bip::create_only, names.names[0].c_str(), depth, len);
  const char* what = mode == mq_mode::spin ? "message_queue spin" : "message_queue blocking";
  // Blocking calls wake up every 100 ms so a failed peer is noticed.
  auto soon = [] { return boost::posix_time::microsec_clock::universal_time() + boost::posix_time::milliseconds(100); };
  std::int64_t t0 = 0;
  std::uint64_t full = 0;
  run_pair(
      o, what,
      [&] {
        spin_guard guard(what);
        payload_source src(len);
        t0 = parent_wait_ready_go(guard);
        for (std::uint64_t seq = 0; seq < frames; ++seq) {
          const void* p = src.stamp(seq).data();
          if (q.try_send(p, len, 0)) continue;
          ++full;
          if (mode == mq_mode::spin) {
            while (!q.try_send(p, len, 0)) {
              ++full;
              guard();
            }
          } else {
            while (!q.timed_send(p, len, 0, soon())) guard.check();
          }
        }
      },
      [&] {
        spin_guard guard(what);
        bip::message_queue in(bip::open_only, names.names[0].c_str());
        reader_tally tally;
        std::vector<std::byte> buf(len);
        child_ready_wait_go(guard);
        while (tally.expected < frames) {
          bip::message_queue::size_type got = 0;
          unsigned prio = 0;
          if (mode == mq_mode::spin) {
            while (!in.try_receive(buf.data(), len, got, prio)) guard();
          } else if (!in.try_receive(buf.data(), len, got, prio)) {
            while (!in.timed_receive(buf.data(), len, got, prio, soon())) guard.check();
          }
          tally.on_frame(buf.data(), got, len);
        }
        tally.publish();
      });
  return finish_throughput(mode == mq_mode::spin ? "mq try_* spin" : "mq blocking", len, frames, t0, full);
}

// ---- report ----------------------------------------------------------------------------

struct writer_costs {
  double plain[2], every[2], batch[2];  // [0] spsc, [1] broadcast; ns per frame
};

/// ns per frame of publishing `frames` 64 B frames, ringing a doorbell nobody sleeps on
/// every `notify_every` frames (0: no doorbell). SPSC: the same thread reads each frame
/// back right away (the ring never fills; both variants pay the same read); broadcast: the
/// writer alone (it never waits for readers).
double publish_ns(const std::string& bus, int ring, std::uint32_t notify_every, std::uint64_t frames) {
  const std::string name = segment_name(bus, "tp-spsc"), bell_name = segment_name(bus, "tp-spsc.bell");
  scoped_unlink names{{name, name + ".readers", bell_name}};
  doorbell_segment bell = doorbell_segment::create(bell_name);
  payload_source src(kSmallPayload);
  std::uint32_t since = 0;
  std::int64_t t0 = 0, t1 = 0;
  if (ring == 0) {
    auto w = spsc_ring_writer::create(name, {1 << 16, kLargePayload});
    auto r = spsc_ring_reader::open(name);
    if (notify_every != 0) w.attach_doorbell(bell.line());
    t0 = mono_ns();
    for (std::uint64_t seq = 0; seq < frames; ++seq) {
      if (!w.try_write(kFrameType, src.stamp(seq))) throw bench_error("writer cost: spsc full");
      if (notify_every != 0 && ++since == notify_every) {
        w.notify();
        since = 0;
      }
      spsc_frame f;
      if (r.peek(f) != spsc_read_status::ok) throw bench_error("writer cost: spsc read");
      r.release();
    }
    t1 = mono_ns();
  } else {
    auto w = broadcast_ring_writer::create(name, {1 << 20, kLargePayload});
    t0 = mono_ns();
    for (std::uint64_t seq = 0; seq < frames; ++seq) {
      if (!w.write(kFrameType, src.stamp(seq))) throw bench_error("writer cost: broadcast write refused");
      if (notify_every != 0 && ++since == notify_every) {
        w.notify();  // the ring's own bell (its reader table); nobody sleeps there either
        since = 0;
      }
    }
    t1 = mono_ns();
  }
  if (bell.line()->wakes.load() != 0) throw bench_error("writer cost: a wake with nobody asleep");
  return static_cast<double>(t1 - t0) / static_cast<double>(frames);
}

writer_costs writer_cost(const options& o, const std::string& bus) {
  writer_costs c{};
  const std::uint64_t frames = o.quick ? 2'000'000 : 10'000'000;
  for (int k = 0; k < 2; ++k) {
    c.plain[k] = c.every[k] = c.batch[k] = 1e300;
    for (int rep = 0; rep < 5; ++rep) {
      c.plain[k] = std::min(c.plain[k], publish_ns(bus, k, 0, frames));
      c.every[k] = std::min(c.every[k], publish_ns(bus, k, 1, frames));
      c.batch[k] = std::min(c.batch[k], publish_ns(bus, k, 16, frames));
    }
  }
  return c;
}

const char* verdict(bool met) { return met ? "MET" : "MISSED"; }

int run(const options& o) {
  pin_to(o.cpu_a);
  const std::string bus = "bench-" + std::to_string(getpid());
  for (const char* obj : {"lat-spsc-ab", "lat-spsc-ba", "lat-bcast-ab", "lat-bcast-ba", "lat-bcast-ab.readers",
                          "lat-bcast-ba.readers", "mq-ab", "mq-ba", "tp-spsc", "tp-bcast", "tp-bcast.readers", "mq-tp",
                          "lat-wait-ab", "lat-wait-ba", "lat-wait-ab.bell", "lat-wait-ba.bell", "tp-spsc.bell",
                          "tp-spsc.readers"})
    g_shm_paths.push_back("/" + segment_name(bus, obj));
  struct exit_cleanup {
    ~exit_cleanup() { unlink_all(); }
  } cleanup;

  void* mem = mmap(nullptr, sizeof(bench_control), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw bench_error(std::string("mmap of the control block: ") + std::strerror(errno));
  g_ctl = new (mem) bench_control{};
  g_timeout_ns = std::int64_t{o.timeout_s} * 1'000'000'000;

  struct sigaction sa{};
  sa.sa_handler = on_terminate;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = on_child_exit;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, nullptr);

  calibrate_ticks(o.quick ? 50'000'000 : 200'000'000);
  std::printf("ring_bench: processes pinned to cpu %d (writer/pinger) and cpu %d (reader/echoer); bus %s\n", o.cpu_a,
              o.cpu_b, bus.c_str());
#if defined(__x86_64__)
  std::printf("clock: rdtscp, %.4f ticks/ns calibrated against CLOCK_MONOTONIC; one stamp costs %.1f ns\n",
              g_ticks_per_ns, stamp_cost_ns());
#else
  std::printf("clock: clock_gettime(CLOCK_MONOTONIC); one stamp costs %.1f ns\n", stamp_cost_ns());
#endif
  std::printf("ring capacity %llu B, latency payload %u B, %llu round trips after %llu warm-up\n\n",
              static_cast<unsigned long long>(o.ring_bytes), o.payload, static_cast<unsigned long long>(o.rounds),
              static_cast<unsigned long long>(o.warmup));

  std::vector<latency_stats> lat;
  lat.push_back(latency_floor(o));
  lat.push_back(latency_spsc(o, bus));
  lat.push_back(latency_broadcast(o, bus));
  lat.push_back(latency_mq(o, bus));
  std::uint64_t wait_sleeps = 0;
  lat.push_back(latency_spsc(o, bus, true, &wait_sleeps));
  const double floor_p50 = lat[0].p50;
  std::printf("one-way hop latency, ns (round trip / 2, one sample per round trip, %u B payload)\n", o.payload);
  std::printf("  %-22s %9s %9s %9s %9s %10s\n", "path", "p50", "p99", "p99.9", "max", "p50/floor");
  for (const auto& l : lat)
    std::printf("  %-22s %9.1f %9.1f %9.1f %9.1f %9.2fx\n", l.name.c_str(), l.p50, l.p99, l.p999, l.max,
                l.p50 / floor_p50);
  std::printf("  (reader asleep: %llu sleeps in %llu hops; wake-up = FUTEX_WAKE + the scheduler, next to the spinning hop)\n",
              static_cast<unsigned long long>(wait_sleeps),
              static_cast<unsigned long long>(2 * (std::min<std::uint64_t>(o.rounds, 20'000) +
                                                   std::min<std::uint64_t>(o.warmup, 2'000) + 1)));
  std::fflush(stdout);

  // The writer's cost of the doorbells with nobody asleep (ns per published frame, one
  // process, no reader: the publish alone), plain and with the bell rung after every frame
  // and after every 16, interleaved, best of 5 each.
  const writer_costs wc = writer_cost(o, bus);
  std::printf("\nwriter publish cost with a doorbell and no sleeper, 64 B frames, ns/frame (best of 5, one process)\n");
  std::printf("  %-18s %10s %18s %10s %18s %10s\n", "ring", "plain", "bell every frame", "ratio", "bell every 16", "ratio");
  for (int k = 0; k < 2; ++k)
    std::printf("  %-18s %10.2f %18.2f %9.2fx %18.2f %9.2fx\n", k == 0 ? "spsc (write+read)" : "broadcast (write)",
                wc.plain[k], wc.every[k], wc.every[k] / wc.plain[k], wc.batch[k], wc.batch[k] / wc.plain[k]);
  std::fflush(stdout);

  struct per_size {
    throughput_stats line, spsc, bcast, mq_spin, mq_block;
    [[nodiscard]] double best_mq() const { return std::max(mq_spin.frames_per_s(), mq_block.frames_per_s()); }
  };
  std::vector<per_size> tp;
  for (const std::uint32_t len : {kLinePayload, kSmallPayload, kLargePayload}) {
    const std::uint64_t n = len == kLargePayload ? o.frames_large : o.frames;
    tp.push_back({throughput_line_stream(o, len, n), throughput_spsc(o, bus, len, n), throughput_broadcast(o, bus, len, n),
                  throughput_mq(o, bus, len, o.mq_frames, mq_mode::spin),
                  throughput_mq(o, bus, len, o.mq_frames, mq_mode::blocking)});
  }
  std::printf("\nthroughput, writer cpu %d -> reader cpu %d (every frame received once, in order, payload read)\n",
              o.cpu_a, o.cpu_b);
  std::printf("  %-16s %7s %11s %9s %12s %8s %12s\n", "path", "payload", "frames", "seconds", "frames/s", "GB/s",
              "writer full");
  for (const auto& size : tp) {
    for (const throughput_stats* t : {&size.line, &size.spsc, &size.bcast, &size.mq_spin, &size.mq_block})
      std::printf("  %-16s %5u B %11llu %9.3f %10.2f M %8.2f %12llu\n", t->name.c_str(), t->payload,
                  static_cast<unsigned long long>(t->frames), t->seconds, t->frames_per_s() / 1e6, t->gb_per_s(),
                  static_cast<unsigned long long>(t->writer_full));
  }

  const double spsc_ratio = lat[1].p50 / floor_p50;
  std::printf("\nratios (same run)\n");
  std::printf("  %-46s %8.2f   target <= 1.5    %s\n", "spsc hop p50 / floor p50", spsc_ratio,
              verdict(spsc_ratio <= 1.5));
  std::printf("  %-46s %8.2f   (no target)\n", "broadcast hop p50 / floor p50", lat[2].p50 / floor_p50);
  std::printf("  %-46s %8.2f   (no target)\n", "message_queue hop p50 / floor p50", lat[3].p50 / floor_p50);
  const double spsc_line = tp[0].spsc.frames_per_s() / 1e6;
  const double spsc64 = tp[1].spsc.frames_per_s() / 1e6;
  std::printf("  %-46s %8.2f M target >= 50 M/s %s\n", "spsc frames/s, 64 B frame (56 B payload)", spsc_line,
              verdict(spsc_line >= 50));
  std::printf("  %-46s %8.2f M target >= 50 M/s %s\n", "spsc frames/s, 64 B payload (72 B frame)", spsc64,
              verdict(spsc64 >= 50));
  for (const auto& size : tp) {
    const std::string b = ", " + std::to_string(size.spsc.payload) + " B payload";
    // Against the faster of the two message_queue variants: the baseline at its best.
    const double r = size.spsc.frames_per_s() / size.best_mq();
    std::printf("  %-46s %8.1fx  target >= 20x    %s\n", ("spsc / best message_queue" + b).c_str(), r,
                verdict(r >= 20));
    std::printf("  %-46s %8.1fx  (no target)\n", ("broadcast / best message_queue" + b).c_str(),
                size.bcast.frames_per_s() / size.best_mq());
    std::printf("  %-46s %8.2f   (no target)\n", ("spsc / raw line stream" + b).c_str(),
                size.spsc.frames_per_s() / size.line.frames_per_s());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"mdbus ring benchmark: hop latency and throughput of the SPSC and broadcast rings between two "
               "pinned processes, against Boost message_queue and a cache-line ping-pong"};
  app.add_option("--rounds", o.rounds, "timed round trips per latency test")->check(CLI::Range(1ULL, 100'000'000ULL));
  app.add_option("--warmup", o.warmup, "untimed round trips before them");
  app.add_option("--frames", o.frames, "frames per 56 B and 64 B payload throughput test")->check(CLI::Range(1ULL, 1ULL << 40));
  app.add_option("--frames-large", o.frames_large, "frames per 512 B payload throughput test")
      ->check(CLI::Range(1ULL, 1ULL << 40));
  app.add_option("--mq-frames", o.mq_frames, "frames per message_queue throughput test")
      ->check(CLI::Range(1ULL, 1ULL << 40));
  app.add_option("--payload", o.payload, "latency payload bytes")->check(CLI::Range(8U, kLargePayload));
  app.add_option("--ring-bytes", o.ring_bytes, "capacity of every ring (power of two)")
      ->check(CLI::Range(4096ULL, 1ULL << 32));
  app.add_option("--poll-batch", o.poll_batch, "max frames per spsc poll() in the throughput test")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  app.add_option("--cpu-a", o.cpu_a, "core of the parent (writer, pinger)");
  app.add_option("--cpu-b", o.cpu_b, "core of the child (reader, echoer)");
  app.add_option("--timeout", o.timeout_s, "seconds before a stuck phase is abandoned")->check(CLI::PositiveNumber);
  app.add_flag("--quick", o.quick, "short run: 20k round trips, 5M/1M ring frames, 200k message_queue frames");
  CLI11_PARSE(app, argc, argv);
  if (o.quick) {  // shorter defaults; an option given explicitly still wins
    if (app.count("--rounds") == 0) o.rounds = 20'000;
    if (app.count("--warmup") == 0) o.warmup = 2'000;
    if (app.count("--frames") == 0) o.frames = 5'000'000;
    if (app.count("--frames-large") == 0) o.frames_large = 1'000'000;
    if (app.count("--mq-frames") == 0) o.mq_frames = 200'000;
  }
  if (o.cpu_a == o.cpu_b) {
    std::fprintf(stderr, "ring_bench: --cpu-a and --cpu-b must differ (the hop crosses cores)\n");
    return 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ring_bench: %s\n", e.what());
    return 1;
  }
}
