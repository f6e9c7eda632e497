#pragma once
/// Every venue the bus knows: one line per venue here and in registry.cpp, the rest is the
/// venue's own descriptor (bus/venues/<venue>.hpp/.cpp) and its feeder adapter.
#include "mdbus/venue_descriptor.hpp"
#include "mdbus/venues/binance.hpp"
#include "mdbus/venues/binance_usdm.hpp"
#include "mdbus/venues/okx.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mdbus {

/// Each venue's channel table, for constant-time lookups on the hot paths.
struct channel_table {
  venue id = venue::unknown;
  std::span<const channel_rule> rules;
};
inline constexpr channel_table kChannelTables[] = {{venue::binance, venues::kBinanceChannels},
                                                   {venue::okx, venues::kOkxChannels},
                                                   {venue::binance_usdm, venues::kUsdmChannels}};

/// A venue declares at most this many channels: a feeder control block has a resync slot per
/// (symbol, channel position) (bus/feeder_block.hpp).
inline constexpr std::size_t kMaxChannelsPerVenue = 32;

namespace detail {
struct indexed_channel {
  channel_rule rule;
  venue owner = venue::unknown;
  std::uint8_t position = 0;  ///< in its venue's table
};

/// Every declared channel at its number: one load per lookup.
inline constexpr auto kChannelIndex = [] {
  std::array<indexed_channel, 256> index{};
  for (const channel_table& t : kChannelTables)
    for (std::size_t i = 0; i < t.rules.size(); ++i)
      index[static_cast<std::uint8_t>(t.rules[i].id)] = {t.rules[i], t.id, static_cast<std::uint8_t>(i)};
  return index;
}();

constexpr bool channels_declared_once() {
  std::array<int, 256> seen{};
  for (const channel_table& t : kChannelTables) {
    if (t.rules.size() > kMaxChannelsPerVenue) return false;
    for (const channel_rule& r : t.rules)
      if (r.id == channel::unknown || ++seen[static_cast<std::uint8_t>(r.id)] > 1) return false;
  }
  return true;
}
static_assert(channels_declared_once(),
              "a channel is declared by two venues, twice, or as unknown, or a venue declares more than 32 channels");
}  // namespace detail

/// The sequencing of a channel, or nullptr for a channel no venue declares.
[[nodiscard]] constexpr const channel_rule* find_channel_rule(channel c) noexcept {
  const detail::indexed_channel& e = detail::kChannelIndex[static_cast<std::uint8_t>(c)];
  return e.owner == venue::unknown ? nullptr : &e.rule;
}

/// The rule entry of a channel by value (default-constructed, id unknown, for a channel no
/// venue declares): no pointer, so it folds in every constant expression.
[[nodiscard]] constexpr channel_rule channel_rule_of(channel c) noexcept {
  return detail::kChannelIndex[static_cast<std::uint8_t>(c)].rule;
}

/// The venue that declares the channel (venue::unknown for none).
[[nodiscard]] constexpr venue venue_of(channel c) noexcept { return detail::kChannelIndex[static_cast<std::uint8_t>(c)].owner; }

/// The channel's position in its venue's table (< kMaxChannelsPerVenue), or
/// kMaxChannelsPerVenue for a channel no venue declares.
[[nodiscard]] constexpr std::size_t channel_position(channel c) noexcept {
  const detail::indexed_channel& e = detail::kChannelIndex[static_cast<std::uint8_t>(c)];
  return e.owner == venue::unknown ? kMaxChannelsPerVenue : e.position;
}

/// The channel of venue `v` whose bus spelling (to_string(channel)) is `s`.
[[nodiscard]] constexpr std::optional<channel> channel_from_string(venue v, std::string_view s) noexcept {
  for (const channel_table& t : kChannelTables)
    if (t.id == v)
      for (const channel_rule& r : t.rules)
        if (to_string(r.id) == s) return r.id;
  return std::nullopt;
}

/// All descriptors, in venue id order.
[[nodiscard]] std::span<const venue_descriptor* const> all_venues() noexcept;
/// The descriptor of `v`, or nullptr (venue::unknown).
[[nodiscard]] const venue_descriptor* find_venue(venue v) noexcept;
/// The descriptor named `name` ("binance"), or nullptr.
[[nodiscard]] const venue_descriptor* find_venue(std::string_view name) noexcept;
/// "binance, okx, binance_usdm": for messages naming what is known.
[[nodiscard]] std::string known_venue_names();

}  // namespace mdbus
