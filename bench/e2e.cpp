// e2e_bench: end-to-end latency of the whole bus against the floor of a bare client.
//
// exsim over TLS on loopback (with its truth log) -> two mdfeed slots per venue -> mdmerge
// -> this process's consumer (consumer API, idle mode wait by default), all under mdsupervisor with a
// generated config; in the same run a floor process (bench/e2e_floor.hpp: one libwebsockets
// client, same streams, nothing else). Every record and every floor message is matched to
// exsim's truth entry of the same event (stream, sequence) and its gen_time_ns. Per target
// rate (venue messages/s reaching one subscriber): percentiles of receive - gen_time for the
// bus and the floor, the exact per-event difference bus - floor, the bus's own stages from
// the stamps each record carries, and CPU per process; rate 0: an idle bus's CPU. Options
// change the idle strategies (wait, backoff, spin), pin mdmerge and the consumer to cores
// (machines with cores to spare), or raise their scheduling priority. See bench/RESULTS.md.
#include <sched.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include "bus/sched_slice.hpp"
#include "bus/stop_signal.hpp"
#include "bench/e2e_analysis.hpp"
#include "bench/e2e_bus_reader.hpp"
#include "bench/e2e_floor.hpp"
#include "bench/e2e_process.hpp"
#include "mdbus/consumer.hpp"
#include "tests/tools/exsim/http_client.hpp"

using namespace std::chrono_literals;
using namespace mdbus;
using namespace mdbus::bench;
using nlohmann::json;

namespace {


void pin_to_cpu(pid_t pid, int cpu, const char* what) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (::sched_setaffinity(pid, sizeof set, &set) != 0)
    throw std::runtime_error(std::string("cannot pin ") + what + " to CPU " + std::to_string(cpu) + ": " + std::strerror(errno));
}

struct options {
  bool quick = false;
  double seconds = 10;
  double warmup = 3;
  std::vector<double> rates = {10000, 50000};
  std::string merge_idle = "wait";
  int merge_sleep_us = 200;  // backoff's longest pause
  int spin_us = 5;           // wait: how long the merger and the consumer poll before sleeping
  std::string consumer_idle = "wait";
  int pin_merger = -1, pin_consumer = -1;  // CPU to pin to, or -1
  int slice_us = 100;                      // scheduling.wake_slice_us for mdmerge and the feeders, and the consumer thread's slice (0: the kernel's default)
  bool fifo = false;                       // SCHED_FIFO 1 for mdmerge and the consumer thread (needs CAP_SYS_NICE)
  bool floor_last = false;
  std::string ccxt_modules = CCXT_MODULES;  // node_modules holding ccxt; "" or missing: no ccxt client
  double ccxt_max_rate = 10000;             // ccxt is stopped before the first rate above this
  bool keep = false;
};

std::string write_config(const std::string& path, const std::string& bus, int port, int binance_rest_port, int okx_rest_port, const std::string& dir,
                         const options& o) {
  const json ep = {{"host", "127.0.0.1"}, {"port", port}, {"tls", true}, {"server_name", "localhost"},
                   {"ca_file", dir + "/certs/ca.pem"}};
  json brest = ep, orest = ep;  // exsim's REST listeners: the stream port serves no REST
  brest["port"] = binance_rest_port;
  orest["port"] = okx_rest_port;
  const json cfg = {
      {"bus", bus},
      {"rings", {{"feeder_bytes", 8 << 20}, {"output_bytes", 64 << 20}}},
      {"merge", {{"hole_fill_ms", 3}, {"idle", o.merge_idle}, {"idle_sleep_max_us", o.merge_sleep_us}, {"idle_spin_us", o.spin_us}}},
      {"supervisor", {{"control_socket", dir + "/ctl.sock"}}},
      {"scheduling", {{"wake_slice_us", o.slice_us}}},
      {"venues",
       {{"binance",
         {{"endpoint", ep}, {"rest_endpoint", brest}, {"symbols", {"BTCUSDT", "ETHUSDT"}}, {"channels", {"trade", "aggTrade", "bookTicker", "depth@100ms"}},
          {"slots", {"A", "B"}}}},
        {"okx",
         {{"endpoint", ep}, {"rest_endpoint", orest}, {"symbols", {"BTC-USDT", "ETH-USDT"}}, {"channels", {"trades", "bbo-tbt", "books"}},
          {"slots", {"A", "B"}}}}}}};
  std::ofstream(path) << cfg.dump(2);
  return path;
}

/// One measured process: label, its /proc stat file, CPU seconds at the window's start.
struct measured {
  std::string label;
  std::string stat_path;
  double cpu0 = 0;
};

std::string us(double ns) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", ns / 1000.0);
  return b;
}
std::string ratio(double a, double b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", b > 0 ? a / b : 0.0);
  return buf;
}

void print_row(const char* name, const percentiles& p) {
  std::printf("| %s | %zu | %s | %s | %s | %s |\n", name, p.n, us(p.p50).c_str(), us(p.p99).c_str(), us(p.p999).c_str(),
              us(p.max).c_str());
}

struct rate_summary {
  double target = 0, asked = 0, msgs = 0;
  percentiles bus, floor, diff, hops, ccxt, bus_trades;
  bool complete = false;
  std::vector<std::pair<std::string, double>> cpu;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"e2e_bench: end-to-end latency, exsim -> feeders -> merger -> consumer, against a bare lws client"};
  options o;
  app.add_flag("--quick", o.quick, "short run: 2 s windows, 1 s warm-up");
  app.add_option("--seconds", o.seconds, "measurement window per rate (s)");
  app.add_option("--warmup", o.warmup, "warm-up after each rate change (s)");
  app.add_option("--rates", o.rates, "target venue messages/s to one subscriber, e.g. 10000,50000; 0: an idle bus (CPU only)")->delimiter(',');
  app.add_option("--merge-idle", o.merge_idle, "mdmerge idle mode: wait (doorbell), spin or backoff")
      ->check(CLI::IsMember({"wait", "spin", "backoff"}));
  app.add_option("--merge-sleep-us", o.merge_sleep_us, "mdmerge backoff: longest pause between polls (us)")->check(CLI::Range(1, 100000));
  app.add_option("--spin-us", o.spin_us, "wait: how long the merger and the consumer poll before sleeping (us)")->check(CLI::Range(0, 1000000));
  app.add_option("--consumer-idle", o.consumer_idle, "consumer: wait (doorbell), spin (busy-poll) or backoff")
      ->check(CLI::IsMember({"wait", "spin", "backoff"}));
  app.add_option("--pin-merger", o.pin_merger, "pin mdmerge to this CPU (machines with cores to spare)")->check(CLI::Range(0, 1023));
  app.add_option("--pin-consumer", o.pin_consumer, "pin the consumer thread to this CPU")->check(CLI::Range(0, 1023));
  app.add_option("--slice-us", o.slice_us, "scheduler slice (us) of mdmerge, the feeders (scheduling.wake_slice_us) and the consumer thread (EEVDF, Linux >= 6.12: a shorter slice preempts sooner on wake-up); 0: the kernel's default")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_flag("--fifo", o.fifo, "run mdmerge and the consumer thread SCHED_FIFO 1 (needs CAP_SYS_NICE)");
  app.add_option("--ccxt-modules", o.ccxt_modules, "node_modules directory with the ccxt package (default: the ccxt "
                 "conformance test's cache); empty: run no ccxt client");
  app.add_option("--ccxt-max-rate", o.ccxt_max_rate, "stop the ccxt client before the first rate above this (node cannot keep "
                 "up with much more, and its CPU then starves the rest of a 2-core machine)");
  app.add_flag("--floor-last", o.floor_last, "connect the floor after the feeders (exsim then writes its copy last)");
  app.add_flag("--keep", o.keep, "keep the temp directory (logs, truth log, config)");
  CLI11_PARSE(app, argc, argv);
  if (o.slice_us != 0 && o.slice_us < kMinWakeSliceUs) {
    std::fprintf(stderr, "e2e_bench: --slice-us %d: must be 0 or %lld..%lld\n", o.slice_us, static_cast<long long>(kMinWakeSliceUs),
                 static_cast<long long>(kMaxWakeSliceUs));
    return 2;
  }
  if (o.quick) {
    if (app.count("--seconds") == 0) o.seconds = 2;
    if (app.count("--warmup") == 0) o.warmup = 1;
  }
  install_stop_signals();

  // Cleanup runs in reverse order of these declarations: consumer, supervisor (SIGTERM: it stops
  // the feeders and the merger and removes the bus's segments), floor, exsim, leftovers, temp dir.
  std::string dir_tmpl = "/tmp/e2e_bench-XXXXXX";
  if (::mkdtemp(dir_tmpl.data()) == nullptr) {
    std::fprintf(stderr, "e2e_bench: mkdtemp failed\n");
    return 1;
  }
  const std::string dir = dir_tmpl;
  scope_exit remove_dir([&] {
    if (o.keep)
      std::printf("kept %s\n", dir.c_str());
    else
      std::filesystem::remove_all(dir);
  });
  const std::string bus = "e2e-" + std::to_string(::getpid());
  scope_exit sweep_shm([&] {
    // The supervisor removes its segments; anything left (a supervisor that had to be killed) goes here.
    const int left = remove_bus_segments(bus);
    if (left > 0) std::fprintf(stderr, "e2e_bench: removed %d leftover segment(s) of bus %s\n", left, bus.c_str());
  });

  try {
    // Certificates as the tests make them.
    make_test_certs(MDBUS_SOURCE_DIR "/scripts/gen-test-certs", dir + "/certs");
    const std::string truth_path = dir + "/truth.bin";
    program exsim({EXSIM_BINARY, "--port", "0", "--control-port", "0", "--tls-cert", dir + "/certs/server.pem", "--tls-key",
                   dir + "/certs/server.key", "--rate", "1000", "--seed", "1", "--truth-log", truth_path,
                   "--binance-rest-port", "0", "--okx-rest-port", "0"},
                  dir + "/exsim.log", SIGKILL, 5000);
    const json ready = json::parse(wait_ready_line(exsim, dir + "/exsim.log", "EXSIM_READY", 10000));
    const int venue_port = ready.at("venue_port");
    const int control_port = ready.at("control_port");
    const int binance_rest_port = ready.at("binance_rest_port");
    const int okx_rest_port = ready.at("okx_rest_port");
    const auto exsim_status = [&] { return mdbus::test::http_request(control_port, "GET", "/status").json(); };
    // Frames exsim has queued for the three measured subscribers of each venue (the floor and
    // the two slots); ccxt's connections, which carry trade streams only, are left out.
    const auto subscribers_queued = [&] {
      const json conns = mdbus::test::http_request(control_port, "GET", "/connections").json();
      double n = 0;
      for (const auto& c : conns) {
        bool trades_only = true;
        for (const auto& st : c["streams"]) {
          const std::string name = st.get<std::string>();
          trades_only = trades_only && (name.ends_with("@trade") || name.starts_with("trades:"));
        }
        if (!trades_only) n += c["frames_queued"].get<double>();
      }
      return n;
    };
    const auto set_rate = [&](double r) {
      mdbus::test::http_request(control_port, "POST", "/market", json{{"rate", r}}.dump());
    };

    exsim::truth_reader truth(truth_path);
    std::vector<wanted_stream> wanted = wanted_streams();
    std::vector<bool> wanted_ids(truth.streams().size(), false);
    std::vector<venue> stream_venue(truth.streams().size(), venue::unknown);
    floor_options fo;
    fo.port = venue_port;
    fo.ca_file = dir + "/certs/ca.pem";
    json okx_args = json::array();
    std::string bstreams;
    for (auto& w : wanted) {
      const auto* s = truth.find(w.truth_name);
      if (s == nullptr) throw std::runtime_error("exsim's truth log has no stream " + w.truth_name);
      w.id = s->id;
      wanted_ids[s->id] = true;
      stream_venue[s->id] = w.v;
      fo.scanner.streams.push_back({w.truth_name, w.id, w.floor_key});
      if (w.v == venue::binance)
        bstreams += (bstreams.empty() ? "" : "/") + w.truth_name;
      else
        okx_args.push_back({{"channel", w.truth_name.substr(0, w.truth_name.find(':'))}, {"instId", w.symbol}});
    }
    fo.binance_path = "/stream?streams=" + bstreams;
    fo.okx_subscribe = json{{"op", "subscribe"}, {"args", okx_args}, {"id", "1"}}.dump();

    double max_rate = 0, sum_rates = 0;
    for (const double r : o.rates) {
      max_rate = std::max(max_rate, r);
      sum_rates += r;
    }
    const auto capacity = static_cast<std::uint64_t>(sum_rates * 1.5 * (o.seconds + 2) + 100'000);
    floor_memory floor_mem(capacity);
    floor_shared& fs = floor_mem.get();
    pid_t floor_pid = -1;
    const auto start_floor = [&] {
      const pid_t parent = ::getpid();
      std::fflush(nullptr);
      floor_pid = ::fork();
      if (floor_pid < 0) throw std::runtime_error("fork failed");
      if (floor_pid == 0) floor_main(fs, fo, parent);
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      while (fs.live.load() != 3) {
        if (fs.failed.load(std::memory_order_acquire) != 0) throw std::runtime_error(fs.error);
        if (std::chrono::steady_clock::now() >= deadline) throw std::runtime_error("floor: no data from both venues in 10 s");
        std::this_thread::sleep_for(10ms);
      }
    };
    scope_exit stop_floor([&] {
      if (floor_pid <= 0) return;
      fs.stop.store(1);
      for (int i = 0; i < 300; ++i) {
        if (::waitpid(floor_pid, nullptr, WNOHANG) == floor_pid) return;
        std::this_thread::sleep_for(10ms);
      }
      ::kill(floor_pid, SIGKILL);
      ::waitpid(floor_pid, nullptr, 0);
    });
    if (!o.floor_last) start_floor();

    // ccxt pro, side by side (bench/ccxt_trades.cjs): trades on both venues, connected after
    // the floor and before the feeders, so exsim writes its copies before the bus's.
    const std::string ccxt_out = dir + "/ccxt.txt";
    std::optional<program> ccxt;
    std::ifstream ccxt_in;
    const bool want_ccxt = !o.ccxt_modules.empty() && std::filesystem::exists(o.ccxt_modules + "/ccxt");
    if (!o.ccxt_modules.empty() && !want_ccxt)
      std::printf("no ccxt client: %s/ccxt not found (ctest -R ccxt_conformance installs it; or --ccxt-modules)\n",
                  o.ccxt_modules.c_str());
    if (want_ccxt) {
      ccxt.emplace(std::vector<std::string>{"/usr/bin/env", "NODE_PATH=" + o.ccxt_modules,
                                            "NODE_EXTRA_CA_CERTS=" + dir + "/certs/ca.pem",
                                            "EXSIM_VENUE_PORT=" + std::to_string(venue_port),
                                            "EXSIM_BINANCE_REST_PORT=" + std::to_string(binance_rest_port),
                                            "EXSIM_OKX_REST_PORT=" + std::to_string(okx_rest_port), "CCXT_OUT=" + ccxt_out,
                                            "node", MDBUS_SOURCE_DIR "/bench/ccxt_trades.cjs"},
                   dir + "/ccxt.log", SIGTERM, 3000);
      (void)wait_ready_line(*ccxt, dir + "/ccxt.log", "CCXT_READY", 60000);
      ccxt_in.open(ccxt_out);
    }
    // ccxt's trades as truth streams: its (venue, exchange symbol) -> the trade stream's id.
    const auto ccxt_stream = [&](const std::string& v, const std::string& sym) -> int {
      for (const auto& w : wanted)
        if ((v == "binance" && w.v == venue::binance && w.c == channel::binance_trade && w.symbol == sym) ||
            (v == "okx" && w.v == venue::okx && w.c == channel::okx_trades && w.symbol == sym))
          return w.id;
      return -1;
    };
    const auto read_ccxt = [&](std::vector<client_sample>& out) {
      std::string v, sym;
      std::int64_t id = 0, ns = 0;
      ccxt_in.clear();
      while (ccxt_in >> v >> sym >> id >> ns) {
        const int st = ccxt_stream(v, sym);
        if (st >= 0) out.push_back({id, ns, static_cast<std::uint16_t>(st)});
      }
    };

    const std::string config = write_config(dir + "/bus.json", bus, venue_port, binance_rest_port, okx_rest_port, dir, o);
    const std::string sup_log = dir + "/supervisor.log";
    program supervisor({MDSUPERVISOR_BINARY, "--config", config, "--mdfeed", MDFEED_BINARY, "--mdmerge", MDMERGE_BINARY},
                       sup_log, SIGTERM, 25000);
    (void)wait_ready_line(supervisor, sup_log, "MDSUPERVISOR_READY", 20000);
    const std::string sock = dir + "/ctl.sock";
    // Every slot live: the bus is whole before anything is measured.
    json status;
    for (const auto deadline = std::chrono::steady_clock::now() + 30s;;) {
      status = supervisor_request(sock, {{"cmd", "status"}});
      int live = 0;
      for (const auto& s : status["slots"]) live += s["state"] == "live" ? 1 : 0;
      if (live == 4 && status["merger"]["process"] == "running") break;
      if (!supervisor.running() || std::chrono::steady_clock::now() >= deadline)
        throw std::runtime_error("the bus did not come up (4 live slots) in 30 s; supervisor log:\n" + tail(sup_log));
      sleep_checked(0.1);
    }
    if (o.floor_last) start_floor();

    consumer_options co;
    co.bus = bus;
    co.open_wait_ms = 10000;
    co.reader_name = "e2e_bench";
    idle_policy consumer_idle;
    consumer_idle.mode = o.consumer_idle == "spin" ? idle_mode::busy_spin : o.consumer_idle == "backoff" ? idle_mode::backoff : idle_mode::wait;
    consumer_idle.spin_ns = std::int64_t{o.spin_us} * 1000;
    bus_reader reader(consumer::open(co), wanted, capacity, consumer_idle);
    for (const auto deadline = std::chrono::steady_clock::now() + 20s; !reader.seen_all();) {
      if (std::chrono::steady_clock::now() >= deadline) throw std::runtime_error("not every stream reached the consumer in 20 s");
      sleep_checked(0.05);
    }

    // The processes measured, by pid, from the supervisor's own table.
    const auto processes = [&](const json& st) {
      std::vector<measured> m;
      m.push_back({"exsim", "/proc/" + std::to_string(exsim.pid()) + "/stat"});
      m.push_back({"floor (lws client)", "/proc/" + std::to_string(floor_pid) + "/stat"});
      if (ccxt) m.push_back({"ccxt (node)", "/proc/" + std::to_string(ccxt->pid()) + "/stat"});
      for (const auto& s : st["slots"])
        m.push_back({"mdfeed " + s["venue"].get<std::string>() + "/" + s["slot"].get<std::string>(),
                     "/proc/" + std::to_string(s["pid"].get<int>()) + "/stat"});
      m.push_back({"mdmerge", "/proc/" + std::to_string(st["merger"]["pid"].get<int>()) + "/stat"});
      m.push_back({"mdsupervisor", "/proc/" + std::to_string(supervisor.pid()) + "/stat"});
      m.push_back({"e2e_bench (consumer thread)", "/proc/self/task/" + std::to_string(reader.tid()) + "/stat"});
      m.push_back({"e2e_bench (whole process)", "/proc/self/stat"});
      return m;
    };

    const auto idle_text = [&](const std::string& mode, int backoff_pause_us) {
      if (mode == "backoff") return "backoff (pauses up to " + std::to_string(backoff_pause_us) + " us)";
      if (mode == "wait") return "wait (doorbell, " + std::to_string(o.spin_us) + " us spin first)";
      return std::string("spin (busy-poll)");
    };
    // Pinning: for machines with cores to spare; on a 2-core box the two pinned processes
    // share their cores with everything else.
    const pid_t merger_pid = status["merger"]["pid"].get<pid_t>();
    if (o.pin_merger >= 0) pin_to_cpu(merger_pid, o.pin_merger, "mdmerge");
    if (o.pin_consumer >= 0) pin_to_cpu(reader.tid(), o.pin_consumer, "the consumer thread");
    if (o.fifo) {
      for (const pid_t p : {merger_pid, reader.tid()}) {
        sched_param sp{};
        sp.sched_priority = 1;
        if (::sched_setscheduler(p, SCHED_FIFO, &sp) != 0) throw std::runtime_error(std::string("sched_setscheduler: ") + std::strerror(errno));
      }
    } else if (o.slice_us > 0) {  // mdmerge and the feeders asked for theirs (scheduling.wake_slice_us)
      const wake_slice_outcome ws = request_wake_slice(reader.tid(), o.slice_us);
      if (!ws.applied) std::printf("e2e_bench: the consumer thread's slice: %s\n", ws.problem.c_str());
    }
    const std::string sched_text = o.fifo ? ", mdmerge and consumer SCHED_FIFO 1"
                                   : o.slice_us > 0 ? ", scheduler slice " + std::to_string(o.slice_us) + " us (mdmerge, feeders, consumer)"
                                                    : ", the kernel's default slice";
    std::printf("e2e_bench: bus %s, merge idle %s, consumer %s%s%s%s, floor connected %s the feeders; %.0f s windows after %.0f s warm-up\n",
                bus.c_str(), idle_text(o.merge_idle, o.merge_sleep_us).c_str(),
                idle_text(o.consumer_idle, static_cast<int>(consumer_idle.max_sleep_ns / 1000)).c_str(),
                o.pin_merger >= 0 ? (", mdmerge pinned to CPU " + std::to_string(o.pin_merger)).c_str() : "",
                o.pin_consumer >= 0 ? (", consumer pinned to CPU " + std::to_string(o.pin_consumer)).c_str() : "",
                sched_text.c_str(), o.floor_last ? "after" : "before", o.seconds, o.warmup);
    std::printf("latency = receive (CLOCK_REALTIME) - exsim gen_time_ns of the same event; gen_time_ns is exsim's wall clock (ns)\n"
                "just before its first socket write of the event (all subscribers' copies go out one connection after another\n"
                "from there); 'bus - floor' pairs the same event's two receive stamps (exact).\n\n");
    std::vector<rate_summary> summary;
    double per_action = 0;  // messages to one subscriber per market action, learned as we go
    std::size_t bus_from = 0, floor_from = 0;
    for (const double target : o.rates) {
      if (fs.failed.load(std::memory_order_acquire) != 0 || !supervisor.running()) {
        std::printf("stopping before %.0f msgs/s: %s\n\n", target,
                    fs.failed.load() != 0 ? fs.error : "mdsupervisor exited");
        break;
      }
      if (ccxt && target > o.ccxt_max_rate) {
        (void)ccxt->stop(SIGTERM);
        ccxt.reset();
        std::printf("(ccxt client stopped: the rates from here on are above --ccxt-max-rate %.0f)\n\n", o.ccxt_max_rate);
      }
      if (target <= 0) {
        // An idle bus: exsim generates nothing (its connections stay open, pings and all);
        // what each process costs doing nothing.
        set_rate(0);
        sleep_checked(o.warmup);
        std::vector<measured> procs = processes(supervisor_request(sock, {{"cmd", "status"}}));
        for (auto& p : procs) p.cpu0 = cpu_seconds(p.stat_path);
        const auto c0 = std::chrono::steady_clock::now();
        sleep_checked(o.seconds);
        const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
        rate_summary rs;
        std::printf("## target 0 msgs/s: an idle bus (exsim rate 0), %.1f s\n\n| process | CPU, %% of one core |\n|---|---:|\n", dt);
        for (auto& p : procs) {
          const double pct = (cpu_seconds(p.stat_path) - p.cpu0) / dt * 100;
          rs.cpu.emplace_back(p.label, pct);
          std::printf("| %s | %.2f |\n", p.label.c_str(), pct);
        }
        std::printf("\n");
        rs.complete = true;
        summary.push_back(rs);
        std::fflush(stdout);
        continue;
      }
      // Calibrate: the action rate that gives `target` messages/s to one subscriber, counted
      // where exsim generates them (frames queued / 3 subscribers: the floor and the two
      // slots, from exsim's per-connection counts: ccxt's connections are left out), so a path
      // that cannot keep up does not push the rate higher still.
      double asked = per_action > 0 ? target / per_action : target / 1.5;
      for (int i = 0;; ++i) {
        set_rate(asked);
        sleep_checked(o.quick ? 0.5 : 1.0);
        const json a = exsim_status();
        const double qa = subscribers_queued();
        sleep_checked(o.quick ? 0.7 : 1.5);
        const json b = exsim_status();
        const double frames = (subscribers_queued() - qa) / 3;
        const double actions = b["actions"].get<double>() - a["actions"].get<double>();
        if (frames <= 0 || actions <= 0) throw std::runtime_error("exsim generates nothing");
        per_action = frames / actions;
        const double next = target / per_action;
        if (std::abs(next / asked - 1) < 0.02 || i == 2) break;
        asked = next;
      }
      sleep_checked(o.warmup);

      // The window: CPU and exsim counters at both ends; samples recorded a little longer so
      // events generated just before t1 still arrive.
      const json st0 = supervisor_request(sock, {{"cmd", "status"}});
      std::vector<measured> procs = processes(st0);
      floor_from = fs.count.load(std::memory_order_acquire);
      bus_from = reader.count();
      const auto laps0 = reader.laps.load(), gaps0 = reader.gaps.load(), slots0 = reader.slot_statuses.load();
      std::vector<client_sample> ccxt_s;
      if (ccxt) {
        read_ccxt(ccxt_s);  // what came before the window
        ccxt_s.clear();
      }
      fs.recording.store(1);
      reader.record(true);
      sleep_checked(0.2);
      const json x0 = exsim_status();
      const auto f_msgs0 = fs.messages.load();
      for (auto& p : procs) p.cpu0 = cpu_seconds(p.stat_path);
      const std::int64_t t0 = wall_ns();
      const auto c0 = std::chrono::steady_clock::now();
      sleep_checked(o.seconds);
      const std::int64_t t1 = wall_ns();
      const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
      const auto f_msgs1 = fs.messages.load();
      std::vector<std::pair<std::string, double>> cpu;
      for (auto& p : procs) cpu.emplace_back(p.label, (cpu_seconds(p.stat_path) - p.cpu0) / dt * 100);
      const json x1 = exsim_status();
      sleep_checked(0.5);
      fs.recording.store(0);
      reader.record(false);
      sleep_checked(0.1);  // exsim flushes its truth log every 20 ms (ccxt_trades.cjs its lines every 50 ms)
      if (ccxt) read_ccxt(ccxt_s);
      const json st1 = supervisor_request(sock, {{"cmd", "status"}});

      truth_window tw;
      tw.read(truth, wanted_ids, t0, t1);
      window_latencies wl;
      const std::size_t fn = fs.count.load(std::memory_order_acquire);  // acquire: pairs with the floor's release of count
      wl.match(tw, reader.samples() + bus_from, reader.count() - bus_from, fs.samples() + floor_from, fn - floor_from,
               stream_venue, t0, t1);
      client_comparison cc;
      if (ccxt) cc.match(tw, ccxt_s, reader.samples() + bus_from, reader.count() - bus_from, fs.samples() + floor_from, fn - floor_from);

      const double actions = (x1["actions"].get<double>() - x0["actions"].get<double>()) / dt;
      const double fanned = (x1["frames_fanned"].get<double>() - x0["frames_fanned"].get<double>()) / dt;
      rate_summary rs;
      rs.target = target;
      rs.asked = asked;
      rs.msgs = static_cast<double>(f_msgs1 - f_msgs0) / dt;
      std::printf("## target %.0f msgs/s: exsim asked %.0f actions/s, did %.0f; one subscriber got %.0f msgs/s; "
                  "exsim generated %.0f events/s (all streams), fanned %.0f frames/s\n",
                  target, asked, actions, rs.msgs, static_cast<double>(tw.all_events) / dt, fanned);
      const auto tot0 = st0["totals"], tot1 = st1["totals"];
      const auto delta = [&](const char* k) { return tot1[k].get<double>() - tot0[k].get<double>(); };
      std::printf("events of the bus's 14 streams generated in the %.1f s window: %llu; bus delivered %llu (duplicates %llu), "
                  "floor %llu (duplicates %llu), both %llu\n",
                  dt, static_cast<unsigned long long>(wl.truth_events), static_cast<unsigned long long>(wl.bus_matched),
                  static_cast<unsigned long long>(wl.bus_duplicates), static_cast<unsigned long long>(wl.floor_matched),
                  static_cast<unsigned long long>(wl.floor_duplicates), static_cast<unsigned long long>(wl.paired));
      std::printf("bus health in the window: gap records %llu, consumer laps %llu, slot-status records %llu, merger gaps %.0f, "
                  "ring overflows %.0f, reconnects %.0f, samples dropped (bench arrays) %llu/%llu\n",
                  static_cast<unsigned long long>(reader.gaps.load() - gaps0), static_cast<unsigned long long>(reader.laps.load() - laps0),
                  static_cast<unsigned long long>(reader.slot_statuses.load() - slots0), delta("gaps"), delta("ring_overflows"),
                  delta("proactive_reconnects") + delta("forced_reconnects"), static_cast<unsigned long long>(reader.dropped.load()),
                  static_cast<unsigned long long>(fs.dropped.load()));
      for (int v = 1; v <= 2; ++v) {
        const double a = static_cast<double>(wl.first_arrivals[v][0]), b = static_cast<double>(wl.first_arrivals[v][1]);
        std::printf("%s first arrivals: A %.0f%%, B %.0f%%   ", v == 1 ? "binance" : "okx", a + b > 0 ? 100 * a / (a + b) : 0,
                    a + b > 0 ? 100 * b / (a + b) : 0);
      }
      std::printf("\n\n| latency, us | n | p50 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|\n");
      rs.bus = percentiles::of(wl.bus);
      rs.floor = percentiles::of(wl.floor);
      rs.diff = percentiles::of(wl.bus_minus_floor);
      print_row("bus: gen -> consumer", rs.bus);
      print_row("floor: gen -> lws client", rs.floor);
      print_row("bus - floor, same event", rs.diff);
      print_row("floor: gen -> earliest event of each gen ms", percentiles::of(wl.floor_first_of_tick));
      print_row("winning feeder receive - floor receive", percentiles::of(wl.feeder_minus_floor));
      print_row("feeder receive -> merger publish", percentiles::of(wl.feeder_to_publish));
      print_row("merger publish -> consumer", percentiles::of(wl.publish_to_consumer));
      rs.hops = percentiles::of(wl.feeder_to_consumer);
      print_row("feeder receive -> consumer (the bus's hops)", rs.hops);
      print_row("bus: gen -> consumer, window's 1st second", percentiles::of(wl.bus_first_second));
      print_row("bus: gen -> consumer, window's last second", percentiles::of(wl.bus_last_second));
      if (ccxt) {
        rs.ccxt = percentiles::of(cc.client_minus_floor);
        rs.bus_trades = percentiles::of(cc.bus_minus_floor);
        print_row("ccxt pro (node): gen -> watchTrades", percentiles::of(cc.client_from_gen));
        print_row("ccxt - floor, same trade", rs.ccxt);
        print_row("bus - floor, the same trades", rs.bus_trades);
      }
      std::printf("| **ratio bus / floor** | | %s | %s | %s | |\n\n", ratio(rs.bus.p50, rs.floor.p50).c_str(),
                  ratio(rs.bus.p99, rs.floor.p99).c_str(), ratio(rs.bus.p999, rs.floor.p999).c_str());
      std::printf("| process | CPU, %% of one core |\n|---|---:|\n");
      double total = 0;
      for (const auto& [label, pct] : cpu) {
        std::printf("| %s | %.1f |\n", label.c_str(), pct);
        if (label != "e2e_bench (consumer thread)") total += pct;
      }
      std::printf("| all (of 200 on 2 cores) | %.1f |\n\n", total);
      rs.cpu = cpu;
      // Sustained: exsim generated what it was asked, the target was reached, both paths got every
      // event, and no queue stands (a backlog shows as a p99.9 that keeps growing through the window).
      rs.complete = wl.truth_events > 0 && wl.bus_matched == wl.truth_events && wl.floor_matched == wl.truth_events &&
                    actions >= 0.95 * asked && rs.msgs >= 0.95 * target && rs.bus.p999 < 50e6 && rs.floor.p999 < 50e6;
      std::printf("sustained (exsim >= 95%% of the asked actions, >= 95%% of the target, every event on both paths, "
                  "p99.9 < 50 ms): %s\n\n", rs.complete ? "yes" : "NO");
      summary.push_back(rs);
      std::fflush(stdout);
    }
    set_rate(0);

    std::printf("## summary\n\n| target msgs/s | achieved msgs/s | sustained | bus p50 / p99 / p99.9 us | floor p50 / p99 / p99.9 us "
                "| ratio p50 / p99 / p99.9 | bus - floor p50 / p99 / p99.9 us | feeder receive -> consumer p50 / p99 us "
                "| CPU %% mdmerge / consumer thread |\n|---:|---:|:---:|---|---|---|---|---|---|\n");
    const auto cpu_of = [](const rate_summary& s, const std::string& label) {
      for (const auto& [l, pct] : s.cpu)
        if (l == label) return pct;
      return 0.0;
    };
    for (const auto& s : summary) {
      const double merge_cpu = cpu_of(s, "mdmerge"), consumer_cpu = cpu_of(s, "e2e_bench (consumer thread)");
      if (s.target <= 0) {
        std::printf("| 0 (idle) | 0 | | | | | | | %.2f / %.2f |\n", merge_cpu, consumer_cpu);
        continue;
      }
      std::printf("| %.0f | %.0f | %s | %s / %s / %s | %s / %s / %s | %s / %s / %s | %s / %s / %s | %s / %s | %.1f / %.1f |\n",
                  s.target, s.msgs, s.complete ? "yes" : "NO", us(s.bus.p50).c_str(), us(s.bus.p99).c_str(),
                  us(s.bus.p999).c_str(), us(s.floor.p50).c_str(), us(s.floor.p99).c_str(), us(s.floor.p999).c_str(),
                  ratio(s.bus.p50, s.floor.p50).c_str(), ratio(s.bus.p99, s.floor.p99).c_str(),
                  ratio(s.bus.p999, s.floor.p999).c_str(), us(s.diff.p50).c_str(), us(s.diff.p99).c_str(),
                  us(s.diff.p999).c_str(), us(s.hops.p50).c_str(), us(s.hops.p99).c_str(), merge_cpu, consumer_cpu);
    }
    if (want_ccxt) {
      std::printf("\nccxt pro on the same exsim, same run, the same trades (Binance trade, OKX trades; BTC, ETH), us:\n\n"
                  "| target msgs/s | trades | ccxt - floor p50 / p99 | bus - floor p50 / p99 | bus / ccxt at p50 (over the floor) |\n"
                  "|---:|---:|---|---|---:|\n");
      for (const auto& s : summary)
        if (s.target > 0 && s.ccxt.n > 0)
          std::printf("| %.0f | %zu | %s / %s | %s / %s | %s |\n", s.target, s.ccxt.n, us(s.ccxt.p50).c_str(), us(s.ccxt.p99).c_str(),
                      us(s.bus_trades.p50).c_str(), us(s.bus_trades.p99).c_str(), ratio(s.bus_trades.p50, s.ccxt.p50).c_str());
    }
    std::fflush(stdout);

    reader.stop();
    if (const int rc = supervisor.stop(SIGTERM); rc != 0)
      std::fprintf(stderr, "e2e_bench: mdsupervisor exited with %d; log:\n%s\n", rc, tail(sup_log).c_str());
    return summary.size() == o.rates.size() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "e2e_bench: %s\n", e.what());
    return 1;
  }
}
