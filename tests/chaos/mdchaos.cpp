// mdchaos — the zero-loss proof: the whole bus (mdsupervisor: two feeder slots per venue, Binance spot,
// OKX and Binance USD-M perpetuals, and
// the merger) against exsim at a steady load, faults injected at random but reproducible
// times (seeded), the output ring recorded by mdrecord, and the recording verified against
// exsim's ground truth stream by stream.
//
//   mdchaos --minutes 2 --seed 7 [--groups 2]  (scripts/chaos wraps it)
//
// Exit 0: every stream complete, or every record lost covered by a gap record (and, on book
// streams, followed by a snapshot); no duplicate, nothing out of order. Exit 1 otherwise
// (the table says which stream and what). Exit 2: the harness could not run.
#include "bus/clock.hpp"
#include "bus/config/config.hpp"
#include "bus/counters.hpp"
#include "bus/feeder_block.hpp"
#include "mdbus/records.hpp"
#include "mdbus/shm_segment.hpp"
#include "tests/chaos/loss_attribution.hpp"
#include "tests/support/read_file.hpp"
#include "tests/support/truth_streams.hpp"
#include "tools/mdctl/control_client.hpp"
#include "tests/tools/exsim/exsim_process.hpp"
#include "tests/tools/exsim/http_client.hpp"
#include "tools/mdrecord/recording_reader.hpp"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop
#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <chrono>
#include <cstdarg>
#include <functional>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

extern char** environ;

using namespace mdbus;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::FILE* g_log = stdout;

/// When the harness started, on both clocks (the fault log counts from it).
std::int64_t run_start_mono_ns() {
  static const std::int64_t t = mono_ns();
  return t;
}
std::int64_t run_start_wall_ns() {
  static const std::int64_t t = wall_ns() - (mono_ns() - run_start_mono_ns());
  return t;
}

void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void say(const char* fmt, ...) {
  const std::int64_t start = run_start_mono_ns();
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(g_log, "[%7.2f s] ", static_cast<double>(mono_ns() - start) / 1e9);
  std::vfprintf(g_log, fmt, ap);
  std::fprintf(g_log, "\n");
  std::fflush(g_log);
  va_end(ap);
}

/// A child process with its output in a file; SIGKILLed and reaped if still running at the end.
class process {
 public:
  process() = default;
  process(const std::vector<std::string>& argv, const std::string& log) { start(argv, log); }
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  ~process() { kill_now(); }
  void start(const std::vector<std::string>& argv, const std::string& log) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    if (posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0) throw std::runtime_error("cannot start " + argv[0]);
    posix_spawn_file_actions_destroy(&fa);
  }
  [[nodiscard]] pid_t pid() const { return pid_; }
  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  /// Exit status, or -1 after timeout_ms (then it is killed).
  int wait(int timeout_ms) {
    const std::int64_t end = mono_ns() + std::int64_t{timeout_ms} * 1'000'000;
    while (pid_ > 0) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      if (mono_ns() > end) {
        kill_now();
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return -1;
  }
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};


bool wait_for(const std::function<bool()>& pred, int timeout_ms) {
  const std::int64_t end = mono_ns() + std::int64_t{timeout_ms} * 1'000'000;
  while (mono_ns() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

/// One request on the supervisor's control socket (mdctl's client); {"ok": false} when there
/// is no answer (the supervisor may be the one just killed).
json ctl(const std::string& socket_path, const json& request) {
  try {
    mdctl::control_client c({socket_path, ""}, std::chrono::seconds(5));
    return c.request(nlohmann::ordered_json::parse(request.dump())).value;
  } catch (const std::exception& e) {
    return json{{"ok", false}, {"error", e.what()}};
  }
}

/// One of the harness's venue names ("binance", "okx": its own list and the status's).
venue venue_named(const std::string& name) { return venue_from_string(name).value(); }

/// Whose line of `venue_name` a stall that just began holds: the one slot that reads live
/// while its last message grows old (≥ 300 ms) as its partner's stays young. Looks for up to
/// 1.2 s (the stall lasts 1.5 s); slot_id::none when no single slot stands out. `group`: the
/// connection group of the slot found.
slot_id stalled_slot(const std::string& socket_path, const std::string& venue_name, std::uint32_t& group) {
  constexpr std::int64_t kQuietMs = 300;
  slot_id found = slot_id::none;
  group = 0;
  wait_for(
      [&] {
        const json st = ctl(socket_path, {{"cmd", "status"}});
        if (st.value("ok", false) != true) return false;
        int quiet = 0, others = 0;
        slot_id q = slot_id::none;
        std::uint32_t qg = 0;
        for (const auto& s : st["slots"]) {
          if (s["venue"] != venue_name) continue;
          const bool live = s["state"] == "live" && s["last_message_age_ms"].is_number();
          if (live && s["last_message_age_ms"].get<std::int64_t>() >= kQuietMs) {
            ++quiet;
            q = config::slot_from_string(s["slot"].get<std::string>());
            qg = s.value("group", 0u);
          } else if (live) {
            ++others;
          }
        }
        if (quiet == 1 && others >= 1) {
          found = q;
          group = qg;
        }
        return found != slot_id::none;
      },
      1200);
  return found;
}

// ---- verification ----------------------------------------------------------------------

using test::name_of;
using test::stream_ref;

/// Streams judged strictly: every loss on them must be covered by a gap record. Those whose
/// holes the merger can see (sequence rules consecutive, range, chained), and OKX trades (issue
/// 16: a suspect window's trades are backfilled as fills, so what is still missing must have
/// its gap record). The others (bbo-tbt, mark prices: ids only increase) are checked for
/// duplicates and order only, their losses reported against the suspect windows.
bool holes_detectable(channel c) {
  return c == channel::binance_trade || c == channel::binance_agg_trade || c == channel::binance_depth ||
         c == channel::okx_books || c == channel::usdm_depth || c == channel::usdm_agg_trade || c == channel::okx_trades;
}
bool is_book(channel c) { return c == channel::binance_depth || c == channel::okx_books || c == channel::usdm_depth; }

struct out_item {
  enum kind_t { data, snapshot, gap } kind;
  std::uint64_t seq = 0;         ///< data / snapshot: the record's sequence
  std::uint64_t last_held = 0;   ///< gap
  std::uint64_t first_after = 0; ///< gap
  bool suspect = false;          ///< gap: a suspect window (records.hpp): first_after is unknown
  std::uint32_t count = 0;       ///< data, a trade: the venue trades it stands for (OKX count)
  bool backfilled = false;       ///< data: from the venue's history (OKX: one fill)
};

/// OKX trades: the output's trades must cover every fill id once (exsim's fill ids count up by
/// one; a stream trade stands for its `count` fills up to its id, a backfilled one is one
/// fill). Fills missing with no gap record between, and fills doubled.
struct fill_check {
  std::size_t missing = 0, doubled = 0;
};
fill_check check_fills(const std::vector<out_item>& out) {
  fill_check f;
  std::uint64_t next = 0;
  bool gap_since = false;
  for (const out_item& it : out) {
    if (it.kind == out_item::gap) gap_since = true;
    if (it.kind != out_item::data) continue;
    const std::uint64_t first = it.backfilled || it.count == 0 ? it.seq : it.seq - (it.count - 1);
    if (next != 0 && first > next && !gap_since) f.missing += first - next;
    if (next != 0 && first < next) f.doubled += std::min(next, it.seq + 1) - first;
    next = std::max(next, it.seq + 1);
    gap_since = false;
  }
  return f;
}

struct verdict {
  std::size_t expected = 0, delivered = 0, lost = 0, covered = 0, duplicated = 0, out_of_order = 0, gaps = 0;
  std::size_t books_without_snapshot = 0;  ///< book gap records not followed by a snapshot before the next delta
  std::string first_problem;
  std::vector<std::uint64_t> lost_seqs;
};

verdict verify_stream(const std::vector<std::uint64_t>& truth, const std::vector<out_item>& out, bool strict, bool book) {
  verdict v;
  std::vector<std::uint64_t> got;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> covered_ranges;  // (lo, hi] lost seqs in there are covered
  for (std::size_t i = 0; i < out.size(); ++i) {
    const out_item& it = out[i];
    if (it.kind == out_item::data) got.push_back(it.seq);
    if (it.kind != out_item::gap) continue;
    ++v.gaps;
    std::uint64_t hi = it.first_after > 0 ? it.first_after - 1 : it.last_held;
    if (it.suspect) {
      // A suspect window covers what is missing between the last record before it and the
      // first after it: the ids of such streams cannot say more.
      hi = std::numeric_limits<std::uint64_t>::max();
      for (std::size_t j = i + 1; j < out.size(); ++j)
        if (out[j].kind == out_item::data) {
          hi = out[j].seq - 1;
          break;
        }
    }
    if (book) {
      // A book's gap stands until the next snapshot: the deltas up to it are superseded.
      std::size_t j = i + 1;
      while (j < out.size() && out[j].kind == out_item::gap) ++j;
      if (j < out.size() && out[j].kind == out_item::snapshot) hi = std::max(hi, out[j].seq);
      else if (j < out.size()) ++v.books_without_snapshot;
    }
    covered_ranges.emplace_back(it.last_held, hi);
  }
  const test::comparison c = test::compare(truth, got);
  v.delivered = c.delivered;
  if (c.expected == 0) {  // nothing delivered, or the first record is not in the truth
    v.first_problem = c.first_problem;
    return v;
  }
  v.expected = c.expected;
  v.lost = c.lost;
  v.lost_seqs = c.lost_seqs;
  v.duplicated = c.duplicated;
  v.out_of_order = c.out_of_order;
  for (const std::uint64_t seq : c.lost_seqs) {
    const bool cov = std::any_of(covered_ranges.begin(), covered_ranges.end(),
                                 [&](const auto& r) { return seq > r.first && seq <= r.second; });
    if (cov) ++v.covered;
    else if (strict && v.first_problem.empty()) v.first_problem = "silent loss of " + std::to_string(seq);
  }
  if (v.duplicated > 0 && v.first_problem.empty()) v.first_problem = "duplicates";
  if (v.out_of_order > 0 && v.first_problem.empty()) v.first_problem = "out of order";
  if (v.books_without_snapshot > 0 && v.first_problem.empty()) v.first_problem = "a delta after a gap before any snapshot";
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mdchaos: the whole bus against exsim with faults injected at seeded random times, verified against exsim's ground truth"};
  double minutes = 2;
  std::uint64_t seed = 1;
  int rate = 300;
  std::string work;
  bool keep = false;
  std::uint32_t groups = 1;
  app.add_option("--minutes", minutes, "how long faults are injected")->check(CLI::Range(0.1, 600.0));
  app.add_option("--groups", groups, "connection groups of Binance spot and OKX (more symbols each: 6 a venue)")
      ->check(CLI::Range(1, 3));
  app.add_option("--seed", seed, "seed of the fault schedule (and of exsim's market)");
  app.add_option("--rate", rate, "exsim market actions per second")->check(CLI::Range(10, 20000));
  app.add_option("--work", work, "work directory (default: a new one under /tmp, removed at the end unless --keep)");
  app.add_flag("--keep", keep, "keep the work directory (logs, recording, truth)");
  int cut_both_times = 1;
  app.add_option("--cut-both", cut_both_times,
                 "cuts of both slots of a venue at once: 1 (default) halfway through, of a random venue; N > 1 "
                 "spread evenly over the run, the venues in turn (binance, okx, binance_usdm)")
      ->check(CLI::Range(0, 100));
  CLI11_PARSE(app, argc, argv);
  // A supervisor killed on purpose leaves its children running (the next one adopts them):
  // make them ours when orphaned, so they are reaped here rather than left as zombies.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);

  bool made_work = false;
  if (work.empty()) {
    char tmpl[] = "/tmp/mdchaos-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return 2;
    work = tmpl;
    made_work = true;
  }
  fs::create_directories(work);
  const std::string bus = "chaos-" + std::to_string(::getpid());
  const std::string sock = work + "/ctl.sock";
  const std::string truth_path = work + "/truth.bin";
  say("mdchaos: seed %llu, %.1f min of faults, exsim rate %d/s, work dir %s", static_cast<unsigned long long>(seed), minutes,
      rate, work.c_str());

  int result = 2;
  {
    if (std::system(("'" MDBUS_SOURCE_DIR "/scripts/gen-test-certs' '" + work + "/certs' >/dev/null").c_str()) != 0) {
      say("cannot generate test certificates");
      return 2;
    }
    // exsim's venue cuts on a compressed clock: Binance's age limit at 20 s (the supervisor
    // rotates at 15 s), OKX's idle cut at 4 s (the feeders ping after 1 s of silence). Not
    // shorter: every rotation is a connection attempt, and the bus keeps inside Binance's
    // documented 300 attempts per 5 min per IP (its budget: 150, a burst of 75, then one per
    // 4 s). With 6 s ages the two slots alone needed 27 a minute; with the faults' reconnects
    // the budget ran dry after ~290 s and reconnects waited seconds for it.
    // With connection groups, more symbols, so that every group of Binance spot and OKX has some.
    std::vector<std::string> binance_syms = {"BTCUSDT", "ETHUSDT"};
    std::vector<std::string> okx_syms = {"BTC-USDT", "ETH-USDT", "BTC-USDT-SWAP", "ETH-USDT-SWAP"};
    if (groups > 1) {
      binance_syms.insert(binance_syms.end(), {"SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT"});
      okx_syms.insert(okx_syms.end(), {"SOL-USDT", "XRP-USDT"});
    }
    std::vector<std::string> exsim_args = {"--tls-cert", work + "/certs/server.pem", "--tls-key", work + "/certs/server.key", "--rate",
                                           std::to_string(rate), "--seed", std::to_string(seed), "--truth-log", truth_path,
                                           "--binance-max-age-ms", "20000", "--okx-idle-timeout-ms", "4000", "--usdm-symbols", "BTCUSDT",
                                           "ETHUSDT", "--usdm-max-age-ms", "20000", "--okx-symbols"};
    exsim_args.insert(exsim_args.end(), okx_syms.begin(), okx_syms.end());
    exsim_args.push_back("--binance-symbols");
    exsim_args.insert(exsim_args.end(), binance_syms.begin(), binance_syms.end());
    test::exsim_process x(exsim_args);
    json ep = {{"host", "127.0.0.1"}, {"port", x.venue_port()}, {"tls", true}, {"server_name", "localhost"},
               {"ca_file", work + "/certs/ca.pem"}};
    json brest = ep, orest = ep, urest = ep;  // exsim's REST listeners: the stream port serves no REST
    brest["port"] = x.binance_rest_port();
    orest["port"] = x.okx_rest_port();
    urest["port"] = x.usdm_rest_port();
    json policy = {{"reconnect_min_ms", 50}, {"reconnect_max_ms", 1000}, {"connect_timeout_ms", 3000},
                   {"drain_timeout_ms", 500}, {"keepalive_ms", 1000}, {"pong_timeout_ms", 2000}, {"no_data_ms", 5000}};
    json bpol = policy;
    bpol["max_age_ms"] = 20000;
    bpol["rotate_margin_ms"] = 5000;
    json cfg = {{"bus", bus},
                {"rings", {{"feeder_bytes", 16 << 20}, {"output_bytes", 128 << 20}}},
                {"merge", {{"hole_fill_ms", 100}, {"idle", "backoff"}, {"idle_sleep_max_us", 200}}},
                {"supervisor", {{"control_socket", sock}, {"restart_backoff_min_ms", 100}, {"heartbeat_timeout_ms", 3000}}},
                {"venues",
                 {{"binance",
                   {{"endpoint", ep}, {"rest_endpoint", brest}, {"symbols", binance_syms}, {"channels", {"trade", "aggTrade", "depth@100ms"}},
                    {"slots", {"A", "B"}}, {"policy", bpol}, {"groups", groups}}},
                  // OKX spot and perpetual swaps side by side (-SWAP instIds, checked as instType
                  // SWAP), with every instId's mark price and the swaps' funding rate (a channel
                  // applies to the symbols that take it).
                  {"okx",
                   {{"endpoint", ep}, {"rest_endpoint", orest}, {"symbols", okx_syms},
                    {"channels", {"trades", "books", "bbo-tbt", "mark-price", "funding-rate"}},
                    {"slots", {"A", "B"}}, {"policy", policy}, {"groups", groups}}},
                  // Binance USD-M perpetuals beside spot: /public depth chained on pu, joined to
                  // /fapi/v1/depth snapshots, and /market aggTrade and markPrice@1s: one
                  // connection group per routed path; its connections cut at 20 s like spot's.
                  {"binance_usdm",
                   {{"endpoint", ep}, {"rest_endpoint", urest}, {"symbols", {"BTCUSDT", "ETHUSDT"}},
                    {"channels", {"depth@100ms", "aggTrade", "markPrice@1s"}},
                    {"slots", {"A", "B"}}, {"policy", bpol}}}}}};
    const std::string config = work + "/bus.json";
    std::ofstream(config) << cfg.dump(2);
    config::bus_config parsed;
    try {
      parsed = config::load_config(config);  // also: every group has symbols (the supervisor would refuse)
    } catch (const config::config_error& e) {
      say("the harness's config is refused: %s", e.what());
      return 2;
    }

    auto supervisor = std::make_unique<process>(std::vector<std::string>{MDSUPERVISOR_BINARY, "--config", config},
                                                work + "/supervisor.log");
    auto ready = [&] { return test::read_file(work + "/supervisor.log").find("MDSUPERVISOR_READY") != std::string::npos; };
    if (!wait_for(ready, 20000)) {
      say("the supervisor did not start: %s", test::read_file(work + "/supervisor.log").c_str());
      return 2;
    }
    process recorder({MDRECORD_BINARY, "--bus", bus, "-o", work + "/recording", "--oldest", "--wait-ms", "20000",
                      "--flush-ms", "200"},
                     work + "/mdrecord.log");
    auto all_live = [&] {
      const json st = ctl(sock, {{"cmd", "status"}});
      if (st.value("ok", false) != true) return false;
      for (const auto& s : st["slots"])
        if (s["state"] != "live") return false;
      return true;
    };
    if (!wait_for(all_live, 30000)) {
      say("the slots did not all go live");
      return 2;
    }
    say("bus %s live: 2 slots per venue%s, recording the output ring", bus.c_str(),
        groups > 1 ? (" and connection group (" + std::to_string(groups) + " groups of Binance spot and OKX)").c_str() : "");

    std::mt19937_64 rng(seed);
    auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    const char* venues[] = {"binance", "okx", "binance_usdm"};
    auto conns = [&](const std::string& venue_name) {
      std::vector<std::uint32_t> ids;
      // USD-M: both routed paths' connections (/public, /market).
      std::vector<std::string> prefixes = {venue_name == "okx" ? "/ws/v5/public" : "/stream"};
      if (venue_name == "binance_usdm") prefixes = {"/public/stream", "/market/stream"};
      for (const auto& c : test::http_request(x.control_port(), "GET", "/connections").json()) {
        const std::string path = c["path"].get<std::string>();
        const bool ours = std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return path.rfind(p, 0) == 0; });
        if (ours && !(c.contains("closing") && c["closing"] == true)) ids.push_back(c["id"].get<std::uint32_t>());
      }
      return ids;
    };
    auto fault = [&](const json& f) { return test::http_request(x.control_port(), "POST", "/fault", f.dump()).json(); };
    std::map<std::string, int> done;
    std::vector<chaos::slot_event> kills;                  // the harness's SIGKILLs of feeders and stalls: no marker says when
    std::vector<std::pair<venue, std::int64_t>> cut_both;  // the harness's cuts of both slots of a venue
    const std::int64_t end = mono_ns() + static_cast<std::int64_t>(minutes * 60e9);
    const std::int64_t begin = mono_ns();
    int both_cuts_done = 0;
    while (mono_ns() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500 + static_cast<int>(rng() % 2500)));
      std::string v = venues[pick(3)];
      // Both slots of a venue at the same moment (loss expected, covered): at i / (N + 1) of
      // the run; one cut (the default) is halfway through, of a random venue.
      const bool due = both_cuts_done < cut_both_times &&
                       mono_ns() > begin + (end - begin) * (both_cuts_done + 1) / (cut_both_times + 1);
      if (due && cut_both_times > 1) v = venues[static_cast<std::size_t>(both_cuts_done) % 3];
      const auto ids = conns(v);
      std::string action;
      if (due) {
        const config::venue_config* cvc = parsed.find(venue_named(v));
        action = "both slots of " + v + " cut at once" + (cvc != nullptr && cvc->connections() > 1 ? " (every group)" : "");
        cut_both.emplace_back(venue_named(v), wall_ns());
        fault({{"type", "drop_venue"}, {"venue", v}});
        ++both_cuts_done;
      } else {
        switch (pick(11)) {
          case 10:
            if (v == "binance_usdm") continue;  // USD-M documents no going-away notice
            action = "going-away notice from " + v;
            fault({{"type", "shutdown_notice"}, {"venue", v}});
            break;
          case 0:
          case 1:
            if (ids.empty()) continue;
            action = "cut one " + v + " connection";
            fault({{"type", "drop"}, {"conn", ids[pick(ids.size())]}});
            break;
          case 2:
            if (ids.empty()) continue;
            action = "stall one " + v + " connection for 1.5 s";
            {
              const venue sv = venue_named(v);
              const std::int64_t at = wall_ns();
              fault({{"type", "stall"}, {"conn", ids[pick(ids.size())]}, {"ms", 1500}});
              // exsim cannot tell whose line it stalled; the slots' status can: the stalled
              // slot reads live with a growing last_message_age_ms while its partner's stays
              // small. Unidentified (not live, or both quiet): counted against the venue.
              std::uint32_t group = 0;
              const slot_id whose = stalled_slot(sock, v, group);
              chaos::slot_event b{sv, whose, chaos::slot_event::kind::stall_begin, at}, en{sv, whose, chaos::slot_event::kind::stall_end, at + 1'500'000'000};
              b.group = en.group = group;
              // Unidentified, with groups: every group of the venue is counted one line short.
              const std::uint32_t venue_groups = whose == slot_id::none && parsed.find(sv) ? parsed.find(sv)->connections() : 1;
              for (std::uint32_t gi = 0; gi < venue_groups; ++gi) {
                if (whose == slot_id::none) b.group = en.group = gi;
                kills.push_back(b);
                kills.push_back(en);
              }
              if (whose != slot_id::none) action += " (" + feeder_display_name(sv, whose, group) + "'s line)";
            }
            break;
          case 3:
            if (ids.empty()) continue;
            action = "malformed frame to " + v;
            fault({{"type", "malformed"}, {"conn", ids[pick(ids.size())]}});
            break;
          case 4:
            if (ids.empty()) continue;
            action = "oversized frame (2 MiB) to " + v;
            fault({{"type", "oversized"}, {"conn", ids[pick(ids.size())]}, {"bytes", 2 << 20}});
            break;
          case 5:
            if (ids.empty()) continue;
            action = "duplicated frames (5) to " + v;
            fault({{"type", "duplicate"}, {"conn", ids[pick(ids.size())]}, {"count", 5}});
            break;
          case 6:
            if (ids.empty()) continue;
            action = "reconnects refused for 1 s, then one " + v + " connection cut";
            fault({{"type", "refuse"}, {"ms", 1000}});
            fault({{"type", "drop"}, {"conn", ids[pick(ids.size())]}});
            break;
          case 7: {
            const json st = ctl(sock, {{"cmd", "status"}});
            if (st.value("ok", false) != true) continue;
            const auto& s = st["slots"][pick(st["slots"].size())];
            if (!s["pid"].is_number()) continue;
            const std::uint32_t group = s.value("group", 0u);
            action = "kill -9 feeder " + feeder_display_name(venue_named(s["venue"].get<std::string>()),
                                                              config::slot_from_string(s["slot"].get<std::string>()), group);
            chaos::slot_event k{venue_named(s["venue"].get<std::string>()), config::slot_from_string(s["slot"].get<std::string>()),
                                chaos::slot_event::kind::killed, wall_ns()};
            k.group = group;
            kills.push_back(k);
            ::kill(s["pid"].get<int>(), SIGKILL);
            break;
          }
          case 8: {
            const json st = ctl(sock, {{"cmd", "status"}});
            if (st.value("ok", false) != true || !st["merger"]["pid"].is_number()) continue;
            action = "kill -9 merger";
            ::kill(st["merger"]["pid"].get<int>(), SIGKILL);
            break;
          }
          default:
            action = "kill -9 supervisor, then start it again (it adopts its children)";
            supervisor->kill_now();
            supervisor = std::make_unique<process>(std::vector<std::string>{MDSUPERVISOR_BINARY, "--config", config},
                                                   work + "/supervisor.log");
            if (!wait_for(ready, 20000)) say("the restarted supervisor is not ready");
            break;
        }
      }
      ++done[action.substr(0, action.find(' ', action.find(' ') + 1))];
      say("fault: %s", action.c_str());
    }
    // Let every slot come back, freeze the market, and wait until the merger has published
    // everything (its published count stands still) before the recorder stops.
    if (!wait_for(all_live, 30000)) say("warning: not every slot is live again after the faults");
    test::http_request(x.control_port(), "POST", "/market", R"({"paused":true})");
    const auto counters = counters_segment::open(segment_name(bus, "counters"), access_mode::read_only, 5000);
    std::int64_t last = -1;
    std::int64_t since = mono_ns();
    wait_for([&] {
      const std::int64_t now = counters.find("merge.published").value_or(0);
      if (now != last) {
        last = now;
        since = mono_ns();
      }
      return mono_ns() - since > 1'500'000'000;
    }, 30000);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the recorder's 200 ms flush
    recorder.signal(SIGINT);
    recorder.wait(10000);
    supervisor->signal(SIGTERM);
    if (supervisor->wait(30000) != 0) say("warning: the supervisor did not stop cleanly");
    x.stop();

    // ---- verify -----------------------------------------------------------------------
    std::map<stream_ref, std::vector<out_item>> out;
    std::vector<chaos::slot_event> slot_events = kills;
    std::uint64_t laps = 0, records = 0;
    recording::recording_reader rec(work + "/recording");
    recording::entry e;
    while (rec.next(e)) {
      if (e.kind != recording::entry_kind::record) {
        ++laps;
        continue;
      }
      record_view r;
      if (record_view::parse(e.payload, r) != record_status::ok) continue;
      const record_header& h = r.header();
      if (h.type == record_type::slot_status) {
        if (const auto ss = r.slot_status())
          slot_events.push_back(chaos::from_marker(h.venue_id, h.slot, ss->state, ss->reason, h.receive_time_ns, ss->group));
        continue;
      }
      ++records;
      const stream_ref k{h.venue_id, h.channel_id, std::string(h.symbol_view())};
      if (h.type == record_type::gap) {
        const auto g = *r.gap();
        out[k].push_back({out_item::gap, 0, g.last_seq_held, g.first_seq_after, g.reason == gap_reason::suspect_window});
      } else if (h.type == record_type::book_snapshot) {
        out[k].push_back({out_item::snapshot, h.seq, 0, 0});
      } else {
        const auto t = r.trade();
        out[k].push_back({out_item::data, h.seq, 0, 0, false, t ? t->trade_count : 0, (h.flags & kHeaderBackfilled) != 0});
      }
    }
    std::set<stream_ref> wanted;
    for (const auto& sym : binance_syms)
      for (const channel c : {channel::binance_trade, channel::binance_agg_trade, channel::binance_depth}) wanted.insert({venue::binance, c, sym});
    for (const char* sym : {"BTCUSDT", "ETHUSDT"})
      for (const channel c : {channel::usdm_depth, channel::usdm_agg_trade, channel::usdm_mark_price}) wanted.insert({venue::binance_usdm, c, sym});
    for (const auto& sym : okx_syms) {
      for (const channel c : {channel::okx_trades, channel::okx_books, channel::okx_bbo_tbt, channel::okx_mark_price})
        wanted.insert({venue::okx, c, sym});
      if (sym.ends_with("-SWAP")) wanted.insert({venue::okx, channel::okx_funding_rate, sym});
    }
    std::map<stream_ref, std::vector<std::uint64_t>> truth;
    std::map<stream_ref, std::map<std::uint64_t, std::int64_t>> generated;  // seq -> exsim's generation time
    test::for_each_truth_event(truth_path, wanted, [&](const stream_ref& k, const auto& te) {
      truth[k].push_back(static_cast<std::uint64_t>(te.last_seq));
      generated[k][static_cast<std::uint64_t>(te.last_seq)] = te.gen_time_ns;
    });
    std::vector<chaos::lost_event> lost_events;
    std::printf("\n%-32s %9s %9s %6s %8s %5s %5s %5s  %s\n", "stream", "expected", "delivered", "lost", "covered", "dup",
                "order", "gaps", "verdict");
    bool ok = laps == 0;
    verdict total;
    std::size_t fills_missing = 0, fills_doubled = 0;
    for (const auto& k : wanted) {
      const bool strict = holes_detectable(k.c);
      verdict v = verify_stream(truth[k], out[k], strict, is_book(k.c));
      if (k.c == channel::okx_trades) {  // a suspect window's trades come back as fills: all of them, once
        const fill_check f = check_fills(out[k]);
        fills_missing += f.missing;
        fills_doubled += f.doubled;
        if (f.doubled > 0 && v.first_problem.empty()) v.first_problem = std::to_string(f.doubled) + " fills doubled";
        if (f.missing > 0 && v.first_problem.empty()) v.first_problem = std::to_string(f.missing) + " fills silently missing";
      }
      const config::venue_config* kvc = parsed.find(k.v);
      const std::uint32_t group = kvc != nullptr ? kvc->connection_of(k.symbol, k.c) : 0;
      for (const std::uint64_t seq : v.lost_seqs) lost_events.push_back({k.v, name_of(k), generated[k][seq], group});
      const bool good = v.first_problem.empty() && v.delivered > 0;
      ok = ok && good;
      std::printf("%-32s %9zu %9zu %6zu %8zu %5zu %5zu %5zu  %s%s\n", name_of(k).c_str(), v.expected, v.delivered, v.lost,
                  v.covered, v.duplicated, v.out_of_order, v.gaps, good ? "ok" : v.first_problem.c_str(),
                  strict || v.lost == 0 ? ""
                  : v.covered == v.lost ? " (ids cannot show holes: every loss inside a suspect window)"
                                        : " (ids cannot show holes: losses outside any suspect window reported, not judged)");
      total.expected += v.expected;
      total.delivered += v.delivered;
      total.lost += v.lost;
      total.covered += v.covered;
      total.duplicated += v.duplicated;
      total.out_of_order += v.out_of_order;
      total.gaps += v.gaps;
    }
    std::printf("%-32s %9zu %9zu %6zu %8zu %5zu %5zu %5zu\n", "total", total.expected, total.delivered, total.lost,
                total.covered, total.duplicated, total.out_of_order, total.gaps);
    std::printf("OKX trades as fills: %zu fill(s) missing with no gap record, %zu doubled\n", fills_missing, fills_doubled);
    std::string faults;
    for (const auto& [k, n] : done) faults += (faults.empty() ? "" : ", ") + k + " x" + std::to_string(n);
    std::printf("\nfaults: %s\nrecorded records: %llu, recorder laps: %llu\n", faults.c_str(),
                static_cast<unsigned long long>(records), static_cast<unsigned long long>(laps));
    // Every loss must fall in a time when no slot of its venue was up, and no such time may
    // have begun with a rotation (make-before-break: a rotation waits for a carrying partner).
    const chaos::attribution who = chaos::attribute(slot_events, cut_both, lost_events);
    // Times on the fault log's clock (seconds since the harness started).
    const std::int64_t t0 = run_start_wall_ns();
    std::printf("\n%-8s %9s %9s %6s  %s\n", "outage", "at (s)", "ms", "lost", "began with (the venue's last carrying slot went)");
    for (const auto& o : who.outages) {
      static constexpr const char* kWhat[] = {"up", "down", "rotation", "kill -9 by the harness", "stalled by the harness", "-"};
      std::printf("%-8s %9.2f %9s %6zu  %s %s (%s)%s\n", std::string(to_string(o.v)).c_str(), static_cast<double>(o.start_ns - t0) / 1e9,
                  o.end_ns == 0 ? "-" : std::to_string((o.end_ns - o.start_ns) / 1'000'000).c_str(), o.lost,
                  feeder_display_name(o.v, o.began_by.slot, o.group).c_str(),
                  kWhat[static_cast<int>(o.began_by.what)], std::string(to_string(o.began_by.reason)).c_str(),
                  o.by_rotation ? "  <- A ROTATION LEFT THE VENUE WITHOUT A LINE"
                                : (o.harness_cut_both ? " (the harness cut both slots)" : " (faults on both slots)"));
    }
    for (std::size_t i = 0; i < who.unexplained.size() && i < 10; ++i)
      std::printf("unexplained loss: %s at %.3f s, while a slot of its venue was up\n", who.unexplained[i].stream.c_str(),
                  static_cast<double>(who.unexplained[i].time_ns - t0) / 1e9);
    std::printf("losses: %zu, in outages of both slots: %zu, unexplained: %zu; outages begun by a rotation: %zu\n",
                lost_events.size(), lost_events.size() - who.unexplained.size(), who.unexplained.size(), who.rotation_outages());
    ok = ok && who.ok();
    std::printf("mdchaos: %s\n", ok ? "PASS: no silent loss, no duplicate, every loss covered by a gap record and inside a "
                                        "both-slot outage, none begun by a rotation"
                                      : "FAIL: see the streams and outages above (work dir kept)");
    result = ok ? 0 : 1;
    if (!ok) keep = true;
  }
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  for (const auto& name : list_segments(bus)) shm_segment::remove(name);
  if (made_work && !keep) fs::remove_all(work);
  else say("work dir kept: %s", work.c_str());
  return result;
}
