#pragma once
/// Rate-limited log lines on stderr: a bad message must never turn into a log flood (a
/// venue sending 10 000 malformed frames a second would otherwise cost more than parsing).
/// Each key (a parse_error reason, a connection event) prints at most one line per
/// interval; the next line printed for that key says how many were suppressed meanwhile.
///
/// Allocation-free: lines are formatted into a fixed buffer and written with one write(2),
/// so logging on the message path keeps the hot path's no-allocation promise.
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mdbus::feed {

class log_limiter {
 public:
  static constexpr std::size_t kKeys = 32;

  /// `prefix` starts every line ("mdfeed binance/A"); interval_ms: per-key minimum spacing.
  log_limiter(std::string_view prefix, std::int64_t interval_ms) noexcept;

  /// Print "<prefix>: <formatted>" unless `key` printed less than an interval ago. Returns
  /// whether it printed. `now_ns`: CLOCK_MONOTONIC.
  bool log(unsigned key, std::int64_t now_ns, const char* fmt, ...) noexcept __attribute__((format(printf, 4, 5)));
  /// Always print (state changes, start and stop).
  void always(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

  /// Lines suppressed for `key` since it last printed.
  [[nodiscard]] std::uint64_t suppressed(unsigned key) const noexcept { return key < kKeys ? keys_[key].suppressed : 0; }

  /// Copies at most `max` bytes of `in` into `out` (NUL-terminated, size >= max + 1) with
  /// non-printable bytes as '.', for quoting a message in a log line.
  static void sanitize(std::string_view in, char* out, std::size_t max) noexcept;

 private:
  void emit(const char* fmt, va_list ap, std::uint64_t suppressed) noexcept;

  struct key_state {
    std::int64_t last_ns = 0;
    std::uint64_t suppressed = 0;
    bool printed = false;
  };
  char prefix_[64];
  std::int64_t interval_ns_;
  key_state keys_[kKeys];
};

}  // namespace mdbus::feed
