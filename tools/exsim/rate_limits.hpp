#pragma once
/// The venues' request limits as pure decisions (no I/O): Binance REST request weight per IP in
/// fixed windows with 429 then 418 (IP ban), OKX per-endpoint REST request counts per IP, and
/// sliding-window attempt counters (connection attempts per IP, OKX subscribe requests per
/// connection). The server asks, then answers as told; GET /status reports the counters.
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>

namespace mdbus::exsim {

/// Counts events in a sliding window: at most `limit` within any `window_ms`.
class sliding_counter {
 public:
  /// Returns whether an attempt at `now_ms` is within the limit and records it if so, or
  /// always when `record_refused` (a refused connection attempt still counts at the venues).
  /// `limit` 0 admits everything.
  [[nodiscard]] bool admit(std::int64_t now_ms, int limit, std::int64_t window_ms, bool record_refused);
  /// Attempts in the window ending at `now_ms`.
  [[nodiscard]] int in_window(std::int64_t now_ms, std::int64_t window_ms) const;

 private:
  std::deque<std::int64_t> times_;
};

/// Per-venue REST counters for GET /status (and the conformance test's "never over budget").
struct rest_stats {
  std::uint64_t requests = 0;     ///< REST requests answered on any listener of the venue
  std::int64_t weight_max = 0;    ///< the most weight (Binance) or requests (OKX) one IP used in one window
  std::uint64_t answered_429 = 0;
  std::uint64_t answered_418 = 0;
};

/// What the server answers a REST request with.
struct rest_verdict {
  int status = 200;               ///< 200 (serve it), 429 (over the limit) or 418 (IP banned)
  std::int64_t used = 0;          ///< Binance: X-MBX-USED-WEIGHT-1M after this request
  std::int64_t retry_after_s = 0; ///< 429/418: the Retry-After header, whole seconds
};

/// Binance spot request weight (rest-api.md "LIMITS", checked 2026-12): weight per IP in fixed
/// one-minute windows (compressible); a request that would go over gets 429 with Retry-After
/// until the window ends; a client that sends again before then is banned (418, Retry-After
/// of the ban) and everything it sends until the ban ends gets 418.
class binance_weight_budget {
 public:
  binance_weight_budget(std::int64_t limit, std::int64_t window_ms, std::int64_t ban_ms)
      : limit_(limit), window_ms_(window_ms), ban_ms_(ban_ms) {}

  [[nodiscard]] rest_verdict admit(const std::string& ip, std::int64_t weight, std::int64_t now_ms);
  /// The most weight any IP has used in the current window.
  [[nodiscard]] std::int64_t used_now(std::int64_t now_ms) const;
  [[nodiscard]] const rest_stats& stats() const noexcept { return stats_; }

 private:
  struct ip_state {
    std::int64_t window_start = -1;
    std::int64_t used = 0;
    std::int64_t retry_until = 0;  ///< after a 429: sending before this gets the IP banned
    std::int64_t ban_until = 0;
  };
  std::int64_t limit_, window_ms_, ban_ms_;
  std::map<std::string, ip_state> ips_;
  rest_stats stats_;
};

/// OKX REST limits (OKX API v5 "Rate limits", checked 2026-12): each public endpoint allows
/// `limit` requests per `window_ms` per IP (GET /api/v5/market/books: 40 per 2 s); over it the
/// venue answers HTTP 429 {"code":"50011","msg":"Too Many Requests","data":[]}. No ban.
class okx_request_budget {
 public:
  /// `endpoint` is the path; `limit` 0 means no limit for it.
  [[nodiscard]] rest_verdict admit(const std::string& ip, std::string_view endpoint, int limit, std::int64_t window_ms,
                                   std::int64_t now_ms);
  /// The most requests one IP has made to one endpoint in the window ending now.
  [[nodiscard]] std::int64_t used_now(std::int64_t now_ms) const;
  [[nodiscard]] const rest_stats& stats() const noexcept { return stats_; }

 private:
  struct key_state {
    sliding_counter counter;
    std::int64_t window_ms = 0;
  };
  std::map<std::string, key_state> keys_;  ///< "<ip> <endpoint>"
  rest_stats stats_;
};

}  // namespace mdbus::exsim
