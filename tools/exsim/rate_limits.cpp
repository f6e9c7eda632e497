#include "tools/exsim/rate_limits.hpp"

#include <algorithm>

namespace mdbus::exsim {
namespace {
std::int64_t ceil_seconds(std::int64_t ms) { return std::max<std::int64_t>(1, (ms + 999) / 1000); }
}  // namespace

bool sliding_counter::admit(std::int64_t now_ms, int limit, std::int64_t window_ms, bool record_refused) {
  while (!times_.empty() && times_.front() <= now_ms - window_ms) times_.pop_front();
  const bool ok = limit <= 0 || static_cast<int>(times_.size()) < limit;
  if (ok || record_refused) times_.push_back(now_ms);
  // A refused flood must not grow without bound: the window only needs `limit` entries.
  if (limit > 0 && times_.size() > static_cast<std::size_t>(limit)) times_.pop_front();
  return ok;
}

int sliding_counter::in_window(std::int64_t now_ms, std::int64_t window_ms) const {
  return static_cast<int>(std::count_if(times_.begin(), times_.end(), [&](std::int64_t t) { return t > now_ms - window_ms; }));
}

rest_verdict binance_weight_budget::admit(const std::string& ip, std::int64_t weight, std::int64_t now_ms) {
  ++stats_.requests;
  ip_state& s = ips_[ip];
  // rest-api.md "LIMITS": the weight limit is per IP per minute; windows are fixed, aligned
  // to the clock (the counter resets at the minute), compressed here to window_ms.
  const std::int64_t start = now_ms - now_ms % window_ms_;
  if (start != s.window_start) {
    s.window_start = start;
    s.used = 0;
  }
  rest_verdict v;
  if (now_ms < s.ban_until) {
    // "IP bans are tracked and scale in duration for repeat offenders": a banned IP gets 418
    // for everything until the ban ends (exsim does not scale the ban).
    ++stats_.answered_418;
    v.status = 418;
    v.used = s.used;
    v.retry_after_s = ceil_seconds(s.ban_until - now_ms);
    return v;
  }
  if (now_ms < s.retry_until) {
    // rest-api.md: "Repeatedly violating rate limits and/or failing to back off after
    // receiving 429s will result in an automated IP ban (HTTP status 418)".
    s.ban_until = now_ms + ban_ms_;
    s.retry_until = 0;
    ++stats_.answered_418;
    v.status = 418;
    v.used = s.used;
    v.retry_after_s = ceil_seconds(ban_ms_);
    return v;
  }
  if (s.used + weight > limit_) {
    // 429 with Retry-After: the seconds until the window ends and the weight resets, rounded
    // up; a request before those seconds have passed counts as not backing off.
    ++stats_.answered_429;
    v.status = 429;
    v.used = s.used;
    v.retry_after_s = ceil_seconds(start + window_ms_ - now_ms);
    s.retry_until = now_ms + v.retry_after_s * 1000;
    return v;
  }
  s.used += weight;
  stats_.weight_max = std::max(stats_.weight_max, s.used);
  v.used = s.used;
  return v;
}

std::int64_t binance_weight_budget::used_now(std::int64_t now_ms) const {
  const std::int64_t start = now_ms - now_ms % window_ms_;
  std::int64_t m = 0;
  for (const auto& [ip, s] : ips_)
    if (s.window_start == start) m = std::max(m, s.used);
  return m;
}

rest_verdict okx_request_budget::admit(const std::string& ip, std::string_view endpoint, int limit,
                                       std::int64_t window_ms, std::int64_t now_ms) {
  ++stats_.requests;
  rest_verdict v;
  if (limit <= 0) return v;
  key_state& k = keys_[ip + " " + std::string(endpoint)];
  k.window_ms = window_ms;
  if (!k.counter.admit(now_ms, limit, window_ms, false)) {
    ++stats_.answered_429;
    v.status = 429;
    v.used = limit;
    return v;
  }
  v.used = k.counter.in_window(now_ms, window_ms);
  stats_.weight_max = std::max(stats_.weight_max, v.used);
  return v;
}

std::int64_t okx_request_budget::used_now(std::int64_t now_ms) const {
  std::int64_t m = 0;
  for (const auto& [key, k] : keys_) m = std::max<std::int64_t>(m, k.counter.in_window(now_ms, k.window_ms));
  return m;
}

}  // namespace mdbus::exsim
