#include "feeders/mdfeed/stale_watch.hpp"

#include <algorithm>

namespace mdbus::feed {
namespace {
constexpr std::uint32_t kMaxBackoffShift = 6;  // a futile stream waits at most 64 thresholds
}

stale_watch::stale_watch(std::size_t streams, const options& o) : o_(o), streams_(streams) {}

void stale_watch::connection_started(std::int64_t now) noexcept {
  (void)now;
  std::fill(streams_.begin(), streams_.end(), stream{});
  last_any_ns_ = second_any_ns_ = last_resubscribe_ns_ = 0;
  last_any_stream_ = npos;
}

void stale_watch::on_record(std::size_t i, std::int64_t now) noexcept {
  if (i >= streams_.size()) return;
  stream& s = streams_[i];
  if (s.samples > 0 && s.futile == 0) {
    const std::int64_t dt = std::max<std::int64_t>(now - s.last_ns, 0);
    // EWMA with weight 1/8: follows a changing market within a few dozen records.
    s.interval_ns = s.samples == 1 ? dt : s.interval_ns + (dt - s.interval_ns) / 8;
  }
  s.last_ns = now;
  s.futile = 0;
  if (s.samples < UINT32_MAX) ++s.samples;
  if (i != last_any_stream_) {
    second_any_ns_ = last_any_ns_;
    last_any_stream_ = i;
  }
  last_any_ns_ = now;
}

std::int64_t stale_watch::threshold_ns(std::size_t i) const noexcept {
  if (i >= streams_.size()) return 0;
  const stream& s = streams_[i];
  if (s.samples < o_.min_samples) return 0;
  const std::int64_t base = std::max(o_.stale_ns, o_.rate_factor * s.interval_ns);
  return base << std::min(s.futile, kMaxBackoffShift);
}

std::size_t stale_watch::check(std::int64_t now) const noexcept {
  if (last_resubscribe_ns_ != 0 && now - last_resubscribe_ns_ < o_.spacing_ns) return npos;
  for (std::size_t i = 0; i < streams_.size(); ++i) {
    const std::int64_t limit = threshold_ns(i);
    if (limit == 0 || now - streams_[i].last_ns <= limit) continue;
    const std::int64_t other = i == last_any_stream_ ? second_any_ns_ : last_any_ns_;
    if (other != 0 && now - other <= o_.busy_ns) return i;
  }
  return npos;
}

void stale_watch::resubscribed(std::size_t i, std::int64_t now) noexcept {
  last_resubscribe_ns_ = now;
  if (i >= streams_.size()) return;
  stream& s = streams_[i];
  s.last_ns = now;  // the next judgement counts from the resubscribe
  if (s.futile < UINT32_MAX) ++s.futile;
}

}  // namespace mdbus::feed
