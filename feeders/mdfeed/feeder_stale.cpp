// The feeder's side of the per-stream staleness watchdog (stale_watch.hpp decides): every
// committed record is credited to its stream; on the tick, a stream the watch calls stale is
// resubscribed on the live connection (the adapter's unsubscribe + subscribe messages for
// that one stream), counted in the status block and logged in one line. The connection stays.
#include "feeders/mdfeed/feeder.hpp"

#include "bus/clock.hpp"

#include <algorithm>

namespace mdbus::feed {
namespace {

constexpr std::int64_t kMs = 1'000'000;
// Log key beyond those of feeder.cpp (16, 17), feeder_commands.cpp (18), feeder_resync.cpp (19-21).
constexpr unsigned kKeyStale = 22;
static_assert(kKeyStale < log_limiter::kKeys);

/// At most one resubscribe per connection per this: 240 an hour, half of OKX's 480
/// subscribe/unsubscribe requests per connection per hour (each resubscribe is two), and far
/// inside Binance's 5 incoming messages per second (feeders/CONFORMANCE.md, both venues' limits).
constexpr std::int64_t kResubscribeSpacingMs = 30'000;

}  // namespace

void feeder::build_stale_table() {
  std::vector<channel> ids;
  for (const auto& ch : venue_.channels) ids.push_back(ch.id);
  stream_index_ = stream_index(venue_.symbols, ids);
  for (std::size_t si = 0; si < venue_.symbols.size(); ++si) {
    for (const auto& ch : venue_.channels) {
      watched_stream w;
      w.sub = {ch.id, venue_.symbols[si], ch.variant};
      // A pair the venue does not serve (OKX funding-rate of a spot instId) is not subscribed:
      // it keeps its place in the index, never delivers, so never has a rate to go stale.
      if (venue_.carries(w.sub.symbol, ch.id)) {
        const std::span<const subscription> one(&w.sub, 1);
        w.resubscribe = adapter_->resubscribe_messages(one);
      }
      watched_.push_back(std::move(w));
    }
  }
  stale_watch::options o;
  o.stale_ns = venue_.policy.stale_stream_ms * kMs;
  o.busy_ns = std::min<std::int64_t>(5'000, venue_.policy.stale_stream_ms / 4) * kMs;
  o.spacing_ns = std::min<std::int64_t>(kResubscribeSpacingMs, venue_.policy.stale_stream_ms) * kMs;
  stale_ = stale_watch(watched_.size(), o);
  sink_.observe_commits(this);
}

/// Hot path: one hash lookup of the symbol per record, no allocation.
void feeder::on_record_committed(const record_header& h) noexcept {
  stale_.on_record(stream_index_.of(h), record_now_);  // npos is ignored
}

void feeder::check_stale_streams(std::int64_t now) noexcept {
  const std::size_t i = stale_.check(now);
  if (i == stale_watch::npos || status_.state() == feeder_state::draining) return;
  const watched_stream& w = watched_[i];
  const std::int64_t limit_ms = stale_.threshold_ns(i) / kMs;
  try {
    for (const auto& m : w.resubscribe) ws_->send_text(m);  // copies: not the message path
  } catch (const std::exception&) {
    return;  // allocation failure: the next check tries again
  }
  stale_.resubscribed(i, now);
  bump(status_.fields().stale_resubscribes);
  log_.log(kKeyStale, now, "stream %s %s silent for more than %lld ms while the connection delivers: resubscribed",
           std::string_view(to_string(w.sub.ch)).data(), w.sub.symbol.c_str(), static_cast<long long>(limit_ms));
}

}  // namespace mdbus::feed
