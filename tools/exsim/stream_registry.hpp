#pragma once
/// Every stream exsim can serve, numbered once at start-up: the numbering is the truth
/// log's stream table, and the id is how feeds, subscriptions and fan-out refer to a stream.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mdbus/venue.hpp"
#include "tools/exsim/truth_format.hpp"

namespace mdbus::exsim {

struct stream_info {
  std::uint16_t id = 0;
  venue venue_id = venue::unknown;
  channel channel_id = channel::unknown;
  std::uint8_t depth_levels = 0;  ///< partial-book streams: levels per side
  bool fast = false;              ///< Binance @100ms variant
  std::size_t instrument = 0;     ///< index in the venue feed's instrument list
  std::string symbol;             ///< "BTCUSDT", "BTC-USDT"
  std::string name;               ///< "btcusdt@depth@100ms", "books:BTC-USDT"
  std::string route;              ///< Binance USD-M: the URL path that serves it ("/public", "/market"); else ""
};

/// Metadata of one generated event, for the truth log (see truth_format.hpp for meanings).
struct event_meta {
  std::int64_t first_seq = 0;
  std::int64_t last_seq = 0;
  std::int64_t prev_seq = -1;
  std::int64_t event_time_ms = 0;
  std::uint8_t flags = 0;
};

/// Where venue feeds publish: fan-out to every subscriber of the stream, and the truth log.
class event_sink {
 public:
  virtual ~event_sink() = default;
  /// One event of a stream, generated once and delivered identically to every subscriber.
  virtual void publish(std::uint16_t stream_id, std::string_view payload, const event_meta& meta) = 0;
};

class stream_registry {
 public:
  std::uint16_t add(stream_info s) {
    s.id = static_cast<std::uint16_t>(streams_.size());
    by_name_.emplace(s.name, s.id);  // the first venue's stream keeps a shared name (spot before USD-M)
    by_venue_name_.emplace(key(s.venue_id, s.name), s.id);
    streams_.push_back(std::move(s));
    return streams_.back().id;
  }
  /// The stream named `name` ("btcusdt@trade" is spot's and USD-M's: the first added, spot).
  [[nodiscard]] const stream_info* find(std::string_view name) const {
    const auto it = by_name_.find(std::string(name));
    return it == by_name_.end() ? nullptr : &streams_[it->second];
  }
  /// The stream of venue `v` named `name`.
  [[nodiscard]] const stream_info* find(venue v, std::string_view name) const {
    const auto it = by_venue_name_.find(key(v, name));
    return it == by_venue_name_.end() ? nullptr : &streams_[it->second];
  }
  [[nodiscard]] const stream_info& at(std::uint16_t id) const { return streams_.at(id); }
  [[nodiscard]] std::size_t size() const noexcept { return streams_.size(); }
  [[nodiscard]] const std::vector<stream_info>& all() const noexcept { return streams_; }

 private:
  static std::string key(venue v, std::string_view name) {
    return std::to_string(static_cast<unsigned>(v)) + ":" + std::string(name);
  }
  std::vector<stream_info> streams_;
  std::unordered_map<std::string, std::uint16_t> by_name_;
  std::unordered_map<std::string, std::uint16_t> by_venue_name_;
};

}  // namespace mdbus::exsim
