// scale_bench: how the bus's cost grows with the number of instruments (issue 15, bench/scale).
//
// For each instrument count N (per venue; default 2, 50, 200, 500) at the same total message
// rate (the first point runs at --rate market actions a second; every later point's action
// rate is then steered, through exsim's POST /market, until the feeders receive the first
// point's messages a second within 5 %: more instruments at one action rate would mean more
// messages, as each symbol's depth@100ms window flushes on its own): exsim over TLS with N Binance symbols and N OKX instIds -> mdsupervisor (per venue
// connection groups of two mdfeed slots each, as many as the venue's connection limit asks:
// Binance ceil(N x 3 streams / 800), OKX one; mdmerge) -> this
// process's consumer. Per point:
//   - sync: seconds from the supervisor's start until every book (Binance depth@100ms, OKX
//     books) has a snapshot on the output ring (Binance's from REST, inside its budget);
//   - CPU per million messages over a window after sync: all feeders' CPU over the
//     messages they received (their status blocks), the merger's over the records it published;
//   - private resident memory (RssAnon) of the largest feeder and of the merger;
//   - the merger's added latency: publish - receive stamps of every data record, p50 / p99,
//     the event channels (trade, bookTicker, trades, bbo-tbt) apart from the book channels
//     (depth@100ms, books: every instrument's 100 ms window closes on one tick, so they come in
//     bursts as large as the instrument count); --by-channel prints each channel;
//   - the cores exsim and the whole machine kept busy over the window (a loaded 2-core box
//     delays every hop: read the latency against them).
// Each figure is also printed as a ratio against the first point of the same run (the
// machine is shared: ratios hold where absolute figures drift). Channels: Binance trade +
// bookTicker + depth@100ms (500 symbols x 3 = 1500 streams: two groups, as one Binance
// connection holds 1024), OKX trades + bbo-tbt + books. See bench/RESULTS.md.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include "bench/e2e_process.hpp"
#include "bus/clock.hpp"
#include "bus/config/config.hpp"
#include "bus/counters.hpp"
#include "bus/feeder_block.hpp"
#include "bus/stop_signal.hpp"
#include "mdbus/consumer.hpp"
#include "mdbus/venues/registry.hpp"
#include "tests/tools/exsim/http_client.hpp"

using namespace std::chrono_literals;
using namespace mdbus;
using namespace mdbus::bench;
using mdbus::test::http_request;
using nlohmann::json;

namespace {

struct options {
  std::vector<int> counts = {2, 50, 200, 500};
  double rate = 4000;    ///< exsim market actions per second, shared by all instruments (the first point)
  double msgs_per_s = 0;  ///< the feeders' message rate every point is steered to; 0: the first point's
  double seconds = 10;   ///< measuring window per point
  double warmup = 2;     ///< after sync, before the window
  double sync_limit = 180;
  int binance_groups = 0;  ///< connection groups per venue; 0: from the venue's connection limit
  int okx_groups = 0;
  bool by_channel = false;
  int busy_threads = 0;  ///< nice-19 spinning threads for the whole run (see --busy-threads)
  bool keep = false;
};

/// Threads at the lowest priority that spin until destroyed: the machine's cores never idle,
/// so every point wakes its processes on a running core. On a VM whose idle vCPUs halt at once
/// (haltpoll.guest_halt_poll_ns=0 on this one's kernel command line) a wake-up onto a halted
/// vCPU goes through the hypervisor, and a point that keeps the box less busy (fewer market
/// actions for the same messages) would measure slower wake-ups, not a slower bus.
class busy_threads {
 public:
  explicit busy_threads(int n) {
    for (int i = 0; i < n; ++i)
      threads_.emplace_back([this] {
        (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
        while (!stop_.load(std::memory_order_relaxed)) {
        }
      });
  }
  ~busy_threads() {
    stop_.store(true);
    for (auto& t : threads_) t.join();
  }
  busy_threads(const busy_threads&) = delete;
  busy_threads& operator=(const busy_threads&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

std::vector<std::string> binance_symbols(int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back("S" + std::to_string(i) + "USDT");
  return v;
}
std::vector<std::string> okx_symbols(int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back("S" + std::to_string(i) + "-USDT");
  return v;
}

/// Connection groups for n instruments of 3 channels on venue `v`: `forced` when > 0, else as
/// many as the venue's connection limit asks (its descriptor): each group at most 25/32 of the
/// streams one connection holds (Binance: 800 of 1024; the groups are a hash split of the
/// symbols, so not quite even), one group where the venue documents no stream limit (OKX).
int groups_for(venue v, int n, int forced) {
  if (forced > 0) return forced;
  const std::uint32_t max = find_venue(v)->connection.max_streams;
  if (max == 0) return 1;
  const int per = static_cast<int>(max * 25 / 32);
  return std::max(1, (n * 3 + per - 1) / per);
}

std::string write_config(const std::string& path, const std::string& bus, int n, const options& o, const json& ready,
                         const std::string& dir) {
  const json ep = {{"host", "127.0.0.1"}, {"port", ready.at("venue_port")}, {"tls", true}, {"server_name", "localhost"},
                   {"ca_file", dir + "/certs/ca.pem"}};
  json brest = ep, orest = ep;
  brest["port"] = ready.at("binance_rest_port");
  orest["port"] = ready.at("okx_rest_port");
  const json cfg = {
      {"bus", bus},
      {"rings", {{"feeder_bytes", 16 << 20}, {"output_bytes", 128 << 20}}},
      {"supervisor", {{"control_socket", dir + "/ctl.sock"}}},
      {"venues",
       {{"binance", {{"endpoint", ep}, {"rest_endpoint", brest}, {"symbols", binance_symbols(n)},
                     {"channels", {"trade", "bookTicker", "depth@100ms"}}, {"groups", groups_for(venue::binance, n, o.binance_groups)}}},
        {"okx", {{"endpoint", ep}, {"rest_endpoint", orest}, {"symbols", okx_symbols(n)}, {"channels", {"trades", "bbo-tbt", "books"}},
                 {"groups", groups_for(venue::okx, n, o.okx_groups)}}}}}};
  std::ofstream(path) << cfg.dump(2);
  return path;
}

/// Private resident memory of a process in MB (RssAnon: heap, stacks; not the shared-memory
/// rings, whose pages count in VmRSS as they are touched and would measure the rings' fill
/// instead of the process), 0 when it is gone.
double rss_mb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("RssAnon:", 0) == 0) return std::stod(line.substr(8)) / 1024.0;
  return 0;
}

/// The book channels are apart: Binance depth@100ms and OKX books push each instrument's changes
/// once a 100 ms window, and every instrument's window closes at the same instant (exsim; and
/// Binance spot: captured depth@100ms events of different symbols share E mod 100), so their
/// records come in bursts as large as the instrument count, each waiting for those before it.
/// trade, bookTicker, trades and bbo-tbt go out as each event happens.
bool window_batched(channel c) { return c == channel::binance_depth || c == channel::okx_books; }

/// The bench's consumer: every book that has had a snapshot, and while recording the merger's
/// added latency (publish - receive) of every data record.
class reader {
 public:
  explicit reader(consumer c) : c_(std::move(c)) { thread_ = std::thread([this] { run(); }); }
  ~reader() {
    stop_.store(true);
    thread_.join();
  }
  reader(const reader&) = delete;
  reader& operator=(const reader&) = delete;
  [[nodiscard]] std::size_t books_synced() const { return synced_.load(); }
  void record(bool on) {
    std::lock_guard<std::mutex> g(m_);
    recording_ = on;
  }
  /// The latencies recorded, by channel (every data record, at most kMaxRecorded in all).
  std::map<channel, std::vector<std::int64_t>> take_by_channel() {
    std::lock_guard<std::mutex> g(m_);
    recorded_ = 0;
    return std::move(by_channel_);
  }
  std::atomic<std::uint64_t> laps{0}, gaps{0};

 private:
  void run() {
    const idle_policy idle{};
    while (!stop_.load(std::memory_order_relaxed)) {
      const poll_result r = c_.wait(20'000'000, idle);
      if (r.status == poll_status::lapped) laps.fetch_add(1);
      if (r.status != poll_status::record) continue;
      const record_header& h = r.record.header();
      if (h.type == record_type::gap) gaps.fetch_add(1);
      if (h.type == record_type::book_snapshot && synced_set_.insert({h.venue_id, std::string(h.symbol_view())}).second)
        synced_.store(synced_set_.size());
      if (h.type == record_type::slot_status || h.type == record_type::gap || h.type == record_type::instrument) continue;
      std::lock_guard<std::mutex> g(m_);
      if (!recording_ || recorded_ == kMaxRecorded) continue;
      ++recorded_;
      by_channel_[h.channel_id].push_back(h.publish_time_ns - h.receive_time_ns);
    }
  }
  static constexpr std::size_t kMaxRecorded = 8'000'000;
  consumer c_;
  std::set<std::pair<venue, std::string>> synced_set_;
  std::atomic<std::size_t> synced_{0};
  std::mutex m_;
  bool recording_ = false;
  std::size_t recorded_ = 0;
  std::map<channel, std::vector<std::int64_t>> by_channel_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/// The machine's busy CPU time (all cores, seconds) from /proc/stat: user + nice + system + irq
/// + softirq + steal.
double machine_busy_seconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return static_cast<double>(user + nice + system + irq + softirq + steal) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double percentile(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return static_cast<double>(v[k]);
}

struct point {
  int n = 0;
  double sync_s = 0;
  double feeder_cpu_per_m = 0, merger_cpu_per_m = 0;  ///< CPU seconds per million messages / records
  double msgs_per_s = 0;                              ///< messages all feeders received a second
  double feeder_rss = 0, merger_rss = 0;              ///< MB
  double p50_us = 0, p99_us = 0;            ///< the event channels: trade, bookTicker, trades, bbo-tbt
  double books_p50_us = 0, books_p99_us = 0;  ///< the window-batched book channels: depth@100ms, books
  double exsim_cores = 0, machine_cores = 0;          ///< CPU in use over the window (cores), exsim's and the machine's
  double action_rate = 0;                             ///< exsim's market actions a second in the window
  std::string by_channel;                             ///< per channel: records, p50 / p99 µs
  std::uint64_t gaps = 0, laps = 0;
};

point run_point(int n, const options& o, double target_msgs_per_s, const std::string& dir) {
  const std::string bus = "scale-" + std::to_string(::getpid()) + "-" + std::to_string(n);
  scope_exit sweep([&] { (void)remove_bus_segments(bus); });
  std::vector<std::string> args = {EXSIM_BINARY, "--port", "0", "--control-port", "0", "--tls-cert", dir + "/certs/server.pem",
                                   "--tls-key", dir + "/certs/server.key", "--rate", std::to_string(o.rate), "--seed", "1",
                                   "--binance-rest-port", "0", "--okx-rest-port", "0", "--binance-symbols"};
  for (const auto& s : binance_symbols(n)) args.push_back(s);
  args.push_back("--okx-symbols");
  for (const auto& s : okx_symbols(n)) args.push_back(s);
  const std::string tag = std::to_string(n);
  program exsim(args, dir + "/exsim-" + tag + ".log", SIGKILL, 5000);
  const json ready = json::parse(wait_ready_line(exsim, dir + "/exsim-" + tag + ".log", "EXSIM_READY", 20000));
  const std::string config = write_config(dir + "/bus-" + tag + ".json", bus, n, o, ready, dir);
  const std::string sup_log = dir + "/supervisor-" + tag + ".log";
  const auto t0 = std::chrono::steady_clock::now();
  program supervisor({MDSUPERVISOR_BINARY, "--config", config, "--mdfeed", MDFEED_BINARY, "--mdmerge", MDMERGE_BINARY}, sup_log,
                     SIGTERM, 25000);
  (void)wait_ready_line(supervisor, sup_log, "MDSUPERVISOR_READY", 30000);
  consumer_options co;
  co.bus = bus;
  co.start = start_position::oldest;  // the snapshots written before this consumer opened count too
  co.open_wait_ms = 20000;
  co.reader_name = "scale_bench";
  reader rd(consumer::open(co));
  const std::size_t books = static_cast<std::size_t>(2 * n);  // Binance depth + OKX books, per symbol
  while (rd.books_synced() < books) {
    if (!supervisor.running()) throw std::runtime_error("mdsupervisor exited; its log:\n" + tail(sup_log));
    if (std::chrono::steady_clock::now() - t0 > std::chrono::duration<double>(o.sync_limit))
      throw std::runtime_error(std::to_string(rd.books_synced()) + " of " + std::to_string(books) + " books synced in " +
                               std::to_string(o.sync_limit) + " s");
    sleep_checked(0.05);
  }
  point p;
  p.n = n;
  p.sync_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const int control_port = ready.at("control_port");
  const json st = supervisor_request(dir + "/ctl.sock", {{"cmd", "status"}});
  std::vector<pid_t> feeders;
  std::vector<feeder_status_reader> status;
  for (const auto& s : st["slots"]) {
    feeders.push_back(s["pid"].get<pid_t>());
    status.push_back(feeder_status_reader::open(
        feeder_status_name(bus, *venue_from_string(s["venue"].get<std::string>()), config::slot_from_string(s["slot"].get<std::string>()),
                           s["group"].get<std::uint32_t>())));
  }
  const pid_t merger = st["merger"]["pid"].get<pid_t>();
  const auto counters = counters_segment::open(segment_name(bus, "counters"), access_mode::read_only);
  const auto messages = [&] {
    double m = 0;
    for (const auto& s : status) m += static_cast<double>(s.snapshot().messages);
    return m;
  };
  // The same total message rate at every point: steer exsim's action rate until the feeders
  // receive the target within 5 % (messages do not grow in proportion to actions: a symbol's
  // depth@100ms window carries every action of its 100 ms in one message).
  p.action_rate = o.rate;
  if (target_msgs_per_s > 0) {
    for (int step = 0; step < 8; ++step) {
      const double m0 = messages();
      sleep_checked(1.5);
      const double measured = (messages() - m0) / 1.5;
      if (measured <= 0) throw std::runtime_error("no messages while steering the rate");
      const double ratio = target_msgs_per_s / measured;
      if (ratio > 0.95 && ratio < 1.05) break;
      p.action_rate = std::clamp(p.action_rate * ratio, 10.0, 1e6);
      (void)http_request(control_port, "POST", "/market", json{{"rate", p.action_rate}}.dump());
    }
  }
  sleep_checked(o.warmup);
  double fcpu0 = 0;
  for (const pid_t f : feeders) fcpu0 += cpu_seconds(f);
  const double mcpu0 = cpu_seconds(merger), msgs0 = messages();
  const double xcpu0 = cpu_seconds(exsim.pid()), busy0 = machine_busy_seconds();
  const double pub0 = static_cast<double>(counters.find("merge.published").value_or(0));
  const std::uint64_t gaps0 = rd.gaps.load(), laps0 = rd.laps.load();
  rd.record(true);
  sleep_checked(o.seconds);
  rd.record(false);
  double fcpu1 = 0;
  for (const pid_t f : feeders) fcpu1 += cpu_seconds(f);
  const double msgs = messages() - msgs0;
  const double published = static_cast<double>(counters.find("merge.published").value_or(0)) - pub0;
  p.msgs_per_s = msgs / o.seconds;
  p.exsim_cores = (cpu_seconds(exsim.pid()) - xcpu0) / o.seconds;
  p.machine_cores = (machine_busy_seconds() - busy0) / o.seconds;
  p.feeder_cpu_per_m = msgs > 0 ? (fcpu1 - fcpu0) / (msgs / 1e6) : 0;
  p.merger_cpu_per_m = published > 0 ? (cpu_seconds(merger) - mcpu0) / (published / 1e6) : 0;
  for (const pid_t f : feeders) p.feeder_rss = std::max(p.feeder_rss, rss_mb(f));
  p.merger_rss = rss_mb(merger);
  std::vector<std::int64_t> events, batched;
  for (auto& [c, v] : rd.take_by_channel()) {
    auto& into = window_batched(c) ? batched : events;
    into.insert(into.end(), v.begin(), v.end());
    char line[160];
    std::snprintf(line, sizeof line, "         %-22s %9zu records  p50 %8.1f us  p99 %8.1f us\n", std::string(to_string(c)).c_str(),
                  v.size(), percentile(v, 0.5) / 1e3, percentile(v, 0.99) / 1e3);
    p.by_channel += line;
  }
  p.p50_us = percentile(events, 0.5) / 1e3;
  p.p99_us = percentile(events, 0.99) / 1e3;
  p.books_p50_us = percentile(batched, 0.5) / 1e3;
  p.books_p99_us = percentile(batched, 0.99) / 1e3;
  p.gaps = rd.gaps.load() - gaps0;
  p.laps = rd.laps.load() - laps0;
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"scale_bench: the bus's cost against the number of instruments per venue, at one total rate"};
  app.add_option("--instruments", o.counts, "instrument counts per venue, the first is the baseline")->capture_default_str();
  app.add_option("--rate", o.rate, "exsim market actions per second, shared by all instruments")->capture_default_str();
  app.add_option("--msgs-per-s", o.msgs_per_s,
                 "messages a second (all feeders) every point is steered to; 0: the first point's at --rate")
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "measuring window per point")->capture_default_str();
  app.add_option("--warmup", o.warmup, "seconds after every book is synced, before the window")->capture_default_str();
  app.add_option("--sync-limit", o.sync_limit, "seconds to wait for every book")->capture_default_str();
  app.add_option("--binance-groups", o.binance_groups,
                 "Binance connection groups at every point; 0: as its 1024 streams a connection ask (800 a group)")
      ->capture_default_str();
  app.add_option("--okx-groups", o.okx_groups, "OKX connection groups at every point; 0: one (OKX documents no stream limit)")
      ->capture_default_str();
  app.add_flag("--by-channel", o.by_channel, "also print each channel's records and latency p50 / p99 at every point");
  app.add_option("--busy-threads", o.busy_threads,
                 "spin this many nice-19 threads for the whole run, so no point measures wake-ups onto idle (halted) cores")
      ->capture_default_str();
  app.add_flag("--keep", o.keep, "keep the work directory (logs, configs)");
  CLI11_PARSE(app, argc, argv);
  install_stop_signals();

  char tmpl[] = "/tmp/scale_bench.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    std::fprintf(stderr, "scale_bench: cannot make a work directory\n");
    return 1;
  }
  const std::string dir = tmpl;
  scope_exit cleanup([&] {
    if (o.keep)
      std::printf("kept %s\n", dir.c_str());
    else
      std::filesystem::remove_all(dir);
  });
  try {
    make_test_certs(MDBUS_SOURCE_DIR "/scripts/gen-test-certs", dir + "/certs");
    std::printf("scale_bench: one message rate at every point (the first point's at %g market actions/s, or --msgs-per-s); Binance trade + bookTicker + depth@100ms, OKX "
                "trades + bbo-tbt + books; connection groups: Binance %s, OKX %s; window %g s; %d busy thread(s)\n\n",
                o.rate, o.binance_groups > 0 ? std::to_string(o.binance_groups).c_str() : "ceil(N x 3 / 800)",
                o.okx_groups > 0 ? std::to_string(o.okx_groups).c_str() : "1", o.seconds, o.busy_threads);
    std::printf("%6s %8s %10s %9s %12s %12s %10s %10s %9s %9s %9s %9s %7s %7s %5s %5s\n", "instr", "sync s", "msgs/s", "actions/s",
                "feed cpu/M", "merge cpu/M", "feed MB", "merge MB", "p50 us", "p99 us", "books p50", "books p99", "exsim", "machine",
                "gaps", "laps");
    const busy_threads busy(o.busy_threads);
    std::vector<point> points;
    for (const int n : o.counts) {
      const double target = o.msgs_per_s > 0 ? o.msgs_per_s : points.empty() ? 0.0 : points.front().msgs_per_s;
      const point p = run_point(n, o, target, dir);
      points.push_back(p);
      std::printf("%6d %8.1f %10.0f %9.0f %12.3f %12.3f %10.1f %10.1f %9.1f %9.1f %9.1f %9.1f %7.2f %7.2f %5llu %5llu\n", p.n,
                  p.sync_s, p.msgs_per_s, p.action_rate, p.feeder_cpu_per_m, p.merger_cpu_per_m, p.feeder_rss, p.merger_rss, p.p50_us, p.p99_us,
                  p.books_p50_us, p.books_p99_us, p.exsim_cores, p.machine_cores, static_cast<unsigned long long>(p.gaps),
                  static_cast<unsigned long long>(p.laps));
      if (o.by_channel) std::printf("%s", p.by_channel.c_str());
      std::fflush(stdout);
    }
    const point& b = points.front();
    const auto r = [](double a, double base) { return base > 0 ? a / base : 0.0; };
    std::printf("\nagainst %d instruments (same run):\n%6s %12s %12s %10s %10s %9s %9s %9s %9s\n", b.n, "instr", "feed cpu/M",
                "merge cpu/M", "feed MB", "merge MB", "p50", "p99", "books p50", "books p99");
    for (const point& p : points)
      std::printf("%6d %11.2fx %11.2fx %9.2fx %9.2fx %8.2fx %8.2fx %8.2fx %8.2fx\n", p.n, r(p.feeder_cpu_per_m, b.feeder_cpu_per_m),
                  r(p.merger_cpu_per_m, b.merger_cpu_per_m), r(p.feeder_rss, b.feeder_rss), r(p.merger_rss, b.merger_rss),
                  r(p.p50_us, b.p50_us), r(p.p99_us, b.p99_us), r(p.books_p50_us, b.books_p50_us), r(p.books_p99_us, b.books_p99_us));
    if (points.size() > 1) {
      const point& l = points.back();
      std::printf("\nmemory per instrument: a feeder %.1f KB (one venue's streams of it), the merger %.1f KB (both venues')\n",
                  (l.feeder_rss - b.feeder_rss) * 1024.0 / (l.n - b.n), (l.merger_rss - b.merger_rss) * 1024.0 / (l.n - b.n));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scale_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
