// mdctl as a program: every local error (exit code and one line on stderr, nothing sent), every
// way of not reaching a supervisor, and — against fake_supervisor, a scripted stand-in for the
// control socket — the exact request line of each subcommand and how each reply is printed.
#include "tools/mdctl/control_client.hpp"
#include "tools/mdctl/status_table.hpp"

#include "bus/config/config.hpp"
#include "fake_supervisor.hpp"
#include "status_samples.hpp"
#include "support/eventually.hpp"
#include "support/impostor.hpp"
#include "support/private_runtime_dir.hpp"
#include "support/spawn.hpp"
#include "support/temp_dir.hpp"
#include "support/unique_bus.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace mdbus;
using test::fake_supervisor;

namespace {

const std::string kMdctl = MDBUS_MDCTL;
constexpr uid_t kNobody = 65534;

struct result {
  int status = -1;  // exit status, 128+signal, -1: did not end in time (killed)
  std::string out, err;
  double seconds = 0;
};

/// Runs mdctl with `args` (no shell), stdout and stderr captured apart, killed after
/// `timeout_ms`. With `as_nobody` (when the test runs as root) it runs as uid/gid 65534.
result run(const std::vector<std::string>& args, int timeout_ms = 20000, bool as_nobody = false) {
  std::vector<std::string> argv{kMdctl};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  int out[2], err[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // only async-signal-safe calls until exec
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    if (as_nobody && (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0)) ::_exit(126);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  result r;
  const auto deadline = start + std::chrono::milliseconds(timeout_ms);
  bool out_open = true, err_open = true, killed = false;
  while (out_open || err_open) {
    pollfd p[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}};
    ::poll(p, 2, 20);
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      if ((p[i].revents & (POLLIN | POLLHUP)) == 0) continue;
      const ssize_t n = ::read(p[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
      } else {
        (i == 0 ? out_open : err_open) = false;
      }
    }
    if (!killed && std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
  }
  ::close(out[0]);
  ::close(err[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.status = killed ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

/// One line on stderr, "mdctl: " + `text`, and nothing on stdout.
void check_one_error_line(const result& r, const std::string& text) {
  CHECK(r.err == "mdctl: " + text + "\n");
  CHECK(r.out.empty());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A path that is removed when the test ends.
struct removed_at_end {
  std::string path;
  explicit removed_at_end(std::string p) : path(std::move(p)) { ::unlink(path.c_str()); }
  ~removed_at_end() { ::unlink(path.c_str()); }
  removed_at_end(const removed_at_end&) = delete;
  removed_at_end& operator=(const removed_at_end&) = delete;
};

/// A socket file nobody listens on: what a supervisor that was SIGKILLed leaves behind.
void make_stale_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  ::close(fd);  // never listened: connect gets ECONNREFUSED
}

template <class C>
constexpr bool kConfigHasControlSocket = requires(C c) { c.supervisor.control_socket; };

std::string line(const std::string& s) { return s + "\n"; }
std::string compact(const std::string& json_text) { return nlohmann::json::parse(json_text).dump(); }

}  // namespace

// ---- local errors: exit 2, one line, nothing sent ------------------------------------------------

TEST_CASE("a wrong venue or slot is refused before connecting, naming the bad part") {
  test::temp_dir dir("mdctl");
  const std::string sock = dir.file("ctl");
  fake_supervisor sup(sock, {line(R"({"ok":true})")});
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"switchover", "bnance"}, "unknown venue \"bnance\" (known: binance, okx, binance_usdm)"},
      {{"rotate", "okx/C"}, "unknown slot \"C\" in \"okx/C\" (slots of okx: A, B)"},
      {{"rotate", "kraken/A"}, "unknown venue \"kraken\" (known: binance, okx, binance_usdm)"},
      {{"rotate", "okx"}, "expected VENUE/SLOT (like okx/A) or VENUE/gGROUP/SLOT (like binance/g2/A), got \"okx\""},
      {{"restart", "feeder", "okx/"}, "missing slot in \"okx/\" (slots of okx: A, B)"},
      {{"pause", "binance/b"}, "unknown slot \"b\" in \"binance/b\" (slots of binance: A, B)"},
      {{"resume", "/A"}, "missing venue (known: binance, okx, binance_usdm)"},
      {{"restart"}, "restart what? feeder VENUE/SLOT or merger"},
  };
  for (const auto& [args, message] : cases) {
    auto a = args;
    a.insert(a.end(), {"--socket", sock});
    const result r = run(a);
    INFO(args.front() << " → " << r.err);
    CHECK(r.status == mdctl::kExitUsage);
    check_one_error_line(r, message);
  }
  CHECK(sup.connections() == 0);
  CHECK(sup.requests().empty());
}

TEST_CASE("without --bus, --config or --socket mdctl asks which supervisor") {
  const result r = run({"status"});
  CHECK(r.status == mdctl::kExitUsage);
  check_one_error_line(r, "which supervisor? give --bus NAME, --config FILE or --socket PATH");
}

TEST_CASE("command-line mistakes are usage errors on one line") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--bus", "sim"}, {"--bus", "sim", "frobnicate"}, {"rotate", "--bus", "sim"},
        {"--bus", "sim", "--config", "x.json", "status"}, {"--bus", "sim", "--timeout", "-1", "status"}}) {
    const result r = run(args);
    INFO(r.err);
    CHECK(r.status == mdctl::kExitUsage);
    CHECK(r.err.rfind("mdctl: ", 0) == 0);
    CHECK(r.err.find('\n') == r.err.size() - 1);
    CHECK(r.out.empty());
  }
  const result bad_bus = run({"--bus", "../etc", "status"});
  CHECK(bad_bus.status == mdctl::kExitUsage);
  check_one_error_line(bad_bus, "bad bus name \"../etc\" (1-64 of A-Z a-z 0-9 _ -)");
  const result help = run({"--help"});
  CHECK(help.status == 0);
  CHECK(help.out.find("switchover") != std::string::npos);
}

TEST_CASE("a config that does not load is a usage error naming the file") {
  test::temp_dir dir("mdctl");
  const std::string cfg = dir.file("bad.json");
  std::ofstream(cfg) << R"({"bus": "x y"})";
  const result r = run({"--config", cfg, "status"});
  CHECK(r.status == mdctl::kExitUsage);
  CHECK(r.err.rfind("mdctl: " + cfg + ": ", 0) == 0);
  const result missing = run({"--config", dir.file("none.json"), "status"});
  CHECK(missing.status == mdctl::kExitUsage);
  CHECK(missing.err.find(dir.file("none.json")) != std::string::npos);
}

// ---- no supervisor there ------------------------------------------------------------------------

TEST_CASE("no supervisor: the socket of the bus does not exist") {
  test::private_runtime_dir xdg;
  test::unique_bus bus("mdctl");
  const std::string sock = mdctl::default_socket_path(bus.name());
  CHECK(sock == xdg.str() + "/mdbus/" + bus.name() + ".ctl");
  const result r = run({"--bus", bus.name(), "status"});
  CHECK(r.status == mdctl::kExitNoSupervisor);
  check_one_error_line(r, "no supervisor for bus " + bus.name() + ": " + sock + " does not exist");
  const result s = run({"rotate", "okx/A", "--socket", "/tmp/mdctl-test-nonexistent/x.ctl"});
  CHECK(s.status == mdctl::kExitNoSupervisor);
  check_one_error_line(s, "no supervisor: /tmp/mdctl-test-nonexistent/x.ctl does not exist");
}

TEST_CASE("no supervisor: a stale socket file nobody accepts on") {
  test::private_runtime_dir xdg;
  xdg.make_socket_dir();
  test::unique_bus bus("mdctl");
  removed_at_end sock(mdctl::default_socket_path(bus.name()));
  make_stale_socket(sock.path);
  const result r = run({"--bus", bus.name(), "switchover", "okx"});
  CHECK(r.status == mdctl::kExitNoSupervisor);
  check_one_error_line(r, "no supervisor for bus " + bus.name() + ": " + sock.path + " not accepting connections (stale socket?)");
}

TEST_CASE("no supervisor: the path is not a socket") {
  test::temp_dir dir("mdctl");
  const std::string f = dir.file("plain");
  std::ofstream(f) << "x";
  const result r = run({"status", "--socket", f});
  CHECK(r.status == mdctl::kExitNoSupervisor);
  check_one_error_line(r, "no supervisor: " + f + " is not a socket");
}

TEST_CASE("permission denied: a supervisor socket of another user") {
  test::temp_dir dir("mdctl");
  ::chmod(dir.str().c_str(), 0755);  // others may look up names in it, not write the socket
  const std::string sock = dir.file("ctl");
  fake_supervisor sup(sock, {line(R"({"ok":true})")});
  ::chmod(sock.c_str(), 0600);  // as the supervisor makes it: owner only
  const bool root = ::geteuid() == 0;
  if (!root) ::chmod(sock.c_str(), 0);  // the test's own user must be locked out some other way
  const result r = run({"status", "--socket", sock}, 20000, root);
  CHECK(r.status == mdctl::kExitPermission);
  check_one_error_line(r, "permission denied: " + sock + " (a supervisor of another user?)");
  CHECK(sup.requests().empty());
}

TEST_CASE("hijack: a socket answered by another user gets nothing: exit 5, one line naming its uid and pid") {
  test::require_root_or_skip("a listener of another user");
  const test::impostor_dir dir("mdctl", 0755);  // another user got to the path first
  const std::string sock = dir.file("ctl");
  test::impostor_listener impostor(sock);
  REQUIRE(impostor.listening());
  const result r = run({"restart", "merger", "--socket", sock});
  CHECK(r.status == mdctl::kExitPermission);
  check_one_error_line(r, "refused: " + sock + " is answered by uid 65534 (pid " + std::to_string(impostor.pid()) +
                              "), not by this user (uid 0); nothing sent");
  // The impostor saw the connection end without a byte of the request.
  REQUIRE(test::eventually([&] { return impostor.reports().first >= 1; }, std::chrono::seconds(10)));
  CHECK(impostor.reports().second == 0);
}

// ---- replies that are not replies ---------------------------------------------------------------

TEST_CASE("a reply that is not JSON, lacks \"ok\", or never comes in full") {
  test::temp_dir dir("mdctl");
  const std::string sock = dir.file("ctl");
  SUBCASE("not JSON") {
    fake_supervisor sup(sock, {"HTTP/1.1 400 Bad Request\r\n"});
    const result r = run({"status", "--socket", sock});
    CHECK(r.status == mdctl::kExitBadReply);
    check_one_error_line(r, "bad reply from supervisor at " + sock + ": not JSON: HTTP/1.1 400 Bad Request");
  }
  SUBCASE("JSON without a boolean ok") {
    fake_supervisor sup(sock, {line(R"({"status":"fine"})")});
    const result r = run({"metrics", "--socket", sock});
    CHECK(r.status == mdctl::kExitBadReply);
    check_one_error_line(r, "bad reply from supervisor at " + sock + ": no boolean \"ok\": {\"status\":\"fine\"}");
  }
  SUBCASE("closed without a word (what a supervisor does to a peer of another uid)") {
    fake_supervisor sup(sock, {fake_supervisor::kCloseWithoutReply});
    const result r = run({"status", "--socket", sock});
    CHECK(r.status == mdctl::kExitBadReply);
    check_one_error_line(r, "supervisor at " + sock + " closed the connection without replying (" + sock +
                                "; not the supervisor's user?)");
  }
  SUBCASE("a line cut off") {
    fake_supervisor sup(sock, {R"({"ok":tr)", fake_supervisor::kCloseWithoutReply});
    const result r = run({"status", "--socket", sock, "--timeout", "0.5"});
    CHECK(r.status == mdctl::kExitTimeout);  // the fake keeps the connection: an unfinished line times out
    CHECK(r.err.find("no reply from supervisor at " + sock + " within 0.5 s") != std::string::npos);
  }
}

TEST_CASE("a supervisor that never answers: exit 6 after the timeout, 5 s by default") {
  test::temp_dir dir("mdctl");
  const std::string sock = dir.file("ctl");
  fake_supervisor sup(sock, {fake_supervisor::kNeverReply});
  const result quick = run({"status", "--socket", sock, "--timeout", "0.3"});
  CHECK(quick.status == mdctl::kExitTimeout);
  check_one_error_line(quick, "no reply from supervisor at " + sock + " within 0.3 s (waiting for the reply, " + sock + ")");
  CHECK(quick.seconds >= 0.3);
  CHECK(quick.seconds < 3.0);

  const result dflt = run({"restart", "merger", "--socket", sock});
  CHECK(dflt.status == mdctl::kExitTimeout);
  CHECK(dflt.err.find("within 5 s") != std::string::npos);
  CHECK(dflt.seconds >= 5.0);
  CHECK(dflt.seconds < 9.0);
}

// ---- the protocol round trip --------------------------------------------------------------------

TEST_CASE("each subcommand sends PROTOCOL.md's request line and prints the reply") {
  struct round_trip {
    std::vector<std::string> args;
    std::string request;  // exactly as sent
    std::string reply;
    std::string printed;
  };
  const round_trip cases[] = {
      {{"switchover", "binance"}, R"({"cmd":"switchover","venue":"binance"})", R"({"ok":true,"slot":"A","queued":true})",
       "binance/A (leading slot): rotation queued until its partner is live\n"},
      {{"rotate", "okx/B"}, R"({"cmd":"rotate","venue":"okx","slot":"B"})", R"({"ok":true,"queued":false})",
       "okx/B: rotating\n"},
      {{"restart", "feeder", "okx/A"}, R"({"cmd":"restart","process":"feeder","venue":"okx","slot":"A"})",
       R"({"ok":true,"pid":1240})", "okx/A: feeder restarting (old pid 1240)\n"},
      {{"restart", "merger"}, R"({"cmd":"restart","process":"merger"})", R"({"ok":true,"pid":1238})",
       "merger: restarting (old pid 1238)\n"},
      {{"pause", "okx/A"}, R"({"cmd":"pause","venue":"okx","slot":"A"})", R"({"ok":true})",
       "okx/A: paused (drained and closed; stays down until resume)\n"},
      {{"resume", "okx/A"}, R"({"cmd":"resume","venue":"okx","slot":"A"})", R"({"ok":true})", "okx/A: resuming (connecting)\n"},
      {{"metrics"}, R"({"cmd":"metrics"})", R"({"ok":true,"text":"# TYPE mdbus_up gauge\nmdbus_up 1\n"})",
       "# TYPE mdbus_up gauge\nmdbus_up 1\n"},
      {{"status"}, R"({"cmd":"status"})", compact(test::kProtocolStatusSample),
       mdctl::format_status(nlohmann::json::parse(test::kProtocolStatusSample))},
  };
  test::temp_dir dir("mdctl");
  const std::string sock = dir.file("ctl");
  for (const auto& c : cases) {
    INFO(c.request);
    fake_supervisor sup(sock, {line(c.reply)});
    auto args = c.args;
    args.insert(args.begin(), {"--socket", sock});
    const result r = run(args);
    CHECK(r.status == mdctl::kExitOk);
    CHECK(r.err.empty());
    CHECK(r.out == c.printed);
    CHECK(sup.requests() == std::vector<std::string>{c.request});

    // --json: the reply line as it came, byte for byte.
    fake_supervisor sup2(dir.file("ctl2"), {line(c.reply)});
    auto jargs = c.args;
    jargs.insert(jargs.end(), {"--json", "--socket", dir.file("ctl2")});
    const result j = run(jargs);
    CHECK(j.status == mdctl::kExitOk);
    CHECK(j.out == line(c.reply));
    CHECK(sup2.requests() == std::vector<std::string>{c.request});
  }
}

TEST_CASE("the supervisor's refusal is passed through: exit 1, its error on stderr") {
  test::temp_dir dir("mdctl");
  const std::string sock = dir.file("ctl");
  const std::string refusal = R"({"ok":false,"error":"pause okx/A refused: its partner okx/B is not live"})";
  fake_supervisor sup(sock, {line(refusal)});
  const result r = run({"pause", "okx/A", "--socket", sock});
  CHECK(r.status == mdctl::kExitRefused);
  check_one_error_line(r, "supervisor: pause okx/A refused: its partner okx/B is not live");
  const result j = run({"pause", "okx/A", "--socket", sock, "--json"});
  CHECK(j.status == mdctl::kExitRefused);
  CHECK(j.out == line(refusal));  // scripts get the reply too
  CHECK(j.err == "mdctl: supervisor: pause okx/A refused: its partner okx/B is not live\n");

  fake_supervisor bare(dir.file("ctl2"), {line(R"({"ok":false})")});
  const result b = run({"status", "--socket", dir.file("ctl2")});
  CHECK(b.status == mdctl::kExitRefused);
  check_one_error_line(b, "supervisor refused the request (no error text)");
}

TEST_CASE("--bus finds the supervisor at the default socket, <runtime dir>/<bus>.ctl") {
  test::private_runtime_dir xdg;
  xdg.make_socket_dir();
  test::unique_bus bus("mdctl");
  removed_at_end path(mdctl::default_socket_path(bus.name()));
  fake_supervisor sup(path.path, {line(R"({"ok":true,"queued":true})")});
  const result r = run({"rotate", "binance/B", "-b", bus.name()});
  CHECK(r.status == mdctl::kExitOk);
  CHECK(r.out == "binance/B: rotation queued until its partner is live\n");
  CHECK(sup.requests() == std::vector<std::string>{R"({"cmd":"rotate","venue":"binance","slot":"B"})"});
}

TEST_CASE("--config: the bus, the socket and the names it configures") {
  test::private_runtime_dir xdg;
  xdg.make_socket_dir();
  test::temp_dir dir("mdctl");
  test::unique_bus bus("mdctl");
  const std::string venues =
      R"("venues": {"okx": {"endpoint": {"host": "127.0.0.1", "port": 9443, "tls": false},
                             "rest_endpoint": {"host": "127.0.0.1", "port": 9446, "tls": false},
                             "symbols": ["BTC-USDT"], "channels": ["trades"], "slots": ["A"]}})";
  const std::string cfg = dir.file("okx.json");
  std::ofstream(cfg) << "{\"bus\": \"" << bus.name() << "\", " << venues << "}";

  removed_at_end path(mdctl::default_socket_path(bus.name()));
  fake_supervisor sup(path.path, {line(R"({"ok":true})")});
  const result r = run({"--config", cfg, "resume", "okx/A"});
  CHECK(r.status == mdctl::kExitOk);
  CHECK(sup.requests() == std::vector<std::string>{R"({"cmd":"resume","venue":"okx","slot":"A"})"});

  const result b = run({"--config", cfg, "resume", "okx/B"});
  CHECK(b.status == mdctl::kExitUsage);
  check_one_error_line(b, "unknown slot \"B\" in \"okx/B\" (slots of okx in " + cfg + ": A)");
  const result v = run({"--config", cfg, "switchover", "binance"});
  CHECK(v.status == mdctl::kExitUsage);
  check_one_error_line(v, "unknown venue \"binance\" (configured in " + cfg + ": okx)");
  CHECK(sup.requests().size() == 1);

  if constexpr (kConfigHasControlSocket<config::bus_config>) {
    const std::string own = dir.file("own.ctl");
    const std::string cfg2 = dir.file("own.json");
    std::ofstream(cfg2) << "{\"bus\": \"" << bus.name() << "\", \"supervisor\": {\"control_socket\": \"" << own << "\"}, "
                        << venues << "}";
    fake_supervisor own_sup(own, {line(R"({"ok":true,"pid":77})")});
    const result o = run({"--config", cfg2, "restart", "merger"});
    CHECK(o.status == mdctl::kExitOk);
    CHECK(o.out == "merger: restarting (old pid 77)\n");
    CHECK(own_sup.requests() == std::vector<std::string>{R"({"cmd":"restart","process":"merger"})"});
  } else {
    MESSAGE("bus/config has no supervisor.control_socket yet: only the default path is tested");
  }
}

// ---- status --watch -----------------------------------------------------------------------------

TEST_CASE("status --watch asks every second on one connection until SIGINT, then exits 0") {
  test::temp_dir dir("mdctl");
  const std::string sock = dir.file("ctl");
  fake_supervisor sup(sock, {line(compact(test::kProtocolStatusSample))});
  const std::string log = dir.file("out");
  test::child c({kMdctl, "status", "--watch", "--socket", sock}, log);
  REQUIRE(test::eventually([&] { return sup.requests().size() >= 3; }, std::chrono::seconds(10)));
  c.signal(SIGINT);
  CHECK(c.wait(5000) == 0);
  CHECK(sup.connections() == 1);
  for (const auto& req : sup.requests()) CHECK(req == R"({"cmd":"status"})");
  // Not a terminal: tables one after another, blank-line separated, no escape sequences.
  const std::string out = read_file(log);
  const std::string table = mdctl::format_status(nlohmann::json::parse(test::kProtocolStatusSample));
  CHECK(out.rfind(table + "\n" + table, 0) == 0);
  CHECK(out.find('\x1b') == std::string::npos);
}

TEST_CASE("status --watch --json: one reply line per second") {
  test::temp_dir dir("mdctl");
  const std::string sock = dir.file("ctl");
  const std::string reply = compact(test::kProtocolStatusSample);
  fake_supervisor sup(sock, {line(reply)});
  const std::string log = dir.file("out");
  test::child c({kMdctl, "--json", "status", "-w", "--socket", sock}, log);
  REQUIRE(test::eventually([&] { return sup.requests().size() >= 2; }, std::chrono::seconds(10)));
  c.signal(SIGTERM);
  CHECK(c.wait(5000) == 0);
  const std::string out = read_file(log);
  CHECK(out.rfind(line(reply) + line(reply), 0) == 0);
}

TEST_CASE("status --watch rides out a supervisor that goes away and comes back") {
  test::temp_dir dir("mdctl");
  const std::string sock = dir.file("ctl");
  const std::string reply = line(compact(test::kProtocolStatusSample));
  fake_supervisor sup(sock, {reply, fake_supervisor::kCloseWithoutReply, reply});
  const std::string log = dir.file("out");
  test::child c({kMdctl, "status", "--watch", "--socket", sock}, log);
  REQUIRE(test::eventually([&] { return sup.requests().size() >= 4; }, std::chrono::seconds(10)));
  c.signal(SIGINT);
  CHECK(c.wait(5000) == 0);
  CHECK(sup.connections() == 2);
  const std::string out = read_file(log);
  CHECK(out.find("mdctl: supervisor at " + sock + " closed the connection without replying") != std::string::npos);
  CHECK(out.find("(retrying every second)") != std::string::npos);
  const std::string table = mdctl::format_status(nlohmann::json::parse(test::kProtocolStatusSample));
  CHECK(out.rfind(table) > out.find("retrying"));  // a table again after the error
}

TEST_CASE("status --watch with no supervisor at all fails at once, like status") {
  const result r = run({"status", "--watch", "--socket", "/tmp/mdctl-test-nonexistent/x.ctl"}, 5000);
  CHECK(r.status == mdctl::kExitNoSupervisor);
  check_one_error_line(r, "no supervisor: /tmp/mdctl-test-nonexistent/x.ctl does not exist");
}

TEST_CASE("metrics without text says so on stderr instead of printing nothing") {
  test::temp_dir dir("mdctl");
  const std::string sock = dir.file("ctl");
  fake_supervisor sup(sock, {line(R"({"ok":true,"text":""})")});
  const result r = run({"metrics", "--socket", sock});
  CHECK(r.status == mdctl::kExitOk);
  check_one_error_line(r, "the supervisor has no metrics text (empty reply text)");
}
