#include "feeders/mdfeed/log_limiter.hpp"

#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace mdbus::feed {

log_limiter::log_limiter(std::string_view prefix, std::int64_t interval_ms) noexcept
    : interval_ns_(interval_ms * 1'000'000) {
  const std::size_t n = prefix.size() < sizeof prefix_ - 1 ? prefix.size() : sizeof prefix_ - 1;
  std::memcpy(prefix_, prefix.data(), n);
  prefix_[n] = '\0';
}

bool log_limiter::log(unsigned key, std::int64_t now_ns, const char* fmt, ...) noexcept {
  if (key >= kKeys) key = kKeys - 1;
  key_state& k = keys_[key];
  if (k.printed && now_ns - k.last_ns < interval_ns_) {
    ++k.suppressed;
    return false;
  }
  va_list ap;
  va_start(ap, fmt);
  emit(fmt, ap, k.suppressed);
  va_end(ap);
  k.printed = true;
  k.last_ns = now_ns;
  k.suppressed = 0;
  return true;
}

void log_limiter::always(const char* fmt, ...) noexcept {
  va_list ap;
  va_start(ap, fmt);
  emit(fmt, ap, 0);
  va_end(ap);
}

void log_limiter::emit(const char* fmt, va_list ap, std::uint64_t suppressed) noexcept {
  char line[1024];
  int n = std::snprintf(line, sizeof line, "%s: ", prefix_);
  if (n < 0) return;
  std::size_t len = static_cast<std::size_t>(n);
  const int m = std::vsnprintf(line + len, sizeof line - len, fmt, ap);
  if (m > 0) len += static_cast<std::size_t>(m);
  if (len > sizeof line - 64) len = sizeof line - 64;  // leave room for the suffix and newline
  if (suppressed > 0) {
    const int s = std::snprintf(line + len, sizeof line - len, " (+%llu like it suppressed)",
                                static_cast<unsigned long long>(suppressed));
    if (s > 0) len += static_cast<std::size_t>(s);
  }
  line[len++] = '\n';
  // One write per line: lines from several feeders sharing a terminal never interleave.
  const ssize_t w = ::write(STDERR_FILENO, line, len);
  (void)w;
}

void log_limiter::sanitize(std::string_view in, char* out, std::size_t max) noexcept {
  const std::size_t n = in.size() < max ? in.size() : max;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    out[i] = c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '.';
  }
  out[n] = '\0';
}

}  // namespace mdbus::feed
