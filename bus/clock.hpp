#pragma once
/// Clocks used on the bus. Both are vDSO reads on Linux: no system call on the hot path.
#include <cstdint>
#include <ctime>

namespace mdbus {

/// CLOCK_MONOTONIC in ns: system-wide and never stepped, so heartbeats written by one
/// process can be aged by another.
inline std::int64_t mono_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// CLOCK_REALTIME in ns since the Unix epoch: comparable with venue event times.
inline std::int64_t wall_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace mdbus
