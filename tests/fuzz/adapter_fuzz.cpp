// libFuzzer target for one venue adapter's parsers (MDBUS_FUZZ_VENUE picks the venue at
// build time: one target per adapter). Each input is one WebSocket text message, or — when
// its first byte is '#' — a REST book snapshot body. Beyond "no crash, no sanitizer report",
// every record the adapter commits must be one record_view accepts, of the size it claims,
// and within the bytes the adapter claimed: a malformed record would poison the merger.
#include "mdbus/records.hpp"
#include "feeders/venue_adapter.hpp"

#include <simdjson.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>

#ifndef MDBUS_FUZZ_VENUE
#error "define MDBUS_FUZZ_VENUE (binance or okx)"
#endif

namespace {

using namespace mdbus;

constexpr venue kVenue = venue::MDBUS_FUZZ_VENUE;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "adapter_fuzz: %s\n", what);
  std::abort();
}

/// A ring-sized buffer; every commit is checked as the merger would read it.
class checking_sink final : public feed::record_sink {
 public:
  std::span<std::byte> claim(std::size_t bytes) noexcept override {
    if (bytes > buffer_.size()) fail("claim larger than the largest frame");
    claimed_ = bytes;
    return {buffer_.data(), bytes};
  }
  void commit(record_type type, std::size_t used) noexcept override {
    if (used > claimed_) fail("commit of more bytes than claimed");
    record_view v;
    if (record_view::parse({buffer_.data(), used}, v) != record_status::ok) fail("committed record does not parse");
    if (v.header().type != type) fail("commit type differs from the record's type");
    if (v.header().size != used) fail("record size differs from the bytes committed");
    claimed_ = 0;
  }

 private:
  std::array<std::byte, 65536> buffer_{};
  std::size_t claimed_ = 0;
};

feed::venue_adapter& adapter() {
  static const std::unique_ptr<feed::venue_adapter> a = [] {
    feed::adapter_options o;
    o.slot = slot_id::a;
    auto p = feed::make_adapter(kVenue, o);
    if (!p) fail("no adapter for this venue");
    return p;
  }();
  return *a;
}

feed::subscription snapshot_subscription() {
  feed::subscription s;
  if constexpr (kVenue == venue::okx) {
    s.ch = channel::okx_books;
    s.symbol = "BTC-USDT";
  } else {
    s.ch = channel::binance_depth;
    s.symbol = "BTCUSDT";
    s.variant = "100ms";
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static checking_sink sink;
  static const feed::subscription snap = snapshot_subscription();
  const bool snapshot = size > 0 && data[0] == '#';
  if (snapshot) {
    ++data;
    --size;
  }
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: give it a padded copy.
  simdjson::padded_string message(reinterpret_cast<const char*>(data), size);
  if (snapshot)
    (void)adapter().parse_snapshot(snap, message, 1'700'000'000'000'000'000, sink);
  else
    (void)adapter().parse(message, 1'700'000'000'000'000'000, sink);
  return 0;
}
