// exsim_rate: the highest event rate exsim sustains with N subscribers on this machine.
// Starts exsim (plain ws, loopback), connects N subscribers — each one Binance combined
// connection with every stream and one OKX connection with every channel — then steps the
// market rate up through POST /market and, per step, compares the events exsim generated
// (GET /status) with the frames every subscriber received. A step is sustained when exsim
// generated >= 95% of the rate it was asked for and every subscriber received >= 98% of it
// with no connection closed.
#include <cstdio>
#include <string>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include "tests/tools/exsim/exsim_process.hpp"
#include "tests/tools/exsim/http_client.hpp"
#include "tests/tools/exsim/ws_test_client.hpp"

using namespace std::chrono_literals;
using mdbus::test::http_request;
using nlohmann::json;

int main(int argc, char** argv) {
  CLI::App app{"exsim_rate: event rate exsim sustains with N subscribers"};
  int subscribers = 4;
  double seconds = 3;
  std::vector<double> rates = {10000, 25000, 50000, 75000, 100000, 150000, 200000, 250000, 300000, 400000};
  app.add_option("-n,--subscribers", subscribers, "subscribers (each: 1 Binance + 1 OKX connection)");
  app.add_option("-s,--seconds", seconds, "measurement time per step");
  app.add_option("-r,--rates", rates, "market actions/s to try, ascending");
  CLI11_PARSE(app, argc, argv);

  // N subscribers connect at once: more than the venues' connection-attempt limits allow.
  mdbus::test::exsim_process x({"--plain", "--rate", "0", "--queue-limit", "268435456", "--no-connect-limits"});
  const int port = x.venue_port();
  const auto status = [&] { return http_request(x.control_port(), "GET", "/status").json(); };

  std::string bstreams;
  for (const char* sym : {"btcusdt", "ethusdt"})
    for (const char* s : {"trade", "aggTrade", "bookTicker", "depth", "depth@100ms", "depth5", "depth10", "depth20",
                          "depth5@100ms", "depth10@100ms", "depth20@100ms"})
      bstreams += std::string(bstreams.empty() ? "" : "/") + sym + "@" + s;
  json args = json::array();
  for (const char* inst : {"BTC-USDT", "ETH-USDT"})
    for (const char* ch : {"trades", "tickers", "bbo-tbt", "books", "books5", "books-l2-tbt"})
      args.push_back({{"channel", ch}, {"instId", inst}});
  const std::string okx_sub = json{{"op", "subscribe"}, {"args", args}}.dump();

  mdbus::test::ws_loop loop;
  std::vector<mdbus::test::ws_conn*> conns;
  for (int i = 0; i < subscribers; ++i) {
    conns.push_back(&loop.connect(port, "/stream?streams=" + bstreams));
    conns.push_back(&loop.connect(port, "/ws/v5/public"));
    conns.back()->send(okx_sub);
  }
  if (!loop.pump_until([&] {
        for (auto* c : conns)
          if (!c->connected) return false;
        return true;
      }, 10s)) {
    std::fprintf(stderr, "exsim_rate: subscribers did not connect\n");
    return 1;
  }
  loop.pump_for(300ms);

  std::printf("| asked actions/s | actions/s | events generated/s | frames delivered/s (all subscribers) | min per subscriber / generated | sustained |\n");
  std::printf("|---:|---:|---:|---:|---:|:---:|\n");
  double best = 0;
  for (const double rate : rates) {
    http_request(x.control_port(), "POST", "/market", json{{"rate", rate}}.dump());
    loop.pump_for(500ms);  // settle
    for (auto* c : conns) c->messages.clear();
    const auto s0 = status();
    const auto e0 = s0["events"].get<double>();
    const auto a0 = s0["actions"].get<double>();
    std::vector<std::size_t> r0;
    for (auto* c : conns) r0.push_back(c->received);
    const auto t0 = std::chrono::steady_clock::now();
    loop.pump_until([&] {
      for (auto* c : conns) c->messages.clear();  // count only: keep memory flat
      return std::chrono::steady_clock::now() - t0 >= std::chrono::duration<double>(seconds);
    }, std::chrono::milliseconds(static_cast<long>(seconds * 1000) + 1000));
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto s1 = status();
    const auto e1 = s1["events"].get<double>();
    const double actions = (s1["actions"].get<double>() - a0) / dt;
    const double gen = (e1 - e0) / dt;
    double total = 0, min_ratio = 1e9;
    bool closed = false;
    for (int i = 0; i < subscribers; ++i) {
      const double got = static_cast<double>(conns[2 * i]->received - r0[2 * i] + conns[2 * i + 1]->received - r0[2 * i + 1]) / dt;
      total += got;
      min_ratio = std::min(min_ratio, got / gen);
      closed = closed || conns[2 * i]->closed || conns[2 * i + 1]->closed;
    }
    const bool ok = actions >= 0.95 * rate && !closed && min_ratio >= 0.98;
    std::printf("| %.0f | %.0f | %.0f | %.0f | %.3f | %s |\n", rate, actions, gen, total, min_ratio, ok ? "yes" : "no");
    std::fflush(stdout);
    if (!ok) break;
    best = gen;
  }
  std::printf("\nmax sustained: %.0f events/s generated, each delivered to %d subscribers\n", best, subscribers);
  return 0;
}
