#include "feeders/mdfeed/alloc_counter.hpp"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <malloc.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MDFEED_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define MDFEED_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef MDFEED_COUNT_ALLOCATIONS
#define MDFEED_COUNT_ALLOCATIONS 1
#endif

namespace {
// Constant-initialised (no constructor runs), so allocations before main are counted too.
std::atomic<std::uint64_t> g_allocations{0};

inline void count() noexcept { g_allocations.fetch_add(1, std::memory_order_relaxed); }
}  // namespace

namespace mdbus::feed {
std::uint64_t process_allocations() noexcept { return g_allocations.load(std::memory_order_relaxed); }
bool allocation_counting() noexcept { return MDFEED_COUNT_ALLOCATIONS != 0; }
}  // namespace mdbus::feed

#if MDFEED_COUNT_ALLOCATIONS
// glibc's allocator under its exported internal names: the replacements below forward to
// them, so blocks from either side may be freed by the other.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void __libc_free(void*);
void* __libc_memalign(std::size_t, std::size_t);
void* __libc_valloc(std::size_t);
void* __libc_pvalloc(std::size_t);

void* malloc(std::size_t n) noexcept {
  count();
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) noexcept {
  count();
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) noexcept {
  count();
  return __libc_realloc(p, n);
}
void free(void* p) noexcept { __libc_free(p); }
void* memalign(std::size_t align, std::size_t n) noexcept {
  count();
  return __libc_memalign(align, n);
}
void* aligned_alloc(std::size_t align, std::size_t n) noexcept {
  count();
  return __libc_memalign(align, n);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) noexcept {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
  count();
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
void* valloc(std::size_t n) noexcept {
  count();
  return __libc_valloc(n);
}
void* pvalloc(std::size_t n) noexcept {
  count();
  return __libc_pvalloc(n);
}
}  // extern "C"
#endif
