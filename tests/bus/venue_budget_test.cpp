// The shared venue budget: segment name, layout and handshake, limits every process must
// agree on, a 429 seen by one process blocking all, racing creators, and real processes
// (and threads, for TSan) hammering one segment while every grant is logged and checked
// against the windows afterwards — including a process SIGKILLed mid-run.
#include "bus/venue_budget.hpp"

#include "bus/clock.hpp"

#include "support/unique_bus.hpp"

#include <doctest/doctest.h>
#include <csignal>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <thread>
#include <vector>

using namespace mdbus;

namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1'000'000'000;

/// Short windows so a real-time run covers many of them.
venue_limits fast_limits(window_kind rest_kind) {
  return {{rest_kind, rest_kind == window_kind::fixed ? 50u : 20u, rest_kind == window_kind::fixed ? 100 * kMs : 200 * kMs},
          {window_kind::sliding, 4, 100 * kMs}};
}

struct logged {
  std::int64_t t;
  std::uint32_t cost;
  std::uint32_t what;  ///< 0 REST, 1 connect
};

/// Per-process grant logs in one anonymous shared mapping that survives fork.
struct shared_log {
  static constexpr std::size_t kPer = 200'000;
  struct part {
    std::atomic<std::uint64_t> n;
    logged e[kPer];
  };
  part* parts = nullptr;
  std::size_t count = 0;
  explicit shared_log(std::size_t n) : count(n) {
    void* p = mmap(nullptr, n * sizeof(part), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    parts = static_cast<part*>(p);
  }
  ~shared_log() { munmap(parts, count * sizeof(part)); }
  void add(std::size_t who, logged l) noexcept {
    part& p = parts[who];
    const auto i = p.n.load(std::memory_order_relaxed);
    if (i < kPer) {
      p.e[i] = l;
      p.n.store(i + 1, std::memory_order_release);
    }
  }
  std::vector<logged> all(std::uint32_t what) const {
    std::vector<logged> v;
    for (std::size_t k = 0; k < count; ++k)
      for (std::uint64_t i = 0; i < parts[k].n.load(std::memory_order_acquire); ++i)
        if (parts[k].e[i].what == what) v.push_back(parts[k].e[i]);
    return v;
  }
};

std::uint64_t max_in_any_window(std::vector<logged> g, std::int64_t window) {
  std::sort(g.begin(), g.end(), [](const logged& a, const logged& b) { return a.t < b.t; });
  std::uint64_t best = 0, sum = 0;
  std::size_t lo = 0;
  for (std::size_t hi = 0; hi < g.size(); ++hi) {
    sum += g[hi].cost;
    while (g[hi].t - g[lo].t > window) sum -= g[lo++].cost;
    best = std::max(best, sum);
  }
  return best;
}

std::uint64_t max_in_fixed_window(const std::vector<logged>& g, std::int64_t window) {
  std::map<std::int64_t, std::uint64_t> m;
  for (const auto& x : g) m[x.t / window] += x.cost;
  std::uint64_t best = 0;
  for (const auto& [k, v] : m) best = std::max(best, v);
  return best;
}

std::uint64_t units(const std::vector<logged>& g) {
  std::uint64_t n = 0;
  for (const auto& x : g) n += x.cost;
  return n;
}

/// Hammer `b` until `until_mono`: REST with random costs 1..5, a connect attempt every 8th
/// round; log every grant with the clock value it was decided at.
void hammer(venue_budget& b, shared_log& log, std::size_t who, std::int64_t until_mono, std::uint64_t seed) {
  std::mt19937 rng(static_cast<std::uint32_t>(seed));
  for (unsigned i = 0; mono_ns() < until_mono; ++i) {
    const auto cost = static_cast<std::uint32_t>(1 + rng() % 5);
    const std::int64_t now = b.rest_clock_ns();
    if (b.try_rest_at(cost, now).granted()) log.add(who, {now, cost, 0});
    if (i % 8 == 0) {
      const std::int64_t c = b.connect_clock_ns();
      if (b.try_connect_at(c).granted()) log.add(who, {c, 1, 1});
    }
  }
}

/// Runs `fn(i)` in `n` forked children; returns their exit codes (-signal when killed).
template <class F>
std::vector<int> run_children(int n, F fn, int kill_index = -1, int kill_after_ms = 0) {
  std::vector<pid_t> pids;
  std::fflush(stdout);  // or the children's exits print the parent's buffered output again
  std::fflush(stderr);
  for (int i = 0; i < n; ++i) {
    const pid_t p = fork();
    REQUIRE(p >= 0);
    if (p == 0) _exit(fn(i));
    pids.push_back(p);
  }
  if (kill_index >= 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms));
    kill(pids[static_cast<std::size_t>(kill_index)], SIGKILL);
  }
  std::vector<int> codes;
  for (pid_t p : pids) {
    int st = 0;
    waitpid(p, &st, 0);
    codes.push_back(WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
  }
  return codes;
}

}  // namespace

TEST_CASE("a venue budget is the segment mdbus.<bus>.budget.<venue> with the limits in its header") {
  test::unique_bus bus;
  const venue_limits lim = default_venue_limits(venue::binance);
  auto a = venue_budget::open_or_create(bus.name(), venue::binance, lim);
  CHECK(a.segment().name() == bus.segment("budget.binance"));
  CHECK(venue_budget::segment_name_for(bus.name(), venue::okx) == bus.segment("budget.okx"));
  CHECK(a.segment().size() == kVenueBudgetSegmentSize);
  CHECK(kVenueBudgetSegmentSize == 128 + 5 * 64);
  const segment_info info = inspect_segment(bus.segment("budget.binance"));
  CHECK(info.status == attach_status::ok);
  CHECK(info.kind == kVenueBudgetKind);
  CHECK(info.mode == 0600);
  CHECK(info.geometry == venue_budget_geometry(venue::binance, lim));
  CHECK(a.limits() == lim);
  CHECK(a.id() == venue::binance);

  // A second handle (another process would do the same) shares every word.
  auto b = venue_budget::open_or_create(bus.name(), venue::binance, lim);
  const std::int64_t now = a.rest_clock_ns();
  REQUIRE(a.try_rest_at(2500, now).granted());
  CHECK(b.rest_in_use(now) == 2500);
  CHECK(b.try_rest_at(501, now).reason == budget_reason::window_full);
  CHECK(b.try_rest_at(500, now).granted());

  // A tool reads it read-only: limits from the header, counters, and no spending.
  auto tool = venue_budget::open(bus.name(), venue::binance, access_mode::read_only);
  CHECK(tool.limits() == lim);
  const venue_budget_stats s = tool.stats();
  CHECK(s.rest_granted == 2);
  CHECK(s.rest_units_granted == 3000);
  CHECK(s.rest_deferred == 1);
  CHECK(tool.try_rest(5).reason == budget_reason::read_only);
  CHECK(tool.try_connect().reason == budget_reason::read_only);
  tool.note_rest_answer(429, -1, 60);  // ignored
  CHECK(tool.rest_blocked_until() == 0);

  CHECK(venue_budget::remove(bus.name(), venue::binance));
  CHECK_FALSE(venue_budget::remove(bus.name(), venue::binance));
  CHECK_FALSE(venue_budget::remove("bad name!", venue::binance));
}

TEST_CASE("a process asking for other limits than the segment's is refused with both") {
  test::unique_bus bus;
  auto a = venue_budget::open_or_create(bus.name(), venue::okx, default_venue_limits(venue::okx));
  CHECK_THROWS_WITH_AS(venue_budget::open_or_create(bus.name(), venue::okx, venue_limits_for(venue::okx, 1.0, 1.0)),
                       doctest::Contains("limits differ: the segment has rest 30 per 2000 ms sliding"), segment_error);
  CHECK_THROWS_WITH_AS(
      venue_budget::open_or_create(bus.name(), venue::okx, {{window_kind::sliding, 0, kS}, {window_kind::sliding, 1, kS}}),
      doctest::Contains("rest limit: budget"), segment_error);
  CHECK_THROWS_WITH_AS(venue_budget::open_or_create("bad name!", venue::okx, default_venue_limits(venue::okx)),
                       doctest::Contains("bus name"), segment_error);
}

TEST_CASE("a segment of another kind under the budget's name is refused and left in place") {
  test::unique_bus bus;
  segment_spec spec;
  spec.name = bus.segment("budget.binance");
  spec.kind = segment_kind::counters;
  spec.total_size = kVenueBudgetSegmentSize;
  auto other = shm_segment::create_or_adopt(spec);
  CHECK_THROWS_WITH_AS(venue_budget::open_or_create(bus.name(), venue::binance, default_venue_limits(venue::binance)),
                       doctest::Contains("expected"), segment_error);
  CHECK(inspect_segment(spec.name).status == attach_status::ok);
}

TEST_CASE("a segment its creator abandoned half-built is replaced") {
  test::unique_bus bus;
  const std::string name = bus.segment("budget.okx");
  const int fd = shm_open(("/" + name).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(ftruncate(fd, static_cast<off_t>(kVenueBudgetSegmentSize)) == 0);  // version 0, no lock held
  close(fd);
  auto b = venue_budget::open_or_create(bus.name(), venue::okx, default_venue_limits(venue::okx));
  CHECK(b.try_connect().granted());
  CHECK(inspect_segment(name).status == attach_status::ok);
}

TEST_CASE("a 429 noted by one process blocks every process until Retry-After, then grants resume") {
  test::unique_bus bus;
  const venue_limits lim = default_venue_limits(venue::binance);
  auto mine = venue_budget::open_or_create(bus.name(), venue::binance, lim);
  const auto codes = run_children(1, [&](int) {
    auto b = venue_budget::open_or_create(bus.name(), venue::binance, lim);
    b.note_rest_answer(429, 1200, 1);  // Retry-After: 1 s
    return b.stats().http_429 == 1 ? 0 : 1;
  });
  REQUIRE(codes == std::vector<int>{0});
  const budget_decision d = mine.try_rest(5);
  CHECK(d.outcome == budget_outcome::wait);
  CHECK(d.reason == budget_reason::retry_after);
  CHECK(d.retry_in_ns > 500 * kMs);
  CHECK(d.retry_in_ns <= kS);
  CHECK(d.wait_until_ns == mine.rest_blocked_until());
  // The 429 also spent the minute it came in; a simulated clock past both is granted.
  CHECK(mine.try_rest_at(5, mine.rest_blocked_until() + 61 * kS).granted());
  const venue_budget_stats s = mine.stats();
  CHECK(s.http_429 == 1);
  CHECK(s.rest_blocked == 1);
  CHECK(s.rest_answers == 1);
  CHECK(s.used_raises == 1);
  CHECK(s.last_used_header == 1200);
  mine.note_rest_answer(418, -1, -1);
  CHECK(mine.stats().http_418 == 1);
  CHECK(mine.try_rest(5).retry_in_ns > 110 * kS);  // a ban without Retry-After: 2 minutes
}

TEST_CASE("processes starting at once all open one segment: exactly one creates it") {
  test::unique_bus bus;
  const venue_limits lim = default_venue_limits(venue::okx);
  constexpr int kProcs = 6;
  for (int round = 0; round < 5; ++round) {
    venue_budget::remove(bus.name(), venue::okx);
    const std::int64_t start = mono_ns() + 50 * kMs;  // a common start line
    const auto codes = run_children(kProcs, [&](int) {
      while (mono_ns() < start) {
      }
      try {
        auto b = venue_budget::open_or_create(bus.name(), venue::okx, lim);
        (void)b.try_rest(1);
        return 0;
      } catch (const segment_error& e) {
        std::fprintf(stderr, "child %d: %s\n", static_cast<int>(::getpid()), e.what());
        return 1;
      }
    });
    REQUIRE(codes == std::vector<int>(kProcs, 0));
    auto b = venue_budget::open(bus.name(), venue::okx, access_mode::read_only);
    CHECK(b.stats().rest_granted == kProcs);  // one shared segment, not several
  }
}

TEST_CASE("processes hammering one fixed-window budget never exceed it in any window, even when one is killed") {
  test::unique_bus bus;
  const venue_limits lim = fast_limits(window_kind::fixed);
  auto mine = venue_budget::open_or_create(bus.name(), venue::binance, lim);
  constexpr int kProcs = 4;
  shared_log log(kProcs);
  const std::int64_t until = mono_ns() + 1200 * kMs;
  const auto codes = run_children(
      kProcs,
      [&](int i) {
        auto b = venue_budget::open_or_create(bus.name(), venue::binance, lim);
        hammer(b, log, static_cast<std::size_t>(i), until, 1000 + static_cast<std::uint64_t>(i));
        return 0;
      },
      /*kill_index=*/1, /*kill_after_ms=*/400);
  CHECK(codes[1] == -SIGKILL);
  const auto rest = log.all(0);
  const auto conn = log.all(1);
  CHECK(max_in_fixed_window(rest, lim.rest.window_ns) <= lim.rest.budget);
  CHECK(max_in_any_window(conn, lim.connect.window_ns) <= lim.connect.budget);
  // Not starved: ~12 windows of 50 units were on offer.
  CHECK(units(rest) >= 8 * 50);
  CHECK(conn.size() >= 15);
  // The survivors' counters agree with their logs (the killed one may have died between a
  // grant and its log line, so the counter can only be ahead).
  CHECK(static_cast<std::uint64_t>(mine.stats().rest_units_granted) >= units(rest));
  // And the budget still works for the living.
  std::int64_t t = mine.rest_clock_ns() + lim.rest.window_ns;
  CHECK(mine.try_rest_at(50, t - t % lim.rest.window_ns).granted());
}

TEST_CASE("processes hammering one sliding-window budget never exceed it in any closed window") {
  test::unique_bus bus;
  const venue_limits lim = fast_limits(window_kind::sliding);
  constexpr int kProcs = 4;
  shared_log log(kProcs);
  const std::int64_t until = mono_ns() + 1200 * kMs;
  const auto codes = run_children(kProcs, [&](int i) {
    auto b = venue_budget::open_or_create(bus.name(), venue::okx, lim);
    hammer(b, log, static_cast<std::size_t>(i), until, 2000 + static_cast<std::uint64_t>(i));
    return 0;
  });
  CHECK(codes == std::vector<int>(kProcs, 0));
  const auto rest = log.all(0);
  CHECK(max_in_any_window(rest, lim.rest.window_ns) <= lim.rest.budget);
  CHECK(max_in_any_window(log.all(1), lim.connect.window_ns) <= lim.connect.budget);
  CHECK(units(rest) >= 50);  // of at most 10 (burst) + 1.2 s × 50 units/s = 70
  auto tool = venue_budget::open(bus.name(), venue::okx, access_mode::read_only);
  CHECK(static_cast<std::uint64_t>(tool.stats().rest_units_granted) == units(rest));
}

TEST_CASE("threads sharing one handle and a second mapping keep the windows (the TSan case)") {
  test::unique_bus bus;
  const venue_limits lim = fast_limits(window_kind::fixed);
  auto one = venue_budget::open_or_create(bus.name(), venue::binance, lim);
  auto two = venue_budget::open_or_create(bus.name(), venue::binance, lim);
  constexpr int kThreads = 4;
  shared_log log(kThreads);
  const std::int64_t until = mono_ns() + 500 * kMs;
  std::vector<std::thread> ts;
  for (int i = 0; i < kThreads; ++i)
    ts.emplace_back([&, i] {
      venue_budget& b = i % 2 == 0 ? one : two;
      hammer(b, log, static_cast<std::size_t>(i), until, 3000 + static_cast<std::uint64_t>(i));
      if (i == 0) b.note_rest_answer(200, 7, -1);  // a header racing the spenders
    });
  for (auto& t : ts) t.join();
  CHECK(max_in_fixed_window(log.all(0), lim.rest.window_ns) <= lim.rest.budget);
  CHECK(max_in_any_window(log.all(1), lim.connect.window_ns) <= lim.connect.budget);
  CHECK(static_cast<std::uint64_t>(one.stats().rest_units_granted) == units(log.all(0)));
  CHECK(one.stats().used_raises <= 1);
}

TEST_CASE("a connection decision costs one clock read and one CAS") {
  test::unique_bus bus;
  auto b = venue_budget::open_or_create(bus.name(), venue::okx,
                                        {{window_kind::sliding, 30, 2 * kS}, {window_kind::sliding, 1u << 30, kS}});
  constexpr int kN = 200'000;
  const std::int64_t t0 = mono_ns();
  int granted = 0;
  for (int i = 0; i < kN; ++i) granted += b.try_connect().granted() ? 1 : 0;
  const double ns = static_cast<double>(mono_ns() - t0) / kN;
  MESSAGE("try_connect: " << ns << " ns per call, uncontended");
  CHECK(granted == kN);
  CHECK(ns < 5000);  // generous: sanitizers and a shared machine; the figure is in the message
}
