#pragma once
/// OKX v5 "Public Data" channel elements the OKX adapter decodes besides the order-book
/// trading channels: mark-price and funding-rate (perpetual swaps). One parser per element
/// shape, each writing one mark_funding record through the record writer. Internal to feeders/.
#include "feeders/adapter_support.hpp"

#include <string_view>

namespace mdbus::feed::detail::okx {

/// A data element's own instId must be the arg's: an element of another instrument does not
/// belong to this stream.
[[nodiscard]] inline failure match_inst_id(od::value& v, const stream_stamp& st, std::string_view what) noexcept {
  std::string_view s;
  if (const parse_error e = read_string(v, s); e != parse_error::none) return {e, what};
  if (!st.same_symbol(s)) return {parse_error::unknown_stream, "data instId differs from arg.instId"};
  return kOk;
}

/// mark-price: instType, instId, markPx, ts.
failure parse_mark_price(od::object& obj, const stream_stamp& st, record_writer& w) noexcept;
/// funding-rate: instId, fundingRate, fundingTime, ts (nextFundingRate, nextFundingTime,
/// premium, settState, … are not carried).
failure parse_funding_rate(od::object& obj, const stream_stamp& st, record_writer& w) noexcept;

}  // namespace mdbus::feed::detail::okx
