// ring_bench_filter: what a filtering reader of the output ring pays per frame, with one
// symbol of ten wanted — copying every frame whole and then testing its header (the
// consumer API before header peeking) against peeking at the 80-byte record header and
// copying only the wanted frames (broadcast_ring_reader::try_peek / skip_peeked /
// read_peeked). Also the consumer API itself, filtered, and unfiltered with and without its
// reader-table registration (the cost of keeping its line in `<ring>.readers`).
//
// Backlog: a writer thread on one core publishes a batch of real bus records (half a ring),
// then the reader thread on the other core reads the whole batch, timed; repeat. So every
// timed read pulls lines the other core has just written, and the writer never runs while
// the reader is timed. Methods take turns round by round, so drifting machine load hits all
// of them alike; the figure is the median ns per frame.
// Live: the writer publishes as fast as it can while the reader follows; the writer's rate
// and the reader's losses show whether a read path gets in the writer's way.
// Figures and command: bench/RESULTS.md.
#include "mdbus/broadcast_ring.hpp"
#include "bus/clock.hpp"
#include "mdbus/records.hpp"
#include "mdbus/consumer.hpp"
#include "mdbus/record_filter.hpp"

// GCC 12 reports a false -Wnull-dereference inside CLI11's inlined string splitting.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace mdbus;

namespace {

constexpr std::uint64_t kRingBytes = 1 << 20;
constexpr std::uint32_t kMaxPayload = 4096;
constexpr int kSymbols = 10;
constexpr int kWanted = 3;  // SYM3: one symbol in ten

struct options {
  int rounds = 40;
  int passes = 50;  // timed batches per method per round
  int cpu_a = 0;
  int cpu_b = 1;
};

std::string g_ring;                  // fixed before the signal handler is installed
std::string g_paths[2];              // "/<ring>" and "/<ring>.readers", likewise

// SIGINT/SIGTERM: shm_unlink is a plain unlink(2) of a fixed path; then leave at once.
extern "C" void on_terminate(int sig) {
  for (const auto& p : g_paths) shm_unlink(p.c_str());
  _exit(128 + sig);
}

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0)
    throw std::runtime_error("cannot pin to cpu " + std::to_string(cpu));
}

/// One batch of records as bytes: `trades` or 20-level book deltas, symbols round-robin.
std::vector<std::vector<std::byte>> make_batch(bool books, std::size_t count) {
  std::vector<std::vector<std::byte>> out;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string sym = "SYM" + std::to_string(i % kSymbols);
    if (books) {
      auto f = make_book_record(record_type::book_delta);
      f.header.venue_id = venue::binance;
      f.header.channel_id = channel::binance_depth;
      f.header.seq = i;
      f.header.set_symbol(sym);
      std::vector<book_level> levels(20, make_level(book_side::bid, {6543210, -2}, {5, -3}));
      std::vector<std::byte> b(book_record_size(levels.size()));
      if (write_book_record(b, f, levels) != b.size()) throw std::runtime_error("book record");
      out.push_back(std::move(b));
    } else {
      auto t = make_record<trade_record>();
      t.header.venue_id = venue::binance;
      t.header.channel_id = channel::binance_trade;
      t.header.seq = i;
      t.header.set_symbol(sym);
      const auto b = record_bytes(t);
      out.emplace_back(b.begin(), b.end());
    }
  }
  return out;
}

/// The writer thread: publishes the batch each time `go` moves, then reports `done`.
class batch_writer {
 public:
  batch_writer(broadcast_ring_writer& w, int cpu) : w_(w), thread_([this, cpu] { run(cpu); }) {}
  ~batch_writer() {
    stop_.store(true, std::memory_order_relaxed);
    thread_.join();
  }
  /// Publishes `batch` from the other core and returns when it is all in the ring.
  void publish(const std::vector<std::vector<std::byte>>* batch) {
    batch_ = batch;
    const std::uint64_t n = go_.load(std::memory_order_relaxed) + 1;
    go_.store(n, std::memory_order_release);  // release: batch_ is set; pairs with run()'s acquire
    while (done_.load(std::memory_order_acquire) != n) {  // acquire: pairs with run()'s release; frames are published
    }
  }

 private:
  void run(int cpu) {
    pin_to(cpu);
    std::uint64_t seen = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      const std::uint64_t n = go_.load(std::memory_order_acquire);  // pairs with publish()'s release
      if (n == seen) continue;
      for (const auto& r : *batch_)  // frame type = the record's type byte; every record fits max_payload
        (void)w_.write(static_cast<std::uint32_t>(r[offsetof(record_header, type)]), r);
      seen = n;
      done_.store(n, std::memory_order_release);  // pairs with publish()'s acquire
    }
  }

  broadcast_ring_writer& w_;
  const std::vector<std::vector<std::byte>>* batch_ = nullptr;
  alignas(64) std::atomic<std::uint64_t> go_{0};
  alignas(64) std::atomic<std::uint64_t> done_{0};
  alignas(64) std::atomic<bool> stop_{false};
  std::thread thread_;
};

enum class method { full_copy, peek, consumer_filtered, consumer_registered, consumer_unregistered };
constexpr method kMethods[] = {method::full_copy, method::peek, method::consumer_filtered, method::consumer_registered,
                               method::consumer_unregistered};

const char* name_of(method m) {
  switch (m) {
    case method::full_copy: return "ring: full copy, then filter";
    case method::peek: return "ring: header peek, copy if wanted";
    case method::consumer_filtered: return "consumer poll, filtered (peek)";
    case method::consumer_registered: return "consumer poll, unfiltered, registered";
    case method::consumer_unregistered: return "consumer poll, unfiltered, unregistered";
  }
  return "?";
}

/// Reads `frames` frames with method `m`; returns the wanted records it got (a check).
std::uint64_t read_batch(method m, broadcast_ring_reader& r, consumer& c, const record_filter& f, std::span<std::byte> buf,
                         std::uint64_t frames) {
  std::uint64_t wanted = 0;
  if (m == method::full_copy || m == method::peek) {
    for (std::uint64_t n = 0; n < frames; ++n) {
      broadcast_read_result res;
      if (m == method::full_copy) {
        res = r.try_read(buf);
      } else {
        res = r.try_peek(std::span(buf).first(sizeof(record_header)));
        record_header h;
        std::memcpy(&h, buf.data(), sizeof h);
        if (res.status == broadcast_read_status::ok && !f.pass(h)) {
          r.skip_peeked();
          continue;
        }
        if (res.status == broadcast_read_status::ok) res = r.read_peeked(buf);
      }
      record_view v;
      if (res.status != broadcast_read_status::ok || record_view::parse(buf.first(res.length), v) != record_status::ok)
        throw std::runtime_error(std::string(name_of(m)) + ": read failed");
      wanted += f.pass(v.header()) ? 1 : 0;
    }
    return wanted;
  }
  const auto start = c.stats().records + c.stats().filtered;
  while (c.stats().records + c.stats().filtered - start < frames) {
    const poll_result p = c.poll();
    if (p.status == poll_status::record) ++wanted;
    else if (p.status != poll_status::empty) throw std::runtime_error(std::string(name_of(m)) + ": poll failed");
  }
  return wanted;
}

struct result {
  std::vector<double> ns_per_frame;
  [[nodiscard]] double median() {
    std::sort(ns_per_frame.begin(), ns_per_frame.end());
    return ns_per_frame[ns_per_frame.size() / 2];
  }
};

void run_workload(const options& o, bool books) {
  const std::uint64_t frame = detail::align_up(sizeof(broadcast_frame_header) + (books ? book_record_size(20) : sizeof(trade_record)), 16);
  const std::size_t per_batch = kRingBytes / 2 / frame;
  const auto batch = make_batch(books, per_batch);
  auto w = broadcast_ring_writer::create(g_ring, {kRingBytes, kMaxPayload});
  batch_writer writer(w, o.cpu_a);
  record_filter f;
  f.symbol("SYM" + std::to_string(kWanted));
  std::vector<std::byte> buf(kMaxPayload);
  result results[std::size(kMethods)];
  for (int round = 0; round < o.rounds; ++round) {
    for (std::size_t mi = 0; mi < std::size(kMethods); ++mi) {
      const method m = kMethods[mi];
      broadcast_ring_reader r = broadcast_ring_reader::open(g_ring, start_position::newest);
      consumer_options co;
      co.bus = g_ring.substr(6, g_ring.rfind('.') - 6);
      co.object = "out";
      co.reader_name = "ring_bench_filter";
      co.register_reader = m != method::consumer_unregistered;
      if (m == method::consumer_filtered) co.filter = f;
      consumer c = consumer::open(co);
      for (int pass = 0; pass < o.passes + 1; ++pass) {  // pass 0 warms up, untimed
        writer.publish(&batch);
        const std::int64_t t0 = mono_ns();
        const std::uint64_t wanted = read_batch(m, r, c, f, buf, per_batch);
        const std::int64_t t1 = mono_ns();
        const std::uint64_t expect = m == method::consumer_registered || m == method::consumer_unregistered
                                         ? per_batch
                                         : (per_batch + kSymbols - 1 - kWanted) / kSymbols;
        if (wanted != expect)
          throw std::runtime_error(std::string(name_of(m)) + ": got " + std::to_string(wanted) + " wanted records, expected " +
                                   std::to_string(expect));
        if (pass > 0) results[mi].ns_per_frame.push_back(static_cast<double>(t1 - t0) / static_cast<double>(per_batch));
      }
    }
  }
  std::printf("\n%s: %zu frames of %llu B per batch (half the 1 MiB ring), %d batches per method\n",
              books ? "book deltas, 20 levels" : "trades", per_batch, static_cast<unsigned long long>(frame),
              o.rounds * o.passes);
  std::printf("  %-42s %14s\n", "path", "ns/frame (median)");
  double med[std::size(kMethods)];
  for (std::size_t mi = 0; mi < std::size(kMethods); ++mi) {
    med[mi] = results[mi].median();
    std::printf("  %-42s %14.2f\n", name_of(kMethods[mi]), med[mi]);
  }
  std::printf("  %-42s %13.2fx\n", "full copy / header peek (1 of 10 wanted)", med[0] / med[1]);
  std::printf("  %-42s %+13.2f ns\n", "registration cost per record (unfiltered)", med[3] - med[4]);
  shm_segment::remove(g_ring);
  shm_segment::remove(g_ring + ".readers");
}

/// Live: the writer publishes `total` records as fast as it can, never waiting; a filtering
/// reader follows on the other core and is lapped whenever it is slower. The share of frames
/// it loses shows what its read path costs where it matters, and the writer's rate whether
/// the reader's path slows the writer (it must not).
void run_live(const options& o, bool books) {
  const auto batch = make_batch(books, 1000);
  const std::uint64_t total = books ? 2'000'000 : 5'000'000;
  record_filter f;
  f.symbol("SYM" + std::to_string(kWanted));
  std::vector<std::byte> buf(kMaxPayload);
  std::printf("\nlive, %s: the writer publishes %llu records as fast as it can; the filtering reader follows\n",
              books ? "book deltas" : "trades", static_cast<unsigned long long>(total));
  std::printf("  %-42s %14s %14s\n", "path", "writer ns/rec", "reader lost %");
  for (const method m : {method::full_copy, method::peek}) {
    std::vector<double> writer_ns, lost_pct;
    for (int round = 0; round < std::max(1, o.rounds / 4); ++round) {
      auto w = broadcast_ring_writer::create(g_ring, {kRingBytes, kMaxPayload});
      auto r = broadcast_ring_reader::open(g_ring, start_position::oldest);
      std::int64_t elapsed = 0;
      std::thread writer([&] {
        pin_to(o.cpu_a);
        const std::int64_t t0 = mono_ns();
        for (std::uint64_t i = 0; i < total; ++i) {
          const auto& rec = batch[i % batch.size()];
          (void)w.write(static_cast<std::uint32_t>(rec[offsetof(record_header, type)]), rec);
        }
        elapsed = mono_ns() - t0;
      });
      std::uint64_t lost = 0;
      while (r.next_seq() < total) {
        broadcast_read_result res = m == method::full_copy ? r.try_read(buf) : r.try_peek(std::span(buf).first(sizeof(record_header)));
        if (res.status == broadcast_read_status::lapped) lost += res.missed_frames;
        if (res.status != broadcast_read_status::ok || m == method::full_copy) continue;
        record_header h;
        std::memcpy(&h, buf.data(), sizeof h);
        if (!f.pass(h)) {
          r.skip_peeked();
        } else if ((res = r.read_peeked(buf)).status == broadcast_read_status::lapped) {
          lost += res.missed_frames;
        }
      }
      writer.join();
      writer_ns.push_back(static_cast<double>(elapsed) / static_cast<double>(total));
      lost_pct.push_back(100.0 * static_cast<double>(lost) / static_cast<double>(total));
      shm_segment::remove(g_ring);
      shm_segment::remove(g_ring + ".readers");
    }
    std::sort(writer_ns.begin(), writer_ns.end());
    std::sort(lost_pct.begin(), lost_pct.end());
    std::printf("  %-42s %14.2f %14.1f\n", name_of(m), writer_ns[writer_ns.size() / 2], lost_pct[lost_pct.size() / 2]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"filtered read of the output ring: header peek against full copy, and the consumer API's costs"};
  app.add_option("--rounds", o.rounds, "rounds; each times every method")->check(CLI::Range(1, 1000));
  app.add_option("--passes", o.passes, "timed batches per method per round")->check(CLI::Range(1, 10000));
  app.add_option("--cpu-a", o.cpu_a, "writer core");
  app.add_option("--cpu-b", o.cpu_b, "reader core");
  bool quick = false;
  app.add_flag("--quick", quick, "3 rounds of 5 passes");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    o.rounds = 3;
    o.passes = 5;
  }
  g_ring = segment_name("benchf-" + std::to_string(getpid()), "out");
  g_paths[0] = "/" + g_ring;
  g_paths[1] = "/" + g_ring + ".readers";
  struct sigaction sa{};
  sa.sa_handler = on_terminate;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  try {
    pin_to(o.cpu_b);
    std::printf("ring_bench_filter: writer thread on cpu %d, reader on cpu %d; wanted: 1 symbol of %d\n", o.cpu_a, o.cpu_b,
                kSymbols);
    run_workload(o, false);
    run_workload(o, true);
    run_live(o, false);
    run_live(o, true);
  } catch (const std::exception& e) {
    shm_segment::remove(g_ring);
    shm_segment::remove(g_ring + ".readers");
    std::fprintf(stderr, "ring_bench_filter: %s\n", e.what());
    return 1;
  }
  return 0;
}
