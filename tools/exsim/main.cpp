// exsim — Binance- and OKX-compatible venue simulator. See README.md.
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>

// GCC 12 reports a false -Wnull-dereference inside CLI11's inlined string splitting.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop
#include <libwebsockets.h>
#include <nlohmann/json.hpp>

#include "tools/exsim/server.hpp"

namespace {

std::atomic<bool> g_stop{false};
mdbus::exsim::server* g_server = nullptr;

extern "C" void on_signal(int) {
  g_stop.store(true, std::memory_order_relaxed);
  if (g_server != nullptr) g_server->wake();
}

}  // namespace

int main(int argc, char** argv) {
  using mdbus::exsim::exsim_config;
  CLI::App app{"exsim: a Binance- and OKX-compatible venue simulator (WebSocket + REST, TLS, faults, ground truth)"};
  // Every flag overrides the config file (or the built-in defaults): collected as setters that
  // run only for flags given on the command line.
  std::vector<std::pair<CLI::Option*, std::function<void(exsim_config&)>>> overrides;
  auto flag_value = [&](const std::string& name, auto& var, const std::string& help, auto apply) {
    CLI::Option* o = app.add_option(name, var, help);
    overrides.emplace_back(o, [&var, apply](exsim_config& c) { apply(c, var); });
    return o;
  };
  std::string config_path;
  app.add_option("-c,--config", config_path, "JSON config file (fields as in README; flags override it)")
      ->check(CLI::ExistingFile);
  std::string host;
  int port = 0, control_port = 0;
  std::uint64_t seed = 0;
  double rate = 0;
  std::string cert, key, truth;
  std::vector<std::string> bsyms, osyms, usyms;
  int u_rest = 0;
  std::int64_t u_age = 0;
  std::int64_t b_age = 0, b_ping = 0, b_pong = 0, o_idle = 0, o_hb = 0;
  int b_incoming = 0;
  std::size_t qlimit = 0, trade_history = 0;
  std::string okx_snapshot;
  flag_value("--host", host, "listen address of the venue port (default 127.0.0.1)", [](exsim_config& c, auto& v) { c.host = v; });
  flag_value("-p,--port", port, "venue port, both venues (default 9443; 0 = any free port)", [](exsim_config& c, auto& v) { c.port = v; });
  flag_value("--control-port", control_port, "control HTTP port on 127.0.0.1 (default 9444; 0 = any, -1 = off)",
             [](exsim_config& c, auto& v) { c.control_port = v; });
  flag_value("--tls-cert", cert, "server certificate PEM (see scripts/gen-test-certs)", [](exsim_config& c, auto& v) { c.tls_cert = v; });
  flag_value("--tls-key", key, "server private key PEM", [](exsim_config& c, auto& v) { c.tls_key = v; });
  bool plain = false;
  app.add_flag("--plain", plain, "serve plain ws:// and http:// instead of wss:// and https://");
  flag_value("-s,--seed", seed, "market seed (default 1)", [](exsim_config& c, auto& v) { c.seed = v; });
  flag_value("-r,--rate", rate, "market actions per second across all instruments (default 1000)",
             [](exsim_config& c, auto& v) { c.rate = v; });
  flag_value("--trade-history", trade_history,
             "trades kept per instrument for the trade-history REST endpoints (default 10000; the venues keep months)",
             [](exsim_config& c, auto& v) { c.trade_history = v; });
  flag_value("-t,--truth-log", truth, "write the ground-truth log to this file", [](exsim_config& c, auto& v) { c.truth_log = v; });
  flag_value("--binance-symbols", bsyms, "Binance symbols (default BTCUSDT ETHUSDT)", [](exsim_config& c, auto& v) {
    c.binance.instruments.clear();
    for (const auto& s : v) c.binance.instruments.push_back(mdbus::exsim::instrument_for(s));
  });
  flag_value("--okx-symbols", osyms, "OKX instIds (default BTC-USDT ETH-USDT)", [](exsim_config& c, auto& v) {
    c.okx.instruments.clear();
    for (const auto& s : v) c.okx.instruments.push_back(mdbus::exsim::instrument_for(s));
  });
  flag_value("--usdm-symbols", usyms,
             "Binance USD-M perpetuals (default none: USD-M is served, on /public and /market, only when given)",
             [](exsim_config& c, auto& v) {
               c.usdm.instruments.clear();
               for (const auto& s : v) c.usdm.instruments.push_back(mdbus::exsim::instrument_for(s));
             });
  flag_value("--usdm-rest-port", u_rest, "Binance USD-M REST port (fapi), same TLS setting (default 9447; 0 = any free port, -1 = off)",
             [](exsim_config& c, auto& v) { c.usdm.rest_port = v; });
  flag_value("--usdm-max-age-ms", u_age, "Binance USD-M maximum connection age (venue: 86400000)",
             [](exsim_config& c, auto& v) { c.usdm.max_age_ms = v; });
  flag_value("--binance-max-age-ms", b_age, "Binance maximum connection age (venue: 86400000)",
             [](exsim_config& c, auto& v) { c.binance.max_age_ms = v; });
  flag_value("--binance-ping-interval-ms", b_ping, "Binance server ping period (venue: 20000)",
             [](exsim_config& c, auto& v) { c.binance.ping_interval_ms = v; });
  flag_value("--binance-pong-timeout-ms", b_pong, "Binance close when no pong for this long (venue: 60000)",
             [](exsim_config& c, auto& v) { c.binance.pong_timeout_ms = v; });
  flag_value("--binance-max-incoming", b_incoming, "Binance incoming messages per second per connection (venue: 5; 0 = off)",
             [](exsim_config& c, auto& v) { c.binance.max_incoming_per_s = v; });
  flag_value("--okx-idle-timeout-ms", o_idle, "OKX close after this long with nothing received or pushed (venue: 30000)",
             [](exsim_config& c, auto& v) { c.okx.idle_timeout_ms = v; });
  flag_value("--okx-book-heartbeat-ms", o_hb, "OKX empty books update after this long unchanged (venue: ~60000; 0 = off)",
             [](exsim_config& c, auto& v) { c.okx.book_heartbeat_ms = v; });
  flag_value("--okx-snapshot", okx_snapshot,
             "OKX books subscribe: rest (no snapshot pushed, as production since Aug 2026; default) or push (the old snapshot)",
             [](exsim_config& c, auto& v) { c.okx.snapshot_on_subscribe = v == "push"; })
      ->check(CLI::IsMember({"push", "rest"}));
  // A listed-only symbol: the flag also takes it out of the streamed ones, so
  // `--binance-halt ETHUSDT` alone lists ETHUSDT as BREAK and streams BTCUSDT.
  std::vector<std::string> b_halt, o_suspend;
  flag_value("--binance-halt", b_halt, "list these symbols in exchangeInfo as status BREAK, not streamed",
             [](exsim_config& c, auto& v) { c.binance.halted = mdbus::exsim::listed_only(c.binance.instruments, v); });
  flag_value("--okx-suspend", o_suspend, "list these instIds in public/instruments as state suspend, not streamed",
             [](exsim_config& c, auto& v) { c.okx.suspended = mdbus::exsim::listed_only(c.okx.instruments, v); });
  bool checksum = false, no_checksum = false, public_l2 = false, rest_on_stream = false, no_connect_limits = false;
  app.add_flag("--okx-checksum", checksum, "send the real CRC32 checksum (production sends 0 since 2026-06-23; default 0)");
  app.add_flag("--okx-no-checksum", no_checksum, "send checksum 0 (the default since 2026-06-23; kept for old scripts)")
      ->excludes("--okx-checksum");
  app.add_flag("--okx-public-l2-tbt", public_l2,
               "serve books-l2-tbt without login (the venue answers a public subscription 60011 \"Please log in\")");
  int b_rest = 0, o_rest = 0, b_conn = 0, o_conn = 0, o_books = 0, o_subs = 0;
  std::int64_t b_wlimit = 0, b_wwin = 0, b_ban = 0, b_connwin = 0, o_connwin = 0, o_bookswin = 0, o_subswin = 0;
  flag_value("--binance-rest-port", b_rest, "Binance REST port, same TLS setting (default 9445; 0 = any free port, -1 = off)",
             [](exsim_config& c, auto& v) { c.binance.rest_port = v; });
  flag_value("--okx-rest-port", o_rest, "OKX REST port, same TLS setting (default 9446; 0 = any free port, -1 = off)",
             [](exsim_config& c, auto& v) { c.okx.rest_port = v; });
  app.add_flag("--rest-on-stream-port", rest_on_stream,
               "legacy: also serve both venues' REST on the stream port (the venues' stream hosts serve none)");
  flag_value("--binance-weight-limit", b_wlimit, "Binance REST request weight per IP per window (venue: 6000)",
             [](exsim_config& c, auto& v) { c.binance.weight_limit = v; });
  flag_value("--binance-weight-window-ms", b_wwin, "Binance request-weight window (venue: 60000, fixed windows)",
             [](exsim_config& c, auto& v) { c.binance.weight_window_ms = v; });
  flag_value("--binance-ban-ms", b_ban, "Binance 418 IP ban after a request inside a 429's Retry-After (venue: from 120000)",
             [](exsim_config& c, auto& v) { c.binance.ban_ms = v; });
  flag_value("--okx-books-limit", o_books, "OKX GET /api/v5/market/books requests per IP per window (venue: 40; 0 = off)",
             [](exsim_config& c, auto& v) { c.okx.books_rest_limit = v; });
  flag_value("--okx-books-window-ms", o_bookswin, "OKX books REST window (venue: 2000)",
             [](exsim_config& c, auto& v) { c.okx.books_rest_window_ms = v; });
  flag_value("--binance-connect-limit", b_conn, "Binance WebSocket connection attempts per IP per window (venue: 300; 0 = off)",
             [](exsim_config& c, auto& v) { c.binance.connect_limit = v; });
  flag_value("--binance-connect-window-ms", b_connwin, "Binance connection-attempt window (venue: 300000)",
             [](exsim_config& c, auto& v) { c.binance.connect_window_ms = v; });
  flag_value("--okx-connect-limit", o_conn, "OKX WebSocket connection requests per IP per window (venue: 3; 0 = off)",
             [](exsim_config& c, auto& v) { c.okx.connect_limit = v; });
  flag_value("--okx-connect-window-ms", o_connwin, "OKX connection-request window (venue: 1000)",
             [](exsim_config& c, auto& v) { c.okx.connect_window_ms = v; });
  app.add_flag("--no-connect-limits", no_connect_limits, "do not enforce the venues' connection-attempt limits");
  flag_value("--okx-subscribe-limit", o_subs, "OKX subscribe/unsubscribe requests per connection per window (venue: 480; 0 = off)",
             [](exsim_config& c, auto& v) { c.okx.subscribe_limit = v; });
  flag_value("--okx-subscribe-window-ms", o_subswin, "OKX subscribe-request window (venue: 3600000)",
             [](exsim_config& c, auto& v) { c.okx.subscribe_window_ms = v; });
  std::vector<std::string> quiet;
  flag_value("--quiet", quiet, "SYMBOL:SECONDS — no market actions for that instrument for its first SECONDS (repeatable)",
             [](exsim_config& c, auto& v) {
               for (const auto& q : v) {
                 const auto colon = q.rfind(':');
                 if (colon == std::string::npos || colon == 0)
                   throw mdbus::exsim::config_error("--quiet " + q + ": expected SYMBOL:SECONDS");
                 try {
                   std::size_t used = 0;
                   const double secs = std::stod(q.substr(colon + 1), &used);
                   if (used != q.size() - colon - 1) throw std::invalid_argument(q);
                   c.quiet[q.substr(0, colon)] = secs;
                 } catch (const std::logic_error&) {
                   throw mdbus::exsim::config_error("--quiet " + q + ": SECONDS is not a number");
                 }
               }
             })
      ->take_all();
  flag_value("--queue-limit", qlimit, "per-connection send queue bound in bytes (default 64 MiB)",
             [](exsim_config& c, auto& v) { c.queue_limit_bytes = v; });
  bool drop_slow = false;
  app.add_flag("--drop-slow", drop_slow, "over the queue bound drop frames (counted) instead of closing");
  bool print_config = false;
  app.add_flag("--print-config", print_config, "print the effective config as JSON and exit");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "libwebsockets warnings and notices on stderr");
  CLI11_PARSE(app, argc, argv);

  try {
    exsim_config cfg = config_path.empty() ? mdbus::exsim::default_config() : mdbus::exsim::load_config_file(config_path);
    for (auto& [opt, apply] : overrides)
      if (opt->count() > 0) apply(cfg);
    if (plain) cfg.tls = false;
    if (checksum) cfg.okx.checksum = true;
    if (no_checksum) cfg.okx.checksum = false;
    if (public_l2) cfg.okx.public_l2_tbt = true;
    if (rest_on_stream) cfg.rest_on_stream_port = true;
    if (no_connect_limits) cfg.connect_limits = false;
    if (drop_slow) cfg.close_slow = false;
    if (print_config) {
      std::cout << mdbus::exsim::to_json(cfg).dump(2) << '\n';
      return 0;
    }
    mdbus::exsim::validate(cfg);
    lws_set_log_level(verbose ? (LLL_ERR | LLL_WARN | LLL_NOTICE) : LLL_ERR, nullptr);

    mdbus::exsim::server srv(cfg);
    srv.start();
    g_server = &srv;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGPIPE, SIG_IGN);

    const std::string ws = cfg.tls ? "wss" : "ws";
    const std::string http = cfg.tls ? "https" : "http";
    const std::string base = "://" + cfg.host + ":" + std::to_string(srv.venue_port());
    std::printf("exsim: seed %llu, %g market actions/s, %s\n", static_cast<unsigned long long>(cfg.seed), cfg.rate,
                cfg.truth_log.empty() ? "no truth log" : ("truth log " + cfg.truth_log).c_str());
    std::string bs, os;
    for (const auto& i : cfg.binance.instruments) bs += " " + i.symbol;
    for (const auto& i : cfg.okx.instruments) os += " " + i.symbol;
    // REST: the venue's REST listener, and the stream port too with --rest-on-stream-port.
    auto rest_urls = [&](int rest_port, const char* path) {
      std::string r;
      if (rest_port > 0) r += "  " + http + "://" + cfg.host + ":" + std::to_string(rest_port) + path;
      if (cfg.rest_on_stream_port) r += "  " + http + base + path;
      return r.empty() ? std::string("  (no REST)") : r;
    };
    std::printf("exsim: binance%s: %s%s/ws/<stream>  %s%s/stream?streams=a/b %s\n", bs.c_str(), ws.c_str(), base.c_str(),
                ws.c_str(), base.c_str(), rest_urls(srv.binance_rest_port(), "/api/v3/depth").c_str());
    std::printf("exsim: okx%s: %s%s/ws/v5/public %s\n", os.c_str(), ws.c_str(), base.c_str(),
                rest_urls(srv.okx_rest_port(), "/api/v5/market/books").c_str());
    if (!cfg.usdm.instruments.empty())
      std::printf("exsim: binance_usdm: %s%s/public/stream?streams=a/b (depth, bookTicker)  %s%s/market/stream?streams=a/b "
                  "(trade, aggTrade) %s\n",
                  ws.c_str(), base.c_str(), ws.c_str(), base.c_str(), rest_urls(srv.usdm_rest_port(), "/fapi/v1/depth").c_str());
    if (srv.control_port() > 0)
      std::printf("exsim: control http://127.0.0.1:%d (GET /status, GET /connections, POST /fault, POST /market)\n",
                  srv.control_port());
    // One machine-readable line for scripts and tests that start exsim on port 0.
    std::printf("EXSIM_READY {\"venue_port\":%d,\"control_port\":%d,\"binance_rest_port\":%d,\"okx_rest_port\":%d,"
                "\"usdm_rest_port\":%d,\"tls\":%s}\n",
                srv.venue_port(), srv.control_port(), srv.binance_rest_port(), srv.okx_rest_port(), srv.usdm_rest_port(),
                cfg.tls ? "true" : "false");
    std::fflush(stdout);

    srv.run(g_stop);
    g_server = nullptr;
    std::printf("exsim: stopped\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exsim: %s\n", e.what());
    return 2;
  }
}
