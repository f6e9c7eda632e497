// The venue → adapter table. A new venue is one adapter file plus one line here (and its
// factory's declaration next to it).
#include "feeders/venue_adapter.hpp"

#include <stdexcept>
#include <string>

namespace mdbus::feed {
namespace detail {
std::unique_ptr<venue_adapter> make_binance_adapter(const adapter_options& options);
std::unique_ptr<venue_adapter> make_okx_adapter(const adapter_options& options);
std::unique_ptr<venue_adapter> make_binance_usdm_adapter(const adapter_options& options);
}  // namespace detail

namespace {

struct registry_entry {
  venue id;
  std::unique_ptr<venue_adapter> (*make)(const adapter_options&);
};

constexpr registry_entry kAdapters[] = {
    {venue::binance, &detail::make_binance_adapter},
    {venue::okx, &detail::make_okx_adapter},
    {venue::binance_usdm, &detail::make_binance_usdm_adapter},
};

}  // namespace

std::string_view to_string(parse_error e) noexcept {
  switch (e) {
    case parse_error::none: return "none";
    case parse_error::not_json: return "not_json";
    case parse_error::unexpected_shape: return "unexpected_shape";
    case parse_error::missing_field: return "missing_field";
    case parse_error::wrong_type: return "wrong_type";
    case parse_error::bad_number: return "bad_number";
    case parse_error::unknown_stream: return "unknown_stream";
    case parse_error::record_too_large: return "record_too_large";
    case parse_error::ring_full: return "ring_full";
    case parse_error::venue_error: return "venue_error";
    case parse_error::message_too_large: return "message_too_large";
    case parse_error::invalid_value: return "invalid_value";
    case parse_error::duplicate_key: return "duplicate_key";
    case parse_error::count_: break;
  }
  return "unknown";
}

// The defaults of a venue without trade history (venue_adapter.hpp, backfill).
std::string venue_adapter::backfill_path(const subscription& sub, std::uint64_t, std::size_t) const {
  throw std::invalid_argument(std::string(to_string(sub.ch)) + ": the venue keeps no trade history to backfill from");
}

parse_result venue_adapter::parse_backfill(const subscription&, simdjson::padded_string_view, std::uint64_t,
                                           std::uint64_t, std::int64_t, record_sink&, backfill_page& page) noexcept {
  page = {};
  return {0, parse_error::unknown_stream, control_event::none, "no trade history for this channel"};
}

std::unique_ptr<venue_adapter> make_adapter(venue v, const adapter_options& options) {
  if (options.max_record_bytes < kMinRecordBytes || options.max_record_bytes > kMaxRecordSize) {
    throw std::invalid_argument("adapter_options.max_record_bytes " + std::to_string(options.max_record_bytes) +
                                " is outside [" + std::to_string(kMinRecordBytes) + ", " +
                                std::to_string(kMaxRecordSize) + "]");
  }
  if (options.max_message_bytes == 0) throw std::invalid_argument("adapter_options.max_message_bytes is 0");
  for (const auto& entry : kAdapters)
    if (entry.id == v) return entry.make(options);
  return nullptr;
}

}  // namespace mdbus::feed
