#pragma once
/// Counts every heap allocation the mdfeed process makes — its own, libstdc++'s, and those
/// of libwebsockets, OpenSSL and simdjson — by interposing malloc and friends in the
/// executable (glibc's documented way to replace malloc; each call is forwarded to glibc's
/// own allocator, so nothing changes but the count). The feeder exports the count into its
/// status block, which is how the test proves "no allocation per message after warm-up".
///
/// Sanitizer builds keep their own malloc interceptors: there the count is unavailable.
#include <cstdint>

namespace mdbus::feed {

/// Allocations so far (malloc, calloc, realloc, memalign family, operator new via malloc).
[[nodiscard]] std::uint64_t process_allocations() noexcept;
/// Whether this build counts (false under ASan/TSan).
[[nodiscard]] bool allocation_counting() noexcept;

}  // namespace mdbus::feed
