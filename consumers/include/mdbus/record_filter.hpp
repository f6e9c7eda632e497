#pragma once
/// Which records a consumer wants: sets of venues, channels, record types and symbols. An
/// empty set means "any". The check runs on every record the consumer copies out, so it is
/// three bit tests and, when symbols are set, 24-byte compares of the fixed symbol field —
/// no string building, no hashing, no allocation.
#include "mdbus/records.hpp"
#include "mdbus/venue.hpp"
#include "mdbus/venues/registry.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mdbus {

class record_filter {
 public:
  /// Adders return *this so a filter reads as one expression:
  /// `record_filter{}.venue(venue::okx).type(record_type::bbo).symbol("BTC-USDT")`.
  record_filter& venue(mdbus::venue v) noexcept {
    venues_ |= bit(static_cast<unsigned>(v));
    return *this;
  }
  record_filter& channel(mdbus::channel c) noexcept {
    channels_ |= bit(static_cast<unsigned>(c));
    return *this;
  }
  record_filter& type(record_type t) noexcept {
    types_ |= bit(static_cast<unsigned>(t));
    return *this;
  }
  /// Exact symbol in the venue's spelling ("BTCUSDT", "BTC-USDT"). Throws
  /// std::invalid_argument if it is empty, longer than kSymbolCapacity or holds a NUL: such
  /// a filter could never match and is a caller's mistake worth hearing about.
  record_filter& symbol(std::string_view s) {
    if (s.empty() || s.size() > kSymbolCapacity || s.find('\0') != std::string_view::npos)
      throw std::invalid_argument("record_filter: bad symbol '" + std::string(s) + "'");
    std::array<char, kSymbolCapacity> padded{};
    std::memcpy(padded.data(), s.data(), s.size());
    symbols_.push_back(padded);
    return *this;
  }

  /// Parsers for command lines and config ("binance", "okx"; "trade", "bbo", "book_delta",
  /// "book_snapshot", "book" for both book types, "gap", "slot_status", "mark_funding", "instrument"; OKX/Binance channel
  /// names as in venue.hpp). Throw std::invalid_argument naming the bad word.
  record_filter& venue_name(std::string_view name) {
    const auto v = venue_from_string(name);
    if (!v) throw std::invalid_argument("unknown venue '" + std::string(name) + "' (" + known_venue_names() + ")");
    return venue(*v);
  }
  record_filter& type_name(std::string_view name) {
    if (name == "book") return type(record_type::book_delta).type(record_type::book_snapshot);
    for (unsigned t = 1; t <= static_cast<unsigned>(kLastRecordType); ++t) {
      if (to_string(static_cast<record_type>(t)) == name) return type(static_cast<record_type>(t));
    }
    throw std::invalid_argument("unknown record type '" + std::string(name) +
                                "' (trade | bbo | book_delta | book_snapshot | book | gap | slot_status | mark_funding | instrument)");
  }

  [[nodiscard]] bool empty() const noexcept {
    return venues_ == 0 && channels_ == 0 && types_ == 0 && symbols_.empty();
  }

  /// True when the record's header is in every non-empty set.
  [[nodiscard]] bool pass(const record_header& h) const noexcept {
    if (venues_ != 0 && (venues_ & bit(static_cast<unsigned>(h.venue_id))) == 0) return false;
    if (channels_ != 0 && (channels_ & bit(static_cast<unsigned>(h.channel_id))) == 0) return false;
    if (types_ != 0 && (types_ & bit(static_cast<unsigned>(h.type))) == 0) return false;
    if (symbols_.empty()) return true;
    for (const auto& s : symbols_)
      if (std::memcmp(s.data(), h.symbol, kSymbolCapacity) == 0) return true;
    return false;
  }

 private:
  // Values >= 64 (none exist today) get no bit: a set that names them matches nothing new,
  // and a record carrying one fails any non-empty set — never a false match.
  static constexpr std::uint64_t bit(unsigned v) noexcept { return v < 64 ? std::uint64_t{1} << v : 0; }

  std::uint64_t venues_ = 0;
  std::uint64_t channels_ = 0;
  std::uint64_t types_ = 0;
  std::vector<std::array<char, kSymbolCapacity>> symbols_;  ///< NUL-padded like record_header::symbol
};

}  // namespace mdbus
