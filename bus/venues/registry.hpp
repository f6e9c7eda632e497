#pragma once
/// Every venue the bus knows: one line per venue here and in registry.cpp, the rest is the
/// venue's own descriptor (bus/venues/<venue>.hpp/.cpp) and its feeder adapter.
#include "bus/venue_descriptor.hpp"
#include "bus/venues/binance.hpp"
#include "bus/venues/okx.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace mdbus {

/// The channel tables, for constant-time rules on the merger's path.
inline constexpr std::span<const channel_rule> kChannelRuleTables[] = {venues::kBinanceChannels, venues::kOkxChannels};

namespace detail {
/// Every declared channel at its number: one load per lookup on the merger's path.
inline constexpr auto kChannelRuleIndex = [] {
  std::array<channel_rule, 256> index{};
  for (const auto table : kChannelRuleTables)
    for (const channel_rule& r : table) index[static_cast<std::uint8_t>(r.id)] = r;
  return index;
}();

constexpr bool channels_declared_once() {
  std::array<int, 256> seen{};
  for (const auto table : kChannelRuleTables)
    for (const channel_rule& r : table)
      if (r.id == channel::unknown || ++seen[static_cast<std::uint8_t>(r.id)] > 1) return false;
  return true;
}
static_assert(channels_declared_once(), "a channel is declared by two venues, twice, or as unknown");
}  // namespace detail

/// The sequencing of a channel, or nullptr for a channel no venue declares.
[[nodiscard]] constexpr const channel_rule* find_channel_rule(channel c) noexcept {
  const channel_rule& r = detail::kChannelRuleIndex[static_cast<std::uint8_t>(c)];
  return r.id == channel::unknown ? nullptr : &r;
}

/// All descriptors, in venue id order.
[[nodiscard]] std::span<const venue_descriptor* const> all_venues() noexcept;
/// The descriptor of `v`, or nullptr (venue::unknown).
[[nodiscard]] const venue_descriptor* find_venue(venue v) noexcept;
/// The descriptor named `name` ("binance"), or nullptr.
[[nodiscard]] const venue_descriptor* find_venue(std::string_view name) noexcept;
/// "binance, okx": for messages naming what is known.
[[nodiscard]] std::string known_venue_names();

}  // namespace mdbus
