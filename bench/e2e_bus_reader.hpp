#pragma once
// e2e_bench's side of the bus: the streams the generated config subscribes (and how the floor
// finds each in a venue message), and the consumer that reads the output ring on its own thread.
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "bench/e2e_analysis.hpp"
#include "bus/clock.hpp"
#include "mdbus/consumer.hpp"

namespace mdbus::bench {

/// A stream the bus carries (the generated config subscribes exactly these) and how the
/// floor finds it in a venue message.
struct wanted_stream {
  venue v;
  channel c;
  std::string symbol;
  std::string truth_name;  ///< exsim's stream name: "btcusdt@depth@100ms", "books:BTC-USDT"
  std::string floor_key;   ///< the sequence the truth keys it by, as it appears in the message
  std::uint16_t id = 0;    ///< truth stream id
};

inline std::vector<wanted_stream> wanted_streams() {
  std::vector<wanted_stream> w;
  for (const std::string sym : {"BTCUSDT", "ETHUSDT"}) {
    std::string lower = sym;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    // truth_format.hpp: trade t, aggTrade a, bookTicker u, depth U..u (last_seq = u).
    w.push_back({venue::binance, channel::binance_trade, sym, lower + "@trade", "\"t\":"});
    w.push_back({venue::binance, channel::binance_agg_trade, sym, lower + "@aggTrade", "\"a\":"});
    w.push_back({venue::binance, channel::binance_book_ticker, sym, lower + "@bookTicker", "\"u\":"});
    w.push_back({venue::binance, channel::binance_depth, sym, lower + "@depth@100ms", "\"u\":"});
  }
  for (const std::string inst : {"BTC-USDT", "ETH-USDT"}) {
    w.push_back({venue::okx, channel::okx_trades, inst, "trades:" + inst, "\"tradeId\":\""});
    w.push_back({venue::okx, channel::okx_bbo_tbt, inst, "bbo-tbt:" + inst, "\"seqId\":"});
    w.push_back({venue::okx, channel::okx_books, inst, "books:" + inst, "\"seqId\":"});
  }
  return w;
}

/// The bench's consumer on its own thread: waits on the output ring (the idle policy given), stamps CLOCK_REALTIME
/// at receipt, and while `recording` keeps (stream, seq, stamps) of every data record.
class bus_reader {
 public:
  bus_reader(consumer c, const std::vector<wanted_stream>& w, std::size_t capacity, idle_policy idle)
      : c_(std::move(c)), wanted_(w), samples_(capacity), idle_(idle), seen_(w.size()) {
    for (auto& s : seen_) s.store(false);
    thread_ = std::thread([this] { run(); });
  }
  ~bus_reader() { stop(); }
  bus_reader(const bus_reader&) = delete;
  bus_reader& operator=(const bus_reader&) = delete;

  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  void record(bool on) { recording_.store(on, std::memory_order_relaxed); }
  [[nodiscard]] std::size_t count() const noexcept { return count_.load(std::memory_order_acquire); }
  [[nodiscard]] const bus_sample* samples() const noexcept { return samples_.data(); }
  [[nodiscard]] bool seen_all() const {
    for (const auto& s : seen_)
      if (!s.load()) return false;
    return true;
  }
  [[nodiscard]] pid_t tid() const noexcept { return tid_.load(); }
  std::atomic<std::uint64_t> records{0}, gaps{0}, slot_statuses{0}, snapshots{0}, laps{0}, missed{0}, bad{0},
      unknown{0}, dropped{0};

 private:
  static void bump(std::atomic<std::uint64_t>& a) noexcept { a.store(a.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }

  void run() {
    tid_.store(static_cast<pid_t>(::syscall(SYS_gettid)));
    while (!stop_.load(std::memory_order_relaxed)) {
      const poll_result r = c_.wait(20'000'000, idle_);
      const std::int64_t now = wall_ns();
      switch (r.status) {
        case poll_status::record: on_record(r.record.header(), now); break;
        case poll_status::lapped:
          bump(laps);
          missed.fetch_add(r.missed_frames, std::memory_order_relaxed);
          break;
        case poll_status::bad_record:
        case poll_status::corrupt: bump(bad); break;
        case poll_status::empty: break;
      }
    }
  }

  void on_record(const record_header& h, std::int64_t now) noexcept {
    bump(records);
    switch (h.type) {
      case record_type::gap: bump(gaps); return;
      case record_type::slot_status: bump(slot_statuses); return;
      case record_type::book_snapshot: bump(snapshots); return;
      default: break;
    }
    const std::string_view sym = h.symbol_view();
    for (std::size_t i = 0; i < wanted_.size(); ++i) {
      const wanted_stream& w = wanted_[i];
      if (w.v != h.venue_id || w.c != h.channel_id || w.symbol != sym) continue;
      if (!seen_[i].load(std::memory_order_relaxed)) seen_[i].store(true);
      if (!recording_.load(std::memory_order_relaxed)) return;
      const std::size_t n = count_.load(std::memory_order_relaxed);
      if (n >= samples_.size()) {
        bump(dropped);
        return;
      }
      samples_[n] = bus_sample{static_cast<std::int64_t>(h.seq), now, h.receive_time_ns, h.publish_time_ns, w.id, h.slot, {}};
      count_.store(n + 1, std::memory_order_release);  // release: publishes the sample; pairs with count()'s acquire
      return;
    }
    bump(unknown);
  }

  consumer c_;
  std::vector<wanted_stream> wanted_;
  std::vector<bus_sample> samples_;
  idle_policy idle_;
  std::vector<std::atomic<bool>> seen_;
  std::atomic<std::size_t> count_{0};
  std::atomic<bool> recording_{false}, stop_{false};
  std::atomic<pid_t> tid_{0};
  std::thread thread_;
};

}  // namespace mdbus::bench
