// parse() must not allocate once the adapter exists: this binary replaces the global
// operator new/delete with counting ones and parses every recorded message of both venues,
// the malformed ones and the control events, twice.
#include "feeders/venue_adapter.hpp"
#include "tests/feeders/adapter_test_support.hpp"

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace {
std::atomic<std::size_t> g_allocations{0};

void* counted_alloc(std::size_t n, std::size_t align) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  void* p = align > alignof(std::max_align_t) ? std::aligned_alloc(align, (n + align - 1) / align * align) : std::malloc(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n, 0); }
void* operator new[](std::size_t n) { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_alloc(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_alloc(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace mdbus;
using namespace mdbus::feed;
using namespace mdbus::feed::test;

namespace {

/// A ring stand-in that never allocates: one fixed buffer, overwritten by every claim.
class fixed_sink final : public record_sink {
 public:
  std::span<std::byte> claim(std::size_t bytes) noexcept override {
    return bytes <= buf_.size() ? std::span<std::byte>(buf_.data(), bytes) : std::span<std::byte>();
  }
  void commit(record_type, std::size_t) noexcept override { ++records; }
  std::size_t records = 0;

 private:
  std::array<std::byte, kMaxRecordSize> buf_{};
};

std::vector<simdjson::padded_string> padded(const std::vector<std::string>& lines) {
  std::vector<simdjson::padded_string> out;
  out.reserve(lines.size());
  for (const auto& l : lines) out.emplace_back(l);
  return out;
}

/// Allocations made by parsing every message once.
std::size_t allocations_in(venue_adapter& a, const std::vector<simdjson::padded_string>& msgs, fixed_sink& sink) {
  const std::size_t before = g_allocations.load();
  for (const auto& m : msgs) (void)a.parse(m, kReceiveNs, sink);
  return g_allocations.load() - before;
}

}  // namespace

TEST_CASE("the counting allocator sees allocations") {
  const std::size_t before = g_allocations.load();
  auto* p = new std::string(100, 'x');
  delete p;
  CHECK(g_allocations.load() > before);
}

TEST_CASE("binance: parse() does not allocate after construction") {
  auto lines = read_lines(std::string(MDBUS_BENCH_DATA) + "/binance_spot.jsonl");
  for (const char* extra :
       {R"({"result":null,"id":1})", R"({"code":2,"msg":"Invalid request","id":1})", R"({"e":"serverShutdown","E":1})",
        R"({"data":{"e":"trade","E":1,"t":1,"p":"1","q":"1","m":true},"stream":"btcusdt@trade"})",
        R"({"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"2","A":"1"})", "not json", R"({"stream":"x@trade","data":{"t":"x"}})",
        R"({"stream":"btcusdt@depth5","data":{"lastUpdateId":1,"bids":[["1","1"],["2","2"]],"asks":[]}})", "[1]"})
    lines.emplace_back(extra);
  const auto msgs = padded(lines);
  const auto rest = simdjson::padded_string(read_file(std::string(MDBUS_BENCH_DATA) + "/binance_rest_depth.json"));
  // With subscriptions set, every message also goes through the stream lookup.
  const subscription subs[] = {{channel::binance_trade, "BTCUSDT", ""},
                               {channel::binance_book_ticker, "BTCUSDT", ""},
                               {channel::binance_depth, "BTCUSDT", "100ms"},
                               {channel::binance_agg_trade, "NKNUSDT", ""},
                               {channel::binance_depth, "NKNUSDT", "100ms"}};
  for (const auto& [max_record, subscribed] : {std::pair{std::size_t{65535}, false}, std::pair{std::size_t{200}, false},
                                               std::pair{std::size_t{65535}, true}}) {
    CAPTURE(max_record);
    CAPTURE(subscribed);
    adapter_options o;
    o.max_record_bytes = max_record;
    auto a = make_adapter(venue::binance, o);
    if (subscribed) a->set_subscriptions(subs);
    fixed_sink sink;
    const subscription sub{channel::binance_depth, "BTCUSDT", ""};
    const std::size_t before = g_allocations.load();
    (void)a->parse_snapshot(sub, rest, kReceiveNs, sink);
    const std::size_t first = allocations_in(*a, msgs, sink);
    const std::size_t second = allocations_in(*a, msgs, sink);
    (void)a->parse_snapshot(sub, rest, kReceiveNs, sink);
    CHECK(first == 0);
    CHECK(second == 0);
    CHECK(g_allocations.load() - before == 0);
    CHECK(sink.records > (subscribed ? 2 * 1000 : 2 * 1262));
  }
}

TEST_CASE("okx: parse() does not allocate after construction") {
  auto lines = read_lines(std::string(MDBUS_BENCH_DATA) + "/okx_v5.jsonl");
  for (const char* extra :
       {"pong", R"({"event":"error","code":"60012","msg":"Invalid request"})",
        R"({"event":"notice","code":"64008","msg":"upgrade"})",
        R"({"data":[{"asks":[],"bids":[],"ts":"1"}],"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot"})",
        R"({"arg":{"channel":"bbo-tbt","instId":"A-B"},"data":[{"asks":[["1","2","0","1"]],"bids":[],"ts":"5","seqId":9}]})",
        R"({"arg":{"channel":"trades","instId":"A-B"},"data":[{"tradeId":"1","px":"1","sz":"x","side":"buy","ts":"1"}]})",
        "{", R"({"arg":{"channel":"candle1m","instId":"A-B"},"data":[]})"})
    lines.emplace_back(extra);
  const auto msgs = padded(lines);
  const subscription subs[] = {{channel::okx_books, "BTC-USDT", ""}, {channel::okx_trades, "BTC-USDT", ""},
                               {channel::okx_tickers, "BTC-USDT", ""}};
  for (const auto& [max_record, subscribed] : {std::pair{std::size_t{65535}, false}, std::pair{std::size_t{200}, false},
                                               std::pair{std::size_t{65535}, true}}) {
    CAPTURE(max_record);
    CAPTURE(subscribed);
    adapter_options o;
    o.max_record_bytes = max_record;
    auto a = make_adapter(venue::okx, o);
    if (subscribed) a->set_subscriptions(subs);
    fixed_sink sink;
    CHECK(allocations_in(*a, msgs, sink) == 0);
    CHECK(allocations_in(*a, msgs, sink) == 0);
    CHECK(sink.records > (subscribed ? 2 * 50 : 2 * 392));
  }
}
