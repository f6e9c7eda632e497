#include "mdbus/venues/registry.hpp"

#include <array>

namespace mdbus {

std::span<const venue_descriptor* const> all_venues() noexcept {
  static const std::array<const venue_descriptor*, 3> all{&venues::binance(), &venues::okx(), &venues::binance_usdm()};
  return all;
}

const venue_descriptor* find_venue(venue v) noexcept {
  for (const venue_descriptor* d : all_venues())
    if (d->id == v) return d;
  return nullptr;
}

const venue_descriptor* find_venue(std::string_view name) noexcept {
  for (const venue_descriptor* d : all_venues())
    if (d->name == name) return d;
  return nullptr;
}

std::string known_venue_names() {
  std::string out;
  for (const venue_descriptor* d : all_venues()) {
    if (!out.empty()) out += ", ";
    out += d->name;
  }
  return out;
}

}  // namespace mdbus
