// A third-party client as exsim's conformance test: ccxt (npm `ccxt`, written against the real
// Binance and OKX) runs against exsim with only its URLs and trusted CA changed. Its pro
// watchTrades and watchOrderBook on two symbols per venue must deliver exactly what exsim's
// truth log says was sent, and its books must equal exsim's REST books at the same sequence.
// ccxt is installed from npm into a cache in the build tree; without npm or a reachable
// registry the test prints one line and exits 77, which CTest reports as skipped.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/tools/exsim/exsim_process.hpp"
#include "tools/exsim/exsim_config.hpp"
#include "tools/exsim/truth_reader.hpp"

using json = nlohmann::json;
using mdbus::exsim::truth_hash;

namespace {

constexpr int kSkip = 77;  // SKIP_RETURN_CODE in CMakeLists.txt

struct run_result {
  int status = -1;  ///< exit code; -1 when killed at the deadline
  std::string output;
};

/// Runs argv (PATH lookup) with extra environment, stdout and stderr captured, killed with
/// its whole process group when `timeout` passes.
run_result run(const std::vector<std::string>& argv, const std::vector<std::string>& env, std::chrono::seconds timeout) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    execvp(cargv[0], cargv.data());
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  run_result r;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    poll(&p, 1, 50);
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) r.output.append(buf, static_cast<std::size_t>(n));
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      while ((n = read(fds[0], buf, sizeof buf)) > 0) r.output.append(buf, static_cast<std::size_t>(n));
      r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      r.output += "\n(killed after " + std::to_string(timeout.count()) + " s)";
      break;
    }
  }
  close(fds[0]);
  return r;
}

[[noreturn]] void skip(const std::string& why) {
  std::printf("SKIPPED ccxt conformance: %s\n", why.c_str());
  std::fflush(stdout);
  std::_Exit(kSkip);
}

/// The pinned ccxt in the build-tree cache, installed from npm on first use.
std::string ccxt_modules() {
  const std::string cache = CCXT_CACHE_DIR;
  const std::string pkg = cache + "/node_modules/ccxt/package.json";
  if (std::ifstream in(pkg); in) {
    if (json::parse(in, nullptr, false).value("version", "") == CCXT_VERSION) return cache + "/node_modules";
  }
  if (run({"node", "--version"}, {}, std::chrono::seconds(10)).status != 0) skip("node is not installed");
  if (run({"npm", "--version"}, {}, std::chrono::seconds(10)).status != 0) skip("npm is not installed");
  const auto r = run({"npm", "install", "--prefix", cache, "--no-audit", "--no-fund", "--no-save", "--loglevel=error",
                      "--fetch-retries=1", "--fetch-timeout=20000", std::string("ccxt@") + CCXT_VERSION},
                     {}, std::chrono::seconds(90));
  if (r.status != 0) {
    static const std::regex offline("ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|network|killed after");
    if (std::regex_search(r.output, offline)) skip("the npm registry is unreachable (npm install ccxt failed)");
    FAIL("npm install ccxt@" << CCXT_VERSION << " failed: " << r.output);
  }
  return cache + "/node_modules";
}

std::string temp_dir() {
  char path[] = "/tmp/exsim_ccxt_XXXXXX";
  REQUIRE(mkdtemp(path) != nullptr);
  return path;
}

double number(const std::string& s) { return std::strtod(s.c_str(), nullptr); }

/// ccxt's side of a book ([[price, amount]…], numbers) equals exsim's REST side
/// ([["px","sz",…]…], strings) on the first `levels` levels.
void check_side(const std::string& what, const json& mine, const json& rest, std::size_t levels) {
  REQUIRE_MESSAGE(mine.size() >= std::min<std::size_t>(levels, rest.size()), what);
  REQUIRE_MESSAGE(rest.size() >= std::min<std::size_t>(levels, mine.size()), what);
  for (std::size_t i = 0; i < std::min(levels, mine.size()); ++i) {
    INFO(what << " level " << i);
    CHECK(mine[i][0].get<double>() == number(rest[i][0].get<std::string>()));
    CHECK(mine[i][1].get<double>() == number(rest[i][1].get<std::string>()));
  }
}

struct stream_check {
  const char* venue;
  const char* symbol;      ///< ccxt's unified symbol
  const char* exsim_id;    ///< the venue's symbol
  std::string trade_stream;  ///< truth stream name
  std::string book_stream;
};

}  // namespace

TEST_CASE("ccxt's watchTrades and watchOrderBook on Binance and OKX deliver exactly exsim's truth") {
  const std::string modules = ccxt_modules();
  const std::string dir = temp_dir();
  const std::string truth_path = dir + "/truth.bin";
  const std::string out_path = dir + "/ccxt.json";
  const std::string certs = mdbus::test::exsim_cert_dir();
  // ccxt's okx handleOrderBook builds a book only from action "snapshot": it needs the pushed
  // snapshot (it never takes a REST one), so this test pins `--okx-snapshot push`.
  mdbus::test::exsim_process x({"--tls-cert", certs + "/server.pem", "--tls-key", certs + "/server.key", "--truth-log",
                                truth_path, "--seed", "7", "--rate", "400", "--okx-snapshot", "push",
                                "--binance-halt", "BNBUSDT", "--okx-suspend", "BNB-USDT"});

  std::vector<std::string> env = {"NODE_PATH=" + modules, "NODE_EXTRA_CA_CERTS=" + certs + "/ca.pem",
                                   "EXSIM_VENUE_PORT=" + std::to_string(x.venue_port()),
                                   "EXSIM_CONTROL_PORT=" + std::to_string(x.control_port()), "CCXT_OUT=" + out_path,
                                   "CCXT_WINDOW_MS=12000"};
  // An exsim that serves REST on listeners of its own names their ports in EXSIM_READY.
  const std::string& out = x.output();
  const auto ready = out.find("EXSIM_READY ");
  REQUIRE(ready != std::string::npos);
  const json ports = json::parse(out.substr(ready + 12, out.find('\n', ready) - ready - 12));
  for (const char* k : {"binance_rest_port", "okx_rest_port"})
    if (ports.contains(k)) {
      std::string name = std::string("EXSIM_") + k;
      for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      env.push_back(name + "=" + std::to_string(ports[k].get<int>()));
    }
  const auto node = run({"node", CCXT_SCRIPT}, env, std::chrono::seconds(60));
  INFO("node output:\n" << node.output);
  REQUIRE(node.status == 0);
  std::ifstream in(out_path);
  REQUIRE(in);
  const json r = json::parse(in);
  std::printf("ccxt %s against exsim on port %d\n", r["ccxt_version"].get<std::string>().c_str(), x.venue_port());
  for (const auto& q : r["requests"]) std::printf("  REST %s\n", q.get<std::string>().c_str());
  for (const auto& w : r["ws"])
    std::printf("  WS   %s %s %s\n", w["venue"].get<std::string>().c_str(), w["path"].get<std::string>().c_str(),
                w["message"].dump().c_str());
  for (const auto& e : r["errors"]) CHECK_MESSAGE(false, "ccxt: " << e.get<std::string>());

  // loadMarkets read exsim's reference data: streamed symbols active, listed-only ones not,
  // tick and lot size equal to exsim's price and quantity units.
  const json& markets = r["markets"];
  for (const char* v : {"binance", "okx"}) {
    CHECK(markets[std::string(v) + ":BNB/USDT"]["active"] == false);
    for (const char* s : {"BTC/USDT", "ETH/USDT"}) {
      const json& m = markets[std::string(v) + ":" + s];
      INFO(v << " " << s);
      CHECK(m["active"] == true);
      CHECK(m["type"] == "spot");
      const auto inst = mdbus::exsim::instrument_for(m["id"].get<std::string>());
      CHECK(m["price_precision"].get<double>() == doctest::Approx(std::pow(10.0, -inst.price_scale)).epsilon(1e-12));
      CHECK(m["amount_precision"].get<double>() == doctest::Approx(std::pow(10.0, -inst.qty_scale)).epsilon(1e-12));
    }
  }

  // exsim is stopped only after node exits (market frozen): the truth log is complete.
  REQUIRE(x.stop() == 0);
  mdbus::exsim::truth_reader truth(truth_path);
  std::map<std::uint16_t, std::vector<mdbus::exsim::truth_entry>> by_stream;
  while (auto e = truth.next()) by_stream[e->stream_id].push_back(*e);

  const std::vector<stream_check> checks = {
      {"binance", "BTC/USDT", "BTCUSDT", "btcusdt@trade", "btcusdt@depth@100ms"},
      {"binance", "ETH/USDT", "ETHUSDT", "ethusdt@trade", "ethusdt@depth@100ms"},
      {"okx", "BTC/USDT", "BTC-USDT", "trades:BTC-USDT", "books:BTC-USDT"},
      {"okx", "ETH/USDT", "ETH-USDT", "trades:ETH-USDT", "books:ETH-USDT"},
  };
  for (const auto& c : checks) {
    const std::string key = std::string(c.venue) + ":" + c.symbol;
    const bool binance = std::string(c.venue) == "binance";
    INFO(key);

    // Trades: one contiguous run of the truth stream, from the first trade ccxt delivered to
    // the last exsim generated (the market is frozen and the streams quiet before ccxt stops),
    // each with its id, the exact venue bytes (hash), and ccxt's price, amount and time parsed
    // from them.
    const auto* ts = truth.find(c.trade_stream);
    REQUIRE(ts != nullptr);
    const auto& tv = by_stream[ts->id];
    const json& got = r["trades"][key];
    REQUIRE(got.size() > 0);
    std::size_t at = 0;
    const auto first_id = std::stoll(got[0]["id"].get<std::string>());
    while (at < tv.size() && tv[at].first_seq != first_id) ++at;
    REQUIRE_MESSAGE(at < tv.size(), "first trade " << first_id << " not in the truth log");
    CHECK_MESSAGE(got.size() == tv.size() - at,
                  "ccxt delivered " << got.size() << " trades, truth has " << tv.size() - at << " from the first one on");
    std::size_t ok = 0;
    for (std::size_t k = 0; k < got.size() && at + k < tv.size(); ++k) {
      const auto& t = got[k];
      const auto& e = tv[at + k];
      const std::string info = t["info"].get<std::string>();
      const json raw = json::parse(info);
      const std::string payload =
          binance ? info : R"({"arg":{"channel":"trades","instId":")" + std::string(c.exsim_id) + R"("},"data":[)" + info + "]}";
      const bool same = std::stoll(t["id"].get<std::string>()) == e.first_seq && truth_hash(payload) == e.payload_hash &&
                        t["price"].get<double>() == number(raw[binance ? "p" : "px"].get<std::string>()) &&
                        t["amount"].get<double>() == number(raw[binance ? "q" : "sz"].get<std::string>()) &&
                        t["timestamp"].get<std::int64_t>() ==
                            (binance ? raw["T"].get<std::int64_t>() : std::stoll(raw["ts"].get<std::string>()));
      if (!same) {
        CHECK_MESSAGE(false, "trade " << k << " differs from truth entry with id " << e.first_seq << ": " << t.dump());
        break;
      }
      ++ok;
    }
    if (binance)  // Binance trade ids are consecutive: nothing between them can be missing
      CHECK(std::stoll(got.back()["id"].get<std::string>()) - first_id + 1 == static_cast<long long>(got.size()));

    // Book: ccxt's nonce is exsim's frozen sequence, which is also the last sequence of the
    // book stream in the truth log, and its top levels equal exsim's REST book at that sequence.
    const json& b = r["books"][key];
    const std::int64_t frozen = r["exsim_status"][key].get<std::int64_t>();
    const auto* bs = truth.find(c.book_stream);
    REQUIRE(bs != nullptr);
    REQUIRE(!by_stream[bs->id].empty());
    CHECK(b["nonce"].get<std::int64_t>() == frozen);
    CHECK(by_stream[bs->id].back().last_seq == frozen);
    CHECK(b["first_nonce"].get<std::int64_t>() < frozen);
    const json& rest = r["rest"][key];
    REQUIRE(rest["status"] == 200);
    const json snap = json::parse(rest["body"].get<std::string>());
    const json& body = binance ? snap : snap["data"][0];
    CHECK((binance ? body["lastUpdateId"].get<std::int64_t>() : body["seqId"].get<std::int64_t>()) == frozen);
    constexpr std::size_t kLevels = 25;
    check_side(key + " bids", b["bids"], body["bids"], kLevels);
    check_side(key + " asks", b["asks"], body["asks"], kLevels);
    std::printf("%-17s %5zu trades checked (ids %s..%s), book: %lld updates, nonce %lld..%lld = REST, top %zu levels equal\n",
                key.c_str(), ok, got[0]["id"].get<std::string>().c_str(), got.back()["id"].get<std::string>().c_str(),
                static_cast<long long>(b["updates"].get<std::int64_t>()),
                static_cast<long long>(b["first_nonce"].get<std::int64_t>()), static_cast<long long>(frozen), kLevels);
  }
  std::fflush(stdout);
  std::remove(truth_path.c_str());
  std::remove(out_path.c_str());
  rmdir(dir.c_str());
}
